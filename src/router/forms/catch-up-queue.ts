/**
 * A replicated route's catch-up queue: one document per key changed on a target while the
 * other targets could not take the change (or, in async mode, every change), kept in that
 * target's reserved area so it outlives the process and any replica can drain it. An entry
 * says only "make the others equal to this target for this key"; draining reads the key's
 * state then, so entries for one key collapse into one and order does not matter. An entry is
 * removed with compare-and-swap, so a change queued again while it was drained stays queued.
 */
import { readReservedBody, reservedSegment, type BucketReservedArea } from '../../backends/reserved-store';

const DIR = 'mirror/queue/';

export interface QueueEntry {
  key: string;
  /** The document's etag, for the compare-and-swap removal. */
  etag: string;
}

export class CatchUpQueue {
  /** Where the target has no reserved area: kept in memory (lost on restart; the repair job then finds the difference). */
  private readonly memory = new Map<string, number>();
  private seq = 0;

  constructor(private readonly area: BucketReservedArea | undefined) {}

  get durable(): boolean {
    return this.area !== undefined;
  }

  async add(key: string): Promise<void> {
    if (!this.area) {
      this.memory.set(key, ++this.seq);
      return;
    }
    await this.area.put(DIR + reservedSegment(key), Buffer.from(JSON.stringify({ key, at: new Date().toISOString(), n: ++this.seq })));
  }

  async list(max = 1000): Promise<QueueEntry[]> {
    if (!this.area) return [...this.memory].slice(0, max).map(([key, n]) => ({ key, etag: String(n) }));
    const entries = await this.area.list(DIR, { max });
    const out: QueueEntry[] = [];
    for (const e of entries) {
      const doc = await this.area.get(e.name);
      if (!doc) continue;
      const body = JSON.parse((await readReservedBody(doc)).toString('utf8')) as { key: string };
      out.push({ key: body.key, etag: doc.entry.etag });
    }
    return out;
  }

  /** Removes the entry unless it was written again since it was listed. */
  async done(entry: QueueEntry): Promise<void> {
    if (!this.area) {
      if (String(this.memory.get(entry.key)) === entry.etag) this.memory.delete(entry.key);
      return;
    }
    try {
      await this.area.delete(DIR + reservedSegment(entry.key), { ifMatch: entry.etag });
    } catch (err) {
      if ((err as { code?: string }).code !== 'PreconditionFailed') throw err;
    }
  }

  async size(): Promise<number> {
    if (!this.area) return this.memory.size;
    let n = 0;
    let after: string | undefined;
    for (;;) {
      const page = await this.area.list(DIR, { startAfter: after, max: 1000 });
      n += page.length;
      if (page.length < 1000) return n;
      after = page[page.length - 1].name;
    }
  }
}
