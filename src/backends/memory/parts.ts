/** Multipart parts held in memory, for the memory backend. */
import { createHash } from 'node:crypto';
import { Readable } from 'node:stream';
import { S3Error, toS3Error } from '../../errors';
import type { PartInfo, PartOptions, UploadInfo } from '../types';
import { partChecksums, type PartStorage } from '../multipart/staged';

/** Parts held in memory (memory backend, tests). */
export class MemoryPartStorage implements PartStorage {
  private readonly uploads = new Map<string, { info: UploadInfo; parts: Map<number, { info: PartInfo; data: Buffer }> }>();

  private id(bucket: string, uploadId: string): string {
    return `${bucket}\u0000${uploadId}`;
  }

  async createUpload(bucket: string, upload: UploadInfo): Promise<void> {
    this.uploads.set(this.id(bucket, upload.uploadId), { info: upload, parts: new Map() });
  }

  async getUpload(bucket: string, uploadId: string): Promise<UploadInfo | undefined> {
    return this.uploads.get(this.id(bucket, uploadId))?.info;
  }

  async listUploads(bucket: string): Promise<UploadInfo[]> {
    return [...this.uploads.entries()].filter(([k]) => k.startsWith(`${bucket}\u0000`)).map(([, u]) => u.info);
  }

  async putPart(bucket: string, uploadId: string, partNumber: number, body: Readable, opts: PartOptions): Promise<PartInfo> {
    const chunks: Buffer[] = [];
    const md5 = createHash('md5');
    try {
      for await (const c of body) {
        chunks.push(c as Buffer);
        md5.update(c as Buffer);
      }
    } catch (err) {
      // a body that fails (client gone, checksum wrong) stores nothing and is an S3 error
      throw toS3Error(err);
    }
    const upload = this.uploads.get(this.id(bucket, uploadId));
    if (!upload) throw new S3Error('NoSuchUpload');
    const data = Buffer.concat(chunks);
    if (opts.size !== undefined && data.length !== opts.size) throw new S3Error('IncompleteBody');
    const info: PartInfo = {
      partNumber,
      etag: md5.digest('hex'),
      size: data.length,
      lastModified: new Date(),
      ...partChecksums(opts.verified),
    };
    upload.parts.set(partNumber, { info, data });
    return info;
  }

  async listParts(bucket: string, uploadId: string): Promise<PartInfo[]> {
    return [...(this.uploads.get(this.id(bucket, uploadId))?.parts.values() ?? [])].map((p) => p.info);
  }

  async openPart(bucket: string, uploadId: string, partNumber: number): Promise<Readable> {
    const part = this.uploads.get(this.id(bucket, uploadId))?.parts.get(partNumber);
    if (!part) throw new S3Error('InvalidPart');
    return Readable.from([part.data]);
  }

  async deleteUpload(bucket: string, uploadId: string): Promise<void> {
    this.uploads.delete(this.id(bucket, uploadId));
  }
}
