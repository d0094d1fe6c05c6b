/** s3mux as a separate process (the CLI), for tests of restarts, kills and several replicas. */
import { spawn, type ChildProcess } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { S3Client } from '@aws-sdk/client-s3';

const CLI = path.resolve(__dirname, '../../src/cli.js');
export const CHILD_USER = 'childuser';
export const CHILD_PASSWORD = 'childpassword';

export interface ChildServer {
  url: string;
  process: ChildProcess;
  client: S3Client;
  /** For presigned PUT URLs: checksums only where required (helpers/server.ts `presigner` says why). */
  presigner: S3Client;
  log(): string;
  stop(signal?: NodeJS.Signals): Promise<void>;
}

/** `extraArgs` go to `s3mux serve`, `nodeArgs` to node before the script. */
export async function startChildServer(dataDir: string, extraArgs: string[] = [], nodeArgs: string[] = []): Promise<ChildServer> {
  const child = spawn(process.execPath, [...nodeArgs, CLI, 'serve', '--address', '127.0.0.1:0', '--data-dir', dataDir, ...extraArgs], {
    env: { ...process.env, S3MUX_ROOT_USER: CHILD_USER, S3MUX_ROOT_PASSWORD: CHILD_PASSWORD },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  let out = '';
  child.stdout.on('data', (d: Buffer) => {
    out += d.toString();
  });
  child.stderr.on('data', (d: Buffer) => {
    out += d.toString();
  });
  const url = await new Promise<string>((resolve, reject) => {
    const timer = setTimeout(() => reject(new Error(`s3mux did not start: ${out}`)), 15_000);
    const onData = () => {
      const m = /listening on (https?:\/\/\S+)/.exec(out);
      if (m) {
        clearTimeout(timer);
        child.stdout.off('data', onData);
        resolve(m[1]);
      }
    };
    child.stdout.on('data', onData);
    child.once('exit', (code) => {
      clearTimeout(timer);
      reject(new Error(`s3mux exited (${code}): ${out}`));
    });
  });
  const client = new S3Client({
    endpoint: url,
    region: 'us-east-1',
    forcePathStyle: true,
    credentials: { accessKeyId: CHILD_USER, secretAccessKey: CHILD_PASSWORD },
  });
  const presigner = new S3Client({
    endpoint: url,
    region: 'us-east-1',
    forcePathStyle: true,
    credentials: { accessKeyId: CHILD_USER, secretAccessKey: CHILD_PASSWORD },
    requestChecksumCalculation: 'WHEN_REQUIRED',
  });
  return {
    url,
    process: child,
    client,
    presigner,
    log: () => out,
    async stop(signal: NodeJS.Signals = 'SIGTERM') {
      client.destroy();
      presigner.destroy();
      if (child.exitCode !== null || child.signalCode !== null) return;
      await new Promise<void>((resolve) => {
        child.once('exit', () => resolve());
        child.kill(signal);
      });
    },
  };
}

/**
 * For a describe block whose tests start s3mux processes: each test gets a fresh data
 * directory (`dataDir()`), and every server it started is killed (-9) and the folder removed after it.
 */
export function childServersPerTest(prefix: string): {
  dataDir: () => string;
  start: (extraArgs?: string[], nodeArgs?: string[]) => Promise<ChildServer>;
} {
  let dir = '';
  const servers: ChildServer[] = [];
  beforeEach(() => {
    dir = mkdtempSync(path.join(os.tmpdir(), prefix));
  });
  afterEach(async () => {
    await Promise.all(servers.splice(0).map((s) => s.stop('SIGKILL')));
    rmSync(dir, { recursive: true, force: true });
  });
  return {
    dataDir: () => dir,
    start: async (extraArgs?: string[], nodeArgs?: string[]) => {
      const s = await startChildServer(dir, extraArgs, nodeArgs);
      servers.push(s);
      return s;
    },
  };
}
