/**
 * The azure backend sets Azure's version-level immutability policy and legal hold on the bytes of
 * a locked version when the container has version-level immutability support: s3mux in front of
 * Azurite through test/helpers/azure-immutability-double.ts (Azurite answers those calls
 * NotImplemented). A client reaching the container directly cannot remove the bytes.
 */
import { createHash } from 'node:crypto';
import { expect } from 'chai';
import {
  DeleteObjectCommand,
  GetObjectCommand,
  PutBucketVersioningCommand,
  PutObjectCommand,
  PutObjectLegalHoldCommand,
  PutObjectLockConfigurationCommand,
  PutObjectRetentionCommand,
} from '@aws-sdk/client-s3';
import { BlobServiceClient, StorageSharedKeyCredential } from '@azure/storage-blob';
import { validateRoutingTable } from '../../src/router/config';
import { Router } from '../../src/router/router';
import { startAzurite, type Azurite } from '../helpers/azurite';
import { startAzureImmutabilityDouble, type AzureImmutabilityDouble } from '../helpers/azure-immutability-double';
import { startTestServer, type TestServer } from '../helpers/server';

const md5 = (s: string): string => createHash('md5').update(s).digest('base64');
const KEY_ENV = 'S3MUX_TEST_AZ_LOCK_KEY';

