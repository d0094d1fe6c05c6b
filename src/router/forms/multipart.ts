/**
 * Multipart uploads of a composite route: an upload lives on one target, the one that took
 * it, and every later call on it goes there. With several possible targets the upload id
 * names it (`<index>.<id of the target's store>`), so any replica can continue the upload.
 */
import type { Readable } from 'node:stream';
import { S3Error } from '../../errors';
import type {
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
} from '../../backends/types';
import type { Target } from './target';

export interface UploadPlacement {
  /** The target a new upload (of these attributes) goes to. */
  choose(attrs: ObjectAttributes): Target;
  targets: readonly Target[];
  /** Whether upload ids carry the target's index (false: there is one possible target). */
  tagged: boolean;
  /** Route key <-> key with the primary's prefix. */
  vk(key: string): string;
  out<T extends { key: string }>(m: T): T;
  outUploads(page: ListUploadsPage): ListUploadsPage;
  /** After an upload completes on `target` (a mirror copies the object on). */
  completed?(target: Target, key: string, meta: ObjectMeta): Promise<void>;
}

function storeOf(t: Target): MultipartStore {
  const s = t.backend.multipart;
  if (!s) throw new S3Error('NotImplemented', `The ${t.backend.kind} backend does not support multipart uploads yet.`);
  return s;
}

export class RoutedMultipart implements MultipartStore {
  constructor(private readonly p: UploadPlacement) {}

  private locate(uploadId: string): { t: Target; id: string } {
    if (!this.p.tagged) return { t: this.p.targets[0], id: uploadId };
    const dot = uploadId.indexOf('.');
    const t = dot > 0 && /^\d+$/.test(uploadId.slice(0, dot)) ? this.p.targets[Number(uploadId.slice(0, dot))] : undefined;
    if (!t) throw new S3Error('NoSuchUpload');
    return { t, id: uploadId.slice(dot + 1) };
  }

  private tag(t: Target, id: string): string {
    return this.p.tagged ? `${this.p.targets.indexOf(t)}.${id}` : id;
  }

  async createUpload(_bucket: string, key: string, attrs: ObjectAttributes): Promise<string> {
    const t = this.p.choose(attrs);
    const id = await t.health.run(() => storeOf(t).createUpload(t.bucket, t.realKey(this.p.vk(key)), attrs));
    return this.tag(t, id);
  }

  uploadPart(_b: string, key: string, uploadId: string, partNumber: number, body: Readable, opts?: PartOptions): Promise<PartInfo> {
    const { t, id } = this.locate(uploadId);
    return t.health.run(() => storeOf(t).uploadPart(t.bucket, t.realKey(this.p.vk(key)), id, partNumber, body, opts), { timeout: false });
  }

  async listParts(_b: string, key: string, uploadId: string, opts: ListPartsOptions): Promise<ListPartsPage> {
    const { t, id } = this.locate(uploadId);
    const page = await t.health.run(() => storeOf(t).listParts(t.bucket, t.realKey(this.p.vk(key)), id, opts));
    const upload = { ...page.upload, key: this.p.vk(key), uploadId };
    return { ...page, upload: this.p.out(upload) };
  }

  async completeUpload(_b: string, key: string, uploadId: string, parts: number[], etag: string, opts?: PutOptions): Promise<ObjectMeta> {
    const { t, id } = this.locate(uploadId);
    const k = this.p.vk(key);
    const meta = await t.health.run(() => storeOf(t).completeUpload(t.bucket, t.realKey(k), id, parts, etag, opts), { timeout: false });
    const own = { ...meta, key: k };
    await this.p.completed?.(t, k, own);
    return this.p.out(own);
  }

  abortUpload(_b: string, key: string, uploadId: string): Promise<void> {
    const { t, id } = this.locate(uploadId);
    return t.health.run(() => storeOf(t).abortUpload(t.bucket, t.realKey(this.p.vk(key)), id));
  }

  /** Uploads of every available target, merged in key then id order. */
  async listUploads(_b: string, opts: ListUploadsOptions): Promise<ListUploadsPage> {
    const prefix = this.p.vk(opts.prefix);
    const keyMarker = opts.keyMarker === undefined ? undefined : this.p.vk(opts.keyMarker);
    const pages: ListUploadsPage[] = [];
    for (const t of this.p.targets) {
      if (!t.backend.multipart || !t.health.available()) continue;
      const page = await t.health.run(() =>
        storeOf(t).listUploads(t.bucket, {
          ...opts,
          prefix: t.prefix + prefix,
          keyMarker: keyMarker === undefined ? undefined : t.prefix + keyMarker,
          uploadIdMarker: opts.uploadIdMarker === undefined ? undefined : this.locateOn(t, opts.uploadIdMarker),
        }),
      );
      pages.push({
        ...page,
        uploads: page.uploads.map((u) => ({ ...u, key: u.key.slice(t.prefix.length), uploadId: this.tag(t, u.uploadId) })),
        commonPrefixes: page.commonPrefixes.map((c) => c.slice(t.prefix.length)),
        nextKeyMarker: page.nextKeyMarker?.slice(t.prefix.length),
        nextUploadIdMarker: page.nextUploadIdMarker === undefined ? undefined : this.tag(t, page.nextUploadIdMarker),
      });
      if (!this.p.tagged) break;
    }
    if (pages.length === 1) return this.p.outUploads(pages[0]);
    return this.p.outUploads(mergeUploads(pages, opts.maxUploads));
  }

  /** An id marker as this target's store knows it (another target's marker: from the start of the key). */
  private locateOn(t: Target, marker: string): string | undefined {
    if (!this.p.tagged) return marker;
    try {
      const where = this.locate(marker);
      return where.t === t ? where.id : undefined;
    } catch {
      return undefined;
    }
  }

  async sweepUploads(_b: string, initiatedBefore: Date): Promise<number> {
    let n = 0;
    for (const t of this.p.targets) {
      if (t.backend.multipart && t.health.available()) n += await t.health.run(() => storeOf(t).sweepUploads(t.bucket, initiatedBefore));
      if (!this.p.tagged) break;
    }
    return n;
  }
}

/** Several targets' upload pages as one: in (key, upload id) order, cut where the first truncated page stops vouching. */
function mergeUploads(pages: ListUploadsPage[], max: number): ListUploadsPage {
  const all = pages.flatMap((p) => p.uploads).sort((a, b) => (a.key < b.key ? -1 : a.key > b.key ? 1 : a.uploadId < b.uploadId ? -1 : 1));
  const prefixes = [...new Set(pages.flatMap((p) => p.commonPrefixes))].sort();
  const truncated = pages.some((p) => p.isTruncated);
  const uploads = all.slice(0, max);
  const more = truncated || all.length > uploads.length;
  const last = uploads.at(-1);
  return {
    uploads,
    commonPrefixes: prefixes,
    isTruncated: more,
    nextKeyMarker: more ? last?.key : undefined,
    nextUploadIdMarker: more ? last?.uploadId : undefined,
  };
}
