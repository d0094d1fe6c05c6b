/**
 * Paths s3mux answers itself, without authentication: Kubernetes-style /healthz and /readyz,
 * MinIO's /minio/health/{live,ready,cluster} (so MinIO's probes and load balancer checks keep
 * working), and, when enabled, MinIO's metrics path. A request signed for S3 is never taken
 * here: `GET /healthz` signed by a client is ListObjects on a bucket named healthz.
 */
import type { IncomingMessage, ServerResponse } from 'node:http';
import type { Router } from '../router/router';
import type { Metrics } from '../observability/metrics';
import type { Readiness } from './readiness';

export interface HealthOptions {
  router: () => Router;
  readiness: Readiness;
  /** True once the server is stopping: readiness fails so load balancers move on. */
  draining: () => boolean;
  /** Serve /minio/v2/metrics/cluster from this registry; absent: that path is S3's. */
  metrics?: Metrics;
}

/** SigV4 or SigV2, in the header or the query (a Bearer token, as Prometheus sends, is not S3's). */
function signedForS3(req: IncomingMessage, url: string): boolean {
  const auth = req.headers.authorization;
  if (auth && !/^Bearer\s/i.test(auth)) return true;
  const q = url.indexOf('?');
  return q >= 0 && /(^|&)(X-Amz-Signature|Signature|X-Amz-Credential|AWSAccessKeyId)=/i.test(url.slice(q + 1));
}

type Answer = (res: ServerResponse, opts: HealthOptions) => void | Promise<void>;

function json(res: ServerResponse, status: number, body: unknown): void {
  const text = JSON.stringify(body);
  res.writeHead(status, { 'Content-Type': 'application/json; charset=utf-8', 'Content-Length': Buffer.byteLength(text) });
  res.end(text);
}

const alive: Answer = (res) => json(res, 200, { status: 'ok' });

async function readyAnswer(res: ServerResponse, opts: HealthOptions, body: 'json' | 'empty'): Promise<void> {
  if (opts.draining()) {
    if (body === 'json') json(res, 503, { status: 'shutting down' });
    else res.writeHead(503).end();
    return;
  }
  const report = await opts.readiness.check(opts.router());
  const status = report.ok ? 200 : 503;
  if (body === 'empty') {
    // MinIO answers with headers only; the failing backends are named in a header for operators.
    const down = report.backends.filter((b) => !b.ok).map((b) => b.backend);
    if (down.length) res.setHeader('X-S3mux-Backends-Down', down.join(','));
    res.writeHead(status).end();
    return;
  }
  json(res, status, {
    status: report.ok ? 'ready' : 'not ready',
    checkedAt: report.checkedAt.toISOString(),
    backends: report.backends,
    ...(report.routes.length ? { routes: report.routes } : {}),
  });
}

const PATHS: Record<string, Answer> = {
  '/healthz': alive,
  '/-/health': alive,
  '/readyz': (res, opts) => readyAnswer(res, opts, 'json'),
  '/minio/health/live': (res) => {
    res.writeHead(200).end();
  },
  '/minio/health/ready': (res, opts) => readyAnswer(res, opts, 'empty'),
  '/minio/health/cluster': (res, opts) => readyAnswer(res, opts, 'empty'),
  '/minio/health/cluster/read': (res, opts) => readyAnswer(res, opts, 'empty'),
};

const METRICS_PATH = '/minio/v2/metrics/cluster';

/** Whether `url` (path and query) names one of the health paths above. */
export function isHealthPath(url: string): boolean {
  const q = url.indexOf('?');
  return Object.hasOwn(PATHS, q < 0 ? url : url.slice(0, q));
}

export async function serveMetrics(res: ServerResponse, metrics: Metrics): Promise<void> {
  const text = await metrics.text();
  res.writeHead(200, { 'Content-Type': metrics.contentType });
  res.end(text);
}

/**
 * Answers the request when it is a health or metrics probe and returns true; false leaves it
 * to the S3 dispatcher.
 */
export function healthRoutes(opts: HealthOptions): (req: IncomingMessage, res: ServerResponse) => boolean {
  return (req, res) => {
    if (req.method !== 'GET' && req.method !== 'HEAD') return false;
    const url = req.url ?? '/';
    const q = url.indexOf('?');
    const path = q < 0 ? url : url.slice(0, q);
    const answer: Answer | undefined =
      PATHS[path] ?? (path === METRICS_PATH && opts.metrics ? (rs: ServerResponse) => serveMetrics(rs, opts.metrics!) : undefined);
    if (!answer || signedForS3(req, url)) return false;
    Promise.resolve(answer(res, opts)).catch((err: unknown) => {
      if (!res.headersSent) json(res, 500, { status: 'error', error: (err as Error).message });
    });
    return true;
  };
}
