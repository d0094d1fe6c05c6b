/**
 * Where things live under an fs backend root, and start-up housekeeping.
 *
 *   <root>/<bucket>/...               object data at natural paths (see paths.ts)
 *   <root>/.s3mux/meta/<bucket>/...   JSON sidecars
 *   <root>/.s3mux/tmp/<owner>/        temp files of writes in progress (same filesystem,
 *                                     so the final rename is atomic), one folder per running
 *                                     s3mux (see TempSpace)
 *   <root>/.s3mux/conv/               file -> directory-form conversions in progress
 *                                     (`<id>/` holding `.s3mux-self`, and `<id>.json`
 *                                     naming the target, for crash recovery)
 *   <root>/.s3mux/names/<sha256>      the text of hashed (over-long) key segments
 *   <root>/.s3mux/reserved/<bucket>/  s3mux's own documents (bucket configuration, versions):
 *                                     see reserved.ts; `reserved-locks/` their locks
 */
import { randomBytes } from 'node:crypto';
import { promises as fsp } from 'node:fs';
import { hostname } from 'node:os';
import * as path from 'node:path';
import { S3Error } from '../../errors';
import { writeFileSyncing } from './durable-file';
import { dataParts, INTERNAL_DIR, isSafeBucketDirName, joinInside, metaParts, SELF_NAME } from './paths';

/** Loose temp files (the layout before per-owner folders) older than this are left-overs. */
export const TEMP_MAX_AGE_MS = 60 * 60 * 1000;
/** How often a running s3mux shows its temp folder is alive, and looks for dead ones. */
export const TEMP_HEARTBEAT_MS = 15_000;
export const TEMP_SWEEP_MS = 60_000;
/** A temp folder whose owner has not shown itself for this long belongs to a dead process. */
export const TEMP_STALE_MS = 10 * 60 * 1000;

/** Owner folders of this process (several backends may share a root), never swept by it. */
const LIVE_OWNERS = new Set<string>();
const HOST = hostname().replace(/[^A-Za-z0-9.-]/g, '_') || 'host';

function parseOwner(name: string): { host: string; pid: number } | undefined {
  const m = /^(.+)~(\d+)~[0-9a-f]{16}$/.exec(name);
  return m ? { host: m[1], pid: Number(m[2]) } : undefined;
}

/** Whether a process of this host is running (EPERM: it is, as another user). */
export function processAlive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch (err) {
    return isErrno(err, 'EPERM');
  }
}

/**
 * Whether an owner folder's writer is gone. On this host the process table says so at once
 * (our own pid under another folder name is an earlier run of this process id: a restarted
 * container); a folder of another host (a replica sharing the folder over the network) is
 * gone when its heartbeat stopped.
 */
function ownerIsDead(name: string, mtimeMs: number, now: number): boolean {
  if (LIVE_OWNERS.has(name)) return false;
  const owner = parseOwner(name);
  if (owner && owner.host === HOST && (owner.pid === process.pid || !processAlive(owner.pid))) return true;
  return now - mtimeMs > TEMP_STALE_MS;
}
/** A conversion record older than this belongs to a process that died mid-conversion. */
export const CONV_RECOVER_AGE_MS = 60 * 1000;

export function isErrno(err: unknown, ...codes: string[]): boolean {
  const code = (err as NodeJS.ErrnoException | undefined)?.code;
  return code !== undefined && codes.includes(code);
}

/** How many buckets' folder paths a Layout remembers. */
const BUCKET_DIRS_MAX = 1024;

export class Layout {
  readonly root: string;
  readonly internal: string;
  readonly tmp: string;
  readonly meta: string;
  readonly names: string;
  readonly conv: string;
  readonly reserved: string;
  readonly reservedLocks: string;
  /** This process's temp folder: `<host>~<pid>~<nonce>`, kept fresh by a heartbeat. */
  readonly ownTmp: string;
  private tempCount = 0;
  private timers: NodeJS.Timeout[] = [];
  private readonly bucketDirs = new Map<string, { data: string; meta: string }>();

  constructor(root: string) {
    this.root = path.resolve(root);
    this.internal = path.join(this.root, INTERNAL_DIR);
    this.tmp = path.join(this.internal, 'tmp');
    this.meta = path.join(this.internal, 'meta');
    this.names = path.join(this.internal, 'names');
    this.conv = path.join(this.internal, 'conv');
    this.reserved = path.join(this.internal, 'reserved');
    this.reservedLocks = path.join(this.internal, 'reserved-locks');
    this.ownTmp = path.join(this.tmp, `${HOST}~${process.pid}~${randomBytes(8).toString('hex')}`);
  }

  /** The bucket's directory; NoSuchBucket for a name that could not be one. */
  bucketDir(bucket: string): string {
    return this.bucketDirs.get(bucket)?.data ?? this.bucketDirsOf(bucket).data;
  }

  metaBucketDir(bucket: string): string {
    return this.bucketDirs.get(bucket)?.meta ?? this.bucketDirsOf(bucket).meta;
  }

  /**
   * A bucket's two folders, checked and joined once: every object request asks for both, and
   * the checked join costs more than the request's own key (bench --profile). Remembered for
   * names that passed, up to BUCKET_DIRS_MAX of them (a flood of made-up names cannot grow it).
   */
  private bucketDirsOf(bucket: string): { data: string; meta: string } {
    if (!isSafeBucketDirName(bucket)) throw new S3Error('NoSuchBucket', undefined, { BucketName: String(bucket) });
    const dirs = { data: joinInside(this.root, [bucket]), meta: joinInside(this.meta, [bucket]) };
    if (this.bucketDirs.size >= BUCKET_DIRS_MAX) this.bucketDirs.clear();
    this.bucketDirs.set(bucket, dirs);
    return dirs;
  }

