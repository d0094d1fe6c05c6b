/**
 * The Google Cloud Storage backend: buckets are GCS buckets, objects are GCS objects, spoken
 * to through @google-cloud/storage (the JSON API).
 *
 * - Names: keys are object names, except the few GCS refuses, which live in the reserved area
 *   `.s3mux/` (names.ts). Listing merges both in S3's UTF-8 order (GCS lists in that order).
 * - Attributes: content headers are the object's fields, the rest is custom metadata
 *   (metadata.ts).
 * - ETags: the hex of the object's MD5; an object assembled from parts keeps S3's
 *   `<md5 of md5s>-N` in metadata. Objects without an MD5 written by other tools (composite
 *   ones) get `<md5 of the GCS ETag>-1`, which no client mistakes for an MD5.
 * - Writes: one multipart upload request (metadata + media) that streams the body; the
 *   request ends only when the body has ended cleanly, so a failing body leaves no object and
 *   the old one stays. It is never retried (the body is read once).
 * - Write conditions: S3's name S3 ETags, GCS's name generations. The current object is read,
 *   the S3 conditions are checked on it, and the write is made conditional on that very
 *   generation (0: no object): a compare-and-swap that holds across s3mux replicas.
 * - Reads: metadata first, then the bytes of that generation, so the two belong together.
 * - Multipart: parts are objects in the reserved area; Complete composes them (chained, 32 at
 *   a time) without moving bytes, or, where the store lacks compose, streams them through
 *   putObject (parts.ts).
 * - Errors: one table (errors.ts); retries: the SDK's, configured in client.ts.
 */
import { PassThrough, Readable } from 'node:stream';
import type { File, Storage } from '@google-cloud/storage';
import { isS3Error, S3Error } from '../../errors';
import type { GcsSettings } from './settings';
import { resolveSecret } from '../../auth/secrets';
import type { BackendContext } from '../kit';
import { unquoteEtag } from '../conditions';
import { ESCAPED_PREFIX, UPLOADS_PREFIX } from '../escaped-keys';
import { RESERVED_PREFIX } from '../reserved';
import { ObjectReservedStore, RESERVED_DOCS_PREFIX } from '../reserved-objects';
import { gcsReservedObjects } from './reserved';
import { isValidBucketName, validateBucketName } from '../keys';
import {
  compareKeys,
  directoryEntry,
  firstWantedName,
  listFromSource,
  mergeAscending,
  seekWants,
  type ListSeek,
  type ListSource,
  type ListSourceItem,
} from '../listing';
import { copyAttributes, storedAttributes } from '../attributes';
import { StagedMultipartStore } from '../multipart/staged';
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
  PutOptions,
  Tag,
  CreateBucketOptions,
} from '../types';
import { setListedChecksum } from '../listed-checksum';
import { makeStorage, parseExternalAccount, type GcsConnection } from './client';
import { isPreconditionFailure, toS3ErrorFromGcs, type ErrorContext } from './errors';
import { clearedFields, dateOf, fromGcs, metaOf, replacingMetadata, s3Etag, toGcs, type GcsResource, type StoredExtras } from './metadata';

export { metaOf, s3Etag } from './metadata';
import { gcsNames } from './names';
import { GcsPartStorage } from './parts';
import { GcsStore } from './store';
import { gcsBucketNameProblem } from '../bucket-names';

export interface GcsBackendOptions extends GcsConnection {
  /** A ready client instead of the connection settings (tests, embedding). */
  storage?: Storage;
  /** The store composes objects (GCS does; the firebase emulator does not): native multipart assembly. Default true. */
  compose?: boolean;
  /** The store rewrites objects (GCS does; the firebase emulator does not): server-side copy. Default true. */
  rewrite?: boolean;
  /**
   * The store has the bucket API (GCS does; the firebase emulator does not, and makes a bucket
   * by naming it). Without it, every bucket exists, creating one succeeds and deleting one only
   * checks that it is empty. Default true.
   */
  bucketApi?: boolean;
  /** The store patches object metadata (GCS does; the firebase emulator does not). Default true. */
  patch?: boolean;
  /**
   * The store keeps an object's storageClass (GCS does; the firebase emulator answers STANDARD
   * for every object): without it the class is a label in metadata only. Default true.
   */
  nativeClasses?: boolean;
}

