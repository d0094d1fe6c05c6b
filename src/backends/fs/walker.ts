/**
 * The listing walker: yields a bucket's keys in UTF-8 byte order, lazily, from a seek
 * position. Each directory is read once per listing page (cached), its entries turned into
 * key ranges and sorted by the UTF-8 order of those ranges:
 *   - a file `x` is the key `<dir>x`;
 *   - a directory `d` is two ranges: its own directory-form object `<dir>d` (when
 *     `d/.s3mux-self` exists) and the subtree `<dir>d/...`;
 *   - reserved names are decoded (escaped, hashed via the registry); internal names,
 *     symbolic links, special files and names that are not UTF-8 are skipped.
 * Sibling ranges never interleave, so the first range still wanted by the seek is found by
 * binary search, and whole subtrees are skipped or ended without being read.
 */
import { promises as fsp, type Dirent } from 'node:fs';
import { isUtf8 } from 'node:buffer';
import * as path from 'node:path';
import { LRUCache } from 'lru-cache';
import { MAX_KEY_BYTES } from '../keys';
import { classifySubtree, compareKeys, seekIsPast, seekWants, type ListSeek } from '../listing';
import { isErrno } from './layout';
import type { NameRegistry } from './names';
import { decodeName, encodeSegment, joinInside, keySegments, SELF_NAME } from './paths';

export interface WalkEntry {
  key: string;
  /** The data file (natural file or `.s3mux-self`). */
  file: string;
}

type Item =
  { kind: 'file'; key: string; file: string } | { kind: 'self'; key: string; file: string } | { kind: 'dir'; key: string; dir: string };

/**
 * A directory modified less than this long before it was read is not kept across pages: a
 * change within the same timestamp tick would leave its mtime as it was ("racy" entries, as
 * git calls them). Past it, any later change moves the mtime.
 */
export const RACY_MS = 2000;

interface Listed {
  ino: number;
  mtimeMs: number;
  items: Item[];
}

/**
 * Sorted directory contents across listing pages and requests, so a page of a large flat
 * bucket costs a stat of its directory, not a read and sort of every name in it. An entry is
 * used only while the directory's inode and mtime are unchanged (see RACY_MS).
 */
export class SortedDirs {
  private readonly lru = new LRUCache<string, Listed>({ maxSize: 500_000, sizeCalculation: (v) => v.items.length + 1 });

  async items(dir: string, read: () => Promise<Item[]>): Promise<Item[]> {
    const st = await fsp.stat(dir).catch(() => undefined);
    if (!st) return read();
    const hit = this.lru.get(dir);
    if (hit && hit.ino === st.ino && hit.mtimeMs === st.mtimeMs) return hit.items;
    const items = await read();
    if (Date.now() - st.mtimeMs > RACY_MS) this.lru.set(dir, { ino: st.ino, mtimeMs: st.mtimeMs, items });
    else this.lru.delete(dir);
    return items;
  }
}

/** Sorted directory contents for one listing page (each directory checked once per page). */
export class DirCache {
  private readonly map = new Map<string, Promise<Item[]>>();
  constructor(
    private readonly sorted?: SortedDirs,
    private readonly max = 4096,
  ) {}
  items(dir: string, read: () => Promise<Item[]>): Promise<Item[]> {
    let p = this.map.get(dir);
    if (!p) {
      if (this.map.size >= this.max) this.map.clear();
      p = this.sorted ? this.sorted.items(dir, read) : read();
      this.map.set(dir, p);
    }
    return p;
  }
}

async function entryKind(dir: string, d: Dirent<Buffer> | Dirent): Promise<'file' | 'dir' | undefined> {
  if (d.isFile()) return 'file';
  if (d.isDirectory()) return 'dir';
  if (d.isSymbolicLink() || d.isFIFO() || d.isSocket() || d.isBlockDevice() || d.isCharacterDevice()) return undefined;
  // DT_UNKNOWN on some filesystems
  const st = await fsp.lstat(path.join(dir, d.name.toString())).catch(() => undefined);
  if (st?.isFile()) return 'file';
  if (st?.isDirectory()) return 'dir';
  return undefined;
}

