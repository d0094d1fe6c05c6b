/**
 * An HTTP proxy in front of a store that records each request's method and URL and forwards it
 * unchanged (the Host header too, so a SigV4 signature made for the proxy's address still holds).
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

export async function startRecordingProxy(upstreamPort: number): Promise<RecordingProxy> {
  const requests: RecordingProxy['requests'] = [];
  const server = http.createServer((req, res) => {
    requests.push({ method: req.method ?? '', url: req.url ?? '' });
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
