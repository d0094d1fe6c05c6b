/**
 * Logs, metrics and health through a running server: the access line of each request, secrets
 * never logged, unexpected errors logged with their request id, Prometheus counts after known
 * traffic (main port and separate listener), /healthz, /readyz naming a store that is down,
 * MinIO's health paths without authentication.
 */
import { mkdtempSync, rmSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { expect } from 'chai';
import {
  CreateBucketCommand,
  GetObjectCommand,
  HeadBucketCommand,
  ListObjectsV2Command,
  PutObjectCommand,
  S3Client,
} from '@aws-sdk/client-s3';
import { getSignedUrl } from '@aws-sdk/s3-request-presigner';
import { Router } from '../../src/router/router';
import { validateRoutingTable } from '../../src/router/config';
import { BACKEND_KITS } from '../../src/backends/registry';
import { MemoryBackend } from '../../src/backends/memory/index';
import { instrumentKits } from '../../src/observability/instrument-backend';
import { createLogger } from '../../src/observability/logger';
import { Metrics } from '../../src/observability/metrics';
import { startServer, type RunningServer } from '../../src/server/app';
import { startMetricsListener, type MetricsListener } from '../../src/server/metrics-listener';
import { freePort } from '../helpers/processes';
import { errorOf } from '../helpers/errors';

const ROOT_KEY = 'obsrootkey';
const ROOT_SECRET = 'root-secret-Zq81/never+logged';
const USER_KEY = 'OBSUSERKEY';
const USER_SECRET = 'user-secret-Xw27/never+logged';

interface Harness {
  dir: string;
  server: RunningServer;
  router: Router;
  lines: string[];
  /** `presign`: for presigned PUT URLs, checksums only where required (helpers/server.ts `presigner` says why). */
  client: (key?: string, secret?: string, presign?: boolean) => S3Client;
  stop(): Promise<void>;
}

/** A server over an fs default, a 'broken' memory route whose reads throw a plain Error, and optionally a route onto an s3 store that is down. */
async function harness(opts: { deadStore?: boolean; metricsOnMainPort?: boolean } = {}): Promise<Harness> {
  const dir = mkdtempSync(path.join(os.tmpdir(), 's3mux-obs-'));
  const deadPort = await freePort();
  const raw: Record<string, unknown> = {
    backends: {
      disk: { type: 'fs', root: path.join(dir, 'data') },
      flaky: { type: 'memory', store: `obs-${path.basename(dir)}` },
      ...(opts.deadStore
        ? {
            dead: {
              type: 's3',
              endpoint: `http://127.0.0.1:${deadPort}`,
              region: 'us-east-1',
              forcePathStyle: true,
              credentials: { accessKeyIdEnv: 'DEAD_KEY', secretAccessKeyEnv: 'DEAD_SECRET' },
            },
          }
        : {}),
    },
    default: 'disk',
    routes: {
      broken: { backend: 'flaky', bucket: 'broken' },
      ...(opts.deadStore ? { gone: { backend: 'dead', target: 's3://gone-bucket' } } : {}),
    },
  };
  // The memory store's reads fail the way a bug would: a plain Error, not an S3 error.
  const kits = instrumentKits(
    BACKEND_KITS.map((kit) =>
      kit.kind !== 'memory'
        ? kit
        : ({
            ...kit,
            create: (settings: { store?: string }) => {
              const b = new MemoryBackend({ name: settings.store ?? 'flaky' });
              b.openObject = async () => {
                throw new TypeError('boom: a bug in a backend');
              };
              return b;
            },
          } as typeof kit),
    ),
  );
  const router = Router.fromTable(validateRoutingTable(raw, { baseDir: dir }), { kits, env: { DEAD_KEY: 'k', DEAD_SECRET: 's' } });
  await router.resolve('broken').backend.createBucket('broken');
  const lines: string[] = [];
  const logger = createLogger({ level: 'info', destination: { write: (l: string) => lines.push(l) } });
  const server = await startServer({
    router,
    host: '127.0.0.1',
    port: 0,
    logger,
    metricsOnMainPort: opts.metricsOnMainPort,
    identities: [{ accessKeyId: ROOT_KEY, secretAccessKey: ROOT_SECRET }],
    users: [
      {
        identity: { accessKeyId: USER_KEY, secretAccessKey: USER_SECRET },
        principal: { name: 'reader', admin: false, rules: [{ buckets: ['*'], allow: ['read', 'list'] }] },
      },
    ],
    readiness: { maxAgeMs: 200, timeoutMs: 3000 },
  });
  const clients: S3Client[] = [];
  return {
    dir,
    server,
    router,
    lines,
    client: (key = ROOT_KEY, secret = ROOT_SECRET, presign = false) => {
      const c = new S3Client({
        endpoint: server.url,
        region: 'us-east-1',
        forcePathStyle: true,
        credentials: { accessKeyId: key, secretAccessKey: secret },
        maxAttempts: 1,
        ...(presign ? { requestChecksumCalculation: 'WHEN_REQUIRED' as const } : {}),
      });
      clients.push(c);
      return c;
    },
    async stop() {
      for (const c of clients) c.destroy();
      await server.close();
      await router.close();
      rmSync(dir, { recursive: true, force: true });
    },
  };
}

const entries = (lines: string[]) => lines.map((l) => JSON.parse(l) as Record<string, unknown>);
const accessLines = (lines: string[]) => entries(lines).filter((e) => e.msg === 'request');

/** The value of one sample in Prometheus text, labels in any order. */
/** The access line matching `pred`: it is written once the answer has gone out, so it may trail the client by a moment. */
async function accessLine(h: Harness, pred: (e: Record<string, unknown>) => boolean): Promise<Record<string, unknown> | undefined> {
  for (let i = 0; i < 50; i++) {
    const hit = accessLines(h.lines).find(pred);
    if (hit) return hit;
    await new Promise((r) => setTimeout(r, 50));
  }
  return undefined;
}

function sample(text: string, name: string, labels: Record<string, string> = {}): number | undefined {
  for (const line of text.split('\n')) {
    const m = /^([a-zA-Z_:][\w:]*)(?:\{(.*)\})? (\S+)$/.exec(line);
    if (!m || m[1] !== name) continue;
    const have = Object.fromEntries([...(m[2] ?? '').matchAll(/(\w+)="((?:[^"\\]|\\.)*)"/g)].map((x) => [x[1], x[2]]));
    if (Object.entries(labels).every(([k, v]) => have[k] === v)) return Number(m[3]);
  }
  return undefined;
}

describe('protocol: access logs', () => {
  let h: Harness;
  before(async () => {
    h = await harness();
  });
  after(async () => {
    await h?.stop();
  });

  it('writes one JSON line per request with its id, identity, operation, bucket, backend, status, bytes and duration', async () => {
    const s3 = h.client();
    await s3.send(new CreateBucketCommand({ Bucket: 'logs' }));
    await s3.send(new PutObjectCommand({ Bucket: 'logs', Key: 'a.txt', Body: 'x'.repeat(1000) }));
    const url = await getSignedUrl(s3, new GetObjectCommand({ Bucket: 'logs', Key: 'a.txt' }), { expiresIn: 300 });
    const res = await fetch(url);
    expect(res.status).to.equal(200);
    expect((await res.text()).length).to.equal(1000);
    const reqId = res.headers.get('x-amz-request-id');
    const line = await accessLine(h, (e) => e.reqId === reqId);
    expect(line, h.lines.join('')).to.include({
      identity: 'root',
      accessKey: ROOT_KEY,
      operation: 'GetObject',
      method: 'GET',
      bucket: 'logs',
      backend: 'disk',
      status: 200,
      level: 'info',
    });
    expect(line!.bytesOut).to.be.greaterThan(1000);
    expect(line!.bytesIn).to.be.greaterThan(0);
    expect(line!.durationMs).to.be.a('number');
    const put = await accessLine(h, (e) => e.operation === 'PutObject');
    expect(put!.bytesIn).to.be.greaterThan(1000);
    expect(accessLines(h.lines).map((e) => e.operation)).to.deep.equal(['CreateBucket', 'PutObject', 'GetObject']);
  });

  it('logs the error code, and the identity from the routing table', async () => {
    const reader = h.client(USER_KEY, USER_SECRET);
    const err = await errorOf(reader.send(new PutObjectCommand({ Bucket: 'logs', Key: 'denied', Body: 'no' })));
    expect(err.name).to.equal('AccessDenied');
    const missing = await errorOf(reader.send(new GetObjectCommand({ Bucket: 'logs', Key: 'missing' })));
    expect(missing.name).to.equal('NoSuchKey');
    await accessLine(h, (e) => e.operation === 'GetObject' && e.errorCode === 'NoSuchKey');
    const [denied, notFound] = accessLines(h.lines).slice(-2);
    expect(denied).to.include({ identity: 'reader', accessKey: USER_KEY, operation: 'PutObject', status: 403, errorCode: 'AccessDenied' });
    expect(notFound).to.include({ identity: 'reader', operation: 'GetObject', status: 404, errorCode: 'NoSuchKey', backend: 'disk' });
  });

  it('never logs secrets, signatures or presigned query strings', async () => {
    const s3 = h.client(undefined, undefined, true);
    const put = await getSignedUrl(s3, new PutObjectCommand({ Bucket: 'logs', Key: 'presigned.txt' }), { expiresIn: 300 });
    expect((await fetch(put, { method: 'PUT', body: 'p' })).status).to.equal(200);
    const get = await getSignedUrl(h.client(USER_KEY, USER_SECRET), new GetObjectCommand({ Bucket: 'logs', Key: 'presigned.txt' }), {
      expiresIn: 300,
    });
    expect((await fetch(get)).status).to.equal(200);
    // A request with a wrong secret, a header signature and an unreadable one.
    await errorOf(h.client(ROOT_KEY, 'wrong-secret-Qp90').send(new ListObjectsV2Command({ Bucket: 'logs' })));
    await fetch(`${h.server.url}/logs/x?X-Amz-Signature=deadbeefcafe1234&X-Amz-Credential=${ROOT_KEY}%2F20260101`, {
      headers: { authorization: 'AWS4-HMAC-SHA256 Credential=abc, Signature=feedfacefeedface' },
    });
    const log = h.lines.join('');
    const signatures = [put, get].map((u) => new URL(u).searchParams.get('X-Amz-Signature')!);
    for (const secret of [
      ROOT_SECRET,
      USER_SECRET,
      'wrong-secret-Qp90',
      ...signatures,
      'deadbeefcafe1234',
      'feedfacefeedface',
      'X-Amz-Signature',
      'X-Amz-Credential',
      'Signature=',
      'AWS4-HMAC-SHA256',
    ]) {
      expect(log, secret).not.to.contain(secret);
    }
    expect(accessLines(h.lines).filter((e) => e.operation === 'PutObject' && e.status === 200).length).to.be.at.least(2);
  });

  it('logs an unexpected 500 at error level with its request id and the stack', async () => {
    const res = await fetch(await getSignedUrl(h.client(), new GetObjectCommand({ Bucket: 'broken', Key: 'k' }), { expiresIn: 60 }));
    expect(res.status).to.equal(500);
    const reqId = res.headers.get('x-amz-request-id');
    const error = entries(h.lines).find((e) => e.level === 'error' && e.reqId === reqId);
    expect(error, h.lines.join('')).to.include({ msg: 'unexpected error', method: 'GET', path: '/broken/k' });
    expect(JSON.stringify(error!.err)).to.contain('boom: a bug in a backend');
    expect(await accessLine(h, (e) => e.reqId === reqId)).to.include({ status: 500, errorCode: 'InternalError', backend: 'flaky' });
  });

  it('answers /healthz, /readyz and MinIO health paths without authentication', async () => {
    expect((await fetch(`${h.server.url}/healthz`)).status).to.equal(200);
    const ready = await fetch(`${h.server.url}/readyz`);
    expect(ready.status).to.equal(200);
    expect(((await ready.json()) as { backends: Array<{ backend: string }> }).backends.map((b) => b.backend).sort()).to.deep.equal([
      'disk',
      'flaky',
    ]);
    for (const p of ['live', 'ready', 'cluster']) {
      const res = await fetch(`${h.server.url}/minio/health/${p}`);
      expect(res.status, p).to.equal(200);
      expect(await res.text()).to.equal('');
    }
    // Metrics are off on the main port here: MinIO's path is then just an S3 key, in a bucket that does not exist.
    expect((await fetch(`${h.server.url}/minio/v2/metrics/cluster`)).status).to.equal(404);
    // Signed, /healthz is the bucket healthz.
    const err = await errorOf(h.client().send(new ListObjectsV2Command({ Bucket: 'healthz' })));
    expect(err.name).to.equal('NoSuchBucket');
  });
});

describe('protocol: metrics and readiness', () => {
  let h: Harness;
  let listener: MetricsListener;
  before(async () => {
    h = await harness({ deadStore: true, metricsOnMainPort: true });
    listener = await startMetricsListener(h.server.metrics, '127.0.0.1', 0);
  });
  after(async () => {
    await listener?.close();
    await h?.stop();
  });

  it('counts known traffic by operation, status and backend; bytes, latency, in-flight, backend errors and retries', async () => {
    const s3 = h.client();
    await s3.send(new CreateBucketCommand({ Bucket: 'mbucket' }));
    for (const [i, size] of [10, 20, 30].entries())
      await s3.send(new PutObjectCommand({ Bucket: 'mbucket', Key: `k${i}`, Body: 'y'.repeat(size) }));
    for (const i of [0, 1]) await (await s3.send(new GetObjectCommand({ Bucket: 'mbucket', Key: `k${i}` }))).Body!.transformToString();
    expect((await errorOf(s3.send(new GetObjectCommand({ Bucket: 'mbucket', Key: 'nope' })))).name).to.equal('NoSuchKey');
    const down = await errorOf(s3.send(new HeadBucketCommand({ Bucket: 'gone' })));
    expect(down.$metadata.httpStatusCode).to.equal(503);

    const main = await (await fetch(`${h.server.url}/minio/v2/metrics/cluster`)).text();
    const separate = await (await fetch(listener.url)).text();
    for (const text of [main, separate]) {
      expect(sample(text, 's3mux_requests_total', { operation: 'CreateBucket', backend: 'disk', status: '200' })).to.equal(1);
      expect(sample(text, 's3mux_requests_total', { operation: 'PutObject', backend: 'disk', status: '200' })).to.equal(3);
      expect(sample(text, 's3mux_requests_total', { operation: 'GetObject', backend: 'disk', status: '200' })).to.equal(2);
      expect(sample(text, 's3mux_requests_total', { operation: 'GetObject', backend: 'disk', status: '404' })).to.equal(1);
      expect(sample(text, 's3mux_requests_total', { operation: 'HeadBucket', backend: 'dead', status: '503' })).to.equal(1);
      expect(sample(text, 's3mux_request_duration_seconds_count', { operation: 'PutObject', backend: 'disk' })).to.equal(3);
      expect(sample(text, 's3mux_received_bytes_total', { operation: 'PutObject', backend: 'disk' })).to.be.greaterThan(60);
      expect(sample(text, 's3mux_sent_bytes_total', { operation: 'GetObject', backend: 'disk' })).to.be.greaterThan(30);
      expect(sample(text, 's3mux_requests_in_flight')).to.equal(0);
      expect(sample(text, 's3mux_backend_errors_total', { backend: 'disk', code: 'NoSuchKey' })).to.be.at.least(1);
      // The s3 adapter retried the refused connection (4 attempts) before answering 503.
      expect(sample(text, 's3mux_backend_retries_total', { backend: 'dead', code: 'ECONNREFUSED' })).to.be.at.least(3);
      expect(sample(text, 's3mux_backend_errors_total', { backend: 'dead', code: 'ServiceUnavailable' })).to.be.at.least(1);
      expect(sample(text, 's3mux_process_resident_memory_bytes')).to.be.greaterThan(0);
    }
    expect((await fetch(listener.url.replace('/metrics', '/other'))).status).to.equal(404);
  });

  it('counts sweeps: the start-up sweep failed on the store that is down', async () => {
    let text = '';
    for (let i = 0; i < 100 && sample(text, 's3mux_multipart_sweeps_total', { result: 'failed' }) === undefined; i++) {
      await new Promise((r) => setTimeout(r, 100));
      text = await (await fetch(listener.url)).text();
    }
    expect(sample(text, 's3mux_multipart_sweeps_total', { result: 'failed' })).to.equal(1);
    expect(text).to.contain('# TYPE s3mux_multipart_uploads_open gauge');
  });

  it('/readyz fails naming the store that is down; /minio/health/ready and cluster fail too; /healthz stays up', async () => {
    const ready = await fetch(`${h.server.url}/readyz`);
    expect(ready.status).to.equal(503);
    const body = (await ready.json()) as { status: string; backends: Array<{ backend: string; ok: boolean; error?: string }> };
    expect(body.status).to.equal('not ready');
    const dead = body.backends.find((b) => b.backend === 'dead');
    expect(dead).to.include({ ok: false });
    expect(dead!.error).to.match(/ServiceUnavailable|ECONNREFUSED|no answer/);
    expect(body.backends.find((b) => b.backend === 'disk')).to.include({ ok: true });
    for (const p of ['ready', 'cluster']) {
      const res = await fetch(`${h.server.url}/minio/health/${p}`);
      expect(res.status, p).to.equal(503);
      expect(res.headers.get('x-s3mux-backends-down')).to.equal('dead');
    }
    expect((await fetch(`${h.server.url}/healthz`)).status).to.equal(200);
    expect((await fetch(`${h.server.url}/minio/health/live`)).status).to.equal(200);
  });

  it('reports open and swept multipart uploads as a sweep counted them', async () => {
    const metrics = new Metrics();
    metrics.sweepDone({ failed: false, open: new Map([['disk', 1]]), removed: new Map([['disk', 2]]) });
    const text = await metrics.text();
    metrics.close();
    expect(sample(text, 's3mux_multipart_uploads_open', { backend: 'disk' })).to.equal(1);
    expect(sample(text, 's3mux_multipart_uploads_swept_total', { backend: 'disk' })).to.equal(2);
    expect(sample(text, 's3mux_multipart_sweeps_total', { result: 'ok' })).to.equal(1);
  });
});
