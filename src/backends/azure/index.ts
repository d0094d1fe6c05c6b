/**
 * The Azure Blob Storage backend: buckets are containers, objects are block blobs.
 *
 * - Names: keys are blob names, except the few Azure cannot hold, which live in the reserved
 *   area `.s3mux/` (names.ts). Listing merges both and yields S3's UTF-8 order (listing.ts).
 * - Attributes: content headers are the blob's HTTP headers; the rest is metadata with
 *   reversibly encoded names (metadata.ts).
 * - ETags: every write sets the blob's Content-MD5, and the S3 ETag is its hex; an object
 *   assembled from parts keeps S3's `<md5 of md5s>-N` in metadata. Blobs written by other
 *   tools without an MD5 get `<md5 of the Azure ETag>-1`, which no client mistakes for an MD5.
 * - Writes: a body up to `blockSize` (8 MiB) is one Put Blob; a longer one is staged as
 *   blocks while it streams (one block when its length is known, else `blockSize` chunks) and
 *   committed with its MD5, metadata and conditions in one Put Block List, so it is visible
 *   only when complete and a failing body leaves the old object. Azure may accept a streamed
 *   block before the body has ended (it has the announced bytes), while the S3 layer fails a
 *   body on a bad checksum only at its end: nothing is committed until the body has ended
 *   cleanly. Streamed requests go through a client without retries (the body is read once).
 * - Write conditions: S3's If-Match / If-None-Match name S3 ETags, Azure's conditions name
 *   Azure ETags. The current blob is read first, the S3 conditions are checked on it, and the
 *   write is then made conditional on that blob's Azure ETag (or on no blob existing): a
 *   compare-and-swap on the very version that was checked.
 * - Reads: properties first, then the bytes with If-Match on that version's Azure ETag, so
 *   metadata and bytes belong together; a read of a replaced object fails instead of mixing.
 * - Multipart: native, on block lists (multipart.ts).
 * - Errors: one table (errors.ts).
 */
import { createHash } from 'node:crypto';
import { PassThrough, Readable } from 'node:stream';
import type {
  BlobGetPropertiesResponse,
  BlobItem,
  BlobServiceClient,
  BlockBlobClient,
  ContainerClient,
  ContainerCreateOptions,
} from '@azure/storage-blob';
import { bodyFailure, isS3Error, S3Error } from '../../errors';
import type { AzureSettings } from './settings';
import { resolveSecret } from '../../auth/secrets';
import type { BackendContext } from '../kit';
import { unquoteEtag } from '../conditions';
import { isValidBucketName, validateBucketName } from '../keys';
import { compareKeys, directoryEntry, listFromSource, type ListSeek, type ListSource, type ListSourceItem } from '../listing';
import { copyAttributes, storedAttributes } from '../attributes';
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
import { blockId, chunksOf, MAX_BLOCK_SIZE, MAX_BLOCKS, MeasuredBody, newNonce, newOwner, once } from './blocks';
import { makeServiceClient, type AzureConnection } from './client';
import { azureTokenCredential, withS3TokenErrors } from './credential';
import { isAzureError, toS3ErrorFromAzure, type ErrorContext } from './errors';
import { escapedKeys, mergeAscending, naturalNames, rawListing, wanted } from './listing';
import { fromAzure, metaOf, s3Etag, toAzure, type StoredExtras } from './metadata';
import { azureTier } from './storage-classes';
import { AzureMultipartStore } from './multipart';
import { blobNameOf, ESCAPED_PREFIX } from './names';
import { RESERVED_PREFIX } from '../reserved';
import { AzureStore } from './store';
import { azureReservedObjects } from './reserved';
import { ObjectReservedStore } from '../reserved-objects';
import { azureContainerNameProblem } from '../bucket-names';

