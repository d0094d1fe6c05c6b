/** Byte streams the version layer needs: an MD5 and a count on the way in, a byte range on the way out. */
import { createHash } from 'node:crypto';
import { Transform, type Readable, type TransformCallback } from 'node:stream';
import type { ByteRange } from '../backends/types';
import { S3Error } from '../errors';

/**
 * Passes the bytes through; `digest()` gives their MD5 (hex) and count once the stream has
 * ended. With `expected`, a body of another length fails the stream (IncompleteBody) before its
 * end reaches the store, so the store commits nothing.
 */
export function md5Counting(body: Readable, expected?: number): { stream: Readable; digest(): { md5: string; size: number } } {
  const hash = createHash('md5');
  let size = 0;
  const t = new Transform({
    transform(chunk: Buffer, _enc, cb: TransformCallback) {
      hash.update(chunk);
      size += chunk.length;
      cb(expected !== undefined && size > expected ? new S3Error('IncompleteBody') : null, chunk);
    },
    flush(cb: TransformCallback) {
      cb(expected !== undefined && size !== expected ? new S3Error('IncompleteBody') : null);
    },
  });
  body.once('error', (err) => t.destroy(err));
  body.pipe(t);
  let md5: string | undefined;
  return {
    stream: t,
    digest: () => {
      md5 ??= hash.digest('hex');
      return { md5, size };
    },
  };
}

/** The bytes `range.start..range.end` of a stream that begins at byte 0 (the rest is read and dropped). */
export function byteRange(body: Readable, range: ByteRange): Readable {
  let pos = 0;
  let done = false;
  const t = new Transform({
    transform(chunk: Buffer, _enc, cb: TransformCallback) {
      if (done) return cb();
      const from = Math.max(range.start - pos, 0);
      const to = Math.min(range.end + 1 - pos, chunk.length);
      pos += chunk.length;
      if (to > from) this.push(chunk.subarray(from, to));
      // Past the range: stop reading the source.
      if (pos > range.end) {
        done = true;
        this.push(null);
        body.unpipe(t);
        body.destroy();
      }
      cb();
    },
  });
  body.once('error', (err) => t.destroy(err));
  body.pipe(t);
  return t;
}
