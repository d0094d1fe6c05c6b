/**
 * OCI errors → S3 errors, in one place. OCI answers errors as JSON `{ code, message }` with
 * an HTTP status (API reference, "API Errors"); HEAD answers carry no body, so the status
 * and what the call was doing decide.
 */
import { S3Error, type S3ErrorCode } from '../../errors';

/** What an OCI call was doing, so that a bare 404 names the right thing. */
export interface ErrorContext {
  bucket?: string;
  key?: string;
  /** A multipart step: a missing upload is NoSuchUpload. */
  multipart?: boolean;
}

/** An error answer of the OCI REST API. */
export class OciHttpError extends Error {
  constructor(
    readonly status: number,
    readonly code: string | undefined,
    message: string,
    readonly retryAfterMs?: number,
  ) {
    super(message);
    this.name = 'OciHttpError';
  }

  static from(status: number, body: string, headers: Record<string, string | undefined>): OciHttpError {
    let code: string | undefined;
    let message = `OCI answered ${status}`;
    try {
      const j = JSON.parse(body) as { code?: unknown; message?: unknown };
      if (typeof j.code === 'string') code = j.code;
      if (typeof j.message === 'string') message = j.message;
    } catch {
      // HEAD and some proxies answer without a JSON body
    }
    const ra = Number(headers['retry-after']);
    return new OciHttpError(status, code, message, Number.isFinite(ra) && ra >= 0 ? Math.min(ra, 30) * 1000 : undefined);
  }
}

/** The store could not be reached, or did not answer in time. */
export class OciNetworkError extends Error {
  constructor(override readonly cause: unknown) {
    super(`OCI Object Storage could not be reached (${(cause as { code?: string })?.code ?? (cause as Error)?.message ?? 'unknown'})`);
    this.name = 'OciNetworkError';
  }
}

type Rule = S3ErrorCode | [S3ErrorCode, string];

/** OCI error code → S3 error, where the code alone decides. */
const BY_CODE: Record<string, Rule> = {
  BucketNotFound: 'NoSuchBucket',
  ObjectNotFound: 'NoSuchKey',
  NoSuchUpload: 'NoSuchUpload',
  UploadNotFound: 'NoSuchUpload',
  BucketAlreadyExists: 'BucketAlreadyOwnedByYou',
  BucketNotEmpty: 'BucketNotEmpty',
  IfMatchFailed: 'PreconditionFailed',
  IfNoneMatchFailed: 'PreconditionFailed',
  NoEtagMatch: 'PreconditionFailed',
  ETagMismatch: 'PreconditionFailed',
  PreconditionFailed: 'PreconditionFailed',
  InvalidRange: 'InvalidRange',
  UnmatchedContentMd5: 'BadDigest',
  InvalidContentMd5: 'InvalidDigest',
  RequestEntityTooLarge: 'EntityTooLarge',
  TooManyRequests: 'SlowDown',
  ServiceUnavailable: 'SlowDown',
  InternalServerError: 'InternalError',
  NotAuthenticated: ['AccessDenied', "OCI Object Storage refused s3mux's credentials."],
  NotAllowed: 'AccessDenied',
  Forbidden: 'AccessDenied',
  InsufficientServicePermissions: 'AccessDenied',
  NotRestored: ['InvalidObjectState', 'The object is archived in OCI and must be restored before it can be read.'],
  ConcurrentObjectUpdate: 'OperationAborted',
  Conflict: 'OperationAborted',
  InvalidPart: 'InvalidPart',
  InvalidBucketName: 'InvalidBucketName',
  MethodNotImplemented: 'NotImplemented',
  NotImplemented: 'NotImplemented',
  InvalidParameter: 'InvalidArgument',
  MissingParameter: 'InvalidArgument',
  InvalidHeader: 'InvalidArgument',
};

/** HTTP status → S3 error, when the code did not decide. */
const BY_STATUS: Record<number, Rule> = {
  400: 'InvalidArgument',
  401: ['AccessDenied', "OCI Object Storage refused s3mux's credentials."],
  403: 'AccessDenied',
  409: 'OperationAborted',
  411: 'MissingContentLength',
  412: 'PreconditionFailed',
  413: 'EntityTooLarge',
  416: 'InvalidRange',
  429: 'SlowDown',
  500: 'InternalError',
  501: 'NotImplemented',
  502: 'ServiceUnavailable',
  503: 'SlowDown',
  504: 'ServiceUnavailable',
};

function notFound(err: OciHttpError, ctx: ErrorContext): S3ErrorCode {
  if (err.code === 'BucketNotFound' || err.code === 'NamespaceNotFound') return 'NoSuchBucket';
  if (ctx.multipart) return 'NoSuchUpload';
  // OCI says NotAuthorizedOrNotFound when it will not tell which: the object when one was named.
  return ctx.key !== undefined ? 'NoSuchKey' : 'NoSuchBucket';
}

export function isOciStatus(err: unknown, status: number): boolean {
  return err instanceof OciHttpError && err.status === status;
}

/** Any error of an OCI call as an S3Error (the OCI error kept as its cause, for logs). */
export function toS3ErrorFromOci(err: unknown, ctx: ErrorContext = {}): S3Error {
  if (err instanceof S3Error) return err;
  let rule: Rule;
  if (err instanceof OciHttpError) {
    const byCode = err.code !== undefined ? BY_CODE[err.code] : undefined;
    if (err.status === 404) rule = notFound(err, ctx);
    else if (ctx.multipart && err.code === 'ObjectNotFound') rule = 'NoSuchUpload';
    else rule = byCode ?? BY_STATUS[err.status] ?? (err.status >= 500 ? 'ServiceUnavailable' : 'InternalError');
  } else if (err instanceof OciNetworkError) {
    rule = ['ServiceUnavailable', 'OCI Object Storage could not be reached or did not answer in time.'];
  } else {
    rule = 'InternalError';
  }
  const [code, message] = Array.isArray(rule) ? rule : [rule, undefined];
  const extra: Record<string, string> = {};
  if (ctx.bucket !== undefined && (code === 'NoSuchBucket' || code === 'BucketAlreadyOwnedByYou' || code === 'BucketNotEmpty'))
    extra.BucketName = ctx.bucket;
  if (ctx.key !== undefined && code === 'NoSuchKey') extra.Key = ctx.key;
  const s3 = new S3Error(code, message, extra);
  Object.defineProperty(s3, 'cause', { value: err, enumerable: false });
  return s3;
}
