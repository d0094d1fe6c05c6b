/**
 * The digests S3 speaks: Content-MD5, x-amz-content-sha256 and the x-amz-checksum-*
 * family (CRC32, CRC32C, CRC64NVME, SHA1, SHA256), behind one incremental interface, plus a
 * pass-through stream that checks a body against what the client announced.
 *
 * S3 exchanges the x-amz-checksum-* values as base64 of the big-endian digest.
 */
import { createHash } from 'node:crypto';
import { endianness } from 'node:os';
import { pipeline, Transform, TransformCallback, type Readable } from 'node:stream';
import * as zlib from 'node:zlib';
import { S3Error } from '../errors';
import { CHECKSUM_ALGORITHMS, checksumTypeOf, type ChecksumAlgorithm, type ChecksumType } from '../backends/listed-checksum';

export type DigestAlgorithm = ChecksumAlgorithm | 'md5';

// The algorithms and the type rule are the backends' too (a listing entry names its object's checksum).
export { CHECKSUM_ALGORITHMS, checksumTypeOf, type ChecksumAlgorithm, type ChecksumType };

/** The algorithm and value of a COMPOSITE checksum among an object's (a multipart object's, made of its parts'), if any. */
export function compositeChecksum(checksums: Record<string, string> | undefined): [string, string] | undefined {
  return Object.entries(checksums ?? {}).find(([, v]) => checksumTypeOf(v) === 'COMPOSITE');
}

/**
 * The checksums of each part of a multipart object whose checksum is COMPOSITE (made of its
 * parts'), when one is kept for every part (a store's metadata may not have held them all).
 */
export function partChecksumsOf(meta: {
  checksums?: Record<string, string>;
  partSizes?: readonly number[];
  partChecksums?: readonly string[];
}): readonly string[] | undefined {
  const { partSizes, partChecksums } = meta;
  if (!partSizes || partChecksums?.length !== partSizes.length) return undefined;
  return compositeChecksum(meta.checksums) ? partChecksums : undefined;
}

/** The XML element S3 writes each checksum in (CopyObjectResult, CopyPartResult, ListParts, Complete, Checksum), in S3's order. */
export const CHECKSUM_ELEMENT: Readonly<Record<ChecksumAlgorithm, string>> = {
  crc32: 'ChecksumCRC32',
  crc32c: 'ChecksumCRC32C',
  crc64nvme: 'ChecksumCRC64NVME',
  sha1: 'ChecksumSHA1',
  sha256: 'ChecksumSHA256',
};

/** Checksums (by algorithm) as those XML elements; anything else is left out. */
export function checksumElements(checksums: Record<string, string> | undefined): Record<string, string> {
  const out: Record<string, string> = {};
  for (const alg of CHECKSUM_ALGORITHMS) if (checksums?.[alg] !== undefined) out[CHECKSUM_ELEMENT[alg]] = checksums[alg];
  return out;
}

/** The ChecksumType element S3 writes beside an object's checksum elements (none without a checksum). */
export function checksumTypeElement(checksums: Record<string, string> | undefined): { ChecksumType?: ChecksumType } {
  const first = Object.values(checksumElements(checksums))[0];
  return first === undefined ? {} : { ChecksumType: checksumTypeOf(first) };
}

/** Digest sizes in bytes: how a base64 value is validated before any byte arrives. */
export const DIGEST_LENGTH: Record<DigestAlgorithm, number> = { crc32: 4, crc32c: 4, crc64nvme: 8, sha1: 20, sha256: 32, md5: 16 };

export interface Hasher {
  update(data: Uint8Array): void;
  digest(): Buffer;
}

// ---------------------------------------------------------------------------------------
// CRCs. Reflected CRCs, table-driven "slice-by-8": eight bytes per step instead of one,
// read as two 32-bit words where the platform is little-endian (all but s390x). In JS that
// is several times faster than the bytewise loop (numbers in the checksums test).

const LITTLE_ENDIAN = endianness() === 'LE';

/**
 * Split data into an unaligned head, 8-byte groups readable as aligned little-endian
 * 32-bit words, and a tail; the head and tail go bytewise.
 */
