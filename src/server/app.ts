/**
 * The HTTP(S) front: an express app whose one catch-all handler hands every request to
 * the S3 dispatcher, plus a health endpoint on a path no bucket can have.
 */
import { readFileSync } from 'node:fs';
import http from 'node:http';
import https from 'node:https';
import type { AddressInfo } from 'node:net';
import type { Duplex } from 'node:stream';
import express from 'express';
import { S3Error } from '../errors';
import { toXml } from '../s3/xml';
import { failRequestBody } from '../s3/payload';
import type { CredentialLookup, Identity } from '../auth/sigv4';
import type { Principal } from '../auth/policy';
import { dispatch } from '../s3/dispatch';
import { startSweeper } from './upload-sweeper';
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
  /** The fs backends' folders are on encrypted storage (SSE-S3 requests are honoured there). */
  fsEncryptedAtRest?: boolean;
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
  app.use((req, res) => {
    void dispatch(req, res, {
      services: { router: opts.router, region: opts.region ?? 'us-east-1', keepAliveMs: opts.keepAliveMs, fsEncryptedAtRest: opts.fsEncryptedAtRest },
      domains: opts.domains ?? [],
      credentials,
      principals,
      onInternalError: (err, r) => opts.log?.(`internal error on ${r.method} ${r.url}: ${(err as Error)?.stack ?? String(err)}`),
    });
  });
  return app;
}

/**
 * Bytes Node's HTTP parser cannot read. When they follow a request whose answer is still
 * being prepared (a body longer than its Content-Length, or one cut short), that answer is
 * let through first; otherwise the client gets an S3 error document and the connection ends.
 */
function answerClientError(err: NodeJS.ErrnoException, socket: Duplex): void {
  const inflight = (socket as Duplex & { _httpMessage?: http.ServerResponse })._httpMessage;
  if (inflight && !inflight.writableFinished) {
    // The parser gave up inside that request's body (the client half-closed early): the
    // handler learns the body is incomplete and answers before the connection ends.
    if (inflight.req) failRequestBody(inflight.req, new S3Error('IncompleteBody'));
    inflight.once('close', () => socket.end());
    return;
  }
  if (err.code === 'ECONNRESET' || !socket.writable) {
    socket.destroy();
    return;
  }
  const e = err.code === 'HPE_HEADER_OVERFLOW'
    ? new S3Error('RequestHeaderSectionTooLarge')
    : new S3Error('InvalidRequest', 'The request could not be parsed as HTTP.');
  const body = toXml('Error', { Code: e.code, Message: e.message }, null);
  socket.end(`HTTP/1.1 ${e.status} Bad Request\r\nContent-Type: application/xml\r\nContent-Length: ${Buffer.byteLength(body)}\r\nConnection: close\r\n\r\n${body}`);
}

export async function startServer(opts: ServerOptions): Promise<RunningServer> {
  const app = createApp(opts);
  const server = opts.tls
    ? https.createServer({ cert: readFileSync(opts.tls.cert), key: readFileSync(opts.tls.key) }, app)
    : http.createServer(app);
  server.on('clientError', answerClientError);
  // Large uploads may take long; stalled bodies are ended by the S3 layer (RequestTimeout).
  server.requestTimeout = 0;
  server.headersTimeout = 60_000;
  server.keepAliveTimeout = 5_000;
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
