/**
 * The one error family that crosses every layer. Backends throw S3Error with a code from
 * the table below; only the S3 layer turns it into error XML, using the status kept here,
 * so the status for a code is decided in exactly one place.
 */

export const ERROR_TABLE = {
  AccessDenied: [403, 'Access Denied'],
  /** CORS preflights refused (S3's code for them). */
  AccessForbidden: [403, 'CORSResponse: This CORS request is not allowed.'],
  AuthorizationHeaderMalformed: [400, 'The authorization header is malformed.'],
  AuthorizationQueryParametersError: [400, 'Error parsing the X-Amz-Credential parameter.'],
  BadRequest: [400, 'Bad Request'],
  BadDigest: [400, 'The Content-MD5 or checksum value that you specified did not match what the server received.'],
  BucketAlreadyExists: [409, 'The requested bucket name is not available.'],
  BucketAlreadyOwnedByYou: [409, 'Your previous request to create the named bucket succeeded and you already own it.'],
  BucketNotEmpty: [409, 'The bucket you tried to delete is not empty'],
  EntityTooLarge: [400, 'Your proposed upload exceeds the maximum allowed object size.'],
  EntityTooSmall: [400, 'Your proposed upload is smaller than the minimum allowed size'],
  ExpiredToken: [400, 'The provided token has expired.'],
  IncompleteBody: [400, 'You did not provide the number of bytes specified by the Content-Length HTTP header.'],
  InternalError: [500, 'We encountered an internal error. Please try again.'],
  InvalidBucketState: [409, 'The request is not valid with the current state of the bucket.'],
  InvalidAccessKeyId: [403, 'The AWS Access Key Id you provided does not exist in our records.'],
  InvalidArgument: [400, 'Invalid Argument'],
  InvalidBucketName: [400, 'The specified bucket is not valid.'],
  InvalidBucketOwnerAWSAccountID: [400, 'The value of the expected bucket owner parameter must be an AWS Account ID.'],
  InvalidDigest: [400, 'The Content-MD5 or checksum value that you specified is not valid.'],
  InvalidPart: [
    400,
    "One or more of the specified parts could not be found.  The part may not have been uploaded, or the specified entity tag may not match the part's entity tag.",
  ],
  // 403, as S3 answers it (swift's test/s3api/test_input_errors.py recorded against AWS).
  InvalidChunkSizeError: [403, 'Only the last chunk is allowed to have a size less than 8192 bytes'],
  IncorrectNumberOfFilesInPostRequest: [400, 'POST requires exactly one file upload per request.'],
  InvalidPolicyDocument: [400, 'The content of the form does not meet the conditions specified in the policy document.'],
  // 416, as a Range past the end: S3 answers a part number past the object's parts so (GET and HEAD).
  InvalidPartNumber: [416, 'The requested partnumber is not satisfiable'],
  InvalidPartOrder: [400, 'The list of parts was not in ascending order. Parts must be ordered by part number.'],
  InvalidRange: [416, 'The requested range is not satisfiable'],
  InvalidRedirectLocation: [400, "The website redirect location must have a prefix of 'http://' or 'https://' or '/'."],
  InvalidRequest: [400, 'Invalid Request'],
  InvalidStorageClass: [400, 'The storage class you specified is not valid.'],
  InvalidURI: [400, "Couldn't parse the specified URI."],
  InvalidToken: [400, 'The provided token is malformed or otherwise invalid.'],
  InvalidObjectState: [403, "The operation is not valid for the object's storage class."],
  InvalidLocationConstraint: [400, 'The specified location-constraint is not valid'],
  IllegalLocationConstraintException: [
    400,
    'The location constraint is incompatible for the region specific endpoint this request was sent to.',
  ],
  RequestHeaderSectionTooLarge: [400, 'Your request header section exceeds the maximum allowed size.'],
  InvalidTag: [400, 'The tag provided was not a valid tag.'],
  KeyTooLongError: [400, 'Your key is too long'],
  IllegalVersioningConfigurationException: [400, 'The Versioning element must be specified'],
  MalformedXML: [400, 'The XML you provided was not well-formed or did not validate against our published schema'],
  MalformedTrailerError: [400, 'The request contained trailing data that was not well-formed or did not conform to our published schema.'],
  MalformedPOSTRequest: [400, 'The body of your POST request is not well-formed multipart/form-data.'],
  MaxPostPreDataLengthExceededError: [400, 'Your POST request fields preceding the upload file were too large.'],
  MetadataTooLarge: [400, 'Your metadata headers exceed the maximum allowed metadata size.'],
  MethodNotAllowed: [405, 'The specified method is not allowed against this resource.'],
  MissingContentLength: [411, 'You must provide the Content-Length HTTP header.'],
  MissingSecurityHeader: [400, 'Your request is missing a required header.'],
  NoSuchBucket: [404, 'The specified bucket does not exist'],
  NoSuchKey: [404, 'The specified key does not exist.'],
  NoSuchTagSet: [404, 'The TagSet does not exist'],
  NoSuchCORSConfiguration: [404, 'The CORS configuration does not exist'],
  NoSuchLifecycleConfiguration: [404, 'The lifecycle configuration does not exist'],
  NoSuchObjectLockConfiguration: [404, 'The specified object does not have a ObjectLock configuration'],
  ObjectLockConfigurationNotFoundError: [404, 'Object Lock configuration does not exist for this bucket'],
  // Bucket configurations s3mux does not offer (src/s3/ops/unoffered-configs.ts): never set.
  ServerSideEncryptionConfigurationNotFoundError: [404, 'The server side encryption configuration was not found'],
  NoSuchWebsiteConfiguration: [404, 'The specified bucket does not have a website configuration'],
  ReplicationConfigurationNotFoundError: [404, 'The replication configuration was not found'],
  NoSuchConfiguration: [404, 'The specified configuration does not exist.'],
  NoSuchVersion: [404, 'The specified version does not exist.'],
  NoSuchUpload: [
    404,
    'The specified upload does not exist. The upload ID may be invalid, or the upload may have been aborted or completed.',
  ],
  NotImplemented: [501, 'A header you provided implies functionality that is not implemented.'],
  NotModified: [304, 'Not Modified'],
  OperationAborted: [409, 'A conflicting conditional operation is currently in progress against this resource. Please try again.'],
  PreconditionFailed: [412, 'At least one of the pre-conditions you specified did not hold'],
  RestoreAlreadyInProgress: [409, 'Object restore is already in progress'],
  RequestTimeTooSkewed: [403, 'The difference between the request time and the current time is too large.'],
  RequestTimeout: [
    400,
    'Your socket connection to the server was not read from or written to within the timeout period. Idle connections will be closed.',
  ],
  ServiceUnavailable: [503, 'Please reduce your request rate.'],
  SignatureDoesNotMatch: [
    403,
    'The request signature we calculated does not match the signature you provided. Check your key and signing method.',
  ],
  SlowDown: [503, 'Please reduce your request rate.'],
  XAmzContentSHA256Mismatch: [400, "The provided 'x-amz-content-sha256' header does not match what was computed."],
  InvalidEncryptionAlgorithmError: [400, 'The encryption request you specified is not valid.'],
  // Access control (ACLs, bucket policies, ownership controls, public access block).
  AccessControlListNotSupported: [400, 'The bucket does not allow ACLs'],
  InvalidBucketAclWithObjectOwnership: [400, "Bucket cannot have ACLs set with ObjectOwnership's BucketOwnerEnforced setting"],
  MalformedACLError: [400, 'The XML you provided was not well-formed or did not validate against our published schema'],
  MalformedPolicy: [400, "Policies must be valid JSON and the first byte must be '{'"],
  NoSuchBucketPolicy: [404, 'The bucket policy does not exist'],
  NoSuchPublicAccessBlockConfiguration: [404, 'The public access block configuration was not found'],
  OwnershipControlsNotFoundError: [404, 'The bucket ownership controls were not found'],
  /** A body sent with a request that takes none: PutBucketAcl/PutObjectAcl with x-amz-acl or x-amz-grant-* and an AccessControlPolicy. */
  UnexpectedContent: [400, 'This request does not support content'],
  UnresolvableGrantByEmailAddress: [400, 'The email address you provided does not match any account on record.'],
} as const satisfies Record<string, readonly [number, string]>;

