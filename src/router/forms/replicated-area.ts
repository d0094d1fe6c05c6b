/**
 * A mirror or failover route's reserved area (bucket configuration, version indexes, lifecycle
 * state) kept on every target that can hold one, so the state is as available for reading as
 * the objects.
 *
 * Compare-and-swap across stores that have no common lock needs one place that orders the
 * writes: the first target with a reserved area (the primary) is that place. A write is a
 * compare-and-swap on the primary, then each other target (a follower) is brought level with
 * the primary for that name, and the write is acknowledged only when every follower is level.
 * So every follower holds every acknowledged write, and a read may come from any of them:
 * reads go to the primary, and to the first trusted follower while the primary is out. A write
 * while any target is out answers 503 (ServiceUnavailable): accepting it elsewhere would let
 * two s3mux replicas with different views of the primary's health both win a compare-and-swap.
 *
 * Bringing a follower level (`follow`) reads the follower, then the primary, then writes the
 * follower conditionally on what it read: a follower only ever moves to a state the primary
 * held later than any state written there before, so two writers' late copies never go back in
 * time. A follower that misses a write (it failed under it: the client got a 503) is not read
 * until `catchUp` has compared every document with the primary's; one never compared since it
 * joined the route (no marker in its area) is not read either.
 */
import type { Readable } from 'node:stream';
import { isS3Error, S3Error } from '../../errors';
import {
  readReservedBody,
  type BucketReservedArea,
  type ReservedConditions,
  type ReservedDocument,
  type ReservedEntry,
  type ReservedListOptions,
} from '../../backends/reserved-store';
import { isOutage } from './health';
import { unavailable } from './composite';
import type { Target } from './target';
import { isRouteInternal, walkArea } from './route-area';
import { isWrittenOnce } from '../../versioning/names';

/** In a follower's area: it has been compared with the primary document by document at least once. */
const SYNCED = 'mirror/state-synced';

interface Member {
  target: Target;
  area: BucketReservedArea;
}

export class ReplicatedArea implements BucketReservedArea {
  private readonly primary: Member | undefined;
  private readonly followers: Member[];
  /** Followers known to hold every acknowledged write (in this process). */
  private readonly trusted = new Set<Member>();
  /** Followers that missed a write since their last catch-up. */
  private readonly behind = new Set<Member>();

  constructor(
    private readonly route: string,
    targets: readonly Target[],
  ) {
    const members = targets.flatMap((target) => {
      const area = target.area();
      return area ? [{ target, area }] : [];
    });
    [this.primary, ...this.followers] = members;
  }

  /** Whether any target can hold the route's state. */
  get present(): boolean {
    return this.primary !== undefined;
  }

  /** A follower needs a catch-up before it can serve reads. */
  get needsCatchUp(): boolean {
    return this.followers.some((f) => this.behind.has(f) || !this.trusted.has(f));
  }

  private run<T>(m: Member, fn: (a: BucketReservedArea) => Promise<T>, discard?: (late: T) => void): Promise<T> {
    return m.target.health.run(() => fn(m.area), { discard });
  }

  /** A write whose body may be a long stream (a version's bytes): no timeout, as for object writes. */
  private write<T>(m: Member, fn: (a: BucketReservedArea) => Promise<T>): Promise<T> {
    return m.target.health.run(() => fn(m.area), { timeout: false });
  }

  /** Reads from the primary, or while it is out from the first follower that holds every acknowledged write. */
  private async read<T>(fn: (a: BucketReservedArea) => Promise<T>, discard?: (late: T) => void): Promise<T> {
    const p = this.primary;
    if (!p) throw new S3Error('NotImplemented', `No target of route ${this.route} can hold s3mux's state.`);
    if (p.target.health.available()) {
      try {
        return await this.run(p, fn, discard);
      } catch (err) {
        if (!isOutage(err)) throw err;
      }
    }
    for (const f of this.followers) {
      if (!f.target.health.available() || !(await this.readable(f))) continue;
      try {
        return await this.run(f, fn, discard);
      } catch (err) {
        if (!isOutage(err)) throw err;
      }
    }
    throw unavailable(this.route);
  }

  private async readable(f: Member): Promise<boolean> {
    if (this.behind.has(f)) return false;
    if (this.trusted.has(f)) return true;
    try {
      if (await this.run(f, (a) => a.get(SYNCED).then(closeDoc))) this.trusted.add(f);
    } catch {
      return false;
    }
    return this.trusted.has(f);
  }

  get(name: string): Promise<ReservedDocument | undefined> {
    return this.read((a) => a.get(name), destroyLate);
  }

  list(prefix: string, opts?: ReservedListOptions): Promise<ReservedEntry[]> {
    return this.read((a) => a.list(prefix, opts));
  }

  async put(name: string, body: Buffer | Readable, conditions?: ReservedConditions): Promise<ReservedEntry> {
    const p = this.writable();
    const entry = await this.write(p, (a) => a.put(name, body, conditions)).catch((err: unknown) => this.failed(err));
    await this.followAll(name);
    return entry;
  }

