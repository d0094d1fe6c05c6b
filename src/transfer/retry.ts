/** Retries with exponential backoff and full jitter, for errors a later attempt may not meet. */
import { isS3Error, type S3ErrorCode } from '../errors';
import type { RetryPolicy } from './types';

export const DEFAULT_RETRY: RetryPolicy = { attempts: 5, baseDelayMs: 200, maxDelayMs: 10_000 };

/** Answers that say the same request will fail again: retrying them only wastes time. */
const PERMANENT: ReadonlySet<S3ErrorCode> = new Set<S3ErrorCode>([
  'AccessDenied',
  'BadDigest',
  'EntityTooLarge',
  'InvalidArgument',
  'InvalidBucketName',
  'InvalidObjectState',
  'InvalidRequest',
  'InvalidStorageClass',
  'KeyTooLongError',
  'MethodNotAllowed',
  'NoSuchBucket',
  'NoSuchKey',
  'NotImplemented',
  'PreconditionFailed',
]);

/** Thrown when the bytes read do not match the source's ETag or stored checksum. */
export class ChecksumMismatch extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'ChecksumMismatch';
  }
}

/** The source object was overwritten while its parts were being read: its copy starts again. */
export class SourceChanged extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'SourceChanged';
  }
}

export function isRetryable(err: unknown): boolean {
  if (err instanceof ChecksumMismatch) return false;
  if (isS3Error(err)) return !PERMANENT.has(err.code);
  return true;
}

export function backoffDelay(attempt: number, policy: RetryPolicy): number {
  const cap = Math.min(policy.maxDelayMs, policy.baseDelayMs * 2 ** (attempt - 1));
  return Math.round(Math.random() * cap);
}

export function sleep(ms: number, signal?: AbortSignal): Promise<void> {
  return new Promise((resolve, reject) => {
    if (signal?.aborted) return reject(signal.reason as Error);
    const t = setTimeout(() => {
      signal?.removeEventListener('abort', onAbort);
      resolve();
    }, ms);
    const onAbort = () => {
      clearTimeout(t);
      reject(signal?.reason as Error);
    };
    signal?.addEventListener('abort', onAbort, { once: true });
  });
}

/** Runs `fn` until it succeeds, a permanent error comes, or the attempts are spent. */
export async function withRetries<T>(
  fn: (attempt: number) => Promise<T>,
  policy: RetryPolicy,
  onRetry: (attempt: number, delayMs: number, err: unknown) => void,
  signal?: AbortSignal,
  retryable: (err: unknown) => boolean = isRetryable,
): Promise<T> {
  for (let attempt = 1; ; attempt++) {
    try {
      return await fn(attempt);
    } catch (err) {
      if (signal?.aborted || attempt >= policy.attempts || !retryable(err)) throw err;
      const delay = backoffDelay(attempt, policy);
      onRetry(attempt, delay, err);
      await sleep(delay, signal);
    }
  }
}
