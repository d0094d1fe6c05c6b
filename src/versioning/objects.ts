/**
 * Objects of one virtual bucket, with S3's versioning: the one implementation above the
 * backend interface, so every adapter with a reserved area (`backend.reserved`) has versions.
 *
 * - Every version's bytes are a blob in the reserved area, written before the version index
 *   names them (a crash leaves at worst an unreferenced blob, removed by `collectOrphans`).
 * - The index (index-document.ts) is the truth, updated by compare-and-swap.
 * - The object at the key's own name is a copy of the latest version (`publish`), so a folder
 *   or a store's own tools still show current objects. Reads of the latest use it when its
 *   ETag and size are the latest's, the blob otherwise.
 * - In a bucket whose versioning was never configured, everything passes to the BucketView.
 */
import type { Readable } from 'node:stream';
import { isS3Error, S3Error } from '../errors';
import { checkDeleteConditions, checkWriteConditions, hasDeleteConditions } from '../backends/conditions';
import type { BucketReservedArea } from '../backends/reserved-store';
import type { ByteRange, DeleteConditions, ObjectAttributes, ObjectHandle, ObjectMeta, PutOptions, Tag } from '../backends/types';
import type { BucketView } from '../router/bucket-view';
import { bucketConfig } from '../bucket-config/store';
import { lockConfiguration, defaultRetention, type LockConfiguration } from '../object-lock/config';
import { checkRemovable, missingLockConfiguration, type ObjectLock } from '../object-lock/lock';
import { readIndex, swapIndex, updateIndex, type VersionEntry, type VersionIndex } from './index-document';
import { dataFolder, dataName } from './names';
import { byteRange, md5Counting } from './streams';
import { checkVersionId, newVersionId, NULL_VERSION, versionIdTime } from './version-id';

export type VersioningStatus = 'Enabled' | 'Suspended';

/** The bucket configuration document holding `{ status }`. */
export const VERSIONING_DOCUMENT = 'versioning';

export async function versioningStatus(view: BucketView): Promise<VersioningStatus | undefined> {
  // A backend without a reserved area has never been versioned.
  if (!view.backend.reserved) return undefined;
  return (await bucketConfig.get<{ status?: VersioningStatus }>(view, VERSIONING_DOCUMENT))?.status;
}

export interface VersionedMeta extends ObjectMeta {
  /** Undefined in a bucket whose versioning was never configured (S3 sends no version header there). */
  versionId?: string;
  /** The version's object lock, if it has one. */
  lock?: ObjectLock;
}

/** A write's options: the backend's, and the object lock the request asked for. */
export interface VersionedPutOptions extends PutOptions {
  lock?: ObjectLock;
}

export interface VersionedHandle extends ObjectHandle {
  meta: VersionedMeta;
}

export interface RemoveResult {
  versionId?: string;
  deleteMarker: boolean;
}

/** Unreferenced blobs older than this are debris of a write that never reached its index. */
export const ORPHAN_AGE_MS = 60 * 60 * 1000;

/** The headers S3 sends with the errors about a delete marker. */
function markerHeaders(entry: VersionEntry): Record<string, string> {
  return { 'x-amz-delete-marker': 'true', 'x-amz-version-id': entry.id, 'Last-Modified': new Date(entry.lastModified).toUTCString() };
}

/** S3's answers for a key or version that is not there name them, as its other NoSuchKey answers do. */
const noSuchKey = (key: string) => new S3Error('NoSuchKey', undefined, { Key: key });
const noSuchVersion = (key: string, versionId: string) => new S3Error('NoSuchVersion', undefined, { Key: key, VersionId: versionId });

function attributesOf(meta: ObjectMeta): ObjectAttributes {
  const { key: _k, size: _s, etag: _e, lastModified: _l, ...attrs } = meta;
  return attrs;
}

function metaOf(key: string, e: VersionEntry): VersionedMeta {
  return {
    ...(e.attrs ?? { userMetadata: {} }),
    key,
    size: e.size ?? 0,
    etag: e.etag ?? '',
    lastModified: new Date(e.lastModified),
    versionId: e.id,
    ...(e.lock ? { lock: e.lock } : {}),
  };
}

