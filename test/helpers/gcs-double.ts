/**
 * An in-memory double of the Google Cloud Storage JSON API v1 (node:http, 127.0.0.1, free port),
 * for what the firebase emulator (test/helpers/gcs-emulator.ts) cannot do: bucket create/delete,
 * chunked resumable uploads, compose, rewrite/copy, preconditions, GCS-shaped errors, UTF-8 byte
 * order listing with startOffset/endOffset/includeTrailingDelimiter, and fault injection.
 *
 * Client: new Storage({ apiEndpoint: double.endpoint, projectId: double.projectId, useAuthWithCustomEndpoint: false })
 *
 * How @google-cloud/storage 7.22.0 calls it (as `requests` shows; '* /' has a space to keep this comment open):
 * - save(d, {resumable:false}): one POST /upload/storage/v1/b/B/o?uploadType=multipart&name=N.
 * - save() (resumable is the default), createWriteStream(): POST ?uploadType=resumable&name=N with
 *   JSON metadata and X-Upload-Content-Type, then one PUT to the Location with `Content-Range:
 *   bytes 0-* /*` and a chunked body. With chunkSize: PUTs of `bytes a-b/*` answered 308 + Range,
 *   the last one `bytes a-b/total`. No X-Goog-Hash is sent: the SDK compares the crc32c in the
 *   answer, and on a mismatch deletes the object (FILE_NO_UPLOAD).
 * - Without a contentType the SDK guesses one from the object name ('x.txt', 'def' -> text/plain).
 * - download(): GET /storage/v1/b/B/o/N?alt=media (N encodeURIComponent'ed, '/' as %2F) with
 *   Accept-Encoding: gzip, and Range: bytes=a-b (or a-) for start/end. Whole downloads are
 *   CRC32C-checked when X-Goog-Stored-Content-Encoding is identity.
 * - exists()/getMetadata(): GET .../o/N; setMetadata(): PATCH; delete(): DELETE; combine(): POST
 *   .../o/DEST/compose; copy(): POST .../o/S/rewriteTo/b/B2/o/D, again with rewriteToken until done;
 *   move(): rewrite + DELETE; getFiles(): GET .../o?prefix&delimiter&maxResults&startOffset&pageToken.
 * - Retries: a save() or combine() without ifGenerationMatch is not retried, and it leaves
 *   storage.retryOptions.autoRetry false on its whole Storage instance: later reads there are not
 *   retried either.
 *
 * Behaviour follows the JSON API reference and, where the reference is silent, Google's
 * storage-testbench. Choices a real server might make differently are marked "double:".
 * - No object versioning: only the live generation exists (`generation=` for another one -> 404).
 * - Uploads are POSTs under /upload/storage/v1 with uploadType media|multipart|resumable; anything
 *   else is 400 wrongUrlForUpload, as GCS answers. Reads work under /storage/v1 and /download/storage/v1.
 * - Resumable: non-final chunks must be >= 256 KiB and only whole 256 KiB units are kept (308 +
 *   Range says how much); an aborted request keeps nothing (double: GCS may keep part of it).
 * - ifGenerationNotMatch / ifMetagenerationNotMatch failures answer 304 (the documented status),
 *   the Match ones 412 conditionNotMet.
 * - Rewrite/copy: the destination starts as a copy of the source's metadata, then the request
 *   body is applied as a patch (storage-testbench does the same). A rewrite is split into several
 *   calls (done:false + rewriteToken) when maxBytesRewrittenPerCall or the `rewriteBytesPerCall`
 *   option is smaller than the object (double: GCS only splits rewrites that must copy data).
 * - storageClass: set by insert, compose and rewrite (the destination's, else the bucket's
 *   default, STANDARD here; not the source's), unchanged by patch/update (GCS changes a class
 *   only by rewriting); an unknown class is 400.
 * - A Range on an empty object, or starting at/after the end, is 416.
 * - Objects stored with contentEncoding gzip are served gzipped to clients that send
 *   Accept-Encoding: gzip and decompressed (whole, Range ignored) to others.
 * - Body size is capped by `maxObjectBytes` (double only; answered 413 uploadTooLarge).
 * - Object Retention Lock and holds: a bucket created with `enableObjectRetention=true` has
 *   `objectRetention: {mode: Enabled}`; only there may an object get a `retention` ({mode:
 *   Unlocked|Locked, retainUntilTime}) on insert, patch or update (elsewhere 400). A Locked
 *   retention only grows; removing or shortening an Unlocked one, or locking it, needs
 *   `overrideUnlockedRetention=true`; otherwise 403. `temporaryHold` and `eventBasedHold` work
 *   in any bucket. An object under a retention not yet expired or a hold cannot be deleted or
 *   replaced by any write (403 forbidden, GCS's messages); a rewrite or compose does not carry
 *   the source's lock to its destination.
 */
import * as crypto from 'node:crypto';
import * as http from 'node:http';
import type { AddressInfo } from 'node:net';
import * as zlib from 'node:zlib';

export interface GcsDoubleOptions {
  /** Largest object (and request body) accepted; default 64 MiB. */
  maxObjectBytes?: number;
  /** Default 'test'. */
  projectId?: string;
  /** Buckets that exist at start and again after reset(). */
  buckets?: string[];
  /** Make every rewrite take several calls of this many bytes, like a cross-location rewrite. */
  rewriteBytesPerCall?: number;
}

export interface LoggedRequest {
  method: string;
  /** The raw (still percent-encoded) path, e.g. /storage/v1/b/bkt/o/a%2Fb */
  path: string;
  query: Record<string, string>;
  headers: http.IncomingHttpHeaders;
}

export interface FailOptions {
  /** Only requests with this method (case-insensitive). */
  method?: string;
  /** Only requests whose raw path contains this string or matches this RegExp. */
  path?: string | RegExp;
  match?: (req: LoggedRequest) => boolean;
  message?: string;
  /** Destroy the connection instead of answering (a network error for the client). */
  resetConnection?: boolean;
  /** Extra response headers, e.g. { 'Retry-After': '1' }. */
  headers?: Record<string, string>;
}

export interface ObjectResource {
  kind: 'storage#object';
  id: string;
  selfLink: string;
  mediaLink: string;
  name: string;
  bucket: string;
  generation: string;
  metageneration: string;
  contentType: string;
  contentEncoding?: string;
  contentDisposition?: string;
  contentLanguage?: string;
  cacheControl?: string;
  customTime?: string;
  storageClass: string;
  size: string;
  md5Hash?: string;
  crc32c: string;
  etag: string;
  timeCreated: string;
  updated: string;
  timeStorageClassUpdated: string;
  metadata?: Record<string, string>;
  componentCount?: number;
  retention?: { mode: string; retainUntilTime: string };
  temporaryHold?: boolean;
  eventBasedHold?: boolean;
}

export interface GcsDouble {
  port: number;
  /** http://127.0.0.1:<port>, for Storage's apiEndpoint */
  endpoint: string;
  projectId: string;
  /** Every request received, in order (cleared by reset()). */
  requests: LoggedRequest[];
  /** The next `n` requests (that match `filter`) answer `status` with a GCS error body. */
  failNext(n: number, status?: number, reason?: string, filter?: FailOptions): void;
  /** The stored object, bypassing the API. */
  peek(bucket: string, name: string): { resource: ObjectResource; data: Buffer } | undefined;
  /** Forget all buckets, objects, sessions, faults and logged requests; recreate `opts.buckets`. */
  reset(): void;
  stop(): Promise<void>;
}

