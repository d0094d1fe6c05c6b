/**
 * Azure errors → S3 errors, in one place. The SDK throws RestError with the HTTP status and
 * Azure's error code (from the XML body, or only from the x-ms-error-code header for HEAD
 * requests, where it lands in `details.errorCode`).
 */
import { S3Error, type S3ErrorCode } from '../../errors';

/** What an Azure call was doing, so that a bare 404 can name the right thing. */
export interface ErrorContext {
  bucket?: string;
  key?: string;
  /** The call was a multipart step: a bad block list means a missing part. */
  multipart?: boolean;
}

type Rule = S3ErrorCode | [S3ErrorCode, string];

/** Azure error code → S3 error code (and message when S3's default would mislead). */
const AZURE_ERRORS: Record<string, Rule> = {
  ContainerNotFound: 'NoSuchBucket',
  // A deleted container lingers for a while: it is gone for every operation but a new
  // CreateBucket of the name, which answers ServiceUnavailable (createBucket, index.ts).
  ContainerBeingDeleted: 'NoSuchBucket',
  ContainerDisabled: 'AccessDenied',
  ContainerAlreadyExists: 'BucketAlreadyOwnedByYou',
  BlobNotFound: 'NoSuchKey',
  ResourceNotFound: 'NoSuchKey',
  // Only conditional writes (If-None-Match: *) meet an existing blob.
  BlobAlreadyExists: 'PreconditionFailed',
  ConditionNotMet: 'PreconditionFailed',
  SourceConditionNotMet: 'PreconditionFailed',
  TargetConditionNotMet: 'PreconditionFailed',
  InvalidRange: 'InvalidRange',
  Md5Mismatch: 'BadDigest',
  Crc64Mismatch: 'BadDigest',
  RequestBodyTooLarge: 'EntityTooLarge',
  BlockCountExceedsLimit: ['EntityTooLarge', 'The object would have more than 50,000 Azure blocks.'],
  BlockListTooLong: ['EntityTooLarge', 'The object would have more than 50,000 Azure blocks.'],
  InvalidBlockList: [
    'InvalidPart',
    'One or more of the specified parts could not be found: another write to the same key may have discarded its staged blocks.',
  ],
  InvalidBlobOrBlock: [
    'InvalidPart',
    'Azure refused a staged block of this object (the key may hold uncommitted blocks written by another tool).',
  ],
  InvalidBlockId: 'InvalidPart',
  MetadataTooLarge: 'MetadataTooLarge',
  InvalidMetadata: ['InvalidArgument', 'Azure refused the object metadata.'],
  InvalidResourceName: 'InvalidBucketName',
  InvalidHeaderValue: 'InvalidArgument',
  InvalidQueryParameterValue: 'InvalidArgument',
  OutOfRangeInput: 'InvalidArgument',
  ServerBusy: 'SlowDown',
  OperationTimedOut: ['ServiceUnavailable', 'Azure did not complete the operation in time; try again.'],
  InternalError: 'InternalError',
  AuthenticationFailed: 'AccessDenied',
  AuthorizationFailure: 'AccessDenied',
  AuthorizationPermissionMismatch: 'AccessDenied',
  AuthorizationResourceTypeMismatch: 'AccessDenied',
  AuthorizationServiceMismatch: 'AccessDenied',
  AuthorizationProtocolMismatch: 'AccessDenied',
  AuthorizationSourceIPMismatch: 'AccessDenied',
  InsufficientAccountPermissions: 'AccessDenied',
  AccountIsDisabled: 'AccessDenied',
  KeyBasedAuthenticationNotPermitted: 'AccessDenied',
  // The store's own lock (native-lock.ts): S3's answer to removing a locked version.
  BlobImmutableDueToPolicy: ['AccessDenied', 'Access Denied because object protected by object lock.'],
  BlobImmutableDueToLegalHold: ['AccessDenied', 'Access Denied because object protected by object lock.'],
  BlobArchived: [
    'InvalidObjectState',
    'The object is archived (Azure archive tier) and must be restored (rehydrated) before it can be read.',
  ],
  BlobBeingRehydrated: ['InvalidObjectState', 'The object is being rehydrated from the archive tier.'],
  LeaseIdMissing: ['AccessDenied', 'The object is leased by another Azure client.'],
  LeaseAlreadyPresent: ['AccessDenied', 'The object is leased by another Azure client.'],
  ContainerQuotaExceeded: 'ServiceUnavailable',
  AccountLimitExceeded: 'ServiceUnavailable',
  SnapshotsPresent: ['InvalidRequest', 'The blob has snapshots.'],
  FeatureNotSupportedForAccount: 'NotImplemented',
};

