/**
 * Where versions live in a bucket's reserved area:
 * - `v/k/<hex of the key, in segments>.i`: the key's version index (JSON). Hex of the UTF-8
 *   bytes, cut into segments at fixed places, keeps names in the keys' binary order, so
 *   ListObjectVersions pages through the area with a prefix and a start-after.
 * - `v/d/<segment of the key>/<data id>`: one version's bytes.
 */
import { reservedSegment } from '../backends/reserved-store';
import { S3Error } from '../errors';

const INDEX_ROOT = 'v/k/';
const DATA_ROOT = 'v/d/';
const SUFFIX = '.i';
/** Hex digits per segment: a segment holds 200 characters, the last one also `.i`. */
const CHUNK = 198;
/** What fits in a reserved name (900) beside the bucket's area prefix and the roots. */
export const MAX_VERSIONED_KEY_BYTES = 340;

function chunked(hex: string): string {
  const parts: string[] = [];
  for (let i = 0; i < hex.length; i += CHUNK) parts.push(hex.slice(i, i + CHUNK));
  return parts.join('/');
}

function hexOf(key: string): string {
  return Buffer.from(key, 'utf8').toString('hex');
}

export function indexName(key: string): string {
  if (Buffer.byteLength(key, 'utf8') > MAX_VERSIONED_KEY_BYTES) {
    throw new S3Error('KeyTooLongError', `s3mux keeps versions of keys up to ${MAX_VERSIONED_KEY_BYTES} bytes long.`);
  }
  // The empty key cannot be stored; `validateKey` refuses it before this.
  return INDEX_ROOT + chunked(hexOf(key)) + SUFFIX;
}

/** The list prefix for index names of keys that start with `prefix`. */
export function indexPrefix(prefix: string): string {
  return INDEX_ROOT + chunked(hexOf(prefix));
}

/** A name after every index name of keys that start with `prefix` ('g' sorts after hex, '/' and '.'). */
export function indexNameAfterPrefix(prefix: string): string {
  return indexPrefix(prefix) + 'g';
}

export function keyOfIndexName(name: string): string | undefined {
  if (!name.startsWith(INDEX_ROOT) || !name.endsWith(SUFFIX)) return undefined;
  const hex = name.slice(INDEX_ROOT.length, -SUFFIX.length).replace(/\//g, '');
  return /^(?:[0-9a-f]{2})+$/.test(hex) ? Buffer.from(hex, 'hex').toString('utf8') : undefined;
}

/**
 * Whether a reserved name holds a version's bytes: written once, under a data id never used
 * again, and removed but never rewritten (a composite route copies such documents by name).
 */
export function isWrittenOnce(name: string): boolean {
  return name.startsWith(DATA_ROOT);
}

export function dataFolder(key: string): string {
  return DATA_ROOT + reservedSegment(key) + '/';
}

export function dataName(key: string, dataId: string): string {
  return dataFolder(key) + dataId;
}
