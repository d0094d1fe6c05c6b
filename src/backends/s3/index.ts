/**
 * The S3-compatible backend (`s3://bucket/prefix`): AWS S3, MinIO, R2, Ceph RGW, OCI's S3
 * compatibility API, s3rver ... spoken to directly over HTTP (undici), signed with SigV4
 * (sign.ts). Transport, retries and addressing: http.ts; the error table: errors.ts;
 * credentials: credentials.ts; native multipart: multipart.ts.
 *
 * Choices worth knowing:
 * - Reads: openObject sends the GET and keeps its body; a whole-object read() is that body
 *   (one round trip). A partial range discards it and sends a ranged GET with
 *   `If-Match: <etag>`, so metadata and bytes always belong to one version. An object of up to
 *   64 KiB is read whole when opened and answered from memory (any range cut from its bytes). headObject is a
 *   HEAD; tags are fetched (GET ?tagging) only when the store reports x-amz-tagging-count.
 * - Bodies of up to 64 KiB are read whole first and sent as one signed payload (the store
 *   verifies their SHA-256). Larger uploads stream with their Content-Length and
 *   UNSIGNED-PAYLOAD, never aws-chunked. The last chunk is held back until the body has
 *   ended without error (s3mux's own checks of the client's MD5 and signed SHA-256 run as it
 *   ends), so a body that fails its checksum at the very end never reaches the store
 *   complete. A body of unknown length
 *   is read into memory up to `unknownSizePartBytes` (8 MiB): if it ends there it is one PUT
 *   (the usual case: a body without Content-Length is rare, as S3 itself requires one), else
 *   it becomes the store's own multipart upload in parts of that size — bounded memory, and
 *   the object then has a multipart (`-N`) ETag. Known sizes above 5 GiB (S3's PUT limit)
 *   stream as multipart parts without buffering.
 * - Write conditions (If-Match / If-None-Match: *) are sent to the store (`conditionalWrites:
 *   'native'`, the default: AWS S3 since 2024, MinIO, R2, s3mux). For stores that ignore
 *   them (s3rver, older Ceph) `'check'` HEADs the key first under a per-key lock: atomic
 *   against writers in this process only.
 * - PutOptions.etag cannot be honoured (the store computes its own ETag): it only serves
 *   multipart uploads assembled through putObject, which never happens here because this
 *   backend has a native MultipartStore.
 * - Trailing checksums (known only after the body) cannot be forwarded without aws-chunked;
 *   checksums known before the body are sent as x-amz-checksum-* for the store to verify
 *   and keep.
 */
import { PassThrough, type Readable } from 'node:stream';
import { bodyFailure, S3Error, isS3Error } from '../../errors';
import { checkWriteConditions, hasWriteConditions } from '../conditions';
import { validateBucketName } from '../keys';
import { compareKeys } from '../listing';
import { CHECKSUM_ALGORITHMS, type ChecksumAlgorithm, type ChecksumType, type ListedChecksum } from '../listed-checksum';
import type {
  Backend,
  BackendCapabilities,
  BucketInfo,
  ByteRange,
  ListOptions,
  ListPage,
  ObjectAttributes,
  ObjectHandle,
  ObjectMeta,
  ObjectSummary,
  PartRange,
  PutOptions,
  Tag,
  WriteConditions,
  CreateBucketOptions,
} from '../types';
import type { S3Settings } from './settings';
import { ChunkReader, holdLast, relay, window } from './body';
import { CachedCredentials, credentialsFromSettings, staticCredentials, type CredentialSource, type S3Credentials } from './credentials';
import { attributeHeaders, metaFrom, parseDate, taggingHeader, unquote } from './headers';
import { networkError, storeSaidNoSuchKey } from './errors';
import { discard, md5Base64, S3Http, type RetryOptions, type S3Reply, type TimeoutOptions } from './http';
import { copySource, S3MultipartStore } from './multipart';
import { bool, child, escapeXml, list, S3_NS, text, urlDecoded, XML_HEADER } from './xml';
import { KeyedLock } from '../keyed-lock';
import { BytesObjectHandle } from '../bytes-handle';
import { checkClientKey, coversDocuments, isDocumentKey, PAST_DOCUMENTS } from './client-keys';
import { ObjectReservedStore, RESERVED_DOCS_PREFIX, type ReservedObject } from '../reserved-objects';
import { s3ReservedObjects } from './reserved';
import { StoreEncryption, storedUnencrypted } from './encryption';
import { mapBounded } from '../../bounded-map';

export { S3Http, encodeKey, encodeSegment, type RetryOptions, type TimeoutOptions } from './http';
export {
  CachedCredentials,
  credentialsFromSettings,
  chainCredentials,
  staticCredentials,
  type CredentialSource,
  type S3Credentials,
} from './credentials';
export { S3MultipartStore } from './multipart';

export interface S3BackendOptions {
  /** The backend's name in the routing table, for messages. */
  name?: string;
  /**
   * Keep s3mux's own state (bucket configuration, versions) in the store's `.s3mux/r/` area
   * (default true). False: features that need that state answer NotImplemented on this
   * backend (credentials that may not write there, a bucket other tools own).
   */
  stateInStore?: boolean;
  /** Signing region. Default: AWS_REGION, AWS_DEFAULT_REGION, else us-east-1. */
  region?: string;
  /** http(s) URL of the store. Default: https://s3.<region>.amazonaws.com. */
  endpoint?: string;
  /** Path-style addressing (`endpoint/bucket/key`). Default false: virtual-hosted where the bucket name allows. */
  forcePathStyle?: boolean;
  /** Static keys or a provider. Default: the AWS SDK's Node provider chain. */
  credentials?: S3Credentials | CredentialSource;
  /** How write conditions are enforced (see the file comment). Default 'native'. */
  conditionalWrites?: 'native' | 'check';
  retry?: RetryOptions;
  timeouts?: TimeoutOptions;
  /** Sockets per origin. Default 128. */
  connections?: number;
  /** Bodies of unknown length: buffered up to this size, then multipart parts of it. Default 8 MiB (>= 5 MiB). */
  unknownSizePartBytes?: number;
  /** Largest single PUT or CopyObject; above it, multipart. Default 5 GiB. */
  maxSingleBytes?: number;
  /** Smallest part size for large uploads and multipart copies. Default 256 MiB. */
  largePartBytes?: number;
  /** Environment for region defaults. Default process.env. */
  env?: NodeJS.ProcessEnv;
}