/** Network-level failures of the SDK's HTTP client. */
const NETWORK_CODES = new Set([
  'REQUEST_SEND_ERROR',
  'ECONNREFUSED',
  'ECONNRESET',
  'ETIMEDOUT',
  'ENOTFOUND',
  'EAI_AGAIN',
  'EPIPE',
  'EHOSTUNREACH',
]);

interface RestLike {
  name?: string;
  statusCode?: number;
  code?: string;
  message?: string;
  details?: { errorCode?: string };
  response?: { headers?: { get?(name: string): string | undefined } };
}

/** The Azure error code of a RestError, wherever the SDK put it. */
export function azureCode(err: unknown): string | undefined {
  const e = err as RestLike | undefined;
  if (!e || typeof e !== 'object') return undefined;
  const fromDetails = e.details?.errorCode;
  if (typeof fromDetails === 'string' && fromDetails) return fromDetails;
  const fromHeader = e.response?.headers?.get?.('x-ms-error-code');
  if (fromHeader) return fromHeader;
  return typeof e.code === 'string' && e.code ? e.code : undefined;
}

export function azureStatus(err: unknown): number | undefined {
  const s = (err as RestLike | undefined)?.statusCode;
  return typeof s === 'number' ? s : undefined;
}

/** True for an Azure error with one of these codes. */
export function isAzureError(err: unknown, ...codes: string[]): boolean {
  const c = azureCode(err);
  return c !== undefined && codes.includes(c);
}

function make(code: S3ErrorCode, message: string | undefined, ctx: ErrorContext, cause: unknown): S3Error {
  const extra: Record<string, string> = {};
  if (code === 'NoSuchBucket' || code === 'BucketAlreadyOwnedByYou' || code === 'BucketNotEmpty' || code === 'InvalidBucketName') {
    if (ctx.bucket !== undefined) extra.BucketName = ctx.bucket;
  } else if (code === 'NoSuchKey' && ctx.key !== undefined) extra.Key = ctx.key;
  const e = new S3Error(code, message, extra);
  Object.defineProperty(e, 'cause', { value: cause, enumerable: false });
  return e;
}

/** Any error from an Azure call as an S3Error. */
export function toS3ErrorFromAzure(err: unknown, ctx: ErrorContext = {}): S3Error {
  if (err instanceof S3Error) return err;
  const code = azureCode(err);
  const status = azureStatus(err);
  if (code === 'InvalidResourceName' && ctx.key !== undefined && ctx.bucket === undefined) {
    return make('InvalidArgument', 'Azure refused the object name.', ctx, err);
  }
  if (ctx.multipart === false && code === 'InvalidBlockList') {
    return make('InternalError', 'A concurrent write to the same key discarded the blocks staged for this one; retry.', ctx, err);
  }
  if (ctx.multipart === false && code === 'InvalidBlobOrBlock') {
    return make(
      'InternalError',
      'Azure refused a staged block of this object: the blob may hold uncommitted blocks written by another tool.',
      ctx,
      err,
    );
  }
  const rule = code !== undefined ? AZURE_ERRORS[code] : undefined;
  if (rule !== undefined) return typeof rule === 'string' ? make(rule, undefined, ctx, err) : make(rule[0], rule[1], ctx, err);
  if (code !== undefined && NETWORK_CODES.has(code))
    return make('ServiceUnavailable', 'The Azure storage endpoint cannot be reached.', ctx, err);
  if ((err as RestLike | undefined)?.name === 'AbortError') return make('RequestTimeout', undefined, ctx, err);
  switch (status) {
    case 404:
      return make(ctx.key !== undefined ? 'NoSuchKey' : 'NoSuchBucket', undefined, ctx, err);
    case 403:
    case 401:
      return make('AccessDenied', undefined, ctx, err);
    case 412:
      return make('PreconditionFailed', undefined, ctx, err);
    case 416:
      return make('InvalidRange', undefined, ctx, err);
    case 429:
    case 503:
      return make('SlowDown', undefined, ctx, err);
    case 400:
      return make('InvalidArgument', (err as RestLike).message?.split('\n')[0], ctx, err);
    default:
      return make('InternalError', undefined, ctx, err);
  }
}
