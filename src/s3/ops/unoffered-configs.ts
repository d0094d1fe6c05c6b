/**
 * Bucket configurations s3mux does not offer: default encryption beyond what the store does,
 * access logging, static websites, replication, requester pays, transfer acceleration, event
 * notifications, and analytics, metrics, inventory and Intelligent-Tiering configurations.
 *
 * Tools read all of them when they look at a bucket (Terraform's aws_s3_bucket, the console-like
 * scripts built on boto3), so each is answered as S3 answers a bucket that never had one. A
 * write of that same unset state is accepted (it is true already); a write of anything else is
 * refused with 501 NotImplemented, so no client is told a bucket logs, replicates, notifies or
 * serves a website when it does not.
 */
import { S3Error } from '../../errors';
import { bucketConfig } from '../../bucket-config/store';
import type { BucketView } from '../../router/bucket-view';
import type { Handler, S3Context } from '../context';
import { readXmlBody } from '../payload';
import { storeEncryption } from '../request-features';
import { xmlResponse } from '../respond';
import { children, element, many, parseXml, text } from '../xml';

const CONFIG_BODY_LIMIT = 64 * 1024;

async function existingBucket(ctx: S3Context): Promise<BucketView> {
  const view = ctx.bucket();
  await view.exists();
  return view;
}

async function writableBucket(ctx: S3Context): Promise<BucketView> {
  const view = ctx.bucket();
  view.assertWritable();
  await view.exists();
  return view;
}

/** The request's document, its root checked to be `root` with only `allowed` children. */
async function configBody(ctx: S3Context, root: string, allowed: string[]): Promise<Record<string, unknown>> {
  const doc = element(parseXml(await readXmlBody(ctx, CONFIG_BODY_LIMIT)), root, allowed);
  if (!doc) throw new S3Error('MalformedXML');
  return doc;
}

function unoffered(what: string): S3Error {
  return new S3Error('NotImplemented', `s3mux does not offer ${what}.`);
}

// -- default encryption: what the store does to every object, nothing more (an s3 store is asked per write)

const SSE_KMS = new Set(['aws:kms', 'aws:kms:dsse']);

export const getBucketEncryption: Handler = async (ctx) => {
  const view = await existingBucket(ctx);
  if (storeEncryption(ctx) !== 'every object')
    throw new S3Error('ServerSideEncryptionConfigurationNotFoundError', undefined, { BucketName: view.name });
  return xmlResponse('ServerSideEncryptionConfiguration', {
    Rule: { ApplyServerSideEncryptionByDefault: { SSEAlgorithm: 'AES256' }, BucketKeyEnabled: false },
  });
};

/** Accepted only when it asks for SSE-S3, which the store already applies to every object. */
export const putBucketEncryption: Handler = async (ctx) => {
  await writableBucket(ctx);
  const doc = await configBody(ctx, 'ServerSideEncryptionConfiguration', ['Rule']);
  const rules = many(doc.Rule);
  if (rules.length === 0) throw new S3Error('MalformedXML');
  for (const node of rules) {
    const rule = children(node, ['ApplyServerSideEncryptionByDefault', 'BucketKeyEnabled', 'BlockedEncryptionTypes']);
    const byDefault = children(rule.ApplyServerSideEncryptionByDefault, ['SSEAlgorithm', 'KMSMasterKeyID']);
    const algorithm = text(byDefault.SSEAlgorithm);
    if (algorithm !== undefined && SSE_KMS.has(algorithm)) throw unoffered(`SSE-KMS (${algorithm})`);
    if (algorithm !== 'AES256') throw new S3Error('MalformedXML');
    if (byDefault.KMSMasterKeyID !== undefined) {
      throw new S3Error(
        'InvalidArgument',
        'a KMSMasterKeyID is not applicable if the default sse algorithm is not aws:kms or aws:kms:dsse',
        {
          ArgumentName: 'ApplyServerSideEncryptionByDefault',
        },
      );
    }
    if (text(rule.BucketKeyEnabled)?.trim() === 'true') throw unoffered('S3 Bucket Keys (SSE-KMS)');
    if (rule.BlockedEncryptionTypes !== undefined) throw unoffered('blocked encryption types');
  }
  const encryption = storeEncryption(ctx);
  if (encryption !== 'every object') {
    throw unoffered(
      encryption === 'when asked'
        ? "default encryption through the s3 backend: its store is asked to encrypt each write that requests SSE-S3, and s3mux cannot vouch for the store's default"
        : 'default encryption on this route: a store it keeps objects on is an fs folder of plain files (start s3mux with --fs-encrypted-at-rest when the folder is on an encrypted volume)',
    );
  }
  return { status: 200 };
};

/** S3 falls back to its SSE-S3 default; the store's own encryption is that default here. */
export const deleteBucketEncryption: Handler = async (ctx) => {
  await writableBucket(ctx);
  return { status: 204 };
};

