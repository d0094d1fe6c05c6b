/**
 * The mapping between HTTP headers and object attributes, both ways, in one table so
 * request parsing and response writing cannot drift apart.
 */
import { S3_STORAGE_CLASSES } from '../backends/storage-class-table';
import { setUserMetadata } from '../backends/attributes';
import type { IncomingHttpHeaders } from 'node:http';
import { S3Error } from '../errors';
import { checksumTypeOf } from './checksums';
import type { ObjectAttributes, ObjectMeta, Tag } from '../backends/types';
import { checkStorableHeader, headerText, isHeaderName, metadataHeaderValue, storedHeaderValue } from './header-values';

/** attribute name -> header name, for the content headers S3 stores and returns. */
const CONTENT_HEADERS = [
  ['contentType', 'Content-Type'],
  ['contentEncoding', 'Content-Encoding'],
  ['contentDisposition', 'Content-Disposition'],
  ['contentLanguage', 'Content-Language'],
  ['cacheControl', 'Cache-Control'],
  ['expires', 'Expires'],
] as const;

/** response-* query overrides on GetObject -> the header each one replaces. */
export const RESPONSE_OVERRIDES: Record<string, string> = {
  'response-content-type': 'Content-Type',
  'response-content-language': 'Content-Language',
  'response-expires': 'Expires',
  'response-cache-control': 'Cache-Control',
  'response-content-disposition': 'Content-Disposition',
  'response-content-encoding': 'Content-Encoding',
};

/**
 * The classes a write may name: s3mux's buckets are general purpose buckets, and S3 refuses
 * there the classes of its other kinds of bucket (EXPRESS_ONEZONE: directory buckets;
 * OUTPOSTS: S3 on Outposts; SNOW: Snow devices) with InvalidStorageClass.
 */
const OTHER_BUCKET_KINDS_CLASSES: ReadonlySet<string> = new Set(['EXPRESS_ONEZONE', 'OUTPOSTS', 'SNOW']);
export const STORAGE_CLASSES: ReadonlySet<string> = new Set(S3_STORAGE_CLASSES.filter((c) => !OTHER_BUCKET_KINDS_CLASSES.has(c)));

const META_PREFIX = 'x-amz-meta-';
/** S3's limit on the user-defined metadata of one object (names and values, in bytes). */
const MAX_USER_METADATA = 2048;

export function header(headers: IncomingHttpHeaders, name: string): string | undefined {
  const v = headers[name];
  return Array.isArray(v) ? v.join(',') : v;
}

/**
 * aws-chunked is a transfer framing, not part of what is stored as Content-Encoding, when the
 * body is so framed. Any other value is stored as sent, as S3 keeps it (`br,compress` stays
 * `br,compress`, not `br, compress`), and so is aws-chunked over a plain body (swift's
 * test_input_errors.py: AWS answers the GET of such a PutObject with Content-Encoding: aws-chunked).
 */
function storedContentEncoding(value: string | undefined, awsChunkedBody: boolean): string | undefined {
  if (value === undefined) return undefined;
  const codings = value.split(',').map((s) => s.trim());
  if (!awsChunkedBody || !codings.some((s) => s.toLowerCase() === 'aws-chunked')) return value.trim() === '' ? undefined : value;
  const rest = codings.filter((s) => s !== '' && s.toLowerCase() !== 'aws-chunked');
  return rest.length ? rest.join(', ') : undefined;
}

/**
 * `awsChunkedBody`: whether the request's body is aws-chunked framed (payload.ts isAwsChunked);
 * a request without a body of its own (CreateMultipartUpload, CopyObject) drops the word, as before.
 */
