/**
 * How far V8 lets the old generation grow past what the last full GC left before it collects
 * again. V8 picks that factor itself, between 1.1 and 4, from how fast its GC runs against the
 * program: for a server that is 16-20 MiB of live heap (code, caches, in-flight requests) plus
 * up to 40 MiB of dead requests that survived two scavenges and wait for the next mark-compact,
 * and that high-water mark stays as RSS (bench/RESULTS.md, issue 15, eighth pass). A fixed 1.5
 * keeps the old generation near the live set, for about 8 % more CPU on 1,000-key listing pages
 * than 2 (which let Node 24 reach 134-153 MiB in the bench's listing cell; 1.5: 116-122 MiB).
 *
 * Unlike the young generation's size (fixed when the heap is set up, so only a `node` flag can
 * change it), V8 reads this flag each time it sets the next limit, so setting it at start-up
 * works however s3mux is launched (the bin, `node dist/src/cli.js`, npm start, the image).
 * A `--heap-growing-percent` the user gave node is left alone.
 */
import v8 from 'node:v8';

/** The old generation's growth over the live heap, in percent, that s3mux asks for. */
export const DEFAULT_HEAP_GROWING_PERCENT = 50;

const FLAG = /--heap[-_]growing[-_]percent\b/;

/**
 * Sets V8's `--heap-growing-percent` to `percent` unless node was started with one (on its
 * command line or in NODE_OPTIONS). Returns the flag it set, or undefined when it left the user's.
 */
export function chooseHeapGrowing(
  execArgv: readonly string[],
  nodeOptions: string | undefined,
  setFlags: (flags: string) => void = (f) => v8.setFlagsFromString(f),
  percent = DEFAULT_HEAP_GROWING_PERCENT,
): string | undefined {
  if (execArgv.some((a) => FLAG.test(a)) || FLAG.test(nodeOptions ?? '')) return undefined;
  const flag = `--heap-growing-percent=${percent}`;
  setFlags(flag);
  return flag;
}

chooseHeapGrowing(process.execArgv, process.env.NODE_OPTIONS);
