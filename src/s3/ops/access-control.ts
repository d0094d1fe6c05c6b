/**
 * The access-control sub-resources: `acl` (buckets and objects), `policy`, `policyStatus`,
 * `ownershipControls` and `publicAccessBlock`. Their state is the bucket's access document
 * (src/s3/access.ts); what the routing table fixes for a route cannot be changed here.
 */
import { S3Error } from '../../errors';
import {
  cannedAcl,
  isOwnerOnly,
  isPublicAcl,
  PERMISSIONS,
  requestedAcl,
  resolveGrantee,
  checkCanonicalId,
  type Acl,
  type Grant,
  type Permission,
} from '../../access/acl';
import { isPublicPolicy, parseBucketPolicy } from '../../access/bucket-policy';
import { OWNERSHIPS, PAB_SETTINGS, type BucketAccess, type Ownership, type PublicAccessBlock } from '../../access/decide';
import type { FixedAccess } from '../../access/fixed';
import { VersionedObjects, type VersionedMeta } from '../../versioning/objects';
import { bucketConfig } from '../../bucket-config/store';
import type { BucketView } from '../../router/bucket-view';
import {
  ACCESS_DOC,
  bucketAccess,
  callerOfCtx,
  defaultOwnership,
  directoryOf,
  aclOfVersion,
  setObjectAcl,
  type StoredAccess,
} from '../access';
import type { Handler, S3Context } from '../context';
import { readUtf8Body, readXmlBody } from '../payload';
import { xmlResponse } from '../respond';
import { requestedVersion, versionHeader } from './objects';
import { children, element, many, parseXml, text } from '../xml';

async function accessOf(ctx: S3Context, view: BucketView): Promise<BucketAccess> {
  await view.exists();
  const access = await bucketAccess(ctx, view);
  if (!access) throw new S3Error('NoSuchBucket');
  return access;
}

/** Refuses to change what the routing table fixes for the route. */
function notFixed(view: BucketView, part: keyof FixedAccess, what: string): void {
  if (view.route.fixed?.[part] !== undefined) {
    throw new S3Error('AccessDenied', `The routing table owns the ${what} of bucket ${view.name}; change it there.`);
  }
}

/** Read-modify-write of the bucket's access document. */
async function updateAccess(view: BucketView, fn: (cur: StoredAccess) => StoredAccess): Promise<void> {
  await bucketConfig.update<StoredAccess>(view, ACCESS_DOC, (cur) => fn(cur ?? {}));
}

// -- ACLs

function aclXml(ctx: S3Context, acl: Acl) {
  const dir = directoryOf(ctx);
  const person = (id: string) => ({ ID: id, DisplayName: dir.displayName(id) ?? undefined });
  return {
    Owner: person(acl.owner),
    AccessControlList: {
      Grant: acl.grants.map((g) => ({
        Grantee:
          g.grantee.type === 'CanonicalUser'
            ? { '@_xmlns:xsi': 'http://www.w3.org/2001/XMLSchema-instance', '@_xsi:type': 'CanonicalUser', ...person(g.grantee.id) }
            : { '@_xmlns:xsi': 'http://www.w3.org/2001/XMLSchema-instance', '@_xsi:type': 'Group', URI: g.grantee.uri },
        Permission: g.permission,
      })),
    },
  };
}

/** The grantee types of the schema: xsi:type names one of them, or the document does not validate. */
const GRANTEE_TYPES = new Set(['CanonicalUser', 'AmazonCustomerByEmail', 'Group']);

/**
 * An AccessControlPolicy body: its owner must be the resource's owner, its grantees known. S3
 * checks the document against its schema (grantee types included) before the ids in it.
 */
