/**
 * Storage classes: S3's names ↔ each store's own classes (tiers), declared by each kind's kit
 * (`storageClasses`) and shared by PUT/Copy/CreateMultipartUpload, listings, the routing table's tier policies and
 * lifecycle transitions.
 *
 * A store keeps a class in one of two ways:
 * - `native`: the store itself holds the object in that class (its own tier: Azure's
 *   Hot/Cool/Cold/Archive, GCS's STANDARD/NEARLINE/COLDLINE/ARCHIVE, OCI's
 *   Standard/InfrequentAccess/Archive, S3's own classes). Price, retrieval and archive rules
 *   are the store's.
 * - `attribute`: the class is a label kept beside the object (fs, memory). GET, HEAD and
 *   listings report it, lifecycle rules can act on it, but the bytes sit on the same disk
 *   (or in the same memory) whatever the label: nothing is cheaper, nothing is archived, and
 *   reading never needs a restore.
 *
 * An S3 class a store has no class for is refused (InvalidStorageClass), never dropped.
 */
import { S3Error } from '../errors';
import { BACKEND_KITS } from './registry';
import { S3_STORAGE_CLASSES, type S3StorageClass, type StorageClassTable } from './storage-class-table';

export { ATTRIBUTE_CLASSES, S3_STORAGE_CLASSES, type S3StorageClass, type StorageClassTable } from './storage-class-table';

/** A kind whose kit declares no table holds STANDARD only. */
const STANDARD_ONLY: StorageClassTable = {
  kept: 'native',
  toNative: { STANDARD: 'STANDARD' },
  archived: [],
  restore: { kind: 'unsupported', reason: 'this store has one storage class' },
};

/** The table the kind's kit declares (src/backends/<kind>/kit.ts). */
export function storageClassTable(kind: string): StorageClassTable {
  return BACKEND_KITS.find((k) => k.kind === kind)?.storageClasses ?? STANDARD_ONLY;
}

export function isS3StorageClass(v: string): v is S3StorageClass {
  return (S3_STORAGE_CLASSES as readonly string[]).includes(v);
}

/** Can a `kind` store hold S3 class `storageClass`? (Lifecycle transitions ask this too.) */
export function canHold(kind: string, storageClass: string): boolean {
  return isS3StorageClass(storageClass) && storageClassTable(kind).toNative[storageClass] !== undefined;
}

/** The store's class for an S3 class; throws InvalidStorageClass naming the store when it has none. */
export function nativeClass(kind: string, storageClass: string): string {
  const native = isS3StorageClass(storageClass) ? storageClassTable(kind).toNative[storageClass] : undefined;
  if (native === undefined) {
    const held = Object.keys(storageClassTable(kind).toNative).join(', ');
    throw new S3Error('InvalidStorageClass', `The ${kind} backend has no storage class for ${storageClass} (it holds ${held}).`, {
      StorageClassRequested: storageClass,
    });
  }
  return native;
}

/** The S3 class reported for a store's class (undefined when the store's class is unknown). */
export function s3Class(kind: string, native: string): S3StorageClass | undefined {
  const t = storageClassTable(kind);
  if (t.toS3?.[native]) return t.toS3[native];
  const entry = (Object.entries(t.toNative) as [S3StorageClass, string][]).find(([, n]) => n.toLowerCase() === native.toLowerCase());
  return entry?.[0];
}

/** The native class names a kind has (for the routing table's tier checks). */
export function nativeClasses(kind: string): string[] {
  return [...new Set(Object.values(storageClassTable(kind).toNative))];
}

/** Must an object of S3 class `storageClass` on a `kind` store be restored before it is read? */
export function isArchived(kind: string, storageClass: string | undefined): boolean {
  if (storageClass === undefined || !isS3StorageClass(storageClass)) return false;
  const t = storageClassTable(kind);
  const native = t.toNative[storageClass];
  return native !== undefined && t.archived.includes(native);
}

/** How cold each class is, for S3's waterfall (a lifecycle rule only ever moves an object colder). */
const RANK: Record<string, number> = {
  STANDARD: 0,
  REDUCED_REDUNDANCY: 0,
  EXPRESS_ONEZONE: 0,
  OUTPOSTS: 0,
  SNOW: 0,
  INTELLIGENT_TIERING: 1,
  STANDARD_IA: 2,
  ONEZONE_IA: 3,
  GLACIER_IR: 4,
  GLACIER: 5,
  DEEP_ARCHIVE: 6,
};

export function storageClassRank(storageClass: string): number {
  return RANK[storageClass] ?? 0;
}
