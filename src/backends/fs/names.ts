/**
 * The registry of hashed key segments: `<root>/.s3mux/names/<sha256 hex>` holds the text of
 * a segment too long to be a file name. Content-addressed, so it never needs updating,
 * and any instance (or process) can read what another wrote.
 *
 * A name outlives the objects that used it (a segment may be any key's, in any bucket, at any
 * depth, so a delete cannot tell whether it was the last), and a churn of long keys would grow
 * the folder without bound. So after enough new names a sweep walks the data trees and removes
 * the name files no entry names. A write records its names just before it renames its file
 * into place, so a name recorded (or touched again: `record` refreshes the file's mtime) within
 * the grace period is kept whatever the walk saw; one the sweep is removing is first renamed
 * aside and put back if a write touched it meanwhile.
 */
import { randomBytes } from 'node:crypto';
import { promises as fsp } from 'node:fs';
import * as path from 'node:path';
import { isErrno, type Layout } from './layout';
import { HASH_PREFIX, INTERNAL_DIR } from './paths';
import { sha256Hex } from '../../auth/digests';

const CACHE_MAX = 10_000;
const HASH_RE = /^[0-9a-f]{64}$/;
/** A name file set aside by a sweep: `<hash>.dead~<nonce>` (left behind only by a crash). */
const DEAD_RE = /^([0-9a-f]{64})\.dead~[0-9a-f]+$/;

export interface NameSweepOptions {
  /** A name recorded less than this long before a sweep began is kept (default 10 minutes). */
  graceMs?: number;
  /** New name files before a sweep, at least (default 1,000; also at least a tenth of the entries the last sweep walked, and the names it kept). */
  minNewNames?: number;
}

export class NameRegistry {
  /** Segment by hash, and when this process last recorded it (then the file's mtime is at least that). */
  private readonly cache = new Map<string, { segment: string; recorded: number }>();
  private readonly graceMs: number;
  private readonly minNewNames: number;
  /** Name files this process created since its last sweep, and how many call for the next one. */
  private created = 0;
  private sweepAfter: number;
  private sweeping?: Promise<unknown>;

  constructor(
    private readonly layout: Layout,
    opts: NameSweepOptions = {},
  ) {
    this.graceMs = opts.graceMs ?? 10 * 60_000;
    this.minNewNames = opts.minNewNames ?? 1000;
    this.sweepAfter = this.minNewNames;
  }

  /** Makes sure the segment's text can be found from its hash, and keeps it from the next sweeps' grace. */
  async record(segment: string): Promise<void> {
    const hash = sha256Hex(segment);
    const now = Date.now();
    const hit = this.cache.get(hash);
    // Recorded lately: its mtime keeps it from any sweep now under way (see sweep).
    if (hit?.segment === segment && now - hit.recorded < this.graceMs / 2) return;
    const file = path.join(this.layout.names, hash);
    const touched = await fsp.utimes(file, new Date(now), new Date(now)).then(
      () => true,
      (err: unknown) => {
        if (isErrno(err, 'ENOENT')) return false;
        throw err;
      },
    );
    const intact = touched && (hit?.segment === segment || (await fsp.readFile(file, 'utf8').catch(() => undefined)) === segment);
    if (!intact) {
      const tmp = await this.layout.writeTempFile('name', segment);
      try {
        await fsp.rename(tmp, file);
      } catch (err) {
        await fsp.rm(tmp, { force: true });
        throw err;
      }
      if (!touched) this.created++;
    }
    this.remember(hash, segment, now);
    if (this.created >= this.sweepAfter && !this.sweeping) {
      this.sweeping = this.sweep()
        .catch(() => undefined)
        .finally(() => (this.sweeping = undefined));
    }
  }

  /** The segment whose hash this is, or undefined when unknown. */
  async lookup(hash: string): Promise<string | undefined> {
    const hit = this.cache.get(hash);
    if (hit !== undefined) return hit.segment;
    try {
      const text = await fsp.readFile(path.join(this.layout.names, hash), 'utf8');
      if (sha256Hex(text) !== hash) return undefined;
      this.remember(hash, text, 0);
      return text;
    } catch (err) {
      if (isErrno(err, 'ENOENT', 'ENOTDIR')) return undefined;
      throw err;
    }
  }

