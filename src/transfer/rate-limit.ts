/**
 * A byte-rate limit shared by every stream of a transfer: each chunk reserves its share of
 * time on one schedule, so the average over all objects is the rate and a burst is one chunk.
 */
import { Transform, type TransformCallback } from 'node:stream';

export class RateLimiter {
  private next = 0;
  constructor(private readonly bytesPerSecond: number) {}

  /** Resolves when `bytes` may pass. */
  async take(bytes: number): Promise<void> {
    const now = Date.now();
    const start = Math.max(this.next, now);
    this.next = start + (bytes * 1000) / this.bytesPerSecond;
    if (start > now) await new Promise((r) => setTimeout(r, start - now));
  }
}

/** Passes chunks through at the limiter's pace; without a limiter, at once. */
export class Throttle extends Transform {
  constructor(private readonly limiter: RateLimiter | undefined) {
    super();
  }

  override _transform(chunk: Buffer, _enc: BufferEncoding, cb: TransformCallback): void {
    if (!this.limiter) return cb(null, chunk);
    this.limiter.take(chunk.length).then(
      () => cb(null, chunk),
      (err: Error) => cb(err),
    );
  }
}
