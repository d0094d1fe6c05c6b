/**
 * Validation of object keys and bucket names, shared by every adapter so that all of them
 * accept and refuse the same names with the same S3 error codes.
 */
import { S3Error } from '../errors';
import { s3BucketNameProblem } from './bucket-names';

/** S3's limit on a key, in UTF-8 bytes. */
export const MAX_KEY_BYTES = 1024;

/** True when the string holds a lone (unpaired) UTF-16 surrogate, which has no UTF-8 form. */
function hasLoneSurrogate(s: string): boolean {
  for (let i = 0; i < s.length; i++) {
    const c = s.charCodeAt(i);
    if (c >= 0xd800 && c <= 0xdbff) {
      const d = i + 1 < s.length ? s.charCodeAt(i + 1) : 0;
      if (d >= 0xdc00 && d <= 0xdfff) {
        i++;
        continue;
      }
      return true;
    }
    if (c >= 0xdc00 && c <= 0xdfff) return true;
  }
  return false;
}

/**
 * Throws unless `key` is a key S3 would store:
 * - empty: InvalidArgument (S3 has no way to address an object with an empty key);
 * - more than 1024 UTF-8 bytes: KeyTooLongError;
 * - a NUL character (XML 1.0 cannot carry it in a listing) or a lone surrogate (no UTF-8
 *   form, so no stable byte order): InvalidArgument.
 */
export function validateKey(key: string): void {
  if (typeof key !== 'string' || key.length === 0) {
    throw new S3Error('InvalidArgument', 'Object key must not be empty.', { ArgumentName: 'key', ArgumentValue: '' });
  }
  // Cheap upper bound first: a UTF-16 unit is at most 3 UTF-8 bytes.
  if (key.length > MAX_KEY_BYTES / 3 && Buffer.byteLength(key, 'utf8') > MAX_KEY_BYTES) {
    throw new S3Error('KeyTooLongError', undefined, {
      Size: String(Buffer.byteLength(key, 'utf8')),
      MaxSizeAllowed: String(MAX_KEY_BYTES),
    });
  }
  if (key.includes('\0')) {
    throw new S3Error('InvalidArgument', 'Object key must not contain the NUL character.', { ArgumentName: 'key' });
  }
  if (hasLoneSurrogate(key)) {
    throw new S3Error('InvalidArgument', 'Object key is not valid UTF-8.', { ArgumentName: 'key' });
  }
}

/** Boolean form of validateKey. */
export function isValidKey(key: string): boolean {
  try {
    validateKey(key);
    return true;
  } catch {
    return false;
  }
}

/** The reason a bucket name breaks S3's naming rules, or undefined when it is valid. */
export const bucketNameProblem = s3BucketNameProblem;

/** Throws InvalidBucketName unless `name` follows S3's rules for general purpose buckets. */
export function validateBucketName(name: string): void {
  const problem = bucketNameProblem(name);
  if (problem !== undefined) {
    throw new S3Error('InvalidBucketName', `The specified bucket is not valid: ${problem}.`, {
      BucketName: String(name),
    });
  }
}

export function isValidBucketName(name: string): boolean {
  return bucketNameProblem(name) === undefined;
}
