/**
 * GCS errors → S3 errors, in one place. The SDK throws ApiError with the HTTP status in
 * `code` and GCS's reasons in `errors[].reason`; network failures carry a Node error code.
 */
import { S3Error, type S3ErrorCode } from '../../errors';

/** What a GCS call was doing, so that a bare 404 names the right thing. */
export interface ErrorContext {
  bucket?: string;
  key?: string;
  /** The call was a multipart step: a missing object is a missing part. */
  multipart?: boolean;
}

type Rule = S3ErrorCode | [S3ErrorCode, string];

/** GCS reason → S3 error, where the reason alone decides. */
const BY_REASON: Record<string, Rule> = {
  conditionNotMet: 'PreconditionFailed',
  requestedRangeNotSatisfiable: 'InvalidRange',
  rateLimitExceeded: 'SlowDown',
  userRateLimitExceeded: 'SlowDown',
  backendError: 'ServiceUnavailable',
  notImplemented: ['NotImplemented', 'The storage backend does not implement this operation.'],
  authError: 'AccessDenied',
  forbidden: 'AccessDenied',
  accessNotConfigured: 'AccessDenied',
  invalidBucketName: 'InvalidBucketName',
  entityTooLarge: 'EntityTooLarge',
  uploadTooLarge: 'EntityTooLarge',
};

/** HTTP status → S3 error, when no reason decided. */
const BY_STATUS: Record<number, Rule> = {
  400: 'InvalidArgument',
  401: ['AccessDenied', "The storage backend refused s3mux's credentials."],
  403: ['AccessDenied', "The storage backend refused s3mux's credentials."],
  408: 'RequestTimeout',
  412: 'PreconditionFailed',
  413: 'EntityTooLarge',
  416: 'InvalidRange',
  429: 'SlowDown',
  500: 'InternalError',
  501: ['NotImplemented', 'The storage backend does not implement this operation.'],
  502: 'ServiceUnavailable',
  503: 'SlowDown',
  504: 'ServiceUnavailable',
};

/** Node/fetch error codes meaning the store could not be reached. */
const NETWORK_CODES = new Set([
  'ECONNREFUSED',
  'ECONNRESET',
  'ECONNABORTED',
  'ETIMEDOUT',
  'ENOTFOUND',
  'EAI_AGAIN',
  'EPIPE',
  'EHOSTUNREACH',
  'ENETUNREACH',
  'ERR_STREAM_PREMATURE_CLOSE',
]);

interface ApiErrorLike {
  code?: number | string;
  status?: number;
  message?: string;
  errors?: { reason?: string; message?: string }[];
  response?: { status?: number };
}

export function gcsStatus(err: unknown): number | undefined {
  const e = err as ApiErrorLike | undefined;
  if (typeof e?.code === 'number') return e.code;
  if (typeof e?.status === 'number') return e.status;
  return e?.response?.status;
}

export function gcsReason(err: unknown): string | undefined {
  return (err as ApiErrorLike | undefined)?.errors?.find((x) => x?.reason)?.reason;
}

export function isGcsNotFound(err: unknown): boolean {
  return gcsStatus(err) === 404;
}

export function isPreconditionFailure(err: unknown): boolean {
  return gcsStatus(err) === 412 || gcsReason(err) === 'conditionNotMet';
}

/** A 404 for the bucket, not for an object in it (GCS says which in the message). */
function isMissingBucket(err: unknown): boolean {
  const text = `${(err as ApiErrorLike | undefined)?.message ?? ''}`;
  return /bucket/i.test(text) && !/object/i.test(text);
}

/** A 404 for an object in a bucket that exists. */
export function isMissingObject(err: unknown): boolean {
  return isGcsNotFound(err) && !isMissingBucket(err);
}

function notFound(err: unknown, ctx: ErrorContext): S3ErrorCode {
  if (isMissingBucket(err)) return 'NoSuchBucket';
  if (ctx.multipart) return 'NoSuchUpload';
  return ctx.key !== undefined ? 'NoSuchKey' : 'NoSuchBucket';
}

export function toS3ErrorFromGcs(err: unknown, ctx: ErrorContext = {}): S3Error {
  if (err instanceof S3Error) return err;
  const status = gcsStatus(err);
  const reason = gcsReason(err);
  let rule: Rule | undefined;
  if (status === 404) rule = notFound(err, ctx);
  else if (status === 409) rule = ctx.key === undefined ? 'BucketAlreadyOwnedByYou' : 'OperationAborted';
  else if (reason !== undefined && BY_REASON[reason]) rule = BY_REASON[reason];
  else if (status !== undefined && BY_STATUS[status]) rule = BY_STATUS[status];
  else {
    const code = (err as ApiErrorLike | undefined)?.code;
    if (typeof code === 'string' && NETWORK_CODES.has(code))
      rule = ['ServiceUnavailable', `The storage backend could not be reached (${code}).`];
    else if ((err as { type?: string } | undefined)?.type === 'request-timeout')
      rule = ['ServiceUnavailable', 'The storage backend did not answer in time.'];
  }
  const [code, message] = Array.isArray(rule) ? rule : [rule ?? 'InternalError', undefined];
  const s3 = new S3Error(code, message, {
    ...(ctx.bucket !== undefined && (code === 'NoSuchBucket' || code === 'BucketAlreadyOwnedByYou') ? { BucketName: ctx.bucket } : {}),
    ...(ctx.key !== undefined && code === 'NoSuchKey' ? { Key: ctx.key } : {}),
  });
  Object.defineProperty(s3, 'cause', { value: err, enumerable: false });
  return s3;
}
