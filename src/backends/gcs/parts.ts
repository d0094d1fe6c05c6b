/**
 * Multipart uploads kept in the GCS bucket itself, so any s3mux replica continues an upload
 * another began:
 *
 *   .s3mux/uploads/<uploadId>           the record: custom metadata holds the key and attributes
 *   .s3mux/uploads/<uploadId>/<00001>   part 1 (its MD5 is the part's ETag)
 *   .s3mux/uploads/<uploadId>/c<r>-<i>  intermediate composites while a Complete runs
 *
 * Complete composes the parts in the store (`assemble`): GCS composes at most 32 objects per
 * request, so longer lists are composed 32 at a time into intermediates, and those again,
 * until one request makes the object. The object's fields and S3 ETag are set in that last
 * compose, conditional on the generation checked, so it appears complete or not at all. Where
 * the store cannot compose (the firebase emulator), `assemble` is absent and the parts stream
 * through putObject.
 */
import { Readable } from 'node:stream';
import type { File } from '@google-cloud/storage';
import { S3Error } from '../../errors';
import { UPLOADS_PREFIX } from '../escaped-keys';
import { storedAttributes } from '../attributes';
import type { PartStorage } from '../multipart/staged';
import type { ObjectAttributes, ObjectMeta, PartInfo, PartOptions, PutOptions, UploadInfo } from '../types';
import { isMissingObject, toS3ErrorFromGcs } from './errors';
import { metaOf, SYS, toGcs, type GcsResource } from './metadata';
import { gcsNames } from './names';
import type { GcsStore } from './store';

/** GCS's limit of source objects per compose request. */
export const MAX_COMPOSE_SOURCES = 32;
/** Deletes in flight at once when an upload is removed. */
const DELETE_CONCURRENCY = 16;

const F = { key: `${SYS}upload-key`, attrs: `${SYS}upload-attrs` } as const;

const recordName = (uploadId: string) => `${UPLOADS_PREFIX}${uploadId}`;
const partsPrefix = (uploadId: string) => `${UPLOADS_PREFIX}${uploadId}/`;
const partName = (uploadId: string, n: number) => `${partsPrefix(uploadId)}${String(n).padStart(5, '0')}`;

function uploadOf(uploadId: string, r: GcsResource): UploadInfo | undefined {
  const key = r.metadata?.[F.key];
  if (typeof key !== 'string') return undefined;
  let attrs: ObjectAttributes = { userMetadata: {} };
  try {
    attrs = JSON.parse(r.metadata?.[F.attrs] ?? '{}') as ObjectAttributes;
    attrs.userMetadata ??= {};
  } catch {
    // a damaged record keeps its key: the upload can still be aborted
  }
  return { key, uploadId, initiated: new Date(r.timeCreated ?? r.updated ?? 0), attrs };
}

/** The File.request of the SDK's service objects, as a promise: for JSON API calls the SDK has no wrapper for. */
function request<T>(file: File, reqOpts: Record<string, unknown>): Promise<T> {
  return new Promise((resolve, reject) => {
    (file as unknown as { request(o: unknown, cb: (err: Error | null, body?: unknown) => void): void }).request(reqOpts, (err, body) => {
      if (err) reject(err);
      else resolve(body as T);
    });
  });
}

export class GcsPartStorage implements PartStorage {
  readonly assemble?: PartStorage['assemble'];

  constructor(
    private readonly backend: GcsStore,
    compose: boolean,
  ) {
    if (compose) this.assemble = (bucket, upload, parts, attrs, opts) => this.compose(bucket, upload, parts, attrs, opts);
  }

  async createUpload(bucket: string, upload: UploadInfo): Promise<void> {
    const resource: GcsResource = {
      contentType: 'application/json',
      metadata: { [F.key]: upload.key, [F.attrs]: JSON.stringify(upload.attrs) },
    };
    await this.backend.upload(bucket, recordName(upload.uploadId), Readable.from([]), resource, { bucket }, 0);
  }

  async getUpload(bucket: string, uploadId: string): Promise<UploadInfo | undefined> {
    const r = await this.backend.current(bucket, recordName(uploadId));
    return r ? uploadOf(uploadId, r) : undefined;
  }

  async listUploads(bucket: string): Promise<UploadInfo[]> {
    const out: UploadInfo[] = [];
    for await (const r of this.backend.names(bucket, UPLOADS_PREFIX, undefined, 1000, '/')) {
      if (r.isPrefix) continue;
      const u = uploadOf(r.name.slice(UPLOADS_PREFIX.length), r);
      if (u) out.push(u);
    }
    return out;
  }