const MiB = 1024 * 1024;
const GiB = 1024 * MiB;
const MAX_PARTS = 10_000;

function defaultEndpoint(region: string): string {
  return `https://s3.${region}.amazonaws.com${region.startsWith('cn-') ? '.cn' : ''}`;
}

const NOT_LISTED: ListedChecksum = {};
const LISTED_TYPES: readonly string[] = ['COMPOSITE', 'FULL_OBJECT'] satisfies ChecksumType[];

/**
 * The checksum a store's listing names for an object (ChecksumAlgorithm, ChecksumType), passed
 * on as it says it: AWS names one for every object written since 2025 (a default CRC64NVME),
 * others name none. A store that names an algorithm without a type (as AWS did before 2025) gets
 * none invented here.
 */
function listedChecksumOf(c: unknown): ListedChecksum {
  const named = list(child(c, 'ChecksumAlgorithm'));
  if (named.length === 0) return NOT_LISTED;
  const alg = text(named[0])?.toLowerCase();
  if (!CHECKSUM_ALGORITHMS.includes(alg as ChecksumAlgorithm)) return NOT_LISTED;
  const type = text(child(c, 'ChecksumType'));
  return {
    checksumAlgorithm: alg as ChecksumAlgorithm,
    ...(type !== undefined && LISTED_TYPES.includes(type) ? { checksumType: type as ChecksumType } : {}),
  };
}

/**
 * The attributes a copy keeps from its source. Not the source's encryption, which the store
 * reported: a copy is encrypted as its own request asks (or by the destination's default).
 */
function attributesOf(meta: ObjectMeta): ObjectAttributes {
  const { key: _k, size: _s, etag: _e, lastModified: _l, serverSideEncryption: _sse, ...attrs } = meta;
  return storedCopy(attrs);
}

function storedCopy(attrs: ObjectAttributes): ObjectAttributes {
  return { ...attrs, userMetadata: { ...(attrs.userMetadata ?? {}) }, ...(attrs.tags ? { tags: attrs.tags.map((t) => ({ ...t })) } : {}) };
}

class S3ObjectHandle implements ObjectHandle {
  private pending: S3Reply['body'] | undefined;
  private closed = false;

  constructor(
    readonly meta: ObjectMeta,
    pending: S3Reply['body'],
    private readonly backend: S3Backend,
    private readonly bucket: string,
  ) {
    this.pending = pending;
  }

  read(range?: ByteRange): Readable {
    if (this.closed) throw new S3Error('InternalError', 'The object handle is closed.');
    const size = this.meta.size;
    const whole = range === undefined || (range.start === 0 && range.end === size - 1);
    if (whole && this.pending) {
      const body = this.pending;
      this.pending = undefined;
      return relay(body, this.backend.http.name);
    }
    this.release();
    if (whole && size === 0) return relay(emptyBody(), this.backend.http.name);
    const out = new PassThrough({ highWaterMark: 64 * 1024 });
    this.backend.getVersion(this.bucket, this.meta, whole ? undefined : range).then(
      (stream) => {
        if (out.destroyed) {
          stream.destroy();
          return;
        }
        stream.on('error', (err) => out.destroy(err));
        out.on('close', () => stream.destroy());
        stream.pipe(out);
      },
      (err: unknown) => out.destroy(err as Error),
    );
    return out;
  }

  private release(): void {
    const body = this.pending;
    this.pending = undefined;
    discard(body);
  }

  async close(): Promise<void> {
    this.closed = true;
    this.release();
  }
}

/**
 * Bodies up to this size are read whole before the PUT is sent: one write to the store instead
 * of a stream relay, the payload's SHA-256 signed (the store verifies it: stronger than
 * UNSIGNED-PAYLOAD), and the PUT may be retried after a network failure. Memory stays bounded
 * (this much per request in flight).
 */
const SMALL_PUT_BYTES = 64 * 1024;

/** Exactly `size` bytes of `body`, which must end there; its own failures (checksums, a client gone) as S3 errors. */
async function readWhole(body: Readable, size: number): Promise<Buffer> {
  const reader = new ChunkReader(body);
  let got: { data: Buffer; ended: boolean };
  try {
    got = await reader.readUpTo(size);
  } catch (err) {
    throw bodyFailure(err);
  }
  if (got.data.length < size) throw new S3Error('IncompleteBody');
  if (!got.ended) throw new S3Error('IncompleteBody', 'The request body is longer than its announced length.');
  return got.data;
}

/**
 * Objects up to this size are read whole when opened and answered from memory (BytesObjectHandle):
 * no relay stream per GET, and a range of one is cut from the bytes instead of asked for again.
 */
const SMALL_GET_BYTES = 64 * 1024;

/** The whole answer body, which must be `size` bytes; the store's failures as S3 errors. */
async function wholeBody(body: S3Reply['body'], size: number, backend: string): Promise<Buffer> {
  let data: Buffer;
  try {
    data = Buffer.from(await body.arrayBuffer());
  } catch (err) {
    throw networkError(err, backend);
  }
  if (data.length !== size)
    throw new S3Error('InternalError', `The storage backend '${backend}' answered ${data.length} of ${size} bytes.`);
  return data;
}

function emptyBody(): S3Reply['body'] {
  const p = new PassThrough();
  p.end();
  return p as unknown as S3Reply['body'];
}

export class S3Backend implements Backend {
  readonly kind = 's3';
  // The store's CopyObject gives a multipart source's copy its own one-part ETag, as S3 does.
  readonly capabilities: BackendCapabilities = { serverSideCopy: true, copyMakesOnePart: true };
  readonly http: S3Http;
  readonly multipart: S3MultipartStore;
  /** Documents as objects under `.s3mux/r/` (client keys there are refused), compare-and-swap on the ETag (reserved.ts); unless `stateInStore: false`. */
  readonly reserved?: ObjectReservedStore;
  readonly region: string;
  private readonly conditionalWrites: 'native' | 'check';
  /** Whether the store encrypts the SSE-S3 writes it is asked for (encryption.ts). */
  private readonly encryption: StoreEncryption;
  private readonly locks = new KeyedLock();
  private readonly unknownSizePartBytes: number;
  private readonly maxSingleBytes: number;
  private readonly largePartBytes: number;
  /** Bucket creation dates from ListBuckets (HEAD does not carry one). */
  private readonly bucketDates = new Map<string, Date>();
  private bucketDatesAt = 0;

