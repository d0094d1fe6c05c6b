/**
 * The operation table: (method, level, sub-resource) -> handler. A reader finds every S3
 * operation s3mux serves here, and the handler that serves it one import away.
 */
import { S3Error } from '../errors';
import type { Action } from '../auth/policy';
import type { Handler } from './context';
import * as acl from './ops/access-control';
import * as buckets from './ops/buckets';
import * as bucketCors from './ops/bucket-cors';
import * as bucketLifecycle from './ops/bucket-lifecycle';
import * as bucketTagging from './ops/bucket-tagging';
import { getObjectAttributes } from './ops/attributes';
import { copyObject } from './ops/copy';
import { deleteObjects } from './ops/delete-objects';
import { listObjectsV1, listObjectsV2 } from './ops/listing';
import * as multipart from './ops/multipart';
import * as objects from './ops/objects';
import * as objectLock from './ops/object-lock';
import { postObject, type FormHandler } from './ops/post-object';
import * as tagging from './ops/tagging';
import { getObjectTorrent } from './ops/torrent';
import { restoreObject } from './ops/restore';
import * as unoffered from './ops/unoffered-configs';
import * as versioning from './ops/versioning';

export type Level = 'service' | 'bucket' | 'object';

interface OperationBase {
  name: string;
  method: string;
  level: Level;
  /** A query parameter that selects this operation (a sub-resource such as `tagging`). */
  sub?: string;
  /** A header that selects this operation (x-amz-copy-source turns a PUT into a copy). */
  withHeader?: string;
  /** Extra test on the query (list-type=2). */
  when?: (q: URLSearchParams) => boolean;
  /** Other sub-resource parameters this operation reads (UploadPart reads partNumber). */
  consumes?: string[];
  /**
   * The S3 action bucket policies name (`s3:GetObject` ...); its resource is the addressed bucket,
   * or the addressed object for object-level operations (DeleteObjects: each key it deletes).
   */
  s3Action: string;
  /** The action instead when the request names a versionId (S3's *Version actions: s3:GetObjectVersion ...). */
  s3VersionAction?: string;
  /**
   * The routing table's coarse action that grants it (src/auth/policy.ts); undefined for
   * ListBuckets (any signed user) and for what only the owner, a bucket policy or an ACL grants.
   */
  action?: Action;
  /**
   * Anonymous callers may do it on a `publicRead` route: what S3's public read grants
   * (GetObject, HeadObject, the listing), not every operation that reads.
   */
  publicRead?: true;
  /** The handler authorizes each key it touches (DeleteObjects) rather than dispatch the bucket. */
  perKey?: true;
  /**
   * Its body gives condition keys a bucket policy may test (PutObjectTagging's tag set is
   * s3:RequestObjectTag/<key> and s3:RequestObjectTagKeys): dispatch leaves the authorization
   * to the handler, which reads the body first (S3Context.authorizeWithBodyKeys).
   */
  keysFromBody?: true;
}

export type Operation = OperationBase &
  (
    | { handler: Handler; formHandler?: undefined }
    /**
     * POST Object: the request itself is unsigned, its signature travels in the form. Dispatch
     * calls formHandler with the means to verify the form's signer and authorize it for `action`.
     */
    | { formHandler: FormHandler; handler?: undefined }
  );