/** What the firebase-tools Storage emulator lacks (`emulator: true` in a routing table). */
export const FIREBASE_EMULATOR_GAPS = { compose: false, rewrite: false, bucketApi: false, patch: false, nativeClasses: false } as const;

const MAX_TAG_ATTEMPTS = 5;
/** The first name after every name in the reserved area ('/' + 1 is '0'). */
const PAST_RESERVED = RESERVED_PREFIX.slice(0, -1) + '0';
/** Objects per listing request (GCS's maximum page). */
const PAGE_SIZE = 1000;

class GcsObjectHandle implements ObjectHandle {
  constructor(
    readonly meta: ObjectMeta,
    private readonly file: File,
    private readonly generation: string | undefined,
    private readonly ctx: ErrorContext,
  ) {}

  read(range?: ByteRange): Readable {
    if (this.meta.size === 0 && !range) return Readable.from([]);
    const out = new PassThrough();
    const src = this.file.createReadStream({
      validation: false,
      decompress: false,
      ...(range ? { start: range.start, end: range.end } : {}),
    });
    src.on('error', (err) => out.destroy(toS3ErrorFromGcs(err, this.ctx)));
    // A store that ignores the generation asked for (the emulator) must not mix versions.
    src.on('response', (res: { headers?: Record<string, string | string[] | undefined> }) => {
      const got = res.headers?.['x-goog-generation'];
      if (this.generation !== undefined && typeof got === 'string' && got !== this.generation) {
        out.destroy(new S3Error('NoSuchKey', 'The object was replaced while it was read.', { Key: this.meta.key }));
        src.destroy();
      }
    });
    out.on('close', () => {
      if (!src.destroyed) src.destroy();
    });
    src.pipe(out);
    return out;
  }

  async close(): Promise<void> {}
}

export class GcsBackend implements Backend {
  readonly kind = 'gcs';
  readonly capabilities: BackendCapabilities;
  readonly multipart: StagedMultipartStore;
  /** Documents as objects under `.s3mux/r/`, compare-and-swap on their generation (reserved.ts). */
  readonly reserved: ObjectReservedStore;
  readonly storage: Storage;
  readonly copyObject?: Backend['copyObject'];
  readonly setStorageClass?: Backend['setStorageClass'];
  private readonly store: GcsStore;
  private readonly parts: GcsPartStorage;
  private readonly bucketApi: boolean;
  private readonly patch: boolean;
  private readonly nativeClasses: boolean;

  constructor(opts: GcsBackendOptions) {
    this.storage = opts.storage ?? makeStorage(opts);
    const rewrite = opts.rewrite ?? true;
    this.capabilities = { serverSideCopy: rewrite };
    if (rewrite) this.copyObject = (sb, sk, db, dk, attrs) => this.rewriteObject(sb, sk, db, dk, attrs);
    this.nativeClasses = opts.nativeClasses ?? true;
    // A class changes in place by a rewrite onto itself: a store without rewrite or classes cannot.
    if (rewrite && this.nativeClasses) this.setStorageClass = (b, k, c, ifMatch) => this.rewriteClass(b, k, c, ifMatch);
    this.bucketApi = opts.bucketApi ?? true;
    this.patch = opts.patch ?? true;
    this.store = new GcsStore(this.storage, this.bucketApi);
    this.parts = new GcsPartStorage(this.store, opts.compose ?? true);
    this.multipart = new StagedMultipartStore(this, this.parts);
    this.reserved = new ObjectReservedStore(gcsReservedObjects(this.store));
  }

  // ---------------------------------------------------------------- plumbing

  // ---------------------------------------------------------------- buckets

