/**
 * Copying one key between two targets of a route with the transfer engine's object copy (the
 * one `s3mux cp` uses: attributes, tags, checksums verified end to end, multipart layouts kept).
 * For a migration: a copy only ever creates (if-none-match), so a write made through s3mux is
 * never overwritten; a key with a tombstone is never copied; and a delete that lands while the
 * copy is under way is seen after it, and the copy taken back.
 */
import { isS3Error } from '../../errors';
import { copyOne, type CopyContext, type Location } from '../../transfer';
import { DEFAULT_RETRY } from '../../transfer/retry';
import type { Target } from './target';
import type { Tombstones } from './tombstones';
import type { EtagMap } from './etag-map';

const MiB = 1024 * 1024;

export function locationOf(t: Target): Location {
  return { backend: t.backend, bucket: t.bucket, prefix: t.prefix, label: t.label };
}

/** The engine's copy context between two targets; `conditional`: the write only creates or replaces what was seen. */
export function copyContext(from: Target, to: Target, conditional: boolean): CopyContext {
  return {
    source: locationOf(from),
    destination: locationOf(to),
    retry: { ...DEFAULT_RETRY, attempts: 1 },
    multipartThreshold: 64 * MiB,
    partSize: 16 * MiB,
    serverSide: true,
    conditionalWrites: conditional,
    onRetry: () => undefined,
  };
}

/** copied; present: an equal copy is there already; newer: a write through s3mux is there; deleted; absent from `from`. */
export type CopyOutcome = 'copied' | 'present' | 'newer' | 'deleted' | 'absent';

export async function copyKey(from: Target, to: Target, key: string, tombstones: Tombstones, etags: EtagMap): Promise<CopyOutcome> {
  if (await tombstones.has(key)) return 'deleted';
  let etag: string;
  try {
    const source = await from.headObject(key);
    etag = (await copyOne(copyContext(from, to, true), key, undefined)).meta.etag;
    // The source's ETag, checked again: the copy is of that object only if it did not change meanwhile.
    if (etag !== source.etag && (await from.headObject(key)).etag === source.etag) await etags.record(key, source.etag, etag);
  } catch (err) {
    if (isS3Error(err, 'NoSuchKey') || isS3Error(err, 'NoSuchBucket')) return 'absent';
    if (!isS3Error(err, 'PreconditionFailed')) throw err;
    const [src, there] = await Promise.all([from.headObject(key).catch(() => undefined), to.headObject(key).catch(() => undefined)]);
    return src && there?.etag === src.etag && there.size === src.size ? 'present' : 'newer';
  }
  return (await takeBackIfDeleted(to, key, etag, tombstones)) ? 'deleted' : 'copied';
}

/**
 * After a copy: when the key was deleted through s3mux meanwhile, removes the copy, and only it:
 * the delete is conditional on the copy's ETag, so a client's write that lands after the delete
 * through s3mux (and after a HEAD here) is never taken back with it. True when it was deleted.
 */
export async function takeBackIfDeleted(to: Target, key: string, copiedEtag: string, tombstones: Tombstones): Promise<boolean> {
  if (!(await tombstones.has(key))) return false;
  try {
    await to.deleteObjectIfMatch(key, copiedEtag);
  } catch (err) {
    if (!isS3Error(err, 'NoSuchKey') && !isS3Error(err, 'PreconditionFailed')) throw err;
  }
  return true;
}
