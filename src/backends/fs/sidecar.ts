/**
 * The metadata store: one JSON sidecar per object in the metadata tree (none for a bare
 * object: bare-objects.ts). A sidecar records the identity (inode, size, mtime) of the data
 * file it describes, so a reader can tell when it is stale or missing (a file placed by hand,
 * edited in place, or a crash between the two renames of a write) and synthesize metadata instead.
 */
import { closeSync, constants, fstatSync, lstatSync, openSync, promises as fsp, readFileSync, readSync, type Stats } from 'node:fs';
import { LRUCache } from 'lru-cache';
import * as path from 'node:path';
import type { ObjectAttributes, ObjectMeta, ObjectSummary } from '../types';
import { copyAttributes } from '../attributes';
import type { ListedChecksum } from '../listed-checksum';
import { isErrno, type Layout } from './layout';

export interface FileIdentity {
  ino: number;
  size: number;
  mtimeMs: number;
}

export interface Sidecar extends FileIdentity {
  v: 1;
  /** The full key (also what lets a hashed path be named). */
  key: string;
  /** Unquoted. */
  etag: string;
  attrs: ObjectAttributes;
}

export function identityOf(st: Pick<Stats, 'ino' | 'size' | 'mtimeMs'>): FileIdentity {
  return { ino: st.ino, size: st.size, mtimeMs: st.mtimeMs };
}

export function sameIdentity(a: FileIdentity, b: FileIdentity): boolean {
  return a.ino === b.ino && a.size === b.size && a.mtimeMs === b.mtimeMs;
}

/** True when the sidecar describes exactly this key and this data file. */
export function sidecarMatches(sc: Sidecar | undefined, key: string, st: FileIdentity): sc is Sidecar {
  return sc !== undefined && sc.key === key && sameIdentity(sc, st);
}

function isRecord(v: unknown): v is Record<string, unknown> {
  return typeof v === 'object' && v !== null && !Array.isArray(v);
}

/** The sidecar text as stored, checked field by field (undefined: not a sidecar). */
function parseSidecar(text: string): Sidecar | undefined {
  try {
    const v = JSON.parse(text) as unknown;
    if (!isRecord(v) || v.v !== 1) return undefined;
    if (typeof v.key !== 'string' || typeof v.etag !== 'string') return undefined;
    if (typeof v.ino !== 'number' || typeof v.size !== 'number' || typeof v.mtimeMs !== 'number') return undefined;
    if (!isRecord(v.attrs) || !isRecord(v.attrs.userMetadata)) return undefined;
    return {
      v: 1,
      key: v.key,
      etag: v.etag,
      ino: v.ino,
      size: v.size,
      mtimeMs: v.mtimeMs,
      attrs: copyAttributes(v.attrs as unknown as ObjectAttributes),
    };
  } catch {
    return undefined;
  }
}

/** The identity of a sidecar file itself; ctime too, so a sidecar edited in place reads as changed. */
interface SidecarFileIdentity extends FileIdentity {
  ctimeMs: number;
}

function sameSidecarFile(a: SidecarFileIdentity, b: Pick<Stats, 'ino' | 'size' | 'mtimeMs' | 'ctimeMs'>): boolean {
  return a.ino === b.ino && a.size === b.size && a.mtimeMs === b.mtimeMs && a.ctimeMs === b.ctimeMs;
}

/**
 * Sidecars parsed, by path and the identity of the file they were read from. s3mux replaces a
 * sidecar only by renaming a new file over it (a new inode), so an unchanged identity is an
 * unchanged sidecar: a HEAD or GET of an object read before costs one lstat instead of open,
 * fstat, read, close and a JSON parse (bench --profile). Bounded: entries are small.
 */
const parsed = new LRUCache<string, { id: SidecarFileIdentity; sc: Sidecar | undefined }>({ max: 4096 });

const OPEN_READ = constants.O_RDONLY | constants.O_NOFOLLOW;
/** Far above any sidecar s3mux writes (2 KiB of metadata, tags, checksums): a bigger file is read the plain way. */
const SIDECAR_READ_MAX = 64 * 1024;

/** Reads a regular file by descriptor: its text and the identity of exactly that file. Undefined: not one to cache. */
function readIdentified(file: string): { text: string; id: SidecarFileIdentity } | undefined {
  let fd: number;
  try {
    fd = openSync(file, OPEN_READ);
  } catch {
    return undefined; // a link, or gone meanwhile: the plain read decides
  }
  try {
    const st = fstatSync(fd);
    if (!st.isFile() || st.size > SIDECAR_READ_MAX) return undefined;
    const buf = Buffer.allocUnsafe(st.size);
    let n = 0;
    while (n < st.size) {
      const got = readSync(fd, buf, n, st.size - n, n);
      if (got === 0) return undefined; // shrinking while read: not a sidecar s3mux wrote
      n += got;
    }
    return { text: buf.toString('utf8'), id: { ino: st.ino, size: st.size, mtimeMs: st.mtimeMs, ctimeMs: st.ctimeMs } };
  } finally {
    closeSync(fd);
  }
}

