/**
 * What the storage-class and tier tests share: CreateBucket naming a tier (x-s3mux-tier), the
 * Transition rules they apply, a lifecycle worker on a fake clock, a one-part multipart upload.
 */
import {
  CompleteMultipartUploadCommand,
  CreateBucketCommand,
  CreateMultipartUploadCommand,
  HeadObjectCommand,
  UploadPartCommand,
  type S3Client,
  type StorageClass,
} from '@aws-sdk/client-s3';
import { LifecycleWorker } from '../../src/lifecycle/worker';
import type { Router } from '../../src/router/router';

/** How long a lifecycle day lasts on the fake clock. */
export const DAY = 1000;

/** CreateBucket with x-s3mux-tier, as an SDK v3 client sends a header it has no field for. */
export async function createWithTier(s3: S3Client, Bucket: string, tier: string): Promise<void> {
  const cmd = new CreateBucketCommand({ Bucket });
  cmd.middlewareStack.add(
    (next) => async (args) => {
      (args.request as { headers: Record<string, string> }).headers['x-s3mux-tier'] = tier;
      return next(args);
    },
    { step: 'build', name: 'addTierHeader' },
  );
  await s3.send(cmd);
}

/** Keys under cold/: STANDARD_IA after 30 days, GLACIER after 90. */
export const TRANSITIONS = {
  Rules: [
    {
      ID: 'cool-then-archive',
      Filter: { Prefix: 'cold/' },
      Status: 'Enabled' as const,
      Transitions: [
        { Days: 30, StorageClass: 'STANDARD_IA' as const },
        { Days: 90, StorageClass: 'GLACIER' as const },
      ],
    },
  ],
};

/** A worker on a fake clock whose days last DAY ms. */
export function fakeClockWorker(router: () => Router): { worker: LifecycleWorker; advance: (days: number) => void } {
  let clock = Date.now();
  return {
    worker: new LifecycleWorker({ router, dayMs: DAY, now: () => clock, maxCallsPerSecond: 10_000 }),
    advance: (days) => {
      clock += days * DAY;
    },
  };
}

/** The class HEAD reports (undefined for STANDARD, as S3 leaves it out). */
export async function classOf(s3: S3Client, Bucket: string, Key: string): Promise<string | undefined> {
  return (await s3.send(new HeadObjectCommand({ Bucket, Key }))).StorageClass;
}

/** A multipart upload of one part, naming `StorageClass` when given. */
export async function multipart(s3: S3Client, Bucket: string, Key: string, StorageClass?: StorageClass): Promise<void> {
  const up = await s3.send(new CreateMultipartUploadCommand({ Bucket, Key, StorageClass }));
  const part = await s3.send(new UploadPartCommand({ Bucket, Key, UploadId: up.UploadId, PartNumber: 1, Body: 'part' }));
  await s3.send(
    new CompleteMultipartUploadCommand({
      Bucket,
      Key,
      UploadId: up.UploadId,
      MultipartUpload: { Parts: [{ PartNumber: 1, ETag: part.ETag }] },
    }),
  );
}
