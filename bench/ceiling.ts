/**
 * The ceiling benchmark (issue 15): s3mux on the fs backend measured against a bare in-memory
 * Node HTTP server (bench/bare-server.ts) in the same run, interleaved cell by cell (bare,
 * s3mux, bare, s3mux, ...), medians of the rounds; and s3mux's s3 backend onto a second s3mux
 * measured against that same store reached directly (the proxy's overhead).
 *
 * Every server is its own child process; one client (RawS3: every request SigV4-signed, PUT
 * payloads' sha256 signed, downloads hashed and checked) talks to all of them, so the client's
 * cost is the same for each and the ratio is the servers'. A cell runs for a fixed time (at
 * least one request per client), so a slow server cannot stretch the run.
 *
 * Per cell and server: ops/s (MiB/s, pages/s), latency p50/p99, server CPU per request
 * (/proc/PID/stat utime+stime delta over the cell / requests) and peak RSS (VmHWM, reset
 * before the cell).
 *
 * --profile instead runs the profiled cells (4 KiB PUT, GET, HEAD at 16 clients and the
 * 1,000-key listing) against one s3mux started with bench/profile-hook.js and prints where its
 * main thread spends the time (bench/profile.ts).
 */
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import type { ChildProcess } from 'node:child_process';
import os from 'node:os';
import path from 'node:path';
import { performance } from 'node:perf_hooks';
import { PatternStream, makeBlock, patternSha256, smallBody } from './body';
import { cpuSeconds, readStatus, resetPeak } from './memory';
import { formatSummary, summarize, type CpuProfile, type ProfileSummary } from './profile';
import { RawS3, type Credentials } from './raw-client';
import { startServerProcess, type ServerProcess } from './server-process';
import { TARGETS, type RunningStore } from '../test/e2e/targets';

const KiB = 1024;
const MiB = 1024 * KiB;

export interface CeilingSettings {
  quick: boolean;
  rounds: number;
  /** Seconds each cell runs per server and round. */
  cellSeconds: number;
  /** Key counts of the listing cells (10,000, plus --list-keys). */
  listKeys: number[];
  proxy: boolean;
  /** --cells REGEX: only the cells whose id matches (e.g. '64 MiB|LIST'). */
  cellFilter?: RegExp;
  /** --compare DIR: another checkout's build (DIR/dist/src/cli.js) measured in the same cells as 'before'. */
  compareCli?: string;
  /** --profile --proxy: profile the front s3mux (s3 backend) onto a second s3mux (fs) instead of the fs backend. */
  profileProxy?: boolean;
}

/** proxyBefore: the --compare build as the front s3mux (s3 backend) onto the same store as `proxy`. */
/** relay: the bare relay (bench/bare-relay.ts) onto the same store as `proxy`, the ceiling of the proxy cells. */
/** durable: the bare durable writer (bench/bare-durable-server.ts), the floor of the PUT cells' durable writes and hashes. */
type ServerName = 'bare' | 'durable' | 's3mux' | 'before' | 'direct' | 'relay' | 'proxy' | 'proxyBefore';

interface Endpoint {
  name: ServerName;
  pid: number;
  client: RawS3;
}

type Op = 'put' | 'get' | 'head' | 'list';

interface Cell {
  id: string;
  op: Op;
  size: number;
  concurrency: number;
  servers: ServerName[];
  list?: ListCell;
}

/**
 * A listing cell. `warm`: before its first round each server walks the whole listing once,
 * untimed, so every measured page is one the server has listed before (a cold cell's pages
 * are the first ones of the listing: its sorted folder and summaries are read as it goes).
 */
interface ListCell {
  keys: number;
  delimiter: boolean;
  warm?: boolean;
}

export interface Measure {
  ops: number;
  seconds: number;
  opsPerSec: number;
  mibPerSec: number;
  p50Ms: number;
  p99Ms: number;
  cpuMsPerOp: number;
  peakRssMiB: number;
}

export interface CellResult {
  id: string;
  op: Op;
  size: number;
  concurrency: number;
  list?: ListCell;
  /** Median over the rounds per server (peak RSS: the maximum). */
  servers: Partial<Record<ServerName, Measure>>;
  rounds: Partial<Record<ServerName, Measure[]>>;
}

const BUCKET = 'ceil';
const SMALL_KEYS = 256;
/**
 * Small PUTs cycle through this many keys per cell, overwriting. With a new key per PUT the bare
 * server kept every body in its heap (about 80,000 objects by the 64 MiB cells of a full run),
 * and its garbage collector then cost it four times the CPU per 64 MiB PUT (232 against 49-56 ms
 * run alone): a handicap of the ceiling, not of s3mux, that made s3mux's ratios after it read high.
 */
const PUT_KEYS = 1024;
const listBucket = (keys: number) => `ls${keys}`;

function percentile(sorted: number[], p: number): number {
  if (!sorted.length) return 0;
  return sorted[Math.min(sorted.length - 1, Math.ceil((p / 100) * sorted.length) - 1)];
}

const median = (xs: number[]) => {
  const s = [...xs].sort((a, b) => a - b);
  return s.length % 2 ? s[(s.length - 1) / 2] : (s[s.length / 2 - 1] + s[s.length / 2]) / 2;
};

