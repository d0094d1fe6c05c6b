/**
 * An object body on its way to OCI (PutObject, UploadPart). OCI stores an object once it
 * has the announced number of bytes, but the S3 layer fails a body (checksum, signature,
 * a client that went away) only at its end. So the last chunk is held back until the
 * source has ended cleanly: a body that fails never delivers its last byte, the request
 * cannot complete and nothing is stored; the old object (or part) stays.
 */
import { createHash, type Hash } from 'node:crypto';
import { Transform, type Readable, type TransformCallback } from 'node:stream';
import { finished } from 'node:stream';
import { bodyFailure, S3Error } from '../../errors';

export class OutgoingBody extends Transform {
  readonly md5: Hash = createHash('md5');
  bytes = 0;
  /** Why the body failed, if it did. */
  failure?: unknown;
  private held?: Buffer;

  private constructor(private readonly size: number | undefined) {
    super();
  }

  static of(source: Readable, size: number | undefined): OutgoingBody {
    const b = new OutgoingBody(size);
    finished(source, (err) => {
      if (err) b.destroy(b.fail(err));
    });
    source.on('error', () => {});
    source.pipe(b);
    return b;
  }

  override _transform(chunk: Buffer, _enc: BufferEncoding, cb: TransformCallback): void {
    this.bytes += chunk.length;
    if (this.size !== undefined && this.bytes > this.size) {
      cb(this.fail(new S3Error('IncompleteBody', 'The request body is longer than its announced length.')));
      return;
    }
    this.md5.update(chunk);
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
    return bodyFailure(this.failure);
  }
}

/**
 * Reads up to `limit` bytes of `source`. Returns the bytes and whether the source ended
 * within them; when it did not, `rest` continues the stream after them.
 */
export async function readUpTo(source: Readable, limit: number): Promise<{ head: Buffer; ended: boolean }> {
  const chunks: Buffer[] = [];
  let n = 0;
  for (;;) {
    const chunk = source.read() as Buffer | null;
    if (chunk !== null) {
      chunks.push(chunk);
      n += chunk.length;
      if (n > limit) return { head: Buffer.concat(chunks), ended: false };
      continue;
    }
    if (source.readableEnded) return { head: Buffer.concat(chunks), ended: true };
    const outcome = await new Promise<'readable' | 'end'>((resolve, reject) => {
      const onReadable = () => done('readable');
      const onEnd = () => done('end');
      const onError = (err: Error) => {
        cleanup();
        reject(bodyFailure(err));
      };
      const onClose = () => {
        if (!source.readableEnded) onError(new Error('the body closed before it ended'));
      };
      const done = (v: 'readable' | 'end') => {
        cleanup();
        resolve(v);
      };
      const cleanup = () => {
        source.off('readable', onReadable).off('end', onEnd).off('error', onError).off('close', onClose);
      };
      source.on('readable', onReadable).on('end', onEnd).on('error', onError).on('close', onClose);
    });
    if (outcome === 'end') return { head: Buffer.concat(chunks), ended: true };
  }
}
