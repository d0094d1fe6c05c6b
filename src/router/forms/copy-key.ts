/**
 * Copies one key of a migration from the old location to the new, with everything the object
 * carries (content headers, user metadata, tags, checksums, its ETag where the store records
 * one). It never overwrites a write made through s3mux: the copy only creates (if-none-match),
 * and a key deleted through s3mux (a tombstone) is never copied; a delete that lands while the
 * copy is under way is seen after it, and the copy taken back.
 */
import type { Readable } from 'node:stream';
import { isS3Error } from '../../errors';
import { attributesOf } from './composite';
import type { Target } from './target';
import type { Tombstones } from './tombstones';

/** copied; present: an equal copy is there already (an earlier run); newer: a write through s3mux is there; deleted; absent from `from`. */
export type CopyOutcome = 'copied' | 'present' | 'newer' | 'deleted' | 'absent';

export interface CopyResult {
  outcome: CopyOutcome;
  bytes: number;
  etag?: string;
}

export async function copyKey(
  from: Target,
  to: Target,
  key: string,
  tombstones: Tombstones,
  shape: (body: Readable) => Readable = (b) => b,
): Promise<CopyResult> {
  if (await tombstones.has(key)) return { outcome: 'deleted', bytes: 0 };
  let handle;
  try {
    handle = await from.openObject(key);
  } catch (err) {
    if (isS3Error(err, 'NoSuchKey') || isS3Error(err, 'NoSuchBucket')) return { outcome: 'absent', bytes: 0 };
    throw err;
  }
  const src = handle.meta;
  try {
    const body = shape(handle.read());
    try {
      await to.putObject(key, body, attributesOf(src), { size: src.size, etag: src.etag, conditions: { ifNoneMatch: '*' } });
    } catch (err) {
      body.destroy();
      if (!isS3Error(err, 'PreconditionFailed')) throw err;
      const there = await to.headObject(key).catch(() => undefined);
      return there?.etag === src.etag && there.size === src.size ? { outcome: 'present', bytes: src.size } : { outcome: 'newer', bytes: 0 };
    }
  } finally {
    await handle.close();
  }
  if (await tombstones.has(key)) {
    // Deleted through s3mux while we copied: take our copy back, and only ours.
    try {
      const now = await to.headObject(key);
      if (now.etag === src.etag) await to.deleteObject(key);
    } catch (err) {
      if (!isS3Error(err, 'NoSuchKey')) throw err;
    }
    return { outcome: 'deleted', bytes: 0 };
  }
  return { outcome: 'copied', bytes: src.size, etag: src.etag };
}