/** `concurrency` clients call fn(worker, n) until `seconds` have passed (each at least once). */
async function timed(seconds: number, concurrency: number, fn: (worker: number, n: number) => Promise<void>): Promise<number[]> {
  const latencies: number[] = [];
  const end = performance.now() + seconds * 1000;
  let n = 0;
  const worker = async (w: number) => {
    let first = true;
    while (first || performance.now() < end) {
      first = false;
      const t0 = performance.now();
      await fn(w, n++);
      latencies.push(performance.now() - t0);
    }
  };
  await Promise.all(Array.from({ length: concurrency }, (_, w) => worker(w)));
  return latencies;
}

function cells(s: CeilingSettings): Cell[] {
  const out: Cell[] = [];
  const withBefore = (c: Cell): Cell =>
    s.compareCli ? { ...c, servers: c.servers.flatMap((n) => (n === 's3mux' ? ['s3mux', 'before'] : [n])) } : c;
  const proxy: ServerName[] = s.proxy ? ['direct', 'relay', 'proxy', ...(s.compareCli ? (['proxyBefore'] as const) : [])] : [];
  for (const op of ['put', 'get', 'head'] as const) {
    for (const c of [1, 16, 64]) {
      out.push({
        id: `${op.toUpperCase()} 4 KiB c${c}`,
        op,
        size: 4 * KiB,
        concurrency: c,
        servers: ['bare', ...(op === 'put' ? (['durable'] as const) : []), 's3mux', ...(c === 16 ? proxy : [])],
      });
    }
  }
  out.push({ id: 'PUT 64 MiB c8', op: 'put', size: 64 * MiB, concurrency: 8, servers: ['bare', 'durable', 's3mux', ...proxy] });
  out.push({ id: 'GET 64 MiB c8', op: 'get', size: 64 * MiB, concurrency: 8, servers: ['bare', 's3mux', ...proxy] });
  for (const keys of s.listKeys) {
    const k = keys >= 1000 && keys % 1000 === 0 ? `${keys / 1000}k` : String(keys);
    // The first count's cells are walked round after round (warm after the first); a larger
    // count (--list-keys) gets cold cells (the listing's first pages) and warm ones.
    for (const warm of keys === s.listKeys[0] ? [false] : [false, true]) {
      const w = warm ? ' warm' : '';
      out.push({
        id: `LIST ${k} flat${w}`,
        op: 'list',
        size: 0,
        concurrency: 1,
        servers: ['bare', 's3mux', ...(keys === s.listKeys[0] ? proxy : [])],
        list: { keys, delimiter: false, warm },
      });
      out.push({
        id: `LIST ${k} delimiter${w}`,
        op: 'list',
        size: 0,
        concurrency: 1,
        servers: ['bare', 's3mux'],
        list: { keys, delimiter: true, warm },
      });
    }
  }
  return out.map(withBefore).filter((c) => !s.cellFilter || s.cellFilter.test(c.id));
}

class CellRunner {
  private readonly block = makeBlock();
  private readonly sha = new Map<number, string>();
  /** Listing state per endpoint and cell: the token of the next page and the keys seen so far. */
  private readonly cursors = new Map<string, { token?: string; seen: number }>();
  /** Warm listing cells already walked once, per endpoint. */
  private readonly primed = new Set<string>();

  constructor(private readonly listPrefix = 'ls/') {}

  private digest(size: number): string {
    let d = this.sha.get(size);
    if (!d) this.sha.set(size, (d = patternSha256(this.block, size)));
    return d;
  }

  private body(size: number) {
    return size <= this.block.length ? smallBody(this.block, size) : new PatternStream(this.block, size);
  }

  /**
   * What the endpoint's cells read: 256 small objects and one 64 MiB object per client (the 64
   * MiB PUT cell writes those too). Only the cells the endpoint serves count.
   */
  async prepare(ep: Endpoint, s: CeilingSettings, cellsToRun: Cell[]): Promise<void> {
    await ep.client.createBucket(BUCKET);
    const sha = this.digest(4 * KiB);
    const mine = cellsToRun.filter((c) => c.servers.includes(ep.name));
    if (mine.some((c) => (c.op === 'get' || c.op === 'head') && c.size === 4 * KiB))
      await timed(0, 16, async (w) => {
        for (let i = w; i < SMALL_KEYS; i += 16)
          await ep.client.put(BUCKET, `small/k-${String(i).padStart(4, '0')}`, this.body(4 * KiB), 4 * KiB, sha);
      });
    if (mine.some((c) => c.op === 'get' && c.size === 64 * MiB)) {
      await timed(0, 8, async (w) => {
        await ep.client.put(BUCKET, `big/w${w}`, this.body(64 * MiB), 64 * MiB, this.digest(64 * MiB));
      });
    }
  }

  /** The listing buckets: `keys` objects of 16 bytes under ls/, uploaded through the server's own PUT. */
  async prepareListing(ep: Endpoint, keys: number): Promise<void> {
    const bucket = listBucket(keys);
    await ep.client.createBucket(bucket);
    const sha = this.digest(16);
    await timed(0, 32, async (w) => {
      for (let i = w; i < keys; i += 32)
        await ep.client.put(bucket, `${this.listPrefix}k-${String(i).padStart(7, '0')}`, this.body(16), 16, sha);
    });
  }

