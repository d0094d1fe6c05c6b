/**
 * Prometheus metrics (prom-client), one registry per server so several servers in one process
 * (tests, embedding) keep their own counts. Names follow Prometheus conventions under `s3mux_`;
 * MinIO's scrape path /minio/v2/metrics/cluster serves the same registry.
 */
import { Counter, Gauge, Registry, collectDefaultMetrics } from 'prom-client';
import { onBackendEvent } from './backend-events';
import { DURATION_BUCKETS, RequestCounts, requestFamilies, type RequestSample } from './request-counts';
import { routeGauges } from './route-metrics';
import type { LifecycleReport } from '../lifecycle/worker';

export type { RequestSample } from './request-counts';

/**
 * How often the event-loop lag is sampled for the default metrics. prom-client's 10 ms woke an
 * idle server 100 times a second for them; at 100 ms a 15 s scrape still holds 150 samples.
 */
export const EVENT_LOOP_SAMPLE_MS = 100;

export class Metrics {
  readonly registry = new Registry();
  /** Counted per request without prom-client; read by it when scraped (request-counts.ts). */
  private readonly counts = new RequestCounts(DURATION_BUCKETS);
  private inFlight = 0;
  private readonly backendErrors: Counter<'backend' | 'code'>;
  private readonly backendRetries: Counter<'backend' | 'code'>;
  private readonly uploadsOpen: Gauge<'backend'>;
  private readonly uploadsSwept: Counter<'backend'>;
  private readonly sweeps: Counter<'result'>;
  private readonly lifecycleRuns: Counter<'result'>;
  private readonly lifecycleActions: Counter<'action'>;
  private readonly unsubscribe: () => void;

  constructor() {
    const registers = [this.registry];
    collectDefaultMetrics({ register: this.registry, prefix: 's3mux_', eventLoopMonitoringPrecision: EVENT_LOOP_SAMPLE_MS });
    requestFamilies(this.counts, registers);
    const inFlight = (): number => this.inFlight;
    new Gauge({
      name: 's3mux_requests_in_flight',
      help: 'S3 requests being served now',
      registers,
      collect() {
        this.set(inFlight());
      },
    });
    this.backendErrors = new Counter({
      name: 's3mux_backend_errors_total',
      help: 'Failed calls to a backend, by backend and S3 error code',
      labelNames: ['backend', 'code'],
      registers,
    });
    this.backendRetries = new Counter({
      name: 's3mux_backend_retries_total',
      help: 'Calls to a store retried, by backend and the error that caused the retry',
      labelNames: ['backend', 'code'],
      registers,
    });
    this.uploadsOpen = new Gauge({
      name: 's3mux_multipart_uploads_open',
      help: 'Open multipart uploads in the routed buckets, as counted by the last sweep',
      labelNames: ['backend'],
      registers,
    });
    this.uploadsSwept = new Counter({
      name: 's3mux_multipart_uploads_swept_total',
      help: 'Expired multipart uploads the sweeper removed',
      labelNames: ['backend'],
      registers,
    });
    this.sweeps = new Counter({
      name: 's3mux_multipart_sweeps_total',
      help: 'Runs of the multipart sweeper, by result (ok, failed: one store or more failed)',
      labelNames: ['result'],
      registers,
    });
    routeGauges(registers);
    this.lifecycleRuns = new Counter({
      name: 's3mux_lifecycle_runs_total',
      help: 'Runs of the lifecycle worker, by result (ok, failed: one bucket or more failed)',
      labelNames: ['result'],
      registers,
    });
    this.lifecycleActions = new Counter({
      name: 's3mux_lifecycle_objects_total',
      help: 'What the lifecycle worker did: keys scanned, objects expired or transitioned, uploads aborted, noncurrent versions expired, expired delete markers removed, due objects skipped because they changed or are locked, buckets left to another replica',
      labelNames: ['action'],
      registers,
    });
    this.unsubscribe = onBackendEvent((event, backend, code) =>
      (event === 'retry' ? this.backendRetries : this.backendErrors).inc({ backend, code }),
    );
  }

  requestStarted(): void {
    this.inFlight++;
  }

  requestDone(s: RequestSample): void {
    this.inFlight--;
    this.counts.record(s);
  }

  sweepDone(result: { failed: boolean; open: Map<string, number>; removed: Map<string, number> }): void {
    this.sweeps.inc({ result: result.failed ? 'failed' : 'ok' });
    this.uploadsOpen.reset();
    for (const [backend, n] of result.open) this.uploadsOpen.set({ backend }, n);
    for (const [backend, n] of result.removed) if (n) this.uploadsSwept.inc({ backend }, n);
  }

  lifecycleDone(r: LifecycleReport): void {
    this.lifecycleRuns.inc({ result: r.failed ? 'failed' : 'ok' });
    const counts = {
      scanned: r.scanned,
      expired: r.expired,
      transitioned: r.transitioned,
      aborted: r.aborted,
      skipped_changed: r.skippedChanged,
      noncurrent_expired: r.noncurrentExpired,
      delete_markers_removed: r.markersRemoved,
      skipped_locked: r.skippedLocked,
      leased_elsewhere: r.leased,
    };
    for (const [action, n] of Object.entries(counts)) if (n) this.lifecycleActions.inc({ action }, n);
  }

  text(): Promise<string> {
    return this.registry.metrics();
  }
  get contentType(): string {
    return this.registry.contentType;
  }

  close(): void {
    this.unsubscribe();
  }
}
