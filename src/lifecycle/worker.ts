/**
 * The lifecycle worker: applies each bucket's Expiration, Transition and
 * AbortIncompleteMultipartUpload rules in the background.
 *
 * Several replicas may run it on one store. Per bucket, a lease document in the bucket's
 * reserved area (taken and renewed with compare-and-swap) lets one replica at a time work on
 * the bucket; a cursor document records how far its pass got, so a restart (or another
 * replica taking over an expired lease) continues there instead of starting again. An object
 * is deleted (or moved to another storage class) only while it still has the ETag the scan
 * saw: a HEAD first (it gives the tags), then a delete or class change conditional on that
 * ETag (BucketView.deleteObjectIfMatch: atomic where the store can, otherwise a second HEAD
 * just before), so a client's overwrite is never expired by a stale decision. A transition
 * changes the class in place (the store's tier, or the label fs and memory keep). Each run scans at most `maxKeysPerRun` keys per bucket and paces its
 * store calls at `maxCallsPerSecond`.
 *
 * In a versioned bucket, Expiration of a current object adds a delete marker (as S3 does), and
 * `applyNoncurrent` walks the version indexes for NoncurrentVersionExpiration (NoncurrentDays,
 * NewerNoncurrentVersions) and Expiration's ExpiredObjectDeleteMarker. A version under object
 * lock (retention in force, legal hold) is left alone, as S3's lifecycle leaves it.
 */
import { hostname } from 'node:os';
import { randomBytes } from 'node:crypto';
import { isS3Error } from '../errors';
import { readReservedBody, type BucketReservedArea } from '../backends/reserved-store';
import { bucketConfig } from '../bucket-config/store';
import {
  abortTime,
  dueTransition,
  expiryTime,
  filterMatchesWithoutTags,
  noncurrentExpiryTime,
  tagsMatch,
  type LifecycleObject,
  type LifecycleRule,
} from '../bucket-config/lifecycle';
import { BucketView } from '../router/bucket-view';
import type { ObjectMeta } from '../backends/types';
import type { Router } from '../router/router';
import { describeError } from '../observability/describe-error';
import { DAY_MS, LIFECYCLE_DOCUMENT, type StoredLifecycle } from './config';
import { VersionedObjects } from '../versioning/objects';
import { indexedKeys } from '../versioning/listing';
import { isLocked } from '../object-lock/lock';
import type { VersionEntry } from '../versioning/index-document';

export interface LifecycleWorkerOptions {
  /** The routing table in force (it may be reloaded between runs). */
  router: () => Router;
  /** How long a day is. Tests only shorten it; production always uses 24 h. */
  dayMs?: number;
  /** The clock (tests may pass a fake one). */
  now?: () => number;
  /** Keys examined per bucket and run; the cursor carries the rest to the next run. */
  maxKeysPerRun?: number;
  /** Store calls (listings, HEADs, deletes, aborts) per second, at most. */
  maxCallsPerSecond?: number;
  /** How long a replica's claim on a bucket lasts unless renewed. */
  leaseMs?: number;
  /** This replica's name in lease documents. */
  owner?: string;
  log?: (line: string) => void;
  onRun?: (report: LifecycleReport) => void;
}

export interface LifecycleReport {
  buckets: number;
  scanned: number;
  expired: number;
  /** Objects moved to another storage class by a Transition. */
  transitioned: number;
  aborted: number;
  /** Objects due but changed since the scan (left alone). */
  skippedChanged: number;
  /** Noncurrent versions removed, and expired delete markers removed. */
  noncurrentExpired: number;
  markersRemoved: number;
  /** Versions due but under object lock (left alone). */
  skippedLocked: number;
  /** Buckets another replica held. */
  leased: number;
  failed: number;
}

interface Lease {
  owner: string;
  until: number;
}

interface Cursor {
  /** The last key examined in this pass. */
  startAfter?: string;
}

const LEASE = 'lifecycle/lease';
const CURSOR = 'lifecycle/cursor';
const VERSIONS_CURSOR = 'lifecycle/versions-cursor';

export class LifecycleWorker {
  readonly owner: string;
  private readonly dayMs: number;
  private readonly now: () => number;
  private readonly maxKeys: number;
  private readonly callGapMs: number;
  private readonly leaseMs: number;
  private nextCallAt = 0;