  async measure(cell: Cell, ep: Endpoint, seconds: number): Promise<Measure> {
    const { client, pid } = ep;
    const size = cell.size;
    let op: (w: number, n: number) => Promise<void>;
    let perOpBytes = size;
    if (cell.op === 'put') {
      const sha = this.digest(size);
      const key = (w: number, n: number) =>
        size > MiB ? `big/w${w}` : `put/c${cell.concurrency}-${String(n % PUT_KEYS).padStart(4, '0')}`;
      op = async (w, n) => {
        await client.put(BUCKET, key(w, n), this.body(size), size, sha);
      };
    } else if (cell.op === 'get') {
      const sha = this.digest(size);
      op = async (w, n) => {
        const key = size > MiB ? `big/w${w}` : `small/k-${String(n % SMALL_KEYS).padStart(4, '0')}`;
        const got = await client.get(BUCKET, key);
        if (got.bytes !== size || got.sha256 !== sha)
          throw new Error(`${ep.name} GET ${key}: ${got.bytes} bytes, sha256 ${got.sha256}, expected ${size} bytes, ${sha}`);
      };
    } else if (cell.op === 'head') {
      op = async (_w, n) => {
        const key = `small/k-${String(n % SMALL_KEYS).padStart(4, '0')}`;
        const got = await client.head(BUCKET, key);
        if (got !== size) throw new Error(`${ep.name} HEAD ${key}: content-length ${got}, expected ${size}`);
      };
    } else {
      const { keys, delimiter } = cell.list!;
      perOpBytes = 0;
      const cursorKey = `${ep.name} ${cell.id}`;
      if (cell.list!.warm && !this.primed.has(cursorKey)) {
        this.primed.add(cursorKey);
        let token: string | undefined;
        do {
          const page = await client.listPage(listBucket(keys), {
            prefix: this.listPrefix,
            delimiter: delimiter ? '/' : undefined,
            maxKeys: 1000,
            token,
          });
          token = page.truncated ? page.nextToken : undefined;
        } while (token);
      }
      op = async () => {
        const cur = this.cursors.get(cursorKey) ?? { seen: 0 };
        const page = await client.listPage(listBucket(keys), {
          prefix: this.listPrefix,
          delimiter: delimiter ? '/' : undefined,
          maxKeys: 1000,
          token: cur.token,
        });
        cur.seen += page.keys + page.prefixes;
        if (page.truncated && !page.nextToken) throw new Error(`${ep.name} ${cell.id}: truncated page without a NextContinuationToken`);
        if (!page.truncated) {
          // The whole listing is done: it must have seen every key exactly once.
          if (cur.seen !== keys) throw new Error(`${ep.name} ${cell.id}: a full listing returned ${cur.seen} entries, expected ${keys}`);
          this.cursors.set(cursorKey, { seen: 0 });
        } else {
          this.cursors.set(cursorKey, { token: page.nextToken, seen: cur.seen });
        }
      };
    }
    await new Promise((r) => setTimeout(r, 150)); // let the previous cell's sockets settle
    const rssReset = resetPeak(pid);
    const cpu0 = cpuSeconds(pid);
    const t0 = performance.now();
    const latencies = await timed(seconds, cell.concurrency, op);
    const secs = (performance.now() - t0) / 1000;
    const cpu = cpuSeconds(pid) - cpu0;
    const st = readStatus(pid);
    const sorted = latencies.sort((a, b) => a - b);
    return {
      ops: latencies.length,
      seconds: secs,
      opsPerSec: latencies.length / secs,
      mibPerSec: (latencies.length * perOpBytes) / MiB / secs,
      p50Ms: percentile(sorted, 50),
      p99Ms: percentile(sorted, 99),
      cpuMsPerOp: (cpu * 1000) / latencies.length,
      peakRssMiB: (rssReset ? st.hwmKiB : Math.max(st.hwmKiB, st.rssKiB)) / KiB,
    };
  }
}

export interface CeilingRun {
  settings: CeilingSettings;
  cells: CellResult[];
  loadAvg: { start: number; end: number };
}

/** Processes the ceiling run started, for the bench's last-resort exit handler. */
export const ceilingProcesses = new Set<{ stopSync(): void }>();

async function startStore(dir: string): Promise<{ store: RunningStore; upstreamPid: number; upstreamUrl: string; kill: () => void }> {
  const target = TARGETS.find((t) => t.name === 's3')!;
  const why = target.available();
  if (why) throw new Error(`s3 backend: ${why}`);
  let upstream: { child: ChildProcess; url: string } | undefined;
  const store = await target.start({
    dir,
    track: (child) => {
      if (!('spawnargs' in child)) upstream = child as unknown as { child: ChildProcess; url: string };
    },
  });
  if (!upstream?.child.pid) throw new Error('the s3 target did not report its upstream s3mux process');
  const u = upstream;
  return {
    store,
    upstreamPid: u.child.pid!,
    upstreamUrl: u.url,
    kill: () => {
      try {
        u.child.kill('SIGKILL');
      } catch {
        /* gone */
      }
    },
  };
}

