/**
 * `--max-connections`: how many client connections s3mux serves at once. Each one holds
 * memory while its request is under way (its socket and parser, a GET's read buffer until the
 * idle timeout cuts a client that stopped reading: src/backends/fs/read-ahead.ts), so without
 * a cap, enough stalled clients grow the process without bound.
 *
 * A connection beyond the cap is still accepted, and each request on it is answered as S3
 * answers when it is overloaded: 503 SlowDown ("Please reduce your request rate."), which
 * every AWS SDK and the CLI retry with backoff, and the connection is closed after that answer.
 * (Closing it unanswered, as Node's own server.maxConnections does, would reach the client as
 * a reset it may not retry; MinIO's requests_max answers 503 too.) The connections under the
 * cap, keep-alive ones included, are served as usual, and so are the health paths (a liveness
 * probe must not fail because clients are many).
 */
import type http from 'node:http';
import type { Socket } from 'node:net';
import { S3Error } from '../errors';
import { isHealthPath } from './health';
import { bareErrorAnswer } from './bare-error';

/** The default cap: well above what SDK connection pools open (JS v3: 50 a client, boto3: 10). */
export const DEFAULT_MAX_CONNECTIONS = 1024;

type RequestListener = (req: http.IncomingMessage, res: http.ServerResponse) => void;

/**
 * Counts `server`'s connections and returns `app` behind the cap (`max` 0: no cap, `app` as
 * it is). A connection is over the cap when it arrives, and stays so: the ones before it keep
 * their place. `tls`: count connections once their handshake is done (the socket requests come on).
 */
export function capConnections(server: http.Server, app: RequestListener, max: number, tls = false): RequestListener {
  if (!max) return app;
  let open = 0;
  const over = new WeakSet<Socket>();
  server.on(tls ? 'secureConnection' : 'connection', (socket: Socket) => {
    if (++open > max) over.add(socket);
    socket.once('close', () => open--);
  });
  return (req, res) => {
    if (!over.has(req.socket) || isHealthPath(req.url ?? '')) return app(req, res);
    refuse(res);
  };
}

function refuse(res: http.ServerResponse): void {
  const a = bareErrorAnswer(new S3Error('SlowDown'));
  res.shouldKeepAlive = false;
  res.writeHead(a.status, a.headers);
  res.end(a.body);
}
