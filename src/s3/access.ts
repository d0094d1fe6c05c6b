/**
 * The S3 layer's side of access control: it reads a bucket's access-control state (stored in
 * the bucket's reserved area, merged with what the routing table fixes), an object's ACL, and
 * the request's condition keys, and asks src/access/decide.ts. Handlers that create buckets
 * and objects record their owner and ACL here.
 */
import type { TLSSocket } from 'node:tls';
import { S3Error } from '../errors';
import { cannedAcl, isOwnerOnly, isPublicAcl, requestedAcl, type Acl, type Grant } from '../access/acl';
import { parseBucketPolicy, usesExistingObjectTags, type BucketPolicy, type RequestFacts } from '../access/bucket-policy';
import { decide, type BucketAccess, type Ownership, type PublicAccessBlock } from '../access/decide';
import { DEFAULT_OBJECT_OWNERSHIP } from '../access/fixed';
import { callerOf, canonicalIdOf, DEFAULT_ACCOUNT_ID, Directory, type CallerId } from '../access/principals';
import { readReservedBody, reservedSegment } from '../backends/reserved-store';
import { bucketConfig } from '../bucket-config/store';
import type { BucketView } from '../router/bucket-view';
import type { Action } from '../auth/policy';
import { ROOT } from '../auth/policy';
import type { IncomingMessage } from 'node:http';
import type { Router } from '../router/router';
import type { AuthResult } from '../auth/sigv4';
import type { Principal } from '../auth/policy';
import type { Target } from './addressing';
import { VersionedObjects } from '../versioning/objects';
import { UploadStash } from './upload-stash';
import { NULL_VERSION } from '../versioning/version-id';

/** What access control reads of a request (an S3Context is one). */
export interface AccessRequest {
  readonly req: IncomingMessage;
  readonly target: Target;
  readonly auth: AuthResult;
  readonly principal: Principal;
  readonly services: { readonly router: Router };
  readonly query: URLSearchParams;
  readonly method: string;
  header(name: string): string | undefined;
}

/** The bucket configuration document that holds the access-control state. */
export const ACCESS_DOC = 'access';

/** As stored: what the S3 API set. Absent fields take their defaults. */
export interface StoredAccess {
  owner?: string;
  grants?: Grant[];
  policy?: string;
  /** null: DeleteBucketOwnershipControls removed the bucket's controls (S3 then applies ObjectWriter). */
  ownership?: Ownership | null;
  publicAccessBlock?: PublicAccessBlock;
  /** Some object in the bucket has had an ACL other than the default: deletes and overwrites look for stale documents. */
  objectAcls?: boolean;
}

export function accountOf(ctx: AccessRequest): string {
  return ctx.services.router.table.accessControl?.accountId ?? DEFAULT_ACCOUNT_ID;
}

export function defaultOwnership(ctx: AccessRequest): Ownership {
  return ctx.services.router.table.accessControl?.objectOwnership ?? DEFAULT_OBJECT_OWNERSHIP;
}

export function callerOfCtx(ctx: AccessRequest): CallerId {
  return callerOf(ctx.principal, accountOf(ctx));
}

export function rootCanonicalId(ctx: AccessRequest): string {
  return canonicalIdOf(accountOf(ctx), ROOT.name);
}

export function directoryOf(ctx: AccessRequest): Directory {
  const ids = ctx.services.router.table.identities ?? [];
  return new Directory(accountOf(ctx), [ROOT, ...ids.map((i) => ({ name: i.name, admin: i.admin, rules: i.rules, email: i.email }))]);
}

/** The stored document, or undefined when the bucket has none or its store cannot hold one. */
export async function storedAccess(view: BucketView): Promise<StoredAccess | undefined> {
  if (!view.backend.reserved) return undefined;
  // Every authorized request asks: a fresh cached document is taken without a store read or promise chain.
  const cached = bucketConfig.peek<StoredAccess>(view, ACCESS_DOC);
  return cached.found ? cached.value : bucketConfig.get<StoredAccess>(view, ACCESS_DOC);
}

