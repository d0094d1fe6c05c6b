/**
 * ListObjectVersions: every version and delete marker, keys in binary order, each key's
 * versions newest first, as S3 lists them. Keys come from two ordered sources merged: the
 * version indexes (their names keep key order, names.ts) and the objects at their own names
 * (keys written before versioning, whose only version is the null one).
 */
import { S3Error } from '../errors';
import type { ObjectSummary } from '../backends/types';
import { summaryOf } from '../backends/listing';
import { setListedChecksum, type ListedChecksum } from '../backends/listed-checksum';
import type { BucketView } from '../router/bucket-view';
import { keyOfIndexName, indexName, indexPrefix } from './names';
import { VersionedObjects } from './objects';
import { checkVersionId, NULL_VERSION, versionIdTime } from './version-id';

export interface VersionListOptions {
  prefix: string;
  delimiter?: string;
  keyMarker?: string;
  versionIdMarker?: string;
  /** 0..1000 */
  maxKeys: number;
}

export interface ListedVersion extends ListedChecksum {
  key: string;
  versionId: string;
  isLatest: boolean;
  deleteMarker: boolean;
  lastModified: Date;
  etag?: string;
  size?: number;
  storageClass?: string;
}

export interface VersionPage {
  versions: ListedVersion[];
  commonPrefixes: string[];
  isTruncated: boolean;
  nextKeyMarker?: string;
  nextVersionIdMarker?: string;
}

const PAGE = 1000;

/** Keys of the version indexes under `prefix`, after `after` (exclusive), in order. */
export async function* indexedKeys(objects: VersionedObjects, prefix: string, after: string | undefined): AsyncGenerator<string> {
  if (!objects.status) return;
  const area = objects.view.reservedArea('object versions');
  let startAfter = after === undefined ? undefined : indexName(after);
  for (;;) {
    const entries = await area.list(indexPrefix(prefix), { startAfter, max: PAGE });
    for (const e of entries) {
      const key = keyOfIndexName(e.name);
      if (key !== undefined && key.startsWith(prefix)) yield key;
    }
    if (entries.length < PAGE) return;
    startAfter = entries[entries.length - 1].name;
  }
}

/** Objects at their own names under `prefix`, after `after`, in order. */
async function* namedObjects(view: BucketView, prefix: string, after: string | undefined): AsyncGenerator<ObjectSummary> {
  let startAfter = after;
  for (;;) {
    const page = await view.listObjects({ prefix, startAfter, maxKeys: PAGE });
    yield* page.objects;
    if (!page.isTruncated || page.nextStartAfter === undefined) return;
    startAfter = page.nextStartAfter;
  }
}

function compareKeys(a: string, b: string): number {
  return Buffer.compare(Buffer.from(a, 'utf8'), Buffer.from(b, 'utf8'));
}

/** The union of both sources, in key order: a key with an index is listed from it. */
async function* allKeys(
  objects: VersionedObjects,
  prefix: string,
  after: string | undefined,
): AsyncGenerator<{ key: string; indexed: boolean; summary?: ObjectSummary }> {
  const a = indexedKeys(objects, prefix, after);
  const b = namedObjects(objects.view, prefix, after);
  let na = await a.next();
  let nb = await b.next();
  while (!na.done || !nb.done) {
    const c = na.done ? 1 : nb.done ? -1 : compareKeys(na.value, nb.value.key);
    if (c < 0) {
      yield { key: na.value as string, indexed: true };
      na = await a.next();
    } else if (c > 0) {
      yield { key: (nb.value as ObjectSummary).key, indexed: false, summary: nb.value as ObjectSummary };
      nb = await b.next();
    } else {
      yield { key: na.value as string, indexed: true };
      na = await a.next();
      nb = await b.next();
    }
  }
}

async function versionsOf(
  objects: VersionedObjects,
  item: { key: string; indexed: boolean; summary?: ObjectSummary },
): Promise<ListedVersion[]> {
  if (!item.indexed) {
    const s = item.summary!;
    return [
      {
        key: s.key,
        versionId: NULL_VERSION,
        isLatest: true,
        deleteMarker: false,
        lastModified: s.lastModified,
        etag: s.etag,
        size: s.size,
        storageClass: s.storageClass,
        checksumAlgorithm: s.checksumAlgorithm,
        checksumType: s.checksumType,
      },
    ];
  }
  const index = await objects.index(item.key);
  return index.versions.map((v, i) => {
    const listed: ListedVersion = {
      key: item.key,
      versionId: v.id,
      isLatest: i === 0,
      deleteMarker: v.marker === true,
      lastModified: new Date(v.lastModified),
      etag: v.etag,
      size: v.size,
      storageClass: v.attrs?.storageClass,
    };
    // A version keeps the checksums it was written with in its index entry.
    setListedChecksum(listed, v.attrs?.checksums);
    return listed;
  });
}

