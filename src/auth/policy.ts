/**
 * Who may do what: each identity has a list of rules naming virtual buckets (names or
 * globs) and the actions allowed there. Every S3 operation maps to one action in the
 * operation table, and the dispatcher asks here before the handler runs.
 */

export const ACTIONS = ['read', 'write', 'list', 'delete', 'createBucket', 'deleteBucket'] as const;
export type Action = (typeof ACTIONS)[number];

export interface PolicyRule {
  /** Bucket names or globs (`*` any run of characters, `?` one character). */
  buckets: string[];
  allow: Action[];
}

export interface Principal {
  /** The identity's name in the routing table, 'root', or 'anonymous'. */
  name: string;
  /** Root (and admins) may do everything. */
  admin: boolean;
  rules: PolicyRule[];
  /** The caller that signed nothing. */
  anonymous?: true;
  /** What an ACL grant by e-mail address names (x-amz-grant-*: emailAddress=...). */
  email?: string;
}

export const ROOT: Principal = { name: 'root', admin: true, rules: [] };
export const ANONYMOUS: Principal = { name: 'anonymous', admin: false, rules: [], anonymous: true };

const globCache = new Map<string, RegExp>();

export function globMatches(glob: string, name: string): boolean {
  let re = globCache.get(glob);
  if (!re) {
    const body = glob
      .replace(/[.+^${}()|[\]\\]/g, '\\$&')
      .replace(/\*/g, '.*')
      .replace(/\?/g, '.');
    re = new RegExp(`^${body}$`);
    globCache.set(glob, re);
  }
  return re.test(name);
}

export function isAllowed(p: Principal, action: Action, bucket: string): boolean {
  if (p.admin) return true;
  return p.rules.some((r) => r.allow.includes(action) && r.buckets.some((g) => globMatches(g, bucket)));
}

/** Whether the bucket shows up in the principal's ListBuckets. */
export function canSeeBucket(p: Principal, bucket: string): boolean {
  return p.admin || p.rules.some((r) => r.allow.length > 0 && r.buckets.some((g) => globMatches(g, bucket)));
}
