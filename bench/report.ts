/** Formatting the results: a console table, bench/results.json and bench/RESULTS.md. */
import { execFileSync } from 'node:child_process';
import os from 'node:os';

export interface PhaseResult {
  name: string;
  op: string;
  objectBytes: number;
  objects: number;
  concurrency: number;
  seconds: number;
  opsPerSec: number;
  mibPerSec: number;
  latencyMs: { p50: number; p99: number; max: number };
  server: {
    rssBeforeMiB: number;
    peakRssMiB: number;
    rssAfterMiB: number;
    /** 'VmHWM' when the kernel high-water mark was reset for the phase, else 'sampled'. */
    peakSource: 'VmHWM' | 'sampled';
    samples: number;
    cpuSeconds: number;
    /** Of one core; may exceed 100 (libuv threads, GC helpers). */
    cpuPercent: number;
  };
  client: { cpuPercent: number };
  /** Per-command timings and the like, for phases that have them. */
  details?: Record<string, unknown>;
  /** [ms since phase start, server VmRSS MiB], at most 100 points. */
  rssSeriesMiB: Array<[number, number]>;
}

export interface MemoryVerdict {
  baselineName: string;
  baselinePeakMiB: number;
  thresholdMiB: number;
  comparisons: Array<{ name: string; peakMiB: number; growthMiB: number; exceeds: boolean }>;
  ok: boolean;
}

export interface Machine {
  date: string;
  cpus: number;
  cpuModel: string;
  memoryGiB: number;
  node: string;
  platform: string;
  commit?: string;
  /** 1-minute load average when the bench started and when it ended: other work on the machine. */
  loadAvg1: number;
  loadAvg1End?: number;
}

export function machineInfo(repoDir: string): Machine {
  const cpus = os.cpus();
  let commit: string | undefined;
  try {
    commit = execFileSync('git', ['rev-parse', '--short', 'HEAD'], {
      cwd: repoDir,
      encoding: 'utf8',
      stdio: ['ignore', 'pipe', 'ignore'],
    }).trim();
    const dirty = execFileSync('git', ['status', '--porcelain', '--', 'src'], {
      cwd: repoDir,
      encoding: 'utf8',
      stdio: ['ignore', 'pipe', 'ignore'],
    }).trim();
    if (dirty) commit += ' + uncommitted changes in src/';
  } catch {
    commit = undefined;
  }
  return {
    date: new Date().toISOString(),
    cpus: cpus.length,
    cpuModel: cpus[0]?.model?.trim() ?? 'unknown',
    memoryGiB: Math.round((os.totalmem() / 2 ** 30) * 10) / 10,
    node: process.version,
    platform: `${os.type()} ${os.release()} ${os.arch()}`,
    commit,
    loadAvg1: Math.round(os.loadavg()[0] * 100) / 100,
  };
}

export function humanSize(bytes: number): string {
  if (bytes >= 2 ** 30 && bytes % 2 ** 30 === 0) return `${bytes / 2 ** 30} GiB`;
  if (bytes >= 2 ** 20 && bytes % 2 ** 20 === 0) return `${bytes / 2 ** 20} MiB`;
  if (bytes >= 2 ** 10 && bytes % 2 ** 10 === 0) return `${bytes / 2 ** 10} KiB`;
  return `${bytes} B`;
}

const f0 = (n: number) => n.toFixed(0);
const f1 = (n: number) => n.toFixed(1);
const f2 = (n: number) => (n < 10 ? n.toFixed(2) : n < 100 ? n.toFixed(1) : n.toFixed(0));
const signed = (n: number) => `${n >= 0 ? '+' : ''}${n.toFixed(1)}`;

const HEADERS = [
  'phase',
  'objects',
  'conc',
  'time s',
  'ops/s',
  'MiB/s',
  'p50 ms',
  'p99 ms',
  'srv CPU%',
  'cli CPU%',
  'srv RSS before',
  'srv peak RSS',
  'peak vs 4 KiB',
];

function rows(results: PhaseResult[], verdict: MemoryVerdict): string[][] {
  return results.map((r) => {
    const growth = r.server.peakRssMiB - verdict.baselinePeakMiB;
    return [
      r.name,
      String(r.objects),
      String(r.concurrency),
      f2(r.seconds),
      f2(r.opsPerSec),
      f1(r.mibPerSec),
      f2(r.latencyMs.p50),
      f2(r.latencyMs.p99),
      f0(r.server.cpuPercent),
      f0(r.client.cpuPercent),
      `${f1(r.server.rssBeforeMiB)} MiB`,
      `${f1(r.server.peakRssMiB)} MiB${r.server.peakSource === 'sampled' ? '*' : ''}`,
      `${signed(growth)} MiB`,
    ];
  });
}