  async putPart(bucket: string, uploadId: string, partNumber: number, body: Readable, { size }: PartOptions): Promise<PartInfo> {
    const up = await this.backend.upload(
      bucket,
      partName(uploadId, partNumber),
      body,
      { contentType: 'application/octet-stream' },
      { bucket },
      undefined,
      size,
    );
    return { partNumber, etag: up.md5, size: up.size, lastModified: new Date(up.resource.updated ?? Date.now()) };
  }

  async listParts(bucket: string, uploadId: string): Promise<PartInfo[]> {
    const out: PartInfo[] = [];
    for await (const r of this.backend.names(bucket, partsPrefix(uploadId), undefined, 1000)) {
      const m = /^(\d{5})$/.exec(r.name.slice(partsPrefix(uploadId).length));
      if (!m) continue;
      out.push({
        partNumber: Number(m[1]),
        etag: r.md5Hash ? Buffer.from(r.md5Hash, 'base64').toString('hex') : '',
        size: Number(r.size ?? 0),
        lastModified: new Date(r.updated ?? 0),
      });
    }
    return out;
  }

  async openPart(bucket: string, uploadId: string, partNumber: number): Promise<Readable> {
    const file = this.backend.bucket(bucket).file(partName(uploadId, partNumber));
    const [r] = await this.backend
      .call({ bucket, multipart: true }, () => file.getMetadata())
      .catch((err: unknown) => {
        throw err instanceof S3Error && err.code === 'NoSuchUpload' ? new S3Error('InvalidPart') : err;
      });
    const src = this.backend
      .bucket(bucket)
      .file(file.name, { generation: (r as GcsResource).generation })
      .createReadStream({ validation: false, decompress: false });
    return src;
  }

  async deleteUpload(bucket: string, uploadId: string): Promise<void> {
    const b = this.backend.bucket(bucket);
    const names: string[] = [];
    for await (const r of this.backend.names(bucket, partsPrefix(uploadId), undefined, 1000)) names.push(r.name);
    // Parts first: a record without parts can still be found and removed, parts without a record cannot.
    for (let i = 0; i < names.length; i += DELETE_CONCURRENCY) {
      await Promise.all(
        names.slice(i, i + DELETE_CONCURRENCY).map((n) => this.backend.call({ bucket }, () => b.file(n).delete({ ignoreNotFound: true }))),
      );
    }
    await this.backend.call({ bucket }, () => b.file(recordName(uploadId)).delete({ ignoreNotFound: true }));
  }

  private async compose(
    bucket: string,
    upload: UploadInfo,
    parts: PartInfo[],
    attrs: ObjectAttributes,
    opts: PutOptions,
  ): Promise<ObjectMeta> {
    const key = upload.key;
    const b = this.backend.bucket(bucket);
    let sources = parts.map((p) => partName(upload.uploadId, p.partNumber));
    for (let round = 0; sources.length > MAX_COMPOSE_SOURCES; round++) {
      const next: string[] = [];
      for (let i = 0; i < sources.length; i += MAX_COMPOSE_SOURCES) {
        const name = `${partsPrefix(upload.uploadId)}c${round}-${i / MAX_COMPOSE_SOURCES}`;
        await this.composeRequest(
          b.file(name),
          sources.slice(i, i + MAX_COMPOSE_SOURCES),
          { contentType: 'application/octet-stream' },
          bucket,
          key,
        );
        next.push(name);
      }
      sources = next;
    }
    const generation = await this.backend.generationFor(bucket, key, opts.conditions);
    const stored = storedAttributes(attrs);
    const resource = toGcs(stored, opts.etag ? { etag: opts.etag } : {});
    const dest = b.file(gcsNames.nameOf(key));
    const r = await this.composeRequest(dest, sources, resource, bucket, key, generation);
    return metaOf(key, r);
  }

  /** One compose request (JSON API objects.compose) with the destination's full resource. */
  private async composeRequest(
    dest: File,
    sources: string[],
    resource: GcsResource,
    bucket: string,
    key: string,
    ifGenerationMatch?: number,
  ): Promise<GcsResource> {
    try {
      return await request<GcsResource>(dest, {
        method: 'POST',
        uri: '/compose',
        // Retried by the SDK only when a generation condition makes it safe.
        maxRetries: ifGenerationMatch === undefined ? 0 : undefined,
        qs: ifGenerationMatch !== undefined ? { ifGenerationMatch } : {},
        json: { destination: resource, sourceObjects: sources.map((name) => ({ name })) },
      });
    } catch (err) {
      if (isMissingObject(err)) throw new S3Error('InvalidPart');
      throw toS3ErrorFromGcs(err, { bucket, key });
    }
  }
}
