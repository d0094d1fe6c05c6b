/**
 * The filesystem backend, s3mux's embedded default: `<root>/<bucket>/<key>` at natural
 * paths, so a developer can browse the data folder, or point a bucket at an existing folder
 * and have its files served. Layout and encodings: paths.ts and layout.ts; metadata:
 * sidecar.ts; writes: writer.ts; listing: walker.ts + ../listing.ts.
 */
import { createHash } from 'node:crypto';
import {
  closeSync,
  constants as fsc,
  fstatSync,
  lstatSync,
  openSync,
  promises as fsp,
  readSync,
  realpathSync,
  statSync,
  type Stats,
} from 'node:fs';
import { StagedMultipartStore } from '../multipart/staged';
import { FsPartStorage } from './parts';
import { SmallFiles } from './small-files';
import type { FileHandle } from 'node:fs/promises';
import * as path from 'node:path';
import { Writable, type Readable } from 'node:stream';
import { writeInto } from '../writes-itself';
import { S3Error, toS3Error } from '../../errors';
import { checkWriteConditions, hasWriteConditions, unquoteEtag } from '../conditions';
import { isValidKey, MAX_KEY_BYTES, validateBucketName } from '../keys';
import { compareKeys, listFromSource, summaryOf, withLookahead, type ListSource } from '../listing';
import type {
  MultipartStore,
  Backend,
  BackendCapabilities,
  BucketInfo,
  ListOptions,
  ListPage,
  ObjectAttributes,
  ObjectHandle,
  ObjectMeta,
  ObjectSummary,
  PutOptions,
  Tag,
  WriteConditions,
} from '../types';
import { copyAttributes, DEFAULT_CONTENT_TYPE, storedAttributes } from '../attributes';
import { BARE_MAX, derivedAttributes, isDerivable, sidecarPresent } from './bare-objects';
import { md5Hex } from '../../auth/digests';
import { FileRangeReadable, FsObjectHandle } from './handle';
import { BytesObjectHandle } from '../bytes-handle';
import { isErrno, Layout } from './layout';
import { lockKey, rootState, type RootState } from './locks';
import { NameRegistry, type NameSweepOptions } from './names';
import { assertStorableKey, hashedSegments, isSafeBucketDirName, joinInside, SELF_NAME } from './paths';
import {
  identityOf,
  listedSummary,
  installSidecar,
  makeSidecar,
  metaFrom,
  readSidecar,
  readSidecarSync,
  sameIdentity,
  sidecarMatches,
  writeSidecar,
  writeSidecarTemp,
  type Sidecar,
} from './sidecar';
import { FsReservedStore } from './reserved';
import { SortedDirs, type ListedFolder } from './listed-folder';
import { DirCache, walkBucket } from './walker';
import { awaitConversion, placeData, removeEmptyParents, stageBody, stageCopy, type PlaceContext } from './writer';

export interface FsBackendOptions {
  /** The data folder; created when missing. */
  root: string;
  /** Sorted folders kept across listing pages (default: SortedDirs' own bounds; tests pass smaller ones). */
  sortedDirs?: SortedDirs;
  /** When the registry of long segments is swept (default: NameRegistry's; tests pass smaller ones). */
  names?: NameSweepOptions;
}

/** A sidecar on its way into place with its data file: `tmp` once written to a temp file. */
interface StagedSidecar {
  sc: Sidecar;
  tmp?: string;
}

/** An object version opened for reading. */
interface Opened {
  fh: FileHandle;
  st: Stats;
  /** The data file (natural path or `.s3mux-self`). */
  file: string;
  meta: ObjectMeta;
}

const OPEN_FLAGS = fsc.O_RDONLY | (fsc.O_NOFOLLOW ?? 0) | (fsc.O_NONBLOCK ?? 0);
/** Attempts when a sidecar exists but describes another version (a write committing right now). */
const SIDECAR_ATTEMPTS = 4;
/** Attempts when a path is missing while a conversion may be moving it. */
const CONVERSION_WAITS = 5;
const ETAG_CACHE_MAX = 50_000;
/** Objects up to this size are read whole when opened (readSmall); a bare object is one of them. */
const SMALL_OBJECT_MAX = BARE_MAX;
/** Small objects' bytes by path, shared by every fs backend of the process (one bound for all). */
const smallFiles = new SmallFiles();
/** Listing summaries (a stat and a sidecar read each) read ahead: the thread pool works on several at once. */
const LIST_LOOKAHEAD = 16;

const sleep = (ms: number): Promise<void> => new Promise((r) => (ms > 0 ? setTimeout(r, ms) : setImmediate(r)));