const policyCache = new Map<string, BucketPolicy>();
function parsedPolicy(text: string, bucket: string): BucketPolicy {
  const key = `${bucket}\0${text}`;
  let p = policyCache.get(key);
  if (!p) {
    // Taken by PutBucketPolicy or the routing table, which check it; one stored before S3's checks still counts as written.
    p = parseBucketPolicy(text, bucket, { check: false });
    if (policyCache.size > 500) policyCache.clear();
    policyCache.set(key, p);
  }
  return p;
}

/** The bucket's effective state: what is stored, overridden by what the routing table fixes. */
export function effectiveAccess(ctx: AccessRequest, view: BucketView, stored: StoredAccess | undefined): BucketAccess {
  const fixed = view.route.fixed;
  const owner = stored?.owner ?? rootCanonicalId(ctx);
  const acl: Acl = fixed?.acl ? cannedAcl(fixed.acl, owner) : { owner, grants: stored?.grants ?? cannedAcl('private', owner).grants };
  const policyText = fixed?.policy ?? stored?.policy;
  return {
    owner,
    acl,
    policy: policyText === undefined ? undefined : parsedPolicy(policyText, view.name),
    ownership: fixed?.objectOwnership ?? (stored?.ownership === null ? 'ObjectWriter' : stored?.ownership) ?? defaultOwnership(ctx),
    publicAccessBlock: fixed?.publicAccessBlock ?? stored?.publicAccessBlock,
  };
}

/** Loads the bucket's state; undefined when the bucket does not exist (yet). */
export async function bucketAccess(ctx: AccessRequest, view: BucketView): Promise<BucketAccess | undefined> {
  try {
    return effectiveAccess(ctx, view, await storedAccess(view));
  } catch (err) {
    if (err instanceof S3Error && err.code === 'NoSuchBucket') return undefined;
    throw err;
  }
}

// -- object ACLs: one reserved document per object version whose ACL is not the default (see docs/DESIGN.md).
//
// A document is tied to the write it belongs to (the version's ETag and Last-Modified as reads
// report them) and counts only while that write is the version at its name. So a write with the
// default ACL, and a delete, touch no document: one left behind by an earlier write no longer
// matches and is garbage, collected when convenient but never needed for a correct answer.

const OBJECT_ACL_AREA = 'object ACLs';
const objectAclName = (key: string, versionId: string | undefined) =>
  `object-acl/${reservedSegment(key)}/${reservedSegment(versionId ?? NULL_VERSION)}`;

/** The object write an ACL belongs to, as a read (head) of that version reports it. */
export interface ObjectWrite {
  etag: string;
  lastModified: Date;
  /** Undefined in a bucket never versioned: that object is the key's null version. */
  versionId?: string;
}

interface ObjectAclDocument {
  acl: Acl;
  etag: string;
  lastModified: number;
}

/** What a read of a version that is not there answers (a delete marker: MethodNotAllowed). */
const GONE = new Set(['NoSuchKey', 'NoSuchVersion', 'MethodNotAllowed']);

const tiedTo = (doc: ObjectAclDocument, object: ObjectWrite) =>
  doc.etag === object.etag && doc.lastModified === object.lastModified.getTime();

async function readAclDocument(view: BucketView, name: string): Promise<{ doc: ObjectAclDocument; etag: string } | undefined> {
  const stored = await view.reservedArea(OBJECT_ACL_AREA).get(name);
  if (!stored) return undefined;
  return { doc: JSON.parse((await readReservedBody(stored)).toString('utf8')) as ObjectAclDocument, etag: stored.entry.etag };
}

/** The ACL recorded for this object version; undefined (the default: the bucket owner's FULL_CONTROL) when none belongs to it. */
export async function aclOfVersion(view: BucketView, object: ObjectWrite & { key: string }): Promise<Acl | undefined> {
  if (!view.backend.reserved) return undefined;
  const found = await readAclDocument(view, objectAclName(object.key, object.versionId));
  return found && tiedTo(found.doc, object) ? found.doc.acl : undefined;
}

