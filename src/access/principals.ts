/**
 * Who a caller is to S3's access-control language: every identity of the routing table, and
 * root, has a canonical user id (what ACLs name), an ARN (what bucket policies name) and, where
 * the table gives one, an e-mail address (what an ACL grant may name instead of the id).
 * All of them belong to one account, whose id the routing table sets (`accessControl.accountId`).
 */
import { sha256Hex } from '../auth/digests';
import type { Principal } from '../auth/policy';

/** The account s3mux's identities belong to when the routing table names none. */
export const DEFAULT_ACCOUNT_ID = '000000000000';

export interface CallerId {
  /** The principal's name in the routing table, 'root', or 'anonymous'. */
  name: string;
  anonymous: boolean;
  /** 64 hex digits, stable for (account, name): ACLs stored in a store stay valid across restarts. */
  canonicalId: string;
  /** `arn:aws:iam::<account>:user/<name>`; root is the account itself, `arn:aws:iam::<account>:root`. */
  arn: string;
  account: string;
  email?: string;
}

/** Canonical ids already computed: every authorized request asks for its caller's (a hash each). */
const canonicalIds = new Map<string, string>();
/** The routing table names the identities, so few; the bound only guards against surprises. */
const CANONICAL_IDS_MAX = 4096;

export function canonicalIdOf(account: string, name: string): string {
  const key = `${account}:${name}`;
  let id = canonicalIds.get(key);
  if (id === undefined) {
    id = sha256Hex(`s3mux:${key}`);
    if (canonicalIds.size >= CANONICAL_IDS_MAX) canonicalIds.clear();
    canonicalIds.set(key, id);
  }
  return id;
}

export function arnOf(account: string, name: string): string {
  return name === 'root' ? `arn:aws:iam::${account}:root` : `arn:aws:iam::${account}:user/${name}`;
}

export function callerOf(p: Principal, account: string): CallerId {
  if (p.anonymous) {
    return { name: 'anonymous', anonymous: true, canonicalId: '65a011a29cdf8ec533ec3d1ccaae921c', arn: '*', account: '' };
  }
  return {
    name: p.name,
    anonymous: false,
    canonicalId: canonicalIdOf(account, p.name),
    arn: arnOf(account, p.name),
    account,
    email: p.email,
  };
}

/** Every identity the routing table knows, for turning an e-mail grant or a canonical id back into a name. */
export class Directory {
  private readonly byEmail = new Map<string, CallerId>();
  private readonly byId = new Map<string, CallerId>();

  constructor(
    readonly account: string,
    principals: readonly Principal[],
  ) {
    for (const p of principals) {
      const c = callerOf(p, account);
      this.byId.set(c.canonicalId, c);
      if (c.email) this.byEmail.set(c.email.toLowerCase(), c);
    }
  }

  byEmailAddress(email: string): CallerId | undefined {
    return this.byEmail.get(email.trim().toLowerCase());
  }

  displayName(canonicalId: string): string | undefined {
    return this.byId.get(canonicalId)?.name;
  }
}