  constructor(opts: S3BackendOptions = {}) {
    const env = opts.env ?? process.env;
    const name = opts.name ?? 's3';
    this.region = opts.region ?? env.AWS_REGION ?? env.AWS_DEFAULT_REGION ?? 'us-east-1';
    let endpoint: URL;
    try {
      endpoint = new URL(opts.endpoint ?? defaultEndpoint(this.region));
    } catch {
      throw new Error(`s3 backend '${name}': endpoint '${opts.endpoint}' is not a URL`);
    }
    if (endpoint.protocol !== 'http:' && endpoint.protocol !== 'https:')
      throw new Error(`s3 backend '${name}': endpoint must be http:// or https://`);
    const source: CredentialSource =
      typeof opts.credentials === 'function'
        ? opts.credentials
        : opts.credentials
          ? staticCredentials(opts.credentials)
          : credentialsFromSettings(undefined, `s3 backend '${name}'`, env);
    this.http = new S3Http({
      name,
      endpoint,
      region: this.region,
      forcePathStyle: opts.forcePathStyle ?? false,
      credentials: new CachedCredentials(source, `s3 backend '${name}'`),
      retry: opts.retry,
      timeouts: opts.timeouts,
      connections: opts.connections,
    });
    this.conditionalWrites = opts.conditionalWrites ?? 'native';
    this.unknownSizePartBytes = Math.max(5 * MiB, opts.unknownSizePartBytes ?? 8 * MiB);
    this.maxSingleBytes = opts.maxSingleBytes ?? 5 * GiB;
    this.largePartBytes = Math.max(5 * MiB, opts.largePartBytes ?? 256 * MiB);
    this.encryption = new StoreEncryption(this.http);
    this.multipart = new S3MultipartStore({
      http: this.http,
      encryption: this.encryption,
      withConditions: (b, k, o, commit) => this.withConditions(b, k, o?.conditions, commit),
      headObject: (b, k) => this.headAt(b, k),
    });
    if (opts.stateInStore !== false) this.reserved = new ObjectReservedStore(s3ReservedObjects(this));
  }

  // ---------------------------------------------------------------- conditions

  /**
   * Runs a commit (PUT, Complete, CopyObject) under the write conditions: as If-Match /
   * If-None-Match headers the store enforces, or checked with a HEAD first under this
   * process's lock for the key.
   */
  private async withConditions<T>(
    bucket: string,
    key: string,
    cond: WriteConditions | undefined,
    commit: (headers: Record<string, string>) => Promise<T>,
  ): Promise<T> {
    if (!hasWriteConditions(cond)) return commit({});
    if (this.conditionalWrites === 'native') {
      const h: Record<string, string> = {};
      if (cond?.ifMatch)
        h['if-match'] = cond.ifMatch.trim() === '*' || cond.ifMatch.includes('"') ? cond.ifMatch : `"${cond.ifMatch.trim()}"`;
      if (cond?.ifNoneMatch) h['if-none-match'] = cond.ifNoneMatch;
      return commit(h);
    }
    return this.locks.run(`${bucket}\0${key}`, async () => {
      const current = await this.headAt(bucket, key).catch((err: unknown) => {
        if (isS3Error(err, 'NoSuchKey')) return undefined;
        throw err;
      });
      checkWriteConditions(current, cond);
      return commit({});
    });
  }

  // ---------------------------------------------------------------- buckets

  async listBuckets(): Promise<BucketInfo[]> {
    const out: BucketInfo[] = [];
    let token: string | undefined;
    for (let page = 0; page < 1000; page++) {
      const { doc } = await this.http.sendXml({ method: 'GET', query: token ? { 'continuation-token': token } : undefined });
      const root = doc?.ListAllMyBucketsResult;
      for (const b of list(child(child(root, 'Buckets'), 'Bucket'))) {
        const name = text(child(b, 'Name'));
        if (name) out.push({ name, creationDate: parseDate(text(child(b, 'CreationDate'))) ?? new Date(0) });
      }
      token = text(child(root, 'ContinuationToken')) || undefined;
      if (!token) break;
    }
    out.sort((a, b) => compareKeys(a.name, b.name));
    this.bucketDates.clear();
    for (const b of out) this.bucketDates.set(b.name, b.creationDate);
    this.bucketDatesAt = Date.now();
    return out;
  }

  private async creationDate(bucket: string): Promise<Date> {
    let d = this.bucketDates.get(bucket);
    if (d) return d;
    if (Date.now() - this.bucketDatesAt > 2000) {
      await this.listBuckets().catch(() => {
        this.bucketDatesAt = Date.now(); // ListBuckets not allowed: do not ask on every HEAD
      });
      d = this.bucketDates.get(bucket);
    }
    return d ?? new Date(0);
  }

  async createBucket(bucket: string, opts: CreateBucketOptions = {}): Promise<void> {
    validateBucketName(bucket);
    // us-east-1 answers 200 when you re-create a bucket you own: ask first, so the answer is
    // S3's everywhere. Anything but a 200 (absent, someone else's, another region) lets the
    // PUT give the store's own answer.
    const exists = await this.headBucketRaw(bucket).then(
      () => true,
      () => false,
    );
    if (exists) throw new S3Error('BucketAlreadyOwnedByYou', undefined, { BucketName: bucket });
    const body =
      this.region === 'us-east-1'
        ? undefined
        : `${XML_HEADER}<CreateBucketConfiguration xmlns="${S3_NS}"><LocationConstraint>${escapeXml(this.region)}</LocationConstraint></CreateBucketConfiguration>`;
    const reply = await this.http.send({
      method: 'PUT',
      bucket,
      body,
      headers: {
        ...(body ? { 'content-type': 'application/xml' } : {}),
        // S3 turns the bucket's versioning on with it.
        ...(opts.objectLock ? { 'x-amz-bucket-object-lock-enabled': 'true' } : {}),
      },
      notFound: 'NoSuchBucket',
    });
    discard(reply.body);
    this.bucketDates.set(bucket, parseDate(reply.headers.date) ?? new Date());
  }

