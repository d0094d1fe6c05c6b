/**
 * S3 keys ↔ GCS object names. Most keys are their own object name, so a bucket written
 * through s3mux is browsable with Google's tools and an existing bucket is served as it is.
 * GCS refuses names holding CR or LF, the names '.' and '..', and names under
 * `.well-known/acme-challenge/`; C0 controls, DEL, U+FFFE and U+FFFF are escaped as well
 * (Google advises against them and XML listings cannot carry them), and so is everything
 * under s3mux's reserved area `.s3mux/`. Those keys live in the reserved area in an
 * order-preserving code (../escaped-keys.ts).
 */
import { KeyNames } from '../escaped-keys';
import { RESERVED_PREFIX } from '../reserved';

const BAD_CHARS = /[\u0000-\u001f\u007f\ufffe\uffff]/;
const ACME = '.well-known/acme-challenge/';

export function needsEscape(key: string): boolean {
  return key === '.' || key === '..' || key.startsWith(RESERVED_PREFIX) || key.startsWith(ACME) || BAD_CHARS.test(key);
}

export const gcsNames = new KeyNames(needsEscape);