/** The ACL of the version a request names (the latest without a version id); undefined when it has none or does not exist. */
export async function readObjectAcl(view: BucketView, key: string, versionId?: string): Promise<Acl | undefined> {
  if (!view.backend.reserved) return undefined;
  let object: ObjectWrite;
  try {
    object = await (await VersionedObjects.of(view)).head(key, versionId);
  } catch (err) {
    if (err instanceof S3Error) return undefined;
    throw err;
  }
  return aclOfVersion(view, { key, ...object });
}

/**
 * Records the ACL a write asked for, tied to that write (`written`, what the write returned).
 * Nothing for the default ACL. Throws when the document cannot be stored: the object then
 * reads as owner-only, never as more open than asked.
 */
export async function recordObjectAcl(view: BucketView, key: string, acl: Acl | undefined, written: ObjectWrite): Promise<void> {
  if (!acl) {
    // A new version of a versioned bucket has an id of its own, with no document yet.
    if (written.versionId === undefined || written.versionId === NULL_VERSION) await collectObjectAcl(view, key, written.versionId);
    return;
  }
  let object = written;
  if (written.versionId === undefined) {
    // Unversioned: what a store answers a write can differ from what its reads report (a Date
    // header for Last-Modified), so tie the ACL to what a read sees.
    const now = await view.headObject(key);
    // Another write replaced the object meanwhile: this ACL belongs to nothing that exists.
    if (now.etag !== written.etag) return;
    object = now;
  }
  await setObjectAcl(view, key, object, acl);
}

/** Replaces the ACL of one object version (PutObjectAcl); undefined restores the default. */
export async function setObjectAcl(view: BucketView, key: string, object: ObjectWrite, acl: Acl | undefined): Promise<void> {
  if (!view.backend.reserved) {
    if (acl) throw new S3Error('NotImplemented', `The ${view.backend.kind} backend cannot hold object ACLs.`);
    return;
  }
  const area = view.reservedArea(OBJECT_ACL_AREA);
  const name = objectAclName(key, object.versionId);
  if (!acl) {
    await area.delete(name);
    return;
  }
  const doc: ObjectAclDocument = { acl, etag: object.etag, lastModified: object.lastModified.getTime() };
  await area.put(name, Buffer.from(JSON.stringify(doc), 'utf8'));
  if (!(await storedAccess(view))?.objectAcls)
    await bucketConfig.update<StoredAccess>(view, ACCESS_DOC, (cur) => ({ ...cur, objectAcls: true }));
}

/**
 * Removes the ACL document of `key`'s version `versionId` (the null version: undefined) when it
 * no longer belongs to the object there. Only in buckets that have had an object ACL, and
 * never fails: a document left behind is ignored by every read.
 *
 * The document is read before the object, so one written for a newer write (always after that
 * write) is never taken for stale; the delete is conditional on the document read.
 */
export async function collectObjectAcl(view: BucketView, key: string, versionId: string | undefined): Promise<void> {
  try {
    if (!view.backend.reserved || !(await storedAccess(view))?.objectAcls) return;
    const name = objectAclName(key, versionId);
    const found = await readAclDocument(view, name);
    if (!found) return;
    const object = await (await VersionedObjects.of(view)).head(key, versionId).catch((err: unknown) => {
      if (err instanceof S3Error && GONE.has(err.code)) return undefined;
      throw err;
    });
    if (object && tiedTo(found.doc, object)) return;
    await view.reservedArea(OBJECT_ACL_AREA).delete(name, { ifMatch: found.etag });
  } catch {
    // Garbage only: the next look at this key tries again.
  }
}

/** The ACL CreateMultipartUpload asked for, until Complete gives it to the object (undefined: the default). */
export const uploadAcls = new UploadStash<Acl>(OBJECT_ACL_AREA, 'upload-acl');

/**
 * The ACL a new object gets from the request (x-amz-acl or x-amz-grant-*; POST Object's form
 * fields stand for them through `header`), checked against the bucket's ownership and public
 * access block. Undefined: the default, the bucket owner's FULL_CONTROL only.
 */
