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
 * Those keys are stored in the reserved area as `.s3mux/k/<code>`, where <code> packs the
 * key's UTF-8 bytes twelve bits per character into U+4E00..U+5DFF. That code sorts (in
 * Azure's UTF-16 order) exactly as the keys do in UTF-8 byte order, and a key prefix maps
 * onto a code prefix, so these keys can be listed in order, by prefix, and merged with the
 * natural names (listing.ts). A 1024-byte key takes 683 characters.
 */

/** Everything below this is s3mux's own; listings of the natural names skip it. */
export const RESERVED_PREFIX = '.s3mux/';
/** Keys that cannot be blob names. */
export const ESCAPED_PREFIX = '.s3mux/k/';
/** Multipart upload markers and part records (multipart.ts). */
export const UPLOADS_PREFIX = '.s3mux/uploads/';

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

const CODE_BASE = 0x4e00;
const DIGIT_BITS = 12;
const DIGIT_MASK = (1 << DIGIT_BITS) - 1;

/** Bytes → order-preserving code, twelve bits per character, the last one zero-padded. */
export function encodeBytes(bytes: Uint8Array): string {
  let out = '';
  let acc = 0;
  let bits = 0;
  for (const b of bytes) {
    acc = ((acc << 8) | b) & 0xfffff;
    bits += 8;
    if (bits >= DIGIT_BITS) {
      bits -= DIGIT_BITS;
      out += String.fromCharCode(CODE_BASE + ((acc >> bits) & DIGIT_MASK));
    }
  }
  if (bits > 0) out += String.fromCharCode(CODE_BASE + ((acc << (DIGIT_BITS - bits)) & DIGIT_MASK));
  return out;
}

/** The inverse of encodeBytes; trailing zero bytes (padding: keys hold no NUL) are dropped. Undefined when not a code. */
export function decodeBytes(code: string): Buffer | undefined {
  const out: number[] = [];
  let acc = 0;
  let bits = 0;
  for (let i = 0; i < code.length; i++) {
    const v = code.charCodeAt(i) - CODE_BASE;
    if (v < 0 || v > DIGIT_MASK) return undefined;
    acc = ((acc << DIGIT_BITS) | v) & 0xffffff;
    bits += DIGIT_BITS;
    while (bits >= 8) {
      bits -= 8;
      out.push((acc >> bits) & 0xff);
    }
  }
  while (out.length > 0 && out[out.length - 1] === 0) out.pop();
  return Buffer.from(out);
}

/** The blob name of a key. */
export function blobNameOf(key: string): string {
  return needsEscape(key) ? ESCAPED_PREFIX + encodeBytes(Buffer.from(key, 'utf8')) : key;
}

/** The key of an escaped blob name (one under ESCAPED_PREFIX), or undefined when it is not one s3mux wrote. */
export function keyOfEscaped(name: string): string | undefined {
  if (!name.startsWith(ESCAPED_PREFIX)) return undefined;
  const bytes = decodeBytes(name.slice(ESCAPED_PREFIX.length));
  if (!bytes || bytes.length === 0) return undefined;
  const key = bytes.toString('utf8');
  // Only canonical codes of keys that really needed escaping (so every key has one name).
  return Buffer.from(key, 'utf8').equals(bytes) && blobNameOf(key) === name ? key : undefined;
}

/**
 * The name prefix under which the escaped forms of every key starting with `prefix` lie:
 * only the complete twelve-bit digits of the prefix's bytes are certain.
 */
export function escapedPrefixFor(prefix: string): string {
  const bytes = Buffer.from(prefix, 'utf8');
  const digits = Math.floor((bytes.length * 8) / DIGIT_BITS);
  return ESCAPED_PREFIX + encodeBytes(bytes).slice(0, digits);
}
