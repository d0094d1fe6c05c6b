/**
 * The background copier of a migration route, on the transfer engine `s3mux cp`/`sync` use
 * (src/transfer): `from` and `to` listed side by side, every key `to` lacks copied with its
 * attributes, `concurrency` at a time within `rate` bytes per second, retried with backoff.
 * What makes it a migration:
 * - it never overwrites: a key `to` holds (a write through s3mux, or an earlier copy) is kept,
 *   and each write is conditional (if-none-match), so a client write during the copy wins;
 * - a key deleted through s3mux (a tombstone) is never copied, and a copy that raced a delete
 *   is taken back;
 * - the engine's checkpoint and this copier's progress live in `to`'s reserved area, under a
 *   lease, so a copier killed at any point resumes there, in this process or another replica;
 * - keys that failed (a store out for a while) are tried again in later rounds, from the
 *   checkpoint, until they pass or the rounds run out.
 */
import { hostname } from 'node:os';
import { randomUUID } from 'node:crypto';
import { isS3Error, S3Error } from '../../errors';
import { describeError } from '../../observability/describe-error';
import type { BucketReservedArea } from '../../backends/reserved-store';
import { listLocation, ReservedCheckpointStore, Transfer, type TransferEvent } from '../../transfer';
import { isOutage } from './health';
import { locationOf, takeBackIfDeleted } from './copy-key';
import type { MigrationBackend } from './migrate';
import { Lease, readCheckpoint, writeCheckpoint, type MigrationCheckpoint } from './migration-state';

export interface CopierOptions {
  concurrency?: number;
  /** Bytes per second. */
  rate?: number;
  /** Rounds over the keys that failed before the copy ends with them as errors (default 10). */
  rounds?: number;
  /** Attempts per key within a round (default 5). */
  attempts?: number;
  /** How long the lease lasts without renewal (default 10 s: a killed copier's successor waits that long). */
  leaseMs?: number;
  /** How often progress is saved (default 1 s). */
  checkpointMs?: number;
  /** Longest pause between rounds and between retries (default 5 s). */
  maxBackoffMs?: number;
  /** Who copies (for the lease); default host + pid + random. */
  owner?: string;
  log?: (msg: string, fields?: Record<string, unknown>) => void;
}

/** Live copiers of this process, for the metrics endpoint. */
export const liveCopiers = new Set<MigrationCopier>();

/** The engine's own checkpoint (settled watermark, failed keys); this copier's progress is in migration-state's document. */
const ENGINE_CHECKPOINT = 'migrate/engine';

const sleep = (ms: number, signal?: AbortSignal) =>
  new Promise<void>((resolve) => {
    const t = setTimeout(resolve, ms);
    signal?.addEventListener('abort', () => {
      clearTimeout(t);
      resolve();
    });
  });

export class MigrationCopier {
  private readonly abort = new AbortController();
  private running?: Promise<MigrationCheckpoint | undefined>;
  private readonly area: BucketReservedArea;
  /** The last progress this copier wrote or read. */
  current?: MigrationCheckpoint;

  constructor(
    readonly route: MigrationBackend,
    private readonly opts: CopierOptions = {},
  ) {
    const area = route.stateArea;
    if (!area)
      throw new S3Error(
        'NotImplemented',
        `Neither ${route.to.backend.kind} nor ${route.from.backend.kind} can hold a migration checkpoint.`,
      );
    this.area = area;
  }

  private get stopped(): boolean {
    return this.abort.signal.aborted;
  }