  // Existing buckets are not held to today's naming rules (legacy us-east-1 names exist).
  async deleteBucket(bucket: string): Promise<void> {
    // s3mux's documents do not make the bucket non-empty, and go with it (S3 drops a bucket's
    // configuration with it). An object written between the check and the DELETE keeps the
    // bucket, without its documents.
    const left = await this.listObjects(bucket, { prefix: '', maxKeys: 1 });
    if (left.objects.length + left.commonPrefixes.length > 0) throw new S3Error('BucketNotEmpty', undefined, { BucketName: bucket });
    for (let docs = await this.listDocuments(bucket, RESERVED_DOCS_PREFIX, undefined, 1000); docs.length > 0;) {
      for (const d of docs) await this.deleteDocument(bucket, d.name);
      docs = await this.listDocuments(bucket, RESERVED_DOCS_PREFIX, undefined, 1000);
    }
    const reply = await this.http.send({ method: 'DELETE', bucket, notFound: 'NoSuchBucket' });
    discard(reply.body);
    this.bucketDates.delete(bucket);
  }

  private async headBucketRaw(bucket: string): Promise<void> {
    const reply = await this.http.send({ method: 'HEAD', bucket, notFound: 'NoSuchBucket' });
    discard(reply.body);
  }

  async headBucket(bucket: string): Promise<BucketInfo> {
    await this.headBucketRaw(bucket).catch((err: unknown) => {
      if (isS3Error(err, 'NoSuchBucket')) this.bucketDates.delete(bucket);
      throw err;
    });
    return { name: bucket, creationDate: await this.creationDate(bucket) };
  }

  /** A 404 without a code (HEAD) names no culprit: NoSuchBucket when the bucket is gone, else the key. */
  private async notFound(bucket: string, err: unknown): Promise<never> {
    if (isS3Error(err, 'NoSuchKey') && !storeSaidNoSuchKey(err)) await this.headBucketRaw(bucket);
    throw err;
  }

  // ---------------------------------------------------------------- reading

  private async tags(bucket: string, key: string): Promise<Tag[]> {
    const { doc } = await this.http.sendXml({ method: 'GET', bucket, key, query: { tagging: '' }, notFound: 'NoSuchKey' });
    return list(child(child(doc?.Tagging, 'TagSet'), 'Tag')).map((t) => ({
      key: text(child(t, 'Key')) ?? '',
      value: text(child(t, 'Value')) ?? '',
    }));
  }

  async headObject(bucket: string, key: string): Promise<ObjectMeta> {
    checkClientKey(key);
    return this.headAt(bucket, key);
  }

  /** HEAD on any key (conditions checked on s3mux's own documents too). */
  private async headAt(bucket: string, key: string): Promise<ObjectMeta> {
    const reply = await this.http
      .send({ method: 'HEAD', bucket, key, headers: { 'x-amz-checksum-mode': 'ENABLED' }, notFound: 'NoSuchKey' })
      .catch((err: unknown) => this.notFound(bucket, err));
    discard(reply.body);
    const { meta, tagCount } = metaFrom(key, reply.headers, Number(reply.headers['content-length'] ?? 0));
    if (tagCount > 0) meta.tags = await this.tags(bucket, key);
    return meta;
  }

  async openObject(bucket: string, key: string): Promise<ObjectHandle> {
    checkClientKey(key);
    const reply = await this.http
      .send({ method: 'GET', bucket, key, headers: { 'x-amz-checksum-mode': 'ENABLED' }, notFound: 'NoSuchKey' })
      .catch((err: unknown) => this.notFound(bucket, err));
    try {
      const size = Number(reply.headers['content-length'] ?? 0);
      const { meta, tagCount } = metaFrom(key, reply.headers, size);
      // A small body is read before the tags are asked for: its connection is free for them.
      const data = size <= SMALL_GET_BYTES ? await wholeBody(reply.body, size, this.http.name) : undefined;
      if (tagCount > 0) meta.tags = await this.tags(bucket, key);
      return data ? new BytesObjectHandle(meta, data) : new S3ObjectHandle(meta, reply.body, this, bucket);
    } catch (err) {
      discard(reply.body);
      throw err;
    }
  }

  /**
   * Part `partNumber` of the object, as the store answers a HEAD ?partNumber=N (Content-Range and
   * x-amz-mp-parts-count), only while the object is still the one with ETag `etag`. The store keeps
   * the part layout; this backend does not copy it beside the object.
   */
  async partRange(bucket: string, key: string, partNumber: number, etag: string): Promise<PartRange | undefined> {
    checkClientKey(key);
    let reply: S3Reply;
    try {
      reply = await this.http.send({
        method: 'HEAD',
        bucket,
        key,
        query: { partNumber },
        headers: { 'if-match': `"${etag}"` },
        notFound: 'NoSuchKey',
      });
    } catch (err) {
      // Replaced meanwhile, gone, or a part the store does not have: the store cannot say.
      if (err instanceof S3Error && [404, 412, 416].includes(err.status)) return undefined;
      throw err;
    }
    discard(reply.body);
    const m = /^bytes (\d+)-(\d+)\/\d+$/.exec(reply.headers['content-range'] ?? '');
    const partsCount = Number(reply.headers['x-amz-mp-parts-count']);
    if (!m || !Number.isInteger(partsCount) || partsCount < 1) return undefined;
    return { start: Number(m[1]), end: Number(m[2]), partsCount };
  }

