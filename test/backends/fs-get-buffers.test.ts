/**
 * A large fs GET writes itself into the answer through two reused buffers
 * (src/backends/writes-itself.ts) instead of a fresh 1 MiB buffer per chunk: checked on the
 * stream itself (which buffers carried the bytes, and that none was refilled before its write
 * called back) and through the server (whole and ranged GETs, a client that goes away). The
 * buffers are large only while the client keeps up (src/backends/fs/read-ahead.ts): GETs whose
 * clients stop reading hold a bounded amount of memory, checked on a separate s3mux process.
 */
import { createHash, randomBytes } from 'node:crypto';
import { mkdtempSync, readdirSync, readFileSync, readlinkSync, rmSync, writeFileSync } from 'node:fs';
import { open } from 'node:fs/promises';
import http from 'node:http';
import net from 'node:net';
import os from 'node:os';
import path from 'node:path';
import { Writable } from 'node:stream';
import { expect } from 'chai';
import { CreateBucketCommand, GetObjectCommand, HeadObjectCommand, PutObjectCommand } from '@aws-sdk/client-s3';
import { getSignedUrl } from '@aws-sdk/s3-request-presigner';
import { FileRangeReadable } from '../../src/backends/fs/handle';
import { BEHIND_MS, LARGE_CHUNK, SMALL_CHUNK, largeBuffersLent } from '../../src/backends/fs/read-ahead';
import { NODE_FLAGS } from '../../src/node-flags';
import { startChildServer } from '../helpers/child-server';
import { writeInto } from '../../src/backends/writes-itself';
import { Router } from '../../src/router/router';
import { startTestServer, type TestServer } from '../helpers/server';

const sha = (b: Buffer) => createHash('sha256').update(b).digest('hex');

/**
 * A destination that keeps each chunk it is given (no copy) and calls back later, checking
 * then that the chunk still holds what it held when written: a buffer refilled before its
 * write called back would fail here.
 */
class SlowSink extends Writable {
  readonly received: Buffer[] = [];
  readonly backing = new Set<ArrayBufferLike>();
  overwritten = 0;
  override _write(chunk: Buffer, _enc: BufferEncoding, cb: (err?: Error | null) => void): void {
    const at = sha(chunk);
    this.backing.add(chunk.buffer);
    setTimeout(() => {
      if (sha(chunk) !== at) this.overwritten++;
      this.received.push(Buffer.from(chunk));
      cb();
    }, 2);
  }
}

/** A destination that takes each write at once, except the `stallAt`-th, which it holds for `stallMs` (forever: -1). */
class StallingSink extends Writable {
  readonly sizes: number[] = [];
  readonly received: Buffer[] = [];
  constructor(
    private readonly stallAt: number,
    private readonly stallMs: number,
  ) {
    super({ highWaterMark: 1 });
  }
  override _write(chunk: Buffer, _enc: BufferEncoding, cb: (err?: Error | null) => void): void {
    this.sizes.push(chunk.length);
    this.received.push(Buffer.from(chunk));
    if (this.sizes.length !== this.stallAt) cb();
    else if (this.stallMs >= 0) setTimeout(cb, this.stallMs);
  }
}

