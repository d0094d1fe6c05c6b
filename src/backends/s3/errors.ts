/**
 * The one place where what an S3-compatible store answers becomes s3mux's error family:
 * the store's HTTP status and <Code> go through the table below; network failures and
 * timeouts go through networkError. Retry decisions (which of these are worth another
 * attempt) live here too, so http.ts only asks.
 */
import { ERROR_TABLE, S3Error, type S3ErrorCode } from '../../errors';

/** What a store's 404 means when its answer carries no <Code> (HEAD has no body). */
export type NotFoundCode = 'NoSuchKey' | 'NoSuchBucket' | 'NoSuchUpload';

/**
 * Backend codes that must not reach the client as they are. Auth failures are about
 * s3mux's credentials for the store, not the client's signature; errors that describe a
 * request s3mux built badly are s3mux's internal errors.
 */
const RENAMED: Record<string, S3ErrorCode> = {
  // s3mux's own credentials at the store
  InvalidAccessKeyId: 'AccessDenied',
  SignatureDoesNotMatch: 'AccessDenied',
  ExpiredToken: 'AccessDenied',
  InvalidToken: 'AccessDenied',
  TokenRefreshRequired: 'AccessDenied',
  AllAccessDisabled: 'AccessDenied',
  AccountProblem: 'AccessDenied',
  InvalidSecurity: 'AccessDenied',
  // throttling, by any name
  Throttling: 'SlowDown',
  ThrottlingException: 'SlowDown',
  RequestLimitExceeded: 'SlowDown',
  TooManyRequests: 'SlowDown',
  TooManyRequestsException: 'SlowDown',
  RequestThrottled: 'SlowDown',
  OperationAborted: 'ServiceUnavailable',
  // a concurrent conditional write won (S3 answers 409 ConditionalRequestConflict)
  ConditionalRequestConflict: 'PreconditionFailed',
  // versions s3mux never asks for
  NoSuchVersion: 'NoSuchKey',
  // unimplemented operations: s3rver answers 405 MethodNotAllowed for AbortMultipartUpload
  MethodNotAllowed: 'NotImplemented',
  // requests s3mux built: a wrong region or endpoint, a clock, a body s3mux framed badly
  PermanentRedirect: 'InternalError',
  TemporaryRedirect: 'ServiceUnavailable',
  AuthorizationHeaderMalformed: 'InternalError',
  AuthorizationQueryParametersError: 'InternalError',
  RequestTimeTooSkewed: 'InternalError',
  MissingContentLength: 'InternalError',
  MissingSecurityHeader: 'InternalError',
  XAmzContentSHA256Mismatch: 'InternalError',
  MalformedXML: 'InternalError',
  MalformedPOSTRequest: 'InternalError',
  IllegalLocationConstraintException: 'InvalidArgument',
  InvalidLocationConstraint: 'InvalidArgument',
  InvalidBucketState: 'InvalidRequest',
  // InvalidObjectState (an archived object read or restored) passes through: clients act on it.
  // MinIO and others name the 404 of a HEAD this way when they do send a body
  NotFound: 'NoSuchKey',
};

/** When the answer has no code we know: by HTTP status. */
function byStatus(status: number, notFound: NotFoundCode): S3ErrorCode {
  switch (status) {
    case 301:
    case 307:
      // a bucket in another region than the backend's settings say, without a body to say so
      return 'InternalError';
    case 304:
      return 'NotModified';
    case 400:
      return 'InvalidRequest';
    case 401:
    case 403:
      return 'AccessDenied';
    case 404:
      return notFound;
    case 405:
    case 501:
      return 'NotImplemented';
    case 409:
      return 'InvalidRequest';
    case 411:
      return 'InternalError';
    case 412:
      return 'PreconditionFailed';
    case 416:
      return 'InvalidRange';
    case 429:
      return 'SlowDown';
    case 502:
    case 503:
    case 504:
      return 'ServiceUnavailable';
    default:
      return status >= 500 ? 'InternalError' : 'InvalidRequest';
  }
}

export interface StoreErrorInfo {
  status: number;
  /** <Code> of the error document, when there was one. */
  code?: string;
  /** <Message> of the error document. */
  message?: string;
  /** Which backend, for messages. */
  backend: string;
  notFound: NotFoundCode;
}

