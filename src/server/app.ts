/**
 * The HTTP(S) front: one request listener that answers health and metrics paths itself and
 * hands every other request to the S3 dispatcher, with the routing state current when it arrived.
 * Each S3 request ends in one access-log line and its metrics; the server can swap its routing
 * state (hot reload) and stop gracefully (drain, then cut at a deadline).
 */
import { readFileSync } from 'node:fs';
import type http from 'node:http';
import type { IncomingMessage, ServerResponse } from 'node:http';
import type https from 'node:https';
import type { AddressInfo, Socket } from 'node:net';
import type { Identity } from '../auth/sigv4';
import { dispatch, type RequestRecord } from '../s3/dispatch';
import { startSweeper, sweepTargets } from './upload-sweeper';
import { LifecycleWorker, startLifecycleWorker } from '../lifecycle/worker';
import type { Router } from '../router/router';
import { lineLogger, type Logger } from '../observability/logger';
import { Metrics } from '../observability/metrics';
import { Readiness } from './readiness';
import { RoutingSlot, routingState, type RoutingState, type UserEntry } from './routing-slot';
import { healthRoutes } from './health';
import { createHttpServer } from './http-wire';

export interface ServerOptions {
  /** The router, and below the identities: the caller keeps ownership of this router. */
  router?: Router;
  host: string;
  port: number;
  region?: string;
  domains?: string[];
  /** Root identities: may do everything. */
  identities?: Identity[];
  /** Further users, each limited by its policy. */
  users?: UserEntry[];
  /**
   * The routing state instead of router, identities and users: the server then owns its
   * routers and closes each one a reload replaced.
   */
  routing?: RoutingState;
  tls?: { cert: string; key: string };
  /** Structured logger (access lines, errors); without it, warnings and errors go to `log` as lines. */
  logger?: Logger;
  log?: (line: string) => void;
  /** Serve Prometheus metrics on this port at /minio/v2/metrics/cluster. */
  metricsOnMainPort?: boolean;
  /** Multipart uploads older than this are swept (default 7 days); 0 turns the sweep off. */
  multipartMaxAgeMs?: number;
  /** Keep-alive interval of long answers (tests shorten it). */
  keepAliveMs?: number;
  /** How long /readyz trusts a probe, and how long a probe may take (tests shorten them). */
  readiness?: { maxAgeMs?: number; timeoutMs?: number };
  /** The fs backends' folders are on encrypted storage (SSE-S3 requests are honoured there). */
  fsEncryptedAtRest?: boolean;
  /** A reverse proxy in front sets X-Forwarded-Host/-Port/-Proto/-Prefix: signatures are checked against them. */
  trustForwarded?: boolean;
  /** How long a connection may wait on its client before it is closed (default 20 s, as S3); 0 never. */
  idleTimeoutMs?: number;
  /** `--max-connections`: connections served at once, the rest answered 503 SlowDown (0: no cap; server/connection-cap.ts). */
  maxConnections?: number;
  /** How often the lifecycle worker runs (default hourly); 0 turns it off. */
  lifecycleIntervalMs?: number;
  /** Test only: the length of a lifecycle day (default 24 h), so tests see objects expire in seconds. */
  lifecycleDayMs?: number;
}

export const DEFAULT_MULTIPART_MAX_AGE_MS = 7 * 24 * 3600_000;
const SWEEP_INTERVAL_MS = 3600_000;
export const DEFAULT_LIFECYCLE_INTERVAL_MS = 3600_000;

export interface RunningServer {
  server: http.Server | https.Server;
  url: string;
  port: number;
  metrics: Metrics;
  logger: Logger;
  /** New requests use `state` from now on; requests under way finish on the old one. */
  setRouting(state: RoutingState): void;
  /** The routing state new requests get. */
  routing(): RoutingState;
  /**
   * Stops accepting, lets requests under way finish for up to `graceMs`, then cuts the rest
   * and waits for their handlers to clean up. Resolves with how many were cut.
   */
  shutdown(graceMs: number): Promise<number>;
  /** Immediate stop (tests): shutdown with no grace. */
  close(): Promise<void>;
}

