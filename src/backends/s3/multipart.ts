/**
 * Native multipart: every call maps onto the store's own CreateMultipartUpload, UploadPart,
 * ListParts, CompleteMultipartUpload, AbortMultipartUpload and ListMultipartUploads. Upload
 * ids are the store's and the parts live in the store, so any s3mux replica can continue an
 * upload another one began (nothing is kept only in this process).
 *
 * Completing needs each part's ETag, which MultipartStore.completeUpload does not receive:
 * they are read back with ListParts (the source of truth). Only when the store has no
 * ListParts (s3rver) does it fall back to the ETags this process saw in uploadPart's answers.
 */
import type { Readable } from 'node:stream';
import { LRUCache } from 'lru-cache';
import { S3Error, isS3Error } from '../../errors';
import { checkClientKey } from './client-keys';
import { RESERVED_DOCS_PREFIX } from '../reserved-objects';
import type {
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
import { holdLast } from './body';
import { attributeHeaders, parseDate, unquote } from './headers';
import { discard, encodeKey, md5Base64, type S3Http } from './http';
import { bool, child, escapeXml, list, S3_NS, text, urlDecoded, XML_HEADER } from './xml';
import type { StoreEncryption } from './encryption';

/** What the backend provides to the store: its transport and the write-condition handling. */
export interface MultipartHost {
  http: S3Http;
  encryption: StoreEncryption;
  /** Runs `commit` with the conditions checked (natively or by the host's check-then-write). */
  withConditions<T>(
    bucket: string,
    key: string,
    opts: PutOptions | undefined,
    commit: (headers: Record<string, string>) => Promise<T>,
  ): Promise<T>;
  headObject(bucket: string, key: string): Promise<ObjectMeta>;
}

function partsXml(parts: { partNumber: number; etag: string }[]): string {
  const body = parts.map((p) => `<Part><PartNumber>${p.partNumber}</PartNumber><ETag>"${escapeXml(p.etag)}"</ETag></Part>`).join('');
  return `${XML_HEADER}<CompleteMultipartUpload xmlns="${S3_NS}">${body}</CompleteMultipartUpload>`;
}

export class S3MultipartStore implements MultipartStore {
  /** uploadId -> part number -> {etag, size}: only for stores without ListParts. */
  private readonly seen = new LRUCache<string, Map<number, { etag: string; size: number }>>({ max: 10_000 });

  constructor(private readonly host: MultipartHost) {}

  private get http(): S3Http {
    return this.host.http;
  }

  async createUpload(bucket: string, key: string, attrs: ObjectAttributes): Promise<string> {
    checkClientKey(key);
    if (attrs.serverSideEncryption) await this.host.encryption.before(bucket);
    return this.beginUpload(bucket, key, attrs);
  }

  /** @internal CreateMultipartUpload on any key (the backend's own uploads: large bodies, s3mux's documents). */
  /** `extra`: more headers for CreateMultipartUpload (object lock). */
  async beginUpload(bucket: string, key: string, attrs: ObjectAttributes, extra?: Record<string, string>): Promise<string> {
    const { reply, doc } = await this.http.sendXml({
      method: 'POST',
      bucket,
      key,
      query: { uploads: '' },
      headers: { ...attributeHeaders(attrs, { checksums: false }), ...extra },
      notFound: 'NoSuchBucket',
    });
    const id = text(child(doc?.InitiateMultipartUploadResult, 'UploadId'));
    if (!id) throw new S3Error('InternalError', `The storage backend '${this.http.name}' returned no upload id.`);
    if (attrs.serverSideEncryption && !this.host.encryption.confirmed(bucket, reply.headers)) {
      // Nothing is stored yet: the upload goes, and the client hears the refusal.
      await this.dropUpload(bucket, key, id).catch(() => {});
      throw this.host.encryption.refusal();
    }
    return id;
  }

  async uploadPart(
    bucket: string,
    key: string,
    uploadId: string,
    partNumber: number,
    body: Readable,
    opts: { size?: number } = {},
  ): Promise<PartInfo> {
    checkClientKey(key);
    if (opts.size === undefined) {
      // S3 itself requires Content-Length on UploadPart; a part can be 5 GiB, too much to stage.
      body.destroy();
      throw new S3Error('MissingContentLength');
    }
    return this.sendPart(bucket, key, uploadId, partNumber, holdLast(body), opts.size);
  }

  /** UploadPart with a Buffer (may be sent again) or a stream of exactly `size` bytes. */
  async sendPart(
    bucket: string,
    key: string,
    uploadId: string,
    partNumber: number,
    body: Buffer | Readable,
    size: number,
    headers?: Record<string, string>,
  ): Promise<PartInfo> {
    const reply = await this.http.send({
      method: 'PUT',
      bucket,
      key,
      query: { partNumber, uploadId },
      body,
      contentLength: size,
      headers,
      notFound: 'NoSuchUpload',
    });
    discard(reply.body);
    const etag = unquote(reply.headers.etag);
    const checksums: Record<string, string> = {};
    for (const [name, v] of Object.entries(reply.headers)) {
      if (name.startsWith('x-amz-checksum-') && name !== 'x-amz-checksum-type') checksums[name.slice('x-amz-checksum-'.length)] = v;
    }
    let parts = this.seen.get(uploadId);
    if (!parts) this.seen.set(uploadId, (parts = new Map()));
    parts.set(partNumber, { etag, size });
    return {
      partNumber,
      etag,
      size,
      lastModified: parseDate(reply.headers.date) ?? new Date(),
      ...(Object.keys(checksums).length ? { checksums } : {}),
    };
  }

  async listParts(bucket: string, key: string, uploadId: string, opts: ListPartsOptions): Promise<ListPartsPage> {
    checkClientKey(key);
    const { doc } = await this.http.sendXml({
      method: 'GET',
      bucket,
      key,
      query: { uploadId, 'max-parts': opts.maxParts, 'part-number-marker': opts.partNumberMarker || undefined },
      notFound: 'NoSuchUpload',
    });
    const root = doc?.ListPartsResult;
    if (!root) throw new S3Error('InternalError', `The storage backend '${this.http.name}' sent no ListPartsResult.`);
    const parts: PartInfo[] = list(child(root, 'Part')).map((p) => {
      const checksums: Record<string, string> = {};
      for (const alg of ['CRC32', 'CRC32C', 'CRC64NVME', 'SHA1', 'SHA256']) {
        const v = text(child(p, `Checksum${alg}`));
        if (v) checksums[alg.toLowerCase()] = v;
      }
      return {
        partNumber: Number(text(child(p, 'PartNumber'))),
        etag: unquote(text(child(p, 'ETag'))),
        size: Number(text(child(p, 'Size')) ?? 0),
        lastModified: parseDate(text(child(p, 'LastModified'))) ?? new Date(0),
        ...(Object.keys(checksums).length ? { checksums } : {}),
      };
    });
    const truncated = bool(child(root, 'IsTruncated'));
    const next = Number(text(child(root, 'NextPartNumberMarker')));
    const storageClass = text(child(root, 'StorageClass'));
    const upload: UploadInfo = {
      key,
      uploadId,
      initiated: parseDate(text(child(root, 'Initiated'))) ?? new Date(0),
      attrs: { userMetadata: {}, ...(storageClass && storageClass !== 'STANDARD' ? { storageClass } : {}) },
    };
    return {
      upload,
      parts,
      isTruncated: truncated,
      nextPartNumberMarker: truncated ? (Number.isInteger(next) && next > 0 ? next : parts.at(-1)?.partNumber) : undefined,
    };
  }

  /** Every stored part, by number: ListParts, or what this process saw when the store has none. */
  private async storedParts(bucket: string, key: string, uploadId: string): Promise<Map<number, { etag: string; size: number }>> {
    const out = new Map<number, { etag: string; size: number }>();
    let marker: number | undefined;
    try {
      for (;;) {
        const page = await this.listParts(bucket, key, uploadId, { partNumberMarker: marker, maxParts: 1000 });
        for (const p of page.parts) out.set(p.partNumber, { etag: p.etag, size: p.size });
        if (!page.isTruncated || page.nextPartNumberMarker === undefined || page.nextPartNumberMarker === marker) return out;
        marker = page.nextPartNumberMarker;
      }
    } catch (err) {
      const seen = this.seen.get(uploadId);
      if (isS3Error(err, 'NotImplemented') && seen) return seen;
      throw err;
    }
  }

  async completeUpload(
    bucket: string,
    key: string,
    uploadId: string,
    partNumbers: number[],
    etag: string,
    opts?: PutOptions,
  ): Promise<ObjectMeta> {
    checkClientKey(key);
    const stored = await this.storedParts(bucket, key, uploadId);
    const chosen = partNumbers.map((n) => {
      const p = stored.get(n);
      if (!p) throw new S3Error('InvalidPart', undefined, { UploadId: uploadId, PartNumber: String(n) });
      return { partNumber: n, ...p };
    });
    return this.completeWith(bucket, key, uploadId, chosen, opts, etag);
  }

  /**
   * CompleteMultipartUpload with the parts' ETags known. `expectedEtag`, when given, lets a
   * retried Complete that finds the upload gone recognise that its first attempt succeeded.
   */
  async completeWith(
    bucket: string,
    key: string,
    uploadId: string,
    chosen: { partNumber: number; etag: string; size: number }[],
    opts: PutOptions | undefined,
    expectedEtag?: string,
  ): Promise<ObjectMeta> {
    const size = chosen.reduce((s, p) => s + p.size, 0);
    const xml = partsXml(chosen);
    return this.host.withConditions(bucket, key, opts, async (conditionHeaders) => {
      let result: { etag: string; lastModified: Date };
      try {
        const { reply, doc } = await this.http.sendXml({
          method: 'POST',
          bucket,
          key,
          query: { uploadId },
          headers: { 'content-type': 'application/xml', 'content-md5': md5Base64(xml), ...conditionHeaders },
          body: xml,
          notFound: 'NoSuchUpload',
        });
        const root = doc?.CompleteMultipartUploadResult;
        result = {
          etag: unquote(text(child(root, 'ETag')) ?? reply.headers.etag),
          lastModified: parseDate(reply.headers.date) ?? new Date(),
        };
      } catch (err) {
        // A retried Complete whose first attempt did complete finds no upload: if the object
        // is the one this upload makes, that attempt succeeded.
        if (isS3Error(err, 'NoSuchUpload') && ((err as { attempts?: number }).attempts ?? 1) > 1) {
          const meta = await this.host.headObject(bucket, key).catch(() => undefined);
          if (meta && expectedEtag !== undefined && meta.etag === expectedEtag) return meta;
        }
        throw err;
      }
      this.seen.delete(uploadId);
      return { key, size, etag: result.etag, lastModified: result.lastModified, userMetadata: {} };
    });
  }

  async abortUpload(bucket: string, key: string, uploadId: string): Promise<void> {
    checkClientKey(key);
    await this.dropUpload(bucket, key, uploadId);
  }

  /** @internal AbortMultipartUpload on any key. */
  async dropUpload(bucket: string, key: string, uploadId: string): Promise<void> {
    const reply = await this.http.send({ method: 'DELETE', bucket, key, query: { uploadId }, notFound: 'NoSuchUpload' });
    discard(reply.body);
    this.seen.delete(uploadId);
  }

  async listUploads(bucket: string, opts: ListUploadsOptions): Promise<ListUploadsPage> {
    const { doc } = await this.http.sendXml({
      method: 'GET',
      bucket,
      query: {
        uploads: '',
        prefix: opts.prefix || undefined,
        delimiter: opts.delimiter || undefined,
        'key-marker': opts.keyMarker || undefined,
        'upload-id-marker': opts.keyMarker ? opts.uploadIdMarker || undefined : undefined,
        'max-uploads': opts.maxUploads,
        'encoding-type': 'url',
      },
      notFound: 'NoSuchBucket',
    });
    const root = doc?.ListMultipartUploadsResult;
    if (!root) throw new S3Error('InternalError', `The storage backend '${this.http.name}' sent no ListMultipartUploadsResult.`);
    const encoded = (text(child(root, 'EncodingType')) ?? '').toLowerCase() === 'url';
    const uploads: UploadInfo[] = list(child(root, 'Upload')).flatMap((u) => {
      const storageClass = text(child(u, 'StorageClass'));
      const key = urlDecoded(encoded, text(child(u, 'Key'))) ?? '';
      if (key.startsWith(RESERVED_DOCS_PREFIX)) return []; // a document of s3mux's on its way
      const info: UploadInfo = {
        key,
        uploadId: text(child(u, 'UploadId')) ?? '',
        initiated: parseDate(text(child(u, 'Initiated'))) ?? new Date(0),
        attrs: { userMetadata: {}, ...(storageClass && storageClass !== 'STANDARD' ? { storageClass } : {}) },
      };
      return [info];
    });
    const commonPrefixes = list(child(root, 'CommonPrefixes'))
      .map((c) => urlDecoded(encoded, text(child(c, 'Prefix'))) ?? '')
      .filter((p) => !p.startsWith(RESERVED_DOCS_PREFIX));
    const truncated = bool(child(root, 'IsTruncated'));
    return {
      uploads,
      commonPrefixes,
      isTruncated: truncated,
      nextKeyMarker: truncated ? urlDecoded(encoded, text(child(root, 'NextKeyMarker'))) || undefined : undefined,
      nextUploadIdMarker: truncated ? text(child(root, 'NextUploadIdMarker')) || undefined : undefined,
    };
  }

  async sweepUploads(bucket: string, initiatedBefore: Date): Promise<number> {
    let removed = 0;
    let keyMarker: string | undefined;
    let uploadIdMarker: string | undefined;
    for (let pages = 0; pages < 10_000; pages++) {
      const page = await this.listUploads(bucket, { prefix: '', keyMarker, uploadIdMarker, maxUploads: 1000 });
      for (const u of page.uploads) {
        if (u.initiated.getTime() >= initiatedBefore.getTime()) continue;
        try {
          await this.abortUpload(bucket, u.key, u.uploadId);
          removed++;
        } catch (err) {
          if (!isS3Error(err, 'NoSuchUpload')) throw err; // another replica got there first
        }
      }
      if (!page.isTruncated || (page.nextKeyMarker === keyMarker && page.nextUploadIdMarker === uploadIdMarker)) break;
      keyMarker = page.nextKeyMarker;
      uploadIdMarker = page.nextUploadIdMarker;
    }
    return removed;
  }
}

/** For callers that build copy sources: `/bucket/key`, URL-encoded. */
export function copySource(bucket: string, key: string): string {
  return `/${encodeURIComponent(bucket)}/${encodeKey(key)}`;
}
