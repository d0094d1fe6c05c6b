/**
 * Shared helpers for the Node client scenarios (aws-sdk-js-v3.ts, minio-js.ts): the same
 * reporting protocol as the shell and Python ones ("OP <name> ok|FAIL <msg>|skip" on stdout).
 */
import { createHash } from 'node:crypto';
import http from 'node:http';
import https from 'node:https';
import { readFileSync } from 'node:fs';
import type { Readable } from 'node:stream';

function need(name: string): string {
  const v = process.env[name];
  if (v === undefined || v === '') throw new Error(`${name} is not set (run through test/e2e/run.ts)`);
  return v;
}

export const env = {
  endpoint: need('S3_ENDPOINT'),
  proto: need('S3_PROTO') as 'http' | 'https',
  host: need('S3_HOST'),
  port: Number(need('S3_PORT')),
  region: process.env.S3_REGION || 'us-east-1',
  accessKey: need('S3_ACCESS_KEY'),
  secretKey: need('S3_SECRET_KEY'),
  bucket: need('S3_BUCKET'),
  caFile: process.env.S3_CA_FILE || undefined,
  workDir: need('WORK_DIR'),
  stepTimeoutMs: Number(process.env.CMD_TIMEOUT || '120') * 1000,
};

export const ca: Buffer | undefined = env.caFile ? readFileSync(env.caFile) : undefined;
export const httpsAgent = new https.Agent({ ca, keepAlive: true });

/** The last requests/responses, filled by the scenario's own hooks, dumped when a step fails. */
export const wire: string[] = [];
export function logWire(line: string): void {
  if (process.env.E2E_WIRE) console.error(line); // E2E_WIRE=1: show every request/response
  wire.push(line);
  if (wire.length > 16) wire.shift();
}

let failed = 0;

export class CheckError extends Error {}

export function check(cond: unknown, msg: string): asserts cond {
  if (!cond) throw new CheckError(msg);
}

/** One line describing an error from either SDK. */
export function describe(err: unknown): string {
  if (err instanceof CheckError) return err.message;
  const e = err as {
    name?: string;
    code?: string;
    Code?: string;
    message?: string;
    $metadata?: { httpStatusCode?: number };
    amzRequestid?: string;
  };
  const status = e?.$metadata?.httpStatusCode;
  const code = e?.Code ?? e?.code ?? e?.name ?? 'Error';
  return `${code}${status ? ` (HTTP ${status})` : ''}: ${e?.message ?? String(err)}`.replace(/\s+/g, ' ');
}

/** Operations not to run: the backend's declared store gaps (test/e2e/targets.ts), reported as "OP <name> skip". */
const skipOps = new Set((process.env.E2E_SKIP_OPS ?? '').split(',').filter(Boolean));
/** The store holds no user metadata (a declared gap): steps other than `metadata` send none. */
export const noMetadata = skipOps.has('metadata');
/** The store's ETags are not content MD5s (targets.ts opaqueEtag): any ETag is accepted where an MD5 is expected. */
export const opaqueEtag = process.env.E2E_OPAQUE_ETAG === '1';

/** `got` is the expected ETag `want` (quoted or not, as the client gives it), or any ETag on a store whose ETags are opaque. */
export function etagOk(got: string | undefined, want: string | RegExp): boolean {
  if (typeof want === 'string' ? got === want : want.test(got ?? '')) return true;
  return opaqueEtag && typeof got === 'string' && got.replace(/"/g, '') !== '';
}

export async function step(name: string, fn: () => Promise<void>, opts: { critical?: boolean } = {}): Promise<boolean> {
  if (skipOps.has(name)) {
    console.log(`OP ${name} skip`);
    return true;
  }
  wire.length = 0;
  let timer: NodeJS.Timeout | undefined;
  try {
    await Promise.race([
      fn(),
      new Promise<never>((_, reject) => {
        timer = setTimeout(() => reject(new CheckError(`step timed out after ${env.stepTimeoutMs / 1000} s`)), env.stepTimeoutMs);
      }),
    ]);
    console.log(`OP ${name} ok`);
    return true;
  } catch (err) {
    failed++;
    console.log(`OP ${name} FAIL ${describe(err)}`);
    console.error(`=== step ${name} failed:`, err);
    console.error(`--- last requests/responses:\n${wire.join('\n')}`);
    if (opts.critical) finish();
    return false;
  } finally {
    clearTimeout(timer);
  }
}

export function finish(): never {
  process.exit(failed > 0 ? 1 : 0);
}

/** Runs fn, which must fail; `match` tells whether the error is the expected one. */
/** What a client library's error carries (SDK errors, minio's S3Error), as far as the checks look. */
export interface ClientError {
  name?: string;
  message?: string;
  code?: string;
  $metadata?: { httpStatusCode?: number };
}

export async function expectError(what: string, fn: () => Promise<unknown>, match: (e: ClientError) => boolean): Promise<void> {
  let result: unknown;
  try {
    result = await fn();
  } catch (err) {
    check(match(err as ClientError), `${what}: got ${describe(err)}`);
    return;
  }
  throw new CheckError(`${what}: the call succeeded (${JSON.stringify(result)?.slice(0, 200)})`);
}

export const sha256 = (b: Buffer | Uint8Array) => createHash('sha256').update(b).digest('hex');
export const md5 = (b: Buffer | Uint8Array) => createHash('md5').update(b).digest('hex');

export function checkSame(expected: Buffer, actual: Buffer | Uint8Array, what: string): void {
  check(sha256(expected) === sha256(actual), `${what}: sha256 mismatch (${actual.length} bytes received, ${expected.length} expected)`);
}

export async function readAll(stream: Readable | AsyncIterable<Uint8Array>): Promise<Buffer> {
  const chunks: Buffer[] = [];
  for await (const c of stream) chunks.push(Buffer.from(c));
  return Buffer.concat(chunks);
}

/** A plain HTTP(S) request (for presigned URLs). */
export function request(
  url: string,
  init: { method?: string; body?: Buffer; headers?: Record<string, string> } = {},
): Promise<{ status: number; headers: http.IncomingHttpHeaders; body: Buffer }> {
  return new Promise((resolve, reject) => {
    const u = new URL(url);
    const mod = u.protocol === 'https:' ? https : http;
    const req = mod.request(
      u,
      {
        method: init.method ?? 'GET',
        headers: { ...(init.body ? { 'content-length': String(init.body.length) } : {}), ...init.headers },
        ...(u.protocol === 'https:' ? { ca } : {}),
        timeout: 60_000,
      },
      (res) => {
        const chunks: Buffer[] = [];
        res.on('data', (c: Buffer) => chunks.push(c));
        res.on('end', () => resolve({ status: res.statusCode ?? 0, headers: res.headers, body: Buffer.concat(chunks) }));
        res.on('error', reject);
      },
    );
    req.on('timeout', () => req.destroy(new Error('request timed out')));
    req.on('error', reject);
    req.end(init.body);
  });
}

export function note(msg: string): void {
  console.error(`note: ${msg}`);
}
