/**
 * Storage classes as tiers, end to end with the AWS SDK: lifecycle Transition rules applied by
 * the worker (in place: ETag and Last-Modified kept), the worker's conditional deletes and
 * class changes against a client's concurrent overwrite, RestoreObject; on memory, on Azure
 * (Azurite: the class is the blob's access tier, Archive refuses reads until rehydrated) and
 * on an s3 backend whose store is another s3mux.
 */
import { execFile } from 'node:child_process';
import { promisify } from 'node:util';
import { expect } from 'chai';
import {
  CompleteMultipartUploadCommand,
  CreateBucketCommand,
  CopyObjectCommand,
  CreateMultipartUploadCommand,
  GetObjectCommand,
  HeadObjectCommand,
  ListObjectsV2Command,
  PutBucketLifecycleConfigurationCommand,
  PutObjectCommand,
  RestoreObjectCommand,
  UploadPartCommand,
  type S3Client,
  type Tier,
} from '@aws-sdk/client-s3';
import { BlobServiceClient, StorageSharedKeyCredential } from '@azure/storage-blob';
import { startTestServer, ACCESS_KEY, SECRET_KEY, type TestServer } from '../helpers/server';
import { startAzurite, type Azurite } from '../helpers/azurite';
import { startGcsDouble, type GcsDouble } from '../helpers/gcs-double';
import { ociTableEntry, startOciDouble, testApiKey, type OciDouble } from '../helpers/oci-double';
import { Storage } from '@google-cloud/storage';
import { fakeClockWorker, TRANSITIONS } from '../helpers/tiers';
import { bucketConfig } from '../../src/bucket-config/store';
import { Router } from '../../src/router/router';
import { validateRoutingTable } from '../../src/router/config';
import { BucketView } from '../../src/router/bucket-view';

const run = promisify(execFile);

async function errorOf(p: Promise<unknown>): Promise<{ name: string; message: string; $metadata: { httpStatusCode?: number } }> {
  try {
    await p;
  } catch (err) {
    return err as { name: string; message: string; $metadata: { httpStatusCode?: number } };
  }
  throw new Error('expected the request to fail');
}

async function head(s3: S3Client, Bucket: string, Key: string) {
  return s3.send(new HeadObjectCommand({ Bucket, Key }));
}

async function text(s3: S3Client, Bucket: string, Key: string): Promise<string> {
  const r = await s3.send(new GetObjectCommand({ Bucket, Key }));
  return r.Body!.transformToString();
}

