/**
 * The Octokit client for a github backend: its credentials (a token, classic or
 * fine-grained, or a GitHub App installation), its API root (GitHub Enterprise Server:
 * `https://HOST/api/v3`), and the one place where rate limits and retries are decided.
 *
 * Rate limits: every answer's `x-ratelimit-remaining` / `x-ratelimit-reset` are noted. Once
 * the limit is spent (or a 403/429 says so, with `retry-after` for secondary limits), no
 * request is sent until the reset: s3mux waits when that is near (`maxRateWaitMs`), else
 * answers SlowDown with Retry-After at once instead of spending more of the quota.
 * Retries: idempotent requests (GET, HEAD, DELETE, PATCH) are repeated on 5xx and network
 * errors with exponential backoff; uploads never are (their body is read once).
 */
import type { Octokit } from '@octokit/rest';
import { S3Error } from '../../errors';

export interface GithubAppCredentials {
  appId: number | string;
  /** The app's private key, PEM. */
  privateKey: string;
  installationId: number | string;
}

export interface GithubConnection {
  /** API root; default https://api.github.com. */
  baseUrl?: string;
  /** A personal access token (classic or fine-grained), an installation token, GITHUB_TOKEN ... */
  token?: string;
  app?: GithubAppCredentials;
  /** Wait at most this long for a rate limit to reset before answering SlowDown (default 1 s). */
  maxRateWaitMs?: number;
  /** Attempts per idempotent request (default 3). */
  maxAttempts?: number;
}

const IDEMPOTENT = new Set(['GET', 'HEAD', 'DELETE', 'PATCH', 'PUT']);

interface ResponseLike {
  status?: number;
  headers?: Record<string, string | number | undefined>;
  message?: string;
}

function header(h: ResponseLike['headers'], name: string): string | undefined {
  const v = h?.[name];
  return v === undefined ? undefined : String(v);
}

/** A 403 or 429 that is GitHub's primary or secondary rate limit, not a permission problem. */
export function isRateLimited(err: ResponseLike & { response?: { headers?: ResponseLike['headers'] } }): boolean {
  if (err.status !== 403 && err.status !== 429) return false;
  const h = err.response?.headers;
  return header(h, 'x-ratelimit-remaining') === '0' || header(h, 'retry-after') !== undefined || /rate limit/i.test(err.message ?? '');
}

/** Remembers until when GitHub asked not to be called. */
export class RateGate {
  private blockedUntil = 0;

  constructor(
    private readonly maxWaitMs: number,
    private readonly now: () => number = Date.now,
  ) {}

  /** Before a request: waits out a short block, refuses a long one with SlowDown. */
  async admit(): Promise<void> {
    const wait = this.blockedUntil - this.now();
    if (wait <= 0) return;
    if (wait <= this.maxWaitMs) {
      await new Promise((r) => setTimeout(r, wait));
      return;
    }
    throw this.slowDown(wait);
  }

  /** After any answer: a spent quota blocks until its reset. */
  observe(headers: ResponseLike['headers']): void {
    if (header(headers, 'x-ratelimit-remaining') !== '0') return;
    const reset = Number(header(headers, 'x-ratelimit-reset'));
    if (Number.isFinite(reset)) this.blockUntil(reset * 1000);
  }

  /** A rate-limit answer: block for what it says, and the SlowDown for the client. */
  limited(headers: ResponseLike['headers']): S3Error {
    const retryAfter = Number(header(headers, 'retry-after'));
    const reset = Number(header(headers, 'x-ratelimit-reset'));
    if (Number.isFinite(retryAfter) && retryAfter >= 0) this.blockUntil(this.now() + retryAfter * 1000);
    else if (Number.isFinite(reset)) this.blockUntil(reset * 1000);
    else this.blockUntil(this.now() + 60_000); // GitHub: without either header, wait at least a minute
    return this.slowDown(Math.max(0, this.blockedUntil - this.now()));
  }

  private blockUntil(ms: number): void {
    this.blockedUntil = Math.max(this.blockedUntil, ms);
  }

  private slowDown(waitMs: number): S3Error {
    const seconds = Math.max(1, Math.ceil(waitMs / 1000));
    const e = new S3Error('SlowDown', `GitHub's API rate limit is spent; it resets in ${seconds} s.`);
    e.retryAfterSeconds = seconds;
    return e;
  }
}

export function makeOctokit(c: GithubConnection, gate: RateGate): Octokit {
  // ESM-only packages, loaded on first use (require(esm): Node >= 20.19).
  const { Octokit: OctokitClass } = require('@octokit/rest') as typeof import('@octokit/rest');
  const baseUrl = (c.baseUrl ?? 'https://api.github.com').replace(/\/+$/, '');
  // Octokit logs every failed request; s3mux reports errors through S3 answers instead.
  const quiet = () => undefined;
  const log = { debug: quiet, info: quiet, warn: quiet, error: quiet };
  let octokit: Octokit;
  if (c.app) {
    const { createAppAuth } = require('@octokit/auth-app') as typeof import('@octokit/auth-app');
    octokit = new OctokitClass({
      baseUrl,
      log,
      userAgent: 's3mux',
      authStrategy: createAppAuth,
      auth: { appId: c.app.appId, privateKey: c.app.privateKey, installationId: c.app.installationId },
    });
  } else {
    octokit = new OctokitClass({ baseUrl, log, userAgent: 's3mux', ...(c.token !== undefined ? { auth: c.token } : {}) });
  }
  const attempts = Math.max(1, c.maxAttempts ?? 3);
  octokit.hook.wrap('request', async (request, options) => {
    const method = String(options.method).toUpperCase();
    for (let attempt = 1; ; attempt++) {
      await gate.admit();
      try {
        const res = await request(options);
        gate.observe(res.headers);
        return res;
      } catch (err) {
        const e = err as ResponseLike & { response?: { headers?: ResponseLike['headers'] } };
        gate.observe(e.response?.headers);
        if (isRateLimited(e)) throw gate.limited(e.response?.headers);
        const transient = e.status === undefined || e.status >= 500;
        if (!transient || !IDEMPOTENT.has(method) || attempt >= attempts) throw err;
        await new Promise((r) => setTimeout(r, 100 * 2 ** (attempt - 1)));
      }
    }
  });
  return octokit;
}
