/**
 * The one generic multipart implementation, for every backend that has no native
 * multipart: parts are staged in the backend's own part storage (so any replica, or the same
 * process after a restart, can continue an upload), and Complete streams them, in order,
 * through the backend's ordinary putObject, which commits atomically. An adapter supplies
 * only the PartStorage.
 */
import { PassThrough, Readable } from 'node:stream';
import { S3Error } from '../../errors';
import { compareKeys, isCommonPrefix } from '../listing';
import { newUploadId } from './upload-id';
import type {
  Backend,
  ListPartsOptions,
  ListPartsPage,
  ListUploadsOptions,
  ListUploadsPage,
  MultipartStore,
  ObjectAttributes,
  ObjectMeta,
  PartInfo,
  PartOptions,
  PutOptions,
  UploadInfo,
} from '../types';

/** Where an adapter keeps uploads and their parts, outside the bucket's visible keys. */
export interface PartStorage {
  /** Records a new upload. */
  createUpload(bucket: string, upload: UploadInfo): Promise<void>;
  /** The upload's record, or undefined when there is none (never begun, completed, aborted). */
  getUpload(bucket: string, uploadId: string): Promise<UploadInfo | undefined>;
  /** Every upload of the bucket (any order). */
  listUploads(bucket: string): Promise<UploadInfo[]>;
  /**
   * Stores one part atomically (replacing an earlier one with that number), hashing it as it
   * goes (or taking `opts.md5`, which the body has been checked against by its end); keeps
   * `opts.verified.checksums` (read once the body has ended) where it can.
   */
  putPart(bucket: string, uploadId: string, partNumber: number, body: Readable, opts: PartOptions): Promise<PartInfo>;
  /** The parts stored so far (any order). */
  listParts(bucket: string, uploadId: string): Promise<PartInfo[]>;
  openPart(bucket: string, uploadId: string, partNumber: number): Promise<Readable>;
  /** Removes the upload and all its parts. */
  deleteUpload(bucket: string, uploadId: string): Promise<void>;
  /**
   * Optional: builds the object from the stored parts inside the store (GCS compose), with
   * the same contract as putObject (atomic, conditions, `opts.etag` recorded). Without it,
   * the parts stream through the backend's putObject.
   */
  assemble?(bucket: string, upload: UploadInfo, parts: PartInfo[], attrs: ObjectAttributes, opts: PutOptions): Promise<ObjectMeta>;
}

/**
 * The attributes of an object assembled from an upload's parts: the upload's, its part sizes,
 * and the checksums Complete made for it (PutOptions.checksums, partChecksums). For every store that records
 * attributes with the object it commits (staged stores, azure).
 */
export function assembledAttributes(upload: UploadInfo, partSizes: number[], opts: PutOptions): ObjectAttributes {
  return {
    ...upload.attrs,
    partSizes,
    ...(opts.checksums ? { checksums: { ...opts.checksums } } : {}),
    ...(opts.partChecksums ? { partChecksums: [...opts.partChecksums] } : {}),
  };
}

/** The checksums a part was sent with, as a PartInfo field (none: no field). */
export function partChecksums(verified: PartOptions['verified']): Pick<PartInfo, 'checksums'> {
  const c = verified?.checksums;
  return c && Object.keys(c).length ? { checksums: { ...c } } : {};
}

function isUploadId(id: string): boolean {
  return /^[A-Za-z0-9_-]{16,64}$/.test(id);
}

/** The parts' bytes one after another, with backpressure, opening each only when it is reached. */
function concatenate(open: () => AsyncGenerator<Readable>): Readable {
  const out = new PassThrough();
  (async () => {
    for await (const part of open()) {
      for await (const chunk of part) {
        if (!out.write(chunk)) await new Promise((r) => out.once('drain', r));
      }
    }
    out.end();
  })().catch((err) => out.destroy(err as Error));
  return out;
}

export class StagedMultipartStore implements MultipartStore {
  constructor(
    private readonly backend: Backend,
    private readonly storage: PartStorage,
  ) {}

  private async upload(bucket: string, key: string, uploadId: string): Promise<UploadInfo> {
    const upload = isUploadId(uploadId) ? await this.storage.getUpload(bucket, uploadId) : undefined;
    if (!upload || upload.key !== key) throw new S3Error('NoSuchUpload', undefined, { UploadId: uploadId });
    return upload;
  }

  async createUpload(bucket: string, key: string, attrs: ObjectAttributes): Promise<string> {
    await this.backend.headBucket(bucket);
    // Random and carrying no state: the record in PartStorage is the state.
    const uploadId = newUploadId(24);
    await this.storage.createUpload(bucket, { key, uploadId, initiated: new Date(), attrs });
    return uploadId;
  }

  async uploadPart(
    bucket: string,
    key: string,
    uploadId: string,
    partNumber: number,
    body: Readable,
    opts: PartOptions = {},
  ): Promise<PartInfo> {
    await this.upload(bucket, key, uploadId);
    return this.storage.putPart(bucket, uploadId, partNumber, body, opts);
  }

  async listParts(bucket: string, key: string, uploadId: string, opts: ListPartsOptions): Promise<ListPartsPage> {
    const upload = await this.upload(bucket, key, uploadId);
    return pageOfParts(upload, await this.storage.listParts(bucket, uploadId), opts);
  }

