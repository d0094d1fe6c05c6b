/** GitHub API answers → S3 errors: the one table for this adapter. */
import { S3Error, type S3ErrorCode } from '../../errors';

export interface ErrorContext {
  bucket?: string;
  key?: string;
  /** What a 404 means here (a missing release, asset, or upload). */
  notFound?: S3ErrorCode;
}

const BY_STATUS: Record<number, (ctx: ErrorContext, message: string) => S3Error> = {
  401: () => new S3Error('AccessDenied', 'GitHub refused the credentials (401).'),
  403: (_c, m) => new S3Error('AccessDenied', `GitHub refused the request (403): ${m}`),
  404: (c) => notFound(c),
  409: () => new S3Error('OperationAborted', 'GitHub reported a conflicting change (409); try again.'),
  422: (_c, m) => new S3Error('InvalidArgument', `GitHub refused the request (422): ${m}`),
};

function notFound(c: ErrorContext): S3Error {
  const code = c.notFound ?? (c.key !== undefined ? 'NoSuchKey' : 'NoSuchBucket');
  const extra: Record<string, string> = {};
  if (code === 'NoSuchKey' && c.key !== undefined) extra.Key = c.key;
  if (code === 'NoSuchBucket' && c.bucket !== undefined) extra.BucketName = c.bucket;
  return new S3Error(code, undefined, extra);
}

export function httpStatus(err: unknown): number | undefined {
  const s = (err as { status?: unknown })?.status;
  return typeof s === 'number' ? s : undefined;
}

/** True for a 422 that says an asset of that name exists. */
export function isAlreadyExists(err: unknown): boolean {
  if (httpStatus(err) !== 422) return false;
  const data = (err as { response?: { data?: { errors?: { code?: string }[] } } }).response?.data;
  return (data?.errors ?? []).some((e) => e.code === 'already_exists');
}

export function toS3ErrorFromGithub(err: unknown, ctx: ErrorContext = {}): S3Error {
  if (err instanceof S3Error) return err;
  const status = httpStatus(err);
  const raw = (err as { message?: unknown })?.message;
  const message = (typeof raw === 'string' ? raw : '').slice(0, 200);
  const mapped = status !== undefined ? BY_STATUS[status]?.(ctx, message) : undefined;
  const e =
    mapped ??
    new S3Error(
      'ServiceUnavailable',
      status !== undefined && status < 500 ? `GitHub answered ${status}.` : 'GitHub did not answer; try again.',
    );
  Object.defineProperty(e, 'cause', { value: err, enumerable: false });
  return e;
}
