/**
 * The transport to one S3-compatible endpoint: addressing (path-style or virtual-hosted),
 * SigV4 signing (sign.ts), one keep-alive undici Agent, and the one retry loop (bounded
 * attempts, exponential backoff with full jitter) for network failures, timeouts and
 * 429/5xx/SlowDown answers. Errors leave as S3Error (errors.ts has the table).
 *
 * Connections are kept for HEAD too: undici closes a connection after every HEAD unless told
 * otherwise (against servers that send a body with it, which S3 stores do not), and a new
 * TCP connection per HEAD cost both this process and the store more than the HEAD itself.
 *
 * Bodies: a Buffer/string is signed and may be sent again; a Readable is sent once with its
 * Content-Length and `x-amz-content-sha256: UNSIGNED-PAYLOAD` (never aws-chunked), and is
 * retried only when it failed before a byte of it was read.
 */
import { createHash } from 'node:crypto';
import type { Readable } from 'node:stream';
import { Agent, DecoratorHandler, type Dispatcher } from 'undici';
import { bodyFailure, S3Error } from '../../errors';
import type { CachedCredentials } from './credentials';
import { isRetryableAnswer, isRetryableNetworkError, networkError, storeError, type NotFoundCode } from './errors';
import { child, parseXml, text } from './xml';
import { canonicalBasePath, EMPTY_SHA256, encodeSegment, signRequest } from './sign';
import { sha256Hex } from '../../auth/digests';
import { reportBackendRetry } from '../../observability/backend-events';

/** A network failure's code for metrics (ECONNRESET, UND_ERR_SOCKET ...). */
function networkCode(err: unknown): string {
  const code = (err as { code?: unknown })?.code;
  return typeof code === 'string' && code ? code : 'NetworkError';
}

export type HttpMethod = 'GET' | 'HEAD' | 'PUT' | 'POST' | 'DELETE';

export interface S3Request {
  method: HttpMethod;
  /** Absent for service-level requests (ListBuckets). */
  bucket?: string;
  key?: string;
  /** Query parameters; '' gives a bare sub-resource (`?uploads`). Undefined values are left out. */
  query?: Record<string, string | number | undefined>;
  headers?: Record<string, string>;
  body?: Buffer | string | Readable;
  /** Required with a Readable body. */
  contentLength?: number;
  /** What a 404 without an error document means. */
  notFound?: NotFoundCode;
  /** Statuses >= 300 that are answers, not errors (304, 412 ...). */
  accept?: number[];
  /** false: never send it twice. Default: retried when the body can be sent again. */
  retryable?: boolean;
}

export interface S3Reply {
  status: number;
  headers: Record<string, string>;
  body: Dispatcher.ResponseData['body'];
  /** How many attempts it took. */
  attempts: number;
}

export interface RetryOptions {
  /** Attempts in all, the first included. Default 4. */
  maxAttempts?: number;
  /** First backoff ceiling; doubles per attempt (full jitter below it). Default 100 ms. */
  baseDelayMs?: number;
  /** Cap on one backoff. Default 5 s. */
  maxDelayMs?: number;
}

export interface TimeoutOptions {
  connectMs?: number;
  /** Waiting for the status line and headers. */
  headersMs?: number;
  /** Silence between two chunks of a body. */
  bodyMs?: number;
}

export interface S3HttpOptions {
  /** Backend name, for messages. */
  name: string;
  endpoint: URL;
  region: string;
  forcePathStyle: boolean;
  credentials: CachedCredentials;
  retry?: RetryOptions;
  timeouts?: TimeoutOptions;
  /** Sockets per origin. Default 128. */
  connections?: number;
}

export { encodeSegment };

/** A key in a path: each '/'-separated segment encoded exactly once, the slashes kept. */
export function encodeKey(key: string): string {
  return key.split('/').map(encodeSegment).join('/');
}

const DNS_BUCKET = /^[a-z0-9][a-z0-9-]{1,61}[a-z0-9]$/;
const DNS_BUCKET_DOTS = /^[a-z0-9][a-z0-9.-]{1,61}[a-z0-9]$/;
const IP_HOST = /^(\d{1,3}(\.\d{1,3}){3}|\[[0-9a-f:.]+\])$/i;

/** Bytes of an error document read at most. */
const ERROR_BODY_LIMIT = 64 * 1024;

const sleep = (ms: number): Promise<void> => new Promise((r) => setTimeout(r, ms));