/** Wire bytes per socket up to the end of its previous request, so each request gets its own share. */
const socketMarks = new WeakMap<Socket, { read: number; written: number }>();

function wireBytes(socket: Socket): { bytesIn: number; bytesOut: number } {
  const mark = socketMarks.get(socket) ?? { read: 0, written: 0 };
  const now = { read: socket.bytesRead, written: socket.bytesWritten };
  socketMarks.set(socket, now);
  return { bytesIn: now.read - mark.read, bytesOut: now.written - mark.written };
}

interface Runtime {
  slot: RoutingSlot;
  logger: Logger;
  metrics: Metrics;
  readiness: Readiness;
  /** Promises of the S3 requests under way (shutdown waits for them). */
  inflight: Set<Promise<void>>;
  draining: () => boolean;
}

/**
 * The request listener. No web framework: every S3 request goes straight to dispatch (express's
 * router and its request/response decoration cost a measurable share of a small request).
 */
function createApp(opts: ServerOptions, rt: Runtime): (req: IncomingMessage, res: ServerResponse) => void {
  const health = healthRoutes({
    router: () => rt.slot.current.router,
    readiness: rt.readiness,
    draining: rt.draining,
    metrics: opts.metricsOnMainPort ? rt.metrics : undefined,
  });
  return (req, res) => {
    if (health(req, res)) return;
    const started = process.hrtime.bigint();
    // A request that arrives while draining gets its answer, then the connection closes.
    if (rt.draining()) res.setHeader('Connection', 'close');
    const lease = rt.slot.lease();
    const { router, credentials, principals } = lease.state;
    rt.metrics.requestStarted();
    const done = (record: RequestRecord) => {
      lease.release();
      const seconds = Number(process.hrtime.bigint() - started) / 1e9;
      const { bytesIn, bytesOut } = wireBytes(req.socket);
      const operation = record.operation ?? 'Unknown';
      const backend = record.backend ?? '-';
      rt.metrics.requestDone({ operation, backend, status: record.status, bytesIn, bytesOut, seconds });
      // The path only: a presigned URL's query carries a signature and credentials.
      if (rt.logger.isLevelEnabled('info'))
        rt.logger.info(
          {
            reqId: record.requestId,
            identity: record.identity,
            accessKey: record.accessKeyId,
            operation,
            method: req.method,
            bucket: record.bucket,
            backend: record.backend,
            status: record.status,
            errorCode: record.errorCode,
            bytesIn,
            bytesOut,
            durationMs: Math.round(seconds * 1e4) / 10,
            remote: req.socket.remoteAddress,
            aborted: !res.writableFinished || undefined,
          },
          'request',
        );
    };
    let finished = false;
    const once = (record: RequestRecord) => {
      if (!finished) {
        finished = true;
        done(record);
      }
    };
    const p = dispatch(req, res, {
      services: {
        router,
        region: opts.region ?? 'us-east-1',
        keepAliveMs: opts.keepAliveMs,
        fsEncryptedAtRest: opts.fsEncryptedAtRest,
        lifecycleDayMs: opts.lifecycleDayMs,
      },
      domains: opts.domains ?? [],
      trustForwarded: opts.trustForwarded,
      credentials,
      principals,
      onInternalError: (err, r, requestId) =>
        rt.logger.error({ reqId: requestId, method: r.method, path: (r.url ?? '/').split('?')[0], err }, 'unexpected error'),
      onDone: once,
    })
      .catch((err: unknown) => {
        // dispatch answers every error itself; this is the guard behind it.
        const requestId = String(res.getHeader('x-amz-request-id') ?? '-');
        rt.logger.error({ reqId: requestId, err }, 'request handling failed');
        res.destroy();
        once({ requestId, status: 500, errorCode: 'InternalError' });
      })
      .finally(() => {
        rt.inflight.delete(p);
      });
    rt.inflight.add(p);
  };
}