function words(data: Uint8Array): { head: number; u32: Uint32Array; tailStart: number } {
  const head = Math.min(data.length, (4 - (data.byteOffset & 3)) & 3);
  const groups = LITTLE_ENDIAN ? (data.length - head) >>> 3 : 0;
  // (An empty view is made apart: a Uint32Array may not start at an unaligned offset.)
  const u32 = groups > 0 ? new Uint32Array(data.buffer, data.byteOffset + head, groups * 2) : new Uint32Array(0);
  return { head, u32, tailStart: head + groups * 8 };
}

/** Flat table: entry [k * 256 + b] is the contribution of byte b followed by k zero bytes. */
function crc32Table(reflectedPoly: number): Uint32Array {
  const t = new Uint32Array(8 * 256);
  for (let n = 0; n < 256; n++) {
    let c = n;
    for (let k = 0; k < 8; k++) c = c & 1 ? (c >>> 1) ^ reflectedPoly : c >>> 1;
    t[n] = c >>> 0;
  }
  for (let k = 1; k < 8; k++) for (let n = 0; n < 256; n++) t[k * 256 + n] = (t[(k - 1) * 256 + n] >>> 8) ^ t[t[(k - 1) * 256 + n] & 0xff];
  return t;
}

class Crc32Table implements Hasher {
  private state = 0xffffffff;
  constructor(private readonly t: Uint32Array) {}

  update(data: Uint8Array): void {
    const t = this.t;
    let c = this.state;
    const { head, u32, tailStart } = words(data);
    for (let i = 0; i < head; i++) c = t[(c ^ data[i]) & 0xff] ^ (c >>> 8);
    for (let w = 0; w < u32.length; w += 2) {
      const a = c ^ u32[w];
      const b = u32[w + 1];
      c =
        t[1792 + (a & 0xff)] ^
        t[1536 + ((a >>> 8) & 0xff)] ^
        t[1280 + ((a >>> 16) & 0xff)] ^
        t[1024 + (a >>> 24)] ^
        t[768 + (b & 0xff)] ^
        t[512 + ((b >>> 8) & 0xff)] ^
        t[256 + ((b >>> 16) & 0xff)] ^
        t[b >>> 24];
    }
    for (let i = tailStart; i < data.length; i++) c = t[(c ^ data[i]) & 0xff] ^ (c >>> 8);
    this.state = c;
  }

  digest(): Buffer {
    const out = Buffer.alloc(4);
    out.writeUInt32BE((this.state ^ 0xffffffff) >>> 0);
    return out;
  }
}

let crc32cTable: Uint32Array | undefined; // Castagnoli, 0x1EDC6F41 reflected
let crc32IeeeTable: Uint32Array | undefined; // only when zlib.crc32 is missing (Node < 20.15)

/** zlib.crc32 (native, Node >= 20.15) chains by passing the previous value back in. */
class Crc32Zlib implements Hasher {
  private value = 0;
  update(data: Uint8Array): void {
    this.value = zlib.crc32(data, this.value);
  }
  digest(): Buffer {
    const out = Buffer.alloc(4);
    out.writeUInt32BE(this.value >>> 0);
    return out;
  }
}

/**
 * CRC-64/NVME: width 64, poly 0xad93d23594c93659, init and xorout all ones, reflected
 * (check "123456789" = 0xae8b14860a799888). BigInt would be ~50x slower, so the 64-bit
 * state and tables are kept as 32-bit halves; BigInt only builds the tables once.
 */
let crc64Table: { hi: Uint32Array; lo: Uint32Array } | undefined;

function buildCrc64Table(): { hi: Uint32Array; lo: Uint32Array } {
  // Bit-reverse the normal polynomial to get the reflected one.
  let poly = 0n;
  for (let i = 0n, p = 0xad93d23594c93659n; i < 64n; i++) if ((p >> i) & 1n) poly |= 1n << (63n - i);
  const t = new Array<bigint>(8 * 256);
  for (let n = 0; n < 256; n++) {
    let c = BigInt(n);
    for (let k = 0; k < 8; k++) c = c & 1n ? (c >> 1n) ^ poly : c >> 1n;
    t[n] = c;
  }
  for (let k = 1; k < 8; k++)
    for (let n = 0; n < 256; n++) t[k * 256 + n] = (t[(k - 1) * 256 + n] >> 8n) ^ t[Number(t[(k - 1) * 256 + n] & 0xffn)];
  return { hi: Uint32Array.from(t, (v) => Number(v >> 32n)), lo: Uint32Array.from(t, (v) => Number(v & 0xffffffffn)) };
}

