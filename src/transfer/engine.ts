/**
 * The transfer engine: pairs the source and destination listings key by key, decides each
 * key (copy, skip as equal, keep a newer destination, delete an extraneous one), and runs the
 * copies with bounded concurrency, one byte-rate limit, retries with backoff and a checkpoint
 * that lets a later run continue where this one stopped.
 *
 * The checkpoint records a settled watermark (every key up to it is done or listed as
 * failed), so a resumed run lists from there and retries the failures first.
 */
import { isS3Error } from '../errors';
import type { ObjectSummary } from '../backends/types';
import { listLocation, pairListings, sameListing, type Pair } from './listing';
import { copyOne, type CopyContext } from './object-copy';
import { Progress } from './progress';
import { RateLimiter } from './rate-limit';
import { DEFAULT_RETRY, withRetries } from './retry';
import type { Action, Checkpoint, Location, RetryPolicy, TransferEvent, TransferOptions, TransferSummary } from './types';

const MiB = 1024 * 1024;

export function locationLabel(loc: Location): string {
  return loc.label ?? `${loc.backend.kind}:${loc.bucket}/${loc.prefix}`;
}

function message(err: unknown): string {
  if (isS3Error(err)) return `${err.code}: ${err.message}`;
  return err instanceof Error ? err.message : String(err);
}

/** Keys in dispatch order; the watermark moves over a key once it and every key before it settled. */
class Watermark {
  private readonly queue: { key: string; done: boolean }[] = [];
  through?: string;

  constructor(start?: string) {
    this.through = start;
  }

  add(key: string, done: boolean): { key: string; done: boolean } {
    const entry = { key, done };
    this.queue.push(entry);
    this.advance();
    return entry;
  }

  advance(): void {
    while (this.queue.length > 0 && this.queue[0].done) this.through = this.queue.shift()!.key;
  }
}

export class Transfer {
  readonly progress: Progress;
  private readonly opts: TransferOptions;
  private readonly retry: RetryPolicy;
  private readonly ctx: CopyContext;
  private readonly failed = new Map<string, string>();
  private readonly watermark: Watermark;
  private readonly resumeFrom?: Checkpoint;
  private lastSave = 0;
  private saving: Promise<void> = Promise.resolve();

  private constructor(opts: TransferOptions, resume?: Checkpoint) {
    this.opts = opts;
    this.resumeFrom = resume;
    this.retry = { ...DEFAULT_RETRY, ...opts.retry };
    this.progress = new Progress(resume && { objects: resume.objects, bytes: resume.bytes });
    this.watermark = new Watermark(resume?.settledThrough);
    this.ctx = {
      source: opts.source,
      destination: opts.destination,
      limiter: opts.rateLimit ? new RateLimiter(opts.rateLimit) : undefined,
      retry: this.retry,
      multipartThreshold: opts.multipartThreshold ?? 64 * MiB,
      partSize: opts.partSize ?? 16 * MiB,
      serverSide: opts.serverSide ?? true,
      conditionalWrites: opts.conditionalWrites ?? false,
      signal: opts.signal,
      onRetry: (key, attempt, delayMs, err) => this.emit({ type: 'retry', key, attempt, delayMs, error: message(err) }),
    };
  }

  /** Loads the checkpoint (when given) and checks it belongs to these locations. */
  static async create(opts: TransferOptions): Promise<Transfer> {
    const cp = await opts.checkpoint?.load();
    if (cp) {
      const [src, dst] = [locationLabel(opts.source), locationLabel(opts.destination)];
      if (cp.source !== src || cp.destination !== dst)
        throw new Error(`the checkpoint is for ${cp.source} → ${cp.destination}, not ${src} → ${dst}`);
    }
    return new Transfer(opts, cp);
  }

  private emit(e: TransferEvent): void {
    this.opts.onEvent?.(e);
  }

