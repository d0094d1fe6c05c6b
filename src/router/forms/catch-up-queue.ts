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
  /** When the change was queued (ms): of two targets' entries for one key, the later one holds the truth. */
  at: number;
  /** The document's etag, for the compare-and-swap removal. */
  etag: string;
}

export class CatchUpQueue {
  /** Where the target has no reserved area: kept in memory (lost on restart; the repair job then finds the difference). */
  private readonly memory = new Map<string, { n: number; at: number }>();
  private seq = 0;

  constructor(private readonly area: BucketReservedArea | undefined) {}

  get durable(): boolean {
    return this.area !== undefined;
  }

  /** Returns the entry, so a change that then fails can take it back. */
  async add(key: string): Promise<QueueEntry> {
    const at = Date.now();
    if (!this.area) {
      this.memory.set(key, { n: ++this.seq, at });
      return { key, at, etag: String(this.seq) };
    }
    const e = await this.area.put(DIR + reservedSegment(key), Buffer.from(JSON.stringify({ key, at, n: ++this.seq })));
    return { key, at, etag: e.etag };
  }

  async list(max = 1000): Promise<QueueEntry[]> {
    if (!this.area) return [...this.memory].slice(0, max).map(([key, m]) => ({ key, at: m.at, etag: String(m.n) }));
    const entries = await this.area.list(DIR, { max });
    const out: QueueEntry[] = [];
    for (const e of entries) {
      const entry = await this.read(e.name);
      if (entry) out.push(entry);
    }
    return out;
  }

  /** This queue's entry for the key, if any. */
  async find(key: string): Promise<QueueEntry | undefined> {
    if (!this.area) {
      const m = this.memory.get(key);
      return m && { key, at: m.at, etag: String(m.n) };
    }
    const e = await this.read(DIR + reservedSegment(key));
    return e?.key === key ? e : undefined;
  }

  private async read(name: string): Promise<QueueEntry | undefined> {
    const doc = await this.area!.get(name);
    if (!doc) return undefined;
    const body = JSON.parse((await readReservedBody(doc)).toString('utf8')) as { key: string; at: number };
    return { key: body.key, at: Number(body.at) || 0, etag: doc.entry.etag };
  }

  /** Removes the entry unless it was written again since it was listed. */
  async done(entry: QueueEntry): Promise<void> {
    if (!this.area) {
      if (String(this.memory.get(entry.key)?.n) === entry.etag) this.memory.delete(entry.key);
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