  async delete(name: string, conditions?: Pick<ReservedConditions, 'ifMatch'>): Promise<void> {
    const p = this.writable();
    await this.run(p, (a) => a.delete(name, conditions)).catch((err: unknown) => this.failed(err));
    await this.followAll(name);
  }

  /** A store's outage is the route's 503; S3's own answers (PreconditionFailed, NoSuchBucket) pass. */
  private failed(err: unknown): never {
    throw isOutage(err) ? unavailable(this.route) : err;
  }

  /** The primary, when every target is up to take a write (503 before anything is written otherwise). */
  private writable(): Member {
    const p = this.primary;
    if (!p) throw new S3Error('NotImplemented', `No target of route ${this.route} can hold s3mux's state.`);
    if (![p, ...this.followers].every((m) => m.target.health.available())) throw unavailable(this.route);
    return p;
  }

  private async followAll(name: string): Promise<void> {
    let failed: unknown;
    for (const f of this.followers) {
      try {
        await this.follow(f, name);
      } catch (err) {
        // The primary took the write and this follower did not: it is not read until a catch-up.
        this.behind.add(f);
        failed ??= err;
      }
    }
    if (failed !== undefined) this.failed(failed);
  }

  /** Makes the follower's document `name` what the primary holds now (see the header for why in this order). */
  private async follow(f: Member, name: string): Promise<'same' | 'changed'> {
    if (isWrittenOnce(name)) return this.followWrittenOnce(f, name);
    const p = this.primary!;
    for (let attempt = 0; attempt < 8; attempt++) {
      const mine = await this.run(f, (a) => a.get(name), destroyLate).then(readDoc);
      const src = await this.run(p, (a) => a.get(name), destroyLate).then(readDoc);
      if (src?.bytes.equals(mine?.bytes ?? Buffer.alloc(0)) && mine) return 'same';
      if (!src && !mine) return 'same';
      try {
        if (!src) await this.run(f, (a) => a.delete(name, { ifMatch: mine!.etag }));
        else await this.run(f, (a) => a.put(name, src.bytes, mine ? { ifMatch: mine.etag } : { ifNoneMatch: '*' }));
        return 'changed';
      } catch (err) {
        if (!isS3Error(err, 'PreconditionFailed')) throw err;
      }
    }
    throw new S3Error('OperationAborted', `The state document ${name} of route ${this.route} kept changing; try again.`);
  }

  /**
   * A document written once under a name never used again (a version's bytes): the same name
   * and size is the same document, and a copy streams from the primary (memory stays bounded
   * whatever the object's size).
   */
  private async followWrittenOnce(f: Member, name: string): Promise<'same' | 'changed'> {
    const p = this.primary!;
    const mine = await this.run(f, (a) => a.get(name), destroyLate);
    mine?.body.destroy();
    const src = await this.run(p, (a) => a.get(name), destroyLate);
    try {
      if (!src && !mine) return 'same';
      if (src && mine && src.entry.size === mine.entry.size) return 'same';
      if (!src) await this.run(f, (a) => a.delete(name, { ifMatch: mine!.entry.etag }));
      else await this.write(f, (a) => a.put(name, src.body, mine ? { ifMatch: mine.entry.etag } : { ifNoneMatch: '*' }));
      return 'changed';
    } catch (err) {
      // Another writer brought it level first.
      if (isS3Error(err, 'PreconditionFailed')) return 'same';
      throw err;
    } finally {
      src?.body.destroy();
    }
  }

  /**
   * Brings every follower level with the primary, document by document (the route's own queue
   * and migration documents excepted: those belong to one target), and marks it so. Returns the
   * documents changed. Throws when the primary or a follower is out.
   */
  async catchUp(): Promise<number> {
    const p = this.primary;
    if (!p) return 0;
    let changed = 0;
    for (const f of this.followers) {
      const sizes = [new Map<string, number>(), new Map<string, number>()];
      for (const [i, m] of [p, f].entries())
        for await (const e of walkArea(m.area, (a, o) => this.run(m, () => a.list('', o)))) sizes[i].set(e.name, e.size);
      const [here, there] = sizes;
      for (const name of [...new Set([...here.keys(), ...there.keys()])].sort()) {
        if (isRouteInternal(name)) continue;
        // A version's bytes on both under one name are the same bytes: no need to open them.
        if (isWrittenOnce(name) && here.has(name) && here.get(name) === there.get(name)) continue;
        if ((await this.follow(f, name)) === 'changed') changed++;
      }
      await this.run(f, (a) => a.put(SYNCED, Buffer.from(JSON.stringify({ at: new Date().toISOString() }))));
      this.behind.delete(f);
      this.trusted.add(f);
    }
    return changed;
  }
}

function destroyLate(doc: ReservedDocument | undefined): void {
  doc?.body.destroy();
}

async function readDoc(doc: ReservedDocument | undefined): Promise<{ bytes: Buffer; etag: string } | undefined> {
  return doc && { bytes: await readReservedBody(doc, 64 * 1024 * 1024), etag: doc.entry.etag };
}

async function closeDoc(doc: ReservedDocument | undefined): Promise<boolean> {
  doc?.body.destroy();
  return doc !== undefined;
}