  /** The natural data path of a key (a file, or a directory holding `.s3mux-self`). */
  dataPath(bucket: string, key: string): { bucketDir: string; parts: string[]; path: string } {
    const bucketDir = this.bucketDir(bucket);
    const parts = dataParts(key);
    return { bucketDir, parts, path: joinInside(bucketDir, parts) };
  }

  metaPath(bucket: string, key: string): { metaBucketDir: string; path: string } {
    const metaBucketDir = this.metaBucketDir(bucket);
    return { metaBucketDir, path: joinInside(metaBucketDir, metaParts(key)) };
  }

  /** A fresh temp path on the root's filesystem, in this process's temp folder. */
  tempPath(kind: string): string {
    // ownTmp is this instance's own folder: a counter names its files uniquely.
    return path.join(this.ownTmp, `${kind}-${++this.tempCount}`);
  }

  /**
   * Writes a small temp file, removing it again when the write fails (a full disk must not
   * leave empty files behind): created on the thread pool, the bytes written synchronously (a
   * sidecar is a few hundred bytes), then one fsync on the thread pool before it is renamed into
   * place: a crash must not leave an empty file where a sidecar was.
   */
  async writeTempFile(kind: string, data: string, flag = 'wx'): Promise<string> {
    const tmp = this.tempPath(kind);
    try {
      const written = await writeFileSyncing(tmp, data, { flag });
      await written.synced;
    } catch (err) {
      await fsp.rm(tmp, { force: true }).catch(() => {});
      throw err;
    }
    return tmp;
  }

  async init(): Promise<void> {
    await fsp.mkdir(this.root, { recursive: true });
    for (const d of [this.internal, this.tmp, this.meta, this.names, this.conv, this.reserved, this.reservedLocks, this.ownTmp])
      await fsp.mkdir(d, { recursive: true });
    LIVE_OWNERS.add(path.basename(this.ownTmp));
    await this.cleanTemps();
    await this.recoverConversions();
    this.timers.push(
      setInterval(
        () =>
          void fsp
            .mkdir(this.ownTmp, { recursive: true })
            .then(() => fsp.utimes(this.ownTmp, new Date(), new Date()))
            .catch(() => {}),
        TEMP_HEARTBEAT_MS,
      ).unref(),
      setInterval(() => void this.cleanTemps().catch(() => {}), TEMP_SWEEP_MS).unref(),
    );
  }

  /** Stops the heartbeat and removes this process's temp folder (writes have ended). */
  async close(): Promise<void> {
    for (const t of this.timers.splice(0)) clearInterval(t);
    LIVE_OWNERS.delete(path.basename(this.ownTmp));
    await fsp.rm(this.ownTmp, { recursive: true, force: true }).catch(() => {});
  }

  /**
   * Reclaims the temp space of processes that are gone (killed mid-write): their owner
   * folders, and loose files of the older layout. A live writer's folder, here or on another
   * replica, is never touched.
   */
  async cleanTemps(now = Date.now()): Promise<void> {
    for (const name of await fsp.readdir(this.tmp).catch(() => [] as string[])) {
      const p = path.join(this.tmp, name);
      const st = await fsp.lstat(p).catch(() => undefined);
      if (!st) continue;
      const dead = st.isDirectory() && parseOwner(name) ? ownerIsDead(name, st.mtimeMs, now) : now - st.mtimeMs > TEMP_MAX_AGE_MS;
      if (dead) await fsp.rm(p, { recursive: true, force: true }).catch(() => {});
    }
  }

  /**
   * Finishes conversions interrupted by a crash: the object's bytes are in
   * `conv/<id>/.s3mux-self` and `conv/<id>.json` names the directory they belong in.
   */
  async recoverConversions(minAgeMs = CONV_RECOVER_AGE_MS): Promise<void> {
    const now = Date.now();
    const names = await fsp.readdir(this.conv).catch(() => [] as string[]);
    for (const name of names) {
      const p = path.join(this.conv, name);
      const st = await fsp.lstat(p).catch(() => undefined);
      if (!st || now - st.mtimeMs < minAgeMs) continue;
      if (name.endsWith('.json')) {
        const holder = p.slice(0, -'.json'.length);
        try {
          const rec = JSON.parse(await fsp.readFile(p, 'utf8')) as { target?: unknown };
          if (typeof rec.target === 'string') await this.finishConversion(holder, rec.target);
        } catch {
          // unreadable record: keep the holder for a human, drop nothing
          continue;
        }
        await fsp.rm(holder, { recursive: true, force: true }).catch(() => {});
        await fsp.rm(p, { force: true }).catch(() => {});
      } else if (st.isDirectory() && !names.includes(`${name}.json`) && now - st.mtimeMs > TEMP_MAX_AGE_MS) {
        // A holder without record was abandoned before the original file was unlinked.
        await fsp.rm(p, { recursive: true, force: true }).catch(() => {});
      }
    }
  }

  private async finishConversion(holder: string, relTarget: string): Promise<void> {
    const target = path.resolve(this.root, relTarget);
    const rel = path.relative(this.root, target);
    if (rel === '' || rel.startsWith('..') || path.isAbsolute(rel) || rel.split(path.sep)[0] === INTERNAL_DIR) return;
    const self = path.join(holder, SELF_NAME);
    if (!(await fsp.lstat(self).catch(() => undefined))) return;
    const cur = await fsp.lstat(target).catch(() => undefined);
    if (!cur) {
      await fsp.mkdir(path.dirname(target), { recursive: true });
      await fsp.rename(holder, target);
    } else if (cur.isDirectory()) {
      await fsp.link(self, path.join(target, SELF_NAME)).catch(() => {});
    }
    // a file there is a newer version of the object: it wins
  }
}
