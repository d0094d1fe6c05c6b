/**
 * Write preconditions (If-Match / If-None-Match on PutObject, CopyObject and
 * CompleteMultipartUpload), evaluated by an adapter against the object that is current at
 * the moment its write commits.
 */
import { isS3Error, S3Error } from '../errors';
import type { Backend, ObjectMeta, WriteConditions } from './types';

/** `"abc"`, `W/"abc"` and `abc` all become `abc`. */
export function unquoteEtag(etag: string): string {
  let s = etag.trim();
  if (s.startsWith('W/')) s = s.slice(2);
  if (s.length >= 2 && s.startsWith('"') && s.endsWith('"')) s = s.slice(1, -1);
  return s;
}

/** The entity tags of a header value: '*' stays '*', a comma-separated list is split. */
function parseEtagList(header: string): string[] {
  const trimmed = header.trim();
  if (trimmed === '*') return ['*'];
  // Entity tags cannot contain commas (RFC 7232 etagc excludes them).
  return trimmed
    .split(',')
    .map((s) => unquoteEtag(s))
    .filter((s) => s.length > 0);
}

function matches(list: string[], etag: string): boolean {
  return list.includes('*') || list.includes(unquoteEtag(etag));
}

/**
 * Throws PreconditionFailed unless the conditions hold on `current` (undefined when no
 * object exists under the key):
 * - If-Match: the object must exist and its ETag must match (quoted or not, or '*');
 * - If-None-Match '*': no object may exist; with entity tags: the current ETag must match
 *   none of them.
 */
export function checkWriteConditions(current: ObjectMeta | undefined, cond?: WriteConditions): void {
  if (!cond) return;
  if (cond.ifMatch !== undefined && cond.ifMatch !== '') {
    const list = parseEtagList(cond.ifMatch);
    if (current === undefined || !matches(list, current.etag)) {
      throw new S3Error('PreconditionFailed', undefined, { Condition: 'If-Match' });
    }
  }
  if (cond.ifNoneMatch !== undefined && cond.ifNoneMatch !== '') {
    const list = parseEtagList(cond.ifNoneMatch);
    if (current !== undefined && matches(list, current.etag)) {
      throw new S3Error('PreconditionFailed', undefined, { Condition: 'If-None-Match' });
    }
  }
}

/** True when there is any condition to check (so an adapter may skip reading the current object). */
export function hasWriteConditions(cond?: WriteConditions): boolean {
  return !!cond && ((cond.ifMatch ?? '') !== '' || (cond.ifNoneMatch ?? '') !== '');
}

/**
 * Deletes the object only while its ETag is `etag` (PreconditionFailed otherwise; nothing to do
 * when it is gone): atomically where the store has a conditional delete; elsewhere a HEAD just
 * before the delete, which leaves a window as long as one store call.
 */
export async function deleteIfMatch(backend: Backend, bucket: string, key: string, etag: string): Promise<void> {
  if (backend.deleteObjectIfMatch) return backend.deleteObjectIfMatch(bucket, key, etag);
  let current: ObjectMeta;
  try {
    current = await backend.headObject(bucket, key);
  } catch (err) {
    if (isS3Error(err, 'NoSuchKey')) return;
    throw err;
  }
  if (current.etag !== etag) throw new S3Error('PreconditionFailed');
  await backend.deleteObject(bucket, key);
}