  async listBuckets(): Promise<BucketInfo[]> {
    // Without the bucket API there is no list of buckets: only the ones routes name.
    if (!this.bucketApi) return [];
    return this.store.call({}, async () => {
      const [buckets] = await this.storage.getBuckets();
      return buckets
        .filter((b) => isValidBucketName(b.name))
        .map((b) => ({ name: b.name, creationDate: new Date(String(b.metadata?.timeCreated ?? 0)) }))
        .sort((a, b) => compareKeys(a.name, b.name));
    });
  }

  async createBucket(bucket: string, opts: CreateBucketOptions = {}): Promise<void> {
    validateBucketName(bucket);
    const rule = gcsBucketNameProblem(bucket);
    if (rule) throw new S3Error('InvalidBucketName', `The specified bucket is not valid: ${rule}.`, { BucketName: bucket });
    if (!this.bucketApi) return;
    try {
      // Object Retention Lock is enabled only when the bucket is created (enableObjectRetention=true).
      await this.storage.createBucket(bucket, opts.objectLock ? { enableObjectRetention: true } : {});
    } catch (err) {
      const s3 = toS3ErrorFromGcs(err, { bucket });
      if (s3.code === 'BucketAlreadyOwnedByYou' && /not available/i.test(String((err as Error).message))) {
        throw new S3Error('BucketAlreadyExists', undefined, { BucketName: bucket });
      }
      throw s3;
    }
  }

  async headBucket(bucket: string): Promise<BucketInfo> {
    const b = this.store.bucket(bucket);
    if (!this.bucketApi) return { name: bucket, creationDate: new Date(0) };
    return this.store.call({ bucket }, async () => {
      const [m] = await b.getMetadata();
      return { name: bucket, creationDate: new Date(String(m.timeCreated ?? 0)) };
    });
  }

  /**
   * Refuses while any object remains (natural or escaped); uploads in progress and s3mux's
   * documents are removed first, as S3 discards them with the bucket.
   */
  async deleteBucket(bucket: string): Promise<void> {
    const b = this.store.bucket(bucket);
    await this.headBucket(bucket);
    // Grouped at '/', the whole reserved area is one entry, whatever it holds.
    for await (const r of this.store.names(bucket, '', undefined, 10, '/')) {
      if (r.name !== RESERVED_PREFIX) throw new S3Error('BucketNotEmpty', undefined, { BucketName: bucket });
    }
    for await (const _ of this.store.names(bucket, ESCAPED_PREFIX, undefined, 1))
      throw new S3Error('BucketNotEmpty', undefined, { BucketName: bucket });
    // Uploads and s3mux's documents go with the bucket (S3 drops a bucket's configuration with it).
    for (const area of [UPLOADS_PREFIX, RESERVED_DOCS_PREFIX]) {
      for await (const r of this.store.names(bucket, area, undefined, PAGE_SIZE)) {
        await this.store.call({ bucket }, () => b.file(r.name).delete({ ignoreNotFound: true }));
      }
    }
    if (this.bucketApi) await this.store.call({ bucket }, () => b.delete());
  }

  // ---------------------------------------------------------------- reading

  async headObject(bucket: string, key: string): Promise<ObjectMeta> {
    return (await this.headObjectWithGeneration(bucket, key)).meta;
  }

  async openObject(bucket: string, key: string): Promise<ObjectHandle> {
    const meta = await this.headObjectWithGeneration(bucket, key);
    return new GcsObjectHandle(meta.meta, this.store.file(bucket, key, meta.generation), meta.generation, { bucket, key });
  }

  private async headObjectWithGeneration(bucket: string, key: string): Promise<{ meta: ObjectMeta; generation?: string }> {
    return this.store.call({ bucket, key }, async () => {
      const [r] = await this.store.file(bucket, key).getMetadata();
      const res = r as GcsResource;
      return { meta: metaOf(key, res, this.nativeClasses), generation: res.generation !== undefined ? String(res.generation) : undefined };
    });
  }

