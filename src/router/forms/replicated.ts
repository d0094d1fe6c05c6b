/**
 * Mirror and failover routes: one Backend over an ordered list of targets, with a circuit
 * breaker per target (health.ts) and a catch-up queue per target (catch-up-queue.ts).
 *
 * - mirror, sync: a write goes to the first healthy target, then is copied to every other one
 *   before the client's answer; a target that is out or fails the copy gets the change later,
 *   from the writer's durable queue.
 * - mirror, async: the change is queued (durably, before the write), written to the first
 *   healthy target and answered; the queue is drained in the background.
 * - failover: reads and writes go to the first healthy target; a change made on a later target
 *   while earlier ones were out is queued there and replayed onto them when they are back.
 *
 * Reads go to the first healthy target and, for a key it does not hold, on to the next (a
 * write made elsewhere during an outage and not replayed yet). Deletes: on every target of a
 * mirror, on the writer of a failover route; a target that misses one gets it from the queue.
 */
import type { Readable } from 'node:stream';
import { isS3Error } from '../../errors';
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
} from '../../backends/types';
import { KeyedLock } from '../../backends/keyed-lock';
import { compareKeys } from '../../backends/listing';
import { CompositeBackend, unavailable, type RouteFormStatus } from './composite';
import { isOutage } from './health';
import { CatchUpQueue, type QueueEntry } from './catch-up-queue';
import { RoutedMultipart } from './multipart';
import { ReplayableBody } from './replayable-body';
import { copyContext } from './copy-key';
import { copyOne } from '../../transfer';
import type { Target } from './target';
import { ReplicatedArea } from './replicated-area';
import { isArchived } from '../../backends/storage-classes';

export type ReplicationMode = 'sync' | 'async' | 'failover';

export interface ReplicatedOptions {
  /** How often the catch-up queues are drained and out targets probed (default 2 s; 0: only by drain()). */
  drainIntervalMs?: number;
}

export interface RepairReport {
  route: string;
  /** Keys compared across targets. */
  compared: number;
  /** Keys copied to a target that lacked them or held an older object. */
  copied: number;
  /** Keys removed from a target because the queue recorded their deletion. */
  deleted: number;
  /** Queue entries replayed. */
  replayed: number;
  /** State documents (bucket configuration, version indexes) brought level on a target that missed them. */
  stateDocuments: number;
  errors: string[];
}

/** What a replay did to one target for one key. */
type SyncOutcome = 'copied' | 'deleted' | 'same';

export class ReplicatedBackend extends CompositeBackend {
  readonly queues: CatchUpQueue[];
  /** The route's bucket configuration and versions, on every target. */
  readonly state: ReplicatedArea;
  readonly multipart: RoutedMultipart;
  /** Lifecycle transitions: present when every target's store can change a class in place. */
  readonly setStorageClass?: Backend['setStorageClass'];
  private readonly locks = new KeyedLock();
  private readonly timer?: NodeJS.Timeout;
  private draining?: Promise<number>;
  private closed = false;

  constructor(
    route: string,
    readonly kind: 'mirror' | 'failover',
    readonly mode: ReplicationMode,
    targets: readonly Target[],
    opts: ReplicatedOptions = {},
  ) {
    super(route, targets, targets[0].prefix);
    this.queues = targets.map((t) => new CatchUpQueue(t.checkedArea()));
    this.state = new ReplicatedArea(route, targets);
    this.multipart = new RoutedMultipart({
      choose: (attrs) => {
        this.checkAttributes(attrs);
        return this.writer(attrs.storageClass);
      },
      targets,
      tagged: true,
      vk: (k) => this.vk(k),
      out: (m) => this.out(m),
      outUploads: (p) => this.outUploads(p),
      completed: (t, key) => this.completed(t, key),
    });
    if (this.classChangeable()) this.setStorageClass = (_b, key, storageClass, etag) => this.changeClass(key, storageClass, etag);
    const every = opts.drainIntervalMs ?? 2000;
    if (every > 0) {
      this.timer = setInterval(() => void this.drain().catch(() => undefined), every);
      this.timer.unref();
    }
  }

  protected get routeState(): ReplicatedArea | undefined {
    return this.state.present ? this.state : undefined;
  }

  private live(): Target[] {
    return this.targets.filter((t) => t.health.available());
  }

  /**
   * The target that takes writes now: the first live one; on a mirror, for a class some store
   * archives, the first that keeps it readable, as the other copies are read from the writer's.
   */
  private writer(storageClass?: string): Target {
    const live = this.live();
    if (!live[0]) throw unavailable(this.route);
    if (this.kind !== 'mirror' || storageClass === undefined) return live[0];
    return live.find((t) => !isArchived(t.backend.kind, storageClass)) ?? live[0];
  }

