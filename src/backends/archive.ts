/**
 * Archived objects, for any store: reads refused until restored, and RestoreObject where the
 * store has no rehydration. BucketView uses them for a plain route's store, and each target of
 * a composite route for its own (the copy a read is served from decides).
 */
import { S3Error } from '../errors';
import { isArchived, storageClassTable } from './storage-classes';
import type { Backend, ObjectHandle } from './types';

/**
 * An archived object (a store's archive tier) is not readable until restored: 403
 * InvalidObjectState, as S3 answers, before any byte is sent. Returns the handle otherwise.
 */
export async function refuseArchived(kind: string, handle: ObjectHandle): Promise<ObjectHandle> {
  const { storageClass, restore } = handle.meta;
  if (isArchived(kind, storageClass) && !(restore && !restore.ongoing)) {
    await handle.close();
    throw new S3Error('InvalidObjectState', undefined, { StorageClass: storageClass! });
  }
  return handle;
}

/**
 * RestoreObject on one store: its rehydration; where it keeps nothing archived, S3's answer for
 * an object that is not archived (InvalidObjectState), after checking that it exists.
 */
export async function restoreOn(
  backend: Backend,
  bucket: string,
  key: string,
  days: number | undefined,
): Promise<'started' | 'ongoing' | 'restored'> {
  if (backend.restoreObject) return backend.restoreObject(bucket, key, days);
  await backend.headObject(bucket, key);
  const r = storageClassTable(backend.kind).restore;
  const reason = r.kind === 'unsupported' ? r.reason : 'the store cannot restore objects';
  throw new S3Error('InvalidObjectState', `Restore is not allowed for the object's current storage class (${reason}).`);
}