  // ---------------------------------------------------------------- writing

  async putObject(bucket: string, key: string, body: Readable, attrs: ObjectAttributes, opts: PutOptions = {}): Promise<ObjectMeta> {
    const ctx: ErrorContext = { bucket, key };
    this.store.bucket(bucket);
    let generation: number | undefined;
    try {
      generation = await this.store.generationFor(bucket, key, opts.conditions);
    } catch (err) {
      body.resume();
      throw err;
    }
    const stored = storedAttributes(attrs);
    const extras: StoredExtras = opts.etag ? { etag: unquoteEtag(opts.etag) } : {};
    const name = gcsNames.nameOf(key);
    const up = await this.store.upload(bucket, name, body, toGcs(stored, extras), ctx, generation, opts.size);
    let resource = up.resource;
    // Trailing checksums arrive with the end of the body, after the object's fields were sent.
    const late = storedAttributes(attrs);
    // Without patch (the emulator) they are verified but not kept.
    if (this.patch && JSON.stringify(late.checksums ?? {}) !== JSON.stringify(stored.checksums ?? {})) {
      const file = this.store.bucket(bucket).file(name);
      await this.store.call(ctx, () =>
        file.setMetadata(
          { metadata: toGcs(late, extras).metadata },
          { ifGenerationMatch: Number(resource.generation), ifMetagenerationMatch: Number(resource.metageneration) },
        ),
      );
      resource = { ...resource, ...(file.metadata as GcsResource) };
    }
    return { ...metaOf(key, resource, this.nativeClasses), ...late };
  }

  async deleteObject(bucket: string, key: string): Promise<void> {
    try {
      await this.store.file(bucket, key).delete();
    } catch (err) {
      const s3 = toS3ErrorFromGcs(err, { bucket, key });
      if (s3.code !== 'NoSuchKey') throw s3;
    }
  }

  /** Tags live in metadata: a patch conditional on the metageneration read. The ETag stays. */
  async setTags(bucket: string, key: string, tags: Tag[]): Promise<void> {
    const file = this.store.file(bucket, key);
    const ctx = { bucket, key };
    if (!this.patch) {
      await this.headObject(bucket, key);
      throw new S3Error(
        'NotImplemented',
        'The storage backend cannot change object metadata: tags can only be set when the object is written.',
      );
    }
    for (let attempt = 1; ; attempt++) {
      const [r] = await this.store.call(ctx, () => file.getMetadata());
      const res = r as GcsResource;
      const { attrs } = fromGcs(res);
      attrs.tags = tags.map((t) => ({ key: t.key, value: t.value }));
      const next = toGcs(attrs, fromGcs(res).extras).metadata;
      try {
        await file.setMetadata({ metadata: replacingMetadata(res.metadata, next) }, { ifMetagenerationMatch: Number(res.metageneration) });
        return;
      } catch (err) {
        if (attempt < MAX_TAG_ATTEMPTS && isPreconditionFailure(err)) continue;
        throw toS3ErrorFromGcs(err, ctx);
      }
    }
  }

