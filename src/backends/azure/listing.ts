/**
 * Listing a container in S3's order.
 *
 * Azure (and Azurite) list names in UTF-16 code-unit order; S3 lists keys in UTF-8 byte
 * order. The two differ only where, at the first differing position, one name has a
 * surrogate (a character above U+FFFF) and the other a character in U+E000..U+FFFF. The
 * store's stream is put in UTF-8 order by `utf8Ordered`: when it meets, under some prefix
 * Q, the first name with an astral character right after Q, it first gives the Q+[E000-FFFF]
 * names from a second listing of Q, then the astral ones, then skips the Q+[E000-FFFF] ones
 * of the first listing. Memory stays bounded; the cost is one extra listing of Q per such
 * place, and none at all for keys without astral characters.
 *
 * Keys that could not be blob names live in the reserved area in an order-preserving code
 * (names.ts): their listing is already in UTF-8 order, and is merged with the natural one.
 *
 * Azure continues a listing only from its own opaque markers. So that page N of a long
 * listing does not rescan pages 1..N-1, every page's first name and marker are remembered
 * (MarkerCache, per container, prefix and mode); a later listing starts at the last page
 * that begins at or before where it wants to start. A replica that has not seen the earlier
 * pages just scans from the prefix.
 */
import type { BlobItem, ContainerClient } from '@azure/storage-blob';
import { Peekable, seekWants, type ListSeek } from '../listing';

export { mergeAscending } from '../listing';
import { escapedPrefixFor, keyOfEscaped } from './names';
import { RESERVED_PREFIX } from '../reserved';

/** One entry of an Azure listing: a blob, or (hierarchical listings) a virtual directory. */
export interface RawItem {
  name: string;
  blob?: BlobItem;
}

/** Opens a store listing of names with `prefix`, in the store's order; `from`: only names >= it (UTF-16) are needed. */
export type Opener = (prefix: string, from?: string) => AsyncIterator<RawItem>;

// ---------------------------------------------------------------------------------------------
// Marker cache

const MAX_SCOPES = 256;
const MAX_MARKERS_PER_SCOPE = 20_000;
/** Characters of names and markers kept in all, across scopes (about 32 MB at most). */
const MAX_CHARS = 16 * 1024 * 1024;

/** Page start name → Azure continuation marker, per listing scope; least recently used scopes go first. */
export class MarkerCache {
  private readonly scopes = new Map<string, { names: string[]; markers: string[]; chars: number }>();
  private chars = 0;

  /** The marker of the last recorded page whose first name is <= `from` (UTF-16 order). */
  lookup(scope: string, from: string): string | undefined {
    const s = this.scopes.get(scope);
    if (!s) return undefined;
    let lo = 0;
    let hi = s.names.length;
    while (lo < hi) {
      const mid = (lo + hi) >>> 1;
      if (s.names[mid] <= from) lo = mid + 1;
      else hi = mid;
    }
    return lo > 0 ? s.markers[lo - 1] : undefined;
  }

  record(scope: string, firstName: string, marker: string): void {
    let s = this.scopes.get(scope);
    if (s)
      this.scopes.delete(scope); // re-inserted below: most recently used last
    else s = { names: [], markers: [], chars: 0 };
    this.scopes.set(scope, s);
    let lo = 0;
    let hi = s.names.length;
    while (lo < hi) {
      const mid = (lo + hi) >>> 1;
      if (s.names[mid] < firstName) lo = mid + 1;
      else hi = mid;
    }
    if (s.names[lo] === firstName) {
      this.add(s, marker.length - s.markers[lo].length);
      s.markers[lo] = marker;
    } else if (s.names.length < MAX_MARKERS_PER_SCOPE) {
      s.names.splice(lo, 0, firstName);
      s.markers.splice(lo, 0, marker);
      this.add(s, firstName.length + marker.length);
    }
    while (this.scopes.size > 1 && (this.scopes.size > MAX_SCOPES || this.chars > MAX_CHARS)) {
      const oldest = this.scopes.keys().next().value as string;
      this.drop(oldest);
    }
  }