/**
 * The view's metadata of the object at the name with the version id S3 reports for it. In
 * place: BucketView answers every read with its own copy (no copy more per GET and HEAD).
 */
function withVersionId(meta: ObjectMeta, versionId: string | undefined): VersionedMeta {
  (meta as VersionedMeta).versionId = versionId;
  return meta;
}

export class VersionedObjects {
  private constructor(
    readonly view: BucketView,
    readonly status: VersioningStatus | undefined,
    /** The bucket's object lock configuration (only a versioned bucket can have one). */
    readonly lockConfig: LockConfiguration | undefined,
  ) {}

  static async of(view: BucketView): Promise<VersionedObjects> {
    // Every object request asks: a fresh cached status is taken as is, with no store read or promise chain.
    const cached = view.backend.reserved ? bucketConfig.peek<{ status?: VersioningStatus }>(view, VERSIONING_DOCUMENT) : undefined;
    const status = cached?.found ? cached.value?.status : await versioningStatus(view);
    return new VersionedObjects(view, status, status ? await lockConfiguration(view) : undefined);
  }

  /**
   * The lock a new version gets: what the request asked for (refused in a bucket without
   * object lock), with the bucket's default retention when it named none.
   */
  lockForWrite(requested: ObjectLock | undefined): ObjectLock | undefined {
    if (!this.lockConfig) {
      if (requested) throw missingLockConfiguration();
      return undefined;
    }
    const retention = requested?.retention ?? defaultRetention(this.lockConfig);
    const lock: ObjectLock = { ...(retention ? { retention } : {}), ...(requested?.legalHold ? { legalHold: requested.legalHold } : {}) };
    return lock.retention || lock.legalHold ? lock : undefined;
  }

  private get area(): BucketReservedArea {
    return this.view.reservedArea('object versions');
  }

  /**
   * The entry a request names (the latest without a version id); S3's errors for markers and
   * missing versions. A delete marker is a resource the request cannot act on (405) when named
   * by its id, or always for a subresource (tagging; a change of retention or legal hold): S3
   * answers those so even for the latest.
   */
  private pick(index: VersionIndex, versionId: string | undefined, subresource = false): VersionEntry {
    const entry = versionId === undefined ? index.versions[0] : index.versions.find((v) => v.id === versionId);
    if (!entry) throw versionId === undefined ? noSuchKey(index.key) : noSuchVersion(index.key, versionId);
    if (entry.marker) {
      // S3 names what the request cannot act on (its method is filled in by respond.ts) and what it can: DELETE.
      const err =
        versionId === undefined && !subresource
          ? noSuchKey(index.key)
          : new S3Error('MethodNotAllowed', 'The specified method is not allowed against this resource.', { ResourceType: 'DeleteMarker' });
      err.headers = { ...markerHeaders(entry), ...(err.code === 'MethodNotAllowed' ? { Allow: 'DELETE' } : {}) };
      throw err;
    }
    return entry;
  }

  /**
   * What a read names: the key's index when it has versions, or (no versioned history) the
   * object at its name, the null version, with the id S3 reports for it (none in a bucket
   * never versioned, even when the request named `null`).
   */
  private async locate(
    key: string,
    versionId: string | undefined,
  ): Promise<{ index: VersionIndex; nullId?: undefined } | { index?: undefined; nullId: string | undefined }> {
    // A bucket never versioned, the latest asked for: the object at the name, whose key the view checks as it reads it.
    if (!this.status && versionId === undefined) return { nullId: undefined };
    this.view.checkKey(key);
    if (versionId !== undefined) checkVersionId(versionId);
    const { index } = this.status ? await readIndex(this.area, key) : { index: { key, versions: [] } };
    if (index.versions.length > 0) return { index };
    if (versionId !== undefined && versionId !== NULL_VERSION) throw noSuchVersion(key, versionId);
    return { nullId: this.status ? NULL_VERSION : undefined };
  }

  /** What a read of the version finds; `subresource`: the read is of its tags (see pick). */
  async head(key: string, versionId?: string, subresource = false): Promise<VersionedMeta> {
    const found = await this.locate(key, versionId);
    if (!found.index) return withVersionId(await this.view.headObject(key), found.nullId);
    return metaOf(key, this.pick(found.index, versionId, subresource));
  }