export interface AzureBackendOptions extends AzureConnection {
  /** A ready client instead of the connection settings (tests, embedding). */
  serviceClient?: BlobServiceClient;
  /** Bytes held at a time when a body is staged in chunks, and the largest single Put Blob; default 8 MiB. */
  blockSize?: number;
}

const DEFAULT_BLOCK_SIZE = 8 * 1024 * 1024;
const MAX_TAG_ATTEMPTS = 5;

class AzureObjectHandle implements ObjectHandle {
  constructor(
    readonly meta: ObjectMeta,
    private readonly blob: BlockBlobClient,
    private readonly azureEtag: string | undefined,
    private readonly ctx: ErrorContext,
  ) {}

  read(range?: ByteRange): Readable {
    const out = new PassThrough();
    if (this.meta.size === 0 && !range) {
      out.end();
      return out;
    }
    const ac = new AbortController();
    out.on('close', () => {
      if (!out.readableEnded) ac.abort();
    });
    const offset = range ? range.start : 0;
    const count = range ? range.end - range.start + 1 : undefined;
    this.blob
      .download(offset, count, {
        abortSignal: ac.signal,
        conditions: this.azureEtag ? { ifMatch: this.azureEtag } : undefined,
        maxRetryRequests: 3,
      })
      .then((res) => {
        const s = res.readableStreamBody as Readable | undefined;
        if (!s) {
          out.end();
          return;
        }
        s.on('error', (err) => out.destroy(toS3ErrorFromAzure(err, this.ctx)));
        s.pipe(out);
      })
      .catch((err) => {
        if (!out.destroyed) out.destroy(toS3ErrorFromAzure(err, this.ctx));
      });
    return out;
  }

  async close(): Promise<void> {}
}

export class AzureBackend implements Backend {
  readonly kind = 'azure';
  readonly capabilities: BackendCapabilities = { serverSideCopy: true };
  readonly multipart: AzureMultipartStore;
  /** Documents as blobs under `.s3mux/r/`, compare-and-swap on their Azure ETag (reserved.ts). */
  readonly reserved: ObjectReservedStore;
  readonly service: BlobServiceClient;
  readonly blockSize: number;
  private readonly store: AzureStore;

  constructor(opts: AzureBackendOptions) {
    this.service = opts.serviceClient ?? makeServiceClient(opts);
    // One token credential for both (it caches its tokens).
    const token = isTokenCredential(this.service.credential) ? this.service.credential : undefined;
    const streamService = opts.serviceClient ?? makeServiceClient({ ...opts, credential: opts.credential ?? token }, 1);
    this.blockSize = Math.min(Math.max(opts.blockSize ?? DEFAULT_BLOCK_SIZE, 64 * 1024), MAX_BLOCK_SIZE);
    this.store = new AzureStore(this.service, streamService, this.blockSize);
    this.multipart = new AzureMultipartStore(this.store, this);
    this.reserved = new ObjectReservedStore(azureReservedObjects(this.store));
  }

  // ---------------------------------------------------------------- plumbing

  // ---------------------------------------------------------------- buckets

  async listBuckets(): Promise<BucketInfo[]> {
    return this.store.call({}, async () => {
      const out: BucketInfo[] = [];
      for await (const c of this.service.listContainers()) {
        if (!isValidBucketName(c.name)) continue;
        out.push({ name: c.name, creationDate: c.properties.lastModified });
      }
      return out.sort((a, b) => compareKeys(a.name, b.name));
    });
  }

