/**
 * Object lock on one version: retention (GOVERNANCE or COMPLIANCE until a date) and a legal
 * hold, kept with the version in its index entry (src/versioning/index-document.ts). The rules
 * S3 applies to them are here, once: what a request may ask for, and what may remove or shorten
 * a protection.
 */
import { S3Error } from '../errors';

export const LOCK_MODES = ['GOVERNANCE', 'COMPLIANCE'] as const;
export type LockMode = (typeof LOCK_MODES)[number];
export const LEGAL_HOLDS = ['ON', 'OFF'] as const;
export type LegalHold = (typeof LEGAL_HOLDS)[number];

export interface Retention {
  mode: LockMode;
  /** ISO 8601. */
  until: string;
}

export interface ObjectLock {
  retention?: Retention;
  legalHold?: LegalHold;
}

/**
 * S3's refusal of a change a lock forbids (deleting a locked version, shortening a retention):
 * its plain AccessDenied, message and all, which says nothing of the lock.
 */
export function lockedError(): S3Error {
  return new S3Error('AccessDenied');
}

/** S3's refusal of lock settings in a bucket that has no object lock. */
export function missingLockConfiguration(header?: string): S3Error {
  return new S3Error('InvalidRequest', 'Bucket is missing Object Lock Configuration', header ? { Header: header } : {});
}

export function parseMode(value: string, argumentName: string): LockMode {
  if (!(LOCK_MODES as readonly string[]).includes(value)) {
    throw new S3Error('InvalidArgument', 'Unknown wormMode directive.', { ArgumentName: argumentName, ArgumentValue: value });
  }
  return value as LockMode;
}

/** A retain-until date: ISO 8601 with a time zone, in the future. */
export function parseUntil(value: string, argumentName: string, now = Date.now()): string {
  const t = /^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}(\.\d+)?(Z|[+-]\d{2}:?\d{2})$/.test(value.trim()) ? Date.parse(value.trim()) : NaN;
  if (Number.isNaN(t)) {
    throw new S3Error('InvalidArgument', 'The retain until date must be provided in ISO 8601 format', {
      ArgumentName: argumentName,
      ArgumentValue: value,
    });
  }
  if (t <= now) throw new S3Error('InvalidArgument', 'The retain until date must be in the future!');
  return new Date(t).toISOString();
}

export function parseLegalHold(value: string, argumentName: string): LegalHold {
  if (!(LEGAL_HOLDS as readonly string[]).includes(value)) {
    throw new S3Error('InvalidArgument', "Legal Hold must be either of 'ON' or 'OFF'", {
      ArgumentName: argumentName,
      ArgumentValue: value,
    });
  }
  return value as LegalHold;
}

export const LOCK_HEADERS = {
  mode: 'x-amz-object-lock-mode',
  until: 'x-amz-object-lock-retain-until-date',
  legalHold: 'x-amz-object-lock-legal-hold',
} as const;

/**
 * The lock a write asks for with the x-amz-object-lock-* headers (or POST form fields of
 * those names); undefined when it asks for none. A bucket without object lock (`enabled`
 * false) refuses any of them first, as S3 does; mode and date come together or not at all.
 */
export function requestedLock(get: (name: string) => string | undefined, enabled: boolean): ObjectLock | undefined {
  const mode = get(LOCK_HEADERS.mode);
  const until = get(LOCK_HEADERS.until);
  const hold = get(LOCK_HEADERS.legalHold);
  const named = Object.values(LOCK_HEADERS).find((h) => get(h) !== undefined);
  if (named !== undefined && !enabled) throw missingLockConfiguration(named);
  if ((mode === undefined) !== (until === undefined)) {
    throw new S3Error('InvalidArgument', 'x-amz-object-lock-retain-until-date and x-amz-object-lock-mode must both be supplied', {
      ArgumentName: mode === undefined ? LOCK_HEADERS.mode : LOCK_HEADERS.until,
    });
  }
  if (mode === undefined && hold === undefined) return undefined;
  const lock: ObjectLock = {};
  if (mode !== undefined && until !== undefined) {
    lock.retention = { mode: parseMode(mode.trim(), LOCK_HEADERS.mode), until: parseUntil(until, LOCK_HEADERS.until) };
  }
  if (hold !== undefined) lock.legalHold = parseLegalHold(hold.trim(), LOCK_HEADERS.legalHold);
  return lock;
}

/** The headers GET and HEAD answer with for a version's lock. */
export function lockHeaders(lock: ObjectLock | undefined): Record<string, string> {
  const h: Record<string, string> = {};
  if (lock?.retention) {
    h[LOCK_HEADERS.mode] = lock.retention.mode;
    h[LOCK_HEADERS.until] = lock.retention.until;
  }
  if (lock?.legalHold) h[LOCK_HEADERS.legalHold] = lock.legalHold;
  return h;
}

function retentionActive(r: Retention | undefined, now: number): r is Retention {
  return r !== undefined && Date.parse(r.until) > now;
}

/**
 * Throws AccessDenied unless a version with this lock may be removed for good: no legal hold,
 * no COMPLIANCE retention in force, and a GOVERNANCE one only with `bypass` (the header and the
 * permission to use it).
 */
export function checkRemovable(lock: ObjectLock | undefined, bypass: boolean, now = Date.now()): void {
  if (lock?.legalHold === 'ON') throw lockedError();
  const r = lock?.retention;
  if (!retentionActive(r, now)) return;
  if (r.mode === 'COMPLIANCE' || !bypass) throw lockedError();
}

/** Whether a version is protected at `now` (the lifecycle worker leaves it alone). */
export function isLocked(lock: ObjectLock | undefined, now = Date.now()): boolean {
  return lock?.legalHold === 'ON' || retentionActive(lock?.retention, now);
}

/**
 * Throws AccessDenied unless a version's retention may go from `current` to `next` (undefined:
 * removed). Extending it, in the same mode, is always allowed; a COMPLIANCE retention in force
 * can do nothing else; a GOVERNANCE one can be shortened, removed or change mode only with
 * `bypass`.
 */
export function checkRetentionChange(current: Retention | undefined, next: Retention | undefined, bypass: boolean, now = Date.now()): void {
  if (!retentionActive(current, now)) return;
  const extends_ = next !== undefined && next.mode === current.mode && Date.parse(next.until) >= Date.parse(current.until);
  if (extends_) return;
  if (current.mode === 'COMPLIANCE' || !bypass) throw lockedError();
}
