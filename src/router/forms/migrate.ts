/**
 * A migration route: objects move from `from` (the old location) to `to` (the new one) while
 * the bucket stays in use. Reads try `to` and fall back to `from` for keys not copied yet;
 * writes, multipart uploads and tags land on `to`; a delete records a tombstone in the
 * migration's reserved area (`to`'s, or `from`'s where `to`'s store cannot hold one), then removes both copies, so a deleted key never reappears from `from`
 * (reads and listings consult the tombstone only for keys found in `from` alone). Listings
 * merge both, `to` winning. The background copier (migration-copier.ts) empties the
 * difference.
 */
import type { Readable } from 'node:stream';
import { isS3Error, S3Error } from '../../errors';
import type {
  Backend,
  ListOptions,
  ListPage,
  ObjectAttributes,
  ObjectHandle,
  ObjectMeta,
  ObjectSummary,
  PutOptions,
  Tag,
  WriteConditions,
} from '../../backends/types';
import { unquoteEtag } from '../../backends/conditions';
import type { BucketReservedArea } from '../../backends/reserved-store';
import { CompositeBackend, type RouteFormStatus } from './composite';
import { RoutedMultipart } from './multipart';
import { Tombstones } from './tombstones';
import type { Target } from './target';
import { copyKey } from './copy-key';
import { mergePages as mergePagesOf } from './merge-listing';
import { isMigratingArea, migrationArea } from './migrating-area';
import { EtagMap } from './etag-map';

const ABSENT = new Set(['NoSuchKey', 'NoSuchBucket']);

function isAbsent(err: unknown): boolean {
  return isS3Error(err) && ABSENT.has(err.code);
}

export class MigrationBackend extends CompositeBackend {
  readonly kind = 'migrate';
  readonly tombstones: Tombstones;
  /** ETags the copy could not keep: reads of such a key on `to` show the source's. */
  readonly etags: EtagMap;
  /**
   * Where the migration keeps its state (tombstones, checkpoint, lease): `to`'s reserved area,
   * or `from`'s while `to`'s store cannot hold s3mux's documents; undefined when neither can.
   */
  readonly stateArea: BucketReservedArea | undefined;
  readonly multipart: RoutedMultipart;
  /** The route's bucket configuration and versions: `to`'s, read from `from` until the copier has copied them. */
  protected readonly routeState: BucketReservedArea | undefined;
  /** Lifecycle transitions: present when `to`'s store can change a class in place. */
  readonly setStorageClass?: Backend['setStorageClass'];

  constructor(
    route: string,
    readonly to: Target,
    readonly from: Target,
  ) {
    super(route, [to, from], to.prefix);
    this.stateArea = to.area() ?? from.area();
    this.routeState = migrationArea(to.area(), from.area());
    this.tombstones = new Tombstones(this.stateArea);
    this.etags = new EtagMap(this.stateArea);
    this.multipart = new RoutedMultipart({
      choose: () => this.to,
      targets: [to],
      tagged: false,
      vk: (k) => this.vk(k),
      out: (m) => this.out(m),
      outUploads: (p) => this.outUploads(p),
    });
    if (this.classChangeable()) this.setStorageClass = (_b, key, storageClass, etag) => this.changeClass(key, storageClass, etag);
  }

  /** A key's current object and where it is: `to`, else `from` unless deleted through s3mux. */
  private async locate<T>(key: string, read: (t: Target) => Promise<T>): Promise<{ value: T; on: Target }> {
    try {
      return { value: await read(this.to), on: this.to };
    } catch (err) {
      if (!isAbsent(err)) throw err;
    }
    let value: T;
    try {
      value = await read(this.from);
    } catch (err) {
      if (isAbsent(err)) throw new S3Error('NoSuchKey');
      throw err;
    }
    if (await this.tombstones.has(key)) {
      const h = value as Partial<ObjectHandle>;
      if (typeof h.close === 'function') await h.close();
      throw new S3Error('NoSuchKey');
    }
    return { value, on: this.from };
  }

  /** An object's meta as clients know it: on `to`, the source's ETag where the copy could not keep it. */
  private async shown(k: string, meta: ObjectMeta, on: Target): Promise<ObjectMeta> {
    const etag = on === this.to ? await this.etags.shown(k, meta.etag) : meta.etag;
    return this.out(etag === meta.etag ? meta : { ...meta, etag });
  }

  async headObject(_bucket: string, key: string): Promise<ObjectMeta> {
    const k = this.vk(key);
    const { value, on } = await this.locate(k, (t) => t.headObject(k));
    return this.shown(k, value, on);
  }

  async openObject(_bucket: string, key: string): Promise<ObjectHandle> {
    const k = this.vk(key);
    const { value: h, on } = await this.locate(k, (t) => t.openObject(k));
    let meta: ObjectMeta;
    try {
      meta = await this.shown(k, h.meta, on);
    } catch (err) {
      await h.close();
      throw err;
    }
    return { meta, read: (r) => h.read(r), close: () => h.close() };
  }

