/**
 * One data folder's entries as the listing walker needs them, sorted, kept compactly across
 * listing pages (SortedDirs), with the listing summaries of its objects beside them.
 *
 * Compact because a bucket can hold a million keys in one folder and a page of it must not
 * read and sort them all again: the entries' key ranges (relative to the folder) are one UTF-8
 * buffer with an offset per entry and a kind byte, about 5 bytes per entry besides the name's
 * bytes, so a million short names take about 15 MB. Entry names on disk are kept only where
 * they differ from the key segment (escaped and hashed names). Summaries (41 bytes an entry)
 * are allocated per chunk of entries as pages reach them, in a pool bounded apart from the
 * names (SummaryPool): a summary is only a shortcut past the sidecar, so dropping one costs a
 * sidecar read, never a wrong answer.
 */
import { promises as fsp } from 'node:fs';
import { LRUCache } from 'lru-cache';
import type { FileIdentity } from './sidecar';
import { CHECKSUM_ALGORITHMS, type ListedChecksum } from '../listed-checksum';

export const FILE = 0;
/** The directory-form object of a folder (`<name>/.s3mux-self`). */
export const SELF = 1;
/** The subtree of a folder: its range ends with '/'. */
export const DIR = 2;
export type EntryKind = typeof FILE | typeof SELF | typeof DIR;

/** What a listing summary adds to a data file's identity (size and mtime come from its lstat). */
export interface SummaryFields extends ListedChecksum {
  etag: string;
  storageClass?: string;
}

/**
 * An object's checksum (algorithm and type) in one byte of its slot: 0 none, else 1 + the
 * algorithm's place in CHECKSUM_ALGORITHMS, plus COMPOSITE_BIT. Most objects written by
 * today's SDKs carry a checksum (they send a CRC32 by default), so it has its place beside the
 * MD5 rather than in the folder's map of rare summaries.
 */
const COMPOSITE_BIT = 0x80;

function checksumCode(f: ListedChecksum): number {
  if (f.checksumAlgorithm === undefined) return 0;
  return (1 + CHECKSUM_ALGORITHMS.indexOf(f.checksumAlgorithm)) | (f.checksumType === 'COMPOSITE' ? COMPOSITE_BIT : 0);
}

/** Sets the checksum fields a slot's byte names (none for 0). */
function setChecksumFromCode(f: SummaryFields, code: number): void {
  if (code === 0) return;
  f.checksumAlgorithm = CHECKSUM_ALGORITHMS[(code & ~COMPOSITE_BIT) - 1];
  f.checksumType = code & COMPOSITE_BIT ? 'COMPOSITE' : 'FULL_OBJECT';
}

const MD5_HEX = /^[0-9a-f]{32}$/;
const SLASH = 0x2f;
/** Bytes of one folder besides its entries (object, typed arrays, cache key and node). */
const FOLDER_OVERHEAD = 600;
/** What V8 spends on a short string besides its characters (header, alignment). */
const STRING_OVERHEAD = 24;
const stringBytes = (s: string): number => STRING_OVERHEAD + 2 * s.length;

/** Entries per summary chunk: a 1,000-key page touches one or two. */
export const SUMMARY_CHUNK = 1024;
/** Bytes of a summary slot: ino, size, mtime (float64 each), an MD5 and a checksum's code. */
const SLOT_BYTES = 3 * 8 + 16 + 1;
/** A chunk's bytes besides its slots (object, ArrayBuffer, four views). */
const CHUNK_OVERHEAD = 500;

/** UTF-8 byte order of a[as, ae) and b[bs, be): S3's key order. */
function compareBytes(a: Uint8Array, as: number, ae: number, b: Uint8Array, bs: number, be: number): number {
  const n = Math.min(ae - as, be - bs);
  for (let k = 0; k < n; k++) {
    const d = a[as + k] - b[bs + k];
    if (d !== 0) return d;
  }
  return ae - as - (be - bs);
}

/** Summary slots of up to SUMMARY_CHUNK consecutive entries of one folder. */
class SummaryChunk {
  /** Data-file inode per entry whose summary is known; 0: none. */
  readonly ino: Float64Array;
  readonly size: Float64Array;
  readonly mtimeMs: Float64Array;
  /** The ETag's 16 bytes, for the usual ETag (an MD5); others are in the folder's `odd`. */
  readonly md5: Uint8Array;
  /** The object's checksum (checksumCode). */
  readonly checksum: Uint8Array;
  readonly bytes: number;