  /** The targets a change on `t` must reach. */
  private othersOf(t: Target): Target[] {
    const i = this.targets.indexOf(t);
    return this.mode === 'failover' ? this.targets.slice(0, i) : this.targets.filter((o) => o !== t);
  }

  private queueOf(t: Target): CatchUpQueue {
    return this.queues[this.targets.indexOf(t)];
  }

  /** The first answer of the live targets in order, passing over outages and (for reads) keys a target lacks. */
  private async first<T>(fn: (t: Target) => Promise<T>, passAbsent: boolean): Promise<T> {
    let absent: Error | undefined;
    let outage: unknown;
    for (const t of this.live()) {
      try {
        return await fn(t);
      } catch (err) {
        if (isOutage(err)) outage ??= err;
        else if (passAbsent && isS3Error(err, 'NoSuchKey')) absent ??= err as Error;
        else throw err;
      }
    }
    if (absent) throw absent;
    throw unavailable(this.route);
  }

  async headObject(_bucket: string, key: string): Promise<ObjectMeta> {
    const k = this.vk(key);
    return this.out(await this.first((t) => t.headObject(k), true));
  }

  async openObject(_bucket: string, key: string): Promise<ObjectHandle> {
    const k = this.vk(key);
    const h = await this.first((t) => t.openObject(k), true);
    return { meta: this.out(h.meta), read: (r) => h.read(r), close: () => h.close() };
  }

  async listObjects(_bucket: string, opts: ListOptions): Promise<ListPage> {
    const o = this.inList(opts);
    return this.outList(await this.first((t) => t.listObjects(o), false));
  }

  async putObject(_bucket: string, key: string, body: Readable, attrs: ObjectAttributes, opts?: PutOptions): Promise<ObjectMeta> {
    // Every copy must hold what the client sent: one that cannot would be refused only later, by a replay.
    this.checkAttributes(attrs);
    const k = this.vk(key);
    const replay = new ReplayableBody(body);
    // Changes to one key and their replays take turns (in this process), so a replay never lands over a newer change.
    return this.locks.run(k, async () => {
      // A target that fails while taking the body: the same bytes go to the next (while they fit the replay buffer).
      for (;;) {
        const w = this.writer(attrs.storageClass);
        let meta: ObjectMeta;
        try {
          meta = await this.changeOn(w, k, () => w.putObject(k, replay.attempt(), attrs, opts));
        } catch (err) {
          // Tried again until the breaker opens (a few failures), then on the next target.
          if (isOutage(err) && replay.replayable && this.live().some((t) => t !== w)) continue;
          throw err;
        }
        await this.afterWrite(w, k);
        return this.out(meta);
      }
    });
  }

  /**
   * A change on `w`, queued first where the mode wants it: an entry in a target's queue says
   * that target holds the key's truth, so one whose change then fails is taken back.
   */
  private async changeOn<T>(w: Target, k: string, change: () => Promise<T>): Promise<T> {
    const entry = this.queuesFirst(w) ? await this.queueOf(w).add(k) : undefined;
    try {
      return await change();
    } catch (err) {
      if (entry)
        await this.queueOf(w)
          .done(entry)
          .catch(() => undefined);
      throw err;
    }
  }

  private queuesFirst(w: Target): boolean {
    return this.mode === 'async' || (this.mode === 'failover' && this.othersOf(w).length > 0);
  }

  /** Sync mode: copies the change to every other target now; what cannot be copied is queued. Async: a drain soon. */
  private async afterWrite(w: Target, k: string): Promise<void> {
    if (this.mode !== 'sync') {
      if (this.mode === 'async') this.kick();
      return;
    }
    let queued = false;
    for (const o of this.othersOf(w)) {
      if (o.health.available()) {
        try {
          await this.syncKey(w, o, k);
          continue;
        } catch {
          // Queued below; the breaker has counted it.
        }
      }
      if (!queued) await this.queueOf(w).add(k);
      queued = true;
    }
  }

  async deleteObject(_bucket: string, key: string): Promise<void> {
    const k = this.vk(key);
    await this.locks.run(k, async () => {
      if (this.mode === 'failover') {
        const w = this.writer();
        await this.changeOn(w, k, () => w.deleteObject(k));
        return;
      }
      const missed: Target[] = [];
      let done: Target | undefined;
      for (const t of this.targets) {
        if (!t.health.available()) {
          missed.push(t);
          continue;
        }
        try {
          await t.deleteObject(k);
          done ??= t;
        } catch (err) {
          if (!isOutage(err)) throw err;
          missed.push(t);
        }
      }
      if (!done) throw unavailable(this.route);
      // The queue of a target the delete reached: replaying it deletes the key where it was missed.
      if (missed.length) await this.queueOf(done).add(k);
    });
  }