  /**
   * Removes the name files that no entry of any bucket's data tree (nor an interrupted
   * conversion's target) names and that were last recorded before the grace period; returns
   * how many. A walk that fails removes nothing.
   */
  async sweep(): Promise<{ removed: number; kept: number }> {
    const began = Date.now();
    this.created = 0;
    const { hashes: used, entries } = await this.referencedHashes();
    const old = (mtimeMs: number) => mtimeMs < began - this.graceMs;
    const nonce = randomBytes(6).toString('hex');
    let removed = 0;
    let kept = 0;
    for (const name of await fsp.readdir(this.layout.names)) {
      const file = path.join(this.layout.names, name);
      const dead = DEAD_RE.exec(name);
      if (dead) {
        // Set aside (its ctime) before the grace period: by a sweep that crashed, not one under
        // way. Put back a name still used, else finish removing it.
        const st = await fsp.lstat(file).catch(() => undefined);
        if (!st || !old(st.ctimeMs)) continue;
        if (used.has(dead[1])) await fsp.link(file, path.join(this.layout.names, dead[1])).catch(() => undefined);
        await fsp.rm(file, { force: true });
        continue;
      }
      if (!HASH_RE.test(name)) continue;
      const st = used.has(name) ? undefined : await fsp.lstat(file).catch(() => undefined);
      if (!st || !old(st.mtimeMs)) {
        kept++;
        continue;
      }
      const aside = `${file}.dead~${nonce}`;
      if (
        !(await fsp.rename(file, aside).then(
          () => true,
          () => false,
        ))
      )
        continue;
      // A write that touched it before it was set aside: it stays. One touching it after finds it gone and writes it again.
      const now = await fsp.lstat(aside).catch(() => undefined);
      if (now && !old(now.mtimeMs)) {
        await fsp.rename(aside, file).catch(() => undefined);
        kept++;
        continue;
      }
      await fsp.rm(aside, { force: true });
      this.cache.delete(name);
      removed++;
    }
    this.sweepAfter = Math.max(this.minNewNames, Math.ceil(entries / 10), kept);
    return { removed, kept };
  }

  /** The hashes that entries of the data trees name, and how many entries were walked. */
  private async referencedHashes(): Promise<{ hashes: Set<string>; entries: number }> {
    const hashes = new Set<string>();
    let entries = 0;
    const walk = async (dir: string, top: boolean): Promise<void> => {
      let listed;
      try {
        listed = await fsp.readdir(dir, { withFileTypes: true });
      } catch (err) {
        if (isErrno(err, 'ENOENT', 'ENOTDIR')) return;
        throw err;
      }
      for (const d of listed) {
        entries++;
        if (top && d.name === INTERNAL_DIR) continue;
        if (d.name.startsWith(HASH_PREFIX)) hashes.add(d.name.slice(HASH_PREFIX.length));
        // A bucket folder may be a link to a folder elsewhere; below it, links are not followed (nor listed).
        const folder =
          d.isDirectory() || (top && d.isSymbolicLink() && (await fsp.stat(path.join(dir, d.name)).catch(() => undefined))?.isDirectory());
        if (folder) await walk(path.join(dir, d.name), false);
      }
    };
    await walk(this.layout.root, true);
    // A conversion a crash interrupted is finished at the next start, at the target it names.
    for (const name of await fsp.readdir(this.layout.conv).catch(() => [] as string[])) {
      if (!name.endsWith('.json')) continue;
      const rec = await fsp.readFile(path.join(this.layout.conv, name), 'utf8').then(
        (t) => JSON.parse(t) as { target?: unknown },
        () => undefined,
      );
      if (typeof rec?.target !== 'string') continue;
      for (const seg of rec.target.split(/[\\/]/)) if (seg.startsWith(HASH_PREFIX)) hashes.add(seg.slice(HASH_PREFIX.length));
    }
    return { hashes, entries };
  }

  /** Resolves once a sweep under way (if any) has ended. */
  async settled(): Promise<void> {
    await this.sweeping;
  }

  private remember(hash: string, segment: string, recorded: number): void {
    if (this.cache.size >= CACHE_MAX) this.cache.clear();
    this.cache.set(hash, { segment, recorded });
  }
}