  constructor(private readonly opts: LifecycleWorkerOptions) {
    this.owner = opts.owner ?? `${hostname()}-${process.pid}-${randomBytes(3).toString('hex')}`;
    this.dayMs = opts.dayMs ?? DAY_MS;
    this.now = opts.now ?? Date.now;
    this.maxKeys = opts.maxKeysPerRun ?? 10_000;
    this.callGapMs = 1000 / (opts.maxCallsPerSecond ?? 100);
    // Long enough for a whole run at the paced rate (a listing, a HEAD and a delete per key).
    this.leaseMs = opts.leaseMs ?? Math.max(5 * 60_000, 3 * this.maxKeys * 2 * this.callGapMs);
  }

  /** Waits so that store calls stay under the rate. */
  private async pace(): Promise<void> {
    const t = Date.now();
    const wait = this.nextCallAt - t;
    this.nextCallAt = Math.max(t, this.nextCallAt) + this.callGapMs;
    if (wait > 0) await new Promise((r) => setTimeout(r, wait));
  }

  /** The virtual buckets s3mux serves read-write: the table's routes, and the default backend's other buckets. */
  private async views(router: Router): Promise<BucketView[]> {
    const routes = router.explicitRoutes();
    const routed = new Set(routes.map((r) => r.name));
    const out = routes.filter((r) => !r.readOnly).map((r) => new BucketView(r));
    await this.pace();
    for (const b of await router.defaultBackend.listBuckets()) if (!routed.has(b.name)) out.push(new BucketView(router.resolve(b.name)));
    return out.filter((v) => v.backend.reserved !== undefined);
  }

  /** One pass over every bucket (what the timer runs). */
  async runOnce(): Promise<LifecycleReport> {
    const report: LifecycleReport = {
      buckets: 0,
      scanned: 0,
      expired: 0,
      transitioned: 0,
      aborted: 0,
      skippedChanged: 0,
      noncurrentExpired: 0,
      markersRemoved: 0,
      skippedLocked: 0,
      leased: 0,
      failed: 0,
    };
    let views: BucketView[];
    try {
      views = await this.views(this.opts.router());
    } catch (err) {
      report.failed++;
      this.opts.log?.(`lifecycle: could not list the buckets: ${describeError(err)}`);
      this.opts.onRun?.(report);
      return report;
    }
    for (const view of views) {
      try {
        await this.runBucket(view, report);
      } catch (err) {
        report.failed++;
        this.opts.log?.(`lifecycle: bucket ${view.name}: ${describeError(err)}`);
      }
    }
    this.opts.onRun?.(report);
    return report;
  }

  private async runBucket(view: BucketView, report: LifecycleReport): Promise<void> {
    const stored = await bucketConfig.get<StoredLifecycle>(view, LIFECYCLE_DOCUMENT);
    const rules = (stored?.rules ?? []).filter((r) => r.enabled);
    const expiring = rules.filter((r) => r.expiration?.days !== undefined || r.expiration?.date !== undefined || r.transitions?.length);
    const aborting = rules.filter((r) => r.abortIncompleteMultipartUploadDays !== undefined);
    const versionRules = rules.filter((r) => r.noncurrentVersionExpiration !== undefined || r.expiration?.expiredObjectDeleteMarker);
    if (expiring.length === 0 && aborting.length === 0 && versionRules.length === 0) return;
    report.buckets++;
    const area = view.reservedArea('lifecycle state');
    const lease = await this.takeLease(area);
    if (!lease) {
      report.leased++;
      return;
    }
    try {
      if (expiring.length) await this.expireObjects(view, area, lease, expiring, report);
      if (aborting.length) await this.abortUploads(view, aborting, report);
      if (versionRules.length) await this.applyNoncurrent(view, area, lease, versionRules, report);
    } finally {
      await area.delete(LEASE, { ifMatch: lease.etag }).catch(() => {});
    }
  }

  /**
   * Extends the lease this replica holds (after each page, so a slow store cannot outlast it);
   * false when it was lost (taken over after expiring), and the replica stops on the bucket.
   */
  private async renewLease(area: BucketReservedArea, lease: { etag: string }): Promise<boolean> {
    await this.pace();
    const body = Buffer.from(JSON.stringify({ owner: this.owner, until: this.now() + this.leaseMs } satisfies Lease));
    try {
      lease.etag = (await area.put(LEASE, body, { ifMatch: lease.etag })).etag;
      return true;
    } catch (err) {
      if (isS3Error(err, 'PreconditionFailed')) return false;
      throw err;
    }
  }

