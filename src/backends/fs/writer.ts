/**
 * The object writer: streams a body into a temp file (TempFileSink: MD5 on the way, bounded
 * memory, backpressure through stream.pipeline), then places the temp file at the key's path with
 * one atomic rename, creating directories and converting a file that is in the way into
 * its directory form (`<dir>/.s3mux-self`).
 */
import { randomBytes } from 'node:crypto';
import { md5Hex } from '../../auth/digests';
import { constants as fsc, lstatSync, promises as fsp } from 'node:fs';
import type { FileHandle } from 'node:fs/promises';
import * as path from 'node:path';
import { finished, type Readable, type Writable } from 'node:stream';
import { pipeline } from 'node:stream/promises';
import { S3Error } from '../../errors';
import { writeFileSyncing } from './durable-file';
import { TempFileSink } from './temp-file-sink';
import { FileRangeReadable } from './handle';
import { CONV_RECOVER_AGE_MS, isErrno, type Layout } from './layout';
import { lockKey, type RootState } from './locks';
import { joinInside, keySegments, SELF_NAME } from './paths';
import { identityOf, sameIdentity, type FileIdentity } from './sidecar';

export interface StagedFile {
  path: string;
  /** The bytes' MD5 (hex); '' when the caller said it needs none (StageOptions.hash). */
  etag: string;
  identity: FileIdentity;
  /**
   * Resolves once the file is durable (fsynced); it must not be renamed into place before.
   * Undefined: it already is. On rejection the caller removes the file.
   */
  synced?: Promise<void>;
}

function toBuffer(chunk: unknown): Buffer {
  if (Buffer.isBuffer(chunk)) return chunk;
  if (typeof chunk === 'string') return Buffer.from(chunk, 'utf8');
  if (chunk instanceof Uint8Array) return Buffer.from(chunk.buffer, chunk.byteOffset, chunk.byteLength);
  throw new TypeError('object body chunks must be bytes');
}

/** Waits until the stream has closed its file (pipeline may resolve on 'finish'). */
async function closed(ws: Writable): Promise<void> {
  if (ws.closed) return;
  await new Promise<void>((resolve) => ws.once('close', () => resolve()));
}

/** Bodies announced at most this long are read whole and written with one write (stageSmallBody). */
const SMALL_BODY_MAX = 64 * 1024;

function incompleteBody(size: number, expectedSize: number): S3Error {
  return new S3Error('IncompleteBody', `The body had ${size} bytes, ${expectedSize} were announced.`);
}

/**
 * A small body: read whole (its stream reports any failed check as it would into a file),
 * then written to a new temp file (created on the thread pool, the bytes with one synchronous
 * write); its fsync runs on the thread pool and is left in `synced`, so the caller can write the sidecar meanwhile (both fsyncs
 * under way at once). No write stream, no pipeline: for a 4 KiB PUT those cost the main thread
 * more than the write itself (bench --profile). As durable as the streaming path: the caller
 * renames the file into place only once `synced` has resolved.
 */
async function stageSmallBody(layout: Layout, body: Readable, expectedSize: number, opts: StageOptions): Promise<StagedFile> {
  const data = await readWhole(body, expectedSize);
  const tmp = layout.tempPath('put');
  const { stats, synced } = await writeFileSyncing(tmp, data, { stat: true, mtime: opts.mtime });
  return { path: tmp, etag: opts.md5 ?? (opts.hash === false ? '' : md5Hex(data)), identity: identityOf(stats!), synced };
}

/**
 * The whole body, which must be `expectedSize` bytes. Fails as `for await` over the stream
 * would (the stream's error, or a premature close), without an async iterator's promise per
 * chunk. A body longer than announced is still read to its end (and refused), never kept.
 */