  /** Runs until the copy is done (resolves with the final progress) or stop() (resolves undefined). */
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
    this.abort.abort();
    await this.running?.catch(() => undefined);
  }

  private async loop(): Promise<MigrationCheckpoint | undefined> {
    const owner = this.opts.owner ?? `${hostname()}:${process.pid}:${randomUUID().slice(0, 8)}`;
    const lease = new Lease(this.area, owner, this.opts.leaseMs ?? 10_000);
    let backoff = 250;
    while (!this.stopped) {
      try {
        const stored = await readCheckpoint(this.area);
        if (stored?.checkpoint.state === 'done') {
          await this.route.copyState();
          return (this.current = stored.checkpoint);
        }
        if (!(await lease.acquire())) {
          // Another replica copies; look again later (it may stop).
          if (stored) this.current = stored.checkpoint;
          await sleep(Math.min(this.opts.leaseMs ?? 10_000, 2000), this.abort.signal);
          continue;
        }
        try {
          return await this.copy(lease);
        } finally {
          await lease.release();
        }
      } catch (err) {
        // A store out, or another copier took over: wait, then take the checkpoint again.
        if (!isOutage(err) && !isS3Error(err, 'OperationAborted') && !isS3Error(err, 'PreconditionFailed')) throw err;
        this.opts.log?.('migration copier paused', { route: this.route.route, error: describeError(err) });
        await sleep(backoff, this.abort.signal);
        backoff = Math.min(backoff * 2, this.opts.maxBackoffMs ?? 5000);
      }
    }
    return undefined;
  }

  private async copy(lease: Lease): Promise<MigrationCheckpoint | undefined> {
    const { from, to, tombstones } = this.route;
    await this.route.createBucket();
    // The bucket's configuration and versions first: from then on `to` answers for them alone.
    await this.route.copyState();
    const stored = await readCheckpoint(this.area);
    let etag = stored?.etag;
    const now = () => new Date().toISOString();
    const cp: MigrationCheckpoint = stored?.checkpoint ?? {
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
      // What there is to move, for the remaining figures and the ETA from the start.
      cp.keysTotal = 0;
      cp.bytesTotal = 0;
      for await (const o of listLocation(locationOf(from))) {
        cp.keysTotal++;
        cp.bytesTotal += o.size;
        if (this.stopped) return undefined;
      }
      cp.state = 'copying';
      await save();
    }
    this.current = { ...cp };

    const deleted = new Set<string>();
    const takeBacks = new Set<Promise<void>>();
    let lastSave = Date.now();
    let saving: Promise<void> = Promise.resolve();
    const onEvent = (e: TransferEvent) => {
      if (e.type === 'progress') {
        cp.keysDone = e.progress.doneObjects;
        cp.bytesDone = e.progress.doneBytes;
        cp.rate = Math.round(e.progress.rate);
        if (Date.now() - lastSave >= (this.opts.checkpointMs ?? 1000)) {
          lastSave = Date.now();
          saving = saving.then(save);
        }
        return;
      }
      if (e.type !== 'object') return;
      if (e.action === 'copied') {
        const t = (async () => {
          // A delete through s3mux may have landed during the copy: the copy must not outlive it.
          const meta = await to.headObject(e.key).catch(() => undefined);
          if (meta && (await takeBackIfDeleted(to, e.key, meta.etag, tombstones))) cp.keysDeleted++;
          else {
            // Only while `to` still holds the copy (a client write since has an ETag of its own) and `from` the object listed.
            if (meta && e.sourceEtag !== undefined && e.sourceEtag !== meta.etag && meta.etag === e.etag) {
              const source = await from.headObject(e.key).catch(() => undefined);
              if (source?.etag === e.sourceEtag) await this.route.etags.record(e.key, e.sourceEtag, meta.etag);
            }
            cp.keysCopied++;
            cp.bytesCopied += e.size;
          }
        })().catch((err: unknown) => void this.error(cp, e.key, err));
        takeBacks.add(t);
        void t.finally(() => takeBacks.delete(t));
      } else if (e.action === 'kept') {
        if (deleted.has(e.key)) cp.keysDeleted++;
        else cp.keysNewer++;
      } else if (e.action === 'skipped') {
        cp.keysCopied++;
        cp.bytesCopied += e.size;
      } else if (e.action === 'failed') this.error(cp, e.key, e.error);
    };

    const rounds = this.opts.rounds ?? 10;
    let backoff = 500;
    for (let round = 1; ; round++) {
      cp.errors = 0;
      const transfer = await Transfer.create({
        source: locationOf(from),
        destination: locationOf(to),
        concurrency: this.opts.concurrency ?? 4,
        rateLimit: this.opts.rate,
        retry: { attempts: this.opts.attempts ?? 5, maxDelayMs: this.opts.maxBackoffMs ?? 5000 },
        conditionalWrites: true,
        // Never over what `to` holds; never a key deleted through s3mux.
        shouldCopy: async (src, dst) => {
          if (dst) return false;
          if (!(await tombstones.has(src.key))) return true;
          deleted.add(src.key);
          return false;
        },
        checkpoint: new ReservedCheckpointStore(this.area, ENGINE_CHECKPOINT),
        checkpointIntervalMs: this.opts.checkpointMs ?? 1000,
        progressIntervalMs: this.opts.checkpointMs ?? 1000,
        onEvent,
        signal: this.abort.signal,
      });
      const summary = await transfer.run();
      await Promise.all(takeBacks);
      await saving;
      if (this.stopped) {
        await save().catch(() => undefined);
        return undefined;
      }
      if (summary.failed === 0 || round >= rounds) break;
      this.opts.log?.('migration copier retries failed keys', { route: this.route.route, failed: summary.failed, round });
      await sleep(backoff, this.abort.signal);
      backoff = Math.min(backoff * 2, this.opts.maxBackoffMs ?? 5000);
    }
    cp.state = 'done';
    cp.finishedAt = now();
    await save();
    return { ...cp };
  }

  private error(cp: MigrationCheckpoint, key: string, err: unknown): void {
    cp.errors++;
    cp.lastErrors = [...cp.lastErrors, `${key}: ${typeof err === 'string' ? err : describeError(err)}`].slice(-20);
  }
}
