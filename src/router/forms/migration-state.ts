/**
 * A migration's progress, as a document in the destination's reserved area: where the copier
 * is (every key up to `after` is done), what it moved, its errors, and who is copying (a
 * lease, so one replica copies at a time and another takes over when it stops renewing).
 * `s3mux migrate status` and the metrics read it; a restarted copier resumes from it.
 */
import { S3Error, isS3Error } from '../../errors';
import { readReservedBody, type BucketReservedArea } from '../../backends/reserved-store';

export const CHECKPOINT = 'migrate/checkpoint';
export const LEASE = 'migrate/lease';

export interface MigrationCheckpoint {
  route: string;
  from: string;
  to: string;
  state: 'counting' | 'copying' | 'done';
  /** Every key up to and including this one is handled (undefined: none yet). */
  after?: string;
  /** Counted in `from` before copying began. */
  keysTotal: number;
  bytesTotal: number;
  /** Keys and bytes handled: copied, or passed over because s3mux holds a newer write or the key was deleted. */
  keysDone: number;
  bytesDone: number;
  keysCopied: number;
  bytesCopied: number;
  /** Keys passed over: newer in the destination (written through s3mux) or deleted. */
  keysNewer: number;
  keysDeleted: number;
  /** Keys that failed every attempt. */
  errors: number;
  lastErrors: string[];
  /** Bytes per second over the last interval. */
  rate: number;
  startedAt: string;
  updatedAt: string;
  finishedAt?: string;
}

export interface StoredCheckpoint {
  checkpoint: MigrationCheckpoint;
  etag: string;
}

async function readJson<T>(area: BucketReservedArea, name: string): Promise<{ value: T; etag: string } | undefined> {
  const doc = await area.get(name);
  if (!doc) return undefined;
  return { value: JSON.parse((await readReservedBody(doc)).toString('utf8')) as T, etag: doc.entry.etag };
}

export async function readCheckpoint(area: BucketReservedArea): Promise<StoredCheckpoint | undefined> {
  const got = await readJson<MigrationCheckpoint>(area, CHECKPOINT);
  return got && { checkpoint: got.value, etag: got.etag };
}

/** Writes the checkpoint over the version `etag` (undefined: only if there is none); PreconditionFailed when another wrote it since. */
export async function writeCheckpoint(area: BucketReservedArea, cp: MigrationCheckpoint, etag: string | undefined): Promise<string> {
  const body = Buffer.from(JSON.stringify(cp));
  const entry = await area.put(CHECKPOINT, body, etag === undefined ? { ifNoneMatch: '*' } : { ifMatch: etag });
  return entry.etag;
}

interface LeaseDoc {
  owner: string;
  expiresAt: number;
}

/** One copier at a time per migration, across replicas: a lease document renewed with compare-and-swap. */
export class Lease {
  private etag?: string;

  constructor(
    private readonly area: BucketReservedArea,
    readonly owner: string,
    private readonly ttlMs: number,
  ) {}

  /** True when this owner holds the lease now (taken, renewed, or taken over from an expired one). */
  async acquire(): Promise<boolean> {
    const cur = await readJson<LeaseDoc>(this.area, LEASE);
    if (cur && cur.value.owner !== this.owner && cur.value.expiresAt > Date.now()) return false;
    const body = Buffer.from(JSON.stringify({ owner: this.owner, expiresAt: Date.now() + this.ttlMs } satisfies LeaseDoc));
    try {
      const e = await this.area.put(LEASE, body, cur ? { ifMatch: cur.etag } : { ifNoneMatch: '*' });
      this.etag = e.etag;
      return true;
    } catch (err) {
      if (isS3Error(err, 'PreconditionFailed')) return false;
      throw err;
    }
  }

  /** Extends the lease; throws when another took it. */
  async renew(): Promise<void> {
    const body = Buffer.from(JSON.stringify({ owner: this.owner, expiresAt: Date.now() + this.ttlMs } satisfies LeaseDoc));
    try {
      this.etag = (await this.area.put(LEASE, body, this.etag ? { ifMatch: this.etag } : { ifNoneMatch: '*' })).etag;
    } catch (err) {
      if (isS3Error(err, 'PreconditionFailed')) throw new S3Error('OperationAborted', 'another copier took over this migration');
      throw err;
    }
  }

  async release(): Promise<void> {
    if (this.etag) await this.area.delete(LEASE, { ifMatch: this.etag }).catch(() => undefined);
    this.etag = undefined;
  }
}
