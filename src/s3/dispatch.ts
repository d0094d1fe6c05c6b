/**
 * One S3 request from start to finish: addressing, authentication, the operation table,
 * the handler, and the answer (an S3 error document for anything that went wrong).
 */
import type { IncomingMessage, ServerResponse } from 'node:http';
import type { Readable } from 'node:stream';
import { S3Error, toS3Error } from '../errors';
import { authenticate, type AuthResult, type CredentialLookup } from '../auth/authenticate';
import { ANONYMOUS, ROOT, type Principal } from '../auth/policy';
import { clientView, type ClientView } from '../server/forwarded';
import { resolveTarget, type Target } from './addressing';
import { S3Context, type OperationAccess, type S3Response, type Services } from './context';
import { releaseRequestBody } from './payload';
import { findOperation, type Level, type Operation } from './operations';
import { errorResponse } from './respond';
import { newRequestId, setIdentityHeaders } from './request-id';
import { sendableHeaders } from './header-values';
import { checkRequestFeatures } from './request-features';
import { actualCorsHeaders, preflight } from './cors';
import { writeInto, writesItself } from '../backends/writes-itself';

export interface DispatchOptions {
  services: Services;
  /** Base domains for virtual-hosted-style addressing. */
  domains: readonly string[];
  /** A reverse proxy in front sets X-Forwarded-Host/-Port/-Proto/-Prefix (server/forwarded.ts). */
  trustForwarded?: boolean;
  credentials: CredentialLookup;
  /** Who an access key id is; a key not listed here (root) may do everything. */
  principals?: ReadonlyMap<string, Principal>;
  /** Logs unexpected (500) errors, with the request id the client was given. */
  onInternalError?: (err: unknown, req: IncomingMessage, requestId: string) => void;
  /** Told, once the answer is over, what the request was (access log, metrics). */
  onDone?: (record: RequestRecord) => void;
}

/** What one request was and how it ended, as far as dispatch learned it. */
export interface RequestRecord {
  requestId: string;
  /** The principal's name: 'root', an identity of the routing table, or 'anonymous'. */
  identity?: string;
  accessKeyId?: string;
  /** The S3 operation, once known. */
  operation?: string;
  /** The virtual bucket, and the routing table's backend name serving it. */
  bucket?: string;
  backend?: string;
  status: number;
  errorCode?: string;
}

function accessOf(op: Operation, query: URLSearchParams): OperationAccess {
  const s3Action = op.s3VersionAction && query.has('versionId') ? op.s3VersionAction : op.s3Action;
  return { s3Action, action: op.action, publicRead: op.publicRead, objectLevel: op.level === 'object' };
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
    return findOperation(req.method ?? 'GET', level, ctx.query, ctx.headers);
  } catch (err) {
    if (ctx.principal === ANONYMOUS && !(req.method === 'POST' && level === 'bucket')) throw new S3Error('AccessDenied');
    throw err;
  }
}

/** Requests that sent `Expect: 100-continue` and have not been told to go on yet. */
const awaitingContinue = new WeakSet<IncomingMessage>();

/** The server defers a request's 100 Continue to the dispatcher (see server/http-wire.ts). */
export function deferContinue(req: IncomingMessage): void {
  awaitingContinue.add(req);
}

/** Whether the client still waits for 100 Continue before it sends its body. */
export function awaitsContinue(req: IncomingMessage): boolean {
  return awaitingContinue.has(req);
}

/** Tells a client waiting to send its body to go on: the request passed every header check. */
function sendContinue(req: IncomingMessage, res: ServerResponse): void {
  if (awaitingContinue.delete(req)) res.writeContinue();
}

