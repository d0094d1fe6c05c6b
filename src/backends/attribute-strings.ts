/**
 * What S3 keeps with an object that a cloud store has no field for (Expires, the storage
 * class, tags, checksums, part sizes, a multipart ETag), as named strings in the store's
 * metadata: written and read the same way by every such adapter, which only adds its prefix
 * and its value encoding.
 */
import type { ObjectAttributes, Tag } from './types';

/** The field names (after the adapter's prefix); a checksum's is `ck_<algorithm>`. */
const FIELD = {
  etag: 'etag',
  expires: 'expires',
  storageClass: 'sc',
  tags: 'tags',
  parts: 'parts',
  partChecksums: 'partck',
  checksum: 'ck_',
} as const;

/** Longest metadata string of part sizes or part checksums (a store's metadata is a few KiB in all). */
const LIST_MAX = 2048;

/** The extra fields of `attrs` (and the S3 ETag to record, when it is not the content's MD5). */
export function extraFields(attrs: ObjectAttributes, etag?: string): [string, string][] {
  const out: [string, string][] = [];
  if (attrs.expires !== undefined) out.push([FIELD.expires, attrs.expires]);
  if (attrs.storageClass !== undefined) out.push([FIELD.storageClass, attrs.storageClass]);
  if (attrs.tags !== undefined && attrs.tags.length > 0) out.push([FIELD.tags, encodeTags(attrs.tags)]);
  // Algorithm names are [a-z0-9]: valid in every store's metadata names.
  for (const [alg, v] of Object.entries(attrs.checksums ?? {})) out.push([FIELD.checksum + alg.toLowerCase(), v]);
  if (attrs.partSizes !== undefined && attrs.partSizes.length > 0) {
    const p = encodePartSizes(attrs.partSizes);
    if (p !== undefined) out.push([FIELD.parts, p]);
  }
  // Base64 has no comma. Left out when too long (a few hundred CRC parts): the parts are then listed without them.
  const pck = attrs.partChecksums?.join(',');
  if (pck !== undefined && pck !== '' && pck.length <= LIST_MAX) out.push([FIELD.partChecksums, pck]);
  if (etag !== undefined) out.push([FIELD.etag, etag]);
  return out;
}

/** Reads one field written by extraFields into `attrs` (the ETag into `extras`); false when it is not one. */
export function readExtraField(field: string, value: string, attrs: ObjectAttributes, extras: { etag?: string }): boolean {
  if (field === FIELD.etag) extras.etag = value;
  else if (field === FIELD.expires) attrs.expires = value;
  else if (field === FIELD.storageClass) attrs.storageClass = value;
  else if (field === FIELD.tags) attrs.tags = decodeTags(value);
  else if (field === FIELD.parts) {
    const sizes = decodePartSizes(value);
    if (sizes) attrs.partSizes = sizes;
  } else if (field === FIELD.partChecksums) {
    attrs.partChecksums = value.split(',');
  } else if (field.startsWith(FIELD.checksum) && /^[a-z0-9]+$/.test(field.slice(FIELD.checksum.length))) {
    (attrs.checksums ??= {})[field.slice(FIELD.checksum.length)] = value;
  } else return false;
  return true;
}

/** Part sizes as runs: `5242880*3,1024`. Undefined when even that is too long for metadata. */
export function encodePartSizes(sizes: number[]): string | undefined {
  const runs: string[] = [];
  for (let i = 0; i < sizes.length;) {
    let j = i;
    while (j + 1 < sizes.length && sizes[j + 1] === sizes[i]) j++;
    runs.push(j > i ? `${sizes[i]}*${j - i + 1}` : String(sizes[i]));
    i = j + 1;
  }
  const s = runs.join(',');
  return s.length <= LIST_MAX ? s : undefined;
}

export function decodePartSizes(s: string): number[] | undefined {
  const out: number[] = [];
  for (const run of s.split(',')) {
    const m = /^(\d+)(?:\*(\d+))?$/.exec(run);
    if (!m) return undefined;
    const n = m[2] === undefined ? 1 : Number(m[2]);
    if (n > 10_000 || out.length + n > 10_000) return undefined;
    for (let i = 0; i < n; i++) out.push(Number(m[1]));
  }
  return out;
}

export function encodeTags(tags: Tag[]): string {
  return tags.map((t) => `${encodeURIComponent(t.key)}=${encodeURIComponent(t.value)}`).join('&');
}

export function decodeTags(s: string): Tag[] {
  if (s === '') return [];
  return s.split('&').map((pair) => {
    const i = pair.indexOf('=');
    const k = i < 0 ? pair : pair.slice(0, i);
    const v = i < 0 ? '' : pair.slice(i + 1);
    return { key: safeDecode(k), value: safeDecode(v) };
  });
}

function safeDecode(s: string): string {
  try {
    return decodeURIComponent(s);
  } catch {
    return s;
  }
}

// ---------------------------------------------------------------- values that travel as HTTP headers

/**
 * Stores whose metadata travels as HTTP header values (Azure, OCI) keep only printable
 * ASCII, lose surrounding spaces and may drop empty values. A value that is not non-empty
 * printable ASCII without surrounding spaces, or that starts with '~', is stored as '~' +
 * base64url of its UTF-8 bytes (so '' becomes '~').
 */
const SAFE_VALUE = /^[\x21-\x7d](?:[\x20-\x7e]*[\x21-\x7e])?$/;

/** Non-empty printable ASCII, no surrounding spaces, not starting with '~'. */
export function isHeaderSafe(v: string): boolean {
  return SAFE_VALUE.test(v);
}

export function encodeValue(v: string): string {
  return isHeaderSafe(v) ? v : `~${Buffer.from(v, 'utf8').toString('base64url')}`;
}

export function decodeValue(v: string): string {
  if (!v.startsWith('~')) return v;
  const b64 = v.slice(1);
  if (!/^[A-Za-z0-9_-]*$/.test(b64)) return v;
  const s = Buffer.from(b64, 'base64url').toString('utf8');
  // Only what encodeValue writes (a foreign value that merely starts with '~' stays as it is).
  return Buffer.from(s, 'utf8').toString('base64url') === b64 ? s : v;
}
