/**
 * Native multipart uploads on Azure block blobs. All state is in the container, so any
 * replica can continue an upload:
 *
 * - the upload: a zero-length marker blob `.s3mux/uploads/<uploadId>` carrying the key
 *   (metadata s3mux_key), the start time (s3mux_initiated) and the object's attributes (its
 *   own HTTP headers and metadata, encoded as for objects);
 * - a part: its bytes are staged as uncommitted blocks on the target blob itself (one block
 *   when the part's length is known, which it is for every S3 client; else 8 MiB blocks),
 *   with ids encoding (upload, part number, attempt nonce, index); then a zero-length record
 *   blob `.s3mux/uploads/<uploadId>/<part number>` names the attempt that holds the part and
 *   keeps its MD5 and size. Writing the record last makes a re-sent part replace the earlier
 *   one atomically; an attempt that fails half-way is never named.
 * - Complete commits the named blocks of the listed parts, in order, in one Put Block List
 *   with the attributes, the multipart ETag and the part sizes (atomic; conditional like a
 *   put), then removes the records and the marker. A zero-byte part has no block (Azure
 *   refuses empty blocks) and adds nothing.
 * - Abort and the sweep remove the marker and the records. Azure keeps uncommitted blocks
 *   until the next commit of that blob, or for a week; they are invisible meanwhile.
 *
 * Azure's limits show through: 50,000 blocks per blob (10,000 parts of one block each fit),
 * 4000 MiB per block (S3's 5 GiB parts are split when longer). Any commit to the key
 * discards every uncommitted block of that blob, so a PutObject or another upload completing
 * on the same key while this upload is open loses its parts: Complete then answers
 * InvalidPart.
 */
import { createHash } from 'node:crypto';
import type { Readable } from 'node:stream';
import { bodyFailure, S3Error } from '../../errors';
import { assembledAttributes, pageOfParts, pageOfUploads } from '../multipart/staged';
import { newUploadId } from '../multipart/upload-id';
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
  PutOptions,
  UploadInfo,
} from '../types';
import { blockId, chunksOf, MAX_BLOCK_SIZE, MAX_BLOCKS, MeasuredBody, newNonce, once } from './blocks';
import { isAzureError, toS3ErrorFromAzure } from './errors';
import type { AzureStore } from './store';
import { rawListing } from './listing';
import { decodeValue, encodeValue, fromAzure, SYS, toAzure } from './metadata';
import { UPLOADS_PREFIX } from './names';
import { DEFAULT_CONTENT_TYPE, copyAttributes } from '../attributes';

const UPLOAD_ID = /^[A-Za-z0-9_-]{22}$/;
const M = {
  key: `${SYS}key`,
  initiated: `${SYS}initiated`,
  md5: `${SYS}pmd5`,
  size: `${SYS}psize`,
  nonce: `${SYS}pnonce`,
  blocks: `${SYS}pblocks`,
} as const;
const DELETE_CONCURRENCY = 16;

interface PartRecord extends PartInfo {
  nonce: Buffer;
  blocks: number;
}

function markerName(uploadId: string): string {
  return UPLOADS_PREFIX + uploadId;
}

function partsPrefix(uploadId: string): string {
  return `${UPLOADS_PREFIX}${uploadId}/`;
}

function recordName(uploadId: string, partNumber: number): string {
  return partsPrefix(uploadId) + String(partNumber).padStart(5, '0');
}

function lower(md: Record<string, string> | undefined): Record<string, string> {
  const out: Record<string, string> = {};
  for (const [k, v] of Object.entries(md ?? {})) out[k.toLowerCase()] = v;
  return out;
}

