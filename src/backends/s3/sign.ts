/**
 * SigV4 header signing of the requests the s3 backend sends, for one request shape only: a
 * path already encoded once (http.ts's encodeKey), query pairs already encoded, lower-case
 * header names. That shape lets the canonical request be built directly, without parsing
 * the path and query back and re-encoding them as a general signer (aws4) does on every
 * request; the signing key comes from the shared per-day cache (auth/signing-key-cache.ts),
 * so a request costs one SHA-256 of the canonical request and one HMAC.
 *
 * The canonical form is aws4's for service s3 (which signed these requests before): every
 * header sent is signed except the ones a proxy or client library may change (the list
 * below), values trimmed with inner whitespace runs collapsed, names sorted.
 */
import { hmacHex, sha256Hex } from '../../auth/digests';
import { getSigningKey } from '../../auth/signing-key-cache';
import { foldedHeaderValue } from '../../auth/byte-strings';
import type { S3Credentials } from './credentials';

/** Headers left out of the signature (aws4's list). */
const UNSIGNED = new Set(['authorization', 'connection', 'x-amzn-trace-id', 'user-agent', 'expect', 'presigned-expires', 'range']);

export const EMPTY_SHA256 = 'e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855';

/** AWS's UriEncode of one path segment or query part: unreserved characters kept, every other byte %XX. */
export function encodeSegment(s: string): string {
  return encodeURIComponent(s).replace(/[!'()*]/g, (c) => `%${c.charCodeAt(0).toString(16).toUpperCase()}`);
}

/** An endpoint's base path in canonical form: each segment decoded once and encoded as UriEncode does. */
export function canonicalBasePath(pathname: string): string {
  const trimmed = pathname.replace(/\/+$/, '');
  if (trimmed === '') return '';
  return trimmed
    .split('/')
    .map((seg) => {
      try {
        return encodeSegment(decodeURIComponent(seg));
      } catch {
        return encodeSegment(seg);
      }
    })
    .join('/');
}

export interface SignInput {
  method: string;
  /** The encoded path as sent (its canonical form: segments are UriEncoded exactly once). */
  path: string;
  /** Encoded query pairs, as sent; '' is a bare sub-resource (`?uploads`, canonically `uploads=`). */
  query: Array<[string, string]>;
  /** Lower-case names. x-amz-date (and x-amz-security-token) are added here; x-amz-content-sha256 must be set. */
  headers: Record<string, string>;
  region: string;
  credentials: S3Credentials;
  /** For tests: the signing time. */
  now?: Date;
}

/** `20260102T030405Z`. */
export function amzDate(d: Date): string {
  const iso = d.toISOString(); // 2026-01-02T03:04:05.678Z
  return `${iso.slice(0, 4)}${iso.slice(5, 7)}${iso.slice(8, 13)}${iso.slice(14, 16)}${iso.slice(17, 19)}Z`;
}

/** Adds x-amz-date, x-amz-security-token and authorization to `input.headers` (mutated, and returned). */
export function signRequest(input: SignInput): Record<string, string> {
  const { headers, credentials } = input;
  const datetime = amzDate(input.now ?? new Date());
  const day = datetime.slice(0, 8);
  headers['x-amz-date'] = datetime;
  if (credentials.sessionToken) headers['x-amz-security-token'] = credentials.sessionToken;
  const names = Object.keys(headers)
    .filter((n) => !UNSIGNED.has(n))
    .sort();
  let canonicalHeaders = '';
  // Values are byte strings (headers.ts): undici sends each char as one byte, and the store
  // hashes those bytes. So the canonical request is hashed as latin1, and only ASCII
  // whitespace is trimmed and folded (a UTF-8 'à' ends in the byte A0, U+00A0 here).
  for (const n of names) {
    canonicalHeaders += `${n}:${foldedHeaderValue(String(headers[n]))}\n`;
  }
  const signedHeaders = names.join(';');
  const query = input.query
    .map(([k, v]) => `${k}=${v}`)
    .sort((a, b) => {
      // sorted by name, then value (names are unique in what http.ts sends)
      const ka = a.slice(0, a.indexOf('='));
      const kb = b.slice(0, b.indexOf('='));
      return ka < kb ? -1 : ka > kb ? 1 : a < b ? -1 : a > b ? 1 : 0;
    })
    .join('&');
  const canonical = `${input.method}\n${input.path}\n${query}\n${canonicalHeaders}\n${signedHeaders}\n${headers['x-amz-content-sha256'] ?? EMPTY_SHA256}`;
  const scope = `${day}/${input.region}/s3/aws4_request`;
  const stringToSign = `AWS4-HMAC-SHA256\n${datetime}\n${scope}\n${sha256Hex(Buffer.from(canonical, 'latin1'))}`;
  const key = getSigningKey(credentials.secretAccessKey, day, input.region, 's3');
  const signature = hmacHex(key, stringToSign);
  headers.authorization = `AWS4-HMAC-SHA256 Credential=${credentials.accessKeyId}/${scope}, SignedHeaders=${signedHeaders}, Signature=${signature}`;
  return headers;
}