export async function runCeiling(s: CeilingSettings, creds: Credentials, log: (line: string) => void): Promise<CeilingRun> {
  const loadStart = os.loadavg()[0];
  const plan = cells(s);
  const servers: ServerProcess[] = [];
  const endpoints = new Map<ServerName, Endpoint>();
  let storeDir: string | undefined;
  let store: Awaited<ReturnType<typeof startStore>> | undefined;
  const runner = new CellRunner();
  try {
    const bare = await startServerProcess(creds, { bare: true });
    servers.push(bare);
    ceilingProcesses.add(bare);
    const fs = await startServerProcess(creds);
    servers.push(fs);
    ceilingProcesses.add(fs);
    endpoints.set('bare', { name: 'bare', pid: bare.pid, client: new RawS3(bare.host, bare.port, creds, 64) });
    if (plan.some((c) => c.servers.includes('durable'))) {
      const durable = await startServerProcess(creds, { durable: true });
      servers.push(durable);
      ceilingProcesses.add(durable);
      endpoints.set('durable', { name: 'durable', pid: durable.pid, client: new RawS3(durable.host, durable.port, creds, 64) });
    }
    endpoints.set('s3mux', { name: 's3mux', pid: fs.pid, client: new RawS3(fs.host, fs.port, creds, 64) });
    if (s.compareCli) {
      const before = await startServerProcess(creds, { cli: s.compareCli });
      servers.push(before);
      ceilingProcesses.add(before);
      endpoints.set('before', { name: 'before', pid: before.pid, client: new RawS3(before.host, before.port, creds, 64) });
    }
    if (s.proxy) {
      storeDir = mkdtempSync(path.join(os.tmpdir(), 's3mux-bench-ceiling-s3-'));
      store = await startStore(storeDir);
      const kill = store.kill;
      ceilingProcesses.add({ stopSync: kill });
      const configFile = path.join(storeDir, 'routing.json');
      writeFileSync(configFile, JSON.stringify(store.store.table, null, 2));
      const proxy = await startServerProcess(creds, { configFile, env: store.store.env });
      servers.push(proxy);
      ceilingProcesses.add(proxy);
      const up = new URL(store.upstreamUrl);
      const upCreds = { accessKeyId: store.store.env!.E2E_UPSTREAM_ACCESS_KEY, secretAccessKey: store.store.env!.E2E_UPSTREAM_SECRET_KEY };
      endpoints.set('direct', { name: 'direct', pid: store.upstreamPid, client: new RawS3(up.hostname, Number(up.port), upCreds, 64) });
      // The relay passes the client's request on as it came: it is signed for the store's credentials.
      const relay = await startServerProcess(creds, { relay: store.upstreamUrl });
      servers.push(relay);
      ceilingProcesses.add(relay);
      endpoints.set('relay', { name: 'relay', pid: relay.pid, client: new RawS3(relay.host, relay.port, upCreds, 64) });
      endpoints.set('proxy', { name: 'proxy', pid: proxy.pid, client: new RawS3(proxy.host, proxy.port, creds, 64) });
      if (s.compareCli) {
        const before = await startServerProcess(creds, { configFile, env: store.store.env, cli: s.compareCli });
        servers.push(before);
        ceilingProcesses.add(before);
        endpoints.set('proxyBefore', { name: 'proxyBefore', pid: before.pid, client: new RawS3(before.host, before.port, creds, 64) });
      }
    }
    log(
      `ceiling: bare pid ${bare.pid}${endpoints.has('durable') ? `, bare durable writer pid ${endpoints.get('durable')!.pid}` : ''}, s3mux (fs) pid ${fs.pid}${s.proxy ? `, s3mux (s3 backend) pid ${endpoints.get('proxy')!.pid}${s.compareCli ? ` and its --compare build pid ${endpoints.get('proxyBefore')!.pid}` : ''} onto s3mux (fs) pid ${endpoints.get('direct')!.pid}` : ''}`,
    );

    // The data the cells read. Behind the proxy the store is the direct one, so it is uploaded once (through the proxy: the same bucket).
    const t0 = performance.now();
    for (const name of ['bare', 'durable', 's3mux', 'before', 'proxy'] as const) {
      const ep = endpoints.get(name);
      if (ep) await runner.prepare(ep, s, plan);
    }
    for (const keys of s.listKeys) {
      if (!plan.some((c) => c.list?.keys === keys)) continue;
      for (const name of ['bare', 's3mux', 'before', 'direct'] as const) {
        const ep = endpoints.get(name);
        if (!ep || (name === 'direct' && keys !== s.listKeys[0])) continue;
        await runner.prepareListing(ep, keys);
      }
      log(`ceiling: ${keys} listing keys uploaded (${((performance.now() - t0) / 1000).toFixed(0)} s so far)`);
    }

    const results: CellResult[] = plan.map((c) => ({
      id: c.id,
      op: c.op,
      size: c.size,
      concurrency: c.concurrency,
      list: c.list,
      servers: {},
      rounds: {},
    }));
    for (let round = 1; round <= s.rounds; round++) {
      log(`ceiling: round ${round} of ${s.rounds}`);
      for (const [i, cell] of plan.entries()) {
        const parts: string[] = [];
        // every other round in the opposite order, so no server always runs right after the same one
        for (const name of round % 2 === 0 ? [...cell.servers].reverse() : cell.servers) {
          const ep = endpoints.get(name);
          if (!ep) continue;
          const m = await runner.measure(cell, ep, s.cellSeconds);
          (results[i].rounds[name] ??= []).push(m);
          parts.push(`${name} ${fmtRate(cell, m)}`);
        }
        log(`  ${cell.id.padEnd(22)} ${parts.join(', ')}`);
      }
    }
    for (const r of results) {
      for (const [name, ms] of Object.entries(r.rounds) as Array<[ServerName, Measure[]]>) {
        r.servers[name] = {
          ops: ms.reduce((a, m) => a + m.ops, 0),
          seconds: ms.reduce((a, m) => a + m.seconds, 0),
          opsPerSec: median(ms.map((m) => m.opsPerSec)),
          mibPerSec: median(ms.map((m) => m.mibPerSec)),
          p50Ms: median(ms.map((m) => m.p50Ms)),
          p99Ms: median(ms.map((m) => m.p99Ms)),
          cpuMsPerOp: median(ms.map((m) => m.cpuMsPerOp)),
          peakRssMiB: Math.max(...ms.map((m) => m.peakRssMiB)),
        };
      }
    }
    for (const sp of servers) if (sp.internalErrors() > 0) log(`note: ${sp.url} logged ${sp.internalErrors()} internal error(s)`);
    return { settings: s, cells: results, loadAvg: { start: loadStart, end: os.loadavg()[0] } };
  } finally {
    for (const ep of endpoints.values()) ep.client.close();
    for (const sp of servers) {
      await sp.stop();
      ceilingProcesses.delete(sp);
    }
    await store?.store.stop().catch(() => undefined);
    store?.kill();
    if (storeDir) rmSync(storeDir, { recursive: true, force: true });
  }
}

