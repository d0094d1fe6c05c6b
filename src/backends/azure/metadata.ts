/**
 * Object attributes ↔ Azure blob properties and metadata.
 *
 * Content-Type, -Encoding, -Language, -Disposition and Cache-Control are the blob's own HTTP
 * headers. Everything S3 keeps that Azure has no field for lives in metadata under names
 * that start with `s3mux_` (Expires, storage class, tags, checksums, part sizes, the ETag of
 * a multipart object); names starting with `s3mux` are never user metadata.
 *
 * Azure metadata names must be C# identifiers (letters, digits, '_', not starting with a
 * digit) and are case-insensitive; S3 names are lower-cased HTTP tokens such as `multi-word`.
 * A user name that is already a plain identifier (`[a-z_][a-z0-9_]*`, not starting with
 * `s3mux`) is stored as it is. Any other is stored as `s3muxm_` + its escape: [a-z0-9] stay,
 * '_' becomes '__', every other byte of its UTF-8 form becomes '_' + two lower-case hex
 * digits (`multi-word` → `s3muxm_multi_2dword`). Names from other tools are lower-cased.
 *
 * Values travel as HTTP headers: only printable ASCII survives, surrounding spaces are lost
 * and Azure drops empty values. A value that is not non-empty printable ASCII without
 * surrounding spaces, or that starts with '~', is stored as '~' + base64url of its UTF-8
 * bytes (so '' becomes '~').
 */
import { createHash } from 'node:crypto';
import { unquoteEtag } from '../conditions';
import type { ObjectAttributes, ObjectMeta } from '../types';
import { setUserMetadata } from '../attributes';
import { azureTier, classOfBlob } from './storage-classes';
import { decodeValue, encodeValue, extraFields, isHeaderSafe, readExtraField } from '../attribute-strings';

export { decodeValue, encodeValue } from '../attribute-strings';

export const SYS = 's3mux_';
const ENCODED_NAME = 's3muxm_';

/** A content header kept in metadata (after SYS) because its value cannot be an HTTP header value. */
const HEADER_FIELD = 'h_';

const PLAIN_NAME = /^[a-z_][a-z0-9_]*$/;

export function escapeName(name: string): string {
  let out = '';
  for (const b of Buffer.from(name, 'utf8')) {
    if ((b >= 0x61 && b <= 0x7a) || (b >= 0x30 && b <= 0x39)) out += String.fromCharCode(b);
    else if (b === 0x5f) out += '__';
    else out += `_${b.toString(16).padStart(2, '0')}`;
  }
  return out;
}

export function unescapeName(s: string): string | undefined {
  const bytes: number[] = [];
  for (let i = 0; i < s.length; i++) {
    const c = s[i];
    if (c !== '_') {
      bytes.push(s.charCodeAt(i));
      continue;
    }
    if (s[i + 1] === '_') {
      bytes.push(0x5f);
      i++;
      continue;
    }
    const hex = s.slice(i + 1, i + 3);
    if (!/^[0-9a-f]{2}$/.test(hex)) return undefined;
    bytes.push(parseInt(hex, 16));
    i += 2;
  }
  return Buffer.from(bytes).toString('utf8');
}

/** The Azure metadata name of an S3 user metadata name. `__proto__` is escaped too: the Azure SDK copies metadata by assignment, which drops it. */
export function metadataNameOf(name: string): string {
  const n = name.toLowerCase();
  return PLAIN_NAME.test(n) && !n.startsWith('s3mux') && n !== '__proto__' ? n : ENCODED_NAME + escapeName(n);
}

/** The blob HTTP headers (as the SDK names them) and the attribute each holds. */
const HEADERS = [
  ['blobContentType', 'contentType'],
  ['blobContentEncoding', 'contentEncoding'],
  ['blobContentLanguage', 'contentLanguage'],
  ['blobContentDisposition', 'contentDisposition'],
  ['blobCacheControl', 'cacheControl'],
] as const;

export interface BlobHeaders {
  blobContentType?: string;
  blobContentEncoding?: string;
  blobContentLanguage?: string;
  blobContentDisposition?: string;
  blobCacheControl?: string;
  blobContentMD5?: Uint8Array;
}