export const OPERATIONS: Operation[] = [
  { name: 'ListBuckets', s3Action: 's3:ListAllMyBuckets', method: 'GET', level: 'service', handler: buckets.listBuckets },

  {
    name: 'GetBucketLocation',
    s3Action: 's3:GetBucketLocation',
    action: 'list',
    method: 'GET',
    level: 'bucket',
    sub: 'location',
    handler: buckets.getBucketLocation,
  },
  {
    name: 'GetBucketVersioning',
    s3Action: 's3:GetBucketVersioning',
    action: 'list',
    method: 'GET',
    level: 'bucket',
    sub: 'versioning',
    handler: versioning.getBucketVersioning,
  },
  // Changing a bucket's configuration is administering the bucket, as creating it is.
  {
    name: 'PutBucketVersioning',
    s3Action: 's3:PutBucketVersioning',
    action: 'createBucket',
    method: 'PUT',
    level: 'bucket',
    sub: 'versioning',
    handler: versioning.putBucketVersioning,
  },
  {
    name: 'ListObjectVersions',
    s3Action: 's3:ListBucketVersions',
    action: 'list',
    method: 'GET',
    level: 'bucket',
    sub: 'versions',
    handler: versioning.listVersions,
  },
  // Access control (src/s3/ops/access-control.ts): only the owner, a bucket policy or an ACL grants the writes.
  {
    name: 'GetBucketAcl',
    s3Action: 's3:GetBucketAcl',
    action: 'list',
    method: 'GET',
    level: 'bucket',
    sub: 'acl',
    handler: acl.getBucketAcl,
  },
  { name: 'PutBucketAcl', s3Action: 's3:PutBucketAcl', method: 'PUT', level: 'bucket', sub: 'acl', handler: acl.putBucketAcl },
  {
    name: 'GetBucketPolicy',
    s3Action: 's3:GetBucketPolicy',
    action: 'list',
    method: 'GET',
    level: 'bucket',
    sub: 'policy',
    handler: acl.getBucketPolicy,
  },
  { name: 'PutBucketPolicy', s3Action: 's3:PutBucketPolicy', method: 'PUT', level: 'bucket', sub: 'policy', handler: acl.putBucketPolicy },
  {
    name: 'DeleteBucketPolicy',
    s3Action: 's3:DeleteBucketPolicy',
    method: 'DELETE',
    level: 'bucket',
    sub: 'policy',
    handler: acl.deleteBucketPolicy,
  },
  {
    name: 'GetBucketPolicyStatus',
    s3Action: 's3:GetBucketPolicyStatus',
    action: 'list',
    method: 'GET',
    level: 'bucket',
    sub: 'policyStatus',
    handler: acl.getBucketPolicyStatus,
  },
  {
    name: 'GetBucketOwnershipControls',
    s3Action: 's3:GetBucketOwnershipControls',
    action: 'list',
    method: 'GET',
    level: 'bucket',
    sub: 'ownershipControls',
    handler: acl.getOwnershipControls,
  },
  {
    name: 'PutBucketOwnershipControls',
    s3Action: 's3:PutBucketOwnershipControls',
    method: 'PUT',
    level: 'bucket',
    sub: 'ownershipControls',
    handler: acl.putOwnershipControls,
  },
  {
    name: 'DeleteBucketOwnershipControls',
    s3Action: 's3:PutBucketOwnershipControls',
    method: 'DELETE',
    level: 'bucket',
    sub: 'ownershipControls',
    handler: acl.deleteOwnershipControls,
  },
  {
    name: 'GetPublicAccessBlock',
    s3Action: 's3:GetBucketPublicAccessBlock',
    action: 'list',
    method: 'GET',
    level: 'bucket',
    sub: 'publicAccessBlock',
    handler: acl.getPublicAccessBlock,
  },
  {
    name: 'PutPublicAccessBlock',
    s3Action: 's3:PutBucketPublicAccessBlock',
    method: 'PUT',
    level: 'bucket',
    sub: 'publicAccessBlock',
    handler: acl.putPublicAccessBlock,
  },
  {
    name: 'DeletePublicAccessBlock',
    s3Action: 's3:PutBucketPublicAccessBlock',
    method: 'DELETE',
    level: 'bucket',
    sub: 'publicAccessBlock',
    handler: acl.deletePublicAccessBlock,
  },
  {
    name: 'ListObjectsV2',
    s3Action: 's3:ListBucket',
    publicRead: true,
    action: 'list',
    method: 'GET',
    level: 'bucket',
    when: (q) => q.get('list-type') === '2',
    handler: listObjectsV2,
  },
  {
    name: 'ListObjects',
    s3Action: 's3:ListBucket',
    publicRead: true,
    action: 'list',
    method: 'GET',
    level: 'bucket',
    handler: listObjectsV1,
  },
  {
    name: 'HeadBucket',
    s3Action: 's3:ListBucket',
    publicRead: true,
    action: 'list',
    method: 'HEAD',
    level: 'bucket',
    handler: buckets.headBucket,
  },
  {
    name: 'CreateBucket',
    s3Action: 's3:CreateBucket',
    action: 'createBucket',
    method: 'PUT',
    level: 'bucket',
    handler: buckets.createBucket,
  },
  {
    name: 'DeleteBucket',
    s3Action: 's3:DeleteBucket',
    action: 'deleteBucket',
    method: 'DELETE',
    level: 'bucket',
    handler: buckets.deleteBucket,
  },
  {
    name: 'DeleteObjects',
    s3Action: 's3:DeleteObject',
    perKey: true,
    action: 'delete',
    method: 'POST',
    level: 'bucket',
    sub: 'delete',
    handler: deleteObjects,
  },
  { name: 'PostObject', s3Action: 's3:PutObject', action: 'write', method: 'POST', level: 'bucket', formHandler: postObject },

  // Bucket configuration: CORS, lifecycle and tags (src/bucket-config). Reading it is listing-level
  // access; changing it is the bucket owner's (createBucket).
  {
    name: 'GetBucketCors',
    s3Action: 's3:GetBucketCORS',
    action: 'list',
    method: 'GET',
    level: 'bucket',
    sub: 'cors',
    handler: bucketCors.getBucketCors,
  },
  {
    name: 'PutBucketCors',
    s3Action: 's3:PutBucketCORS',
    action: 'createBucket',
    method: 'PUT',
    level: 'bucket',
    sub: 'cors',
    handler: bucketCors.putBucketCors,
  },
  {
    name: 'DeleteBucketCors',
    s3Action: 's3:PutBucketCORS',
    action: 'createBucket',
    method: 'DELETE',
    level: 'bucket',
    sub: 'cors',
    handler: bucketCors.deleteBucketCors,
  },
  {
    name: 'GetBucketLifecycleConfiguration',
    s3Action: 's3:GetLifecycleConfiguration',
    action: 'list',
    method: 'GET',
    level: 'bucket',
    sub: 'lifecycle',
    handler: bucketLifecycle.getBucketLifecycleConfiguration,
  },
  {
    name: 'PutBucketLifecycleConfiguration',
    s3Action: 's3:PutLifecycleConfiguration',
    action: 'createBucket',
    method: 'PUT',
    level: 'bucket',
    sub: 'lifecycle',
    handler: bucketLifecycle.putBucketLifecycleConfiguration,
  },
  {
    name: 'DeleteBucketLifecycle',
    s3Action: 's3:PutLifecycleConfiguration',
    action: 'createBucket',
    method: 'DELETE',
    level: 'bucket',
    sub: 'lifecycle',
    handler: bucketLifecycle.deleteBucketLifecycle,
  },
  {
    name: 'GetBucketTagging',
    s3Action: 's3:GetBucketTagging',
    action: 'list',
    method: 'GET',
    level: 'bucket',
    sub: 'tagging',
    handler: bucketTagging.getBucketTagging,
  },
  {
    name: 'PutBucketTagging',
    s3Action: 's3:PutBucketTagging',
    action: 'createBucket',
    method: 'PUT',
    level: 'bucket',
    sub: 'tagging',
    handler: bucketTagging.putBucketTagging,
  },
  {
    name: 'DeleteBucketTagging',
    s3Action: 's3:PutBucketTagging',
    action: 'createBucket',
    method: 'DELETE',
    level: 'bucket',
    sub: 'tagging',
    handler: bucketTagging.deleteBucketTagging,
  },

  // Bucket configurations s3mux does not offer, answered as S3 answers a bucket that never had
  // them (src/s3/ops/unoffered-configs.ts). Reading is listing-level access; writing is the owner's.
  unofferedConfig('GetBucketEncryption', 'GET', 'encryption', 's3:GetEncryptionConfiguration', unoffered.getBucketEncryption),
  unofferedConfig('PutBucketEncryption', 'PUT', 'encryption', 's3:PutEncryptionConfiguration', unoffered.putBucketEncryption),
  unofferedConfig('DeleteBucketEncryption', 'DELETE', 'encryption', 's3:PutEncryptionConfiguration', unoffered.deleteBucketEncryption),
  unofferedConfig('GetBucketLogging', 'GET', 'logging', 's3:GetBucketLogging', unoffered.getBucketLogging),
  unofferedConfig('PutBucketLogging', 'PUT', 'logging', 's3:PutBucketLogging', unoffered.putBucketLogging),
  unofferedConfig('GetBucketRequestPayment', 'GET', 'requestPayment', 's3:GetBucketRequestPayment', unoffered.getBucketRequestPayment),
  unofferedConfig('PutBucketRequestPayment', 'PUT', 'requestPayment', 's3:PutBucketRequestPayment', unoffered.putBucketRequestPayment),
  unofferedConfig('GetBucketNotificationConfiguration', 'GET', 'notification', 's3:GetBucketNotification', unoffered.getBucketNotification),
  unofferedConfig('PutBucketNotificationConfiguration', 'PUT', 'notification', 's3:PutBucketNotification', unoffered.putBucketNotification),
  unofferedConfig('GetBucketAccelerateConfiguration', 'GET', 'accelerate', 's3:GetAccelerateConfiguration', unoffered.getBucketAccelerate),
  unofferedConfig('PutBucketAccelerateConfiguration', 'PUT', 'accelerate', 's3:PutAccelerateConfiguration', unoffered.putBucketAccelerate),
  unofferedConfig('GetBucketWebsite', 'GET', 'website', 's3:GetBucketWebsite', unoffered.getBucketWebsite),
  unofferedConfig('PutBucketWebsite', 'PUT', 'website', 's3:PutBucketWebsite', unoffered.putBucketWebsite),
  unofferedConfig('DeleteBucketWebsite', 'DELETE', 'website', 's3:DeleteBucketWebsite', unoffered.deleteUnsetConfig),
  unofferedConfig('GetBucketReplication', 'GET', 'replication', 's3:GetReplicationConfiguration', unoffered.getBucketReplication),
  unofferedConfig('PutBucketReplication', 'PUT', 'replication', 's3:PutReplicationConfiguration', unoffered.putBucketReplication),
  unofferedConfig('DeleteBucketReplication', 'DELETE', 'replication', 's3:PutReplicationConfiguration', unoffered.deleteUnsetConfig),
  ...identifiedConfig('Analytics', 'analytics', 's3:GetAnalyticsConfiguration', 's3:PutAnalyticsConfiguration'),
  ...identifiedConfig('Metrics', 'metrics', 's3:GetMetricsConfiguration', 's3:PutMetricsConfiguration'),
  ...identifiedConfig('Inventory', 'inventory', 's3:GetInventoryConfiguration', 's3:PutInventoryConfiguration'),
  ...identifiedConfig(
    'IntelligentTiering',
    'intelligent-tiering',
    's3:GetIntelligentTieringConfiguration',
    's3:PutIntelligentTieringConfiguration',
  ),

  // Object lock (src/object-lock): the bucket's configuration is the owner's; a version's
  // retention and legal hold are read and written as the object is.
  {
    name: 'GetObjectLockConfiguration',
    s3Action: 's3:GetBucketObjectLockConfiguration',
    action: 'list',
    method: 'GET',
    level: 'bucket',
    sub: 'object-lock',
    handler: objectLock.getObjectLockConfiguration,
  },
  {
    name: 'PutObjectLockConfiguration',
    s3Action: 's3:PutBucketObjectLockConfiguration',
    action: 'createBucket',
    method: 'PUT',
    level: 'bucket',
    sub: 'object-lock',
    handler: objectLock.putObjectLockConfiguration,
  },

  {
    name: 'ListMultipartUploads',
    s3Action: 's3:ListBucketMultipartUploads',
    action: 'list',
    method: 'GET',
    level: 'bucket',
    sub: 'uploads',
    handler: multipart.listMultipartUploads,
  },

  {
    name: 'CreateMultipartUpload',
    s3Action: 's3:PutObject',
    action: 'write',
    method: 'POST',
    level: 'object',
    sub: 'uploads',
    handler: multipart.createMultipartUpload,
  },
  {
    name: 'UploadPartCopy',
    s3Action: 's3:PutObject',
    action: 'write',
    method: 'PUT',
    level: 'object',
    sub: 'uploadId',
    consumes: ['partNumber'],
    withHeader: 'x-amz-copy-source',
    handler: multipart.uploadPartCopy,
  },
  {
    name: 'UploadPart',
    s3Action: 's3:PutObject',
    action: 'write',
    method: 'PUT',
    level: 'object',
    sub: 'uploadId',
    consumes: ['partNumber'],
    handler: multipart.uploadPart,
  },
  {
    name: 'CompleteMultipartUpload',
    s3Action: 's3:PutObject',
    action: 'write',
    method: 'POST',
    level: 'object',
    sub: 'uploadId',
    handler: multipart.completeMultipartUpload,
  },
  {
    name: 'AbortMultipartUpload',
    s3Action: 's3:AbortMultipartUpload',
    action: 'write',
    method: 'DELETE',
    level: 'object',
    sub: 'uploadId',
    handler: multipart.abortMultipartUpload,
  },
  {
    name: 'ListParts',
    s3Action: 's3:ListMultipartUploadParts',
    action: 'write',
    method: 'GET',
    level: 'object',
    sub: 'uploadId',
    handler: multipart.listParts,
  },

  {
    name: 'GetObjectTagging',
    s3Action: 's3:GetObjectTagging',
    s3VersionAction: 's3:GetObjectVersionTagging',
    action: 'read',
    method: 'GET',
    level: 'object',
    sub: 'tagging',
    consumes: ['versionId'],
    handler: tagging.getObjectTagging,
  },
  {
    name: 'PutObjectTagging',
    s3Action: 's3:PutObjectTagging',
    s3VersionAction: 's3:PutObjectVersionTagging',
    action: 'write',
    method: 'PUT',
    level: 'object',
    sub: 'tagging',
    consumes: ['versionId'],
    keysFromBody: true,
    handler: tagging.putObjectTagging,
  },
  {
    name: 'DeleteObjectTagging',
    s3Action: 's3:DeleteObjectTagging',
    s3VersionAction: 's3:DeleteObjectVersionTagging',
    action: 'write',
    method: 'DELETE',
    level: 'object',
    sub: 'tagging',
    consumes: ['versionId'],
    handler: tagging.deleteObjectTagging,
  },
  {
    name: 'GetObjectAttributes',
    s3Action: 's3:GetObjectAttributes',
    s3VersionAction: 's3:GetObjectVersionAttributes',
    action: 'read',
    method: 'GET',
    level: 'object',
    sub: 'attributes',
    consumes: ['versionId'],
    handler: getObjectAttributes,
  },
  {
    name: 'RestoreObject',
    s3Action: 's3:RestoreObject',
    action: 'write',
    method: 'POST',
    level: 'object',
    sub: 'restore',
    handler: restoreObject,
  },
  {
    name: 'GetObjectRetention',
    s3Action: 's3:GetObjectRetention',
    action: 'read',
    method: 'GET',
    level: 'object',
    sub: 'retention',
    consumes: ['versionId'],
    handler: objectLock.getObjectRetention,
  },
  {
    name: 'PutObjectRetention',
    s3Action: 's3:PutObjectRetention',
    action: 'write',
    method: 'PUT',
    level: 'object',
    sub: 'retention',
    consumes: ['versionId'],
    handler: objectLock.putObjectRetention,
  },
  {
    name: 'GetObjectLegalHold',
    s3Action: 's3:GetObjectLegalHold',
    action: 'read',
    method: 'GET',
    level: 'object',
    sub: 'legal-hold',
    consumes: ['versionId'],
    handler: objectLock.getObjectLegalHold,
  },
  {
    name: 'PutObjectLegalHold',
    s3Action: 's3:PutObjectLegalHold',
    action: 'write',
    method: 'PUT',
    level: 'object',
    sub: 'legal-hold',
    consumes: ['versionId'],
    handler: objectLock.putObjectLegalHold,
  },
  {
    name: 'GetObjectTorrent',
    s3Action: 's3:GetObjectTorrent',
    action: 'read',
    method: 'GET',
    level: 'object',
    sub: 'torrent',
    handler: getObjectTorrent,
  },
  {
    name: 'CopyObject',
    s3Action: 's3:PutObject',
    action: 'write',
    method: 'PUT',
    level: 'object',
    withHeader: 'x-amz-copy-source',
    handler: copyObject,
  },
  { name: 'PutObject', s3Action: 's3:PutObject', action: 'write', method: 'PUT', level: 'object', handler: objects.putObject },
  {
    name: 'GetObject',
    s3Action: 's3:GetObject',
    s3VersionAction: 's3:GetObjectVersion',
    publicRead: true,
    action: 'read',
    method: 'GET',
    level: 'object',
    consumes: ['partNumber', 'versionId'],
    handler: objects.getObject,
  },
  {
    name: 'HeadObject',
    s3Action: 's3:GetObject',
    s3VersionAction: 's3:GetObjectVersion',
    publicRead: true,
    action: 'read',
    method: 'HEAD',
    level: 'object',
    consumes: ['partNumber', 'versionId'],
    handler: objects.headObject,
  },
  {
    name: 'GetObjectAcl',
    s3Action: 's3:GetObjectAcl',
    s3VersionAction: 's3:GetObjectVersionAcl',
    action: 'read',
    method: 'GET',
    level: 'object',
    sub: 'acl',
    consumes: ['versionId'],
    handler: acl.getObjectAcl,
  },
  {
    name: 'PutObjectAcl',
    s3Action: 's3:PutObjectAcl',
    s3VersionAction: 's3:PutObjectVersionAcl',
    action: 'write',
    method: 'PUT',
    level: 'object',
    sub: 'acl',
    consumes: ['versionId'],
    handler: acl.putObjectAcl,
  },
  {
    name: 'DeleteObject',
    s3Action: 's3:DeleteObject',
    s3VersionAction: 's3:DeleteObjectVersion',
    action: 'delete',
    method: 'DELETE',
    level: 'object',
    consumes: ['versionId'],
    handler: objects.deleteObject,
  },
];

