/**
 * One listing page from the pages of several targets, listed with the same options: entries
 * of the first target win over equal names of later ones, the order is S3's (UTF-8 bytes),
 * and pagination stays exact. A truncated page only vouches for names up to its last one, so
 * the merged page stops at the smallest such bound; the next page starts after the last name
 * it returned, and every target is listed again from there.
 */
import { compareKeys } from '../../backends/listing';
import type { ListPage, ObjectSummary } from '../../backends/types';

interface Entry {
  name: string;
  /** Index of the page it came from. */
  from: number;
  object?: ObjectSummary;
}

function lastName(page: ListPage): string | undefined {
  if (page.nextStartAfter !== undefined) return page.nextStartAfter;
  const names = [...page.objects.map((o) => o.key), ...page.commonPrefixes].sort(compareKeys);
  return names.at(-1);
}

/**
 * `hidden` says which objects of later pages to leave out (a deleted key of an old location);
 * it is asked only about entries that would be returned.
 */
export async function mergePages(
  pages: ListPage[],
  maxKeys: number,
  hidden: (entry: ObjectSummary, from: number) => Promise<boolean> = async () => false,
): Promise<ListPage> {
  let bound: string | undefined;
  for (const p of pages) {
    if (!p.isTruncated) continue;
    const last = lastName(p);
    if (last !== undefined && (bound === undefined || compareKeys(last, bound) < 0)) bound = last;
  }
  const byName = new Map<string, Entry>();
  pages.forEach((p, from) => {
    const add = (e: Entry) => {
      if (bound !== undefined && compareKeys(e.name, bound) > 0) return;
      if (!byName.has(e.name)) byName.set(e.name, e);
    };
    for (const o of p.objects) add({ name: o.key, from, object: o });
    for (const c of p.commonPrefixes) add({ name: c, from });
  });
  const sorted = [...byName.values()].sort((a, b) => compareKeys(a.name, b.name));

  const out: Entry[] = [];
  let i = 0;
  for (; i < sorted.length && out.length < maxKeys; i++) {
    const e = sorted[i];
    if (e.object && e.from > 0 && (await hidden(e.object, e.from))) continue;
    out.push(e);
  }
  // Cut by maxKeys: go on after the last name returned; else every name up to the bound was seen.
  const cut = i < sorted.length;
  const more = cut || bound !== undefined;
  return {
    objects: out.filter((e) => e.object).map((e) => e.object as ObjectSummary),
    commonPrefixes: out.filter((e) => !e.object).map((e) => e.name),
    isTruncated: more,
    nextStartAfter: !more ? undefined : cut ? out[out.length - 1].name : bound,
  };
}