function readWhole(body: Readable, expectedSize: number): Promise<Buffer> {
  return new Promise<Buffer>((resolve, reject) => {
    const chunks: Buffer[] = [];
    let size = 0;
    body.on('data', (chunk: unknown) => {
      let buf: Buffer;
      try {
        buf = toBuffer(chunk);
      } catch (err) {
        // As a throw inside `for await` would: the stream is destroyed with the error.
        body.destroy(err as Error);
        return;
      }
      size += buf.length;
      if (size <= expectedSize) chunks.push(buf);
    });
    finished(body, (err) => {
      if (err) return reject(err);
      if (size !== expectedSize) return reject(incompleteBody(size, expectedSize));
      resolve(chunks.length === 1 ? chunks[0] : Buffer.concat(chunks, size));
    });
  });
}

export interface StageOptions {
  /** The body's length when announced: it must be exactly that long. */
  size?: number;
  /**
   * The body's MD5 as the client declared it (PutOptions.md5), which the body stream has
   * checked by its end: the ETag, not computed again.
   */
  md5?: string;
  /**
   * false: the caller needs no MD5 of the bytes (a multipart assembly records the ETag of its
   * parts), so none is computed: 1.5 s of a core per GiB.
   */
  hash?: boolean;
  /** The file's modification time (the object's Last-Modified): PutOptions.lastModified; else now. */
  mtime?: Date;
}

/**
 * Streams `body` into a new temp file (TempFileSink: MD5, batched writes, fsync). On any
 * error (the body's, a size mismatch, the disk's) the temp file is removed and the error
 * rethrown.
 */
export async function stageBody(layout: Layout, body: Readable, opts: StageOptions = {}): Promise<StagedFile> {
  const expectedSize = opts.size;
  if (expectedSize !== undefined && expectedSize <= SMALL_BODY_MAX) return stageSmallBody(layout, body, expectedSize, opts);
  const md5 = opts.md5;
  const tmp = layout.tempPath('put');
  const out = new TempFileSink(tmp, { md5: md5 === undefined && opts.hash !== false, mtime: opts.mtime });
  try {
    await pipeline(body, out);
    await closed(out);
    if (expectedSize !== undefined && out.bytes !== expectedSize) throw incompleteBody(out.bytes, expectedSize);
    return { path: tmp, etag: md5 ?? out.etag(), identity: identityOf(out.stats!) };
  } catch (err) {
    // The body is not destroyed here: when it failed, pipeline did; when it ended, there is
    // nothing to do; the caller may still answer on the same connection.
    if (!out.destroyed) out.destroy();
    await closed(out).catch(() => {});
    await fsp.rm(tmp, { force: true }).catch(() => {});
    throw err;
  }
}

/**
 * Copies the data file of an open object version into a temp file: fs.copyFile (a reflink
 * where the filesystem can), checked afterwards against the version's identity; if the
 * source changed meanwhile, the bytes are streamed from the open handle instead.
 */
export async function stageCopy(layout: Layout, srcPath: string, src: FileHandle, srcId: FileIdentity): Promise<StagedFile> {
  const tmp = layout.tempPath('copy');
  try {
    let copied = false;
    try {
      await fsp.copyFile(srcPath, tmp, fsc.COPYFILE_EXCL | fsc.COPYFILE_FICLONE);
      const after = await fsp.lstat(srcPath).catch(() => undefined);
      const st = await fsp.stat(tmp);
      copied = !!after && sameIdentity(identityOf(after), srcId) && st.size === srcId.size;
      if (copied) {
        const fh = await fsp.open(tmp, 'r+');
        try {
          await fh.sync();
        } finally {
          await fh.close();
        }
      } else {
        await fsp.rm(tmp, { force: true });
      }
    } catch (err) {
      if (isErrno(err, 'ENOSPC', 'EDQUOT')) throw err;
      await fsp.rm(tmp, { force: true });
      copied = false;
    }
    if (!copied) {
      const out = new TempFileSink(tmp);
      await pipeline(new FileRangeReadable(src, 0, srcId.size - 1), out);
      await closed(out);
      return { path: tmp, etag: '', identity: identityOf(out.stats!) };
    }
    return { path: tmp, etag: '', identity: identityOf(await fsp.stat(tmp)) };
  } catch (err) {
    await fsp.rm(tmp, { force: true }).catch(() => {});
    throw err;
  }
}

export interface PlaceContext {
  layout: Layout;
  state: RootState;
}

