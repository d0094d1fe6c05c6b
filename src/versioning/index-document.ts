/**
 * A key's version index: every version and delete marker of the key, newest first, as one
 * JSON document in the bucket's reserved area. It is the truth about a key's versions; the
 * object at the key's own name is a copy of the latest, kept for the store's own tools.
 * Updates are compare-and-swap on the document's etag, so writers on several replicas each
 * add their version and none is lost.
 */
import { S3Error } from '../errors';
import { readReservedBody, type BucketReservedArea } from '../backends/reserved-store';
import { KeyedLock } from '../backends/keyed-lock';
import type { ObjectAttributes } from '../backends/types';
import type { ObjectLock } from '../object-lock/lock';
import { indexName } from './names';

export interface VersionEntry {
  /** The version id, or 'null'. */
  id: string;
  /** A delete marker: no bytes, no attributes. */
  marker?: true;
  /** ISO 8601. */
  lastModified: string;
  etag?: string;
  size?: number;
  attrs?: ObjectAttributes;
  /** Where the bytes are: `dataName(key, blob)`. */
  blob?: string;
  /** Object lock on this version (retention, legal hold). */
  lock?: ObjectLock;
}

export interface VersionIndex {
  key: string;
  /** Newest first. */
  versions: VersionEntry[];
}

export interface StoredIndex {
  index: VersionIndex;
  /** The document's etag, for compare-and-swap; undefined when there is no document yet. */
  etag?: string;
}

const CAS_ATTEMPTS = 16;

export async function readIndex(area: BucketReservedArea, key: string): Promise<StoredIndex> {
  const doc = await area.get(indexName(key));
  if (!doc) return { index: { key, versions: [] } };
  const text = (await readReservedBody(doc, 16 * 1024 * 1024)).toString('utf8');
  try {
    const index = JSON.parse(text) as VersionIndex;
    if (index.key !== key || !Array.isArray(index.versions)) throw new Error('shape');
    return { index, etag: doc.entry.etag };
  } catch {
    throw new S3Error('InternalError', `The version index of ${JSON.stringify(key)} is damaged.`);
  }
}

/**
 * Writes `next` in place of `current` only if nobody changed the document since it was read;
 * throws PreconditionFailed otherwise. An empty index removes the document.
 */
export async function swapIndex(area: BucketReservedArea, current: StoredIndex, next: VersionIndex): Promise<void> {
  const name = indexName(next.key);
  if (next.versions.length === 0) {
    if (current.etag !== undefined) await area.delete(name, { ifMatch: current.etag });
    return;
  }
  const body = Buffer.from(JSON.stringify(next), 'utf8');
  await area.put(name, body, current.etag === undefined ? { ifNoneMatch: '*' } : { ifMatch: current.etag });
}

/**
 * Writers of one key's index in this process, one after another. Racing, each lost the
 * compare-and-swap to the others: of 60 concurrent PUTs to one key of a versioned bucket, 35
 * failed with OperationAborted, where S3 keeps every one as a version. The compare-and-swap
 * still orders writers in other processes.
 */
const indexWriters = new KeyedLock();

/**
 * Read-modify-write of a key's index, retried while other writers get in between. `change`
 * may run several times and must only compute; it returns the new index and a result.
 * `areaId` names the area in this process (BucketView.reservedAreaId).
 */
export function updateIndex<R>(
  area: BucketReservedArea,
  areaId: string,
  key: string,
  change: (current: StoredIndex) => Promise<{ next: VersionIndex; result: R }> | { next: VersionIndex; result: R },
): Promise<{ result: R; before: VersionIndex; after: VersionIndex }> {
  return indexWriters.run(`${areaId}\0${key}`, () => swapWithRetries(area, key, change));
}

async function swapWithRetries<R>(
  area: BucketReservedArea,
  key: string,
  change: (current: StoredIndex) => Promise<{ next: VersionIndex; result: R }> | { next: VersionIndex; result: R },
): Promise<{ result: R; before: VersionIndex; after: VersionIndex }> {
  for (let attempt = 0; attempt < CAS_ATTEMPTS; attempt++) {
    const current = await readIndex(area, key);
    const { next, result } = await change(current);
    try {
      await swapIndex(area, current, next);
      return { result, before: current.index, after: next };
    } catch (err) {
      if (err instanceof S3Error && err.code === 'PreconditionFailed') {
        // Back off a little, randomly, so two replicas stop colliding.
        await new Promise((r) => setTimeout(r, Math.floor(Math.random() * 5 * (attempt + 1))));
        continue;
      }
      throw err;
    }
  }
  throw new S3Error('OperationAborted', `Versions of ${JSON.stringify(key)} kept changing; try again.`);
}
