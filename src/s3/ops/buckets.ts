/** Bucket-level operations: ListBuckets, CreateBucket, DeleteBucket, HeadBucket, GetBucketLocation, ... */
import { kitFor } from '../../backends/create';
import { isS3Error, S3Error } from '../../errors';
import { canSeeBucket } from '../../auth/policy';
import { validateBucketName } from '../../backends/keys';
import type { BucketInfo, Tag } from '../../backends/types';
import type { BucketView } from '../../router/bucket-view';
import type { Handler, S3Context, S3Response } from '../context';
import { xmlResponse } from '../respond';
import { callerOfCtx, effectiveAccess, storedAccess } from '../access';
import { newBucketAccess, recordNewBucket, resetBucketAcl } from './access-control';
import { element, parseXml, text } from '../xml';
import { readXmlBody } from '../payload';
import { decodeToken, encodeToken } from '../continuation-token';
import { enableObjectLock, noLockHere } from './object-lock';
import { bucketTier, resolveBucketTier, setBucketTier, TIER_HEADER } from '../../bucket-config/tier';
import { bucketConfig } from '../../bucket-config/store';
import { checkBucketTags, setBucketTags } from './bucket-tagging';
import { tagsOf } from './tagging';
import { VersionedObjects } from '../../versioning/objects';
import { listObjectVersions } from '../../versioning/listing';

/** The caller as S3 names an owner: its canonical id and its name. */
export function owner(ctx: S3Context): { ID: string; DisplayName: string } {
  const caller = callerOfCtx(ctx);
  return { ID: caller.canonicalId, DisplayName: caller.name };
}

export const listBuckets: Handler = async (ctx) => {
  const router = ctx.services.router;
  const byName = new Map<string, BucketInfo>();
  for (const route of router.explicitRoutes()) {
    try {
      const info = await route.backend.headBucket(route.bucket);
      byName.set(route.name, { name: route.name, creationDate: info.creationDate });
    } catch (err) {
      if (!(err instanceof S3Error && err.code === 'NoSuchBucket')) throw err;
    }
  }
  for (const b of await router.defaultBackend.listBuckets()) {
    if (!router.isExplicit(b.name) && !byName.has(b.name)) byName.set(b.name, b);
  }
  const page = listBucketsPage(ctx);
  const visible = [...byName.values()]
    .filter(
      (b) => canSeeBucket(ctx.principal, b.name) && b.name.startsWith(page.prefix) && (page.after === undefined || b.name > page.after),
    )
    .sort((a, b) => (a.name < b.name ? -1 : a.name > b.name ? 1 : 0));
  const buckets = page.inRegion ? visible.slice(0, page.max) : [];
  const more = page.inRegion && visible.length > buckets.length;
  return xmlResponse('ListAllMyBucketsResult', {
    Owner: owner(ctx),
    Buckets: { Bucket: buckets.map((b) => ({ Name: b.name, CreationDate: b.creationDate, BucketRegion: ctx.services.region })) },
    // Only when more buckets remain, as S3 answers.
    ContinuationToken: more ? encodeToken(buckets.at(-1)!.name) : undefined,
    Prefix: ctx.query.get('prefix') ?? undefined,
  });
};

/** ListBuckets paging: max-buckets (1..10000), continuation-token, prefix, bucket-region. */
function listBucketsPage(ctx: S3Context): { max: number; after?: string; prefix: string; inRegion: boolean } {
  const maxText = ctx.query.get('max-buckets');
  if (maxText !== null && (!/^\d{1,5}$/.test(maxText) || Number(maxText) < 1 || Number(maxText) > 10_000)) {
    throw new S3Error('InvalidArgument', 'Argument max-buckets must be an integer between 1 and 10000', {
      ArgumentName: 'max-buckets',
      ArgumentValue: maxText,
    });
  }
  const token = ctx.query.get('continuation-token');
  const region = ctx.query.get('bucket-region');
  return {
    max: maxText === null ? 10_000 : Number(maxText),
    after: token ? decodeToken(token) : undefined,
    prefix: ctx.query.get('prefix') ?? '',
    inRegion: !region || region === ctx.services.region,
  };
}

