/** Content types for data files without stored metadata: placed in a bucket folder by hand, or bare objects (bare-objects.ts). */
import { DEFAULT_CONTENT_TYPE } from '../attributes';

/**
 * What the fs backend reports for such a file whose extension it does not know: S3's type for
 * an object stored without one, so that an object PUT without a Content-Type needs no sidecar
 * to say so (bare-objects.ts).
 */
const FOREIGN_CONTENT_TYPE = DEFAULT_CONTENT_TYPE;

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
