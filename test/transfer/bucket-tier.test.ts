/**
 * A bucket's own tier: CreateBucket naming one of the routing table's tiers in x-s3mux-tier
 * (the AWS SDK with a middleware, boto3 with a before-sign hook), on fs and on Azure (Azurite,
 * where the class is the blob's access tier).
 */
import { execFile } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { promisify } from 'node:util';
import { expect } from 'chai';
import {
  CopyObjectCommand,
  CreateBucketCommand,
  DeleteBucketCommand,
  DeleteObjectCommand,
  GetObjectCommand,
  HeadBucketCommand,
  ListObjectsV2Command,
  PutObjectCommand,
  type S3Client,
} from '@aws-sdk/client-s3';
import { BlobServiceClient, StorageSharedKeyCredential } from '@azure/storage-blob';
import { startTestServer, ACCESS_KEY, SECRET_KEY, type TestServer } from '../helpers/server';
import { startAzurite, type Azurite } from '../helpers/azurite';
import { errorOf } from '../helpers/errors';
import { classOf, multipart, createWithTier } from '../helpers/tiers';
import { bucketConfig } from '../../src/bucket-config/store';
import { Router } from '../../src/router/router';
import { validateRoutingTable } from '../../src/router/config';
import { awsCliEnv } from '../helpers/processes';

const run = promisify(execFile);

const TIERS = {
  gold: { fs: 'STANDARD', azure: 'Hot' },
  silver: { fs: 'STANDARD_IA', azure: 'Cool' },
  frozen: { azure: 'Archive' },
};

/** HEAD bucket's response headers. */
async function bucketHeaders(s3: S3Client, Bucket: string): Promise<Record<string, string>> {
  let headers: Record<string, string> = {};
  const cmd = new HeadBucketCommand({ Bucket });
  cmd.middlewareStack.add(
    (next) => async (args) => {
      const out = await next(args);
      headers = (out.response as { headers: Record<string, string> }).headers;
      return out;
    },
    { step: 'deserialize', name: 'captureHeaders' },
  );
  await s3.send(cmd);
  return headers;
}