/** LocationConstraint's legacy names for a region. */
const LOCATION_ALIASES: Readonly<Record<string, string>> = { EU: 'eu-west-1' };

export const createBucket: Handler = async (ctx) => {
  const name = ctx.bucketName;
  validateBucketName(name);
  const body = await readXmlBody(ctx, 64 * 1024);
  let tags: Tag[] | undefined;
  if (body.length) {
    const config = element(parseXml(body), 'CreateBucketConfiguration', ['LocationConstraint', 'Location', 'Bucket', 'Tags']);
    // The bucket's first tag set, held to PutBucketTagging's rules (checked before the bucket is made).
    if (config?.Tags !== undefined) checkBucketTags((tags = tagsOf(config.Tags)));
    const location = text(config?.LocationConstraint);
    // A region name (eu-west-1, us-gov-west-1, ...) or the legacy EU. Never us-east-1: it is the
    // region a bucket gets without a constraint, and S3 refuses it named (minio-js omits it for that).
    const malformed = location !== 'EU' && !/^[a-z]{2,}(-[a-z0-9]+){1,4}$/.test(location ?? '');
    if (location !== undefined && (malformed || location === 'us-east-1')) {
      throw new S3Error('InvalidLocationConstraint', undefined, { LocationConstraint: location.slice(0, 64) });
    }
    // s3mux is one S3 region (--region), the one GetBucketLocation reports for every bucket: a
    // bucket asked for in another region would be made here, so it is refused as an S3 regional
    // endpoint refuses it.
    if (location !== undefined && (LOCATION_ALIASES[location] ?? location) !== ctx.services.region) {
      throw new S3Error(
        'IllegalLocationConstraintException',
        `The ${location} location constraint is incompatible for the region specific endpoint this request was sent to.`,
      );
    }
  }
  const view = ctx.bucket();
  view.assertWritable();
  const lockHeader = (ctx.header('x-amz-bucket-object-lock-enabled') ?? '').trim().toLowerCase();
  // us-east-1's answer to a bucket that exists (createdAgain); not to a request asking for more than an ACL.
  const again =
    ctx.services.region === 'us-east-1' &&
    tags === undefined &&
    lockHeader !== 'true' &&
    ctx.header('x-amz-object-ownership') === undefined &&
    ctx.header(TIER_HEADER) === undefined;
  if (again && (await existsNow(view))) return createdAgain(ctx, view);
  const access = newBucketAccess(ctx, view);
  if (view.route.prefix !== '') {
    // A routed prefix exists as soon as its real bucket does.
    await view.exists();
    throw new S3Error('BucketAlreadyOwnedByYou');
  }
  // The store's own rules too (an Azure container has no '.', a GCS bucket no 'goog' prefix), naming the rule broken.
  const rule = kitFor(view.backend.kind)?.bucketNameProblem?.(view.realBucket);
  if (rule)
    throw new S3Error('InvalidBucketName', `The ${view.backend.kind} backend cannot hold this bucket: ${rule}.`, { BucketName: name });
  // Checked before the bucket exists, so a refusal leaves nothing behind.
  const lock = lockHeader === 'true';
  if (lock && !view.backend.reserved) throw noLockHere(view.backend.kind);
  // A store without a reserved area cannot keep the tags: refused before the bucket is made, not after.
  if (tags?.length) view.requireReservedArea('bucket tags');
  const tierName = ctx.header(TIER_HEADER);
  const tier = tierName === undefined ? undefined : resolveBucketTier(view, ctx.services.router.table.tiers, tierName);
  try {
    await createStoreBucket(view, lock);
  } catch (err) {
    // Made meanwhile by another request.
    if (again && isS3Error(err, 'BucketAlreadyOwnedByYou')) return createdAgain(ctx, view);
    throw err;
  }
  await recordNewBucket(view, access);
  // Also without the header: a bucket made again under an old name must not keep the old one's tier.
  await setBucketTier(view, tier);
  if (tags) await setBucketTags(view, tags);
  if (lock) await enableObjectLock(ctx);
  return { status: 200, headers: { Location: `/${name}` } };
};

