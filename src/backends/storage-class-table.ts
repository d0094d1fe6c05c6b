/**
 * What a kit declares about storage classes (its `storageClasses`): the S3 classes it can
 * hold and its own name for each. The lookups by kind are in storage-classes.ts; this module
 * imports nothing, so kit files can use it.
 */
/** Every storage class S3 names (x-amz-storage-class values). */
export const S3_STORAGE_CLASSES = [
  'STANDARD',
  'REDUCED_REDUNDANCY',
  'STANDARD_IA',
  'ONEZONE_IA',
  'INTELLIGENT_TIERING',
  'GLACIER',
  'DEEP_ARCHIVE',
  'OUTPOSTS',
  'GLACIER_IR',
  'SNOW',
  'EXPRESS_ONEZONE',
] as const;
export type S3StorageClass = (typeof S3_STORAGE_CLASSES)[number];

export interface StorageClassTable {
  kept: 'native' | 'attribute';
  /** S3 class → the store's class; an S3 class absent here cannot be held. */
  toNative: Partial<Record<S3StorageClass, string>>;
  /** The store's class → the S3 class reported when s3mux recorded none; default: the first S3 class mapping to it. */
  toS3?: Record<string, S3StorageClass>;
  /** Native classes whose objects must be restored (rehydrated) before they can be read. */
  archived: readonly string[];
  /** How RestoreObject is answered here: 'rehydrate' when the store can, else the reason it cannot. */
  restore: { kind: 'rehydrate' } | { kind: 'unsupported'; reason: string };
}

/**
 * A store a write's class must fit, as messages name it. A plain route has one (its backend);
 * a composite route has every target its writes may reach (../router/forms/receivers.ts), and
 * holds only the classes all of them can: its storage-class table is their intersection.
 */
export interface ClassHolder {
  /** How a message names it: 'The azure backend', 'Target gs://media-a/ (gcs) of mirror route media'. */
  label: string;
  kind: string;
  /**
   * The route makes its copies by reading one target's copy (a mirror): at least one of its
   * holders must keep the class readable (not archived), or no copy could be made.
   */
  copiedBetween?: boolean;
}

/** Every S3 class kept as a label (fs, memory). */
export const ATTRIBUTE_CLASSES: StorageClassTable = {
  kept: 'attribute',
  toNative: Object.fromEntries(S3_STORAGE_CLASSES.map((c) => [c, c])),
  archived: [],
  restore: { kind: 'unsupported', reason: 'the storage class is a label here and objects are always readable; nothing to restore' },
};

/** The store's class for an S3 class in `table` (undefined for none, or one the store cannot hold). */
export function nativeClassOf(table: StorageClassTable, storageClass: string | undefined): string | undefined {
  return storageClass === undefined ? undefined : (table.toNative as Record<string, string | undefined>)[storageClass];
}

/**
 * The S3 class of an object whose own class is `native`: the recorded S3 name while it maps
 * to that class, else the native class's (it was changed by a transition, a rehydration or
 * another client of the store). STANDARD is reported as no class.
 */
export function reportedClassOf(table: StorageClassTable, recorded: string | undefined, native: string | undefined): string | undefined {
  if (native === undefined || nativeClassOf(table, recorded ?? 'STANDARD') === native) return recorded;
  const s3 = table.toS3?.[native];
  return s3 === undefined || s3 === 'STANDARD' ? undefined : s3;
}