  /** The lease on a bucket (its etag, to renew or release it), or undefined when another replica holds it. */
  private async takeLease(area: BucketReservedArea): Promise<{ etag: string } | undefined> {
    await this.pace();
    // An unreadable lease counts as expired.
    const { value: current, etag } = await readJson<Lease>(area, LEASE);
    if (current && current.owner !== this.owner && current.until > this.now()) return undefined;
    const body = Buffer.from(JSON.stringify({ owner: this.owner, until: this.now() + this.leaseMs } satisfies Lease));
    try {
      const entry = await area.put(LEASE, body, etag ? { ifMatch: etag } : { ifNoneMatch: '*' });
      return { etag: entry.etag };
    } catch (err) {
      if (isS3Error(err, 'PreconditionFailed')) return undefined; // another replica got there first
      throw err;
    }
  }

  private async readCursor(area: BucketReservedArea, name = CURSOR): Promise<{ cursor: Cursor; etag?: string }> {
    await this.pace();
    // An unreadable cursor starts the pass again.
    const { value, etag } = await readJson<Cursor>(area, name);
    return { cursor: value ?? {}, etag };
  }

  /** Records how far a pass got (undefined: it finished); returns the cursor's new etag. */
  private async saveCursor(
    area: BucketReservedArea,
    name: string,
    startAfter: string | undefined,
    etag?: string,
  ): Promise<string | undefined> {
    if (startAfter === undefined) {
      if (etag !== undefined) await area.delete(name, { ifMatch: etag }).catch(() => {});
      return undefined;
    }
    const body = Buffer.from(JSON.stringify({ startAfter } satisfies Cursor));
    return (await area.put(name, body, etag ? { ifMatch: etag } : { ifNoneMatch: '*' })).etag;
  }

  private async expireObjects(
    view: BucketView,
    area: BucketReservedArea,
    lease: { etag: string },
    rules: LifecycleRule[],
    report: LifecycleReport,
  ): Promise<void> {
    const read = await this.readCursor(area);
    let etag = read.etag;
    let budget = this.maxKeys;
    // Every key the rules can reach starts with their common prefix.
    const prefix = commonPrefix(rules.map((r) => r.filter.prefix));
    let startAfter = read.cursor.startAfter;
    for (;;) {
      await this.pace();
      const page = await view.listObjects({ prefix, startAfter, maxKeys: Math.min(1000, budget) });
      for (const o of page.objects) {
        report.scanned++;
        const seen = { key: o.key, size: o.size, lastModified: o.lastModified, storageClass: o.storageClass };
        await this.expireIfDue(view, seen, o.etag, rules, report);
      }
      budget -= page.objects.length;
      const last = page.objects.length ? page.objects[page.objects.length - 1].key : startAfter;
      const done = !page.isTruncated || last === undefined;
      startAfter = done ? undefined : last;
      // The cursor records progress page by page: a restart continues after the last page done.
      etag = await this.saveCursor(area, CURSOR, startAfter, etag);
      if (done || budget <= 0 || !(await this.renewLease(area, lease))) return;
    }
  }

  private async expireIfDue(
    view: BucketView,
    o: LifecycleObject,
    etag: string,
    rules: LifecycleRule[],
    report: LifecycleReport,
  ): Promise<void> {
    const now = this.now();
    const candidates = rules.filter(
      (r) => filterMatchesWithoutTags(r.filter, o) && (expiryTime(r, o.lastModified, this.dayMs) ?? Infinity) <= now,
    );
    if (candidates.length === 0) return this.transitionIfDue(view, o, etag, rules, report);
    // Only now, for an object some rule would expire, is it worth a HEAD: it gives the tags
    // and shows whether the object is still the one the listing saw.
    const meta = await this.headIfPresent(view, o.key);
    if (!meta) return;
    if (meta.etag !== etag || meta.lastModified.getTime() !== o.lastModified.getTime()) {
      report.skippedChanged++;
      return;
    }
    if (!candidates.some((r) => tagsMatch(r.filter, meta.tags ?? []))) return this.transitionIfDue(view, o, etag, rules, report, meta);
    await this.pace();
    const objects = await VersionedObjects.of(view);
    // Unversioned: only the object judged is deleted (conditional on its ETag). Versioned: a
    // delete marker, as S3 adds; the versions stay for the noncurrent rules.
    const expire = objects.status ? async () => void (await objects.remove(o.key)) : () => view.deleteObjectIfMatch(o.key, etag);
    if (await this.unlessChanged(expire, report)) report.expired++;
  }