// ---------------------------------------------------------------------------------------------
// CRC32C (Castagnoli), written here rather than taken from the SDK under test.

const CRC32C_TABLE = (() => {
  const t = new Uint32Array(256);
  for (let i = 0; i < 256; i++) {
    let c = i;
    for (let k = 0; k < 8; k++) c = c & 1 ? (c >>> 1) ^ 0x82f63b78 : c >>> 1;
    t[i] = c >>> 0;
  }
  return t;
})();

export function crc32c(data: Uint8Array): number {
  let c = 0xffffffff;
  for (let i = 0; i < data.length; i++) c = CRC32C_TABLE[(c ^ data[i]) & 0xff] ^ (c >>> 8);
  return (c ^ 0xffffffff) >>> 0;
}

/** As GCS writes it: base64 of the big-endian 32-bit value. */
export function crc32cBase64(data: Uint8Array): string {
  const b = Buffer.alloc(4);
  b.writeUInt32BE(crc32c(data));
  return b.toString('base64');
}

// ---------------------------------------------------------------------------------------------

const KiB256 = 256 * 1024;
const MAX_JSON_BYTES = 1024 * 1024;

const DEFAULT_REASONS: Record<number, string> = {
  400: 'invalid',
  401: 'required',
  403: 'forbidden',
  404: 'notFound',
  409: 'conflict',
  412: 'conditionNotMet',
  413: 'uploadTooLarge',
  416: 'requestedRangeNotSatisfiable',
  429: 'rateLimitExceeded',
  500: 'backendError',
  501: 'notImplemented',
  502: 'backendError',
  503: 'backendError',
  504: 'backendError',
};

class GcsError extends Error {
  constructor(
    readonly status: number,
    message: string,
    readonly reason = DEFAULT_REASONS[status] ?? 'backendError',
    readonly headers: Record<string, string> = {},
  ) {
    super(message);
  }
}

/** The client went away mid-body: there is nobody to answer. */
class BodyAborted extends Error {}

interface WritableMeta {
  contentType?: string;
  contentEncoding?: string;
  contentDisposition?: string;
  contentLanguage?: string;
  cacheControl?: string;
  customTime?: string;
  /** Set on insert, compose and rewrite only (GCS changes a class by rewriting the object). */
  storageClass?: string;
  metadata?: Record<string, string>;
  /** Object Retention Lock (only in a bucket that has it enabled). */
  retention?: { mode: 'Unlocked' | 'Locked'; retainUntilTime: string };
  temporaryHold?: boolean;
  eventBasedHold?: boolean;
}
/** GCS's storage classes (the legacy ones included); the bucket's default is STANDARD here. */
const STORAGE_CLASSES = new Set([
  'STANDARD',
  'NEARLINE',
  'COLDLINE',
  'ARCHIVE',
  'MULTI_REGIONAL',
  'REGIONAL',
  'DURABLE_REDUCED_AVAILABILITY',
]);
const BUCKET_DEFAULT_CLASS = 'STANDARD';
const WRITABLE_STRING_FIELDS = [
  'contentType',
  'contentEncoding',
  'contentDisposition',
  'contentLanguage',
  'cacheControl',
  'customTime',
] as const;

/** Records are replaced, never mutated, so a snapshot (e.g. a rewrite's source) stays valid. */
interface StoredObject {
  readonly meta: WritableMeta;
  readonly bucket: string;
  readonly name: string;
  readonly data: Buffer;
  readonly generation: number;
  readonly metageneration: number;
  readonly md5?: string;
  readonly crc32c: string;
  readonly componentCount?: number;
  readonly timeCreated: string;
  readonly updated: string;
}

interface Bucket {
  name: string;
  timeCreated: string;
  /** Created with enableObjectRetention=true. */
  objectRetention?: boolean;
  objects: Map<string, StoredObject>;
}

interface Preconditions {
  ifGenerationMatch?: number;
  ifGenerationNotMatch?: number;
  ifMetagenerationMatch?: number;
  ifMetagenerationNotMatch?: number;
}

interface UploadSession {
  id: string;
  bucket: string;
  name: string;
  meta: WritableMeta;
  preconditions: Preconditions;
  declaredLength?: number;
  chunks: Buffer[];
  received: number;
  result?: StoredObject;
}

interface RewriteState {
  source: StoredObject;
  dstBucket: string;
  dstName: string;
  patch: Record<string, unknown>;
  preconditions: Preconditions;
  perCall: number;
  copied: number;
}

interface Fault {
  remaining: number;
  status: number;
  reason: string;
  filter: FailOptions;
}

// ---------------------------------------------------------------------------------------------
// Small pure helpers.

function utf8Compare(a: string, b: string): number {
  return Buffer.compare(Buffer.from(a, 'utf8'), Buffer.from(b, 'utf8'));
}

/** GCS's documented naming rules. */
function checkObjectName(name: string): void {
  const bytes = Buffer.byteLength(name, 'utf8');
  if (bytes === 0) throw new GcsError(400, 'Object name is required.', 'required');
  if (bytes > 1024) throw new GcsError(400, `The object name is too long (${bytes} bytes; at most 1024 bytes are allowed).`);
  if (/[\uD800-\uDBFF](?![\uDC00-\uDFFF])|(?<![\uD800-\uDBFF])[\uDC00-\uDFFF]/.test(name))
    throw new GcsError(400, 'Object names must be valid UTF-8.');
  if (/[\r\n]/.test(name)) throw new GcsError(400, 'Object names cannot contain carriage return or line feed characters.');
  if (name === '.' || name === '..') throw new GcsError(400, `Object name cannot be '${name}'.`);
  if (name.startsWith('.well-known/acme-challenge/'))
    throw new GcsError(400, 'Object names cannot start with .well-known/acme-challenge/.');
}

function checkBucketName(name: string): void {
  const ok =
    /^[a-z0-9][a-z0-9._-]{1,220}[a-z0-9]$/.test(name) &&
    name.split('.').every((part) => part.length > 0 && part.length <= 63) &&
    (name.includes('.') || name.length <= 63) &&
    !/^\d+\.\d+\.\d+\.\d+$/.test(name) &&
    !name.startsWith('goog');
  if (!ok) throw new GcsError(400, `Invalid bucket name: '${name}'`);
}

function decodeSegment(s: string): string {
  try {
    return decodeURIComponent(s);
  } catch {
    throw new GcsError(400, `Invalid URL path segment: ${s}`);
  }
}

function intParam(q: URLSearchParams, key: string): number | undefined {
  const v = q.get(key);
  if (v === null || v === '') return undefined;
  if (!/^-?\d+$/.test(v)) throw new GcsError(400, `Invalid value for ${key}: ${v}`);
  return Number(v);
}

function readPreconditions(q: URLSearchParams, prefix: 'if' | 'ifSource' = 'if'): Preconditions {
  return {
    ifGenerationMatch: intParam(q, `${prefix}GenerationMatch`),
    ifGenerationNotMatch: intParam(q, `${prefix}GenerationNotMatch`),
    ifMetagenerationMatch: intParam(q, `${prefix}MetagenerationMatch`),
    ifMetagenerationNotMatch: intParam(q, `${prefix}MetagenerationNotMatch`),
  };
}

const CONDITION_NOT_MET = 'At least one of the pre-conditions you specified did not hold.';

