/**
 * The request metrics are counted without prom-client on the request path and handed to it when
 * scraped: the exposition must be what prom-client's own Counter/Histogram make of the same
 * requests. And the lifecycle worker's report reaches /metrics whole.
 */
import { expect } from 'chai';
import { Counter, Histogram, Registry } from 'prom-client';
import { Metrics } from '../../src/observability/metrics';
import { DURATION_BUCKETS, RequestCounts, requestFamilies, type RequestSample } from '../../src/observability/request-counts';
import type { LifecycleReport } from '../../src/lifecycle/worker';

/** What the request families looked like when every request called prom-client directly. */
function referenceRegistry(samples: RequestSample[]): Registry {
  const registers = [new Registry()];
  const requests = new Counter({
    name: 's3mux_requests_total',
    help: 'S3 requests answered, by operation, HTTP status and backend',
    labelNames: ['operation', 'status', 'backend'],
    registers,
  });
  const duration = new Histogram({
    name: 's3mux_request_duration_seconds',
    help: "Time from a request's arrival to the end of its answer",
    labelNames: ['operation', 'backend'],
    registers,
    buckets: DURATION_BUCKETS,
  });
  const bytesIn = new Counter({
    name: 's3mux_received_bytes_total',
    help: 'Bytes received from clients (headers and bodies)',
    labelNames: ['operation', 'backend'],
    registers,
  });
  const bytesOut = new Counter({
    name: 's3mux_sent_bytes_total',
    help: 'Bytes sent to clients (headers and bodies)',
    labelNames: ['operation', 'backend'],
    registers,
  });
  for (const s of samples) {
    const labels = { operation: s.operation, backend: s.backend };
    requests.inc({ ...labels, status: String(s.status) });
    duration.observe(labels, s.seconds);
    if (s.bytesIn) bytesIn.inc(labels, s.bytesIn);
    if (s.bytesOut) bytesOut.inc(labels, s.bytesOut);
  }
  return registers[0];
}

/** Exposition lines, each family's samples sorted (their order within a family carries no meaning). */
async function families(r: Registry): Promise<string[][]> {
  const text = await r.metrics();
  return text
    .trim()
    .split('\n\n')
    .map((block) => {
      const lines = block.split('\n');
      return [...lines.filter((l) => l.startsWith('#')), ...lines.filter((l) => !l.startsWith('#')).sort()];
    })
    .sort((a, b) => a[0].localeCompare(b[0]));
}

describe('request metrics counted outside prom-client', () => {
  it('expose exactly what prom-client counters and a histogram fed per request expose', async () => {
    const ops = ['GetObject', 'PutObject', 'HeadObject', 'ListObjectsV2'];
    const samples: RequestSample[] = [];
    let seed = 7;
    const rnd = () => (seed = (seed * 1103515245 + 12345) % 2 ** 31) / 2 ** 31;
    for (let i = 0; i < 500; i++) {
      samples.push({
        operation: ops[Math.floor(rnd() * ops.length)],
        backend: rnd() < 0.7 ? 'fs' : 's3:archive',
        status: [200, 200, 200, 204, 404, 403, 503][Math.floor(rnd() * 7)],
        bytesIn: rnd() < 0.5 ? 0 : Math.floor(rnd() * 5000),
        bytesOut: rnd() < 0.3 ? 0 : Math.floor(rnd() * 70000),
        // Across every bucket, on the bounds themselves, and past the last one.
        seconds: i % 50 === 0 ? DURATION_BUCKETS[i % DURATION_BUCKETS.length] : i % 97 === 0 ? 400 : rnd() ** 4 * 20,
      });
    }
    const counts = new RequestCounts(DURATION_BUCKETS);
    const mine = new Registry();
    requestFamilies(counts, [mine]);
    // Empty: the families are there, with no samples, as prom-client's are before any request.
    expect(await families(mine)).to.deep.equal(await families(referenceRegistry([])));
    samples.forEach((s) => counts.record(s));
    const expected = await families(referenceRegistry(samples));
    expect(await families(mine)).to.deep.equal(expected);
    // Scraped twice: the same (the scrape rebuilds, it does not add).
    expect(await families(mine)).to.deep.equal(expected);
    expect(expected.flat().filter((l) => l.startsWith('s3mux_requests_total{'))).to.have.length.above(20);
  });

  it('counts requests in flight', async () => {
    const m = new Metrics();
    try {
      m.requestStarted();
      m.requestStarted();
      m.requestDone({ operation: 'GetObject', backend: 'fs', status: 200, bytesIn: 10, bytesOut: 20, seconds: 0.002 });
      const text = await m.text();
      expect(text).to.match(/^s3mux_requests_in_flight 1$/m);
      expect(text).to.match(/^s3mux_requests_total\{operation="GetObject",backend="fs",status="200"\} 1$/m);
      expect(text).to.match(/^s3mux_request_duration_seconds_bucket\{le="0.005",operation="GetObject",backend="fs"\} 1$/m);
    } finally {
      m.close();
    }
  });
});

describe('lifecycle metrics', () => {
  it('export every count of the worker report', async () => {
    const m = new Metrics();
    try {
      const report: LifecycleReport = {
        buckets: 2,
        scanned: 40,
        expired: 5,
        transitioned: 4,
        aborted: 3,
        skippedChanged: 2,
        noncurrentExpired: 7,
        markersRemoved: 6,
        skippedLocked: 8,
        leased: 1,
        failed: 0,
      };
      m.lifecycleDone(report);
      m.lifecycleDone({ ...report, failed: 1, noncurrentExpired: 1, markersRemoved: 0 });
      const text = await m.text();
      const action = (a: string) => new RegExp(`^s3mux_lifecycle_objects_total\\{action="${a}"\\} (\\d+)$`, 'm').exec(text)?.[1];
      expect(action('noncurrent_expired')).to.equal('8');
      expect(action('delete_markers_removed')).to.equal('6');
      expect(action('skipped_locked')).to.equal('16');
      expect(action('expired')).to.equal('10');
      expect(action('transitioned')).to.equal('8');
      expect(action('skipped_changed')).to.equal('4');
      expect(action('leased_elsewhere')).to.equal('2');
      expect(text).to.match(/^s3mux_lifecycle_runs_total\{result="failed"\} 1$/m);
    } finally {
      m.close();
    }
  });
});