  /**
   * Conditions hold against the key's current object, which may still be in `from`: there
   * they are checked here, and the write to `to` is made to create only.
   */
  private async conditionsOnTo(k: string, c: WriteConditions | undefined): Promise<WriteConditions | undefined> {
    if (!c || (c.ifMatch === undefined && c.ifNoneMatch === undefined)) return c;
    let current: { value: ObjectMeta; on: Target } | undefined;
    try {
      current = await this.locate(k, (t) => t.headObject(k));
    } catch (err) {
      if (!isS3Error(err, 'NoSuchKey')) throw err;
    }
    if (!current) return c;
    if (current.on === this.to) {
      // A client's If-Match with the ETag it knows (the source's, where the copy has another).
      const m = c.ifMatch !== undefined && c.ifMatch !== '*' ? await this.etags.lookup(k, current.value.etag) : undefined;
      return m && unquoteEtag(c.ifMatch!) === m.from ? { ...c, ifMatch: m.to } : c;
    }
    if (c.ifNoneMatch !== undefined) throw new S3Error('PreconditionFailed');
    if (c.ifMatch !== undefined && c.ifMatch !== '*' && unquoteEtag(c.ifMatch) !== current.value.etag)
      throw new S3Error('PreconditionFailed');
    return { ifNoneMatch: '*' };
  }

  async putObject(_bucket: string, key: string, body: Readable, attrs: ObjectAttributes, opts?: PutOptions): Promise<ObjectMeta> {
    const k = this.vk(key);
    const conditions = await this.conditionsOnTo(k, opts?.conditions);
    return this.out(await this.to.putObject(k, body, attrs, { ...opts, conditions }));
  }

  async deleteObject(_bucket: string, key: string): Promise<void> {
    const k = this.vk(key);
    await this.tombstones.add(k);
    await this.to.deleteObject(k);
    try {
      await this.from.deleteObject(k);
    } catch (err) {
      // The tombstone hides a copy the old location would not let go of (read-only, or out now).
      if (!this.tombstones.durable && !isS3Error(err, 'NoSuchBucket')) throw err;
    }
  }

  async setTags(_bucket: string, key: string, tags: Tag[]): Promise<void> {
    const k = this.vk(key);
    const { on } = await this.locate(k, (t) => t.headObject(k));
    // Tags live with the object: one still in `from` is copied over first (never over a newer write).
    if (on === this.from) await copyKey(this.from, this.to, k, this.tombstones, this.etags);
    await this.to.setTags(k, tags);
  }

  /**
   * A lifecycle transition changes the class of `to`'s copy. A key still only in `from` is
   * copied over first, as for tags (never over a newer write): the migration moves it anyway,
   * and `from` is the old location, which is being emptied. `etag` is the one clients know (the
   * source's, where the copy could not keep it); the change holds only while it still names the
   * object on `to`.
   */
  private async changeClass(key: string, storageClass: string, etag: string): Promise<void> {
    const k = this.vk(key);
    const { on } = await this.locate(k, (t) => t.headObject(k));
    if (on === this.from) await copyKey(this.from, this.to, k, this.tombstones, this.etags);
    let current: ObjectMeta;
    try {
      current = await this.to.headObject(k);
    } catch (err) {
      throw isAbsent(err) ? new S3Error('NoSuchKey') : err;
    }
    if ((await this.etags.shown(k, current.etag)) !== etag) throw new S3Error('PreconditionFailed');
    await this.to.setStorageClass(k, storageClass, current.etag);
  }

  /** RestoreObject on the copy reads are served from: `to`'s, else `from`'s for a key not copied yet. */
  async restoreObject(_bucket: string, key: string, days: number | undefined): Promise<'started' | 'ongoing' | 'restored'> {
    const k = this.vk(key);
    const { on } = await this.locate(k, (t) => t.headObject(k));
    return on.restoreObject(k, days);
  }

  async listObjects(_bucket: string, opts: ListOptions): Promise<ListPage> {
    const o = this.inList(opts);
    const [to, from] = await Promise.all([this.to.listObjects(o), this.from.listObjects(o).catch(emptyWhenAbsent)]);
    const hidden = (e: ObjectSummary) => (this.tombstones.durable ? this.tombstones.has(e.key) : Promise.resolve(false));
    const page = await mergePagesOf([to, from], opts.maxKeys, hidden);
    return this.outList({ ...page, objects: await this.etags.shownInList(page.objects) });
  }

  /** Copies `from`'s state documents `to` lacks (bucket configuration, version indexes); returns how many. */
  copyState(): Promise<number> {
    return isMigratingArea(this.routeState) ? this.routeState.copyFrom() : Promise.resolve(0);
  }

  status(): RouteFormStatus {
    const targets = [this.to.health.report(), this.from.health.report()];
    return { route: this.route, form: this.kind, targets, ready: this.to.health.up && this.from.health.up };
  }
}

function emptyWhenAbsent(err: unknown): ListPage {
  if (isS3Error(err, 'NoSuchBucket')) return { objects: [], commonPrefixes: [], isTruncated: false };
  throw err;
}
