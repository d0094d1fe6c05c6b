/**
 * The one implementation of S3 listing semantics (prefix, delimiter of any string,
 * start-after, max-keys, common prefixes, truncation) on top of a sorted stream of keys.
 * Any adapter whose store can only enumerate keys in order uses it: fs, memory, and future
 * ones. Adapters whose store lists natively with a delimiter (S3 itself) need not.
 *
 * Order: keys are compared in UTF-8 byte order (what S3 uses), which is Unicode code point
 * order, not JavaScript's UTF-16 code unit order (they differ for astral characters against
 * BMP characters at U+E000 and above).
 */
import type { Backend, ListOptions, ListPage, ObjectMeta, ObjectSummary } from './types';
import { setListedChecksum } from './listed-checksum';

/** An object's listing entry from its metadata: the fields a listing carries, its checksum as GET names it. */
export function summaryOf(meta: ObjectMeta): ObjectSummary {
  const s: ObjectSummary = { key: meta.key, size: meta.size, etag: meta.etag, lastModified: meta.lastModified };
  if (meta.storageClass !== undefined) s.storageClass = meta.storageClass;
  setListedChecksum(s, meta.checksums);
  return s;
}

/**
 * Compares two keys in UTF-8 byte order (same result as Buffer.compare of their UTF-8
 * encodings for well-formed strings) without encoding them.
 */
export function compareKeys(a: string, b: string): number {
  const n = Math.min(a.length, b.length);
  for (let i = 0; i < n; i++) {
    const x = a.charCodeAt(i);
    const y = b.charCodeAt(i);
    if (x !== y) {
      // Surrogates (D800-DFFF, i.e. code points >= U+10000) must sort above E000-FFFF.
      const fx = x >= 0xd800 ? (x <= 0xdfff ? x + 0x2000 : x - 0x800) : x;
      const fy = y >= 0xd800 ? (y <= 0xdfff ? y + 0x2000 : y - 0x800) : y;
      return fx - fy;
    }
  }
  return a.length - b.length;
}

/** Sorts keys (or anything with a key) in UTF-8 byte order, in place. */
export function sortByKey<T extends { key: string }>(items: T[]): T[] {
  return items.sort((p, q) => compareKeys(p.key, q.key));
}

/**
 * Where a listing source should (re)start. The source yields keys in ascending UTF-8 order;
 * it should skip what the seek excludes when it can do so cheaply, and it may yield extra
 * keys (before the position or outside the prefix): the listing filters them.
 */
export interface ListSeek {
  /** Only keys starting with this are wanted. Keys past the prefix range end the listing. */
  prefix: string;
  /** Exclusive lower bound: only keys greater than this are wanted. */
  after?: string;
  /** With `after`: also skip every key that starts with `after` (a common prefix already emitted). */
  skipSubtree?: boolean;
}

/** A source entry whose summary costs something to read (a stat, a sidecar): loaded only if returned. */
export interface LazyListEntry {
  key: string;
  /** undefined when the object vanished meanwhile (it is then left out). */
  load(): Promise<ObjectSummary | undefined>;
}

export type ListSourceItem = ObjectSummary | LazyListEntry;

/** A sorted enumeration of a bucket's keys, from a seek position. */
export type ListSource = (seek: ListSeek) => AsyncIterable<ListSourceItem>;

/**
 * A source whose lazy entries load ahead: once the listing asks for one entry's summary, the
 * next `window` entries start loading too, so a page of objects costs about a page of store
 * round trips divided by the window, not their sum. Nothing loads ahead until a summary is
 * asked for, so a run of common prefixes (a delimiter listing) reads no summaries it drops;
 * at most `window` loads are wasted at the end of a run.
 */
export function withLookahead(source: ListSource, window: number): ListSource {
  type Ahead = LazyListEntry & { load(ahead?: boolean): Promise<ObjectSummary | undefined> };
  return (seek) => ({
    [Symbol.asyncIterator]() {
      const inner = source(seek)[Symbol.asyncIterator]();
      const queued: Array<Promise<IteratorResult<ObjectSummary | Ahead>>> = [];
      // How many entries at the head of `queued` are already set to load when they arrive:
      // each is set once, not again on every load (16 reactions per listed key otherwise).
      let warmed = 0;
      const pull = (): void => {
        const next = inner.next().then((r) => (r.done || !('load' in r.value) ? r : { done: false as const, value: memoized(r.value) }));
        next.catch(() => {}); // surfaces when the listing takes it; not before
        queued.push(next);
      };
      const warm = (): void => {
        while (queued.length < window) pull();
        for (; warmed < queued.length; warmed++) {
          queued[warmed].then(
            (r) => {
              if (!r.done && 'load' in r.value) r.value.load(false).catch(() => {});
            },
            () => {},
          );
        }
      };
      const memoized = (entry: LazyListEntry): Ahead => {
        let loading: Promise<ObjectSummary | undefined> | undefined;
        return {
          key: entry.key,
          load(ahead = true) {
            loading ??= entry.load();
            if (ahead) warm();
            return loading;
          },
        };
      };
      return {
        next: () => {
          if (queued.length === 0) pull();
          if (warmed > 0) warmed--;
          return queued.shift()!;
        },
        return: async () => {
          queued.length = 0;
          warmed = 0;
          await inner.return?.();
          return { done: true as const, value: undefined };
        },
      };
    },
  });
}

