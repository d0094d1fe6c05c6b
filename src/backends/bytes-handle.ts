/**
 * An object version held in memory: the handle a backend returns for a small object it read
 * whole when it was opened (ObjectHandle.bytes), and the range check every handle shares.
 */
import { Readable } from 'node:stream';
import { S3Error } from '../errors';
import type { ByteRange, ObjectHandle, ObjectMeta } from './types';

/** The requested bytes of an object of `size` bytes, or undefined for an empty read; InvalidRange when outside. */
export function checkedRange(size: number, range: ByteRange | undefined): { start: number; end: number } | undefined {
  const start = range?.start ?? 0;
  const end = range?.end ?? size - 1;
  if (start >= 0 && end < size && start <= end) return { start, end };
  if (range === undefined || (size === 0 && start === 0)) return undefined;
  throw new S3Error('InvalidRange');
}

/**
 * A small object version read whole when it was opened (the fs backend's descriptor already
 * closed, the s3 backend's answer body read to its end): answered from memory with one
 * write, no stream and nothing kept open per request.
 */
export class BytesObjectHandle implements ObjectHandle {
  private closed = false;

  constructor(
    readonly meta: ObjectMeta,
    private readonly data: Buffer,
  ) {}

  bytes(range?: ByteRange): Buffer {
    if (this.closed) throw new S3Error('InternalError', 'The object handle is closed.');
    const r = checkedRange(this.data.length, range);
    return r ? this.data.subarray(r.start, r.end + 1) : Buffer.alloc(0);
  }

  read(range?: ByteRange): Readable {
    const chunk = this.bytes(range);
    return Readable.from(chunk.length > 0 ? [chunk] : [], { objectMode: false });
  }

  async close(): Promise<void> {
    this.closed = true;
  }
}