  async createBucket(bucket: string, opts: CreateBucketOptions = {}): Promise<void> {
    validateBucketName(bucket);
    const rule = azureContainerNameProblem(bucket);
    if (rule) throw new S3Error('InvalidBucketName', `The specified bucket is not valid: ${rule}.`, { BucketName: bucket });
    try {
      // Create Container's x-ms-immutable-storage-with-versioning-enabled (version-level
      // immutability support), which the SDK has no option for; Azure needs blob versioning on
      // the account for it.
      const lock = opts.objectLock
        ? { requestOptions: { customHeaders: { 'x-ms-immutable-storage-with-versioning-enabled': 'true' } } }
        : {};
      await this.store.container(bucket).create(lock as ContainerCreateOptions);
    } catch (err) {
      if (isAzureError(err, 'ContainerBeingDeleted')) {
        throw new S3Error('ServiceUnavailable', 'A bucket of this name is still being deleted; try again in a minute.', {
          BucketName: bucket,
        });
      }
      throw toS3ErrorFromAzure(err, { bucket });
    }
  }

  async headBucket(bucket: string): Promise<BucketInfo> {
    return this.store.call({ bucket }, async () => {
      const p = await this.store.container(bucket).getProperties();
      return { name: bucket, creationDate: p.lastModified ?? new Date(0) };
    });
  }

  /**
   * Refuses while any object remains (natural names, or escaped keys in the reserved area);
   * multipart uploads in progress go with the container. Azure has no conditional container
   * delete, so an object written between the check and the delete goes too.
   */
  async deleteBucket(bucket: string): Promise<void> {
    const container = this.store.container(bucket);
    await this.store.call({ bucket }, async () => {
      await container.getProperties();
      const top = rawListing(container, { prefix: '', hierarchical: true, pageSize: 10 });
      for await (const item of top) {
        if (item.name === RESERVED_PREFIX) continue;
        throw new S3Error('BucketNotEmpty', undefined, { BucketName: bucket });
      }
      for await (const _ of rawListing(container, { prefix: ESCAPED_PREFIX, hierarchical: false, pageSize: 1 })) {
        throw new S3Error('BucketNotEmpty', undefined, { BucketName: bucket });
      }
      await container.delete();
    });
    this.store.markers.forget(`${bucket}\n`);
  }

  // ---------------------------------------------------------------- reading

  async headObject(bucket: string, key: string): Promise<ObjectMeta> {
    return this.store.call({ bucket, key }, async () => metaOf(key, await this.store.blob(bucket, key).getProperties()));
  }

  async openObject(bucket: string, key: string): Promise<ObjectHandle> {
    const blob = this.store.blob(bucket, key);
    const p = await this.store.call({ bucket, key }, () => blob.getProperties());
    return new AzureObjectHandle(metaOf(key, p), blob, p.etag, { bucket, key });
  }

  // ---------------------------------------------------------------- writing

