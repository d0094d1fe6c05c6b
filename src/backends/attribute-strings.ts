/**
 * Attributes that a store keeps as strings in its metadata (tags, part sizes), written and
 * read the same way by every adapter that has no field of its own for them.
 */
import type { Tag } from './types';

/** Part sizes as runs: `5242880*3,1024`. Undefined when even that is too long for metadata. */
export function encodePartSizes(sizes: number[]): string | undefined {
  const runs: string[] = [];
  for (let i = 0; i < sizes.length; ) {
    let j = i;
    while (j + 1 < sizes.length && sizes[j + 1] === sizes[i]) j++;
    runs.push(j > i ? `${sizes[i]}*${j - i + 1}` : String(sizes[i]));
    i = j + 1;
  }
  const s = runs.join(',');
  return s.length <= 2048 ? s : undefined;
}

export function decodePartSizes(s: string): number[] | undefined {
  const out: number[] = [];
  for (const run of s.split(',')) {
    const m = /^(\d+)(?:\*(\d+))?$/.exec(run);
    if (!m) return undefined;
    const n = m[2] === undefined ? 1 : Number(m[2]);
    if (n > 10_000 || out.length + n > 10_000) return undefined;
    for (let i = 0; i < n; i++) out.push(Number(m[1]));
  }
  return out;
}

export function encodeTags(tags: Tag[]): string {
  return tags.map((t) => `${encodeURIComponent(t.key)}=${encodeURIComponent(t.value)}`).join('&');
}

export function decodeTags(s: string): Tag[] {
  if (s === '') return [];
  return s.split('&').map((pair) => {
    const i = pair.indexOf('=');
    const k = i < 0 ? pair : pair.slice(0, i);
    const v = i < 0 ? '' : pair.slice(i + 1);
    return { key: safeDecode(k), value: safeDecode(v) };
  });
}

function safeDecode(s: string): string {
  try {
    return decodeURIComponent(s);
  } catch {
    return s;
  }
}