function recordOf(name: string, md: Record<string, string> | undefined, lastModified: Date): PartRecord | undefined {
  const m = lower(md);
  const partNumber = Number(name.slice(name.lastIndexOf('/') + 1));
  const size = Number(m[M.size]);
  const blocks = Number(m[M.blocks]);
  if (
    !Number.isInteger(partNumber) ||
    !/^[0-9a-f]{32}$/.test(m[M.md5] ?? '') ||
    !Number.isInteger(size) ||
    !Number.isInteger(blocks) ||
    !/^[0-9a-f]{6}$/.test(m[M.nonce] ?? '')
  ) {
    return undefined;
  }
  return { partNumber, etag: m[M.md5], size, lastModified, nonce: Buffer.from(m[M.nonce], 'hex'), blocks };
}

async function eachLimited<T>(items: T[], limit: number, fn: (t: T) => Promise<void>): Promise<void> {
  let i = 0;
  await Promise.all(
    Array.from({ length: Math.min(limit, items.length) }, async () => {
      while (i < items.length) await fn(items[i++]);
    }),
  );
}

export class AzureMultipartStore implements MultipartStore {
  constructor(
    private readonly be: AzureStore,
    private readonly backend: Backend,
  ) {}

  private container(bucket: string) {
    return this.be.container(bucket);
  }

  /** The upload's record, or NoSuchUpload (also when it belongs to another key). */
  private async upload(bucket: string, key: string, uploadId: string): Promise<UploadInfo> {
    if (!UPLOAD_ID.test(uploadId)) throw new S3Error('NoSuchUpload', undefined, { UploadId: uploadId });
    const marker = this.container(bucket).getBlobClient(markerName(uploadId));
    let p;
    try {
      p = await marker.getProperties();
    } catch (err) {
      if (isAzureError(err, 'BlobNotFound')) throw new S3Error('NoSuchUpload', undefined, { UploadId: uploadId });
      throw toS3ErrorFromAzure(err, { bucket });
    }
    const info = this.infoOf(uploadId, p);
    if (!info || info.key !== key) throw new S3Error('NoSuchUpload', undefined, { UploadId: uploadId });
    return info;
  }

  /** The upload a marker describes. Initiated: the marker's creation by Azure's clock (replicas' clocks may differ). */
  private infoOf(
    uploadId: string,
    p: { metadata?: Record<string, string>; createdOn?: Date; lastModified?: Date },
  ): UploadInfo | undefined {
    const md = lower(p.metadata);
    if (md[M.key] === undefined) return undefined;
    const initiated = p.createdOn ?? p.lastModified ?? new Date(md[M.initiated] ?? 0);
    return {
      key: decodeValue(md[M.key]),
      uploadId,
      initiated: Number.isNaN(initiated.getTime()) ? new Date(0) : initiated,
      // The marker's own tier says nothing about the upload's class (its metadata does).
      attrs: fromAzure({ ...p, accessTier: undefined }).attrs,
    };
  }

  async createUpload(bucket: string, key: string, attrs: ObjectAttributes): Promise<string> {
    const uploadId = newUploadId(16);
    const stored = copyAttributes(attrs);
    if (stored.contentType === undefined) stored.contentType = DEFAULT_CONTENT_TYPE;
    delete stored.partSizes;
    const { headers, metadata } = toAzure(stored);
    metadata[M.key] = encodeValue(key);
    metadata[M.initiated] = new Date().toISOString();
    await this.be.call({ bucket }, () =>
      this.container(bucket).getBlockBlobClient(markerName(uploadId)).upload(Buffer.alloc(0), 0, { blobHTTPHeaders: headers, metadata }),
    );
    return uploadId;
  }

