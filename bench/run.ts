/**
 * npm run bench [-- --quick] [-- --threshold-mib N] [-- --timeout-s N]
 *
 * Starts s3mux as a child process over a temporary data directory, runs PUT and GET phases
 * of 4 KiB, 1 MiB and 64 MiB objects, a 1 GiB multipart upload and its download, and
 * measures throughput and the SERVER's RSS in each phase. Writes bench/results.json and
 * bench/RESULTS.md.
 *
 * The one thing it asserts is streaming: the server's peak RSS must not grow with object
 * size. When a large-object phase peaks more than --threshold-mib (64) above the 4 KiB
 * phases it prints a WARNING and exits 1. Speed is reported, never asserted.
 * Exit codes: 0 ok, 1 memory regression, 2 the bench itself failed, 130 interrupted.
 */
import './quiet-warnings';
import { randomBytes } from 'node:crypto';
import { writeFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { performance } from 'node:perf_hooks';
import { S3Client } from '@aws-sdk/client-s3';
import { Upload } from '@aws-sdk/lib-storage';
import http from 'node:http';
import { BLOCK_SIZE, PatternStream, makeBlock, patternSha256, smallBody } from './body';
import { RssSampler, cpuSeconds, downsample, readStatus, resetPeak } from './memory';
import { RawS3 } from './raw-client';
import { consoleTable, detailLines, humanSize, machineInfo, markdownReport, verdictLines, type MemoryVerdict, type PhaseResult } from './report';
import { startServerProcess, type ServerProcess } from './server-process';

const KiB = 1024;
const MiB = 1024 * KiB;
const GiB = 1024 * MiB;

const REPO_DIR = path.resolve(__dirname, '..', '..');
const OUT_DIR = path.join(REPO_DIR, 'bench');
const BUCKET = 'bench';
const SAMPLE_MS = 50;

interface Settings {
  quick: boolean;
  thresholdMiB: number;
  timeoutS: number;
  small: { count: number; concurrency: number };
  medium: { count: number; concurrency: number };
  large: { count: number; concurrency: number };
  multipartBytes: number;
  multipartPartMiB: number;
  multipartQueue: number;
  sampleMs: number;
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
    if (a.startsWith('--') && !['--quick', '--threshold-mib', '--timeout-s'].includes(a)) {
      throw new Error(`unknown option ${a}\nusage: npm run bench [-- --quick] [-- --threshold-mib N] [-- --timeout-s N]`);
    }
  }
  return {
    quick,
    thresholdMiB: num('--threshold-mib', 64),
    timeoutS: num('--timeout-s', 600),
    small: { count: quick ? 200 : 1000, concurrency: 4 },
    medium: { count: quick ? 20 : 100, concurrency: 4 },
    large: { count: quick ? 2 : 8, concurrency: 2 },
    multipartBytes: quick ? 256 * MiB : GiB,
    multipartPartMiB: 16,
    multipartQueue: 4,
    sampleMs: SAMPLE_MS,
  };
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

  constructor(private readonly server: ServerProcess, private readonly sampler: RssSampler) {}

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
    process.stdout.write(` ${seconds.toFixed(2)} s, ${r.mibPerSec.toFixed(1)} MiB/s, server RSS ${r.server.rssBeforeMiB.toFixed(1)} -> peak ${r.server.peakRssMiB.toFixed(1)} MiB\n`);
    return r;
  }

  private assertAlive(): void {
    if (!this.server.alive()) throw new Error(`s3mux exited unexpectedly\n  server output:\n    ${this.server.logTail().join('\n    ')}`);
  }
}

function checkDownload(key: string, got: { bytes: number; sha256: string }, size: number, sha256: string): void {
  if (got.bytes !== size) throw new Error(`GET ${key}: ${got.bytes} bytes, expected ${size}`);
  if (got.sha256 !== sha256) throw new Error(`GET ${key}: content differs from what was uploaded (sha256 ${got.sha256}, expected ${sha256})`);
}

