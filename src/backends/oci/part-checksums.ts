/**
 * The S3 checksums a part was uploaded with (x-amz-checksum-*), which OCI's parts cannot
 * carry: one empty record per part in the bucket's reserved area, whose name holds all of it
 * (`oci/parts/<upload>/<part number>/<OCI part ETag>/<alg>=<value>~...`), so ListParts and
 * Complete read an upload's checksums with one listing, not one request per part.
 *
 * A record belongs to the part OCI has under that number only while the ETags agree: a part
 * sent again replaces the OCI part, and the older record no longer applies. The records go
 * when the upload is completed, aborted or swept.
 */
import { reservedSegment, type ReservedStore } from '../reserved-store';

const PREFIX = 'oci/parts/';

function uploadPrefix(uploadId: string): string {
  return `${PREFIX}${reservedSegment(uploadId)}/`;
}

/** base64 (a checksum as S3 gives it) <-> base64url (a name segment's alphabet). */
const toSegment = (b64: string) => Buffer.from(b64, 'base64').toString('base64url');
const fromSegment = (s: string) => Buffer.from(s, 'base64url').toString('base64');

/** Records the checksums of part `partNumber`, the OCI part `ociEtag`; nothing when there are none. */
export async function recordPartChecksums(
  store: ReservedStore,
  bucket: string,
  uploadId: string,
  partNumber: number,
  ociEtag: string,
  checksums: Record<string, string> | undefined,
): Promise<void> {
  const entries = Object.entries(checksums ?? {}).filter(([alg]) => /^[a-z0-9]+$/.test(alg));
  if (entries.length === 0 || ociEtag === '') return;
  const values = entries.map(([alg, v]) => `${alg}=${toSegment(v)}`).join('~');
  await store.put(bucket, `${uploadPrefix(uploadId)}${partNumber}/${reservedSegment(ociEtag)}/${values}`, Buffer.alloc(0));
}

/** Every record of the upload, by name (paged through the reserved area). */
async function recordNames(store: ReservedStore, bucket: string, uploadId: string): Promise<string[]> {
  const prefix = uploadPrefix(uploadId);
  const out: string[] = [];
  let after: string | undefined;
  for (;;) {
    const page = await store.list(bucket, prefix, { startAfter: after, max: 1000 });
    out.push(...page.map((e) => e.name));
    if (page.length < 1000) return out;
    after = page[page.length - 1].name;
  }
}

/** The recorded checksums of each part, for the OCI parts (number -> OCI ETag) the upload holds now. */
export async function partChecksums(
  store: ReservedStore,
  bucket: string,
  uploadId: string,
  parts: Map<number, string>,
): Promise<Map<number, Record<string, string>>> {
  const out = new Map<number, Record<string, string>>();
  const prefix = uploadPrefix(uploadId);
  for (const name of await recordNames(store, bucket, uploadId)) {
    const [n, etagSegment, values] = name.slice(prefix.length).split('/');
    const partNumber = Number(n);
    const ociEtag = parts.get(partNumber);
    if (values === undefined || ociEtag === undefined || reservedSegment(ociEtag) !== etagSegment) continue;
    const checksums: Record<string, string> = {};
    for (const pair of values.split('~')) {
      const i = pair.indexOf('=');
      if (i > 0) checksums[pair.slice(0, i)] = fromSegment(pair.slice(i + 1));
    }
    out.set(partNumber, checksums);
  }
  return out;
}

/** Removes the upload's records (it was completed, aborted or swept). */
export async function dropPartChecksums(store: ReservedStore, bucket: string, uploadId: string): Promise<void> {
  for (const name of await recordNames(store, bucket, uploadId)) await store.delete(bucket, name);
}
