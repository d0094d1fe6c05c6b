/** Where a bucket's lifecycle rules are kept (shared by the S3 handlers and the worker). */
import type { LifecycleRule } from '../bucket-config/lifecycle';

export const LIFECYCLE_DOCUMENT = 'lifecycle';

/** A lifecycle day (the worker and x-amz-expiration take a shorter one only in tests). */
export const DAY_MS = 24 * 3600_000;

export interface StoredLifecycle {
  rules: LifecycleRule[];
}
