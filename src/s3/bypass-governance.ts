/** Who may bypass GOVERNANCE retention (src/object-lock): one place, for every operation that can. */
import { S3Error } from '../errors';
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

/**
 * S3 refuses the header, whatever its value, on a delete in a bucket without object lock: there
 * is no retention it could bypass.
 */
export function refuseBypassWithoutLock(ctx: S3Context, lockConfigured: boolean): void {
  if (lockConfigured || ctx.header(BYPASS_HEADER) === undefined) return;
  throw new S3Error('InvalidArgument', `${BYPASS_HEADER} is only applicable to Object Lock enabled buckets.`, {
    ArgumentName: BYPASS_HEADER,
  });
}