export type S3ErrorCode = keyof typeof ERROR_TABLE;

/**
 * The few answers where S3 gives a code another status than its usual one: a presigned URL
 * whose X-Amz-Expires is out of range is refused with 403, as an expired one is, while the
 * other AuthorizationQueryParametersError answers are 400.
 */
const CONTEXT_STATUS: ReadonlyArray<{ code: S3ErrorCode; message: RegExp; status: number }> = [
  { code: 'AuthorizationQueryParametersError', message: /^X-Amz-Expires must be/, status: 403 },
];

export class S3Error extends Error {
  readonly code: S3ErrorCode;
  /** Extra elements S3 adds to the error XML (for example StringToSign, Key, BucketName). */
  readonly extra: Record<string, string>;
  private readonly contextStatus?: number;
  /** Seconds a client should wait before trying again (SlowDown from a rate-limited store): sent as Retry-After. */
  retryAfterSeconds?: number;
  /** Headers S3 sends with this error (x-amz-delete-marker on a delete marker's 404 and 405). */
  headers?: Record<string, string>;

  constructor(code: S3ErrorCode, message?: string, extra: Record<string, string> = {}) {
    super(message ?? ERROR_TABLE[code][1]);
    this.name = 'S3Error';
    this.code = code;
    this.extra = extra;
    const override = CONTEXT_STATUS.find((c) => c.code === code && c.message.test(this.message));
    this.contextStatus = override?.status;
  }