function isStream(body: S3Request['body']): body is Readable {
  return !!body && typeof body === 'object' && !Buffer.isBuffer(body) && 'pipe' in body && typeof body.pipe === 'function';
}

export function md5Base64(data: Buffer | string): string {
  return createHash('md5').update(data).digest('base64');
}

/** Reads a small body whole (an XML document), within `limit` bytes. */
export async function readText(body: S3Reply['body'], limit = 16 * 1024 * 1024): Promise<string> {
  const chunks: Buffer[] = [];
  let total = 0;
  for await (const c of body) {
    const b = c as Buffer;
    total += b.length;
    if (total > limit) {
      body.destroy();
      throw new S3Error('InternalError', 'The storage backend sent an unexpectedly large document.');
    }
    chunks.push(b);
  }
  return Buffer.concat(chunks).toString('utf8');
}

/** Lets go of a body nobody will read, keeping the connection when little of it is left. */
export function discard(body: S3Reply['body'] | undefined): void {
  if (!body) return;
  body.dump({ limit: 128 * 1024 }).catch(() => {});
}

/**
 * Response header values reach s3mux as the bytes the store sent, one char per byte (latin1), as
 * the values of a client's request do: undici decodes a value as UTF-8, which turns a byte that is
 * not UTF-8 (a Content-Type a client stored in latin1) into U+FFFD for good, but takes a value it
 * is handed as a string as it is.
 */
class HeaderBytes extends DecoratorHandler {
  constructor(private readonly inner: Dispatcher.DispatchHandlers) {
    super(inner);
  }

  onHeaders(statusCode: number, headers: Buffer[], resume: () => void, statusText: string): boolean {
    const bytes = headers.map((v, i) => (i % 2 === 1 && Buffer.isBuffer(v) ? v.toString('latin1') : v)) as unknown as Buffer[];
    return this.inner.onHeaders?.(statusCode, bytes, resume, statusText) ?? true;
  }
}

const headerBytes: Dispatcher.DispatcherComposeInterceptor = (dispatch) => (opts, handler) => dispatch(opts, new HeaderBytes(handler));

/** The response headers as single strings of bytes (one char per byte), names lower-case. */
function flatHeaders(h: Dispatcher.ResponseData['headers']): Record<string, string> {
  const out: Record<string, string> = {};
  for (const [k, v] of Object.entries(h)) {
    if (v === undefined) continue;
    out[k.toLowerCase()] = Array.isArray(v) ? v.join(', ') : String(v);
  }
  // undici re-reads a Content-Disposition beside a Content-Length as the latin1 of its UTF-8
  // encoding (nodejs/node#46528): undone, so it is the bytes sent like every other value.
  const cd = out['content-disposition'];
  if (cd !== undefined && 'content-length' in out) out['content-disposition'] = Buffer.from(cd, 'latin1').toString('utf8');
  return out;
}

export class S3Http {
  readonly name: string;
  readonly region: string;
  readonly endpoint: URL;
  private readonly forcePathStyle: boolean;
  /** The endpoint's path prefix, UriEncoded (what requests are sent to and signed with). */
  private readonly basePath: string;
  private readonly creds: CachedCredentials;
  private readonly agent: Agent;
  /** The agent, with response header values kept as bytes (HeaderBytes). */
  private readonly dispatcher: Dispatcher;
  private readonly retry: Required<RetryOptions>;
  private readonly timeouts: Required<TimeoutOptions>;
  /** Attempts made, for tests and metrics. */
  stats = { requests: 0, attempts: 0, retries: 0 };

  constructor(opts: S3HttpOptions) {
    this.name = opts.name;
    this.region = opts.region;
    this.endpoint = opts.endpoint;
    this.forcePathStyle = opts.forcePathStyle;
    this.basePath = canonicalBasePath(opts.endpoint.pathname);
    this.creds = opts.credentials;
    this.retry = { maxAttempts: 4, baseDelayMs: 100, maxDelayMs: 5000, ...opts.retry };
    if (!(this.retry.maxAttempts >= 1)) this.retry.maxAttempts = 1;
    this.timeouts = { connectMs: 10_000, headersMs: 300_000, bodyMs: 300_000, ...opts.timeouts };
    this.agent = new Agent({
      connections: opts.connections ?? 128,
      keepAliveTimeout: 4_000,
      connect: { timeout: this.timeouts.connectMs },
      headersTimeout: this.timeouts.headersMs,
      bodyTimeout: this.timeouts.bodyMs,
    });
    this.dispatcher = this.agent.compose(headerBytes);
  }

