/**
 * A TCP proxy in front of a store, for outage tests: while `down`, it drops every connection
 * (those open and those arriving), as a store that went away does; `up()` lets them through
 * again. Listens on 127.0.0.1, an ephemeral port.
 */
import net from 'node:net';

export interface FlakyProxy {
  url: string;
  port: number;
  down(): void;
  up(): void;
  close(): Promise<void>;
}

export async function startFlakyProxy(upstreamPort: number): Promise<FlakyProxy> {
  let isDown = false;
  const open = new Set<net.Socket>();
  const server = net.createServer((client) => {
    if (isDown) {
      client.destroy();
      return;
    }
    const upstream = net.connect(upstreamPort, '127.0.0.1');
    open.add(client);
    open.add(upstream);
    const drop = () => {
      client.destroy();
      upstream.destroy();
      open.delete(client);
      open.delete(upstream);
    };
    client.on('error', drop).on('close', drop);
    upstream.on('error', drop).on('close', drop);
    client.pipe(upstream);
    upstream.pipe(client);
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const port = (server.address() as net.AddressInfo).port;
  return {
    url: `http://127.0.0.1:${port}`,
    port,
    down() {
      isDown = true;
      for (const s of open) s.destroy();
      open.clear();
    },
    up() {
      isDown = false;
    },
    close: () =>
      new Promise<void>((resolve) => {
        for (const s of open) s.destroy();
        server.close(() => resolve());
      }),
  };
}
