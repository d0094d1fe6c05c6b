/**
 * What a handler gets: the parsed request, who sent it, and the services it may use.
 * Handlers return an S3Response value; only the server writes to the socket.
 */
import type { IncomingHttpHeaders, IncomingMessage } from 'node:http';
import type { Readable } from 'node:stream';
import { isS3Error, S3Error } from '../errors';
import type { Router } from '../router/router';
import { BucketView } from '../router/bucket-view';
import type { AuthResult } from '../auth/sigv4';
import type { Action, Principal } from '../auth/policy';
import { authorizeAccess, missingObjectError, type Authorization, type Decided } from './access';
import type { Target } from './addressing';
import type { ClientView } from '../server/forwarded';
import { header } from './headers';
import { textAsHeaderBytes } from './header-values';
import { validateBucketName } from '../backends/keys';

export interface S3Response {
  status: number;
  headers?: Record<string, string>;
  /** XML text, an object's bytes in memory (small objects), or a stream for object bodies. */
  body?: string | Buffer | Readable;
  /** Runs once the response has finished or the client went away (releases handles). */
  cleanup?: () => void | Promise<void>;
}

export interface Services {
  router: Router;
  /** The region s3mux reports (GetBucketLocation, x-amz-bucket-region). */
  region: string;
  /** How often long answers (CompleteMultipartUpload) send a keep-alive space; default 5 s. */
  keepAliveMs?: number;
  /** The fs backends' folders are on encrypted storage: SSE-S3 (AES256) requests are honoured there. */
  fsEncryptedAtRest?: boolean;
  /** The length of a lifecycle day (shortened only by tests, as the worker's): x-amz-expiration's dates. */
  lifecycleDayMs?: number;
}

/** The query parameters of SigV4 query authentication itself, which are not hoisted headers. */
const QUERY_AUTH_PARAMS = new Set([
  'x-amz-algorithm',
  'x-amz-credential',
  'x-amz-date',
  'x-amz-expires',
  'x-amz-signedheaders',
  'x-amz-signature',
  'x-amz-security-token',
]);

/**
 * The headers S3 reads for a request: a presigned URL's x-amz-* query parameters count as
 * headers (the AWS SDKs' presigners move every x-amz-* header but the encryption ones into the
 * query: x-amz-acl, x-amz-meta-*, x-amz-copy-source, x-amz-storage-class, x-amz-tagging, ...).
 * A SigV4 URL's signature covers its whole query; a V2 one (botocore's legacy presigner) signs
 * them among its amz headers (auth/sigv2.ts), so either way they are as signed as a header would
 * be. Only such URLs, and a header sent too wins.
 */
function presignedQuery(auth: AuthResult, query: URLSearchParams): boolean {
  if (auth.type === 'presigned') return query.has('X-Amz-Signature');
  return auth.type === 'v2' && query.has('Signature');
}

function effectiveHeaders(req: IncomingMessage, auth: AuthResult, query: URLSearchParams): IncomingHttpHeaders {
  if (!presignedQuery(auth, query)) return req.headers;
  let merged: IncomingHttpHeaders | undefined;
  for (const [name, value] of query) {
    const lower = name.toLowerCase();
    if (!lower.startsWith('x-amz-') || QUERY_AUTH_PARAMS.has(lower) || req.headers[lower] !== undefined) continue;
    merged ??= { ...req.headers };
    // A query parameter is text; a header is bytes, as Node reads them (one char per byte).
    const bytes = textAsHeaderBytes(value);
    merged[lower] = merged[lower] === undefined ? bytes : `${String(merged[lower])},${bytes}`;
  }
  return merged ?? req.headers;
}

export class S3Context {
  readonly query: URLSearchParams;
  /** The request's headers, with a presigned URL's hoisted x-amz-* headers (effectiveHeaders). */
  readonly headers: IncomingHttpHeaders;
  /** The operation (the table's name), once dispatch has found it. */
  operation?: string;
  /** Dispatch has authorized the operation on the addressed bucket. */
  private allowed = false;
  /** What dispatch authorized, and what it decided on, once it has. */
  private authorized?: { authorization: Authorization; decided: Decided };
  /** The operation whose authorization waits for the condition keys of its body (keysFromBody). */
  private afterBody?: OperationAccess;

  constructor(
    readonly req: IncomingMessage,
    readonly target: Target,
    readonly requestId: string,
    readonly auth: AuthResult,
    readonly principal: Principal,
    readonly services: Services,
    /** The host, path prefix and scheme the client used (behind a trusted proxy, what it forwarded). */
    readonly client: ClientView = { host: req.headers.host, prefix: '' },
  ) {
    this.query = new URLSearchParams(target.rawQuery);
    this.headers = effectiveHeaders(req, auth, this.query);
  }

  get method(): string {
    return this.req.method ?? 'GET';
  }
  header(name: string): string | undefined {
    return header(this.headers, name);
  }

  get bucketName(): string {
    if (!this.target.bucket) throw new S3Error('InvalidRequest', 'A bucket name is required.');
    return this.target.bucket;
  }

