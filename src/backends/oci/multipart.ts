/**
 * Native multipart uploads on OCI (CreateMultipartUpload, UploadPart, ListMultipartUploadParts,
 * CommitMultipartUpload, AbortMultipartUpload, ListMultipartUploads). The upload, its parts
 * and the attributes the object will have all live in OCI, so any replica continues an
 * upload another began, and a restart loses nothing.
 *
 * - The upload id is OCI's; OCI checks it against the object name, so another key's id is
 *   NoSuchUpload.
 * - A part's S3 ETag is the hex of its MD5 (OCI's part md5); Complete names OCI's part ETags.
 *   OCI's multipart MD5 of the committed object is S3's `<md5 of md5s>-N`.
 * - Attributes are given at create (content headers, `opc-meta-*`) and applied by OCI at
 *   commit. The part sizes of the result are recorded after the commit in the reserved area
 *   (layout.ts), for GetObject?partNumber and GetObjectAttributes.
 * - A part whose body fails never delivers its last byte (body.ts): OCI stores nothing and
 *   keeps a part sent earlier under that number.
 */
import { Readable } from 'node:stream';
import { bodyFailure, S3Error } from '../../errors';
import { storedAttributes } from '../attributes';
import { pageOfParts, pageOfUploads } from '../multipart/staged';
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
import { readUpTo } from './body';
import { MeasuredBody } from '../measured-body';
import { toS3ErrorFromOci, type ErrorContext } from './errors';
import { dateOf, fromMetadata, META, s3EtagOf, tierOf, toOci } from './metadata';
import { ociNames } from './names';
import type { OciClient } from './client';
import type { ReservedStore } from '../reserved-store';
import { LAYOUT_FIELD, recordLayout } from './layout';

/** OCI upload ids are UUIDs; anything far from that is refused before a request. */
const UPLOAD_ID = /^[A-Za-z0-9._-]{8,128}$/;
const PAGE = 1000;

interface OciPart {
  partNumber: number;
  etag: string;
  md5: string;
  size: number;
}

interface OciUpload {
  object: string;
  uploadId: string;
  timeCreated?: string;
  storageTier?: string;
}

/** What the multipart store uses of its backend (index.ts). */
export interface OciMultipartHost {
  readonly client: OciClient;
  readonly bufferSize: number;
  readonly reserved: ReservedStore;
  bucketPath(bucket: string, ...rest: string[]): Promise<string>;
  call<T>(ctx: ErrorContext, fn: () => Promise<T>): Promise<T>;
  cas(bucket: string, key: string, conditions: PutOptions['conditions']): Promise<Record<string, string>>;
  headObject(bucket: string, key: string): Promise<ObjectMeta>;
  headBucket(bucket: string): Promise<unknown>;
}

export class OciMultipartStore implements MultipartStore {
  constructor(private readonly be: OciMultipartHost) {}

  private uploadsPath(bucket: string, name?: string): Promise<string> {
    return name === undefined ? this.be.bucketPath(bucket, 'u') : this.be.bucketPath(bucket, 'u', name);
  }

  private checkId(uploadId: string): void {
    if (typeof uploadId !== 'string' || !UPLOAD_ID.test(uploadId))
      throw new S3Error('NoSuchUpload', undefined, { UploadId: String(uploadId) });
  }

  private ctx(bucket: string, key: string): ErrorContext {
    return { bucket, key, multipart: true };
  }

  /** Starts an upload of `name` with the attributes the object will have; `layout`: its part sizes will be recorded. */
  async begin(bucket: string, name: string, attrs: ObjectAttributes, layout = false): Promise<string> {
    const stored = storedAttributes(attrs);
    delete stored.partSizes;
    const { headers, metadata } = toOci(stored);
    const md: Record<string, string> = {};
    for (const [k, v] of Object.entries(metadata)) md[META + k] = v;
    if (layout) md[META + LAYOUT_FIELD] = '1';
    const r = await this.be.client.json<{ uploadId: string }>({
      method: 'POST',
      path: await this.uploadsPath(bucket),
      json: {
        object: name,
        contentType: headers['content-type'],
        contentLanguage: headers['content-language'],
        contentEncoding: headers['content-encoding'],
        contentDisposition: headers['content-disposition'],
        cacheControl: headers['cache-control'],
        storageTier: tierOf(stored.storageClass),
        metadata: md,
      },
    });
    return r.value.uploadId;
  }

  async createUpload(bucket: string, key: string, attrs: ObjectAttributes): Promise<string> {
    return this.be.call({ bucket }, () => this.begin(bucket, ociNames.nameOf(key), attrs, true));
  }