export async function dispatch(req: IncomingMessage, res: ServerResponse, opts: DispatchOptions): Promise<void> {
  const requestId = newRequestId();
  setIdentityHeaders(requestId, (name, value) => res.setHeader(name, value));
  let resource = (req.url ?? '/').split('?')[0];
  let response: S3Response;
  let preflighted = false;
  const record: RequestRecord = { requestId, status: 0 };
  try {
    if (req.headers.host === undefined && req.httpVersion !== '1.0') {
      throw new S3Error('InvalidRequest', 'Missing required header for this request: Host');
    }
    // Behind a proxy that says what it rewrote, the host and path are the ones the client signed.
    const client: ClientView = opts.trustForwarded ? clientView(req.headers) : { host: req.headers.host, prefix: '' };
    const target = resolveTarget(req.url ?? '/', client.host, opts.domains);
    resource = target.rawPath;
    if (target.bucket !== undefined) {
      record.bucket = target.bucket;
      record.backend = opts.services.router.resolve(target.bucket).backendName;
    }
    if (req.method === 'OPTIONS') {
      // A browser's preflight carries no credentials: the bucket's CORS rules alone decide it.
      record.operation = 'OptionsPreflight';
      response = { status: 200, headers: await preflight(req, opts.services.router, target.bucket, target.key !== undefined) };
      preflighted = true;
    } else {
      const auth: AuthResult = authenticate(
        // headersDistinct keeps repeated headers apart: SigV4 joins them with ',' not ', '.
        {
          method: req.method ?? 'GET',
          rawPath: client.prefix + target.rawPath,
          rawQuery: target.rawQuery,
          headers: client.host === req.headers.host ? req.headersDistinct : { ...req.headersDistinct, host: [client.host ?? ''] },
          virtualHostBucket: target.style === 'virtual-host' ? target.bucket : undefined,
        },
        opts.credentials,
        undefined,
        { region: opts.services.region },
      );
      const principalOf = (a: AuthResult) => (a.type === 'anonymous' ? ANONYMOUS : (opts.principals?.get(a.accessKeyId) ?? ROOT));
      const ctx = new S3Context(req, target, requestId, auth, principalOf(auth), opts.services, client);
      record.identity = ctx.principal.name;
      if (auth.type !== 'anonymous') record.accessKeyId = auth.accessKeyId;
      const op = findOperationFor(ctx, req, levelOf(target));
      record.operation = op.name;
      ctx.operation = op.name;
      if (op.formHandler) {
        // The form carries the signature: it can only be checked once the body is read.
        sendContinue(req, res);
        // POST Object: the handler verifies the form's signature, then its signer is authorized
        // for the operation as any other caller would be.
        response = await op.formHandler(ctx, {
          credentials: opts.credentials,
          signedBy: async (signer, form) => {
            const signed = new S3Context(req, target, requestId, signer, principalOf(signer), opts.services, client);
            signed.operation = op.name;
            record.identity = signed.principal.name;
            if (signer.type !== 'anonymous') record.accessKeyId = signer.accessKeyId;
            await signed.authorizeOperation(accessOf(op, ctx.query), form);
            return signed;
          },
        });
      } else {
        if (op.perKey) ctx.authorizeEachKey();
        else if (op.keysFromBody && target.bucket !== undefined) ctx.authorizeAfterBody(accessOf(op, ctx.query));
        else if (target.bucket !== undefined) await ctx.authorizeOperation(accessOf(op, ctx.query));
        else if (auth.type === 'anonymous') throw new S3Error('AccessDenied', 'Anonymous access is not allowed here.');
        const honoured = checkRequestFeatures(ctx);
        sendContinue(req, res);
        try {
          response = await op.handler(ctx);
        } catch (err) {
          throw await ctx.answerFor(err);
        }
        // Usually nothing was echoed: the handler's headers are used as they are.
        if (response.status < 300 && hasKeys(honoured)) response.headers = { ...honoured, ...response.headers };
      }
    }
  } catch (err) {
    const e = toS3Error(err);
    if (e.status >= 500 && !(err instanceof S3Error)) opts.onInternalError?.(err, req, requestId);
    response = errorResponse(e, resource, requestId, req.method ?? 'GET');
    record.errorCode = e.code;
  }
  // Without an Origin no CORS header can apply: no bucket configuration is looked at (nor awaited).
  if (!preflighted && req.headers.origin !== undefined) {
    const cors = await actualCorsHeaders(req, opts.services.router, record.bucket);
    if (Object.keys(cors).length) response = { ...response, headers: { ...response.headers, ...cors } };
  }
  record.status = response.status;
  try {
    await send(req, res, response);
  } catch (err) {
    // An answer that could not be written (a bug: every header is built to be sendable) is
    // still an S3 answer, never an exception that ends the process.
    opts.onInternalError?.(err, req, requestId);
    record.status = 500;
    record.errorCode = 'InternalError';
    if (res.headersSent) res.destroy();
    else
      await send(req, res, errorResponse(new S3Error('InternalError'), resource, requestId, req.method ?? 'GET')).catch(() =>
        res.destroy(),
      );
  } finally {
    opts.onDone?.(record);
  }
}