function creationDate(st: Stats): Date {
  return st.birthtimeMs > 0 ? new Date(Math.floor(st.birthtimeMs)) : new Date(Math.floor(st.ctimeMs));
}

/**
 * The MD5 of an open file (a bare object placed by hand, first read). The hash takes each chunk
 * before its write calls back, so the file is read through the stream's two reused buffers
 * (writeInto) rather than a fresh one per chunk.
 */
async function md5OfHandle(fh: FileHandle, size: number): Promise<string> {
  const hash = createHash('md5');
  if (size > 0) {
    const hasher = new Writable({
      write(chunk: Buffer, _enc, cb) {
        hash.update(chunk);
        cb();
      },
    });
    await new FileRangeReadable(fh, 0, size - 1)[writeInto](hasher);
  }
  return hash.digest('hex');
}

export class FsBackend implements Backend {
  readonly kind = 'fs';
  readonly capabilities: BackendCapabilities = { serverSideCopy: true };
  readonly root: string;
  /** Multipart state on disk under .s3mux/uploads, assembled through putObject. */
  readonly multipart: MultipartStore;
  /** s3mux's documents under .s3mux/reserved, compare-and-swap across processes. */
  readonly reserved: FsReservedStore;
  private readonly layout: Layout;
  private readonly state: RootState;
  private readonly names: NameRegistry;
  private readonly ctx: PlaceContext;
  private readonly ready: Promise<void>;
  /** MD5s computed for files without a usable sidecar, by file identity (read-only roots). */
  private readonly etagCache = new Map<string, string>();
  /** Sorted folder contents and their listing summaries, valid while each folder (and data file) is unchanged. */
  private readonly sortedDirs: SortedDirs;

  constructor(opts: FsBackendOptions) {
    if (!opts || typeof opts.root !== 'string' || opts.root === '') throw new Error('FsBackend needs a root folder');
    this.layout = new Layout(opts.root);
    this.sortedDirs = opts.sortedDirs ?? new SortedDirs();
    this.root = this.layout.root;
    this.multipart = new StagedMultipartStore(this, new FsPartStorage(this.layout));
    let stateKey = this.root;
    try {
      stateKey = realpathSync(this.root); // one lock table per directory, however it is named
    } catch {
      // not created yet
    }
    this.state = rootState(stateKey);
    this.names = new NameRegistry(this.layout, opts.names);
    this.ctx = { layout: this.layout, state: this.state };
    this.reserved = new FsReservedStore({
      layout: this.layout,
      state: this.state,
      op: (fn) => this.op(fn),
      requireBucket: (bucket) => this.requireBucket(bucket),
      checkWritable: () => this.checkWritable(),
    });
    // A root that cannot be written (a read-only photo tree) still serves reads: metadata
    // is synthesized and cached in memory; writes report the start-up error.
    this.ready = this.layout.init().catch((err: unknown) => {
      this.initError = err;
    });
  }

  private initError: unknown;

  /** Throws the start-up error (AccessDenied for a read-only root) before a write. */
  private checkWritable(): void {
    if (this.initError === undefined) return;
    if (isErrno(this.initError, 'EROFS', 'EACCES', 'EPERM')) {
      throw new S3Error('AccessDenied', 'The data folder is read-only.');
    }
    throw this.initError as Error;
  }

  /** Resolves when start-up housekeeping is done (operations wait for it anyway). */
  whenReady(): Promise<void> {
    return this.ready;
  }

  private async op<T>(fn: () => Promise<T>): Promise<T> {
    try {
      await this.ready;
      return await fn();
    } catch (err) {
      const e = toS3Error(err);
      if (e !== err && e.cause === undefined) Object.defineProperty(e, 'cause', { value: err, enumerable: false });
      throw e;
    }
  }

  // ---------------------------------------------------------------- buckets

  /** The bucket's directory, or NoSuchBucket. */
  private async requireBucket(bucket: string): Promise<string> {
    const dir = this.layout.bucketDir(bucket);
    // Synchronous: every PUT and listing asks, and the thread pool's round trip costs the
    // main thread more than the stat itself (bench --profile).
    let st: Stats | undefined;
    try {
      st = statSync(dir);
    } catch (err) {
      if (!isErrno(err, 'ENOENT', 'ENOTDIR', 'ELOOP', 'ENAMETOOLONG')) throw err;
    }
    if (!st || !st.isDirectory()) throw new S3Error('NoSuchBucket', undefined, { BucketName: bucket });
    return dir;
  }

