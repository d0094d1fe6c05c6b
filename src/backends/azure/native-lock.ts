/**
 * Azure's own lock on s3mux's version blobs, where the container has version-level immutability
 * support (`isImmutableStorageWithVersioningEnabled`): a version's retention becomes the blob's
 * immutability policy (GOVERNANCE: Unlocked, COMPLIANCE: Locked), its legal hold the blob's
 * legal hold: on the Put Blob / Put Block List that creates the blob (`lockOptions`: the
 * x-ms-immutability-policy-until-date, -mode and x-ms-legal-hold headers), later by Set Blob
 * Immutability Policy / Set Blob Legal Hold. An Unlocked policy may be shortened or deleted, which s3mux does only after its
 * own GOVERNANCE bypass check; Azure refuses the same to a Locked one.
 */
import type { BlobImmutabilityPolicy } from '@azure/storage-blob';
import { nativeLock, type NativeLock } from '../native-lock';
import type { StoreLock } from '../reserved-store';
import type { AzureStore } from './store';

const AZURE_MODE = { GOVERNANCE: 'Unlocked', COMPLIANCE: 'Locked' } as const;

export function azureNativeLock(store: AzureStore): NativeLock {
  const blob = (bucket: string, name: string) => store.container(bucket).getBlockBlobClient(name);
  return nativeLock({
    async enabled(bucket) {
      const props = await store.call({ bucket }, () => store.container(bucket).getProperties());
      return props.isImmutableStorageWithVersioningEnabled === true;
    },
    retain: async (bucket, name, r) => {
      await store.call({ bucket }, () =>
        r
          ? blob(bucket, name).setImmutabilityPolicy({ expiriesOn: new Date(r.until), policyMode: AZURE_MODE[r.mode] })
          : blob(bucket, name).deleteImmutabilityPolicy(),
      );
    },
    hold: async (bucket, name, on) => {
      await store.call({ bucket }, () => blob(bucket, name).setLegalHold(on));
    },
  });
}

/** The upload options that give a new blob its lock (Put Blob, Put Block List). */
export function lockOptions(lock: StoreLock | undefined): { immutabilityPolicy?: BlobImmutabilityPolicy; legalHold?: boolean } {
  return {
    ...(lock?.retention
      ? { immutabilityPolicy: { expiriesOn: new Date(lock.retention.until), policyMode: AZURE_MODE[lock.retention.mode] } }
      : {}),
    ...(lock?.legalHold === 'ON' ? { legalHold: true } : {}),
  };
}
