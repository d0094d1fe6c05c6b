/**
 * The fs backend's reserved area (ReservedStore):
 *
 *   <root>/.s3mux/reserved/<bucket>/<seg>/.../<seg>@    one document per file
 *   <root>/.s3mux/reserved-locks/<sha256>               a document's cross-process lock, while held
 *
 * A document's folders are its name's segments as they are (checkReservedName allows only
 * plain ones); its file adds '@', which no segment holds, so 'a' and 'a/b' can both exist.
 * Each file starts with a 64-byte header holding the etag: the content's MD5 and a nonce, so
 * every write gets a new one. A write streams into a temp file of the process's temp folder,
 * fsyncs it once, and renames it into place holding the document's lock (file-lock.ts) for
 * the check and the rename only; readers never lock (a rename is atomic and an open file keeps
 * its version).
 */
import { createHash } from 'node:crypto';
import { constants as fsc, promises as fsp } from 'node:fs';
import type { FileHandle } from 'node:fs/promises';
import * as path from 'node:path';
import type { Readable } from 'node:stream';
import { S3Error, toS3Error } from '../../errors';
import {
  checkReservedConditions,
  checkReservedName,
  inReservedPage,
  newReservedEtag,
  reservedListMax,
  type ReservedConditions,
  type ReservedDocument,
  type ReservedEntry,
  type ReservedListOptions,
  type ReservedStore,
} from '../reserved-store';
import { withFileLock } from './file-lock';
import { isErrno, type Layout } from './layout';
import type { RootState } from './locks';
import { joinInside } from './paths';
import { sha256Hex } from '../../auth/digests';
import { removeEmptyParents } from './writer';

const DOC_SUFFIX = '@';
const MAGIC = 'S3MUXR1 ';
const HEADER_BYTES = 64;
const OPEN_FLAGS = fsc.O_RDONLY | (fsc.O_NOFOLLOW ?? 0);
const PLACE_ATTEMPTS = 10;

/** What the reserved store needs from its FsBackend. */
export interface FsReservedContext {
  layout: Layout;
  state: RootState;
  /** Runs an operation once the root is ready, with errors as S3Error. */
  op<T>(fn: () => Promise<T>): Promise<T>;
  /** The bucket's data folder, or NoSuchBucket. */
  requireBucket(bucket: string): Promise<string>;
  /** Throws when the root cannot be written. */
  checkWritable(): void;
}

function header(etag: string): Buffer {
  const h = Buffer.alloc(HEADER_BYTES, ' ');
  h.write(MAGIC + etag, 'latin1');
  h[HEADER_BYTES - 1] = 0x0a;
  return h;
}

function parseHeader(h: Buffer, file: string): string {
  const text = h.toString('latin1');
  const etag = text.slice(MAGIC.length).trim();
  if (!text.startsWith(MAGIC) || etag === '') throw new S3Error('InternalError', `${file} is not a reserved document`);
  return etag;
}

function toBuffer(chunk: unknown): Buffer {
  if (Buffer.isBuffer(chunk)) return chunk;
  if (typeof chunk === 'string') return Buffer.from(chunk, 'utf8');
  return Buffer.from(chunk as Uint8Array);
}

interface Opened {
  fh: FileHandle;
  entry: ReservedEntry;
}

export class FsReservedStore implements ReservedStore {
  constructor(private readonly ctx: FsReservedContext) {}

  private get layout(): Layout {
    return this.ctx.layout;
  }

  /** `<root>/.s3mux/reserved/<bucket>`: removed with the bucket. */
  bucketDir(bucket: string): string {
    this.layout.bucketDir(bucket); // NoSuchBucket for a name that cannot be a bucket
    return joinInside(this.layout.reserved, [bucket]);
  }

  private docPath(bucket: string, name: string): string {
    const segs = name.split('/');
    segs[segs.length - 1] += DOC_SUFFIX;
    return joinInside(this.bucketDir(bucket), segs);
  }