const PLACE_ATTEMPTS = 20;

/**
 * Renames `tmp` into the key's place and returns the final data file path (the natural
 * path, or `<path>/.s3mux-self` when the natural path is a directory). Races with
 * concurrent writers and deleters (a directory appearing or vanishing) are retried.
 */
export async function placeData(ctx: PlaceContext, bucket: string, key: string, tmp: string): Promise<string> {
  const { bucketDir, parts, path: p } = ctx.layout.dataPath(bucket, key);
  const segs = keySegments(key);
  // First try without touching the parents (they usually exist already) and without an lstat of
  // the path: a directory there fails the rename with EISDIR. That lstat was a lookup of a new
  // name in a folder other PUTs rename into, on the event loop, waiting for their renames'
  // lock of the folder (bench --profile, ninth pass).
  let needParents = false;
  let look = false;
  for (let attempt = 0; attempt < PLACE_ATTEMPTS; attempt++) {
    if (needParents && !(await ensureParents(ctx, bucket, bucketDir, parts, segs))) continue;
    let target = p;
    if (look) {
      try {
        // Synchronous, as the other metadata calls of a PUT: one thread-pool round trip less.
        const st = lstatSync(p, { throwIfNoEntry: false });
        if (st?.isDirectory()) target = joinInside(p, [SELF_NAME]);
      } catch (err) {
        needParents = true;
        if (isErrno(err, 'ENOTDIR')) continue;
        throw err;
      }
    }
    try {
      await fsp.rename(tmp, target);
      return target;
    } catch (err) {
      // EISDIR on the first try: the object is in directory form, its parents are there.
      needParents = look || !isErrno(err, 'EISDIR');
      look = true;
      if (isErrno(err, 'ENOENT', 'ENOTDIR', 'EISDIR', 'ENOTEMPTY', 'EEXIST')) continue;
      throw err;
    }
  }
  throw new S3Error('SlowDown', 'The key kept changing shape under concurrent writes; retry.');
}

/**
 * Makes every parent directory of the key's path exist. Returns false when the caller
 * should start over (something changed concurrently).
 */
async function ensureParents(ctx: PlaceContext, bucket: string, bucketDir: string, parts: string[], segs: string[]): Promise<boolean> {
  let dir = bucketDir;
  for (let i = 0; i < parts.length - 1; i++) {
    dir = dir + path.sep + parts[i];
    for (let tries = 0; ; tries++) {
      if (tries > 5) return false;
      try {
        await fsp.mkdir(dir);
        break;
      } catch (err) {
        if (isErrno(err, 'ENOENT')) {
          if (i === 0) throw new S3Error('NoSuchBucket', undefined, { BucketName: bucket });
          return false;
        }
        if (isErrno(err, 'ENOTDIR')) return false;
        if (!isErrno(err, 'EEXIST')) throw err;
      }
      const st = await fsp.lstat(dir).catch(() => undefined);
      if (!st) continue;
      if (st.isDirectory()) break;
      if (st.isFile()) {
        await convertToDirectoryForm(ctx, bucket, segs.slice(0, i + 1).join('/'), dir);
        continue;
      }
      throw new S3Error('AccessDenied', 'A component of the key path is a symbolic link or special file in the bucket folder.', {
        Key: segs.join('/'),
      });
    }
  }
  return true;
}

/**
 * Turns the object file at `dirPath` (key `dirKey`) into its directory form
 * `dirPath/.s3mux-self`, so other keys can live under it. The file is hard-linked into a
 * holder directory, unlinked, and the holder renamed into its place; a record next to the
 * holder lets start-up finish the job after a crash. Readers that meet the short window
 * where the path is missing wait for the conversion (same process) or retry.
 */
export function convertToDirectoryForm(ctx: PlaceContext, bucket: string, dirKey: string, dirPath: string): Promise<void> {
  const running = ctx.state.converting.get(dirPath);
  if (running) return running;
  const p = ctx.state.locks
    .run(lockKey(bucket, dirKey), () => convert(ctx.layout, dirPath))
    .finally(() => ctx.state.converting.delete(dirPath));
  ctx.state.converting.set(dirPath, p);
  return p;
}