/** `cur` is the live object or undefined. ifGenerationMatch=0 means "must not exist". */
function checkPreconditions(cur: StoredObject | undefined, p: Preconditions): void {
  if (p.ifGenerationMatch !== undefined) {
    const ok = p.ifGenerationMatch === 0 ? !cur : cur?.generation === p.ifGenerationMatch;
    if (!ok) throw new GcsError(412, CONDITION_NOT_MET);
  }
  if (p.ifMetagenerationMatch !== undefined && cur?.metageneration !== p.ifMetagenerationMatch) {
    throw new GcsError(412, CONDITION_NOT_MET);
  }
  if (p.ifGenerationNotMatch !== undefined && (!cur || cur.generation === p.ifGenerationNotMatch)) {
    throw new GcsError(304, 'Not Modified');
  }
  if (p.ifMetagenerationNotMatch !== undefined && (!cur || cur.metageneration === p.ifMetagenerationNotMatch)) {
    throw new GcsError(304, 'Not Modified');
  }
}

/** GCS etags are a protobuf of (generation, metageneration), base64: opaque, changes with either. */
function etagOf(generation: number, metageneration: number): string {
  const varint = (n: number): number[] => {
    const out: number[] = [];
    let v = BigInt(n);
    while (v >= 0x80n) {
      out.push(Number(v & 0x7fn) | 0x80);
      v >>= 7n;
    }
    out.push(Number(v));
    return out;
  };
  return Buffer.from([0x08, ...varint(generation), 0x10, ...varint(metageneration)]).toString('base64');
}

/** X-Goog-Hash: crc32c=...,md5=... */
function parseGoogHash(header: string | string[] | undefined): { crc32c?: string; md5?: string } {
  const out: { crc32c?: string; md5?: string } = {};
  for (const h of ([] as string[]).concat(header ?? [])) {
    for (const pair of h.split(',')) {
      const i = pair.indexOf('=');
      if (i < 0) continue;
      const k = pair.slice(0, i).trim().toLowerCase();
      const v = pair.slice(i + 1).trim();
      if (k === 'crc32c') out.crc32c = v;
      if (k === 'md5') out.md5 = v;
    }
  }
  return out;
}

function checkHashes(data: Buffer, expected: { crc32c?: string; md5?: string }): void {
  if (expected.md5 !== undefined) {
    const md5 = crypto.createHash('md5').update(data).digest('base64');
    if (md5 !== expected.md5) throw new GcsError(400, `Provided MD5 hash "${expected.md5}" doesn't match calculated MD5 hash "${md5}".`);
  }
  if (expected.crc32c !== undefined) {
    const c = crc32cBase64(data);
    if (c !== expected.crc32c) throw new GcsError(400, `Provided CRC32C "${expected.crc32c}" doesn't match calculated CRC32C "${c}".`);
  }
}

/** Applies writable fields of `body` (PATCH semantics: null clears, metadata keys merge, null key deletes). */
function applyPatch(meta: WritableMeta, body: Record<string, unknown>): WritableMeta {
  const out: WritableMeta = { ...meta, metadata: meta.metadata ? { ...meta.metadata } : undefined };
  for (const f of WRITABLE_STRING_FIELDS) {
    if (!(f in body)) continue;
    const v = body[f];
    if (v === null || v === undefined) delete out[f];
    else out[f] = typeof v === 'string' ? v : JSON.stringify(v);
  }
  if ('metadata' in body) {
    const m = body.metadata;
    if (m === null) {
      delete out.metadata;
    } else if (typeof m === 'object') {
      const merged = { ...(out.metadata ?? {}) };
      for (const [k, v] of Object.entries(m as Record<string, unknown>)) {
        if (v === null) delete merged[k];
        else merged[k] = typeof v === 'string' ? v : JSON.stringify(v);
      }
      out.metadata = merged;
    } else {
      throw new GcsError(400, 'Invalid value for metadata.');
    }
  }
  if (out.metadata && Object.keys(out.metadata).length === 0) delete out.metadata;
  if ('retention' in body) {
    const r = body.retention as Record<string, unknown> | null | undefined;
    if (r === null || r === undefined) delete out.retention;
    else {
      const mode = r.mode;
      const until = typeof r.retainUntilTime === 'string' ? Date.parse(r.retainUntilTime) : NaN;
      if ((mode !== 'Unlocked' && mode !== 'Locked') || Number.isNaN(until))
        throw new GcsError(400, `Invalid argument: retention ${JSON.stringify(r)}.`, 'invalid');
      out.retention = { mode, retainUntilTime: new Date(until).toISOString() };
    }
  }
  for (const f of ['temporaryHold', 'eventBasedHold'] as const) {
    if (!(f in body)) continue;
    const v = body[f];
    if (v === null || v === undefined || v === false) delete out[f];
    else if (v === true) out[f] = true;
    else throw new GcsError(400, `Invalid value for ${f}: ${JSON.stringify(v)}`, 'invalid');
  }
  if ('storageClass' in body && body.storageClass !== undefined && body.storageClass !== null) {
    if (typeof body.storageClass !== 'string' || !STORAGE_CLASSES.has(body.storageClass))
      throw new GcsError(400, `Invalid argument: storageClass ${JSON.stringify(body.storageClass)}.`, 'invalid');
    out.storageClass = body.storageClass;
  }
  return out;
}

function writableMetaOf(o: WritableMeta): WritableMeta {
  const out: WritableMeta = {};
  for (const f of WRITABLE_STRING_FIELDS) if (o[f] !== undefined) out[f] = o[f];
  if (o.storageClass !== undefined) out.storageClass = o.storageClass;
  if (o.metadata) out.metadata = { ...o.metadata };
  if (o.retention) out.retention = { ...o.retention };
  if (o.temporaryHold) out.temporaryHold = true;
  if (o.eventBasedHold) out.eventBasedHold = true;
  return out;
}

/** What keeps an object from being deleted or replaced now, as GCS words it (undefined: nothing). */
function protectionOf(o: StoredObject | undefined): string | undefined {
  if (!o) return undefined;
  const what = `Object '${o.bucket}/${o.name}'`;
  if (o.meta.temporaryHold)
    return `${what} is under active Temporary hold and cannot be deleted, overwritten or archived until hold is removed.`;
  if (o.meta.eventBasedHold)
    return `${what} is under active Event-Based hold and cannot be deleted, overwritten or archived until hold is removed.`;
  const r = o.meta.retention;
  if (r && Date.parse(r.retainUntilTime) > Date.now())
    return `${what} is subject to object retention and cannot be deleted, overwritten or archived until ${r.retainUntilTime}.`;
  return undefined;
}

function checkNotProtected(o: StoredObject | undefined): void {
  const why = protectionOf(o);
  if (why) throw new GcsError(403, why, 'forbidden');
}

/** A retention change on an existing object, by Object Retention Lock's rules. */
function checkRetentionChange(before: WritableMeta['retention'], after: WritableMeta['retention'], override: boolean): void {
  if (!before || (after && after.mode === before.mode && after.retainUntilTime === before.retainUntilTime)) return;
  const grows =
    after !== undefined && after.mode === before.mode && Date.parse(after.retainUntilTime) >= Date.parse(before.retainUntilTime);
  if (grows) return;
  if (before.mode === 'Locked' && Date.parse(before.retainUntilTime) > Date.now())
    throw new GcsError(403, 'The object retention is Locked: it can only be extended.', 'forbidden');
  if (before.mode === 'Unlocked' && !override)
    throw new GcsError(403, 'Reducing, removing or locking an Unlocked retention needs overrideUnlockedRetention=true.', 'forbidden');
}

