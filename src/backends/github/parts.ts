/**
 * Multipart uploads staged as assets of the release itself, so any s3mux replica continues
 * an upload another began (the state is in GitHub):
 *
 *   _s3mux.u.<uploadId>                  the record: JSON with the key and attributes
 *   _s3mux.u.<uploadId>.<00001>.<md5>    part 1; its name carries its MD5 (the part's ETag)
 *
 * A part is uploaded under a temporary name, then swapped in (an older part with that number
 * is deleted, the new one renamed), so a failed re-send keeps the old part. Complete streams
 * the parts through putObject; the object then has the asset ETag of any other object.
 * These assets are visible on the release page until the upload completes or is aborted
 * (s3mux's expiry sweep removes forgotten ones). A route onto all releases has no one
 * release to keep them in: multipart is refused there.
 */
import { createHash, randomBytes } from 'node:crypto';
import { Readable } from 'node:stream';
import { buffer } from 'node:stream/consumers';
import { S3Error } from '../../errors';
import type { PartStorage } from '../multipart/staged';
import type { ObjectAttributes, PartInfo, PartOptions, UploadInfo } from '../types';
import { ALL_RELEASES, EMPTY_BODY, RESERVED } from './names';
import { spool } from './spool';
import type { ErrorContext } from './errors';
import type { GithubAsset, GithubRelease } from './model';

/** What the part storage needs of the backend (GithubBackend provides it). */
export interface AssetStore {
  readonly maxAssetSize: number;
  assertWritable(): void;
  refuseUnholdable(attrs: ObjectAttributes): void;
  bucketRelease(bucket: string): Promise<GithubRelease>;
  freshAssets(release: GithubRelease): Promise<GithubAsset[]>;
  download(asset: GithubAsset, range: undefined, ctx: ErrorContext): Readable;
  store(
    release: GithubRelease,
    name: string,
    body: Readable,
    size: number | undefined,
    contentType: string | undefined,
    how: { createOnly: boolean; bucket: string; key: string },
  ): Promise<GithubAsset>;
  rename(
    asset: GithubAsset,
    name: string,
    release: GithubRelease,
    matching: (a: GithubAsset) => boolean,
    ctx: ErrorContext,
  ): Promise<GithubAsset>;
  deleteAsset(id: number, ctx: ErrorContext): Promise<void>;
}

const UPLOAD = `${RESERVED}u.`;
const recordName = (id: string) => `${UPLOAD}${id}`;
const partPrefix = (id: string, n: number) => `${UPLOAD}${id}.${String(n).padStart(5, '0')}.`;
const RECORD_RE = /^_s3mux\.u\.([A-Za-z0-9_-]+)$/;
const MD5_EMPTY = 'd41d8cd98f00b204e9800998ecf8427e';
const partSize = (md5: string, a: GithubAsset) => (md5 === MD5_EMPTY ? 0 : a.size);
const PART_RE = /^_s3mux\.u\.([A-Za-z0-9_-]+)\.(\d{5})\.([0-9a-f]{32})$/;

export class GithubPartStorage implements PartStorage {
  constructor(private readonly backend: AssetStore) {}

  private async release(bucket: string): Promise<GithubRelease> {
    if (bucket === ALL_RELEASES) {
      throw new S3Error('NotImplemented', 'Multipart uploads need a route onto one release (github://owner/repo/releases/{tag}).');
    }
    return this.backend.bucketRelease(bucket);
  }

  private async readRecord(asset: GithubAsset, bucket: string): Promise<UploadInfo | undefined> {
    const id = RECORD_RE.exec(asset.name)?.[1];
    if (!id || asset.state !== 'uploaded') return undefined;
    try {
      const text = (await buffer(this.backend.download(asset, undefined, { bucket, notFound: 'NoSuchUpload' }))).toString('utf8');
      const r = JSON.parse(text) as { key: string; initiated: string; attrs: UploadInfo['attrs'] };
      return {
        key: r.key,
        uploadId: id,
        initiated: new Date(r.initiated),
        attrs: { ...r.attrs, userMetadata: r.attrs?.userMetadata ?? {} },
      };
    } catch (err) {
      if (err instanceof S3Error && err.code === 'NoSuchUpload') return undefined;
      throw err;
    }
  }

  async createUpload(bucket: string, upload: UploadInfo): Promise<void> {
    this.backend.assertWritable();
    this.backend.refuseUnholdable(upload.attrs);
    const release = await this.release(bucket);
    const json = Buffer.from(JSON.stringify({ key: upload.key, initiated: upload.initiated.toISOString(), attrs: upload.attrs }));
    await this.backend.store(release, recordName(upload.uploadId), Readable.from([json]), json.length, 'application/json', {
      createOnly: true,
      bucket,
      key: upload.key,
    });
  }