/** One bucket-level entry for a configuration s3mux does not offer. */
function unofferedConfig(name: string, method: string, sub: string, s3Action: string, handler: Handler): Operation {
  return { name, method, level: 'bucket', sub, s3Action, action: method === 'GET' ? 'list' : 'createBucket', handler };
}

/** The four operations of a configuration kept by id (analytics, metrics ...): List, Get, Put and Delete. */
function identifiedConfig(kind: string, sub: unoffered.IdentifiedConfig, readAction: string, writeAction: string): Operation[] {
  const byId = (q: URLSearchParams) => q.has('id');
  return [
    unofferedConfig(`ListBucket${kind}Configurations`, 'GET', sub, readAction, unoffered.listNoConfigs(sub)),
    { ...unofferedConfig(`GetBucket${kind}Configuration`, 'GET', sub, readAction, unoffered.noSuchConfig), when: byId },
    unofferedConfig(`PutBucket${kind}Configuration`, 'PUT', sub, writeAction, unoffered.refusedConfigWrite(sub)),
    unofferedConfig(`DeleteBucket${kind}Configuration`, 'DELETE', sub, writeAction, unoffered.noSuchConfig),
  ];
}

/**
 * Sub-resources S3 defines. A request naming one that no entry above serves is answered
 * 501 NotImplemented rather than being mistaken for a plain GET or PUT.
 */
