/**
 * The buffers an fs GET reads its file into (FileRangeReadable's writeInto), and how much of
 * the file it reads ahead of its client.
 *
 * 1 MiB reads keep a 64 MiB GET at few thread-pool round trips (bench/RESULTS.md, issue 15).
 * But a buffer handed to a socket stays in memory until the kernel has taken all of it, and a
 * client that stops reading (or reads slowly) leaves it there until the idle timeout cuts the
 * connection: with two 1 MiB buffers per GET, 100 unread GETs of a large object held 190 MiB.
 * So a GET reads in 1 MiB buffers only while its client keeps up and while the process has
 * large buffers to lend; otherwise in 64 KiB ones:
 *
 * - a write the client has not taken within BEHIND_MS marks it behind: the chunk read ahead
 *   goes back unsent (it is read again, in small buffers) and its large buffers return to the
 *   process as soon as the socket lets go of them;
 * - a client that is behind gets large buffers again after CAUGHT_UP_WRITES small writes in a
 *   row that the socket took before the next chunk was ready;
 * - at most LARGE_BUFFERS_MAX large buffers are lent at once across all GETs (two per GET:
 *   sixteen GETs at full speed), so clients that stall can pin at most that much of them,
 *   and every GET beyond gets small ones.
 *
 * A stalled GET thus holds one 64 KiB buffer once the budget is spent, besides its socket,
 * until the idle timeout (src/server/idle-timeout.ts) cuts it; --max-connections
 * (src/server/connection-cap.ts) bounds how many there can be.
 */
import type { Writable } from 'node:stream';

/** A read's size while the client keeps up and the process has large buffers to lend. */
export const LARGE_CHUNK = 1024 * 1024;
/** A read's size once the client has fallen behind, or while every large buffer is lent. */
export const SMALL_CHUNK = 64 * 1024;
/** A write the destination has not taken after this long means the client is not keeping up. */
export const BEHIND_MS = 200;
/** Small writes in a row taken at once (1 MiB) before a client that was behind gets large buffers again. */
const CAUGHT_UP_WRITES = 16;
/** Large buffers lent at once across the process. */
export const LARGE_BUFFERS_MAX = 32;

let largeLent = 0;

type Transferable = ArrayBuffer & { transfer?: (length: number) => ArrayBuffer };

/**
 * Frees a buffer's memory now instead of when a garbage collection finds it dead: detaching
 * its ArrayBuffer (ArrayBuffer.prototype.transfer, Node 22+) releases the allocation at once.
 * Left to the collector, eight 64 MiB GETs at a time left 20-40 MiB of spent 1 MiB buffers in
 * malloc's arena on Node 24 between collections, and the arena stayed that large. Only for a
 * buffer nothing refers to any more: one whose write called back, or one never written.
 */
function dispose(buf: Buffer): void {
  const ab = buf.buffer as Transferable;
  if (typeof ab.transfer === 'function' && buf.byteLength > 0 && buf.byteOffset === 0 && buf.byteLength === ab.byteLength) ab.transfer(0);
}

/** How many large read buffers are lent right now (for tests and diagnostics). */
export function largeBuffersLent(): number {
  return largeLent;
}

/** The buffers of one read: at most two circulate, one being read into and one being written. */
export class ReadAhead {
  private behind = false;
  private promptWrites = 0;
  private finished = false;
  private readonly free: Buffer[] = [];
  /** The large buffers this read holds from the process's budget (free or in a write). */
  private readonly lent = new Set<Buffer>();

  /** `total`: the bytes this read will take from the file in all. */
  constructor(private readonly total: number) {}

  /** A buffer to read the next chunk into (`remaining` bytes are left to read). */
  take(remaining: number): Buffer {
    if (!this.behind) {
      const i = this.free.findIndex((b) => this.lent.has(b));
      if (i >= 0) return this.free.splice(i, 1)[0];
      // A new large buffer only for more than a small one holds.
      if (remaining > SMALL_CHUNK && this.lent.size < 2 && largeLent < LARGE_BUFFERS_MAX) {
        largeLent++;
        const buf = Buffer.allocUnsafeSlow(Math.min(this.total, LARGE_CHUNK));
        this.lent.add(buf);
        return buf;
      }
    }
    const i = this.free.findIndex((b) => !this.lent.has(b));
    if (i >= 0) return this.free.splice(i, 1)[0];
    return Buffer.allocUnsafeSlow(Math.min(this.total, SMALL_CHUNK));
  }

  /** A buffer nothing refers to any more (its write called back, or it was never written). */
  give(buf: Buffer): void {
    if (this.finished || (this.behind && this.lent.has(buf))) {
      this.giveBack(buf);
      dispose(buf);
    } else this.free.push(buf);
  }

  /**
   * The last write waited on its client. From now on small buffers; the large ones not in a
   * write go back. True when `buf` (just read, not written) was large and went back with them.
   */
  fallBehind(buf: Buffer): boolean {
    this.behind = true;
    this.promptWrites = 0;
    for (const b of this.free.splice(0)) this.give(b);
    if (!this.lent.has(buf)) return false;
    this.giveBack(buf);
    dispose(buf);
    return true;
  }

  /** A write was settled: `prompt` when it was before the next chunk was ready. */
  wrote(prompt: boolean): void {
    if (!this.behind) return;
    this.promptWrites = prompt ? this.promptWrites + 1 : 0;
    if (this.promptWrites >= CAUGHT_UP_WRITES) this.behind = false;
  }

  /** The read is over: free buffers go, a buffer still in a write goes when the write calls back. */
  done(): void {
    this.finished = true;
    for (const b of this.free.splice(0)) {
      this.giveBack(b);
      dispose(b);
    }
  }

  /**
   * The stream was destroyed: everything lent goes back to the count, even what a dead socket
   * never called back for (its memory is the collector's to free: a write may still refer to it).
   */
  release(): void {
    this.done();
    for (const b of [...this.lent]) this.giveBack(b);
  }

  private giveBack(buf: Buffer): void {
    if (this.lent.delete(buf)) largeLent--;
  }
}

/** One chunk handed to the destination; it gives its buffer back when the destination is done with it. */
export class PendingWrite {
  readonly settled: Promise<void>;
  private done = false;
  private error: Error | undefined;

  constructor(dest: Writable, chunk: Buffer, buf: Buffer, owner: ReadAhead) {
    this.settled = new Promise((resolve) =>
      dest.write(chunk, (err) => {
        this.done = true;
        if (err) this.error = err;
        owner.give(buf);
        resolve();
      }),
    );
  }

  /**
   * Whether the write is done within `ms` (no timer when it already is); tells `owner` whether
   * it was done before it was asked.
   */
  async settledWithin(ms: number, owner: ReadAhead): Promise<boolean> {
    if (this.done) {
      owner.wrote(true);
      return true;
    }
    let timer: NodeJS.Timeout | undefined;
    const inTime = await Promise.race([
      this.settled.then(() => true),
      new Promise<boolean>((resolve) => (timer = setTimeout(() => resolve(false), ms))),
    ]);
    clearTimeout(timer);
    if (inTime) owner.wrote(false);
    return inTime;
  }

  /** Throws the destination's failure, if it had one. */
  check(): void {
    if (this.error) throw this.error;
  }
}
