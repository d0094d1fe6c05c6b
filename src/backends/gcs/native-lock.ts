/**
 * GCS's own lock on s3mux's version blobs, where the bucket has Object Retention Lock enabled
 * (`objectRetention.mode: Enabled`): a version's retention becomes the object's `retention`
 * (GOVERNANCE: mode Unlocked, COMPLIANCE: Locked, as Google's XML API names them), its legal
 * hold the object's `temporaryHold`: in the object resource of the insert that creates the
 * object (`lockFields`), later by objects.patch. Removing or shortening an Unlocked
 * retention needs `overrideUnlockedRetention`, which s3mux sends only after its own GOVERNANCE
 * bypass check; Google grants it or refuses it to s3mux's own credentials.
 */
import { nativeLock, type NativeLock } from '../native-lock';
import type { StoreLock } from '../reserved-store';
import type { GcsStore } from './store';

const GCS_MODE = { GOVERNANCE: 'Unlocked', COMPLIANCE: 'Locked' } as const;

export function gcsNativeLock(store: GcsStore): NativeLock {
  const patch = (bucket: string, name: string, fields: Record<string, unknown>, query: Record<string, unknown> = {}) =>
    store.call({ bucket, key: name }, () => store.bucket(bucket).file(name).setMetadata(fields, query));
  return nativeLock({
    async enabled(bucket) {
      // A store without the bucket API (the firebase emulator) has no retention either.
      if (!store.bucketApi) return false;
      const [meta] = await store.call({ bucket }, () => store.bucket(bucket).getMetadata());
      return meta.objectRetention?.mode === 'Enabled';
    },
    retain: async (bucket, name, r) => {
      await patch(
        bucket,
        name,
        { retention: r ? { mode: GCS_MODE[r.mode], retainUntilTime: r.until } : null },
        { overrideUnlockedRetention: true },
      );
    },
    hold: async (bucket, name, on) => {
      await patch(bucket, name, { temporaryHold: on });
    },
  });
}

/** The object resource fields that give a new object its lock on the insert. */
export function lockFields(lock: StoreLock | undefined): { retention?: { mode: string; retainUntilTime: string }; temporaryHold?: true } {
  return {
    ...(lock?.retention ? { retention: { mode: GCS_MODE[lock.retention.mode], retainUntilTime: lock.retention.until } } : {}),
    ...(lock?.legalHold === 'ON' ? { temporaryHold: true as const } : {}),
  };
}
