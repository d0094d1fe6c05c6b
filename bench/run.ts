/**
 * npm run bench [-- --quick] [-- --backend NAME] [-- --threshold-mib N] [-- --timeout-s N]
 *               [-- --phases | --ceiling | --profile] [-- --list-keys N] [-- --rounds N] [-- --cell-s N] [-- --no-proxy]
 *               [-- --proxy] [-- --compare DIR] [-- --cells REGEX]
 *
 * On fs (the default) a run has two parts: the phases below, then the ceiling cells
 * (bench/ceiling.ts: s3mux against a bare Node HTTP server in the same run, interleaved, and
 * the s3 backend's overhead onto a second s3mux). --phases or --ceiling runs one part only;
 * --profile profiles s3mux on the 4 KiB and listing cells instead (bench/profile.ts).
 * --list-keys N adds listing cells over an N-key bucket (e.g. 100000) to the 10,000-key ones.
 * --compare DIR adds a second s3mux from another built checkout to every ceiling cell (before/after);
 * --cells REGEX keeps only the ceiling cells whose name matches (e.g. '64 MiB|LIST'); with --profile,
 * the profiled cells (the 16-client ones, the listing, and 'GET 4 KiB c1' / 'HEAD 4 KiB c1', '64 MiB').
 * --profile --proxy profiles the front s3mux of the proxy cells (s3 backend onto a second s3mux)
 * instead; its figures are printed, not written to RESULTS.md.
 *
 * Starts s3mux as a child process over a temporary data directory, runs PUT and GET phases
 * of 4 KiB, 1 MiB and 64 MiB objects, a 1 GiB multipart upload and its download, and
 * measures throughput and the SERVER's RSS in each phase.
 *
 * --backend NAME (default fs) picks the store s3mux serves, from the e2e targets
 * (test/e2e/targets.ts: fs, memory, s3 = a second s3mux, azure = Azurite, gcs = the firebase
 * Storage emulator). The target's store is started first (its own process), s3mux gets the
 * target's routing table (`serve --config FILE`, default backend = the store) and secrets, and
 * the store is stopped at the end, also on failure or interrupt. Where a store cannot take a
 * phase as it is, the phase is shortened or left out and the output and the report say so.
 *
 * Output: fs full runs write bench/results.json and the top of bench/RESULTS.md; other
 * backends write bench/results-<backend>.json and their own section of bench/RESULTS.md
 * (a --quick run does not replace a full run's results). fs --quick writes nothing.
 *
 * The one thing it asserts is streaming: the server's peak RSS must not grow with object
 * size. When a large-object phase peaks more than --threshold-mib (64) above the 4 KiB
 * phases it prints a WARNING and exits 1. Speed is reported, never asserted. Only s3mux's own
 * process is measured; the stores run in their own processes. On the memory backend the
 * objects live in s3mux's process, so its RSS grows with what is stored: there the check is
 * reported, not asserted.
 * --transfer runs only the bulk-copy comparison instead (bench/transfer.ts: `s3mux sync` against `aws s3 sync`).
 * Exit codes: 0 ok, 1 memory regression, 2 the bench itself failed, 130 interrupted.
 */
