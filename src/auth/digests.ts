/**
 * SHA-256 and HMAC-SHA256 as SigV4 uses them, on every request: verifying a client's signature
 * (sigv4.ts, post-form.ts) and signing the s3 backend's requests (backends/s3/sign.ts). The fs
 * backend names long key segments and lock files by the same SHA-256 (backends/fs/paths.ts), and
 * takes a small body's MD5 (its ETag) the same one-shot way. One-shot digests: no Hash or Hmac
 * object built and keyed per call (their objects and contexts are most of a small digest's
 * cost; bench/RESULTS.md, issue 15, eighth pass).
 */
import { createHmac, hash } from 'node:crypto';

export function sha256Hex(data: string | Uint8Array): string {
  return hash('sha256', data, 'hex');
}

/** A whole small body's MD5 (its ETag), one-shot as sha256Hex. */
export function md5Hex(data: Uint8Array): string {
  return hash('md5', data, 'hex');
}

const SHA256_BLOCK = 64;
/** A signing key's HMAC pads (RFC 2104: the key zero-padded to a block, XORed with 0x36 / 0x5c), by key. */
const hmacPads = new WeakMap<Buffer, { inner: Buffer; outer: Buffer }>();

function padsOf(key: Buffer): { inner: Buffer; outer: Buffer } {
  let pads = hmacPads.get(key);
  if (!pads) {
    const inner = Buffer.alloc(SHA256_BLOCK, 0x36);
    const outer = Buffer.alloc(SHA256_BLOCK, 0x5c);
    for (let i = 0; i < key.length; i++) {
      inner[i] ^= key[i];
      outer[i] ^= key[i];
    }
    pads = { inner, outer };
    hmacPads.set(key, pads);
  }
  return pads;
}

/**
 * HMAC-SHA256 as two one-shot digests over the key's cached pads (the signing keys are cached
 * per day, so their pads are too): what createHmac computes (test/unit/sigv4.test.ts compares
 * the two).
 */
export function hmacHex(key: Buffer, data: string): string {
  if (key.length > SHA256_BLOCK) return createHmac('sha256', key).update(data, 'utf8').digest('hex');
  const { inner, outer } = padsOf(key);
  const innerDigest = hash('sha256', Buffer.concat([inner, Buffer.from(data, 'utf8')]), 'buffer');
  return hash('sha256', Buffer.concat([outer, innerDigest]), 'hex');
}
