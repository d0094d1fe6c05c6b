/** Where a bucket's lifecycle rules are kept (shared by the S3 handlers and the worker). */
import type { LifecycleRule } from '../bucket-config/lifecycle';

export const LIFECYCLE_DOCUMENT = 'lifecycle';

export interface StoredLifecycle {
  rules: LifecycleRule[];
}