import './quiet-warnings';
import { randomBytes } from 'node:crypto';
import type { ChildProcess } from 'node:child_process';
import { existsSync, mkdtempSync, readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { performance } from 'node:perf_hooks';
import { S3Client } from '@aws-sdk/client-s3';
import { Upload } from '@aws-sdk/lib-storage';
import http from 'node:http';
import { BLOCK_SIZE, PatternStream, makeBlock, patternSha256, smallBody } from './body';
import { RssSampler, cpuSeconds, downsample, readStatus, resetPeak } from './memory';
import { RawS3 } from './raw-client';
import {
  consoleTable,
  detailLines,
  humanSize,
  machineInfo,
  markdownReport,
  verdictLines,
  type MemoryVerdict,
  type PhaseResult,
} from './report';
import { startServerProcess, type ServerProcess } from './server-process';
import { replaceHead, replaceSection, sectionBlock } from './results-file';
import { ceilingProcesses, ceilingSection, profileSection, runCeiling, runProfile, type CeilingSettings } from './ceiling';
import { TARGETS, type BackendTarget, type RunningStore } from '../test/e2e/targets';

const KiB = 1024;
const MiB = 1024 * KiB;
const GiB = 1024 * MiB;

const REPO_DIR = path.resolve(__dirname, '..', '..');
const OUT_DIR = path.join(REPO_DIR, 'bench');
const BUCKET = 'bench';
const SAMPLE_MS = 50;

interface Settings {
  quick: boolean;
  backend: string;
  thresholdMiB: number;
  timeoutS: number;
  small: { count: number; concurrency: number };
  medium: { count: number; concurrency: number };
  large: { count: number; concurrency: number };
  multipartBytes: number;
  multipartPartMiB: number;
  multipartQueue: number;
  sampleMs: number;
  /** Phases shortened or left out on this backend, with the store's reason (in the output and the report). */
  limits: string[];
  /** Whether the streaming check is asserted (not on the memory backend: the data lives in s3mux). */
  assertMemory: boolean;
  /** Which parts run: the phases, the ceiling cells (fs only), the profile (fs only). */
  parts: { phases: boolean; ceiling: boolean; profile: boolean };
  ceiling: CeilingSettings;
}

const USAGE =
  'usage: npm run bench [-- --quick] [-- --backend NAME] [-- --threshold-mib N] [-- --timeout-s N] [-- --phases | --ceiling | --profile] [-- --list-keys N] [-- --rounds N] [-- --cell-s N] [-- --no-proxy] [-- --proxy] [-- --compare DIR] [-- --cells REGEX]\n       npm run bench -- --transfer   (s3mux sync against aws s3 sync: bench/transfer.ts)';
const FLAGS = [
  '--cells',
  '--compare',
  '--quick',
  '--threshold-mib',
  '--timeout-s',
  '--backend',
  '--phases',
  '--ceiling',
  '--profile',
  '--list-keys',
  '--rounds',
  '--cell-s',
  '--no-proxy',
  '--proxy',
];

/** --compare DIR: another checkout of s3mux, built (DIR/dist/src/cli.js), measured beside this one in the ceiling cells. */
function compareCli(argv: string[]): string | undefined {
  const i = argv.indexOf('--compare');
  if (i < 0) return undefined;
  const cli = path.resolve(argv[i + 1] ?? '', 'dist', 'src', 'cli.js');
  if (!existsSync(cli)) throw new Error(`--compare needs a built checkout: ${cli} does not exist (npx tsc -p DIR)`);
  return cli;
}

function parseArgs(argv: string[]): Settings {
  const quick = argv.includes('--quick');
  const num = (flag: string, dflt: number): number => {
    const i = argv.indexOf(flag);
    if (i < 0) return dflt;
    const v = Number(argv[i + 1]);
    if (!Number.isFinite(v) || v <= 0) throw new Error(`${flag} needs a positive number`);
    return v;
  };
  for (const a of argv) {
    if (a.startsWith('--') && !FLAGS.includes(a)) {
      throw new Error(`unknown option ${a}\n${USAGE}`);
    }
  }
  let backend = 'fs';
  const bi = argv.indexOf('--backend');
  if (bi >= 0) {
    backend = argv[bi + 1] ?? '';
    if (!TARGETS.some((t) => t.name === backend)) {
      throw new Error(`--backend needs one of ${TARGETS.map((t) => t.name).join(', ')}${backend ? ` (not '${backend}')` : ''}\n${USAGE}`);
    }
  }
  const only = ['--phases', '--ceiling', '--profile'].filter((f) => argv.includes(f));
  if (only.length > 1) throw new Error(`${only.join(' and ')}: choose one\n${USAGE}`);
  const fsOnly = backend === 'fs';
  if (!fsOnly && (argv.includes('--ceiling') || argv.includes('--profile')))
    throw new Error(`--ceiling and --profile measure the fs backend (the s3 backend's overhead is one of the ceiling cells)\n${USAGE}`);
  const parts = only.length
    ? { phases: only[0] === '--phases', ceiling: only[0] === '--ceiling', profile: only[0] === '--profile' }
    : { phases: true, ceiling: fsOnly, profile: false };
  const listKeys = [quick ? 2000 : 10_000];
  if (argv.includes('--list-keys')) listKeys.push(num('--list-keys', 100_000));
  return {
    quick,
    backend,
    parts,
    ceiling: {
      quick,
      rounds: num('--rounds', quick ? 1 : 3),
      cellSeconds: num('--cell-s', quick ? 0.5 : 2),
      listKeys,
      proxy: !argv.includes('--no-proxy'),
      profileProxy: argv.includes('--proxy'),
      compareCli: compareCli(argv),
      cellFilter: argv.includes('--cells') ? new RegExp(argv[argv.indexOf('--cells') + 1] ?? '') : undefined,
    },
    thresholdMiB: num('--threshold-mib', 64),
    timeoutS: num('--timeout-s', parts.ceiling && !quick ? 1800 : 600),
    small: { count: quick ? 200 : 1000, concurrency: 4 },
    medium: { count: quick ? 20 : 100, concurrency: 4 },
    large: { count: quick ? 2 : 8, concurrency: 2 },
    multipartBytes: quick ? 256 * MiB : GiB,
    multipartPartMiB: 16,
    multipartQueue: 4,
    sampleMs: SAMPLE_MS,
    limits: [],
    assertMemory: true,
  };
}

/**
 * The firebase Storage emulator refuses any request over 130 MB (413), and has no compose: on
 * CompleteMultipartUpload s3mux streams all the parts into ONE upload request, so the multipart
 * object must stay under that (test/helpers/gcs-emulator.ts).
 */
const GCS_EMULATOR_MAX_REQUEST = 130_000_000;

/** Bytes the phases leave in the store (nothing is deleted during a run). */
function storedBytes(s: Settings): number {
  return 40 * 4 * KiB + s.small.count * 4 * KiB + s.medium.count * MiB + s.large.count * 64 * MiB + s.multipartBytes;
}

/** Adapts the phases to what the target's store can take; every change is recorded in s.limits. */
function fitToStore(s: Settings, target: BackendTarget): void {
  if (target.kind === 'gcs') {
    const part = s.multipartPartMiB * MiB;
    const capped = Math.floor((GCS_EMULATOR_MAX_REQUEST - 1) / part) * part;
    if (s.multipartBytes > capped) {
      s.limits.push(
        `multipart upload shortened from ${humanSize(s.multipartBytes)} to ${humanSize(capped)} (${capped / part} parts of ${s.multipartPartMiB} MiB): ` +
          `the firebase Storage emulator refuses requests over 130 MB and has no compose, so s3mux's CompleteMultipartUpload ` +
          `streams all parts into one upload request, which must stay under 130 MB`,
      );
      s.multipartBytes = capped;
    }
  }
  if (target.kind === 'memory') {
    s.assertMemory = false;
    s.limits.push(
      `memory check reported, not asserted: the memory backend keeps every object inside s3mux's own process, so its RSS grows by the bytes stored (${(storedBytes(s) / MiB).toFixed(0)} MiB); the "beyond stored" figures show what s3mux holds on top of the data`,
    );
  }
}

/** Azurite keeps blobs in memory up to --extentMemoryLimit (MB), set by the e2e target: check the bench's data fits. */
function checkAzuriteCapacity(s: Settings, children: ChildProcess[]): string {
  const args = children.flatMap((c) => c.spawnargs ?? []);
  const i = args.indexOf('--extentMemoryLimit');
  const limitMb = i >= 0 ? Number(args[i + 1]) : NaN;
  const need = storedBytes(s);
  if (!Number.isFinite(limitMb))
    return `Azurite's in-memory extent limit is unknown (no --extentMemoryLimit in its arguments); the bench stores ${(need / MiB).toFixed(0)} MiB`;
  // Whether Azurite's MB is 10^6 or 2^20 bytes, take the smaller reading to be safe.
  const limitBytes = limitMb * 1_000_000;
  if (need > limitBytes * 0.95) {
    throw new Error(
      `Azurite was started with --extentMemoryLimit ${limitMb} (MB), but the bench stores ${(need / 1e6).toFixed(0)} MB: it cannot hold the data; use --quick or raise the limit in test/e2e/targets.ts`,
    );
  }
  return `Azurite in-memory extent limit ${limitMb} MB (set by test/e2e/targets.ts); the bench stores ${(need / 1e6).toFixed(0)} MB (${(need / MiB).toFixed(0)} MiB): it fits`;
}

function sleep(ms: number): Promise<void> {
  return new Promise((r) => setTimeout(r, ms));
}

function percentile(sorted: number[], p: number): number {
  if (!sorted.length) return 0;
  return sorted[Math.min(sorted.length - 1, Math.ceil((p / 100) * sorted.length) - 1)];
}

/** Runs fn(0..count-1) with at most `concurrency` in flight; returns each call's latency in ms. */
async function pool(count: number, concurrency: number, fn: (i: number) => Promise<void>): Promise<number[]> {
  const latencies: number[] = [];
  let next = 0;
  const worker = async () => {
    while (next < count) {
      const i = next++;
      const t0 = performance.now();
      await fn(i);
      latencies.push(performance.now() - t0);
    }
  };
  await Promise.all(Array.from({ length: Math.min(concurrency, count) }, worker));
  return latencies;
}

interface PhaseWork {
  objects: number;
  bytes: number;
  latencies: number[];
  details?: Record<string, unknown>;
}

class Bench {
  readonly results: PhaseResult[] = [];
  private peakResetWorks = true;

  constructor(
    private readonly server: ServerProcess,
    private readonly sampler: RssSampler,
  ) {}

  async phase(name: string, op: string, objectBytes: number, concurrency: number, work: () => Promise<PhaseWork>): Promise<PhaseResult> {
    const pid = this.server.pid;
    await sleep(300); // let the previous phase's sockets and timers wind down
    this.assertAlive();
    const before = readStatus(pid).rssKiB;
    this.peakResetWorks = resetPeak(pid);
    await this.sampler.mark();
    const srvCpu0 = cpuSeconds(pid);
    const cliCpu0 = process.cpuUsage();
    const t0 = performance.now();
    process.stdout.write(`  ${name} ...`);

    let w: PhaseWork;
    try {
      w = await work();
    } catch (err) {
      process.stdout.write(' failed\n');
      throw err;
    }

    const seconds = (performance.now() - t0) / 1000;
    const cliCpu = process.cpuUsage(cliCpu0);
    this.assertAlive();
    const srvCpu = cpuSeconds(pid) - srvCpu0;
    const status = readStatus(pid);
    const sampled = await this.sampler.collect();
    const peakKiB = Math.max(sampled.maxRssKiB, this.peakResetWorks ? status.hwmKiB : 0, status.rssKiB);
    const sorted = [...w.latencies].sort((a, b) => a - b);
    const r: PhaseResult = {
      name,
      op,
      objectBytes,
      objects: w.objects,
      concurrency,
      seconds,
      opsPerSec: w.objects / seconds,
      mibPerSec: w.bytes / MiB / seconds,
      latencyMs: { p50: percentile(sorted, 50), p99: percentile(sorted, 99), max: sorted[sorted.length - 1] ?? 0 },
      server: {
        rssBeforeMiB: before / KiB,
        peakRssMiB: peakKiB / KiB,
        rssAfterMiB: status.rssKiB / KiB,
        peakSource: this.peakResetWorks ? 'VmHWM' : 'sampled',
        samples: sampled.samples,
        cpuSeconds: srvCpu,
        cpuPercent: (srvCpu / seconds) * 100,
      },
      client: { cpuPercent: ((cliCpu.user + cliCpu.system) / 1e6 / seconds) * 100 },
      details: w.details,
      rssSeriesMiB: downsample(sampled.series, 100).map(([t, kib]) => [t, Math.round((kib / KiB) * 10) / 10]),
    };
    this.results.push(r);
    process.stdout.write(
      ` ${seconds.toFixed(2)} s, ${r.mibPerSec.toFixed(1)} MiB/s, server RSS ${r.server.rssBeforeMiB.toFixed(1)} -> peak ${r.server.peakRssMiB.toFixed(1)} MiB\n`,
    );
    return r;
  }

  private assertAlive(): void {
    if (!this.server.alive()) throw new Error(`s3mux exited unexpectedly\n  server output:\n    ${this.server.logTail().join('\n    ')}`);
  }
}

function checkDownload(key: string, got: { bytes: number; sha256: string }, size: number, sha256: string): void {
  if (got.bytes !== size) throw new Error(`GET ${key}: ${got.bytes} bytes, expected ${size}`);
  if (got.sha256 !== sha256)
    throw new Error(`GET ${key}: content differs from what was uploaded (sha256 ${got.sha256}, expected ${sha256})`);
}

/** Per-command timings of an SDK client, through a middleware. */
function timeCommands(client: S3Client): Map<string, number[]> {
  const times = new Map<string, number[]>();
  client.middlewareStack.add(
    <A, O>(next: (args: A) => Promise<O>, context: { commandName?: string }) =>
      async (args: A): Promise<O> => {
        const t0 = performance.now();
        try {
          return await next(args);
        } finally {
          const name = context.commandName ?? 'unknown';
          if (!times.has(name)) times.set(name, []);
          times.get(name)!.push(performance.now() - t0);
        }
      },
    { step: 'initialize', name: 'benchTiming' },
  );
  return times;
}

function summarizeTimes(times: Map<string, number[]>): Record<string, { count: number; p50Ms: number; maxMs: number; totalMs: number }> {
  const out: Record<string, { count: number; p50Ms: number; maxMs: number; totalMs: number }> = {};
  for (const [name, list] of times) {
    const sorted = [...list].sort((a, b) => a - b);
    out[name] = {
      count: list.length,
      p50Ms: Math.round(percentile(sorted, 50) * 10) / 10,
      maxMs: Math.round(sorted[sorted.length - 1] * 10) / 10,
      totalMs: Math.round(list.reduce((a, b) => a + b, 0)),
    };
  }
  return out;
}

async function runPhases(settings: Settings, server: ServerProcess, bench: Bench, block: Buffer): Promise<void> {
  const creds = { accessKeyId: CREDS.accessKeyId, secretAccessKey: CREDS.secretAccessKey };
  const maxConcurrency = Math.max(settings.small.concurrency, settings.medium.concurrency, settings.large.concurrency);
  const raw = new RawS3(server.host, server.port, creds, maxConcurrency);
  try {
    await raw.createBucket(BUCKET);

    // Warm-up (not measured): loads and JITs the PUT/GET code paths, so the first phase is
    // not mostly start-up cost.
    const warmSha = patternSha256(block, 4 * KiB);
    await pool(40, 4, async (i) => {
      await raw.put(BUCKET, `warmup/${i}`, smallBody(block, 4 * KiB), 4 * KiB, warmSha);
      checkDownload(`warmup/${i}`, await raw.get(BUCKET, `warmup/${i}`), 4 * KiB, warmSha);
    });

    const sizes: Array<{ size: number; count: number; concurrency: number }> = [
      { size: 4 * KiB, ...settings.small },
      { size: MiB, ...settings.medium },
      { size: 64 * MiB, ...settings.large },
    ];
    for (const { size, count, concurrency } of sizes) {
      const label = humanSize(size);
      const sha = patternSha256(block, size);
      const key = (i: number) => `${label.replace(' ', '')}/obj-${String(i).padStart(5, '0')}`;
      const body = () => (size <= BLOCK_SIZE ? smallBody(block, size) : new PatternStream(block, size));
      await bench.phase(`PUT ${label}`, 'PutObject', size, concurrency, async () => ({
        objects: count,
        bytes: count * size,
        latencies: await pool(count, concurrency, async (i) => {
          await raw.put(BUCKET, key(i), body(), size, sha);
        }),
      }));
      await bench.phase(`GET ${label}`, 'GetObject', size, concurrency, async () => ({
        objects: count,
        bytes: count * size,
        latencies: await pool(count, concurrency, async (i) => {
          checkDownload(key(i), await raw.get(BUCKET, key(i)), size, sha);
        }),
      }));
    }

    // Multipart upload through the SDK's managed uploader, body generated as it goes.
    const mpuSize = settings.multipartBytes;
    const mpuLabel = humanSize(mpuSize);
    const mpuKey = `multipart/${mpuLabel.replace(' ', '')}`;
    const mpuSha = patternSha256(block, mpuSize);
    const httpAgent = new http.Agent({ keepAlive: true, maxSockets: settings.multipartQueue + 2 });
    const s3 = new S3Client({
      endpoint: server.url,
      region: 'us-east-1',
      forcePathStyle: true,
      credentials: creds,
      requestHandler: { httpAgent, requestTimeout: 120_000 },
    });
    const times = timeCommands(s3);
    try {
      await bench.phase(`MPU ${mpuLabel}`, 'multipart upload (lib-storage)', mpuSize, settings.multipartQueue, async () => {
        const t0 = performance.now();
        const upload = new Upload({
          client: s3,
          params: { Bucket: BUCKET, Key: mpuKey, Body: new PatternStream(block, mpuSize) },
          partSize: settings.multipartPartMiB * MiB,
          queueSize: settings.multipartQueue,
          leavePartsOnError: false,
        });
        const out = await upload.done();
        return {
          objects: 1,
          bytes: mpuSize,
          latencies: [performance.now() - t0],
          details: {
            etag: 'ETag' in out ? out.ETag : undefined,
            partSizeMiB: settings.multipartPartMiB,
            queueSize: settings.multipartQueue,
            commands: summarizeTimes(times),
          },
        };
      });
    } finally {
      s3.destroy();
      httpAgent.destroy();
    }
    await bench.phase(`GET ${mpuLabel}`, 'GetObject (multipart object)', mpuSize, 1, async () => {
      const t0 = performance.now();
      const got = await raw.get(BUCKET, mpuKey);
      checkDownload(mpuKey, got, mpuSize, mpuSha);
      return { objects: 1, bytes: mpuSize, latencies: [performance.now() - t0], details: { etag: got.etag } };
    });
  } finally {
    raw.close();
  }
}

function memoryVerdict(results: PhaseResult[], thresholdMiB: number): MemoryVerdict {
  const small = results.filter((r) => r.objectBytes === 4 * KiB);
  const baselinePeakMiB = Math.max(...small.map((r) => r.server.peakRssMiB));
  const comparisons = results
    .filter((r) => r.objectBytes >= 64 * MiB)
    .map((r) => {
      const growthMiB = r.server.peakRssMiB - baselinePeakMiB;
      return { name: r.name, peakMiB: r.server.peakRssMiB, growthMiB, exceeds: growthMiB > thresholdMiB };
    });
  return {
    baselineName: small.map((r) => r.name).join('/'),
    baselinePeakMiB,
    thresholdMiB,
    comparisons,
    ok: comparisons.every((c) => !c.exceeds),
  };
}

/**
 * On the memory backend: per PUT phase, how far the peak RSS rose above the RSS before the
 * phase beyond the bytes the phase stored (GET phases store nothing).
 */
function beyondStoredLines(results: PhaseResult[]): string[] {
  const parts = results.map((r) => {
    const stored = /Put|multipart/i.test(r.op) && !/^GET/.test(r.name) ? (r.objects * r.objectBytes) / MiB : 0;
    const beyond = r.server.peakRssMiB - r.server.rssBeforeMiB - stored;
    return `${r.name} ${beyond >= 0 ? '+' : ''}${beyond.toFixed(1)} MiB`;
  });
  return [`memory backend: peak RSS above the RSS before each phase, beyond the bytes the phase stored: ${parts.join('; ')}`];
}

function reportVerdictLines(verdict: MemoryVerdict, settings: Settings, extra: string[]): string[] {
  const lines = verdictLines(verdict);
  if (settings.assertMemory) return lines;
  return [
    ...lines.filter((l) => !/^(WARNING|memory: OK)/.test(l)),
    ...extra,
    "memory: not asserted on the memory backend (the objects are in s3mux's own process)",
  ];
}

/** Replaces (or adds) one extra section of bench/RESULTS.md, keeping the rest. */
function writeExtraSection(key: string, content: string): void {
  const mdFile = path.join(OUT_DIR, 'RESULTS.md');
  const existing = existsSync(mdFile) ? readFileSync(mdFile, 'utf8') : '# s3mux benchmark results\n';
  writeFileSync(mdFile, replaceSection(existing, key, sectionBlock(key, content)));
}

function writeResults(
  target: BackendTarget,
  settings: Settings,
  json: unknown,
  report: string,
  verdict: MemoryVerdict,
  extraLines: string[],
): void {
  const mdFile = path.join(OUT_DIR, 'RESULTS.md');
  const existing = existsSync(mdFile) ? readFileSync(mdFile, 'utf8') : '';
  const rel = (f: string) => path.relative(process.cwd(), f);
  if (target.name === 'fs') {
    if (settings.quick) {
      console.log('--quick: bench/results.json and bench/RESULTS.md are left as they were (they hold full runs)');
      return;
    }
    const jsonFile = path.join(OUT_DIR, 'results.json');
    writeFileSync(jsonFile, JSON.stringify(json, null, 2) + '\n');
    writeFileSync(mdFile, replaceHead(existing, report));
    console.log(`wrote ${rel(jsonFile)} and ${rel(mdFile)}`);
    return;
  }
  const jsonFile = path.join(OUT_DIR, `results-${target.name}.json`);
  if (settings.quick && existsSync(jsonFile)) {
    try {
      const prev = JSON.parse(readFileSync(jsonFile, 'utf8')) as { settings?: { quick?: boolean } };
      if (prev.settings?.quick === false) {
        console.log(`--quick: ${rel(jsonFile)} and its section of ${rel(mdFile)} hold a full run and are left as they were`);
        return;
      }
    } catch {
      /* unreadable: replace it */
    }
  }
  writeFileSync(jsonFile, JSON.stringify(json, null, 2) + '\n');
  // The backend's section: the report with its heading demoted and the setup naming the store.
  const body = report
    .replace(
      /^# s3mux benchmark results\n\nGenerated by `npm run bench` \(bench\/run\.ts\)/,
      `## Backend: ${target.name}${settings.quick ? ' (--quick)' : ''}\n\nGenerated by \`npm run bench -- ${settings.quick ? '--quick ' : ''}--backend ${target.name}\` (bench/run.ts)`,
    )
    .replace(
      'filesystem backend over a temporary directory',
      `routing table whose default backend is ${target.kind} on ${target.store} (its own process)`,
    )
    .trimEnd();
  const verdictAt = body.lastIndexOf('\n\nmemory: server peak RSS');
  const table = verdictAt >= 0 ? body.slice(0, verdictAt) : body;
  const limits = settings.limits.length
    ? `\n\nLimits of this store (phases shortened or left out, and why):\n\n${settings.limits.map((l) => `- ${l}`).join('\n')}`
    : '';
  const verdictText = reportVerdictLines(verdict, settings, extraLines).join('\n\n');
  const key = `backend:${target.name}`;
  writeFileSync(mdFile, replaceSection(existing, key, sectionBlock(key, `${table}${limits}\n\n${verdictText}`)));
  console.log(`wrote ${rel(jsonFile)} and the ${target.name} section of ${rel(mdFile)}`);
}

/** The ceiling cells or the profile (fs only): printed, and on full runs written to bench/results-ceiling.json / results-profile.json and their sections of bench/RESULTS.md. */
async function ceilingParts(settings: Settings): Promise<number> {
  const machine = machineInfo(REPO_DIR);
  const rel = (f: string) => path.relative(process.cwd(), f);
  const writeOut = !settings.quick;
  if (settings.parts.profile) {
    const profiled = settings.ceiling.profileProxy ? 'the front s3mux (s3 backend onto a second s3mux)' : 's3mux (fs)';
    console.log(`profile${settings.quick ? ' (--quick)' : ''}: ${profiled} under the V8 sampling profiler, cell by cell`);
    const cells = await runProfile(settings.ceiling, CREDS, (l) => console.log(l));
    // Some cells (--cells) do not replace the profile section of the full set.
    if (writeOut && !settings.ceiling.cellFilter && !settings.ceiling.profileProxy) {
      const jsonFile = path.join(OUT_DIR, 'results-profile.json');
      writeFileSync(
        jsonFile,
        JSON.stringify(
          {
            machine,
            cells: cells.map((c) => ({
              ...c,
              summary: { ...c.summary, functions: [...c.summary.functions].sort((a, b) => b.selfMs - a.selfMs).slice(0, 60) },
            })),
          },
          null,
          2,
        ) + '\n',
      );
      writeExtraSection('profile', profileSection(cells, machine));
      console.log(`wrote ${rel(jsonFile)} and the profile section of ${rel(path.join(OUT_DIR, 'RESULTS.md'))}`);
    }
    return 0;
  }
  console.log(
    `ceiling${settings.quick ? ' (--quick)' : ''}: s3mux (fs) against a bare Node HTTP server, ${settings.ceiling.rounds} round(s) of ${settings.ceiling.cellSeconds} s cells${settings.ceiling.proxy ? ', and the s3 backend onto a second s3mux' : ''}`,
  );
  const run = await runCeiling(settings.ceiling, CREDS, (l) => console.log(l));
  const section = ceilingSection(run, machine);
  console.log('');
  console.log(section);
  if (writeOut) {
    // A run of some cells (--cells) does not replace the full table: it has its own section.
    const filter = settings.ceiling.cellFilter;
    const key = filter
      ? filter.source === '64 MiB'
        ? 'ceiling-cells'
        : `ceiling-cells-${filter.source.replace(/[^A-Za-z0-9]+/g, '-').toLowerCase()}`
      : 'ceiling';
    const jsonFile = path.join(OUT_DIR, `results-${key}.json`);
    writeFileSync(
      jsonFile,
      JSON.stringify({ machine, ...run, settings: { ...run.settings, cellFilter: settings.ceiling.cellFilter?.source } }, null, 2) + '\n',
    );
    writeExtraSection(
      key,
      settings.ceiling.cellFilter ? section.replace(/^## (.*)/, `## $1 (cells matching /${settings.ceiling.cellFilter.source}/)`) : section,
    );
    console.log(`wrote ${rel(jsonFile)} and the ceiling section of ${rel(path.join(OUT_DIR, 'RESULTS.md'))}`);
  } else {
    console.log('--quick: bench/results-ceiling.json and bench/RESULTS.md are left as they were');
  }
  return 0;
}

/** Set once the bench is being stopped from outside (signal, deadline): that path owns the exit. */
let bailing: number | undefined;

const CREDS = { accessKeyId: 's3muxbench', secretAccessKey: randomBytes(18).toString('base64url') };

async function main(): Promise<number> {
  const settings = parseArgs(process.argv.slice(2));
  if (process.platform !== 'linux') throw new Error('the bench reads /proc/PID/status and needs Linux');

  const target = TARGETS.find((t) => t.name === settings.backend)!;
  const unavailable = target.available();
  if (unavailable) throw new Error(`backend ${target.name}: ${unavailable}`);
  fitToStore(settings, target);

  let server: ServerProcess | undefined;
  let sampler: RssSampler | undefined;
  let store: RunningStore | undefined;
  let storeStarting: Promise<RunningStore> | undefined;
  let storeDir: string | undefined;
  const storeChildren: ChildProcess[] = [];
  const storeKillers: Array<{ kill(): void }> = [];
  let cleaning: Promise<void> | undefined;
  const cleanup = (): Promise<void> =>
    (cleaning ??= (async () => {
      await sampler?.stop().catch(() => undefined);
      await server?.stop();
      // A store still starting when the bench was stopped is stopped once it is up (its start is bounded).
      const running = store ?? (await storeStarting?.catch(() => undefined));
      await running?.stop().catch((err) => console.error(`bench: stopping the ${target.name} store failed: ${(err as Error).message}`));
      for (const k of storeKillers) {
        try {
          k.kill();
        } catch {
          /* gone */
        }
      }
      if (storeDir) rmSync(storeDir, { recursive: true, force: true });
    })());
  const bail = (message: string, code: number) => {
    if (bailing !== undefined) return;
    bailing = code;
    console.error(
      `\nbench: ${message}; stopping s3mux${target.name === 'fs' ? '' : ` and the ${target.name} store`} and removing the data`,
    );
    void cleanup().finally(() => process.exit(code));
  };
  process.once('SIGINT', () => bail('interrupted', 130));
  process.once('SIGTERM', () => bail('terminated', 143));
  process.on('exit', () => {
    server?.stopSync();
    for (const p of ceilingProcesses) p.stopSync();
    for (const k of storeKillers) {
      try {
        k.kill();
      } catch {
        /* gone */
      }
    }
    if (storeDir) rmSync(storeDir, { recursive: true, force: true });
  });
  const deadline = setTimeout(() => bail(`did not finish within ${settings.timeoutS} s (--timeout-s)`, 2), settings.timeoutS * 1000);
  deadline.unref();

  try {
    if (!settings.parts.phases) return await ceilingParts(settings);
    const block = makeBlock();
    let configFile: string | undefined;
    if (target.name !== 'fs') {
      storeDir = mkdtempSync(path.join(os.tmpdir(), `s3mux-bench-${target.name}-`));
      console.log(`backend ${target.name}: ${target.store}`);
      storeStarting = target.start({
        dir: storeDir,
        track: (child) => {
          if ('spawnargs' in child) {
            storeChildren.push(child);
            storeKillers.push({
              kill: () => {
                child.kill('SIGKILL');
              },
            });
          } else {
            storeKillers.push(child); // the e2e ServerProcess: kill() is SIGKILL
          }
        },
      });
      store = await storeStarting;
      if (target.kind === 'azure') settings.limits.push(checkAzuriteCapacity(settings, storeChildren));
      if (store.table) {
        configFile = path.join(storeDir, 'routing.json');
        writeFileSync(configFile, JSON.stringify({ $comment: `bench: ${target.name}: ${target.store}`, ...store.table }, null, 2));
      }
    }
    for (const l of settings.limits) console.log(`note (${target.name}): ${l}`);
    server = await startServerProcess(CREDS, { configFile, env: store?.env });
    sampler = new RssSampler(server.pid, settings.sampleMs);
    const idle = readStatus(server.pid);
    console.log(
      `s3mux pid ${server.pid} at ${server.url}, ${configFile ? `routing table ${configFile} (default backend: ${target.name})` : `data in ${server.dataDir}`}; idle RSS ${(idle.rssKiB / KiB).toFixed(1)} MiB`,
    );
    if (!resetPeak(server.pid)) console.log('note: /proc/PID/clear_refs is not writable; peak RSS is from 50 ms samples only');
    const machine = machineInfo(REPO_DIR);
    if (machine.loadAvg1 > machine.cpus / 4) {
      console.log(
        `note: load average ${machine.loadAvg1.toFixed(2)} on ${machine.cpus} cores at start: other processes compete for the CPU, so throughput will read low; the memory check does not depend on speed`,
      );
    }
    console.log(`phases${settings.quick ? ' (--quick)' : ''}:`);

    const bench = new Bench(server, sampler);
    await runPhases(settings, server, bench, block);

    if (configFile) {
      // With a routing table nothing may land in s3mux's --data-dir: if it did, the phases
      // measured a local fs backend, not the target's store.
      const stray = readdirSync(server.dataDir);
      if (stray.length)
        throw new Error(
          `s3mux stored data in its --data-dir (${stray.slice(0, 3).join(', ')}) instead of on the ${target.name} backend: was the routing table ignored?`,
        );
    }

    const verdict = memoryVerdict(bench.results, settings.thresholdMiB);
    const extraLines = settings.assertMemory ? [] : beyondStoredLines(bench.results);
    if (!settings.assertMemory) verdict.ok = true;
    machine.loadAvg1End = Math.round(os.loadavg()[0] * 100) / 100;
    console.log('');
    console.log(consoleTable(bench.results, verdict));
    console.log('');
    for (const line of detailLines(bench.results)) console.log(line);
    for (const line of reportVerdictLines(verdict, settings, extraLines)) (line.startsWith('WARNING') ? console.error : console.log)(line);
    for (const l of settings.limits) console.log(`note (${target.name}): ${l}`);
    if (server.internalErrors() > 0) console.error(`note: the server logged ${server.internalErrors()} internal error(s)`);

    const json = {
      machine,
      backend: { name: target.name, kind: target.kind, store: target.store },
      settings: { ...settings, blockBytes: BLOCK_SIZE },
      server: { idleRssMiB: idle.rssKiB / KiB, internalErrors: server.internalErrors() },
      phases: bench.results,
      memory: { ...verdict, asserted: settings.assertMemory },
    };
    writeResults(target, settings, json, markdownReport(machine, { ...settings }, bench.results, verdict), verdict, extraLines);
    if (settings.parts.ceiling) {
      // The ceiling starts its own servers over empty stores.
      await sampler.stop();
      sampler = undefined;
      await server.stop();
      console.log('');
      await ceilingParts(settings);
    }
    return verdict.ok ? 0 : 1;
  } catch (err) {
    const tail = server?.logTail().slice(-20) ?? [];
    if (bailing === undefined) {
      if (server && !server.alive()) console.error(`\ns3mux exited during the bench (${server.exitInfo()})`);
      if (tail.length) console.error(`\nlast lines from s3mux:\n  ${tail.join('\n  ')}`);
    }
    throw err;
  } finally {
    clearTimeout(deadline);
    await cleanup();
  }
}

(process.argv.includes('--transfer') ? (require('./transfer') as typeof import('./transfer')).runTransferBench() : main()).then(
  (code) => {
    if (bailing === undefined) process.exit(code);
  },
  (err: unknown) => {
    if (bailing !== undefined) return;
    console.error(`\nbench failed: ${err instanceof Error ? err.message : String(err)}`);
    process.exit(2);
  },
);
