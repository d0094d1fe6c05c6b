/**
 * Who sees a version's object lock on GET and HEAD: S3 sends x-amz-object-lock-mode and
 * -retain-until-date only to a caller who holds s3:GetObjectRetention on the object, and
 * x-amz-object-lock-legal-hold only with s3:GetObjectLegalHold; anyone else may read the
 * object without learning how it is locked.
 */
import { lockHeaders, type ObjectLock } from '../object-lock/lock';
import type { S3Context } from './context';

/** Only for a version that has a lock: GET and HEAD skip the call (and its await) for the rest. */
export async function visibleLockHeaders(ctx: S3Context, key: string, lock: ObjectLock): Promise<Record<string, string>> {
  const shown: ObjectLock = {};
  if (lock.retention && (await ctx.mayOnKey('s3:GetObjectRetention', 'read', key))) shown.retention = lock.retention;
  if (lock.legalHold && (await ctx.mayOnKey('s3:GetObjectLegalHold', 'read', key))) shown.legalHold = lock.legalHold;
  return lockHeaders(shown);
}
