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
import { S3_STORAGE_CLASSES, type ClassHolder, type S3StorageClass, type StorageClassTable } from './storage-class-table';

export {
  ATTRIBUTE_CLASSES,
  S3_STORAGE_CLASSES,
  type ClassHolder,
  type S3StorageClass,
  type StorageClassTable,
} from './storage-class-table';

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

/** The holders of a backend's writes: a composite route's receiving targets, else the backend itself. */
export function classHolders(backend: { kind: string; classHolders?: readonly ClassHolder[] }): readonly ClassHolder[] {
  return backend.classHolders ?? [{ label: `The ${backend.kind} backend`, kind: backend.kind }];
}

/** The S3 classes every one of `holders` can hold (a composite route's table). */
export function heldByAll(holders: readonly ClassHolder[]): S3StorageClass[] {
  return S3_STORAGE_CLASSES.filter((c) => holders.every((h) => canHold(h.kind, c)) && !allArchive(holders, c));
}

/** Copies made by reading one holder's copy, and every holder archives the class: none could be read. */
function allArchive(holders: readonly ClassHolder[], storageClass: string): boolean {
  return holders.length > 1 && holders.every((h) => h.copiedBetween && isArchived(h.kind, storageClass));
}

/** Why `storageClass` cannot be held by all of `holders` (naming the first that cannot), or undefined. */
export function classProblem(holders: readonly ClassHolder[], storageClass: string): string | undefined {
  if (allArchive(holders, storageClass))
    return `Every target of this route archives ${storageClass}, and its copies are made by reading one of them: no copy could be read. It holds ${heldByAll(holders).join(', ')}.`;
  const h = holders.find((x) => !canHold(x.kind, storageClass));
  if (!h) return undefined;
  const held = Object.keys(storageClassTable(h.kind).toNative).join(', ');
  const all = holders.length > 1 ? ` Its writes reach ${holders.length} stores, which all hold only ${heldByAll(holders).join(', ')}.` : '';
  return `${h.label} has no storage class for ${storageClass} (it holds ${held}).${all}`;
}

/** Throws InvalidStorageClass unless every store a write on `backend` reaches can hold `storageClass`. */
export function checkStorageClass(backend: { kind: string; classHolders?: readonly ClassHolder[] }, storageClass: string): void {
  const problem = classProblem(classHolders(backend), storageClass);
  if (problem) throw new S3Error('InvalidStorageClass', problem, { StorageClassRequested: storageClass });
}

/**
 * The one S3 class tier `tier` (its `classes`: kind → the store's class) gives stores of
 * `kinds`, or why it gives none: a kind it names no class for, or kinds it gives different S3
 * classes (a composite route's copies carry one S3 class, each mapping it to its own).
 */
export function tierClassFor(
  tier: string,
  classes: Record<string, string>,
  kinds: readonly string[],
): { storageClass: string } | { problem: string } {
  const byKind = new Map<string, string>();
  for (const kind of new Set(kinds)) {
    const native = classes[kind];
    const s3 = native === undefined ? undefined : s3Class(kind, native);
    if (s3 === undefined) return { problem: `tier '${tier}' names no storage class for ${kind} stores` };
    byKind.set(kind, s3);
  }
  const distinct = new Set(byKind.values());
  if (distinct.size > 1) {
    const each = [...byKind].map(([k, c]) => `${k}: ${c}`).join(', ');
    return { problem: `tier '${tier}' gives this route's stores different S3 classes (${each}); the copies of a route hold one class` };
  }
  return { storageClass: [...distinct][0] ?? 'STANDARD' };
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