/** Per-command timings of an SDK client, through a middleware. */
function timeCommands(client: S3Client): Map<string, number[]> {
  const times = new Map<string, number[]>();
  client.middlewareStack.add(
    <A, O>(next: (args: A) => Promise<O>, context: { commandName?: string }) => async (args: A): Promise<O> => {
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
        latencies: await pool(count, concurrency, async (i) => { await raw.put(BUCKET, key(i), body(), size, sha); }),
      }));
      await bench.phase(`GET ${label}`, 'GetObject', size, concurrency, async () => ({
        objects: count,
        bytes: count * size,
        latencies: await pool(count, concurrency, async (i) => { checkDownload(key(i), await raw.get(BUCKET, key(i)), size, sha); }),
      }));
    }

    // Multipart upload through the SDK's managed uploader, body generated as it goes.
    const mpuSize = settings.multipartBytes;
    const mpuLabel = humanSize(mpuSize);
    const mpuKey = `multipart/${mpuLabel.replace(' ', '')}`;
    const mpuSha = patternSha256(block, mpuSize);
    const httpAgent = new http.Agent({ keepAlive: true, maxSockets: settings.multipartQueue + 2 });
    const s3 = new S3Client({
      endpoint: server.url, region: 'us-east-1', forcePathStyle: true, credentials: creds,
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
          details: { etag: 'ETag' in out ? out.ETag : undefined, partSizeMiB: settings.multipartPartMiB, queueSize: settings.multipartQueue, commands: summarizeTimes(times) },
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
  return { baselineName: small.map((r) => r.name).join('/'), baselinePeakMiB, thresholdMiB, comparisons, ok: comparisons.every((c) => !c.exceeds) };
}

/** Set once the bench is being stopped from outside (signal, deadline): that path owns the exit. */
let bailing: number | undefined;

const CREDS = { accessKeyId: 's3muxbench', secretAccessKey: randomBytes(18).toString('base64url') };

async function main(): Promise<number> {
  const settings = parseArgs(process.argv.slice(2));
  if (process.platform !== 'linux') throw new Error('the bench reads /proc/PID/status and needs Linux');

  let server: ServerProcess | undefined;
  let sampler: RssSampler | undefined;
  let cleaning: Promise<void> | undefined;
  const cleanup = (): Promise<void> => (cleaning ??= (async () => {
    await sampler?.stop().catch(() => undefined);
    await server?.stop();
  })());
  const bail = (message: string, code: number) => {
    if (bailing !== undefined) return;
    bailing = code;
    console.error(`\nbench: ${message}; stopping s3mux and removing its data directory`);
    void cleanup().finally(() => process.exit(code));
  };
  process.once('SIGINT', () => bail('interrupted', 130));
  process.once('SIGTERM', () => bail('terminated', 143));
  process.on('exit', () => server?.stopSync());
  const deadline = setTimeout(() => bail(`did not finish within ${settings.timeoutS} s (--timeout-s)`, 2), settings.timeoutS * 1000);
  deadline.unref();

  try {
    const block = makeBlock();
    server = await startServerProcess(CREDS);
    sampler = new RssSampler(server.pid, settings.sampleMs);
    const idle = readStatus(server.pid);
    console.log(`s3mux pid ${server.pid} at ${server.url}, data in ${server.dataDir}; idle RSS ${(idle.rssKiB / KiB).toFixed(1)} MiB`);
    if (!resetPeak(server.pid)) console.log('note: /proc/PID/clear_refs is not writable; peak RSS is from 50 ms samples only');
    const machine = machineInfo(REPO_DIR);
    if (machine.loadAvg1 > machine.cpus / 4) {
      console.log(`note: load average ${machine.loadAvg1.toFixed(2)} on ${machine.cpus} cores at start: other processes compete for the CPU, so throughput will read low; the memory check does not depend on speed`);
    }
    console.log(`phases${settings.quick ? ' (--quick)' : ''}:`);

    const bench = new Bench(server, sampler);
    await runPhases(settings, server, bench, block);

    const verdict = memoryVerdict(bench.results, settings.thresholdMiB);
    machine.loadAvg1End = Math.round(os.loadavg()[0] * 100) / 100;
    console.log('');
    console.log(consoleTable(bench.results, verdict));
    console.log('');
    for (const line of detailLines(bench.results)) console.log(line);
    for (const line of verdictLines(verdict)) (line.startsWith('WARNING') ? console.error : console.log)(line);
    if (server.internalErrors() > 0) console.error(`note: the server logged ${server.internalErrors()} internal error(s)`);

    const json = {
      machine,
      settings: { ...settings, blockBytes: BLOCK_SIZE },
      server: { idleRssMiB: idle.rssKiB / KiB, internalErrors: server.internalErrors() },
      phases: bench.results,
      memory: verdict,
    };
    if (settings.quick) {
      console.log('--quick: bench/results.json and bench/RESULTS.md are left as they were (they hold full runs)');
    } else {
      writeFileSync(path.join(OUT_DIR, 'results.json'), JSON.stringify(json, null, 2) + '\n');
      writeFileSync(path.join(OUT_DIR, 'RESULTS.md'), markdownReport(machine, settings as unknown as Record<string, unknown>, bench.results, verdict));
      console.log(`wrote ${path.relative(process.cwd(), path.join(OUT_DIR, 'results.json'))} and ${path.relative(process.cwd(), path.join(OUT_DIR, 'RESULTS.md'))}`);
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

main().then(
  (code) => { if (bailing === undefined) process.exit(code); },
  (err: unknown) => {
    if (bailing !== undefined) return;
    console.error(`\nbench failed: ${err instanceof Error ? err.message : String(err)}`);
    process.exit(2);
  },
);