/** Only `bytes=a-b`, `bytes=a-` and `bytes=-n`; anything else is ignored (whole object), as HTTP allows. */
function parseRange(header: string | undefined, size: number): { start: number; end: number } | 'unsatisfiable' | undefined {
  if (!header) return undefined;
  const m = /^\s*bytes=(\d*)-(\d*)\s*$/.exec(header);
  if (!m || (m[1] === '' && m[2] === '')) return undefined;
  if (m[1] === '') {
    const n = Number(m[2]);
    if (n === 0 || size === 0) return 'unsatisfiable';
    return { start: Math.max(0, size - n), end: size - 1 };
  }
  const start = Number(m[1]);
  if (m[2] !== '' && Number(m[2]) < start) return undefined;
  if (start >= size) return 'unsatisfiable';
  return { start, end: m[2] === '' ? size - 1 : Math.min(Number(m[2]), size - 1) };
}

/** multipart/related as the SDKs send it: a JSON metadata part, then the media part. */
function parseMultipart(contentType: string, body: Buffer): { metadata: Record<string, unknown>; mediaType?: string; media: Buffer } {
  const bm = /boundary=(?:"([^"]+)"|([^;\s]+))/i.exec(contentType);
  if (!bm) throw new GcsError(400, 'Missing multipart boundary.');
  const boundary = bm[1] ?? bm[2];
  const open = Buffer.from(`--${boundary}`);
  const sep = Buffer.from(`\r\n--${boundary}`);
  let pos = body.indexOf(open);
  if (pos < 0) throw new GcsError(400, 'Malformed multipart body.');
  const parts: { headers: Record<string, string>; body: Buffer }[] = [];
  for (;;) {
    let start = pos + open.length;
    if (body.subarray(start, start + 2).toString() === '--') break;
    const eol = body.indexOf('\r\n', start);
    if (eol < 0) throw new GcsError(400, 'Malformed multipart body.');
    start = eol + 2;
    const next = body.indexOf(sep, start);
    if (next < 0) throw new GcsError(400, 'Malformed multipart body: no closing boundary.');
    const part = body.subarray(start, next);
    const headerEnd = part.indexOf('\r\n\r\n');
    const headers: Record<string, string> = {};
    let partBody = part;
    if (part.subarray(0, 2).toString() === '\r\n') {
      partBody = part.subarray(2);
    } else if (headerEnd >= 0) {
      for (const line of part.subarray(0, headerEnd).toString('latin1').split('\r\n')) {
        const i = line.indexOf(':');
        if (i > 0) headers[line.slice(0, i).trim().toLowerCase()] = line.slice(i + 1).trim();
      }
      partBody = part.subarray(headerEnd + 4);
    }
    parts.push({ headers, body: partBody });
    pos = next + 2;
  }
  if (parts.length !== 2) throw new GcsError(400, `A multipart upload needs 2 parts (metadata, media); got ${parts.length}.`);
  let metadata: unknown;
  try {
    metadata = parts[0].body.length ? JSON.parse(parts[0].body.toString('utf8')) : {};
  } catch {
    throw new GcsError(400, 'Parse Error', 'parseError');
  }
  if (typeof metadata !== 'object' || metadata === null || Array.isArray(metadata))
    throw new GcsError(400, 'The metadata part must be a JSON object.');
  return { metadata: metadata as Record<string, unknown>, mediaType: parts[1].headers['content-type'], media: parts[1].body };
}

/**
 * Reads a request body up to `limit` bytes. Over the limit: 413 (the caller closes the
 * connection). Client gone before the end: BodyAborted, and nothing of it is kept.
 */
function readBody(req: http.IncomingMessage, limit: number): Promise<Buffer> {
  // Already over: its 'end' or 'close' will not come again.
  if (req.readableEnded) return Promise.resolve(Buffer.alloc(0));
  if (req.destroyed) return Promise.reject(new BodyAborted());
  return new Promise((resolve, reject) => {
    const chunks: Buffer[] = [];
    let size = 0;
    let settled = false;
    const finish = (err?: Error) => {
      if (settled) return;
      settled = true;
      req.off('data', onData);
      if (err) reject(err);
      else resolve(Buffer.concat(chunks, size));
    };
    const onData = (c: Buffer) => {
      size += c.length;
      if (size > limit) {
        chunks.length = 0;
        req.pause();
        finish(new GcsError(413, `The request body exceeds the double's limit of ${limit} bytes.`));
        return;
      }
      chunks.push(c);
    };
    req.on('data', onData);
    req.once('end', () => finish());
    req.once('error', () => finish(new BodyAborted()));
    req.once('close', () => {
      if (!req.complete) finish(new BodyAborted());
    });
  });
}

async function readJson(req: http.IncomingMessage): Promise<Record<string, unknown>> {
  const raw = await readBody(req, MAX_JSON_BYTES);
  if (raw.length === 0) return {};
  let parsed: unknown;
  try {
    parsed = JSON.parse(raw.toString('utf8'));
  } catch {
    throw new GcsError(400, 'Parse Error', 'parseError');
  }
  if (typeof parsed !== 'object' || parsed === null || Array.isArray(parsed))
    throw new GcsError(400, 'The request body must be a JSON object.');
  return parsed as Record<string, unknown>;
}

function sendJson(res: http.ServerResponse, status: number, body: unknown, headers: Record<string, string> = {}): void {
  const payload = Buffer.from(JSON.stringify(body));
  res.writeHead(status, { 'Content-Type': 'application/json; charset=UTF-8', 'Content-Length': String(payload.length), ...headers });
  res.end(payload);
}

function sendError(res: http.ServerResponse, err: GcsError): void {
  if (err.status === 304) {
    res.writeHead(304, err.headers);
    res.end();
    return;
  }
  sendJson(
    res,
    err.status,
    {
      error: { code: err.status, message: err.message, errors: [{ message: err.message, domain: 'global', reason: err.reason }] },
    },
    err.headers,
  );
}

// ---------------------------------------------------------------------------------------------

