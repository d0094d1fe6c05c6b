/** Get/Put/DeleteBucketLifecycleConfiguration: the rules live in the bucket's configuration; the lifecycle worker applies them. */
import { S3Error } from '../../errors';
import { bucketConfig } from '../../bucket-config/store';
import { lifecycleConfigurationXml, parseLifecycleConfiguration } from '../../bucket-config/lifecycle';
import { LIFECYCLE_DOCUMENT, type StoredLifecycle } from '../../lifecycle/config';
import type { Handler } from '../context';
import { readXmlBody } from '../payload';
import { xmlResponse } from '../respond';

/** A thousand rules with tag filters fit in well under this. */
const MAX_LIFECYCLE_BYTES = 1024 * 1024;

export const getBucketLifecycleConfiguration: Handler = async (ctx) => {
  const view = ctx.bucket();
  await view.exists();
  const stored = await bucketConfig.get<StoredLifecycle>(view, LIFECYCLE_DOCUMENT);
  if (!stored) throw new S3Error('NoSuchLifecycleConfiguration', undefined, { BucketName: view.name });
  return xmlResponse('LifecycleConfiguration', lifecycleConfigurationXml(stored.rules));
};

export const putBucketLifecycleConfiguration: Handler = async (ctx) => {
  const view = ctx.bucket();
  view.assertWritable();
  await view.exists();
  const body = await readXmlBody(ctx, MAX_LIFECYCLE_BYTES);
  const rules = parseLifecycleConfiguration(body, {
    kind: view.backend.kind,
    canChangeClass: view.backend.setStorageClass !== undefined,
    holders: view.backend.classHolders,
  });
  await bucketConfig.set(view, LIFECYCLE_DOCUMENT, { rules } satisfies StoredLifecycle);
  return { status: 200 };
};

export const deleteBucketLifecycle: Handler = async (ctx) => {
  const view = ctx.bucket();
  await view.exists();
  await bucketConfig.set(view, LIFECYCLE_DOCUMENT, undefined);
  return { status: 204 };
};
