/**
 * Write preconditions (If-Match / If-None-Match on PutObject, CopyObject and
 * CompleteMultipartUpload), evaluated by an adapter against the object that is current at
 * the moment its write commits.
 */
import { isS3Error, S3Error } from '../errors';
import type { Backend, DeleteConditions, ObjectMeta, WriteConditions } from './types';

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
 * - If-Match: the object must exist (S3 answers NoSuchKey when it does not) and its ETag must
 *   match (quoted or not, or '*');
 * - If-None-Match '*': no object may exist; with entity tags: the current ETag must match
 *   none of them.
 */
export function checkWriteConditions(current: ObjectMeta | undefined, cond?: WriteConditions): void {
  if (!cond) return;
  if (cond.ifMatch !== undefined && cond.ifMatch !== '') {
    const list = parseEtagList(cond.ifMatch);
    if (current === undefined) throw new S3Error('NoSuchKey');
    if (!matches(list, current.etag)) {
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

/** What a delete's conditions are checked against: the current version, or a delete marker, or nothing. */
export type DeleteTarget = Pick<ObjectMeta, 'etag' | 'size' | 'lastModified'> | 'delete marker' | undefined;

/** True when a delete names any condition. */
export function hasDeleteConditions(cond?: DeleteConditions): cond is DeleteConditions {
  return !!cond && ((cond.ifMatch ?? '') !== '' || cond.size !== undefined || cond.lastModified !== undefined);
}

/**
 * Throws unless a delete's conditions hold on the key's current version, as S3 answers
 * conditional deletes (DeleteObject's If-Match, x-amz-if-match-size and
 * x-amz-if-match-last-modified-time; DeleteObjects' ETag, Size and LastModifiedTime):
 * - If-Match (an ETag or '*'): NoSuchKey when the key holds nothing, PreconditionFailed when
 *   its latest version is a delete marker or the ETag differs;
 * - size and Last-Modified (to the second, as HTTP dates carry it): PreconditionFailed when an
 *   object is there and differs; nothing to check when there is none.
 */
export function checkDeleteConditions(current: DeleteTarget, cond?: DeleteConditions): void {
  if (!hasDeleteConditions(cond)) return;
  if ((cond.ifMatch ?? '') !== '') {
    if (current === undefined) throw new S3Error('NoSuchKey');
    if (current === 'delete marker' || !matches(parseEtagList(cond.ifMatch!), current.etag)) {
      throw new S3Error('PreconditionFailed', undefined, { Condition: 'If-Match' });
    }
  }
  if (current === undefined || current === 'delete marker') return;
  if (cond.size !== undefined && cond.size !== current.size) {
    throw new S3Error('PreconditionFailed', undefined, { Condition: 'x-amz-if-match-size' });
  }
  if (
    cond.lastModified !== undefined &&
    Math.floor(cond.lastModified.getTime() / 1000) !== Math.floor(current.lastModified.getTime() / 1000)
  ) {
    throw new S3Error('PreconditionFailed', undefined, { Condition: 'x-amz-if-match-last-modified-time' });
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
