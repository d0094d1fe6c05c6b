/**
 * The background sweep of abandoned multipart uploads. It touches only what the routing table
 * exposes for writing: the real bucket and prefix of each writable route, and the default
 * backend's buckets that unrouted names reach. A read-only route is never swept, nor anything
 * else in a store shared with other applications (their uploads in other buckets, or outside
 * a route's prefix, are not s3mux's to abort). It keeps no state of its own, so several
 * replicas may sweep the same store; an upload another replica removed is simply skipped.
 */
import type { Backend } from '../backends/types';
import type { Router } from '../router/router';
import { isS3Error } from '../errors';
import { describeError } from '../observability/describe-error';

/** A place whose uploads s3mux owns: a real bucket and key prefix on one backend instance. */
export interface SweepTarget {
  backend: Backend;
  backendName: string;
  /** Undefined: every bucket of the backend except the names in `except` (the default backend). */
  bucket?: string;
  prefix: string;
  except?: ReadonlySet<string>;
}

/** What the table routes writes to, each place once. */
export function sweepTargets(router: Router): SweepTarget[] {
  const routes = router.explicitRoutes();
  const targets: SweepTarget[] = routes
    .filter((r) => !r.readOnly)
    .map((r) => ({ backend: r.backend, backendName: r.backendName, bucket: r.bucket, prefix: r.prefix }));
  // An unrouted name reaches the default backend's bucket of that name, read-write; a routed
  // name hides the default backend's bucket of the same name.
  targets.push({
    backend: router.defaultBackend,
    backendName: router.defaultBackendName,
    prefix: '',
    except: new Set(routes.map((r) => r.name)),
  });
  return targets;
}

export interface SweepReport {
  removed: number;
  failed: boolean;
  /** Open uploads seen per backend name (before removal), and removed per backend name. */
  open: Map<string, number>;
  removedBy: Map<string, number>;
}

export interface SweeperOptions {
  targets: () => SweepTarget[];
  /** Uploads begun longer ago than this are removed (S3's lifecycle default here: 7 days). */
  maxAgeMs: number;
  intervalMs: number;
  log?: (line: string) => void;
  onSweep?: (report: SweepReport) => void;
}

/** The (bucket, prefix) places of one backend instance, none inside another. */
async function places(backend: Backend, targets: SweepTarget[]): Promise<Array<{ bucket: string; prefix: string }>> {
  const out: Array<{ bucket: string; prefix: string }> = [];
  for (const t of targets) {
    if (t.bucket !== undefined) out.push({ bucket: t.bucket, prefix: t.prefix });
    else for (const b of await backend.listBuckets()) if (!t.except?.has(b.name)) out.push({ bucket: b.name, prefix: '' });
  }
  const covered = (p: { bucket: string; prefix: string }, i: number) =>
    out.some((q, j) => j !== i && q.bucket === p.bucket && p.prefix.startsWith(q.prefix) && (q.prefix !== p.prefix || j < i));
  return out.filter((p, i) => !covered(p, i));
}

/** Removes the uploads under bucket/prefix begun before `before`; returns [open, removed]. */
async function sweepPlace(backend: Backend, bucket: string, prefix: string, before: Date): Promise<[number, number]> {
  const multipart = backend.multipart!;
  let open = 0;
  let removed = 0;
  let keyMarker: string | undefined;
  let uploadIdMarker: string | undefined;
  for (;;) {
    const page = await multipart.listUploads(bucket, { prefix, keyMarker, uploadIdMarker, maxUploads: 1000 });
    for (const u of page.uploads) {
      open++;
      if (u.initiated >= before) continue;
      try {
        await multipart.abortUpload(bucket, u.key, u.uploadId);
        removed++;
      } catch (err) {
        if (!isS3Error(err, 'NoSuchUpload')) throw err;
      }
    }
    if (!page.isTruncated || (page.nextKeyMarker === undefined && page.nextUploadIdMarker === undefined)) break;
    keyMarker = page.nextKeyMarker;
    uploadIdMarker = page.nextUploadIdMarker;
  }
  return [open, removed];
}

/** Sweeps every target; one store failing does not stop the others. */
export async function sweepOnce(
  targets: SweepTarget[],
  maxAgeMs: number,
  now = Date.now(),
  log?: (line: string) => void,
): Promise<SweepReport> {
  const before = new Date(now - maxAgeMs);
  const report: SweepReport = { removed: 0, failed: false, open: new Map(), removedBy: new Map() };
  const byBackend = new Map<Backend, SweepTarget[]>();
  for (const t of targets) {
    if (!t.backend.multipart) continue;
    byBackend.set(t.backend, [...(byBackend.get(t.backend) ?? []), t]);
  }
  for (const [backend, ts] of byBackend) {
    const name = ts[0].backendName;
    let list: Array<{ bucket: string; prefix: string }>;
    try {
      list = await places(backend, ts);
    } catch (err) {
      report.failed = true;
      log?.(`multipart sweep of backend '${name}' (${backend.kind}) could not list its buckets: ${describeError(err)}`);
      continue;
    }
    for (const p of list) {
      try {
        const [open, removed] = await sweepPlace(backend, p.bucket, p.prefix, before);
        report.open.set(name, (report.open.get(name) ?? 0) + open - removed);
        report.removedBy.set(name, (report.removedBy.get(name) ?? 0) + removed);
        report.removed += removed;
      } catch (err) {
        if (isS3Error(err, 'NoSuchBucket')) continue;
        report.failed = true;
        log?.(
          `multipart sweep of backend '${name}' (${backend.kind}) bucket '${p.bucket}'${p.prefix ? ` prefix '${p.prefix}'` : ''} failed: ${describeError(err)}`,
        );
      }
    }
  }
  return report;
}

export function startSweeper(opts: SweeperOptions): () => void {
  let running = false;
  const tick = async () => {
    if (running) return;
    running = true;
    try {
      const report = await sweepOnce(opts.targets(), opts.maxAgeMs, Date.now(), opts.log);
      opts.onSweep?.(report);
      if (report.removed) opts.log?.(`removed ${report.removed} multipart upload(s) older than ${Math.round(opts.maxAgeMs / 3_600_000)} h`);
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
