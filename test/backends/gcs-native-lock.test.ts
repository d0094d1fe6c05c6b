/**
 * The gcs backend sets Object Retention Lock and holds on the bytes of a locked version when the
 * store bucket has object retention enabled: s3mux in front of the GCS JSON API double
 * (test/helpers/gcs-double.ts; the Cloud Storage emulator has no retention). A client reaching
 * the bucket directly cannot remove the bytes.
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
import type { Storage } from '@google-cloud/storage';
import { makeStorage } from '../../src/backends/gcs/client';
import { validateRoutingTable } from '../../src/router/config';
import { Router } from '../../src/router/router';
import { startGcsDouble, type GcsDouble } from '../helpers/gcs-double';
import { startTestServer, type TestServer } from '../helpers/server';

const md5 = (s: string): string => createHash('md5').update(s).digest('base64');

describe('gcs backend: native object lock on the store', function () {
  this.timeout(60_000);
  let double: GcsDouble;
  let storage: Storage;
  let front: TestServer | undefined;

  before(async () => {
    double = await startGcsDouble();
    storage = makeStorage({ endpoint: double.endpoint, projectId: double.projectId, anonymous: true, maxAttempts: 1 });
  });

  after(async () => {
    await front?.stop();
    await double?.stop();
  });

  async function lockedVirtualBucket(storeBucket: string, objectRetention: boolean): Promise<TestServer> {
    await storage.createBucket(storeBucket, objectRetention ? { enableObjectRetention: true } : {});
    await front?.stop();
    const table = validateRoutingTable({
      backends: { g: { type: 'gcs', endpoint: double.endpoint, projectId: double.projectId, credentials: { anonymous: true } } },
      routes: { vault: { target: `gs://${storeBucket}/`, backend: 'g' } },
    });
    front = await startTestServer({ router: Router.fromTable(table) });
    await front.s3.send(new PutBucketVersioningCommand({ Bucket: 'vault', VersioningConfiguration: { Status: 'Enabled' } }));
    await front.s3.send(
      new PutObjectLockConfigurationCommand({ Bucket: 'vault', ObjectLockConfiguration: { ObjectLockEnabled: 'Enabled' } }),
    );
    return front;
  }

  /** The store objects holding version bytes (under the reserved area's `v/d/`). */
  async function blobsOnStore(storeBucket: string): Promise<string[]> {
    const [files] = await storage.bucket(storeBucket).getFiles({ prefix: '.s3mux/r/' });
    return files.map((f) => f.name).filter((n) => /\/v\/d\//.test(n));
  }

  const resource = (bucket: string, name: string) => double.peek(bucket, name)!.resource;

  async function directDelete(bucket: string, name: string): Promise<number | undefined> {
    try {
      await storage.bucket(bucket).file(name).delete();
      return 204;
    } catch (err) {
      return (err as { code?: number }).code;
    }
  }

  it('a COMPLIANCE version: the object gets a Locked retention, a direct delete is refused; legal hold and extension follow', async () => {
    const s3 = (await lockedVirtualBucket('locked-store', true)).s3;
    const until = new Date(Date.now() + 3600_000);
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
    const [blob] = await blobsOnStore('locked-store');
    expect(blob).to.be.a('string');
    expect(resource('locked-store', blob).retention).to.deep.equal({ mode: 'Locked', retainUntilTime: until.toISOString() });
    expect(resource('locked-store', blob).temporaryHold).to.equal(undefined);

    // A client of the store that bypasses s3mux cannot remove the bytes.
    expect(await directDelete('locked-store', blob)).to.equal(403);
    expect(double.peek('locked-store', blob)!.data.toString()).to.equal('entry one');

    // A legal hold through s3mux is the object's temporary hold; released, it is gone again.
    await s3.send(new PutObjectLegalHoldCommand({ Bucket: 'vault', Key: 'ledger.txt', LegalHold: { Status: 'ON' } }));
    expect(resource('locked-store', blob).temporaryHold).to.equal(true);
    await s3.send(new PutObjectLegalHoldCommand({ Bucket: 'vault', Key: 'ledger.txt', LegalHold: { Status: 'OFF' } }));
    expect(resource('locked-store', blob).temporaryHold).to.equal(undefined);

    // Extending the retention through s3mux extends it in the store.
    const later = new Date(Date.now() + 7200_000);
    await s3.send(
      new PutObjectRetentionCommand({ Bucket: 'vault', Key: 'ledger.txt', Retention: { Mode: 'COMPLIANCE', RetainUntilDate: later } }),
    );
    expect(resource('locked-store', blob).retention).to.deep.equal({ mode: 'Locked', retainUntilTime: later.toISOString() });

    const got = await s3.send(new GetObjectCommand({ Bucket: 'vault', Key: 'ledger.txt' }));
    expect(got.ObjectLockMode).to.equal('COMPLIANCE');
    expect(await got.Body!.transformToString()).to.equal('entry one');
  });

  it('a GOVERNANCE version removed with the bypass: s3mux lifts the Unlocked retention and the bytes go', async () => {
    const s3 = (await lockedVirtualBucket('governed-store', true)).s3;
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
    const [blob] = await blobsOnStore('governed-store');
    expect(resource('governed-store', blob).retention?.mode).to.equal('Unlocked');
    expect(await directDelete('governed-store', blob)).to.equal(403);

    await s3.send(new DeleteObjectCommand({ Bucket: 'vault', Key: 'draft', VersionId: put.VersionId, BypassGovernanceRetention: true }));
    expect(await blobsOnStore('governed-store')).to.deep.equal([]);
  });

  it('a store bucket without object retention: the lock is s3mux’s only, the object has none', async () => {
    const s3 = (await lockedVirtualBucket('plain-store', false)).s3;
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
    const [blob] = await blobsOnStore('plain-store');
    expect(resource('plain-store', blob).retention).to.equal(undefined);
    expect(resource('plain-store', blob).temporaryHold).to.equal(undefined);
    // s3mux itself still refuses.
    const refused = await s3.send(new DeleteObjectCommand({ Bucket: 'vault', Key: 'k', VersionId: put.VersionId })).then(
      () => 'deleted',
      (e: Error) => e.name,
    );
    expect(refused).to.equal('AccessDenied');
  });
});