export async function startGcsDouble(opts: GcsDoubleOptions = {}): Promise<GcsDouble> {
  const maxObjectBytes = opts.maxObjectBytes ?? 64 * 1024 * 1024;
  const projectId = opts.projectId ?? 'test';
  const buckets = new Map<string, Bucket>();
  const uploads = new Map<string, UploadSession>();
  const rewrites = new Map<string, RewriteState>();
  const requests: LoggedRequest[] = [];
  let faults: Fault[] = [];
  let lastGeneration = 0;
  let endpoint = '';

  /** GCS generations are microsecond timestamps; strictly increasing here. */
  const nextGeneration = () => (lastGeneration = Math.max(lastGeneration + 1, Date.now() * 1000));
  const now = () => new Date().toISOString();

  const createBucket = (name: string, objectRetention = false): Bucket => {
    const b: Bucket = { name, timeCreated: now(), objects: new Map(), ...(objectRetention ? { objectRetention } : {}) };
    buckets.set(name, b);
    return b;
  };
  const reset = () => {
    buckets.clear();
    uploads.clear();
    rewrites.clear();
    faults = [];
    requests.length = 0;
    for (const b of opts.buckets ?? []) createBucket(b);
  };
  reset();

  const getBucket = (name: string): Bucket => {
    const b = buckets.get(name);
    if (!b) throw new GcsError(404, 'The specified bucket does not exist.');
    return b;
  };

  /** The live object, or 404; `generation=` must name the live one (no versioning here). */
  const getObject = (bucket: Bucket, name: string, generation?: number): StoredObject => {
    const o = bucket.objects.get(name);
    if (!o || (generation !== undefined && o.generation !== generation)) {
      throw new GcsError(404, `No such object: ${bucket.name}/${name}`);
    }
    return o;
  };

  const bucketResource = (b: Bucket) => ({
    kind: 'storage#bucket',
    id: b.name,
    selfLink: `${endpoint}/storage/v1/b/${b.name}`,
    projectNumber: '0',
    name: b.name,
    timeCreated: b.timeCreated,
    updated: b.timeCreated,
    metageneration: '1',
    location: 'US',
    locationType: 'multi-region',
    storageClass: 'STANDARD',
    etag: 'CAE=',
    ...(b.objectRetention ? { objectRetention: { mode: 'Enabled' } } : {}),
  });

  const objectResource = (o: StoredObject): ObjectResource => {
    const enc = encodeURIComponent(o.name);
    const r: ObjectResource = {
      kind: 'storage#object',
      id: `${o.bucket}/${o.name}/${o.generation}`,
      selfLink: `${endpoint}/storage/v1/b/${o.bucket}/o/${enc}`,
      mediaLink: `${endpoint}/download/storage/v1/b/${o.bucket}/o/${enc}?generation=${o.generation}&alt=media`,
      name: o.name,
      bucket: o.bucket,
      generation: String(o.generation),
      metageneration: String(o.metageneration),
      contentType: o.meta.contentType ?? 'application/octet-stream',
      storageClass: o.meta.storageClass ?? BUCKET_DEFAULT_CLASS,
      size: String(o.data.length),
      crc32c: o.crc32c,
      etag: etagOf(o.generation, o.metageneration),
      timeCreated: o.timeCreated,
      updated: o.updated,
      timeStorageClassUpdated: o.timeCreated,
    };
    for (const f of ['contentEncoding', 'contentDisposition', 'contentLanguage', 'cacheControl', 'customTime'] as const) {
      if (o.meta[f] !== undefined) r[f] = o.meta[f];
    }
    if (o.md5 !== undefined) r.md5Hash = o.md5;
    if (o.meta.metadata) r.metadata = { ...o.meta.metadata };
    if (o.componentCount !== undefined) r.componentCount = o.componentCount;
    if (o.meta.retention) r.retention = { ...o.meta.retention };
    if (o.meta.temporaryHold) r.temporaryHold = true;
    if (o.meta.eventBasedHold) r.eventBasedHold = true;
    return r;
  };

  /** Every write of data ends here: name rules, preconditions against the live object, new generation. */
  const storeObject = (
    bucket: Bucket,
    name: string,
    data: Buffer,
    meta: WritableMeta,
    preconditions: Preconditions,
    composite?: { componentCount: number },
  ): StoredObject => {
    checkObjectName(name);
    if (data.length > maxObjectBytes) throw new GcsError(413, `The object exceeds the double's limit of ${maxObjectBytes} bytes.`);
    checkPreconditions(bucket.objects.get(name), preconditions);
    checkNotProtected(bucket.objects.get(name));
    if (meta.retention && !bucket.objectRetention)
      throw new GcsError(400, `Object retention is not enabled on bucket ${bucket.name}.`, 'invalid');
    const t = now();
    const o: StoredObject = {
      meta: writableMetaOf(meta),
      bucket: bucket.name,
      name,
      data,
      generation: nextGeneration(),
      metageneration: 1,
      // Composite objects have no MD5, only a CRC32C.
      md5: composite ? undefined : crypto.createHash('md5').update(data).digest('base64'),
      crc32c: crc32cBase64(data),
      componentCount: composite?.componentCount,
      timeCreated: t,
      updated: t,
    };
    bucket.objects.set(name, o);
    return o;
  };

  // ----- objects.list

  const listObjects = (bucket: Bucket, q: URLSearchParams) => {
    const prefix = q.get('prefix') ?? '';
    const delimiter = q.get('delimiter') ?? '';
    const startOffset = q.get('startOffset') ?? '';
    const endOffset = q.get('endOffset') ?? '';
    const includeTrailing = q.get('includeTrailingDelimiter') === 'true';
    const maxResults = Math.min(intParam(q, 'maxResults') ?? 1000, 1000);
    if (maxResults <= 0) throw new GcsError(400, `Invalid value for maxResults: ${q.get('maxResults')}`);
    if (q.get('matchGlob')) throw new GcsError(501, 'matchGlob is not implemented by the GCS double.');
    let after: { key: string; wasPrefix: boolean } | undefined;
    const token = q.get('pageToken');
    if (token) {
      try {
        const t = JSON.parse(Buffer.from(token, 'base64url').toString('utf8')) as { k: string; p: boolean };
        if (typeof t.k !== 'string') throw new Error('bad token');
        after = { key: t.k, wasPrefix: !!t.p };
      } catch {
        throw new GcsError(400, 'Invalid pageToken.');
      }
    }
    const names = [...bucket.objects.keys()]
      .filter(
        (n) => n.startsWith(prefix) && (!startOffset || utf8Compare(n, startOffset) >= 0) && (!endOffset || utf8Compare(n, endOffset) < 0),
      )
      .map((n) => ({ n, k: Buffer.from(n, 'utf8') }))
      .sort((a, b) => Buffer.compare(a.k, b.k))
      .map((x) => x.n);

    const items: ObjectResource[] = [];
    const prefixes: string[] = [];
    let count = 0;
    let last: { key: string; wasPrefix: boolean } | undefined;
    let more = false;
    for (const n of names) {
      if (after && (utf8Compare(n, after.key) <= 0 || (after.wasPrefix && n.startsWith(after.key)))) continue;
      // Names under one prefix are contiguous in byte order, so a prefix is complete once seen.
      if (last?.wasPrefix && n.startsWith(last.key)) continue;
      const i = delimiter ? n.indexOf(delimiter, prefix.length) : -1;
      if (count >= maxResults) {
        more = true;
        break;
      }
      if (i >= 0) {
        const p = n.slice(0, i + delimiter.length);
        prefixes.push(p);
        // The object named exactly like its prefix rides along with it (not counted twice).
        if (includeTrailing && p === n) items.push(objectResource(bucket.objects.get(n)!));
        last = { key: p, wasPrefix: true };
      } else {
        items.push(objectResource(bucket.objects.get(n)!));
        last = { key: n, wasPrefix: false };
      }
      count++;
    }
    const out: Record<string, unknown> = { kind: 'storage#objects' };
    if (more && last) out.nextPageToken = Buffer.from(JSON.stringify({ k: last.key, p: last.wasPrefix })).toString('base64url');
    if (prefixes.length) out.prefixes = prefixes;
    if (items.length) out.items = items;
    return out;
  };

  // ----- media download

  const serveMedia = (req: http.IncomingMessage, res: http.ServerResponse, o: StoredObject): void => {
    let data = o.data;
    let transcoded = false;
    const acceptsGzip = /\bgzip\b/i.test(String(req.headers['accept-encoding'] ?? ''));
    const m = o.meta;
    if (m.contentEncoding === 'gzip' && !acceptsGzip && !/no-transform/i.test(m.cacheControl ?? '')) {
      try {
        data = zlib.gunzipSync(o.data);
        transcoded = true;
      } catch {
        // Not really gzip: serve what is stored.
      }
    }
    const hash = o.md5 ? `crc32c=${o.crc32c},md5=${o.md5}` : `crc32c=${o.crc32c}`;
    const headers: Record<string, string> = {
      'Content-Type': m.contentType ?? 'application/octet-stream',
      'Accept-Ranges': 'bytes',
      ETag: etagOf(o.generation, o.metageneration),
      'Last-Modified': new Date(o.updated).toUTCString(),
      'X-Goog-Generation': String(o.generation),
      'X-Goog-Metageneration': String(o.metageneration),
      'X-Goog-Hash': hash,
      'X-Goog-Stored-Content-Encoding': m.contentEncoding ?? 'identity',
      'X-Goog-Stored-Content-Length': String(o.data.length),
      'X-Goog-Storage-Class': 'STANDARD',
    };
    if (o.componentCount !== undefined) headers['X-Goog-Component-Count'] = String(o.componentCount);
    if (m.contentEncoding && !transcoded) headers['Content-Encoding'] = m.contentEncoding;
    if (m.cacheControl) headers['Cache-Control'] = m.cacheControl;
    if (m.contentDisposition) headers['Content-Disposition'] = m.contentDisposition;
    if (m.contentLanguage) headers['Content-Language'] = m.contentLanguage;
    const range = transcoded ? undefined : parseRange(req.headers.range, data.length);
    if (range === 'unsatisfiable') {
      throw new GcsError(416, 'The requested range cannot be satisfied.', 'requestedRangeNotSatisfiable', {
        'Content-Range': `bytes */${data.length}`,
      });
    }
    let status = 200;
    if (range) {
      status = 206;
      headers['Content-Range'] = `bytes ${range.start}-${range.end}/${data.length}`;
      data = data.subarray(range.start, range.end + 1);
    }
    headers['Content-Length'] = String(data.length);
    res.writeHead(status, headers);
    res.end(data);
  };

  // ----- uploads

  const insertObject = async (
    req: http.IncomingMessage,
    res: http.ServerResponse,
    bucketName: string,
    q: URLSearchParams,
    isUploadPath: boolean,
  ) => {
    const uploadType = q.get('uploadType');
    if (!isUploadPath || !uploadType || !['media', 'multipart', 'resumable'].includes(uploadType)) {
      throw new GcsError(
        400,
        'Upload requests must include an uploadType URL parameter and a URL path beginning with /upload/',
        'wrongUrlForUpload',
      );
    }
    const bucket = getBucket(bucketName);
    const preconditions = readPreconditions(q);
    if (uploadType === 'media') {
      const name = q.get('name');
      if (!name) throw new GcsError(400, 'Required', 'required');
      checkObjectName(name);
      const data = await readBody(req, maxObjectBytes);
      checkHashes(data, parseGoogHash(req.headers['x-goog-hash']));
      const meta: WritableMeta = { contentType: req.headers['content-type'] || undefined };
      const enc = q.get('contentEncoding');
      if (enc) meta.contentEncoding = enc;
      sendJson(res, 200, objectResource(storeObject(bucket, name, data, meta, preconditions)));
      return;
    }
    if (uploadType === 'multipart') {
      const ct = String(req.headers['content-type'] ?? '');
      if (!/^multipart\/related/i.test(ct)) throw new GcsError(400, 'A multipart upload needs Content-Type: multipart/related.');
      const body = await readBody(req, maxObjectBytes + MAX_JSON_BYTES);
      const { metadata, mediaType, media } = parseMultipart(ct, body);
      const name = q.get('name') || (typeof metadata.name === 'string' ? metadata.name : '');
      if (!name) throw new GcsError(400, 'Required', 'required');
      checkHashes(media, {
        md5: typeof metadata.md5Hash === 'string' ? metadata.md5Hash : undefined,
        crc32c: typeof metadata.crc32c === 'string' ? metadata.crc32c : undefined,
      });
      const meta = applyPatch({ contentType: mediaType }, metadata);
      sendJson(res, 200, objectResource(storeObject(bucket, name, media, meta, preconditions)));
      return;
    }
    // resumable: create the session; data comes with PUTs to the Location.
    const body = await readJson(req);
    const name = q.get('name') || (typeof body.name === 'string' ? body.name : '');
    if (!name) throw new GcsError(400, 'Required', 'required');
    checkObjectName(name);
    checkPreconditions(bucket.objects.get(name), preconditions);
    const xType = req.headers['x-upload-content-type'];
    const xLength = req.headers['x-upload-content-length'];
    const id = crypto.randomBytes(16).toString('hex');
    const session: UploadSession = {
      id,
      bucket: bucketName,
      name,
      preconditions,
      chunks: [],
      received: 0,
      meta: applyPatch({ contentType: typeof xType === 'string' ? xType : undefined }, body),
      declaredLength: typeof xLength === 'string' && /^\d+$/.test(xLength) ? Number(xLength) : undefined,
    };
    uploads.set(id, session);
    const location =
      `${endpoint}/upload/storage/v1/b/${encodeURIComponent(bucketName)}/o?uploadType=resumable` +
      `&name=${encodeURIComponent(name)}&upload_id=${id}`;
    res.writeHead(200, { Location: location, 'X-GUploader-UploadID': id, 'Content-Length': '0' });
    res.end();
  };

  const sendUploadStatus = (res: http.ServerResponse, s: UploadSession) => {
    if (s.result) {
      sendJson(res, 200, objectResource(s.result));
      return;
    }
    const headers: Record<string, string> = { 'Content-Length': '0' };
    if (s.received > 0) headers.Range = `bytes=0-${s.received - 1}`;
    res.writeHead(308, headers);
    res.end();
  };

  const finalizeUpload = (s: UploadSession, req: http.IncomingMessage): StoredObject => {
    const data = Buffer.concat(s.chunks, s.received);
    checkHashes(data, parseGoogHash(req.headers['x-goog-hash']));
    const o = storeObject(getBucket(s.bucket), s.name, data, s.meta, s.preconditions);
    s.result = o;
    s.chunks = [];
    return o;
  };

  const uploadChunk = async (req: http.IncomingMessage, res: http.ServerResponse, uploadId: string) => {
    const s = uploads.get(uploadId);
    if (!s) throw new GcsError(404, 'No such upload session.');
    const cr = req.headers['content-range'];
    if (s.result) {
      await readBody(req, maxObjectBytes).catch(() => undefined);
      sendJson(res, 200, objectResource(s.result));
      return;
    }
    if (cr === undefined) {
      // No Content-Range: this single request carries the whole object.
      const data = await readBody(req, maxObjectBytes);
      s.chunks = [data];
      s.received = data.length;
      sendJson(res, 200, objectResource(finalizeUpload(s, req)));
      return;
    }
    const m = /^\s*bytes\s+(?:\*|(\d+)-(\d+|\*))\/(\*|\d+)\s*$/i.exec(cr);
    if (!m) throw new GcsError(400, `Invalid Content-Range: ${cr}`);
    const total = m[3] === '*' ? undefined : Number(m[3]);
    if (m[1] === undefined) {
      // `bytes */T` or `bytes */*`: a status query, or the end of an upload whose length is now known.
      await readBody(req, 0);
      if (total !== undefined && total === s.received) {
        sendJson(res, 200, objectResource(finalizeUpload(s, req)));
        return;
      }
      if (total !== undefined && total < s.received)
        throw new GcsError(400, `The upload size ${total} is smaller than the ${s.received} bytes already uploaded.`);
      sendUploadStatus(res, s);
      return;
    }
    const first = Number(m[1]);
    if (first > s.received) {
      await readBody(req, maxObjectBytes).catch(() => undefined);
      throw new GcsError(
        400,
        `Invalid request. According to the Content-Range header, the upload offset is ${first} byte(s), ` +
          `which exceeds already uploaded size of ${s.received} byte(s).`,
      );
    }
    const data = await readBody(req, maxObjectBytes - first);
    if (m[2] !== '*' && Number(m[2]) - first + 1 !== data.length) {
      throw new GcsError(400, `The Content-Range ${cr} does not match the ${data.length} bytes sent.`);
    }
    // Bytes the server already has are skipped (a client resending after a lost answer).
    const fresh = data.subarray(Math.min(data.length, s.received - first));
    const end = first + data.length;
    const knownTotal = total ?? (m[2] === '*' ? end : s.declaredLength);
    if (knownTotal !== undefined && end > knownTotal) throw new GcsError(400, `The Content-Range ${cr} goes past the upload's size.`);
    if (knownTotal !== undefined && end === knownTotal) {
      s.chunks.push(fresh);
      s.received += fresh.length;
      sendJson(res, 200, objectResource(finalizeUpload(s, req)));
      return;
    }
    if (data.length < KiB256) {
      throw new GcsError(
        400,
        `Invalid request. The number of bytes uploaded is required to be equal or greater than ${KiB256}, ` +
          `except for the final request (it's recommended to be the exact multiple of ${KiB256}). ` +
          `The received request contained ${data.length} bytes, which does not meet this requirement.`,
      );
    }
    // Only whole 256 KiB units are persisted; the 308's Range tells the client where to resume.
    const keep = fresh.length - ((s.received + fresh.length) % KiB256);
    if (keep > 0) {
      s.chunks.push(fresh.subarray(0, keep));
      s.received += keep;
    }
    sendUploadStatus(res, s);
  };

  // ----- compose, rewrite, copy

  const compose = async (req: http.IncomingMessage, res: http.ServerResponse, bucketName: string, name: string, q: URLSearchParams) => {
    const body = await readJson(req);
    const bucket = getBucket(bucketName);
    const sources = body.sourceObjects;
    if (!Array.isArray(sources) || sources.length === 0)
      throw new GcsError(400, 'You must provide at least one source component.', 'required');
    if (sources.length > 32)
      throw new GcsError(400, `The number of source components provided (${sources.length}) exceeds the maximum (32)`);
    const parts: Buffer[] = [];
    let componentCount = 0;
    for (const src of sources as Record<string, unknown>[]) {
      if (typeof src?.name !== 'string' || !src.name) throw new GcsError(400, 'Required', 'required');
      const generation = src.generation === undefined ? undefined : Number(src.generation);
      const o = getObject(bucket, src.name, generation);
      const pre = src.objectPreconditions as { ifGenerationMatch?: unknown } | undefined;
      if (pre?.ifGenerationMatch !== undefined && Number(pre.ifGenerationMatch) !== o.generation) {
        throw new GcsError(412, CONDITION_NOT_MET);
      }
      parts.push(o.data);
      componentCount += o.componentCount ?? 1;
    }
    const dest = (body.destination ?? {}) as Record<string, unknown>;
    const o = storeObject(bucket, name, Buffer.concat(parts), applyPatch({}, dest), readPreconditions(q), { componentCount });
    sendJson(res, 200, objectResource(o));
  };

  const finishCopy = (st: RewriteState): StoredObject => {
    const src = st.source;
    // A rewrite's destination has the class it names, else the bucket's default (not the source's).
    const { retention: _r, temporaryHold: _t, eventBasedHold: _e, ...copied } = src.meta;
    const meta = applyPatch({ ...copied, storageClass: undefined }, st.patch);
    const composite = src.componentCount !== undefined ? { componentCount: src.componentCount } : undefined;
    return storeObject(getBucket(st.dstBucket), st.dstName, src.data, meta, st.preconditions, composite);
  };

  const rewriteOrCopy = async (
    req: http.IncomingMessage,
    res: http.ServerResponse,
    method: 'rewriteTo' | 'copyTo',
    srcBucket: string,
    srcName: string,
    dstBucket: string,
    dstName: string,
    q: URLSearchParams,
  ) => {
    const patch = await readJson(req);
    const token = q.get('rewriteToken');
    let st: RewriteState | undefined;
    if (method === 'rewriteTo' && token) {
      st = rewrites.get(token);
      if (!st || st.dstBucket !== dstBucket || st.dstName !== dstName) throw new GcsError(400, 'Invalid rewriteToken.');
    } else {
      const source = getObject(getBucket(srcBucket), srcName, intParam(q, 'sourceGeneration'));
      checkPreconditions(source, readPreconditions(q, 'ifSource'));
      const dst = getBucket(dstBucket);
      checkObjectName(dstName);
      const preconditions = readPreconditions(q);
      checkPreconditions(dst.objects.get(dstName), preconditions);
      const asked = intParam(q, 'maxBytesRewrittenPerCall');
      if (asked !== undefined && (asked <= 0 || asked % (1024 * 1024) !== 0)) {
        throw new GcsError(400, 'maxBytesRewrittenPerCall must be a positive multiple of 1048576.');
      }
      const perCall = method === 'copyTo' ? Infinity : Math.min(asked ?? Infinity, opts.rewriteBytesPerCall ?? Infinity);
      st = { source, dstBucket, dstName, patch, preconditions, perCall, copied: 0 };
    }
    st.copied = Math.min(st.source.data.length, st.copied + st.perCall);
    if (method === 'copyTo') {
      sendJson(res, 200, objectResource(finishCopy(st)));
      return;
    }
    const progress = {
      kind: 'storage#rewriteResponse',
      totalBytesRewritten: String(st.copied),
      objectSize: String(st.source.data.length),
    };
    if (st.copied < st.source.data.length) {
      const next = token ?? crypto.randomBytes(24).toString('base64url');
      rewrites.set(next, st);
      sendJson(res, 200, { ...progress, done: false, rewriteToken: next });
      return;
    }
    if (token) rewrites.delete(token);
    sendJson(res, 200, { ...progress, done: true, resource: objectResource(finishCopy(st)) });
  };

  // ----- routing

  const route = async (req: http.IncomingMessage, res: http.ServerResponse, rawPath: string, q: URLSearchParams) => {
    const method = req.method ?? 'GET';
    const pm = /^\/(upload\/|download\/)?storage\/v1(\/.*)$/.exec(rawPath);
    if (!pm) throw new GcsError(404, 'Not Found');
    const isUploadPath = pm[1] === 'upload/';
    const seg = pm[2].split('/').slice(1);
    const notAllowed = () => new GcsError(405, `Method ${method} is not allowed on ${rawPath}.`, 'methodNotAllowed');

    // /b
    if (seg.length === 1 && seg[0] === 'b') {
      if (method === 'GET') {
        if (!q.get('project')) throw new GcsError(400, 'Required parameter: project', 'required');
        const prefix = q.get('prefix') ?? '';
        const items = [...buckets.values()]
          .filter((b) => b.name.startsWith(prefix))
          .sort((a, b) => utf8Compare(a.name, b.name))
          .map(bucketResource);
        sendJson(res, 200, items.length ? { kind: 'storage#buckets', items } : { kind: 'storage#buckets' });
        return;
      }
      if (method === 'POST') {
        const body = await readJson(req);
        if (!q.get('project')) throw new GcsError(400, 'Required parameter: project', 'required');
        const name = typeof body.name === 'string' ? body.name : '';
        checkBucketName(name);
        if (buckets.has(name)) {
          throw new GcsError(409, 'Your previous request to create the named bucket succeeded and you already own it.');
        }
        sendJson(res, 200, bucketResource(createBucket(name, q.get('enableObjectRetention') === 'true')));
        return;
      }
      throw notAllowed();
    }
    if (seg[0] !== 'b' || seg.length < 2) throw new GcsError(404, 'Not Found');
    const bucketName = decodeSegment(seg[1]);

    // /b/{bucket}
    if (seg.length === 2) {
      if (method === 'GET') {
        sendJson(res, 200, bucketResource(getBucket(bucketName)));
        return;
      }
      if (method === 'DELETE') {
        const b = getBucket(bucketName);
        if (b.objects.size > 0) throw new GcsError(409, 'The bucket you tried to delete is not empty.');
        buckets.delete(bucketName);
        res.writeHead(204);
        res.end();
        return;
      }
      throw new GcsError(501, `${method} ${rawPath} is not implemented by the GCS double.`);
    }
    if (seg[2] !== 'o') throw new GcsError(501, `${method} ${rawPath} is not implemented by the GCS double.`);

    // /b/{bucket}/o
    if (seg.length === 3) {
      const uploadId = q.get('upload_id');
      if (uploadId && isUploadPath) {
        if (method === 'PUT' || method === 'POST') return uploadChunk(req, res, uploadId);
        if (method === 'DELETE') {
          if (!uploads.delete(uploadId)) throw new GcsError(404, 'No such upload session.');
          // GCS answers a cancelled session with 499.
          res.writeHead(499, { 'Content-Length': '0' });
          res.end();
          return;
        }
        throw notAllowed();
      }
      if (method === 'GET') {
        sendJson(res, 200, listObjects(getBucket(bucketName), q));
        return;
      }
      if (method === 'POST') return insertObject(req, res, bucketName, q, isUploadPath);
      throw notAllowed();
    }
    const objectName = decodeSegment(seg[3]);

    // /b/{bucket}/o/{object}
    if (seg.length === 4) {
      const bucket = getBucket(bucketName);
      if (method === 'GET') {
        const o = getObject(bucket, objectName, intParam(q, 'generation'));
        checkPreconditions(o, readPreconditions(q));
        if (q.get('alt') === 'media') serveMedia(req, res, o);
        else sendJson(res, 200, objectResource(o));
        return;
      }
      if (method === 'DELETE') {
        const o = getObject(bucket, objectName, intParam(q, 'generation'));
        checkPreconditions(o, readPreconditions(q));
        checkNotProtected(o);
        bucket.objects.delete(objectName);
        res.writeHead(204);
        res.end();
        return;
      }
      if (method === 'PATCH' || method === 'PUT') {
        const body = await readJson(req);
        const o = getObject(bucket, objectName, intParam(q, 'generation'));
        checkPreconditions(o, readPreconditions(q));
        // PUT (objects.update) replaces every writable field; PATCH merges.
        const next: StoredObject = {
          ...o,
          // The class is not changed by a patch or an update: only a rewrite changes it.
          meta: { ...applyPatch(method === 'PUT' ? {} : o.meta, { ...body, storageClass: undefined }), storageClass: o.meta.storageClass },
          metageneration: o.metageneration + 1,
          updated: now(),
        };
        if (next.meta.retention && !bucket.objectRetention)
          throw new GcsError(400, `Object retention is not enabled on bucket ${bucket.name}.`, 'invalid');
        checkRetentionChange(o.meta.retention, next.meta.retention, q.get('overrideUnlockedRetention') === 'true');
        bucket.objects.set(objectName, next);
        sendJson(res, 200, objectResource(next));
        return;
      }
      throw notAllowed();
    }

    // /b/{bucket}/o/{object}/compose
    if (seg.length === 5 && seg[4] === 'compose') {
      if (method !== 'POST') throw notAllowed();
      return compose(req, res, bucketName, objectName, q);
    }

    // /b/{bucket}/o/{object}/(rewriteTo|copyTo)/b/{bucket}/o/{object}
    if (seg.length === 9 && (seg[4] === 'rewriteTo' || seg[4] === 'copyTo') && seg[5] === 'b' && seg[7] === 'o') {
      if (method !== 'POST') throw notAllowed();
      return rewriteOrCopy(req, res, seg[4], bucketName, objectName, decodeSegment(seg[6]), decodeSegment(seg[8]), q);
    }
    throw new GcsError(501, `${method} ${rawPath} is not implemented by the GCS double.`);
  };

  const takeFault = (entry: LoggedRequest): Fault | undefined => {
    const f = faults.find((x) => {
      const { method, path, match } = x.filter;
      if (method && method.toUpperCase() !== entry.method.toUpperCase()) return false;
      if (typeof path === 'string' && !entry.path.includes(path)) return false;
      if (path instanceof RegExp && !path.test(entry.path)) return false;
      return !match || match(entry);
    });
    if (!f) return undefined;
    if (--f.remaining <= 0) faults = faults.filter((x) => x !== f);
    return f;
  };

  const handle = async (req: http.IncomingMessage, res: http.ServerResponse) => {
    // Not `new URL()`: it would collapse %2E%2E path segments, which are object names here.
    const rawUrl = req.url ?? '/';
    const qi = rawUrl.indexOf('?');
    const rawPath = qi < 0 ? rawUrl : rawUrl.slice(0, qi);
    const q = new URLSearchParams(qi < 0 ? '' : rawUrl.slice(qi + 1));
    const entry: LoggedRequest = { method: req.method ?? 'GET', path: rawPath, query: Object.fromEntries(q), headers: req.headers };
    requests.push(entry);
    const fault = takeFault(entry);
    if (fault) {
      if (fault.filter.resetConnection) {
        req.socket.destroy();
        return;
      }
      // Read the body first so the client sees the status, not a broken pipe.
      await readBody(req, maxObjectBytes + MAX_JSON_BYTES).catch(() => undefined);
      throw new GcsError(
        fault.status,
        fault.filter.message ?? `Injected failure (${fault.status} ${fault.reason}).`,
        fault.reason,
        fault.filter.headers,
      );
    }
    await route(req, res, rawPath, q);
  };

  const answerError = async (req: http.IncomingMessage, res: http.ServerResponse, err: unknown) => {
    if (err instanceof BodyAborted) {
      req.socket.destroy();
      return;
    }
    if (res.headersSent) {
      res.destroy();
      return;
    }
    const gcsErr = err instanceof GcsError ? err : new GcsError(500, `GCS double bug: ${String((err as Error)?.stack ?? err)}`);
    // Errors found before the body was read (no such bucket, bad name...): read it anyway, so the
    // client gets the answer rather than a broken pipe. Over the size limit: close instead.
    const drained =
      gcsErr.status !== 413 &&
      (req.readableEnded ||
        (await readBody(req, maxObjectBytes + MAX_JSON_BYTES).then(
          () => true,
          () => false,
        )));
    if (!drained) {
      res.setHeader('Connection', 'close');
      res.once('finish', () => req.socket.destroy());
    }
    sendError(res, gcsErr);
  };

  const server = http.createServer((req, res) => {
    handle(req, res).catch((err: unknown) => answerError(req, res, err));
  });
  server.keepAliveTimeout = 5000;
  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen(0, '127.0.0.1', () => {
      server.off('error', reject);
      resolve();
    });
  });
  const port = (server.address() as AddressInfo).port;
  endpoint = `http://127.0.0.1:${port}`;

  return {
    port,
    endpoint,
    projectId,
    requests,
    failNext(n, status = 503, reason, filter = {}) {
      if (n > 0) faults.push({ remaining: n, status, reason: reason ?? DEFAULT_REASONS[status] ?? 'backendError', filter });
    },
    peek(bucket, name) {
      const o = buckets.get(bucket)?.objects.get(name);
      return o && { resource: objectResource(o), data: o.data };
    },
    reset,
    stop: () =>
      new Promise<void>((resolve) => {
        server.close(() => resolve());
        server.closeAllConnections();
      }),
  };
}