const f = (n: number) => (n >= 100 ? n.toFixed(0) : n >= 10 ? n.toFixed(1) : n.toFixed(2));

function fmtRate(cell: Cell | CellResult, m: Measure): string {
  if (cell.op === 'list') return `${f(m.opsPerSec)} pages/s`;
  if (cell.size > MiB) return `${f(m.mibPerSec)} MiB/s`;
  return `${f(m.opsPerSec)} ops/s`;
}

const rate = (c: CellResult, m: Measure) => (c.size > MiB ? m.mibPerSec : m.opsPerSec);
/** How much slower than the store reached directly `m` was, in percent (a proxy cell). */
const overheadPct = (c: CellResult, m: Measure) => (1 - rate(c, m) / rate(c, c.servers.direct!)) * 100;

/** The issue's targets, checked against this run's ratios. */
export function targetLines(run: CeilingRun): Array<{ target: string; value: string; met: boolean }> {
  const get = (id: string) => run.cells.find((c) => c.id === id);
  const ratio = (id: string, of: ServerName = 's3mux') => {
    const c = get(id);
    const b = c?.servers.bare;
    const m = c?.servers[of];
    return c && b && m ? rate(c, m) / rate(c, b) : NaN;
  };
  const overhead = (id: string, via: ServerName = 'proxy') => {
    const c = get(id);
    const p = c?.servers[via];
    return c?.servers.direct && p ? overheadPct(c, p) : NaN;
  };
  const relayNote = (id: string) => {
    const v = overhead(id, 'relay');
    return Number.isFinite(v) ? ` (bare relay ${v.toFixed(0)}%)` : '';
  };
  /** What the bare durable writer reached in the same cell: the ratio the required writes and hashes allow here. */
  const durableNote = (id: string) => {
    const v = ratio(id, 'durable');
    return (x: number) => `${x.toFixed(3)}${Number.isFinite(v) ? ` (bare durable writer ${v.toFixed(3)})` : ''}`;
  };
  const out: Array<{ target: string; value: string; met: boolean }> = [];
  const push = (target: string, v: number, met: (v: number) => boolean, fmt = (x: number) => x.toFixed(3)) => {
    if (Number.isFinite(v)) out.push({ target, value: fmt(v), met: met(v) });
  };
  push('GET 4 KiB c16 ratio ≥ 0.5', ratio('GET 4 KiB c16'), (v) => v >= 0.5);
  push('PUT 4 KiB c16 ratio ≥ 0.25', ratio('PUT 4 KiB c16'), (v) => v >= 0.25, durableNote('PUT 4 KiB c16'));
  push('HEAD 4 KiB c16 ratio ≥ 0.6', ratio('HEAD 4 KiB c16'), (v) => v >= 0.6);
  push(
    "GET 4 KiB c1 p50 ≤ 0.3 ms (absolute: depends on the machine's load)",
    get('GET 4 KiB c1')?.servers.s3mux?.p50Ms ?? NaN,
    (v) => v <= 0.3,
    (x) => `${x.toFixed(2)} ms`,
  );
  push('PUT 64 MiB c8 ratio ≥ 0.35', ratio('PUT 64 MiB c8'), (v) => v >= 0.35, durableNote('PUT 64 MiB c8'));
  push('GET 64 MiB c8 ratio ≥ 0.85', ratio('GET 64 MiB c8'), (v) => v >= 0.85);
  for (const c of run.cells.filter((x) => x.op === 'list')) push(`${c.id} ratio ≥ 0.2`, ratio(c.id), (v) => v >= 0.2);
  push(
    'proxy overhead 64 MiB PUT ≤ 10%',
    overhead('PUT 64 MiB c8'),
    (v) => v <= 10,
    (x) => `${x.toFixed(0)}%${relayNote('PUT 64 MiB c8')}`,
  );
  push(
    'proxy overhead 64 MiB GET ≤ 10%',
    overhead('GET 64 MiB c8'),
    (v) => v <= 10,
    (x) => `${x.toFixed(0)}%${relayNote('GET 64 MiB c8')}`,
  );
  for (const op of ['PUT', 'GET', 'HEAD'])
    push(
      `proxy overhead 4 KiB ${op} c16 ≤ 25%`,
      overhead(`${op} 4 KiB c16`),
      (v) => v <= 25,
      (x) => `${x.toFixed(0)}%${relayNote(`${op} 4 KiB c16`)}`,
    );
  const peak = Math.max(...run.cells.map((c) => c.servers.s3mux?.peakRssMiB ?? 0));
  push(
    's3mux (fs) peak RSS < 150 MiB',
    peak,
    (v) => v < 150,
    (x) => `${x.toFixed(0)} MiB`,
  );
  return out;
}