  async run(): Promise<TransferSummary> {
    const { opts } = this;
    const interval = setInterval(
      () => this.emit({ type: 'progress', progress: this.progress.snapshot() }),
      opts.progressIntervalMs ?? 1000,
    );
    interval.unref();
    const running = new Set<Promise<void>>();
    const limit = Math.max(1, opts.concurrency ?? 8);
    const dispatch = async (work: () => Promise<void>) => {
      while (running.size >= limit) await Promise.race(running);
      if (opts.signal?.aborted) return;
      const p = work().finally(() => running.delete(p));
      running.add(p);
    };
    try {
      if (this.resumeFrom?.complete && this.resumeFrom.failed.length === 0) {
        // Nothing left: a finished transfer resumed again only re-checks by listing from scratch.
      }
      for (const key of this.resumeFrom?.failed ?? []) {
        if (opts.signal?.aborted) break;
        const pair = await this.pairFor(key);
        if (pair) await dispatch(() => this.settle(pair, undefined));
      }
      const startAfter = this.resumeFrom?.complete ? this.resumeFrom.settledThrough : this.watermark.through;
      const pairs = pairListings(listLocation(opts.source, startAfter), this.destinationListing(startAfter));
      for await (const pair of pairs) {
        if (opts.signal?.aborted) break;
        if (opts.filter && !opts.filter(pair.key)) {
          this.watermark.add(pair.key, true);
          continue;
        }
        if (pair.src) this.progress.listedOne(pair.src.size);
        const immediate = this.immediate(pair);
        const entry = this.watermark.add(pair.key, immediate !== undefined);
        if (immediate !== undefined) {
          if (immediate) this.record(pair.key, immediate, pair.src?.size ?? 0);
          continue;
        }
        await dispatch(() => this.settle(pair, entry));
        if (opts.signal?.aborted) break;
      }
      this.progress.listed = !opts.signal?.aborted;
      await Promise.all(running);
    } finally {
      clearInterval(interval);
      await Promise.allSettled(running);
    }
    await this.checkpoint(true);
    const summary = this.summary();
    this.emit({ type: 'progress', progress: this.progress.snapshot() });
    this.emit({ type: 'done', summary });
    return summary;
  }

  /** The destination's listing; in a dry run, a bucket that does not exist yet lists as empty. */
  private async *destinationListing(startAfter: string | undefined): AsyncGenerator<ObjectSummary> {
    try {
      yield* listLocation(this.opts.destination, startAfter);
    } catch (err) {
      if (!(this.opts.dryRun && isS3Error(err, 'NoSuchBucket'))) throw err;
    }
  }

  /** A key settled without a task: null when nothing happens to it, an action when it is decided by the listings alone. */
  private immediate(pair: Pair): Action | null | undefined {
    if (!pair.src) return this.opts.deleteExtraneous ? undefined : null;
    if (pair.dst && !this.opts.overwrite && sameListing(pair.src, pair.dst)) return 'skipped';
    return undefined;
  }

  /** A failed key from a checkpoint, as both sides hold it now. */
  private async pairFor(key: string): Promise<Pair | undefined> {
    const { source, destination } = this.opts;
    const head = async (loc: Location): Promise<ObjectSummary | undefined> => {
      try {
        const m = await loc.backend.headObject(loc.bucket, loc.prefix + key);
        return { key, size: m.size, etag: m.etag, lastModified: m.lastModified, storageClass: m.storageClass };
      } catch (err) {
        if (isS3Error(err, 'NoSuchKey')) return undefined;
        throw err;
      }
    };
    const [src, dst] = await Promise.all([head(source), head(destination)]);
    if (!src) return undefined;
    this.progress.listedOne(src.size);
    if (dst && !this.opts.overwrite && sameListing(src, dst)) {
      this.record(key, 'skipped', src.size);
      return undefined;
    }
    return { key, src, dst };
  }

