/**
 * Runs in a worker thread so that sampling keeps its 50 ms rhythm however busy the bench's
 * main thread is (hashing, the SDK). Reads VmRSS of one process; the main thread asks for
 * the figures since the last mark.
 */
import { readFileSync } from 'node:fs';
import { parentPort, workerData } from 'node:worker_threads';
import { parseStatus, type SamplerReply, type SamplerRequest } from './memory';

const { pid, intervalMs } = workerData as { pid: number; intervalMs: number };

let startedAt = Date.now();
let samples = 0;
let maxRssKiB = 0;
let minRssKiB = Number.POSITIVE_INFINITY;
let series: Array<[number, number]> = [];
let gone = false;

function sample(): void {
  if (gone) return;
  try {
    const s = parseStatus(readFileSync(`/proc/${pid}/status`, 'utf8'));
    samples++;
    if (s.rssKiB > maxRssKiB) maxRssKiB = s.rssKiB;
    if (s.rssKiB < minRssKiB) minRssKiB = s.rssKiB;
    series.push([Date.now() - startedAt, s.rssKiB]);
  } catch {
    gone = true; // the process has exited; the main thread notices on its own
  }
}

const timer = setInterval(sample, intervalMs);

parentPort!.on('message', (msg: SamplerRequest) => {
  if (msg.type === 'stop') {
    clearInterval(timer);
    parentPort!.close();
    return;
  }
  if (msg.type === 'collect' || msg.type === 'mark') {
    sample();
    const reply: SamplerReply = {
      id: msg.id,
      samples,
      maxRssKiB,
      minRssKiB: Number.isFinite(minRssKiB) ? minRssKiB : 0,
      durationMs: Date.now() - startedAt,
      series,
    };
    if (msg.type === 'mark') {
      startedAt = Date.now();
      samples = 0;
      maxRssKiB = 0;
      minRssKiB = Number.POSITIVE_INFINITY;
      series = [];
      sample();
    }
    parentPort!.postMessage(reply);
  }
});
