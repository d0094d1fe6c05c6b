/**
 * A Writable into a new temp file, for bodies too large to hold: MD5 on the way, the bytes
 * gathered into writes of about WRITE_BATCH bytes (one thread-pool job each), and at the end
 * an fsync, an fstat and the close before 'finish'. So a file whose sink finished is durable
 * and its identity known, and the caller may rename it into place.
 *
 * Why not a WriteStream behind an async generator: a request body arrives in socket reads of
 * 16–64 KiB, and the WriteStream wrote each one as its own thread-pool job: about 1,400
 * writes and 6,000 futex calls per 64 MiB PUT, plus a turn of the generator's promises per
 * chunk (bench/RESULTS.md, issue 15, eighth pass). Used inside `stream.pipeline`, which
 * still reports the first failure of the body or the disk.
 */
import { createHash, type Hash } from 'node:crypto';
import { close, fstatSync, fsync, futimesSync, open, writev, type Stats } from 'node:fs';
import { Writable } from 'node:stream';

/**
 * Bytes gathered before they are written; also the sink's highWaterMark (memory per upload in
 * flight: up to twice this). 1 MiB made eight concurrent 64 MiB PUTs peak at 121-132 MiB of RSS,
 * 256 KiB at 109-116, for the same throughput (bench/RESULTS.md, issue 15, eleventh pass).
 */
export const WRITE_BATCH = 256 * 1024;

type Callback = (err?: Error | null) => void;

export class TempFileSink extends Writable {
  private fd?: number;
  private readonly md5?: Hash;
  private pending: Buffer[] = [];
  private pendingBytes = 0;
  /** Bytes taken in. */
  bytes = 0;
  /** The file's stat after the fsync (set once the sink has finished). */
  stats?: Stats;

  private readonly mtime?: Date;

  /** `mtime`: the file's modification time, set before its fsync (else the time of its last write). */
  constructor(
    private readonly file: string,
    opts: { md5?: boolean; mtime?: Date } = {},
  ) {
    super({ highWaterMark: WRITE_BATCH });
    if (opts.md5) this.md5 = createHash('md5');
    this.mtime = opts.mtime;
  }

  /** The MD5 of what was written (hex); once finished. */
  etag(): string {
    return this.md5 ? this.md5.digest('hex') : '';
  }

  override _construct(cb: Callback): void {
    // 'wx': the temp name must be new; created on the thread pool (see durable-file.ts).
    open(this.file, 'wx', 0o666, (err, fd) => {
      if (err) return cb(err);
      this.fd = fd;
      cb();
    });
  }

  override _write(chunk: Buffer, _enc: BufferEncoding, cb: Callback): void {
    this.take(chunk);
    if (this.pendingBytes < WRITE_BATCH) return cb();
    this.writePending(cb);
  }

  override _writev(chunks: Array<{ chunk: Buffer }>, cb: Callback): void {
    for (const c of chunks) this.take(c.chunk);
    if (this.pendingBytes < WRITE_BATCH) return cb();
    this.writePending(cb);
  }

  override _final(cb: Callback): void {
    this.writePending((err) => {
      if (err) return cb(err);
      const fd = this.fd!;
      if (this.mtime) {
        try {
          futimesSync(fd, this.mtime, this.mtime);
        } catch (timeErr) {
          return cb(timeErr as Error);
        }
      }
      fsync(fd, (syncErr) => {
        if (syncErr) return cb(syncErr);
        try {
          this.stats = fstatSync(fd);
        } catch (statErr) {
          return cb(statErr as Error);
        }
        this.fd = undefined;
        close(fd, (closeErr) => cb(closeErr));
      });
    });
  }

  override _destroy(err: Error | null, cb: Callback): void {
    const fd = this.fd;
    this.fd = undefined;
    this.pending = [];
    if (fd === undefined) return cb(err);
    close(fd, () => cb(err));
  }

  private take(chunk: Buffer): void {
    // The chunk is kept after its callback: a Writable's chunks are the writer's to keep (the
    // stream contract; Writable itself buffers them the same way).
    this.md5?.update(chunk);
    this.bytes += chunk.length;
    this.pending.push(chunk);
    this.pendingBytes += chunk.length;
  }

  /** Writes what is gathered (all of it, however many writev calls that takes). */
  private writePending(cb: Callback): void {
    const bufs = this.pending;
    this.pending = [];
    this.pendingBytes = 0;
    if (bufs.length === 0) return cb();
    const fd = this.fd!;
    const step = (list: Buffer[]): void => {
      writev(fd, list, (err, written) => {
        if (err) return cb(err);
        // A short write (a signal, a full quota on some filesystems) goes on with the rest.
        let left = written;
        let i = 0;
        while (i < list.length && left >= list[i].length) left -= list[i++].length;
        if (i === list.length) return cb();
        const rest = list.slice(i);
        if (left > 0) rest[0] = rest[0].subarray(left);
        step(rest);
      });
    };
    step(bufs);
  }
}
