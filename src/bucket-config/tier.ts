/**
 * A bucket's default tier: CreateBucket may name one of the routing table's `tiers:` in the
 * s3mux header `x-s3mux-tier` (S3 has no header for a bucket's default storage class; GCS
 * buckets and Azure accounts have such a default, and this is how an S3 client asks for it).
 * The tier is resolved, when the bucket is created, into the S3 storage class it gives the
 * bucket's store; that class is kept as the bucket's `tier` configuration document and given to
 * every PUT, CopyObject, CreateMultipartUpload and POST Object that names no
 * x-amz-storage-class. It wins over the route's or backend's tier (it is the more specific). HEAD
 * bucket answers with it (`x-s3mux-tier`, `x-s3mux-storage-class`).
 */
import { S3Error } from '../errors';
import { checkStorageClass, classHolders, tierClassFor } from '../backends/storage-classes';
import type { BucketView } from '../router/bucket-view';
import { bucketConfig } from './store';

export const TIER_HEADER = 'x-s3mux-tier';

export interface BucketTier {
  tier: string;
  /** The S3 class the tier gave the bucket's store when the bucket was created. */
  storageClass: string;
}

const DOC = 'tier';

/**
 * The bucket tier `tier` of the routing table's `tiers` gives a bucket on `view`: InvalidArgument
 * for a tier the table does not define, InvalidStorageClass for one that names no class for the
 * bucket's store (on a composite route: for one of the targets its writes reach, or different
 * S3 classes for them), NotImplemented where the store cannot keep s3mux's documents.
 */
export function resolveBucketTier(view: BucketView, tiers: Record<string, Record<string, string>> | undefined, tier: string): BucketTier {
  const name = tier.trim();
  const classes = tiers?.[name];
  if (!classes) {
    const known = Object.keys(tiers ?? {});
    throw new S3Error(
      'InvalidArgument',
      `Unknown tier '${name.slice(0, 64)}' (${known.length ? `the routing table's tiers are ${known.join(', ')}` : "the routing table defines no 'tiers'"}).`,
      { ArgumentName: TIER_HEADER, ArgumentValue: name.slice(0, 64) },
    );
  }
  const resolved = tierClassFor(
    name,
    classes,
    classHolders(view.backend).map((h) => h.kind),
  );
  if ('problem' in resolved) {
    const problem = resolved.problem.charAt(0).toUpperCase() + resolved.problem.slice(1);
    throw new S3Error('InvalidStorageClass', `${problem} (bucket ${view.name}).`);
  }
  const { storageClass } = resolved;
  checkStorageClass(view.backend, storageClass);
  view.reservedArea('a default tier');
  return { tier: name, storageClass };
}

/** The bucket's tier, when its CreateBucket named one (undefined where the store keeps no s3mux documents). */
export async function bucketTier(view: BucketView): Promise<BucketTier | undefined> {
  if (!view.backend.reserved) return undefined;
  const cached = bucketConfig.peek<BucketTier>(view, DOC);
  return cached.found ? cached.value : bucketConfig.get<BucketTier>(view, DOC);
}

/** Records (or, with undefined, clears: a bucket made again without a tier) the bucket's tier. */
export async function setBucketTier(view: BucketView, tier: BucketTier | undefined): Promise<void> {
  if (!view.backend.reserved) return;
  await bucketConfig.set(view, DOC, tier);
}

/** A write naming no class gets its bucket's tier, where the bucket's CreateBucket named one. */
export async function applyBucketTier(view: BucketView, attrs: { storageClass?: string }): Promise<void> {
  if (attrs.storageClass !== undefined) return;
  const tier = await bucketTier(view);
  if (tier) attrs.storageClass = tier.storageClass;
}