  /** The bytes of the version `meta` describes (If-Match on its ETag), whole or a range. */
  async getVersion(bucket: string, meta: ObjectMeta, range: ByteRange | undefined): Promise<Readable> {
    const headers: Record<string, string> = { 'if-match': `"${meta.etag}"` };
    if (range) headers.range = `bytes=${range.start}-${range.end}`;
    let reply: S3Reply;
    try {
      reply = await this.http.send({ method: 'GET', bucket, key: meta.key, headers, notFound: 'NoSuchKey' });
    } catch (err) {
      if (isS3Error(err, 'PreconditionFailed') || isS3Error(err, 'NoSuchKey')) {
        throw new S3Error('InternalError', 'The object changed while it was being read; please try again.');
      }
      throw err;
    }
    const body = relay(reply.body, this.http.name);
    if (!range) return body;
    // Some stores answer with more than the range (s3rver ignores an end of 0) or the whole object.
    const m = /^bytes (\d+)-(\d+)\//.exec(reply.headers['content-range'] ?? '');
    const got =
      reply.status === 206 && m
        ? { start: Number(m[1]), end: Number(m[2]) }
        : reply.status === 200
          ? { start: 0, end: meta.size - 1 }
          : undefined;
    if (!got || got.start > range.start || got.end < range.end) {
      body.destroy();
      throw new S3Error('InternalError', `The storage backend '${this.http.name}' did not answer the Range request.`);
    }
    if (got.start === range.start && got.end === range.end) return body;
    return window(body, range.start - got.start, range.end - range.start + 1);
  }

  // ---------------------------------------------------------------- writing

  async putObject(bucket: string, key: string, body: Readable, attrs: ObjectAttributes, opts: PutOptions = {}): Promise<ObjectMeta> {
    checkClientKey(key);
    if (attrs.serverSideEncryption) await this.encryption.before(bucket);
    const size = opts.size;
    if (size === undefined) return this.putUnknownSize(bucket, key, body, attrs, opts.conditions);
    if (size > this.maxSingleBytes) return this.putLarge(bucket, key, body, size, attrs, opts.conditions);
    // The client's Content-MD5 goes on to the store, which checks the bytes that reached it.
    const md5: Record<string, string> = opts.md5 === undefined ? {} : { 'content-md5': Buffer.from(opts.md5, 'hex').toString('base64') };
    if (size <= SMALL_PUT_BYTES) {
      const data = await readWhole(body, size);
      return this.withConditions(bucket, key, opts.conditions, (h) => this.putSingle(bucket, key, data, size, attrs, { ...h, ...md5 }));
    }
    return this.withConditions(bucket, key, opts.conditions, (h) =>
      this.putSingle(bucket, key, holdLast(body), size, attrs, { ...h, ...md5 }),
    );
  }

  private async putSingle(
    bucket: string,
    key: string,
    body: Readable | Buffer,
    size: number,
    attrs: ObjectAttributes,
    extra: Record<string, string>,
  ): Promise<ObjectMeta> {
    const reply = await this.http.send({
      method: 'PUT',
      bucket,
      key,
      body,
      contentLength: size,
      headers: { ...attributeHeaders(attrs), ...extra },
      notFound: 'NoSuchBucket',
    });
    discard(reply.body);
    if (attrs.serverSideEncryption && !this.encryption.confirmed(bucket, reply.headers)) throw storedUnencrypted(this.http.name, key);
    const stored = storedCopy(attrs);
    for (const [name, v] of Object.entries(reply.headers)) {
      if (name.startsWith('x-amz-checksum-') && name !== 'x-amz-checksum-type') (stored.checksums ??= {})[name.slice(15)] = v;
    }
    return { ...stored, key, size, etag: unquote(reply.headers.etag), lastModified: parseDate(reply.headers.date) ?? new Date() };
  }

  /**
   * No Content-Length: one PUT when the body fits the buffer, else the store's multipart (see the
   * file comment). `lock`: object lock headers for the write that creates the object, sent with
   * the Content-MD5 S3 requires beside them (each buffered part's own, so nothing is held whole).
   */
  private async putUnknownSize(
    bucket: string,
    key: string,
    body: Readable,
    attrs: ObjectAttributes,
    cond: WriteConditions | undefined,
    lock?: Record<string, string>,
  ): Promise<ObjectMeta> {
    const reader = new ChunkReader(body);
    const partBytes = this.unknownSizePartBytes;
    let first: { data: Buffer; ended: boolean };
    try {
      first = await reader.readUpTo(partBytes);
    } catch (err) {
      throw bodyFailure(err);
    }
    if (first.ended) return this.putBuffer(bucket, key, first.data, attrs, cond, lock);
    return this.putParts(bucket, key, attrs, cond, lock, async function* () {
      let part = first;
      for (;;) {
        yield { body: part.data, size: part.data.length };
        if (part.ended) return;
        try {
          part = await reader.readUpTo(partBytes);
        } catch (err) {
          throw bodyFailure(err);
        }
        if (part.data.length === 0) return;
      }
    });
  }

  /** One PUT of a buffered body; with `lock`, its Content-MD5 too. */
  private putBuffer(
    bucket: string,
    key: string,
    data: Buffer,
    attrs: ObjectAttributes,
    cond: WriteConditions | undefined,
    lock?: Record<string, string>,
  ): Promise<ObjectMeta> {
    const extra = lock ? { ...lock, 'content-md5': md5Base64(data) } : {};
    return this.withConditions(bucket, key, cond, (h) => this.putSingle(bucket, key, data, data.length, attrs, { ...h, ...extra }));
  }

  /** A known size above the single-PUT limit: exact slices of the stream, no buffering. */
  private async putLarge(
    bucket: string,
    key: string,
    body: Readable,
    size: number,
    attrs: ObjectAttributes,
    cond: WriteConditions | undefined,
  ): Promise<ObjectMeta> {
    const reader = new ChunkReader(body);
    const partSize = Math.max(this.largePartBytes, Math.ceil(size / MAX_PARTS));
    return this.putParts(bucket, key, attrs, cond, undefined, async function* () {
      for (let offset = 0; offset < size; offset += partSize) {
        const len = Math.min(partSize, size - offset);
        yield { body: reader.slice(len), size: len };
      }
      try {
        await reader.expectEnd();
      } catch (err) {
        throw bodyFailure(err);
      }
    });
  }

