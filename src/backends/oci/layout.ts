/**
 * The part layout of an object assembled from a multipart upload. OCI applies an upload's
 * metadata when it is created, before the parts are known, and has no way to add metadata at
 * commit; so after the commit s3mux records the part sizes in the bucket's reserved area,
 * tied to the committed version's OCI ETag. GetObject ?partNumber and GetObjectAttributes'
 * ObjectParts read it back.
 *
 * The upload is created with the metadata field `s3mux-layout`, so only those objects cost a
 * second request when read; a record of another version (the key was written again) is
 * ignored. A copy that keeps the multipart ETag (a metadata rewrite) carries the sizes in its
 * own metadata instead (the `parts` field, attribute-strings.ts).
 */
import { decodePartSizes, encodePartSizes } from '../attribute-strings';
import { readReservedBody, reservedSegment, type ReservedStore } from '../reserved-store';
import { META, SYS } from './metadata';

/** The metadata field (after `opc-meta-`) an upload is created with when its layout will be recorded. */
export const LAYOUT_FIELD = `${SYS}layout`;

/** The largest record read back (10,000 parts as runs stay far below it). */
const MAX_RECORD = 64 * 1024;

interface LayoutRecord {
  /** OCI's ETag of the version the sizes belong to. */
  ociEtag: string;
  parts: string;
}

function recordName(objectName: string): string {
  return `oci/layout/${reservedSegment(objectName)}`;
}

/** Records the sizes of the committed version `ociEtag` of `objectName`; undefined sizes too many to record. */
export async function recordLayout(store: ReservedStore, bucket: string, objectName: string, ociEtag: string, sizes: number[]) {
  const parts = encodePartSizes(sizes);
  if (parts === undefined || ociEtag === '') return;
  const record: LayoutRecord = { ociEtag, parts };
  await store.put(bucket, recordName(objectName), Buffer.from(JSON.stringify(record), 'utf8'));
}

/**
 * The part sizes recorded for the version whose HEAD headers are `headers`, or undefined when
 * the object was not assembled by s3mux or the record belongs to another version.
 */
export async function readLayout(
  store: ReservedStore,
  bucket: string,
  objectName: string,
  headers: Record<string, string | undefined>,
): Promise<number[] | undefined> {
  if (headers[META + LAYOUT_FIELD] === undefined || !headers.etag) return undefined;
  const doc = await store.get(bucket, recordName(objectName));
  if (!doc) return undefined;
  let record: Partial<LayoutRecord>;
  try {
    record = JSON.parse((await readReservedBody(doc, MAX_RECORD)).toString('utf8')) as Partial<LayoutRecord>;
  } catch {
    return undefined;
  }
  if (record.ociEtag !== headers.etag || typeof record.parts !== 'string') return undefined;
  return decodePartSizes(record.parts);
}

/** Removes the record of `objectName` (its object was deleted). */
export async function dropLayout(store: ReservedStore, bucket: string, objectName: string): Promise<void> {
  await store.delete(bucket, recordName(objectName));
}