// -- access logging, requester pays, notifications: always off, and turning them off is accepted

export const getBucketLogging: Handler = async (ctx) => {
  await existingBucket(ctx);
  return xmlResponse('BucketLoggingStatus', {});
};

export const putBucketLogging: Handler = async (ctx) => {
  await writableBucket(ctx);
  const doc = await configBody(ctx, 'BucketLoggingStatus', ['LoggingEnabled']);
  if (doc.LoggingEnabled !== undefined) throw unoffered('server access logging');
  return { status: 200 };
};

export const getBucketRequestPayment: Handler = async (ctx) => {
  await existingBucket(ctx);
  return xmlResponse('RequestPaymentConfiguration', { Payer: 'BucketOwner' });
};

export const putBucketRequestPayment: Handler = async (ctx) => {
  await writableBucket(ctx);
  const payer = text((await configBody(ctx, 'RequestPaymentConfiguration', ['Payer'])).Payer);
  if (payer === 'Requester') throw unoffered('Requester Pays buckets');
  if (payer !== 'BucketOwner') throw new S3Error('MalformedXML');
  return { status: 200 };
};

const NOTIFICATION_KINDS = ['TopicConfiguration', 'QueueConfiguration', 'CloudFunctionConfiguration', 'EventBridgeConfiguration'];

export const getBucketNotification: Handler = async (ctx) => {
  await existingBucket(ctx);
  return xmlResponse('NotificationConfiguration', {});
};

export const putBucketNotification: Handler = async (ctx) => {
  await writableBucket(ctx);
  const doc = await configBody(ctx, 'NotificationConfiguration', NOTIFICATION_KINDS);
  const asked = NOTIFICATION_KINDS.find((k) => doc[k] !== undefined);
  if (asked) throw unoffered(`event notifications (${asked})`);
  return { status: 200 };
};

// -- transfer acceleration: Suspended is what every bucket here is, and is remembered once said

const ACCELERATE_DOCUMENT = 'accelerate';

export const getBucketAccelerate: Handler = async (ctx) => {
  const view = await existingBucket(ctx);
  const stored = await bucketConfig.get<{ status: 'Suspended' }>(view, ACCELERATE_DOCUMENT);
  return xmlResponse('AccelerateConfiguration', stored ? { Status: stored.status } : {});
};

export const putBucketAccelerate: Handler = async (ctx) => {
  const view = await writableBucket(ctx);
  const status = text((await configBody(ctx, 'AccelerateConfiguration', ['Status'])).Status);
  if (status === 'Enabled') throw unoffered('Transfer Acceleration');
  if (status !== 'Suspended') throw new S3Error('MalformedXML');
  await bucketConfig.set(view, ACCELERATE_DOCUMENT, { status });
  return { status: 200 };
};

// -- website and replication: never configured, so reading is S3's "not found" and deleting is a no-op

export const getBucketWebsite: Handler = async (ctx) => {
  const view = await existingBucket(ctx);
  throw new S3Error('NoSuchWebsiteConfiguration', undefined, { BucketName: view.name });
};

export const getBucketReplication: Handler = async (ctx) => {
  const view = await existingBucket(ctx);
  throw new S3Error('ReplicationConfigurationNotFoundError', undefined, { BucketName: view.name });
};

function refusedWrite(what: string): Handler {
  return async (ctx) => {
    await writableBucket(ctx);
    throw unoffered(what);
  };
}

export const putBucketWebsite = refusedWrite('static website hosting');
export const putBucketReplication = refusedWrite('replication configurations (see mirror routes in the README)');

export const deleteUnsetConfig: Handler = async (ctx) => {
  await writableBucket(ctx);
  return { status: 204 };
};

// -- analytics, metrics, inventory and Intelligent-Tiering configurations: a bucket has none

/** The list document each of them answers ListBucket*Configurations with. */
const LIST_ROOTS = {
  analytics: 'ListBucketAnalyticsConfigurationResult',
  metrics: 'ListMetricsConfigurationsResult',
  inventory: 'ListInventoryConfigurationsResult',
  'intelligent-tiering': 'ListBucketIntelligentTieringConfigurationsOutput',
} as const;

export type IdentifiedConfig = keyof typeof LIST_ROOTS;

export function listNoConfigs(kind: IdentifiedConfig): Handler {
  return async (ctx) => {
    await existingBucket(ctx);
    const token = ctx.query.get('continuation-token');
    return xmlResponse(LIST_ROOTS[kind], { IsTruncated: false, ...(token !== null ? { ContinuationToken: token } : {}) });
  };
}

/** GET or DELETE of one configuration by id: there is none to find (S3 names no bucket in this error). */
export const noSuchConfig: Handler = async (ctx) => {
  await existingBucket(ctx);
  throw new S3Error('NoSuchConfiguration');
};

export function refusedConfigWrite(kind: IdentifiedConfig): Handler {
  return refusedWrite(`${kind} configurations`);
}
