/**
 * A virtual bucket's configuration documents (acl, policy, cors, lifecycle, ownership,
 * public-access-block, tagging, versioning, object-lock, ...), kept as JSON in the bucket's
 * reserved area (src/backends/reserved-store.ts) so every replica reads the same state and a
 * restart keeps it.
 *
 * Each process caches what it read for `ttlMs`: a change made through one replica reaches
 * every other replica within that time (its own replica sees it at once). While the store
 * cannot be read, the last configuration read stays in force.
 */
import { S3Error } from '../errors';
import { readReservedBody, type BucketReservedArea } from '../backends/reserved-store';
import { KeyedLock } from '../backends/keyed-lock';
import type { BucketView } from '../router/bucket-view';

/** How long another replica may keep answering from a configuration it read before a change. */
export const CONFIG_TTL_MS = 2000;

const CONFIG_PREFIX = 'config/';
const CAS_ATTEMPTS = 8;

interface Cached {
  value: unknown;
  etag: string | undefined;
  at: number;
}

function areaOf(view: BucketView): BucketReservedArea {
  return view.reservedArea('bucket configuration');
}

export class BucketConfigStore {
  private readonly cache = new Map<string, Cached>();
  private readonly reading = new Map<string, Promise<Cached>>();
  /** Writers of one document in this process, one after another. */
  private readonly writing = new KeyedLock();

  constructor(private readonly ttlMs = CONFIG_TTL_MS) {}

  private cacheKey(view: BucketView, name: string): string {
    return `${view.reservedAreaId}\0${name}`;
  }

  /**
   * Forgets what this process cached of a bucket it deleted: a bucket created again under the
   * name starts with none of the old one's documents (versioning, ACL, policy, tags ...), on this
   * replica at once, as it does on the others once their copies expire.
   */
  forgetBucket(view: BucketView): void {
    const bucket = this.cacheKey(view, '');
    for (const key of this.cache.keys()) if (key.startsWith(bucket)) this.cache.delete(key);
  }

  private async read(view: BucketView, name: string): Promise<Cached> {
    const doc = await areaOf(view).get(CONFIG_PREFIX + name);
    if (!doc) return { value: undefined, etag: undefined, at: Date.now() };
    const text = (await readReservedBody(doc)).toString('utf8');
    try {
      return { value: JSON.parse(text) as unknown, etag: doc.entry.etag, at: Date.now() };
    } catch {
      throw new S3Error('InternalError', `The stored ${name} configuration of bucket ${view.name} is not valid JSON.`);
    }
  }

  /**
   * The document from this process's cache when it is fresh (`found: false` otherwise), without
   * a promise: hot paths (the versioning status of every object request) read it this way and
   * call `get` only when the cache has to be refilled.
   */
  peek<T>(view: BucketView, name: string): { found: true; value: T | undefined } | { found: false } {
    const hit = this.cache.get(this.cacheKey(view, name));
    return hit && this.isFresh(hit) ? { found: true, value: hit.value as T | undefined } : { found: false };
  }

  private isFresh(hit: Cached): boolean {
    return Date.now() - hit.at < this.ttlMs;
  }

  /** The document as last stored (undefined: none), at most `ttlMs` old. */
  async get<T>(view: BucketView, name: string): Promise<T | undefined> {
    const key = this.cacheKey(view, name);
    const hit = this.cache.get(key);
    if (hit && this.isFresh(hit)) return hit.value as T | undefined;
    // Concurrent requests that find the entry stale share one read (16 clients would
    // otherwise read the same document 16 times each time it expires).
    let reading = this.reading.get(key);
    if (!reading) {
      reading = this.read(view, name).finally(() => this.reading.delete(key));
      this.reading.set(key, reading);
    }
    let fresh: Cached;
    try {
      fresh = await reading;
    } catch (err) {
      // A store that cannot be reached for a while (a mirror's first target during an outage)
      // keeps its last known configuration rather than failing every request on the bucket;
      // a bucket that is gone is gone.
      if (hit && !(err instanceof S3Error && err.code === 'NoSuchBucket')) return hit.value as T | undefined;
      throw err;
    }
    // A write through this process while the read was out is newer than what was read.
    if (this.cache.get(key) === hit) this.cache.set(key, fresh);
    return fresh.value as T | undefined;
  }

  /** Replaces the document (undefined deletes it). */
  async set(view: BucketView, name: string, value: unknown): Promise<void> {
    await this.update(view, name, () => value);
  }

  /**
   * Read-modify-write with compare-and-swap on the stored document, retried when another
   * replica wrote in between; `fn` may run more than once and must not have side effects.
   * Returns what was stored.
   */
  async update<T>(view: BucketView, name: string, fn: (current: T | undefined) => T | undefined): Promise<T | undefined> {
    view.assertWritable();
    // Writers of one document in this process take turns. Racing, each lost the compare-and-swap
    // to the others, and 50 concurrent PutBucketAcl calls (a client retrying, a deploy script run
    // in parallel) made some of them fail with OperationAborted after 8 losses, where S3 applies
    // every one. The compare-and-swap still orders writes from other replicas.
    return this.writing.run(this.cacheKey(view, name), () => this.swap(view, name, fn));
  }

  private async swap<T>(view: BucketView, name: string, fn: (current: T | undefined) => T | undefined): Promise<T | undefined> {
    const area = areaOf(view);
    for (let attempt = 0; attempt < CAS_ATTEMPTS; attempt++) {
      const cur = await this.read(view, name);
      const next = fn(cur.value as T | undefined);
      try {
        let etag: string | undefined;
        if (next === undefined) {
          if (cur.etag !== undefined) await area.delete(CONFIG_PREFIX + name, { ifMatch: cur.etag });
        } else {
          const body = Buffer.from(JSON.stringify(next), 'utf8');
          const cond = cur.etag === undefined ? { ifNoneMatch: '*' as const } : { ifMatch: cur.etag };
          etag = (await area.put(CONFIG_PREFIX + name, body, cond)).etag;
        }
        this.cache.set(this.cacheKey(view, name), { value: next, etag, at: Date.now() });
        return next;
      } catch (err) {
        if (err instanceof S3Error && err.code === 'PreconditionFailed') continue;
        throw err;
      }
    }
    throw new S3Error('OperationAborted', `Bucket ${view.name}'s ${name} configuration kept changing; try again.`);
  }

  /** Forgets what this process cached (tests, a reload). */
  clear(): void {
    this.cache.clear();
  }
}

/** The process's store: handlers and workers share one cache. */
export const bucketConfig = new BucketConfigStore();