/**
 * The sidecar at `file`, or undefined when it is absent or unreadable.
 *
 * Read synchronously: a sidecar is a few hundred bytes in the page cache, and every HEAD, GET
 * and listed key reads one. fs.promises.readFile takes four thread-pool round trips (open,
 * fstat, read, close) and about four times the main thread's CPU of one readFileSync (bench
 * --profile, bench/RESULTS.md); the microseconds the loop waits for the syscalls are less.
 * A sidecar read before is taken from `parsed` while its file is unchanged (one lstat).
 */
export async function readSidecar(file: string, opts: { cached?: boolean } = {}): Promise<Sidecar | undefined> {
  return readSidecarSync(file, opts);
}

/** readSidecar without the promise, for the reads that are synchronous from end to end (a small GET, a HEAD). */
export function readSidecarSync(file: string, opts: { cached?: boolean } = {}): Sidecar | undefined {
  // A listing keeps its own summaries by data file: its sidecar reads are one-offs, not worth an lstat more.
  if (opts.cached === false) return readPlain(file);
  let st: Stats | undefined;
  try {
    st = lstatSync(file, { throwIfNoEntry: false });
  } catch (err) {
    if (isErrno(err, 'ENOENT', 'ENOTDIR', 'ENAMETOOLONG')) return undefined;
    throw err;
  }
  if (st === undefined) return undefined;
  if (st.isFile()) {
    const hit = parsed.get(file);
    if (hit && sameSidecarFile(hit.id, st)) return hit.sc;
    const read = readIdentified(file);
    if (read) {
      const sc = parseSidecar(read.text);
      parsed.set(file, { id: read.id, sc });
      return sc;
    }
  }
  // Not a regular file (a link, a folder): as it was always read.
  return readPlain(file);
}

function readPlain(file: string): Sidecar | undefined {
  let text: string;
  try {
    text = readFileSync(file, 'utf8');
  } catch (err) {
    if (isErrno(err, 'ENOENT', 'ENOTDIR', 'EISDIR', 'ENAMETOOLONG')) return undefined;
    throw err;
  }
  return parseSidecar(text);
}

export function makeSidecar(key: string, etag: string, id: FileIdentity, attrs: ObjectAttributes): Sidecar {
  return { v: 1, key, etag, ino: id.ino, size: id.size, mtimeMs: id.mtimeMs, attrs: copyAttributes(attrs) };
}

/** Writes the sidecar to a temp file (to be installed with installSidecar). */
export async function writeSidecarTemp(layout: Layout, sc: Sidecar): Promise<string> {
  return layout.writeTempFile('meta', JSON.stringify(sc));
}

/** Renames a temp sidecar into place, creating the metadata directories it needs. */
export async function installSidecar(tmp: string, file: string): Promise<void> {
  for (let attempt = 0; ; attempt++) {
    try {
      await fsp.rename(tmp, file);
      return;
    } catch (err) {
      // ENOENT: a parent is missing (never made, or removed by a concurrent delete).
      if (!isErrno(err, 'ENOENT') || attempt >= 10) {
        await fsp.rm(tmp, { force: true }).catch(() => {});
        throw err;
      }
      await fsp.mkdir(path.dirname(file), { recursive: true });
    }
  }
}

export async function writeSidecar(layout: Layout, file: string, sc: Sidecar): Promise<void> {
  await installSidecar(await writeSidecarTemp(layout, sc), file);
}

export function metaFrom(sc: Sidecar, st: Pick<Stats, 'size' | 'mtimeMs'>): ObjectMeta {
  // The copy is the answer's own (a sidecar may be cached): filled in, not spread into another object.
  const meta = copyAttributes(sc.attrs) as ObjectMeta;
  meta.key = sc.key;
  meta.size = st.size;
  meta.etag = sc.etag;
  meta.lastModified = new Date(Math.floor(st.mtimeMs));
  return meta;
}

/** A listing summary kept for a data file (see ListedFolder), as summaryOf(metaFrom(sidecar, st)) made it. */
export function listedSummary(
  key: string,
  st: Pick<Stats, 'size' | 'mtimeMs'>,
  kept: { etag: string; storageClass?: string } & ListedChecksum,
): ObjectSummary {
  const s: ObjectSummary = { key, size: st.size, etag: kept.etag, lastModified: new Date(Math.floor(st.mtimeMs)) };
  if (kept.storageClass !== undefined) s.storageClass = kept.storageClass;
  if (kept.checksumAlgorithm !== undefined) {
    s.checksumAlgorithm = kept.checksumAlgorithm;
    s.checksumType = kept.checksumType;
  }
  return s;
}
