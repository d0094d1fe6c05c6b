/**
 * A route's own state through the S3 API, for the outage tests: bucket configuration
 * (versioning, CORS, tags) and object versions, written, read back and compared across targets.
 */
import { expect } from 'chai';
import {
  GetBucketCorsCommand,
  GetBucketTaggingCommand,
  GetBucketVersioningCommand,
  GetObjectCommand,
  ListObjectVersionsCommand,
  PutBucketCorsCommand,
  PutBucketTaggingCommand,
  PutBucketVersioningCommand,
  PutObjectCommand,
  S3Client,
} from '@aws-sdk/client-s3';
import { readReservedBody, type BucketReservedArea } from '../../src/backends/reserved-store';
import { bucketConfig } from '../../src/bucket-config/store';
import { ACCESS_KEY, SECRET_KEY } from '../helpers/server';

const CORS = { CORSRules: [{ AllowedMethods: ['GET'], AllowedOrigins: ['https://example.test'], MaxAgeSeconds: 60 }] };
const TAGS = [{ Key: 'team', Value: 'storage' }];

/** A client that does not retry: a 503 reaches the test as it left s3mux. */
export function onceClient(url: string): S3Client {
  return new S3Client({
    endpoint: url,
    region: 'us-east-1',
    forcePathStyle: true,
    maxAttempts: 1,
    credentials: { accessKeyId: ACCESS_KEY, secretAccessKey: SECRET_KEY },
  });
}

export async function setState(s3: S3Client, bucket: string): Promise<void> {
  await s3.send(new PutBucketVersioningCommand({ Bucket: bucket, VersioningConfiguration: { Status: 'Enabled' } }));
  await s3.send(new PutBucketCorsCommand({ Bucket: bucket, CORSConfiguration: CORS }));
  await s3.send(new PutBucketTaggingCommand({ Bucket: bucket, Tagging: { TagSet: TAGS } }));
}

/** The configuration reads back, read afresh from the store (this process's cache emptied first). */
export async function expectState(s3: S3Client, bucket: string, what: string): Promise<void> {
  bucketConfig.clear();
  const v = await s3.send(new GetBucketVersioningCommand({ Bucket: bucket }));
  expect(v.Status, `${what}: versioning`).to.equal('Enabled');
  const cors = await s3.send(new GetBucketCorsCommand({ Bucket: bucket }));
  expect(cors.CORSRules?.[0]?.AllowedOrigins, `${what}: CORS`).to.deep.equal(['https://example.test']);
  const tags = await s3.send(new GetBucketTaggingCommand({ Bucket: bucket }));
  expect(tags.TagSet, `${what}: tags`).to.deep.equal(TAGS);
}

export async function putVersion(s3: S3Client, bucket: string, key: string, text: string): Promise<string> {
  const r = await s3.send(new PutObjectCommand({ Bucket: bucket, Key: key, Body: text }));
  expect(r.VersionId, 'a version id').to.be.a('string');
  return r.VersionId!;
}

export async function readVersion(s3: S3Client, bucket: string, key: string, versionId?: string): Promise<string> {
  const r = await s3.send(new GetObjectCommand({ Bucket: bucket, Key: key, VersionId: versionId }));
  return r.Body!.transformToString();
}

export async function versionIds(s3: S3Client, bucket: string, key: string): Promise<string[]> {
  const r = await s3.send(new ListObjectVersionsCommand({ Bucket: bucket, Prefix: key }));
  return (r.Versions ?? []).filter((v) => v.Key === key).map((v) => v.VersionId!);
}

/** The HTTP status of a request expected to fail. */
export async function statusOf(p: Promise<unknown>): Promise<number | undefined> {
  return p.then(
    () => 200,
    (e: { $metadata?: { httpStatusCode?: number } }) => e.$metadata?.httpStatusCode,
  );
}

/** Every document of an area (the route's own queue and migration documents aside), name -> bytes. */
export async function areaDocuments(area: BucketReservedArea): Promise<Map<string, string>> {
  const out = new Map<string, string>();
  for (const e of await area.list('')) {
    if (e.name.startsWith('mirror/') || e.name.startsWith('migrate/')) continue;
    const doc = await area.get(e.name);
    if (doc) out.set(e.name, (await readReservedBody(doc, 64 * 1024 * 1024)).toString('base64'));
  }
  return out;
}
