/**
 * Walking two locations side by side: each listed in key order (UTF-8 binary, as every
 * backend lists), merged so that every key comes once with what each side holds. Memory stays
 * one listing page per side, whatever the number of keys.
 */
import { compareKeys } from '../backends/listing';
import type { ObjectSummary } from '../backends/types';
import type { Location } from './types';

const PAGE = 1000;

/** Every object under the location, keys made relative to its prefix, after `startAfter` (relative, exclusive). */
export async function* listLocation(loc: Location, startAfter?: string): AsyncGenerator<ObjectSummary> {
  let after = startAfter === undefined ? undefined : loc.prefix + startAfter;
  for (;;) {
    const page = await loc.backend.listObjects(loc.bucket, { prefix: loc.prefix, startAfter: after, maxKeys: PAGE });
    for (const o of page.objects) yield { ...o, key: o.key.slice(loc.prefix.length) };
    if (!page.isTruncated) return;
    const next = page.nextStartAfter ?? page.objects[page.objects.length - 1]?.key;
    if (next === undefined || next === after) return;
    after = next;
  }
}

export interface Pair {
  key: string;
  src?: ObjectSummary;
  dst?: ObjectSummary;
}

/** The union of both listings in key order; a key on one side only has the other undefined. */
export async function* pairListings(src: AsyncIterable<ObjectSummary>, dst: AsyncIterable<ObjectSummary>): AsyncGenerator<Pair> {
  const a = src[Symbol.asyncIterator]();
  const b = dst[Symbol.asyncIterator]();
  const next = async (it: AsyncIterator<ObjectSummary>) => {
    const r = await it.next();
    return r.done ? undefined : r.value;
  };
  let x = await next(a);
  let y = await next(b);
  while (x || y) {
    const c = !x ? 1 : !y ? -1 : compareKeys(x.key, y.key);
    if (c === 0 && x && y) {
      yield { key: x.key, src: x, dst: y };
      [x, y] = await Promise.all([next(a), next(b)]);
    } else if (c < 0 && x) {
      yield { key: x.key, src: x };
      x = await next(a);
    } else if (y) {
      yield { key: y.key, dst: y };
      y = await next(b);
    }
  }
}

/** Same content on both sides, as far as listings tell: equal size and equal ETag. */
export function sameListing(src: ObjectSummary, dst: ObjectSummary): boolean {
  return src.size === dst.size && src.etag === dst.etag;
}
