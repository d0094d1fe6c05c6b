/**
 * Paths s3mux answers itself, without authentication: Kubernetes-style /healthz and /readyz,
 * MinIO's /minio/health/{live,ready,cluster} (so MinIO's probes and load balancer checks keep
 * working), and, when enabled, MinIO's metrics path. A request signed for S3 is never taken
 * here: `GET /healthz` signed by a client is ListObjects on a bucket named healthz.
 */
import type { Request, Response, NextFunction } from 'express';
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
function signedForS3(req: Request): boolean {
  const auth = req.headers.authorization;
  if (auth && !/^Bearer\s/i.test(auth)) return true;
  const q = req.url.indexOf('?');
  return q >= 0 && /(^|&)(X-Amz-Signature|Signature|X-Amz-Credential|AWSAccessKeyId)=/i.test(req.url.slice(q + 1));
}

type Answer = (req: Request, res: Response, opts: HealthOptions) => void | Promise<void>;

const alive: Answer = (_req, res) => {
  res.status(200).json({ status: 'ok' });
};

async function readyAnswer(res: Response, opts: HealthOptions, body: 'json' | 'empty'): Promise<void> {
  if (opts.draining()) {
    res.status(503);
    if (body === 'json') res.json({ status: 'shutting down' });
    else res.end();
    return;
  }
  const report = await opts.readiness.check(opts.router());
  res.status(report.ok ? 200 : 503);
  if (body === 'empty') {
    // MinIO answers with headers only; the failing backends are named in a header for operators.
    const down = report.backends.filter((b) => !b.ok).map((b) => b.backend);
    if (down.length) res.setHeader('X-S3mux-Backends-Down', down.join(','));
    res.end();
    return;
  }
  res.json({
    status: report.ok ? 'ready' : 'not ready',
    checkedAt: report.checkedAt.toISOString(),
    backends: report.backends,
    ...(report.routes.length ? { routes: report.routes } : {}),
  });
}

const PATHS: Record<string, Answer> = {
  '/healthz': alive,
  '/-/health': alive,
  '/readyz': (_req, res, opts) => readyAnswer(res, opts, 'json'),
  '/minio/health/live': (_req, res) => {
    res.status(200).end();
  },
  '/minio/health/ready': (_req, res, opts) => readyAnswer(res, opts, 'empty'),
  '/minio/health/cluster': (_req, res, opts) => readyAnswer(res, opts, 'empty'),
  '/minio/health/cluster/read': (_req, res, opts) => readyAnswer(res, opts, 'empty'),
};

const METRICS_PATH = '/minio/v2/metrics/cluster';

export async function serveMetrics(res: Response, metrics: Metrics): Promise<void> {
  const text = await metrics.text();
  res.status(200).setHeader('Content-Type', metrics.contentType);
  res.end(text);
}

export function healthRoutes(opts: HealthOptions) {
  return (req: Request, res: Response, next: NextFunction): void => {
    if ((req.method !== 'GET' && req.method !== 'HEAD') || signedForS3(req)) return next();
    const path = req.path;
    const answer =
      PATHS[path] ?? (path === METRICS_PATH && opts.metrics ? (_r: Request, rs: Response) => serveMetrics(rs, opts.metrics!) : undefined);
    if (!answer) return next();
    Promise.resolve(answer(req, res, opts)).catch((err: unknown) => {
      if (!res.headersSent) res.status(500).json({ status: 'error', error: (err as Error).message });
    });
  };
}
