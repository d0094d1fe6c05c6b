/**
 * The one place s3mux talks HTTP to OCI Object Storage: builds each request of the REST API
 * (API version 20160918), signs it with oci-common's request signer (draft-cavage HTTP
 * signatures, RSA-SHA256) for whatever authentication provider the backend has, sends it
 * with undici and retries it with backoff where that is safe.
 *
 * Why not ObjectStorageClient from oci-objectstorage: its retrier writes a console warning
 * for every non-2xx answer (every 404 of a HEAD), its circuit breaker can refuse all calls
 * after a burst of store errors, and it reads error bodies through a fetch polyfill. A proxy
 * needs quiet, predictable failures and streamed bodies, so the wire calls are made here and
 * the SDK's models describe their JSON (see the types below).
 *
 * Signed headers follow OCI's rules (and oci-common's signer): every request signs x-date,
 * (request-target) and host; a POST or PUT with a JSON body also signs content-type,
 * content-length and x-content-sha256; an object body (PutObject, UploadPart) is never
 * hashed: those requests sign only the first three ("Special Instructions for Object Storage
 * PUT").
 *
 * Retries: 429, 5xx and network failures are retried with exponential backoff and jitter,
 * up to `maxAttempts`, for every request whose body can be sent again (none or JSON); a
 * streamed body is read once and never retried.
 */
import { Readable } from 'node:stream';
import { request as undiciRequest, Agent, type Dispatcher } from 'undici';
import type { AuthenticationDetailsProvider } from 'oci-common';
import { OciHttpError, OciNetworkError } from './errors';

export interface OciClientOptions {
  /** e.g. https://objectstorage.eu-frankfurt-1.oraclecloud.com, or a local double; default the region's. */
  endpoint?: string;
  /** The region (eu-frankfurt-1); default the one the credentials name. */
  region?: string;
  /** The provider, or how to make it on first use (the token-based ones ask a service). */
  provider: AuthenticationDetailsProvider | (() => Promise<AuthenticationDetailsProvider>);
  /** Attempts per retryable request (default 4). */
  maxAttempts?: number;
  /** Backoff base in ms (default 200): attempt n waits base * 2^(n-1), with full jitter, at most 10 s. */
  backoffMs?: number;
  /** Until the store answers a request (default 60 s). */
  timeoutMs?: number;
}

export type OciQuery = Record<string, string | number | undefined>;

export interface OciRequest {
  method: 'GET' | 'HEAD' | 'PUT' | 'POST' | 'DELETE';
  /** Path after the endpoint, segments already encoded (see pathOf). */
  path: string;
  query?: OciQuery;
  headers?: Record<string, string | undefined>;
  /** A JSON body (signed and replayable). */
  json?: unknown;
  /** An object body, streamed once with this length (not hashed, not retried). */
  stream?: { body: Readable; length: number };
}

export interface OciResponse {
  status: number;
  headers: Record<string, string | undefined>;
  body: Readable;
}

/** /n/{ns}/b/{bucket}/o/{object} and friends: each segment percent-encoded ('/' in a name too). */
export function pathOf(...segments: string[]): string {
  return '/' + segments.map((s) => encodeURIComponent(s)).join('/');
}

const RETRY_STATUS = (s: number) => s === 429 || s >= 500;

export class OciClient {
  private readonly maxAttempts: number;
  private readonly backoffMs: number;
  private readonly timeoutMs: number;
  private readonly dispatcher: Dispatcher;
  private signer?: Promise<{ signHttpRequest(req: unknown, forceExcludeBody?: boolean): Promise<void> }>;
  private base?: Promise<string>;

  constructor(private readonly opts: OciClientOptions) {
    this.maxAttempts = Math.max(1, opts.maxAttempts ?? 4);
    this.backoffMs = opts.backoffMs ?? 200;
    this.timeoutMs = opts.timeoutMs ?? 60_000;
    this.dispatcher = new Agent({ headersTimeout: this.timeoutMs, bodyTimeout: this.timeoutMs, keepAliveTimeout: 10_000 });
  }

  /** The authentication provider; an identity that cannot be had is OCI's NotAuthenticated. */
  async provider(): Promise<AuthenticationDetailsProvider> {
    try {
      return typeof this.opts.provider === 'function' ? await this.opts.provider() : this.opts.provider;
    } catch (err) {
      throw new OciHttpError(401, 'NotAuthenticated', `The OCI identity is not available: ${(err as Error)?.message ?? String(err)}`);
    }
  }

  private requestSigner() {
    this.signer ??= (async () => {
      const { DefaultRequestSigner } = require('oci-common') as typeof import('oci-common');
      return new DefaultRequestSigner(await this.provider());
    })().catch((err: unknown) => {
      this.signer = undefined;
      throw err;
    });
    return this.signer;
  }

  /** The API's base URL: the configured endpoint, or the region's. */
  endpoint(): Promise<string> {
    this.base ??= (async () => {
      if (this.opts.endpoint) return this.opts.endpoint.replace(/\/+$/, '');
      const p = (await this.provider()) as AuthenticationDetailsProvider & { getRegion?(): { regionId: string } | undefined };
      const region = this.opts.region ?? p.getRegion?.()?.regionId;
      if (!region)
        throw new OciHttpError(400, 'MissingParameter', "oci: set the backend's 'region' or 'endpoint' (the credentials name no region)");
      return `https://objectstorage.${region}.oraclecloud.com`;
    })().catch((err: unknown) => {
      this.base = undefined;
      throw err;
    });
    return this.base;
  }

