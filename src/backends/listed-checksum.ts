/**
 * The checksum algorithms S3 keeps with an object, how a kept value tells its type, and the
 * two fields an object's listing entry gets from them: S3 names each object's ChecksumAlgorithm
 * and ChecksumType in ListObjects, ListObjectsV2 and ListObjectVersions. Here, below both the
 * adapters (which fill the fields from what they already hold when they list) and the S3 layer
 * (src/s3/checksums.ts re-exports them, and writes the elements).
 */

/** S3's additional checksum algorithms, lower-case as ObjectAttributes.checksums names them, in S3's order. */
export type ChecksumAlgorithm = 'crc32' | 'crc32c' | 'crc64nvme' | 'sha1' | 'sha256';

export const CHECKSUM_ALGORITHMS: readonly ChecksumAlgorithm[] = ['crc32', 'crc32c', 'crc64nvme', 'sha1', 'sha256'];

/** How an object's checksum covers it: the bytes themselves, or its parts' checksums (multipart). */
export type ChecksumType = 'COMPOSITE' | 'FULL_OBJECT';

/** The type of a stored checksum value: a composite one ends in `-N` (N parts), as S3 writes it. */
export function checksumTypeOf(value: string): ChecksumType {
  return /-\d+$/.test(value) ? 'COMPOSITE' : 'FULL_OBJECT';
}

/** What a listing entry says of its object's checksum: nothing when it has none (or the store cannot say without reading it). */
export interface ListedChecksum {
  checksumAlgorithm?: ChecksumAlgorithm;
  checksumType?: ChecksumType;
}

/**
 * Sets a listing entry's checksum fields from the checksums kept with its object: the first of
 * S3's algorithms among them (S3 keeps one per object), as GET and HEAD answer it.
 */
export function setListedChecksum(entry: ListedChecksum, checksums: Record<string, string> | undefined): void {
  if (checksums === undefined) return;
  for (const alg of CHECKSUM_ALGORITHMS) {
    const value = checksums[alg];
    if (value === undefined) continue;
    entry.checksumAlgorithm = alg;
    entry.checksumType = checksumTypeOf(value);
    return;
  }
}