class Crc64Nvme implements Hasher {
  private hi = 0xffffffff;
  private lo = 0xffffffff;
  private readonly t = (crc64Table ??= buildCrc64Table());

  update(data: Uint8Array): void {
    const { hi: H, lo: L } = this.t;
    let hi = this.hi;
    let lo = this.lo;
    const step = (byte: number) => {
      const idx = (lo ^ byte) & 0xff;
      lo = ((lo >>> 8) | (hi << 24)) ^ L[idx];
      hi = (hi >>> 8) ^ H[idx];
    };
    const { head, u32, tailStart } = words(data);
    for (let i = 0; i < head; i++) step(data[i]);
    for (let w = 0; w < u32.length; w += 2) {
      // XOR eight bytes into the whole 64-bit state; each state byte then indexes the table
      // for "that byte followed by (7 - position) zero bytes".
      const a = lo ^ u32[w];
      const b = hi ^ u32[w + 1];
      const i7 = 1792 + (a & 0xff),
        i6 = 1536 + ((a >>> 8) & 0xff),
        i5 = 1280 + ((a >>> 16) & 0xff),
        i4 = 1024 + (a >>> 24);
      const i3 = 768 + (b & 0xff),
        i2 = 512 + ((b >>> 8) & 0xff),
        i1 = 256 + ((b >>> 16) & 0xff),
        i0 = b >>> 24;
      lo = L[i7] ^ L[i6] ^ L[i5] ^ L[i4] ^ L[i3] ^ L[i2] ^ L[i1] ^ L[i0];
      hi = H[i7] ^ H[i6] ^ H[i5] ^ H[i4] ^ H[i3] ^ H[i2] ^ H[i1] ^ H[i0];
    }
    for (let i = tailStart; i < data.length; i++) step(data[i]);
    this.hi = hi;
    this.lo = lo;
  }

  digest(): Buffer {
    const out = Buffer.alloc(8);
    out.writeUInt32BE((this.hi ^ 0xffffffff) >>> 0, 0);
    out.writeUInt32BE((this.lo ^ 0xffffffff) >>> 0, 4);
    return out;
  }
}

class NodeHash implements Hasher {
  private readonly h;
  constructor(alg: 'md5' | 'sha1' | 'sha256') {
    this.h = createHash(alg);
  }
  update(data: Uint8Array): void {
    this.h.update(data);
  }
  digest(): Buffer {
    return this.h.digest();
  }
}

export function createHasher(alg: DigestAlgorithm): Hasher {
  switch (alg) {
    case 'crc32':
      return typeof zlib.crc32 === 'function' ? new Crc32Zlib() : new Crc32Table((crc32IeeeTable ??= crc32Table(0xedb88320)));
    case 'crc32c':
      return new Crc32Table((crc32cTable ??= crc32Table(0x82f63b78)));
    case 'crc64nvme':
      return new Crc64Nvme();
    case 'md5':
    case 'sha1':
    case 'sha256':
      return new NodeHash(alg);
  }
}

/** One-shot digest, base64 as S3 sends it. */
export function checksumBase64(alg: DigestAlgorithm, data: Uint8Array | string): string {
  const h = createHasher(alg);
  h.update(typeof data === 'string' ? Buffer.from(data) : data);
  return h.digest().toString('base64');
}

/**
 * 'CRC32', 'crc32c', 'x-amz-checksum-sha256' → the algorithm. Accepts the
 * x-amz-checksum-algorithm / x-amz-sdk-checksum-algorithm values and the header names.
 */
export function parseChecksumAlgorithm(name: string): ChecksumAlgorithm {
  const n = name
    .trim()
    .toLowerCase()
    .replace(/^x-amz-checksum-/, '');
  if ((CHECKSUM_ALGORITHMS as readonly string[]).includes(n)) return n as ChecksumAlgorithm;
  throw new S3Error(
    'InvalidRequest',
    'Checksum algorithm provided is unsupported. Please try again with any of the valid types: [CRC32, CRC32C, CRC64NVME, SHA1, SHA256]',
  );
}

