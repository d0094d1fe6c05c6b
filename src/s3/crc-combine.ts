/**
 * The CRC of concatenated data from the CRCs of its pieces and their lengths, without the
 * bytes: what a FULL_OBJECT checksum of a multipart upload is made of (each part's CRC is known
 * from its upload; the object is never read again). zlib's crc32_combine, for any reflected
 * CRC whose initial value and final XOR are all ones (CRC32, CRC32C, CRC64NVME): then
 * crc(A ‖ B) = crc(A) · x^(8·len(B)) mod P  ⊕  crc(B).
 */
import type { ChecksumAlgorithm } from './checksums';

export type CrcAlgorithm = Extract<ChecksumAlgorithm, 'crc32' | 'crc32c' | 'crc64nvme'>;

export function isCrc(alg: ChecksumAlgorithm): alg is CrcAlgorithm {
  return alg === 'crc32' || alg === 'crc32c' || alg === 'crc64nvme';
}

interface Field {
  width: bigint;
  /** The polynomial, bit-reflected (x^0 in the top bit). */
  poly: bigint;
  /** x^(2^k) mod P, for k = 0..63: enough for any length in bits below 2^64. */
  powers: bigint[];
}

function reflect(value: bigint, width: bigint): bigint {
  let out = 0n;
  for (let i = 0n; i < width; i++) if ((value >> i) & 1n) out |= 1n << (width - 1n - i);
  return out;
}

/** a(x) · b(x) mod P, both reflected (zlib's multmodp). */
function multiply(f: Field, a: bigint, b: bigint): bigint {
  let m = 1n << (f.width - 1n);
  let p = 0n;
  while (m !== 0n) {
    if (a & m) p ^= b;
    m >>= 1n;
    b = b & 1n ? (b >> 1n) ^ f.poly : b >> 1n;
  }
  return p;
}

function field(width: bigint, normalPoly: bigint): Field {
  const f: Field = { width, poly: reflect(normalPoly, width), powers: [] };
  let p = 1n << (width - 2n); // x^1
  for (let k = 0; k < 64; k++) {
    f.powers.push(p);
    p = multiply(f, p, p);
  }
  return f;
}

const FIELDS: Record<CrcAlgorithm, () => Field> = {
  crc32: () => field(32n, 0x04c11db7n),
  crc32c: () => field(32n, 0x1edc6f41n),
  crc64nvme: () => field(64n, 0xad93d23594c93659n),
};
const built = new Map<CrcAlgorithm, Field>();

/** x^(8·bytes) mod P. */
function shiftBy(f: Field, bytes: number): bigint {
  let p = 1n << (f.width - 1n); // x^0
  let n = BigInt(bytes) * 8n;
  for (let k = 0; n > 0n; k++, n >>= 1n) if (n & 1n) p = multiply(f, f.powers[k], p);
  return p;
}

/** The CRC (big-endian bytes, as S3 sends them) of A ‖ B, from crc(A), crc(B) and B's length. */
export function combineCrc(alg: CrcAlgorithm, crcA: Buffer, crcB: Buffer, lengthB: number): Buffer {
  let f = built.get(alg);
  if (!f) built.set(alg, (f = FIELDS[alg]()));
  const a = BigInt('0x' + crcA.toString('hex'));
  const b = BigInt('0x' + crcB.toString('hex'));
  const c = multiply(f, shiftBy(f, lengthB), a) ^ b;
  return Buffer.from(c.toString(16).padStart(Number(f.width / 4n), '0'), 'hex');
}
