/**
 * Object attributes ↔ OCI object headers and `opc-meta-*` metadata, and the S3 ETag of an
 * OCI object.
 *
 * Content-Type, -Encoding, -Language, -Disposition and Cache-Control are the object's own
 * headers (a value that cannot be an HTTP header value is kept in metadata instead). User
 * metadata is `opc-meta-<name>`; what S3 keeps and OCI has no field for (Expires, the S3
 * storage class, tags, checksums, part sizes, a recorded ETag) is `opc-meta-s3mux-<field>`.
 * A user name that itself starts with `s3mux` is stored as `s3muxu-<name>`, so the two
 * never collide. Values travel as HTTP headers and are encoded as for Azure
 * (attribute-strings.ts).
 *
 * ETags: OCI's own ETag is an opaque version id. The S3 ETag is the hex of the object's
 * Content-MD5 (single requests) or of its multipart MD5 (`<base64 md5 of md5s>-N`, OCI's
 * opc-multipart-md5, which is S3's multipart ETag in base64), unless s3mux recorded one.
 */
import { createHash } from 'node:crypto';
import { decodeValue, encodeValue, extraFields, isHeaderSafe, readExtraField } from '../attribute-strings';
import { unquoteEtag } from '../conditions';
import type { ObjectAttributes, ObjectMeta } from '../types';
import { setUserMetadata } from '../attributes';

export const META = 'opc-meta-';
export const SYS = 's3mux-';
const USER_ESCAPE = 's3muxu-';
const HEADER_FIELD = 'h-';

/** OCI's header for each content attribute. */
const HEADERS = [
  ['content-type', 'contentType'],
  ['content-encoding', 'contentEncoding'],
  ['content-language', 'contentLanguage'],
  ['content-disposition', 'contentDisposition'],
  ['cache-control', 'cacheControl'],
] as const;

/** S3 storage class → OCI storage tier, where OCI has the same kind of tier. */
const TIER_OF_CLASS: Record<string, OciTier> = {
  STANDARD: 'Standard',
  STANDARD_IA: 'InfrequentAccess',
  ONEZONE_IA: 'InfrequentAccess',
  GLACIER: 'Archive',
  DEEP_ARCHIVE: 'Archive',
};
/** OCI tier → the S3 class reported when s3mux did not record one. */
const CLASS_OF_TIER: Record<string, string | undefined> = { Standard: undefined, InfrequentAccess: 'STANDARD_IA', Archive: 'GLACIER' };

export type OciTier = 'Standard' | 'InfrequentAccess' | 'Archive';

export function tierOf(storageClass: string | undefined): OciTier | undefined {
  return storageClass !== undefined ? TIER_OF_CLASS[storageClass] : undefined;
}

/** What the store keeps besides the attributes. */
export interface StoredExtras {
  /** The S3 ETag when it is not the hex of the object's MD5 (set by s3mux on some copies). */
  etag?: string;
}

/** The metadata name (after opc-meta-) of an S3 user metadata name. */
function userName(name: string): string {
  const n = name.toLowerCase();
  // `__proto__` too: a JavaScript layer that copies metadata by assignment would drop it.
  return n.startsWith('s3mux') || n === '__proto__' ? USER_ESCAPE + n : n;
}

/** Attributes → content headers and metadata (names without `opc-meta-`). */
export function toOci(
  attrs: ObjectAttributes,
  extras: StoredExtras = {},
): { headers: Record<string, string>; metadata: Record<string, string> } {
  const headers: Record<string, string> = {};
  const metadata: Record<string, string> = {};
  for (const [h, a] of HEADERS) {
    const v = attrs[a];
    if (v === undefined) continue;
    if (isHeaderSafe(v)) headers[h] = v;
    else metadata[SYS + HEADER_FIELD + h] = encodeValue(v);
  }
  for (const [name, value] of Object.entries(attrs.userMetadata ?? {})) setUserMetadata(metadata, userName(name), encodeValue(value));
  for (const [field, value] of extraFields(attrs, extras.etag)) metadata[SYS + field.replace(/_/g, '-')] = encodeValue(value);
  return { headers, metadata };
}

/** `opc-meta-*` request headers of a metadata map. */
export function metaHeaders(metadata: Record<string, string>): Record<string, string> {
  const out: Record<string, string> = {};
  for (const [k, v] of Object.entries(metadata)) out[META + k] = v;
  return out;
}

