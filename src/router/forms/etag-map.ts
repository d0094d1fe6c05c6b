/**
 * A migration's record of ETags the copy could not keep, in the migration's state area: a
 * multipart object from a store whose part sizes cannot be read (s3), or re-cut into other
 * parts, gets another ETag on `to`. For each such key the copier records {from, to}; while the
 * route is a migration, reads of the key on `to` show the old ETag as long as the object there
 * still has the recorded new one (a write made since makes the record stale, and it is then
 * ignored), so clients' If-Match / If-None-Match with the ETag they knew keep working, and the
 * verify pass counts such a key as matched.
 *
 * Cost: a route that never recorded a mapping pays one document read per `ANY_TTL_MS` (the
 * marker); once one is recorded, every read served from `to` reads the key's document, and a
 * listing page reads one per key it lists (at most `LIST_LOOKUPS` at a time), so a listing shows
 * the same ETag as HEAD and GET.
 */
import { readReservedBody, reservedSegment, type BucketReservedArea } from '../../backends/reserved-store';
import { isS3Error } from '../../errors';
import { mapBounded } from '../../bounded-map';
import type { ObjectSummary } from '../../backends/types';

const DIR = 'migrate/etags/';
/** Written once, before the first mapping: while it is absent no read looks mappings up. */
const MARKER = 'migrate/etags-recorded';
/** How long a replica trusts "no mapping was ever recorded" (another replica's copier may record one). */
const ANY_TTL_MS = 2000;
/** Mapping documents a listing page reads at once. */
const LIST_LOOKUPS = 16;

export interface EtagMapping {
  key: string;
  /** The source's ETag, what clients knew. */
  from: string;
  /** The ETag the copy has on `to`. */
  to: string;
}

export class EtagMap {
  private anyRecorded = false;
  private checkedAt = 0;

  constructor(private readonly area: BucketReservedArea | undefined) {}

  /** Records that `key`'s copy on `to` has ETag `to` where the source had `from`. */
  async record(key: string, from: string, to: string): Promise<void> {
    if (!this.area || from === to) return;
    if (!this.anyRecorded) {
      try {
        await this.area.put(MARKER, Buffer.from('{}'), { ifNoneMatch: '*' });
      } catch (err) {
        if (!isS3Error(err, 'PreconditionFailed')) throw err;
      }
      this.anyRecorded = true;
    }
    const mapping: EtagMapping = { key, from, to };
    await this.area.put(DIR + reservedSegment(key), Buffer.from(JSON.stringify(mapping)));
  }

  private async mayHaveAny(): Promise<boolean> {
    if (!this.area) return false;
    if (this.anyRecorded || Date.now() - this.checkedAt < ANY_TTL_MS) return this.anyRecorded;
    const marker = await this.area.get(MARKER);
    marker?.body.destroy();
    this.anyRecorded = marker !== undefined;
    this.checkedAt = Date.now();
    return this.anyRecorded;
  }

  /** The key's mapping, when one is recorded and the object on `to` still has the copied ETag `current`. */
  async lookup(key: string, current: string): Promise<EtagMapping | undefined> {
    if (!this.area || !(await this.mayHaveAny())) return undefined;
    const doc = await this.area.get(DIR + reservedSegment(key));
    if (!doc) return undefined;
    const m = JSON.parse((await readReservedBody(doc)).toString('utf8')) as Partial<EtagMapping>;
    // Hashed names could in principle collide: the document says which key it is for.
    if (m.key !== key || m.to !== current || typeof m.from !== 'string') return undefined;
    return m as EtagMapping;
  }

  /** The ETag a client knows for an object on `to` whose ETag is `current`. */
  async shown(key: string, current: string): Promise<string> {
    return (await this.lookup(key, current))?.from ?? current;
  }

  /** A listing page's entries with the ETags clients know (entries without a current mapping unchanged). */
  async shownInList(objects: ObjectSummary[]): Promise<ObjectSummary[]> {
    if (!this.area || objects.length === 0 || !(await this.mayHaveAny())) return objects;
    return mapBounded(objects, LIST_LOOKUPS, async (o) => {
      const m = await this.lookup(o.key, o.etag);
      return m ? { ...o, etag: m.from } : o;
    });
  }
}