  async setTags(_bucket: string, key: string, tags: Tag[]): Promise<void> {
    this.checkAttributes({ userMetadata: {}, tags });
    const k = this.vk(key);
    await this.locks.run(k, async () => {
      const w = this.writer();
      await this.changeOn(w, k, () => w.setTags(k, tags));
      await this.afterWrite(w, k);
    });
  }

  /**
   * A lifecycle transition: the class changes in place on the writer's copy (only while its ETag
   * is `etag`), then reaches the other copies as any change does (sync: now; async and targets
   * that are out: from the queue, where replaying compares classes too). On a failover route a
   * later target's copy of the same object (same ETag) changes now too, when it is up.
   */
  private async changeClass(key: string, storageClass: string, etag: string): Promise<void> {
    const k = this.vk(key);
    await this.locks.run(k, async () => {
      const w = this.writer(storageClass);
      await this.changeOn(w, k, () => w.setStorageClass(k, storageClass, etag));
      await this.afterWrite(w, k);
      if (this.kind !== 'failover') return;
      for (const o of this.targets.slice(this.targets.indexOf(w) + 1)) {
        if (!o.health.available()) continue;
        const there = await o.headObject(k).catch(() => undefined);
        if (there?.etag === etag && (there.storageClass ?? 'STANDARD') !== storageClass)
          await o.setStorageClass(k, storageClass, etag).catch(() => undefined);
      }
    });
  }

  /** RestoreObject on the copy reads are served from: the first live target holding the key. */
  async restoreObject(_bucket: string, key: string, days: number | undefined): Promise<'started' | 'ongoing' | 'restored'> {
    const k = this.vk(key);
    return this.first((t) => t.restoreObject(k, days), true);
  }

  /** A completed multipart upload is a change like a PUT. */
  private completed(w: Target, k: string): Promise<void> {
    return this.locks.run(k, async () => {
      if (this.queuesFirst(w)) await this.queueOf(w).add(k);
      await this.afterWrite(w, k);
    });
  }

  /**
   * Makes `dst` hold what `src` holds for `key` (the object with its attributes and ETag, or
   * nothing). Callers hold the key's lock.
   */
  private async syncKey(src: Target, dst: Target, key: string): Promise<SyncOutcome> {
    const absent = (err: unknown) => {
      if (isS3Error(err, 'NoSuchKey')) return undefined;
      throw err;
    };
    const [here, there] = await Promise.all([src.headObject(key).catch(absent), dst.headObject(key).catch(absent)]);
    if (here && there && there.etag === here.etag) {
      const tagsSame = sameTags(there.tags, here.tags);
      const classSame = sameClass(here.storageClass, there.storageClass);
      if (tagsSame && classSame) return 'same';
      // The same bytes with other tags or another class (a transition): changed in place, never
      // re-read (an archived copy cannot be), where the store can change a class; else copied.
      if (classSame || dst.backend.setStorageClass) {
        if (!tagsSame) await dst.setTags(key, here.tags ?? []);
        if (!classSame) await dst.setStorageClass(key, here.storageClass ?? 'STANDARD', there.etag);
        return 'copied';
      }
    }
    if (here) {
      try {
        await copyOne(copyContext(src, dst, false), key, there);
        return 'copied';
      } catch (err) {
        // Deleted on the source since the look: the deletion is what to replay.
        if (!isS3Error(err, 'NoSuchKey')) throw err;
      }
    }
    if (!there) return 'same';
    await dst.deleteObject(key);
    return 'deleted';
  }

  /** A drain soon (async writes). */
  private kick(): void {
    setImmediate(() => void this.drain().catch(() => undefined));
  }

  /**
   * Probes targets that are out, then replays every queue whose target and destinations are
   * up. Returns the entries replayed. Concurrent calls share one run.
   */
  drain(): Promise<number> {
    if (this.closed) return Promise.resolve(0);
    this.draining ??= this.drainOnce().finally(() => (this.draining = undefined));
    return this.draining;
  }