function aclFromXml(ctx: S3Context, body: string, owner: string): Acl {
  const doc = element(parseXml(body), 'AccessControlPolicy', ['Owner', 'AccessControlList']);
  if (!doc) throw new S3Error('MalformedACLError');
  // The parser drops attributes: the grantees' xsi:type are read from the text.
  for (const m of body.matchAll(/<(?:\w+:)?Grantee\b[^>]*?\s(?:\w+:)?type\s*=\s*["']([^"']*)["']/g)) {
    if (!GRANTEE_TYPES.has(m[1])) throw new S3Error('MalformedACLError');
  }
  const ownerId = text(children(doc.Owner, ['ID', 'DisplayName']).ID);
  if (ownerId === undefined) throw new S3Error('MalformedACLError');
  checkCanonicalId(ownerId.trim());
  if (ownerId.trim() !== owner) throw new S3Error('AccessDenied', 'The Owner of an access control policy cannot be changed.');
  const list = children(doc.AccessControlList, ['Grant']);
  const dir = directoryOf(ctx);
  const grants: Grant[] = many(list.Grant).map((g) => {
    const grant = children(g, ['Grantee', 'Permission']);
    const permission = text(grant.Permission) as Permission | undefined;
    if (!permission || !PERMISSIONS.includes(permission)) throw new S3Error('MalformedACLError');
    const who = children(grant.Grantee, ['ID', 'DisplayName', 'EmailAddress', 'URI']);
    const [kind, value] =
      who.ID !== undefined
        ? ['id', text(who.ID)]
        : who.EmailAddress !== undefined
          ? ['emailAddress', text(who.EmailAddress)]
          : ['uri', text(who.URI)];
    if (value === undefined) throw new S3Error('MalformedACLError');
    return { grantee: resolveGrantee(kind, value, dir), permission };
  });
  return { owner, grants };
}

/** The ACL a PutBucketAcl / PutObjectAcl sets: canned, grant headers, or a body (exactly one of them). */
async function aclToSet(ctx: S3Context, owner: string, bucketOwner: string): Promise<Acl> {
  const fromHeaders = requestedAcl((n) => ctx.header(n), directoryOf(ctx), owner, bucketOwner);
  const body = await readXmlBody(ctx, 64 * 1024);
  if (fromHeaders && body.trim() !== '') throw new S3Error('UnexpectedContent');
  if (fromHeaders) return fromHeaders.acl;
  if (body.trim() === '')
    throw new S3Error('MissingSecurityHeader', 'Your request was missing a required header', { MissingHeaderName: 'x-amz-acl' });
  return aclFromXml(ctx, body, owner);
}

function checkAclAllowed(access: BucketAccess, acl: Acl): void {
  if (access.ownership === 'BucketOwnerEnforced' && !isOwnerOnly(acl, access.owner)) throw new S3Error('AccessControlListNotSupported');
  if (access.publicAccessBlock?.BlockPublicAcls && isPublicAcl(acl)) {
    throw new S3Error('AccessDenied', "The bucket's public access block (BlockPublicAcls) refuses public ACLs.");
  }
}

export const getBucketAcl: Handler = async (ctx) => {
  const access = await accessOf(ctx, ctx.bucket());
  const acl = access.ownership === 'BucketOwnerEnforced' ? cannedAcl('private', access.owner) : access.acl;
  return xmlResponse('AccessControlPolicy', aclXml(ctx, acl));
};

export const putBucketAcl: Handler = async (ctx) => {
  const view = ctx.bucket();
  view.assertWritable();
  const access = await accessOf(ctx, view);
  notFixed(view, 'acl', 'ACL');
  const acl = await aclToSet(ctx, access.owner, access.owner);
  checkAclAllowed(access, acl);
  await updateAccess(view, (cur) => ({ ...cur, grants: acl.grants }));
  return { status: 200 };
};

/**
 * The ACL of the version the request names (the latest without a version id), which must
 * exist: the one recorded for it, or the default (the bucket owner holds FULL_CONTROL).
 */
async function objectAclOf(ctx: S3Context, view: BucketView, access: BucketAccess): Promise<{ acl: Acl; meta: VersionedMeta }> {
  const meta = await (await VersionedObjects.of(view)).head(ctx.key, requestedVersion(ctx));
  const stored = access.ownership === 'BucketOwnerEnforced' ? undefined : await aclOfVersion(view, meta);
  return { acl: stored ?? cannedAcl('private', access.owner), meta };
}

export const getObjectAcl: Handler = async (ctx) => {
  const view = ctx.bucket();
  const access = await accessOf(ctx, view);
  const { acl, meta } = await objectAclOf(ctx, view, access);
  return xmlResponse('AccessControlPolicy', aclXml(ctx, acl), 200, versionHeader(meta));
};

/**
 * PutObjectAcl on a key whose latest version is a delete marker: S3 answers 405 MethodNotAllowed
 * (ResourceType DeleteMarker), where GetObjectAcl answers 404 NoSuchKey.
 */
function refusedOnMarker(err: unknown): unknown {
  if (!(err instanceof S3Error) || err.code !== 'NoSuchKey' || err.headers?.['x-amz-delete-marker'] !== 'true') return err;
  const refusal = new S3Error('MethodNotAllowed', undefined, { ResourceType: 'DeleteMarker' });
  refusal.headers = err.headers;
  return refusal;
}

