/**
 * The backend interface: the one contract between s3mux and a store. An adapter never sees
 * an HTTP request or XML; it receives plain values and streams, and throws S3Error
 * (src/errors.ts) with a code from the shared table.
 */
import type { Readable } from 'node:stream';
import type { ReservedStore } from './reserved-store';
import type { ClassHolder } from './storage-class-table';
import type { ListedChecksum } from './listed-checksum';

export interface Tag {
  key: string;
  value: string;
}

/** Content headers and metadata that travel with an object. */
export interface ObjectAttributes {
  contentType?: string;
  contentEncoding?: string;
  contentDisposition?: string;
  contentLanguage?: string;
  cacheControl?: string;
  /** Raw Expires header value, kept as sent. */
  expires?: string;
  /** x-amz-meta-* without the prefix; names lower-cased. */
  userMetadata: Record<string, string>;
  storageClass?: string;
  tags?: Tag[];
  /**
   * Additional checksums (algorithm name lower-case, e.g. crc32 -> base64 value). On a put,
   * trailing checksums arrive after the body: adapters read this field only once the body
   * stream has ended.
   */
  checksums?: Record<string, string>;
  /** The part sizes of an object assembled from a multipart upload, in order (GetObject?partNumber). */
  partSizes?: number[];
  /**
   * A COMPOSITE multipart object's part checksums (base64, of its checksum's algorithm), in
   * part order: GetObjectAttributes lists each with its part, as S3 does.
   */
  partChecksums?: string[];
  /**
   * SSE-S3 the write asked for (x-amz-server-side-encryption: AES256, checked by
   * src/s3/request-features.ts). A store that encrypts only when asked (the s3 backend's) is
   * asked; the others encrypt every object anyway.
   */
  serverSideEncryption?: 'AES256';
}

export interface ObjectMeta extends ObjectAttributes {
  key: string;
  size: number;
  /** Without quotes: MD5 hex for single-part objects, "<hex>-N" for multipart ones. */
  etag: string;
  lastModified: Date;
  /** An archived object's restore (x-amz-restore): in progress, or done and readable until `expiry` when the store says. */
  restore?: { ongoing: boolean; expiry?: Date };
}

/**
 * An object's listing entry: the attributes a listing carries. Its checksum's algorithm and
 * type where the adapter holds them as it lists (listed-checksum.ts), never at the cost of a
 * request or a read per key.
 */
export type ObjectSummary = Pick<ObjectMeta, 'key' | 'size' | 'etag' | 'lastModified' | 'storageClass'> & ListedChecksum;

export interface BucketInfo {
  name: string;
  creationDate: Date;
}

/** Inclusive byte range, already resolved against the object size. */
export interface ByteRange {
  start: number;
  end: number;
}

/** One part of a multipart object: its bytes (inclusive) and how many parts the object has. */
export interface PartRange {
  start: number;
  end: number;
  partsCount: number;
}

/**
 * An object opened for reading: its metadata and its bytes belong to the same version.
 * The S3 layer evaluates conditions on `meta`, then asks for the bytes it needs.
 */
export interface ObjectHandle {
  meta: ObjectMeta;
  read(range?: ByteRange): Readable;
  /**
   * The bytes of `range` when the handle holds them in memory already (a small object read
   * whole when opened, the memory store); undefined: stream them with read(). The server
   * answers such a GET with one write instead of a stream. A handle that answers here holds
   * nothing close() must wait for: its close() cannot fail.
   */
  bytes?(range?: ByteRange): Buffer | undefined;
  close(): Promise<void>;
}

/** A delete's preconditions on the key's current version (conditions.ts checkDeleteConditions). */
export interface DeleteConditions {
  /** Quoted or unquoted ETag, or "*". */
  ifMatch?: string;
  size?: number;
  lastModified?: Date;
}

/** Conditions that must hold on the current object at the moment a write commits. */
export interface WriteConditions {
  /** Quoted or unquoted ETag, or "*". */
  ifMatch?: string;
  /** Only "*" is meaningful to S3: fail when any object exists under the key. */
  ifNoneMatch?: string;
}

export interface PutOptions {
  /** Decoded body length when the client announced it; adapters may use it to size uploads. */
  size?: number;
  conditions?: WriteConditions;
  /**
   * The ETag to record instead of the body's MD5: set when multipart parts are assembled
   * through putObject, so the object keeps S3's `<md5 of md5s>-N` form.
   */
  etag?: string;
  /**
   * The body's MD5 (hex) as the client declared it (Content-MD5). The body stream fails before
   * its end when the bytes differ, so an adapter that hashes a body only for its ETag may take
   * this instead of hashing it a second time.
   */
  md5?: string;
  /**
   * completeUpload only: the assembled object's checksums (a multipart upload's COMPOSITE or
   * FULL_OBJECT checksum, which the s3 layer makes from the parts'), recorded with the object
   * as a put records `attrs.checksums`. A store that cannot record them leaves them out of the
   * ObjectMeta it returns, and the client is told none.
   */
  checksums?: Record<string, string>;
  /** completeUpload only: the parts' checksums a COMPOSITE checksum was made of, recorded as `attrs.partChecksums`. */
  partChecksums?: string[];
  /**
   * The object's Last-Modified, when it is not the time of this write: a multipart upload's
   * object is dated when the upload was created, as S3 dates it (StagedMultipartStore passes
   * `UploadInfo.initiated`). Honoured by the stores that date their own files (fs, memory);
   * the clouds date an object themselves when they commit it.
   */
  lastModified?: Date;
}

