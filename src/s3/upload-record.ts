/**
 * What s3mux keeps of a multipart upload beside what its store keeps: the checksum it promised
 * its object (multipart-checksum.ts) and who started it, which ListParts and
 * ListMultipartUploads answer as Initiator and Owner (no store keeps an upload's initiator for
 * s3mux's callers: a native store's uploads are all started by s3mux's own credentials).
 *
 * One JSON document per upload in the bucket's reserved area, written only when it has
 * something to say: an upload without a checksum started by the bucket's owner has none, and
 * reads as started by the bucket owner, as do uploads begun before initiators were kept and
 * uploads on a store without a reserved area. It keeps the name it had when it held the
 * checksum alone (`checksum/uploads/<segment>`), so uploads begun then keep their checksum.
 */
import type { BucketView } from '../router/bucket-view';
import { bucketAccess, callerOfCtx, directoryOf, rootCanonicalId, type AccessRequest } from './access';
import type { ChecksumAlgorithm, ChecksumType } from './checksums';
import { UploadStash } from './upload-stash';

/** A canonical user as S3's listings name one. */
export type Person = {
  ID: string;
  DisplayName: string;
};

export interface UploadChecksum {
  algorithm: ChecksumAlgorithm;
  type: ChecksumType;
}

/** As stored: the checksum's fields at the top (as before the initiator was kept), the initiator beside them. */
interface UploadRecord extends Partial<UploadChecksum> {
  initiator?: Person;
}

const records = new UploadStash<UploadRecord>('multipart uploads', 'checksum/uploads');

/** Reserved-area reads a ListMultipartUploads page makes at once. */
const READS_AT_ONCE = 16;

/** The bucket's owner, whom an upload with no recorded initiator names. */
async function bucketOwner(ctx: AccessRequest, view: BucketView): Promise<Person> {
  const id = (await bucketAccess(ctx, view))?.owner ?? rootCanonicalId(ctx);
  return { ID: id, DisplayName: directoryOf(ctx).displayName(id) ?? '' };
}

/** The caller, as s3mux names owners elsewhere (ops/buckets.ts owner()). */
function callerPerson(ctx: AccessRequest): Person {
  const caller = callerOfCtx(ctx);
  return { ID: caller.canonicalId, DisplayName: caller.name };
}

const checksumOf = (r: UploadRecord | undefined): UploadChecksum | undefined =>
  r?.algorithm && r.type ? { algorithm: r.algorithm, type: r.type } : undefined;

/** Keeps what CreateMultipartUpload's caller and checksum say of the new upload, where the store has a reserved area. */
export async function createUploadRecord(
  ctx: AccessRequest,
  view: BucketView,
  uploadId: string,
  checksum: UploadChecksum | undefined,
): Promise<void> {
  if (!view.backend.reserved) return;
  const caller = callerPerson(ctx);
  const initiator = caller.ID === (await bucketOwner(ctx, view)).ID ? undefined : caller;
  if (checksum || initiator) await records.put(view, uploadId, { ...checksum, initiator });
}

/** The checksum the upload promised (undefined: none). */
export async function uploadChecksum(view: BucketView, uploadId: string): Promise<UploadChecksum | undefined> {
  return checksumOf(await records.get(view, uploadId));
}

/** The upload's checksum and initiator, for ListParts. */
export async function describeUpload(
  ctx: AccessRequest,
  view: BucketView,
  uploadId: string,
): Promise<{ checksum?: UploadChecksum; initiator: Person }> {
  const r = await records.get(view, uploadId);
  return { checksum: checksumOf(r), initiator: r?.initiator ?? (await bucketOwner(ctx, view)) };
}

/**
 * The same for each upload of a ListMultipartUploads page, in its order: one reserved-area
 * read per upload, READS_AT_ONCE at a time (none where the store has no reserved area).
 */
export async function describeUploads(
  ctx: AccessRequest,
  view: BucketView,
  uploadIds: readonly string[],
): Promise<Array<{ checksum?: UploadChecksum; initiator: Person }>> {
  const fallback = await bucketOwner(ctx, view);
  const found = new Array<UploadRecord | undefined>(uploadIds.length);
  let next = 0;
  const reader = async () => {
    for (let i = next++; i < uploadIds.length; i = next++) found[i] = await records.get(view, uploadIds[i]);
  };
  await Promise.all(Array.from({ length: Math.min(READS_AT_ONCE, uploadIds.length) }, reader));
  return found.map((r) => ({ checksum: checksumOf(r), initiator: r?.initiator ?? fallback }));
}

/** Forgets it (after Complete or Abort). */
export async function dropUploadRecord(view: BucketView, uploadId: string): Promise<void> {
  await records.drop(view, uploadId);
}