export interface ListFromSourceOptions {
  /**
   * True (default) when calling the source again with a new position is cheap: after a
   * common prefix is emitted the listing re-seeks past the whole group instead of iterating
   * its keys. False for sources that would enumerate from the beginning each time: the
   * listing then keeps one iteration and filters.
   */
  canSeek?: boolean;
}

/**
 * A "directory" that a store's own grouped listing returned (Azure's virtual directories,
 * GCS's prefixes), as a source entry: listFromSource turns it into a common prefix.
 */
export function directoryEntry(name: string): ObjectSummary {
  return { key: name, size: 0, etag: '', lastModified: new Date(0) };
}

/** True when `key` is wanted by the seek (starts with the prefix and is past the position). */
export function seekWants(key: string, seek: ListSeek): boolean {
  if (!key.startsWith(seek.prefix)) return false;
  if (seek.after === undefined) return true;
  if (compareKeys(key, seek.after) <= 0) return false;
  return !(seek.skipSubtree && key.startsWith(seek.after));
}

/**
 * The first name a seek can want, for stores that list from an inclusive start name (GCS's
 * startOffset, OCI's start), or undefined for the prefix's start.
 */
export function firstWantedName(seek: ListSeek): string | undefined {
  const a = seek.after;
  if (a === undefined || !a.startsWith(seek.prefix)) return undefined;
  if (seek.skipSubtree && a.length > 0) {
    // Past every name that starts with `a`: its last character plus one.
    const last = a.charCodeAt(a.length - 1);
    if (last < 0xd7ff) return a.slice(0, -1) + String.fromCharCode(last + 1);
  }
  return a;
}

/** True when `key`, and so every key after it, is past the prefix range of the seek. */
export function seekIsPast(key: string, seek: ListSeek): boolean {
  return !key.startsWith(seek.prefix) && compareKeys(key, seek.prefix) > 0;
}

/**
 * Classifies the set of all keys that start with `start` (a directory's key prefix, say)
 * against a seek: 'before' (none wanted, and the listing goes on after them), 'after'
 * (none wanted and none after them either: stop), or 'inside' (some may be wanted).
 */
export function classifySubtree(start: string, seek: ListSeek): 'before' | 'inside' | 'after' {
  const { prefix, after } = seek;
  if (!start.startsWith(prefix) && !prefix.startsWith(start)) {
    return compareKeys(start, prefix) < 0 ? 'before' : 'after';
  }
  if (after !== undefined) {
    if (seek.skipSubtree && start.startsWith(after)) return 'before';
    if (compareKeys(start, after) < 0 && !after.startsWith(start)) return 'before';
  }
  return 'inside';
}

/** True when `startAfter` is itself a common prefix of a listing with this prefix and delimiter. */
export function isCommonPrefix(startAfter: string, prefix: string, delimiter: string | undefined): boolean {
  if (!delimiter || !startAfter.startsWith(prefix)) return false;
  const idx = startAfter.indexOf(delimiter, prefix.length);
  return idx >= 0 && idx + delimiter.length === startAfter.length;
}

/**
 * The common prefix a key falls in under this prefix and delimiter (the key itself when it is
 * one), or undefined when the key would list as itself.
 */
export function commonPrefixOf(key: string, prefix: string, delimiter: string | undefined): string | undefined {
  if (!delimiter || !key.startsWith(prefix)) return undefined;
  const idx = key.indexOf(delimiter, prefix.length);
  return idx >= 0 ? key.slice(0, idx + delimiter.length) : undefined;
}

/**
 * One listing page from a sorted source. When `startAfter` lies in a common prefix (it is
 * the NextMarker of a previous page, or a key under it), every key under that prefix is
 * skipped: the prefix sorts at or before the marker, and S3 lists only what sorts after it,
 * so a marker inside a "folder" does not bring the folder back (LocalStack's AWS-validated
 * list-object-versions-manual-first-file). A page is truncated only when another entry
 * really follows it.
 */