  /**
   * Uploads parts into a new multipart upload of the store and completes it; aborts on any
   * failure (so nothing is stored, locked or not). `lock` goes on CreateMultipartUpload, and
   * each (buffered) part then carries its Content-MD5.
   */
  private async putParts(
    bucket: string,
    key: string,
    attrs: ObjectAttributes,
    cond: WriteConditions | undefined,
    lock: Record<string, string> | undefined,
    parts: () => AsyncGenerator<{ body: Buffer | Readable; size: number }>,
  ): Promise<ObjectMeta> {
    const uploadId = await this.multipart.beginUpload(bucket, key, { ...attrs, checksums: undefined }, lock);
    try {
      const done: { partNumber: number; etag: string; size: number }[] = [];
      for await (const p of parts()) {
        const partNumber = done.length + 1;
        const digest = lock && Buffer.isBuffer(p.body) ? { 'content-md5': md5Base64(p.body) } : undefined;
        done.push(await this.multipart.sendPart(bucket, key, uploadId, partNumber, p.body, p.size, digest));
      }
      const meta = await this.multipart.completeWith(bucket, key, uploadId, done, { conditions: cond });
      return { ...storedCopy(attrs), ...meta, userMetadata: { ...attrs.userMetadata } };
    } catch (err) {
      await this.multipart.dropUpload(bucket, key, uploadId).catch(() => {});
      throw err;
    }
  }

  async copyObject(
    srcBucket: string,
    srcKey: string,
    dstBucket: string,
    dstKey: string,
    attrs: ObjectAttributes | undefined,
  ): Promise<ObjectMeta> {
    checkClientKey(srcKey);
    checkClientKey(dstKey);
    if (attrs?.serverSideEncryption) await this.encryption.before(dstBucket);
    for (let attempt = 1; ; attempt++) {
      const src = await this.headObject(srcBucket, srcKey);
      const kept = attrs ? { ...storedCopy(attrs), tags: attrs.tags ?? src.tags } : attributesOf(src);
      try {
        if (src.size > this.maxSingleBytes) return await this.copyLarge(srcBucket, src, dstBucket, dstKey, kept);
        const headers: Record<string, string> = {
          'x-amz-copy-source': copySource(srcBucket, srcKey),
          // the version just described, or nothing
          'x-amz-copy-source-if-match': `"${src.etag}"`,
        };
        if (!attrs && src.storageClass) headers['x-amz-storage-class'] = src.storageClass; // a copy is STANDARD unless told
        if (attrs) {
          Object.assign(headers, attributeHeaders(attrs, { tags: false, checksums: false }));
          headers['x-amz-metadata-directive'] = 'REPLACE';
          if (attrs.tags !== undefined) {
            headers['x-amz-tagging-directive'] = 'REPLACE';
            headers['x-amz-tagging'] = taggingHeader(attrs.tags);
          }
        }
        const { reply, doc } = await this.http.sendXml({
          method: 'PUT',
          bucket: dstBucket,
          key: dstKey,
          headers,
          notFound: 'NoSuchBucket',
        });
        if (attrs?.serverSideEncryption && !this.encryption.confirmed(dstBucket, reply.headers))
          throw storedUnencrypted(this.http.name, dstKey);
        const root = doc?.CopyObjectResult;
        return {
          ...kept,
          key: dstKey,
          size: src.size,
          etag: unquote(text(child(root, 'ETag')) ?? reply.headers.etag),
          lastModified: parseDate(text(child(root, 'LastModified'))) ?? parseDate(reply.headers.date) ?? new Date(),
        };
      } catch (err) {
        // the source changed between the HEAD and the copy: describe it again
        if (isS3Error(err, 'PreconditionFailed') && attempt < 3) continue;
        throw err;
      }
    }
  }

  /** Sources above the CopyObject limit: UploadPartCopy ranges into a multipart upload, a few at a time. */
  private async copyLarge(
    srcBucket: string,
    src: ObjectMeta,
    dstBucket: string,
    dstKey: string,
    attrs: ObjectAttributes,
  ): Promise<ObjectMeta> {
    const partSize = Math.max(this.largePartBytes, Math.ceil(src.size / MAX_PARTS));
    const ranges: { partNumber: number; start: number; end: number }[] = [];
    for (let start = 0, n = 1; start < src.size; start += partSize, n++)
      ranges.push({ partNumber: n, start, end: Math.min(src.size, start + partSize) - 1 });
    const uploadId = await this.multipart.beginUpload(dstBucket, dstKey, { ...attrs, checksums: undefined });
    try {
      const done = await mapBounded(ranges, 4, async (r) => {
        const { doc } = await this.http.sendXml({
          method: 'PUT',
          bucket: dstBucket,
          key: dstKey,
          query: { partNumber: r.partNumber, uploadId },
          headers: {
            'x-amz-copy-source': copySource(srcBucket, src.key),
            'x-amz-copy-source-range': `bytes=${r.start}-${r.end}`,
            'x-amz-copy-source-if-match': `"${src.etag}"`,
          },
          notFound: 'NoSuchUpload',
        });
        return { partNumber: r.partNumber, etag: unquote(text(child(doc?.CopyPartResult, 'ETag'))), size: r.end - r.start + 1 };
      });
      const meta = await this.multipart.completeWith(dstBucket, dstKey, uploadId, done, {});
      return { ...attrs, ...meta, userMetadata: { ...attrs.userMetadata } };
    } catch (err) {
      await this.multipart.dropUpload(dstBucket, dstKey, uploadId).catch(() => {});
      throw err;
    }
  }

  async setTags(bucket: string, key: string, tags: Tag[]): Promise<void> {
    checkClientKey(key);
    const set = tags.map((t) => `<Tag><Key>${escapeXml(t.key)}</Key><Value>${escapeXml(t.value)}</Value></Tag>`).join('');
    const xml = `${XML_HEADER}<Tagging xmlns="${S3_NS}"><TagSet>${set}</TagSet></Tagging>`;
    discard((await this.sendDocument('PUT', bucket, key, 'tagging', xml)).body);
  }

  /** @internal An XML request body to an object's sub-resource (tagging, restore, retention, legal-hold). */
  sendDocument(
    method: 'PUT' | 'POST',
    bucket: string,
    key: string,
    sub: string,
    xml: string,
    extra: Record<string, string> = {},
  ): Promise<S3Reply> {
    return this.http.send({
      method,
      bucket,
      key,
      query: { [sub]: '' },
      body: xml,
      headers: { 'content-type': 'application/xml', 'content-md5': md5Base64(xml), ...extra },
      notFound: 'NoSuchKey',
    });
  }

