/**
 * One target of a composite route: a backend, its real bucket and key prefix, and the
 * target's health. Calls take and return the route's own keys (without any prefix); the
 * target adds and strips its prefix, so two targets in different buckets under different
 * prefixes hold the same keys.
 */
import type { Readable } from 'node:stream';
import type { Backend, ListOptions, ListPage, ObjectAttributes, ObjectHandle, ObjectMeta, PutOptions, Tag } from '../../backends/types';
import { bucketArea, type BucketReservedArea } from '../../backends/reserved-store';
import { listUnderPrefix } from '../../backends/listing';
import { refuseArchived, restoreOn } from '../../backends/archive';
import { deleteIfMatch } from '../../backends/conditions';
import { S3Error } from '../../errors';
import { Health, type HealthOptions } from './health';

export class Target {
  readonly health: Health;

  constructor(
    /** How people see it: the URI or `backend:bucket/prefix`. */
    readonly label: string,
    readonly backend: Backend,
    readonly bucket: string,
    readonly prefix: string,
    health?: HealthOptions,
  ) {
    this.health = new Health(label, health);
  }

  private strip<T extends { key: string }>(meta: T): T {
    return { ...meta, key: meta.key.slice(this.prefix.length) };
  }

  realKey(key: string): string {
    return this.prefix + key;
  }

  headObject(key: string): Promise<ObjectMeta> {
    return this.health.run(async () => this.strip(await this.backend.headObject(this.bucket, this.prefix + key)));
  }

  /** An archived copy is refused here (InvalidObjectState), as this target's store keeps it. */
  openObject(key: string): Promise<ObjectHandle> {
    return this.health.run(
      async () => {
        const h = await refuseArchived(this.backend.kind, await this.backend.openObject(this.bucket, this.prefix + key));
        return { meta: this.strip(h.meta), read: (r) => h.read(r), close: () => h.close() };
      },
      { discard: (late) => void late.close().catch(() => undefined) },
    );
  }

  putObject(key: string, body: Readable, attrs: ObjectAttributes, opts?: PutOptions): Promise<ObjectMeta> {
    return this.health.run(async () => this.strip(await this.backend.putObject(this.bucket, this.prefix + key, body, attrs, opts)), {
      timeout: false,
    });
  }

  deleteObject(key: string): Promise<void> {
    return this.health.run(() => this.backend.deleteObject(this.bucket, this.prefix + key));
  }

  /** Deletes the object only while its ETag is `etag` (PreconditionFailed otherwise). */
  deleteObjectIfMatch(key: string, etag: string): Promise<void> {
    return this.health.run(() => deleteIfMatch(this.backend, this.bucket, this.prefix + key, etag));
  }

  setTags(key: string, tags: Tag[]): Promise<void> {
    return this.health.run(() => this.backend.setTags(this.bucket, this.prefix + key, tags));
  }

  /** The store's own class change, in place, only while the copy's ETag is `etag`. */
  setStorageClass(key: string, storageClass: string, etag: string): Promise<void> {
    const b = this.backend;
    if (!b.setStorageClass)
      throw new S3Error('NotImplemented', `Target ${this.label} (${b.kind}) cannot change an object's storage class.`);
    return this.health.run(() => b.setStorageClass!(this.bucket, this.prefix + key, storageClass, etag));
  }

  restoreObject(key: string, days: number | undefined): Promise<'started' | 'ongoing' | 'restored'> {
    return this.health.run(() => restoreOn(this.backend, this.bucket, this.prefix + key, days));
  }

  /** `opts` in the route's keys. */
  listObjects(opts: ListOptions): Promise<ListPage> {
    return this.health.run(() => listUnderPrefix(this.backend, this.bucket, this.prefix, opts));
  }

  /** A probe: the bucket answers (or says it is absent, which is an answer too). */
  probe(): Promise<unknown> {
    return this.health.run(() => this.backend.headBucket(this.bucket));
  }

  /** The route's part of this target's reserved area, when the store can hold s3mux's documents. */
  area(): BucketReservedArea | undefined {
    return this.backend.reserved && bucketArea(this.backend.reserved, this.bucket, this.prefix);
  }

  /**
   * The area with every call judged by this target's health, like its object calls: a write
   * loop that fails on a queue entry must open the breaker, or it would try the same store forever.
   */
  checkedArea(): BucketReservedArea | undefined {
    const a = this.area();
    if (!a) return undefined;
    const h = this.health;
    return {
      get: (name) => h.run(() => a.get(name), { discard: (doc) => doc?.body.destroy() }),
      put: (name, body, conditions) => h.run(() => a.put(name, body, conditions)),
      delete: (name, conditions) => h.run(() => a.delete(name, conditions)),
      list: (prefix, opts) => h.run(() => a.list(prefix, opts)),
    };
  }
}