  /** Moves the object to the class its rules' due transitions name, if colder than its own. */
  private async transitionIfDue(
    view: BucketView,
    o: LifecycleObject,
    etag: string,
    rules: LifecycleRule[],
    report: LifecycleReport,
    known?: ObjectMeta,
  ): Promise<void> {
    const withTransitions = rules.filter((r) => r.transitions?.length);
    // The listing's class is enough to decide that nothing is due; the tags need a HEAD.
    if (dueTransition(withTransitions, o, o.storageClass, this.now(), this.dayMs) === undefined) return;
    const meta = known ?? (await this.headIfPresent(view, o.key));
    if (!meta) return;
    const tagged = withTransitions.filter((r) => tagsMatch(r.filter, meta.tags ?? []));
    const target = dueTransition(tagged, o, meta.storageClass, this.now(), this.dayMs);
    if (target === undefined) return;
    await this.pace();
    if (await this.unlessChanged(() => view.setStorageClass(o.key, target, etag), report)) report.transitioned++;
  }

  /** The object's metadata (paced), or undefined when it is gone. */
  private async headIfPresent(view: BucketView, key: string): Promise<ObjectMeta | undefined> {
    await this.pace();
    try {
      return await view.headObject(key);
    } catch (err) {
      if (isS3Error(err, 'NoSuchKey')) return undefined;
      throw err;
    }
  }

  /** Runs a change conditional on the scanned ETag; false (counted as skipped) when the object changed meanwhile. */
  private async unlessChanged(change: () => Promise<void>, report: LifecycleReport): Promise<boolean> {
    try {
      await change();
      return true;
    } catch (err) {
      if (isS3Error(err, 'PreconditionFailed') || isS3Error(err, 'NoSuchKey')) {
        report.skippedChanged++;
        return false;
      }
      throw err;
    }
  }

  private async abortUploads(view: BucketView, rules: LifecycleRule[], report: LifecycleReport): Promise<void> {
    const prefix = commonPrefix(rules.map((r) => r.filter.prefix));
    let keyMarker: string | undefined;
    let uploadIdMarker: string | undefined;
    let budget = this.maxKeys;
    for (;;) {
      await this.pace();
      let page;
      try {
        page = await view.listUploads({ prefix, keyMarker, uploadIdMarker, maxUploads: Math.min(1000, budget) });
      } catch (err) {
        if (isS3Error(err, 'NotImplemented')) return;
        throw err;
      }
      for (const u of page.uploads) {
        const due = rules.some(
          (r) => u.key.startsWith(r.filter.prefix) && (abortTime(r, u.initiated, this.dayMs) ?? Infinity) <= this.now(),
        );
        if (!due) continue;
        await this.pace();
        try {
          await view.abortUpload(u.key, u.uploadId);
          report.aborted++;
        } catch (err) {
          if (!isS3Error(err, 'NoSuchUpload')) throw err;
        }
      }
      budget -= page.uploads.length;
      if (!page.isTruncated || budget <= 0 || (page.nextKeyMarker === undefined && page.nextUploadIdMarker === undefined)) return;
      keyMarker = page.nextKeyMarker;
      uploadIdMarker = page.nextUploadIdMarker;
    }
  }

  /**
   * NoncurrentVersionExpiration and Expiration's ExpiredObjectDeleteMarker, over the version
   * indexes of a versioned bucket, keys in order from where the last run stopped.
   */
  private async applyNoncurrent(
    view: BucketView,
    area: BucketReservedArea,
    lease: { etag: string },
    rules: LifecycleRule[],
    report: LifecycleReport,
  ): Promise<void> {
    const objects = await VersionedObjects.of(view);
    if (!objects.status) return;
    const read = await this.readCursor(area, VERSIONS_CURSOR);
    let etag = read.etag;
    const prefix = commonPrefix(rules.map((r) => r.filter.prefix));
    let budget = this.maxKeys;
    let last: string | undefined;
    for await (const key of indexedKeys(objects, prefix, read.cursor.startAfter)) {
      await this.pace();
      await this.expireVersions(objects, key, rules, report);
      last = key;
      if (--budget % 1000 === 0) {
        etag = await this.saveCursor(area, VERSIONS_CURSOR, last, etag);
        if (budget <= 0 || !(await this.renewLease(area, lease))) return;
      }
    }
    await this.saveCursor(area, VERSIONS_CURSOR, undefined, etag);
  }

