/**
 * The bytes of small data files read before, by path and the identity of the file they were
 * read from (inode, size, mtime, ctime). A GET of a small object read before then costs what a
 * HEAD costs, an lstat of the data file and one of its sidecar, instead of open, fstat, read
 * and close: on a VM a file call is a costly round trip (bench --profile). s3mux never changes
 * a data file in place (a write renames a new file over it: a new inode), and a foreign writer
 * that does changes its mtime and ctime, so an unchanged identity is unchanged bytes.
 *
 * Bounded by bytes (SMALL_FILES_MAX_BYTES, entries up to the small-object limit), least
 * recently read first out; an entry whose file changed is dropped when it is next looked up.
 */
import type { Stats } from 'node:fs';
import { LRUCache } from 'lru-cache';

type FileStamp = Pick<Stats, 'ino' | 'size' | 'mtimeMs' | 'ctimeMs'>;

interface Entry {
  stamp: FileStamp;
  data: Buffer;
}

/** What the bytes of all entries may add up to. */
export const SMALL_FILES_MAX_BYTES = 4 * 1024 * 1024;
/** Per entry besides its bytes (the path, the record, the map's node). */
const ENTRY_OVERHEAD = 256;

function sameStamp(a: FileStamp, b: FileStamp): boolean {
  return a.ino === b.ino && a.size === b.size && a.mtimeMs === b.mtimeMs && a.ctimeMs === b.ctimeMs;
}

export class SmallFiles {
  private readonly entries: LRUCache<string, Entry>;

  constructor(maxBytes = SMALL_FILES_MAX_BYTES) {
    this.entries = new LRUCache<string, Entry>({ maxSize: maxBytes, sizeCalculation: (e) => e.data.length + ENTRY_OVERHEAD });
  }

  /** Whether `file` was read before (no file call: a path never read goes the way of a read at once). */
  has(file: string): boolean {
    return this.entries.has(file);
  }

  /** The bytes read from `file` when it still has identity `st` (an lstat of it just now). */
  get(file: string, st: FileStamp): Buffer | undefined {
    const e = this.entries.get(file);
    if (e === undefined) return undefined;
    if (sameStamp(e.stamp, st)) return e.data;
    this.entries.delete(file);
    return undefined;
  }

  /** Remembers the bytes read from `file` through a descriptor whose fstat was `st`. */
  set(file: string, st: FileStamp, data: Buffer): void {
    this.entries.set(file, { stamp: { ino: st.ino, size: st.size, mtimeMs: st.mtimeMs, ctimeMs: st.ctimeMs }, data });
  }
}