async function readItems(dir: string, keyPrefix: string, names: NameRegistry): Promise<Item[]> {
  let dirents: Dirent<Buffer>[];
  try {
    dirents = await fsp.readdir(dir, { withFileTypes: true, encoding: 'buffer' });
  } catch (err) {
    if (isErrno(err, 'ENOENT', 'ENOTDIR')) return [];
    throw err;
  }
  const items: Item[] = [];
  for (const d of dirents) {
    const raw = d.name;
    if (!isUtf8(raw)) continue;
    const name = raw.toString('utf8');
    const dec = decodeName(name);
    let segment: string;
    if (dec.kind === 'segment') segment = dec.segment;
    else if (dec.kind === 'hashed') {
      const s = await names.lookup(dec.hash);
      if (s === undefined || encodeSegment(s) !== name) continue;
      segment = s;
    } else continue; // self (handled by the parent), internal or unknown
    const kind = await entryKind(dir, d);
    if (kind === undefined) continue;
    const full = joinInside(dir, [name]);
    const key = keyPrefix + segment;
    if (kind === 'file') items.push({ kind: 'file', key, file: full });
    else {
      items.push({ kind: 'self', key, file: joinInside(full, [SELF_NAME]) });
      items.push({ kind: 'dir', key: key + '/', dir: full });
    }
  }
  return items.sort((a, b) => compareKeys(a.key, b.key));
}

/** True when nothing in the item's range is wanted and the walk goes on after it. */
function entirelyBefore(item: Item, seek: ListSeek): boolean {
  if (item.kind === 'dir') return classifySubtree(item.key, seek) === 'before';
  return !seekWants(item.key, seek) && !seekIsPast(item.key, seek);
}

async function isFile(p: string): Promise<boolean> {
  const st = await fsp.lstat(p).catch(() => undefined);
  return !!st && st.isFile();
}

/**
 * Walks the bucket directory from the seek position: starts at the deepest directory the
 * prefix determines, and ends as soon as keys are past the prefix.
 */
export async function* walkBucket(
  bucketDir: string,
  seek: ListSeek,
  names: NameRegistry,
  cache: DirCache,
): AsyncGenerator<WalkEntry, void, undefined> {
  const segs = keySegments(seek.prefix);
  const full = segs.slice(0, -1);
  const startDir = joinInside(bucketDir, full.map(encodeSegment));
  const startPrefix = full.length > 0 ? full.join('/') + '/' : '';
  yield* walkDir(startDir, startPrefix, seek, names, cache);
}

async function* walkDir(
  dir: string,
  keyPrefix: string,
  seek: ListSeek,
  names: NameRegistry,
  cache: DirCache,
): AsyncGenerator<WalkEntry, 'stop' | undefined, undefined> {
  const items = await cache.items(dir, () => readItems(dir, keyPrefix, names));
  // Binary search: the first range that is not entirely before the seek position.
  let lo = 0;
  let hi = items.length;
  while (lo < hi) {
    const mid = (lo + hi) >>> 1;
    if (entirelyBefore(items[mid], seek)) lo = mid + 1;
    else hi = mid;
  }
  for (let i = lo; i < items.length; i++) {
    const item = items[i];
    // Deep foreign trees can hold paths no S3 key can name: leave them out.
    if (item.key.length > MAX_KEY_BYTES / 3 && Buffer.byteLength(item.key, 'utf8') > MAX_KEY_BYTES) continue;
    if (item.kind === 'dir') {
      const c = classifySubtree(item.key, seek);
      if (c === 'after') return 'stop';
      if (c === 'before') continue;
      const r = yield* walkDir(item.dir, item.key, seek, names, cache);
      if (r === 'stop') return 'stop';
      continue;
    }
    if (seekIsPast(item.key, seek)) return 'stop';
    if (!seekWants(item.key, seek)) continue;
    if (item.kind === 'self' && !(await isFile(item.file))) continue;
    yield { key: item.key, file: item.file };
  }
  return undefined;
}
