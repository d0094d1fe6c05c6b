/**
 * The background copier of a migration route: every key of `from`, in key order, is copied to
 * `to` by copyKey (which never overwrites a write made through s3mux nor revives a deleted
 * key), `concurrency` at a time, within `rate` bytes per second. A key whose store fails is
 * retried with backoff for as long as the store is out (an outage pauses the copy); a key
 * refused for good is counted as an error and reported. Progress is checkpointed in `to`'s
 * reserved area, under a lease, so a copier killed at any point resumes where the last
 * checkpoint says, in this process or another replica.
 */
import { hostname } from 'node:os';
import { randomUUID } from 'node:crypto';
import { isS3Error, S3Error } from '../../errors';
import { describeError } from '../../observability/describe-error';
import type { BucketReservedArea } from '../../backends/reserved-store';
import type { ObjectSummary } from '../../backends/types';
import { isOutage } from './health';
import { copyKey, type CopyResult } from './copy-key';
import type { MigrationBackend } from './migrate';
import { Lease, readCheckpoint, writeCheckpoint, type MigrationCheckpoint } from './migration-state';
import type { Target } from './target';
import { Throttle } from './throttle';

export interface CopierOptions {
  concurrency?: number;
  /** Bytes per second. */
  rate?: number;
  /** Attempts for a key the store refuses (not an outage) before it counts as an error (default 3). */
  attempts?: number;
  /** How long the lease lasts without renewal (default 30 s). */
  leaseMs?: number;
  /** How often progress is checkpointed (default 1 s). */
  checkpointMs?: number;
  /** Longest pause between retries of a store that is out (default 5 s). */
  maxBackoffMs?: number;
  /** Who copies (for the lease); default host + pid + random. */
  owner?: string;
  log?: (msg: string, fields?: Record<string, unknown>) => void;
}

/** Every object of a target from a position, in key order. */
export async function* walkKeys(t: Target, after?: string): AsyncGenerator<ObjectSummary> {
  for (;;) {
    const page = await t.listObjects({ prefix: '', startAfter: after, maxKeys: 1000 });
    for (const o of page.objects) yield o;
    if (!page.isTruncated) return;
    const next = page.nextStartAfter ?? page.objects.at(-1)?.key;
    if (next === undefined || next === after) return;
    after = next;
  }
}

/** Live copiers of this process, for the metrics endpoint. */
export const liveCopiers = new Set<MigrationCopier>();

class Stopped extends Error {}

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

export class MigrationCopier {
  private stopped = false;
  private running?: Promise<MigrationCheckpoint | undefined>;
  private readonly area: BucketReservedArea;
  private readonly throttle?: Throttle;
  /** The last checkpoint this copier wrote or read. */
  current?: MigrationCheckpoint;

  constructor(
    readonly route: MigrationBackend,
    private readonly opts: CopierOptions = {},
  ) {
    const area = route.to.area();
    if (!area) throw new S3Error('NotImplemented', `The ${route.to.backend.kind} backend cannot hold a migration checkpoint.`);
    this.area = area;
    if (opts.rate) this.throttle = new Throttle(opts.rate);
  }

  /** Runs until the copy is done (resolves with the final checkpoint) or stop() (resolves undefined). */
  run(): Promise<MigrationCheckpoint | undefined> {
    this.running ??= (async () => {
      liveCopiers.add(this);
      try {
        return await this.loop();
      } finally {
        liveCopiers.delete(this);
      }
    })();
    return this.running;
  }

  async stop(): Promise<void> {
    this.stopped = true;
    await this.running?.catch(() => undefined);
  }

  private async loop(): Promise<MigrationCheckpoint | undefined> {
    const owner = this.opts.owner ?? `${hostname()}:${process.pid}:${randomUUID().slice(0, 8)}`;
    const lease = new Lease(this.area, owner, this.opts.leaseMs ?? 30_000);
    let backoff = 250;
    while (!this.stopped) {
      try {
        const stored = await readCheckpoint(this.area);
        if (stored?.checkpoint.state === 'done') return (this.current = stored.checkpoint);
        if (!(await lease.acquire())) {
          // Another replica copies; look again later (it may stop).
          if (stored) this.current = stored.checkpoint;
          await sleep(Math.min(this.opts.leaseMs ?? 30_000, 5000));
          continue;
        }
        try {
          return await this.copy(lease);
        } finally {
          await lease.release();
        }
      } catch (err) {
        if (!isOutage(err) && !isS3Error(err, 'OperationAborted')) throw err;
        this.opts.log?.('migration copier paused', { route: this.route.route, error: describeError(err) });
        await sleep(backoff);
        backoff = Math.min(backoff * 2, this.opts.maxBackoffMs ?? 5000);
      }
    }
    return undefined;
  }

