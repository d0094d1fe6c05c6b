/**
 * How far V8 lets the old generation grow past what the last full GC left before it collects
 * again. V8 picks that factor itself, between 1.1 and 4, from how fast its GC runs against the
 * program: for a server that is 16-20 MiB of live heap (code, caches, in-flight requests) plus
 * up to 40 MiB of dead requests that survived two scavenges and wait for the next mark-compact,
 * and that high-water mark stays as RSS (bench/RESULTS.md, issue 15, eighth pass). A growth of
 * 50 % keeps the old generation near the live set, for about 8 % more CPU on 1,000-key listing
 * pages than 100 % (which let Node 24 reach 134-153 MiB in the bench's listing cell; 50 %:
 * 116-122 MiB).
 *
 * But the growth must leave room for more than one young generation. V8 starts marking as soon
 * as the room left under the limit is no more than the young generation holds (a scavenge could
 * promote all of it). With 17 MiB live, 50 % leaves 8.5-10 MiB under the limit, less than the
 * 16 MiB of two 8 MiB semi-spaces (src/node-flags.ts): every mark-compact ended with the next
 * marking already due, and a large transfer, which allocates young objects steadily, ran one
 * mark-compact after another. A 64 MiB GET through the s3 backend cost 160-190 ms of CPU, three
 * to four full collections among it, against 80 for a bare relay. With room for 1.5 young
 * generations one client's GETs ran almost none (55-85 ms), but eight at once on Node 24 still
 * ran 1-2.5 per GET (120-165 ms); with room for 3, none on Node 20 or 24 (55-70 ms), and the
 * front's peak RSS was no higher (Node 24: 150 MiB against 174; issue 15, twenty-first pass).
 *
 * So the growth is 50 %, or what leaves HEADROOM_OF_YOUNG young generations of room when that is
 * more: a small heap gets the room it needs, a large one is still held near its live set. It is
 * worked out again after every full collection from what that collection left: V8 reads the flag
 * each time it sets the next limit, so setting it from inside the process works however s3mux is
 * launched (the bin, `node dist/src/cli.js`, npm start, the image). A `--heap-growing-percent`
 * the user gave node is left alone. It is set for `s3mux serve` only (installHeapGrowing, called
 * by src/cli/serve-first.ts); an s3mux started in-process (the tests) runs with V8's own growth.
 */
import { PerformanceObserver, constants } from 'node:perf_hooks';
import v8 from 'node:v8';

/** The least old-generation growth over the live heap, in percent, that s3mux asks for. */
export const DEFAULT_HEAP_GROWING_PERCENT = 50;
/** Room under the limit, in young generations (both semi-spaces), that the growth must leave at least. */
export const HEADROOM_OF_YOUNG = 3;
/** V8's own largest growth factor is 4. */
export const MAX_HEAP_GROWING_PERCENT = 300;

const FLAG = /--heap[-_]growing[-_]percent\b/;

/** The growth, in percent, for an old generation of `oldBytes` live and a young generation of `youngBytes`. */
export function growingPercentFor(oldBytes: number, youngBytes: number): number {
  const needed = Math.ceil((100 * HEADROOM_OF_YOUNG * youngBytes) / Math.max(oldBytes, 1));
  return Math.min(MAX_HEAP_GROWING_PERCENT, Math.max(DEFAULT_HEAP_GROWING_PERCENT, needed));
}

/** What the heap holds now: the old generation (every space but the young ones) and the young generation's capacity. */
export function heapSizes(spaces: v8.HeapSpaceInfo[] = v8.getHeapSpaceStatistics()): { oldBytes: number; youngBytes: number } {
  let oldBytes = 0;
  let youngBytes = 0;
  for (const s of spaces) {
    if (s.space_name === 'new_space') youngBytes = s.space_size;
    else if (s.space_name !== 'new_large_object_space') oldBytes += s.space_used_size;
  }
  return { oldBytes, youngBytes };
}

/**
 * Sets V8's `--heap-growing-percent` now and after every full collection, unless node was
 * started with one (on its command line or in NODE_OPTIONS). Returns the first flag it set, or
 * undefined when it left the user's.
 */
export function chooseHeapGrowing(
  execArgv: readonly string[],
  nodeOptions: string | undefined,
  setFlags: (flags: string) => void = (f) => v8.setFlagsFromString(f),
  sizes: () => { oldBytes: number; youngBytes: number } = heapSizes,
  afterFullGc: (listener: () => void) => void = observeFullGcs,
): string | undefined {
  if (execArgv.some((a) => FLAG.test(a)) || FLAG.test(nodeOptions ?? '')) return undefined;
  let current = 0;
  const update = (): string => {
    const { oldBytes, youngBytes } = sizes();
    const percent = growingPercentFor(oldBytes, youngBytes);
    const flag = `--heap-growing-percent=${percent}`;
    if (percent !== current) {
      current = percent;
      setFlags(flag);
    }
    return flag;
  };
  const first = update();
  afterFullGc(update);
  return first;
}

/** Calls `listener` after each mark-compact (the observer does not keep the process alive). */
function observeFullGcs(listener: () => void): void {
  const observer = new PerformanceObserver((list) => {
    const entries = list.getEntries() as Array<{ detail?: { kind?: number } }>;
    if (entries.some((e) => e.detail?.kind === constants.NODE_PERFORMANCE_GC_MAJOR)) listener();
  });
  observer.observe({ entryTypes: ['gc'] });
}

/**
 * For this process, from now on: what `s3mux serve` does first (src/cli/serve-first.ts), before
 * the heap has grown. Only the server: the other commands end soon or, as cp and sync, were not
 * measured with it.
 */
export function installHeapGrowing(): string | undefined {
  return chooseHeapGrowing(process.execArgv, process.env.NODE_OPTIONS);
}
