/** Who may bypass GOVERNANCE retention (src/object-lock): one place, for every operation that can. */
import type { S3Context } from './context';

const BYPASS_HEADER = 'x-amz-bypass-governance-retention';

/**
 * Whether the request may bypass GOVERNANCE retention on `key`: it says so with the header, and
 * the caller holds s3:BypassGovernanceRetention there (src/access/decide.ts: bucket policies;
 * on the routing table's rules, deleting in the bucket). Without the permission the header
 * counts for nothing, and the lock then refuses what it protects (AccessDenied).
 */
export async function bypassGovernance(ctx: S3Context, key: string): Promise<boolean> {
  if ((ctx.header(BYPASS_HEADER) ?? '').trim().toLowerCase() !== 'true') return false;
  return ctx.mayOnKey('s3:BypassGovernanceRetention', 'delete', key);
}
