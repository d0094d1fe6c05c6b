/**
 * One data folder's entries as the listing walker needs them, sorted, kept compactly across
 * listing pages (SortedDirs), with the listing summaries of its objects beside them.
 *
 * Compact because a bucket can hold 100,000s of keys in one folder: an entry is its key range
 * relative to the folder (a string), a kind byte, and fixed-size summary slots in typed arrays
 * (about 80 bytes for a 10-character name), not an object holding absolute paths. Entry names
 * on disk are kept only where they differ from the key segment (escaped and hashed names).
 */
import { promises as fsp } from 'node:fs';
import { LRUCache } from 'lru-cache';
import { compareKeys } from '../listing';
import type { FileIdentity } from './sidecar';

export const FILE = 0;
/** The directory-form object of a folder (`<name>/.s3mux-self`). */
export const SELF = 1;
/** The subtree of a folder: its range ends with '/'. */
export const DIR = 2;
export type EntryKind = typeof FILE | typeof SELF | typeof DIR;

/** What a listing summary adds to a data file's identity (size and mtime come from its lstat). */
export interface SummaryFields {
  etag: string;
  storageClass?: string;
}

const MD5_HEX = /^[0-9a-f]{32}$/;
/** Bytes an entry costs besides its strings: array slot, kind, ino/size/mtime, MD5, and allocation slack (measured: about 97 bytes for a 9-character name). */
const FIXED_ENTRY_BYTES = 8 + 1 + 3 * 8 + 16 + 8;
/** What V8 spends on a short string besides its characters (header, alignment). */
const STRING_OVERHEAD = 24;

const stringBytes = (s: string): number => STRING_OVERHEAD + 2 * s.length;

export class ListedFolder {
  /** Data-file inode per entry whose summary is known; 0: none. */
  private readonly ino: Float64Array;
  private readonly size: Float64Array;
  private readonly mtimeMs: Float64Array;
  /** The ETag's 16 bytes, for the usual ETag (an MD5); others are in `odd`. */
  private readonly md5: Uint8Array;
  /** Summaries that do not fit the slots: a multipart ETag, a storage class. */
  private odd: Map<number, SummaryFields> | undefined;
  readonly bytes: number;

  /**
   * @param ranges sorted (UTF-8 order) key ranges relative to the folder: a segment, or a segment and '/' for DIR
   * @param names the entry's name on disk where it is not the segment
   */
  constructor(
    readonly ranges: string[],
    readonly kinds: Uint8Array,
    private readonly names: Map<number, string> | undefined,
  ) {
    const n = ranges.length;
    this.ino = new Float64Array(n);
    this.size = new Float64Array(n);
    this.mtimeMs = new Float64Array(n);
    this.md5 = new Uint8Array(16 * n);
    let bytes = 200 + n * FIXED_ENTRY_BYTES;
    for (const r of ranges) bytes += stringBytes(r);
    if (names) for (const v of names.values()) bytes += 40 + stringBytes(v);
    this.bytes = bytes;
  }

  get length(): number {
    return this.ranges.length;
  }

  /** The entry's name in the folder (for DIR and SELF: the subfolder's). */
  name(i: number): string {
    const own = this.names?.get(i);
    if (own !== undefined) return own;
    const r = this.ranges[i];
    return this.kinds[i] === DIR ? r.slice(0, -1) : r;
  }

  /** The summary remembered for entry i, if its data file is still the one it was read from. */
  summary(i: number, st: FileIdentity): SummaryFields | undefined {
    if (this.ino[i] === 0 || this.ino[i] !== st.ino || this.size[i] !== st.size || this.mtimeMs[i] !== st.mtimeMs) return undefined;
    const odd = this.odd?.get(i);
    if (odd) return odd;
    return { etag: Buffer.from(this.md5.buffer, this.md5.byteOffset + 16 * i, 16).toString('hex') };
  }

  remember(i: number, st: FileIdentity, fields: SummaryFields): void {
    if (st.ino === 0) return; // 0 marks an empty slot
    if (fields.storageClass === undefined && MD5_HEX.test(fields.etag)) {
      this.md5.set(Buffer.from(fields.etag, 'hex'), 16 * i);
      this.odd?.delete(i);
    } else {
      // Rare (multipart uploads, storage classes): not counted in `bytes`, bounded by the entry count.
      (this.odd ??= new Map()).set(i, { ...fields });
    }
    this.ino[i] = st.ino;
    this.size[i] = st.size;
    this.mtimeMs[i] = st.mtimeMs;
  }