export function attributesFromHeaders(headers: IncomingHttpHeaders, awsChunkedBody = true): ObjectAttributes {
  const attrs: ObjectAttributes = { userMetadata: {} };
  for (const [attr, name] of CONTENT_HEADERS) {
    const v = header(headers, name.toLowerCase());
    if (v === undefined) continue;
    checkStorableHeader(name, v);
    attrs[attr] = v;
  }
  attrs.contentEncoding = storedContentEncoding(attrs.contentEncoding, awsChunkedBody);
  if (attrs.contentEncoding === undefined) delete attrs.contentEncoding;

  let metaBytes = 0;
  for (const [name, value] of Object.entries(headers)) {
    if (!name.startsWith(META_PREFIX) || value === undefined) continue;
    const key = name.slice(META_PREFIX.length);
    const v = Array.isArray(value) ? value.join(',') : value;
    checkStorableHeader(name, v);
    setUserMetadata(attrs.userMetadata, key, v);
    metaBytes += Buffer.byteLength(key) + Buffer.byteLength(v);
  }
  if (metaBytes > MAX_USER_METADATA) throw new S3Error('MetadataTooLarge');

  const sc = header(headers, 'x-amz-storage-class');
  if (sc !== undefined) {
    if (!STORAGE_CLASSES.has(sc)) throw new S3Error('InvalidStorageClass');
    // STANDARD is kept here so a route's default tier does not replace it; BucketView stores it as no class.
    attrs.storageClass = sc;
  }
  const tagging = header(headers, 'x-amz-tagging');
  if (tagging !== undefined) attrs.tags = parseTaggingHeader(tagging);
  // Any other value was refused before a handler ran (src/s3/request-features.ts).
  if (header(headers, 'x-amz-server-side-encryption')?.trim() === 'AES256') attrs.serverSideEncryption = 'AES256';
  return attrs;
}

/**
 * x-amz-tagging is a URL query string: `k1=v1&k2=v2`. S3 reads it strictly, where
 * URLSearchParams forgives: a broken %-escape, a pair with no key (`=v`) or a key given twice
 * is InvalidArgument naming the header, not a tag named `key%` or the last value winning; so
 * is a pair with a second raw `=`.
 * Empty pairs (`&&`) are skipped, and `key` alone is a tag with an empty value, as in S3.
 */
export function parseTaggingHeader(value: string): Tag[] {
  const malformed = () =>
    new S3Error(
      'InvalidArgument',
      "The header 'x-amz-tagging' shall be encoded as UTF-8 then URLEncoded URL query parameters without tag name duplicates.",
      { ArgumentName: 'x-amz-tagging', ArgumentValue: value },
    );
  const text = headerText(value);
  if (text === undefined) throw malformed();
  const tags: Tag[] = [];
  const seen = new Set<string>();
  for (const pair of text.split('&')) {
    if (pair === '') continue;
    const eq = pair.indexOf('=');
    // A second raw '=' (`k=v1,k2=v2`) is not a query string S3 reads: a value's '=' is sent as %3D.
    if (eq >= 0 && pair.indexOf('=', eq + 1) >= 0) throw malformed();
    const [key, v] = [eq < 0 ? pair : pair.slice(0, eq), eq < 0 ? '' : pair.slice(eq + 1)].map((part) => {
      try {
        return decodeURIComponent(part.replace(/\+/g, ' '));
      } catch {
        throw malformed();
      }
    });
    if (key === '' || seen.has(key)) throw malformed();
    seen.add(key);
    tags.push({ key, value: v });
  }
  validateTags(tags);
  return tags;
}

/**
 * The characters S3 takes in a tag's key and value: letters, digits and spaces (any script),
 * and + - = . _ : / @. Anything else (`?`, `#`, `(`, `,`, `%`, a backquote) is InvalidTag.
 */
const TAG_TEXT = /^[\p{L}\p{N}\p{Z}+\-=._:/@]*$/u;

/** How many tags a tag set may hold, and S3's answers for too many and for a key under `aws:`. */
export interface TagRules {
  max: number;
  /** Too many tags is BadRequest on S3, for an object's tags and a bucket's alike. */
  message: string;
  /** Keys under aws: belong to AWS (cost allocation, CloudFormation): clients cannot set them. */
  systemKeyMessage: string;
}

