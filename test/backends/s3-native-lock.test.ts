/**
 * The s3 backend sets S3's own object lock on the bytes of a locked version when the store
 * bucket has object lock enabled: s3mux A (s3 backend) in front of s3mux B (fs) as the store,
 * B's bucket created with object lock. A client reaching B directly cannot remove the bytes.
 */
import { createHash } from 'node:crypto';
import { expect } from 'chai';
import {
  CreateBucketCommand,
  DeleteObjectCommand,
  GetObjectCommand,
  GetObjectLegalHoldCommand,
  GetObjectLockConfigurationCommand,
  HeadObjectCommand,
  GetObjectRetentionCommand,
  ListObjectVersionsCommand,
  PutBucketVersioningCommand,
  PutObjectCommand,
  PutObjectLegalHoldCommand,
  PutObjectLockConfigurationCommand,
  PutObjectRetentionCommand,
} from '@aws-sdk/client-s3';
import { validateRoutingTable } from '../../src/router/config';
import { Router } from '../../src/router/router';
import { startTestServer, ACCESS_KEY, SECRET_KEY, type TestServer } from '../helpers/server';
import { nativeLockSuite } from '../helpers/native-lock-suite';
import { startRecordingProxy, type RecordingProxy } from '../helpers/recording-proxy';

const md5 = (s: string): string => createHash('md5').update(s).digest('base64');

async function errorOf(p: Promise<unknown>): Promise<{ name: string; status?: number }> {
  try {
    await p;
  } catch (err) {
    const e = err as { name: string; $metadata?: { httpStatusCode?: number } };
    return { name: e.name, status: e.$metadata?.httpStatusCode };
  }
  throw new Error('expected the request to fail');
}

/** The routing table of s3mux A: virtual bucket `vault` on the whole store bucket, through `endpoint`. */
function s3Table(endpoint: string, env: string[], storeBucket: string): Record<string, unknown> {
  return {
    backends: {
      up: {
        type: 's3',
        endpoint,
        region: 'us-east-1',
        forcePathStyle: true,
        credentials: { accessKeyIdEnv: env[0], secretAccessKeyEnv: env[1] },
      },
    },
    routes: { vault: { target: `s3://${storeBucket}/` } },
  };
}