  get key(): string {
    if (this.target.key === undefined) throw new S3Error('InvalidRequest', 'An object key is required.');
    return this.target.key;
  }

  /**
   * Authorizes the operation on the addressed bucket (and object) through the one decision
   * module (src/access/decide.ts); after this, `bucket()` opens the bucket. Throws AccessDenied
   * when the caller may not.
   */
  async authorizeOperation(op: OperationAccess, form?: FormRequest, bodyKeys?: Record<string, string[] | undefined>): Promise<void> {
    const name = this.bucketName;
    const a: Authorization = {
      s3Action: op.s3Action,
      coarse: op.action,
      bucket: name,
      key: form ? form.key : op.objectLevel ? this.key : undefined,
      versionId: op.objectLevel ? (this.query.get('versionId') ?? undefined) : undefined,
      publicOperation: op.publicRead,
      extraKeys: form?.conditionKeys ?? bodyKeys,
    };
    const decided = await authorizeAccess(this, this.open(name), a);
    this.allowed = true;
    this.authorized = { authorization: a, decided };
  }

  /**
   * The error a handler's failure becomes: a NoSuchKey names the request's key, as S3's do, and
   * from an allowed read is AccessDenied to a caller who may not list the bucket
   * (src/s3/access.ts, missingObjectError); others pass as they are.
   */
  async answerFor(err: unknown): Promise<unknown> {
    if (!(err instanceof S3Error) || err.code !== 'NoSuchKey') return err;
    const key = this.target.key;
    const named = err.extra.Key !== undefined || key === undefined ? err : withKey(err, key);
    if (!this.authorized) return named;
    const { authorization, decided } = this.authorized;
    return missingObjectError(this.open(authorization.bucket), authorization, decided, named);
  }

  /** The handler authorizes the operation once it has read its body, with `authorizeWithBodyKeys`. */
  authorizeAfterBody(op: OperationAccess): void {
    this.afterBody = op;
  }

  /** Authorizes the operation dispatch left to the handler, with the condition keys its body gave. */
  async authorizeWithBodyKeys(keys: Record<string, string[] | undefined>): Promise<void> {
    if (!this.afterBody) throw new Error('authorizeWithBodyKeys without an operation waiting for its body');
    await this.authorizeOperation(this.afterBody, undefined, keys);
  }

  /** The handler authorizes every key it touches with `authorizeKey` (DeleteObjects); it may open the bucket for that. */
  authorizeEachKey(): void {
    this.allowed = true;
  }

  /** Throws AccessDenied unless the caller may do the object action on one more key of the addressed bucket (DeleteObjects). */
  async authorizeKey(s3Action: string, coarse: Action, key: string): Promise<void> {
    await authorizeAccess(this, this.bucket(), { s3Action, coarse, bucket: this.bucketName, key });
  }

  /** Whether the caller may do the object action on `key` (what authorizeKey checks, as a yes or no). */
  async mayOnKey(s3Action: string, coarse: Action, key: string): Promise<boolean> {
    try {
      await this.authorizeKey(s3Action, coarse, key);
      return true;
    } catch (err) {
      if (isS3Error(err, 'AccessDenied')) return false;
      throw err;
    }
  }

  /**
   * The addressed bucket, once dispatch has authorized the operation. A handler cannot reach
   * any other bucket but through `sourceBucket`, which authorizes the read first.
   */
  bucket(): BucketView {
    if (!this.allowed) throw new Error('the operation opened its bucket without being authorized for it');
    return this.open(this.bucketName);
  }

  /** A copy source: opened only once the caller may read the object (s3:GetObject, or s3:GetObjectVersion, on bucket/key). */
  async sourceBucket(name: string, key: string, versionId?: string): Promise<BucketView> {
    const view = this.open(name);
    const s3Action = versionId === undefined ? 's3:GetObject' : 's3:GetObjectVersion';
    await authorizeAccess(this, view, { s3Action, coarse: 'read', bucket: name, key, versionId });
    return view;
  }

  private open(name: string): BucketView {
    // No bucket can have such a name (legacy names included): it must not reach a store,
    // where '/' or '%' would address something else.
    if (!/^[A-Za-z0-9._-]{1,255}$/.test(name)) validateBucketName(name);
    return new BucketView(this.services.router.resolve(name));
  }

  /** The resource named in error responses: /bucket/key as S3 reports it. */
  get resource(): string {
    return this.target.rawPath;
  }
}

export type Handler = (ctx: S3Context) => Promise<S3Response>;

/** POST Object: the key its form names, and the condition keys its fields stand for (`acl` for x-amz-acl ...). */
export interface FormRequest {
  key: string;
  conditionKeys: Record<string, string[] | undefined>;
}

/** What dispatch needs of an operation to authorize it. */
export interface OperationAccess {
  s3Action: string;
  action?: Action;
  publicRead?: boolean;
  /** The resource is the addressed object (else the bucket). */
  objectLevel: boolean;
}

/** The same NoSuchKey, naming `key`. */
function withKey(err: S3Error, key: string): S3Error {
  const named = new S3Error('NoSuchKey', err.message, { ...err.extra, Key: key });
  named.headers = err.headers;
  return named;
}