  /** The region the backend works in: configured, the credentials', or the endpoint's host. */
  async region(): Promise<string | undefined> {
    if (this.opts.region) return this.opts.region;
    const p = (await this.provider()) as AuthenticationDetailsProvider & { getRegion?(): { regionId: string } | undefined };
    return p.getRegion?.()?.regionId ?? /objectstorage\.([a-z0-9-]+)\./.exec(await this.endpoint())?.[1];
  }

  /**
   * The tenancy of the credentials (the root compartment), for listing and creating buckets:
   * an API key names it, a resource principal's token has it as a claim, an instance
   * principal's federation client read it from the instance certificate.
   */
  async tenancy(): Promise<string | undefined> {
    const p = (await this.provider()) as AuthenticationDetailsProvider & {
      getTenantId?(): string | Promise<string>;
      getStringClaim?(k: string): Promise<string | null>;
      federationClient?: { tenancyId?: string };
    };
    try {
      if (p.getTenantId) return await p.getTenantId();
      return (await p.getStringClaim?.('res_tenant')) ?? p.federationClient?.tenancyId ?? undefined;
    } catch {
      return p.federationClient?.tenancyId;
    }
  }

  /**
   * Sends the request and returns the answer when it is 2xx; throws OciHttpError (with OCI's
   * code and message) or OciNetworkError otherwise, after the retries it may have.
   */
  async send(req: OciRequest): Promise<OciResponse> {
    const replayable = req.stream === undefined;
    for (let attempt = 1; ; attempt++) {
      try {
        return await this.once(req);
      } catch (err) {
        const retryable = err instanceof OciNetworkError || (err instanceof OciHttpError && RETRY_STATUS(err.status));
        if (!replayable || !retryable || attempt >= this.maxAttempts) throw err;
        await sleep(this.delay(attempt, err instanceof OciHttpError ? err.retryAfterMs : undefined));
      }
    }
  }

  /** Sends and parses a JSON answer. */
  async json<T>(req: OciRequest): Promise<{ value: T; headers: OciResponse['headers'] }> {
    const res = await this.send(req);
    const text = await readText(res.body);
    return { value: (text === '' ? undefined : JSON.parse(text)) as T, headers: res.headers };
  }

  /** Sends, drops the body, returns the headers. */
  async headers(req: OciRequest): Promise<OciResponse['headers']> {
    const res = await this.send(req);
    res.body.resume();
    return res.headers;
  }

  private delay(attempt: number, retryAfterMs?: number): number {
    const cap = Math.min(10_000, this.backoffMs * 2 ** (attempt - 1));
    return Math.max(retryAfterMs ?? 0, Math.floor(Math.random() * cap));
  }

  private async once(req: OciRequest): Promise<OciResponse> {
    const url = new URL((await this.endpoint()) + req.path);
    for (const [k, v] of Object.entries(req.query ?? {})) if (v !== undefined) url.searchParams.set(k, String(v));
    const uri = url.toString();
    const headers = new Headers();
    for (const [k, v] of Object.entries(req.headers ?? {})) if (v !== undefined) headers.set(k, v);
    let body: string | Readable | undefined;
    if (req.json !== undefined) {
      body = JSON.stringify(req.json);
      headers.set('content-type', 'application/json');
    } else if (req.stream) {
      body = req.stream.body;
      headers.set('content-length', String(req.stream.length));
    }
    const signer = await this.requestSigner();
    try {
      // Object bodies are not part of the signature; JSON bodies (and empty POST/PUT) are.
      await signer.signHttpRequest(
        { method: req.method, headers, uri, body: typeof body === 'string' ? body : undefined },
        req.stream !== undefined,
      );
    } catch (err) {
      // A token provider that cannot refresh its token (the identity service refused or is down).
      throw new OciHttpError(401, 'NotAuthenticated', `OCI request signing failed: ${(err as Error)?.message ?? String(err)}`);
    }
    const plain: Record<string, string> = {};
    headers.forEach((v, k) => {
      plain[k] = v;
    });
    let res: Dispatcher.ResponseData;
    try {
      res = await undiciRequest(uri, { method: req.method, headers: plain, body, dispatcher: this.dispatcher });
    } catch (err) {
      throw new OciNetworkError(err);
    }
    const out: Record<string, string | undefined> = {};
    for (const [k, v] of Object.entries(res.headers)) out[k] = Array.isArray(v) ? v.join(', ') : v;
    if (res.statusCode >= 200 && res.statusCode < 300) return { status: res.statusCode, headers: out, body: res.body };
    const text = await readText(res.body).catch(() => '');
    throw OciHttpError.from(res.statusCode, text, out);
  }

  async close(): Promise<void> {
    await this.dispatcher.close();
  }
}

async function readText(body: Readable): Promise<string> {
  const chunks: Buffer[] = [];
  for await (const c of body) chunks.push(c as Buffer);
  return Buffer.concat(chunks).toString('utf8');
}

function sleep(ms: number): Promise<void> {
  return new Promise((r) => setTimeout(r, ms));
}
