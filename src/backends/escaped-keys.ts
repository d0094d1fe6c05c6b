/**
 * Keys a store cannot hold under their own name, kept in a reserved area instead.
 *
 * Cloud stores refuse or rewrite some names S3 accepts ('.', '..', control characters, ...).
 * Such a key is stored as `<reserved>k/<code>`, where <code> packs the key's UTF-8 bytes
 * twelve bits per character into U+4E00..U+5DFF. Those characters sort the same in UTF-16
 * order and in UTF-8 byte order, and the code sorts exactly as the keys do in UTF-8 byte
 * order; a key prefix maps onto a code prefix. So escaped keys can be listed in order, by
 * prefix, and merged with the natural names. A 1024-byte key takes 683 characters.
 *
 * Each adapter says which keys need escaping; the code and the area's layout are shared.
 */
import { RESERVED_PREFIX } from './reserved';

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

/** Keys that cannot be names. */
export const ESCAPED_PREFIX = `${RESERVED_PREFIX}k/`;
/** Multipart upload records and parts of the stores that keep them as objects. */
export const UPLOADS_PREFIX = `${RESERVED_PREFIX}uploads/`;

/** Key ↔ store name for one store's rule of which keys need escaping. */
export class KeyNames {
  /** `needsEscape` must hold for every key under RESERVED_PREFIX. */
  constructor(readonly needsEscape: (key: string) => boolean) {}

  /** The store name of a key. */
  nameOf(key: string): string {
    return this.needsEscape(key) ? ESCAPED_PREFIX + encodeBytes(Buffer.from(key, 'utf8')) : key;
  }

  /** The key of an escaped name (one under ESCAPED_PREFIX), or undefined when it is not one s3mux wrote. */
  keyOfEscaped(name: string): string | undefined {
    if (!name.startsWith(ESCAPED_PREFIX)) return undefined;
    const bytes = decodeBytes(name.slice(ESCAPED_PREFIX.length));
    if (!bytes || bytes.length === 0) return undefined;
    const key = bytes.toString('utf8');
    // Only canonical codes of keys that really needed escaping (so every key has one name).
    return Buffer.from(key, 'utf8').equals(bytes) && this.nameOf(key) === name ? key : undefined;
  }

  /**
   * The name prefix under which the escaped forms of every key starting with `prefix` lie:
   * only the complete twelve-bit digits of the prefix's bytes are certain.
   */
  escapedPrefixFor(prefix: string): string {
    const bytes = Buffer.from(prefix, 'utf8');
    const digits = Math.floor((bytes.length * 8) / DIGIT_BITS);
    return ESCAPED_PREFIX + encodeBytes(bytes).slice(0, digits);
  }
}