  private async drainOnce(report?: RepairReport): Promise<number> {
    for (const t of this.targets) if (!t.health.up && t.health.available()) await t.probe().catch(() => undefined);
    // A follower that missed a state write (or never compared) is brought level once all are up.
    if (this.state.needsCatchUp && this.targets.every((t) => t.health.available())) {
      try {
        const n = await this.state.catchUp();
        if (report) report.stateDocuments += n;
      } catch (err) {
        report?.errors.push(`state: ${(err as Error).message}`);
      }
    }
    let replayed = 0;
    for (const [i, t] of this.targets.entries()) {
      const others = this.othersOf(t);
      if (!t.health.available() || others.some((o) => !o.health.available())) continue;
      for (;;) {
        const entries = await this.queues[i].list(100);
        let progressed = 0;
        for (const e of entries) {
          try {
            await this.locks.run(e.key, async () => {
              // Another target changed the key later (a write there during an outage here): that one is the truth.
              if (await this.supersededElsewhere(i, e)) return;
              for (const o of others) {
                const outcome = await this.syncKey(t, o, e.key);
                if (report && outcome === 'copied') report.copied++;
                if (report && outcome === 'deleted') report.deleted++;
              }
            });
            await this.queues[i].done(e);
            replayed++;
            progressed++;
          } catch (err) {
            report?.errors.push(`${e.key}: ${(err as Error).message}`);
            if (isOutage(err)) return replayed;
          }
        }
        if (entries.length < 100 || progressed === 0) break;
      }
    }
    return replayed;
  }

  private async supersededElsewhere(i: number, e: QueueEntry): Promise<boolean> {
    for (const [j, q] of this.queues.entries()) {
      if (j === i || !this.targets[j].health.available()) continue;
      const other = await q.find(e.key);
      if (other && other.at > e.at) return true;
    }
    return false;
  }

  /**
   * The repair job: replays the queues, then (mirror) walks every target's listing against the
   * first's and copies what one lacks or holds older, so the copies are equal again.
   */
  async repair(): Promise<RepairReport> {
    const report: RepairReport = { route: this.route, compared: 0, copied: 0, deleted: 0, replayed: 0, stateDocuments: 0, errors: [] };
    for (const t of this.targets) if (!t.health.up) await t.probe().catch(() => undefined);
    if (this.targets.some((t) => !t.health.available())) throw unavailable(this.route);
    await this.draining;
    report.replayed = await this.drainOnce(report);
    if (this.kind !== 'mirror') return report;
    const [a, ...rest] = this.targets;
    for (const b of rest) await this.compareAndCopy(a, b, report);
    return report;
  }

  private async compareAndCopy(a: Target, b: Target, report: RepairReport): Promise<void> {
    const sa = walk(a);
    const sb = walk(b);
    let x = await sa.next();
    let y = await sb.next();
    const fix = async (src: Target, dst: Target, key: string) => {
      try {
        if ((await this.locks.run(key, () => this.syncKey(src, dst, key))) === 'copied') report.copied++;
      } catch (err) {
        report.errors.push(`${key}: ${(err as Error).message}`);
      }
    };
    while (!x.done || !y.done) {
      report.compared++;
      const c = x.done ? 1 : y.done ? -1 : compareKeys(x.value.key, y.value.key);
      const ox = x.value as ObjectSummary;
      const oy = y.value as ObjectSummary;
      if (c < 0) {
        await fix(a, b, ox.key);
        x = await sa.next();
      } else if (c > 0) {
        await fix(b, a, oy.key);
        y = await sb.next();
      } else {
        if (ox.etag !== oy.etag) await (ox.lastModified >= oy.lastModified ? fix(a, b, ox.key) : fix(b, a, ox.key));
        // Same object, another class: the primary's copy is the truth (a transition reaches it first).
        else if (!sameClass(ox.storageClass, oy.storageClass)) await fix(a, b, ox.key);
        x = await sa.next();
        y = await sb.next();
      }
    }
  }

  /** Entries waiting in every target's queue. */
  async queued(): Promise<number> {
    let n = 0;
    for (const [i, t] of this.targets.entries()) if (t.health.available()) n += await this.queues[i].size().catch(() => 0);
    return n;
  }

  status(): RouteFormStatus {
    const targets = this.targets.map((t) => t.health.report());
    return { route: this.route, form: this.kind, targets, ready: targets.some((t) => t.up) };
  }

  override async close(): Promise<void> {
    this.closed = true;
    if (this.timer) clearInterval(this.timer);
    await this.draining?.catch(() => undefined);
    await super.close();
  }
}

function sameClass(a: string | undefined, b: string | undefined): boolean {
  return (a ?? 'STANDARD') === (b ?? 'STANDARD');
}

function sameTags(a: Tag[] | undefined, b: Tag[] | undefined): boolean {
  const norm = (t: Tag[] | undefined) => JSON.stringify([...(t ?? [])].sort((p, q) => (p.key < q.key ? -1 : 1)));
  return norm(a) === norm(b);
}

/** Every object of a target, in key order. */
async function* walk(t: Target): AsyncGenerator<ObjectSummary> {
  let after: string | undefined;
  for (;;) {
    const page = await t.listObjects({ prefix: '', startAfter: after, maxKeys: 1000 });
    for (const o of page.objects) yield o;
    if (!page.isTruncated) return;
    after = page.nextStartAfter ?? page.objects.at(-1)?.key;
    if (after === undefined) return;
  }
}
