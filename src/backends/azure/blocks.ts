/**
 * Getting a request body into Azure block blobs with bounded memory while computing its MD5.
 *
 * Block ids: Azure wants base64 ids of one length per blob. Every id s3mux writes is 24 bytes
 * (32 base64 characters): kind (1: 'P' put, 'M' multipart part), owner (16: random per put,
 * the upload id's bytes for a part), part number (2), attempt nonce (3: a re-sent part gets
 * new blocks, so an attempt that fails half-way never mixes with the one that succeeds),
 * block index (2).
 */
import { randomBytes, type Hash } from 'node:crypto';
import type { Readable } from 'node:stream';
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

export { MeasuredBody } from '../measured-body';

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