export interface ListOptions {
  prefix: string;
  delimiter?: string;
  /** Exclusive: the listing starts after this key (a marker, a start-after or a decoded token). */
  startAfter?: string;
  /** 1..1000 */
  maxKeys: number;
}

export interface ListPage {
  objects: ObjectSummary[];
  commonPrefixes: string[];
  isTruncated: boolean;
  /** The last key or common prefix returned, to start the next page after. */
  nextStartAfter?: string;
}

export interface PartInfo {
  partNumber: number;
  /** Without quotes: MD5 hex of the part. */
  etag: string;
  size: number;
  lastModified: Date;
  checksums?: Record<string, string>;
}

export interface UploadInfo {
  key: string;
  uploadId: string;
  initiated: Date;
  attrs: ObjectAttributes;
}

export interface ListPartsOptions {
  /** Exclusive. */
  partNumberMarker?: number;
  maxParts: number;
}

export interface ListPartsPage {
  upload: UploadInfo;
  parts: PartInfo[];
  isTruncated: boolean;
  nextPartNumberMarker?: number;
}

export interface ListUploadsOptions {
  prefix: string;
  delimiter?: string;
  /** Exclusive position: uploads of keys after keyMarker, or of keyMarker itself with an upload id after uploadIdMarker. */
  keyMarker?: string;
  uploadIdMarker?: string;
  maxUploads: number;
}

export interface ListUploadsPage {
  uploads: UploadInfo[];
  commonPrefixes: string[];
  isTruncated: boolean;
  nextKeyMarker?: string;
  nextUploadIdMarker?: string;
}

/**
 * Multipart uploads kept by the backend itself (state in the store, never only in one
 * process), so any s3mux replica can continue an upload another began. The S3 layer
 * validates part order, sizes and ETags before it calls completeUpload.
 */
/** How a part arrives: its announced length, and the checksums it was sent with. */
export interface PartOptions {
  size?: number;
  /**
   * The part's x-amz-checksum-* values (as ObjectAttributes.checksums: header values are
   * there before the body, trailing ones once it has ended). A store that keeps them returns
   * them in PartInfo.checksums, so Complete can check what the client names.
   */
  verified?: Pick<ObjectAttributes, 'checksums'>;
  /** The part's MD5 (hex) as the client declared it (Content-MD5), as PutOptions.md5. */
  md5?: string;
}

export interface MultipartStore {
  createUpload(bucket: string, key: string, attrs: ObjectAttributes): Promise<string>;
  /** Throws NoSuchUpload. The part is stored only if the body ends without error. */
  uploadPart(bucket: string, key: string, uploadId: string, partNumber: number, body: Readable, opts?: PartOptions): Promise<PartInfo>;
  /** Throws NoSuchUpload. Parts in ascending part-number order. */
  listParts(bucket: string, key: string, uploadId: string, opts: ListPartsOptions): Promise<ListPartsPage>;
  /**
   * Assembles the listed parts, in the given order, into the object, atomically; the
   * upload and its parts are gone afterwards. `etag` is the multipart ETag to record.
   */
  completeUpload(
    bucket: string,
    key: string,
    uploadId: string,
    partNumbers: number[],
    etag: string,
    opts?: PutOptions,
  ): Promise<ObjectMeta>;
  /** Throws NoSuchUpload. Leaves nothing behind. */
  abortUpload(bucket: string, key: string, uploadId: string): Promise<void>;
  listUploads(bucket: string, opts: ListUploadsOptions): Promise<ListUploadsPage>;
  /**
   * Removes uploads begun before `initiatedBefore`; returns how many it removed. Safe to run
   * in several replicas at once: an upload removed by another is simply skipped.
   */
  sweepUploads(bucket: string, initiatedBefore: Date): Promise<number>;
}

export interface CreateBucketOptions {
  /**
   * Create the store bucket with the store's own object lock on (S3 object lock, GCS Object
   * Retention Lock, an Azure container with version-level immutability support), so s3mux can
   * lock version bytes in the store too (native-lock.ts). A store without one ignores it; one
   * that refuses it answers NotImplemented, InvalidRequest or InvalidArgument.
   */
  objectLock?: boolean;
}

