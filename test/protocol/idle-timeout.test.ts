/**
 * Clients that stall (--idle-timeout, server/idle-timeout.ts), on a server whose timeout is one
 * second so each case takes about that long: S3 answers a body that stops arriving with 400
 * RequestTimeout and stores nothing, and closes a connection whose client stops reading.
 */
import net from 'node:net';
import { expect } from 'chai';
import {
  CreateBucketCommand,
  CreateMultipartUploadCommand,
  GetObjectCommand,
  ListMultipartUploadsCommand,
  ListObjectsV2Command,
  ListPartsCommand,
  PutObjectCommand,
  UploadPartCommand,
} from '@aws-sdk/client-s3';
import { getSignedUrl } from '@aws-sdk/s3-request-presigner';
import { startTestServer, type TestServer } from '../helpers/server';
import { exchange } from '../helpers/hostile-wire';
import { tempFiles } from '../helpers/fs-temps';

const IDLE_MS = 1000;
const Bucket = 'idle-timeout';

/** The request line and headers of a presigned request, for a raw socket. */
function head(url: string, method: string, headers: Record<string, string>): Buffer {
  const u = new URL(url);
  const lines = [
    `${method} ${u.pathname}${u.search} HTTP/1.1`,
    `Host: ${u.host}`,
    ...Object.entries(headers).map(([k, v]) => `${k}: ${v}`),
  ];
  return Buffer.from(`${lines.join('\r\n')}\r\n\r\n`, 'latin1');
}