  /**
   * A copy of the object onto itself with the new x-amz-storage-class, as S3 documents for
   * changing an object's class: the store keeps the bytes, metadata and tags (COPY
   * directives), and the copy happens only while the ETag is `ifMatch`.
   */
  async setStorageClass(bucket: string, key: string, storageClass: string, ifMatch: string): Promise<void> {
    checkClientKey(key);
    const { reply } = await this.http.sendXml({
      method: 'PUT',
      bucket,
      key,
      headers: {
        'x-amz-copy-source': copySource(bucket, key),
        'x-amz-copy-source-if-match': `"${unquote(ifMatch)}"`,
        'x-amz-metadata-directive': 'COPY',
        'x-amz-storage-class': storageClass,
      },
      notFound: 'NoSuchKey',
    });
    discard(reply.body);
  }

  /** RestoreObject passed through: 202 began, 200 already restored, 409 RestoreAlreadyInProgress. */
  async restoreObject(bucket: string, key: string, days: number | undefined): Promise<'started' | 'ongoing' | 'restored'> {
    checkClientKey(key);
    const xml = `${XML_HEADER}<RestoreRequest xmlns="${S3_NS}">${days !== undefined ? `<Days>${days}</Days>` : ''}</RestoreRequest>`;
    try {
      const reply = await this.sendDocument('POST', bucket, key, 'restore', xml);
      discard(reply.body);
      return reply.status === 202 ? 'started' : 'restored';
    } catch (err) {
      if (isS3Error(err, 'RestoreAlreadyInProgress')) return 'ongoing';
      throw err;
    }
  }

  /** @internal s3mux's own documents (reserved.ts): PUT the store key `key` as is, under the conditions. */
  async putDocument(
    bucket: string,
    key: string,
    body: Buffer | Readable,
    cond: WriteConditions,
    lock?: Record<string, string>,
  ): Promise<ObjectMeta> {
    const attrs: ObjectAttributes = { userMetadata: {}, contentType: 'application/octet-stream' };
    if (Buffer.isBuffer(body)) return this.putBuffer(bucket, key, body, attrs, cond, lock);
    return this.putUnknownSize(bucket, key, body, attrs, cond, lock);
  }

  /**
   * @internal DELETE the store key `key` as is; with `ifMatch`, only that version: checked
   * first, and sent as If-Match for a store that compares it on DELETE (AWS S3 does).
   */
  async deleteDocument(bucket: string, key: string, ifMatch?: string): Promise<void> {
    const del = async (headers: Record<string, string>): Promise<void> => {
      const reply = await this.http.send({ method: 'DELETE', bucket, key, headers, notFound: 'NoSuchBucket' });
      discard(reply.body);
      if (reply.headers['x-amz-delete-marker'] === 'true') await this.purgeVersions(bucket, key);
    };
    if (ifMatch === undefined) return del({});
    const cur = await this.http
      .send({ method: 'HEAD', bucket, key, notFound: 'NoSuchKey' })
      .catch((err: unknown) => this.notFound(bucket, err));
    discard(cur.body);
    if (unquote(cur.headers.etag) !== ifMatch) throw new S3Error('PreconditionFailed', undefined, { Condition: 'If-Match' });
    await this.withConditions(bucket, key, { ifMatch }, del);
  }

  /**
   * A versioned store bucket (one with object lock is) answers a DELETE with a delete marker and
   * keeps the bytes: s3mux's documents go for good, every version of the key with its marker,
   * best effort. A version the store's lock keeps stays (current again once its marker is
   * gone), and a later delete of it, after its retention, removes it.
   */
  private async purgeVersions(bucket: string, key: string): Promise<void> {
    const { doc } = await this.http.sendXml({ method: 'GET', bucket, query: { versions: '', prefix: key, 'max-keys': 100 } });
    const root = doc?.ListVersionsResult;
    for (const v of [...list(child(root, 'Version')), ...list(child(root, 'DeleteMarker'))]) {
      const versionId = text(child(v, 'VersionId'));
      if (text(child(v, 'Key')) !== key || !versionId) continue;
      await this.http
        .send({ method: 'DELETE', bucket, key, query: { versionId }, notFound: 'NoSuchBucket' })
        .then((r) => discard(r.body))
        .catch(() => undefined);
    }
  }

  async deleteObject(bucket: string, key: string): Promise<void> {
    checkClientKey(key);
    const reply = await this.http.send({ method: 'DELETE', bucket, key, notFound: 'NoSuchBucket' });
    discard(reply.body);
  }

  // ---------------------------------------------------------------- listing

