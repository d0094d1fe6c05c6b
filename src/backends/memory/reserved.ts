/** The memory backend's reserved area: documents in a Map per bucket, dropped with the bucket. */
import { createHash } from 'node:crypto';
import { Readable } from 'node:stream';
import { toS3Error } from '../../errors';
import {
  checkReservedConditions,
  checkReservedName,
  newReservedEtag,
  reservedPage,
  type ReservedConditions,
  type ReservedDocument,
  type ReservedEntry,
  type ReservedListOptions,
  type ReservedStore,
} from '../reserved-store';

export interface StoredDocument {
  entry: ReservedEntry;
  body: Buffer;
}

export type ReservedDocuments = Map<string, StoredDocument>;

function copyEntry(e: ReservedEntry): ReservedEntry {
  return { ...e, lastModified: new Date(e.lastModified) };
}

async function collect(body: Buffer | Readable): Promise<Buffer> {
  if (Buffer.isBuffer(body)) return Buffer.from(body);
  const chunks: Buffer[] = [];
  try {
    for await (const c of body) chunks.push(typeof c === 'string' ? Buffer.from(c) : Buffer.from(c as Uint8Array));
  } catch (err) {
    throw toS3Error(err);
  }
  return Buffer.concat(chunks);
}

export class MemoryReservedStore implements ReservedStore {
  /** `documentsOf` throws NoSuchBucket for a missing bucket. */
  constructor(private readonly documentsOf: (bucket: string) => ReservedDocuments) {}

  async get(bucket: string, name: string): Promise<ReservedDocument | undefined> {
    checkReservedName(name);
    const doc = this.documentsOf(bucket).get(name);
    if (!doc) return undefined;
    return { entry: copyEntry(doc.entry), body: Readable.from(doc.body.length > 0 ? [doc.body] : []) };
  }

  async put(bucket: string, name: string, body: Buffer | Readable, conditions?: ReservedConditions): Promise<ReservedEntry> {
    checkReservedName(name);
    this.documentsOf(bucket);
    const data = await collect(body);
    // No await between the check and the commit: atomic within this process, the only one that sees it.
    const docs = this.documentsOf(bucket);
    checkReservedConditions(docs.get(name)?.entry.etag, conditions);
    const entry: ReservedEntry = {
      name,
      size: data.length,
      etag: newReservedEtag(createHash('md5').update(data).digest('hex')),
      lastModified: new Date(),
    };
    docs.set(name, { entry, body: data });
    return copyEntry(entry);
  }

  async delete(bucket: string, name: string, conditions?: Pick<ReservedConditions, 'ifMatch'>): Promise<void> {
    checkReservedName(name);
    const docs = this.documentsOf(bucket);
    const cur = docs.get(name);
    if (cur === undefined && conditions?.ifMatch === undefined) return;
    checkReservedConditions(cur?.entry.etag, conditions);
    docs.delete(name);
  }

  async list(bucket: string, prefix: string, opts?: ReservedListOptions): Promise<ReservedEntry[]> {
    checkReservedName(prefix, true);
    return reservedPage(
      [...this.documentsOf(bucket).values()].map((d) => d.entry),
      prefix,
      opts,
    ).map(copyEntry);
  }
}
