/**
 * Key -> path mapping of the fs backend. Pure functions: no I/O here.
 *
 * Data tree, `<root>/<bucket>/...`: a key is split on '/' and each segment becomes one path
 * component. A segment is kept as is ("natural") unless it is one of:
 *   - ''  (from 'a//b' or a trailing '/'), '.', '..', or anything starting with '.s3mux'
 *     (compared case-insensitively, for case-insensitive filesystems)
 *       -> `.s3mux~<segment>`                      (when that fits in 255 bytes)
 *   - longer than 255 UTF-8 bytes (or its escaped form would be)
 *       -> `.s3mux#<sha256 hex of the segment>`    (the segment text is kept in the name
 *                                                   registry `<root>/.s3mux/names/<hex>`)
 * Directory-form objects (an object whose natural path must be a directory because other
 * keys live under it, e.g. 'a' next to 'a/b') keep their bytes in `<dir>/.s3mux-self`.
 * So a key ending in '/' ('dir/') is the file `dir/.s3mux~` (its last segment is empty),
 * distinct from the object 'dir', which is either the file `dir` or `dir/.s3mux-self`.
 *
 * Metadata tree, `<root>/.s3mux/meta/<bucket>/...`: the sidecar of key s1/.../sn is
 * `m(s1)/.../m(sn-1)/m(sn).meta` where m is the data encoding, except that a name that
 * would end in '.meta' (case-insensitively) or be longer than 250 bytes becomes
 * `.s3mux#<sha256 hex>`. No directory name ever ends in '.meta', so no sidecar can collide
 * with a directory. Sidecar names are never decoded.
 */
import * as path from 'node:path';
import { RESERVED_NAME } from '../reserved';
import { validateKey } from '../keys';
import { sha256Hex } from '../../auth/digests';

/** `<root>/.s3mux`: metadata, temp files, name registry. Every internal name starts with it; no key segment can produce a natural name with it. */
export const INTERNAL_DIR = RESERVED_NAME;
/** A directory-form object's bytes inside its directory. */
export const SELF_NAME = `${RESERVED_NAME}-self`;
/** Escaped segment: `.s3mux~` + the raw segment. */
export const ESCAPE_PREFIX = `${RESERVED_NAME}~`;
/** Hashed (long) segment: `.s3mux#` + 64 hex digits. */
export const HASH_PREFIX = `${RESERVED_NAME}#`;
/** Sidecar suffix in the metadata tree. */
export const META_SUFFIX = '.meta';
/** Longest file name (bytes) on the filesystems we target. */
export const NAME_MAX = 255;

function isReservedLike(s: string): boolean {
  return s.slice(0, RESERVED_NAME.length).toLowerCase() === RESERVED_NAME;
}

function needsEscape(seg: string): boolean {
  return seg === '' || seg === '.' || seg === '..' || isReservedLike(seg);
}

/** The directory entry name of one key segment in the data tree. */
export function encodeSegment(seg: string): string {
  const len = Buffer.byteLength(seg, 'utf8');
  if (len > NAME_MAX) return HASH_PREFIX + sha256Hex(seg);
  if (needsEscape(seg)) {
    if (ESCAPE_PREFIX.length + len > NAME_MAX) return HASH_PREFIX + sha256Hex(seg);
    return ESCAPE_PREFIX + seg;
  }
  return seg;
}

export type DecodedName = { kind: 'segment'; segment: string } | { kind: 'hashed'; hash: string } | { kind: 'self' } | { kind: 'ignore' };

const HASH_RE = /^[0-9a-f]{64}$/;

/**
 * What a data-tree entry name stands for. Natural names and escaped names decode to their
 * segment; hashed names need the registry (verify with encodeSegment after looking up);
 * internal and unknown reserved names are ignored, as is anything encodeSegment would
 * never produce (so every listed key maps back to the same entry).
 */
export function decodeName(name: string): DecodedName {
  if (name === '' || name === '.' || name === '..' || name.includes('/') || name.includes('\0')) return { kind: 'ignore' };
  if (!isReservedLike(name)) return { kind: 'segment', segment: name };
  if (name === SELF_NAME) return { kind: 'self' };
  if (name.startsWith(ESCAPE_PREFIX)) {
    const seg = name.slice(ESCAPE_PREFIX.length);
    return encodeSegment(seg) === name ? { kind: 'segment', segment: seg } : { kind: 'ignore' };
  }
  if (name.startsWith(HASH_PREFIX)) {
    const hash = name.slice(HASH_PREFIX.length);
    return HASH_RE.test(hash) ? { kind: 'hashed', hash } : { kind: 'ignore' };
  }
  return { kind: 'ignore' };
}

/** The segments of a key: 'a//b/' -> ['a', '', 'b', '']. */
export function keySegments(key: string): string[] {
  return key.split('/');
}

/** Entry names for every segment of the key, in the data tree. */
export function dataParts(key: string): string[] {
  return keySegments(key).map(encodeSegment);
}

/** Segments whose names are hashed (their text must be in the registry). */
export function hashedSegments(key: string): string[] {
  return keySegments(key).filter((s) => encodeSegment(s).startsWith(HASH_PREFIX));
}

/** The metadata tree's name for one segment (never ends in '.meta'). */
export function metaSegment(seg: string): string {
  const enc = encodeSegment(seg);
  if (Buffer.byteLength(enc, 'utf8') > NAME_MAX - META_SUFFIX.length || enc.toLowerCase().endsWith(META_SUFFIX)) {
    return HASH_PREFIX + sha256Hex(seg);
  }
  return enc;
}

/** Entry names of a key's sidecar path below the bucket's metadata directory. */
export function metaParts(key: string): string[] {
  const segs = keySegments(key);
  const parts = segs.map(metaSegment);
  parts[parts.length - 1] += META_SUFFIX;
  return parts;
}

/** True for names that look safe as a bucket directory (a superset of S3's rules, for existing folders). */
export function isSafeBucketDirName(name: string): boolean {
  return typeof name === 'string' && /^[A-Za-z0-9][A-Za-z0-9._-]{0,254}$/.test(name);
}

/**
 * Joins pre-encoded entry names below `base` and verifies (second line of defence) that
 * the result is strictly inside `base`.
 */
export function joinInside(base: string, parts: string[]): string {
  for (const p of parts) {
    if (p === '' || p === '.' || p === '..' || p.includes('/') || p.includes('\0') || (path.sep !== '/' && p.includes(path.sep))) {
      throw new Error(`unsafe path component ${JSON.stringify(p)}`);
    }
  }
  const full = parts.length > 0 ? base + path.sep + parts.join(path.sep) : base;
  const rel = path.relative(base, full);
  if (parts.length > 0 && (rel === '' || rel === '..' || rel.startsWith('..' + path.sep) || path.isAbsolute(rel))) {
    throw new Error(`path escapes its base: ${JSON.stringify(full)}`);
  }
  return full;
}

/**
 * The fs store's own guard on the names it writes, which happen to be S3's key rules: a key
 * over 1024 bytes (a route's prefix can make one from a valid key) would never be listed back
 * by the walker, an empty key has no entry of its own, and NUL or a lone surrogate has no
 * file-name form (the OS would store U+FFFD, colliding with another key). S3's check of the
 * client's key is BucketView's; this one protects the tree.
 */
export const assertStorableKey: (key: string) => void = validateKey;