function settleWithin(promises: Iterable<Promise<unknown>>, ms: number): Promise<boolean> {
  const all = Promise.allSettled([...promises]).then(() => true);
  let timer: NodeJS.Timeout | undefined;
  const deadline = new Promise<boolean>((resolve) => {
    timer = setTimeout(() => resolve(false), ms);
  });
  return Promise.race([all, deadline]).finally(() => clearTimeout(timer));
}

export async function startServer(opts: ServerOptions): Promise<RunningServer> {
  const logger = opts.logger ?? (opts.log ? lineLogger(opts.log) : lineLogger(() => {}, 'silent'));
  const metrics = new Metrics();
  let draining = false;
  if (!opts.routing && !opts.router) throw new Error('startServer needs a router or a routing state');
  const initial = opts.routing ?? routingState(opts.router!, opts.identities ?? [], opts.users);
  const slot = new RoutingSlot(initial, (old) => {
    // A router the caller passed stays the caller's to close; the ones reloads brought are ours.
    if (opts.routing || old.router !== opts.router)
      void old.router.close().catch((err: unknown) => logger.warn({ err }, 'closing a replaced routing table failed'));
  });
  const rt: Runtime = {
    slot,
    logger,
    metrics,
    inflight: new Set(),
    readiness: new Readiness(opts.readiness),
    draining: () => draining,
  };
  const app = createApp(opts, rt);
  const server = createHttpServer(
    app,
    opts.tls && { cert: readFileSync(opts.tls.cert), key: readFileSync(opts.tls.key) },
    opts.idleTimeoutMs,
    opts.maxConnections,
  );
  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen(opts.port, opts.host, () => {
      server.off('error', reject);
      resolve();
    });
  });
  const port = (server.address() as AddressInfo).port;
  const maxAge = opts.multipartMaxAgeMs ?? DEFAULT_MULTIPART_MAX_AGE_MS;
  const stopSweeper =
    maxAge > 0
      ? startSweeper({
          targets: () => sweepTargets(slot.current.router),
          maxAgeMs: maxAge,
          intervalMs: Math.min(SWEEP_INTERVAL_MS, maxAge),
          log: (line) => logger.warn(line),
          onSweep: (r) => metrics.sweepDone({ failed: r.failed, open: r.open, removed: r.removedBy }),
        })
      : () => {};
  const lifecycleInterval = opts.lifecycleIntervalMs ?? DEFAULT_LIFECYCLE_INTERVAL_MS;
  const lifecycle =
    lifecycleInterval > 0
      ? startLifecycleWorker(
          new LifecycleWorker({
            router: () => slot.current.router,
            dayMs: opts.lifecycleDayMs,
            log: (line) => logger.warn(line),
            onRun: (r) => metrics.lifecycleDone(r),
          }),
          lifecycleInterval,
        )
      : undefined;
  const hostForUrl = opts.host.includes(':') ? `[${opts.host}]` : opts.host;
  let stopping: Promise<number> | undefined;
  const shutdown = (graceMs: number): Promise<number> => {
    stopping ??= (async () => {
      draining = true;
      stopSweeper();
      lifecycle?.stop();
      const closed = new Promise<void>((resolve) => server.close(() => resolve()));
      server.closeIdleConnections();
      const cut = (await settleWithin(rt.inflight, graceMs)) ? 0 : rt.inflight.size;
      if (cut) logger.warn({ requests: cut, graceMs }, 'shutdown grace period over: cutting the requests still under way');
      server.closeAllConnections();
      // Cut uploads end in their handlers' clean-up (temp files, staged parts): wait for it.
      await settleWithin(rt.inflight, 10_000);
      await closed;
      metrics.close();
      return cut;
    })();
    return stopping;
  };
  return {
    server,
    port,
    metrics,
    logger,
    url: `${opts.tls ? 'https' : 'http'}://${hostForUrl}:${port}`,
    setRouting: (state) => slot.swap(state),
    routing: () => slot.current,
    shutdown,
    close: async () => {
      await shutdown(0);
    },
  };
}