  async completeUpload(
    bucket: string,
    key: string,
    uploadId: string,
    partNumbers: number[],
    etag: string,
    opts: PutOptions = {},
  ): Promise<ObjectMeta> {
    const upload = await this.upload(bucket, key, uploadId);
    const stored = new Map((await this.storage.listParts(bucket, uploadId)).map((p) => [p.partNumber, p]));
    const parts = partNumbers.map((n) => {
      const p = stored.get(n);
      if (!p) throw new S3Error('InvalidPart', undefined, { UploadId: uploadId, PartNumber: String(n) });
      return p;
    });
    const partSizes = parts.map((p) => p.size);
    const attrs = assembledAttributes(upload, partSizes, opts);
    // S3 dates the object when its upload was created, not when it was completed.
    const dated: PutOptions = { ...opts, etag, lastModified: upload.initiated };
    let meta: ObjectMeta;
    if (this.storage.assemble) {
      meta = await this.storage.assemble(bucket, upload, parts, attrs, dated);
    } else {
      const size = partSizes.reduce((a, b) => a + b, 0);
      const storage = this.storage;
      const body = concatenate(async function* () {
        for (const n of partNumbers) yield await storage.openPart(bucket, uploadId, n);
      });
      meta = await this.backend.putObject(bucket, key, body, attrs, { ...dated, size });
    }
    await this.storage.deleteUpload(bucket, uploadId);
    return meta;
  }

  async abortUpload(bucket: string, key: string, uploadId: string): Promise<void> {
    await this.upload(bucket, key, uploadId);
    await this.storage.deleteUpload(bucket, uploadId);
  }

  async sweepUploads(bucket: string, initiatedBefore: Date): Promise<number> {
    let removed = 0;
    for (const u of await this.storage.listUploads(bucket)) {
      if (u.initiated < initiatedBefore) {
        await this.storage.deleteUpload(bucket, u.uploadId);
        removed++;
      }
    }
    return removed;
  }

  async listUploads(bucket: string, opts: ListUploadsOptions): Promise<ListUploadsPage> {
    await this.backend.headBucket(bucket);
    return pageOfUploads(await this.storage.listUploads(bucket), opts);
  }
}

/**
 * One page of ListParts over every part of an upload (any order): by part number, after the
 * marker, at most max-parts. Shared by every MultipartStore that lists its parts whole.
 */
export function pageOfParts(upload: UploadInfo, all: PartInfo[], opts: ListPartsOptions): ListPartsPage {
  const after = all.filter((p) => p.partNumber > (opts.partNumberMarker ?? 0)).sort((a, b) => a.partNumber - b.partNumber);
  const parts = after.slice(0, opts.maxParts);
  const isTruncated = after.length > parts.length;
  return { upload, parts, isTruncated, nextPartNumberMarker: isTruncated ? parts.at(-1)?.partNumber : undefined };
}

/**
 * One page of ListMultipartUploads over every upload of a bucket (any order): S3's order (key,
 * then initiation), prefix, delimiter, markers and max-uploads. Shared by every MultipartStore.
 */
export function pageOfUploads(all: UploadInfo[], opts: ListUploadsOptions): ListUploadsPage {
  const sorted = all
    .filter((u) => u.key.startsWith(opts.prefix))
    .sort((a, b) => compareKeys(a.key, b.key) || a.initiated.getTime() - b.initiated.getTime() || (a.uploadId < b.uploadId ? -1 : 1));
  // A marker that is a common prefix (the NextKeyMarker of a page that ended on one) skips its whole group.
  const skipGroup = opts.keyMarker !== undefined && isCommonPrefix(opts.keyMarker, opts.prefix, opts.delimiter);
  const after = (u: UploadInfo) => {
    if (opts.keyMarker === undefined) return true;
    if (skipGroup && u.key.startsWith(opts.keyMarker)) return false;
    const c = compareKeys(u.key, opts.keyMarker);
    if (c !== 0) return c > 0;
    // Within the marker key, only uploads after the upload-id marker (S3: none without one).
    if (opts.uploadIdMarker === undefined) return false;
    const i = sorted.findIndex((x) => x.key === u.key && x.uploadId === opts.uploadIdMarker);
    return i !== -1 && sorted.indexOf(u) > i;
  };
  const uploads: UploadInfo[] = [];
  const commonPrefixes: string[] = [];
  let last: UploadInfo | string | undefined;
  let isTruncated = false;
  for (const u of sorted.filter(after)) {
    let prefix: string | undefined;
    if (opts.delimiter) {
      const i = u.key.indexOf(opts.delimiter, opts.prefix.length);
      if (i !== -1) prefix = u.key.slice(0, i + opts.delimiter.length);
    }
    if (prefix !== undefined && commonPrefixes.at(-1) === prefix) continue;
    if (uploads.length + commonPrefixes.length >= opts.maxUploads) {
      isTruncated = true;
      break;
    }
    if (prefix !== undefined) commonPrefixes.push(prefix);
    else uploads.push(u);
    last = prefix ?? u;
  }
  return {
    uploads,
    commonPrefixes,
    isTruncated,
    nextKeyMarker: isTruncated && last !== undefined ? (typeof last === 'string' ? last : last.key) : undefined,
    nextUploadIdMarker: isTruncated && last !== undefined && typeof last !== 'string' ? last.uploadId : undefined,
  };
}
