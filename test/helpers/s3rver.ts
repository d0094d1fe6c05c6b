/**
 * s3rver (an S3 emulator, npm s3rver@3.7.1) as a child process for tests: a fresh data
 * directory, a free port, path-style only, silent. Credentials S3RVER / S3RVER.
 *
 * Node runs it with --openssl-legacy-provider: s3rver encrypts ListObjectsV2 continuation
 * tokens with DES, which OpenSSL 3 disables (500 InternalError without the flag).
 * Its gaps (see /work/shared/notes/backend-emulators.md §2): no AbortMultipartUpload (405),
 * ListMultipartUploads (501) or ListParts; SigV4 signatures are not verified (only the key
 * id); aws-chunked bodies are stored verbatim.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import net from 'node:net';
import os from 'node:os';
import path from 'node:path';

export const S3RVER_ACCESS_KEY = 'S3RVER';
export const S3RVER_SECRET_KEY = 'S3RVER';

export interface RunningS3rver {
  /** http://127.0.0.1:<port> */
  endpoint: string;
  port: number;
  dir: string;
  process: ChildProcess;
  /** What it wrote to stderr (for failure messages). */
  stderr(): string;
  stop(): Promise<void>;
}

/** A port nothing listens on right now: bind port 0, read it, close. */
export function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const srv = net.createServer();
    srv.unref();
    srv.once('error', reject);
    srv.listen(0, '127.0.0.1', () => {
      const port = (srv.address() as net.AddressInfo).port;
      srv.close(() => resolve(port));
    });
  });
}

function s3rverScript(): string {
  return path.join(path.dirname(require.resolve('s3rver/package.json')), 'bin', 's3rver.js');
}

async function answers(url: string): Promise<boolean> {
  try {
    const res = await fetch(url, { signal: AbortSignal.timeout(1000) });
    await res.arrayBuffer();
    return res.status > 0;
  } catch {
    return false;
  }
}

function exited(child: ChildProcess): boolean {
  return child.exitCode !== null || child.signalCode !== null;
}

function waitExit(child: ChildProcess, ms: number): Promise<boolean> {
  if (exited(child)) return Promise.resolve(true);
  return new Promise((resolve) => {
    const t = setTimeout(() => {
      child.off('exit', onExit);
      resolve(false);
    }, ms);
    const onExit = (): void => {
      clearTimeout(t);
      resolve(true);
    };
    child.once('exit', onExit);
  });
}

export async function startS3rver(opts: { readyTimeoutMs?: number } = {}): Promise<RunningS3rver> {
  const dir = mkdtempSync(path.join(os.tmpdir(), 's3mux-s3rver-'));
  // Another process may take the port between the probe and s3rver's bind: try a few.
  let lastErr = '';
  for (let attempt = 0; attempt < 3; attempt++) {
    const port = await freePort();
    const child = spawn(process.execPath, [
      '--openssl-legacy-provider', s3rverScript(),
      '-d', dir, '-a', '127.0.0.1', '-p', String(port), '--no-vhost-buckets', '-s',
    ], { stdio: ['ignore', 'ignore', 'pipe'] });
    let stderr = '';
    child.stderr?.setEncoding('utf8');
    child.stderr?.on('data', (d: string) => {
      stderr = (stderr + d).slice(-20_000);
    });
    const endpoint = `http://127.0.0.1:${port}`;
    const deadline = Date.now() + (opts.readyTimeoutMs ?? 20_000);
    let ready = false;
    while (Date.now() < deadline && !exited(child)) {
      if (await answers(endpoint)) {
        ready = true;
        break;
      }
      await new Promise((r) => setTimeout(r, 100));
    }
    const stop = async (): Promise<void> => {
      if (!exited(child)) {
        child.kill('SIGTERM');
        if (!(await waitExit(child, 5000))) {
          child.kill('SIGKILL');
          await waitExit(child, 5000);
        }
      }
    };
    if (ready) {
      return {
        endpoint, port, dir, process: child,
        stderr: () => stderr,
        async stop() {
          await stop();
          rmSync(dir, { recursive: true, force: true });
        },
      };
    }
    lastErr = stderr;
    await stop();
  }
  rmSync(dir, { recursive: true, force: true });
  throw new Error(`s3rver did not start: ${lastErr}`);
}
