/**
 * Request bodies generated on the fly: one random block, repeated. Nothing larger than the
 * block is ever held, whatever the object size; the expected digest of an object of any
 * size is computed the same way, so every download can be checked.
 */
import { createHash, randomBytes } from 'node:crypto';
import { Readable } from 'node:stream';

export const BLOCK_SIZE = 1 << 20;

export function makeBlock(size = BLOCK_SIZE): Buffer {
  return randomBytes(size);
}

/**
 * `size` bytes: the block over and over, the last chunk a prefix of it. The same Buffer is
 * pushed every time; that is safe because its content never changes.
 */
export class PatternStream extends Readable {
  private sent = 0;

  constructor(
    private readonly block: Buffer,
    private readonly size: number,
  ) {
    super({ highWaterMark: block.length });
  }

  override _read(): void {
    if (this.sent >= this.size) {
      this.push(null);
      return;
    }
    const n = Math.min(this.block.length, this.size - this.sent);
    this.sent += n;
    this.push(n === this.block.length ? this.block : this.block.subarray(0, n));
  }
}

/** The bytes of an object of `size` bytes, when that fits in one block (no copy). */
export function smallBody(block: Buffer, size: number): Buffer {
  if (size > block.length) throw new Error(`smallBody: ${size} bytes is larger than the block`);
  return block.subarray(0, size);
}

/** sha256 hex of what PatternStream(block, size) yields. */
export function patternSha256(block: Buffer, size: number): string {
  const h = createHash('sha256');
  let left = size;
  while (left >= block.length) {
    h.update(block);
    left -= block.length;
  }
  if (left > 0) h.update(block.subarray(0, left));
  return h.digest('hex');
}