const NUMERIC = new Set([1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12]);

export function consoleTable(results: PhaseResult[], verdict: MemoryVerdict): string {
  const body = rows(results, verdict);
  const widths = HEADERS.map((h, i) => Math.max(h.length, ...body.map((r) => r[i].length)));
  const line = (cells: string[]) => cells.map((c, i) => (NUMERIC.has(i) ? c.padStart(widths[i]) : c.padEnd(widths[i]))).join('  ');
  return [line(HEADERS), widths.map((w) => '-'.repeat(w)).join('  '), ...body.map(line)].join('\n');
}

export function markdownTable(results: PhaseResult[], verdict: MemoryVerdict): string {
  const body = rows(results, verdict);
  const line = (cells: string[]) => `| ${cells.join(' | ')} |`;
  const align = HEADERS.map((_, i) => (NUMERIC.has(i) ? '---:' : '---'));
  return [line(HEADERS), line(align), ...body.map(line)].join('\n');
}

export function verdictLines(verdict: MemoryVerdict): string[] {
  const parts = verdict.comparisons.map((c) => `${c.name} ${f1(c.peakMiB)} MiB (${signed(c.growthMiB)} MiB)`);
  const lines = [`memory: server peak RSS ${verdict.baselineName} ${f1(verdict.baselinePeakMiB)} MiB; ${parts.join('; ')}`];
  for (const c of verdict.comparisons.filter((x) => x.exceeds)) {
    lines.push(
      `WARNING: server peak RSS in '${c.name}' is ${f1(c.growthMiB)} MiB above the small-object phases (limit ${verdict.thresholdMiB} MiB): memory grows with object size; something may buffer instead of streaming`,
    );
  }
  if (verdict.ok)
    lines.push(`memory: OK, peak RSS does not grow with object size (all within ${verdict.thresholdMiB} MiB of the 4 KiB phases)`);
  return lines;
}

/** One line per phase that has per-command timings (the multipart upload). */
export function detailLines(results: PhaseResult[]): string[] {
  const lines: string[] = [];
  for (const r of results) {
    const commands = r.details?.commands as Record<string, { count: number; p50Ms: number; maxMs: number; totalMs: number }> | undefined;
    if (!commands) continue;
    const parts = Object.entries(commands).map(([name, t]) => {
      const short = name.replace(/Command$/, '');
      return t.count === 1
        ? `${short} ${(t.totalMs / 1000).toFixed(2)} s`
        : `${short} ×${t.count} p50 ${(t.p50Ms / 1000).toFixed(2)} s, max ${(t.maxMs / 1000).toFixed(2)} s`;
    });
    lines.push(`${r.name}: ${parts.join('; ')} (wall ${r.seconds.toFixed(2)} s)`);
  }
  return lines;
}

export function markdownReport(
  machine: Machine,
  settings: { multipartPartMiB: number; multipartQueue: number; sampleMs: number } & Record<string, unknown>,
  results: PhaseResult[],
  verdict: MemoryVerdict,
): string {
  return `# s3mux benchmark results

Generated by \`npm run bench\` (bench/run.ts) on ${machine.date.slice(0, 10)}.

- machine: ${machine.cpus} × ${machine.cpuModel}, ${machine.memoryGiB} GiB memory, ${machine.platform}
- node: ${machine.node}${machine.commit ? `\n- s3mux: ${machine.commit}` : ''}
- date: ${machine.date}
- load average (1 min) at start / end: ${machine.loadAvg1} / ${machine.loadAvg1End ?? '?'}${machine.loadAvg1 > machine.cpus / 4 ? ' (other work was running: throughput reads low; the memory check does not depend on speed)' : ''}
- setup: s3mux as a child process on 127.0.0.1, filesystem backend over a temporary directory; the
  bench client runs on the same machine and shares its cores. Single PUT/GET use raw SigV4-signed
  http requests (payload sha256 signed, verified by the server as it streams; downloads hashed and
  checked); the multipart upload uses @aws-sdk/lib-storage (${settings.multipartPartMiB} MiB parts, queueSize ${settings.multipartQueue}, the SDK's
  default checksums). Bodies are generated from one repeating random 1 MiB block.
- RSS: the server process's VmRSS (sampled every ${settings.sampleMs} ms) and VmHWM (reset per phase through
  /proc/PID/clear_refs); "peak" is the larger of the two${results.some((r) => r.server.peakSource === 'sampled') ? ' (* = sampled only, the reset was not permitted)' : ''}.
  CPU% is of one core.

${markdownTable(results, verdict)}
${detailLines(results)
  .map((l) => `\n${l}`)
  .join('\n')}

${verdictLines(verdict)
  .map((l) => `${l}`)
  .join('\n\n')}
`;
}
