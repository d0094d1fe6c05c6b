/**
 * s3rver (an S3 emulator, npm s3rver@3.7.1) as a child process for tests: a fresh data
 * directory, a free port, path-style only, silent. Credentials S3RVER / S3RVER.
 *
 * Node runs it with --openssl-legacy-provider: s3rver encrypts ListObjectsV2 continuation
 * tokens with DES, which OpenSSL 3 disables (500 InternalError without the flag).
 * s3rver-settled-puts.js makes its PutObject answer only once the file is written (S3's
 * read-after-write consistency; s3rver answered before).
 * Its gaps (see /work/shared/notes/backend-emulators.md §2): no AbortMultipartUpload (405),
 * ListMultipartUploads (501) or ListParts; SigV4 signatures are not verified (only the key
 * id); aws-chunked bodies are stored verbatim.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { freePort, hasExited, stopChild } from './processes';
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

export async function startS3rver(opts: { readyTimeoutMs?: number } = {}): Promise<RunningS3rver> {
  const dir = mkdtempSync(path.join(os.tmpdir(), 's3mux-s3rver-'));
  // Another process may take the port between the probe and s3rver's bind: try a few.
  let lastErr = '';
  for (let attempt = 0; attempt < 3; attempt++) {
    const port = await freePort();
    const child = spawn(
      process.execPath,
      [
        '--openssl-legacy-provider',
        '--require',
        path.join(__dirname, 's3rver-settled-puts.js'),
        s3rverScript(),
        '-d',
        dir,
        '-a',
        '127.0.0.1',
        '-p',
        String(port),
        '--no-vhost-buckets',
        '-s',
      ],
      { stdio: ['ignore', 'ignore', 'pipe'] },
    );
    let stderr = '';
    child.stderr?.setEncoding('utf8');
    child.stderr?.on('data', (d: string) => {
      stderr = (stderr + d).slice(-20_000);
    });
    const endpoint = `http://127.0.0.1:${port}`;
    const deadline = Date.now() + (opts.readyTimeoutMs ?? 20_000);
    let ready = false;
    while (Date.now() < deadline && !hasExited(child)) {
      if (await answers(endpoint)) {
        ready = true;
        break;
      }
      await new Promise((r) => setTimeout(r, 100));
    }
    const stop = (): Promise<void> => stopChild(child, 5000, 5000);
    if (ready) {
      return {
        endpoint,
        port,
        dir,
        process: child,
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