export async function listFromSource(source: ListSource, opts: ListOptions, options: ListFromSourceOptions = {}): Promise<ListPage> {
  const canSeek = options.canSeek ?? true;
  const prefix = opts.prefix ?? '';
  const delimiter = opts.delimiter ? opts.delimiter : undefined;
  const maxKeys = Math.min(Math.max(0, Math.floor(opts.maxKeys)), 1000);
  const page: ListPage = { objects: [], commonPrefixes: [], isTruncated: false };
  if (maxKeys === 0) return page;

  let seek: ListSeek = { prefix };
  if (opts.startAfter !== undefined && opts.startAfter !== '') {
    const group = commonPrefixOf(opts.startAfter, prefix, delimiter);
    seek = group === undefined ? { prefix, after: opts.startAfter } : { prefix, after: group, skipSubtree: true };
  }

  let count = 0;
  let last: string | undefined;
  let finished = false;
  while (!finished) {
    const iterator = source(seek)[Symbol.asyncIterator]();
    let exhausted = false;
    let reseek: ListSeek | undefined;
    let previous: string | undefined;
    try {
      for (;;) {
        const step = await iterator.next();
        if (step.done) {
          exhausted = true;
          finished = true;
          break;
        }
        const item = step.value;
        const key = item.key;
        if (previous !== undefined && compareKeys(previous, key) >= 0) {
          throw new Error(`listing source out of order: ${JSON.stringify(previous)} then ${JSON.stringify(key)}`);
        }
        previous = key;
        if (!seekWants(key, seek)) {
          if (seekIsPast(key, seek)) {
            finished = true;
            break;
          }
          continue;
        }
        if (delimiter) {
          const idx = key.indexOf(delimiter, prefix.length);
          if (idx >= 0) {
            const cp = key.slice(0, idx + delimiter.length);
            if (count >= maxKeys) {
              page.isTruncated = true;
              finished = true;
              break;
            }
            page.commonPrefixes.push(cp);
            count++;
            last = cp;
            const next: ListSeek = { prefix, after: cp, skipSubtree: true };
            if (canSeek) {
              reseek = next;
              break;
            }
            seek = next;
            continue;
          }
        }
        if (count >= maxKeys) {
          page.isTruncated = true;
          finished = true;
          break;
        }
        const summary = 'load' in item ? await item.load() : item;
        if (summary === undefined) continue;
        page.objects.push(summary);
        count++;
        last = key;
      }
    } finally {
      if (!exhausted && typeof iterator.return === 'function') await iterator.return();
    }
    if (reseek) seek = reseek;
    else finished = true;
  }
  if (page.isTruncated) page.nextStartAfter = last;
  return page;
}

// ---------------------------------------------------------------------------------------------
// Stream helpers

/** An async iterator whose next value can be looked at before it is taken. */
export class Peekable<T> {
  private head?: { v: T | undefined };
  constructor(private readonly it: AsyncIterator<T>) {}

  async peek(): Promise<T | undefined> {
    if (!this.head) {
      const r = await this.it.next();
      this.head = { v: r.done ? undefined : r.value };
    }
    return this.head.v;
  }

  async next(): Promise<T | undefined> {
    const v = await this.peek();
    this.head = undefined;
    return v;
  }

  async close(): Promise<void> {
    await this.it.return?.();
  }
}

/** Two ascending streams as one (an entry in both is given once, from the first). */
export async function* mergeAscending<T extends { key: string }>(a: AsyncIterator<T>, b: AsyncIterator<T>): AsyncGenerator<T> {
  const pa = new Peekable(a);
  const pb = new Peekable(b);
  try {
    for (;;) {
      const [x, y] = await Promise.all([pa.peek(), pb.peek()]);
      if (x === undefined && y === undefined) return;
      if (y === undefined || (x !== undefined && compareKeys(x.key, y.key) <= 0)) {
        await pa.next();
        if (y !== undefined && x!.key === y.key) await pb.next();
        yield x!;
      } else {
        await pb.next();
        yield y;
      }
    }
  } finally {
    await Promise.allSettled([pa.close(), pb.close()]);
  }
}

/**
 * A listing of the keys under `prefix` in a bucket, in the caller's keys (the prefix added to
 * the request and stripped from the answer): how a route or a route's target sees its part of
 * a real bucket.
 */
export async function listUnderPrefix(backend: Backend, bucket: string, prefix: string, opts: ListOptions): Promise<ListPage> {
  const page = await backend.listObjects(bucket, {
    ...opts,
    prefix: prefix + opts.prefix,
    startAfter: opts.startAfter === undefined ? undefined : prefix + opts.startAfter,
  });
  return {
    objects: page.objects.map((o) => ({ ...o, key: o.key.slice(prefix.length) })),
    commonPrefixes: page.commonPrefixes.map((c) => c.slice(prefix.length)),
    isTruncated: page.isTruncated,
    nextStartAfter: page.nextStartAfter?.slice(prefix.length),
  };
}
