/**
 * The checksum a multipart upload promises its object: CreateMultipartUpload's
 * x-amz-checksum-algorithm and x-amz-checksum-type, kept with the upload (upload-record.ts), held to by every
 * part (a part of a CRC32 upload carries a CRC32: payload.ts computes it when the part does not
 * send one, and refuses another algorithm), and made at Complete:
 * - COMPOSITE: the algorithm over the parts' digests one after another, base64, then `-N`
 *   (N parts); the Complete request must name each part's checksum.
 * - FULL_OBJECT (the CRCs only): the CRC of the whole object, combined from the parts' CRCs
 *   and sizes, so the object is never read again.
 * The Complete request's own x-amz-checksum-<alg> header is the object's checksum (not its
 * XML body's) and must match what is made.
 */
import { S3Error } from '../errors';
import type { PartInfo } from '../backends/types';
import {
  CHECKSUM_ALGORITHMS,
  CHECKSUM_HEADER_ERRORS,
  DIGEST_LENGTH,
  createHasher,
  isDigestBase64,
  type ChecksumAlgorithm,
  type ChecksumType,
} from './checksums';
import { combineCrc, isCrc } from './crc-combine';
import type { S3Context } from './context';
import type { UploadChecksum } from './upload-record';

function checksumTypeHeader(ctx: S3Context): ChecksumType | undefined {
  const raw = ctx.header('x-amz-checksum-type');
  if (raw === undefined) return undefined;
  const t = raw.trim().toUpperCase();
  if (t !== 'COMPOSITE' && t !== 'FULL_OBJECT') throw new S3Error('InvalidRequest', 'Value for x-amz-checksum-type header is invalid.');
  return t;
}

/** What CreateMultipartUpload asks for (undefined: no checksum); S3's refusals for what cannot be. */
export function requestedUploadChecksum(ctx: S3Context): UploadChecksum | undefined {
  const type = checksumTypeHeader(ctx);
  const raw = ctx.header('x-amz-checksum-algorithm');
  if (raw === undefined) {
    if (type !== undefined)
      throw new S3Error('InvalidRequest', 'The x-amz-checksum-type header can only be used with the x-amz-checksum-algorithm header.');
    return undefined;
  }
  const algorithm = raw.trim().toLowerCase() as ChecksumAlgorithm;
  if (!CHECKSUM_ALGORITHMS.includes(algorithm)) throw new S3Error('InvalidRequest', 'Checksum algorithm provided is unsupported.');
  // CRC64NVME is always a full-object checksum; the hashes can only be composite.
  const chosen = type ?? (algorithm === 'crc64nvme' ? 'FULL_OBJECT' : 'COMPOSITE');
  if ((chosen === 'FULL_OBJECT' && !isCrc(algorithm)) || (chosen === 'COMPOSITE' && algorithm === 'crc64nvme')) {
    throw new S3Error('InvalidRequest', `The ${chosen} checksum type cannot be used with the ${algorithm} checksum algorithm.`);
  }
  return { algorithm, type: chosen };
}

/** A requested part of a Complete: its number and the checksums its XML names. */
export interface CompletePart {
  partNumber: number;
  checksums: Partial<Record<ChecksumAlgorithm, string>>;
}

/** Complete's checks that come before any assembly: the mode it names, and each part's checksum for a composite. */
export function checkComplete(ctx: S3Context, mode: UploadChecksum | undefined, requested: CompletePart[]): void {
  const type = checksumTypeHeader(ctx);
  if (mode === undefined) return;
  if (type !== undefined && type !== mode.type) {
    throw new S3Error(
      'InvalidRequest',
      `The upload was created using the ${mode.type} checksum mode. The complete request must use the same checksum mode.`,
    );
  }
  if (mode.type !== 'COMPOSITE') return;
  const missing = requested.find((r) => r.checksums[mode.algorithm] === undefined);
  if (missing) {
    throw new S3Error(
      'InvalidRequest',
      `The upload was created using a ${mode.algorithm} checksum. The complete request must include the checksum for each part. It was missing for part ${missing.partNumber} in the request.`,
    );
  }
}

/**
 * The object's checksum, from the chosen parts (in order) and the checksums the Complete
 * request named for them; undefined when a part's checksum is not known (a store that keeps
 * none, and a full-object upload whose Complete named none).
 */
export function objectChecksum(mode: UploadChecksum, parts: PartInfo[], requested: CompletePart[]): string | undefined {
  const alg = mode.algorithm;
  const digests: Buffer[] = [];
  for (let i = 0; i < parts.length; i++) {
    const v = parts[i].checksums?.[alg] ?? requested[i]?.checksums[alg];
    if (v === undefined || !isDigestBase64(v, DIGEST_LENGTH[alg])) return undefined;
    digests.push(Buffer.from(v, 'base64'));
  }
  if (mode.type === 'COMPOSITE') {
    const h = createHasher(alg);
    for (const d of digests) h.update(d);
    return `${h.digest().toString('base64')}-${parts.length}`;
  }
  if (!isCrc(alg)) return undefined;
  let crc = digests[0];
  for (let i = 1; i < parts.length; i++) crc = combineCrc(alg, crc, digests[i], parts[i].size);
  return crc.toString('base64');
}

/** The object checksum a Complete request states: one x-amz-checksum-<alg> header at most, well formed. */
export interface StatedChecksum {
  alg: ChecksumAlgorithm;
  value: string;
}

/** Read before anything else of the Complete, as S3 refuses a malformed header first. */
export function statedObjectChecksum(ctx: S3Context): StatedChecksum | undefined {
  const named = CHECKSUM_ALGORITHMS.filter((alg) => ctx.header(`x-amz-checksum-${alg}`) !== undefined);
  if (named.length > 1) throw CHECKSUM_HEADER_ERRORS.multiple();
  const alg = named[0];
  if (alg === undefined) return undefined;
  const value = ctx.header(`x-amz-checksum-${alg}`)!.trim();
  // The algorithm's digest in base64, alone or with a composite's -N (its part count).
  const [digest, parts] = value.split(/-(?=\d+$)/);
  if (!isDigestBase64(digest, DIGEST_LENGTH[alg]) || (parts !== undefined && Number(parts) < 1)) throw CHECKSUM_HEADER_ERRORS.invalid(alg);
  return { alg, value };
}

/** The stated object checksum must be the one made. */
export function checkStatedObjectChecksum(
  stated: StatedChecksum | undefined,
  mode: UploadChecksum | undefined,
  made: string | undefined,
): void {
  if (stated === undefined) return;
  const { alg, value } = stated;
  if (mode === undefined || alg !== mode.algorithm) {
    throw new S3Error('InvalidRequest', `The upload was not created with the ${alg} checksum algorithm.`);
  }
  if (made === undefined) {
    throw new S3Error('NotImplemented', `This store keeps no ${alg} checksums of the parts, so the object's ${alg} cannot be checked.`);
  }
  if (value !== made && value !== made.replace(/-\d+$/, '')) {
    throw new S3Error('BadDigest', `The ${alg} you specified did not match the calculated checksum.`);
  }
}