/** Codes passed through with S3's own wording: the client gets exactly what the store said. */
function passesThrough(code: string): code is S3ErrorCode {
  return Object.prototype.hasOwnProperty.call(ERROR_TABLE, code) && !(code in RENAMED);
}

/** The store's error as an S3Error (the store's answer is kept as `cause` for logs). */
export function storeError(info: StoreErrorInfo): S3Error {
  const { status, code, message, backend } = info;
  let mapped: S3ErrorCode;
  let text: string | undefined;
  if (code && code in RENAMED) {
    mapped = RENAMED[code];
    if (mapped === 'AccessDenied') text = `The storage backend '${backend}' refused s3mux's credentials (${code}).`;
    else if (mapped === 'NotImplemented') text = `The storage backend '${backend}' does not implement this operation (${code}).`;
    else if (mapped === 'InternalError' || mapped === 'ServiceUnavailable') text = `The storage backend '${backend}' answered ${code}.`;
  } else if (code === 'NoSuchKey' || code === 'NoSuchBucket' || code === 'NoSuchUpload') {
    mapped = code;
  } else if (code && passesThrough(code)) {
    mapped = code;
    if (code === 'NotImplemented') text = `The storage backend '${backend}' does not implement this operation.`;
  } else {
    mapped = byStatus(status, info.notFound);
    if (status === 301 || status === 307)
      text = `The storage backend '${backend}' redirected s3mux (${status}): check its region and endpoint.`;
    else if (code) text = `The storage backend '${backend}' answered ${status} ${code}.`;
  }
  const err = new S3Error(mapped, text);
  Object.defineProperty(err, 'cause', { value: { status, code, message }, enumerable: false });
  return err;
}

/**
 * True when the store's own error document said NoSuchKey: the key is missing from a bucket
 * that is there. A bare 404 (HEAD has no body) or a vaguer code (MinIO's NotFound) names no
 * culprit, and the caller has to ask whether the bucket is there.
 */
export function storeSaidNoSuchKey(err: unknown): boolean {
  return (err as { cause?: { code?: unknown } } | undefined)?.cause?.code === 'NoSuchKey';
}

/** Statuses and codes worth another attempt (the request did not take effect). */
export function isRetryableAnswer(status: number, code: string | undefined): boolean {
  if (status === 429 || status === 500 || status === 502 || status === 503 || status === 504) return true;
  return (
    code === 'SlowDown' ||
    code === 'RequestTimeout' ||
    code === 'InternalError' ||
    code === 'ServiceUnavailable' ||
    code === 'OperationAborted' ||
    (code !== undefined && RENAMED[code] === 'SlowDown')
  );
}

/** undici and socket error codes that mean the request may not have reached the store. */
const RETRYABLE_NETWORK = new Set([
  'ECONNRESET',
  'ECONNREFUSED',
  'ECONNABORTED',
  'EPIPE',
  'ETIMEDOUT',
  'ENOTFOUND',
  'EAI_AGAIN',
  'ENETUNREACH',
  'EHOSTUNREACH',
  'UND_ERR_SOCKET',
  'UND_ERR_CONNECT_TIMEOUT',
  'UND_ERR_HEADERS_TIMEOUT',
  'UND_ERR_BODY_TIMEOUT',
  'UND_ERR_CLOSED',
]);

export function isRetryableNetworkError(err: unknown): boolean {
  const code = (err as { code?: string } | undefined)?.code;
  return code !== undefined && RETRYABLE_NETWORK.has(code);
}

/** A failure to talk to the store at all: the client sees 503 (or 500 for anything else). */
export function networkError(err: unknown, backend: string): S3Error {
  if (err instanceof S3Error) return err;
  const code = (err as { code?: string } | undefined)?.code;
  let e: S3Error;
  if (code === 'UND_ERR_REQ_CONTENT_LENGTH_MISMATCH') {
    e = new S3Error('IncompleteBody');
  } else if (code !== undefined && (RETRYABLE_NETWORK.has(code) || code === 'UND_ERR_ABORTED')) {
    e = new S3Error('ServiceUnavailable', `The storage backend '${backend}' could not be reached (${code}).`);
  } else {
    e = new S3Error('InternalError');
  }
  Object.defineProperty(e, 'cause', { value: err, enumerable: false });
  return e;
}