/** The tables as markdown (also printed). */
export function ceilingMarkdown(run: CeilingRun): string {
  const lines: string[] = [];
  const table = (headers: string[], rows: string[][]) => {
    lines.push(
      `| ${headers.join(' | ')} |`,
      `| ${headers.map((_, i) => (i === 0 ? '---' : '---:')).join(' | ')} |`,
      ...rows.map((r) => `| ${r.join(' | ')} |`),
    );
  };
  const mine = run.cells.filter((c) => c.servers.bare && c.servers.s3mux);
  table(
    [
      'cell',
      'bare',
      's3mux (fs)',
      'ratio',
      's3mux p50 / p99 ms',
      'bare p50 / p99 ms',
      's3mux CPU ms/req',
      'bare CPU ms/req',
      's3mux peak RSS',
    ],
    mine.map((c) => {
      const b = c.servers.bare!;
      const m = c.servers.s3mux!;
      return [
        c.id,
        fmtRate(c, b),
        fmtRate(c, m),
        (rate(c, m) / rate(c, b)).toFixed(3),
        `${f(m.p50Ms)} / ${f(m.p99Ms)}`,
        `${f(b.p50Ms)} / ${f(b.p99Ms)}`,
        f(m.cpuMsPerOp),
        f(b.cpuMsPerOp),
        `${m.peakRssMiB.toFixed(0)} MiB`,
      ];
    }),
  );
  const durable = mine.filter((c) => c.servers.durable);
  if (durable.length) {
    lines.push(
      '',
      'The PUT cells against the bare durable writer (bench/bare-durable-server.ts): a Node HTTP server that only does what the issue requires of every write (the body into a new file with its MD5 and signed SHA-256 checked, fsync, rename over the key), no auth, no sidecar, no locks. Its ratio to the bare server is the most a server keeping those guarantees reaches on this machine.',
      '',
    );
    table(
      [
        'cell',
        'bare',
        'bare durable writer',
        's3mux (fs)',
        'durable writer / bare',
        's3mux / bare',
        's3mux / durable writer',
        'durable writer CPU ms/req',
        's3mux CPU ms/req',
        'durable writer p50 / p99 ms',
      ],
      durable.map((c) => {
        const b = c.servers.bare!;
        const d = c.servers.durable!;
        const m = c.servers.s3mux!;
        return [
          c.id,
          fmtRate(c, b),
          fmtRate(c, d),
          fmtRate(c, m),
          (rate(c, d) / rate(c, b)).toFixed(3),
          (rate(c, m) / rate(c, b)).toFixed(3),
          (rate(c, m) / rate(c, d)).toFixed(2),
          f(d.cpuMsPerOp),
          f(m.cpuMsPerOp),
          `${f(d.p50Ms)} / ${f(d.p99Ms)}`,
        ];
      }),
    );
  }
  const compared = run.cells.filter((c) => c.servers.before && c.servers.s3mux && c.servers.bare);
  if (compared.length) {
    lines.push(
      '',
      `Before and after in the same run: \`--compare\` ran a second s3mux from another build (${run.settings.compareCli}) in every cell, interleaved with the two above.`,
      '',
    );
    table(
      [
        'cell',
        'before',
        'after',
        'after / before',
        'ratio to bare before',
        'ratio to bare after',
        'CPU ms/req before',
        'CPU ms/req after',
        'p50 ms before / after',
      ],
      compared.map((c) => {
        const b = c.servers.bare!;
        const o = c.servers.before!;
        const m = c.servers.s3mux!;
        return [
          c.id,
          fmtRate(c, o),
          fmtRate(c, m),
          `${(rate(c, m) / rate(c, o)).toFixed(2)}×`,
          (rate(c, o) / rate(c, b)).toFixed(3),
          (rate(c, m) / rate(c, b)).toFixed(3),
          f(o.cpuMsPerOp),
          f(m.cpuMsPerOp),
          `${f(o.p50Ms)} / ${f(m.p50Ms)}`,
        ];
      }),
    );
  }
  const proxied = run.cells.filter((c) => c.servers.direct && c.servers.proxy);
  if (proxied.length) {
    lines.push(
      '',
      'Through the s3 backend: a front s3mux (s3 backend) onto a second s3mux (fs), against that second s3mux reached directly. Overhead = 1 − proxied rate / direct rate.',
      'The bare relay (bench/bare-relay.ts) passes each request on to the same store unchanged, no auth, no routing, over the same HTTP client (undici): what relaying alone costs here, where the client, the proxy and the store share two cores.',
      '',
    );
    const overheadOf = (c: CellResult, m: Measure | undefined) => (m ? `${overheadPct(c, m).toFixed(0)}%` : '–');
    table(
      [
        'cell',
        'direct',
        'via bare relay',
        'via s3mux s3 backend',
        'relay overhead',
        'overhead',
        'direct p50 / p99 ms',
        'proxied p50 / p99 ms',
        'relay CPU ms/req',
        'proxy CPU ms/req',
        'proxy peak RSS',
      ],
      proxied.map((c) => {
        const d = c.servers.direct!;
        const r = c.servers.relay;
        const p = c.servers.proxy!;
        return [
          c.id,
          fmtRate(c, d),
          r ? fmtRate(c, r) : '–',
          fmtRate(c, p),
          overheadOf(c, r),
          overheadOf(c, p),
          `${f(d.p50Ms)} / ${f(d.p99Ms)}`,
          `${f(p.p50Ms)} / ${f(p.p99Ms)}`,
          r ? f(r.cpuMsPerOp) : '–',
          f(p.cpuMsPerOp),
          `${p.peakRssMiB.toFixed(0)} MiB`,
        ];
      }),
    );
    const both = proxied.filter((c) => c.servers.proxyBefore);
    if (both.length) {
      lines.push(
        '',
        `The same cells with the --compare build (${run.settings.compareCli}) as the front s3mux, onto the same store, interleaved with the two above:`,
        '',
      );
      table(
        [
          'cell',
          'front before',
          'front after',
          'overhead before',
          'overhead after',
          'front CPU ms/req before',
          'front CPU ms/req after',
          'direct CPU ms/req',
        ],
        both.map((c) => {
          const d = c.servers.direct!;
          const p = c.servers.proxy!;
          const b = c.servers.proxyBefore!;
          return [
            c.id,
            fmtRate(c, b),
            fmtRate(c, p),
            `${overheadPct(c, b).toFixed(0)}%`,
            `${overheadPct(c, p).toFixed(0)}%`,
            f(b.cpuMsPerOp),
            f(p.cpuMsPerOp),
            f(d.cpuMsPerOp),
          ];
        }),
      );
    }
  }
  lines.push('');
  table(
    ['target of issue 15', 'this run', 'met'],
    targetLines(run).map((t) => [t.target, t.value, t.met ? 'yes' : 'no']),
  );
  return lines.join('\n');
}