  listBuckets(): Promise<BucketInfo[]> {
    return this.op(async () => {
      const out: BucketInfo[] = [];
      for (const e of await fsp.readdir(this.root, { withFileTypes: true })) {
        if (!isSafeBucketDirName(e.name)) continue;
        if (!e.isDirectory() && !e.isSymbolicLink()) continue;
        const st = await fsp.stat(path.join(this.root, e.name)).catch(() => undefined);
        if (st?.isDirectory()) out.push({ name: e.name, creationDate: creationDate(st) });
      }
      return out.sort((a, b) => compareKeys(a.name, b.name));
    });
  }

  createBucket(bucket: string): Promise<void> {
    return this.op(async () => {
      this.checkWritable();
      validateBucketName(bucket);
      const dir = this.layout.bucketDir(bucket);
      // A new bucket starts without documents, whatever a bucket of that name left (a folder removed by hand).
      if (!(await fsp.lstat(dir).catch(() => undefined))) await this.reserved.dropBucket(bucket);
      try {
        await fsp.mkdir(dir);
      } catch (err) {
        if (!isErrno(err, 'EEXIST')) throw err;
        const st = await fsp.stat(dir).catch(() => undefined);
        if (st?.isDirectory()) throw new S3Error('BucketAlreadyOwnedByYou', undefined, { BucketName: bucket });
        throw new S3Error('BucketAlreadyExists', undefined, { BucketName: bucket });
      }
    });
  }

  headBucket(bucket: string): Promise<BucketInfo> {
    return this.op(async () => {
      const dir = await this.requireBucket(bucket);
      return { name: bucket, creationDate: creationDate(await fsp.stat(dir)) };
    });
  }

  deleteBucket(bucket: string): Promise<void> {
    return this.op(async () => {
      this.checkWritable();
      const dir = await this.requireBucket(bucket);
      const page = await this.list(bucket, dir, { prefix: '', maxKeys: 1 });
      if (page.objects.length > 0 || page.commonPrefixes.length > 0) {
        throw new S3Error('BucketNotEmpty', undefined, { BucketName: bucket });
      }
      const lst = await fsp.lstat(dir);
      if (lst.isSymbolicLink()) {
        await fsp.unlink(dir); // a bucket pointed at a folder elsewhere: drop the link only
      } else if (!(await removeEmptyTree(dir))) {
        // something that is not an object (a link, a special file) is still in there
        throw new S3Error('BucketNotEmpty', undefined, { BucketName: bucket });
      }
      await fsp.rm(this.layout.metaBucketDir(bucket), { recursive: true, force: true });
      await this.reserved.dropBucket(bucket);
    });
  }

  // ---------------------------------------------------------------- reading

  private async missing(bucket: string, key: string): Promise<never> {
    await this.requireBucket(bucket);
    throw new S3Error('NoSuchKey', undefined, { Key: key });
  }

  /** Opens the data file of the key (natural file or directory form), or throws NoSuchKey/NoSuchBucket. */
  private async openData(bucket: string, key: string, lockHeld: boolean): Promise<{ fh: FileHandle; st: Stats; file: string }> {
    const p = this.layout.dataPath(bucket, key).path;
    for (let attempt = 0; ; attempt++) {
      let fh: FileHandle;
      try {
        fh = await fsp.open(p, OPEN_FLAGS);
      } catch (err) {
        if (isErrno(err, 'ENOENT')) {
          if (attempt < CONVERSION_WAITS && (await awaitConversion(this.ctx, p, !lockHeld))) {
            await sleep(2 * attempt);
            continue;
          }
          return this.missing(bucket, key);
        }
        if (isErrno(err, 'ENOTDIR', 'ELOOP', 'ENAMETOOLONG', 'EISDIR', 'ENXIO')) return this.missing(bucket, key);
        throw err;
      }
      // fstat on the open descriptor, synchronously: one thread-pool round trip less per GET.
      const st = fstatSync(fh.fd);
      if (st.isFile()) return { fh, st, file: p };
      await fh.close();
      if (!st.isDirectory()) return this.missing(bucket, key);
      const self = joinInside(p, [SELF_NAME]);
      let fh2: FileHandle;
      try {
        fh2 = await fsp.open(self, OPEN_FLAGS);
      } catch (err) {
        if (isErrno(err, 'ENOENT', 'ENOTDIR', 'ELOOP', 'EISDIR', 'ENXIO')) return this.missing(bucket, key);
        throw err;
      }
      const st2 = fstatSync(fh2.fd);
      if (st2.isFile()) return { fh: fh2, st: st2, file: self };
      await fh2.close();
      return this.missing(bucket, key);
    }
  }