/**
 * A key's versions (newest first) after the version-id marker. A marker whose version is gone
 * (deleted since the page that named it) still marks a place, as in S3: the versions older than
 * it follow. Ids carry their creation time and sort by it; the null version has its Last-Modified.
 */
function versionsAfter(vs: ListedVersion[], marker: string): ListedVersion[] {
  const at = vs.findIndex((v) => v.versionId === marker);
  if (at >= 0) return vs.slice(at + 1);
  if (marker === NULL_VERSION) return [];
  const older = (v: ListedVersion) =>
    v.versionId === NULL_VERSION ? v.lastModified.getTime() < versionIdTime(marker) : v.versionId < marker;
  const from = vs.findIndex(older);
  return from < 0 ? [] : vs.slice(from);
}

export async function listObjectVersions(objects: VersionedObjects, opts: VersionListOptions): Promise<VersionPage> {
  // S3 judges the marker's form first ('bogus' is InvalidArgument even without a key marker);
  // a well-formed id of a version that is gone still marks a place (versionsAfter).
  if (opts.versionIdMarker !== undefined) checkVersionId(opts.versionIdMarker, 'version-id-marker');
  if (opts.versionIdMarker !== undefined && opts.keyMarker === undefined) {
    throw new S3Error('InvalidArgument', 'A version-id marker cannot be specified without a key marker.', {
      ArgumentName: 'version-id-marker',
      ArgumentValue: opts.versionIdMarker,
    });
  }
  await objects.view.exists();
  const page: VersionPage = { versions: [], commonPrefixes: [], isTruncated: false };
  if (opts.maxKeys === 0) return page;
  let count = 0;
  let last: { key: string; versionId?: string } | undefined;
  const full = (): boolean => {
    if (count < opts.maxKeys) return false;
    page.isTruncated = true;
    page.nextKeyMarker = last?.key;
    page.nextVersionIdMarker = last?.versionId;
    return true;
  };
  const emit = (vs: ListedVersion[]): boolean => {
    for (const v of vs) {
      if (full()) return true;
      page.versions.push(v);
      count++;
      last = { key: v.key, versionId: v.versionId };
    }
    return false;
  };

  // key-marker with version-id-marker: the rest of that key's versions come first.
  if (opts.keyMarker !== undefined && opts.versionIdMarker !== undefined && opts.keyMarker.startsWith(opts.prefix)) {
    const index = objects.status ? await objects.index(opts.keyMarker) : { versions: [] };
    const meta = index.versions.length ? undefined : await objects.view.headObject(opts.keyMarker).catch(() => undefined);
    const summary = meta && summaryOf(meta);
    // A key marker naming no key (deleted since the last page, or never written) has no
    // versions left to list: the listing goes on after it.
    const vs =
      index.versions.length || summary
        ? await versionsOf(objects, { key: opts.keyMarker, indexed: index.versions.length > 0, summary })
        : [];
    if (emit(versionsAfter(vs, opts.versionIdMarker))) return page;
  }

  let lastPrefix: string | undefined;
  for await (const item of allKeys(objects, opts.prefix, opts.keyMarker)) {
    if (opts.delimiter) {
      const cut = item.key.indexOf(opts.delimiter, opts.prefix.length);
      if (cut >= 0) {
        const cp = item.key.slice(0, cut + opts.delimiter.length);
        // A prefix already listed, on this page or (as the key marker) on an earlier one.
        if (cp === lastPrefix || (opts.keyMarker !== undefined && opts.keyMarker.startsWith(cp))) continue;
        if (full()) return page;
        page.commonPrefixes.push(cp);
        count++;
        lastPrefix = cp;
        last = { key: cp };
        continue;
      }
    }
    const vs = await versionsOf(objects, item);
    if (emit(vs)) return page;
  }
  return page;
}