describe('storage tiers: transitions, conditional lifecycle changes, restore (memory)', () => {
  let srv: TestServer;
  let router: Router;
  const Bucket = 'tiered';

  before(async () => {
    router = Router.fromTable(validateRoutingTable({ backends: { mem: { type: 'memory', store: `tiers-${process.pid}` } } }));
    srv = await startTestServer({ router });
    await srv.s3.send(new CreateBucketCommand({ Bucket }));
  });
  after(async () => {
    await srv.stop();
  });
  beforeEach(() => bucketConfig.clear());

  it('moves objects down the classes as the rules come due, keeping ETag and Last-Modified; listings and HEAD report the class', async () => {
    await srv.s3.send(new PutObjectCommand({ Bucket, Key: 'cold/a', Body: 'aaa' }));
    await srv.s3.send(new PutObjectCommand({ Bucket, Key: 'warm/b', Body: 'bbb' }));
    await srv.s3.send(new PutBucketLifecycleConfigurationCommand({ Bucket, LifecycleConfiguration: TRANSITIONS }));
    const before = await head(srv.s3, Bucket, 'cold/a');
    expect(before.StorageClass).to.equal(undefined);
    const { worker, advance } = fakeClockWorker(() => router);

    advance(29);
    expect((await worker.runOnce()).transitioned).to.equal(0);
    advance(3);
    expect((await worker.runOnce()).transitioned).to.equal(1);
    const ia = await head(srv.s3, Bucket, 'cold/a');
    expect(ia.StorageClass).to.equal('STANDARD_IA');
    expect(ia.ETag).to.equal(before.ETag);
    expect(ia.LastModified?.getTime()).to.equal(before.LastModified?.getTime());
    expect((await head(srv.s3, Bucket, 'warm/b')).StorageClass).to.equal(undefined);
    expect((await worker.runOnce()).transitioned).to.equal(0); // nothing more is due

    advance(60);
    expect((await worker.runOnce()).transitioned).to.equal(1);
    const list = await srv.s3.send(new ListObjectsV2Command({ Bucket }));
    expect(list.Contents?.map((o) => [o.Key, o.StorageClass])).to.deep.equal([
      ['cold/a', 'GLACIER'],
      ['warm/b', 'STANDARD'],
    ]);
    // memory keeps the class as a label: the object stays readable.
    expect(await text(srv.s3, Bucket, 'cold/a')).to.equal('aaa');
  });

  it('never expires or moves an object a client overwrote after the worker looked at it', async () => {
    const B = 'raced';
    await srv.s3.send(new CreateBucketCommand({ Bucket: B }));
    await srv.s3.send(new PutObjectCommand({ Bucket: B, Key: 'gone/x', Body: 'old' }));
    await srv.s3.send(new PutObjectCommand({ Bucket: B, Key: 'cold/y', Body: 'old' }));
    await srv.s3.send(
      new PutBucketLifecycleConfigurationCommand({
        Bucket: B,
        LifecycleConfiguration: {
          Rules: [{ ID: 'expire', Filter: { Prefix: 'gone/' }, Status: 'Enabled', Expiration: { Days: 1 } }, ...TRANSITIONS.Rules],
        },
      }),
    );
    // The client's overwrite lands right after the worker's HEAD, before its delete or class change.
    const backend = router.defaultBackend;
    const headObject = backend.headObject.bind(backend);
    let raced = 0;
    backend.headObject = async (b, k) => {
      const meta = await headObject(b, k);
      if (b === B && raced < 2) {
        raced++;
        await srv.s3.send(new PutObjectCommand({ Bucket: B, Key: k, Body: 'new' }));
      }
      return meta;
    };
    const { worker, advance } = fakeClockWorker(() => router);
    advance(100);
    try {
      const r = await worker.runOnce();
      expect(raced).to.equal(2);
      expect(r).to.include({ expired: 0, transitioned: 0, skippedChanged: 2 });
    } finally {
      backend.headObject = headObject;
    }
    expect(await text(srv.s3, B, 'gone/x')).to.equal('new');
    expect(await text(srv.s3, B, 'cold/y')).to.equal('new');
    expect((await head(srv.s3, B, 'cold/y')).StorageClass).to.equal(undefined);
  });

  it('answers RestoreObject as S3 does for an object that is not archived, and NoSuchKey for none', async () => {
    await srv.s3.send(new PutObjectCommand({ Bucket, Key: 'r', Body: 'x', StorageClass: 'GLACIER' }));
    const e = await errorOf(srv.s3.send(new RestoreObjectCommand({ Bucket, Key: 'r', RestoreRequest: { Days: 1 } })));
    expect(e.name).to.equal('InvalidObjectState');
    expect(e.$metadata.httpStatusCode).to.equal(403);
    expect((await errorOf(srv.s3.send(new RestoreObjectCommand({ Bucket, Key: 'none', RestoreRequest: { Days: 1 } })))).name).to.equal(
      'NoSuchKey',
    );
  });

  it('reads a RestoreRequest with GlacierJobParameters (aws-cli --restore-request, s3cmd restore) and refuses an unknown Tier', async () => {
    await srv.s3.send(new PutObjectCommand({ Bucket, Key: 'tier', Body: 'x', StorageClass: 'GLACIER' }));
    const restore = (Tier: string) =>
      errorOf(
        srv.s3.send(
          new RestoreObjectCommand({ Bucket, Key: 'tier', RestoreRequest: { Days: 1, GlacierJobParameters: { Tier: Tier as Tier } } }),
        ),
      );
    // The store's answer for an object it keeps no archive of, not MalformedXML.
    for (const tier of ['Standard', 'Bulk', 'Expedited']) expect((await restore(tier)).name).to.equal('InvalidObjectState');
    expect((await restore('Fastest')).name).to.equal('MalformedXML');
  });

  it('aws-cli: put-object --storage-class, head-object and a transition rule round trip', async function () {
    // Four aws-cli runs, each a Python start-up: on a loaded 2-core CI machine 30 s was tight.
    this.timeout(120_000);
    const env = { ...process.env, AWS_ACCESS_KEY_ID: ACCESS_KEY, AWS_SECRET_ACCESS_KEY: SECRET_KEY, AWS_DEFAULT_REGION: 'us-east-1' };
    const aws = (...args: string[]) => run('/usr/bin/aws', ['--endpoint-url', srv.url, 's3api', ...args], { env, timeout: 60_000 });
    await aws('put-object', '--bucket', Bucket, '--key', 'cli', '--storage-class', 'ONEZONE_IA');
    const h = JSON.parse((await aws('head-object', '--bucket', Bucket, '--key', 'cli')).stdout) as { StorageClass?: string };
    expect(h.StorageClass).to.equal('ONEZONE_IA');
    const rules = JSON.stringify({
      Rules: [{ ID: 'd', Filter: { Prefix: 'x/' }, Status: 'Enabled', Transitions: [{ Days: 1, StorageClass: 'DEEP_ARCHIVE' }] }],
    });
    await aws('put-bucket-lifecycle-configuration', '--bucket', Bucket, '--lifecycle-configuration', rules);
    const got = JSON.parse((await aws('get-bucket-lifecycle-configuration', '--bucket', Bucket)).stdout) as {
      Rules: { Transitions: { Days: number; StorageClass: string }[] }[];
    };
    expect(got.Rules[0].Transitions).to.deep.equal([{ Days: 1, StorageClass: 'DEEP_ARCHIVE' }]);
  });
});

