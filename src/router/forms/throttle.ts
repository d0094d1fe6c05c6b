/**
 * A bandwidth limit shared by every body a job moves: a token bucket of bytes per second,
 * with at most one second of burst. A body piped through `limit()` waits for its chunks'
 * tokens, so backpressure reaches the source and memory does not grow.
 */
import { Transform, type Readable } from 'node:stream';

export class Throttle {
  private tokens: number;
  private last = Date.now();

  constructor(readonly bytesPerSecond: number) {
    this.tokens = bytesPerSecond;
  }

  /** Resolves when `n` bytes may go. */
  async take(n: number): Promise<void> {
    for (;;) {
      const now = Date.now();
      this.tokens = Math.min(this.bytesPerSecond, this.tokens + ((now - this.last) / 1000) * this.bytesPerSecond);
      this.last = now;
      // A chunk larger than the burst goes once the bucket is full, leaving it in debt.
      if (this.tokens >= Math.min(n, this.bytesPerSecond)) {
        this.tokens -= n;
        return;
      }
      const wait = ((Math.min(n, this.bytesPerSecond) - this.tokens) / this.bytesPerSecond) * 1000;
      await new Promise((r) => setTimeout(r, Math.max(1, Math.ceil(wait))));
    }
  }

  limit(body: Readable): Readable {
    const t = new Transform({
      transform: (chunk: Buffer, _enc, done) => {
        this.take(chunk.length).then(() => done(null, chunk), done);
      },
    });
    body.on('error', (err) => t.destroy(err));
    t.on('close', () => {
      if (!body.readableEnded) body.destroy();
    });
    return body.pipe(t);
  }
}