  /**
   * Server-side copy (rewrite), pinned to the source generation read. Without `attrs` the
   * source's fields and metadata come along; with them, they replace the source's. The S3
   * ETag (MD5 or multipart form) is kept.
   */
  private async rewriteObject(
    srcBucket: string,
    srcKey: string,
    dstBucket: string,
    dstKey: string,
    attrs: ObjectAttributes | undefined,
  ): Promise<ObjectMeta> {
    const src = await this.store.call(
      { bucket: srcBucket, key: srcKey },
      async () => (await this.store.file(srcBucket, srcKey).getMetadata())[0] as GcsResource,
    );
    const srcMeta = metaOf(srcKey, src);
    const { attrs: srcAttrs } = fromGcs(src);
    let stored: ObjectAttributes;
    if (attrs === undefined) stored = copyAttributes(srcAttrs);
    else {
      stored = storedAttributes(attrs);
      if (attrs.tags === undefined && srcAttrs.tags !== undefined) stored.tags = srcAttrs.tags.map((t) => ({ ...t }));
      if (attrs.checksums === undefined && srcAttrs.checksums !== undefined) stored.checksums = { ...srcAttrs.checksums };
    }
    const md5Etag = src.md5Hash ? Buffer.from(src.md5Hash, 'base64').toString('hex') : undefined;
    const fields = toGcs(stored, md5Etag === srcMeta.etag ? {} : { etag: srcMeta.etag });
    // GCS applies a rewrite's resource over the source's: every field and metadata name of the
    // source that the copy does not have is cleared (null).
    // Without a class GCS would give the copy the bucket's default; S3 gives STANDARD.
    const resource = {
      ...clearedFields(src),
      ...fields,
      storageClass: fields.storageClass ?? 'STANDARD',
      metadata: replacingMetadata(src.metadata, fields.metadata),
    };
    const ctx: ErrorContext = { bucket: dstBucket, key: dstKey };
    await this.headBucket(dstBucket);
    const source = this.store.file(srcBucket, srcKey, String(src.generation));
    const dest = this.store.file(dstBucket, dstKey);
    await this.store.call(ctx, async () => {
      await source.copy(dest, resource as never);
    });
    return this.headObject(dstBucket, dstKey);
  }

  /**
   * A lifecycle transition: the object rewritten onto itself with the new class (GCS's way to
   * change a class), from the generation whose S3 ETag is `ifMatch` and only while it is still
   * the live one (ifGenerationMatch). Bytes, MD5 and so the S3 ETag stay; GCS gives the object a
   * new generation, and so a new Last-Modified.
   */
  private async rewriteClass(bucket: string, key: string, storageClass: string, ifMatch: string): Promise<void> {
    const ctx: ErrorContext = { bucket, key };
    const file = this.store.file(bucket, key);
    const r = await this.store.call(ctx, async () => (await file.getMetadata())[0] as GcsResource);
    if (metaOf(key, r).etag !== unquoteEtag(ifMatch)) throw new S3Error('PreconditionFailed');
    const target = toGcs({ userMetadata: {}, storageClass });
    if (r.storageClass === target.storageClass && fromGcs(r, false).attrs.storageClass === storageClass) return;
    const generation = Number(r.generation);
    try {
      await this.store.call(ctx, () =>
        this.store.file(bucket, key, generation).copy(file, {
          storageClass: target.storageClass,
          metadata: target.metadata,
          preconditionOpts: { ifGenerationMatch: generation },
        } as never),
      );
    } catch (err) {
      // The generation read is gone (replaced or deleted since): the object changed.
      if (isS3Error(err, 'NoSuchKey')) throw new S3Error('PreconditionFailed');
      throw err;
    }
  }

  // ---------------------------------------------------------------- listing

  async listObjects(bucket: string, opts: ListOptions): Promise<ListPage> {
    this.store.bucket(bucket);
    const prefix = opts.prefix ?? '';
    if (prefix.includes('\0') || Buffer.byteLength(prefix, 'utf8') > 1024) {
      await this.headBucket(bucket);
      return { objects: [], commonPrefixes: [], isTruncated: false };
    }
    // With '/', GCS groups the "directories" itself: one request per page of them.
    const hierarchical = opts.delimiter === '/';
    const source: ListSource = (seek) => this.source(bucket, seek, hierarchical);
    const page = await listFromSource(source, { ...opts, prefix }, { canSeek: !hierarchical });
    if (page.objects.length === 0 && page.commonPrefixes.length === 0) await this.headBucket(bucket);
    return page;
  }