describe('storage tiers on Azure (Azurite): access tiers, archive and rehydration', function () {
  this.timeout(60_000);
  let azurite: Azurite;
  let srv: TestServer;
  let router: Router;
  let blobs: BlobServiceClient;
  const Bucket = 'tiers';

  before(async () => {
    azurite = await startAzurite();
    process.env.TIERS_TEST_AZ_KEY = azurite.accountKey;
    router = Router.fromTable(
      validateRoutingTable({
        backends: {
          blob: {
            type: 'azure',
            account: azurite.account,
            endpoint: azurite.endpoint,
            credentials: { accountKeyEnv: 'TIERS_TEST_AZ_KEY' },
          },
        },
      }),
    );
    srv = await startTestServer({ router });
    blobs = new BlobServiceClient(azurite.endpoint, new StorageSharedKeyCredential(azurite.account, azurite.accountKey));
    await srv.s3.send(new CreateBucketCommand({ Bucket }));
  });
  after(async () => {
    await srv?.stop();
    await azurite?.stop();
  });
  beforeEach(() => bucketConfig.clear());
  const tierOf = async (key: string) => (await blobs.getContainerClient(Bucket).getBlobClient(key).getProperties()).accessTier;

  it('x-amz-storage-class on PUT, multipart and copy sets the blob’s tier; HEAD and listings map it back', async () => {
    await srv.s3.send(new PutObjectCommand({ Bucket, Key: 'ia', Body: 'x', StorageClass: 'STANDARD_IA' }));
    await srv.s3.send(new PutObjectCommand({ Bucket, Key: 'ir', Body: 'x', StorageClass: 'GLACIER_IR' }));
    await srv.s3.send(new PutObjectCommand({ Bucket, Key: 'std', Body: 'x' }));
    expect(await tierOf('ia')).to.equal('Cool');
    expect(await tierOf('ir')).to.equal('Cold');
    expect(await tierOf('std')).to.equal('Hot');
    expect((await head(srv.s3, Bucket, 'ia')).StorageClass).to.equal('STANDARD_IA');
    const { UploadId } = await srv.s3.send(new CreateMultipartUploadCommand({ Bucket, Key: 'mp', StorageClass: 'ONEZONE_IA' }));
    const part = await srv.s3.send(new UploadPartCommand({ Bucket, Key: 'mp', UploadId, PartNumber: 1, Body: 'part' }));
    await srv.s3.send(
      new CompleteMultipartUploadCommand({ Bucket, Key: 'mp', UploadId, MultipartUpload: { Parts: [{ PartNumber: 1, ETag: part.ETag }] } }),
    );
    expect(await tierOf('mp')).to.equal('Cool');
    expect((await head(srv.s3, Bucket, 'mp')).StorageClass).to.equal('ONEZONE_IA');
    const list = await srv.s3.send(new ListObjectsV2Command({ Bucket }));
    expect(Object.fromEntries(list.Contents!.map((o) => [o.Key, o.StorageClass]))).to.deep.equal({
      ia: 'STANDARD_IA',
      ir: 'GLACIER_IR',
      mp: 'ONEZONE_IA',
      std: 'STANDARD',
    });
    // A tier changed by another Azure client is reported as its S3 class.
    await blobs.getContainerClient(Bucket).getBlobClient('std').setAccessTier('Cool');
    expect((await head(srv.s3, Bucket, 'std')).StorageClass).to.equal('STANDARD_IA');
    const bad = await errorOf(srv.s3.send(new PutObjectCommand({ Bucket, Key: 'rr', Body: 'x', StorageClass: 'REDUCED_REDUNDANCY' })));
    expect(bad.name).to.equal('InvalidStorageClass');
  });

  it('an archived object: GET is 403 InvalidObjectState, RestoreObject rehydrates (202), HEAD shows the class', async () => {
    await srv.s3.send(new PutObjectCommand({ Bucket, Key: 'arch', Body: 'frozen', StorageClass: 'GLACIER' }));
    expect(await tierOf('arch')).to.equal('Archive');
    expect((await head(srv.s3, Bucket, 'arch')).StorageClass).to.equal('GLACIER');
    const e = await errorOf(srv.s3.send(new GetObjectCommand({ Bucket, Key: 'arch' })));
    expect(e.name).to.equal('InvalidObjectState');
    expect(e.$metadata.httpStatusCode).to.equal(403);
    const notArchived = await errorOf(srv.s3.send(new RestoreObjectCommand({ Bucket, Key: 'ia', RestoreRequest: { Days: 1 } })));
    expect(notArchived.name).to.equal('InvalidObjectState');
    const r = await srv.s3.send(
      new RestoreObjectCommand({ Bucket, Key: 'arch', RestoreRequest: { Days: 2, GlacierJobParameters: { Tier: 'Standard' } } }),
    );
    expect(r.$metadata.httpStatusCode).to.equal(202);
    // Azurite rehydrates at once (Azure takes hours, and HEAD shows x-amz-restore: ongoing-request="true" meanwhile).
    expect(await tierOf('arch')).to.equal('Hot');
    expect(await text(srv.s3, Bucket, 'arch')).to.equal('frozen');
    expect((await head(srv.s3, Bucket, 'arch')).StorageClass).to.equal(undefined);
  });

  it('a Transition rule changes the tier in place (Set Blob Tier: same ETag, same bytes), and expiry deletes only the version it judged', async () => {
    const B = 'tiers-lc';
    await srv.s3.send(new CreateBucketCommand({ Bucket: B }));
    await srv.s3.send(new PutObjectCommand({ Bucket: B, Key: 'cold/a', Body: 'aaa' }));
    const azureEtag = (await blobs.getContainerClient(B).getBlobClient('cold/a').getProperties()).etag;
    const before = await head(srv.s3, B, 'cold/a');
    await srv.s3.send(new PutBucketLifecycleConfigurationCommand({ Bucket: B, LifecycleConfiguration: TRANSITIONS }));
    const { worker, advance } = fakeClockWorker(() => router);
    advance(32);
    expect((await worker.runOnce()).transitioned).to.equal(1);
    const props = await blobs.getContainerClient(B).getBlobClient('cold/a').getProperties();
    expect(props.accessTier).to.equal('Cool');
    expect(props.etag).to.equal(azureEtag); // Set Blob Tier does not rewrite the blob
    const after = await head(srv.s3, B, 'cold/a');
    expect(after.StorageClass).to.equal('STANDARD_IA');
    expect(after.ETag).to.equal(before.ETag);
    advance(60);
    expect((await worker.runOnce()).transitioned).to.equal(1);
    expect(await tierOf2(blobs, B, 'cold/a')).to.equal('Archive');

    // A rule Azure cannot hold is refused at Put time, with the reason.
    const refused = await errorOf(
      srv.s3.send(
        new PutBucketLifecycleConfigurationCommand({
          Bucket: B,
          LifecycleConfiguration: {
            Rules: [
              { ID: 'i', Filter: { Prefix: '' }, Status: 'Enabled', Transitions: [{ Days: 1, StorageClass: 'INTELLIGENT_TIERING' }] },
            ],
          },
        }),
      ),
    );
    expect(refused.name).to.equal('InvalidStorageClass');
    expect(refused.message).to.contain('azure backend of this bucket has no storage class for INTELLIGENT_TIERING');

    // The conditional delete: the blob changed after the worker's HEAD survives.
    await srv.s3.send(new PutObjectCommand({ Bucket: B, Key: 'tmp/x', Body: 'old' }));
    await srv.s3.send(
      new PutBucketLifecycleConfigurationCommand({
        Bucket: B,
        LifecycleConfiguration: { Rules: [{ ID: 'e', Filter: { Prefix: 'tmp/' }, Status: 'Enabled', Expiration: { Days: 1 } }] },
      }),
    );
    const backend = router.defaultBackend;
    const headObject = backend.headObject.bind(backend);
    backend.headObject = async (b, k) => {
      const meta = await headObject(b, k);
      if (k === 'tmp/x') await srv.s3.send(new PutObjectCommand({ Bucket: B, Key: k, Body: 'new' }));
      return meta;
    };
    try {
      const r = await worker.runOnce();
      expect(r).to.include({ expired: 0, skippedChanged: 1 });
    } finally {
      backend.headObject = headObject;
    }
    expect(await text(srv.s3, B, 'tmp/x')).to.equal('new');
    advance(2);
    expect((await worker.runOnce()).expired).to.equal(1);
    expect((await srv.s3.send(new ListObjectsV2Command({ Bucket: B, Prefix: 'tmp/' }))).KeyCount).to.equal(0);
  });
});

