/**
 * What the migrate, mirror and failover routes share: each is one Backend (the interface every
 * adapter implements) over the targets of one route, so the S3 layer and BucketView serve them
 * as any other route. The router gives the route the primary target's bucket and prefix: keys
 * arrive here with that prefix, are turned into the route's own keys for the targets (each adds
 * its own), and go back with it. The reserved area (bucket configuration, versions) is the
 * route's own (`routeState`): kept on every target of a mirror or failover route
 * (replicated-area.ts), moving from `from` to `to` on a migration (migrating-area.ts).
 */
import type {
  Backend,
  BackendCapabilities,
  BucketInfo,
  ListOptions,
  ListPage,
  ListUploadsPage,
  ObjectAttributes,
  ObjectHandle,
  ObjectMeta,
  PutOptions,
  Tag,
  CreateBucketOptions,
} from '../../backends/types';
import type { Readable } from 'node:stream';
import type { BucketReservedArea, ReservedStore } from '../../backends/reserved-store';
import { isS3Error, S3Error } from '../../errors';
import type { HealthReport } from './health';
import type { Target } from './target';
import { routeStore } from './route-area';
import type { ClassHolder } from '../../backends/storage-classes';
import { receivingTargets } from './receivers';

export interface RouteFormStatus {
  route: string;
  form: string;
  targets: HealthReport[];
  /** True when the route can serve reads and writes (what /readyz reports for it). */
  ready: boolean;
}

/** Live composite backends, for the metrics endpoint (process-wide: the router knows nothing of metrics). */
export const liveForms = new Set<CompositeBackend>();

export abstract class CompositeBackend implements Backend {
  abstract readonly kind: 'migrate' | 'mirror' | 'failover';
  readonly capabilities: BackendCapabilities = { serverSideCopy: false };

  constructor(
    /** The virtual bucket. */
    readonly route: string,
    readonly targets: readonly Target[],
    /** The primary's key prefix, which BucketView adds to every key. */
    protected readonly keyPrefix: string,
  ) {
    liveForms.add(this);
  }

  /** The targets a write may reach (receivers.ts). */
  protected receivers(): Target[] {
    return receivingTargets(this.kind, this.targets);
  }

  /**
   * The route's storage-class table, as every class check asks it (storage-classes.ts): the
   * classes all the targets a write may reach can hold, each mapping it to its own class.
   */
  get classHolders(): readonly ClassHolder[] {
    this.holders ??= this.receivers().map((t) => ({
      label: `Target ${t.label} (${t.backend.kind}) of ${this.kind} route ${this.route}`,
      kind: t.backend.kind,
      ...(this.kind === 'mirror' ? { copiedBetween: true } : {}),
    }));
    return this.holders;
  }
  private holders?: readonly ClassHolder[];

  /** Every target: a read may come from any of them (a migration's `from` too). Asked on every object request. */
  get storedOn(): readonly Backend[] {
    this.stores ??= this.targets.map((t) => t.backend);
    return this.stores;
  }
  private stores?: readonly Backend[];

  /** What any target a write may reach cannot hold is refused before versioning keeps a version (Backend.checkAttributes). */
  checkAttributes(attrs: ObjectAttributes): void {
    for (const t of this.receivers()) t.backend.checkAttributes?.(attrs);
  }

  /** Whether every target a write may reach can change an object's class in place (lifecycle transitions). */
  protected classChangeable(): boolean {
    return this.receivers().every((t) => t.backend.setStorageClass !== undefined);
  }

  /** The route's state, as the primary's bucket and prefix name it (what BucketView asks for). */
  get reserved(): ReservedStore | undefined {
    const area = this.routeState;
    if (!area) return undefined;
    this.store ??= routeStore(this.targets[0].bucket, this.keyPrefix, area);
    return this.store;
  }
  private store?: ReservedStore;

  /** Where the route keeps its bucket configuration and versions; undefined when no target can. */
  protected abstract readonly routeState: BucketReservedArea | undefined;

  /** The route's key from a key with the primary's prefix. */
  protected vk(key: string): string {
    return key.startsWith(this.keyPrefix) ? key.slice(this.keyPrefix.length) : key;
  }

  protected out<T extends { key: string }>(meta: T): T {
    return { ...meta, key: this.keyPrefix + meta.key };
  }

  protected inList(opts: ListOptions): ListOptions {
    return { ...opts, prefix: this.vk(opts.prefix), startAfter: opts.startAfter === undefined ? undefined : this.vk(opts.startAfter) };
  }

  protected outList(page: ListPage): ListPage {
    const p = this.keyPrefix;
    return {
      objects: page.objects.map((o) => this.out(o)),
      commonPrefixes: page.commonPrefixes.map((c) => p + c),
      isTruncated: page.isTruncated,
      nextStartAfter: page.nextStartAfter === undefined ? undefined : p + page.nextStartAfter,
    };
  }

  protected outUploads(page: ListUploadsPage): ListUploadsPage {
    const p = this.keyPrefix;
    return {
      ...page,
      uploads: page.uploads.map((u) => this.out(u)),
      commonPrefixes: page.commonPrefixes.map((c) => p + c),
      nextKeyMarker: page.nextKeyMarker === undefined ? undefined : p + page.nextKeyMarker,
    };
  }

  /** A composite route is never the default backend: it has no buckets of its own to list. */
  async listBuckets(): Promise<BucketInfo[]> {
    return [];
  }

  /** Creates the real bucket of every target (one that exists already is fine). */
  async createBucket(_bucket?: string, opts?: CreateBucketOptions): Promise<void> {
    for (const t of this.targets) {
      try {
        await t.backend.createBucket(t.bucket, opts);
      } catch (err) {
        if (!isS3Error(err, 'BucketAlreadyOwnedByYou') && !isS3Error(err, 'BucketAlreadyExists')) throw err;
      }
    }
  }

  async deleteBucket(): Promise<void> {
    throw new S3Error('MethodNotAllowed', `Bucket ${this.route} is a ${this.kind} route; remove it from the routing table instead.`);
  }

  /** The first target that answers. */
  async headBucket(): Promise<BucketInfo> {
    let last: Error | undefined;
    for (const t of this.targets) {
      if (!t.health.available()) continue;
      try {
        const info = await t.health.run(() => t.backend.headBucket(t.bucket));
        return { ...info, name: this.route };
      } catch (err) {
        last = err as Error;
      }
    }
    throw last ?? unavailable(this.route);
  }

  abstract headObject(bucket: string, key: string): Promise<ObjectMeta>;
  abstract openObject(bucket: string, key: string): Promise<ObjectHandle>;
  abstract putObject(bucket: string, key: string, body: Readable, attrs: ObjectAttributes, opts?: PutOptions): Promise<ObjectMeta>;
  abstract deleteObject(bucket: string, key: string): Promise<void>;
  abstract listObjects(bucket: string, opts: ListOptions): Promise<ListPage>;
  abstract setTags(bucket: string, key: string, tags: Tag[]): Promise<void>;
  /** RestoreObject on the copy reads are served from. */
  abstract restoreObject(bucket: string, key: string, days: number | undefined): Promise<'started' | 'ongoing' | 'restored'>;

  abstract status(): RouteFormStatus;

  async close(): Promise<void> {
    liveForms.delete(this);
  }
}

/** Every target of a route is out: S3's answer for a store that cannot serve now. */
export function unavailable(route: string): S3Error {
  const e = new S3Error('ServiceUnavailable', `No target of route ${route} is available now.`);
  e.retryAfterSeconds = 5;
  return e;
}