  /**
   * Opens one version of the object with metadata that belongs to it. A sidecar that
   * describes another version means a write is committing: look again. A missing or stale
   * one means a foreign file (or a crash): synthesize and write back.
   */
  private async openVersion(bucket: string, key: string, lockHeld = false): Promise<Opened> {
    assertStorableKey(key);
    const metaFile = this.layout.metaPath(bucket, key).path;
    for (let attempt = 0; ; attempt++) {
      const d = await this.openData(bucket, key, lockHeld);
      let keep = false;
      try {
        const sc = await readSidecar(metaFile);
        if (sidecarMatches(sc, key, d.st)) {
          keep = true;
          return { ...d, meta: metaFrom(sc, d.st) };
        }
        if (sc === undefined || attempt >= SIDECAR_ATTEMPTS - 1) {
          const meta = await this.synthesize(bucket, key, d, sc, metaFile, lockHeld);
          keep = true;
          return { ...d, meta };
        }
      } finally {
        if (!keep) await d.fh.close().catch(() => {});
      }
      await sleep(3 * attempt);
    }
  }

  /**
   * Metadata for a data file without a matching sidecar: ETag = MD5 of the bytes (read once
   * from the open descriptor), content type from the extension; attributes of a stale
   * sidecar of the same key are kept (a file edited in place keeps its tags). Written back
   * best-effort, only while the path still holds this very file.
   */
  private async synthesize(
    bucket: string,
    key: string,
    d: { fh: FileHandle; st: Stats; file: string },
    stale: Sidecar | undefined,
    metaFile: string,
    lockHeld: boolean,
  ): Promise<ObjectMeta> {
    let etag = this.memoEtag(d.st);
    if (etag === undefined) etag = this.rememberEtag(d.st, await md5OfHandle(d.fh, d.st.size));
    let attrs: ObjectAttributes;
    if (stale && stale.key === key) {
      attrs = copyAttributes(stale.attrs);
      delete attrs.checksums; // they described other bytes
    } else {
      attrs = derivedAttributes(key);
    }
    const mine = makeSidecar(key, etag, identityOf(d.st), attrs);
    // A bare object (or a small file placed by hand): a sidecar would hold nothing a read cannot
    // derive again for little (the ETag is remembered by identity), so none is written back.
    const bare = stale === undefined && d.st.size <= BARE_MAX;
    // Not waiting for the key's lock when no write of it is under way in this process: one that
    // is may be about to place this very file's sidecar. Nor when a sidecar is there by now: the
    // hash above may have awaited while a write placed this file, then its sidecar, and let go
    // of the lock (a reader then answered the new bytes without their metadata).
    if (bare && !lockHeld && !this.state.locks.busy(lockKey(bucket, key)) && !sidecarPresent(metaFile)) return metaFrom(mine, d.st);
    const writeBack = async (): Promise<Sidecar> => {
      const cur = await readSidecar(metaFile);
      if (sidecarMatches(cur, key, d.st)) return cur; // the writer's own sidecar arrived meanwhile
      if (bare) return mine;
      const now = await fsp.lstat(d.file).catch(() => undefined);
      if (now && sameIdentity(identityOf(now), identityOf(d.st))) {
        await writeSidecar(this.layout, metaFile, mine).catch(() => {}); // read-only folders still serve
      }
      return mine;
    };
    const sc = lockHeld ? await writeBack() : await this.state.locks.run(lockKey(bucket, key), writeBack);
    return metaFrom(sc, d.st);
  }

  private memoEtag(st: Stats): string | undefined {
    return this.etagCache.get(etagKey(st));
  }

  private rememberEtag(st: Stats, etag: string): string {
    if (this.etagCache.size >= ETAG_CACHE_MAX) this.etagCache.clear();
    this.etagCache.set(etagKey(st), etag);
    return etag;
  }

  /**
   * What a data file reads as: its sidecar's metadata when the sidecar describes this file, a
   * bare object's (bareMeta) when there is no sidecar; undefined for a sidecar of other bytes
   * (a write committing, a file changed by hand) or a bare object not derived here.
   */
  private describe(
    sc: Sidecar | undefined,
    bucket: string,
    key: string,
    st: Stats,
    source: { data: Buffer } | { file: string },
  ): ObjectMeta | undefined {
    if (sc === undefined) return this.bareMeta(bucket, key, st, source);
    return sidecarMatches(sc, key, st) ? metaFrom(sc, st) : undefined;
  }