  private lockPath(bucket: string, name: string): string {
    return path.join(this.layout.reservedLocks, sha256Hex(`${bucket}\0${name}`));
  }

  /** The document at `file` opened with its entry, or undefined when there is none. */
  private async open(file: string, name: string): Promise<Opened | undefined> {
    let fh: FileHandle;
    try {
      fh = await fsp.open(file, OPEN_FLAGS);
    } catch (err) {
      if (isErrno(err, 'ENOENT', 'ENOTDIR')) return undefined;
      throw err;
    }
    try {
      const st = await fh.stat();
      const h = Buffer.alloc(HEADER_BYTES);
      const { bytesRead } = await fh.read(h, 0, HEADER_BYTES, 0);
      if (!st.isFile() || bytesRead < HEADER_BYTES) throw new S3Error('InternalError', `${file} is not a reserved document`);
      const entry = { name, size: st.size - HEADER_BYTES, etag: parseHeader(h, file), lastModified: new Date(Math.floor(st.mtimeMs)) };
      return { fh, entry };
    } catch (err) {
      await fh.close().catch(() => {});
      throw err;
    }
  }

  private async currentEtag(file: string, name: string): Promise<string | undefined> {
    const o = await this.open(file, name);
    await o?.fh.close();
    return o?.entry.etag;
  }

  get(bucket: string, name: string): Promise<ReservedDocument | undefined> {
    return this.ctx.op(async () => {
      checkReservedName(name);
      await this.ctx.requireBucket(bucket);
      const o = await this.open(this.docPath(bucket, name), name);
      return o && { entry: o.entry, body: o.fh.createReadStream({ start: HEADER_BYTES }) };
    });
  }

  /** Streams the body into a temp file behind a header; returns its path and entry. */
  private async stage(name: string, body: Buffer | Readable): Promise<{ tmp: string; entry: ReservedEntry }> {
    const tmp = this.layout.tempPath('reserved');
    const fh = await fsp.open(tmp, 'wx');
    try {
      const hash = createHash('md5');
      let pos = HEADER_BYTES;
      const write = async (buf: Buffer): Promise<void> => {
        hash.update(buf);
        for (let off = 0; off < buf.length;) {
          const { bytesWritten } = await fh.write(buf, off, buf.length - off, pos);
          off += bytesWritten;
          pos += bytesWritten;
        }
      };
      if (Buffer.isBuffer(body)) await write(body);
      else {
        try {
          for await (const chunk of body) await write(toBuffer(chunk));
        } catch (err) {
          throw toS3Error(err);
        }
      }
      const etag = newReservedEtag(hash.digest('hex'));
      await fh.write(header(etag), 0, HEADER_BYTES, 0);
      await fh.sync();
      const st = await fh.stat();
      await fh.close();
      return { tmp, entry: { name, size: pos - HEADER_BYTES, etag, lastModified: new Date(Math.floor(st.mtimeMs)) } };
    } catch (err) {
      await fh.close().catch(() => {});
      await fsp.rm(tmp, { force: true }).catch(() => {});
      throw err;
    }
  }

  /** Runs `fn` holding the document's lock, in this process and across processes. */
  private locked<T>(bucket: string, name: string, fn: () => Promise<T>): Promise<T> {
    return this.ctx.state.locks.run(`reserved\0${bucket}\0${name}`, () => withFileLock(this.lockPath(bucket, name), fn));
  }

  put(bucket: string, name: string, body: Buffer | Readable, conditions?: ReservedConditions): Promise<ReservedEntry> {
    return this.ctx.op(async () => {
      checkReservedName(name);
      await this.ctx.requireBucket(bucket);
      this.ctx.checkWritable();
      const file = this.docPath(bucket, name);
      const { tmp, entry } = await this.stage(name, body);
      try {
        await this.locked(bucket, name, async () => {
          await this.ctx.requireBucket(bucket);
          if (conditions) checkReservedConditions(await this.currentEtag(file, name), conditions);
          await this.place(tmp, file);
        });
        return entry;
      } finally {
        await fsp.rm(tmp, { force: true }).catch(() => {});
      }
    });
  }