describe('fs backend: large GETs reuse their read buffers', function () {
  this.timeout(60_000);
  let dir: string;
  let file: string;
  const data = randomBytes(5 * 1024 * 1024 + 123);

  before(() => {
    dir = mkdtempSync(path.join(os.tmpdir(), 's3mux-get-buffers-'));
    file = path.join(dir, 'blob');
    writeFileSync(file, data);
  });
  after(() => rmSync(dir, { recursive: true, force: true }));

  for (const [name, start, end] of [
    ['the whole file', 0, data.length - 1],
    ['a range across chunk boundaries', 1000, 3 * 1024 * 1024 + 7],
    ['a range inside one chunk', 77, 77 + 4095],
  ] as const) {
    it(`writes ${name} through at most two buffers, never refilling one before its write called back`, async () => {
      const fh = await open(file, 'r');
      try {
        const sink = new SlowSink({ highWaterMark: 1 });
        await new FileRangeReadable(fh, start, end)[writeInto](sink);
        expect(Buffer.concat(sink.received).equals(data.subarray(start, end + 1))).to.equal(true);
        expect(sink.overwritten).to.equal(0);
        expect(sink.backing.size).to.be.at.most(2);
        expect(sink.received.length).to.equal(Math.ceil((end - start + 1) / (1024 * 1024)));
      } finally {
        await fh.close();
      }
    });
  }

  it('frees its buffers once the last write called back, where the runtime can (ArrayBuffer transfer)', async function () {
    if (typeof (ArrayBuffer.prototype as { transfer?: unknown }).transfer !== 'function') this.skip();
    const fh = await open(file, 'r');
    try {
      const sink = new SlowSink({ highWaterMark: 1 });
      await new FileRangeReadable(fh, 0, data.length - 1)[writeInto](sink);
      await new Promise((r) => setTimeout(r, 10)); // the last write's callback
      expect(Buffer.concat(sink.received).equals(data)).to.equal(true);
      expect([...sink.backing].map((ab) => ab.byteLength)).to.deep.equal([0, 0]);
    } finally {
      await fh.close();
    }
  });

  it('rejects when the destination fails, and stops reading', async () => {
    const fh = await open(file, 'r');
    try {
      let writes = 0;
      const failing = new Writable({
        write(_c, _e, cb) {
          writes++;
          cb(writes === 2 ? new Error('socket gone') : null);
        },
      });
      failing.on('error', () => {});
      const err = await new FileRangeReadable(fh, 0, data.length - 1)[writeInto](failing).then(
        () => undefined,
        (e: unknown) => e as Error,
      );
      expect(err?.message).to.equal('socket gone');
      expect(writes).to.be.at.most(3);
    } finally {
      await fh.close();
    }
  });

  it('reads in small buffers once a write waits on its client, and in large ones again once it keeps up', async () => {
    const fh = await open(file, 'r');
    try {
      const sink = new StallingSink(2, BEHIND_MS + 300);
      await new FileRangeReadable(fh, 0, data.length - 1)[writeInto](sink);
      // Every byte once and in order, the chunk read ahead during the stall read again.
      expect(Buffer.concat(sink.received).equals(data)).to.equal(true);
      expect(sink.sizes.slice(0, 3)).to.deep.equal([LARGE_CHUNK, LARGE_CHUNK, SMALL_CHUNK]);
      expect(sink.sizes.slice(3)).to.include(LARGE_CHUNK);
      expect(largeBuffersLent()).to.equal(0);
    } finally {
      await fh.close();
    }
  });

  it('gives its large buffers back when destroyed under a write that never calls back', async () => {
    const fh = await open(file, 'r');
    try {
      const reader = new FileRangeReadable(fh, 0, data.length - 1);
      const done = reader[writeInto](new StallingSink(1, -1)).catch(() => undefined);
      await new Promise((r) => setTimeout(r, BEHIND_MS + 100));
      expect(largeBuffersLent()).to.equal(1); // the chunk in the write; the one read ahead went back
      reader.destroy();
      await new Promise((r) => setTimeout(r, 20));
      expect(largeBuffersLent()).to.equal(0);
      void done;
    } finally {
      await fh.close();
    }
  });

  describe('through the server', () => {
    let srv: TestServer;
    let root: string;
    const Bucket = 'big-gets';
    const Key = 'five-mib';

    before(async () => {
      root = mkdtempSync(path.join(os.tmpdir(), 's3mux-get-buffers-srv-'));
      srv = await startTestServer({ router: Router.defaultFor(root) });
      await srv.s3.send(new CreateBucketCommand({ Bucket }));
      await srv.s3.send(new PutObjectCommand({ Bucket, Key, Body: data }));
    });
    after(async () => {
      await srv.stop();
      rmSync(root, { recursive: true, force: true });
    });

    it('answers whole and ranged GETs with the stored bytes', async () => {
      const whole = await srv.s3.send(new GetObjectCommand({ Bucket, Key }));
      expect(Buffer.from(await whole.Body!.transformToByteArray()).equals(data)).to.equal(true);
      const ranged = await srv.s3.send(new GetObjectCommand({ Bucket, Key, Range: 'bytes=1048570-2097160' }));
      expect(ranged.ContentRange).to.equal(`bytes 1048570-2097160/${data.length}`);
      expect(Buffer.from(await ranged.Body!.transformToByteArray()).equals(data.subarray(1048570, 2097161))).to.equal(true);
    });

    it('gives a file placed by hand the MD5 of all its bytes as its ETag (hashed through the same two buffers)', async () => {
      const placed = randomBytes(3 * 1024 * 1024 + 5);
      writeFileSync(path.join(root, Bucket, 'placed.bin'), placed);
      const head = await srv.s3.send(new HeadObjectCommand({ Bucket, Key: 'placed.bin' }));
      expect(head.ETag).to.equal(`"${createHash('md5').update(placed).digest('hex')}"`);
      expect(head.ContentLength).to.equal(placed.length);
    });

    /** This process's descriptors open on files under the data folder. */
    const openDataFiles = () =>
      readdirSync('/proc/self/fd').filter((fd) => {
        try {
          return readlinkSync(`/proc/self/fd/${fd}`).startsWith(root);
        } catch {
          return false;
        }
      }).length;

    it('closes the file when a client goes away mid-download, and keeps serving', async () => {
      const url = await srv.minio.presignedGetObject(Bucket, Key, 60);
      const before = openDataFiles();
      await new Promise<void>((resolve, reject) => {
        const req = http.get(url, (res) => {
          expect(res.statusCode).to.equal(200);
          res.once('data', () => {
            // An open descriptor while the answer is under way, none once the client is gone.
            req.destroy();
            resolve();
          });
        });
        req.on('error', () => {});
        req.setTimeout(10_000, () => reject(new Error('no answer')));
      });
      const deadline = Date.now() + 5_000;
      while (openDataFiles() > before && Date.now() < deadline) await new Promise((r) => setTimeout(r, 20));
      expect(openDataFiles()).to.equal(before);
      const again = await srv.s3.send(new GetObjectCommand({ Bucket, Key }));
      expect(sha(Buffer.from(await again.Body!.transformToByteArray()))).to.equal(sha(data));
    });
  });

  it('holds a bounded amount of memory for GETs whose clients stop reading', async function () {
    // A separate s3mux process (started as its launchers start it), so its RSS is its own. Each
    // unread GET held two 1 MiB buffers until the idle timeout: 64 of them grew it by ~128 MiB.
    const GETS = 64;
    const root = mkdtempSync(path.join(os.tmpdir(), 's3mux-get-unread-'));
    const child = await startChildServer(root, [], [...NODE_FLAGS]);
    const sockets: net.Socket[] = [];
    const rssMiB = () => Number(/VmRSS:\s+(\d+)/.exec(readFileSync(`/proc/${child.process.pid}/status`, 'utf8'))![1]) / 1024;
    try {
      const big = randomBytes(32 * 1024 * 1024);
      await child.client.send(new CreateBucketCommand({ Bucket: 'unread' }));
      await child.client.send(new PutObjectCommand({ Bucket: 'unread', Key: 'big', Body: big }));
      const u = new URL(await getSignedUrl(child.client, new GetObjectCommand({ Bucket: 'unread', Key: 'big' }), { expiresIn: 600 }));
      const request = `GET ${u.pathname}${u.search} HTTP/1.1\r\nHost: ${u.host}\r\n\r\n`;
      await new Promise((r) => setTimeout(r, 500));
      const before = rssMiB();
      let peak = before;
      for (let i = 0; i < GETS; i++) {
        const s = net.connect(Number(u.port), '127.0.0.1');
        s.on('error', () => {});
        s.pause(); // never reads
        s.write(request);
        sockets.push(s);
      }
      for (const stop = Date.now() + 2500; Date.now() < stop;) {
        await new Promise((r) => setTimeout(r, 50));
        peak = Math.max(peak, rssMiB());
      }
      expect(peak - before, `RSS ${before.toFixed(0)} -> ${peak.toFixed(0)} MiB`).to.be.below(GETS);
      // A stalled client that reads again gets every byte, in order.
      const whole = await new Promise<Buffer>((resolve, reject) => {
        const s = sockets[0];
        const timer = setTimeout(() => reject(new Error('the resumed GET did not finish')), 20_000);
        let head = Buffer.alloc(0);
        const body: Buffer[] = [];
        let n = -1; // body bytes so far, once the headers are in
        s.on('data', (d: Buffer) => {
          if (n < 0) {
            head = Buffer.concat([head, d]);
            const at = head.indexOf('\r\n\r\n');
            if (at < 0) return;
            d = head.subarray(at + 4);
            n = 0;
          }
          body.push(d);
          n += d.length;
          if (n >= big.length) {
            clearTimeout(timer);
            resolve(Buffer.concat(body));
          }
        });
        s.resume();
      });
      expect(sha(whole)).to.equal(sha(big));
    } finally {
      for (const s of sockets) s.destroy();
      await child.stop();
      rmSync(root, { recursive: true, force: true });
    }
  });
});
