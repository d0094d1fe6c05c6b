/**
 * The gcs backend sets Object Retention Lock and temporary holds on the bytes of a locked
 * version when the store bucket has object retention enabled, against the GCS JSON API double
 * (test/helpers/gcs-double.ts; the Cloud Storage emulator has no retention).
 */
import type { Storage } from '@google-cloud/storage';
import { makeStorage } from '../../src/backends/gcs/client';
import { startGcsDouble, type GcsDouble } from '../helpers/gcs-double';
import { nativeLockSuite } from '../helpers/native-lock-suite';

let double: GcsDouble;
let storage: Storage;
const S3_MODE = { Unlocked: 'GOVERNANCE', Locked: 'COMPLIANCE' } as const;

nativeLockSuite('gcs backend: native object lock on the store', {
  async start() {
    double = await startGcsDouble();
    storage = makeStorage({ endpoint: double.endpoint, projectId: double.projectId, anonymous: true, maxAttempts: 1 });
  },
  stop: () => double.stop(),
  async createBucket(name, withLock) {
    await storage.createBucket(name, withLock ? { enableObjectRetention: true } : {});
  },
  table: (storeBucket) => ({
    backends: { g: { type: 'gcs', endpoint: double.endpoint, projectId: double.projectId, credentials: { anonymous: true } } },
    routes: { vault: { target: `gs://${storeBucket}/`, backend: 'g' } },
  }),
  async blobs(storeBucket) {
    const [files] = await storage.bucket(storeBucket).getFiles({ prefix: '.s3mux/r/' });
    return files.map((f) => f.name).filter((n) => /\/v\/d\//.test(n));
  },
  async lockOf(storeBucket, name) {
    const r = double.peek(storeBucket, name)!.resource;
    return {
      mode: r.retention ? S3_MODE[r.retention.mode as keyof typeof S3_MODE] : undefined,
      until: r.retention ? new Date(r.retention.retainUntilTime) : undefined,
      hold: r.temporaryHold === true,
    };
  },
  async directDelete(storeBucket, name) {
    try {
      await storage.bucket(storeBucket).file(name).delete();
      return 'deleted';
    } catch (err) {
      return String((err as { code?: number }).code);
    }
  },
  refusal: '403',
  // objects.patch is how GCS changes an existing object's retention or holds.
  lockCalls: async (storeBucket) =>
    double.requests.filter((r) => r.method === 'PATCH' && r.path.startsWith(`/storage/v1/b/${storeBucket}/o/`)).length,
  lockEnabled: async (storeBucket) => (await storage.bucket(storeBucket).getMetadata())[0].objectRetention?.mode === 'Enabled',
  // No enableLock: GCS enables Object Retention Lock only when a bucket is created.
});
