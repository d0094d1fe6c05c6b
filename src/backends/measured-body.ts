/**
 * A request body on its way to a store: measured (MD5, length) as it streams, failing the
 * request when it is not the announced length or its source fails.
 */
import { createHash, type Hash } from 'node:crypto';
import { finished, type Readable, Transform, type TransformCallback } from 'node:stream';
import { finished as finishedP } from 'node:stream/promises';
import { bodyFailure, S3Error } from '../errors';

/**
 * Passes the body through, hashing it and counting, and fails (so the request carrying it
 * aborts) when the body is shorter or longer than `size`.
 *
 * With `holdLast`, the last chunk is held back until the source has ended cleanly: a store
 * that commits once it has the announced bytes (OCI's PutObject) then never gets them from a
 * body the S3 layer fails at its end (checksum, signature, a client that went away).
 */
export class MeasuredBody extends Transform {
  readonly md5: Hash = createHash('md5');
  bytes = 0;
  /** Why the body failed (its source's error, or a length mismatch), if it did. */
  failure?: unknown;
  /** Aborted when the body fails, so the request carrying it ends instead of waiting for bytes that never come. */
  readonly abort = new AbortController();

  private held?: Buffer;

  constructor(
    private readonly size: number | undefined,
    private readonly holdLast = false,
  ) {
    super();
  }

  override _transform(chunk: Buffer, _enc: BufferEncoding, cb: TransformCallback): void {
    this.bytes += chunk.length;
    if (this.size !== undefined && this.bytes > this.size) {
      cb(this.fail(new S3Error('IncompleteBody', 'The request body is longer than its announced length.')));
      return;
    }
    this.md5.update(chunk);
    if (!this.holdLast) {
      cb(null, chunk);
      return;
    }
    const out = this.held;
    this.held = chunk;
    cb(null, out);
  }

  override _flush(cb: TransformCallback): void {
    if (this.size !== undefined && this.bytes !== this.size) {
      cb(this.fail(new S3Error('IncompleteBody', `The request body has ${this.bytes} bytes; ${this.size} were announced.`)));
      return;
    }
    cb(null, this.held);
  }

  private fail(err: unknown): Error {
    this.failure ??= err;
    const e = bodyFailure(this.failure);
    setImmediate(() => this.abort.abort(e));
    return e;
  }

  /** Pipes `source` in, remembering its error. */
  static of(source: Readable, size: number | undefined, opts: { holdLast?: boolean } = {}): MeasuredBody {
    const m = new MeasuredBody(size, opts.holdLast);
    // Its errors are kept in `failure` and reach the caller through the request that reads it.
    m.on('error', () => {});
    // A source that fails, or closes without ending (the client went away), fails the body.
    finished(source, (err) => {
      if (err) m.destroy(m.fail(err));
    });
    source.pipe(m);
    m.source = source;
    return m;
  }

  private source?: Readable;

  /**
   * Resolves when the body has ended and passed its checks, or throws why not. A request can
   * succeed before that: the store answers once it has the announced bytes, while the S3
   * layer fails a body (checksum, signature) only at its end.
   */
  async ended(): Promise<void> {
    try {
      await finishedP(this, { readable: false });
    } catch (err) {
      throw bodyFailure(this.failure ?? err);
    }
    if (this.failure !== undefined) throw bodyFailure(this.failure);
  }

  /** After a failed request: stop passing the body on, and drain what is left of it (so an error can still be answered). */
  discard(): void {
    const source = this.source;
    if (source && !source.readableEnded && !source.destroyed) {
      source.unpipe(this);
      source.resume();
    }
    if (!this.destroyed) this.destroy();
  }
}