  /**
   * ListObjectsV2 on the store, translated to the interface's start-after paging. A start
   * position that is a common prefix (`dir/` with delimiter '/') means "after that whole
   * group": the store would roll the keys after it up into the same prefix again, so that
   * prefix (and keys under it) are dropped here; one extra entry is asked for so a full page
   * can still be told from the last one.
   */
  async listObjects(bucket: string, opts: ListOptions): Promise<ListPage> {
    const { prefix = '', delimiter, startAfter, maxKeys } = opts;
    if (isDocumentKey(prefix)) {
      await this.headBucketRaw(bucket); // no client key can be there
      return { objects: [], commonPrefixes: [], isTruncated: false };
    }
    let group: string | undefined;
    if (startAfter !== undefined && delimiter && startAfter.startsWith(prefix)) {
      const i = startAfter.indexOf(delimiter, prefix.length);
      if (i >= 0 && i + delimiter.length === startAfter.length) group = startAfter;
    }
    const want = Math.max(0, maxKeys) + 1;
    const objects: ObjectSummary[] = [];
    const prefixes = new Set<string>();
    let token: string | undefined;
    let storeTruncated = false;
    /** Where to start again after a run of s3mux's documents (jumped over, not paged through). */
    let resume: string | undefined;
    for (let page = 0; page < 10_000; page++) {
      const { doc } = await this.http.sendXml({
        method: 'GET',
        bucket,
        query: {
          'list-type': '2',
          prefix: prefix || undefined,
          delimiter: delimiter || undefined,
          'start-after': token === undefined ? (resume ?? startAfter) || undefined : undefined,
          'continuation-token': token,
          'max-keys': maxKeys <= 0 ? 0 : Math.min(1000, want - objects.length - prefixes.size),
          'encoding-type': 'url',
        },
        notFound: 'NoSuchBucket',
      });
      const root = doc?.ListBucketResult;
      if (!root) throw new S3Error('InternalError', `The storage backend '${this.http.name}' sent no ListBucketResult.`);
      const encoded = (text(child(root, 'EncodingType')) ?? '').toLowerCase() === 'url';
      let sawDocuments = false;
      /** The last key or prefix the store sent in this page: a jump past the documents must not go back before it. */
      let last: string | undefined;
      const see = (k: string | undefined) => {
        if (k !== undefined && (last === undefined || compareKeys(k, last) > 0)) last = k;
      };
      for (const c of list(child(root, 'Contents'))) {
        const key = urlDecoded(encoded, text(child(c, 'Key')));
        see(key);
        if (key === undefined || (startAfter !== undefined && compareKeys(key, startAfter) <= 0)) continue;
        if (isDocumentKey(key)) {
          sawDocuments = true;
          continue;
        }
        if (group !== undefined && key.startsWith(group)) continue;
        const sc = text(child(c, 'StorageClass'));
        objects.push({
          key,
          size: Number(text(child(c, 'Size')) ?? 0),
          etag: unquote(text(child(c, 'ETag'))),
          lastModified: parseDate(text(child(c, 'LastModified'))) ?? new Date(0),
          ...(sc && sc !== 'STANDARD' ? { storageClass: sc } : {}),
          ...listedChecksumOf(c),
        });
      }
      for (const c of list(child(root, 'CommonPrefixes'))) {
        const p = urlDecoded(encoded, text(child(c, 'Prefix')));
        see(p);
        if (p === undefined || p === group || isDocumentKey(p)) continue;
        if (coversDocuments(p) && !(await this.holdsClientKeys(bucket, p))) continue;
        prefixes.add(p);
      }
      storeTruncated = bool(child(root, 'IsTruncated'));
      token = text(child(root, 'NextContinuationToken')) || undefined;
      if (maxKeys <= 0 || objects.length + prefixes.size >= want || !storeTruncated || !token) break;
      if (sawDocuments && resume === undefined) {
        // Keys after the documents in this page are already taken: start after them, not at the documents' end.
        resume = last !== undefined && compareKeys(last, PAST_DOCUMENTS) > 0 ? last : PAST_DOCUMENTS;
        token = undefined;
      }
    }
    if (maxKeys <= 0) return { objects: [], commonPrefixes: [], isTruncated: false };
    const entries: { key: string; object?: ObjectSummary }[] = [
      ...objects.map((o) => ({ key: o.key, object: o })),
      ...[...prefixes].map((p) => ({ key: p })),
    ].sort((a, b) => compareKeys(a.key, b.key));
    const taken = entries.slice(0, maxKeys);
    const isTruncated = taken.length > 0 && (entries.length > maxKeys || storeTruncated);
    return {
      objects: taken.filter((e) => e.object).map((e) => e.object as ObjectSummary),
      commonPrefixes: taken.filter((e) => !e.object).map((e) => e.key),
      isTruncated,
      ...(isTruncated ? { nextStartAfter: taken[taken.length - 1].key } : {}),
    };
  }

  /** Whether keys besides s3mux's documents lie under a common prefix that covers them ('.s3mux/'). */
  private async holdsClientKeys(bucket: string, prefix: string): Promise<boolean> {
    for (const after of [undefined, PAST_DOCUMENTS]) {
      const found = await this.listDocuments(bucket, prefix, after, 1);
      if (found.length === 0) return false;
      if (!isDocumentKey(found[0].name)) return true;
    }
    return false;
  }

  /** @internal One ListObjectsV2 page of store keys as they are (no client view): s3mux's documents, and probes. */
  async listDocuments(bucket: string, prefix: string, startAfter: string | undefined, max: number): Promise<ReservedObject[]> {
    const { doc } = await this.http.sendXml({
      method: 'GET',
      bucket,
      query: { 'list-type': '2', prefix: prefix || undefined, 'start-after': startAfter, 'max-keys': max, 'encoding-type': 'url' },
      notFound: 'NoSuchBucket',
    });
    const root = doc?.ListBucketResult;
    if (!root) throw new S3Error('InternalError', `The storage backend '${this.http.name}' sent no ListBucketResult.`);
    const encoded = (text(child(root, 'EncodingType')) ?? '').toLowerCase() === 'url';
    const out: ReservedObject[] = [];
    for (const c of list(child(root, 'Contents'))) {
      const name = urlDecoded(encoded, text(child(c, 'Key')));
      if (name === undefined || !name.startsWith(prefix) || (startAfter !== undefined && compareKeys(name, startAfter) <= 0)) continue;
      out.push({
        name,
        size: Number(text(child(c, 'Size')) ?? 0),
        etag: unquote(text(child(c, 'ETag'))),
        lastModified: parseDate(text(child(c, 'LastModified'))) ?? new Date(0),
      });
    }
    // Some stores page in another order (s3rver): a page is sorted before it is cut.
    return out.sort((a, b) => compareKeys(a.name, b.name)).slice(0, max);
  }

  async close(): Promise<void> {
    await this.http.close();
  }
}

/** The backend for an `s3` entry of the routing table. */
export function createS3Backend(spec: S3Settings, context: { name: string; env?: NodeJS.ProcessEnv }): S3Backend {
  const env = context.env ?? process.env;
  const what = `s3 backend '${context.name}'`;
  return new S3Backend({
    name: context.name,
    region: spec.region,
    endpoint: spec.endpoint,
    forcePathStyle: spec.forcePathStyle,
    conditionalWrites: spec.conditionalWrites,
    stateInStore: spec.stateInStore,
    credentials: credentialsFromSettings(spec.credentials, what, env, spec.region ?? env.AWS_REGION ?? env.AWS_DEFAULT_REGION),
    env,
  });
}