const S3_SUBRESOURCES = new Set([
  'accelerate',
  'acl',
  'analytics',
  'attributes',
  'cors',
  'delete',
  'encryption',
  'intelligent-tiering',
  'inventory',
  'legal-hold',
  'lifecycle',
  'location',
  'logging',
  'metadataTable',
  'metrics',
  'notification',
  'object-lock',
  'ownershipControls',
  'partNumber',
  'policy',
  'policyStatus',
  'publicAccessBlock',
  'replication',
  'requestPayment',
  'restore',
  'retention',
  'select',
  'session',
  'tagging',
  'torrent',
  'uploadId',
  'uploads',
  'versionId',
  'versioning',
  'versions',
  'website',
  'renameObject',
]);

function matches(op: Operation, method: string, level: Level, query: URLSearchParams, headers: Record<string, unknown>): boolean {
  if (op.method !== method || op.level !== level) return false;
  if (op.sub !== undefined && !query.has(op.sub)) return false;
  if (op.withHeader !== undefined && headers[op.withHeader] === undefined) return false;
  if (op.when && !op.when(query)) return false;
  return true;
}

function specificity(op: Operation): number {
  return (op.sub ? 4 : 0) + (op.withHeader ? 2 : 0) + (op.when ? 1 : 0);
}

/**
 * The candidates for each method and level, most specific first, built once: a request looks at
 * the few that can match instead of filtering and sorting the whole table (a cost every request
 * paid before its handler ran; issue 15).
 */