export function newObjectAcl(
  ctx: AccessRequest,
  access: BucketAccess,
  header: (name: string) => string | undefined = (n) => ctx.header(n),
): Acl | undefined {
  const caller = callerOfCtx(ctx);
  const asked = requestedAcl(header, directoryOf(ctx), caller.canonicalId, access.owner);
  if (access.ownership === 'BucketOwnerEnforced') {
    if (
      asked &&
      !(
        asked.canned === 'bucket-owner-full-control' ||
        isOwnerOnly(asked.acl, access.owner) ||
        (asked.canned === 'private' && caller.canonicalId === access.owner)
      )
    ) {
      throw new S3Error('AccessControlListNotSupported');
    }
    return undefined;
  }
  if (asked && isPublicAcl(asked.acl) && access.publicAccessBlock?.BlockPublicAcls) {
    throw new S3Error('AccessDenied', "The bucket's public access block (BlockPublicAcls) refuses public ACLs.");
  }
  // BucketOwnerPreferred: an object written with bucket-owner-full-control belongs to the bucket owner.
  const ownerId =
    access.ownership === 'BucketOwnerPreferred' && asked?.canned === 'bucket-owner-full-control' ? access.owner : caller.canonicalId;
  const acl: Acl = asked ? { ...asked.acl, owner: ownerId } : cannedAcl('private', ownerId);
  if (ownerId !== asked?.acl.owner && asked?.canned) Object.assign(acl, cannedAcl(asked.canned, ownerId, access.owner));
  return ownerId === access.owner && isOwnerOnly(acl, access.owner) ? undefined : acl;
}

/** The ACL a write records (see newObjectAcl), decided before anything is written so a refused ACL writes nothing. */
export async function aclForWrite(
  ctx: AccessRequest,
  view: BucketView,
  header?: (name: string) => string | undefined,
): Promise<Acl | undefined> {
  const access = await bucketAccess(ctx, view);
  if (!access) throw new S3Error('NoSuchBucket');
  const acl = newObjectAcl(ctx, access, header);
  if (acl && !view.backend.reserved) throw new S3Error('NotImplemented', `The ${view.backend.kind} backend cannot hold object ACLs.`);
  return acl;
}

// -- condition keys

function header(ctx: AccessRequest, name: string): string[] | undefined {
  const v = ctx.header(name);
  return v === undefined ? undefined : [v];
}

function authType(ctx: AccessRequest): string | undefined {
  switch (ctx.auth.type) {
    case 'header':
      return 'REST-HEADER';
    case 'presigned':
      return 'REST-QUERY-STRING';
    case 'v2':
      return ctx.query.has('Signature') ? 'REST-QUERY-STRING' : 'REST-HEADER';
    default:
      return ctx.method === 'POST' && ctx.target.key === undefined ? 'POST' : undefined;
  }
}

/**
 * The condition keys of the tags a request asks for: s3:RequestObjectTagKeys and
 * s3:RequestObjectTag/<key>, from x-amz-tagging or PutObjectTagging's tag set.
 */
export function requestTagKeys(tags: Iterable<readonly [string, string]>): Record<string, string[]> {
  const keys: Record<string, string[]> = { 's3:RequestObjectTagKeys': [] };
  for (const [k, v] of tags) {
    keys['s3:RequestObjectTagKeys'].push(k);
    keys[`s3:RequestObjectTag/${k}`] = [v];
  }
  return keys;
}