describe('azure backend: native object lock on the store', function () {
  this.timeout(90_000);
  let azurite: Azurite;
  let double: AzureImmutabilityDouble;
  let direct: BlobServiceClient;
  let front: TestServer | undefined;

  before(async () => {
    azurite = await startAzurite();
    double = await startAzureImmutabilityDouble({ port: azurite.port, account: azurite.account }, ['locked', 'governed']);
    direct = new BlobServiceClient(double.endpoint, new StorageSharedKeyCredential(azurite.account, azurite.accountKey));
    process.env[KEY_ENV] = azurite.accountKey;
  });

  after(async () => {
    await front?.stop();
    await double?.stop();
    await azurite?.stop();
    delete process.env[KEY_ENV];
  });

  async function lockedVirtualBucket(container: string): Promise<TestServer> {
    await direct.getContainerClient(container).create();
    await front?.stop();
    const table = validateRoutingTable({
      backends: { az: { type: 'azure', account: azurite.account, endpoint: double.endpoint, credentials: { accountKeyEnv: KEY_ENV } } },
      routes: { vault: { target: `az://${container}/`, backend: 'az' } },
    });
    front = await startTestServer({ router: Router.fromTable(table) });
    await front.s3.send(new PutBucketVersioningCommand({ Bucket: 'vault', VersioningConfiguration: { Status: 'Enabled' } }));
    await front.s3.send(
      new PutObjectLockConfigurationCommand({ Bucket: 'vault', ObjectLockConfiguration: { ObjectLockEnabled: 'Enabled' } }),
    );
    return front;
  }

  /** The blobs holding version bytes (under the reserved area's `v/d/`). */
  async function blobsOnStore(container: string): Promise<string[]> {
    const out: string[] = [];
    for await (const b of direct.getContainerClient(container).listBlobsFlat({ prefix: '.s3mux/r/' })) {
      if (/\/v\/d\//.test(b.name)) out.push(b.name);
    }
    return out;
  }

  const props = (container: string, name: string) => direct.getContainerClient(container).getBlockBlobClient(name).getProperties();

  async function directDelete(container: string, name: string): Promise<string> {
    try {
      await direct.getContainerClient(container).getBlockBlobClient(name).delete();
      return 'deleted';
    } catch (err) {
      return String((err as { details?: { errorCode?: string } }).details?.errorCode);
    }
  }

  it('a COMPLIANCE version: the blob gets a Locked policy, a direct delete or overwrite is refused; legal hold and extension follow', async () => {
    const s3 = (await lockedVirtualBucket('locked')).s3;
    const until = new Date(Math.ceil(Date.now() / 1000) * 1000 + 3600_000);
    await s3.send(
      new PutObjectCommand({
        Bucket: 'vault',
        Key: 'ledger.txt',
        Body: 'entry one',
        ContentMD5: md5('entry one'),
        ObjectLockMode: 'COMPLIANCE',
        ObjectLockRetainUntilDate: until,
      }),
    );
    const [blob] = await blobsOnStore('locked');
    expect(blob).to.be.a('string');
    const p = await props('locked', blob);
    expect(p.immutabilityPolicyMode?.toLowerCase()).to.equal('locked');
    expect(p.immutabilityPolicyExpiresOn?.getTime()).to.equal(until.getTime());

    // A client of the store that bypasses s3mux cannot remove or replace the bytes.
    expect(await directDelete('locked', blob)).to.equal('BlobImmutableDueToPolicy');
    const overwrite = await direct
      .getContainerClient('locked')
      .getBlockBlobClient(blob)
      .upload('evil', 4)
      .then(
        () => 'written',
        (e: { details?: { errorCode?: string } }) => e.details?.errorCode,
      );
    expect(overwrite).to.equal('BlobImmutableDueToPolicy');

    // A legal hold through s3mux is the blob's legal hold; released, it is off again.
    await s3.send(new PutObjectLegalHoldCommand({ Bucket: 'vault', Key: 'ledger.txt', LegalHold: { Status: 'ON' } }));
    expect((await props('locked', blob)).legalHold).to.equal(true);
    await s3.send(new PutObjectLegalHoldCommand({ Bucket: 'vault', Key: 'ledger.txt', LegalHold: { Status: 'OFF' } }));
    expect((await props('locked', blob)).legalHold).to.equal(false);

    // Extending the retention through s3mux extends the policy.
    const later = new Date(until.getTime() + 3600_000);
    await s3.send(
      new PutObjectRetentionCommand({ Bucket: 'vault', Key: 'ledger.txt', Retention: { Mode: 'COMPLIANCE', RetainUntilDate: later } }),
    );
    expect((await props('locked', blob)).immutabilityPolicyExpiresOn?.getTime()).to.equal(later.getTime());

    const got = await s3.send(new GetObjectCommand({ Bucket: 'vault', Key: 'ledger.txt' }));
    expect(got.ObjectLockMode).to.equal('COMPLIANCE');
    expect(await got.Body!.transformToString()).to.equal('entry one');
  });

  it('a GOVERNANCE version removed with the bypass: s3mux deletes the Unlocked policy and the bytes go', async () => {
    const s3 = (await lockedVirtualBucket('governed')).s3;
    const put = await s3.send(
      new PutObjectCommand({
        Bucket: 'vault',
        Key: 'draft',
        Body: 'v1',
        ContentMD5: md5('v1'),
        ObjectLockMode: 'GOVERNANCE',
        ObjectLockRetainUntilDate: new Date(Date.now() + 3600_000),
      }),
    );
    const [blob] = await blobsOnStore('governed');
    expect((await props('governed', blob)).immutabilityPolicyMode?.toLowerCase()).to.equal('unlocked');
    expect(await directDelete('governed', blob)).to.equal('BlobImmutableDueToPolicy');
    await s3.send(new DeleteObjectCommand({ Bucket: 'vault', Key: 'draft', VersionId: put.VersionId, BypassGovernanceRetention: true }));
    expect(await blobsOnStore('governed')).to.deep.equal([]);
  });

  it('a container without version-level immutability: the lock is s3mux’s only, the blob has none', async () => {
    const s3 = (await lockedVirtualBucket('plain')).s3;
    const put = await s3.send(
      new PutObjectCommand({
        Bucket: 'vault',
        Key: 'k',
        Body: 'x',
        ContentMD5: md5('x'),
        ObjectLockMode: 'COMPLIANCE',
        ObjectLockRetainUntilDate: new Date(Date.now() + 3600_000),
        ObjectLockLegalHoldStatus: 'ON',
      }),
    );
    const [blob] = await blobsOnStore('plain');
    expect(double.protections.has(`plain/${blob}`)).to.equal(false);
    expect((await props('plain', blob)).immutabilityPolicyMode).to.equal(undefined);
    const refused = await s3.send(new DeleteObjectCommand({ Bucket: 'vault', Key: 'k', VersionId: put.VersionId })).then(
      () => 'deleted',
      (e: Error) => e.name,
    );
    expect(refused).to.equal('AccessDenied');
  });
});