  async open(key: string, versionId?: string): Promise<VersionedHandle> {
    const found = await this.locate(key, versionId);
    if (!found.index) {
      const handle = await this.view.openObject(key);
      withVersionId(handle.meta, found.nullId);
      return handle;
    }
    const index = found.index;
    const entry = this.pick(index, versionId);
    const meta = metaOf(key, entry);
    if (entry === index.versions[0]) {
      const current = await this.view.openObject(key).catch(() => undefined);
      if (current && current.meta.etag === entry.etag && current.meta.size === entry.size) {
        return { meta, read: (r) => current.read(r), close: () => current.close() };
      }
      await current?.close();
    }
    return this.blobHandle(key, entry, meta);
  }

  private async blobHandle(key: string, entry: VersionEntry, meta: VersionedMeta): Promise<VersionedHandle> {
    const doc = entry.blob === undefined ? undefined : await this.area.get(dataName(key, entry.blob));
    if (!doc) throw new S3Error('InternalError', `The bytes of version ${entry.id} of ${JSON.stringify(key)} are missing.`);
    let used = false;
    return {
      meta,
      read: (range?: ByteRange): Readable => {
        if (used) throw new Error('a version blob is read once');
        used = true;
        return range ? byteRange(doc.body, range) : doc.body;
      },
      close: () => {
        if (!used) doc.body.destroy();
        return Promise.resolve();
      },
    };
  }

  /**
   * Stores a new version (Enabled) or the null version (Suspended), or passes the write to
   * the bucket when it was never versioned.
   */
  async put(key: string, body: Readable, attrs: ObjectAttributes, opts: VersionedPutOptions = {}): Promise<VersionedMeta> {
    const { lock: requested, ...putOpts } = opts;
    // Never versioned and no lock asked for: the view checks the key (once) as it writes.
    if (!this.status && requested === undefined) return this.view.putObject(key, body, attrs, putOpts);
    this.view.checkKey(key);
    const lock = this.lockForWrite(requested);
    if (!this.status) return this.view.putObject(key, body, attrs, putOpts);
    this.view.assertWritable();
    this.view.checkAttributes(attrs);
    await this.adopt(key);
    // A locked blob may outlive a refusal (a COMPLIANCE retention in the store): the write's
    // conditions are checked before its bytes go anywhere, and again at the commit.
    if (lock && putOpts.conditions) await this.checkConditions(key, putOpts.conditions);
    const dataId = newVersionId();
    // A short body fails the stream before its end, so the store commits nothing (locked or not).
    const counted = md5Counting(body, opts.size);
    try {
      await this.area.put(dataName(key, dataId), counted.stream, undefined, lock);
    } catch (err) {
      await this.area.delete(dataName(key, dataId)).catch(() => undefined);
      throw err;
    }
    const { md5, size } = counted.digest();
    return this.commit(key, { etag: opts.etag ?? md5, size, attrs: { ...attrs }, blob: dataId, ...(lock ? { lock } : {}) }, putOpts);
  }

  /**
   * A write another path already made at the key's name (CompleteMultipartUpload assembles
   * there): its bytes become a version. `adopt` must have run before that write.
   */
  async capture(key: string, written: ObjectMeta, requested?: ObjectLock): Promise<VersionedMeta> {
    const lock = this.lockForWrite(requested);
    if (!this.status) return written;
    const handle = await this.view.openObject(key);
    const dataId = newVersionId();
    const dated = handle.meta.lastModified;
    try {
      // Another writer replaced the name in between: the bytes this request wrote are gone.
      if (handle.meta.etag !== written.etag) throw new S3Error('OperationAborted', 'Another write to this key got in between; try again.');
      await this.area.put(dataName(key, dataId), handle.read(), undefined, lock);
    } finally {
      await handle.close();
    }
    // Dated as the store dated the object at the name (a multipart upload's: when it was created,
    // as S3 dates it), which an adapter's answer to the Complete may not say (the s3 backend's).
    return this.commit(
      key,
      {
        etag: written.etag,
        size: written.size,
        attrs: attributesOf(written),
        blob: dataId,
        ...(lock ? { lock } : {}),
      },
      {},
      dated,
    );
  }