describe('protocol: clients that stall (idle timeout)', function () {
  this.timeout(30_000);
  let srv: TestServer;

  before(async () => {
    srv = await startTestServer({ idleTimeoutMs: IDLE_MS });
    await srv.s3.send(new CreateBucketCommand({ Bucket }));
  });
  after(async () => srv?.stop());

  const onFs = () => !process.env.S3MUX_TEST_BACKEND || process.env.S3MUX_TEST_BACKEND === 'fs';

  it('answers a PUT whose body stops half-way with 400 RequestTimeout, closes the connection and stores nothing', async () => {
    const url = await getSignedUrl(srv.presigner, new PutObjectCommand({ Bucket, Key: 'stalled.bin' }), { expiresIn: 600 });
    const started = Date.now();
    const r = await exchange(srv.port, Buffer.concat([head(url, 'PUT', { 'Content-Length': '100000' }), Buffer.alloc(30000, 1)]), {
      timeoutMs: 10 * IDLE_MS,
    });
    expect(r.timedOut, 'an answer within the idle timeout').to.equal(false);
    expect(r.status).to.equal(400);
    const body = r.body.toString();
    expect(body).to.contain('<Code>RequestTimeout</Code>');
    expect(body).to.contain(
      'Your socket connection to the server was not read from or written to within the timeout period. Idle connections will be closed.',
    );
    expect(r.headers.connection).to.equal('close');
    expect(Date.now() - started).to.be.at.least(IDLE_MS - 100);
    const listed = await srv.s3.send(new ListObjectsV2Command({ Bucket }));
    expect(listed.Contents ?? []).to.deep.equal([]);
    if (onFs()) expect(tempFiles(srv.dataDir)).to.deep.equal([]);
  });

  it('answers a stalled UploadPart with RequestTimeout and keeps no part', async () => {
    const { UploadId } = await srv.s3.send(new CreateMultipartUploadCommand({ Bucket, Key: 'mp.bin' }));
    const url = await getSignedUrl(srv.presigner, new UploadPartCommand({ Bucket, Key: 'mp.bin', UploadId, PartNumber: 1 }), {
      expiresIn: 600,
    });
    const r = await exchange(srv.port, Buffer.concat([head(url, 'PUT', { 'Content-Length': '6000000' }), Buffer.alloc(70000, 2)]), {
      timeoutMs: 10 * IDLE_MS,
    });
    expect(r.status).to.equal(400);
    expect(r.body.toString()).to.contain('<Code>RequestTimeout</Code>');
    const parts = await srv.s3.send(new ListPartsCommand({ Bucket, Key: 'mp.bin', UploadId }));
    expect(parts.Parts ?? []).to.deep.equal([]);
    const uploads = await srv.s3.send(new ListMultipartUploadsCommand({ Bucket }));
    expect((uploads.Uploads ?? []).map((u) => u.Key)).to.deep.equal(['mp.bin']);
  });

  it('answers a browser POST form whose file stops half-way with RequestTimeout', async () => {
    const p = srv.minio.newPostPolicy();
    p.setBucket(Bucket);
    p.setKey('posted.txt');
    p.setExpires(new Date(Date.now() + 600_000));
    const { postURL, formData } = await srv.minio.presignedPostPolicy(p);
    const boundary = '----idle0boundary';
    const fields = Object.entries(formData)
      .map(([k, v]) => `--${boundary}\r\nContent-Disposition: form-data; name="${k}"\r\n\r\n${v}\r\n`)
      .join('');
    const partial = Buffer.from(`${fields}--${boundary}\r\nContent-Disposition: form-data; name="file"; filename="a.txt"\r\n\r\nhalf a fi`);
    const r = await exchange(
      srv.port,
      Buffer.concat([
        head(postURL, 'POST', {
          'Content-Type': `multipart/form-data; boundary=${boundary}`,
          'Content-Length': String(partial.length + 1000),
        }),
        partial,
      ]),
      { timeoutMs: 10 * IDLE_MS },
    );
    expect(r.timedOut, 'an answer within the idle timeout').to.equal(false);
    expect(r.status).to.equal(400);
    expect(r.body.toString()).to.contain('<Code>RequestTimeout</Code>');
    const listed = await srv.s3.send(new ListObjectsV2Command({ Bucket, Prefix: 'posted' }));
    expect(listed.Contents ?? []).to.deep.equal([]);
  });

  it('cuts a GET whose client never reads the answer, and a connection that sends nothing', async () => {
    // Larger than what the socket buffers on both sides hold, so s3mux is left with bytes to send.
    await srv.s3.send(new PutObjectCommand({ Bucket, Key: 'large.bin', Body: Buffer.alloc(32 * 1024 * 1024, 7) }));
    const url = await getSignedUrl(srv.s3, new GetObjectCommand({ Bucket, Key: 'large.bin' }), {
      expiresIn: 600,
    });
    // The server's side of each connection, to see when s3mux closes it.
    const serverSide = new Map<number, net.Socket>();
    const track = (sock: net.Socket) => serverSide.set(sock.remotePort ?? 0, sock);
    srv.server.on('connection', track);
    const sockets = [net.connect({ port: srv.port, host: '127.0.0.1' }), net.connect({ port: srv.port, host: '127.0.0.1' })];
    try {
      for (const s of sockets) {
        s.on('error', () => {});
        await new Promise<void>((resolve) => s.once('connect', () => resolve()));
      }
      sockets[0].pause(); // never reads
      sockets[0].write(head(url, 'GET', {}));
      // sockets[1] sends nothing at all.
      // The server's side of both (its 'connection' event may come after the client's 'connect').
      const deadline = Date.now() + 5000;
      let ours = sockets.map((s) => serverSide.get(s.localPort ?? -1));
      while (ours.some((s) => !s) && Date.now() < deadline) {
        await new Promise((r) => setTimeout(r, 20));
        ours = sockets.map((s) => serverSide.get(s.localPort ?? -1));
      }
      expect(ours.every(Boolean), "s3mux's side of both connections").to.equal(true);
      // Cut after the idle timeout (within a bound loose enough for a loaded machine): the
      // object's stream ends and its file is released.
      const closed = (s: net.Socket | undefined) =>
        new Promise<boolean>((resolve) => (!s || s.destroyed ? resolve(true) : s.once('close', () => resolve(true))));
      const giveUp = new Promise<boolean>((resolve) => setTimeout(() => resolve(false), 10 * IDLE_MS).unref());
      expect(await Promise.race([Promise.all(ours.map(closed)).then(() => true), giveUp]), 'both closed by s3mux').to.equal(true);
    } finally {
      srv.server.off('connection', track);
      for (const s of sockets) s.destroy();
    }
  });

  it('keeps serving while a slow reader takes longer than the timeout, as long as bytes move', async () => {
    await srv.s3.send(new PutObjectCommand({ Bucket, Key: 'slow.bin', Body: Buffer.alloc(4 * 1024 * 1024, 9) }));
    const url = await getSignedUrl(srv.s3, new GetObjectCommand({ Bucket, Key: 'slow.bin' }), {
      expiresIn: 600,
    });
    const s = net.connect({ port: srv.port, host: '127.0.0.1' });
    const received = await new Promise<number>((resolve, reject) => {
      let n = 0;
      s.on('error', reject);
      s.on('connect', () => s.write(head(url, 'GET', { Connection: 'close' })));
      s.on('data', (d: Buffer) => {
        n += d.length;
        // A reader that keeps up, but slowly: it pauses a while after each piece.
        s.pause();
        setTimeout(() => s.resume(), 40);
      });
      s.on('close', () => resolve(n));
    });
    expect(received).to.be.at.least(4 * 1024 * 1024);
  });
});