export const putObjectAcl: Handler = async (ctx) => {
  const view = ctx.bucket();
  view.assertWritable();
  const access = await accessOf(ctx, view);
  const { acl: current, meta } = await objectAclOf(ctx, view, access).catch((err: unknown) => {
    throw refusedOnMarker(err);
  });
  const acl = await aclToSet(ctx, current.owner, access.owner);
  checkAclAllowed(access, acl);
  // Tied to the version read above: should a write replace it meanwhile, this ACL applies to nothing.
  await setObjectAcl(view, ctx.key, meta, acl.owner === access.owner && isOwnerOnly(acl, access.owner) ? undefined : acl);
  return { status: 200, headers: versionHeader(meta) };
};

// -- policies

export const getBucketPolicy: Handler = async (ctx) => {
  const view = ctx.bucket();
  await view.exists();
  const text = view.route.fixed?.policy ?? (await bucketAccessStored(ctx, view)).policy;
  if (text === undefined) throw new S3Error('NoSuchBucketPolicy', undefined, { BucketName: view.name });
  return { status: 200, headers: { 'Content-Type': 'application/json' }, body: text };
};

async function bucketAccessStored(ctx: S3Context, view: BucketView): Promise<StoredAccess> {
  if (!view.backend.reserved) return {};
  return (await bucketConfig.get<StoredAccess>(view, ACCESS_DOC)) ?? {};
}

export const putBucketPolicy: Handler = async (ctx) => {
  const view = ctx.bucket();
  view.assertWritable();
  const access = await accessOf(ctx, view);
  notFixed(view, 'policy', 'bucket policy');
  // JSON is UTF-8: other bytes would be stored (and matched) as U+FFFD, another policy than the one sent.
  const text = await readUtf8Body(ctx, 20 * 1024 + 1, () => new S3Error('MalformedPolicy', 'This policy contains invalid Json'));
  const policy = parseBucketPolicy(text, view.name);
  if (access.publicAccessBlock?.BlockPublicPolicy && isPublicPolicy(policy)) {
    throw new S3Error('AccessDenied', "The bucket's public access block (BlockPublicPolicy) refuses a public policy.");
  }
  await updateAccess(view, (cur) => ({ ...cur, policy: text }));
  return { status: 204 };
};

export const deleteBucketPolicy: Handler = async (ctx) => {
  const view = ctx.bucket();
  view.assertWritable();
  await accessOf(ctx, view);
  notFixed(view, 'policy', 'bucket policy');
  await updateAccess(view, ({ policy: _, ...rest }) => rest);
  return { status: 204 };
};

export const getBucketPolicyStatus: Handler = async (ctx) => {
  const access = await accessOf(ctx, ctx.bucket());
  if (!access.policy) throw new S3Error('NoSuchBucketPolicy', undefined, { BucketName: ctx.bucketName });
  return xmlResponse('PolicyStatus', { IsPublic: isPublicPolicy(access.policy) });
};

// -- ownership controls

export const getOwnershipControls: Handler = async (ctx) => {
  const view = ctx.bucket();
  const access = await accessOf(ctx, view);
  const stored = await bucketAccessStored(ctx, view);
  // A bucket has an ownership from its creation; S3 answers the error once DeleteBucketOwnershipControls
  // removed it, and for buckets made before ownership controls existed.
  const none = stored.ownership === null || (stored.ownership === undefined && stored.owner === undefined && !view.backend.reserved);
  if (view.route.fixed?.objectOwnership === undefined && none) {
    throw new S3Error('OwnershipControlsNotFoundError', undefined, { BucketName: view.name });
  }
  return xmlResponse('OwnershipControls', { Rule: { ObjectOwnership: access.ownership } });
};

function ownershipFromXml(body: string): Ownership {
  const doc = element(parseXml(body), 'OwnershipControls', ['Rule']);
  const rules = many(doc?.Rule);
  if (rules.length !== 1) throw new S3Error('MalformedXML');
  const value = text(children(rules[0], ['ObjectOwnership']).ObjectOwnership);
  if (!value || !(OWNERSHIPS as readonly string[]).includes(value)) throw new S3Error('MalformedXML');
  return value as Ownership;
}

export const putOwnershipControls: Handler = async (ctx) => {
  const view = ctx.bucket();
  view.assertWritable();
  const access = await accessOf(ctx, view);
  notFixed(view, 'objectOwnership', 'object ownership');
  const ownership = ownershipFromXml(await readXmlBody(ctx, 64 * 1024));
  // S3 refuses to disable ACLs while the bucket's ACL still grants someone else.
  if (ownership === 'BucketOwnerEnforced' && !isOwnerOnly(access.acl, access.owner))
    throw new S3Error('InvalidBucketAclWithObjectOwnership');
  await updateAccess(view, (cur) => ({ ...cur, ownership }));
  return { status: 200 };
};

