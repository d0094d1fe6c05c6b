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
import { MAX_KEY_BYTES } from '../keys';
import { classifySubtree, seekIsPast, seekWants, type ListSeek } from '../listing';
import { isErrno } from './layout';
import { DIR, FILE, FolderBuilder, SELF, type ListedFolder, type SortedDirs } from './listed-folder';
import type { NameRegistry } from './names';
import { decodeName, encodeSegment, joinInside, keySegments, SELF_NAME } from './paths';

export interface WalkEntry {
  key: string;
  /** The data file (natural file or `.s3mux-self`). */
  file: string;
  /** The folder listing the key, and the key's entry in it (where its listing summary is kept). */
  folder: ListedFolder;
  index: number;
}

/** Sorted folders for one listing page (each folder checked once per page). */
export class DirCache {
  private readonly map = new Map<string, Promise<ListedFolder>>();
  constructor(
    private readonly sorted?: SortedDirs,
    private readonly max = 4096,
  ) {}
  folder(dir: string, read: () => Promise<ListedFolder>): Promise<ListedFolder> {
    let p = this.map.get(dir);
    if (!p) {
      if (this.map.size >= this.max) this.map.clear();
      p = this.sorted ? this.sorted.folder(dir, read) : read();
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

/** Entries read from the folder per thread-pool round trip: a big folder is streamed, not held whole as Dirents. */
const READDIR_BATCH = 256;

async function readFolder(dir: string, names: NameRegistry): Promise<ListedFolder> {
  const entries = new FolderBuilder();
  let handle;
  try {
    // Names as bytes, so names that are not UTF-8 are recognised and skipped. Node's Dir passes the
    // encoding to the binding as readdir does; @types/node lists only string encodings for it.
    handle = await fsp.opendir(dir, { encoding: 'buffer' as BufferEncoding, bufferSize: READDIR_BATCH });
  } catch (err) {
    if (isErrno(err, 'ENOENT', 'ENOTDIR')) return entries.build();
    throw err;
  }
  for await (const d of handle as AsyncIterable<Dirent<Buffer>>) {
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
    // Most names are their segment: their bytes as read are the range.
    const plain = name === segment;
    const bytes = plain ? raw : Buffer.from(segment, 'utf8');
    const own = plain ? undefined : name;
    if (kind === 'file') entries.add(bytes, FILE, own);
    else {
      entries.add(bytes, SELF, own);
      entries.add(bytes, DIR, own);
    }
  }
  return entries.build();
}

/** True when nothing in entry i's range is wanted and the walk goes on after it. */
function entirelyBefore(folder: ListedFolder, i: number, keyPrefix: string, seek: ListSeek): boolean {
  const key = keyPrefix + folder.range(i);
  if (folder.kinds[i] === DIR) return classifySubtree(key, seek) === 'before';
  return !seekWants(key, seek) && !seekIsPast(key, seek);
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
  const folder = await cache.folder(dir, () => readFolder(dir, names));
  // Binary search: the first range that is not entirely before the seek position.
  let lo = 0;
  let hi = folder.length;
  while (lo < hi) {
    const mid = (lo + hi) >>> 1;
    if (entirelyBefore(folder, mid, keyPrefix, seek)) lo = mid + 1;
    else hi = mid;
  }
  for (let i = lo; i < folder.length; i++) {
    const key = keyPrefix + folder.range(i);
    // Deep foreign trees can hold paths no S3 key can name: leave them out.
    if (key.length > MAX_KEY_BYTES / 3 && Buffer.byteLength(key, 'utf8') > MAX_KEY_BYTES) continue;
    const kind = folder.kinds[i];
    // The name came from readdir and passed decodeName (no separator, not '.' or '..'): it is one entry inside dir.
    const entry = dir + path.sep + folder.name(i);
    if (kind === DIR) {
      const c = classifySubtree(key, seek);
      if (c === 'after') return 'stop';
      if (c === 'before') continue;
      const r = yield* walkDir(entry, key, seek, names, cache);
      if (r === 'stop') return 'stop';
      continue;
    }
    if (seekIsPast(key, seek)) return 'stop';
    if (!seekWants(key, seek)) continue;
    if (kind === SELF) {
      const file = entry + path.sep + SELF_NAME;
      if (await isFile(file)) yield { key, file, folder, index: i };
      continue;
    }
    yield { key, file: entry, folder, index: i };
  }
  return undefined;
}