  forget(scopePrefix: string): void {
    for (const k of [...this.scopes.keys()]) if (k.startsWith(scopePrefix)) this.drop(k);
  }

  private add(s: { chars: number }, n: number): void {
    s.chars += n;
    this.chars += n;
  }

  private drop(scope: string): void {
    const s = this.scopes.get(scope);
    if (!s) return;
    this.chars -= s.chars;
    this.scopes.delete(scope);
  }
}

const utf16 = (a: string, b: string): number => (a < b ? -1 : a > b ? 1 : 0);

/** The marker cache's scope of a listing: container, mode and prefix. */
export function markerScope(container: string, hierarchical: boolean, prefix: string): string {
  return `${container}\n${hierarchical ? 'h' : 'f'}\n${prefix}`;
}

/**
 * The store's listing of `prefix` (flat, or grouped at '/' when `hierarchical`), page by page,
 * with metadata. Names come in the store's order, strictly increasing (a repeated virtual
 * directory at a page boundary is given once).
 */
export async function* rawListing(
  container: ContainerClient,
  opts: { prefix: string; hierarchical: boolean; from?: string; pageSize: number; cache?: MarkerCache },
): AsyncGenerator<RawItem> {
  const scope = markerScope(container.containerName, opts.hierarchical, opts.prefix);
  let marker = opts.from !== undefined ? opts.cache?.lookup(scope, opts.from) : undefined;
  let last: string | undefined;
  for (;;) {
    let page;
    try {
      page = await firstPage(container, opts, marker);
    } catch (err) {
      // A remembered marker the store no longer accepts: start over from the prefix.
      if (marker !== undefined && last === undefined && (err as { statusCode?: number }).statusCode === 400) {
        opts.cache?.forget(scope);
        marker = undefined;
        continue;
      }
      throw err;
    }
    const items: RawItem[] = page.items;
    if (items.length > 1) items.sort((a, b) => utf16(a.name, b.name));
    if (items.length > 0 && marker !== undefined) opts.cache?.record(scope, items[0].name, marker);
    for (const item of items) {
      if (last !== undefined && item.name <= last) continue;
      last = item.name;
      yield item;
    }
    if (!page.next) return;
    marker = page.next;
  }
}

async function firstPage(
  container: ContainerClient,
  opts: { prefix: string; hierarchical: boolean; pageSize: number },
  marker: string | undefined,
): Promise<{ items: RawItem[]; next?: string }> {
  const settings = { continuationToken: marker, maxPageSize: opts.pageSize };
  if (opts.hierarchical) {
    const it = container.listBlobsByHierarchy('/', { prefix: opts.prefix || undefined, includeMetadata: true }).byPage(settings);
    const r = await it.next();
    if (r.done) return { items: [] };
    const seg = r.value.segment;
    const items: RawItem[] = [
      ...seg.blobItems.map((b) => ({ name: b.name, blob: b })),
      ...(seg.blobPrefixes ?? []).map((p) => ({ name: p.name })),
    ];
    return { items, next: r.value.continuationToken || undefined };
  }
  const it = container.listBlobsFlat({ prefix: opts.prefix || undefined, includeMetadata: true }).byPage(settings);
  const r = await it.next();
  if (r.done) return { items: [] };
  return { items: r.value.segment.blobItems.map((b) => ({ name: b.name, blob: b })), next: r.value.continuationToken || undefined };
}

// ---------------------------------------------------------------------------------------------
// UTF-16 order → UTF-8 order

function isSurrogate(c: number): boolean {
  return c >= 0xd800 && c <= 0xdfff;
}

function firstSurrogate(s: string, from: number): number {
  for (let i = from; i < s.length; i++) if (isSurrogate(s.charCodeAt(i))) return i;
  return -1;
}

/** The names of `open(prefix, from)`, in UTF-8 order (see the top of this file). */
export async function* utf8Ordered(open: Opener, prefix: string, from?: string): AsyncGenerator<RawItem> {
  const main = new Peekable(open(prefix, from));
  try {
    yield* run(main, prefix, open, {});
  } finally {
    await main.close();
  }
}

