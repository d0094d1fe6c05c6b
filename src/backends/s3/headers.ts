/**
 * Object attributes to the store's request headers and back, in one table each way.
 *
 * Header values: s3mux's S3 layer hands over values as Node decoded them (latin1, one char
 * per byte) and undici writes them back as latin1, so the bytes a client sent are the bytes
 * the store gets; the store's answers come back the same way (http.ts keeps undici from
 * decoding them as UTF-8), so both directions agree for any bytes.
 */
import type { ObjectAttributes, ObjectMeta, Tag } from '../types';
import { setUserMetadata } from '../attributes';

/** attribute -> header name (lower-case), for the content headers S3 stores. */
const CONTENT_HEADERS = [
  ['contentType', 'content-type'],
  ['contentEncoding', 'content-encoding'],
  ['contentDisposition', 'content-disposition'],
  ['contentLanguage', 'content-language'],
  ['cacheControl', 'cache-control'],
  ['expires', 'expires'],
] as const;

const META_PREFIX = 'x-amz-meta-';
const CHECKSUM_PREFIX = 'x-amz-checksum-';
/** x-amz-checksum-* headers that are not a checksum value. */
const NOT_CHECKSUMS = new Set(['x-amz-checksum-type', 'x-amz-checksum-mode', 'x-amz-checksum-algorithm']);

/** One char per byte: values above U+00FF (only possible from a direct Backend caller) go as UTF-8 bytes. */
function toLatin1(v: string): string {
  // eslint-disable-next-line no-control-regex
  return /[^\u0000-\u00ff]/.test(v) ? Buffer.from(v, 'utf8').toString('latin1') : v;
}

/** x-amz-tagging / tagging query form: `k1=v1&k2=v2`, RFC 3986 encoded (spaces as %20). */
export function taggingHeader(tags: Tag[]): string {
  return tags.map((t) => `${encodeURIComponent(t.key)}=${encodeURIComponent(t.value)}`).join('&');
}

/** Request headers that store `attrs` with a new object (PUT, POST ?uploads, CopyObject REPLACE). */
export function attributeHeaders(attrs: ObjectAttributes, opts: { tags?: boolean; checksums?: boolean } = {}): Record<string, string> {
  const h: Record<string, string> = {};
  for (const [attr, name] of CONTENT_HEADERS) {
    const v = attrs[attr];
    if (v !== undefined) h[name] = toLatin1(v);
  }
  for (const [k, v] of Object.entries(attrs.userMetadata ?? {})) h[META_PREFIX + k.toLowerCase()] = toLatin1(v);
  if (attrs.storageClass !== undefined && attrs.storageClass !== 'STANDARD') h['x-amz-storage-class'] = attrs.storageClass;
  // The store is asked, so it encrypts the object or refuses the write (s3mux cannot tell otherwise).
  if (attrs.serverSideEncryption) h['x-amz-server-side-encryption'] = attrs.serverSideEncryption;
  if (opts.tags !== false && attrs.tags && attrs.tags.length) h['x-amz-tagging'] = taggingHeader(attrs.tags);
  if (opts.checksums !== false && attrs.checksums) {
    // Known before the body is sent (from the caller, or headers the client sent): the store
    // verifies and keeps them. Trailing checksums arrive after the body and cannot be forwarded.
    for (const [alg, v] of Object.entries(attrs.checksums)) h[CHECKSUM_PREFIX + alg.toLowerCase()] = v;
  }
  return h;
}

/** The attributes an answer to HEAD or GET describes (tags are fetched separately). */
export function attributesFrom(headers: Record<string, string>): ObjectAttributes & { tagCount: number; partsCount?: number } {
  const attrs: ObjectAttributes & { tagCount: number; partsCount?: number } = { userMetadata: {}, tagCount: 0 };
  for (const [attr, name] of CONTENT_HEADERS) {
    const v = headers[name];
    if (v !== undefined) attrs[attr] = v;
  }
  for (const [name, v] of Object.entries(headers)) {
    if (name.startsWith(META_PREFIX)) setUserMetadata(attrs.userMetadata, name.slice(META_PREFIX.length), v);
    else if (name.startsWith(CHECKSUM_PREFIX) && !NOT_CHECKSUMS.has(name)) {
      (attrs.checksums ??= {})[name.slice(CHECKSUM_PREFIX.length)] = v;
    }
  }
  const sc = headers['x-amz-storage-class'];
  if (sc !== undefined && sc !== 'STANDARD') attrs.storageClass = sc;
  // What the store says it did: an object it encrypted on request, or by its bucket's default.
  if (headers['x-amz-server-side-encryption'] === 'AES256') attrs.serverSideEncryption = 'AES256';
  const count = Number(headers['x-amz-tagging-count']);
  if (Number.isInteger(count) && count > 0) attrs.tagCount = count;
  const parts = Number(headers['x-amz-mp-parts-count']);
  if (Number.isInteger(parts) && parts > 0) attrs.partsCount = parts;
  return attrs;
}

/** `"abc"` -> `abc`. */
export function unquote(etag: string | undefined): string {
  if (etag === undefined) return '';
  let s = etag.trim();
  if (s.startsWith('W/')) s = s.slice(2);
  if (s.length >= 2 && s.startsWith('"') && s.endsWith('"')) s = s.slice(1, -1);
  // some stores send &quot; inside XML
  return s.includes('&') ? s.replace(/^&quot;|&quot;$/g, '') : s;
}

export function parseDate(v: string | undefined): Date | undefined {
  if (v === undefined || v === '') return undefined;
  const d = new Date(v);
  return Number.isNaN(d.getTime()) ? undefined : d;
}

/** The metadata of an object from the answer to HEAD or GET (200, not 206). */
export function metaFrom(key: string, headers: Record<string, string>, size: number): { meta: ObjectMeta; tagCount: number } {
  const { tagCount, partsCount: _p, ...attrs } = attributesFrom(headers);
  const restore = restoreFrom(headers['x-amz-restore']);
  return {
    meta: {
      key,
      size,
      etag: unquote(headers.etag),
      lastModified: parseDate(headers['last-modified']) ?? new Date(0),
      ...attrs,
      ...(restore ? { restore } : {}),
    },
    tagCount,
  };
}

/** x-amz-restore: `ongoing-request="true"`, or `ongoing-request="false", expiry-date="<HTTP date>"`. */
export function restoreFrom(v: string | undefined): ObjectMeta['restore'] {
  const ongoing = v && /ongoing-request="(true|false)"/.exec(v);
  if (!ongoing) return undefined;
  const expiry = parseDate(/expiry-date="([^"]*)"/.exec(v)?.[1]);
  return { ongoing: ongoing[1] === 'true', ...(expiry ? { expiry } : {}) };
}