  /** Sends one part of exactly `size` bytes (unmapped errors). */
  private async sendPart(
    bucket: string,
    name: string,
    uploadId: string,
    partNumber: number,
    body: Readable,
    size: number,
  ): Promise<{ md5: string; ociEtag: string }> {
    // OCI stores the object once it has `size` bytes: the last chunk waits for the body's clean end.
    const out = MeasuredBody.of(body, size, { holdLast: true });
    try {
      const res = await this.be.client.send({
        method: 'PUT',
        path: await this.uploadsPath(bucket, name),
        query: { uploadId, uploadPartNum: partNumber },
        stream: { body: out, length: size },
      });
      res.body.resume();
      return { md5: out.md5.digest('hex'), ociEtag: res.headers.etag ?? '' };
    } catch (err) {
      out.discard();
      if (out.failure !== undefined) throw bodyFailure(out.failure);
      throw err;
    }
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
      this.checkId(uploadId);
      // OCI needs each part's length up front, as S3's UploadPart does.
      if (opts.size === undefined) throw new S3Error('MissingContentLength');
    } catch (err) {
      body.resume();
      throw err;
    }
    const r = await this.be.call(this.ctx(bucket, key), () =>
      this.sendPart(bucket, ociNames.nameOf(key), uploadId, partNumber, body, opts.size!),
    );
    return { partNumber, etag: r.md5, size: opts.size, lastModified: new Date() };
  }

  /** Every part of the upload, in part-number order (unmapped errors). */
  private async parts(bucket: string, name: string, uploadId: string): Promise<OciPart[]> {
    const out: OciPart[] = [];
    let page: string | undefined;
    do {
      const r = await this.be.client.json<OciPart[]>({
        method: 'GET',
        path: await this.uploadsPath(bucket, name),
        query: { uploadId, limit: PAGE, page },
      });
      out.push(...(r.value ?? []));
      page = r.headers['opc-next-page'];
    } while (page);
    return out.sort((a, b) => a.partNumber - b.partNumber);
  }

  /** The upload's summary (its start and tier), found among the bucket's uploads. */
  private async summary(bucket: string, name: string, uploadId: string): Promise<OciUpload | undefined> {
    for (const u of await this.rawUploads(bucket)) if (u.uploadId === uploadId && u.object === name) return u;
    return undefined;
  }

  async listParts(bucket: string, key: string, uploadId: string, opts: ListPartsOptions): Promise<ListPartsPage> {
    this.checkId(uploadId);
    const name = ociNames.nameOf(key);
    return this.be.call(this.ctx(bucket, key), async () => {
      const stored = await this.parts(bucket, name, uploadId);
      const u = await this.summary(bucket, name, uploadId);
      if (!u) throw new S3Error('NoSuchUpload', undefined, { UploadId: uploadId });
      const all = stored.map((p): PartInfo => ({
        partNumber: p.partNumber,
        etag: s3EtagOf(p.md5, p.etag),
        size: Number(p.size),
        lastModified: dateOf(u.timeCreated),
      }));
      return pageOfParts(this.infoOf(key, u), all, opts);
    });
  }

  private infoOf(key: string, u: OciUpload): UploadInfo {
    return {
      key,
      uploadId: u.uploadId,
      initiated: dateOf(u.timeCreated),
      attrs: fromMetadata({}, { 'storage-tier': u.storageTier }).attrs,
    };
  }

  /** Commits the listed parts (unmapped errors); returns the committed version's OCI ETag. */
  private async commit(
    bucket: string,
    name: string,
    uploadId: string,
    parts: { partNum: number; etag: string }[],
    cas: Record<string, string>,
  ): Promise<string> {
    const headers = await this.be.client.headers({
      method: 'POST',
      path: await this.uploadsPath(bucket, name),
      query: { uploadId },
      headers: cas,
      json: { partsToCommit: parts },
    });
    return headers.etag ?? '';
  }

  async completeUpload(
    bucket: string,
    key: string,
    uploadId: string,
    partNumbers: number[],
    _etag: string,
    opts: PutOptions = {},
  ): Promise<ObjectMeta> {
    this.checkId(uploadId);
    const name = ociNames.nameOf(key);
    const ctx = this.ctx(bucket, key);
    const stored = new Map((await this.be.call(ctx, () => this.parts(bucket, name, uploadId))).map((p) => [p.partNumber, p]));
    const parts = partNumbers.map((n) => {
      const p = stored.get(n);
      if (!p) throw new S3Error('InvalidPart', undefined, { UploadId: uploadId, PartNumber: String(n) });
      return { partNum: n, etag: p.etag, size: Number(p.size) };
    });
    const cas = await this.be.cas(bucket, key, opts.conditions);
    const committed = await this.be.call({ bucket, key }, () =>
      this.commit(
        bucket,
        name,
        uploadId,
        parts.map(({ partNum, etag }) => ({ partNum, etag })),
        cas,
      ),
    );
    // The object is there: a record that cannot be written leaves it readable as one part, not failed.
    await recordLayout(
      this.be.reserved,
      bucket,
      name,
      committed,
      parts.map((p) => p.size),
    ).catch(() => {});
    return this.be.headObject(bucket, key);
  }

  async abortUpload(bucket: string, key: string, uploadId: string): Promise<void> {
    this.checkId(uploadId);
    await this.be.call(this.ctx(bucket, key), async () => {
      await this.be.client.headers({ method: 'DELETE', path: await this.uploadsPath(bucket, ociNames.nameOf(key)), query: { uploadId } });
    });
  }

  /** Every upload in the bucket as OCI lists them (unmapped errors). */
  private async rawUploads(bucket: string): Promise<OciUpload[]> {
    const out: OciUpload[] = [];
    let page: string | undefined;
    do {
      const r = await this.be.client.json<OciUpload[]>({
        method: 'GET',
        path: await this.uploadsPath(bucket),
        query: { limit: PAGE, page },
      });
      out.push(...(r.value ?? []));
      page = r.headers['opc-next-page'];
    } while (page);
    return out;
  }

  /** Every upload of the bucket for a key s3mux can name. */
  private async allUploads(bucket: string): Promise<UploadInfo[]> {
    const out: UploadInfo[] = [];
    for (const u of await this.be.call({ bucket }, () => this.rawUploads(bucket))) {
      const key = ociNames.keyOfEscaped(u.object) ?? (ociNames.needsEscape(u.object) ? undefined : u.object);
      if (key !== undefined) out.push(this.infoOf(key, u));
    }
    return out;
  }

  async listUploads(bucket: string, opts: ListUploadsOptions): Promise<ListUploadsPage> {
    await this.be.headBucket(bucket);
    return pageOfUploads(await this.allUploads(bucket), opts);
  }

  async sweepUploads(bucket: string, initiatedBefore: Date): Promise<number> {
    let removed = 0;
    for (const u of await this.be.call({ bucket }, () => this.rawUploads(bucket))) {
      if (dateOf(u.timeCreated) >= initiatedBefore) continue;
      try {
        await this.be.client.headers({ method: 'DELETE', path: await this.uploadsPath(bucket, u.object), query: { uploadId: u.uploadId } });
        removed++;
      } catch (err) {
        if (toS3ErrorFromOci(err, { bucket, multipart: true }).code !== 'NoSuchUpload') throw toS3ErrorFromOci(err, { bucket });
      }
    }
    return removed;
  }

  /** @internal Aborts every upload of the bucket (before the bucket is deleted). */
  async abortAll(bucket: string): Promise<void> {
    await this.sweepUploads(bucket, new Date(8.64e15));
  }

  /**
   * @internal A body of unknown length longer than the buffer: `head`, then the rest of
   * `body`, as parts of the buffer's size, committed under the write conditions.
   */
  async putUnsized(
    bucket: string,
    key: string,
    head: Buffer,
    body: Readable,
    attrs: ObjectAttributes,
    cas: Record<string, string>,
  ): Promise<ObjectMeta> {
    await this.putUnsizedAs(bucket, ociNames.nameOf(key), { bucket, key }, head, body, attrs, cas);
    return this.be.headObject(bucket, key);
  }

  /** @internal putUnsized onto the object `name` itself (s3mux's own documents). */
  async putUnsizedAs(
    bucket: string,
    name: string,
    ctx: { bucket: string; key: string },
    head: Buffer,
    body: Readable,
    attrs: ObjectAttributes,
    cas: Record<string, string>,
  ): Promise<void> {
    const uploadId = await this.be.call(ctx, () => this.begin(bucket, name, attrs));
    try {
      const parts: { partNum: number; etag: string }[] = [];
      let chunk = head;
      for (let n = 1; ; n++) {
        if (n > 10_000) throw new S3Error('EntityTooLarge');
        const next = await readUpTo(body, this.be.bufferSize);
        const sent = await this.be.call(ctx, () => this.sendPart(bucket, name, uploadId, n, Readable.from([chunk]), chunk.length));
        parts.push({ partNum: n, etag: sent.ociEtag });
        if (next.ended && next.head.length === 0) break;
        chunk = next.head;
        if (next.ended) {
          const last = await this.be.call(ctx, () => this.sendPart(bucket, name, uploadId, n + 1, Readable.from([chunk]), chunk.length));
          parts.push({ partNum: n + 1, etag: last.ociEtag });
          break;
        }
      }
      await this.be.call(ctx, () => this.commit(bucket, name, uploadId, parts, cas));
    } catch (err) {
      await this.be.client.headers({ method: 'DELETE', path: await this.uploadsPath(bucket, name), query: { uploadId } }).catch(() => {});
      if (!body.destroyed) body.resume();
      throw err;
    }
  }
}