/**
 * CreateBucket of a bucket that exists. S3 answers BucketAlreadyOwnedByYou in every region but
 * us-east-1, where, for legacy compatibility, the owner's request is answered 200 and resets the
 * bucket's ACL to the one it names (private when it names none): the S3 API reference's
 * BucketAlreadyOwnedByYou. LocalStack answers so (and 409 still to a request carrying tags);
 * Ceph's s3-tests (test_bucket_create_exists) allow the default region's 200. s3mux answers 409
 * also to a request asking for more than an ACL (tags, object lock, object ownership, a tier),
 * which a 200 would ignore (the caller does not come here), and when another identity owns the
 * bucket. The ACL is held to the bucket's object ownership, as PutBucketAcl's is.
 */
async function createdAgain(ctx: S3Context, view: BucketView): Promise<S3Response> {
  const current = effectiveAccess(ctx, view, await storedAccess(view));
  const access = newBucketAccess(ctx, view, current.ownership);
  if (current.owner !== access.owner) throw new S3Error('BucketAlreadyOwnedByYou');
  await resetBucketAcl(view, access);
  return { status: 200, headers: { Location: `/${ctx.bucketName}` } };
}

async function existsNow(view: BucketView): Promise<boolean> {
  try {
    await view.exists();
    return true;
  } catch (err) {
    if (isS3Error(err, 'NoSuchBucket')) return false;
    throw err;
  }
}

/** A store's refusal of a bucket with its own lock on (a store or account without one). */
const LOCK_REFUSED = ['NotImplemented', 'InvalidRequest', 'InvalidArgument'] as const;

/**
 * The real bucket of a whole-bucket route; with object lock asked for, with the store's own lock
 * on where the store has one (native-lock.ts then locks version bytes there too). A store that
 * refuses it gets the bucket as without the header: the lock is then s3mux's alone.
 */
async function createStoreBucket(view: BucketView, lock: boolean): Promise<void> {
  if (!lock) return view.backend.createBucket(view.realBucket);
  try {
    await view.backend.createBucket(view.realBucket, { objectLock: true });
  } catch (err) {
    if (!LOCK_REFUSED.some((code) => isS3Error(err, code))) throw err;
    await view.backend.createBucket(view.realBucket);
  }
}

export const deleteBucket: Handler = async (ctx) => {
  const view = ctx.bucket();
  view.assertWritable();
  if (view.route.prefix !== '') {
    const page = await view.listObjects({ prefix: '', maxKeys: 1 });
    if (page.objects.length || page.commonPrefixes.length) throw new S3Error('BucketNotEmpty');
    throw new S3Error('AccessDenied', 'A bucket routed onto a key prefix cannot be deleted through s3mux.');
  }
  // Noncurrent versions and delete markers live in s3mux's reserved area, which the store's
  // own emptiness check does not see: S3 refuses a bucket holding any of them.
  const objects = await VersionedObjects.of(view);
  if (objects.status !== undefined && (await listObjectVersions(objects, { prefix: '', maxKeys: 1 })).versions.length > 0)
    throw new S3Error('BucketNotEmpty', undefined, { BucketName: ctx.bucketName });
  await view.backend.deleteBucket(view.realBucket);
  bucketConfig.forgetBucket(view);
  return { status: 204 };
};

export const headBucket: Handler = async (ctx) => {
  const view = ctx.bucket();
  await view.exists();
  const tier = await bucketTier(view);
  return {
    status: 200,
    headers: {
      'x-amz-bucket-region': ctx.services.region,
      // S3 says whether the name is an access point alias: s3mux serves no access points.
      'x-amz-access-point-alias': 'false',
      ...(tier ? { [TIER_HEADER]: tier.tier, 'x-s3mux-storage-class': tier.storageClass } : {}),
    },
  };
};

export const getBucketLocation: Handler = async (ctx) => {
  await ctx.bucket().exists();
  // us-east-1 is reported as an empty LocationConstraint, as S3 does.
  const region = ctx.services.region === 'us-east-1' ? '' : ctx.services.region;
  return xmlResponse('LocationConstraint', { '#text': region });
};
