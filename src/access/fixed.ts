/**
 * What a routing table says about access control: the account and new buckets' object
 * ownership (`accessControl:`), and per route the parts of a bucket's access control the table
 * fixes (`policy:`, `acl:`, `publicAccessBlock:`, `objectOwnership:`), which the S3 API then
 * cannot change.
 */
import { S3Error } from '../errors';
import { parseBucketPolicy } from './bucket-policy';
import { DEFAULT_ACCOUNT_ID } from './principals';
import type { Ownership, PublicAccessBlock } from './decide';

export interface FixedAccess {
  /** The policy's JSON text. */
  policy?: string;
  /** A canned ACL. */
  acl?: string;
  publicAccessBlock?: PublicAccessBlock;
  objectOwnership?: Ownership;
}

/**
 * s3mux's default for new buckets: ACLs disabled, as S3 creates buckets since April 2023. A
 * client that asks for a public ACL gets AccessControlListNotSupported rather than an object
 * silently left private; tables for older tools set `accessControl.objectOwnership: ObjectWriter`.
 */
export const DEFAULT_OBJECT_OWNERSHIP: Ownership = 'BucketOwnerEnforced';

export function accessControlSettings(raw: Record<string, unknown>): { accountId: string; objectOwnership: Ownership } {
  return {
    accountId: typeof raw.accountId === 'string' ? raw.accountId : DEFAULT_ACCOUNT_ID,
    objectOwnership: (raw.objectOwnership as Ownership | undefined) ?? DEFAULT_OBJECT_OWNERSHIP,
  };
}

interface RouteFields {
  policy?: string | Record<string, unknown>;
  acl?: string;
  publicAccessBlock?: Partial<PublicAccessBlock>;
  objectOwnership?: Ownership;
}

/** A route's fixed access control (validated: a bad policy is reported with S3's reason), or undefined when it fixes none. */
export function fixedAccessOf(fields: RouteFields, bucket: string, report: (reason: string) => void): FixedAccess | undefined {
  const out: FixedAccess = {};
  if (fields.policy !== undefined) {
    const text = typeof fields.policy === 'string' ? fields.policy : JSON.stringify(fields.policy);
    try {
      parseBucketPolicy(text, bucket);
      out.policy = text;
    } catch (err) {
      if (!(err instanceof S3Error)) throw err;
      report(err.message);
    }
  }
  if (fields.acl !== undefined) out.acl = fields.acl;
  if (fields.publicAccessBlock !== undefined) {
    const b = fields.publicAccessBlock;
    out.publicAccessBlock = {
      BlockPublicAcls: b.BlockPublicAcls ?? false,
      IgnorePublicAcls: b.IgnorePublicAcls ?? false,
      BlockPublicPolicy: b.BlockPublicPolicy ?? false,
      RestrictPublicBuckets: b.RestrictPublicBuckets ?? false,
    };
  }
  if (fields.objectOwnership !== undefined) out.objectOwnership = fields.objectOwnership;
  return Object.keys(out).length ? out : undefined;
}