  async getUpload(bucket: string, uploadId: string): Promise<UploadInfo | undefined> {
    const release = await this.release(bucket);
    const asset = (await this.backend.freshAssets(release)).find((a) => a.name === recordName(uploadId));
    return asset ? this.readRecord(asset, bucket) : undefined;
  }

  async listUploads(bucket: string): Promise<UploadInfo[]> {
    const release = await this.release(bucket);
    const out: UploadInfo[] = [];
    for (const a of await this.backend.freshAssets(release)) {
      const u = await this.readRecord(a, bucket);
      if (u) out.push(u);
    }
    return out;
  }

  async putPart(bucket: string, uploadId: string, partNumber: number, body: Readable, { size }: PartOptions): Promise<PartInfo> {
    this.backend.assertWritable();
    const release = await this.release(bucket);
    const hash = createHash('md5');
    // A generator, not a pipe: the body's error surfaces where the upload reads it.
    const hashing = Readable.from(
      (async function* () {
        for await (const chunk of body) {
          hash.update(chunk as Buffer);
          yield chunk as Buffer;
        }
      })(),
    );
    const temp = `${RESERVED}t.${randomBytes(12).toString('hex')}`;
    const ctx = { bucket, key: uploadId };
    // GitHub holds no empty asset: an empty part is one byte under the empty MD5's name.
    const spooled = size === undefined ? await spool(hashing, this.backend.maxAssetSize) : undefined;
    let uploaded: GithubAsset;
    try {
      const length = spooled ? spooled.size : (size as number);
      if (length === 0) for await (const _ of hashing) throw new S3Error('InvalidRequest', 'The body is longer than its announced length.');
      const src = length === 0 ? Readable.from([EMPTY_BODY]) : spooled ? spooled.open() : hashing;
      uploaded = await this.backend.store(release, temp, src, Math.max(1, length), 'application/octet-stream', {
        createOnly: false,
        ...ctx,
      });
    } finally {
      await spooled?.remove();
    }
    const md5 = hash.digest('hex');
    const prefix = partPrefix(uploadId, partNumber);
    const matching = (a: GithubAsset) => a.name.startsWith(prefix);
    try {
      for (const old of (await this.backend.freshAssets(release)).filter(matching)) await this.backend.deleteAsset(old.id, ctx);
      const asset = await this.backend.rename(uploaded, `${prefix}${md5}`, release, matching, ctx);
      return { partNumber, etag: md5, size: partSize(md5, asset), lastModified: new Date(asset.updated_at) };
    } catch (err) {
      await this.backend.deleteAsset(uploaded.id, ctx).catch(() => undefined);
      throw err;
    }
  }

  async listParts(bucket: string, uploadId: string): Promise<PartInfo[]> {
    const release = await this.release(bucket);
    const out: PartInfo[] = [];
    for (const a of await this.backend.freshAssets(release)) {
      const m = PART_RE.exec(a.name);
      if (!m || m[1] !== uploadId || a.state !== 'uploaded') continue;
      out.push({ partNumber: Number(m[2]), etag: m[3], size: partSize(m[3], a), lastModified: new Date(a.updated_at) });
    }
    return out;
  }

  async openPart(bucket: string, uploadId: string, partNumber: number): Promise<Readable> {
    const release = await this.release(bucket);
    const prefix = partPrefix(uploadId, partNumber);
    const asset = (await this.backend.freshAssets(release)).find((a) => a.name.startsWith(prefix) && a.state === 'uploaded');
    if (!asset) throw new S3Error('InvalidPart', undefined, { UploadId: uploadId, PartNumber: String(partNumber) });
    if (asset.name.endsWith(`.${MD5_EMPTY}`)) return Readable.from([]);
    return this.backend.download(asset, undefined, { bucket, notFound: 'InvalidPart' });
  }

  async deleteUpload(bucket: string, uploadId: string): Promise<void> {
    const release = await this.release(bucket);
    const assets = await this.backend.freshAssets(release);
    // Parts first: a record without parts can still be found and removed, parts without a record cannot.
    for (const a of assets.filter((x) => PART_RE.exec(x.name)?.[1] === uploadId)) await this.backend.deleteAsset(a.id, { bucket });
    const record = assets.find((a) => a.name === recordName(uploadId));
    if (record) await this.backend.deleteAsset(record.id, { bucket });
  }
}