  /** One key: its noncurrent versions that are due, then its delete marker when nothing else is left. */
  private async expireVersions(objects: VersionedObjects, key: string, rules: LifecycleRule[], report: LifecycleReport): Promise<void> {
    const now = this.now();
    const versions = (await objects.index(key)).versions;
    const due: VersionEntry[] = [];
    // versions[0] is current; versions[i] stopped being current when versions[i - 1] was written.
    for (let i = 1; i < versions.length; i++) {
      const v = versions[i];
      const o = { key, size: v.size ?? 0, lastModified: new Date(v.lastModified) };
      const newer = i - 1;
      const expires = rules.some((r) => {
        const n = r.noncurrentVersionExpiration;
        if (!n || !filterMatchesWithoutTags(r.filter, o) || !tagsMatch(r.filter, v.attrs?.tags ?? [])) return false;
        if (newer < (n.newerNoncurrentVersions ?? 0)) return false;
        return (noncurrentExpiryTime(r, new Date(versions[i - 1].lastModified), this.dayMs) ?? Infinity) <= now;
      });
      if (expires) due.push(v);
    }
    for (const v of due) {
      if (isLocked(v.lock, now)) {
        report.skippedLocked++;
        continue;
      }
      await this.pace();
      await this.removeVersion(objects, key, v.id, report, 'noncurrentExpired');
    }
    // A delete marker with no versions behind it hides nothing: ExpiredObjectDeleteMarker removes it.
    const left = due.length ? (await objects.index(key)).versions : versions;
    const marker = left.length === 1 && left[0].marker ? left[0] : undefined;
    if (marker && rules.some((r) => r.expiration?.expiredObjectDeleteMarker && key.startsWith(r.filter.prefix))) {
      await this.pace();
      await this.removeVersion(objects, key, marker.id, report, 'markersRemoved');
    }
  }

  private async removeVersion(
    objects: VersionedObjects,
    key: string,
    versionId: string,
    report: LifecycleReport,
    counter: 'noncurrentExpired' | 'markersRemoved',
  ): Promise<void> {
    try {
      await objects.remove(key, versionId);
      report[counter]++;
    } catch (err) {
      // Locked meanwhile (a legal hold put on since the index was read): S3's lifecycle leaves it.
      if (!isS3Error(err, 'AccessDenied')) throw err;
      report.skippedLocked++;
    }
  }
}

/** A small JSON document and its etag; value undefined when absent or not JSON. */
async function readJson<T>(area: BucketReservedArea, name: string): Promise<{ value?: T; etag?: string }> {
  const doc = await area.get(name);
  if (!doc) return {};
  try {
    return { value: JSON.parse((await readReservedBody(doc)).toString('utf8')) as T, etag: doc.entry.etag };
  } catch {
    return { etag: doc.entry.etag };
  }
}

function commonPrefix(prefixes: string[]): string {
  if (prefixes.length === 0) return '';
  let p = prefixes[0];
  for (const q of prefixes) while (!q.startsWith(p)) p = p.slice(0, -1);
  return p;
}

export interface RunningLifecycle {
  stop(): void;
}

/** Runs the worker every `intervalMs` (first run after one interval); runs never overlap. */
export function startLifecycleWorker(worker: LifecycleWorker, intervalMs: number): RunningLifecycle {
  let stopped = false;
  let timer: NodeJS.Timeout | undefined;
  const tick = async () => {
    try {
      await worker.runOnce();
    } catch {
      // runOnce reports its own failures
    }
    if (!stopped) timer = setTimeout(() => void tick(), intervalMs).unref();
  };
  timer = setTimeout(() => void tick(), intervalMs).unref();
  return {
    stop() {
      stopped = true;
      if (timer) clearTimeout(timer);
    },
  };
}
