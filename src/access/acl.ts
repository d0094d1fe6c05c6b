/**
 * S3 access control lists: who holds which permission on a bucket or an object. Canned ACLs
 * and x-amz-grant-* headers become the same list of grants as an AccessControlPolicy body, and
 * one function says whether a caller's permission follows from a list.
 */
import { S3Error } from '../errors';
import type { CallerId, Directory } from './principals';

export const PERMISSIONS = ['READ', 'WRITE', 'READ_ACP', 'WRITE_ACP', 'FULL_CONTROL'] as const;
export type Permission = (typeof PERMISSIONS)[number];

export const GROUPS = {
  AllUsers: 'http://acs.amazonaws.com/groups/global/AllUsers',
  AuthenticatedUsers: 'http://acs.amazonaws.com/groups/global/AuthenticatedUsers',
  LogDelivery: 'http://acs.amazonaws.com/groups/s3/LogDelivery',
} as const;

/** An e-mail grant is stored as the canonical user it names, as S3 does. */
export type Grantee = { type: 'CanonicalUser'; id: string } | { type: 'Group'; uri: string };

export interface Grant {
  grantee: Grantee;
  permission: Permission;
}

export interface Acl {
  /** The owner's canonical id. */
  owner: string;
  grants: Grant[];
}

export const CANNED_ACLS = [
  'private',
  'public-read',
  'public-read-write',
  'authenticated-read',
  'bucket-owner-read',
  'bucket-owner-full-control',
  'log-delivery-write',
  'aws-exec-read',
] as const;
export type CannedAcl = (typeof CANNED_ACLS)[number];

const user = (id: string, permission: Permission): Grant => ({ grantee: { type: 'CanonicalUser', id }, permission });
const group = (uri: string, permission: Permission): Grant => ({ grantee: { type: 'Group', uri }, permission });

/**
 * The grants a canned ACL stands for. `bucketOwner` matters for the bucket-owner-* ACLs on
 * objects (on a bucket they say no more than `private`).
 */
export function cannedAcl(name: string, owner: string, bucketOwner: string = owner): Acl {
  const full = user(owner, 'FULL_CONTROL');
  const table: Record<CannedAcl, Grant[]> = {
    private: [full],
    'public-read': [full, group(GROUPS.AllUsers, 'READ')],
    'public-read-write': [full, group(GROUPS.AllUsers, 'READ'), group(GROUPS.AllUsers, 'WRITE')],
    'authenticated-read': [full, group(GROUPS.AuthenticatedUsers, 'READ')],
    'bucket-owner-read': bucketOwner === owner ? [full] : [full, user(bucketOwner, 'READ')],
    'bucket-owner-full-control': bucketOwner === owner ? [full] : [full, user(bucketOwner, 'FULL_CONTROL')],
    'log-delivery-write': [full, group(GROUPS.LogDelivery, 'WRITE'), group(GROUPS.LogDelivery, 'READ_ACP')],
    // EC2 reads AMI bundles: no such service here, so it grants nobody else.
    'aws-exec-read': [full],
  };
  const grants = (table as Record<string, Grant[] | undefined>)[name.trim()];
  if (!grants) throw new S3Error('InvalidArgument', undefined, { ArgumentName: 'x-amz-acl', ArgumentValue: name.slice(0, 64) });
  return { owner, grants };
}

export const GRANT_HEADERS: ReadonlyArray<[header: string, permission: Permission]> = [
  ['x-amz-grant-read', 'READ'],
  ['x-amz-grant-write', 'WRITE'],
  ['x-amz-grant-read-acp', 'READ_ACP'],
  ['x-amz-grant-write-acp', 'WRITE_ACP'],
  ['x-amz-grant-full-control', 'FULL_CONTROL'],
];

/** The shape of a canonical user id: S3 refuses any other with "Invalid id". */
export function checkCanonicalId(id: string, argumentName = 'CanonicalUser/ID'): void {
  if (!/^[0-9a-f]{64}$/.test(id))
    throw new S3Error('InvalidArgument', 'Invalid id', { ArgumentName: argumentName, ArgumentValue: id.slice(0, 80) });
}

/**
 * A grantee as a client names it: by canonical id, by e-mail address, or a group's URI. An
 * invalid id or URI is refused naming where it was given: `CanonicalUser/ID` or `Group/URI`
 * in an AccessControlPolicy, the grant's own key (`id`, `uri`) in an x-amz-grant-* header,
 * as S3 names them.
 */