async function convert(layout: Layout, dirPath: string): Promise<void> {
  const st = await fsp.lstat(dirPath).catch(() => undefined);
  if (!st || !st.isFile()) return; // already converted, or gone
  const holder = path.join(layout.conv, `${process.pid}-${randomBytes(8).toString('hex')}`);
  const record = `${holder}.json`;
  const self = path.join(holder, SELF_NAME);
  await fsp.mkdir(holder);
  try {
    await fsp.writeFile(record, JSON.stringify({ target: path.relative(layout.root, dirPath) }), { flag: 'wx' });
    let moved = false;
    try {
      await fsp.link(dirPath, self);
    } catch (err) {
      if (isErrno(err, 'ENOENT')) return;
      const now = await fsp.lstat(dirPath).catch(() => undefined);
      if (!now || !now.isFile()) return; // it became a directory: someone else converted it
      if (!isErrno(err, 'EPERM', 'ENOTSUP', 'EOPNOTSUPP', 'EMLINK', 'EXDEV')) throw err;
      // No hard links on this filesystem: move it instead (same short window).
      await fsp.rename(dirPath, self);
      moved = true;
    }
    if (!moved) {
      try {
        await fsp.unlink(dirPath);
      } catch (err) {
        if (isErrno(err, 'ENOENT', 'EISDIR', 'EPERM')) return; // converted or removed by someone else
        throw err;
      }
    }
    for (let attempt = 0; attempt < 10; attempt++) {
      try {
        await fsp.rename(holder, dirPath);
        return;
      } catch (err) {
        if (isErrno(err, 'EEXIST', 'ENOTEMPTY', 'EISDIR')) {
          // A directory appeared meanwhile (a concurrent writer below it): move our bytes in,
          // unless a newer version of the object is already there.
          try {
            await fsp.link(self, path.join(dirPath, SELF_NAME));
            return;
          } catch (e2) {
            if (isErrno(e2, 'EEXIST')) return;
            if (isErrno(e2, 'ENOENT', 'ENOTDIR')) continue;
            throw e2;
          }
        }
        if (isErrno(err, 'ENOTDIR')) return; // a newer file version of the object is there: it wins
        if (isErrno(err, 'ENOENT')) {
          await fsp.mkdir(path.dirname(dirPath), { recursive: true });
          continue;
        }
        throw err;
      }
    }
    throw new S3Error('SlowDown', 'Could not convert a file to its directory form; retry.');
  } finally {
    await fsp.rm(holder, { recursive: true, force: true }).catch(() => {});
    await fsp.rm(record, { force: true }).catch(() => {});
  }
}

/**
 * Waits for a conversion of `p` that could explain a missing path: returns true when the
 * caller should look again (one in this process finished, or one by another process may
 * be under way). `mayWait` is false for callers holding a key lock (a conversion in this
 * process may be waiting for that very lock).
 */
export async function awaitConversion(ctx: PlaceContext, p: string, mayWait = true): Promise<boolean> {
  const running = ctx.state.converting.get(p);
  if (running) {
    if (!mayWait) return false;
    await running.catch(() => {});
    return true;
  }
  let names: string[];
  try {
    names = await fsp.readdir(ctx.layout.conv);
  } catch {
    return false;
  }
  const now = Date.now();
  for (const n of names) {
    if (!n.endsWith('.json')) continue;
    const st = await fsp.lstat(path.join(ctx.layout.conv, n)).catch(() => undefined);
    if (st && now - st.mtimeMs < CONV_RECOVER_AGE_MS) return true;
  }
  return false;
}

/** Removes empty directories from `fromDir` up to, not including, `stopDir`. */
export async function removeEmptyParents(fromDir: string, stopDir: string): Promise<void> {
  let d = fromDir;
  while (d !== stopDir && d.startsWith(stopDir + path.sep)) {
    try {
      await fsp.rmdir(d);
    } catch {
      return;
    }
    d = path.dirname(d);
  }
}
