/**
 * What a handler gets: the parsed request, who sent it, and the services it may use.
 * Handlers return an S3Response value; only the server writes to the socket.
 */
import type { IncomingHttpHeaders, IncomingMessage } from 'node:http';
import type { Readable } from 'node:stream';
import { S3Error } from '../errors';
import type { Router } from '../router/router';
import { BucketView } from '../router/bucket-view';
import type { AuthResult } from '../auth/sigv4';
import { ANONYMOUS, isAllowed, type Action, type Principal } from '../auth/policy';
import type { Target } from './addressing';
import { header } from './headers';
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
}

export class S3Context {
  readonly query: URLSearchParams;
  /** What the operation may do on the addressed bucket, once dispatch has authorized it. */
  private allowed?: Action;

  constructor(
    readonly req: IncomingMessage,
    readonly target: Target,
    readonly requestId: string,
    readonly auth: AuthResult,
    readonly principal: Principal,
    readonly services: Services,
  ) {
    this.query = new URLSearchParams(target.rawQuery);
  }

  get method(): string {
    return this.req.method ?? 'GET';
  }
  get headers(): IncomingHttpHeaders {
    return this.req.headers;
  }
  header(name: string): string | undefined {
    return header(this.req.headers, name);
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
   * Authorizes the operation (`action`) on the addressed bucket; after this, `bucket()` opens it.
   * Anonymous callers pass only for operations public read allows (`publicOperation`) on a
   * public-read route. Throws AccessDenied when the caller may not.
   */
  authorizeOperation(action: Action, publicOperation = false): void {
    this.authorize(action, this.bucketName, publicOperation);
    this.allowed = action;
  }

  /**
   * A virtual bucket, resolved through the routing table, opened only once the caller may use
   * it: `bucket()` is the addressed bucket, for the action dispatch authorized; any other
   * bucket (a copy source) names the action it is opened for, and is authorized here.
   */
  bucket(): BucketView;
  bucket(name: string, action: Action): BucketView;
  bucket(name?: string, action?: Action): BucketView {
    if (name === undefined) {
      if (this.allowed === undefined) throw new Error('the operation opened its bucket without being authorized for it');
      name = this.bucketName;
    } else {
      this.authorize(action as Action, name);
    }
    // No bucket can have such a name (legacy names included): it must not reach a store,
    // where '/' or '%' would address something else.
    if (!/^[A-Za-z0-9._-]{1,255}$/.test(name)) validateBucketName(name);
    return new BucketView(this.services.router.resolve(name));
  }

  /**
   * Throws AccessDenied unless the caller may do `action` on the virtual bucket: by its
   * policy, or, for anonymous callers, when the operation is one public read allows
   * (`publicOperation`) and the route is public-read.
   */
  private authorize(action: Action, bucket: string, publicOperation = false): void {
    if (this.principal === ANONYMOUS) {
      if (publicOperation && this.services.router.resolve(bucket).publicRead) return;
      throw new S3Error('AccessDenied');
    }
    if (!isAllowed(this.principal, action, bucket)) throw new S3Error('AccessDenied');
  }

  /** The resource named in error responses: /bucket/key as S3 reports it. */
  get resource(): string {
    return this.target.rawPath;
  }
}

export type Handler = (ctx: S3Context) => Promise<S3Response>;