  /**
   * A bare object's metadata (bare-objects.ts), synchronously: the ETag remembered for the file's
   * identity, else the MD5 of `data` or of the bytes read from `file` (which must still be the
   * file `st` describes). Undefined: not one to derive here (a write of the key under way in this
   * process, a larger file, a file that changed): the caller goes the way of openVersion.
   */
  private bareMeta(bucket: string, key: string, st: Stats, source: { data: Buffer } | { file: string }): ObjectMeta | undefined {
    if (st.size > BARE_MAX || this.state.locks.busy(lockKey(bucket, key))) return undefined;
    let etag = this.memoEtag(st);
    if (etag === undefined) {
      const data = 'data' in source ? source.data : readWholeIfSame(source.file, st);
      if (data === undefined) return undefined;
      etag = this.rememberEtag(st, md5Hex(data));
    }
    return metaFrom(makeSidecar(key, etag, identityOf(st), derivedAttributes(key)), st);
  }

  /** The current object's metadata, or undefined when there is none. */
  private async currentMeta(bucket: string, key: string, lockHeld: boolean): Promise<ObjectMeta | undefined> {
    try {
      const o = await this.openVersion(bucket, key, lockHeld);
      await o.fh.close();
      return o.meta;
    } catch (err) {
      if (err instanceof S3Error && err.code === 'NoSuchKey') return undefined;
      throw err;
    }
  }

  /**
   * The data file's identity by path, without opening it: a file at the natural path, or the
   * `.s3mux-self` of a directory there. Undefined for anything else (missing, a link, a special
   * file, a path that cannot exist): the caller then goes the way of openVersion, which
   * answers each of those as a read does.
   */
  private statData(bucket: string, key: string): { file: string; st: Stats } | undefined {
    try {
      const p = this.layout.dataPath(bucket, key).path;
      const st = lstatSync(p, { throwIfNoEntry: false });
      if (st?.isFile()) return { file: p, st };
      if (!st?.isDirectory()) return undefined;
      const self = joinInside(p, [SELF_NAME]);
      const selfSt = lstatSync(self, { throwIfNoEntry: false });
      return selfSt?.isFile() ? { file: self, st: selfSt } : undefined;
    } catch {
      return undefined;
    }
  }

  /**
   * HEAD needs the version's identity and its sidecar, not its bytes: an lstat instead of
   * open + fstat + close (three thread-pool round trips). A sidecar that does not match
   * (a write committing, a foreign file) goes the way of a read.
   */
  headObject(bucket: string, key: string): Promise<ObjectMeta> {
    return this.op(async () => {
      assertStorableKey(key);
      const metaFile = this.layout.metaPath(bucket, key).path;
      for (let attempt = 0; attempt < SIDECAR_ATTEMPTS; attempt++) {
        const data = this.statData(bucket, key);
        if (!data) break;
        const st = data.st;
        const sc = readSidecarSync(metaFile);
        const meta = this.describe(sc, bucket, key, st, { file: data.file });
        if (meta) return meta;
        if (sc === undefined) break;
        await sleep(3 * attempt);
      }
      const o = await this.openVersion(bucket, key);
      await o.fh.close();
      return o.meta;
    });
  }

  openObject(bucket: string, key: string): Promise<ObjectHandle> {
    return this.op(async () => {
      const small = this.readSmall(bucket, key);
      if (small) return small;
      const o = await this.openVersion(bucket, key);
      return new FsObjectHandle(o.meta, o.fh);
    });
  }

  /**
   * A small object with a matching sidecar (or a bare one), read whole: open, fstat, read and
   * close synchronously (microseconds from the page cache, where the thread pool's four round
   * trips and a stream cost the main thread far more: bench --profile). Opened first and checked
   * by its descriptor: no lstat of the path before. The bytes are this version's: the open
   * descriptor's identity must be the one the sidecar names. Anything else (not a plain file
   * there, a sidecar of other bytes, a write committing, a larger file, an error) goes the way
   * of openVersion.
   */
  private readSmall(bucket: string, key: string): ObjectHandle | undefined {
    assertStorableKey(key);
    const file = this.layout.dataPath(bucket, key).path;
    if (smallFiles.has(file)) {
      const known = this.readKnownSmall(file, bucket, key);
      if (known) return known;
    }
    return withFileSync(file, (fd) => {
      const st = fstatSync(fd);
      if (!st.isFile() || st.size > SMALL_OBJECT_MAX) return undefined;
      const data = readWholeFd(fd, st.size);
      if (data === undefined) return undefined;
      const meta = this.describe(readSidecarSync(this.layout.metaPath(bucket, key).path), bucket, key, st, { data });
      if (!meta) return undefined;
      smallFiles.set(file, st, data);
      return new BytesObjectHandle(meta, data);
    });
  }