/** A rest of a request body up to this size is read and dropped after an early answer. */
const DRAIN_MAX_BYTES = 8 * 1024 * 1024;
/** How long a client has to send that rest before its connection is cut. */
const DRAIN_TIMEOUT_MS = 10_000;

/**
 * An answer given before the request body was read (an early error). A client still sending
 * cannot read the answer if s3mux closes on it (it gets EPIPE or a reset instead, as Node 24's
 * fetch does on every refused POST form), so a small rest is read and dropped, as S3 does, and
 * the connection stays usable; a large or unknown-length rest closes the connection rather
 * than reading gigabytes nobody wants, and a client that stalls is cut.
 */
function endUnreadBody(req: IncomingMessage, res: ServerResponse): void {
  const declared = Number(req.headers['content-length']);
  if (!(Number.isFinite(declared) && declared <= DRAIN_MAX_BYTES)) {
    res.setHeader('Connection', 'close');
    return;
  }
  res.once('finish', () => {
    if (req.complete) return;
    const cut = setTimeout(() => req.socket?.destroy(), DRAIN_TIMEOUT_MS).unref();
    req.once('end', () => clearTimeout(cut));
    req.once('close', () => clearTimeout(cut));
    releaseRequestBody(req);
    req.resume(); // whether or not a handler had started reading it
  });
}

async function send(req: IncomingMessage, res: ServerResponse, r: S3Response): Promise<void> {
  try {
    if (!req.complete && r.status >= 300) endUnreadBody(req, res);
    // The handler's headers are copied only to add a length they lack (an object's answer has one).
    let headers = r.headers ?? {};
    if (typeof r.body === 'string') headers = { ...headers, 'Content-Length': String(Buffer.byteLength(r.body)) };
    else if (r.body === undefined && headers['Content-Length'] === undefined) headers = { ...headers, 'Content-Length': '0' };
    res.writeHead(r.status, sendableHeaders(headers));
    if (req.method === 'HEAD' || r.body === undefined) {
      res.end();
    } else if (typeof r.body === 'string' || Buffer.isBuffer(r.body)) {
      res.end(r.body);
    } else {
      await streamBody(r.body, res);
    }
  } finally {
    if (isStream(r.body) && (req.method === 'HEAD' || !res.headersSent)) r.body.destroy();
    if (r.cleanup) await r.cleanup();
  }
}

function hasKeys(o: object): boolean {
  for (const _ in o) return true;
  return false;
}

function isStream(body: S3Response['body']): body is Readable {
  return body !== undefined && typeof body !== 'string' && !Buffer.isBuffer(body);
}

/**
 * Pipes an object's stream into the answer, or lets a stream that writes itself
 * (src/backends/writes-itself.ts) write into it. Not stream.pipeline: it makes an AbortController
 * per call and aborts it when done, building a DOMException (with its stack trace) for every
 * GET (bench --profile). A source that fails, or a client that goes away mid-download, cuts
 * the connection: there is nothing left to answer.
 */
function streamBody(body: Readable, res: ServerResponse): Promise<void> {
  return new Promise((resolve) => {
    let settled = false;
    const settle = (): void => {
      if (settled) return;
      settled = true;
      // The 'error' listeners stay: a late error must not become an uncaught exception.
      body.off('close', sourceClosed);
      res.off('close', closed);
      resolve();
    };
    const fail = (): void => {
      if (settled) return;
      res.destroy();
      body.destroy();
      settle();
    };
    // A source destroyed before its end would leave the answer open forever.
    const sourceClosed = (): void => {
      if (!body.readableEnded) fail();
    };
    const closed = (): void => (res.writableFinished ? settle() : fail());
    body.on('error', fail);
    res.on('error', fail);
    res.once('close', closed);
    if (writesItself(body)) {
      // The stream is never read as a Readable here, so it never ends as one: it is
      // destroyed (closing what it holds) once the answer is complete.
      body[writeInto](res).then(() => res.end(), fail);
      res.once('finish', () => body.destroy());
      return;
    }
    body.once('close', sourceClosed);
    body.pipe(res);
  });
}