  get status(): number {
    return this.contextStatus ?? ERROR_TABLE[this.code][0];
  }
}

export function isS3Error(err: unknown, code?: S3ErrorCode): err is S3Error {
  return err instanceof S3Error && (code === undefined || err.code === code);
}

/** The request stream ended early because the client aborted or reset the connection. */
export function isClientAbort(err: unknown): boolean {
  const e = err as NodeJS.ErrnoException | undefined;
  return e?.code === 'ECONNRESET' || e?.code === 'ERR_STREAM_PREMATURE_CLOSE' || e?.message === 'aborted';
}

/** Anything that is not already an S3Error becomes one, so no raw exception reaches a client. */
/**
 * A client's body stream failed while a store was reading it: its own S3Error (a checksum, a
 * signature, a length) as it is, anything else IncompleteBody, with the cause kept for logs.
 */
export function bodyFailure(err: unknown): S3Error {
  if (err instanceof S3Error) return err;
  const e = new S3Error('IncompleteBody');
  Object.defineProperty(e, 'cause', { value: err, enumerable: false });
  return e;
}

export function toS3Error(err: unknown): S3Error {
  if (err instanceof S3Error) return err;
  const e = err as NodeJS.ErrnoException | undefined;
  // The client went away or stopped short in the middle of its body.
  if (isClientAbort(err)) return new S3Error('IncompleteBody');
  switch (e?.code) {
    case 'ENOSPC':
    case 'EDQUOT':
      return new S3Error('ServiceUnavailable', 'The storage backend is out of space.');
    case 'EACCES':
    case 'EPERM':
      return new S3Error('AccessDenied', 'The storage backend refused access.');
    case 'ENAMETOOLONG':
      return new S3Error('KeyTooLongError');
    default:
      return new S3Error('InternalError');
  }
}