async function* run(it: Peekable<RawItem>, p: string, open: Opener, st: { last?: string }): AsyncGenerator<RawItem> {
  for (;;) {
    const head = await it.peek();
    if (!head || !head.name.startsWith(p)) return;
    const d = firstSurrogate(head.name, p.length);
    if (d < 0) {
      await it.next();
      st.last = head.name;
      yield head;
      continue;
    }
    const q = head.name.slice(0, d);
    // A store that already lists this place in UTF-8 order gave the Q+[E000-FFFF] names before.
    const inOrder = st.last !== undefined && st.last.startsWith(q) && st.last.length > d && st.last.charCodeAt(d) >= 0xe000;
    if (!inOrder) {
      const side = new Peekable(open(q, `${q}\ue000`));
      try {
        for (;;) {
          const h = await side.peek();
          if (!h || !h.name.startsWith(q) || (h.name.length > d && h.name.charCodeAt(d) >= 0xe000)) break;
          await side.next();
        }
        yield* run(side, q, open, st);
      } finally {
        await side.close();
      }
    }
    for (;;) {
      const h = await it.peek();
      if (!h || !h.name.startsWith(q) || h.name.length <= d || !isSurrogate(h.name.charCodeAt(d))) break;
      yield* run(it, h.name.slice(0, d + 2), open, st);
    }
    if (!inOrder) {
      for (;;) {
        const h = await it.peek();
        if (!h || !h.name.startsWith(q)) break;
        await it.next();
      }
    }
  }
}

// ---------------------------------------------------------------------------------------------
// Positions

/**
 * The smallest store name (UTF-16 order) at which every key the seek wants (UTF-8 order)
 * is at or after, or undefined for "from the prefix". Where `after` holds a character at or
 * above U+D800 the two orders may disagree, so the bound is cut before it.
 */
export function storeFrom(seek: ListSeek): string | undefined {
  const a = seek.after;
  if (a === undefined || !a.startsWith(seek.prefix)) return undefined;
  for (let i = seek.prefix.length; i < a.length; i++) if (a.charCodeAt(i) >= 0xd800) return a.slice(0, i);
  if (seek.skipSubtree && a.length > 0) {
    const last = a.charCodeAt(a.length - 1);
    if (last < 0xd7ff) return a.slice(0, -1) + String.fromCharCode(last + 1);
  }
  return a;
}

/** True when the seek wants `key` (the one definition, in ../listing). */
export const wanted = seekWants;

// ---------------------------------------------------------------------------------------------
// The two name spaces

/** Natural names (the reserved area left out), in UTF-8 order. */
export function naturalNames(open: Opener, seek: ListSeek): AsyncGenerator<RawItem> {
  const skipReserved: Opener = (prefix, from) => {
    const inner = open(prefix, from);
    return {
      async next() {
        for (;;) {
          const r = await inner.next();
          if (r.done || !r.value.name.startsWith(RESERVED_PREFIX)) return r;
        }
      },
      async return() {
        await inner.return?.();
        return { done: true, value: undefined };
      },
    };
  };
  return utf8Ordered(skipReserved, seek.prefix, storeFrom(seek));
}

/** Keys stored in the reserved area (names.ts), in UTF-8 order, with their blob items. */
export async function* escapedKeys(open: Opener, seek: ListSeek): AsyncGenerator<{ key: string; blob: BlobItem }> {
  // The code is order-preserving: the code of any key after `after` sorts at or after the
  // certain part of after's code.
  const from = seek.after !== undefined && seek.after.startsWith(seek.prefix) ? escapedPrefixFor(seek.after) : undefined;
  const it = open(escapedPrefixFor(seek.prefix), from);
  try {
    for (;;) {
      const r = await it.next();
      if (r.done) return;
      if (!r.value.blob) continue;
      const key = keyOfEscaped(r.value.name);
      if (key === undefined || !key.startsWith(seek.prefix)) continue;
      yield { key, blob: r.value.blob };
    }
  } finally {
    await it.return?.();
  }
}
