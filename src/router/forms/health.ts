/**
 * A target's health, judged from its store's answers: a circuit breaker per target. Answers
 * that are S3's own (NoSuchKey, PreconditionFailed, AccessDenied ...) show the store is up; a
 * connection that fails, a 5xx, or no answer within the timeout counts against it. After
 * `threshold` such failures in a row the breaker opens and the target is skipped for
 * `cooldownMs`; then one call is let through (half-open) and its outcome closes or reopens it.
 */
import { S3Error } from '../../errors';
import { describeError } from '../../observability/describe-error';

export interface HealthOptions {
  /** Failures in a row that open the breaker (default 3). */
  threshold?: number;
  /** How long an open breaker keeps the target out (default 5 s). */
  cooldownMs?: number;
  /** A call without an answer after this long counts as a failure (default 10 s; bodies excluded). */
  timeoutMs?: number;
}

export type BreakerState = 'closed' | 'open' | 'half-open';

export interface HealthReport {
  target: string;
  state: BreakerState;
  up: boolean;
  consecutiveFailures: number;
  opens: number;
  lastError?: string;
}

/** Codes by which a store says it is there but cannot serve now: they count against it. */
const OUTAGE_CODES = new Set(['InternalError', 'ServiceUnavailable', 'SlowDown', 'RequestTimeout']);

/** Whether an error means the store (rather than the request) failed. */
export function isOutage(err: unknown): boolean {
  if (err instanceof S3Error) return OUTAGE_CODES.has(err.code) || (err.status >= 500 && err.code !== 'NotImplemented');
  return true;
}

export class TimeoutError extends Error {
  constructor(ms: number) {
    super(`no answer within ${ms} ms`);
    this.name = 'TimeoutError';
  }
}

export class Health {
  private failures = 0;
  private openedAt = 0;
  private opened = 0;
  private lastError?: string;
  private trial = false;
  readonly threshold: number;
  readonly cooldownMs: number;
  readonly timeoutMs: number;

  constructor(
    readonly target: string,
    opts: HealthOptions = {},
  ) {
    this.threshold = opts.threshold ?? 3;
    this.cooldownMs = opts.cooldownMs ?? 5000;
    this.timeoutMs = opts.timeoutMs ?? 10_000;
  }

  get state(): BreakerState {
    if (this.failures < this.threshold) return 'closed';
    return Date.now() - this.openedAt >= this.cooldownMs ? 'half-open' : 'open';
  }

  /** Whether a call should be sent: closed, or half-open with no trial call under way. */
  available(): boolean {
    const s = this.state;
    return s === 'closed' || (s === 'half-open' && !this.trial);
  }

  /** Closed: the target answered its last calls. */
  get up(): boolean {
    return this.state === 'closed';
  }

  succeeded(): void {
    this.failures = 0;
    this.trial = false;
  }

  failed(err: unknown): void {
    this.lastError = describeError(err);
    this.trial = false;
    this.failures++;
    if (this.failures === this.threshold) this.opened++;
    // A failed trial (or any failure while open) starts the cool-down again.
    if (this.failures >= this.threshold) this.openedAt = Date.now();
  }

  /** Outcome of `fn` recorded; a call still pending after the timeout fails with TimeoutError (its late result is dropped via `discard`). */
  async run<T>(fn: () => Promise<T>, opts: { timeout?: boolean; discard?: (late: T) => void } = {}): Promise<T> {
    if (this.state === 'half-open') this.trial = true;
    try {
      const v = opts.timeout === false ? await fn() : await withTimeout(fn(), this.timeoutMs, opts.discard);
      this.succeeded();
      return v;
    } catch (err) {
      if (isOutage(err)) this.failed(err);
      else this.succeeded();
      throw err;
    }
  }

  report(): HealthReport {
    return {
      target: this.target,
      state: this.state,
      up: this.up,
      consecutiveFailures: this.failures,
      opens: this.opened,
      ...(this.lastError ? { lastError: this.lastError } : {}),
    };
  }
}

function withTimeout<T>(p: Promise<T>, ms: number, discard?: (late: T) => void): Promise<T> {
  let timer: NodeJS.Timeout | undefined;
  let timedOut = false;
  const timeout = new Promise<never>((_, reject) => {
    timer = setTimeout(() => {
      timedOut = true;
      reject(new TimeoutError(ms));
    }, ms);
  });
  p.then(
    (v) => {
      if (timedOut) discard?.(v);
    },
    () => undefined,
  );
  return Promise.race([p, timeout]).finally(() => clearTimeout(timer));
}
