/**
 * Checkpoint stores: a local JSON file (the CLI's `--resume FILE`, written atomically by
 * rename) and a document in a store's reserved area (a migration's checkpoint in its
 * destination, so any replica can continue; written compare-and-swap so two replicas never
 * both think they own the last version).
 */
import { promises as fsp } from 'node:fs';
import * as path from 'node:path';
import { readReservedBody, type BucketReservedArea } from '../backends/reserved-store';
import type { Checkpoint, CheckpointStore } from './types';

function parse(text: string, where: string): Checkpoint {
  const cp = JSON.parse(text) as Checkpoint;
  if (cp?.version !== 1 || !Array.isArray(cp.failed)) throw new Error(`${where} is not an s3mux transfer checkpoint`);
  return cp;
}

export class FileCheckpointStore implements CheckpointStore {
  constructor(readonly file: string) {}

  async load(): Promise<Checkpoint | undefined> {
    let text: string;
    try {
      text = await fsp.readFile(this.file, 'utf8');
    } catch (err) {
      if ((err as NodeJS.ErrnoException).code === 'ENOENT') return undefined;
      throw err;
    }
    return parse(text, this.file);
  }

  async save(cp: Checkpoint): Promise<void> {
    const tmp = path.join(path.dirname(this.file), `.${path.basename(this.file)}.${process.pid}.tmp`);
    await fsp.writeFile(tmp, JSON.stringify(cp) + '\n');
    await fsp.rename(tmp, this.file);
  }
}

/** A checkpoint kept as one document of a reserved area; `name` is a reserved name (`migrate/checkpoint`). */
export class ReservedCheckpointStore implements CheckpointStore {
  private etag?: string;

  constructor(
    private readonly area: BucketReservedArea,
    private readonly name: string,
  ) {}

  async load(): Promise<Checkpoint | undefined> {
    const doc = await this.area.get(this.name);
    if (!doc) {
      this.etag = undefined;
      return undefined;
    }
    this.etag = doc.entry.etag;
    return parse((await readReservedBody(doc)).toString('utf8'), this.name);
  }

  /** Throws PreconditionFailed when another writer saved since this one loaded or saved. */
  async save(cp: Checkpoint): Promise<void> {
    const entry = await this.area.put(
      this.name,
      Buffer.from(JSON.stringify(cp)),
      this.etag === undefined ? { ifNoneMatch: '*' } : { ifMatch: this.etag },
    );
    this.etag = entry.etag;
  }
}
