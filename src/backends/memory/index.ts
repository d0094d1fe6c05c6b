/**
 * An in-memory backend, for tests and `memory://name` routes. Bodies are collected into
 * Buffers (this is the one place where that is acceptable); metadata behaves exactly like
 * the fs backend's.
 */
import { createHash } from 'node:crypto';
import { Readable } from 'node:stream';
import { S3Error, toS3Error } from '../../errors';
import { checkWriteConditions, unquoteEtag } from '../conditions';
import { validateBucketName } from '../keys';
import { compareKeys, listFromSource, summaryOf, type ListSeek, type ListSource } from '../listing';
import { StagedMultipartStore } from '../multipart/staged';
import { MemoryPartStorage } from './parts';
import { MemoryReservedStore, type ReservedDocuments } from './reserved';
import type {
  MultipartStore,
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
} from '../types';
import { copyAttributes, DEFAULT_CONTENT_TYPE } from '../attributes';

interface StoredObject {
  meta: ObjectMeta;
  body: Buffer;
}

/** Keys kept sorted in UTF-8 order next to a Map, so listing can binary-search a position. */
class SortedObjects {
  private readonly keys: string[] = [];
  private readonly map = new Map<string, StoredObject>();

  get size(): number {
    return this.map.size;
  }

  get(key: string): StoredObject | undefined {
    return this.map.get(key);
  }

  set(key: string, value: StoredObject): void {
    if (!this.map.has(key)) this.keys.splice(this.lowerBound(key), 0, key);
    this.map.set(key, value);
  }

  delete(key: string): void {
    if (!this.map.delete(key)) return;
    const i = this.lowerBound(key);
    if (this.keys[i] === key) this.keys.splice(i, 1);
  }

  /** Index of the first key >= `key`. */
  private lowerBound(key: string): number {
    let lo = 0;
    let hi = this.keys.length;
    while (lo < hi) {
      const mid = (lo + hi) >>> 1;
      if (compareKeys(this.keys[mid], key) < 0) lo = mid + 1;
      else hi = mid;
    }
    return lo;
  }

  /** Index of the first key that does not start with `p` and is greater than `p`. */
  private pastSubtree(p: string): number {
    let lo = 0;
    let hi = this.keys.length;
    while (lo < hi) {
      const mid = (lo + hi) >>> 1;
      const k = this.keys[mid];
      if (k.startsWith(p) || compareKeys(k, p) < 0) lo = mid + 1;
      else hi = mid;
    }
    return lo;
  }

  /** First index the seek may want. */
  private seekIndex(seek: ListSeek): number {
    let i = this.lowerBound(seek.prefix);
    if (seek.after !== undefined) {
      let j = this.lowerBound(seek.after);
      if (this.keys[j] === seek.after) j++;
      if (seek.skipSubtree) j = Math.max(j, this.pastSubtree(seek.after));
      i = Math.max(i, j);
    }
    return i;
  }

  /** Summaries from the seek position on; keys inserted or removed meanwhile are tolerated. */
  *from(seek: ListSeek): Generator<ObjectSummary> {
    let i = this.seekIndex(seek);
    let lastKey: string | undefined;
    while (i < this.keys.length) {
      const key = this.keys[i];
      if (lastKey !== undefined && compareKeys(key, lastKey) <= 0) {
        // The array shifted under us (a concurrent insert): move forward past lastKey.
        i = this.lowerBound(lastKey) + 1;
        continue;
      }
      const obj = this.map.get(key);
      i++;
      if (!obj) continue;
      lastKey = key;
      yield summaryOfStored(obj.meta);
    }
  }
}

interface MemoryBucket {
  name: string;
  creationDate: Date;
  objects: SortedObjects;
  /** s3mux's own documents: not objects (never listed, never BucketNotEmpty), gone with the bucket. */
  reserved: ReservedDocuments;
}

function summaryOfStored(meta: ObjectMeta): ObjectSummary {
  const s = summaryOf(meta);
  s.lastModified = new Date(meta.lastModified); // its own Date: the stored one stays the store's
  return s;
}

function cloneMeta(meta: ObjectMeta): ObjectMeta {
  return { ...copyAttributes(meta), key: meta.key, size: meta.size, etag: meta.etag, lastModified: new Date(meta.lastModified) };
}

async function collect(body: Readable): Promise<Buffer> {
  const chunks: Buffer[] = [];
  for await (const chunk of body) {
    chunks.push(typeof chunk === 'string' ? Buffer.from(chunk) : Buffer.from(chunk as Uint8Array));
  }
  return Buffer.concat(chunks);
}

export interface MemoryBackendOptions {
  name?: string;
}

export class MemoryBackend implements Backend {
  readonly kind = 'memory';
  readonly capabilities: BackendCapabilities = { serverSideCopy: true };
  readonly multipart: MultipartStore = new StagedMultipartStore(this, new MemoryPartStorage());
  readonly reserved = new MemoryReservedStore((bucket) => this.bucket(bucket).reserved);
  readonly name: string;
  private readonly buckets = new Map<string, MemoryBucket>();

  constructor(opts: MemoryBackendOptions = {}) {
    this.name = opts.name ?? 'default';
  }

  private bucket(name: string): MemoryBucket {
    const b = this.buckets.get(name);
    if (!b) throw new S3Error('NoSuchBucket', undefined, { BucketName: String(name) });
    return b;
  }

  private object(bucket: string, key: string): StoredObject {
    const b = this.bucket(bucket);
    const obj = b.objects.get(key);
    if (!obj) throw new S3Error('NoSuchKey', undefined, { Key: key });
    return obj;
  }