  async uploadPart(
    bucket: string,
    key: string,
    uploadId: string,
    partNumber: number,
    body: Readable,
    opts: { size?: number } = {},
  ): Promise<PartInfo> {
    try {
      await this.upload(bucket, key, uploadId);
    } catch (err) {
      body.resume();
      throw err;
    }
    const target = this.be.blob(bucket, key);
    const owner = Buffer.from(uploadId, 'base64url');
    const nonce = newNonce();
    const ctx = { bucket, key, multipart: true };
    const size = opts.size;
    let md5: string;
    let total: number;
    let blocks: number;
    if (size !== undefined && size <= MAX_BLOCK_SIZE) {
      const measured = MeasuredBody.of(body, size);
      if (size === 0) {
        // Azure refuses empty blocks: an empty part is only a record.
        try {
          for await (const _ of measured) {
            /* drain */
          }
        } catch (err) {
          throw bodyFailure(measured.failure ?? err);
        }
        blocks = 0;
      } else {
        try {
          await this.be
            .streamingBlob(bucket, key)
            .stageBlock(blockId('M', owner, partNumber, nonce, 0), once(measured), size, { abortSignal: measured.abort.signal });
        } catch (err) {
          measured.discard();
          throw measured.failure !== undefined ? bodyFailure(measured.failure) : toS3ErrorFromAzure(err, ctx);
        }
        await measured.ended();
        blocks = 1;
      }
      md5 = measured.md5.digest('hex');
      total = size;
    } else {
      const hash = createHash('md5');
      blocks = 0;
      total = 0;
      try {
        for await (const chunk of chunksOf(body, this.be.blockSize, size, hash)) {
          if (blocks >= 0xffff) throw new S3Error('EntityTooLarge');
          const id = blockId('M', owner, partNumber, nonce, blocks++);
          total += chunk.length;
          const chunkMd5 = createHash('md5').update(chunk).digest();
          await this.be.call(ctx, () => target.stageBlock(id, chunk, chunk.length, { transactionalContentMD5: chunkMd5 }));
        }
      } catch (err) {
        if (!body.destroyed) body.resume();
        throw err;
      }
      md5 = hash.digest('hex');
    }
    const record = this.container(bucket).getBlockBlobClient(recordName(uploadId, partNumber));
    const res = await this.be.call({ bucket }, () =>
      record.upload(Buffer.alloc(0), 0, {
        metadata: { [M.md5]: md5, [M.size]: String(total), [M.nonce]: nonce.toString('hex'), [M.blocks]: String(blocks) },
      }),
    );
    return { partNumber, etag: md5, size: total, lastModified: res.lastModified ?? new Date() };
  }

  /** Every part record of the upload, by part number. */
  private async records(bucket: string, uploadId: string): Promise<Map<number, PartRecord>> {
    const out = new Map<number, PartRecord>();
    await this.be.call({ bucket }, async () => {
      for await (const item of rawListing(this.container(bucket), { prefix: partsPrefix(uploadId), hierarchical: false, pageSize: 5000 })) {
        if (!item.blob) continue;
        const r = recordOf(item.name, item.blob.metadata, item.blob.properties.lastModified);
        if (r) out.set(r.partNumber, r);
      }
    });
    return out;
  }

  async listParts(bucket: string, key: string, uploadId: string, opts: ListPartsOptions): Promise<ListPartsPage> {
    const upload = await this.upload(bucket, key, uploadId);
    const all = [...(await this.records(bucket, uploadId)).values()].map(({ partNumber, etag, size, lastModified }): PartInfo => ({
      partNumber,
      etag,
      size,
      lastModified,
    }));
    return pageOfParts(upload, all, opts);
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
    const records = await this.records(bucket, uploadId);
    const owner = Buffer.from(uploadId, 'base64url');
    const ids: string[] = [];
    const partSizes: number[] = [];
    for (const n of partNumbers) {
      const r = records.get(n);
      if (!r) throw new S3Error('InvalidPart', undefined, { UploadId: uploadId, PartNumber: String(n) });
      partSizes.push(r.size);
      for (let i = 0; i < r.blocks; i++) ids.push(blockId('M', owner, n, r.nonce, i));
    }
    if (ids.length > MAX_BLOCKS) {
      throw new S3Error('EntityTooLarge', `The object would have ${ids.length} Azure blocks; Azure allows ${MAX_BLOCKS}.`);
    }
    const attrs = assembledAttributes(upload, partSizes, opts);
    const { headers, metadata, tier } = toAzure(attrs, { etag });
    const target = this.be.blob(bucket, key);
    const cas = await this.be.cas(bucket, key, opts.conditions);
    const res = await this.be.call({ bucket, key, multipart: true }, () =>
      target.commitBlockList(ids, { blobHTTPHeaders: headers, metadata, tier, conditions: cas }),
    );
    await this.remove(bucket, uploadId, records).catch(() => {});
    return {
      ...attrs,
      key,
      size: partSizes.reduce((a, b) => a + b, 0),
      etag,
      lastModified: res.lastModified ?? new Date(),
    };
  }