  /** Adds the version whose bytes are in `data.blob` to the index, then makes it current at the name. */
  private async commit(
    key: string,
    data: Omit<VersionEntry, 'id' | 'lastModified'>,
    opts: PutOptions = {},
    lastModified = new Date(),
  ): Promise<VersionedMeta> {
    const suspended = this.status === 'Suspended';
    let entry: VersionEntry | undefined;
    let changed: { before: VersionIndex; after: VersionIndex };
    try {
      changed = await updateIndex(this.area, this.view.reservedAreaId, key, ({ index }) => {
        const latest = index.versions[0];
        checkWriteConditions(latest && !latest.marker ? metaOf(key, latest) : undefined, opts.conditions);
        entry = { id: suspended ? NULL_VERSION : newVersionId(), lastModified: lastModified.toISOString(), ...data };
        const rest = suspended ? index.versions.filter((v) => v.id !== NULL_VERSION) : index.versions;
        return { next: { key, versions: [entry, ...rest] }, result: undefined };
      });
    } catch (err) {
      await this.removeBlob(key, data.blob!, data.lock);
      throw err;
    }
    await this.dropUnreferenced(changed.before, changed.after);
    await this.publish(key);
    return metaOf(key, entry!);
  }

  /** Throws PreconditionFailed (S3's If-Match / If-None-Match) unless the conditions hold on the key's latest version now. */
  private async checkConditions(key: string, conditions: PutOptions['conditions']): Promise<void> {
    const { index } = await readIndex(this.area, key);
    const latest = index.versions[0];
    checkWriteConditions(latest && !latest.marker ? metaOf(key, latest) : undefined, conditions);
  }

  /**
   * Before a key gets its first version, the object already at its name (written before
   * versioning was enabled) becomes its null version, bytes copied to a blob.
   */
  async adopt(key: string): Promise<void> {
    if (!this.status) return;
    const current = await readIndex(this.area, key);
    if (current.etag !== undefined) return;
    let handle: ObjectHandle;
    try {
      handle = await this.view.openObject(key);
    } catch (err) {
      if (err instanceof S3Error && err.code === 'NoSuchKey') return;
      throw err;
    }
    const dataId = newVersionId();
    try {
      await this.area.put(dataName(key, dataId), handle.read());
    } finally {
      await handle.close();
    }
    const m = handle.meta;
    const entry: VersionEntry = {
      id: NULL_VERSION,
      lastModified: m.lastModified.toISOString(),
      etag: m.etag,
      size: m.size,
      attrs: attributesOf(m),
      blob: dataId,
    };
    try {
      await swapIndex(this.area, current, { key, versions: [entry] });
    } catch (err) {
      await this.area.delete(dataName(key, dataId)).catch(() => undefined);
      // Another writer gave the key its index first.
      if (!(err instanceof S3Error && err.code === 'PreconditionFailed')) throw err;
    }
  }

  /**
   * DeleteObject: without a version id, a delete marker (Enabled: a new one; Suspended: the
   * null version becomes one); with one, that version is removed for good, unless its object
   * lock forbids it (`bypass`: the request may bypass GOVERNANCE retention).
   */
  async remove(key: string, versionId?: string, opts: { bypass?: boolean; conditions?: DeleteConditions } = {}): Promise<RemoveResult> {
    const conditions = hasDeleteConditions(opts.conditions) ? opts.conditions : undefined;
    if (!this.status && versionId === undefined && !conditions) {
      await this.view.deleteObject(key); // the view checks the key
      return { versionId, deleteMarker: false };
    }
    this.view.checkKey(key);
    if (versionId !== undefined) checkVersionId(versionId);
    if (!this.status) {
      if (versionId === undefined || versionId === NULL_VERSION) await this.removeUnversioned(key, conditions);
      return { versionId, deleteMarker: false };
    }
    this.view.assertWritable();
    await this.adopt(key);
    const suspended = this.status === 'Suspended';
    const { result, before, after } = await updateIndex(this.area, this.view.reservedAreaId, key, ({ index }) => {
      // Checked on the index this update replaces, so the version checked is the one deleted.
      if (conditions) {
        const latest = index.versions[0];
        checkDeleteConditions(
          latest === undefined
            ? undefined
            : latest.marker
              ? 'delete marker'
              : { etag: latest.etag ?? '', size: latest.size ?? 0, lastModified: new Date(latest.lastModified) },
          conditions,
        );
      }
      if (versionId === undefined) {
        const marker: VersionEntry = {
          id: suspended ? NULL_VERSION : newVersionId(),
          marker: true,
          lastModified: new Date().toISOString(),
        };
        const rest = suspended ? index.versions.filter((v) => v.id !== NULL_VERSION) : index.versions;
        return { next: { key, versions: [marker, ...rest] }, result: { versionId: marker.id, deleteMarker: true } };
      }
      const gone = index.versions.find((v) => v.id === versionId);
      checkRemovable(gone?.lock, opts.bypass === true);
      return {
        next: { key, versions: index.versions.filter((v) => v !== gone) },
        result: { versionId, deleteMarker: gone?.marker === true },
      };
    });
    await this.dropUnreferenced(before, after);
    await this.publish(key);
    await this.collectOrphans(key);
    return result;
  }

