/**
 * End-to-end checks of the bytes a transfer reads: they must be what the source says it
 * holds. A single-part ETag is the MD5 of the content; a multipart one is the MD5 of the
 * parts' MD5s (checkable when the source kept its part sizes); a stored full-object checksum
 * (x-amz-checksum-*) is recomputed. A mismatch fails the stream before it ends, so the
 * destination's write is discarded.
 */
import { createHash, type Hash } from 'node:crypto';
import { Transform, type TransformCallback } from 'node:stream';
import { CHECKSUM_ALGORITHMS, createHasher, DIGEST_LENGTH, isDigestBase64, type ChecksumAlgorithm, type Hasher } from '../s3/checksums';
import { multipartEtag } from '../backends/multipart-etag';
import type { ObjectMeta } from '../backends/types';
import { ChecksumMismatch } from './retry';

/** What the copy could check the bytes against. */
export type Verification = 'md5' | 'multipart-etag' | 'checksum' | 'size';

const PLAIN_ETAG = /^[0-9a-f]{32}$/;
const MULTIPART_ETAG = /^[0-9a-f]{32}-(\d+)$/;

export const isPlainEtag = (etag: string): boolean => PLAIN_ETAG.test(etag);

/** The source's part sizes when they explain its multipart ETag (count and total agree). */
export function sourcePartSizes(meta: Pick<ObjectMeta, 'etag' | 'size' | 'partSizes'>): number[] | undefined {
  const m = MULTIPART_ETAG.exec(meta.etag);
  const sizes = meta.partSizes;
  if (!m || !sizes || sizes.length !== Number(m[1])) return undefined;
  return sizes.reduce((a, b) => a + b, 0) === meta.size ? sizes : undefined;
}

/** The full-object checksums of `meta` this build can recompute (composite multipart values are not). */
export function checkableChecksums(meta: Pick<ObjectMeta, 'checksums'>): Partial<Record<ChecksumAlgorithm, string>> {
  const out: Partial<Record<ChecksumAlgorithm, string>> = {};
  for (const alg of CHECKSUM_ALGORITHMS) {
    const v = meta.checksums?.[alg];
    if (v !== undefined && isDigestBase64(v, DIGEST_LENGTH[alg])) out[alg] = v;
  }
  return out;
}

/**
 * Hashes a whole object as it streams by and, at its end, compares with the source's ETag,
 * part layout and checksums; fails with ChecksumMismatch on any difference.
 */
export class SourceVerifier extends Transform {
  private readonly md5 = createHash('md5');
  private readonly parts?: { sizes: number[]; index: number; left: number; hash: Hash; etags: string[] };
  private readonly checks = new Map<ChecksumAlgorithm, { hasher: Hasher; expected: string }>();
  private bytes = 0;
  /** The mismatch found, kept because a store may wrap the stream's error in its own. */
  mismatch?: ChecksumMismatch;
  /** The content's MD5 hex, once the stream has ended. */
  md5Hex?: string;
  readonly verification: Verification[] = [];

  constructor(
    private readonly meta: Pick<ObjectMeta, 'key' | 'etag' | 'size' | 'partSizes' | 'checksums'>,
    opts: { checksums?: boolean } = {},
  ) {
    super();
    const sizes = sourcePartSizes(meta);
    if (sizes) this.parts = { sizes, index: 0, left: sizes[0] ?? 0, hash: createHash('md5'), etags: [] };
    if (opts.checksums !== false)
      for (const [alg, expected] of Object.entries(checkableChecksums(meta)) as [ChecksumAlgorithm, string][])
        this.checks.set(alg, { hasher: createHasher(alg), expected });
  }

  override _transform(chunk: Buffer, _enc: BufferEncoding, cb: TransformCallback): void {
    this.bytes += chunk.length;
    this.md5.update(chunk);
    for (const c of this.checks.values()) c.hasher.update(chunk);
    if (this.parts) this.feedParts(chunk);
    cb(null, chunk);
  }

  private feedParts(chunk: Buffer): void {
    const p = this.parts!;
    let off = 0;
    while (off < chunk.length) {
      const n = Math.min(p.left, chunk.length - off);
      p.hash.update(chunk.subarray(off, off + n));
      off += n;
      p.left -= n;
      if (p.left === 0 && p.index < p.sizes.length) {
        p.etags.push(p.hash.digest('hex'));
        p.index++;
        p.hash = createHash('md5');
        p.left = p.sizes[p.index] ?? Infinity;
      }
      if (n === 0) break;
    }
  }

  override _flush(cb: TransformCallback): void {
    this.md5Hex = this.md5.digest('hex');
    const fail = (what: string) => cb((this.mismatch = new ChecksumMismatch(`${this.meta.key}: ${what}`)));
    if (this.bytes !== this.meta.size) return fail(`read ${this.bytes} bytes, the source says ${this.meta.size}`);
    this.verification.push('size');
    if (isPlainEtag(this.meta.etag)) {
      if (this.md5Hex !== this.meta.etag) return fail(`content MD5 ${this.md5Hex} differs from the source ETag ${this.meta.etag}`);
      this.verification.push('md5');
    } else if (this.parts) {
      const p = this.parts;
      // A last part of size 0 never triggers the boundary above.
      if (p.etags.length < p.sizes.length) p.etags.push(p.hash.digest('hex'));
      const etag = multipartEtag(p.etags);
      if (etag !== this.meta.etag) return fail(`multipart ETag recomputed as ${etag} differs from the source's ${this.meta.etag}`);
      this.verification.push('multipart-etag');
    }
    for (const [alg, c] of this.checks) {
      const got = c.hasher.digest().toString('base64');
      if (got !== c.expected) return fail(`${alg.toUpperCase()} ${got} differs from the stored ${c.expected}`);
    }
    if (this.checks.size > 0) this.verification.push('checksum');
    cb();
  }
}
