/**
 * GCS storage classes as S3 storage classes. The class is the object's own (`storageClass` on
 * insert, compose and rewrite; a rewrite onto itself changes it), so a transition changes it in
 * place; the S3 name the client used is also kept in metadata, and wins while it still maps to
 * the object's class. GCS serves every class at once (ARCHIVE too, at a retrieval fee): nothing
 * is archived in S3's sense and there is nothing to restore.
 */
import { nativeClassOf, reportedClassOf, type StorageClassTable } from '../storage-class-table';

export const GCS_STORAGE_CLASSES: StorageClassTable = {
  kept: 'native',
  toNative: {
    STANDARD: 'STANDARD',
    STANDARD_IA: 'NEARLINE',
    ONEZONE_IA: 'NEARLINE',
    GLACIER_IR: 'COLDLINE',
    GLACIER: 'ARCHIVE',
    DEEP_ARCHIVE: 'ARCHIVE',
  },
  toS3: { STANDARD: 'STANDARD', NEARLINE: 'STANDARD_IA', COLDLINE: 'GLACIER_IR', ARCHIVE: 'GLACIER' },
  archived: [],
  restore: { kind: 'unsupported', reason: 'Google Cloud Storage serves ARCHIVE objects directly; there is nothing to restore' },
};

/** The GCS class for an S3 class (undefined for none or one GCS cannot hold; the view refuses those before). */
export function gcsClass(storageClass: string | undefined): string | undefined {
  return nativeClassOf(GCS_STORAGE_CLASSES, storageClass);
}

/** The S3 class of an object: the recorded one while it maps to the object's class, else the class's. */
export function classOfGcsObject(recorded: string | undefined, native: string | undefined): string | undefined {
  return reportedClassOf(GCS_STORAGE_CLASSES, recorded, native);
}
