/**
 * `--max-connections` (server/connection-cap.ts): beyond the cap a request gets S3's answer to
 * overload, 503 SlowDown, which SDKs retry, and its connection closes; the connections under
 * the cap and the health paths are served as usual, and a closed connection frees its place.
 */
import net from 'node:net';
import { expect } from 'chai';
import { ListBucketsCommand } from '@aws-sdk/client-s3';
import { startTestServer, type TestServer } from '../helpers/server';
import { exchange } from '../helpers/hostile-wire';

const MAX = 3;

describe('protocol: --max-connections', function () {
  this.timeout(30_000);
  let srv: TestServer;
  const idle: net.Socket[] = [];

  before(async () => {
    srv = await startTestServer({ maxConnections: MAX });
  });
  after(async () => {
    for (const s of idle) s.destroy();
    await srv?.stop();
  });

  const connections = () => new Promise<number>((resolve) => srv.server.getConnections((_e, n) => resolve(n)));
  async function untilConnections(n: number): Promise<void> {
    for (const stop = Date.now() + 5000; Date.now() < stop; await new Promise((r) => setTimeout(r, 10)))
      if ((await connections()) === n) return;
    throw new Error(`expected ${n} connections, have ${await connections()}`);
  }
  const request = (path: string) => Buffer.from(`GET ${path} HTTP/1.1\r\nHost: 127.0.0.1:${srv.port}\r\n\r\n`, 'latin1');

  it('answers 503 SlowDown on a connection beyond the cap and closes it, serves those under it', async () => {
    // Connections that have sent nothing yet count too: MAX of them fill the cap.
    for (let i = 0; i < MAX; i++) {
      const s = net.connect(srv.port, '127.0.0.1');
      s.on('error', () => {});
      idle.push(s);
    }
    await untilConnections(MAX);
    const over = await exchange(srv.port, request('/'), { timeoutMs: 5000 });
    expect(over.status).to.equal(503);
    expect(over.body.toString()).to.contain('<Code>SlowDown</Code>');
    expect(over.body.toString()).to.contain('<Message>Please reduce your request rate.</Message>');
    expect(over.headers.connection).to.equal('close');
    // A request id, as every other s3mux answer has, in the headers and the document.
    const id = over.headers['x-amz-request-id'];
    expect(id).to.match(/^[0-9A-F]{16}$/);
    expect(over.headers['x-amz-id-2']).to.equal(id);
    expect(over.body.toString()).to.contain(`<RequestId>${String(id)}</RequestId>`);
    expect(over.incomplete).to.equal(false);
    // A liveness probe is answered whatever the count.
    const health = await exchange(srv.port, request('/healthz'), { timeoutMs: 5000 });
    expect(health.status).to.equal(200);
    // A connection under the cap (opened first) is served as usual: an anonymous ListBuckets is refused by auth, not by the cap.
    const first = idle[0];
    const answer = await new Promise<string>((resolve) => {
      let got = '';
      first.on('data', (d: Buffer) => {
        got += d.toString('latin1');
        if (got.includes('\r\n\r\n')) resolve(got);
      });
      first.write(request('/'));
    });
    expect(answer).to.match(/^HTTP\/1\.1 403 /);
  });

  it('serves a new connection once one of the others has closed', async () => {
    for (const s of idle.splice(0)) s.destroy();
    await untilConnections(0);
    const r = await srv.s3.send(new ListBucketsCommand({}));
    expect(r.$metadata.httpStatusCode).to.equal(200);
  });
});
