/**
 * S3 keys ↔ GitHub release asset names.
 *
 * GitHub renames asset names it does not like ("special characters, non-alphanumeric
 * characters, and leading or trailing periods": a space or '~' becomes '.'), compares them
 * without regard to case (one release cannot hold `A.zip` and `a.zip`) and has no '/'. So:
 *
 * - a key made only of [A-Za-z0-9._-], not starting or ending with '.', and not in the
 *   reserved area is stored under its own name: what users see on the release page is what
 *   S3 clients see;
 * - any other key is stored as `_s3mux.k.<base32hex of its UTF-8 bytes>` (lower case, so
 *   case-insensitive names stay distinct). Listings decode names and sort keys in UTF-8
 *   order in memory: a release holds at most 1000 assets;
 * - GitHub refuses empty assets ("size must be greater than or equal to 1"), so an empty
 *   object is one byte stored as `_s3mux.e.<base32hex of its key>`, read as empty;
 * - s3mux's own assets (staged multipart parts, the temporary name of a replacement) live
 *   under `_s3mux.` as well and are never listed.
 *
 * An escaped key takes 1.6 characters per byte; a name longer than GitHub's 255 characters
 * is refused (KeyTooLongError), which keeps escaped keys to 153 UTF-8 bytes.
 */
import { S3Error } from '../../errors';
import { RESERVED_NAME } from '../reserved';

/** The bucket name that stands for every release of the repository (`github://owner/repo/releases`): ':' cannot be in a tag. */
export const ALL_RELEASES = ':releases';

/**
 * Names of s3mux's own assets start with this; no plain key does. It is RESERVED_NAME
 * (reserved.ts) in the only form GitHub keeps: no leading '.', no '/'.
 */
export const RESERVED = `_${RESERVED_NAME.slice(1)}.`;
const ESCAPED = `${RESERVED}k.`;
const EMPTY = `${RESERVED}e.`;
/** The byte an empty object is stored as. */
export const EMPTY_BODY = Buffer.from([0]);
/** GitHub's longest asset name (its file name column). */
export const MAX_NAME = 255;

const PLAIN = /^[A-Za-z0-9_-](?:[A-Za-z0-9._-]*[A-Za-z0-9_-])?$/;
const B32 = '0123456789abcdefghijklmnopqrstuv';

function base32hex(bytes: Uint8Array): string {
  let out = '';
  let acc = 0;
  let bits = 0;
  for (const b of bytes) {
    acc = ((acc << 8) | b) & 0xffff;
    bits += 8;
    while (bits >= 5) {
      bits -= 5;
      out += B32[(acc >> bits) & 31];
    }
  }
  if (bits > 0) out += B32[(acc << (5 - bits)) & 31];
  return out;
}

function unbase32hex(text: string): Buffer | undefined {
  const out: number[] = [];
  let acc = 0;
  let bits = 0;
  for (const ch of text) {
    const v = B32.indexOf(ch);
    if (v < 0) return undefined;
    acc = ((acc << 5) | v) & 0xffff;
    bits += 5;
    if (bits >= 8) {
      bits -= 8;
      out.push((acc >> bits) & 0xff);
    }
  }
  return Buffer.from(out);
}

/** True when GitHub keeps `key` as an asset name unchanged. */
export function isPlainKey(key: string): boolean {
  return PLAIN.test(key) && !key.toLowerCase().startsWith(RESERVED);
}

/** The asset name that holds `key` (`empty`: an empty object); KeyTooLongError when GitHub cannot hold a name that long. */
export function nameOf(key: string, empty = false): string {
  const name = empty ? EMPTY + base32hex(Buffer.from(key, 'utf8')) : isPlainKey(key) ? key : ESCAPED + base32hex(Buffer.from(key, 'utf8'));
  if (name.length > MAX_NAME) {
    throw new S3Error(
      'KeyTooLongError',
      `A GitHub release asset name holds at most ${MAX_NAME} characters; this key needs ${name.length}.`,
      {
        Size: String(Buffer.byteLength(key, 'utf8')),
      },
    );
  }
  return name;
}

/** True for the name of an empty object. */
export function isEmptyName(name: string): boolean {
  return name.startsWith(EMPTY);
}

/** The key an asset name holds, or undefined for s3mux's own assets. */
export function keyOf(name: string): string | undefined {
  if (!name.toLowerCase().startsWith(RESERVED)) return name;
  const empty = isEmptyName(name);
  if (!empty && !name.startsWith(ESCAPED)) return undefined;
  const bytes = unbase32hex(name.slice(ESCAPED.length));
  if (!bytes) return undefined;
  const key = bytes.toString('utf8');
  // A name that does not round-trip was not written by s3mux: not a key.
  try {
    return nameOf(key, empty) === name ? key : undefined;
  } catch {
    return undefined;
  }
}

/** The names that may hold `key` (as content, or as an empty object); none when GitHub cannot name it. */
export function namesOf(key: string): string[] {
  const out: string[] = [];
  for (const empty of [false, true]) {
    try {
      out.push(nameOf(key, empty));
    } catch {
      // longer than GitHub's names: not this form
    }
  }
  return out;
}

/** The case-insensitive identity GitHub gives a name. */
export function foldName(name: string): string {
  return name.toLowerCase();
}