  async putObject(bucket: string, key: string, body: Readable, attrs: ObjectAttributes, opts: PutOptions = {}): Promise<ObjectMeta> {
    const blob = this.store.blob(bucket, key);
    const ctx: ErrorContext = { bucket, key, multipart: false };
    const size = opts.size;
    const extras: StoredExtras = opts.etag ? { etag: unquoteEtag(opts.etag) } : {};
    const finish = (md5: Buffer, total: number, res: { lastModified?: Date }, stored: ObjectAttributes): ObjectMeta => ({
      ...stored,
      key,
      size: total,
      etag: extras.etag ?? md5.toString('hex'),
      lastModified: res.lastModified ?? new Date(),
    });

    if (size !== undefined && size > this.blockSize && size <= MAX_BLOCK_SIZE) {
      // Known length: the body streams into one block, nothing held in memory.
      const measured = MeasuredBody.of(body, size);
      const owner = newOwner();
      const nonce = newNonce();
      const id = blockId('P', owner, 0, nonce, 0);
      try {
        await this.store.streamingBlob(bucket, key).stageBlock(id, once(measured), size, { abortSignal: measured.abort.signal });
      } catch (err) {
        measured.discard();
        throw measured.failure !== undefined ? bodyFailure(measured.failure) : toS3ErrorFromAzure(err, ctx);
      }
      await measured.ended();
      const md5 = measured.md5.digest();
      const stored = storedAttributes(attrs);
      const cas = await this.store.cas(bucket, key, opts.conditions);
      const { headers, metadata, tier } = toAzure(stored, extras);
      const res = await this.store.call(ctx, () =>
        blob.commitBlockList([id], { blobHTTPHeaders: { ...headers, blobContentMD5: md5 }, metadata, tier, conditions: cas }),
      );
      return finish(md5, size, res, stored);
    }

    const hash = createHash('md5');
    const chunks = chunksOf(body, this.blockSize, size, hash);
    let first: Buffer | undefined;
    let second: IteratorResult<Buffer>;
    try {
      const r = await chunks.next();
      first = r.done ? Buffer.alloc(0) : r.value;
      second = r.done ? r : await chunks.next();
    } catch (err) {
      if (!body.destroyed) body.resume();
      throw bodyFailure(err);
    }
    if (second.done) {
      // The whole body fits in one Put Blob.
      const md5 = hash.digest();
      const stored = storedAttributes(attrs);
      const cas = await this.store.cas(bucket, key, opts.conditions);
      const { headers, metadata, tier } = toAzure(stored, extras);
      const res = await this.store.call(ctx, () =>
        blob.upload(first!, first!.length, {
          blobHTTPHeaders: { ...headers, blobContentMD5: md5 },
          metadata,
          tier,
          conditions: cas,
        }),
      );
      return finish(md5, first.length, res, stored);
    }

    // Unknown or large length: stage chunk by chunk, then commit.
    const owner = newOwner();
    const nonce = newNonce();
    const ids: string[] = [];
    let total = 0;
    const stage = async (chunk: Buffer): Promise<void> => {
      if (ids.length >= MAX_BLOCKS) throw new S3Error('EntityTooLarge');
      const id = blockId('P', owner, 0, nonce, ids.length);
      ids.push(id);
      total += chunk.length;
      const md5 = createHash('md5').update(chunk).digest();
      await this.store.call(ctx, () => blob.stageBlock(id, chunk, chunk.length, { transactionalContentMD5: md5 }));
    };
    try {
      await stage(first);
      first = undefined;
      await stage(second.value);
      for (;;) {
        let r: IteratorResult<Buffer>;
        try {
          r = await chunks.next();
        } catch (err) {
          throw bodyFailure(err);
        }
        if (r.done) break;
        await stage(r.value);
      }
    } catch (err) {
      await chunks.return(undefined);
      if (!body.destroyed) body.resume();
      throw err;
    }
    const md5 = hash.digest();
    const stored = storedAttributes(attrs);
    const cas = await this.store.cas(bucket, key, opts.conditions);
    const { headers, metadata, tier } = toAzure(stored, extras);
    const res = await this.store.call(ctx, () =>
      blob.commitBlockList(ids, { blobHTTPHeaders: { ...headers, blobContentMD5: md5 }, metadata, tier, conditions: cas }),
    );
    return finish(md5, total, res, stored);
  }

  async deleteObject(bucket: string, key: string): Promise<void> {
    const blob = this.store.blob(bucket, key);
    try {
      await blob.delete({ deleteSnapshots: 'include' });
    } catch (err) {
      if (isAzureError(err, 'BlobNotFound')) return;
      throw toS3ErrorFromAzure(err, { bucket, key });
    }
  }

  /**
   * Tags live in metadata (see metadata.ts), so this rewrites the metadata, conditional on
   * the version read. Azure then gives the blob a new Last-Modified; the S3 ETag stays.
   */
  async setTags(bucket: string, key: string, tags: Tag[]): Promise<void> {
    const blob = this.store.blob(bucket, key);
    const ctx = { bucket, key };
    for (let attempt = 1; ; attempt++) {
      const p = await this.store.call(ctx, () => blob.getProperties());
      const { attrs, extras } = fromAzure(p);
      attrs.tags = tags.map((t) => ({ key: t.key, value: t.value }));
      if (!extras.etag && !(p.contentMD5 && p.contentMD5.length === 16)) extras.etag = s3Etag(p, extras);
      const { metadata } = toAzure(attrs, extras);
      // toAzure may move a header value into metadata; the headers themselves stay as they are.
      try {
        await blob.setMetadata(metadata, { conditions: { ifMatch: p.etag } });
        return;
      } catch (err) {
        if (attempt < MAX_TAG_ATTEMPTS && isAzureError(err, 'ConditionNotMet')) continue;
        throw toS3ErrorFromAzure(err, ctx);
      }
    }
  }

