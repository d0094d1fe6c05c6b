/**
 * How long a connection may wait on its client (`--idle-timeout`), as S3 closes a socket "not
 * read from or written to within the timeout period". One socket timer (Node's server.timeout)
 * runs while nothing moves on the wire; when it fires, this module judges whose turn it was:
 *
 * - no request under way (between keep-alive requests, or inside a request's headers): the
 *   connection is closed (Node's keepAliveTimeout closes an idle keep-alive socket sooner);
 * - a request body the client stopped sending: the body fails with 400 RequestTimeout, which
 *   the handler answers (nothing is stored: an upload commits only a complete body), and the
 *   connection closes after that answer; a handler that still has not answered one more period
 *   later loses the connection;
 * - an answer the client stopped reading (bytes queued that the socket cannot send): the
 *   connection is cut, which ends the object's stream and releases its file;
 * - otherwise s3mux itself is working (a slow backend, a long CompleteMultipartUpload, a body
 *   held back because the backend reads slowly, a 100 Continue not yet sent): the timer re-arms.
 */
import type http from 'node:http';
import type { Socket } from 'node:net';
import { S3Error } from '../errors';
import { failRequestBody } from '../s3/payload';
import { awaitsContinue } from '../s3/dispatch';

/** S3 answers RequestTimeout after about 20 s without a byte of a request body. */
export const DEFAULT_IDLE_TIMEOUT_MS = 20_000;

/** Requests whose body already failed with RequestTimeout: the next idle period cuts them. */
const timedOut = new WeakSet<http.IncomingMessage>();

export function applyIdleTimeout(server: http.Server, idleMs: number): void {
  // 0: no timer (a stalled client holds its connection until it goes away).
  server.timeout = idleMs;
  if (!idleMs) return;
  // With a 'timeout' listener Node leaves the socket to it (it destroys it otherwise).
  server.on('timeout', (socket: Socket) => onIdle(socket, idleMs));
}

function onIdle(socket: Socket, idleMs: number): void {
  const res = (socket as Socket & { _httpMessage?: http.ServerResponse })._httpMessage;
  if (!res?.req) {
    socket.destroy();
    return;
  }
  const req = res.req;
  if (res.headersSent) {
    // Bytes the kernel would not take: the client is not reading its answer. A reset, not a
    // close: the kernel would otherwise keep trying to deliver what it holds for this socket.
    if (socket.writableLength > 0) socket.resetAndDestroy();
    else socket.setTimeout(idleMs);
    return;
  }
  // The client owes body bytes when s3mux has read all it sent (nothing waits in the request's
  // buffer) and did not ask it to wait for 100 Continue.
  if (!req.complete && req.readableLength === 0 && !awaitsContinue(req)) {
    if (timedOut.has(req)) {
      socket.destroy();
      return;
    }
    timedOut.add(req);
    // Whatever is left of the body will not be read: the answer closes the connection.
    res.shouldKeepAlive = false;
    failRequestBody(req, new S3Error('RequestTimeout'));
  }
  socket.setTimeout(idleMs);
}
