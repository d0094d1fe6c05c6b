/**
 * Object attribute helpers shared by the fs and memory backends (so their metadata behaves
 * identically): defensive copies, the default content type, and a tiny extension table for
 * files that were placed in a bucket folder by hand.
 */
import type { ObjectAttributes } from '../types';

/** What S3 reports for an object stored without a Content-Type. */
export const DEFAULT_CONTENT_TYPE = 'binary/octet-stream';
/** What the fs backend reports for a foreign file whose extension it does not know. */
export const FOREIGN_CONTENT_TYPE = 'application/octet-stream';

/** A deep copy of the attribute fields only (never key/size/etag/lastModified). */
/** Attributes as stored: a copy, with S3's default content type. */
export function storedAttributes(attrs: ObjectAttributes): ObjectAttributes {
  const a = copyAttributes(attrs);
  if (a.contentType === undefined) a.contentType = DEFAULT_CONTENT_TYPE;
  return a;
}

export function copyAttributes(a: ObjectAttributes): ObjectAttributes {
  const out: ObjectAttributes = { userMetadata: { ...(a.userMetadata ?? {}) } };
  if (a.contentType !== undefined) out.contentType = a.contentType;
  if (a.contentEncoding !== undefined) out.contentEncoding = a.contentEncoding;
  if (a.contentDisposition !== undefined) out.contentDisposition = a.contentDisposition;
  if (a.contentLanguage !== undefined) out.contentLanguage = a.contentLanguage;
  if (a.cacheControl !== undefined) out.cacheControl = a.cacheControl;
  if (a.expires !== undefined) out.expires = a.expires;
  if (a.storageClass !== undefined) out.storageClass = a.storageClass;
  if (a.tags !== undefined) out.tags = a.tags.map((t) => ({ key: t.key, value: t.value }));
  if (a.checksums !== undefined) out.checksums = { ...a.checksums };
  if (a.partSizes !== undefined) out.partSizes = [...a.partSizes];
  return out;
}

const TYPES: Record<string, string> = {
  txt: 'text/plain',
  log: 'text/plain',
  md: 'text/markdown',
  csv: 'text/csv',
  html: 'text/html',
  htm: 'text/html',
  css: 'text/css',
  js: 'text/javascript',
  mjs: 'text/javascript',
  json: 'application/json',
  xml: 'application/xml',
  yaml: 'application/yaml',
  yml: 'application/yaml',
  pdf: 'application/pdf',
  zip: 'application/zip',
  gz: 'application/gzip',
  tgz: 'application/gzip',
  tar: 'application/x-tar',
  wasm: 'application/wasm',
  png: 'image/png',
  jpg: 'image/jpeg',
  jpeg: 'image/jpeg',
  gif: 'image/gif',
  webp: 'image/webp',
  avif: 'image/avif',
  heic: 'image/heic',
  svg: 'image/svg+xml',
  ico: 'image/vnd.microsoft.icon',
  bmp: 'image/bmp',
  tif: 'image/tiff',
  tiff: 'image/tiff',
  mp3: 'audio/mpeg',
  wav: 'audio/wav',
  ogg: 'audio/ogg',
  flac: 'audio/flac',
  mp4: 'video/mp4',
  m4v: 'video/mp4',
  mov: 'video/quicktime',
  webm: 'video/webm',
  mkv: 'video/x-matroska',
  avi: 'video/x-msvideo',
};

/** A content type from the key's extension, for files that carry no stored metadata. */
export function guessContentType(key: string): string {
  const base = key.slice(key.lastIndexOf('/') + 1);
  const dot = base.lastIndexOf('.');
  if (dot <= 0) return FOREIGN_CONTENT_TYPE;
  return TYPES[base.slice(dot + 1).toLowerCase()] ?? FOREIGN_CONTENT_TYPE;
}