async function tierOf2(blobs: BlobServiceClient, container: string, key: string): Promise<string | undefined> {
  return (await blobs.getContainerClient(container).getBlobClient(key).getProperties()).accessTier;
}

describe('storage tiers on an s3 backend (another s3mux as the store)', function () {
  this.timeout(30_000);
  let store: TestServer;
  let srv: TestServer;
  let router: Router;
  const Bucket = 'through';

  before(async () => {
    store = await startTestServer({
      router: Router.fromTable(validateRoutingTable({ backends: { mem: { type: 'memory', store: `tiers-inner-${process.pid}` } } })),
    });
    process.env.TIERS_TEST_S3_KEY = ACCESS_KEY;
    process.env.TIERS_TEST_S3_SECRET = SECRET_KEY;
    router = Router.fromTable(
      validateRoutingTable({
        backends: {
          remote: {
            type: 's3',
            endpoint: store.url,
            region: 'us-east-1',
            forcePathStyle: true,
            credentials: { accessKeyIdEnv: 'TIERS_TEST_S3_KEY', secretAccessKeyEnv: 'TIERS_TEST_S3_SECRET' },
          },
        },
      }),
    );
    srv = await startTestServer({ router });
    await srv.s3.send(new CreateBucketCommand({ Bucket }));
  });
  after(async () => {
    await srv?.stop();
    await store?.stop();
  });
  beforeEach(() => bucketConfig.clear());

  // An s3 backend holds no lifecycle configuration unless it keeps s3mux's state in the store, so the transition is driven through the view.
  it('passes x-amz-storage-class to the store, changes the class by a copy onto itself, and passes RestoreObject through', async () => {
    await srv.s3.send(new PutObjectCommand({ Bucket, Key: 'ia', Body: 'x', StorageClass: 'STANDARD_IA' }));
    expect((await head(store.s3, Bucket, 'ia')).StorageClass).to.equal('STANDARD_IA');
    expect((await head(srv.s3, Bucket, 'ia')).StorageClass).to.equal('STANDARD_IA');
    await srv.s3.send(new PutObjectCommand({ Bucket, Key: 'cold/a', Body: 'aaa' }));
    const before = await head(srv.s3, Bucket, 'cold/a');
    const view = new BucketView(router.resolve(Bucket));
    const stale = (await errorOf(view.setStorageClass('cold/a', 'GLACIER', 'ffffffffffffffffffffffffffffffff'))) as unknown as {
      code: string;
    };
    expect(stale.code).to.equal('PreconditionFailed');
    await view.setStorageClass('cold/a', 'GLACIER', before.ETag!);
    const inner = await head(store.s3, Bucket, 'cold/a');
    expect(inner.StorageClass).to.equal('GLACIER');
    expect(inner.ETag).to.equal(before.ETag);
    // The store (memory behind s3mux) keeps nothing archived: its answer comes back as it is.
    const e = await errorOf(srv.s3.send(new RestoreObjectCommand({ Bucket, Key: 'cold/a', RestoreRequest: { Days: 1 } })));
    expect(e.name).to.equal('InvalidObjectState');
  });
});

