/**
 * One virtual bucket as the S3 layer sees it: every call is translated onto the route's
 * backend, real bucket and key prefix, and writes are refused on read-only routes. This is
 * the only place that adds or strips a route's prefix, and the only place S3's key rules are
 * checked: every key a request names (the object, a copy source, a multipart upload's key)
 * becomes a store key through realKey, so no handler or adapter checks them again.
 */
import type { Readable } from 'node:stream';
import { S3Error } from '../errors';
import type {
  Backend,
  ListOptions,
  ListPage,
  ListPartsOptions,
  ListPartsPage,
  ListUploadsOptions,
  ListUploadsPage,
  MultipartStore,
  ObjectAttributes,
  ObjectHandle,
  PartRange,
  ObjectMeta,
  PartInfo,
  PartOptions,
  PutOptions,
  Tag,
} from '../backends/types';
import { bucketArea, type BucketReservedArea } from '../backends/reserved-store';
import { validateKey } from '../backends/keys';
import { listUnderPrefix } from '../backends/listing';
import type { Route } from './router';
import { checkStorageClass } from '../backends/storage-classes';
import { refuseArchived, restoreOn } from '../backends/archive';
import { deleteIfMatch } from '../backends/conditions';

/** What a feature that keeps s3mux's state in the store answers where the store has no reserved area. */
const noReservedArea = (kind: string, feature: string) => new S3Error('NotImplemented', `The ${kind} backend cannot hold ${feature}.`);

export class BucketView {
  constructor(readonly route: Route) {}

  get name(): string {
    return this.route.name;
  }
  get backend(): Backend {
    return this.route.backend;
  }
  get realBucket(): string {
    return this.route.bucket;
  }

  /** Throws S3's error (KeyTooLongError, InvalidArgument) for a key S3 would refuse. */
  checkKey(key: string): void {
    validateKey(key);
  }

  /** The store's key for a client's key, checked. */
  realKey(key: string): string {
    validateKey(key);
    return this.route.prefix + key;
  }

  private strip<T extends { key: string }>(meta: T): T {
    return { ...meta, key: meta.key.slice(this.route.prefix.length) };
  }

  /**
   * Names this virtual bucket's reserved area within the process: views of one route (and of
   * routes onto the same store, bucket and prefix) name the same area. For in-process caches and locks.
   */
  get reservedAreaId(): string {
    return `${this.backend.kind}\0${this.route.backendName}\0${this.realBucket}\0${this.route.prefix}`;
  }

  /**
   * This virtual bucket's part of the store's reserved area (its configuration, versions,
   * checkpoints), or NotImplemented when the backend cannot hold s3mux's state.
   */
  reservedArea(feature: string): BucketReservedArea {
    const store = this.backend.reserved;
    if (!store) throw noReservedArea(this.backend.kind, feature);
    return bucketArea(store, this.realBucket, this.route.prefix);
  }

  /**
   * Refuses `feature` with reservedArea's NotImplemented where the store has no reserved area,
   * without opening it: for a request that must be refused before it makes anything.
   */
  requireReservedArea(feature: string): void {
    if (!this.backend.reserved) throw noReservedArea(this.backend.kind, feature);
  }

  /**
   * The attributes a write stores: a class the request names must be one the store can hold
   * (on a composite route: every target the write may reach; InvalidStorageClass otherwise,
   * never dropped); a write naming none gets the route's tier. STANDARD is stored as no class,
   * as every adapter reports it.
   */
  private withStorageClass(attrs: ObjectAttributes): ObjectAttributes {
    const storageClass = attrs.storageClass ?? this.route.storageClass;
    if (storageClass === undefined) return attrs;
    checkStorageClass(this.backend, storageClass);
    const { storageClass: _drop, checksums: _late, ...rest } = attrs;
    const out: ObjectAttributes = storageClass === 'STANDARD' ? rest : { ...rest, storageClass };
    // Checksums from trailers or computed for x-amz-checksum-algorithm are set on the caller's
    // attributes only as the body ends: the copy the store gets must read them from there.
    Object.defineProperty(out, 'checksums', {
      enumerable: true,
      get: () => attrs.checksums,
      set: (v: ObjectAttributes['checksums']) => (attrs.checksums = v),
    });
    return out;
  }

  assertWritable(): void {
    if (this.route.readOnly) throw new S3Error('AccessDenied', 'This bucket is read-only.');
  }

  async exists(): Promise<void> {
    await this.backend.headBucket(this.realBucket);
  }

  /** The metadata, as the caller's own copy (callers may add to it). */
  async headObject(key: string): Promise<ObjectMeta> {
    return this.strip(await this.backend.headObject(this.realBucket, this.realKey(key)));
  }

  /** Where a part of a multipart object lies, where the store keeps the part layout itself (Backend.partRange). */
  async partRange(key: string, partNumber: number, etag: string): Promise<PartRange | undefined> {
    return this.backend.partRange?.(this.realBucket, this.realKey(key), partNumber, etag);
  }

  /**
   * An archived object (a store's archive tier) is not readable until restored: 403
   * InvalidObjectState, as S3 answers, before any byte is sent (a composite route's target
   * checks the copy it serves). The handle and its metadata are the caller's own.
   */
  async openObject(key: string): Promise<ObjectHandle> {
    const handle = await refuseArchived(this.backend.kind, await this.backend.openObject(this.realBucket, this.realKey(key)));
    return {
      meta: this.strip(handle.meta),
      read: (r) => handle.read(r),
      bytes: handle.bytes && ((r) => handle.bytes!(r)),
      close: () => handle.close(),
    };
  }

