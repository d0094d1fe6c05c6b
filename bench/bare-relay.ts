/**
 * The ceiling of the proxy cells: a bare Node HTTP relay in its own process
 * (`node dist/bench/bare-relay.js`, upstream in $S3MUX_BENCH_RELAY_UPSTREAM). Every request
 * goes to the upstream as it came (method, path, headers, Host included, so the client's
 * signature still verifies there; the body streamed) over undici, the HTTP client s3mux's s3
 * backend uses, and the answer comes back the same way.
 *
 * No authentication, no routing, no signing, no checks: what it costs is a Node server and a
 * Node client carrying the bytes, what relaying alone adds to the direct figure on the same
 * machine. The proxy cells measure it beside s3mux's s3 backend, so the overhead that is s3mux's
 * own reads apart from what relaying costs here.
 *
 * Prints "relay listening on http://127.0.0.1:PORT" once it listens on an ephemeral port.
 */
import http from 'node:http';
import { Pool } from 'undici';

const upstream = process.env.S3MUX_BENCH_RELAY_UPSTREAM;
if (!upstream) throw new Error('S3MUX_BENCH_RELAY_UPSTREAM: the upstream URL is missing');
const pool = new Pool(upstream, { connections: 128, keepAliveTimeout: 30_000 });

/** Hop-by-hop headers (undici refuses to be handed them). */
const HOP = new Set(['connection', 'keep-alive', 'transfer-encoding', 'upgrade', 'expect', 'proxy-connection', 'te', 'trailer']);

/** The end-to-end headers of a request or an answer: all but the hop-by-hop ones. */
function endToEnd(headers: Record<string, string | string[] | undefined>): Record<string, string | string[]> {
  const out: Record<string, string | string[]> = {};
  for (const [name, v] of Object.entries(headers)) if (v !== undefined && !HOP.has(name)) out[name] = v;
  return out;
}

/** Bodies up to this size are read whole and sent as one buffer, as s3mux's s3 backend sends them. */
const SMALL_BODY = 64 * 1024;

function forward(req: http.IncomingMessage, res: http.ServerResponse, body: Buffer | http.IncomingMessage | undefined): void {
  pool.request(
    {
      path: req.url ?? '/',
      method: req.method as 'GET',
      headers: endToEnd(req.headers),
      body,
      // undici closes the connection after a HEAD unless told otherwise (as s3mux's s3 backend tells it)
      ...(req.method === 'HEAD' ? { reset: false } : {}),
    },
    (err, data) => {
      if (err) {
        if (!res.headersSent) res.writeHead(502);
        res.end();
        return;
      }
      res.writeHead(data.statusCode, endToEnd(data.headers));
      data.body.on('error', () => res.destroy());
      data.body.pipe(res);
    },
  );
}

const server = http.createServer((req, res) => {
  const length = Number(req.headers['content-length'] ?? 0);
  if (!(length > 0)) {
    req.resume();
    forward(req, res, undefined);
  } else if (length > SMALL_BODY) {
    forward(req, res, req);
  } else {
    const chunks: Buffer[] = [];
    req.on('data', (c: Buffer) => chunks.push(c));
    req.on('end', () => forward(req, res, Buffer.concat(chunks)));
  }
});

server.keepAliveTimeout = 30_000;
server.listen(0, '127.0.0.1', () => {
  const a = server.address() as { port: number };
  console.log(`relay listening on http://127.0.0.1:${a.port}`);
});