describe('storage tiers on GCS (the GCS double): native storage classes, rewrite transitions', function () {
  this.timeout(60_000);
  let double: GcsDouble;
  let srv: TestServer;
  let router: Router;
  let gcs: Storage;
  const Bucket = 'gtiers';
  const Emu = 'gtiers-emu';

  before(async () => {
    double = await startGcsDouble();
    const g = { type: 'gcs', endpoint: double.endpoint, projectId: double.projectId, credentials: { anonymous: true } };
    router = Router.fromTable(
      validateRoutingTable({
        backends: { g, emu: { ...g, emulator: true } },
        default: 'g',
        routes: { [Emu]: { backend: 'emu', bucket: Emu } },
      }),
    );
    srv = await startTestServer({ router });
    gcs = new Storage({ apiEndpoint: double.endpoint, projectId: double.projectId, useAuthWithCustomEndpoint: false });
    await srv.s3.send(new CreateBucketCommand({ Bucket }));
    await gcs.createBucket(Emu);
  });
  after(async () => {
    await srv?.stop();
    await double?.stop();
  });
  beforeEach(() => bucketConfig.clear());
  const classOf = async (bucket: string, key: string) => (await gcs.bucket(bucket).file(key).getMetadata())[0].storageClass;

  it('x-amz-storage-class on PUT, multipart and copy sets the object’s GCS class; HEAD and listings map it back; ARCHIVE is readable', async () => {
    await srv.s3.send(new PutObjectCommand({ Bucket, Key: 'ia', Body: 'x', StorageClass: 'STANDARD_IA' }));
    await srv.s3.send(new PutObjectCommand({ Bucket, Key: 'ir', Body: 'x', StorageClass: 'GLACIER_IR' }));
    await srv.s3.send(new PutObjectCommand({ Bucket, Key: 'arch', Body: 'frozen', StorageClass: 'DEEP_ARCHIVE' }));
    await srv.s3.send(new PutObjectCommand({ Bucket, Key: 'std', Body: 'x' }));
    expect(await classOf(Bucket, 'ia')).to.equal('NEARLINE');
    expect(await classOf(Bucket, 'ir')).to.equal('COLDLINE');
    expect(await classOf(Bucket, 'arch')).to.equal('ARCHIVE');
    expect(await classOf(Bucket, 'std')).to.equal('STANDARD');
    const { UploadId } = await srv.s3.send(new CreateMultipartUploadCommand({ Bucket, Key: 'mp', StorageClass: 'ONEZONE_IA' }));
    const part = await srv.s3.send(new UploadPartCommand({ Bucket, Key: 'mp', UploadId, PartNumber: 1, Body: 'part' }));
    await srv.s3.send(
      new CompleteMultipartUploadCommand({ Bucket, Key: 'mp', UploadId, MultipartUpload: { Parts: [{ PartNumber: 1, ETag: part.ETag }] } }),
    );
    expect(await classOf(Bucket, 'mp')).to.equal('NEARLINE');
    expect((await head(srv.s3, Bucket, 'mp')).StorageClass).to.equal('ONEZONE_IA');
    await srv.s3.send(new CopyObjectCommand({ Bucket, Key: 'copy', CopySource: `${Bucket}/ia`, StorageClass: 'GLACIER' }));
    expect(await classOf(Bucket, 'copy')).to.equal('ARCHIVE');
    // A copy naming no class is STANDARD, as in S3, whatever the source's class.
    await srv.s3.send(new CopyObjectCommand({ Bucket, Key: 'copy2', CopySource: `${Bucket}/ia` }));
    expect(await classOf(Bucket, 'copy2')).to.equal('STANDARD');
    const list = await srv.s3.send(new ListObjectsV2Command({ Bucket }));
    expect(Object.fromEntries(list.Contents!.map((o) => [o.Key, o.StorageClass]))).to.deep.equal({
      arch: 'DEEP_ARCHIVE',
      copy: 'GLACIER',
      copy2: 'STANDARD',
      ia: 'STANDARD_IA',
      ir: 'GLACIER_IR',
      mp: 'ONEZONE_IA',
      std: 'STANDARD',
    });
    // GCS serves ARCHIVE objects directly: no InvalidObjectState, and nothing to restore.
    expect(await text(srv.s3, Bucket, 'arch')).to.equal('frozen');
    const restore = await errorOf(srv.s3.send(new RestoreObjectCommand({ Bucket, Key: 'arch', RestoreRequest: { Days: 1 } })));
    expect(restore.name).to.equal('InvalidObjectState');
    // A class changed by another GCS client (a rewrite) is reported as its S3 class.
    await gcs.bucket(Bucket).file('std').setStorageClass('coldline');
    expect((await head(srv.s3, Bucket, 'std')).StorageClass).to.equal('GLACIER_IR');
    const bad = await errorOf(srv.s3.send(new PutObjectCommand({ Bucket, Key: 'rr', Body: 'x', StorageClass: 'REDUCED_REDUNDANCY' })));
    expect(bad.name).to.equal('InvalidStorageClass');
  });

  it('a Transition rule rewrites the object onto itself with the new class (same bytes and ETag), only from the generation judged', async () => {
    const B = 'gtiers-lc';
    await srv.s3.send(new CreateBucketCommand({ Bucket: B }));
    await srv.s3.send(new PutObjectCommand({ Bucket: B, Key: 'cold/a', Body: 'aaa' }));
    const before = await head(srv.s3, B, 'cold/a');
    await srv.s3.send(new PutBucketLifecycleConfigurationCommand({ Bucket: B, LifecycleConfiguration: TRANSITIONS }));
    const { worker, advance } = fakeClockWorker(() => router);
    advance(32);
    expect((await worker.runOnce()).transitioned).to.equal(1);
    expect(await classOf(B, 'cold/a')).to.equal('NEARLINE');
    const after = await head(srv.s3, B, 'cold/a');
    expect(after.StorageClass).to.equal('STANDARD_IA');
    expect(after.ETag).to.equal(before.ETag);
    expect(await text(srv.s3, B, 'cold/a')).to.equal('aaa');
    expect((await worker.runOnce()).transitioned).to.equal(0);
    advance(60);
    expect((await worker.runOnce()).transitioned).to.equal(1);
    expect(await classOf(B, 'cold/a')).to.equal('ARCHIVE');
    expect((await head(srv.s3, B, 'cold/a')).StorageClass).to.equal('GLACIER');

    // A stale ETag is refused, and an overwrite between the read and the rewrite fails ifGenerationMatch.
    const backend = router.defaultBackend;
    const stale = await errorOf(backend.setStorageClass!(B, 'cold/a', 'STANDARD_IA', '"00000000000000000000000000000000"'));
    expect((stale as unknown as { code: string }).code).to.equal('PreconditionFailed');
    await srv.s3.send(new PutObjectCommand({ Bucket: B, Key: 'cold/b', Body: 'old' }));
    const etag = (await head(srv.s3, B, 'cold/b')).ETag!;
    // A client overwrites right after the backend read the object, before its rewrite.
    type FileOf = (bucket: string, key: string, generation?: string | number) => ReturnType<ReturnType<Storage['bucket']>['file']>;
    const store = (backend as unknown as { store: { file: FileOf } }).store;
    const fileOf = store.file.bind(store);
    store.file = (bucket, key, generation) => {
      const f = fileOf(bucket, key, generation);
      if (key === 'cold/b' && generation === undefined) {
        const read = f.getMetadata.bind(f);
        f.getMetadata = (async () => {
          const r = await read();
          await gcs.bucket(B).file('cold/b').save('new');
          return r;
        }) as never;
      }
      return f;
    };
    try {
      const e = await errorOf(backend.setStorageClass!(B, 'cold/b', 'GLACIER', etag));
      expect((e as unknown as { code: string }).code).to.equal('PreconditionFailed');
    } finally {
      store.file = fileOf;
    }
    expect(await classOf(B, 'cold/b')).to.equal('STANDARD');
    expect(await text(srv.s3, B, 'cold/b')).to.equal('new');
  });

  it('the firebase emulator (emulator: true, no rewrite): the class is a label, and transitions are refused with the reason', async () => {
    await srv.s3.send(new PutObjectCommand({ Bucket: Emu, Key: 'x', Body: 'x', StorageClass: 'STANDARD_IA' }));
    expect((await head(srv.s3, Emu, 'x')).StorageClass).to.equal('STANDARD_IA');
    const refused = await errorOf(
      srv.s3.send(new PutBucketLifecycleConfigurationCommand({ Bucket: Emu, LifecycleConfiguration: TRANSITIONS })),
    );
    expect(refused.name).to.equal('InvalidStorageClass');
    expect(refused.message).to.contain('gcs backend of this bucket');
  });
});