describe('s3 backend: native object lock on the store', function () {
  this.timeout(120_000);
  let store: TestServer;
  let front: TestServer;
  const envNames = ['S3MUX_TEST_LOCK_KEY', 'S3MUX_TEST_LOCK_SECRET'];

  async function startFront(storeBucket: string): Promise<TestServer> {
    const table = validateRoutingTable(s3Table(store.url, envNames, storeBucket));
    return startTestServer({ router: Router.fromTable(table) });
  }

  before(async () => {
    process.env[envNames[0]] = ACCESS_KEY;
    process.env[envNames[1]] = SECRET_KEY;
    store = await startTestServer();
  });

  after(async () => {
    await front?.stop();
    await store?.stop();
    for (const n of envNames) delete process.env[n];
  });

  async function lockedVirtualBucket(storeBucket: string, storeLock: boolean): Promise<void> {
    await store.s3.send(new CreateBucketCommand({ Bucket: storeBucket, ...(storeLock ? { ObjectLockEnabledForBucket: true } : {}) }));
    await front?.stop();
    front = await startFront(storeBucket);
    await front.s3.send(new PutBucketVersioningCommand({ Bucket: 'vault', VersioningConfiguration: { Status: 'Enabled' } }));
    await front.s3.send(
      new PutObjectLockConfigurationCommand({ Bucket: 'vault', ObjectLockConfiguration: { ObjectLockEnabled: 'Enabled' } }),
    );
  }

  /** The store objects holding version bytes (under the reserved area's `v/d/`), with the store's version ids. */
  async function blobsOnStore(storeBucket: string): Promise<{ Key: string; VersionId: string }[]> {
    const res = await store.s3.send(new ListObjectVersionsCommand({ Bucket: storeBucket, Prefix: '.s3mux/r/' }));
    return (res.Versions ?? [])
      .filter((v) => /\/v\/d\//.test(v.Key ?? ''))
      .map((v) => ({ Key: v.Key as string, VersionId: v.VersionId as string }));
  }

  it('a COMPLIANCE version: its bytes in the store are locked too, a direct delete is refused; legal hold and extension follow', async () => {
    await lockedVirtualBucket('locked-store', true);
    const until = new Date(Date.now() + 3600_000);
    const put = await front.s3.send(
      new PutObjectCommand({
        Bucket: 'vault',
        Key: 'ledger.txt',
        Body: 'entry one',
        ContentMD5: md5('entry one'),
        ObjectLockMode: 'COMPLIANCE',
        ObjectLockRetainUntilDate: until,
      }),
    );
    expect(put.VersionId).to.be.a('string');

    const blobs = await blobsOnStore('locked-store');
    expect(blobs).to.have.length(1);
    const blob = blobs[0];
    const onStore = await store.s3.send(
      new GetObjectRetentionCommand({ Bucket: 'locked-store', Key: blob.Key, VersionId: blob.VersionId }),
    );
    expect(onStore.Retention?.Mode).to.equal('COMPLIANCE');
    expect(onStore.Retention?.RetainUntilDate?.getTime()).to.equal(until.getTime());

    // A client of the store that bypasses s3mux cannot remove the bytes.
    const refused = await errorOf(
      store.s3.send(new DeleteObjectCommand({ Bucket: 'locked-store', Key: blob.Key, VersionId: blob.VersionId })),
    );
    expect(refused).to.deep.equal({ name: 'AccessDenied', status: 403 });
    const still = await store.s3.send(new GetObjectCommand({ Bucket: 'locked-store', Key: blob.Key, VersionId: blob.VersionId }));
    expect(await still.Body!.transformToString()).to.equal('entry one');

    // A legal hold set through s3mux shows on the store's object.
    await front.s3.send(new PutObjectLegalHoldCommand({ Bucket: 'vault', Key: 'ledger.txt', LegalHold: { Status: 'ON' } }));
    const held = await store.s3.send(new GetObjectLegalHoldCommand({ Bucket: 'locked-store', Key: blob.Key, VersionId: blob.VersionId }));
    expect(held.LegalHold?.Status).to.equal('ON');

    // Extending the retention through s3mux extends it in the store.
    const later = new Date(Date.now() + 7200_000);
    await front.s3.send(
      new PutObjectRetentionCommand({ Bucket: 'vault', Key: 'ledger.txt', Retention: { Mode: 'COMPLIANCE', RetainUntilDate: later } }),
    );
    const extended = await store.s3.send(
      new GetObjectRetentionCommand({ Bucket: 'locked-store', Key: blob.Key, VersionId: blob.VersionId }),
    );
    expect(extended.Retention?.RetainUntilDate?.getTime()).to.equal(later.getTime());

    // Through s3mux the version reads as before.
    const got = await front.s3.send(new GetObjectCommand({ Bucket: 'vault', Key: 'ledger.txt' }));
    expect(got.ObjectLockMode).to.equal('COMPLIANCE');
    expect(got.ObjectLockLegalHoldStatus).to.equal('ON');
    expect(await got.Body!.transformToString()).to.equal('entry one');
  });

  it('CreateBucket with object lock onto a store that refuses the header: the bucket is made without it, the lock is s3mux’s', async () => {
    const refusing = await startRecordingProxy(store.port, (req) =>
      req.headers['x-amz-bucket-object-lock-enabled'] === 'true'
        ? { status: 501, code: 'NotImplemented', message: 'A header you provided implies functionality that is not implemented.' }
        : undefined,
    );
    try {
      await front?.stop();
      const table = validateRoutingTable(s3Table(refusing.url, envNames, 'refusing-store'));
      front = await startTestServer({ router: Router.fromTable(table) });
      await front.s3.send(new CreateBucketCommand({ Bucket: 'vault', ObjectLockEnabledForBucket: true }));
      const tried = refusing.requests.filter((r) => r.method === 'PUT' && r.url === '/refusing-store');
      expect(tried).to.have.length(2); // with the header, refused; then without
      const native = await errorOf(store.s3.send(new GetObjectLockConfigurationCommand({ Bucket: 'refusing-store' })));
      expect(native.name).to.equal('ObjectLockConfigurationNotFoundError');
      const own = await front.s3.send(new GetObjectLockConfigurationCommand({ Bucket: 'vault' }));
      expect(own.ObjectLockConfiguration?.ObjectLockEnabled).to.equal('Enabled');
    } finally {
      await refusing.stop();
    }
  });

  it('a store bucket without object lock: the lock is s3mux’s only, the store object has none', async () => {
    await lockedVirtualBucket('plain-store', false);
    await store.s3.send(new PutBucketVersioningCommand({ Bucket: 'plain-store', VersioningConfiguration: { Status: 'Enabled' } }));
    await front.s3.send(
      new PutObjectCommand({
        Bucket: 'vault',
        Key: 'k',
        Body: 'x',
        ContentMD5: md5('x'),
        ObjectLockMode: 'COMPLIANCE',
        ObjectLockRetainUntilDate: new Date(Date.now() + 3600_000),
      }),
    );
    const [blob] = await blobsOnStore('plain-store');
    expect(blob).to.not.equal(undefined);
    const none = await errorOf(
      store.s3.send(new GetObjectRetentionCommand({ Bucket: 'plain-store', Key: blob.Key, VersionId: blob.VersionId })),
    );
    expect(none.name).to.equal('InvalidRequest');
    // s3mux still refuses to delete the version.
    const got = await front.s3.send(new GetObjectRetentionCommand({ Bucket: 'vault', Key: 'k' }));
    expect(got.Retention?.Mode).to.equal('COMPLIANCE');
  });
});

/**
 * The shared suite on S3: s3mux B (fs) as the store, behind a proxy that records what reaches
 * it. B's buckets with object lock are versioned, as S3's are: `blobs` lists every version
 * (bytes a delete marker hides are still there), and a direct delete names the version (a
 * delete without one only adds a delete marker, which S3 allows on locked objects).
 */
let lockStore: TestServer;
let proxy: RecordingProxy;
const LOCK_ENV = ['S3MUX_TEST_SUITE_KEY', 'S3MUX_TEST_SUITE_SECRET'];
const storeError = (err: unknown) => (err as Error).name;

nativeLockSuite('s3 backend: native object lock on the store (shared suite)', {
  async start() {
    process.env[LOCK_ENV[0]] = ACCESS_KEY;
    process.env[LOCK_ENV[1]] = SECRET_KEY;
    lockStore = await startTestServer();
    proxy = await startRecordingProxy(lockStore.port);
  },
  async stop() {
    await proxy.stop();
    await lockStore.stop();
    for (const n of LOCK_ENV) delete process.env[n];
  },
  async createBucket(name, withLock) {
    await lockStore.s3.send(new CreateBucketCommand({ Bucket: name, ...(withLock ? { ObjectLockEnabledForBucket: true } : {}) }));
  },
  table: (storeBucket) => s3Table(proxy.url, LOCK_ENV, storeBucket),
  // Every version with bytes: a deleted blob whose bytes a versioned store still keeps counts.
  async blobs(storeBucket) {
    const res = await lockStore.s3.send(new ListObjectVersionsCommand({ Bucket: storeBucket, Prefix: '.s3mux/r/' }));
    return (res.Versions ?? []).map((o) => o.Key as string).filter((k) => /\/v\/d\//.test(k));
  },
  async lockOf(storeBucket, name) {
    const retention = await lockStore.s3.send(new GetObjectRetentionCommand({ Bucket: storeBucket, Key: name })).then(
      (r) => r.Retention,
      () => undefined,
    );
    const hold = await lockStore.s3.send(new GetObjectLegalHoldCommand({ Bucket: storeBucket, Key: name })).then(
      (r) => r.LegalHold?.Status === 'ON',
      () => false,
    );
    return { mode: retention?.Mode, until: retention?.RetainUntilDate, hold };
  },
  async directDelete(storeBucket, name) {
    const head = await lockStore.s3.send(new HeadObjectCommand({ Bucket: storeBucket, Key: name }));
    return lockStore.s3
      .send(new DeleteObjectCommand({ Bucket: storeBucket, Key: name, VersionId: head.VersionId }))
      .then(() => 'deleted', storeError);
  },
  refusal: 'AccessDenied',
  lockCalls: async (storeBucket) =>
    proxy.requests.filter(
      (r) => r.url.startsWith(`/${storeBucket}/`) && /[?&](retention|legal-hold)(=|&|$)/.test(r.url) && r.method === 'PUT',
    ).length,
  lockEnabled: (storeBucket) =>
    lockStore.s3.send(new GetObjectLockConfigurationCommand({ Bucket: storeBucket })).then(
      (r) => r.ObjectLockConfiguration?.ObjectLockEnabled === 'Enabled',
      () => false,
    ),
  // S3 turns object lock on for an existing bucket once its versioning is Enabled.
  async enableLock(storeBucket) {
    await lockStore.s3.send(new PutBucketVersioningCommand({ Bucket: storeBucket, VersioningConfiguration: { Status: 'Enabled' } }));
    await lockStore.s3.send(
      new PutObjectLockConfigurationCommand({ Bucket: storeBucket, ObjectLockConfiguration: { ObjectLockEnabled: 'Enabled' } }),
    );
  },
});
