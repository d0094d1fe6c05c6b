/**
 * S3 keys ↔ OCI object names. Most keys are their own object name. OCI refuses names with
 * CR, LF or NUL; the names '.' and '..' cannot be addressed at all (every URL parser drops
 * them as dot segments, encoded or not); other C0 controls, DEL, U+FFFE and U+FFFF are
 * escaped too (they cannot be listed safely), and so is everything under s3mux's reserved
 * area `.s3mux/`. Those keys live in the reserved area in an order-preserving code
 * (../escaped-keys.ts).
 */
import { KeyNames } from '../escaped-keys';
import { RESERVED_PREFIX } from '../reserved';

// eslint-disable-next-line no-control-regex -- control characters are what this finds
const BAD_CHARS = /[\u0000-\u001f\u007f\ufffe\uffff]/;

export function needsEscape(key: string): boolean {
  return key === '.' || key === '..' || key.startsWith(RESERVED_PREFIX) || BAD_CHARS.test(key);
}

export const ociNames = new KeyNames(needsEscape);
