/**
 * An opened object version: metadata plus the data file's descriptor, so bytes and
 * metadata stay one version even when the key is overwritten meanwhile (the old inode
 * lives on while the descriptor is open).
 *
 * The descriptor is closed exactly once: by close(), or when the last read stream
 * finishes (ended, failed or destroyed), or - for a handle that is dropped without either
 * - when it is garbage-collected.
 */
import type { FileHandle } from 'node:fs/promises';
import { Readable, type Writable } from 'node:stream';
import { S3Error } from '../../errors';
import type { ByteRange, ObjectHandle, ObjectMeta } from '../types';
import { checkedRange } from '../bytes-handle';
import { writeInto, type WritesItself } from '../writes-itself';
import { BEHIND_MS, PendingWrite, ReadAhead } from './read-ahead';

/** The most one read takes from the file when the stream is read as a Readable. */
const CHUNK_BYTES = 1024 * 1024;

/**
 * Streams bytes start..end (inclusive) from an open FileHandle with positional reads. Node's
 * fs streams are not used on FileHandles here: they hold a reference that keeps
 * FileHandle.close() pending and close the handle when destroyed, which would break one
 * descriptor serving several reads. Destroying this stream never closes the handle.
 */
export class FileRangeReadable extends Readable implements WritesItself {
  private pos: number;
  private pending: Promise<unknown> | undefined;
  private readAhead: ReadAhead | undefined;

  constructor(
    private readonly fh: FileHandle,
    start: number,
    private readonly end: number,
  ) {
    super({ highWaterMark: 64 * 1024 });
    this.pos = start;
  }

  override _read(size: number): void {
    const remaining = this.end - this.pos + 1;
    if (remaining <= 0) {
      this.push(null);
      return;
    }
    const len = Math.min(Math.max(size, 64 * 1024), remaining, CHUNK_BYTES);
    this.readNext(Buffer.allocUnsafe(len), len).then(
      (chunk) => {
        if (chunk) this.push(chunk);
      },
      (err: unknown) => this.destroy(err as Error),
    );
  }

  /**
   * Reads the next `len` bytes (at most) into `buf` and moves on past them: the chunk read, or
   * undefined once the stream was destroyed meanwhile. A file shorter than its recorded size fails.
   */
  private async readNext(buf: Buffer, len: number): Promise<Buffer | undefined> {
    const read = this.fh.read(buf, 0, len, this.pos);
    this.pending = read;
    const { bytesRead } = await read.finally(() => (this.pending = undefined));
    if (this.destroyed) return undefined;
    if (bytesRead === 0) throw new Error('The file is shorter than its recorded size (changed in place?).');
    this.pos += bytesRead;
    return bytesRead === buf.length ? buf : buf.subarray(0, bytesRead);
  }

  /**
   * Two buffers, filled in turn: one is read into while the destination writes the other, and
   * a write is handed over only once the one before it has called back, so the destination
   * holds one chunk at a time. How large they are is src/backends/fs/read-ahead.ts's choice:
   * 1 MiB while the client keeps up, 64 KiB once a write has waited on it.
   */
  async [writeInto](dest: Writable): Promise<void> {
    const buffers = new ReadAhead(this.end - this.pos + 1);
    this.readAhead = buffers;
    let inFlight: PendingWrite | undefined;
    // The buffer read into and not yet handed to a write.
    let held: Buffer | undefined;
    try {
      while (this.pos <= this.end) {
        if (this.destroyed) throw new Error('The read was abandoned.');
        const buf = (held = buffers.take(this.end - this.pos + 1));
        const chunk = await this.readNext(buf, Math.min(buf.length, this.end - this.pos + 1));
        if (!chunk) throw new Error('The read was abandoned.');
        if (inFlight) {
          const inTime = await inFlight.settledWithin(BEHIND_MS, buffers);
          // A client not taking what it was sent: the chunk just read goes back unsent (read
          // again, smaller) rather than wait in a large buffer for as long as the client waits.
          const read = chunk.length; // (a buffer given back is freed: its views read as empty)
          const giveBack = !inTime && buffers.fallBehind(buf);
          if (giveBack) held = undefined;
          await inFlight.settled;
          inFlight.check();
          inFlight = undefined;
          if (giveBack) {
            this.pos -= read;
            continue;
          }
        }
        held = undefined;
        inFlight = new PendingWrite(dest, chunk, buf, buffers);
      }
      if (inFlight) {
        await inFlight.settled;
        inFlight.check();
      }
    } finally {
      if (held) buffers.give(held);
      // A write still under way gives its buffer back when it calls back (or when this stream is destroyed).
      buffers.done();
    }
  }

  override _destroy(err: Error | null, cb: (error?: Error | null) => void): void {
    // A destination that never calls back (a socket destroyed under a write) must not keep the large buffers lent.
    this.readAhead?.release();
    if (this.pending)
      this.pending.then(
        () => cb(err),
        () => cb(err),
      );
    else cb(err);
  }
}

const leaked = new FinalizationRegistry<FileHandle>((fh) => {
  fh.close().catch(() => {});
});

export class FsObjectHandle implements ObjectHandle {
  private active = 0;
  private consumed = false;
  private closeRequested = false;
  private closed = false;
  private closing: Promise<void> | undefined;

  constructor(
    readonly meta: ObjectMeta,
    private readonly fh: FileHandle,
  ) {
    leaked.register(this, fh, this);
  }

  read(range?: ByteRange): Readable {
    if (this.closed || this.closeRequested) throw new S3Error('InternalError', 'The object handle is closed.');
    const r = checkedRange(this.meta.size, range);
    if (!r) {
      // nothing to read (empty object)
      this.consumed = true;
      void this.maybeClose();
      return Readable.from([]);
    }
    const stream = new FileRangeReadable(this.fh, r.start, r.end);
    this.active++;
    let done = false;
    const finish = (): void => {
      if (done) return;
      done = true;
      this.active--;
      this.consumed = true;
      void this.maybeClose();
    };
    stream.once('close', finish);
    stream.once('error', finish);
    return stream;
  }

  async close(): Promise<void> {
    this.closeRequested = true;
    await this.maybeClose();
  }

  /** True once the descriptor has been closed. */
  get isClosed(): boolean {
    return this.closed;
  }

  private maybeClose(): Promise<void> {
    if (this.closing) return this.closing;
    if (this.active > 0 || !(this.closeRequested || this.consumed)) return Promise.resolve();
    this.closed = true;
    leaked.unregister(this);
    this.closing = this.fh.close().catch(() => {});
    return this.closing;
  }
}