  /** Renames the temp file into place, making the folders (a concurrent delete may remove them). */
  private async place(tmp: string, file: string): Promise<void> {
    for (let attempt = 0; ; attempt++) {
      try {
        await fsp.rename(tmp, file);
        return;
      } catch (err) {
        if (!isErrno(err, 'ENOENT') || attempt >= PLACE_ATTEMPTS) throw err;
      }
      await fsp.mkdir(path.dirname(file), { recursive: true });
    }
  }

  delete(bucket: string, name: string, conditions?: Pick<ReservedConditions, 'ifMatch'>): Promise<void> {
    return this.ctx.op(async () => {
      checkReservedName(name);
      await this.ctx.requireBucket(bucket);
      this.ctx.checkWritable();
      const file = this.docPath(bucket, name);
      await this.locked(bucket, name, async () => {
        if (conditions?.ifMatch !== undefined) checkReservedConditions(await this.currentEtag(file, name), conditions);
        try {
          await fsp.unlink(file);
        } catch (err) {
          if (!isErrno(err, 'ENOENT', 'ENOTDIR')) throw err;
        }
      });
      await removeEmptyParents(path.dirname(file), this.bucketDir(bucket));
    });
  }

  list(bucket: string, prefix: string, opts?: ReservedListOptions): Promise<ReservedEntry[]> {
    return this.ctx.op(async () => {
      checkReservedName(prefix, true);
      const max = reservedListMax(opts);
      await this.ctx.requireBucket(bucket);
      // Start in the deepest folder the prefix names.
      const cut = prefix.lastIndexOf('/') + 1;
      const base = prefix.slice(0, cut);
      const dir = base === '' ? this.bucketDir(bucket) : joinInside(this.bucketDir(bucket), base.slice(0, -1).split('/'));
      const out: ReservedEntry[] = [];
      for await (const name of this.walk(dir, base, prefix, opts?.startAfter)) {
        const o = await this.open(this.docPath(bucket, name), name);
        if (!o) continue; // deleted meanwhile
        await o.fh.close();
        out.push(o.entry);
        if (out.length >= max) break;
      }
      return out;
    });
  }

  /** Document names under `dir` (whose names start with `base`) in binary order, within the page. */
  private async *walk(dir: string, base: string, prefix: string, startAfter: string | undefined): AsyncGenerator<string> {
    let entries: import('node:fs').Dirent[];
    try {
      entries = await fsp.readdir(dir, { withFileTypes: true });
    } catch (err) {
      if (isErrno(err, 'ENOENT', 'ENOTDIR')) return;
      throw err;
    }
    // A folder's names all start with `<seg>/`, a document's is `<seg>`: ordering those keys
    // orders every name below them.
    const children: Array<{ key: string; dir: boolean }> = [];
    for (const e of entries) {
      if (e.isFile() && e.name.endsWith(DOC_SUFFIX)) children.push({ key: e.name.slice(0, -DOC_SUFFIX.length), dir: false });
      else if (e.isDirectory()) children.push({ key: `${e.name}/`, dir: true });
    }
    children.sort((a, b) => (a.key < b.key ? -1 : a.key > b.key ? 1 : 0));
    for (const c of children) {
      const full = base + c.key;
      if (!c.dir) {
        if (inReservedPage(full, prefix, { startAfter })) yield full;
        continue;
      }
      if (!full.startsWith(prefix) && !prefix.startsWith(full)) continue;
      if (startAfter !== undefined && startAfter > full && !startAfter.startsWith(full)) continue;
      yield* this.walk(path.join(dir, c.key.slice(0, -1)), full, prefix, startAfter);
    }
  }

  /** Forgets every document of the bucket (DeleteBucket, and CreateBucket of a new one). */
  async dropBucket(bucket: string): Promise<void> {
    await fsp.rm(this.bucketDir(bucket), { recursive: true, force: true });
  }
}