  private async copy(lease: Lease): Promise<MigrationCheckpoint | undefined> {
    const { from, to } = this.route;
    await this.route.createBucket();
    let stored = await readCheckpoint(this.area);
    let etag = stored?.etag;
    const now = () => new Date().toISOString();
    let cp: MigrationCheckpoint = stored?.checkpoint ?? {
      route: this.route.route,
      from: from.label,
      to: to.label,
      state: 'counting',
      keysTotal: 0,
      bytesTotal: 0,
      keysDone: 0,
      bytesDone: 0,
      keysCopied: 0,
      bytesCopied: 0,
      keysNewer: 0,
      keysDeleted: 0,
      errors: 0,
      lastErrors: [],
      rate: 0,
      startedAt: now(),
      updatedAt: now(),
    };
    const save = async () => {
      cp.updatedAt = now();
      await lease.renew();
      etag = await writeCheckpoint(this.area, cp, etag);
      this.current = { ...cp };
    };
    if (cp.state === 'counting') {
      // What is there to move, for the remaining figures and the ETA.
      cp.keysTotal = 0;
      cp.bytesTotal = 0;
      for await (const o of walkKeys(from)) {
        cp.keysTotal++;
        cp.bytesTotal += o.size;
        if (this.stopped) return undefined;
      }
      cp.state = 'copying';
      await save();
      stored = undefined;
    }
    this.current = { ...cp };

    const limit = Math.max(1, this.opts.concurrency ?? 4);
    // Keys under way in listing order; the checkpoint advances over the finished front.
    const window: Array<{ key: string; size: number; result?: CopyResult | 'error' }> = [];
    const inFlight = new Set<Promise<void>>();
    let lastSave = Date.now();
    let rateMark = { at: Date.now(), bytes: cp.bytesCopied };
    const advance = () => {
      while (window.length && window[0].result && !(this.stopped && window[0].result === 'error')) {
        const w = window.shift()!;
        const result = w.result as CopyResult | 'error';
        cp.after = w.key;
        cp.keysDone++;
        cp.bytesDone += w.size;
        if (result === 'error') cp.errors++;
        else if (result.outcome === 'copied' || result.outcome === 'present') {
          cp.keysCopied++;
          cp.bytesCopied += result.bytes;
        } else if (result.outcome === 'newer') cp.keysNewer++;
        else if (result.outcome === 'deleted') cp.keysDeleted++;
      }
    };
    const maybeSave = async (force = false) => {
      if (!force && Date.now() - lastSave < (this.opts.checkpointMs ?? 1000)) return;
      const secs = (Date.now() - rateMark.at) / 1000;
      if (secs > 0) cp.rate = Math.round((cp.bytesCopied - rateMark.bytes) / secs);
      rateMark = { at: Date.now(), bytes: cp.bytesCopied };
      lastSave = Date.now();
      await save();
    };

    for await (const o of walkKeys(from, cp.after)) {
      if (this.stopped) break;
      const item: (typeof window)[number] = { key: o.key, size: o.size };
      window.push(item);
      const p = this.copyWithRetries(o.key).then(
        (r) => {
          item.result = r;
        },
        (err: unknown) => {
          // Stopped half-way: the key stays unfinished, so the checkpoint stops before it.
          if (err instanceof Stopped) return;
          item.result = 'error';
          cp.lastErrors = [...cp.lastErrors, `${o.key}: ${describeError(err)}`].slice(-20);
        },
      );
      const tracked = p.finally(() => inFlight.delete(tracked));
      inFlight.add(tracked);
      if (inFlight.size >= limit) await Promise.race(inFlight);
      advance();
      await maybeSave();
    }
    await Promise.all(inFlight);
    advance();
    if (this.stopped) {
      await maybeSave(true);
      return undefined;
    }
    cp.state = 'done';
    cp.finishedAt = now();
    await maybeSave(true);
    return { ...cp };
  }

  /** One key: retried while its store is out (the copy pauses with it), a few times when refused. */
  private async copyWithRetries(key: string): Promise<CopyResult> {
    const { from, to, tombstones } = this.route;
    const shape = this.throttle ? (b: import('node:stream').Readable) => this.throttle!.limit(b) : undefined;
    let refused = 0;
    let backoff = 200;
    for (;;) {
      try {
        return await copyKey(from, to, key, tombstones, shape);
      } catch (err) {
        if (this.stopped) throw new Stopped();
        if (!isOutage(err) && ++refused >= (this.opts.attempts ?? 3)) throw err;
        await sleep(backoff);
        backoff = Math.min(backoff * 2, this.opts.maxBackoffMs ?? 5000);
      }
    }
  }
}