  /** Virtual-hosted unless path-style is forced, the endpoint is an IP or localhost, or the name is not a DNS label set TLS can cover. */
  private virtualHosted(bucket: string): boolean {
    if (this.forcePathStyle) return false;
    const host = this.endpoint.hostname;
    if (IP_HOST.test(host) || host === 'localhost') return false;
    return this.endpoint.protocol === 'https:' ? DNS_BUCKET.test(bucket) : DNS_BUCKET_DOTS.test(bucket) && !bucket.includes('..');
  }

  /** Origin, Host header and the encoded path (without query) of a request. */
  addressOf(bucket: string | undefined, key: string | undefined): { origin: string; host: string; path: string } {
    const ep = this.endpoint;
    const basePath = this.basePath;
    const keyPath = key === undefined ? '' : `/${encodeKey(key)}`;
    if (bucket === undefined) return { origin: ep.origin, host: ep.host, path: `${basePath}/` };
    if (this.virtualHosted(bucket)) {
      const host = `${bucket}.${ep.host}`;
      return { origin: `${ep.protocol}//${host}`, host, path: `${basePath}${keyPath || '/'}` };
    }
    return { origin: ep.origin, host: ep.host, path: `${basePath}/${encodeSegment(bucket)}${keyPath}` };
  }

  /** The query as encoded pairs (what is signed) and as sent ('' values bare: `?uploads`). */
  private queryOf(query: S3Request['query']): { pairs: Array<[string, string]>; search: string } {
    const pairs: Array<[string, string]> = [];
    if (!query) return { pairs, search: '' };
    for (const [k, v] of Object.entries(query)) {
      if (v !== undefined) pairs.push([encodeSegment(k), v === '' ? '' : encodeSegment(String(v))]);
    }
    return { pairs, search: pairs.length ? `?${pairs.map(([k, v]) => (v === '' ? k : `${k}=${v}`)).join('&')}` : '' };
  }

  /** Counts a retry and reports it for metrics (code: the store's error code or the network error). */
  private retried(code: string): void {
    this.stats.retries++;
    reportBackendRetry(this.name, code);
  }

  private backoff(attempt: number): number {
    const ceiling = Math.min(this.retry.maxDelayMs, this.retry.baseDelayMs * 2 ** (attempt - 1));
    return Math.random() * ceiling;
  }

  /**
   * Sends the request, retrying what may be retried. Resolves with a 2xx (or accepted)
   * answer whose body the caller must read or discard; rejects with S3Error.
   */
  async send(req: S3Request): Promise<S3Reply> {
    this.stats.requests++;
    const { origin, host, path } = this.addressOf(req.bucket, req.key);
    const query = this.queryOf(req.query);
    const stream = isStream(req.body) ? req.body : undefined;
    if (stream && req.contentLength === undefined) throw new Error('S3Http: a stream body needs contentLength');
    // Requests without a body, or with a Buffer body, can be sent again (AWS's SDKs retry
    // every such request, POSTs included); a stream only if none of it was read yet.
    const allowRetry = req.retryable ?? true;
    let bodyError: unknown;
    if (stream) stream.once('error', (e) => (bodyError = e));

    for (let attempt = 1; ; attempt++) {
      this.stats.attempts++;
      const mayRetry = (): boolean =>
        allowRetry &&
        attempt < this.retry.maxAttempts &&
        !sourceFailed(bodyError) &&
        (!stream || (!stream.readableDidRead && !stream.destroyed));
      let res: Dispatcher.ResponseData;
      try {
        const creds = this.creds.peek() ?? (await this.creds.get());
        const headers: Record<string, string> = { ...req.headers, host };
        let signBody: Buffer | string | undefined;
        if (stream) {
          headers['content-length'] = String(req.contentLength);
          headers['x-amz-content-sha256'] = 'UNSIGNED-PAYLOAD';
        } else if (req.body !== undefined) {
          signBody = req.body as Buffer | string;
          headers['content-length'] = String(Buffer.byteLength(signBody));
          headers['x-amz-content-sha256'] = sha256Hex(signBody);
        } else {
          headers['x-amz-content-sha256'] = EMPTY_SHA256;
          if (req.method === 'PUT' || req.method === 'POST') headers['content-length'] = '0';
        }
        signRequest({ method: req.method, path, query: query.pairs, headers, region: this.region, credentials: creds });
        res = await this.dispatcher.request({
          origin,
          path: path + query.search,
          method: req.method,
          headers,
          body: stream ?? signBody,
          // keep the connection after a HEAD (see the file comment)
          ...(req.method === 'HEAD' ? { reset: false } : {}),
        });
      } catch (err) {
        if (err instanceof S3Error) throw err;
        if (sourceFailed(bodyError)) throw bodyFailure(bodyError);
        if (mayRetry() && isRetryableNetworkError(err)) {
          this.retried(networkCode(err));
          await sleep(this.backoff(attempt));
          continue;
        }
        throw networkError(err, this.name);
      }

      const status = res.statusCode;
      const headers = flatHeaders(res.headers);
      if (status < 300 || req.accept?.includes(status)) {
        return { status, headers, body: res.body, attempts: attempt };
      }
      let code: string | undefined;
      let message: string | undefined;
      if (req.method !== 'HEAD' && status !== 304) {
        try {
          const doc = parseXml(await readText(res.body, ERROR_BODY_LIMIT));
          const error = doc?.Error;
          code = text(child(error, 'Code'))?.trim() || undefined;
          message = text(child(error, 'Message'));
        } catch {
          // an unreadable error document: the status decides
        }
      } else {
        discard(res.body);
      }
      if (isRetryableAnswer(status, code) && mayRetry()) {
        this.retried(code ?? `HTTP ${status}`);
        const retryAfter = Number(headers['retry-after']);
        const wait =
          Number.isFinite(retryAfter) && retryAfter > 0 ? Math.min(retryAfter * 1000, this.retry.maxDelayMs) : this.backoff(attempt);
        await sleep(wait);
        continue;
      }
      if (stream && !stream.destroyed) stream.destroy();
      const err = storeError({ status, code, message, backend: this.name, notFound: req.notFound ?? 'NoSuchKey' });
      Object.defineProperty(err, 'attempts', { value: attempt, enumerable: false });
      throw err;
    }
  }

