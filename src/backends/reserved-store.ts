/**
 * s3mux's own documents in a store: a bucket's configuration (ACL, policy, CORS, lifecycle,
 * versioning state), object versions, migration checkpoints, mirror catch-up queues. They
 * live in the store itself, under the reserved area (reserved.ts), so every replica sees the
 * same state and a restart keeps it; no S3 client can name or list them, because client keys
 * under `.s3mux/` are escaped by every adapter.
 *
 * Names are paths of plain segments (see `checkReservedName`), so no adapter needs to escape
 * them: a caller that keys a document by an object key encodes or hashes the key first
 * (`reservedSegment`).
 */
import { createHash, randomBytes } from 'node:crypto';
import type { Readable } from 'node:stream';
import { S3Error } from '../errors';

/** Compare-and-swap on a document's etag (unquoted). */
export interface ReservedConditions {
  ifMatch?: string;
  /** '*': write only when there is no document. */
  ifNoneMatch?: '*';
}

export interface ReservedEntry {
  /** The name as written (relative to the bucket's reserved area). */
  name: string;
  size: number;
  /** Unquoted; changes with every write (used for compare-and-swap). */
  etag: string;
  lastModified: Date;
}

export interface ReservedDocument {
  entry: ReservedEntry;
  /** The caller reads it to the end or destroys it (it may hold a file or a connection). */
  body: Readable;
}

export interface ReservedListOptions {
  /** Exclusive. */
  startAfter?: string;
  /** Default 1000. */
  max?: number;
}

/**
 * A bucket's reserved area as a small object store with atomic, conditional writes. Every
 * adapter that can hold s3mux's state implements it; one without it (a read-only store,
 * GitHub releases) makes the features that need it answer NotImplemented.
 */
export interface ReservedStore {
  /** The document, or undefined when there is none. Throws NoSuchBucket. */
  get(bucket: string, name: string): Promise<ReservedDocument | undefined>;
  /**
   * Writes atomically (readers see the old or the new document, never a part). Conditions
   * compare the stored etag: `ifNoneMatch: '*'` creates only, `ifMatch` replaces only that
   * version; a failed condition throws PreconditionFailed. This holds across processes on
   * one store, so replicas can take turns on one document.
   *
   * `lock` (optional, a new version's bytes): where the store has a native lock enabled on the
   * bucket (see `protect`), the write itself carries it, so the bytes are never in the store
   * unprotected, and a write that fails before the store commits it leaves nothing locked. A
   * store without one ignores it (s3mux alone enforces the lock).
   */
  put(bucket: string, name: string, body: Buffer | Readable, conditions?: ReservedConditions, lock?: StoreLock): Promise<ReservedEntry>;
  /** Succeeds when absent. With `ifMatch`, deletes only that version (PreconditionFailed otherwise). */
  delete(bucket: string, name: string, conditions?: Pick<ReservedConditions, 'ifMatch'>): Promise<void>;
  /** Entries whose name starts with `prefix`, in binary (UTF-8) order of name. */
  list(bucket: string, prefix: string, opts?: ReservedListOptions): Promise<ReservedEntry[]>;
  /**
   * Optional: changes the store's own object lock on an existing document (a version's bytes),
   * so the store also refuses to remove them, also to clients that bypass s3mux. A store without
   * a native lock (or a bucket without it enabled) leaves the protection to s3mux: the method is
   * absent or does nothing. `lock` is the document's whole lock after the change, `previous` the
   * one before; s3mux has already decided the change is allowed. A new document gets its lock
   * on the write (`put`).
   */
  protect?(bucket: string, name: string, lock: StoreLock, previous?: StoreLock): Promise<void>;
}

/** An object lock as a store takes it (the shape of src/object-lock's ObjectLock). */
export interface StoreLock {
  retention?: { mode: 'GOVERNANCE' | 'COMPLIANCE'; /** ISO 8601 */ until: string };
  legalHold?: 'ON' | 'OFF';
}

const SEGMENT = /^[A-Za-z0-9_~=-][A-Za-z0-9._~=-]{0,199}$/;
const MAX_NAME = 900;

/**
 * Throws InternalError unless `name` is `seg(/seg)*` with segments of 1–200 characters from
 * `[A-Za-z0-9._~=-]`, not starting with '.', and at most 900 characters in all. Adapters call
 * it on every name, so a bug in a caller can never reach outside the reserved area.
 */
export function checkReservedName(name: string, allowPrefix = false): void {
  if (name.length > MAX_NAME) throw new S3Error('InternalError', 'reserved name too long');
  const segs = name.split('/');
  // A list prefix may end in '/' or be empty.
  if (allowPrefix && segs[segs.length - 1] === '') segs.pop();
  if (allowPrefix && name === '') return;
  for (const s of segs) if (!SEGMENT.test(s)) throw new S3Error('InternalError', `bad reserved name segment ${JSON.stringify(s)}`);
}