  async listBuckets(): Promise<BucketInfo[]> {
    return [...this.buckets.values()]
      .map((b) => ({ name: b.name, creationDate: new Date(b.creationDate) }))
      .sort((a, b) => compareKeys(a.name, b.name));
  }

  async createBucket(bucket: string): Promise<void> {
    validateBucketName(bucket);
    if (this.buckets.has(bucket)) throw new S3Error('BucketAlreadyOwnedByYou', undefined, { BucketName: bucket });
    this.buckets.set(bucket, { name: bucket, creationDate: new Date(), objects: new SortedObjects(), reserved: new Map() });
  }

  async deleteBucket(bucket: string): Promise<void> {
    const b = this.bucket(bucket);
    if (b.objects.size > 0) throw new S3Error('BucketNotEmpty', undefined, { BucketName: bucket });
    this.buckets.delete(bucket);
  }

  async headBucket(bucket: string): Promise<BucketInfo> {
    const b = this.bucket(bucket);
    return { name: b.name, creationDate: new Date(b.creationDate) };
  }

  async headObject(bucket: string, key: string): Promise<ObjectMeta> {
    return cloneMeta(this.object(bucket, key).meta);
  }

  async openObject(bucket: string, key: string): Promise<ObjectHandle> {
    const obj = this.object(bucket, key);
    const meta = cloneMeta(obj.meta);
    const body = obj.body; // this version's bytes, whatever happens to the key meanwhile
    return {
      meta,
      read(range?: ByteRange): Readable {
        const slice = range ? body.subarray(range.start, range.end + 1) : body;
        return Readable.from(slice.length > 0 ? [slice] : []);
      },
      bytes: (range?: ByteRange): Buffer => (range ? body.subarray(range.start, range.end + 1) : body),
      async close(): Promise<void> {},
    };
  }

  async putObject(bucket: string, key: string, body: Readable, attrs: ObjectAttributes, opts: PutOptions = {}): Promise<ObjectMeta> {
    this.bucket(bucket);
    let data: Buffer;
    try {
      data = await collect(body);
    } catch (err) {
      throw toS3Error(err);
    }
    if (opts.size !== undefined && opts.size !== data.length) {
      throw new S3Error('IncompleteBody');
    }
    // No await between the check and the commit: atomic within this process.
    const b = this.bucket(bucket);
    checkWriteConditions(b.objects.get(key)?.meta, opts.conditions);
    const meta: ObjectMeta = {
      ...copyAttributes(attrs),
      key,
      size: data.length,
      etag: opts.etag !== undefined && opts.etag !== '' ? unquoteEtag(opts.etag) : createHash('md5').update(data).digest('hex'),
      lastModified: opts.lastModified ? new Date(opts.lastModified) : new Date(),
    };
    if (meta.contentType === undefined) meta.contentType = DEFAULT_CONTENT_TYPE;
    b.objects.set(key, { meta, body: data });
    return cloneMeta(meta);
  }

  async deleteObject(bucket: string, key: string): Promise<void> {
    const b = this.bucket(bucket);
    b.objects.delete(key);
  }

  async listObjects(bucket: string, opts: ListOptions): Promise<ListPage> {
    const b = this.bucket(bucket);
    const source: ListSource = (seek) => {
      const it = b.objects.from(seek);
      return {
        [Symbol.asyncIterator]: () => ({
          next: async () => it.next(),
          return: async () => it.return(undefined),
        }),
      };
    };
    return listFromSource(source, opts);
  }

  async setStorageClass(bucket: string, key: string, storageClass: string, ifMatch: string): Promise<void> {
    const obj = this.object(bucket, key);
    if (obj.meta.etag !== unquoteEtag(ifMatch)) throw new S3Error('PreconditionFailed');
    const { storageClass: _old, ...rest } = obj.meta;
    obj.meta = storageClass === 'STANDARD' ? rest : { ...rest, storageClass };
  }

  async deleteObjectIfMatch(bucket: string, key: string, ifMatch: string): Promise<void> {
    const b = this.bucket(bucket);
    const obj = b.objects.get(key);
    if (obj === undefined) return;
    if (obj.meta.etag !== unquoteEtag(ifMatch)) throw new S3Error('PreconditionFailed');
    b.objects.delete(key);
  }

  async setTags(bucket: string, key: string, tags: Tag[]): Promise<void> {
    const obj = this.object(bucket, key);
    obj.meta = { ...obj.meta, tags: tags.map((t) => ({ key: t.key, value: t.value })) };
  }

  async copyObject(
    srcBucket: string,
    srcKey: string,
    dstBucket: string,
    dstKey: string,
    attrs: ObjectAttributes | undefined,
  ): Promise<ObjectMeta> {
    const src = this.object(srcBucket, srcKey);
    const dst = this.bucket(dstBucket);
    const base = attrs === undefined ? copyAttributes(src.meta) : copyAttributes(attrs);
    if (attrs !== undefined) {
      if (attrs.tags === undefined && src.meta.tags !== undefined) base.tags = src.meta.tags.map((t) => ({ ...t }));
      if (attrs.checksums === undefined && src.meta.checksums !== undefined) base.checksums = { ...src.meta.checksums };
    }
    const meta: ObjectMeta = { ...base, key: dstKey, size: src.meta.size, etag: src.meta.etag, lastModified: new Date() };
    if (meta.contentType === undefined) meta.contentType = DEFAULT_CONTENT_TYPE;
    dst.objects.set(dstKey, { meta, body: src.body });
    return cloneMeta(meta);
  }

  async close(): Promise<void> {}
}