export const deleteOwnershipControls: Handler = async (ctx) => {
  const view = ctx.bucket();
  view.assertWritable();
  await accessOf(ctx, view);
  notFixed(view, 'objectOwnership', 'object ownership');
  // Without ownership controls, S3 buckets behave as ObjectWriter, and GetBucketOwnershipControls says there are none.
  await updateAccess(view, (cur) => ({ ...cur, ownership: null }));
  return { status: 204 };
};

// -- public access block

export const getPublicAccessBlock: Handler = async (ctx) => {
  const access = await accessOf(ctx, ctx.bucket());
  if (!access.publicAccessBlock) throw new S3Error('NoSuchPublicAccessBlockConfiguration', undefined, { BucketName: ctx.bucketName });
  return xmlResponse('PublicAccessBlockConfiguration', { ...access.publicAccessBlock });
};

export const putPublicAccessBlock: Handler = async (ctx) => {
  const view = ctx.bucket();
  view.assertWritable();
  await accessOf(ctx, view);
  notFixed(view, 'publicAccessBlock', 'public access block');
  const doc = element(parseXml(await readXmlBody(ctx, 64 * 1024)), 'PublicAccessBlockConfiguration', [...PAB_SETTINGS]);
  if (!doc) throw new S3Error('MalformedXML');
  const pab = {} as PublicAccessBlock;
  for (const k of PAB_SETTINGS) {
    const v = text(doc[k])?.trim().toLowerCase();
    if (v !== undefined && v !== 'true' && v !== 'false') throw new S3Error('MalformedXML');
    pab[k] = v === 'true';
  }
  await updateAccess(view, (cur) => ({ ...cur, publicAccessBlock: pab }));
  return { status: 200 };
};

export const deletePublicAccessBlock: Handler = async (ctx) => {
  const view = ctx.bucket();
  view.assertWritable();
  await accessOf(ctx, view);
  notFixed(view, 'publicAccessBlock', 'public access block');
  await updateAccess(view, ({ publicAccessBlock: _, ...rest }) => rest);
  return { status: 204 };
};

/** What CreateBucket records: its creator owns it, with the ACL and ownership it asked for (checked before the bucket is made). */
/** `existing`: the ownership of the bucket a CreateBucket finds already there (buckets.ts), which its ACL is held to. */
export function newBucketAccess(ctx: S3Context, view: BucketView, existing?: Ownership): StoredAccess {
  const caller = callerOfCtx(ctx);
  const ownershipHeader = ctx.header('x-amz-object-ownership')?.trim();
  if (ownershipHeader !== undefined && !(OWNERSHIPS as readonly string[]).includes(ownershipHeader)) {
    // S3 quotes the value in its message and names only the header.
    throw new S3Error('InvalidArgument', `Invalid x-amz-object-ownership header: ${ownershipHeader.slice(0, 64)}`, {
      ArgumentName: 'x-amz-object-ownership',
    });
  }
  const ownership = view.route.fixed?.objectOwnership ?? existing ?? (ownershipHeader as Ownership | undefined) ?? defaultOwnership(ctx);
  const asked = requestedAcl((n) => ctx.header(n), directoryOf(ctx), caller.canonicalId, caller.canonicalId);
  const ownerOnly = !asked || isOwnerOnly(asked.acl, caller.canonicalId);
  if (!ownerOnly && ownership === 'BucketOwnerEnforced') throw new S3Error('InvalidBucketAclWithObjectOwnership');
  if (!ownerOnly && !view.backend.reserved)
    throw new S3Error('NotImplemented', `The ${view.backend.kind} backend cannot hold bucket ACLs.`);
  return { owner: caller.canonicalId, ownership, ...(asked && !ownerOnly ? { grants: asked.acl.grants } : {}) };
}

export async function recordNewBucket(view: BucketView, doc: StoredAccess): Promise<void> {
  if (view.backend.reserved) await bucketConfig.set(view, ACCESS_DOC, doc);
}

/** CreateBucket of a bucket the caller owns, in us-east-1 (buckets.ts): its ACL becomes the one asked for, the rest stays. */
export async function resetBucketAcl(view: BucketView, doc: StoredAccess): Promise<void> {
  if (view.backend.reserved && view.route.fixed?.acl === undefined) await updateAccess(view, (cur) => ({ ...cur, grants: doc.grants }));
}
