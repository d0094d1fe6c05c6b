/**
 * x-amz-expiration: S3 tells PUT, GET and HEAD which lifecycle rule will expire the object and
 * when (boto3's `Expiration`, the SDKs' `Expiration`). Every GET and HEAD asks, so a bucket whose
 * rules are in this process's cache (bucketConfig.peek) costs no promise; without rules, nothing.
 */
import { bucketConfig } from '../bucket-config/store';
import { expirationHeader } from '../bucket-config/lifecycle';
import { DAY_MS, LIFECYCLE_DOCUMENT, type StoredLifecycle } from '../lifecycle/config';
import type { ObjectMeta } from '../backends/types';
import type { S3Context } from './context';

type Described = Pick<ObjectMeta, 'size' | 'lastModified' | 'tags' | 'storageClass'>;

function header(ctx: S3Context, key: string, meta: Described, stored: StoredLifecycle | undefined): Record<string, string> {
  if (!stored) return {};
  const value = expirationHeader(stored.rules, { key, ...meta }, ctx.services.lifecycleDayMs ?? DAY_MS);
  return value === undefined ? {} : { 'x-amz-expiration': value };
}

/** The x-amz-expiration header for the object at `key` as `meta` describes it (none when no rule covers it). */
export function expirationHeaders(ctx: S3Context, key: string, meta: Described): Record<string, string> | Promise<Record<string, string>> {
  const view = ctx.bucket();
  const cached = bucketConfig.peek<StoredLifecycle>(view, LIFECYCLE_DOCUMENT);
  if (cached.found) return header(ctx, key, meta, cached.value);
  return bucketConfig.get<StoredLifecycle>(view, LIFECYCLE_DOCUMENT).then(
    (stored) => header(ctx, key, meta, stored),
    // The header is advice: a configuration that cannot be read leaves it out, never fails the request.
    () => ({}),
  );
}