  /**
   * Server-side copy (Copy Blob within the account). Without `attrs` the source's headers
   * and metadata come along; with them, the metadata is given in the copy and the headers set
   * after it, conditional on the copy's result. The S3 ETag (MD5 or multipart form) is kept.
   */
  async copyObject(
    srcBucket: string,
    srcKey: string,
    dstBucket: string,
    dstKey: string,
    attrs: ObjectAttributes | undefined,
  ): Promise<ObjectMeta> {
    const src = this.store.blob(srcBucket, srcKey);
    const dst = this.store.blob(dstBucket, dstKey);
    const p = await this.store.call({ bucket: srcBucket, key: srcKey }, () => src.getProperties());
    const srcMeta = metaOf(srcKey, p);
    const { attrs: srcAttrs } = fromAzure(p);
    const ctx: ErrorContext = { bucket: dstBucket, key: dstKey };
    const md5 = p.contentMD5 && p.contentMD5.length === 16 ? p.contentMD5 : undefined;
    const keepEtag: StoredExtras = md5 && Buffer.from(md5).toString('hex') === srcMeta.etag ? {} : { etag: srcMeta.etag };

    let stored: ObjectAttributes;
    if (attrs === undefined) stored = copyAttributes(srcAttrs);
    else {
      stored = storedAttributes(attrs);
      if (attrs.tags === undefined && srcAttrs.tags !== undefined) stored.tags = srcAttrs.tags.map((t) => ({ ...t }));
      if (attrs.checksums === undefined && srcAttrs.checksums !== undefined) stored.checksums = { ...srcAttrs.checksums };
    }
    const { headers, metadata, tier } = toAzure(stored, keepEtag);
    const sameBlob = srcBucket === dstBucket && blobNameOf(srcKey) === blobNameOf(dstKey);

    let azureEtag: string | undefined;
    if (sameBlob) {
      const r = await this.store.call(ctx, () => dst.setMetadata(metadata, { conditions: { ifMatch: p.etag } }));
      azureEtag = r.etag;
    } else {
      await this.store.call(ctx, () => this.store.container(dstBucket).getProperties());
      const poller = await this.store.call(ctx, () =>
        // Copy Blob keeps the source's tier unless told: a copy with attributes of its own is
        // in the tier they name, Hot for STANDARD (which names none).
        dst.beginCopyFromURL(src.url, {
          metadata,
          tier: attrs === undefined ? tier : (tier ?? 'Hot'),
          sourceConditions: { ifMatch: p.etag },
          intervalInMs: 500,
        }),
      );
      const r = await this.store.call(ctx, () => poller.pollUntilDone());
      if (r.copyStatus && r.copyStatus !== 'success') throw new S3Error('InternalError', `Azure copy ended as ${r.copyStatus}.`);
      azureEtag = r.etag;
      // Copy Blob given no metadata at all copies the source's; S3's REPLACE naming none
      // (aws s3 cp --metadata-directive REPLACE) stores none, so it is cleared.
      if (attrs !== undefined && Object.keys(metadata).length === 0) {
        const cleared = await this.store.call(ctx, () =>
          dst.setMetadata({}, { conditions: azureEtag ? { ifMatch: azureEtag } : undefined }),
        );
        azureEtag = cleared.etag;
      }
    }
    if (attrs !== undefined || sameBlob) {
      await this.store.call(ctx, () =>
        dst.setHTTPHeaders({ ...headers, blobContentMD5: md5 }, { conditions: azureEtag ? { ifMatch: azureEtag } : undefined }),
      );
    }
    // Copy Blob sets the tier; metadata changed in place leaves it, so it is set here.
    if (sameBlob && (tier ?? 'Hot') !== (p.accessTier ?? 'Hot')) await this.store.call(ctx, () => dst.setAccessTier(tier ?? 'Hot'));
    return this.headObject(dstBucket, dstKey);
  }

