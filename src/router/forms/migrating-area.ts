/**
 * A migration route's reserved area (bucket configuration, version indexes, lifecycle state):
 * the state moves to `to` as the objects do. Writes land on `to`; a document `to` lacks is read
 * from `from`, until the copier has copied `from`'s documents (`copyFrom`) and marked `to`'s area
 * so: from then on `to` alone is the route's state and `from` may be out or gone.
 *
 * Compare-and-swap: a document still in `from` alone is checked there and then created on `to`
 * create-only, so two writers cannot both win. A delete removes `from`'s copy first, so a
 * deleted document never reappears from `from`; a copy of a document deleted while the copier
 * copied it is taken back.
 */
import type { Readable } from 'node:stream';
import { isS3Error } from '../../errors';
import {
  checkReservedConditions,
  type BucketReservedArea,
  type ReservedConditions,
  type ReservedDocument,
  type ReservedEntry,
  type ReservedListOptions,
} from '../../backends/reserved-store';
import { isRouteInternal, walkArea } from './route-area';

/** In `to`'s area: `from`'s documents have all been copied. */
const COPIED = 'migrate/state-copied';

export class MigratingArea implements BucketReservedArea {
  private copied = false;

  constructor(
    readonly to: BucketReservedArea,
    readonly from: BucketReservedArea,
  ) {}

  /** Whether `from` still has to be asked about documents `to` lacks. */
  private async consultFrom(): Promise<boolean> {
    if (this.copied) return false;
    const doc = await this.to.get(COPIED);
    doc?.body.destroy();
    this.copied = doc !== undefined;
    return !this.copied;
  }

  async get(name: string): Promise<ReservedDocument | undefined> {
    return (await this.to.get(name)) ?? ((await this.consultFrom()) ? this.from.get(name) : undefined);
  }

  async list(prefix: string, opts?: ReservedListOptions): Promise<ReservedEntry[]> {
    const to = await this.to.list(prefix, opts);
    if (!(await this.consultFrom())) return to;
    const from = await this.from.list(prefix, opts);
    const byName = new Map(from.map((e) => [e.name, e]));
    for (const e of to) byName.set(e.name, e);
    const max = opts?.max ?? 1000;
    const merged = [...byName.values()].sort((a, b) => (a.name < b.name ? -1 : a.name > b.name ? 1 : 0));
    // Each side gave its first `max`: past the shorter full side's last name, the merge may lack entries.
    const limit = [to, from].filter((page) => page.length >= max).map((page) => page[page.length - 1].name);
    const upTo = limit.length ? limit.sort()[0] : undefined;
    return merged.filter((e) => upTo === undefined || e.name <= upTo).slice(0, max);
  }

  async put(name: string, body: Buffer | Readable, conditions?: ReservedConditions): Promise<ReservedEntry> {
    if (conditions && (await this.onlyInFrom(name, conditions))) return this.to.put(name, body, { ifNoneMatch: '*' });
    return this.to.put(name, body, conditions);
  }

  async delete(name: string, conditions?: Pick<ReservedConditions, 'ifMatch'>): Promise<void> {
    if (conditions?.ifMatch !== undefined && (await this.onlyInFrom(name, conditions))) {
      await this.from.delete(name, conditions);
      return;
    }
    // `to`'s copy hides `from`'s, so removing `from`'s first changes nothing a reader sees.
    if (await this.consultFrom()) await this.from.delete(name);
    await this.to.delete(name, conditions);
  }

  /**
   * Whether the document is in `from` alone, checking the conditions there (PreconditionFailed
   * when they fail); false when `to` holds it (its own compare-and-swap then decides).
   */
  private async onlyInFrom(name: string, conditions: ReservedConditions): Promise<boolean> {
    const here = await this.to.get(name);
    here?.body.destroy();
    if (here || !(await this.consultFrom())) return false;
    const there = await this.from.get(name);
    there?.body.destroy();
    if (!there) return false;
    checkReservedConditions(there.entry.etag, conditions);
    return true;
  }

  /**
   * Copies every document of `from` that `to` lacks (never over one written through the route),
   * then marks `to` as holding the whole state. Returns the documents copied.
   */
  async copyFrom(): Promise<number> {
    if (!(await this.consultFrom())) return 0;
    let copied = 0;
    for await (const e of walkArea(this.from)) {
      if (isRouteInternal(e.name)) continue;
      const doc = await this.from.get(e.name);
      if (!doc) continue;
      let written: ReservedEntry;
      try {
        // Streamed: a version's bytes may be as large as the object.
        written = await this.to.put(e.name, doc.body, { ifNoneMatch: '*' });
      } catch (err) {
        if (isS3Error(err, 'PreconditionFailed')) continue;
        throw err;
      } finally {
        doc.body.destroy();
      }
      // Deleted (or replaced) in `from` meanwhile: a delete removes `from`'s copy first, so this copy must go.
      const now = await this.from.get(e.name);
      now?.body.destroy();
      if (now?.entry.etag !== doc.entry.etag) {
        await this.to.delete(e.name, { ifMatch: written.etag }).catch((err: unknown) => {
          if (!isS3Error(err, 'PreconditionFailed')) throw err;
        });
        continue;
      }
      copied++;
    }
    await this.to.put(COPIED, Buffer.from(JSON.stringify({ at: new Date().toISOString() })));
    this.copied = true;
    return copied;
  }
}

/** A migration whose `to` or `from` cannot hold state keeps it where it can be held. */
export function migrationArea(to: BucketReservedArea | undefined, from: BucketReservedArea | undefined): BucketReservedArea | undefined {
  if (to && from) return new MigratingArea(to, from);
  return to ?? from;
}

export function isMigratingArea(a: BucketReservedArea | undefined): a is MigratingArea {
  return a instanceof MigratingArea;
}
