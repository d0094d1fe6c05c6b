/**
 * The one place that decides whether a request may go ahead, as AWS decides it for callers of
 * the bucket owner's account: an explicit Deny in the bucket policy wins; otherwise the request
 * is allowed when the caller's routing-table rules, the bucket policy or an ACL allows it.
 * Anonymous callers get in only through the bucket policy, an ACL or a `publicRead` route.
 */
import { isAllowed, type Action, type Principal } from '../auth/policy';
import { aclGrants, type Acl, type Permission } from './acl';
import { evaluateBucketPolicy, isPublicPolicy, type BucketPolicy, type RequestFacts } from './bucket-policy';
import type { CallerId } from './principals';

export const OWNERSHIPS = ['BucketOwnerEnforced', 'BucketOwnerPreferred', 'ObjectWriter'] as const;
export type Ownership = (typeof OWNERSHIPS)[number];

export interface PublicAccessBlock {
  BlockPublicAcls: boolean;
  IgnorePublicAcls: boolean;
  BlockPublicPolicy: boolean;
  RestrictPublicBuckets: boolean;
}
export const PAB_SETTINGS = ['BlockPublicAcls', 'IgnorePublicAcls', 'BlockPublicPolicy', 'RestrictPublicBuckets'] as const;

/** A bucket's access-control state, as stored and as the routing table fixes it. */
export interface BucketAccess {
  /** The bucket owner's canonical id. */
  owner: string;
  acl: Acl;
  policy?: BucketPolicy;
  ownership: Ownership;
  publicAccessBlock?: PublicAccessBlock;
}

/** Which ACL, and which permission in it, can allow an action (S3's ACL-to-action mapping). */
const ACL_PERMISSION: Record<string, [on: 'bucket' | 'object', permission: Permission]> = {
  's3:ListBucket': ['bucket', 'READ'],
  's3:ListBucketVersions': ['bucket', 'READ'],
  's3:ListBucketMultipartUploads': ['bucket', 'READ'],
  's3:PutObject': ['bucket', 'WRITE'],
  's3:DeleteObject': ['bucket', 'WRITE'],
  's3:AbortMultipartUpload': ['bucket', 'WRITE'],
  's3:ListMultipartUploadParts': ['bucket', 'WRITE'],
  's3:GetBucketAcl': ['bucket', 'READ_ACP'],
  's3:PutBucketAcl': ['bucket', 'WRITE_ACP'],
  's3:GetObject': ['object', 'READ'],
  's3:GetObjectVersion': ['object', 'READ'],
  's3:DeleteObjectVersion': ['bucket', 'WRITE'],
  's3:GetObjectVersionAttributes': ['object', 'READ'],
  's3:GetObjectVersionAcl': ['object', 'READ_ACP'],
  's3:GetObjectAttributes': ['object', 'READ'],
  's3:GetObjectTorrent': ['object', 'READ'],
  's3:GetObjectAcl': ['object', 'READ_ACP'],
  's3:PutObjectAcl': ['object', 'WRITE_ACP'],
  's3:PutObjectVersionAcl': ['object', 'WRITE_ACP'],
};

/** What the owner of a bucket (or of an object, for the object's ACL) may always do, whatever its ACL says. */
const OWNER_ALWAYS = new Set([
  's3:GetBucketAcl',
  's3:PutBucketAcl',
  's3:GetBucketPolicy',
  's3:PutBucketPolicy',
  's3:DeleteBucketPolicy',
  's3:GetBucketPolicyStatus',
  's3:GetBucketOwnershipControls',
  's3:PutBucketOwnershipControls',
  's3:GetBucketPublicAccessBlock',
  's3:PutBucketPublicAccessBlock',
  's3:DeleteBucketPolicy',
  's3:DeleteBucket',
]);

/** Root may always manage the policy of a bucket, so a Deny it wrote cannot lock the account out. */
const ROOT_UNDENIABLE = new Set(['s3:GetBucketPolicy', 's3:PutBucketPolicy', 's3:DeleteBucketPolicy']);

export interface AccessQuestion {
  principal: Principal;
  caller: CallerId;
  facts: RequestFacts;
  /** The routing-table action the operation maps onto (undefined: no rule can grant it). */
  coarse?: Action;
  bucket: string;
  /** The bucket's state; undefined when the bucket has none (it does not exist yet: CreateBucket). */
  access?: BucketAccess;
  /** The object's ACL when the action is on an object (lazily: only read when an ACL could decide). */
  objectAcl?: () => Promise<Acl | undefined>;
  /** An anonymous read that a `publicRead` route allows. */
  publicRoute: boolean;
}

/** `explicit`: a Deny statement refused it, which no grant or other answer overrides. */
export type Verdict = { allowed: true; by: string } | { allowed: false; reason: string; explicit?: true };

export async function decide(q: AccessQuestion): Promise<Verdict> {
  const { caller, facts, access } = q;
  const policyWord = access?.policy ? evaluateBucketPolicy(access.policy, facts) : undefined;
  if (policyWord === 'Deny' && !(q.principal.name === 'root' && !caller.anonymous && ROOT_UNDENIABLE.has(facts.action))) {
    return { allowed: false, reason: 'explicitly denied by the bucket policy', explicit: true };
  }
  if (q.principal.admin && !caller.anonymous) return { allowed: true, by: 'admin' };
  if (q.coarse && !caller.anonymous && isAllowed(q.principal, q.coarse, q.bucket)) return { allowed: true, by: 'routing table' };
  if (q.publicRoute && caller.anonymous) return { allowed: true, by: 'public route' };
  if (!access) return { allowed: false, reason: 'nothing allows it' };

  if (policyWord === 'Allow') {
    const restricted = access.publicAccessBlock?.RestrictPublicBuckets && caller.anonymous && isPublicPolicy(access.policy!);
    if (!restricted) return { allowed: true, by: 'bucket policy' };
  }
  const ownerOfBucket = !caller.anonymous && caller.canonicalId === access.owner;
  if (ownerOfBucket && (OWNER_ALWAYS.has(facts.action) || access.ownership === 'BucketOwnerEnforced')) {
    return { allowed: true, by: 'bucket owner' };
  }
  // With BucketOwnerEnforced, ACLs no longer grant anything: policies alone decide.
  if (access.ownership === 'BucketOwnerEnforced') return { allowed: false, reason: 'nothing allows it (ACLs are disabled)' };
  const use = ACL_PERMISSION[facts.action];
  if (!use) return { allowed: false, reason: 'nothing allows it' };
  const [on, permission] = use;
  const ignorePublic = access.publicAccessBlock?.IgnorePublicAcls ?? false;
  if (on === 'bucket') {
    return aclGrants(access.acl, caller, permission, ignorePublic)
      ? { allowed: true, by: 'bucket ACL' }
      : { allowed: false, reason: 'nothing allows it' };
  }
  const acl = (await q.objectAcl?.()) ?? {
    owner: access.owner,
    grants: [{ grantee: { type: 'CanonicalUser', id: access.owner }, permission: 'FULL_CONTROL' }],
  };
  const ownsObject = !caller.anonymous && caller.canonicalId === acl.owner && (permission === 'READ_ACP' || permission === 'WRITE_ACP');
  if (ownsObject || aclGrants(acl, caller, permission, ignorePublic)) return { allowed: true, by: 'object ACL' };
  return { allowed: false, reason: 'nothing allows it' };
}
