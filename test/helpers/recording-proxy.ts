/**
 * An HTTP proxy in front of a store that records each request's method and URL and forwards it
 * unchanged (the Host header too, so a SigV4 signature made for the proxy's address still holds),
 * unless `refuse` answers it with an S3 error itself.
 * Listens on 127.0.0.1, an ephemeral port.
 */
import * as http from 'node:http';
import type { AddressInfo } from 'node:net';

export interface RecordingProxy {
  url: string;
  /** Every request, in order. */
  requests: { method: string; url: string }[];
  stop(): Promise<void>;
}

/** An answer the proxy gives itself instead of forwarding (a store that refuses a request). */
export type Refusal = (req: http.IncomingMessage) => { status: number; code: string; message: string } | undefined;

export async function startRecordingProxy(upstreamPort: number, refuse: Refusal = () => undefined): Promise<RecordingProxy> {
  const requests: RecordingProxy['requests'] = [];
  const server = http.createServer((req, res) => {
    requests.push({ method: req.method ?? '', url: req.url ?? '' });
    const refusal = refuse(req);
    if (refusal) {
      const body = `<?xml version="1.0" encoding="UTF-8"?><Error><Code>${refusal.code}</Code><Message>${refusal.message}</Message></Error>`;
      req.resume().once('end', () => res.writeHead(refusal.status, { 'content-type': 'application/xml' }).end(body));
      return;
    }
    const up = http.request(
      { host: '127.0.0.1', port: upstreamPort, method: req.method, path: req.url, headers: req.headers },
      (answer) => {
        res.writeHead(answer.statusCode ?? 502, answer.headers);
        answer.pipe(res);
      },
    );
    up.on('error', () => res.destroy());
    req.pipe(up);
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  return {
    url: `http://127.0.0.1:${(server.address() as AddressInfo).port}`,
    requests,
    stop: () =>
      new Promise<void>((resolve) => {
        server.close(() => resolve());
        server.closeAllConnections();
      }),
  };
}