  /**
   * Deletes the object at the name of a bucket never versioned, when its conditions hold: the
   * delete goes through deleteObjectIfMatch, so an object replaced after the check is not the
   * one deleted (atomic where the store has a conditional delete).
   */
  private async removeUnversioned(key: string, conditions: DeleteConditions | undefined): Promise<void> {
    if (!conditions) return this.view.deleteObject(key);
    let current: ObjectMeta | undefined;
    try {
      current = await this.view.headObject(key);
    } catch (err) {
      if (!isS3Error(err, 'NoSuchKey')) throw err;
    }
    checkDeleteConditions(current, conditions);
    if (current) await this.view.deleteObjectIfMatch(key, current.etag);
  }

  /** Replaces one version's tags (the latest without a version id). Returns the version's id. */
  async setTags(key: string, tags: Tag[], versionId?: string): Promise<string | undefined> {
    this.view.checkKey(key);
    if (versionId !== undefined) checkVersionId(versionId);
    if (!this.status) {
      const found = await this.locate(key, versionId);
      await this.view.headObject(key);
      await this.view.setTags(key, tags);
      return found.nullId;
    }
    this.view.assertWritable();
    this.view.checkAttributes({ userMetadata: {}, tags });
    await this.adopt(key);
    const { result } = await updateIndex(this.area, this.view.reservedAreaId, key, ({ index }) => {
      if (index.versions.length === 0) throw noSuchKey(key);
      const entry = this.pick(index, versionId, true);
      const next = index.versions.map((v) => (v === entry ? { ...v, attrs: { ...(v.attrs ?? { userMetadata: {} }), tags } } : v));
      return { next: { key, versions: next }, result: { id: entry.id, latest: entry === index.versions[0] } };
    });
    // The copy at the name carries the latest version's tags too.
    if (result.latest) await this.view.setTags(key, tags).catch(() => this.publish(key));
    return result.id;
  }

  /**
   * Changes one version's object lock (the latest without a version id): `change` gets the
   * current lock and returns the new one, or throws (it may run more than once). Refused in a
   * bucket without object lock. Returns the version's id and its new lock.
   */
  async setLock(
    key: string,
    versionId: string | undefined,
    change: (current: ObjectLock | undefined) => ObjectLock | undefined,
  ): Promise<{ id: string; lock?: ObjectLock }> {
    this.view.checkKey(key);
    if (versionId !== undefined) checkVersionId(versionId);
    if (!this.status || !this.lockConfig) throw missingLockConfiguration();
    this.view.assertWritable();
    await this.adopt(key);
    const { result } = await updateIndex(this.area, this.view.reservedAreaId, key, ({ index }) => {
      if (index.versions.length === 0) throw versionId === undefined ? noSuchKey(key) : noSuchVersion(key, versionId);
      // A latest delete marker refuses the change with 405, as PutObjectAcl does (reads of the lock answer 404).
      const entry = this.pick(index, versionId, true);
      const lock = change(entry.lock);
      const updated: VersionEntry = { ...entry };
      if (lock && (lock.retention || lock.legalHold)) updated.lock = lock;
      else delete updated.lock;
      return {
        next: { key, versions: index.versions.map((v) => (v === entry ? updated : v)) },
        result: { id: entry.id, lock: updated.lock, blob: entry.blob, previous: entry.lock },
      };
    });
    await this.protectBlob(key, result.blob, result.lock ?? {}, result.previous);
    return { id: result.id, lock: result.lock };
  }