/** The request's condition keys (lower-cased), as S3 documents them. */
export function conditionKeys(
  ctx: AccessRequest,
  caller: CallerId,
  extra: Record<string, string[] | undefined> = {},
): Map<string, string[]> {
  const keys = new Map<string, string[]>();
  const set = (k: string, v: string[] | undefined) => {
    if (v !== undefined) keys.set(k.toLowerCase(), v);
  };
  const now = new Date();
  set(
    'aws:SourceIp',
    ctx.req.socket.remoteAddress ? [ctx.req.socket.remoteAddress.replace(/^::ffff:(\d+\.\d+\.\d+\.\d+)$/, '$1')] : undefined,
  );
  set('aws:SecureTransport', [String((ctx.req.socket as TLSSocket).encrypted === true)]);
  set('aws:Referer', header(ctx, 'referer'));
  set('aws:UserAgent', header(ctx, 'user-agent'));
  set('aws:CurrentTime', [now.toISOString().replace(/\.\d{3}Z$/, 'Z')]);
  set('aws:EpochTime', [String(Math.floor(now.getTime() / 1000))]);
  if (!caller.anonymous) {
    if (caller.name !== 'root') set('aws:username', [caller.name]);
    set('aws:PrincipalArn', [caller.arn]);
    set('aws:PrincipalAccount', [caller.account]);
    set('aws:PrincipalType', [caller.name === 'root' ? 'Account' : 'User']);
    set('aws:userid', [caller.name === 'root' ? caller.account : caller.canonicalId]);
  } else set('aws:PrincipalType', ['Anonymous']);
  if (ctx.target.key === undefined && ctx.method === 'GET') {
    for (const q of ['prefix', 'delimiter', 'max-keys']) set(`s3:${q}`, ctx.query.has(q) ? [ctx.query.get(q)!] : undefined);
  }
  for (const h of [
    'x-amz-acl',
    'x-amz-grant-read',
    'x-amz-grant-write',
    'x-amz-grant-read-acp',
    'x-amz-grant-write-acp',
    'x-amz-grant-full-control',
    'x-amz-server-side-encryption',
    'x-amz-server-side-encryption-aws-kms-key-id',
    'x-amz-copy-source',
    'x-amz-metadata-directive',
    'x-amz-storage-class',
    'x-amz-content-sha256',
    'x-amz-object-ownership',
  ]) {
    set(`s3:${h}`, header(ctx, h));
  }
  const tagging = ctx.header('x-amz-tagging');
  if (tagging !== undefined) for (const [k, v] of Object.entries(requestTagKeys(new URLSearchParams(tagging)))) set(k, v);
  if (ctx.auth.type !== 'anonymous') set('s3:signatureversion', [ctx.auth.type === 'v2' ? 'AWS' : 'AWS4-HMAC-SHA256']);
  set('s3:authType', authType(ctx) === undefined ? undefined : [authType(ctx)!]);
  for (const [k, v] of Object.entries(extra)) set(k, v);
  return keys;
}

export interface Authorization {
  /** The S3 action (s3:GetObject ...). */
  s3Action: string;
  /** The routing table's coarse action that grants it. */
  coarse?: Action;
  bucket: string;
  /** The object, for object-level actions. */
  key?: string;
  /** The version of it the request names (undefined: the latest). */
  versionId?: string;
  /** Anonymous callers may on a `publicRead` route. */
  publicOperation?: boolean;
  /** Condition keys that come from elsewhere than the request's headers (POST Object's form fields). */
  extraKeys?: Record<string, string[] | undefined>;
}

/**
 * What authorizeAccess decided a request on: the caller, the bucket's state, the request's facts
 * and condition keys. Kept with the request so that what an allowed read of a missing object
 * answers (missingObjectError) is decided on the same, not on a second build of them.
 */
export interface Decided {
  principal: Principal;
  caller: CallerId;
  facts: RequestFacts;
  access: BucketAccess | undefined;
}