  /** Throws what putObject would refuse of these attributes (the store cannot hold them), before any bytes are kept. */
  checkAttributes(attrs: ObjectAttributes): void {
    this.backend.checkAttributes?.(this.withStorageClass(attrs));
  }

  async putObject(key: string, body: Readable, attrs: ObjectAttributes, opts?: PutOptions): Promise<ObjectMeta> {
    const real = this.realKey(key);
    this.assertWritable();
    return this.strip(await this.backend.putObject(this.realBucket, real, body, this.withStorageClass(attrs), opts));
  }

  async deleteObject(key: string): Promise<void> {
    const real = this.realKey(key);
    this.assertWritable();
    await this.backend.deleteObject(this.realBucket, real);
  }

  /**
   * Moves the object to S3 class `storageClass`, only while its ETag is `etag`, in place (the
   * store's own tier change; fs and memory rewrite the label). NotImplemented where the store
   * has no way to (lifecycle transitions are refused at Put time there).
   */
  async setStorageClass(key: string, storageClass: string, etag: string): Promise<void> {
    const real = this.realKey(key);
    this.assertWritable();
    checkStorageClass(this.backend, storageClass);
    if (!this.backend.setStorageClass)
      throw new S3Error('NotImplemented', `The ${this.backend.kind} backend cannot change an object's storage class.`);
    await this.backend.setStorageClass(this.realBucket, real, storageClass, etag);
  }

  /** RestoreObject: the store's rehydration (archive.ts restoreOn; a composite route's, on the copy reads come from). */
  async restoreObject(key: string, days: number | undefined): Promise<'started' | 'ongoing' | 'restored'> {
    const real = this.realKey(key);
    this.assertWritable();
    return restoreOn(this.backend, this.realBucket, real, days);
  }

  /** Deletes the object only while its ETag is `etag` (conditions.ts: deleteIfMatch). */
  async deleteObjectIfMatch(key: string, etag: string): Promise<void> {
    const real = this.realKey(key);
    this.assertWritable();
    return deleteIfMatch(this.backend, this.realBucket, real, etag);
  }

  async setTags(key: string, tags: Tag[]): Promise<void> {
    const real = this.realKey(key);
    this.assertWritable();
    await this.backend.setTags(this.realBucket, real, tags);
  }

  listObjects(opts: ListOptions): Promise<ListPage> {
    return listUnderPrefix(this.backend, this.realBucket, this.route.prefix, opts);
  }

  /**
   * Server-side copy from another view, when both reach one backend that can copy natively;
   * undefined otherwise, and the caller streams the bytes across.
   */
  async nativeCopyFrom(src: BucketView, srcKey: string, key: string, attrs: ObjectAttributes | undefined): Promise<ObjectMeta | undefined> {
    const realSrc = src.realKey(srcKey);
    const real = this.realKey(key);
    this.assertWritable();
    if (src.backend !== this.backend || !this.backend.copyObject) return undefined;
    const meta = await this.backend.copyObject(src.realBucket, realSrc, this.realBucket, real, attrs && this.withStorageClass(attrs));
    return this.strip(meta);
  }

  private get store(): MultipartStore {
    const store = this.backend.multipart;
    if (!store) throw new S3Error('NotImplemented', `The ${this.backend.kind} backend does not support multipart uploads yet.`);
    return store;
  }

  async createUpload(key: string, attrs: ObjectAttributes): Promise<string> {
    const real = this.realKey(key);
    this.assertWritable();
    return this.store.createUpload(this.realBucket, real, this.withStorageClass(attrs));
  }

  async uploadPart(key: string, uploadId: string, partNumber: number, body: Readable, opts?: PartOptions): Promise<PartInfo> {
    const real = this.realKey(key);
    this.assertWritable();
    return this.store.uploadPart(this.realBucket, real, uploadId, partNumber, body, opts);
  }

  async listParts(key: string, uploadId: string, opts: ListPartsOptions): Promise<ListPartsPage> {
    const page = await this.store.listParts(this.realBucket, this.realKey(key), uploadId, opts);
    return { ...page, upload: this.strip(page.upload) };
  }

  async completeUpload(key: string, uploadId: string, partNumbers: number[], etag: string, opts?: PutOptions): Promise<ObjectMeta> {
    const real = this.realKey(key);
    this.assertWritable();
    return this.strip(await this.store.completeUpload(this.realBucket, real, uploadId, partNumbers, etag, opts));
  }

  async abortUpload(key: string, uploadId: string): Promise<void> {
    const real = this.realKey(key);
    this.assertWritable();
    await this.store.abortUpload(this.realBucket, real, uploadId);
  }

  async listUploads(opts: ListUploadsOptions): Promise<ListUploadsPage> {
    const p = this.route.prefix;
    const page = await this.store.listUploads(this.realBucket, {
      ...opts,
      prefix: p + opts.prefix,
      keyMarker: opts.keyMarker === undefined ? undefined : p + opts.keyMarker,
    });
    return {
      ...page,
      uploads: page.uploads.map((u) => this.strip(u)),
      commonPrefixes: page.commonPrefixes.map((c) => c.slice(p.length)),
      nextKeyMarker: page.nextKeyMarker === undefined ? undefined : page.nextKeyMarker.slice(p.length),
    };
  }
}