  private async settle(pair: Pair, entry: { done: boolean } | undefined): Promise<void> {
    const size = pair.src?.size ?? 0;
    let action: Action;
    let how: 'server-side' | 'stream' | 'multipart' | undefined;
    let etag: string | undefined;
    let error: string | undefined;
    try {
      ({ action, how, etag } = pair.src ? await this.copy(pair.src, pair.dst) : await this.delete(pair.key));
    } catch (err) {
      action = 'failed';
      error = message(err);
    }
    this.record(pair.key, action, size, how, error, etag === undefined ? undefined : { etag, sourceEtag: pair.src!.etag });
    if (entry) {
      entry.done = true;
      this.watermark.advance();
    }
    await this.checkpoint(false);
  }

  private async copy(
    src: ObjectSummary,
    dst: ObjectSummary | undefined,
  ): Promise<{ action: Action; how?: 'server-side' | 'stream' | 'multipart'; etag?: string }> {
    if (this.opts.shouldCopy && !(await this.opts.shouldCopy(src, dst))) return { action: 'kept' };
    if (this.opts.dryRun) return { action: 'copied' };
    try {
      const r = await withRetries(
        () => copyOne(this.ctx, src.key, dst),
        this.retry,
        (a, d, e) => this.ctx.onRetry(src.key, a, d, e),
        this.opts.signal,
      );
      return { action: 'copied', how: r.how, etag: r.meta.etag };
    } catch (err) {
      // A write condition that failed: a client wrote the key after the comparison; its write wins.
      if (this.ctx.conditionalWrites && isS3Error(err, 'PreconditionFailed')) return { action: 'kept' };
      // Gone from the source since it was listed: nothing to copy.
      if (isS3Error(err, 'NoSuchKey')) return { action: 'skipped' };
      throw err;
    }
  }

  private async delete(key: string): Promise<{ action: Action; how?: undefined; etag?: undefined }> {
    const { destination } = this.opts;
    if (!this.opts.dryRun)
      await withRetries(
        () => destination.backend.deleteObject(destination.bucket, destination.prefix + key),
        this.retry,
        (a, d, e) => this.ctx.onRetry(key, a, d, e),
        this.opts.signal,
      );
    return { action: 'deleted' };
  }

  private record(
    key: string,
    action: Action,
    size: number,
    how?: 'server-side' | 'stream' | 'multipart',
    error?: string,
    etags?: { etag: string; sourceEtag: string },
  ): void {
    this.progress.settled(action, size);
    if (action === 'failed') this.failed.set(key, error ?? 'failed');
    else this.failed.delete(key);
    this.emit({ type: 'object', key, action, size, how, error, ...etags, dryRun: this.opts.dryRun || undefined });
  }

  /** Saves the checkpoint: at the end, or when the interval has passed. Saves never overlap. */
  private checkpoint(final: boolean): Promise<void> {
    const store = this.opts.checkpoint;
    if (!store || this.opts.dryRun) return Promise.resolve();
    const now = Date.now();
    if (!final && now - this.lastSave < (this.opts.checkpointIntervalMs ?? 2000)) return Promise.resolve();
    this.lastSave = now;
    const counts = this.progress;
    const cp: Checkpoint = {
      version: 1,
      source: locationLabel(this.opts.source),
      destination: locationLabel(this.opts.destination),
      settledThrough: this.watermark.through,
      failed: [...this.failed.keys()],
      objects: counts.doneObjects,
      bytes: counts.doneBytes,
      complete: final && this.progress.listed,
      updated: new Date(now).toISOString(),
    };
    this.saving = this.saving.then(() => store.save(cp));
    return this.saving;
  }

  summary(): TransferSummary {
    const elapsedMs = Date.now() - this.progress.started;
    return {
      ...this.progress.counts,
      elapsedMs,
      rate: elapsedMs > 0 ? (this.progress.counts.copiedBytes * 1000) / elapsedMs : 0,
      errors: [...this.failed].map(([key, error]) => ({ key, error })),
      dryRun: this.opts.dryRun ?? false,
      aborted: this.opts.signal?.aborted ?? false,
    };
  }
}

/** Runs a transfer to its end (or until `signal` aborts it) and returns its summary. */
export async function runTransfer(opts: TransferOptions): Promise<TransferSummary> {
  return (await Transfer.create(opts)).run();
}
