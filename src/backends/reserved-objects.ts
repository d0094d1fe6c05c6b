/**
 * The ReservedStore of an object store (s3, azure, gcs, oci): each document is one object
 * named `.s3mux/r/<name>` in the real bucket, and its etag is the store's own version tag (an
 * Azure ETag, a GCS generation, an OCI ETag; S3's ETag), so compare-and-swap is the store's
 * conditional write. Client keys never reach these names: every adapter either escapes client
 * keys under `.s3mux/` (azure, gcs, oci) or refuses those under `.s3mux/r/` (s3), and leaves
 * the area out of listings, upload listings and BucketNotEmpty.
 *
 * This class checks names, maps them to object names and counts streamed bodies; the adapter
 * gives the calls on object names (ReservedObjects).
 */
import { Transform, type Readable } from 'node:stream';
import { isS3Error } from '../errors';
import type { NativeLock } from './native-lock';
import { RESERVED_PREFIX } from './reserved';
import {
  checkReservedName,
  reservedListMax,
  type ReservedConditions,
  type ReservedDocument,
  type ReservedEntry,
  type ReservedListOptions,
  type ReservedStore,
  type StoreLock,
} from './reserved-store';

/** Where an object store keeps the documents: `.s3mux/r/`. */
export const RESERVED_DOCS_PREFIX = `${RESERVED_PREFIX}r/`;

/** A stored document as the store describes it (`name` is the object name). */
export interface ReservedObject {
  name: string;
  etag: string;
  size: number;
  lastModified: Date;
}

/** What an adapter does on object names; errors are S3Errors (NoSuchBucket, PreconditionFailed). */
export interface ReservedObjects {
  /** The object with its body, or undefined when there is none. */
  get(bucket: string, name: string): Promise<{ object: ReservedObject; body: Readable } | undefined>;
  /**
   * Writes the object atomically under the conditions (ifMatch: the etag; ifNoneMatch: none may
   * exist), failing with PreconditionFailed; the etag and time of what was stored. `lock`, given
   * only where `native` found the store bucket's lock enabled, goes with the write itself (the
   * store's lock headers or fields on the upload that creates the object).
   */
  put(
    bucket: string,
    name: string,
    body: Buffer | Readable,
    cond: ReservedConditions,
    lock?: StoreLock,
  ): Promise<Omit<ReservedObject, 'name' | 'size'>>;
  /** Absent is fine, unless `ifMatch` is given (PreconditionFailed). */
  delete(bucket: string, name: string, ifMatch?: string): Promise<void>;
  /** Objects whose name starts with `prefix`, after `startAfter`, in order, at most `max`. */
  list(bucket: string, prefix: string, startAfter: string | undefined, max: number): Promise<ReservedObject[]>;
  /** Optional: the store's native object lock (native-lock.ts), for ReservedStore.protect and the lock a put carries. */
  readonly native?: NativeLock;
}

/** Counts the bytes of a streamed body on their way to the store. */
class Counted extends Transform {
  bytes = 0;
  override _transform(chunk: Buffer, _enc: BufferEncoding, cb: (err?: Error | null, data?: Buffer) => void): void {
    this.bytes += chunk.length;
    cb(null, chunk);
  }
}

function counted(body: Readable): Counted {
  const c = new Counted();
  body.once('error', (err) => c.destroy(err));
  body.pipe(c);
  return c;
}

export class ObjectReservedStore implements ReservedStore {
  readonly protect?: (bucket: string, name: string, lock: StoreLock, previous?: StoreLock) => Promise<void>;

  constructor(private readonly objects: ReservedObjects) {
    const native = objects.native;
    if (native)
      this.protect = (bucket, name, lock, previous) => {
        checkReservedName(name);
        return native.protect(bucket, RESERVED_DOCS_PREFIX + name, lock, previous);
      };
  }

  private entry(o: ReservedObject): ReservedEntry {
    return { name: o.name.slice(RESERVED_DOCS_PREFIX.length), size: o.size, etag: o.etag, lastModified: o.lastModified };
  }

  async get(bucket: string, name: string): Promise<ReservedDocument | undefined> {
    checkReservedName(name);
    const got = await this.objects.get(bucket, RESERVED_DOCS_PREFIX + name);
    return got && { entry: this.entry(got.object), body: got.body };
  }

  async put(
    bucket: string,
    name: string,
    body: Buffer | Readable,
    conditions: ReservedConditions = {},
    lock?: StoreLock,
  ): Promise<ReservedEntry> {
    checkReservedName(name);
    const native = this.objects.native;
    // Asked before a byte is read: the write carries the lock or does not.
    const carried = native && lock ? await native.forWrite(bucket, lock) : undefined;
    const c = Buffer.isBuffer(body) ? undefined : counted(body);
    let stored;
    try {
      stored = await this.objects.put(bucket, RESERVED_DOCS_PREFIX + name, c ?? body, conditions, carried);
    } catch (err) {
      // The store may have refused the lock (the bucket's lock changed): ask again next time.
      if (carried && !isS3Error(err, 'PreconditionFailed')) native!.forget(bucket);
      throw err;
    }
    return { name, size: c ? c.bytes : (body as Buffer).length, ...stored };
  }

  async delete(bucket: string, name: string, conditions?: Pick<ReservedConditions, 'ifMatch'>): Promise<void> {
    checkReservedName(name);
    await this.objects.delete(bucket, RESERVED_DOCS_PREFIX + name, conditions?.ifMatch);
  }

  async list(bucket: string, prefix: string, opts?: ReservedListOptions): Promise<ReservedEntry[]> {
    checkReservedName(prefix, true);
    const after = opts?.startAfter === undefined ? undefined : RESERVED_DOCS_PREFIX + opts.startAfter;
    const found = await this.objects.list(bucket, RESERVED_DOCS_PREFIX + prefix, after, reservedListMax(opts));
    return found.map((o) => this.entry(o));
  }
}
