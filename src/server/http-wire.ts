/**
 * How Node's HTTP server is set up to behave as S3 does on the wire, where Node's defaults
 * differ: Node answers some requests itself with empty bodies (no Host: 400, an unknown
 * Expect: 417), sends 100 Continue before anyone looked at the request, drops the answer of a
 * client that half-closed after its request, and keeps half-closed sockets of silent clients.
 */
import http from 'node:http';
import https from 'node:https';
import type { Duplex } from 'node:stream';
import { S3Error } from '../errors';
import { failRequestBody } from '../s3/payload';
import { deferContinue } from '../s3/dispatch';
import { applyIdleTimeout, DEFAULT_IDLE_TIMEOUT_MS } from './idle-timeout';
import { capConnections, DEFAULT_MAX_CONNECTIONS } from './connection-cap';
import { bareErrorWire } from './bare-error';
import { oneAtATime } from './pipelining';

type RequestListener = (req: http.IncomingMessage, res: http.ServerResponse) => void;

/** After s3mux ends its side of a connection, how long the client has to read and close. */
export const CLOSE_GRACE_MS = 5_000;

/** Server options: Host is checked by the S3 layer, which answers with an S3 error. */
export const SERVER_OPTIONS: http.ServerOptions = { requireHostHeader: false };

export function createHttpServer(
  app: RequestListener,
  tls?: { cert: Buffer; key: Buffer },
  idleTimeoutMs = DEFAULT_IDLE_TIMEOUT_MS,
  maxConnections = DEFAULT_MAX_CONNECTIONS,
): http.Server | https.Server {
  const server = tls ? https.createServer({ ...SERVER_OPTIONS, ...tls }) : http.createServer(SERVER_OPTIONS);
  // Connections beyond --max-connections get 503 SlowDown (connection-cap.ts); requests a client
  // pipelined are handled one after the other (pipelining.ts).
  const handle = oneAtATime(capConnections(server, app, maxConnections, !!tls));
  server.on('request', handle);
  // S3 ignores an Expect it does not know; Node would answer 417.
  server.on('checkExpectation', handle);
  // 100 Continue only once the request is authenticated and authorized (dispatch sends it),
  // so a refused request gets its error and its body is never read.
  server.on('checkContinue', (req: http.IncomingMessage, res: http.ServerResponse) => {
    deferContinue(req);
    handle(req, res);
  });
  // A client may half-close once its request is sent (shutdown(SHUT_WR)); it still gets
  // its answer. Node's default drops the request instead.
  (server as { httpAllowHalfOpen?: boolean }).httpAllowHalfOpen = true;
  server.on('clientError', answerClientError);
  // Once s3mux has ended its side, a client that never closes its own must not hold the
  // socket (and a file descriptor) forever.
  server.on('connection', (socket: Duplex) => {
    socket.once('finish', () => setTimeout(() => socket.destroy(), CLOSE_GRACE_MS).unref());
  });
  // Large uploads may take long: no limit on a whole request, only on silence (idle-timeout.ts).
  server.requestTimeout = 0;
  // Headers trickled a byte at a time (each byte resets the idle timer) end here.
  server.headersTimeout = 60_000;
  server.keepAliveTimeout = 5_000;
  applyIdleTimeout(server, idleTimeoutMs);
  return server;
}

const PARSE_ERRORS: Record<string, () => S3Error> = {
  HPE_HEADER_OVERFLOW: () => new S3Error('RequestHeaderSectionTooLarge'),
  ERR_HTTP_REQUEST_TIMEOUT: () => new S3Error('RequestTimeout'),
};

/**
 * Bytes Node's HTTP parser cannot read. When they follow a request whose answer is still
 * being prepared (a body longer than its Content-Length, or one cut short), that answer is
 * let through first; otherwise the client gets an S3 error document and the connection ends.
 */
function answerClientError(err: NodeJS.ErrnoException, socket: Duplex): void {
  const inflight = (socket as Duplex & { _httpMessage?: http.ServerResponse })._httpMessage;
  if (inflight && !inflight.writableFinished) {
    // The parser gave up inside that request's body (the client half-closed early): the
    // handler learns the body is incomplete and answers before the connection ends.
    if (inflight.req) failRequestBody(inflight.req, new S3Error('IncompleteBody'));
    inflight.once('close', () => socket.end());
    return;
  }
  if (err.code === 'ECONNRESET' || !socket.writable) {
    socket.destroy();
    return;
  }
  const e = PARSE_ERRORS[err.code ?? '']?.() ?? new S3Error('InvalidRequest', 'The request could not be parsed as HTTP.');
  socket.end(bareErrorWire(e));
}