  // ---------------------------------------------------------------- tiers

  /** The blob's properties while its S3 ETag is `ifMatch`. */
  private async propertiesIfMatch(bucket: string, key: string, ifMatch: string): Promise<BlobGetPropertiesResponse> {
    const p = await this.store.call({ bucket, key }, () => this.store.blob(bucket, key).getProperties());
    if (metaOf(key, p).etag !== unquoteEtag(ifMatch)) throw new S3Error('PreconditionFailed');
    return p;
  }

  /** Set Blob Tier: the bytes stay where they are. Leaving Archive this way is a rehydration. */
  async setStorageClass(bucket: string, key: string, storageClass: string, ifMatch: string): Promise<void> {
    const tier = azureTier(storageClass) ?? 'Hot';
    const p = await this.propertiesIfMatch(bucket, key, ifMatch);
    if (p.accessTier === tier) return;
    await this.store.call({ bucket, key }, () =>
      this.store.blob(bucket, key).setAccessTier(tier, { conditions: {}, rehydratePriority: 'Standard' }),
    );
  }

  /** Rehydration: an Archive blob goes back to Hot (Azure rehydrates for good; there is no temporary copy). */
  async restoreObject(bucket: string, key: string): Promise<'started' | 'ongoing' | 'restored'> {
    const blob = this.store.blob(bucket, key);
    const p = await this.store.call({ bucket, key }, () => blob.getProperties());
    if (p.archiveStatus?.startsWith('rehydrate-pending')) return 'ongoing';
    if (p.accessTier !== 'Archive')
      throw new S3Error('InvalidObjectState', "Restore is not allowed for the object's current storage class");
    const r = await this.store.call({ bucket, key }, () => blob.setAccessTier('Hot', { rehydratePriority: 'Standard' }));
    return r._response.status === 202 ? 'started' : 'restored';
  }

  /** Delete Blob with If-Match on the Azure ETag of the version whose S3 ETag was checked. */
  async deleteObjectIfMatch(bucket: string, key: string, ifMatch: string): Promise<void> {
    let p: BlobGetPropertiesResponse;
    try {
      p = await this.propertiesIfMatch(bucket, key, ifMatch);
    } catch (err) {
      if (isS3Error(err, 'NoSuchKey')) return;
      throw err;
    }
    try {
      await this.store.blob(bucket, key).delete({ deleteSnapshots: 'include', conditions: { ifMatch: p.etag } });
    } catch (err) {
      if (isAzureError(err, 'BlobNotFound')) return;
      throw toS3ErrorFromAzure(err, { bucket, key });
    }
  }

  // ---------------------------------------------------------------- listing

  async listObjects(bucket: string, opts: ListOptions): Promise<ListPage> {
    const container = this.store.container(bucket);
    const prefix = opts.prefix ?? '';
    if (prefix.includes('\0') || Buffer.byteLength(prefix, 'utf8') > 1024) {
      await this.headBucket(bucket);
      return { objects: [], commonPrefixes: [], isTruncated: false };
    }
    const pageSize = Math.min(5000, Math.max(100, 2 * (opts.maxKeys ?? 1000) + 2));
    // With '/', Azure groups the virtual directories itself: one request per page of them.
    const hierarchical = opts.delimiter === '/';
    const source: ListSource = (seek) => this.source(container, seek, hierarchical, pageSize);
    return this.store.call({ bucket }, () => listFromSource(source, { ...opts, prefix }, { canSeek: !hierarchical }));
  }

