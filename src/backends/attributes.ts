/**
 * Object attribute helpers every adapter uses (so their metadata behaves identically):
 * defensive copies and S3's default content type.
 */
import type { ObjectAttributes } from './types';

/**
 * Sets one user metadata entry as an own property: `meta[name] = value` would call the
 * `__proto__` setter for x-amz-meta-__proto__ and keep nothing, where S3 stores it as any name.
 */
export function setUserMetadata(meta: Record<string, string>, name: string, value: string): void {
  Object.defineProperty(meta, name, { value, enumerable: true, writable: true, configurable: true });
}

/** What S3 reports for an object stored without a Content-Type. */
export const DEFAULT_CONTENT_TYPE = 'binary/octet-stream';

/** Attributes as stored: a copy, with S3's default content type. */
export function storedAttributes(attrs: ObjectAttributes): ObjectAttributes {
  const a = copyAttributes(attrs);
  if (a.contentType === undefined) a.contentType = DEFAULT_CONTENT_TYPE;
  return a;
}

/** A deep copy of the attribute fields only (never key/size/etag/lastModified). */
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
  if (a.partChecksums !== undefined) out.partChecksums = [...a.partChecksums];
  return out;
}