export function resolveGrantee(kind: string, value: string, dir: Directory, headerKey?: string): Grantee {
  const v = value.trim();
  switch (kind.trim().toLowerCase()) {
    case 'id':
    case 'canonicaluser':
      checkCanonicalId(v, headerKey ?? 'CanonicalUser/ID');
      return { type: 'CanonicalUser', id: v };
    case 'emailaddress':
    case 'amazoncustomerbyemail': {
      const who = dir.byEmailAddress(v);
      if (!who) throw new S3Error('UnresolvableGrantByEmailAddress');
      return { type: 'CanonicalUser', id: who.canonicalId };
    }
    case 'uri':
    case 'group':
      if (!(Object.values(GROUPS) as string[]).includes(v)) {
        throw new S3Error('InvalidArgument', 'Invalid group uri', {
          ArgumentName: headerKey ?? 'Group/URI',
          ArgumentValue: v.slice(0, 80),
        });
      }
      return { type: 'Group', uri: v };
    default:
      throw new S3Error('InvalidArgument', `Unknown grantee type '${kind.trim().slice(0, 32)}'`);
  }
}

/** The keys an x-amz-grant-* header names grantees by. */
const HEADER_GRANTEE_KEYS = new Set(['id', 'emailaddress', 'uri']);

/**
 * The grants of x-amz-grant-* headers (`id="...", emailAddress="...", uri="..."` lists), or
 * undefined when the request carries none.
 */
export function grantsFromHeaders(header: (name: string) => string | undefined, dir: Directory): Grant[] | undefined {
  let grants: Grant[] | undefined;
  for (const [name, permission] of GRANT_HEADERS) {
    const value = header(name);
    if (value === undefined) continue;
    grants ??= [];
    for (const item of splitGrantList(value)) {
      const m = /^\s*([A-Za-z]+)\s*=\s*"?([^"]*)"?\s*$/.exec(item);
      if (!m || !HEADER_GRANTEE_KEYS.has(m[1].toLowerCase()))
        throw new S3Error('InvalidArgument', 'Argument format not recognized', {
          ArgumentName: name,
          ArgumentValue: item.trim().slice(0, 128),
        });
      grants.push({ grantee: resolveGrantee(m[1], m[2], dir, m[1]), permission });
    }
  }
  return grants;
}

/** Commas inside quotes (an e-mail address cannot hold one, a URI could) do not split. */
function splitGrantList(value: string): string[] {
  const out: string[] = [];
  let cur = '';
  let quoted = false;
  for (const ch of value) {
    if (ch === '"') quoted = !quoted;
    if (ch === ',' && !quoted) {
      out.push(cur);
      cur = '';
    } else cur += ch;
  }
  if (cur.trim() !== '') out.push(cur);
  return out;
}

/** The grants a request sets (a canned ACL or grant headers, never both), or undefined when it sets none. */
export function requestedAcl(
  header: (name: string) => string | undefined,
  dir: Directory,
  owner: string,
  bucketOwner: string,
): { acl: Acl; canned?: string } | undefined {
  const canned = header('x-amz-acl');
  const grants = grantsFromHeaders(header, dir);
  if (canned !== undefined && grants !== undefined) {
    throw new S3Error('InvalidRequest', 'Specifying both Canned ACLs and Header Grants is not allowed');
  }
  if (canned !== undefined) return { acl: cannedAcl(canned, owner, bucketOwner), canned: canned.trim() };
  if (grants !== undefined) return { acl: { owner, grants } };
  return undefined;
}

/** Whether the list gives `who` the permission (FULL_CONTROL holds every one). Public grants are skipped when `ignorePublic`. */
export function aclGrants(acl: Acl, who: CallerId, permission: Permission, ignorePublic = false): boolean {
  return acl.grants.some((g) => {
    if (g.permission !== permission && g.permission !== 'FULL_CONTROL') return false;
    if (g.grantee.type === 'CanonicalUser') return !who.anonymous && g.grantee.id === who.canonicalId;
    if (ignorePublic) return false;
    if (g.grantee.uri === GROUPS.AllUsers) return true;
    return g.grantee.uri === GROUPS.AuthenticatedUsers && !who.anonymous;
  });
}

/** An ACL that grants anything to AllUsers or AuthenticatedUsers is public (what BlockPublicAcls refuses). */
export function isPublicAcl(acl: Acl): boolean {
  return acl.grants.some((g) => g.grantee.type === 'Group' && g.grantee.uri !== GROUPS.LogDelivery);
}

/** Only the owner holds anything: what BucketOwnerEnforced still accepts. */
export function isOwnerOnly(acl: Acl, bucketOwner: string): boolean {
  return acl.grants.every((g) => g.grantee.type === 'CanonicalUser' && g.grantee.id === bucketOwner && g.permission === 'FULL_CONTROL');
}
