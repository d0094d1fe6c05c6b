/**
 * TempFileSink: the bytes of a body in many odd-sized chunks land in the file in order (the
 * writes gathered across WRITE_BATCH boundaries), its MD5 and stat are those of the file, the
 * file is fsynced before its descriptor is closed and before 'finish', and a failed body
 * leaves no descriptor open.
 */
import { expect } from 'chai';
import { createHash } from 'node:crypto';
import fs, { promises as fsp } from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { Readable } from 'node:stream';
import { pipeline } from 'node:stream/promises';
import { TempFileSink, WRITE_BATCH } from '../../src/backends/fs/temp-file-sink';

describe('TempFileSink', () => {
  let dir: string;
  const realFsync = fs.fsync;
  const realClose = fs.close;
  before(async () => {
    dir = await fsp.mkdtemp(path.join(os.tmpdir(), 's3mux-sink-'));
  });
  afterEach(() => {
    (fs as { fsync: typeof fs.fsync }).fsync = realFsync;
    (fs as { close: typeof fs.close }).close = realClose;
  });
  after(async () => {
    await fsp.rm(dir, { recursive: true, force: true });
  });

  it('writes every chunk in order, with its MD5 and stat, fsynced before the close and before finish', async () => {
    const chunks: Buffer[] = [];
    let total = 0;
    for (let i = 0; total < 2.5 * WRITE_BATCH; i++) {
      const c = Buffer.alloc(1 + ((i * 7919) % 70_000), i % 251);
      chunks.push(c);
      total += c.length;
    }
    const events: string[] = [];
    (fs as { fsync: typeof fs.fsync }).fsync = ((fd: number, cb: (err: NodeJS.ErrnoException | null) => void) =>
      realFsync(fd, (err) => {
        events.push(`fsync ${fd}`);
        cb(err);
      })) as typeof fs.fsync;
    (fs as { close: typeof fs.close }).close = ((fd: number, cb: (err: NodeJS.ErrnoException | null) => void) => {
      events.push(`close ${fd}`);
      realClose(fd, cb);
    }) as typeof fs.close;
    const file = path.join(dir, 'a');
    const sink = new TempFileSink(file, { md5: true });
    sink.once('finish', () => events.push('finish'));
    await pipeline(Readable.from(chunks), sink);
    const body = Buffer.concat(chunks);
    expect((await fsp.readFile(file)).equals(body)).to.equal(true);
    expect(sink.bytes).to.equal(total);
    expect(sink.etag()).to.equal(createHash('md5').update(body).digest('hex'));
    const st = await fsp.stat(file);
    expect([sink.stats!.ino, sink.stats!.size, sink.stats!.mtimeMs]).to.deep.equal([st.ino, st.size, st.mtimeMs]);
    expect(events).to.have.length(3);
    expect(events[0]).to.match(/^fsync \d+$/);
    expect(events[1]).to.equal(`close ${events[0].split(' ')[1]}`);
    expect(events[2]).to.equal('finish');
  });

  it('closes its file when the body fails, and refuses a temp name that exists', async () => {
    const closed: number[] = [];
    (fs as { close: typeof fs.close }).close = ((fd: number, cb: (err: NodeJS.ErrnoException | null) => void) => {
      closed.push(fd);
      realClose(fd, cb);
    }) as typeof fs.close;
    const failing = new Readable({
      read() {
        this.push(Buffer.alloc(WRITE_BATCH + 1));
        this.destroy(new Error('client went away'));
      },
    });
    const sink = new TempFileSink(path.join(dir, 'b'), { md5: true });
    let err: unknown;
    await pipeline(failing, sink).catch((e: unknown) => (err = e));
    expect((err as Error).message).to.equal('client went away');
    // The close may follow the rejection by a thread-pool round trip (the open still under
    // way when the body failed): waited for, bounded, then checked to have happened once.
    for (const until = Date.now() + 2000; closed.length === 0 && Date.now() < until;) await new Promise((r) => setTimeout(r, 5));
    await new Promise((r) => setTimeout(r, 20));
    expect(closed).to.have.length(1);

    const again = new TempFileSink(path.join(dir, 'a'));
    err = undefined;
    await pipeline(Readable.from([Buffer.from('x')]), again).catch((e: unknown) => (err = e));
    expect((err as NodeJS.ErrnoException).code).to.equal('EEXIST');
  });
});
