/**
 * Pipelined requests (several written on one connection before any answer): handled one after
 * the other, in order, and none left running once the client has gone (src/server/pipelining.ts).
 */
import { existsSync, readdirSync } from 'node:fs';
import net from 'node:net';
import { expect } from 'chai';
import { CreateBucketCommand, PutObjectCommand } from '@aws-sdk/client-s3';
import { startTestServer, ACCESS_KEY, SECRET_KEY, type TestServer } from '../helpers/server';
import { signer } from '../helpers/sign';

const Bucket = 'pipelined';

/** The bytes of one signed keep-alive request (UNSIGNED-PAYLOAD, so the body may be anything). */
async function requestBytes(srv: TestServer, method: string, path: string, body = Buffer.alloc(0)): Promise<Buffer> {
  const url = new URL(srv.url);
  const signed = await signer(ACCESS_KEY, SECRET_KEY).sign({
    method,
    protocol: 'http:',
    hostname: url.hostname,
    port: Number(url.port),
    path,
    query: {},
    headers: { host: url.host, 'x-amz-content-sha256': 'UNSIGNED-PAYLOAD', 'content-length': String(body.length) },
  });
  const head = [`${method} ${path} HTTP/1.1`, ...Object.entries(signed.headers).map(([k, v]) => `${k}: ${v}`), '', ''].join('\r\n');
  return Buffer.concat([Buffer.from(head, 'latin1'), body]);
}

interface Answer {
  status: number;
  body: string;
}

/** Splits the answers read from one connection (Content-Length framing; HEAD not used here). */
function answers(buf: Buffer): Answer[] {
  const out: Answer[] = [];
  let rest = buf;
  while (rest.length) {
    const end = rest.indexOf('\r\n\r\n');
    if (end < 0) break;
    const head = rest.subarray(0, end).toString('latin1');
    const status = Number(/^HTTP\/1\.1 (\d{3})/.exec(head)?.[1] ?? 0);
    const length = Number(/\r\ncontent-length: (\d+)/i.exec(head)?.[1] ?? 0);
    out.push({ status, body: rest.subarray(end + 4, end + 4 + length).toString('utf8') });
    rest = rest.subarray(end + 4 + length);
  }
  return out;
}

/** Writes `bytes` at once and reads until the server closes (the last request says Connection: close). */
function exchangeAll(port: number, bytes: Buffer): Promise<Buffer> {
  return new Promise((resolve, reject) => {
    const chunks: Buffer[] = [];
    const sock = net.connect(port, '127.0.0.1', () => sock.write(bytes));
    const timer = setTimeout(() => {
      sock.destroy();
      reject(new Error('no end of the answers within 20 s'));
    }, 20_000);
    sock.on('data', (d: Buffer) => chunks.push(d));
    sock.on('error', () => {});
    sock.on('close', () => {
      clearTimeout(timer);
      resolve(Buffer.concat(chunks));
    });
  });
}

/** This process's open file descriptors (the server runs in it), or undefined off Linux. */
function openFds(): number | undefined {
  return existsSync('/proc/self/fd') ? readdirSync('/proc/self/fd').length : undefined;
}

describe('protocol: pipelined requests', function () {
  this.timeout(60_000);
  let srv: TestServer;
  before(async () => {
    srv = await startTestServer();
    await srv.s3.send(new CreateBucketCommand({ Bucket }));
  });
  after(async () => {
    await srv.stop();
  });

  it('handles a PUT, GET, DELETE and GET of one key in the order sent (the GET read the key before the PUT stored it)', async () => {
    const body = Buffer.alloc(4 << 20, 'p');
    const key = `/${Bucket}/ordered.bin`;
    const last = (await requestBytes(srv, 'GET', key)).toString('latin1').replace('\r\n\r\n', '\r\nconnection: close\r\n\r\n');
    const bytes = Buffer.concat([
      await requestBytes(srv, 'PUT', key, body),
      await requestBytes(srv, 'GET', key),
      await requestBytes(srv, 'DELETE', key),
      Buffer.from(last, 'latin1'),
    ]);
    const got = answers(await exchangeAll(srv.port, bytes));
    expect(got.map((a) => a.status)).to.deep.equal([200, 200, 204, 404]);
    expect(got[1].body.length).to.equal(body.length);
    expect(got[3].body).to.contain('<Code>NoSuchKey</Code>');
  });

  it('runs one request of a pipelined burst at a time, and none once the client has gone', async function () {
    const fds = openFds();
    if (fds === undefined) this.skip();
    await srv.s3.send(new PutObjectCommand({ Bucket, Key: 'big.bin', Body: Buffer.alloc(8 << 20, 'b') }));
    const one = await requestBytes(srv, 'GET', `/${Bucket}/big.bin`);
    const before = openFds()!;
    // 64 GETs of 8 MiB written at once by a client that reads none of the answers.
    const sock = net.connect(srv.port, '127.0.0.1');
    sock.on('error', () => {});
    sock.pause();
    await new Promise<void>((resolve) => sock.once('connect', () => resolve()));
    sock.write(Buffer.concat(Array.from({ length: 64 }, () => one)));
    await new Promise((r) => setTimeout(r, 1000));
    // One GET under way (its file, or its connection to the store), not 64.
    expect(openFds()! - before, 'descriptors opened by the burst').to.be.at.most(4);
    sock.destroy();
    // Once the client is gone, the GET under way ends and the ones queued never start.
    const deadline = Date.now() + 10_000;
    while (openFds()! > before && Date.now() < deadline) await new Promise((r) => setTimeout(r, 100));
    expect(openFds(), 'descriptors after the client left').to.be.at.most(before);
  });
});
