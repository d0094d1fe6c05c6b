/**
 * The operation table: (method, level, sub-resource) -> handler. A reader finds every S3
 * operation s3mux serves here, and the handler that serves it one import away.
 */
import { S3Error } from '../errors';
import type { Action } from '../auth/policy';
import type { Handler } from './context';
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
import { postObject, type FormHandler } from './ops/post-object';
import * as tagging from './ops/tagging';
import { getObjectTorrent } from './ops/torrent';
import { restoreObject } from './ops/restore';
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
  /** What a policy must allow on the addressed bucket; undefined for ListBuckets (any signed user). */
  action?: Action;
  /**
   * Anonymous callers may do it on a `publicRead` route: what S3's public read grants
   * (GetObject, HeadObject, the listing), not every operation that reads.
   */
  publicRead?: true;
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
  { name: 'ListBuckets', method: 'GET', level: 'service', handler: buckets.listBuckets },

  { name: 'GetBucketLocation', action: 'list', method: 'GET', level: 'bucket', sub: 'location', handler: buckets.getBucketLocation },
  {
    name: 'GetBucketVersioning',
    action: 'list',
    method: 'GET',
    level: 'bucket',
    sub: 'versioning',
    handler: versioning.getBucketVersioning,
  },
  // Changing a bucket's configuration is administering the bucket, as creating it is.
  {
    name: 'PutBucketVersioning',
    action: 'createBucket',
    method: 'PUT',
    level: 'bucket',
    sub: 'versioning',
    handler: versioning.putBucketVersioning,
  },
  { name: 'ListObjectVersions', action: 'list', method: 'GET', level: 'bucket', sub: 'versions', handler: versioning.listVersions },
  { name: 'GetBucketAcl', action: 'list', method: 'GET', level: 'bucket', sub: 'acl', handler: buckets.getBucketAcl },
  {
    name: 'ListObjectsV2',
    publicRead: true,
    action: 'list',
    method: 'GET',
    level: 'bucket',
    when: (q) => q.get('list-type') === '2',
    handler: listObjectsV2,
  },
  { name: 'ListObjects', publicRead: true, action: 'list', method: 'GET', level: 'bucket', handler: listObjectsV1 },
  { name: 'HeadBucket', publicRead: true, action: 'list', method: 'HEAD', level: 'bucket', handler: buckets.headBucket },
  { name: 'CreateBucket', action: 'createBucket', method: 'PUT', level: 'bucket', handler: buckets.createBucket },
  { name: 'DeleteBucket', action: 'deleteBucket', method: 'DELETE', level: 'bucket', handler: buckets.deleteBucket },
  { name: 'DeleteObjects', action: 'delete', method: 'POST', level: 'bucket', sub: 'delete', handler: deleteObjects },
  { name: 'PostObject', action: 'write', method: 'POST', level: 'bucket', formHandler: postObject },

  // Bucket configuration: CORS, lifecycle and tags (src/bucket-config). Reading it is listing-level
  // access; changing it is the bucket owner's (createBucket).
  { name: 'GetBucketCors', action: 'list', method: 'GET', level: 'bucket', sub: 'cors', handler: bucketCors.getBucketCors },
  { name: 'PutBucketCors', action: 'createBucket', method: 'PUT', level: 'bucket', sub: 'cors', handler: bucketCors.putBucketCors },
  {
    name: 'DeleteBucketCors',
    action: 'createBucket',
    method: 'DELETE',
    level: 'bucket',
    sub: 'cors',
    handler: bucketCors.deleteBucketCors,
  },
  {
    name: 'GetBucketLifecycleConfiguration',
    action: 'list',
    method: 'GET',
    level: 'bucket',
    sub: 'lifecycle',
    handler: bucketLifecycle.getBucketLifecycleConfiguration,
  },
  {
    name: 'PutBucketLifecycleConfiguration',
    action: 'createBucket',
    method: 'PUT',
    level: 'bucket',
    sub: 'lifecycle',
    handler: bucketLifecycle.putBucketLifecycleConfiguration,
  },
  {
    name: 'DeleteBucketLifecycle',
    action: 'createBucket',
    method: 'DELETE',
    level: 'bucket',
    sub: 'lifecycle',
    handler: bucketLifecycle.deleteBucketLifecycle,
  },
  { name: 'GetBucketTagging', action: 'list', method: 'GET', level: 'bucket', sub: 'tagging', handler: bucketTagging.getBucketTagging },
  {
    name: 'PutBucketTagging',
    action: 'createBucket',
    method: 'PUT',
    level: 'bucket',
    sub: 'tagging',
    handler: bucketTagging.putBucketTagging,
  },
  {
    name: 'DeleteBucketTagging',
    action: 'createBucket',
    method: 'DELETE',
    level: 'bucket',
    sub: 'tagging',
    handler: bucketTagging.deleteBucketTagging,
  },

  { name: 'ListMultipartUploads', action: 'list', method: 'GET', level: 'bucket', sub: 'uploads', handler: multipart.listMultipartUploads },

  {
    name: 'CreateMultipartUpload',
    action: 'write',
    method: 'POST',
    level: 'object',
    sub: 'uploads',
    handler: multipart.createMultipartUpload,
  },
  {
    name: 'UploadPartCopy',
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
    action: 'write',
    method: 'PUT',
    level: 'object',
    sub: 'uploadId',
    consumes: ['partNumber'],
    handler: multipart.uploadPart,
  },
  {
    name: 'CompleteMultipartUpload',
    action: 'write',
    method: 'POST',
    level: 'object',
    sub: 'uploadId',
    handler: multipart.completeMultipartUpload,
  },
  {
    name: 'AbortMultipartUpload',
    action: 'write',
    method: 'DELETE',
    level: 'object',
    sub: 'uploadId',
    handler: multipart.abortMultipartUpload,
  },
  { name: 'ListParts', action: 'write', method: 'GET', level: 'object', sub: 'uploadId', handler: multipart.listParts },

  {
    name: 'GetObjectTagging',
    action: 'read',
    method: 'GET',
    level: 'object',
    sub: 'tagging',
    consumes: ['versionId'],
    handler: tagging.getObjectTagging,
  },
  {
    name: 'PutObjectTagging',
    action: 'write',
    method: 'PUT',
    level: 'object',
    sub: 'tagging',
    consumes: ['versionId'],
    handler: tagging.putObjectTagging,
  },
  {
    name: 'DeleteObjectTagging',
    action: 'write',
    method: 'DELETE',
    level: 'object',
    sub: 'tagging',
    consumes: ['versionId'],
    handler: tagging.deleteObjectTagging,
  },
  {
    name: 'GetObjectAttributes',
    action: 'read',
    method: 'GET',
    level: 'object',
    sub: 'attributes',
    consumes: ['versionId'],
    handler: getObjectAttributes,
  },
  { name: 'RestoreObject', action: 'write', method: 'POST', level: 'object', sub: 'restore', handler: restoreObject },
  { name: 'GetObjectTorrent', action: 'read', method: 'GET', level: 'object', sub: 'torrent', handler: getObjectTorrent },
  {
    name: 'GetObjectAcl',
    action: 'read',
    method: 'GET',
    level: 'object',
    sub: 'acl',
    consumes: ['versionId'],
    handler: buckets.getObjectAcl,
  },
  { name: 'CopyObject', action: 'write', method: 'PUT', level: 'object', withHeader: 'x-amz-copy-source', handler: copyObject },
  { name: 'PutObject', action: 'write', method: 'PUT', level: 'object', handler: objects.putObject },
  {
    name: 'GetObject',
    publicRead: true,
    action: 'read',
    method: 'GET',
    level: 'object',
    consumes: ['partNumber', 'versionId'],
    handler: objects.getObject,
  },
  {
    name: 'HeadObject',
    publicRead: true,
    action: 'read',
    method: 'HEAD',
    level: 'object',
    consumes: ['partNumber', 'versionId'],
    handler: objects.headObject,
  },
  { name: 'DeleteObject', action: 'delete', method: 'DELETE', level: 'object', consumes: ['versionId'], handler: objects.deleteObject },
];

/**
 * Sub-resources S3 defines. A request naming one that no entry above serves is answered
 * 501 NotImplemented rather than being mistaken for a plain GET or PUT.
 */
const S3_SUBRESOURCES = [
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
];

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

export function findOperation(method: string, level: Level, query: URLSearchParams, headers: Record<string, unknown>): Operation {
  // The most specific match wins, so table order does not matter.
  const op = OPERATIONS.filter((o) => matches(o, method, level, query, headers)).sort((a, b) => specificity(b) - specificity(a))[0];
  const unserved = S3_SUBRESOURCES.find((s) => query.has(s) && op?.sub !== s && !op?.consumes?.includes(s));
  if (unserved !== undefined) {
    throw new S3Error('NotImplemented', `s3mux does not implement the '${unserved}' sub-resource for ${method} yet.`);
  }
  if (!op) throw new S3Error('MethodNotAllowed');
  return op;
}
