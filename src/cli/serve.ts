/**
 * `s3mux serve`: start the server, print where it is and what it serves, reload the routing
 * table on SIGHUP or when its file changes, and stop gracefully on SIGTERM/SIGINT.
 */
import path from 'node:path';
import { DEFAULT_MULTIPART_MAX_AGE_MS, startServer, type RunningServer } from '../server/app';
import { startMetricsListener, type MetricsListener } from '../server/metrics-listener';
import { ConfigError, formatProblem } from '../router/config';
import { isLoopback, DEV_ROOT_PASSWORD, DEV_ROOT_USER } from '../credentials';
import { createLogger, type Logger } from '../observability/logger';
import { parseServeOptions, type ServeOptions } from './serve-options';
import { parseAddress } from './values';
import { buildRouting, type BuiltRouting } from './routing';
import { routeLines } from './route-table';
import { watchReloads } from './reload';
import { startCopiers } from '../router/forms/copiers';
import { startBufferSweep } from '../buffer-sweep';

function banner(
  opts: ServeOptions,
  built: BuiltRouting,
  server: RunningServer,
  metrics: MetricsListener | undefined,
  host: string,
): string[] {
  const { root, table } = built;
  const lines = [`s3mux listening on ${server.url}`];
  if (root.source === 'dev-default') {
    lines.push(
      `root credentials: development default (access key ${DEV_ROOT_USER}, secret key ${DEV_ROOT_PASSWORD}); set S3MUX_ROOT_USER and S3MUX_ROOT_PASSWORD`,
    );
  } else {
    lines.push(`root credentials: from ${root.from} (access key ${root.identity.accessKeyId})`);
  }
  const users = table.identities ?? [];
  if (users.length) lines.push(`identities: ${users.map((i) => i.name).join(', ')} (from the routing table)`);
  lines.push(
    opts.config
      ? `routing table: ${path.resolve(opts.config)} (reloaded on SIGHUP and on change)`
      : `data directory: ${path.resolve(opts.dataDir)}`,
  );
  for (const l of routeLines(table)) lines.push(`route ${l}`);
  if (opts.metrics) lines.push(`metrics: ${server.url}/minio/v2/metrics/cluster`);
  if (metrics) lines.push(`metrics: ${metrics.url}`);
  lines.push(`health: ${server.url}/healthz, ${server.url}/readyz`);
  if (root.source === 'dev-default' && !isLoopback(host)) lines.push(...devCredentialsWarning(host));
  return lines;
}

/** As MinIO does: the well-known development credentials on an address others can reach. */
function devCredentialsWarning(host: string): string[] {
  const text = [
    `WARNING: s3mux listens on ${host}, reachable from other machines, with the DEVELOPMENT`,
    `default credentials ${DEV_ROOT_USER} / ${DEV_ROOT_PASSWORD}, which anyone can look up.`,
    'Set real ones with S3MUX_ROOT_USER and S3MUX_ROOT_PASSWORD (or MINIO_ROOT_USER /',
    'MINIO_ROOT_PASSWORD, or their *_FILE variants) before putting data here.',
  ];
  const w = Math.max(...text.map((t) => t.length));
  const bar = `+${'-'.repeat(w + 2)}+`;
  return [bar, ...text.map((t) => `| ${t.padEnd(w)} |`), bar];
}

function problemsOf(err: unknown): string[] | undefined {
  return err instanceof ConfigError ? err.problems.map(formatProblem) : undefined;
}

export async function runServe(argv: string[], env: NodeJS.ProcessEnv = process.env): Promise<void> {
  const opts = parseServeOptions(argv, env);
  const logger: Logger = createLogger({ level: opts.logLevel, format: opts.logFormat });
  const { host, port } = parseAddress(opts.address);
  let built = buildRouting(opts, env);
  const server = await startServer({
    routing: built.state,
    host,
    port,
    region: opts.region,
    domains: opts.domains,
    multipartMaxAgeMs: opts.multipartExpiryMs ?? DEFAULT_MULTIPART_MAX_AGE_MS,
    tls: opts.tlsCert && opts.tlsKey ? { cert: opts.tlsCert, key: opts.tlsKey } : undefined,
    logger,
    metricsOnMainPort: opts.metrics,
    fsEncryptedAtRest: opts.fsEncryptedAtRest,
    trustForwarded: opts.trustForwarded,
    idleTimeoutMs: opts.idleTimeoutMs,
    maxConnections: opts.maxConnections,
    lifecycleIntervalMs: opts.lifecycleIntervalMs,
    lifecycleDayMs: opts.lifecycleTestDayMs,
  });
  const bufferSweep = startBufferSweep((err) =>
    logger.warn({ err }, 'buffer sweep stopped: a large transfer may leave more memory in use'),
  );
  server.server.on('request', bufferSweep.wake);
  let metricsListener: MetricsListener | undefined;
  if (opts.metricsAddress) {
    const m = parseAddress(opts.metricsAddress, '--metrics-address');
    metricsListener = await startMetricsListener(server.metrics, m.host, m.port);
  }
  // One write, so a reader waiting for the 'listening on' line has the whole banner with it.
  process.stdout.write(`${banner(opts, built, server, metricsListener, host).join('\n')}\n`);
  if (built.root.source === 'dev-default' && !isLoopback(host))
    logger.warn({ address: opts.address }, 'development default credentials on a non-loopback address');

  // Migration copiers run on the current table; a reload hands over to the new table's (they resume from the checkpoint).
  let copiers = startCopiers(built.state.router, logger);
  const reload = (reason: string) => {
    try {
      const next = buildRouting(opts, env);
      const old = copiers;
      copiers = startCopiers(next.state.router, logger);
      void old.stop();
      server.setRouting(next.state);
      built = next;
      logger.info(
        { reason, file: opts.config, routes: next.table.routes.length, identities: next.table.identities?.length ?? 0 },
        'routing table reloaded',
      );
    } catch (err) {
      logger.error(
        { reason, file: opts.config, problems: problemsOf(err), error: problemsOf(err) ? undefined : (err as Error).message },
        'routing table not reloaded: it is invalid; the current table stays',
      );
    }
  };
  const stopWatching = watchReloads(opts.config, reload);

  let stopping = false;
  const stop = (signal: NodeJS.Signals) => {
    if (stopping) return;
    stopping = true;
    logger.info({ signal, graceMs: opts.shutdownGraceMs }, 'shutting down: no new connections; waiting for requests under way');
    stopWatching();
    bufferSweep.stop();
    void (async () => {
      await copiers.stop();
      const cut = await server.shutdown(opts.shutdownGraceMs);
      await metricsListener?.close();
      await server
        .routing()
        .router.close()
        .catch((err: unknown) => logger.warn({ err }, 'closing backends failed'));
      logger.info({ cut }, 'stopped');
      process.exit(0);
    })();
  };
  process.on('SIGTERM', stop);
  process.on('SIGINT', stop);
}