  constructor(
    readonly owner: ListedFolder,
    /** Chunk number in the owner: entries from index * SUMMARY_CHUNK. */
    readonly index: number,
    entries: number,
  ) {
    const buf = new ArrayBuffer(entries * SLOT_BYTES);
    this.ino = new Float64Array(buf, 0, entries);
    this.size = new Float64Array(buf, 8 * entries, entries);
    this.mtimeMs = new Float64Array(buf, 16 * entries, entries);
    this.md5 = new Uint8Array(buf, 24 * entries, 16 * entries);
    this.checksum = new Uint8Array(buf, 40 * entries, entries);
    this.bytes = CHUNK_OVERHEAD + entries * SLOT_BYTES;
  }
}

/** Bytes of summary slots kept across listing pages: a million entries' worth, besides the names. */
export const SUMMARY_SLOTS_MAX_BYTES = 48 * 1024 * 1024;

/**
 * The summary chunks of all cached folders, least recently used dropped first: bounds what
 * summaries cost however many folders and entries there are.
 */
export class SummaryPool {
  private readonly lru: LRUCache<SummaryChunk, SummaryChunk>;

  constructor(maxBytes = SUMMARY_SLOTS_MAX_BYTES) {
    this.lru = new LRUCache<SummaryChunk, SummaryChunk>({
      maxSize: maxBytes,
      sizeCalculation: (c) => c.bytes,
      dispose: (c) => c.owner.dropChunk(c),
    });
  }

  /** False when the chunk is not kept (bigger than the whole pool). */
  add(c: SummaryChunk): boolean {
    this.lru.set(c, c);
    return this.lru.has(c);
  }

  touch(c: SummaryChunk): void {
    this.lru.get(c);
  }

  remove(c: SummaryChunk): void {
    this.lru.delete(c);
  }
}

export class ListedFolder {
  private readonly chunks: Array<SummaryChunk | undefined>;
  /** Summaries that do not fit the slots: a multipart ETag, a storage class. Rare; dropped with their chunk. */
  private odd: Map<number, SummaryFields> | undefined;
  private pool: SummaryPool | undefined;
  /** Bytes of the entries (names and kinds); summaries are counted by their pool. */
  readonly bytes: number;

  /**
   * @param text the entries' key ranges relative to the folder, UTF-8, sorted (a segment, or a segment and '/' for DIR)
   * @param offsets entry i's range is text[offsets[i], offsets[i + 1])
   * @param names the entry's name on disk where it is not the segment
   */
  constructor(
    private readonly text: Buffer,
    private readonly offsets: Uint32Array,
    readonly kinds: Uint8Array,
    private readonly names: Map<number, string> | undefined,
  ) {
    this.chunks = new Array<SummaryChunk | undefined>(Math.ceil(kinds.length / SUMMARY_CHUNK));
    let bytes = FOLDER_OVERHEAD + text.length + offsets.byteLength + kinds.byteLength + 8 * this.chunks.length;
    if (names) for (const v of names.values()) bytes += 40 + stringBytes(v);
    this.bytes = bytes;
  }

  get length(): number {
    return this.kinds.length;
  }

  /** Entry i's key range relative to the folder. */
  range(i: number): string {
    return this.text.toString('utf8', this.offsets[i], this.offsets[i + 1]);
  }

  /** The entry's name in the folder (for DIR and SELF: the subfolder's). */
  name(i: number): string {
    const own = this.names?.get(i);
    if (own !== undefined) return own;
    const end = this.offsets[i + 1] - (this.kinds[i] === DIR ? 1 : 0);
    return this.text.toString('utf8', this.offsets[i], end);
  }

  /** Bounds this folder's summaries by the pool's (the folder is kept across pages). */
  attach(pool: SummaryPool): void {
    this.pool = pool;
    this.chunks.forEach((c, ci) => {
      if (c && !pool.add(c)) this.chunks[ci] = undefined;
    });
  }

  /** Gives the folder's summaries back to its pool: the folder is no longer used. */
  release(): void {
    const pool = this.pool;
    this.pool = undefined;
    if (pool) for (const c of this.chunks) if (c) pool.remove(c);
    this.chunks.fill(undefined);
    this.odd = undefined;
  }

