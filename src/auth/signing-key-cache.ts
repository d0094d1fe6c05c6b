/**
 * SigV4 signing keys, derived once per (secret, day, region, service) and kept in an LRU.
 *
 * Why: deriving a key costs four HMACs, the signature itself one. A client signs every
 * request of a day with the same key, so caching makes verification one HMAC for the string
 * to sign (plus one per aws-chunked chunk). The LRU bounds memory however many keys,
 * regions or days clients throw at us.
 */
import { createHmac } from 'node:crypto';
import { LRUCache } from 'lru-cache';

const cache = new LRUCache<string, Buffer>({ max: 1000 });

function hmac(key: string | Buffer, data: string): Buffer {
  return createHmac('sha256', key).update(data, 'utf8').digest();
}

/** kSigning = HMAC(HMAC(HMAC(HMAC("AWS4" + secret, date), region), service), "aws4_request"). */
export function deriveSigningKey(secret: string, date: string, region: string, service: string): Buffer {
  const k = hmac(hmac(hmac(hmac('AWS4' + secret, date), region), service), 'aws4_request');
  return k;
}

/** Cached deriveSigningKey. NUL separates the parts: none of them can contain it unescaped. */
export function getSigningKey(secret: string, date: string, region: string, service: string): Buffer {
  const id = `${secret}\0${date}\0${region}\0${service}`;
  let key = cache.get(id);
  if (!key) {
    key = deriveSigningKey(secret, date, region, service);
    cache.set(id, key);
  }
  return key;
}

/** For tests, and for a server that rotates secrets and wants old keys gone at once. */
export function clearSigningKeyCache(): void {
  cache.clear();
}
