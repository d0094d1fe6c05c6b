/**
 * Object attributes ↔ a GCS object resource.
 *
 * Content-Type, -Encoding, -Language, -Disposition and Cache-Control are the object's own
 * fields. User metadata is the resource's custom `metadata` under the S3 name as it is.
 * The storage class is the object's own `storageClass` (storage-classes.ts); the S3 name the
 * client used is also kept, as the next fields are.
 * What S3 keeps and GCS has no field for (Expires, the S3 storage class's name, tags, checksums,
 * part sizes, the ETag of a multipart object) is custom metadata under names starting with
 * `s3mux:`: ':' cannot occur in an S3 metadata name (an HTTP header token), so the two never
 * collide.
 */
import { extraFields, readExtraField } from '../attribute-strings';
import { createHash } from 'node:crypto';
import { unquoteEtag } from '../conditions';
import type { ObjectAttributes, ObjectMeta } from '../types';
import { setUserMetadata } from '../attributes';
import { classOfGcsObject, gcsClass } from './storage-classes';

export const SYS = 's3mux:';
const FIELDS = ['contentType', 'contentEncoding', 'contentLanguage', 'contentDisposition', 'cacheControl'] as const;

/** The parts of a GCS object resource s3mux reads and writes. */
export interface GcsResource {
  name?: string;
  bucket?: string;
  generation?: string | number;
  metageneration?: string | number;
  size?: string | number;
  md5Hash?: string;
  crc32c?: string;
  etag?: string;
  updated?: string;
  timeCreated?: string;
  componentCount?: number;
  contentType?: string;
  contentEncoding?: string;
  contentLanguage?: string;
  contentDisposition?: string;
  cacheControl?: string;
  storageClass?: string;
  metadata?: Record<string, string | null | undefined> | null;
}

/** What the store keeps besides the attributes. */
export interface StoredExtras {
  /** The S3 ETag when it is not the hex of the object's MD5 (multipart objects). */
  etag?: string;
}

/** Attributes → the writable fields of a resource. */
export function toGcs(attrs: ObjectAttributes, extras: StoredExtras = {}): GcsResource & { metadata: Record<string, string> } {
  const out: GcsResource & { metadata: Record<string, string> } = { metadata: {} };
  for (const f of FIELDS) if (attrs[f] !== undefined) out[f] = attrs[f];
  const native = gcsClass(attrs.storageClass);
  if (native !== undefined) out.storageClass = native;
  const m = out.metadata;
  for (const [name, value] of Object.entries(attrs.userMetadata ?? {}))
    setUserMetadata(m, name === '__proto__' ? SYS + PROTO_FIELD : name, value);
  for (const [field, value] of extraFields(attrs, extras.etag)) m[SYS + field] = value;
  return out;
}

/**
 * Where a user metadata name `__proto__` is kept: the GCS SDK (and the JavaScript stores that
 * stand in for GCS here) copy metadata by assignment, which would drop it behind a 200.
 */
const PROTO_FIELD = 'meta:__proto__';

/**
 * A resource → attributes, plus what s3mux stored besides them. With `nativeClass` false (a
 * store that keeps no class of its own: the emulator) the class is the recorded label alone.
 */
export function fromGcs(r: GcsResource, nativeClass = true): { attrs: ObjectAttributes; extras: StoredExtras } {
  const attrs: ObjectAttributes = { userMetadata: {} };
  const extras: StoredExtras = {};
  for (const f of FIELDS) {
    const v = r[f];
    if (v !== undefined && v !== '') attrs[f] = v;
  }
  for (const [name, value] of Object.entries(r.metadata ?? {})) {
    if (value === null || value === undefined) continue;
    if (!name.startsWith(SYS)) {
      setUserMetadata(attrs.userMetadata, name.toLowerCase(), value);
      continue;
    }
    const field = name.slice(SYS.length);
    if (field === PROTO_FIELD) setUserMetadata(attrs.userMetadata, '__proto__', value);
    else readExtraField(field, value, attrs, extras);
    // other s3mux: fields (upload records) are not attributes
  }
  if (nativeClass) {
    const storageClass = classOfGcsObject(attrs.storageClass, r.storageClass);
    if (storageClass === undefined) delete attrs.storageClass;
    else attrs.storageClass = storageClass;
  }
  return { attrs, extras };
}

/** Null for each content field `r` has: a patch that clears them. */
export function clearedFields(r: GcsResource): Partial<Record<(typeof FIELDS)[number], null>> {
  const out: Partial<Record<(typeof FIELDS)[number], null>> = {};
  for (const f of FIELDS) if (r[f] !== undefined) out[f] = null;
  return out;
}

/** Custom metadata that removes every name of `old` not in `next` (GCS merges on patch; null deletes). */
export function replacingMetadata(old: GcsResource['metadata'], next: Record<string, string>): Record<string, string | null> {
  const out: Record<string, string | null> = { ...next };
  for (const name of Object.keys(old ?? {})) if (!(name in next)) out[name] = null;
  return out;
}

/** The S3 ETag of an object version. */
export function s3Etag(r: GcsResource, extras: StoredExtras): string {
  if (extras.etag) return unquoteEtag(extras.etag);
  if (r.md5Hash) {
    const md5 = Buffer.from(r.md5Hash, 'base64');
    if (md5.length === 16) return md5.toString('hex');
  }
  return `${createHash('md5')
    .update(`${r.etag ?? ''}:${r.generation ?? ''}`)
    .digest('hex')}-1`;
}

export function metaOf(key: string, r: GcsResource, nativeClass = true): ObjectMeta {
  const { attrs, extras } = fromGcs(r, nativeClass);
  return { ...attrs, key, size: Number(r.size ?? 0), etag: s3Etag(r, extras), lastModified: dateOf(r) };
}

export function dateOf(r: GcsResource): Date {
  const d = new Date(r.updated ?? r.timeCreated ?? 0);
  return Number.isNaN(d.getTime()) ? new Date(0) : d;
}
