/**
 * The azure backend sets Azure's version-level immutability policy and legal hold on the bytes of
 * a locked version when the container has version-level immutability support, against Azurite
 * behind test/helpers/azure-immutability-double.ts (Azurite answers those calls NotImplemented).
 */
import { expect } from 'chai';
import { BlobServiceClient, StorageSharedKeyCredential } from '@azure/storage-blob';
import { startAzurite, type Azurite } from '../helpers/azurite';
import { startAzureImmutabilityDouble, type AzureImmutabilityDouble } from '../helpers/azure-immutability-double';
import { nativeLockSuite } from '../helpers/native-lock-suite';

const KEY_ENV = 'S3MUX_TEST_AZ_LOCK_KEY';
const S3_MODE = { unlocked: 'GOVERNANCE', locked: 'COMPLIANCE' } as const;
let azurite: Azurite;
let double: AzureImmutabilityDouble;
let direct: BlobServiceClient;
const blobClient = (container: string, name: string) => direct.getContainerClient(container).getBlockBlobClient(name);
const errorCode = (err: unknown) => String((err as { details?: { errorCode?: string } }).details?.errorCode);

nativeLockSuite('azure backend: native object lock on the store', {
  async start() {
    azurite = await startAzurite();
    double = await startAzureImmutabilityDouble({ port: azurite.port, account: azurite.account }, []);
    direct = new BlobServiceClient(double.endpoint, new StorageSharedKeyCredential(azurite.account, azurite.accountKey));
    process.env[KEY_ENV] = azurite.accountKey;
  },
  async stop() {
    await double.stop();
    await azurite.stop();
    delete process.env[KEY_ENV];
  },
  async createBucket(name, withLock) {
    // Create Container's header for version-level immutability support (the SDK has no option for it).
    const header = { 'x-ms-immutable-storage-with-versioning-enabled': 'true' };
    await direct.getContainerClient(name).create(withLock ? ({ requestOptions: { customHeaders: header } } as object) : {});
  },
  table: (container) => ({
    backends: { az: { type: 'azure', account: azurite.account, endpoint: double.endpoint, credentials: { accountKeyEnv: KEY_ENV } } },
    routes: { vault: { target: `az://${container}/`, backend: 'az' } },
  }),
  async blobs(container) {
    const out: string[] = [];
    for await (const b of direct.getContainerClient(container).listBlobsFlat({ prefix: '.s3mux/r/' })) {
      if (/\/v\/d\//.test(b.name)) out.push(b.name);
    }
    return out;
  },
  async lockOf(container, name) {
    const p = await blobClient(container, name).getProperties();
    const mode = p.immutabilityPolicyMode?.toLowerCase() as keyof typeof S3_MODE | undefined;
    // A protected blob cannot be overwritten directly either.
    if (mode || p.legalHold) {
      const overwrite = await blobClient(container, name)
        .upload('evil', 4)
        .then(() => 'written', errorCode);
      expect(overwrite).to.match(/^BlobImmutableDueTo/);
    }
    return { mode: mode ? S3_MODE[mode] : undefined, until: p.immutabilityPolicyExpiresOn, hold: p.legalHold === true };
  },
  async directDelete(container, name) {
    return blobClient(container, name)
      .delete()
      .then(() => 'deleted', errorCode);
  },
  refusal: 'BlobImmutableDueToPolicy',
  lockCalls: async (container) =>
    double.requests.filter((r) => r.container === container && (r.comp === 'immutabilityPolicies' || r.comp === 'legalhold')).length,
  lockEnabled: async (container) =>
    (await direct.getContainerClient(container).getProperties()).isImmutableStorageWithVersioningEnabled === true,
  enableLock: async (container) => double.enableImmutability(container),
});
