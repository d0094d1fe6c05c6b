/**
 * The final verification pass of a migration: walks `from` and `to` side by side and reports
 * every difference. Every key of `from` (not deleted through s3mux) must be in `to` with the
 * same size and checksum (the ETag, which the copier preserves where it can; with `deep`, a
 * SHA-256 of both bodies instead; without it, an object whose ETag the copy could not keep matches
 * through the copier's record of old and new ETag, etag-map.ts). A key that differs because it was written through s3mux after it was copied is
 * reported apart, as `newer`, since that difference is the point of the route.
 */
import { createHash } from 'node:crypto';
import { compareKeys } from '../../backends/listing';
import type { ObjectSummary } from '../../backends/types';
import type { MigrationBackend } from './migrate';
import type { Target } from './target';
import { listLocation } from '../../transfer';
import { locationOf } from './copy-key';

export interface VerifyDifference {
  key: string;
  kind: 'missing' | 'size' | 'checksum';
  detail: string;
}

export interface VerifyReport {
  route: string;
  keysFrom: number;
  keysTo: number;
  bytesFrom: number;
  bytesTo: number;
  /** Keys equal in both. */
  matched: number;
  /** Keys of `from` deleted through s3mux (tombstoned), rightly absent from `to`. */
  deleted: number;
  /** Keys that differ, newer in `to` (overwritten through s3mux after the copy). */
  newer: string[];
  /** Keys only in `to` (new writes through s3mux). */
  onlyInTo: number;
  differences: VerifyDifference[];
  ok: boolean;
}

async function sha256(t: Target, key: string): Promise<string> {
  const h = await t.openObject(key);
  try {
    const hash = createHash('sha256');
    for await (const c of h.read()) hash.update(c as Buffer);
    return hash.digest('hex');
  } finally {
    await h.close();
  }
}

/** A time as a listing of a store with second precision names it. */
function wholeSeconds(d: Date): number {
  return Math.floor(d.getTime() / 1000);
}

export async function verifyMigration(route: MigrationBackend, opts: { deep?: boolean } = {}): Promise<VerifyReport> {
  const { from, to, tombstones } = route;
  const r: VerifyReport = {
    route: route.route,
    keysFrom: 0,
    keysTo: 0,
    bytesFrom: 0,
    bytesTo: 0,
    matched: 0,
    deleted: 0,
    newer: [],
    onlyInTo: 0,
    differences: [],
    ok: false,
  };
  const a = listLocation(locationOf(from));
  const b = listLocation(locationOf(to));
  let x = await a.next();
  let y = await b.next();
  const compare = async (f: ObjectSummary, t: ObjectSummary) => {
    // A copy can change the ETag (a multipart source re-cut into other parts, a store's own ETags):
    // with `deep` the bodies decide, without it the ETag must match, or the copier's record of the change.
    const same = opts.deep
      ? f.size === t.size && (await sha256(from, f.key)) === (await sha256(to, t.key))
      : f.size === t.size && (f.etag === t.etag || (await route.etags.lookup(t.key, t.etag))?.from === f.etag);
    if (same) {
      r.matched++;
      return;
    }
    // The copier records the source's ETag: another one, newer than the source, is a write made through s3mux.
    // Listings name whole seconds (S3's, and s3mux's through the s3 backend), so a write in the
    // source's own second counts as newer.
    if (wholeSeconds(t.lastModified) >= wholeSeconds(f.lastModified) && t.etag !== f.etag) {
      r.newer.push(f.key);
      return;
    }
    r.differences.push(
      f.size !== t.size
        ? { key: f.key, kind: 'size', detail: `${f.size} bytes in from, ${t.size} in to` }
        : { key: f.key, kind: 'checksum', detail: `ETag ${f.etag} in from, ${t.etag} in to` },
    );
  };
  while (!x.done || !y.done) {
    const c = x.done ? 1 : y.done ? -1 : compareKeys(x.value.key, y.value.key);
    if (c <= 0) {
      const f = x.value as ObjectSummary;
      r.keysFrom++;
      r.bytesFrom += f.size;
      if (c === 0) {
        const t = y.value as ObjectSummary;
        r.keysTo++;
        r.bytesTo += t.size;
        await compare(f, t);
        y = await b.next();
      } else if (await tombstones.has(f.key)) r.deleted++;
      else r.differences.push({ key: f.key, kind: 'missing', detail: 'in from, not in to' });
      x = await a.next();
    } else {
      const t = y.value as ObjectSummary;
      r.keysTo++;
      r.bytesTo += t.size;
      r.onlyInTo++;
      y = await b.next();
    }
  }
  r.ok = r.differences.length === 0;
  return r;
}