  /**
   * Where a version's changed lock reaches its store: where the reserved area has the store's
   * native lock (ReservedStore.protect), the version's blob gets the change too, so the bytes are
   * protected also from clients that bypass s3mux. Elsewhere s3mux alone enforces the lock. (A
   * new version's blob gets its lock on its write: `area.put`.)
   */
  private async protectBlob(key: string, blob: string | undefined, lock: ObjectLock, previous?: ObjectLock): Promise<void> {
    if (blob !== undefined && this.area.protect) await this.area.protect(dataName(key, blob), lock, previous);
  }

  /** The lock of one version (the latest without a version id), with S3's errors for markers and missing versions. */
  async lockOf(key: string, versionId?: string): Promise<{ id: string; lock?: ObjectLock }> {
    if (!this.status || !this.lockConfig) throw missingLockConfiguration();
    const meta = await this.head(key, versionId);
    return { id: meta.versionId ?? NULL_VERSION, lock: meta.lock };
  }

  private async dropUnreferenced(before: VersionIndex, after: VersionIndex): Promise<void> {
    const kept = new Set(after.versions.map((v) => v.blob));
    for (const v of before.versions) {
      if (v.blob !== undefined && !kept.has(v.blob)) await this.removeBlob(before.key, v.blob, v.lock);
    }
  }

  /**
   * Deletes a version's blob, best effort. The store's lock on it (a GOVERNANCE retention
   * bypassed, or the lock of a write that failed after its blob was locked) is lifted first; one
   * the store will not lift (COMPLIANCE) keeps the bytes there until it ends.
   */
  private async removeBlob(key: string, blob: string, lock: ObjectLock | undefined): Promise<void> {
    const running = lock?.retention !== undefined && Date.parse(lock.retention.until) > Date.now();
    if (running || lock?.legalHold === 'ON') await this.protectBlob(key, blob, {}, lock).catch(() => undefined);
    await this.area.delete(dataName(key, blob)).catch(() => undefined);
  }

  /**
   * Makes the key's name hold the latest version (nothing when the latest is a delete
   * marker). Checks the index again afterwards: when another writer committed meanwhile, the
   * last one to finish puts the then latest version in place.
   */
  async publish(key: string): Promise<void> {
    for (let attempt = 0; attempt < 5; attempt++) {
      const { index, etag } = await readIndex(this.area, key);
      const latest = index.versions[0];
      if (!latest || latest.marker) {
        await this.view.deleteObject(key);
      } else {
        const there = await this.view.headObject(key).catch(() => undefined);
        if (!there || there.etag !== latest.etag || there.size !== latest.size) {
          const doc = await this.area.get(dataName(key, latest.blob!));
          // Removed meanwhile by another request: look at the index again.
          if (!doc) continue;
          await this.view.putObject(key, doc.body, latest.attrs ?? { userMetadata: {} }, { size: latest.size, etag: latest.etag });
        }
      }
      if ((await readIndex(this.area, key)).etag === etag) return;
    }
  }

  /**
   * Removes blobs of `key` that no version names and that are older than `minAgeMs`: bytes
   * of writes that stopped (a crash, a failed compare-and-swap) before their index update.
   * Younger ones may belong to a write still in progress.
   */
  async collectOrphans(key: string, minAgeMs = ORPHAN_AGE_MS): Promise<number> {
    if (!this.status) return 0;
    const { index } = await readIndex(this.area, key);
    const used = new Set(index.versions.map((v) => v.blob));
    const folder = dataFolder(key);
    let removed = 0;
    for (const e of await this.area.list(folder, { max: 1000 })) {
      const id = e.name.slice(folder.length);
      if (used.has(id) || Date.now() - versionIdTime(id) < minAgeMs) continue;
      await this.area.delete(e.name).catch(() => undefined);
      removed++;
    }
    return removed;
  }

  /** The index of a key (ListObjectVersions reads it). */
  async index(key: string): Promise<VersionIndex> {
    return (await readIndex(this.area, key)).index;
  }
}

export { metaOf as versionMeta };
