/**
 * Getting a request body into Azure block blobs with bounded memory while computing its MD5.
 *
 * Block ids: Azure wants base64 ids of one length per blob. Every id s3mux writes is 24 bytes
 * (32 base64 characters): kind (1: 'P' put, 'M' multipart part), owner (16: random per put,
 * the upload id's bytes for a part), part number (2), attempt nonce (3: a re-sent part gets
 * new blocks, so an attempt that fails half-way never mixes with the one that succeeds),
 * block index (2).
 */
import { createHash, randomBytes, type Hash } from 'node:crypto';
import { finished, Readable, Transform, type TransformCallback } from 'node:stream';
import { finished as finishedP } from 'node:stream/promises';
import { bodyFailure, S3Error } from '../../errors';

/** Azure's largest block (4000 MiB). */
export const MAX_BLOCK_SIZE = 4000 * 1024 * 1024;
/** Azure's largest number of blocks in a blob. */
export const MAX_BLOCKS = 50_000;

export type BlockKind = 'P' | 'M';

export function blockId(kind: BlockKind, owner: Buffer, partNumber: number, nonce: Buffer, index: number): string {
  const b = Buffer.alloc(24);
  b.write(kind, 0, 'latin1');
  owner.copy(b, 1, 0, 16);
  b.writeUInt16BE(partNumber, 17);
  nonce.copy(b, 19, 0, 3);
  b.writeUInt16BE(index, 22);
  return b.toString('base64');
}

export function newOwner(): Buffer {
  return randomBytes(16);
}

export function newNonce(): Buffer {
  return randomBytes(3);
}

/**
 * Passes the body through, hashing it and counting, and fails (so the request carrying it
 * aborts) when the body is shorter or longer than `size`.
 */
export class MeasuredBody extends Transform {
  readonly md5: Hash = createHash('md5');
  bytes = 0;
  /** Why the body failed (its source's error, or a length mismatch), if it did. */
  failure?: unknown;
  /** Aborted when the body fails, so the request carrying it ends instead of waiting for bytes that never come. */
  readonly abort = new AbortController();

  constructor(private readonly size: number | undefined) {
    super();
  }

  override _transform(chunk: Buffer, _enc: BufferEncoding, cb: TransformCallback): void {
    this.bytes += chunk.length;
    if (this.size !== undefined && this.bytes > this.size) {
      cb(this.fail(new S3Error('IncompleteBody', 'The request body is longer than its announced length.')));
      return;
    }
    this.md5.update(chunk);
    cb(null, chunk);
  }

  override _flush(cb: TransformCallback): void {
    if (this.size !== undefined && this.bytes !== this.size) {
      cb(this.fail(new S3Error('IncompleteBody', `The request body has ${this.bytes} bytes; ${this.size} were announced.`)));
      return;
    }
    cb();
  }

  private fail(err: unknown): Error {
    this.failure ??= err;
    const e = bodyFailure(this.failure);
    setImmediate(() => this.abort.abort(e));
    return e;
  }

  /** Pipes `source` in, remembering its error. */
  static of(source: Readable, size: number | undefined): MeasuredBody {
    const m = new MeasuredBody(size);
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

/**
 * Reads a body in chunks of `chunkSize` bytes (the last may be shorter), hashing and
 * counting; throws the body's error as an S3Error, or IncompleteBody when the length differs
 * from `size`. Memory: one chunk at a time (plus the stream's buffers).
 */
export async function* chunksOf(body: Readable, chunkSize: number, size: number | undefined, md5: Hash): AsyncGenerator<Buffer> {
  let parts: Buffer[] = [];
  let have = 0;
  let total = 0;
  try {
    // Not destroyed when the consumer stops early: it drains the rest, so an error can still be answered.
    for await (const c of body.iterator({ destroyOnReturn: false })) {
      let chunk = Buffer.isBuffer(c) ? c : Buffer.from(c as Uint8Array);
      total += chunk.length;
      if (size !== undefined && total > size) throw new S3Error('IncompleteBody', 'The request body is longer than its announced length.');
      md5.update(chunk);
      while (chunk.length > 0) {
        const take = Math.min(chunk.length, chunkSize - have);
        parts.push(take === chunk.length ? chunk : chunk.subarray(0, take));
        have += take;
        chunk = chunk.subarray(take);
        if (have === chunkSize) {
          const full = Buffer.concat(parts, have);
          parts = [];
          have = 0;
          yield full;
        }
      }
    }
  } catch (err) {
    throw bodyFailure(err);
  }
  if (size !== undefined && total !== size) {
    throw new S3Error('IncompleteBody', `The request body has ${total} bytes; ${size} were announced.`);
  }
  if (have > 0) yield Buffer.concat(parts, have);
}

/** A stream body the SDK may ask for only once (a retry of a streamed request must fail, not resend nothing). */
export function once(stream: Readable): () => NodeJS.ReadableStream {
  let used = false;
  return () => {
    if (used) throw new S3Error('InternalError', 'A streamed request to Azure failed and cannot be retried.');
    used = true;
    return stream;
  };
}