/** Response headers (lower-case names) → attributes, plus what s3mux stored besides them. */
export function fromOci(h: Record<string, string | undefined>): { attrs: ObjectAttributes; extras: StoredExtras } {
  const metadata: Record<string, string> = {};
  for (const [k, v] of Object.entries(h)) if (k.startsWith(META) && v !== undefined) metadata[k.slice(META.length)] = v;
  return fromMetadata(metadata, h);
}

/** Metadata (names without `opc-meta-`) and content headers → attributes. */
export function fromMetadata(
  metadata: Record<string, string>,
  headers: Record<string, string | undefined> = {},
): { attrs: ObjectAttributes; extras: StoredExtras } {
  const attrs: ObjectAttributes = { userMetadata: {} };
  const extras: StoredExtras = {};
  for (const [h, a] of HEADERS) {
    const v = headers[h];
    if (v !== undefined && v !== '') attrs[a] = v;
  }
  for (const [rawName, rawValue] of Object.entries(metadata)) {
    const name = rawName.toLowerCase();
    const value = decodeValue(rawValue);
    if (name.startsWith(USER_ESCAPE)) setUserMetadata(attrs.userMetadata, name.slice(USER_ESCAPE.length), value);
    else if (name.startsWith(SYS)) {
      const field = name.slice(SYS.length);
      if (field.startsWith(HEADER_FIELD)) {
        const a = HEADERS.find(([h]) => h === field.slice(HEADER_FIELD.length))?.[1];
        if (a) attrs[a] = value;
      } else readExtraField(field.replace(/^ck-/, 'ck_'), value, attrs, extras);
    } else setUserMetadata(attrs.userMetadata, name, value);
  }
  // The S3 name s3mux recorded holds while it maps to the object's tier; a tier changed since
  // (a transition, another client) is reported as its S3 class.
  const tier = headers['storage-tier'];
  if (tier !== undefined && (tierOf(attrs.storageClass) ?? 'Standard') !== tier) {
    const c = CLASS_OF_TIER[tier];
    if (c !== undefined) attrs.storageClass = c;
    else delete attrs.storageClass;
  }
  return { attrs, extras };
}

/** Hex of a base64 MD5, or undefined when it is not one. */
function md5Hex(b64: string | undefined): string | undefined {
  if (!b64) return undefined;
  const b = Buffer.from(b64, 'base64');
  return b.length === 16 ? b.toString('hex') : undefined;
}

/**
 * The S3 ETag of an object from its hashes: `md5` is a Content-MD5 (base64) or a multipart
 * MD5 (`<base64>-N`), as HEAD (content-md5 / opc-multipart-md5) and listings (md5) give them.
 */
export function s3EtagOf(md5: string | undefined, ociEtag: string | undefined, extras: StoredExtras = {}): string {
  if (extras.etag) return unquoteEtag(extras.etag);
  const m = /^(.+)-(\d+)$/.exec(md5 ?? '');
  if (m) {
    const hex = md5Hex(m[1]);
    if (hex) return `${hex}-${m[2]}`;
  }
  const hex = md5Hex(md5);
  if (hex) return hex;
  return `${createHash('md5')
    .update(unquoteEtag(ociEtag ?? ''))
    .digest('hex')}-1`;
}

export function dateOf(v: string | undefined): Date {
  const d = new Date(v ?? 0);
  return Number.isNaN(d.getTime()) ? new Date(0) : d;
}

/** HEAD/GET response headers → the object's metadata. */
export function metaOf(key: string, h: Record<string, string | undefined>): ObjectMeta {
  const { attrs, extras } = fromOci(h);
  return {
    ...attrs,
    key,
    size: Number(h['content-length'] ?? 0),
    etag: s3EtagOf(h['opc-multipart-md5'] ?? h['content-md5'], h.etag, extras),
    lastModified: dateOf(h['last-modified']),
    ...restoreOf(h),
  };
}

/** An Archive object's restore, from OCI's archival-state (Restoring, Restored until time-of-archival). */
function restoreOf(h: Record<string, string | undefined>): Pick<ObjectMeta, 'restore'> {
  const state = h['archival-state'];
  if (state === 'Restoring') return { restore: { ongoing: true } };
  if (state !== 'Restored') return {};
  const until = h['time-of-archival'];
  return { restore: { ongoing: false, ...(until ? { expiry: dateOf(until) } : {}) } };
}