describe('CreateBucket naming a tier (x-s3mux-tier) on fs', function () {
  this.timeout(60_000);
  let dir: string;
  let srv: TestServer;

  before(async () => {
    dir = mkdtempSync(path.join(os.tmpdir(), 's3mux-bucket-tier-'));
    const router = Router.fromTable(
      validateRoutingTable({ backends: { disk: { type: 'fs', root: path.join(dir, 'data') } }, tiers: TIERS }, { baseDir: dir }),
    );
    srv = await startTestServer({ router });
    await srv.s3.send(new CreateBucketCommand({ Bucket: 'plain' }));
  });
  after(async () => {
    await srv?.stop();
    rmSync(dir, { recursive: true, force: true });
  });
  beforeEach(() => bucketConfig.clear());

  it('writes naming no class get the tier; an explicit class wins; HEAD bucket and listings report it', async () => {
    const s3 = srv.s3;
    await createWithTier(s3, 'silver-bucket', 'silver');
    const headers = await bucketHeaders(s3, 'silver-bucket');
    expect(headers['x-s3mux-tier']).to.equal('silver');
    expect(headers['x-s3mux-storage-class']).to.equal('STANDARD_IA');
    expect((await bucketHeaders(s3, 'plain'))['x-s3mux-tier']).to.equal(undefined);

    await s3.send(new PutObjectCommand({ Bucket: 'silver-bucket', Key: 'put', Body: 'a' }));
    await s3.send(new PutObjectCommand({ Bucket: 'silver-bucket', Key: 'explicit', Body: 'b', StorageClass: 'STANDARD' }));
    await s3.send(new PutObjectCommand({ Bucket: 'silver-bucket', Key: 'glacier', Body: 'c', StorageClass: 'GLACIER' }));
    await multipart(s3, 'silver-bucket', 'mp');
    await s3.send(new PutObjectCommand({ Bucket: 'plain', Key: 'src', Body: 'd' }));
    await s3.send(new CopyObjectCommand({ Bucket: 'silver-bucket', Key: 'copied', CopySource: 'plain/src' }));
    await s3.send(
      new CopyObjectCommand({ Bucket: 'silver-bucket', Key: 'copied-ir', CopySource: 'plain/src', StorageClass: 'GLACIER_IR' }),
    );
    await s3.send(new PutObjectCommand({ Bucket: 'plain', Key: 'untiered', Body: 'e' }));

    expect(await classOf(s3, 'silver-bucket', 'put')).to.equal('STANDARD_IA');
    expect(await classOf(s3, 'silver-bucket', 'explicit')).to.equal(undefined); // STANDARD, as S3 reports it
    expect(await classOf(s3, 'silver-bucket', 'glacier')).to.equal('GLACIER');
    expect(await classOf(s3, 'silver-bucket', 'mp')).to.equal('STANDARD_IA');
    expect(await classOf(s3, 'silver-bucket', 'copied')).to.equal('STANDARD_IA');
    expect(await classOf(s3, 'silver-bucket', 'copied-ir')).to.equal('GLACIER_IR');
    expect(await classOf(s3, 'plain', 'untiered')).to.equal(undefined);
    const list = await s3.send(new ListObjectsV2Command({ Bucket: 'silver-bucket' }));
    expect(Object.fromEntries((list.Contents ?? []).map((o) => [o.Key, o.StorageClass]))).to.deep.equal({
      copied: 'STANDARD_IA',
      'copied-ir': 'GLACIER_IR',
      explicit: 'STANDARD',
      glacier: 'GLACIER',
      mp: 'STANDARD_IA',
      put: 'STANDARD_IA',
    });
  });

  it('an unknown tier, or one without a class for the store, is a 400 with the reason and makes no bucket', async () => {
    const unknown = await errorOf(createWithTier(srv.s3, 'no-such-tier', 'platinum'));
    expect(unknown.$metadata.httpStatusCode).to.equal(400);
    expect(unknown.name).to.equal('InvalidArgument');
    expect(unknown.message).to.contain("Unknown tier 'platinum'").and.contain('gold, silver, frozen');
    const noClass = await errorOf(createWithTier(srv.s3, 'frozen-on-fs', 'frozen'));
    expect(noClass.$metadata.httpStatusCode).to.equal(400);
    expect(noClass.name).to.equal('InvalidStorageClass');
    expect(noClass.message).to.contain("Tier 'frozen' names no storage class for fs stores");
    for (const Bucket of ['no-such-tier', 'frozen-on-fs'])
      expect((await errorOf(srv.s3.send(new HeadBucketCommand({ Bucket })))).$metadata.httpStatusCode).to.equal(404);
  });

  it('the header on another request is refused; a bucket made again without it has no tier', async () => {
    const put = new PutObjectCommand({ Bucket: 'plain', Key: 'k', Body: 'x' });
    put.middlewareStack.add(
      (next) => async (args) => {
        (args.request as { headers: Record<string, string> }).headers['x-s3mux-tier'] = 'gold';
        return next(args);
      },
      { step: 'build', name: 'addTierHeader' },
    );
    const refused = await errorOf(srv.s3.send(put));
    expect(refused.name).to.equal('InvalidArgument');
    expect(refused.message).to.contain('CreateBucket only');

    await createWithTier(srv.s3, 'again', 'silver');
    await srv.s3.send(new DeleteBucketCommand({ Bucket: 'again' }));
    await srv.s3.send(new CreateBucketCommand({ Bucket: 'again' }));
    expect((await bucketHeaders(srv.s3, 'again'))['x-s3mux-tier']).to.equal(undefined);
    await srv.s3.send(new PutObjectCommand({ Bucket: 'again', Key: 'k', Body: 'x' }));
    expect(await classOf(srv.s3, 'again', 'k')).to.equal(undefined);
    await srv.s3.send(new DeleteObjectCommand({ Bucket: 'again', Key: 'k' }));
  });

  it('boto3: a before-sign hook names the tier; head_bucket reads it back', async () => {
    const script = `
import json, sys, boto3
from botocore.exceptions import ClientError
s3 = boto3.client('s3', endpoint_url=sys.argv[1], region_name='us-east-1')
def tier(name):
    def hook(request, **kw):
        request.headers['x-s3mux-tier'] = name
    return hook
s3.meta.events.register('before-sign.s3.CreateBucket', tier('silver'))
s3.create_bucket(Bucket='boto-tier')
out = {'headers': {k: v for k, v in s3.head_bucket(Bucket='boto-tier')['ResponseMetadata']['HTTPHeaders'].items() if k.startswith('x-s3mux')}}
s3.put_object(Bucket='boto-tier', Key='k', Body=b'x')
out['class'] = s3.head_object(Bucket='boto-tier', Key='k').get('StorageClass')
s3.meta.events.unregister('before-sign.s3.CreateBucket', tier('silver'))
s3b = boto3.client('s3', endpoint_url=sys.argv[1], region_name='us-east-1')
s3b.meta.events.register('before-sign.s3.CreateBucket', tier('nope'))
try:
    s3b.create_bucket(Bucket='boto-nope')
except ClientError as e:
    out['error'] = [e.response['Error']['Code'], e.response['ResponseMetadata']['HTTPStatusCode']]
print(json.dumps(out))
`;
    const { stdout } = await run('/usr/bin/python3', ['-c', script, srv.url], {
      env: awsCliEnv(ACCESS_KEY, SECRET_KEY),
    });
    expect(JSON.parse(stdout)).to.deep.equal({
      headers: { 'x-s3mux-tier': 'silver', 'x-s3mux-storage-class': 'STANDARD_IA' },
      class: 'STANDARD_IA',
      error: ['InvalidArgument', 400],
    });
  });
});

