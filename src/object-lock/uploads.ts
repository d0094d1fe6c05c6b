/**
 * The object lock a CreateMultipartUpload asked for, kept until its Complete makes the version
 * (a multipart upload's store keeps only the object's attributes). One small document per
 * upload in the bucket's reserved area, so any replica completing the upload finds it.
 */
import { readReservedBody, reservedSegment, type BucketReservedArea } from '../backends/reserved-store';
import type { BucketView } from '../router/bucket-view';
import type { ObjectLock } from './lock';

function area(view: BucketView): BucketReservedArea {
  return view.reservedArea('object lock');
}

function nameOf(key: string, uploadId: string): string {
  return `lock/uploads/${reservedSegment(key)}/${reservedSegment(uploadId)}`;
}

export async function rememberUploadLock(view: BucketView, key: string, uploadId: string, lock: ObjectLock): Promise<void> {
  await area(view).put(nameOf(key, uploadId), Buffer.from(JSON.stringify(lock), 'utf8'));
}

/** What the upload asked for; undefined when nothing (or the store has no reserved area). */
export async function uploadLock(view: BucketView, key: string, uploadId: string): Promise<ObjectLock | undefined> {
  if (!view.backend.reserved) return undefined;
  const doc = await area(view).get(nameOf(key, uploadId));
  return doc ? (JSON.parse((await readReservedBody(doc)).toString('utf8')) as ObjectLock) : undefined;
}

export async function forgetUploadLock(view: BucketView, key: string, uploadId: string): Promise<void> {
  if (view.backend.reserved)
    await area(view)
      .delete(nameOf(key, uploadId))
      .catch(() => undefined);
}
