/**
 * What a composite route's reserved area (replicated-area.ts, migrating-area.ts) shares: the
 * route's area served as the route's `backend.reserved`, the documents that belong to one
 * target rather than the route, and paging through an area.
 */
import { S3Error } from '../../errors';
import {
  reservedSegment,
  type BucketReservedArea,
  type ReservedEntry,
  type ReservedListOptions,
  type ReservedStore,
} from '../../backends/reserved-store';

/**
 * A target's own documents in its area: its catch-up queue and sync marker (mirror/), the
 * migration's tombstones, checkpoint and lease (migrate/). They are never copied between targets.
 */
const ROUTE_INTERNAL = ['mirror/', 'migrate/'];

export function isRouteInternal(name: string): boolean {
  return ROUTE_INTERNAL.some((p) => name.startsWith(p));
}

/** Every entry of an area in name order, a page at a time through `list`. */
export async function* walkArea(
  area: BucketReservedArea,
  list: (a: BucketReservedArea, opts: ReservedListOptions) => Promise<ReservedEntry[]> = (a, o) => a.list('', o),
): AsyncGenerator<ReservedEntry> {
  let after: string | undefined;
  for (;;) {
    const page = await list(area, { startAfter: after, max: 1000 });
    yield* page;
    if (page.length < 1000) return;
    after = page[page.length - 1].name;
  }
}

/**
 * The route's area as the ReservedStore the route's BucketView asks for: BucketView names the
 * primary's bucket and its area's base (`bucketArea`), which are stripped here so the call
 * reaches the route's area whichever target serves it.
 */
export function routeStore(bucket: string, keyPrefix: string, area: BucketReservedArea): ReservedStore {
  const base = `b/${keyPrefix === '' ? '-' : reservedSegment(keyPrefix)}/`;
  const rel = (b: string, name: string) => {
    if (b !== bucket || !name.startsWith(base)) throw new S3Error('InternalError', `reserved name ${name} is outside the route's area`);
    return name.slice(base.length);
  };
  const abs = (e: ReservedEntry): ReservedEntry => ({ ...e, name: base + e.name });
  return {
    get: async (b, name) => {
      const doc = await area.get(rel(b, name));
      return doc && { entry: abs(doc.entry), body: doc.body };
    },
    put: async (b, name, body, conditions) => abs(await area.put(rel(b, name), body, conditions)),
    delete: (b, name, conditions) => area.delete(rel(b, name), conditions),
    list: async (b, prefix, opts) => {
      const p = rel(b, prefix);
      const startAfter = opts?.startAfter === undefined ? undefined : rel(b, opts.startAfter);
      return (await area.list(p, { ...opts, startAfter })).map(abs);
    },
  };
}