/** What the store keeps besides the attributes. */
export interface StoredExtras {
  /** The S3 ETag when it is not the hex of the blob's Content-MD5 (multipart objects). */
  etag?: string;
}

/** Attributes → the blob's HTTP headers and metadata. */
export function toAzure(
  attrs: ObjectAttributes,
  extras: StoredExtras = {},
): { headers: BlobHeaders; metadata: Record<string, string>; tier?: string } {
  const headers: BlobHeaders = {};
  const metadata: Record<string, string> = {};
  for (const [h, a] of HEADERS) {
    const v = attrs[a];
    if (v === undefined) continue;
    if (isHeaderSafe(v)) headers[h] = v;
    else metadata[SYS + HEADER_FIELD + a.toLowerCase()] = encodeValue(v);
  }
  for (const [name, value] of Object.entries(attrs.userMetadata ?? {})) setUserMetadata(metadata, metadataNameOf(name), encodeValue(value));
  for (const [field, value] of extraFields(attrs, extras.etag)) metadata[SYS + field] = encodeValue(value);
  const tier = azureTier(attrs.storageClass);
  return { headers, metadata, ...(tier ? { tier } : {}) };
}

/** The properties Azure returns (getProperties, or a listing item's properties + metadata). */
export interface AzureProps {
  contentType?: string;
  contentEncoding?: string;
  contentLanguage?: string;
  contentDisposition?: string;
  cacheControl?: string;
  metadata?: Record<string, string>;
  /** The blob's access tier (Hot, Cool, Cold, Archive). */
  accessTier?: string;
  /** 'rehydrate-pending-to-hot' and the like while the blob leaves the archive tier. */
  archiveStatus?: string;
}

/** Blob properties → attributes, plus what s3mux stored besides them. */
export function fromAzure(p: AzureProps): { attrs: ObjectAttributes; extras: StoredExtras } {
  const attrs: ObjectAttributes = { userMetadata: {} };
  const extras: StoredExtras = {};
  for (const [, a] of HEADERS) {
    const v = p[a];
    if (v !== undefined && v !== '') attrs[a] = v;
  }
  for (const [rawName, rawValue] of Object.entries(p.metadata ?? {})) {
    const name = rawName.toLowerCase();
    const value = decodeValue(rawValue ?? '');
    if (name.startsWith(ENCODED_NAME)) {
      const n = unescapeName(name.slice(ENCODED_NAME.length));
      setUserMetadata(attrs.userMetadata, n ?? name, value);
    } else if (name.startsWith(SYS)) {
      const f = name.slice(SYS.length);
      if (f.startsWith(HEADER_FIELD)) {
        const a = HEADERS.find(([, attr]) => attr.toLowerCase() === f.slice(HEADER_FIELD.length))?.[1];
        if (a) attrs[a] = value;
      } else readExtraField(f, value, attrs, extras);
      // other s3mux_ fields (upload records) are not attributes
    } else {
      setUserMetadata(attrs.userMetadata, name, value);
    }
  }
  const storageClass = classOfBlob(attrs.storageClass, p.accessTier);
  if (storageClass === undefined) delete attrs.storageClass;
  else attrs.storageClass = storageClass;
  return { attrs, extras };
}

/** Properties of one blob version as getProperties or a listing gives them. */
export interface BlobVersion extends AzureProps {
  contentLength?: number;
  contentMD5?: Uint8Array;
  etag?: string;
  lastModified?: Date;
}

/** The S3 ETag of a blob version. */
export function s3Etag(p: BlobVersion, extras: StoredExtras): string {
  if (extras.etag) return unquoteEtag(extras.etag);
  if (p.contentMD5 && p.contentMD5.length === 16) return Buffer.from(p.contentMD5).toString('hex');
  return `${createHash('md5')
    .update(unquoteEtag(p.etag ?? ''))
    .digest('hex')}-1`;
}

export function metaOf(key: string, p: BlobVersion): ObjectMeta {
  const { attrs, extras } = fromAzure(p);
  const rehydrating = p.archiveStatus?.startsWith('rehydrate-pending') === true;
  return {
    ...attrs,
    key,
    size: p.contentLength ?? 0,
    etag: s3Etag(p, extras),
    lastModified: p.lastModified ?? new Date(0),
    ...(rehydrating ? { restore: { ongoing: true } } : {}),
  };
}