export function checksumHeaderName(alg: ChecksumAlgorithm): string {
  return `x-amz-checksum-${alg}`;
}

/** S3's answers to checksum headers it cannot take: a request's body and a Complete's stated checksum alike. */
export const CHECKSUM_HEADER_ERRORS = {
  multiple: () => new S3Error('InvalidRequest', 'Expecting a single x-amz-checksum- header. Multiple checksum Types are not allowed.'),
  /** S3 says "trailing header" when the bad value came as an aws-chunked trailer. */
  invalid: (alg: ChecksumAlgorithm, trailing = false) =>
    new S3Error('InvalidRequest', `Value for ${checksumHeaderName(alg)}${trailing ? ' trailing' : ''} header is invalid.`),
  /** One checksum in a header and another (or the same) announced as a trailer. */
  headerAndTrailer: () => new S3Error('InvalidRequest', 'Expecting a single x-amz-checksum- header'),
  /** An x-amz-checksum-<name> header whose name is no algorithm. */
  unknownAlgorithm: () => new S3Error('InvalidRequest', 'The algorithm type you specified in x-amz-checksum- header is invalid.'),
  /** x-amz-sdk-checksum-algorithm names another algorithm than the checksum sent. */
  sdkAlgorithmMismatch: () => new S3Error('InvalidRequest', 'Value for x-amz-sdk-checksum-algorithm header is invalid.'),
  sdkAlgorithmWithoutValue: () =>
    new S3Error(
      'InvalidRequest',
      'x-amz-sdk-checksum-algorithm specified, but no corresponding x-amz-checksum-* or x-amz-trailer headers were found.',
    ),
};

/** Is this the base64 of exactly `length` bytes, in canonical form? */
export function isDigestBase64(value: string, length: number): boolean {
  const b = Buffer.from(value, 'base64');
  return b.length === length && b.toString('base64') === value;
}

// ---------------------------------------------------------------------------------------

export interface VerifyOptions {
  /** Content-MD5 header (base64 of 16 bytes). */
  md5?: string;
  /**
   * BadDigest's ExpectedDigest in hex: S3 names PutObject's Content-MD5 so, while it names the one
   * of a CompleteMultipartUpload or DeleteObjects body in base64, as sent (swift's
   * test_input_errors.py, recorded against AWS). CalculatedDigest is base64 either way.
   */
  expectedDigestHex?: boolean;
  /**
   * The x-amz-content-sha256 the body is held to: a hex digest, or any other claim (SigV2 signs
   * none, yet S3 checks the header), which no body matches. UNSIGNED-PAYLOAD and the STREAMING-*
   * markers say nothing about the bytes and are not checked.
   */
  sha256Hex?: string;
  /** x-amz-checksum-* headers, base64. S3 allows only one. */
  checksums?: Partial<Record<ChecksumAlgorithm, string>>;
  /** Also compute these (for example md5 for the ETag, or a trailer checksum announced in x-amz-trailer). */
  computeAlso?: DigestAlgorithm[];
}

/** S3's own name of each algorithm (ChecksumAlgorithm elements, error messages). */
export const ALGORITHM_NAME: Readonly<Record<ChecksumAlgorithm, string>> = {
  crc32: 'CRC32',
  crc32c: 'CRC32C',
  crc64nvme: 'CRC64NVME',
  sha1: 'SHA1',
  sha256: 'SHA256',
};

/**
 * Passes a body through unchanged while hashing it; at the end compares with what the
 * client announced and fails the stream with S3's error if anything differs. Because the
 * error comes from _flush, a consumer (the backend write) sees the stream fail before end
 * and must discard what it wrote.
 */
/**
 * `body`'s bytes unchanged, with `algorithm`'s checksum (base64) handed to `done` as they end,
 * before whoever reads them sees the end: a copy whose checksum s3mux computes.
 */
export function checksummed(body: Readable, algorithm: ChecksumAlgorithm, done: (value: string) => void): Readable {
  const hashing = new VerifyingStream({ computeAlso: [algorithm] });
  hashing.once('end', () => done(hashing.digests()[algorithm]!));
  return pipeline(body, hashing, () => {});
}

