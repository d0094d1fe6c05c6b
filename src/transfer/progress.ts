/** Counting a transfer as it goes: totals, settled objects and bytes, a recent rate and an ETA. */
import type { Action, ProgressSnapshot, TransferCounts } from './types';

const WINDOW_MS = 5000;

export class Progress {
  readonly counts: TransferCounts = { objects: 0, bytes: 0, copied: 0, copiedBytes: 0, skipped: 0, kept: 0, deleted: 0, failed: 0 };
  doneObjects = 0;
  doneBytes = 0;
  listed = false;
  readonly started = Date.now();
  private readonly samples: { t: number; moved: number }[] = [{ t: this.started, moved: 0 }];

  constructor(base?: { objects: number; bytes: number }) {
    // A resumed transfer starts with what the checkpoint says was settled before.
    if (base) {
      this.counts.objects = this.doneObjects = base.objects;
      this.counts.bytes = this.doneBytes = base.bytes;
    }
  }

  listedOne(size: number): void {
    this.counts.objects++;
    this.counts.bytes += size;
  }

  settled(action: Action, size: number): void {
    if (action === 'deleted') {
      this.counts.deleted++;
      return;
    }
    this.counts[action]++;
    if (action === 'copied') this.counts.copiedBytes += size;
    this.doneObjects++;
    this.doneBytes += size;
  }

  /** Bytes per second over the last few seconds of copied bytes. */
  rate(now = Date.now()): number {
    this.samples.push({ t: now, moved: this.counts.copiedBytes });
    while (this.samples.length > 2 && now - this.samples[1].t >= WINDOW_MS) this.samples.shift();
    const first = this.samples[0];
    const dt = (now - first.t) / 1000;
    return dt > 0 ? (this.counts.copiedBytes - first.moved) / dt : 0;
  }

  snapshot(now = Date.now()): ProgressSnapshot {
    const rate = this.rate(now);
    const left = this.counts.bytes - this.doneBytes;
    return {
      ...this.counts,
      doneObjects: this.doneObjects,
      doneBytes: this.doneBytes,
      rate,
      etaSeconds: this.listed && rate > 0 ? left / rate : this.listed && left === 0 ? 0 : undefined,
      listed: this.listed,
      elapsedMs: now - this.started,
    };
  }
}