const BY_METHOD_AND_LEVEL = new Map<string, Operation[]>();
for (const op of [...OPERATIONS].sort((a, b) => specificity(b) - specificity(a))) {
  const key = `${op.method} ${op.level}`;
  const list = BY_METHOD_AND_LEVEL.get(key);
  if (list) list.push(op);
  else BY_METHOD_AND_LEVEL.set(key, [op]);
}

/** Sub-resource parameters that qualify an operation rather than select one (GetObject ?partNumber, ?tagging&versionId). */
const QUALIFIERS = new Set(['partNumber', 'versionId']);

/**
 * S3 refuses a request naming two sub-resources that each select an operation (`?acl&versioning`,
 * `?uploads&uploadId=`) as a conflict, rather than serving one of them: InvalidArgument naming them
 * in sorted order, the first as the ArgumentValue.
 */
function refuseConflictingSubresources(query: URLSearchParams): void {
  let selectors: Set<string> | undefined;
  for (const name of query.keys()) if (S3_SUBRESOURCES.has(name) && !QUALIFIERS.has(name)) (selectors ??= new Set()).add(name);
  if (!selectors || selectors.size < 2) return;
  const names = [...selectors].sort();
  throw new S3Error('InvalidArgument', `Conflicting query string parameters: ${names.join(', ')}`, {
    ArgumentName: 'ResourceType',
    ArgumentValue: names[0],
  });
}

export function findOperation(method: string, level: Level, query: URLSearchParams, headers: Record<string, unknown>): Operation {
  refuseConflictingSubresources(query);
  // The most specific match wins, so table order does not matter (the sort above is stable).
  const op = BY_METHOD_AND_LEVEL.get(`${method} ${level}`)?.find((o) => matches(o, method, level, query, headers));
  // Only the names the query holds are looked at (most requests carry none or one).
  for (const name of query.keys()) {
    if (!S3_SUBRESOURCES.has(name) || op?.sub === name || op?.consumes?.includes(name)) continue;
    // A version id given to an operation that names no version (PutObject, UploadPart, a bucket's
    // listing or configuration) is refused by S3 as an argument it does not take, not as an
    // unimplemented sub-resource.
    if (name === 'versionId' && op) {
      throw new S3Error('InvalidArgument', 'This operation does not accept a version-id.', {
        ArgumentName: 'versionId',
        ArgumentValue: query.get('versionId') ?? '',
      });
    }
    throw new S3Error('NotImplemented', `s3mux does not implement the '${name}' sub-resource for ${method} yet.`);
  }
  if (!op) throw new S3Error('MethodNotAllowed');
  return op;
}
