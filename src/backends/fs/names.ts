/**
 * The registry of hashed key segments: `<root>/.s3mux/names/<sha256 hex>` holds the text of
 * a segment too long to be a file name. Content-addressed, so it never needs updating,
 * and any instance (or process) can read what another wrote.
 */
import { promises as fsp } from 'node:fs';
import * as path from 'node:path';
import { isErrno, type Layout } from './layout';
import { sha256Hex } from '../../auth/digests';

const CACHE_MAX = 10_000;

export class NameRegistry {
  private readonly cache = new Map<string, string>();

  constructor(private readonly layout: Layout) {}

  /** Makes sure the segment's text can be found from its hash. */
  async record(segment: string): Promise<void> {
    const hash = sha256Hex(segment);
    if (this.cache.get(hash) === segment) return;
    const file = path.join(this.layout.names, hash);
    const existing = await fsp.readFile(file, 'utf8').catch(() => undefined);
    if (existing !== segment) {
      const tmp = await this.layout.writeTempFile('name', segment);
      try {
        await fsp.rename(tmp, file);
      } catch (err) {
        await fsp.rm(tmp, { force: true });
        throw err;
      }
    }
    this.remember(hash, segment);
  }

  /** The segment whose hash this is, or undefined when unknown. */
  async lookup(hash: string): Promise<string | undefined> {
    const hit = this.cache.get(hash);
    if (hit !== undefined) return hit;
    try {
      const text = await fsp.readFile(path.join(this.layout.names, hash), 'utf8');
      if (sha256Hex(text) !== hash) return undefined;
      this.remember(hash, text);
      return text;
    } catch (err) {
      if (isErrno(err, 'ENOENT', 'ENOTDIR')) return undefined;
      throw err;
    }
  }

  private remember(hash: string, segment: string): void {
    if (this.cache.size >= CACHE_MAX) this.cache.clear();
    this.cache.set(hash, segment);
  }
}
