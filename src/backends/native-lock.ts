/**
 * A store's own object lock on s3mux's version blobs, once for every adapter that has one (S3
 * object lock, Azure version-level immutability, GCS object retention and holds):
 *
 * - a new blob carries its lock on the write itself (`forWrite`: the lock the write sends, or
 *   none where the store bucket has no lock), so there is no moment its bytes are in the store
 *   unprotected;
 * - a change of an existing blob's lock (a retention set or removed, a hold placed or released)
 *   takes the store's own calls (`protect`);
 * - whether the store bucket has its lock enabled is asked per bucket and the answer kept for
 *   ANSWER_LIFETIME_MS, or until a call carrying a lock fails (`forget`), so a lock turned on in
 *   the store applies without a restart.
 *
 * An adapter says only how its store does those things (NativeLockCalls). s3mux has already
 * applied S3's rules to the change (src/object-lock/lock.ts); a store whose own rules are
 * stricter (a COMPLIANCE-like retention s3mux may not shorten either) refuses, and its error
 * reaches the client.
 */
import type { StoreLock } from './reserved-store';

type Retention = NonNullable<StoreLock['retention']>;

export interface NativeLockCalls {
  /** Whether the store bucket has its native lock enabled; false leaves the protection to s3mux alone. */
  enabled(bucket: string): Promise<boolean>;
  /** Sets the object's retention, or removes it (undefined; s3mux removes only a GOVERNANCE one). */
  retain(bucket: string, name: string, retention: Retention | undefined): Promise<void>;
  /** Places or releases the object's legal hold. */
  hold(bucket: string, name: string, on: boolean): Promise<void>;
}

/** Makes the store's lock on object `name` match `lock`, coming from `previous` (nothing for a new object). */
export type NativeProtect = (bucket: string, name: string, lock: StoreLock, previous?: StoreLock) => Promise<void>;

export interface NativeLock {
  protect: NativeProtect;
  /** The lock a write of a new object to `bucket` carries: `lock` where the bucket has the store's lock enabled, else none. */
  forWrite(bucket: string, lock: StoreLock | undefined): Promise<StoreLock | undefined>;
  /** A call carrying a lock failed: the bucket's answer is asked again next time. */
  forget(bucket: string): void;
}

/** How long a bucket's "lock enabled" answer is kept. */
export const ANSWER_LIFETIME_MS = 60_000;

const sameRetention = (a: Retention | undefined, b: Retention | undefined): boolean =>
  a === b || (a !== undefined && b !== undefined && a.mode === b.mode && Date.parse(a.until) === Date.parse(b.until));

/** Whether a lock asks the store for anything (a retention, or a hold that is ON). */
export const locksAnything = (lock: StoreLock | undefined): lock is StoreLock => lock?.retention !== undefined || lock?.legalHold === 'ON';

export function nativeLock(calls: NativeLockCalls, now: () => number = () => Date.now()): NativeLock {
  const known = new Map<string, { answer: Promise<boolean>; at: number }>();
  const forget = (bucket: string): void => void known.delete(bucket);
  const enabled = (bucket: string): Promise<boolean> => {
    const kept = known.get(bucket);
    if (kept && now() - kept.at < ANSWER_LIFETIME_MS) return kept.answer;
    const entry = { answer: calls.enabled(bucket), at: now() };
    known.set(bucket, entry);
    entry.answer.catch(() => known.get(bucket) === entry && forget(bucket)); // a failed question is asked again
    return entry.answer;
  };
  /** Runs a call that carries a lock; its failure may mean the bucket's lock changed. */
  const carrying = async (bucket: string, call: () => Promise<void>): Promise<void> => {
    try {
      await call();
    } catch (err) {
      forget(bucket);
      throw err;
    }
  };
  return {
    forget,
    async forWrite(bucket, lock) {
      return locksAnything(lock) && (await enabled(bucket)) ? lock : undefined;
    },
    async protect(bucket, name, lock, previous) {
      const retain = !sameRetention(lock.retention, previous?.retention);
      const holdOn = lock.legalHold === 'ON';
      const hold = holdOn !== (previous?.legalHold === 'ON');
      if (!(retain || hold) || !(await enabled(bucket))) return;
      if (retain) await carrying(bucket, () => calls.retain(bucket, name, lock.retention));
      if (hold) await carrying(bucket, () => calls.hold(bucket, name, holdOn));
    },
  };
}