export function ceilingSection(
  run: CeilingRun,
  machine: { date: string; commit?: string; cpus: number; cpuModel: string; node: string },
): string {
  const s = run.settings;
  return `## Against the ceiling: a bare Node HTTP server, same run

Generated by \`npm run bench\` (bench/ceiling.ts) on ${machine.date}${machine.commit ? `, s3mux ${machine.commit}` : ''}; ${machine.cpus} × ${machine.cpuModel}, node ${machine.node}.
Load average (1 min) at start / end: ${run.loadAvg.start.toFixed(1)} / ${run.loadAvg.end.toFixed(1)}${run.loadAvg.start > machine.cpus / 2 ? ` — **the machine was busy with other work (load ${run.loadAvg.start.toFixed(1)} on ${machine.cpus} cores): absolute figures read low and vary; the ratios, measured in the same run with the servers interleaved cell by cell, are what to trust**` : ''}.

Each cell runs ${s.cellSeconds} s per server, the servers one after the other (bare, the bare durable writer in PUT cells, s3mux${s.compareCli ? ', the --compare build' : ''}${s.proxy ? ', direct store, bare relay, proxy' : ''}), ${s.rounds} round(s); figures are medians of the rounds (peak RSS: the maximum).
The bare server (bench/bare-server.ts) is a Node HTTP server in its own process: no auth, no disk, no hashing, objects in a Map, ListObjectsV2 over a sorted key array.
The bare durable writer (bench/bare-durable-server.ts), in the PUT cells only, writes each body as s3mux must and does nothing else: a new file, MD5 and the signed SHA-256 checked, fsync, rename.
s3mux runs the fs backend (every PUT written to a temporary file, fsynced, renamed; MD5 and the signed SHA-256 verified). The client is the same for all
(bench/raw-client.ts: every request SigV4-signed, PUT payload SHA-256 signed, GET bodies hashed and checked, listings checked to return every key once).
CPU ms/req is the server process's user+system CPU (/proc/PID/stat) over the cell divided by its requests (all threads, so fsync and hashing on the thread pool count).
Listing cells: 1,000-key pages of \`ls/\` in a bucket of N keys, walked with continuation tokens (flat, and with delimiter \`/\`), one client. For a --list-keys count, "warm" cells first walk the whole listing once per server, untimed; the other cells measure the listing's first pages.

${ceilingMarkdown(run)}
`;
}

// ----- profiling -----

export interface ProfiledCell {
  id: string;
  requests: number;
  seconds: number;
  summary: ProfileSummary;
  lines: string[];
}

