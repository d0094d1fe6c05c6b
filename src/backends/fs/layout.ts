/**
 * Where things live under an fs backend root, and start-up housekeeping.
 *
 *   <root>/<bucket>/...               object data at natural paths (see paths.ts)
 *   <root>/.s3mux/meta/<bucket>/...   JSON sidecars
 *   <root>/.s3mux/tmp/                temp files of writes in progress (same filesystem,
 *                                     so the final rename is atomic)
 *   <root>/.s3mux/conv/               file -> directory-form conversions in progress
 *                                     (`<id>/` holding `.s3mux-self`, and `<id>.json`
 *                                     naming the target, for crash recovery)
 *   <root>/.s3mux/names/<sha256>      the text of hashed (over-long) key segments
 */
import { randomBytes } from 'node:crypto';
import { promises as fsp } from 'node:fs';
import * as path from 'node:path';
import { S3Error } from '../../errors';
import { dataParts, INTERNAL_DIR, isSafeBucketDirName, joinInside, metaParts, SELF_NAME } from './paths';

/** Temp files older than this are left-overs of a killed process. */
export const TEMP_MAX_AGE_MS = 60 * 60 * 1000;
/** A conversion record older than this belongs to a process that died mid-conversion. */
export const CONV_RECOVER_AGE_MS = 60 * 1000;

export function isErrno(err: unknown, ...codes: string[]): boolean {
  const code = (err as NodeJS.ErrnoException | undefined)?.code;
  return code !== undefined && codes.includes(code);
}

export class Layout {
  readonly root: string;
  readonly internal: string;
  readonly tmp: string;
  readonly meta: string;
  readonly names: string;
  readonly conv: string;

  constructor(root: string) {
    this.root = path.resolve(root);
    this.internal = path.join(this.root, INTERNAL_DIR);
    this.tmp = path.join(this.internal, 'tmp');
    this.meta = path.join(this.internal, 'meta');
    this.names = path.join(this.internal, 'names');
    this.conv = path.join(this.internal, 'conv');
  }

  /** The bucket's directory; NoSuchBucket for a name that could not be one. */
  bucketDir(bucket: string): string {
    if (!isSafeBucketDirName(bucket)) throw new S3Error('NoSuchBucket', undefined, { BucketName: String(bucket) });
    return joinInside(this.root, [bucket]);
  }

  metaBucketDir(bucket: string): string {
    if (!isSafeBucketDirName(bucket)) throw new S3Error('NoSuchBucket', undefined, { BucketName: String(bucket) });
    return joinInside(this.meta, [bucket]);
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

  /** A fresh temp path on the root's filesystem. */
  tempPath(kind: string): string {
    return path.join(this.tmp, `${kind}-${process.pid}-${randomBytes(8).toString('hex')}`);
  }

  async init(): Promise<void> {
    await fsp.mkdir(this.root, { recursive: true });
    for (const d of [this.internal, this.tmp, this.meta, this.names, this.conv]) await fsp.mkdir(d, { recursive: true });
    await this.cleanTemps();
    await this.recoverConversions();
  }

  /** Removes temp files left by killed processes (older than TEMP_MAX_AGE_MS). */
  async cleanTemps(maxAgeMs = TEMP_MAX_AGE_MS): Promise<void> {
    const now = Date.now();
    for (const name of await fsp.readdir(this.tmp).catch(() => [] as string[])) {
      const p = path.join(this.tmp, name);
      const st = await fsp.lstat(p).catch(() => undefined);
      if (st && now - st.mtimeMs > maxAgeMs) await fsp.rm(p, { recursive: true, force: true }).catch(() => {});
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
