/**
 * S3 keys ↔ Azure blob names.
 *
 * Most keys are stored under their own name, so a container written through s3mux is browsable
 * with Azure's own tools and an existing container can be served as it is. A few keys cannot
 * be blob names:
 *
 * - a path segment that ends in '.' ('.', '..', 'a./b', '...'): the SDK builds URLs with the
 *   WHATWG URL parser, which resolves '.' and '..' segments (even as %2E), so `x/..` would
 *   address the container itself; and Azure trims trailing dots from names;
 * - a backslash, which Azure turns into '/'; C0 control characters and DEL, which Azure
 *   refuses; U+FFFE and U+FFFF, which XML listings cannot carry;
 * - more than 254 path segments (Azure's limit);
 * - keys under the reserved area `.s3mux/`, where s3mux keeps its own blobs.
 *
 * Those keys are stored in the reserved area `.s3mux/k/` in an order-preserving code
 * (../escaped-keys.ts), listed in order and merged with the natural names (listing.ts).
 */
import { KeyNames } from '../escaped-keys';
import { RESERVED_PREFIX } from '../reserved';

export { decodeBytes, encodeBytes, ESCAPED_PREFIX, UPLOADS_PREFIX } from '../escaped-keys';

/** Azure's limit on the number of '/'-separated segments of a blob name. */
const MAX_SEGMENTS = 254;

const BAD_CHARS = /[\u0000-\u001f\u007f\\\ufffe\uffff]/;
/** A segment ending in '.', i.e. a '.' before a '/' or at the end. */
const TRAILING_DOT_SEGMENT = /\.(?:\/|$)/;

/** True when the key cannot be stored under its own name. */
export function needsEscape(key: string): boolean {
  if (key.startsWith(RESERVED_PREFIX)) return true;
  if (BAD_CHARS.test(key)) return true;
  if (TRAILING_DOT_SEGMENT.test(key)) return true;
  let segments = 1;
  for (let i = 0; i < key.length; i++) if (key.charCodeAt(i) === 0x2f && ++segments > MAX_SEGMENTS) return true;
  return false;
}

const names = new KeyNames(needsEscape);

/** The blob name of a key. */
export const blobNameOf = (key: string): string => names.nameOf(key);
/** The key of an escaped blob name, or undefined when it is not one s3mux wrote. */
export const keyOfEscaped = (name: string): string | undefined => names.keyOfEscaped(name);
/** The name prefix of the escaped forms of every key starting with `prefix`. */
export const escapedPrefixFor = (prefix: string): string => names.escapedPrefixFor(prefix);
