/**
 * Azure's access tiers as S3 storage classes. The tier is the blob's own (Put Blob / Put Block
 * List with x-ms-access-tier, Set Blob Tier), so a transition changes it in place; the S3 name
 * the client used is also kept in metadata, and wins while it still maps to the blob's tier.
 */
import { nativeClassOf, reportedClassOf, type StorageClassTable } from '../storage-class-table';

export const AZURE_STORAGE_CLASSES: StorageClassTable = {
  kept: 'native',
  toNative: { STANDARD: 'Hot', STANDARD_IA: 'Cool', ONEZONE_IA: 'Cool', GLACIER_IR: 'Cold', GLACIER: 'Archive', DEEP_ARCHIVE: 'Archive' },
  toS3: { Hot: 'STANDARD', Cool: 'STANDARD_IA', Cold: 'GLACIER_IR', Archive: 'GLACIER' },
  archived: ['Archive'],
  restore: { kind: 'rehydrate' },
};

/** The tier for an S3 class (undefined for none or one Azure cannot hold; the view refuses those before). */
export function azureTier(storageClass: string | undefined): string | undefined {
  return nativeClassOf(AZURE_STORAGE_CLASSES, storageClass);
}

/** The S3 class of a blob: the recorded one while it maps to the blob's tier, else the tier's. */
export function classOfBlob(recorded: string | undefined, tier: string | undefined): string | undefined {
  return reportedClassOf(AZURE_STORAGE_CLASSES, recorded, tier);
}