  /**
   * A small object whose bytes were read before (src/backends/fs/small-files.ts): the path's
   * lstat must still show the file they were read from, and its sidecar must describe it.
   * Anything else (changed, gone, a write committing) goes the way of a first read.
   */
  private readKnownSmall(file: string, bucket: string, key: string): ObjectHandle | undefined {
    let st: Stats | undefined;
    try {
      st = lstatSync(file, { throwIfNoEntry: false });
    } catch {
      return undefined;
    }
    if (!st?.isFile()) return undefined;
    const data = smallFiles.get(file, st);
    if (data === undefined) return undefined;
    const meta = this.describe(readSidecarSync(this.layout.metaPath(bucket, key).path), bucket, key, st, { data });
    return meta && new BytesObjectHandle(meta, data);
  }

  // ---------------------------------------------------------------- writing

  /**
   * Commits a staged data file under the key's lock: conditions are checked against the current
   * object, then the data file and its sidecar temp file (`side.tmp`) are renamed into place.
   * Without `side.tmp` the object goes bare (bare-objects.ts) unless a sidecar is there by now:
   * it would describe the old bytes and lend them its attributes, so `side.sc` is written then.
   */
  private async commit(bucket: string, key: string, dataTmp: string, side: StagedSidecar, conditions?: WriteConditions): Promise<void> {
    const metaFile = this.layout.metaPath(bucket, key).path;
    await this.state.locks.run(lockKey(bucket, key), async () => {
      if (hasWriteConditions(conditions)) {
        checkWriteConditions(await this.currentMeta(bucket, key, true), conditions);
      }
      for (const seg of hashedSegments(key)) await this.names.record(seg);
      if (side.tmp === undefined && sidecarPresent(metaFile)) side.tmp = await writeSidecarTemp(this.layout, side.sc);
      await placeData(this.ctx, bucket, key, dataTmp);
      if (side.tmp !== undefined) await installSidecar(side.tmp, metaFile);
    });
  }

  putObject(bucket: string, key: string, body: Readable, attrs: ObjectAttributes, opts: PutOptions = {}): Promise<ObjectMeta> {
    return this.op(async () => {
      let staged: { path: string } | undefined;
      let side: StagedSidecar | undefined;
      try {
        assertStorableKey(key);
        await this.requireBucket(bucket);
        this.checkWritable();
        // opts.etag: a multipart assembly records S3's `<md5 of md5s>-N` instead of the MD5,
        // and the bytes are not hashed for an MD5 nobody would read.
        const given = opts.etag !== undefined && opts.etag !== '' ? unquoteEtag(opts.etag) : undefined;
        const s = await stageBody(this.layout, body, {
          size: opts.size,
          md5: opts.md5,
          hash: given === undefined,
          mtime: opts.lastModified,
        });
        staged = s;
        const etag = given ?? s.etag;
        const stored = storedAttributes(attrs);
        const sc = makeSidecar(key, etag, s.identity, stored);
        const mine: StagedSidecar = (side = { sc });
        // Whether a sidecar is there is asked once, under the lock (commit): one lstat per PUT
        // instead of two. A derivable PUT over an object with a sidecar writes its own there.
        const bare = etag === s.etag && s.identity.size <= BARE_MAX && isDerivable(key, stored);
        if (bare) {
          await s.synced;
        } else {
          // The sidecar is written and fsynced while the data file's fsync is still under way:
          // both are durable before either is renamed into place.
          const written = writeSidecarTemp(this.layout, sc).then((tmp) => {
            mine.tmp = tmp;
          });
          for (const r of await Promise.allSettled([s.synced, written])) if (r.status === 'rejected') throw r.reason;
        }
        await this.commit(bucket, key, s.path, mine, opts.conditions);
        staged = undefined;
        side = undefined;
        return metaFrom(sc, s.identity);
      } catch (err) {
        if (staged) await fsp.rm(staged.path, { force: true }).catch(() => {});
        if (side?.tmp) await fsp.rm(side.tmp, { force: true }).catch(() => {});
        throw err;
      }
    });
  }

