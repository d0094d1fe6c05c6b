/**
 * The per-request metrics, counted with plain arithmetic on the request path and handed to
 * prom-client only when /metrics is scraped. prom-client hashes a label object on every
 * `inc`/`observe` (its `labels()` children hash again per call): four of those per request
 * cost more than the counting. Here a request finds its (operation, backend) record with two
 * Map lookups, and the scrape turns the records into the same families, names, labels and
 * types as before.
 */
import { Counter, Histogram, type Registry } from 'prom-client';

export interface RequestSample {
  operation: string;
  backend: string;
  status: number;
  bytesIn: number;
  bytesOut: number;
  seconds: number;
}

/** One (operation, backend) pair's counts since the process started. */
class PairCounts {
  readonly byStatus = new Map<number, number>();
  /** Observations per histogram bucket (not cumulative): the first upper bound ≥ the duration. */
  readonly buckets: Float64Array;
  sum = 0;
  count = 0;
  bytesIn = 0;
  bytesOut = 0;

  constructor(
    readonly labels: { operation: string; backend: string },
    bounds: number,
  ) {
    this.buckets = new Float64Array(bounds);
  }
}

export class RequestCounts {
  private readonly byOperation = new Map<string, Map<string, PairCounts>>();
  /** In first-seen order, as prom-client keeps label sets. */
  private readonly pairs: PairCounts[] = [];

  constructor(readonly upperBounds: readonly number[]) {}

  record(s: RequestSample): void {
    let byBackend = this.byOperation.get(s.operation);
    if (!byBackend) this.byOperation.set(s.operation, (byBackend = new Map<string, PairCounts>()));
    let c = byBackend.get(s.backend);
    if (!c) {
      c = new PairCounts({ operation: s.operation, backend: s.backend }, this.upperBounds.length);
      byBackend.set(s.backend, c);
      this.pairs.push(c);
    }
    c.byStatus.set(s.status, (c.byStatus.get(s.status) ?? 0) + 1);
    if (Number.isFinite(s.seconds)) {
      const bounds = this.upperBounds;
      for (let i = 0; i < bounds.length; i++) {
        if (s.seconds <= bounds[i]) {
          c.buckets[i]++;
          break;
        }
      }
      c.sum += s.seconds;
      c.count++;
    }
    c.bytesIn += s.bytesIn;
    c.bytesOut += s.bytesOut;
  }

  all(): readonly PairCounts[] {
    return this.pairs;
  }
}

/** A Histogram whose label sets are filled from RequestCounts when collected (no observe on the request path). */
class CountedHistogram extends Histogram<'operation' | 'backend'> {
  constructor(
    config: ConstructorParameters<typeof Histogram<'operation' | 'backend'>>[0],
    private readonly counts: RequestCounts,
  ) {
    super(config);
  }

  /**
   * prom-client has no public way to set a histogram's buckets; `zero` creates a label set's
   * entry and the entry's fields (bucketValues by upper bound, sum, count) are what `observe`
   * itself writes. test/unit/request-counts.test.ts pins the output to a histogram fed by observe.
   */
  fill(): void {
    this.reset();
    const byLabels = new Map<object, PairCounts>();
    for (const c of this.counts.all()) {
      if (c.count === 0) continue;
      this.zero(c.labels);
      byLabels.set(c.labels, c);
    }
    for (const entry of Object.values((this as unknown as { hashMap: Record<string, HistogramEntry> }).hashMap)) {
      const c = byLabels.get(entry.labels);
      if (!c) continue;
      this.counts.upperBounds.forEach((b, i) => (entry.bucketValues[b] = c.buckets[i]));
      entry.sum = c.sum;
      entry.count = c.count;
    }
  }
}

interface HistogramEntry {
  labels: object;
  bucketValues: Record<number, number>;
  sum: number;
  count: number;
}

export const DURATION_BUCKETS = [0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60, 300];

/** Registers the request families (requests, duration, bytes in and out), read from `counts` when scraped. */
export function requestFamilies(counts: RequestCounts, registers: Registry[]): void {
  new Counter({
    name: 's3mux_requests_total',
    help: 'S3 requests answered, by operation, HTTP status and backend',
    labelNames: ['operation', 'status', 'backend'],
    registers,
    collect() {
      this.reset();
      for (const c of counts.all()) for (const [status, n] of c.byStatus) this.inc({ ...c.labels, status: String(status) }, n);
    },
  });
  new CountedHistogram(
    {
      name: 's3mux_request_duration_seconds',
      help: "Time from a request's arrival to the end of its answer",
      labelNames: ['operation', 'backend'],
      registers,
      buckets: [...counts.upperBounds],
      collect() {
        (this as CountedHistogram).fill();
      },
    },
    counts,
  );
  const bytes = (name: string, help: string, pick: (c: PairCounts) => number) =>
    new Counter({
      name,
      help,
      labelNames: ['operation', 'backend'],
      registers,
      collect() {
        this.reset();
        for (const c of counts.all()) {
          const n = pick(c);
          if (n) this.inc(c.labels, n);
        }
      },
    });
  bytes('s3mux_received_bytes_total', 'Bytes received from clients (headers and bodies)', (c) => c.bytesIn);
  bytes('s3mux_sent_bytes_total', 'Bytes sent to clients (headers and bodies)', (c) => c.bytesOut);
}
