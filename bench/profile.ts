/**
 * A small analyzer of V8 .cpuprofile files (node --cpu-prof, or the bench's --profile):
 * self and inclusive time per function, self time per area of the code (s3mux's modules,
 * express, node's http/fs/streams/crypto, GC), and per s3mux source file the time of the
 * samples whose innermost s3mux frame is in it (what s3mux code caused, natives included).
 *
 *   node dist/bench/profile.js FILE.cpuprofile [--top N] [--callers FUNCTION]
 *
 * Only the main JavaScript thread is sampled: fsync, rename and reads on libuv's thread pool
 * are not in a profile (they show as latency, not as main-thread CPU).
 */
import { readFileSync } from 'node:fs';

interface CallFrame {
  functionName: string;
  url: string;
  lineNumber: number;
  columnNumber: number;
}
interface ProfileNode {
  id: number;
  callFrame: CallFrame;
  children?: number[];
  hitCount?: number;
}
export interface CpuProfile {
  nodes: ProfileNode[];
  startTime: number;
  endTime: number;
  samples?: number[];
  timeDeltas?: number[];
}

export interface FunctionTime {
  name: string;
  where: string;
  selfMs: number;
  inclusiveMs: number;
}
export interface ProfileSummary {
  totalMs: number;
  /** Sampled time not spent idle. */
  busyMs: number;
  functions: FunctionTime[];
  areas: Array<{ area: string; selfMs: number }>;
  /** Per s3mux source file: time of the samples whose innermost s3mux frame is there. */
  s3muxFiles: Array<{ file: string; ms: number }>;
}

