/**
 * The HTTP(S) front: an express app whose one catch-all handler hands every request to
 * the S3 dispatcher, plus a health endpoint on a path no bucket can have.
 */
import { readFileSync } from 'node:fs';
import http from 'node:http';
import https from 'node:https';
import type { AddressInfo } from 'node:net';
import express from 'express';
import { S3Error } from '../errors';
import type { CredentialLookup, Identity } from '../auth/sigv4';
import type { Principal } from '../auth/policy';
import { dispatch } from '../s3/dispatch';
import { startSweeper } from './upload-sweeper';
import { createHttpServer } from './http-wire';
import type { Router } from '../router/router';

export interface ServerOptions {
  router: Router;
  host: string;
  port: number;
  region?: string;
  domains?: string[];
  /** Root identities: may do everything. */
  identities: Identity[];
  /** Further users, each limited by its policy. */
  users?: Array<{ identity: Identity; principal: Principal }>;
  tls?: { cert: string; key: string };
  log?: (line: string) => void;
  /** Multipart uploads older than this are swept (default 7 days); 0 turns the sweep off. */
  multipartMaxAgeMs?: number;
  /** Keep-alive interval of long answers (tests shorten it). */
  keepAliveMs?: number;
}

export const DEFAULT_MULTIPART_MAX_AGE_MS = 7 * 24 * 3600_000;
const SWEEP_INTERVAL_MS = 3600_000;

export interface RunningServer {
  server: http.Server | https.Server;
  url: string;
  port: number;
  close(): Promise<void>;
}

export function createApp(opts: ServerOptions): express.Express {
  const byKey = new Map(opts.identities.map((i) => [i.accessKeyId, i]));
  const principals = new Map<string, Principal>();
  for (const u of opts.users ?? []) {
    byKey.set(u.identity.accessKeyId, u.identity);
    principals.set(u.identity.accessKeyId, u.principal);
  }
  const credentials: CredentialLookup = (id) => byKey.get(id);
  const app = express();
  app.disable('x-powered-by');
  app.disable('etag');
  // Bucket names cannot start with '-', so this path never shadows a bucket.
  app.get('/-/health', (_req, res) => { res.json({ status: 'ok' }); });
  const onInternalError = (err: unknown, r: http.IncomingMessage, requestId: string): void =>
    opts.log?.(`internal error (request ${requestId}) on ${r.method} ${r.url}: ${(err as Error)?.stack ?? String(err)}`);
  app.use((req, res) => {
    dispatch(req, res, {
      services: { router: opts.router, region: opts.region ?? 'us-east-1', keepAliveMs: opts.keepAliveMs },
      domains: opts.domains ?? [],
      credentials,
      principals,
      onInternalError,
    }).catch((err: unknown) => {
      // dispatch answers every error itself; this is the guard behind it.
      onInternalError(err, req, String(res.getHeader('x-amz-request-id') ?? '-'));
      res.destroy();
    });
  });
  return app;
}

export async function startServer(opts: ServerOptions): Promise<RunningServer> {
  const app = createApp(opts);
  const server = createHttpServer(app, opts.tls && { cert: readFileSync(opts.tls.cert), key: readFileSync(opts.tls.key) });
  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen(opts.port, opts.host, () => { server.off('error', reject); resolve(); });
  });
  const port = (server.address() as AddressInfo).port;
  const maxAge = opts.multipartMaxAgeMs ?? DEFAULT_MULTIPART_MAX_AGE_MS;
  const stopSweeper = maxAge > 0
    ? startSweeper({ backends: () => opts.router.backends(), maxAgeMs: maxAge, intervalMs: Math.min(SWEEP_INTERVAL_MS, maxAge), log: opts.log })
    : () => {};
  const hostForUrl = opts.host.includes(':') ? `[${opts.host}]` : opts.host;
  return {
    server,
    port,
    url: `${opts.tls ? 'https' : 'http'}://${hostForUrl}:${port}`,
    close: () => new Promise<void>((resolve) => {
      stopSweeper();
      server.close(() => resolve());
      server.closeAllConnections();
    }),
  };
}