/** An object has at most 10 tags; S3 answers too many with BadRequest. */
export const OBJECT_TAG_RULES: TagRules = {
  max: 10,
  message: 'Object tags cannot be greater than 10',
  systemKeyMessage: 'Your TagKey cannot be prefixed with aws:',
};

/** S3's tag rules; its InvalidTag answers name the tag (TagKey, and TagValue for a bad value). */
export function validateTags(tags: Tag[], rules: TagRules = OBJECT_TAG_RULES): void {
  if (tags.length > rules.max) throw new S3Error('BadRequest', rules.message);
  const seen = new Set<string>();
  for (const t of tags) {
    if (t.key.length === 0 || t.key.length > 128 || !TAG_TEXT.test(t.key)) {
      throw new S3Error('InvalidTag', 'The TagKey you have provided is invalid', { TagKey: t.key });
    }
    if (t.value.length > 256 || !TAG_TEXT.test(t.value)) {
      throw new S3Error('InvalidTag', 'The TagValue you have provided is invalid', { TagKey: t.key, TagValue: t.value });
    }
    if (seen.has(t.key)) throw new S3Error('InvalidTag', 'Cannot provide multiple Tags with the same key', { TagKey: t.key });
    if (t.key.toLowerCase().startsWith('aws:')) throw new S3Error('InvalidTag', rules.systemKeyMessage, { TagKey: t.key });
    seen.add(t.key);
  }
}

export function httpDate(d: Date): string {
  return d.toUTCString();
}

export interface MetaHeaderOptions {
  /** x-amz-checksum-mode: ENABLED, and the whole object is returned. */
  checksums?: boolean;
}

/** Headers that describe an object on GET, HEAD and 304 answers. */
export function metaHeaders(meta: ObjectMeta, opts: MetaHeaderOptions = {}): Record<string, string> {
  const h: Record<string, string> = {
    'Last-Modified': httpDate(meta.lastModified),
    ETag: `"${meta.etag}"`,
  };
  for (const [attr, name] of CONTENT_HEADERS) {
    const v = meta[attr];
    if (v !== undefined) h[name] = storedHeaderValue(v);
  }
  if (h['Content-Type'] === undefined) h['Content-Type'] = 'binary/octet-stream';
  // A name no header can carry (only a foreign writer of the store can leave one) is counted
  // in x-amz-missing-meta, as S3 does for metadata the REST API cannot return.
  let missing = 0;
  const userMetadata = meta.userMetadata;
  for (const k in userMetadata) {
    const name = META_PREFIX + k;
    if (isHeaderName(name)) h[name] = metadataHeaderValue(userMetadata[k]);
    else missing++;
  }
  if (missing > 0) h['x-amz-missing-meta'] = String(missing);
  if (meta.storageClass && meta.storageClass !== 'STANDARD') h['x-amz-storage-class'] = meta.storageClass;
  if (meta.restore) {
    h['x-amz-restore'] = meta.restore.expiry
      ? `ongoing-request="${meta.restore.ongoing}", expiry-date="${httpDate(meta.restore.expiry)}"`
      : `ongoing-request="${meta.restore.ongoing}"`;
  }
  if (meta.serverSideEncryption) h['x-amz-server-side-encryption'] = meta.serverSideEncryption;
  if (meta.tags && meta.tags.length) h['x-amz-tagging-count'] = String(meta.tags.length);
  if (opts.checksums && meta.checksums) {
    for (const [alg, v] of Object.entries(meta.checksums)) h[`x-amz-checksum-${alg}`] = v;
    const first = Object.values(meta.checksums)[0];
    if (first !== undefined) h['x-amz-checksum-type'] = checksumTypeOf(first);
  }
  return h;
}