  /**
   * Deletes the marker (the upload is gone from then on), then the part records; records a
   * crash leaves behind are swept as orphans.
   */
  private async remove(bucket: string, uploadId: string, records?: Map<number, PartRecord>): Promise<void> {
    const container = this.container(bucket);
    await this.be.call({ bucket }, () => container.getBlobClient(markerName(uploadId)).deleteIfExists());
    const parts = [...(records ?? (await this.records(bucket, uploadId))).keys()];
    await eachLimited(parts, DELETE_CONCURRENCY, async (n) => {
      await container.getBlobClient(recordName(uploadId, n)).deleteIfExists();
    });
  }

  async abortUpload(bucket: string, key: string, uploadId: string): Promise<void> {
    await this.upload(bucket, key, uploadId);
    await this.be.call({ bucket }, () => this.remove(bucket, uploadId));
  }

  /** Every upload of the bucket, from the markers. */
  private async allUploads(bucket: string): Promise<UploadInfo[]> {
    const out: UploadInfo[] = [];
    await this.be.call({ bucket }, async () => {
      for await (const item of rawListing(this.container(bucket), { prefix: UPLOADS_PREFIX, hierarchical: true, pageSize: 5000 })) {
        if (!item.blob) continue;
        const uploadId = item.name.slice(UPLOADS_PREFIX.length);
        if (!UPLOAD_ID.test(uploadId)) continue;
        const info = this.infoOf(uploadId, { ...item.blob.properties, metadata: item.blob.metadata });
        if (info) out.push(info);
      }
    });
    return out;
  }

  async listUploads(bucket: string, opts: ListUploadsOptions): Promise<ListUploadsPage> {
    await this.backend.headBucket(bucket);
    return pageOfUploads(await this.allUploads(bucket), opts);
  }

  /**
   * Removes uploads begun before the cutoff, and part records left without a marker (a part
   * that arrived while its upload was aborted) older than it.
   */
  async sweepUploads(bucket: string, initiatedBefore: Date): Promise<number> {
    const markers = new Set<string>();
    const orphans: string[] = [];
    let removed = 0;
    await this.be.call({ bucket }, async () => {
      for await (const item of rawListing(this.container(bucket), { prefix: UPLOADS_PREFIX, hierarchical: true, pageSize: 5000 })) {
        const id = item.name.slice(UPLOADS_PREFIX.length).replace(/\/$/, '');
        if (!UPLOAD_ID.test(id)) continue;
        if (!item.blob) {
          orphans.push(id);
          continue;
        }
        markers.add(id);
        const info = this.infoOf(id, { ...item.blob.properties, metadata: item.blob.metadata });
        if (info && info.initiated < initiatedBefore) {
          await this.remove(bucket, id);
          removed++;
        }
      }
    });
    for (const id of orphans) {
      if (markers.has(id)) continue;
      const container = this.container(bucket);
      const old = [...(await this.records(bucket, id)).values()].filter((r) => r.lastModified < initiatedBefore);
      await eachLimited(old, DELETE_CONCURRENCY, async (r) => {
        await container.getBlobClient(recordName(id, r.partNumber)).deleteIfExists();
      });
    }
    return removed;
  }
}