/** Throws AccessDenied unless the caller may do the action on the bucket (and object); returns what it decided on. */
export async function authorizeAccess(ctx: AccessRequest, view: BucketView, a: Authorization): Promise<Decided> {
  const caller = callerOfCtx(ctx);
  const access = await bucketAccess(ctx, view);
  const resource = a.key === undefined ? `arn:aws:s3:::${a.bucket}` : `arn:aws:s3:::${a.bucket}/${a.key}`;
  // Condition keys are read only by a bucket policy: without one, every request skips building them.
  const keys = access?.policy ? conditionKeys(ctx, caller, a.extraKeys) : new Map<string, string[]>();
  if (a.key !== undefined && access?.policy && usesExistingObjectTags(access.policy)) {
    try {
      for (const t of (await view.headObject(a.key)).tags ?? []) keys.set(`s3:existingobjecttag/${t.key.toLowerCase()}`, [t.value]);
    } catch (err) {
      if (!(err instanceof S3Error && (err.code === 'NoSuchKey' || err.code === 'NoSuchBucket'))) throw err;
    }
  }
  const facts: RequestFacts = { caller, action: a.s3Action, resource, keys };
  const key = a.key;
  const verdict = await decide({
    principal: ctx.principal,
    caller,
    facts,
    coarse: a.coarse,
    bucket: a.bucket,
    access,
    objectAcl: key === undefined ? undefined : () => readObjectAcl(view, key, a.versionId).catch(() => undefined),
    publicRoute: a.publicOperation === true && view.route.publicRead,
  });
  const decided: Decided = { principal: ctx.principal, caller, facts, access };
  if (!verdict.allowed) throw verdict.explicit ? new S3Error('AccessDenied') : await refusal(view, a, decided);
  return decided;
}

/** The reads that answer 404 for a missing object to a caller who may list the bucket. */
const READS_OF_AN_OBJECT = new Set(['s3:GetObject', 's3:GetObjectAttributes']);

/**
 * What S3 answers a request nothing allows (an explicit Deny is AccessDenied before this: it
 * refuses whatever else is true). A bucket that does not exist is NoSuchBucket even
 * to anonymous callers (S3 says so to anyone: bucket names are global). A missing object is
 * NoSuchKey to a caller who may list the bucket, since a listing would show it absent anyway,
 * and AccessDenied to others (S3's GetObject and HeadObject pages: "If you have the
 * s3:ListBucket permission on the bucket, Amazon S3 returns ... 404").
 */
async function refusal(view: BucketView, a: Authorization, q: Decided): Promise<S3Error> {
  // (CreateBucket of a name not taken is the one request a missing bucket does not answer.)
  if (!q.access) return new S3Error(q.caller.anonymous && a.s3Action !== 's3:CreateBucket' ? 'NoSuchBucket' : 'AccessDenied');
  if (!isReadOfLatest(a) || !(await mayList(view, a, { ...q, access: q.access }))) return new S3Error('AccessDenied');
  if (!(await objectMissing(view, a.key!))) return new S3Error('AccessDenied');
  return new S3Error('NoSuchKey', undefined, { Key: a.key! });
}

const isReadOfLatest = (a: Authorization): boolean =>
  a.key !== undefined && a.versionId === undefined && READS_OF_AN_OBJECT.has(a.s3Action);

async function mayList(view: BucketView, a: Authorization, q: Decided & { access: BucketAccess }): Promise<boolean> {
  const listing = await decide({
    principal: q.principal,
    caller: q.caller,
    facts: { ...q.facts, action: 's3:ListBucket', resource: `arn:aws:s3:::${a.bucket}` },
    coarse: 'list',
    bucket: a.bucket,
    access: q.access,
    publicRoute: view.route.publicRead && q.caller.anonymous,
  });
  return listing.allowed;
}

/**
 * What an allowed read of a missing object answers: NoSuchKey to a caller who may list the
 * bucket, AccessDenied to others, as for a refused read. S3 says so whatever allowed the read, so
 * that a grant of s3:GetObject alone does not tell which keys exist.
 */
export async function missingObjectError(view: BucketView, a: Authorization, decided: Decided, missing: S3Error): Promise<S3Error> {
  const access = decided.access;
  if (!isReadOfLatest(a) || !access) return missing;
  return (await mayList(view, a, { ...decided, access })) ? missing : new S3Error('AccessDenied');
}

async function objectMissing(view: BucketView, key: string): Promise<boolean> {
  try {
    await view.headObject(key);
    return false;
  } catch (err) {
    if (err instanceof S3Error && err.code === 'NoSuchKey') return true;
    throw err;
  }
}