  copyObject(
    srcBucket: string,
    srcKey: string,
    dstBucket: string,
    dstKey: string,
    attrs: ObjectAttributes | undefined,
  ): Promise<ObjectMeta> {
    return this.op(async () => {
      assertStorableKey(srcKey);
      assertStorableKey(dstKey);
      const src = await this.openVersion(srcBucket, srcKey);
      let staged: { path: string } | undefined;
      let sideTmp: string | undefined;
      try {
        await this.requireBucket(dstBucket);
        this.checkWritable();
        const s = await stageCopy(this.layout, src.file, src.fh, identityOf(src.st));
        staged = s;
        let stored: ObjectAttributes;
        if (attrs === undefined) stored = copyAttributes(src.meta);
        else {
          stored = storedAttributes(attrs);
          if (attrs.tags === undefined && src.meta.tags !== undefined) stored.tags = src.meta.tags.map((t) => ({ ...t }));
          if (attrs.checksums === undefined && src.meta.checksums !== undefined) stored.checksums = { ...src.meta.checksums };
        }
        if (stored.contentType === undefined) stored.contentType = DEFAULT_CONTENT_TYPE;
        const sc = makeSidecar(dstKey, src.meta.etag, s.identity, stored);
        sideTmp = await writeSidecarTemp(this.layout, sc);
        await this.commit(dstBucket, dstKey, s.path, { sc, tmp: sideTmp });
        staged = undefined;
        sideTmp = undefined;
        return metaFrom(sc, s.identity);
      } finally {
        await src.fh.close().catch(() => {});
        if (staged) await fsp.rm(staged.path, { force: true }).catch(() => {});
        if (sideTmp) await fsp.rm(sideTmp, { force: true }).catch(() => {});
      }
    });
  }

  setTags(bucket: string, key: string, tags: Tag[]): Promise<void> {
    return this.rewriteAttributes(bucket, key, (attrs) => {
      attrs.tags = tags.map((t) => ({ key: t.key, value: t.value }));
    });
  }

  /** The class is a label in the sidecar: the data file is not touched. */
  setStorageClass(bucket: string, key: string, storageClass: string, ifMatch: string): Promise<void> {
    return this.rewriteAttributes(bucket, key, (attrs, meta) => {
      if (meta.etag !== unquoteEtag(ifMatch)) throw new S3Error('PreconditionFailed');
      if (storageClass === 'STANDARD') delete attrs.storageClass;
      else attrs.storageClass = storageClass;
    });
  }

  /** Rewrites the sidecar of the current version under the key's lock; the data file stays. */
  private rewriteAttributes(bucket: string, key: string, change: (attrs: ObjectAttributes, meta: ObjectMeta) => void): Promise<void> {
    return this.op(async () => {
      this.checkWritable();
      assertStorableKey(key);
      const metaFile = this.layout.metaPath(bucket, key).path;
      await this.state.locks.run(lockKey(bucket, key), async () => {
        const o = await this.openVersion(bucket, key, true);
        try {
          const attrs = copyAttributes(o.meta);
          change(attrs, o.meta);
          await writeSidecar(this.layout, metaFile, makeSidecar(key, o.meta.etag, identityOf(o.st), attrs));
        } finally {
          await o.fh.close();
        }
      });
    });
  }

  deleteObject(bucket: string, key: string): Promise<void> {
    return this.remove(bucket, key);
  }

  /** The ETag is checked under the key's lock, which every write of the key takes too. */
  deleteObjectIfMatch(bucket: string, key: string, ifMatch: string): Promise<void> {
    return this.remove(bucket, key, unquoteEtag(ifMatch));
  }

  private remove(bucket: string, key: string, ifMatch?: string): Promise<void> {
    return this.op(async () => {
      this.checkWritable();
      assertStorableKey(key);
      const bucketDir = await this.requireBucket(bucket);
      const p = this.layout.dataPath(bucket, key).path;
      const { metaBucketDir, path: metaFile } = this.layout.metaPath(bucket, key);
      await this.state.locks.run(lockKey(bucket, key), async () => {
        if (ifMatch !== undefined) {
          const current = await this.currentMeta(bucket, key, true);
          if (current === undefined) return;
          if (current.etag !== ifMatch) throw new S3Error('PreconditionFailed');
        }
        let file: string | undefined;
        try {
          const st = await fsp.lstat(p);
          if (st.isDirectory()) file = joinInside(p, [SELF_NAME]);
          else if (st.isFile()) file = p;
        } catch (err) {
          if (!isErrno(err, 'ENOENT', 'ENOTDIR', 'ENAMETOOLONG')) throw err;
        }
        if (file !== undefined) {
          try {
            await fsp.unlink(file);
          } catch (err) {
            if (!isErrno(err, 'ENOENT', 'ENOTDIR')) throw err;
          }
        }
        try {
          await fsp.unlink(metaFile);
        } catch (err) {
          if (!isErrno(err, 'ENOENT', 'ENOTDIR', 'ENAMETOOLONG')) throw err;
        }
        if (file !== undefined) await removeEmptyParents(path.dirname(file), bucketDir);
        await removeEmptyParents(path.dirname(metaFile), metaBucketDir);
      });
    });
  }

  // ---------------------------------------------------------------- listing

  listObjects(bucket: string, opts: ListOptions): Promise<ListPage> {
    return this.op(async () => {
      const dir = await this.requireBucket(bucket);
      return this.list(bucket, dir, opts);
    });
  }