/** Areas of the code, first match wins (by the frame's url, then its name). */
const AREAS: Array<[string, (f: CallFrame) => boolean]> = [
  ['idle', (f) => f.functionName === '(idle)'],
  ['GC', (f) => f.functionName === '(garbage collector)'],
  ['V8/runtime (program)', (f) => f.functionName === '(program)'],
  ['s3mux auth (SigV4)', (f) => /\/src\/auth\//.test(f.url)],
  ['s3mux fs backend', (f) => /\/src\/backends\/fs\//.test(f.url)],
  ['s3mux listing', (f) => /\/src\/backends\/listing/.test(f.url)],
  ['s3mux backends (shared)', (f) => /\/src\/backends\//.test(f.url)],
  ['s3mux XML', (f) => /\/src\/s3\/xml|\/src\/xml-options/.test(f.url)],
  ['s3mux s3 layer (dispatch, headers, payload)', (f) => /\/src\/s3\//.test(f.url)],
  ['s3mux server/router', (f) => /\/src\/(server|router)\//.test(f.url)],
  ['s3mux other', (f) => /\/src\//.test(f.url)],
  [
    'express/router',
    (f) =>
      /node_modules\/(express|router|body-parser|finalhandler|send|serve-static|path-to-regexp|on-finished|type-is|content-type|qs|debug)\//.test(
        f.url,
      ),
  ],
  ['fast-xml-parser', (f) => /node_modules\/fast-xml-parser\//.test(f.url)],
  ['other npm modules', (f) => /node_modules\//.test(f.url)],
  [
    'node http/net',
    (f) => /^node:(_http|http|net|internal\/http|internal\/net|internal\/stream_base|internal\/dns|_tls|internal\/tls)/.test(f.url),
  ],
  ['node fs', (f) => /^node:(fs|internal\/fs)/.test(f.url)],
  ['node streams', (f) => /^node:(stream|internal\/streams|internal\/webstreams)/.test(f.url)],
  ['node crypto', (f) => /^node:(crypto|internal\/crypto)/.test(f.url)],
  ['node other', (f) => /^node:/.test(f.url)],
  ['native (no script)', () => true],
];

const key = (f: CallFrame) => `${f.functionName || '(anonymous)'}\u0000${f.url}\u0000${f.lineNumber}`;
const shortUrl = (url: string) =>
  url
    .replace(/^file:\/\//, '')
    .replace(/^.*\/(node_modules\/)/, '$1')
    .replace(/^.*\/dist\//, '');

export function summarize(profile: CpuProfile): ProfileSummary {
  const byId = new Map<number, ProfileNode>();
  const parent = new Map<number, number>();
  for (const n of profile.nodes) byId.set(n.id, n);
  for (const n of profile.nodes) for (const c of n.children ?? []) parent.set(c, n.id);
  // Self time per node: sample i lasts timeDeltas[i+1] (the gap to the next sample).
  const selfUs = new Map<number, number>();
  const samples = profile.samples ?? [];
  const deltas = profile.timeDeltas ?? [];
  if (samples.length) {
    for (let i = 0; i < samples.length; i++) {
      const d = i + 1 < deltas.length ? deltas[i + 1] : 0;
      selfUs.set(samples[i], (selfUs.get(samples[i]) ?? 0) + Math.max(0, d));
    }
  } else {
    const per =
      (profile.endTime - profile.startTime) /
      Math.max(
        1,
        profile.nodes.reduce((a, n) => a + (n.hitCount ?? 0), 0),
      );
    for (const n of profile.nodes) selfUs.set(n.id, (n.hitCount ?? 0) * per);
  }
  const fns = new Map<string, FunctionTime>();
  const areas = new Map<string, number>();
  const files = new Map<string, number>();
  let totalUs = 0;
  let idleUs = 0;
  for (const [id, us] of selfUs) {
    if (!us) continue;
    totalUs += us;
    const node = byId.get(id)!;
    const f = node.callFrame;
    if (f.functionName === '(idle)') idleUs += us;
    const area = AREAS.find(([, test]) => test(f))![0];
    areas.set(area, (areas.get(area) ?? 0) + us);
    // Inclusive: every distinct function on the stack gets the sample once; the innermost
    // s3mux frame gets it in the per-file view.
    const seen = new Set<string>();
    let innermostSrc: string | undefined;
    for (let cur: number | undefined = id; cur !== undefined; cur = parent.get(cur)) {
      const cf = byId.get(cur)!.callFrame;
      if (cf.functionName === '(root)') break;
      if (!innermostSrc && /\/src\//.test(cf.url)) innermostSrc = shortUrl(cf.url);
      const k = key(cf);
      let entry = fns.get(k);
      if (!entry) {
        entry = {
          name: cf.functionName || '(anonymous)',
          where: cf.url ? `${shortUrl(cf.url)}:${cf.lineNumber + 1}` : '',
          selfMs: 0,
          inclusiveMs: 0,
        };
        fns.set(k, entry);
      }
      if (cur === id) entry.selfMs += us / 1000;
      if (!seen.has(k)) {
        seen.add(k);
        entry.inclusiveMs += us / 1000;
      }
    }
    if (f.functionName !== '(idle)' && f.functionName !== '(program)' && f.functionName !== '(garbage collector)') {
      const file = innermostSrc ?? '(no s3mux frame: node/npm only)';
      files.set(file, (files.get(file) ?? 0) + us);
    }
  }
  return {
    totalMs: totalUs / 1000,
    busyMs: (totalUs - idleUs) / 1000,
    functions: [...fns.values()],
    areas: [...areas].map(([area, us]) => ({ area, selfMs: us / 1000 })).sort((a, b) => b.selfMs - a.selfMs),
    s3muxFiles: [...files].map(([file, us]) => ({ file, ms: us / 1000 })).sort((a, b) => b.ms - a.ms),
  };
}

/** The stacks (up to 8 frames) under which a function's self time was spent, heaviest first. */
export function callerLines(profile: CpuProfile, name: string, top = 10): string[] {
  const byId = new Map(profile.nodes.map((n) => [n.id, n]));
  const parent = new Map<number, number>();
  for (const n of profile.nodes) for (const c of n.children ?? []) parent.set(c, n.id);
  const hits = new Map<number, number>();
  for (const s of profile.samples ?? []) hits.set(s, (hits.get(s) ?? 0) + 1);
  const stacks = new Map<string, number>();
  for (const [id, count] of hits) {
    if (byId.get(id)!.callFrame.functionName !== name) continue;
    const frames: string[] = [];
    for (let cur = parent.get(id); cur !== undefined && frames.length < 8; cur = parent.get(cur)) {
      const f = byId.get(cur)!.callFrame;
      frames.push(`${f.functionName || '(anonymous)'} ${shortUrl(f.url)}:${f.lineNumber + 1}`);
    }
    const k = frames.join(' < ');
    stacks.set(k, (stacks.get(k) ?? 0) + count);
  }
  return [...stacks]
    .sort((a, b) => b[1] - a[1])
    .slice(0, top)
    .map(([k, c]) => `${String(c).padStart(6)}  ${k}`);
}

const pct = (part: number, whole: number) => `${whole ? ((part / whole) * 100).toFixed(1) : '0.0'}%`;

/** The summary as text lines (percentages of the busy, non-idle time). */
export function formatSummary(s: ProfileSummary, top = 15, perRequest?: number): string[] {
  const busy = s.busyMs;
  const ms = (v: number) => (perRequest ? `${((v / perRequest) * 1000).toFixed(0)} µs/req` : `${v.toFixed(0)} ms`);
  const lines = [
    `busy ${busy.toFixed(0)} ms of ${s.totalMs.toFixed(0)} ms sampled${perRequest ? ` over ${perRequest} requests (${((busy / perRequest) * 1000).toFixed(0)} µs of main-thread CPU per request)` : ''}`,
  ];
  lines.push('self time by area:');
  for (const a of s.areas.filter((x) => x.area !== 'idle' && x.selfMs > 0))
    lines.push(`  ${pct(a.selfMs, busy).padStart(6)}  ${ms(a.selfMs).padStart(12)}  ${a.area}`);
  lines.push('by s3mux source file (innermost s3mux frame of each sample, natives included):');
  for (const f of s.s3muxFiles.slice(0, top)) lines.push(`  ${pct(f.ms, busy).padStart(6)}  ${ms(f.ms).padStart(12)}  ${f.file}`);
  lines.push(`top ${top} functions by self time:`);
  for (const f of [...s.functions]
    .filter((x) => x.name !== '(idle)')
    .sort((a, b) => b.selfMs - a.selfMs)
    .slice(0, top)) {
    lines.push(`  ${pct(f.selfMs, busy).padStart(6)}  ${ms(f.selfMs).padStart(12)}  ${f.name} ${f.where}`);
  }
  lines.push(`top ${top} s3mux functions by inclusive time:`);
  for (const f of [...s.functions]
    .filter((x) => /src\//.test(x.where))
    .sort((a, b) => b.inclusiveMs - a.inclusiveMs)
    .slice(0, top)) {
    lines.push(`  ${pct(f.inclusiveMs, busy).padStart(6)}  ${ms(f.inclusiveMs).padStart(12)}  ${f.name} ${f.where}`);
  }
  return lines;
}

if (require.main === module) {
  const args = process.argv.slice(2);
  const file = args.find((a) => !a.startsWith('--'));
  if (!file) {
    console.error('usage: node dist/bench/profile.js FILE.cpuprofile [--top N]');
    process.exit(2);
  }
  const ti = args.indexOf('--top');
  const top = ti >= 0 ? Number(args[ti + 1]) || 15 : 15;
  const profile = JSON.parse(readFileSync(file, 'utf8')) as CpuProfile;
  const ci = args.indexOf('--callers');
  if (ci >= 0) console.log(callerLines(profile, args[ci + 1] ?? '', top).join('\n'));
  else console.log(formatSummary(summarize(profile), top).join('\n'));
}