  /**
   * Takes over the summaries of an earlier read of the same folder (entries with the same range,
   * kind and name): a folder re-read because one key changed keeps what it knew of the others.
   * Each summary is still checked against its data file's identity when used.
   */
  adopt(old: ListedFolder): void {
    let j = 0;
    for (let i = 0; i < this.length && j < old.length; i++) {
      const r = this.ranges[i];
      while (j < old.length && compareKeys(old.ranges[j], r) < 0) j++;
      if (j >= old.length) break;
      if (old.ranges[j] !== r || old.kinds[j] !== this.kinds[i] || old.name(j) !== this.name(i) || old.ino[j] === 0) continue;
      this.ino[i] = old.ino[j];
      this.size[i] = old.size[j];
      this.mtimeMs[i] = old.mtimeMs[j];
      this.md5.set(old.md5.subarray(16 * j, 16 * j + 16), 16 * i);
      const odd = old.odd?.get(j);
      if (odd) (this.odd ??= new Map()).set(i, odd);
    }
  }
}

/** Sorts a folder's entries (parallel arrays; `names` by index where the name on disk is not the segment) into a ListedFolder. */
export function sortedFolder(ranges: string[], kinds: EntryKind[], names: Map<number, string>): ListedFolder {
  const order = new Uint32Array(ranges.length);
  for (let i = 0; i < order.length; i++) order[i] = i;
  order.sort((a, b) => compareKeys(ranges[a], ranges[b]));
  const sortedRanges = new Array<string>(order.length);
  const sortedKinds = new Uint8Array(order.length);
  let sortedNames: Map<number, string> | undefined;
  for (let i = 0; i < order.length; i++) {
    const from = order[i];
    sortedRanges[i] = ranges[from];
    sortedKinds[i] = kinds[from];
    const name = names.get(from);
    if (name !== undefined) (sortedNames ??= new Map()).set(i, name);
  }
  return new ListedFolder(sortedRanges, sortedKinds, sortedNames);
}

/**
 * A folder modified less than this long before it was read is not trusted across pages: a
 * change within the same timestamp tick would leave its mtime as it was ("racy" entries, as
 * git calls them). Past it, any later change moves the mtime.
 */
export const RACY_MS = 2000;

/** Bytes of sorted folders (and their summaries) kept across listing pages: a folder of about 400,000 short names. */
export const SORTED_FOLDERS_MAX_BYTES = 32 * 1024 * 1024;

interface Listed {
  ino: number;
  mtimeMs: number;
  /** False for a folder read while it was racy: only its summaries are reused (adopted by the next read). */
  trusted: boolean;
  folder: ListedFolder;
}

/**
 * Sorted folders across listing pages and requests, so a page of a large flat bucket costs a
 * stat of its folder, not a read and sort of every name in it. A folder is used while its inode
 * and mtime are unchanged (see RACY_MS); bounded by bytes, so the bound holds whatever the
 * folders' sizes. A folder bigger than the whole bound is read for every page.
 */
export class SortedDirs {
  private readonly lru: LRUCache<string, Listed>;

  constructor(maxBytes = SORTED_FOLDERS_MAX_BYTES) {
    this.lru = new LRUCache<string, Listed>({ maxSize: maxBytes, sizeCalculation: (v, dir) => v.folder.bytes + stringBytes(dir) + 100 });
  }

  async folder(dir: string, read: () => Promise<ListedFolder>): Promise<ListedFolder> {
    const st = await fsp.stat(dir).catch(() => undefined);
    if (!st) return read();
    const hit = this.lru.get(dir);
    if (hit && hit.trusted && hit.ino === st.ino && hit.mtimeMs === st.mtimeMs) return hit.folder;
    const folder = await read();
    if (hit && hit.ino === st.ino) folder.adopt(hit.folder);
    this.lru.set(dir, { ino: st.ino, mtimeMs: st.mtimeMs, trusted: Date.now() - st.mtimeMs > RACY_MS, folder });
    return folder;
  }
}