export class VerifyingStream extends Transform {
  private readonly hashers = new Map<DigestAlgorithm, Hasher>();
  private readonly md5?: string;
  private readonly expectedDigestHex: boolean;
  private readonly sha256Hex?: string;
  private checksum?: { alg: ChecksumAlgorithm; value: string };
  private result?: Partial<Record<DigestAlgorithm, string>>;
  private started = false;
  /** Bytes passed through so far. */
  bytes = 0;

  constructor(opts: VerifyOptions = {}) {
    super();
    this.expectedDigestHex = opts.expectedDigestHex === true;
    if (opts.md5 !== undefined) {
      // S3 names the value it could not read as an MD5.
      if (!isDigestBase64(opts.md5.trim(), 16))
        throw new S3Error('InvalidDigest', 'The Content-MD5 you specified was invalid.', { 'Content-MD5': opts.md5.slice(0, 64) });
      this.md5 = opts.md5.trim();
      this.use('md5');
    }
    if (opts.sha256Hex !== undefined && opts.sha256Hex !== 'UNSIGNED-PAYLOAD' && !opts.sha256Hex.startsWith('STREAMING-')) {
      this.sha256Hex = opts.sha256Hex;
      this.use('sha256');
    }
    for (const [alg, value] of Object.entries(opts.checksums ?? {})) {
      if (value !== undefined) this.setExpected(alg, value);
    }
    for (const alg of opts.computeAlso ?? []) this.use(alg === 'md5' ? 'md5' : parseChecksumAlgorithm(alg));
  }

  private use(alg: DigestAlgorithm): void {
    if (this.hashers.has(alg)) return;
    // A hasher added after bytes went by would digest only part of the body.
    if (this.started)
      throw new S3Error('InvalidRequest', `The ${alg.toUpperCase()} checksum was not announced before the body (x-amz-trailer).`);
    this.hashers.set(alg, createHasher(alg));
  }

  /**
   * Expect an x-amz-checksum-* value: from a header before the body, or from an aws-chunked
   * trailer before this stream ends (the algorithm must then be in computeAlso).
   */
  setExpected(algorithm: string, base64: string, trailing = false): void {
    const alg = parseChecksumAlgorithm(algorithm);
    const value = base64.trim();
    if (this.checksum && this.checksum.alg !== alg) throw CHECKSUM_HEADER_ERRORS.multiple();
    if (!isDigestBase64(value, DIGEST_LENGTH[alg])) throw CHECKSUM_HEADER_ERRORS.invalid(alg, trailing);
    this.use(alg);
    this.checksum = { alg, value };
  }

  override _transform(chunk: Buffer, _enc: BufferEncoding, cb: TransformCallback): void {
    this.started = true;
    this.bytes += chunk.length;
    for (const h of this.hashers.values()) h.update(chunk);
    cb(null, chunk);
  }

  override _flush(cb: TransformCallback): void {
    this.started = true;
    const result: Partial<Record<DigestAlgorithm, string>> = {};
    for (const [alg, h] of this.hashers) result[alg] = h.digest().toString('base64');
    this.result = result;

    if (this.sha256Hex !== undefined) {
      const computed = Buffer.from(result.sha256!, 'base64').toString('hex');
      // Any case matches; S3 names the value as the client sent it.
      if (computed !== this.sha256Hex.toLowerCase()) {
        return cb(
          new S3Error('XAmzContentSHA256Mismatch', undefined, {
            ClientComputedContentSHA256: this.sha256Hex,
            S3ComputedContentSHA256: computed,
          }),
        );
      }
    }
    if (this.md5 !== undefined && result.md5 !== this.md5) {
      return cb(
        new S3Error('BadDigest', 'The Content-MD5 you specified did not match what we received.', {
          ExpectedDigest: this.expectedDigestHex ? Buffer.from(this.md5, 'base64').toString('hex') : this.md5,
          CalculatedDigest: result.md5!,
        }),
      );
    }
    if (this.checksum && result[this.checksum.alg] !== this.checksum.value) {
      return cb(new S3Error('BadDigest', `The ${ALGORITHM_NAME[this.checksum.alg]} you specified did not match the calculated checksum.`));
    }
    cb();
  }

  /** Computed digests (base64) by algorithm; available once the stream has ended. */
  digests(): Partial<Record<DigestAlgorithm, string>> {
    if (!this.result) throw new Error('VerifyingStream.digests() called before the stream ended');
    return { ...this.result };
  }
}
