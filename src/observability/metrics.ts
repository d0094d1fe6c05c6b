/**
 * Prometheus metrics (prom-client), one registry per server so several servers in one process
 * (tests, embedding) keep their own counts. Names follow Prometheus conventions under `s3mux_`;
 * MinIO's scrape path /minio/v2/metrics/cluster serves the same registry.
 */
import { Counter, Gauge, Histogram, Registry, collectDefaultMetrics } from 'prom-client';
import { onBackendEvent } from './backend-events';
import { routeGauges } from './route-metrics';

export interface RequestSample {
  operation: string;
  backend: string;
  status: number;
  bytesIn: number;
  bytesOut: number;
  seconds: number;
}

export class Metrics {
  readonly registry = new Registry();
  private readonly requests: Counter<'operation' | 'status' | 'backend'>;
  private readonly duration: Histogram<'operation' | 'backend'>;
  private readonly bytesIn: Counter<'operation' | 'backend'>;
  private readonly bytesOut: Counter<'operation' | 'backend'>;
  private readonly inFlight: Gauge;
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
    collectDefaultMetrics({ register: this.registry, prefix: 's3mux_' });
    this.requests = new Counter({
      name: 's3mux_requests_total',
      help: 'S3 requests answered, by operation, HTTP status and backend',
      labelNames: ['operation', 'status', 'backend'],
      registers,
    });
    this.duration = new Histogram({
      name: 's3mux_request_duration_seconds',
      help: "Time from a request's arrival to the end of its answer",
      labelNames: ['operation', 'backend'],
      registers,
      buckets: [0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60, 300],
    });
    this.bytesIn = new Counter({
      name: 's3mux_received_bytes_total',
      help: 'Bytes received from clients (headers and bodies)',
      labelNames: ['operation', 'backend'],
      registers,
    });
    this.bytesOut = new Counter({
      name: 's3mux_sent_bytes_total',
      help: 'Bytes sent to clients (headers and bodies)',
      labelNames: ['operation', 'backend'],
      registers,
    });
    this.inFlight = new Gauge({ name: 's3mux_requests_in_flight', help: 'S3 requests being served now', registers });
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
      help: 'What the lifecycle worker did: keys scanned, objects expired, uploads aborted, due objects skipped because they changed, buckets left to another replica',
      labelNames: ['action'],
      registers,
    });
    this.unsubscribe = onBackendEvent((event, backend, code) =>
      (event === 'retry' ? this.backendRetries : this.backendErrors).inc({ backend, code }),
    );
  }

  requestStarted(): void {
    this.inFlight.inc();
  }

  requestDone(s: RequestSample): void {
    this.inFlight.dec();
    const labels = { operation: s.operation, backend: s.backend };
    this.requests.inc({ ...labels, status: String(s.status) });
    this.duration.observe(labels, s.seconds);
    if (s.bytesIn) this.bytesIn.inc(labels, s.bytesIn);
    if (s.bytesOut) this.bytesOut.inc(labels, s.bytesOut);
  }

  sweepDone(result: { failed: boolean; open: Map<string, number>; removed: Map<string, number> }): void {
    this.sweeps.inc({ result: result.failed ? 'failed' : 'ok' });
    this.uploadsOpen.reset();
    for (const [backend, n] of result.open) this.uploadsOpen.set({ backend }, n);
    for (const [backend, n] of result.removed) if (n) this.uploadsSwept.inc({ backend }, n);
  }

  lifecycleDone(r: {
    scanned: number;
    expired: number;
    transitioned: number;
    aborted: number;
    skippedChanged: number;
    leased: number;
    failed: number;
  }): void {
    this.lifecycleRuns.inc({ result: r.failed ? 'failed' : 'ok' });
    const counts = {
      scanned: r.scanned,
      expired: r.expired,
      transitioned: r.transitioned,
      aborted: r.aborted,
      skipped_changed: r.skippedChanged,
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