  /**
   * Sends the request and reads its XML answer. An <Error> inside a 200 (CopyObject and
   * CompleteMultipartUpload answer that way once they have begun) is an error too; it, and a
   * connection lost while the answer is read, are retried like any failed attempt (requests
   * with a stream body excepted).
   */
  async sendXml(req: S3Request): Promise<{ reply: S3Reply; doc: Record<string, unknown> | undefined }> {
    const again = (attempt: number): boolean => !isStream(req.body) && req.retryable !== false && attempt < this.retry.maxAttempts;
    for (let attempt = 1; ; attempt++) {
      const reply = await this.send(req);
      let body: string;
      try {
        body = await readText(reply.body);
      } catch (err) {
        if (again(attempt) && isRetryableNetworkError(err)) {
          this.retried(networkCode(err));
          await sleep(this.backoff(attempt));
          continue;
        }
        throw networkError(err, this.name);
      }
      const doc = parseXml(body);
      if (doc && 'Error' in doc) {
        const code = text(child(doc.Error, 'Code'))?.trim() || 'InternalError';
        if (again(attempt) && isRetryableAnswer(200, code)) {
          this.retried(code);
          await sleep(this.backoff(attempt));
          continue;
        }
        const err = storeError({
          status: 500,
          code,
          message: text(child(doc.Error, 'Message')),
          backend: this.name,
          notFound: req.notFound ?? 'NoSuchKey',
        });
        Object.defineProperty(err, 'attempts', { value: reply.attempts + attempt - 1, enumerable: false });
        throw err;
      }
      reply.attempts += attempt - 1;
      return { reply, doc };
    }
  }

  /** Waits a little for requests in flight, then tears down what is left (a body nobody read). */
  async close(): Promise<void> {
    let timer: NodeJS.Timeout | undefined;
    const graceful = await Promise.race([
      this.agent.close().then(
        () => true,
        () => true,
      ),
      new Promise<boolean>((r) => {
        timer = setTimeout(() => r(false), 2000);
      }),
    ]);
    clearTimeout(timer);
    if (!graceful) await this.agent.destroy().catch(() => {});
  }
}

/**
 * True when a stream body failed by itself (a checksum, the client going away), rather
 * than being torn down by undici because the connection failed.
 */
function sourceFailed(err: unknown): boolean {
  if (err === undefined) return false;
  if (err instanceof S3Error) return true;
  const code = typeof err === 'object' && err !== null && 'code' in err ? err.code : undefined;
  return !(typeof code === 'string' && (code.startsWith('UND_ERR') || isRetryableNetworkError(err)));
}

/** The error a request ends with when its own body failed: the body's S3Error, else IncompleteBody. */