  private async list(bucket: string, bucketDir: string, opts: ListOptions): Promise<ListPage> {
    const prefix = opts.prefix ?? '';
    if (prefix.includes('\0') || Buffer.byteLength(prefix, 'utf8') > MAX_KEY_BYTES) {
      return { objects: [], commonPrefixes: [], isTruncated: false };
    }
    const cache = new DirCache(this.sortedDirs);
    const source: ListSource = (seek) => {
      const walk = walkBucket(bucketDir, seek, this.names, cache);
      return {
        [Symbol.asyncIterator]: () => ({
          next: async () => {
            const r = await walk.next();
            if (r.done) return { done: true, value: undefined };
            const { key, file, folder, index } = r.value;
            return { done: false, value: { key, load: () => this.summarize(bucket, key, file, folder, index) } };
          },
          return: async () => {
            await walk.return(undefined);
            return { done: true, value: undefined };
          },
        }),
      };
    };
    return listFromSource(withLookahead(source, LIST_LOOKAHEAD), { ...opts, prefix });
  }

  /** A listing entry's summary: from a matching sidecar, else as a read would see it. */
  private async summarize(
    bucket: string,
    key: string,
    file: string,
    folder: ListedFolder,
    index: number,
  ): Promise<ObjectSummary | undefined> {
    if (!isValidKey(key)) return undefined;
    // Synchronous: one lstat per listed key, where the thread pool's round trip costs the
    // main thread three times the syscall (bench --profile).
    let st: Stats | undefined;
    try {
      st = lstatSync(file, { throwIfNoEntry: false });
    } catch {
      st = undefined;
    }
    if (!st || !st.isFile()) return undefined;
    // Every write places a new data file, so the file's identity names the version: a summary
    // read for it before is still exact, and the sidecar need not be read again.
    const known = folder.summary(index, st);
    if (known) return listedSummary(key, st, known);
    const sc = await readSidecar(this.layout.metaPath(bucket, key).path, { cached: false });
    const meta = this.describe(sc, bucket, key, st, { file });
    if (meta) {
      const summary = summaryOf(meta);
      folder.remember(index, st, summary);
      return summary;
    }
    try {
      const o = await this.openVersion(bucket, key);
      await o.fh.close();
      return summaryOf(o.meta);
    } catch (err) {
      if (err instanceof S3Error && err.code === 'NoSuchKey') return undefined;
      throw err;
    }
  }

  async close(): Promise<void> {
    await this.ready.catch(() => {});
    await this.layout.close();
  }
}

/** The key of a file's remembered ETag: its identity. */
function etagKey(st: Stats): string {
  return `${st.dev}:${st.ino}:${st.size}:${st.mtimeMs}`;
}

/** The `size` bytes of an open file; undefined when it is shorter (changed in place meanwhile). */
function readWholeFd(fd: number, size: number): Buffer | undefined {
  const data = Buffer.allocUnsafe(size);
  for (let n = 0; n < size;) {
    const got = readSync(fd, data, n, size - n, n);
    if (got === 0) return undefined;
    n += got;
  }
  return data;
}

/** The bytes of the regular file at `file` if it is still the one `st` describes (by its descriptor), else undefined. */
function readWholeIfSame(file: string, st: Stats): Buffer | undefined {
  return withFileSync(file, (fd) => {
    const now = fstatSync(fd);
    if (!now.isFile() || !sameIdentity(identityOf(now), identityOf(st))) return undefined;
    return readWholeFd(fd, st.size);
  });
}

/** `use` of `file` opened for reading, closed after; undefined when it cannot be opened. */
function withFileSync<T>(file: string, use: (fd: number) => T | undefined): T | undefined {
  let fd: number;
  try {
    fd = openSync(file, OPEN_FLAGS);
  } catch {
    return undefined;
  }
  try {
    return use(fd);
  } finally {
    closeSync(fd);
  }
}

/**
 * Removes a directory tree that holds only directories, bottom-up. Returns false (leaving
 * what it could not remove) when anything else is found.
 */
async function removeEmptyTree(dir: string): Promise<boolean> {
  let ok = true;
  for (const e of await fsp.readdir(dir, { withFileTypes: true })) {
    if (e.isDirectory()) ok = (await removeEmptyTree(path.join(dir, e.name))) && ok;
    else ok = false;
  }
  if (!ok) return false;
  try {
    await fsp.rmdir(dir);
    return true;
  } catch (err) {
    if (isErrno(err, 'ENOENT')) return true;
    if (isErrno(err, 'ENOTEMPTY', 'EEXIST')) return false;
    throw err;
  }
}