export async function runProfile(s: CeilingSettings, creds: Credentials, log: (line: string) => void): Promise<ProfiledCell[]> {
  const dir = mkdtempSync(path.join(os.tmpdir(), 's3mux-bench-profile-'));
  const hook = path.join(__dirname, 'profile-hook.js');
  // With --proxy the profiled s3mux is the front one (s3 backend), onto a second s3mux (fs) that is not profiled.
  let store: Awaited<ReturnType<typeof startStore>> | undefined;
  let configFile: string | undefined;
  if (s.profileProxy) {
    store = await startStore(dir);
    ceilingProcesses.add({ stopSync: store.kill });
    configFile = path.join(dir, 'routing.json');
    writeFileSync(configFile, JSON.stringify(store.store.table, null, 2));
  }
  const server = await startServerProcess(creds, {
    nodeArgs: ['--require', hook],
    env: { ...store?.store.env, S3MUX_BENCH_PROFILE_DIR: dir },
    ...(configFile ? { configFile } : {}),
  });
  ceilingProcesses.add(server);
  const ep: Endpoint = { name: 's3mux', pid: server.pid, client: new RawS3(server.host, server.port, creds, 64) };
  const runner = new CellRunner();
  const out: ProfiledCell[] = [];
  try {
    const all: Cell[] = [
      { id: 'PUT 4 KiB c16', op: 'put', size: 4 * KiB, concurrency: 16, servers: ['s3mux'] },
      { id: 'GET 4 KiB c16', op: 'get', size: 4 * KiB, concurrency: 16, servers: ['s3mux'] },
      { id: 'HEAD 4 KiB c16', op: 'head', size: 4 * KiB, concurrency: 16, servers: ['s3mux'] },
      // One client: each request's own cost, without the batching 16 clients bring (--cells picks them).
      { id: 'GET 4 KiB c1', op: 'get', size: 4 * KiB, concurrency: 1, servers: ['s3mux'] },
      { id: 'HEAD 4 KiB c1', op: 'head', size: 4 * KiB, concurrency: 1, servers: ['s3mux'] },
      { id: 'PUT 64 MiB c8', op: 'put', size: 64 * MiB, concurrency: 8, servers: ['s3mux'] },
      { id: 'GET 64 MiB c8', op: 'get', size: 64 * MiB, concurrency: 8, servers: ['s3mux'] },
      {
        id: `LIST ${s.listKeys[0] / 1000}k flat`,
        op: 'list',
        size: 0,
        concurrency: 1,
        servers: ['s3mux'],
        list: { keys: s.listKeys[0], delimiter: false },
      },
      {
        id: `LIST ${s.listKeys[0] / 1000}k delimiter`,
        op: 'list',
        size: 0,
        concurrency: 1,
        servers: ['s3mux'],
        list: { keys: s.listKeys[0], delimiter: true },
      },
    ];
    // Without --cells, the cells the profile has always had (the c1 ones only when asked for).
    const plan = all.filter((c) => (s.cellFilter ? s.cellFilter.test(c.id) : !c.id.endsWith(' c1') && c.size !== 64 * MiB));
    await runner.prepare(ep, s, plan);
    if (plan.some((c) => c.op === 'list')) await runner.prepareListing(ep, s.listKeys[0]);
    // Warm-up (not profiled): the code paths JIT-compiled as they would be in a long-running server.
    for (const cell of plan) await runner.measure(cell, ep, Math.min(1, s.cellSeconds));
    let n = 0;
    for (const cell of plan) {
      process.kill(server.pid, 'SIGUSR2');
      await new Promise((r) => setTimeout(r, 300)); // Profiler.start is one inspector message
      const m = await runner.measure(cell, ep, s.cellSeconds * 2);
      process.kill(server.pid, 'SIGUSR2');
      const file = path.join(dir, `profile-${++n}.cpuprofile`);
      let profile: CpuProfile | undefined;
      await waitFor(() => {
        try {
          profile = JSON.parse(readFileSync(file, 'utf8')) as CpuProfile;
          return true;
        } catch {
          return false;
        }
      }, 15000);
      const summary = summarize(profile!);
      if (process.env.S3MUX_BENCH_PROFILE_KEEP)
        writeFileSync(
          path.join(process.env.S3MUX_BENCH_PROFILE_KEEP, `${cell.id.replace(/\W+/g, '-')}.cpuprofile`),
          JSON.stringify(profile),
        );
      const lines = formatSummary(summary, 15, m.ops);
      out.push({ id: cell.id, requests: m.ops, seconds: m.seconds, summary, lines });
      log(`profile ${cell.id}: ${m.ops} requests in ${m.seconds.toFixed(1)} s (${f(m.cpuMsPerOp)} ms server CPU per request)`);
      for (const l of lines) log(`  ${l}`);
    }
    return out;
  } finally {
    ep.client.close();
    await server.stop();
    ceilingProcesses.delete(server);
    await store?.store.stop().catch(() => undefined);
    store?.kill();
    rmSync(dir, { recursive: true, force: true });
  }
}

async function waitFor(test: () => boolean, ms: number): Promise<void> {
  const end = Date.now() + ms;
  while (!test()) {
    if (Date.now() > end) throw new Error('profiling: the server did not answer the profiler toggle in time');
    await new Promise((r) => setTimeout(r, 50));
  }
}

export function profileSection(cells: ProfiledCell[], machine: { date: string; commit?: string }): string {
  return `## Where the time goes: CPU profile of s3mux (fs backend)

Generated by \`npm run bench -- --profile\` on ${machine.date}${machine.commit ? `, s3mux ${machine.commit}` : ''}: one s3mux child with bench/profile-hook.js
(V8 sampling profiler, 200 µs, toggled per cell so only the cell's requests are in it), analysed by bench/profile.ts.
Main JavaScript thread only: fsync, rename, reads and hashing on libuv's thread pool are not in it (they show as latency).
µs/req = that much main-thread time per request; percentages are of the busy (non-idle) main-thread time.
The machine was shared with other work: absolute µs vary, the shares between functions are what to read.

${cells.map((c) => `### ${c.id} (${c.requests} requests in ${c.seconds.toFixed(1)} s)\n\n\`\`\`\n${c.lines.join('\n')}\n\`\`\``).join('\n\n')}
`;
}
