/**
 * s3mux as a child process (`node dist/src/cli.js serve`) over a temporary data directory, so
 * that its memory is its own and not the bench's. Without a routing table it serves the
 * filesystem backend in that directory; with one (`configFile`, `serve --config FILE`, plus the
 * `env` holding the secrets the table names) it serves the table's backends, and the data
 * directory should stay empty. node gets the options s3mux's launchers give it (the image's
 * ENTRYPOINT, npm start: src/node-flags.ts), the --compare build its own.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { existsSync, mkdtempSync, rmSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';

export interface ServerProcess {
  pid: number;
  url: string;
  host: string;
  port: number;
  dataDir: string;
  /** The last lines the server wrote (stdout and stderr), for failure reports. */
  logTail(): string[];
  /** How many "internal error" lines the server logged. */
  internalErrors(): number;
  /** Whether the server is still running. */
  alive(): boolean;
  /** How it exited ('code 0', 'signal SIGKILL'), '' while running. */
  exitInfo(): string;
  /** Stops the server (SIGTERM, then SIGKILL) and removes the data directory. Idempotent. */
  stop(): Promise<void>;
  /** Last resort from a synchronous 'exit' handler: SIGKILL and remove the directory. */
  stopSync(): void;
}

const CLI = path.join(__dirname, '..', 'src', 'cli.js');
const BARE = path.join(__dirname, 'bare-server.js');
const RELAY = path.join(__dirname, 'bare-relay.js');
const DURABLE = path.join(__dirname, 'bare-durable-server.js');
const TAIL_LINES = 60;

/** The node options a build's launchers start it with (none for a build older than src/node-flags.ts). */
function launcherFlags(cli: string): string[] {
  const file = path.join(path.dirname(cli), 'node-flags.js');
  return existsSync(file) ? [...(require(file) as { NODE_FLAGS: readonly string[] }).NODE_FLAGS] : [];
}

export interface ServerOptions {
  /** A routing table: `serve --config FILE`. */
  configFile?: string;
  /** More environment for the server (the secrets a routing table names by reference). */
  env?: Record<string, string>;
  startupTimeoutMs?: number;
  /** Options for node before the script (e.g. `--require` of the profiling hook). */
  nodeArgs?: string[];
  /** Run the bare ceiling server (bench/bare-server.ts) instead of s3mux. */
  bare?: boolean;
  /** Run the bare durable writer (bench/bare-durable-server.ts) over the data directory instead of s3mux. */
  durable?: boolean;
  /** Run the bare relay (bench/bare-relay.ts) onto this upstream URL instead of s3mux. */
  relay?: string;
  /** Another build's dist/src/cli.js (the bench's --compare): that s3mux instead of this one. */
  cli?: string;
}

export async function startServerProcess(
  creds: { accessKeyId: string; secretAccessKey: string },
  opts: ServerOptions = {},
): Promise<ServerProcess> {
  const startupTimeoutMs = opts.startupTimeoutMs ?? 20_000;
  const dataDir = mkdtempSync(path.join(os.tmpdir(), 's3mux-bench-'));
  const env: NodeJS.ProcessEnv = {
    ...process.env,
    ...opts.env,
    S3MUX_ROOT_USER: creds.accessKeyId,
    S3MUX_ROOT_PASSWORD: creds.secretAccessKey,
  };
  delete env.NODE_OPTIONS; // measure the server as it runs by default
  if (opts.relay) env.S3MUX_BENCH_RELAY_UPSTREAM = opts.relay;
  if (opts.durable) env.S3MUX_BENCH_DATA_DIR = dataDir;
  // One of the bench's own servers instead of s3mux, or none.
  const bareScript = opts.bare ? BARE : opts.durable ? DURABLE : opts.relay ? RELAY : undefined;
  const args = bareScript
    ? [...(opts.nodeArgs ?? []), bareScript]
    : [
        ...launcherFlags(opts.cli ?? CLI),
        ...(opts.nodeArgs ?? []),
        opts.cli ?? CLI,
        'serve',
        '--address',
        '127.0.0.1:0',
        '--data-dir',
        dataDir,
      ];
  if (opts.configFile && !bareScript) args.push('--config', opts.configFile);
  let child: ChildProcess;
  try {
    // Port 0: the kernel picks a free port, and the server prints the one it got.
    child = spawn(process.execPath, args, {
      env,
      stdio: ['ignore', 'pipe', 'pipe'],
    });
  } catch (err) {
    rmSync(dataDir, { recursive: true, force: true });
    throw err;
  }

  const tail: string[] = [];
  let internalErrors = 0;
  let exited = child.exitCode !== null;
  let exitInfo = '';
  const exitPromise = new Promise<void>((resolve) => {
    child.once('exit', (code, signal) => {
      exited = true;
      exitInfo = signal ? `signal ${signal}` : `code ${code}`;
      resolve();
    });
  });
  let onLine: ((line: string) => void) | undefined;
  const reader = (stream: NodeJS.ReadableStream) => {
    let pending = '';
    stream.setEncoding('utf8');
    stream.on('data', (chunk: string) => {
      pending += chunk;
      let nl: number;
      while ((nl = pending.indexOf('\n')) >= 0) {
        const line = pending.slice(0, nl);
        pending = pending.slice(nl + 1);
        if (/internal error/i.test(line)) internalErrors++;
        tail.push(line);
        if (tail.length > TAIL_LINES) tail.shift();
        onLine?.(line);
      }
    });
  };
  reader(child.stdout!);
  reader(child.stderr!);

  let stopped = false;
  const stop = async (): Promise<void> => {
    if (stopped) return;
    stopped = true;
    if (!exited) {
      child.kill('SIGTERM');
      const killer = setTimeout(() => {
        if (!exited) child.kill('SIGKILL');
      }, 3_000);
      await exitPromise;
      clearTimeout(killer);
    }
    rmSync(dataDir, { recursive: true, force: true });
  };
  const stopSync = (): void => {
    if (!exited) {
      try {
        child.kill('SIGKILL');
      } catch {
        /* already gone */
      }
    }
    if (!stopped) {
      stopped = true;
      rmSync(dataDir, { recursive: true, force: true });
    }
  };

  let url: string;
  try {
    url = await new Promise<string>((resolve, reject) => {
      const timer = setTimeout(() => reject(new Error(`s3mux did not report listening within ${startupTimeoutMs} ms`)), startupTimeoutMs);
      onLine = (line) => {
        const m = /(?:s3mux|bare|relay) listening on (https?:\/\/\S+)/.exec(line);
        if (m) {
          clearTimeout(timer);
          resolve(m[1]);
        }
      };
      void exitPromise.then(() => {
        clearTimeout(timer);
        reject(new Error(`s3mux exited during startup (${exitInfo})`));
      });
      child.once('error', (err) => {
        clearTimeout(timer);
        reject(err);
      });
    });
  } catch (err) {
    await stop();
    const lines = tail.length ? `\n  server output:\n    ${tail.join('\n    ')}` : '';
    throw new Error(`${(err as Error).message}${lines}`);
  } finally {
    onLine = undefined;
  }
  const u = new URL(url);
  if (u.hostname !== '127.0.0.1') {
    await stop();
    throw new Error(`s3mux listens on ${url}, expected 127.0.0.1`);
  }
  return {
    pid: child.pid!,
    url,
    host: u.hostname,
    port: Number(u.port),
    dataDir,
    logTail: () => [...tail],
    internalErrors: () => internalErrors,
    alive: () => !exited,
    exitInfo: () => exitInfo,
    stop,
    stopSync,
  };
}