  /** Called by the pool when it drops one of this folder's chunks. */
  dropChunk(c: SummaryChunk): void {
    if (this.chunks[c.index] !== c) return;
    this.chunks[c.index] = undefined;
    if (this.odd) {
      const from = c.index * SUMMARY_CHUNK;
      for (const i of this.odd.keys()) if (i >= from && i < from + SUMMARY_CHUNK) this.odd.delete(i);
    }
  }

  private chunk(i: number, create: boolean): SummaryChunk | undefined {
    const ci = Math.floor(i / SUMMARY_CHUNK);
    let c = this.chunks[ci];
    if (c) {
      this.pool?.touch(c);
      return c;
    }
    if (!create) return undefined;
    c = new SummaryChunk(this, ci, Math.min(SUMMARY_CHUNK, this.length - ci * SUMMARY_CHUNK));
    // Adding may drop the least recently used chunk, never this one unless it alone is over the bound.
    if (!this.pool || this.pool.add(c)) this.chunks[ci] = c;
    return c;
  }

  /** The summary remembered for entry i, if its data file is still the one it was read from. */
  summary(i: number, st: FileIdentity): SummaryFields | undefined {
    const c = this.chunk(i, false);
    if (!c) return undefined;
    const j = i % SUMMARY_CHUNK;
    if (c.ino[j] === 0 || c.ino[j] !== st.ino || c.size[j] !== st.size || c.mtimeMs[j] !== st.mtimeMs) return undefined;
    const odd = this.odd?.get(i);
    if (odd) return odd;
    const fields: SummaryFields = { etag: Buffer.from(c.md5.buffer, c.md5.byteOffset + 16 * j, 16).toString('hex') };
    setChecksumFromCode(fields, c.checksum[j]);
    return fields;
  }

  remember(i: number, st: FileIdentity, fields: SummaryFields): void {
    if (st.ino === 0) return; // 0 marks an empty slot
    const c = this.chunk(i, true)!;
    const j = i % SUMMARY_CHUNK;
    if (fields.storageClass === undefined && MD5_HEX.test(fields.etag)) {
      c.md5.set(Buffer.from(fields.etag, 'hex'), 16 * j);
      c.checksum[j] = checksumCode(fields);
      this.odd?.delete(i);
    } else {
      // Rare (multipart uploads, storage classes): not counted in `bytes`, bounded by the entry count.
      (this.odd ??= new Map()).set(i, { ...fields });
    }
    c.ino[j] = st.ino;
    c.size[j] = st.size;
    c.mtimeMs[j] = st.mtimeMs;
  }

  /**
   * Takes over the summaries of an earlier read of the same folder (entries with the same range,
   * kind and name): a folder re-read because one key changed keeps what it knew of the others.
   * Each summary is still checked against its data file's identity when used.
   */
  adopt(old: ListedFolder): void {
    let j = 0;
    for (let i = 0; i < this.length && j < old.length; i++) {
      const s = this.offsets[i];
      const e = this.offsets[i + 1];
      while (j < old.length && compareBytes(old.text, old.offsets[j], old.offsets[j + 1], this.text, s, e) < 0) j++;
      if (j >= old.length) break;
      const from = old.chunks[Math.floor(j / SUMMARY_CHUNK)];
      if (!from) continue;
      const oj = j % SUMMARY_CHUNK;
      if (from.ino[oj] === 0 || old.kinds[j] !== this.kinds[i]) continue;
      if (compareBytes(old.text, old.offsets[j], old.offsets[j + 1], this.text, s, e) !== 0 || old.name(j) !== this.name(i)) continue;
      const to = this.chunk(i, true)!;
      const tj = i % SUMMARY_CHUNK;
      to.ino[tj] = from.ino[oj];
      to.size[tj] = from.size[oj];
      to.mtimeMs[tj] = from.mtimeMs[oj];
      to.md5.set(from.md5.subarray(16 * oj, 16 * oj + 16), 16 * tj);
      to.checksum[tj] = from.checksum[oj];
      const odd = old.odd?.get(j);
      if (odd) (this.odd ??= new Map()).set(i, odd);
    }
  }
}

/**
 * Collects a folder's entries as they are read (bytes appended to one growing buffer, not a
 * string and an object per entry) and sorts them into a ListedFolder.
 */
export class FolderBuilder {
  private text = Buffer.allocUnsafeSlow(4096);
  private used = 0;
  private offsets = new Uint32Array(65);
  private kinds = new Uint8Array(64);
  private count = 0;
  private readonly names = new Map<number, string>();

