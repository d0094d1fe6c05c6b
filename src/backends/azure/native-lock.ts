/**
 * Azure's own lock on s3mux's version blobs, where the container has version-level immutability
 * support (`isImmutableStorageWithVersioningEnabled`): a version's retention becomes the blob's
 * immutability policy (GOVERNANCE: Unlocked, COMPLIANCE: Locked), its legal hold the blob's
 * legal hold. An Unlocked policy may be shortened or deleted, which s3mux does only after its
 * own GOVERNANCE bypass check; Azure refuses the same to a Locked one.
 */
import { nativeLock, type NativeProtect } from '../native-lock';
import type { AzureStore } from './store';

const AZURE_MODE = { GOVERNANCE: 'Unlocked', COMPLIANCE: 'Locked' } as const;

export function azureNativeLock(store: AzureStore): NativeProtect {
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