/**
 * One name segment standing for an arbitrary string (an object key, a route prefix): its
 * base64url form when that fits in a segment, else `~` + its SHA-256. The base64url form keeps
 * equal strings equal but not the strings' order; callers that need key order keep it in the
 * document.
 */
export function reservedSegment(s: string): string {
  const b = Buffer.from(s, 'utf8').toString('base64url');
  if (b.length > 0 && b.length <= 180 && SEGMENT.test(b)) return b;
  return '~' + createHash('sha256').update(s, 'utf8').digest('hex');
}

/**
 * Throws PreconditionFailed unless `cond` holds on the stored document's etag (undefined: no
 * document). For adapters that compare etags themselves (memory, fs) under their own lock.
 */
export function checkReservedConditions(current: string | undefined, cond?: ReservedConditions): void {
  if (cond?.ifNoneMatch === '*' && current !== undefined) {
    throw new S3Error('PreconditionFailed', undefined, { Condition: 'If-None-Match' });
  }
  if (cond?.ifMatch !== undefined && cond.ifMatch !== current) {
    throw new S3Error('PreconditionFailed', undefined, { Condition: 'If-Match' });
  }
}

/**
 * The etag of a document an adapter wrote itself: the content's MD5 and a nonce, so it changes
 * with every write, also one of the same bytes (a compare-and-swap never mistakes a rewrite for
 * the version it read).
 */
export function newReservedEtag(md5Hex: string): string {
  return `${md5Hex}-${randomBytes(8).toString('hex')}`;
}

/** How many entries a list call returns (its `max`, default and ceiling 1000). */
export function reservedListMax(opts?: ReservedListOptions): number {
  const max = opts?.max ?? 1000;
  if (!Number.isInteger(max) || max < 1) throw new S3Error('InternalError', `bad reserved list max ${max}`);
  return Math.min(max, 1000);
}

/** Whether a name belongs in a list page: under the prefix and after the start. */
export function inReservedPage(name: string, prefix: string, opts?: ReservedListOptions): boolean {
  return name.startsWith(prefix) && (opts?.startAfter === undefined || name > opts.startAfter);
}

/**
 * A list page from entries in any order, for adapters that enumerate a whole prefix (names are
 * ASCII, so JavaScript's string order is their binary order).
 */
export function reservedPage(entries: Iterable<ReservedEntry>, prefix: string, opts?: ReservedListOptions): ReservedEntry[] {
  const max = reservedListMax(opts);
  const wanted = [...entries].filter((e) => inReservedPage(e.name, prefix, opts));
  return wanted.sort((a, b) => (a.name < b.name ? -1 : a.name > b.name ? 1 : 0)).slice(0, max);
}

/** Reads a whole (small) document; refuses one over `limit` bytes. */
export async function readReservedBody(doc: ReservedDocument, limit = 1024 * 1024): Promise<Buffer> {
  if (doc.entry.size > limit) {
    doc.body.destroy();
    throw new S3Error('InternalError', `reserved document ${doc.entry.name} is larger than ${limit} bytes`);
  }
  const chunks: Buffer[] = [];
  for await (const c of doc.body) chunks.push(c as Buffer);
  return Buffer.concat(chunks);
}

/** A ReservedStore seen from one virtual bucket: names are relative to that bucket's own area. */
export interface BucketReservedArea {
  get(name: string): Promise<ReservedDocument | undefined>;
  put(name: string, body: Buffer | Readable, conditions?: ReservedConditions, lock?: StoreLock): Promise<ReservedEntry>;
  delete(name: string, conditions?: Pick<ReservedConditions, 'ifMatch'>): Promise<void>;
  list(prefix: string, opts?: ReservedListOptions): Promise<ReservedEntry[]>;
  /** The store's native lock on a document, where it has one (ReservedStore.protect). */
  protect?(name: string, lock: StoreLock, previous?: StoreLock): Promise<void>;
}

/**
 * The area of the virtual bucket at (bucket, key prefix): `b/<segment of the prefix>/...`, so
 * two routes that share a real bucket under different prefixes never see each other's state.
 */
export function bucketArea(store: ReservedStore, bucket: string, keyPrefix: string): BucketReservedArea {
  const base = `b/${keyPrefix === '' ? '-' : reservedSegment(keyPrefix)}/`;
  const strip = (e: ReservedEntry): ReservedEntry => ({ ...e, name: e.name.slice(base.length) });
  return {
    get: async (name) => {
      const doc = await store.get(bucket, base + name);
      return doc && { entry: strip(doc.entry), body: doc.body };
    },
    put: async (name, body, conditions, lock) => strip(await store.put(bucket, base + name, body, conditions, lock)),
    delete: (name, conditions) => store.delete(bucket, base + name, conditions),
    list: async (prefix, opts) =>
      (
        await store.list(bucket, base + prefix, {
          ...opts,
          startAfter: opts?.startAfter === undefined ? undefined : base + opts.startAfter,
        })
      ).map(strip),
    ...(store.protect
      ? { protect: (name: string, lock: StoreLock, previous?: StoreLock) => store.protect!(bucket, base + name, lock, previous) }
      : {}),
  };
}
