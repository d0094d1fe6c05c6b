/**
 * Body plumbing for uploads: holding back the last bytes until the source has ended well
 * (so a store never receives a complete Content-Length of a body that then failed its
 * checksum), reading a stream chunk by chunk without for-await (which would destroy it on
 * break), and cutting one stream into parts.
 */
import { PassThrough, Readable, Transform, pipeline } from 'node:stream';
import { S3Error } from '../../errors';
import { networkError } from './errors';
import type { S3Reply } from './http';

/**
 * The same bytes, except that the latest chunk is held until `source` has ended without
 * error. If the source fails, the held bytes are never sent: the request stays short of its
 * Content-Length and the store discards it.
 */
export function holdLast(source: Readable): Readable {
  let held: Buffer | undefined;
  const t = new Transform({
    transform(chunk: Buffer | string | Uint8Array, _enc, cb) {
      const prev = held;
      held = typeof chunk === 'string' ? Buffer.from(chunk) : Buffer.isBuffer(chunk) ? chunk : Buffer.from(chunk);
      cb(null, prev);
    },
    flush(cb) {
      cb(null, held);
    },
  });
  pipeline(source, t, () => {});
  return t;
}

/** Pulls chunks from a Readable one at a time; errors (and a premature close) are thrown. */
export class ChunkReader {
  private carry: Buffer | undefined;

  constructor(private readonly src: Readable) {
    // errors are read from src.errored when pulling; without a listener they would be uncaught
    src.on('error', () => {});
  }

  /** The next bytes (at most `max`), or null at the end. */
  async next(max = Infinity): Promise<Buffer | null> {
    let c: Buffer | null;
    if (this.carry) {
      c = this.carry;
      this.carry = undefined;
    } else {
      c = await this.pull();
    }
    if (c === null) return null;
    if (c.length > max) {
      this.carry = c.subarray(max);
      c = c.subarray(0, max);
    }
    return c;
  }

  private async pull(): Promise<Buffer | null> {
    const src = this.src;
    for (;;) {
      const chunk = src.read() as Buffer | string | Uint8Array | null;
      if (chunk !== null) {
        const b = typeof chunk === 'string' ? Buffer.from(chunk) : Buffer.isBuffer(chunk) ? chunk : Buffer.from(chunk);
        if (b.length === 0) continue;
        return b;
      }
      if (src.errored) throw src.errored;
      if (src.readableEnded) return null;
      if (src.destroyed) throw new S3Error('IncompleteBody', 'The request body ended early.');
      await new Promise<void>((resolve) => {
        const done = (): void => {
          src.off('readable', done);
          src.off('end', done);
          src.off('error', done);
          src.off('close', done);
          resolve();
        };
        src.on('readable', done);
        src.on('end', done);
        src.on('error', done);
        src.on('close', done);
      });
    }
  }

  /** Reads until `limit` bytes or the end; `ended` tells which. */
  async readUpTo(limit: number): Promise<{ data: Buffer; ended: boolean }> {
    const chunks: Buffer[] = [];
    let total = 0;
    while (total < limit) {
      const c = await this.next(limit - total);
      if (c === null) return { data: Buffer.concat(chunks), ended: true };
      chunks.push(c);
      total += c.length;
    }
    // Exactly full: the end may follow right away; find out without consuming data.
    const more = await this.next();
    if (more === null) return { data: Buffer.concat(chunks), ended: true };
    this.carry = more;
    return { data: Buffer.concat(chunks), ended: false };
  }

  /**
   * A stream of exactly `length` bytes taken from the source (for one part of a known-size
   * upload). Fails with IncompleteBody when the source ends first.
   */
  slice(length: number): Readable {
    let left = length;
    const self = this;
    return new Readable({
      highWaterMark: 64 * 1024,
      read() {
        if (left === 0) {
          this.push(null);
          return;
        }
        self.next(left).then(
          (c) => {
            if (c === null) {
              this.destroy(new S3Error('IncompleteBody'));
              return;
            }
            left -= c.length;
            this.push(c);
            if (left === 0) this.push(null);
          },
          (err: unknown) => this.destroy(err as Error),
        );
      },
    });
  }

  /** Throws unless the source is at its end (and ended without error). */
  async expectEnd(): Promise<void> {
    const c = await this.next(1);
    if (c !== null) throw new S3Error('IncompleteBody', 'The request body is longer than its announced length.');
  }
}

/**
 * `take` bytes of `source` after skipping `skip`: for stores that answer a Range request with
 * more than was asked (s3rver ignores an end of 0) or with the whole object.
 */
export function window(source: Readable, skip: number, take: number): Readable {
  let toSkip = skip;
  let left = take;
  const out = new Transform({
    transform(chunk: Buffer, _enc, cb) {
      let c = chunk;
      if (toSkip > 0) {
        const n = Math.min(toSkip, c.length);
        toSkip -= n;
        c = c.subarray(n);
      }
      if (left > 0 && c.length > 0) {
        const part = c.length > left ? c.subarray(0, left) : c;
        left -= part.length;
        this.push(part);
        if (left === 0) {
          this.push(null);
          source.unpipe(this);
          source.destroy();
        }
      }
      cb();
    },
    flush(cb) {
      cb(left > 0 ? new S3Error('InternalError', 'The storage backend sent fewer bytes than the range holds.') : null);
    },
  });
  source.on('error', (err) => out.destroy(err));
  source.pipe(out);
  return out;
}

/** A store answer's body as a stream whose errors are S3Errors; tearing it down releases the answer. */
export function relay(body: S3Reply['body'], backend: string): Readable {
  const out = new PassThrough({ highWaterMark: 64 * 1024 });
  body.on('error', (err) => out.destroy(networkError(err, backend)));
  out.on('close', () => {
    if (!body.readableEnded) body.destroy();
  });
  body.pipe(out);
  return out;
}
