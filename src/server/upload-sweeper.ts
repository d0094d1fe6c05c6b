/**
 * The background sweep of abandoned multipart uploads: every interval, each backend's
 * uploads older than the configured age are removed. It keeps no state of its own, so
 * several replicas may sweep the same store; the stores make a removal idempotent.
 */
import type { Backend } from '../backends/types';

export interface SweeperOptions {
  backends: () => Backend[];
  /** Uploads begun longer ago than this are removed (S3's lifecycle default here: 7 days). */
  maxAgeMs: number;
  intervalMs: number;
  log?: (line: string) => void;
}

/** Sweeps every backend; one store failing does not stop the others. Returns how many uploads went. */
export async function sweepOnce(backends: Backend[], maxAgeMs: number, now = Date.now(), log?: (line: string) => void): Promise<number> {
  const before = new Date(now - maxAgeMs);
  let removed = 0;
  for (const backend of backends) {
    if (!backend.multipart) continue;
    try {
      for (const bucket of await backend.listBuckets()) {
        removed += await backend.multipart.sweepUploads(bucket.name, before);
      }
    } catch (err) {
      log?.(`multipart sweep of a ${backend.kind} backend failed: ${describe(err)}`);
    }
  }
  return removed;
}

/** The error and, for a store's error mapped to an S3 one, what the store said. */
function describe(err: unknown): string {
  const e = err as { code?: unknown; message?: string; cause?: { message?: string } };
  const cause = e.cause?.message && e.cause.message !== e.message ? ` (${e.cause.message})` : '';
  return `${typeof e.code === 'string' ? `${e.code}: ` : ''}${e.message ?? String(err)}${cause}`;
}

export function startSweeper(opts: SweeperOptions): () => void {
  let running = false;
  const tick = async () => {
    if (running) return;
    running = true;
    try {
      const removed = await sweepOnce(opts.backends(), opts.maxAgeMs, Date.now(), opts.log);
      if (removed) opts.log?.(`removed ${removed} multipart upload(s) older than ${Math.round(opts.maxAgeMs / 3_600_000)} h`);
    } catch (err) {
      opts.log?.(`multipart sweep failed: ${(err as Error).message}`);
    } finally {
      running = false;
    }
  };
  const timer = setInterval(() => void tick(), opts.intervalMs);
  timer.unref();
  void tick();
  return () => clearInterval(timer);
}