describe('storage tiers on OCI (the OCI double): UpdateObjectStorageTier transitions, RestoreObjects', function () {
  this.timeout(60_000);
  let double: OciDouble;
  let srv: TestServer;
  let router: Router;
  const Bucket = 'oci-tiers';

  before(async () => {
    const key = testApiKey();
    double = await startOciDouble({ restoreSteps: 1 });
    double.addKey(key.keyId, key.publicKeyPem);
    process.env.TIERS_TEST_OCI_KEY = key.privateKeyPem;
    router = Router.fromTable(validateRoutingTable({ backends: { oci: ociTableEntry(double, key, 'TIERS_TEST_OCI_KEY') } }));
    srv = await startTestServer({ router });
    await srv.s3.send(new CreateBucketCommand({ Bucket }));
  });
  after(async () => {
    await srv?.stop();
    await double?.stop();
  });
  beforeEach(() => bucketConfig.clear());
  const tierOf = (key: string) => double.buckets.get(Bucket)!.objects.get(key)!.storageTier;

  it('a Transition rule moves the object in place (same ETag, same bytes) to InfrequentAccess, then Archive', async () => {
    await srv.s3.send(new PutObjectCommand({ Bucket, Key: 'cold/a', Body: 'aaa' }));
    const ociEtag = double.buckets.get(Bucket)!.objects.get('cold/a')!.etag;
    const before = await head(srv.s3, Bucket, 'cold/a');
    await srv.s3.send(new PutBucketLifecycleConfigurationCommand({ Bucket, LifecycleConfiguration: TRANSITIONS }));
    const { worker, advance } = fakeClockWorker(() => router);
    advance(32);
    expect((await worker.runOnce()).transitioned).to.equal(1);
    expect(tierOf('cold/a')).to.equal('InfrequentAccess');
    expect(double.buckets.get(Bucket)!.objects.get('cold/a')!.etag).to.equal(ociEtag);
    const after = await head(srv.s3, Bucket, 'cold/a');
    expect(after.StorageClass).to.equal('STANDARD_IA');
    expect(after.ETag).to.equal(before.ETag);
    expect(double.requests.some((r) => r.path.endsWith('/actions/updateObjectStorageTier'))).to.equal(true);
    advance(60);
    expect((await worker.runOnce()).transitioned).to.equal(1);
    expect(tierOf('cold/a')).to.equal('Archive');
    expect((await head(srv.s3, Bucket, 'cold/a')).StorageClass).to.equal('GLACIER');
    expect((await worker.runOnce()).transitioned).to.equal(0);

    // A stale ETag changes nothing.
    await srv.s3.send(new PutObjectCommand({ Bucket, Key: 'b', Body: 'bbb' }));
    const stale = (await errorOf(new BucketView(router.resolve(Bucket)).setStorageClass('b', 'STANDARD_IA', '"0123"'))) as unknown as {
      code: string;
    };
    expect(stale.code).to.equal('PreconditionFailed');
    expect(tierOf('b')).to.equal('Standard');
  });

  it('an archived object: GET is 403 InvalidObjectState; RestoreObject starts (202), is ongoing (409), then the object is readable', async () => {
    await srv.s3.send(new PutObjectCommand({ Bucket, Key: 'arch', Body: 'frozen', StorageClass: 'GLACIER' }));
    await srv.s3.send(new PutObjectCommand({ Bucket, Key: 'ia', Body: 'cool', StorageClass: 'STANDARD_IA' }));
    expect(tierOf('arch')).to.equal('Archive');
    const e = await errorOf(srv.s3.send(new GetObjectCommand({ Bucket, Key: 'arch' })));
    expect(e.name).to.equal('InvalidObjectState');
    expect(e.$metadata.httpStatusCode).to.equal(403);
    const notArchived = await errorOf(srv.s3.send(new RestoreObjectCommand({ Bucket, Key: 'ia', RestoreRequest: { Days: 1 } })));
    expect(notArchived.name).to.equal('InvalidObjectState');

    const r = await srv.s3.send(new RestoreObjectCommand({ Bucket, Key: 'arch', RestoreRequest: { Days: 2 } }));
    expect(r.$metadata.httpStatusCode).to.equal(202);
    const restoreCall = double.requests.filter((q) => q.path.endsWith('/actions/restoreObjects'));
    expect(restoreCall).to.have.length(1);
    // The double keeps the restore going for one read: the adapter's HEAD for the second request sees it.
    const again = await errorOf(srv.s3.send(new RestoreObjectCommand({ Bucket, Key: 'arch', RestoreRequest: { Days: 2 } })));
    expect(again.name).to.equal('RestoreAlreadyInProgress');
    const restored = await head(srv.s3, Bucket, 'arch');
    expect(restored.StorageClass).to.equal('GLACIER');
    expect(restored.Restore).to.match(/^ongoing-request="false", expiry-date="[^"]+"$/);
    expect(await text(srv.s3, Bucket, 'arch')).to.equal('frozen');
    const done = await srv.s3.send(new RestoreObjectCommand({ Bucket, Key: 'arch', RestoreRequest: { Days: 2 } }));
    expect(done.$metadata.httpStatusCode).to.equal(200);
  });
});
