/**
 * A store's own object lock on s3mux's version blobs, once for every adapter that has one (S3
 * object lock, Azure version-level immutability, GCS object retention and holds): which store
 * calls a change of a version's lock takes (a retention set or removed, a hold placed or
 * released), and whether the store bucket has the lock enabled, asked once per bucket. An
 * adapter says only how its store does those three things (NativeLockCalls). s3mux has already
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

const sameRetention = (a: Retention | undefined, b: Retention | undefined): boolean =>
  a === b || (a !== undefined && b !== undefined && a.mode === b.mode && Date.parse(a.until) === Date.parse(b.until));

export function nativeLock(calls: NativeLockCalls): NativeProtect {
  const known = new Map<string, Promise<boolean>>();
  const enabled = (bucket: string): Promise<boolean> => {
    let answer = known.get(bucket);
    if (!answer) {
      answer = calls.enabled(bucket);
      known.set(bucket, answer);
      answer.catch(() => known.delete(bucket)); // a failed question is asked again
    }
    return answer;
  };
  return async (bucket, name, lock, previous) => {
    const retain = !sameRetention(lock.retention, previous?.retention);
    const holdOn = lock.legalHold === 'ON';
    const hold = holdOn !== (previous?.legalHold === 'ON');
    if (!(retain || hold) || !(await enabled(bucket))) return;
    if (retain) await calls.retain(bucket, name, lock.retention);
    if (hold) await calls.hold(bucket, name, holdOn);
  };
}
