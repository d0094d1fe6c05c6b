/**
 * A migration's record of keys deleted through s3mux, in the destination's reserved area: a
 * key deleted while its old copy was still in `from` must never come back, neither by a read
 * falling back to `from` nor by the copier copying the old copy afterwards.
 */
import { readReservedBody, reservedSegment, type BucketReservedArea } from '../../backends/reserved-store';

const DIR = 'migrate/tombstones/';

export class Tombstones {
  constructor(private readonly area: BucketReservedArea | undefined) {}

  get durable(): boolean {
    return this.area !== undefined;
  }

  async add(key: string): Promise<void> {
    await this.area?.put(DIR + reservedSegment(key), Buffer.from(JSON.stringify({ key, at: new Date().toISOString() })));
  }

  async has(key: string): Promise<boolean> {
    if (!this.area) return false;
    const doc = await this.area.get(DIR + reservedSegment(key));
    if (!doc) return false;
    // Hashed names could in principle collide: the document says which key it is for.
    const body = JSON.parse((await readReservedBody(doc)).toString('utf8')) as { key?: string };
    return body.key === key;
  }
}