export interface BackendCapabilities {
  /** copyObject is implemented natively (no bytes through s3mux). */
  serverSideCopy: boolean;
  /**
   * copyObject of a multipart object makes a one-part copy with an ETag of its own, as S3 does,
   * because the store computes it (an S3 store's CopyObject). Absent: a native copy would keep
   * the source's multipart ETag and parts, so such a copy passes its bytes through s3mux.
   */
  copyMakesOnePart?: boolean;
}

export interface Backend {
  readonly kind: string;
  readonly capabilities: BackendCapabilities;
  /**
   * A composite route's stores that a write's storage class must fit (every target a write may
   * reach). Absent: the backend's own kind decides (storage-classes.ts `classHolders`).
   */
  readonly classHolders?: readonly ClassHolder[];
  /**
   * The backends a composite route keeps its objects on (its targets), which any promise about
   * the objects (encryption at rest) must hold for. Absent: the backend is a store's own adapter.
   */
  readonly storedOn?: readonly Backend[];

  listBuckets(): Promise<BucketInfo[]>;
  createBucket(bucket: string, opts?: CreateBucketOptions): Promise<void>;
  /** Throws BucketNotEmpty when objects remain, NoSuchBucket when absent. */
  deleteBucket(bucket: string): Promise<void>;
  /** Throws NoSuchBucket when absent. */
  headBucket(bucket: string): Promise<BucketInfo>;

  /** Throws NoSuchKey (or NoSuchBucket). */
  headObject(bucket: string, key: string): Promise<ObjectMeta>;
  /** Throws NoSuchKey (or NoSuchBucket). */
  openObject(bucket: string, key: string): Promise<ObjectHandle>;
  /**
   * Where part `partNumber` of the multipart object with ETag `etag` lies, from a store that keeps
   * an object's part layout itself (its ObjectMeta has no partSizes): the s3 backend asks its store
   * (HEAD ?partNumber=N). Undefined when the store cannot say, or the object is no longer that one.
   */
  partRange?(bucket: string, key: string, partNumber: number, etag: string): Promise<PartRange | undefined>;
  /**
   * Stores the body under the key. The object becomes visible only when the body ended
   * without error and the conditions held; if the body stream errors (a checksum failed,
   * the client went away) nothing is stored and the old object stays.
   */
  putObject(bucket: string, key: string, body: Readable, attrs: ObjectAttributes, opts?: PutOptions): Promise<ObjectMeta>;
  /** Succeeds also when the key is absent (S3 answers 204 either way). */
  deleteObject(bucket: string, key: string): Promise<void>;
  /** Keys in UTF-8 binary order. */
  listObjects(bucket: string, opts: ListOptions): Promise<ListPage>;
  /** Replaces the tag set (tags live with the object). */
  setTags(bucket: string, key: string, tags: Tag[]): Promise<void>;

  /** Optional: server-side copy. `attrs` undefined keeps the source's attributes. */
  copyObject?(
    srcBucket: string,
    srcKey: string,
    dstBucket: string,
    dstKey: string,
    attrs: ObjectAttributes | undefined,
  ): Promise<ObjectMeta>;

  /**
   * Optional: moves the object to S3 class `storageClass` in place (Azure Set Blob Tier, a GCS
   * rewrite, an S3 copy onto itself), only while its S3 ETag is `ifMatch` (PreconditionFailed
   * otherwise). Where absent, BucketView copies the object onto itself with the new class.
   */
  setStorageClass?(bucket: string, key: string, storageClass: string, ifMatch: string): Promise<void>;

  /**
   * Optional: RestoreObject for an archived object: 'started' when a restore began, 'ongoing'
   * when one is already running, 'restored' when the object is readable already. Throws
   * InvalidObjectState for an object that is not archived. Absent: the store has nothing to restore.
   */
  restoreObject?(bucket: string, key: string, days: number | undefined): Promise<'started' | 'ongoing' | 'restored'>;

  /**
   * Optional: deletes the object only while its S3 ETag is `ifMatch` (PreconditionFailed
   * otherwise; success when absent), atomically where the store can. The lifecycle worker
   * uses it so that it never expires an object written after its decision.
   */
  deleteObjectIfMatch?(bucket: string, key: string, ifMatch: string): Promise<void>;

  /**
   * Optional: throws the store's refusal of attributes it cannot hold (NotImplemented for user
   * metadata on GitHub release assets), as putObject would. Versioning asks before it keeps a
   * version, so a write the name cannot take never becomes a version.
   */
  checkAttributes?(attrs: ObjectAttributes): void;

  /** Multipart uploads kept in the store; absent where the generic fallback is used. */
  readonly multipart?: MultipartStore;

  /**
   * s3mux's own documents in the store's reserved area (bucket configuration, versions,
   * checkpoints); absent where the store cannot hold them, and the features needing it answer
   * NotImplemented there.
   */
  readonly reserved?: ReservedStore;

  /** Releases pools, timers, file handles. */
  close?(): Promise<void>;
}
