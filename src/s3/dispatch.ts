/**
 * One S3 request from start to finish: addressing, authentication, the operation table,
 * the handler, and the answer (an S3 error document for anything that went wrong).
 */
import { randomBytes } from 'node:crypto';
import type { IncomingMessage, ServerResponse } from 'node:http';
import { pipeline } from 'node:stream/promises';
import { S3Error, toS3Error } from '../errors';
import { authenticate, type AuthResult, type CredentialLookup } from '../auth/authenticate';
import { ANONYMOUS, ROOT, type Principal } from '../auth/policy';
import { resolveTarget, type Target } from './addressing';
import { S3Context, type S3Response, type Services } from './context';
import { findOperation, type Level } from './operations';
import { errorResponse } from './respond';

export interface DispatchOptions {
  services: Services;
  /** Base domains for virtual-hosted-style addressing. */
  domains: readonly string[];
  credentials: CredentialLookup;
  /** Who an access key id is; a key not listed here (root) may do everything. */
  principals?: ReadonlyMap<string, Principal>;
  /** Logs unexpected (500) errors. */
  onInternalError?: (err: unknown, req: IncomingMessage) => void;
}

function levelOf(t: Target): Level {
  if (t.bucket === undefined) return 'service';
  return t.key === undefined ? 'bucket' : 'object';
}

/**
 * The operation a request names. An anonymous caller learns nothing about what s3mux
 * implements: any lookup failure is AccessDenied for it, as S3 answers.
 */
function findOperationFor(ctx: S3Context, req: IncomingMessage, level: Level): ReturnType<typeof findOperation> {
  try {
    return findOperation(req.method ?? 'GET', level, ctx.query, req.headers);
  } catch (err) {
    if (ctx.principal === ANONYMOUS && !(req.method === 'POST' && level === 'bucket')) throw new S3Error('AccessDenied');
    throw err;
  }
}

export function newRequestId(): string {
  return randomBytes(8).toString('hex').toUpperCase();
}

export async function dispatch(req: IncomingMessage, res: ServerResponse, opts: DispatchOptions): Promise<void> {
  const requestId = newRequestId();
  res.setHeader('x-amz-request-id', requestId);
  res.setHeader('x-amz-id-2', requestId);
  res.setHeader('Server', 's3mux');
  let resource = (req.url ?? '/').split('?')[0];
  let response: S3Response;
  try {
    const target = resolveTarget(req.url ?? '/', req.headers.host, opts.domains);
    resource = target.rawPath;
    const auth: AuthResult = authenticate(
      // headersDistinct keeps repeated headers apart: SigV4 joins them with ',' not ', '.
      {
        method: req.method ?? 'GET', rawPath: target.rawPath, rawQuery: target.rawQuery, headers: req.headersDistinct,
        virtualHostBucket: target.style === 'virtual-host' ? target.bucket : undefined,
      },
      opts.credentials,
      undefined,
      { region: opts.services.region },
    );
    const principalOf = (a: AuthResult) => (a.type === 'anonymous' ? ANONYMOUS : opts.principals?.get(a.accessKeyId) ?? ROOT);
    const ctx = new S3Context(req, target, requestId, auth, principalOf(auth), opts.services);
    const op = findOperationFor(ctx, req, levelOf(target));
    if (op.formHandler) {
      // POST Object: the handler verifies the form's signature, then its signer is authorized
      // for the operation as any other caller would be.
      response = await op.formHandler(ctx, {
        credentials: opts.credentials,
        signedBy: (signer) => {
          const signed = new S3Context(req, target, requestId, signer, principalOf(signer), opts.services);
          if (op.action) signed.authorizeOperation(op.action);
          return signed;
        },
      });
    } else {
      if (op.action) ctx.authorizeOperation(op.action);
      else if (auth.type === 'anonymous') throw new S3Error('AccessDenied', 'Anonymous access is not allowed here.');
      response = await op.handler(ctx);
    }
  } catch (err) {
    const e = toS3Error(err);
    if (e.status >= 500 && !(err instanceof S3Error)) opts.onInternalError?.(err, req);
    response = errorResponse(e, resource, requestId, req.method ?? 'GET');
  }
  await send(req, res, response);
}

async function send(req: IncomingMessage, res: ServerResponse, r: S3Response): Promise<void> {
  try {
    // An answer given before the request body was read (an early error) closes the
    // connection, so a client still sending a large body is not left half-way.
    if (!req.complete && r.status >= 300) res.setHeader('Connection', 'close');
    const headers = { ...r.headers };
    if (typeof r.body === 'string') headers['Content-Length'] = String(Buffer.byteLength(r.body));
    else if (r.body === undefined && headers['Content-Length'] === undefined) headers['Content-Length'] = '0';
    res.writeHead(r.status, headers);
    if (req.method === 'HEAD' || r.body === undefined) {
      res.end();
    } else if (typeof r.body === 'string') {
      res.end(r.body);
    } else {
      // A client that goes away mid-download ends the pipeline with an error: nothing to answer.
      await pipeline(r.body, res).catch(() => res.destroy());
    }
  } finally {
    if (r.body !== undefined && typeof r.body !== 'string' && req.method === 'HEAD') r.body.destroy();
    await r.cleanup?.();
  }
}
