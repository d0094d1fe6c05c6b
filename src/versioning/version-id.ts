/**
 * Version ids: 32 lowercase hex digits, the creation time in milliseconds (12), a per-process
 * sequence (4) and 64 random bits (16). Ids sort by creation time; two replicas writing in the
 * same millisecond still get distinct ids (the random part), one process never repeats one.
 */
import { randomBytes } from 'node:crypto';
import { S3Error } from '../errors';

/** The version every object has in a bucket that was never versioned, and in a suspended one. */
export const NULL_VERSION = 'null';

const ID = /^[0-9a-f]{32}$/;
let lastMs = 0;
let seq = 0;

export function newVersionId(now = Date.now()): string {
  // A clock that steps back must not reorder this process's ids.
  const ms = Math.max(now, lastMs);
  seq = ms === lastMs ? (seq + 1) & 0xffff : 0;
  lastMs = ms;
  return ms.toString(16).padStart(12, '0') + seq.toString(16).padStart(4, '0') + randomBytes(8).toString('hex');
}

/**
 * Throws S3's InvalidArgument for a versionId s3mux could never have given out; an empty one
 * (`?versionId=`, what a client sends for a version id it holds as "") has S3's own message.
 */
export function checkVersionId(id: string, argumentName = 'versionId'): void {
  if (id === '') {
    throw new S3Error('InvalidArgument', 'Version id cannot be the empty string', { ArgumentName: argumentName, ArgumentValue: '' });
  }
  if (id !== NULL_VERSION && !ID.test(id)) {
    throw new S3Error('InvalidArgument', 'Invalid version id specified', { ArgumentName: argumentName, ArgumentValue: id.slice(0, 64) });
  }
}

/** The creation time an id carries (GC of orphaned data uses it). */
export function versionIdTime(id: string): number {
  return ID.test(id) ? parseInt(id.slice(0, 12), 16) : 0;
}
