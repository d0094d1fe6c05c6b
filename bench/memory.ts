/**
 * Memory and CPU of another process, from /proc (Linux only).
 *
 * Peak RSS per phase comes from two sources, and the larger wins:
 *  - VmHWM, the kernel's own high-water mark, reset at the start of each phase by writing
 *    "5" to /proc/PID/clear_refs (Linux >= 4.0, same user) — it sees spikes between samples;
 *  - VmRSS sampled every ~50 ms by a worker thread (also the fallback when the reset is
 *    not permitted, in which case VmHWM is the lifetime peak and is not used per phase).
 */
import { readFileSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { Worker } from 'node:worker_threads';

export interface ProcStatus {
  rssKiB: number;
  hwmKiB: number;
}

export function parseStatus(text: string): ProcStatus {
  const field = (name: string): number => {
    const m = new RegExp(`^${name}:\\s+(\\d+)\\s+kB`, 'm').exec(text);
    if (!m) throw new Error(`/proc status has no ${name}`);
    return Number(m[1]);
  };
  return { rssKiB: field('VmRSS'), hwmKiB: field('VmHWM') };
}

export function readStatus(pid: number): ProcStatus {
  return parseStatus(readFileSync(`/proc/${pid}/status`, 'utf8'));
}

/** Resets VmHWM to the current RSS. False when the kernel does not allow it. */
export function resetPeak(pid: number): boolean {
  try {
    writeFileSync(`/proc/${pid}/clear_refs`, '5');
    return true;
  } catch {
    return false;
  }
}

/** Clock ticks per second for /proc/PID/stat times: USER_HZ, 100 on every mainstream Linux build. */
const USER_HZ = 100;

/** CPU seconds (user + system) the process has used so far. */
export function cpuSeconds(pid: number): number {
  const text = readFileSync(`/proc/${pid}/stat`, 'utf8');
  // The command name is in parentheses and may itself contain spaces or parentheses.
  const rest = text.slice(text.lastIndexOf(')') + 2).split(' ');
  // rest[0] is field 3 (state); utime and stime are fields 14 and 15.
  return (Number(rest[11]) + Number(rest[12])) / USER_HZ;
}

export type SamplerRequest = { type: 'mark' | 'collect'; id: number } | { type: 'stop' };
export interface SamplerReply {
  id: number;
  samples: number;
  maxRssKiB: number;
  minRssKiB: number;
  durationMs: number;
  /** [ms since mark, VmRSS KiB] */
  series: Array<[number, number]>;
}

export class RssSampler {
  private readonly worker: Worker;
  private nextId = 1;
  private readonly waiting = new Map<number, (r: SamplerReply) => void>();

  constructor(
    readonly pid: number,
    intervalMs = 50,
  ) {
    this.worker = new Worker(path.join(__dirname, 'sampler-worker.js'), { workerData: { pid, intervalMs } });
    this.worker.on('message', (r: SamplerReply) => {
      const resolve = this.waiting.get(r.id);
      this.waiting.delete(r.id);
      resolve?.(r);
    });
    this.worker.on('error', (err) => {
      console.error(`bench: RSS sampler failed: ${err.message}`);
    });
    this.worker.unref();
  }

  private ask(type: 'mark' | 'collect'): Promise<SamplerReply> {
    const id = this.nextId++;
    return new Promise((resolve) => {
      this.waiting.set(id, resolve);
      this.worker.postMessage({ type, id } satisfies SamplerRequest);
    });
  }

  /** Starts a new measurement window (returns the figures of the window it closes). */
  mark(): Promise<SamplerReply> {
    return this.ask('mark');
  }

  /** The figures since the last mark, without closing the window. */
  collect(): Promise<SamplerReply> {
    return this.ask('collect');
  }

  async stop(): Promise<void> {
    this.worker.postMessage({ type: 'stop' } satisfies SamplerRequest);
    await this.worker.terminate();
  }
}

/** At most `max` points of a series, evenly picked, keeping the maximum. */
export function downsample(series: Array<[number, number]>, max: number): Array<[number, number]> {
  if (series.length <= max) return series;
  const out: Array<[number, number]> = [];
  const step = series.length / max;
  for (let i = 0; i < max; i++) {
    const bucket = series.slice(Math.floor(i * step), Math.floor((i + 1) * step));
    out.push(bucket.reduce((a, b) => (b[1] > a[1] ? b : a)));
  }
  return out;
}