describe('tiers and a migrate route whose destination backend names a tier', function () {
  this.timeout(30_000);
  let dir: string;
  let srv: TestServer;

  before(async () => {
    dir = mkdtempSync(path.join(os.tmpdir(), 's3mux-bucket-tier-mig-'));
    const router = Router.fromTable(
      validateRoutingTable(
        {
          tiers: TIERS,
          backends: {
            fresh: { type: 'fs', root: path.join(dir, 'new'), tier: 'silver' },
            old: { type: 'fs', root: path.join(dir, 'old') },
          },
          routes: {
            moving: {
              migrate: {
                from: { backend: 'old', target: 'file://./old/moving' },
                to: { backend: 'fresh', target: 'file://./new/moving' },
                copy: false,
              },
            },
          },
          default: 'old',
        },
        { baseDir: dir },
      ),
    );
    srv = await startTestServer({ router });
  });
  after(async () => {
    await srv?.stop();
    rmSync(dir, { recursive: true, force: true });
  });

  it('writes through the route get the tier of its `to` backend; CreateBucket may name a tier `to` holds', async () => {
    await srv.s3.send(new CreateBucketCommand({ Bucket: 'moving' }));
    await srv.s3.send(new PutObjectCommand({ Bucket: 'moving', Key: 'k', Body: 'x' }));
    expect(await classOf(srv.s3, 'moving', 'k')).to.equal('STANDARD_IA');
    const refused = await errorOf(createWithTier(srv.s3, 'moving', 'frozen'));
    expect(refused.name).to.equal('InvalidStorageClass');
    expect(refused.message).to.contain("Tier 'frozen' names no storage class for fs stores");
    await createWithTier(srv.s3, 'moving', 'gold');
    await srv.s3.send(new PutObjectCommand({ Bucket: 'moving', Key: 'g', Body: 'x' }));
    expect(await classOf(srv.s3, 'moving', 'g')).to.equal(undefined);
  });
});

describe('CreateBucket naming a tier on Azure (Azurite): the blobs get the tier as their access tier', function () {
  this.timeout(60_000);
  let azurite: Azurite;
  let srv: TestServer;
  let blobs: BlobServiceClient;

  before(async () => {
    azurite = await startAzurite();
    process.env.BUCKET_TIER_TEST_AZ_KEY = azurite.accountKey;
    const router = Router.fromTable(
      validateRoutingTable({
        backends: {
          blob: {
            type: 'azure',
            account: azurite.account,
            endpoint: azurite.endpoint,
            credentials: { accountKeyEnv: 'BUCKET_TIER_TEST_AZ_KEY' },
          },
        },
        tiers: TIERS,
      }),
    );
    srv = await startTestServer({ router });
    blobs = new BlobServiceClient(azurite.endpoint, new StorageSharedKeyCredential(azurite.account, azurite.accountKey));
  });
  after(async () => {
    await srv?.stop();
    await azurite?.stop();
  });
  beforeEach(() => bucketConfig.clear());
  const tierOf = async (bucket: string, key: string) =>
    (await blobs.getContainerClient(bucket).getBlobClient(key).getProperties()).accessTier;

  it('PUT, multipart and copy without a class land in the tier; HEAD maps it back; an archive tier refuses reads', async () => {
    const s3 = srv.s3;
    await createWithTier(s3, 'cool', 'silver');
    await createWithTier(s3, 'frozen', 'frozen');
    expect((await bucketHeaders(s3, 'frozen'))['x-s3mux-storage-class']).to.equal('GLACIER');
    await s3.send(new PutObjectCommand({ Bucket: 'cool', Key: 'put', Body: 'a' }));
    await multipart(s3, 'cool', 'mp');
    await s3.send(new PutObjectCommand({ Bucket: 'cool', Key: 'hot-src', Body: 'h', StorageClass: 'STANDARD' }));
    await s3.send(new CopyObjectCommand({ Bucket: 'cool', Key: 'copied', CopySource: 'cool/hot-src' }));
    await s3.send(new PutObjectCommand({ Bucket: 'cool', Key: 'hot', Body: 'b', StorageClass: 'STANDARD' }));
    await s3.send(new PutObjectCommand({ Bucket: 'frozen', Key: 'deep', Body: 'c' }));
    expect(await tierOf('cool', 'put')).to.equal('Cool');
    expect(await tierOf('cool', 'mp')).to.equal('Cool');
    expect(await tierOf('cool', 'hot')).to.equal('Hot');
    expect(await tierOf('cool', 'copied')).to.equal('Cool');
    expect(await tierOf('frozen', 'deep')).to.equal('Archive');
    expect(await classOf(s3, 'cool', 'put')).to.equal('STANDARD_IA');
    expect(await classOf(s3, 'cool', 'mp')).to.equal('STANDARD_IA');
    expect(await classOf(s3, 'frozen', 'deep')).to.equal('GLACIER');
    const read = await errorOf(s3.send(new GetObjectCommand({ Bucket: 'frozen', Key: 'deep' })));
    expect(read.name).to.equal('InvalidObjectState');
  });
});
