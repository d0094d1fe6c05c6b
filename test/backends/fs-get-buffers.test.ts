/**
 * A large fs GET writes itself into the answer through two reused buffers
 * (src/backends/writes-itself.ts) instead of a fresh 1 MiB buffer per chunk: checked on the
 * stream itself (which buffers carried the bytes, and that none was refilled before its write
 * called back) and through the server (whole and ranged GETs, a client that goes away).
 */
import { createHash, randomBytes } from 'node:crypto';
import { mkdtempSync, readdirSync, readlinkSync, rmSync, writeFileSync } from 'node:fs';
import { open } from 'node:fs/promises';
import http from 'node:http';
import os from 'node:os';
import path from 'node:path';
import { Writable } from 'node:stream';
import { expect } from 'chai';
import { CreateBucketCommand, GetObjectCommand, HeadObjectCommand, PutObjectCommand } from '@aws-sdk/client-s3';
import { FileRangeReadable } from '../../src/backends/fs/handle';
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
});