  private source(container: ContainerClient, seek: ListSeek, hierarchical: boolean, pageSize: number): AsyncIterable<ListSourceItem> {
    if (seek.after !== undefined && !seek.after.startsWith(seek.prefix) && compareKeys(seek.after, seek.prefix) > 0) {
      return { [Symbol.asyncIterator]: async function* () {} }; // the position is past every key with the prefix
    }
    const flat = this.store.opener(container, false, pageSize);
    const self = this;
    const natural = async function* (): AsyncGenerator<ListSourceItem & { key: string }> {
      if (hierarchical && seek.after !== undefined && seek.after.startsWith(seek.prefix)) {
        // The virtual directory holding the start position is listed again when a key in it
        // comes after the position: look for one.
        const i = seek.after.indexOf('/', seek.prefix.length);
        if (i >= 0 && !(seek.skipSubtree && i === seek.after.length - 1)) {
          const dir = seek.after.slice(0, i + 1);
          for await (const item of naturalNames(flat, { prefix: dir, after: seek.after })) {
            if (!item.blob || !wanted(item.name, seek)) continue;
            yield summaryOf(item.name, item.blob);
            break;
          }
        }
      }
      const open = hierarchical ? self.store.opener(container, true, pageSize) : flat;
      for await (const item of naturalNames(open, seek)) {
        if (!wanted(item.name, seek)) continue;
        yield item.blob ? summaryOf(item.name, item.blob) : directoryEntry(item.name);
      }
    };
    const escaped = async function* (): AsyncGenerator<ListSourceItem & { key: string }> {
      const from = seek.after !== undefined && seek.after.startsWith(seek.prefix) ? seek.after : undefined;
      for await (const e of escapedKeys(flat, { ...seek, after: from })) {
        if (wanted(e.key, seek)) yield summaryOf(e.key, e.blob);
      }
    };
    return { [Symbol.asyncIterator]: () => mergeAscending(natural(), escaped()) };
  }

  async close(): Promise<void> {}
}

function isTokenCredential(c: unknown): c is NonNullable<AzureConnection['credential']> {
  return typeof (c as { getToken?: unknown } | undefined)?.getToken === 'function';
}

function summaryOf(key: string, b: BlobItem): ObjectSummary {
  const p = { ...b.properties, metadata: b.metadata };
  const { attrs, extras } = fromAzure(p);
  const s: ObjectSummary = {
    key,
    size: b.properties.contentLength ?? 0,
    etag: s3Etag(p, extras),
    lastModified: b.properties.lastModified,
    ...(attrs.storageClass !== undefined ? { storageClass: attrs.storageClass } : {}),
  };
  // Blobs are listed with their metadata (includeMetadata), where the object's checksums are kept.
  setListedChecksum(s, attrs.checksums);
  return s;
}

// ---------------------------------------------------------------- from the routing table

/** The backend for an `azure` entry of the routing table; secrets are resolved here. */
export function azureBackendFromSpec(spec: AzureSettings, ctx: BackendContext): AzureBackend {
  const what = (s: string) => `backend '${ctx.name}': ${s}`;
  const c = spec.credentials ?? {};
  const token = azureTokenCredential(c, what, ctx.env);
  return new AzureBackend({
    account: spec.account,
    endpoint: spec.endpoint,
    accountKey: c.accountKey ? resolveSecret(c.accountKey, what('accountKey'), ctx.env) : undefined,
    sasToken: c.sasToken ? resolveSecret(c.sasToken, what('sasToken'), ctx.env) : undefined,
    connectionString: c.connectionString ? resolveSecret(c.connectionString, what('connectionString'), ctx.env) : undefined,
    credential: token ? withS3TokenErrors(token, ctx.name) : undefined,
  });
}