  private source(bucket: string, seek: ListSeek, hierarchical: boolean): AsyncIterable<ListSourceItem> {
    const from = firstWantedName(seek);
    const self = this;
    const natural = async function* (): AsyncGenerator<ListSourceItem & { key: string }> {
      if (hierarchical && from !== undefined) {
        // The "directory" holding the start position is listed when a name in it comes after
        // the position, and a grouped listing from there would give it before the position: look for one.
        const i = seek.after!.indexOf('/', seek.prefix.length);
        if (i >= 0 && !(seek.skipSubtree && i === seek.after!.length - 1)) {
          for await (const item of self.store.names(bucket, seek.after!.slice(0, i + 1), from, 2)) {
            if (item.name.startsWith(RESERVED_PREFIX) || !seekWants(item.name, seek)) continue;
            yield summaryOf(item.name, item, self.nativeClasses);
            break;
          }
        }
      }
      // The reserved area can hold many objects (the parts of open uploads): a flat listing
      // that reaches it starts again past it instead of reading through.
      let start = from;
      for (let reseeked = false; ; reseeked = true) {
        let skipReserved = false;
        for await (const item of self.store.names(bucket, seek.prefix, start, PAGE_SIZE, hierarchical ? '/' : undefined)) {
          // A store that ignores startOffset (the emulator) starts from the beginning again.
          if (reseeked && compareKeys(item.name, PAST_RESERVED) < 0) continue;
          if (item.name.startsWith(RESERVED_PREFIX)) {
            if (!item.isPrefix && !reseeked) {
              skipReserved = true;
              break;
            }
            continue;
          }
          if (!seekWants(item.name, seek)) continue;
          yield item.isPrefix ? directoryEntry(item.name) : summaryOf(item.name, item, self.nativeClasses);
        }
        if (!skipReserved) return;
        start = PAST_RESERVED;
      }
    };
    const escaped = async function* (): AsyncGenerator<ListSourceItem & { key: string }> {
      const codeFrom = from !== undefined ? gcsNames.escapedPrefixFor(from) : undefined;
      for await (const item of self.store.names(bucket, gcsNames.escapedPrefixFor(seek.prefix), codeFrom, PAGE_SIZE)) {
        const key = gcsNames.keyOfEscaped(item.name);
        if (key !== undefined && seekWants(key, seek)) yield summaryOf(key, item, self.nativeClasses);
      }
    };
    return { [Symbol.asyncIterator]: () => mergeAscending(natural(), escaped()) };
  }

  async close(): Promise<void> {}
}

function summaryOf(key: string, r: GcsResource, nativeClass: boolean): ObjectSummary {
  const { attrs, extras } = fromGcs(r, nativeClass);
  const s: ObjectSummary = {
    key,
    size: Number(r.size ?? 0),
    etag: s3Etag(r, extras),
    lastModified: dateOf(r),
    ...(attrs.storageClass !== undefined ? { storageClass: attrs.storageClass } : {}),
  };
  // The listing's resources carry their metadata, where the object's checksums are kept.
  setListedChecksum(s, attrs.checksums);
  return s;
}

// ---------------------------------------------------------------- from the routing table

/** The backend for a `gcs` entry of the routing table; secrets are resolved here. */
export function gcsBackendFromSpec(spec: GcsSettings, ctx: BackendContext): GcsBackend {
  const what = (s: string) => `backend '${ctx.name}': ${s}`;
  const c = spec.credentials ?? {};
  // workloadIdentity: true is ADC (GKE's metadata server, or GOOGLE_APPLICATION_CREDENTIALS naming a configuration).
  const configFile = c.workloadIdentity?.configFile;
  const configAt = 'credentials.workloadIdentity.configFile';
  return new GcsBackend({
    projectId: spec.projectId,
    endpoint: spec.endpoint,
    serviceAccountKey: c.serviceAccountKey ? resolveSecret(c.serviceAccountKey, what('serviceAccountKey'), ctx.env) : undefined,
    externalAccount: configFile
      ? parseExternalAccount(resolveSecret({ file: configFile }, what(configAt), ctx.env), what(`${configAt} ${configFile}`))
      : undefined,
    anonymous: c.anonymous,
    ...(spec.emulator ? FIREBASE_EMULATOR_GAPS : {}),
  });
}
