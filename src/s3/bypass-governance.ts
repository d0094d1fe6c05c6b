/** Who may bypass GOVERNANCE retention (src/object-lock): one place, for every operation that can. */
import { isAllowed } from '../auth/policy';
import type { S3Context } from './context';

const BYPASS_HEADER = 'x-amz-bypass-governance-retention';

/**
 * Whether the request may bypass GOVERNANCE retention: it says so with the header, and the
 * caller holds the permission (s3:BypassGovernanceRetention; on the routing table's rules,
 * deleting in the bucket).
 */
export function bypassGovernance(ctx: S3Context, key: string): Promise<boolean> {
  void key;
  if ((ctx.header(BYPASS_HEADER) ?? '').trim().toLowerCase() !== 'true') return Promise.resolve(false);
  return Promise.resolve(isAllowed(ctx.principal, 'delete', ctx.bucketName));
}