  /**
   * Adds an entry: its segment's UTF-8 bytes (for DIR, '/' is appended here), and its name on
   * disk where that is not the segment.
   */
  add(segment: Uint8Array, kind: EntryKind, name?: string): void {
    const need = this.used + segment.length + 1;
    if (need > this.text.length) {
      const grown = Buffer.allocUnsafeSlow(Math.max(need, 2 * this.text.length));
      this.text.copy(grown, 0, 0, this.used);
      this.text = grown;
    }
    if (this.count === this.kinds.length) {
      const kinds = new Uint8Array(2 * this.kinds.length);
      kinds.set(this.kinds);
      this.kinds = kinds;
      const offsets = new Uint32Array(kinds.length + 1);
      offsets.set(this.offsets);
      this.offsets = offsets;
    }
    this.text.set(segment, this.used);
    this.used += segment.length;
    if (kind === DIR) this.text[this.used++] = SLASH;
    if (name !== undefined) this.names.set(this.count, name);
    this.kinds[this.count++] = kind;
    this.offsets[this.count] = this.used;
  }

  build(): ListedFolder {
    const n = this.count;
    const { text, offsets, kinds } = this;
    const order = new Uint32Array(n);
    for (let i = 0; i < n; i++) order[i] = i;
    order.sort((a, b) => compareBytes(text, offsets[a], offsets[a + 1], text, offsets[b], offsets[b + 1]));
    const sortedText = Buffer.allocUnsafeSlow(this.used);
    const sortedOffsets = new Uint32Array(n + 1);
    const sortedKinds = new Uint8Array(n);
    let sortedNames: Map<number, string> | undefined;
    let at = 0;
    for (let i = 0; i < n; i++) {
      const from = order[i];
      at += text.copy(sortedText, at, offsets[from], offsets[from + 1]);
      sortedOffsets[i + 1] = at;
      sortedKinds[i] = kinds[from];
      const name = this.names.get(from);
      if (name !== undefined) (sortedNames ??= new Map()).set(i, name);
    }
    return new ListedFolder(sortedText, sortedOffsets, sortedKinds, sortedNames);
  }
}

/**
 * A folder modified less than this long before it was read is not trusted across pages: a
 * change within the same timestamp tick would leave its mtime as it was ("racy" entries, as
 * git calls them). Past it, any later change moves the mtime.
 */
export const RACY_MS = 2000;

/** Bytes of sorted folders' entries kept across listing pages: about 2,000,000 short names. */
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
 * and mtime are unchanged (see RACY_MS); any write into it (by this process or another one on
 * the same root) renames or unlinks a name there, which moves the mtime. Bounded by bytes, so
 * the bound holds whatever the folders' sizes; a folder bigger than the whole bound is read for
 * every page.
 */
export class SortedDirs {
  private readonly lru: LRUCache<string, Listed>;
  private readonly pool: SummaryPool;
  /** Folders read from disk (for tests and diagnostics). */
  reads = 0;

  constructor(maxBytes = SORTED_FOLDERS_MAX_BYTES, summaryBytes = SUMMARY_SLOTS_MAX_BYTES) {
    this.pool = new SummaryPool(summaryBytes);
    this.lru = new LRUCache<string, Listed>({
      maxSize: maxBytes,
      sizeCalculation: (v, dir) => v.folder.bytes + stringBytes(dir) + 100,
      dispose: (v) => v.folder.release(),
    });
  }

  async folder(dir: string, read: () => Promise<ListedFolder>): Promise<ListedFolder> {
    const st = await fsp.stat(dir).catch(() => undefined);
    const hit = st && this.lru.get(dir);
    if (st && hit && hit.trusted && hit.ino === st.ino && hit.mtimeMs === st.mtimeMs) return hit.folder;
    this.reads++;
    const folder = await read();
    if (!st) return folder;
    folder.attach(this.pool);
    if (hit && hit.ino === st.ino) folder.adopt(hit.folder);
    this.lru.set(dir, { ino: st.ino, mtimeMs: st.mtimeMs, trusted: Date.now() - st.mtimeMs > RACY_MS, folder });
    // Not kept (bigger than the bound): its summaries go with this page.
    if (this.lru.peek(dir)?.folder !== folder) folder.release();
    return folder;
  }
}
