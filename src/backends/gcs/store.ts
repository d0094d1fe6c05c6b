/**
 * The one place the gcs adapter talks to its store: calls with their errors mapped, buckets
 * and objects by S3 name, conditional-write generations, streamed uploads and paged name
 * listings. The adapter (index.ts) and its part storage (parts.ts) both build on it.
 */
import { createHash } from 'node:crypto';
import { Transform, type Readable } from 'node:stream';
import { pipeline } from 'node:stream/promises';
import type { Bucket, File, Storage } from '@google-cloud/storage';
import { bodyFailure, S3Error } from '../../errors';
import { checkWriteConditions, hasWriteConditions } from '../conditions';
import { gcsBucketNameProblem } from '../bucket-names';
import { compareKeys } from '../listing';
import type { WriteConditions } from '../types';
import { isGcsNotFound, isMissingObject, toS3ErrorFromGcs, type ErrorContext } from './errors';
import { metaOf, type GcsResource } from './metadata';
import { gcsNames } from './names';

export class GcsStore {
  constructor(
    readonly storage: Storage,
    /** The store has the bucket API (the firebase emulator does not). */
    readonly bucketApi: boolean,
  ) {}

  /** Runs a GCS call, mapping its errors. */
  async call<T>(ctx: ErrorContext, fn: () => Promise<T>): Promise<T> {
    try {
      return await fn();
    } catch (err) {
      throw toS3ErrorFromGcs(err, ctx);
    }
  }

  /** The bucket; NoSuchBucket right away for names GCS cannot have. */
  bucket(bucket: string): Bucket {
    if (typeof bucket !== 'string' || gcsBucketNameProblem(bucket) !== undefined)
      throw new S3Error('NoSuchBucket', undefined, { BucketName: String(bucket) });
    return this.storage.bucket(bucket);
  }

  /** The object that holds `key` (a given generation of it). */
  file(bucket: string, key: string, generation?: string | number): File {
    return this.bucket(bucket).file(gcsNames.nameOf(key), generation !== undefined ? { generation } : undefined);
  }

  /** The current version's resource, or undefined when there is none. */
  async current(bucket: string, name: string): Promise<GcsResource | undefined> {
    try {
      const [r] = await this.bucket(bucket).file(name).getMetadata();
      return r as GcsResource;
    } catch (err) {
      if (isMissingObject(err)) return undefined;
      throw toS3ErrorFromGcs(err, { bucket, key: name });
    }
  }

  /**
   * Checks S3 write conditions on the current object and returns the generation
   * the write must meet (0: no object), or undefined when there are no conditions.
   */
  async generationFor(bucket: string, key: string, conditions: WriteConditions | undefined): Promise<number | undefined> {
    if (!hasWriteConditions(conditions)) return undefined;
    const cur = await this.current(bucket, gcsNames.nameOf(key));
    checkWriteConditions(cur ? metaOf(key, cur) : undefined, conditions);
    return cur ? Number(cur.generation) : 0;
  }

  /**
   * Streams `body` into object `name` in one upload request with `resource` as its
   * fields; the request completes only if the body ends cleanly. Returns the stored resource
   * and the MD5 of what was sent.
   */
  async upload(
    bucket: string,
    name: string,
    body: Readable,
    resource: GcsResource,
    ctx: ErrorContext,
    ifGenerationMatch?: number,
    expectedSize?: number,
  ): Promise<{ resource: GcsResource; md5: string; size: number }> {
    const file = this.bucket(bucket).file(name);
    const hash = createHash('md5');
    let size = 0;
    let bodyError: unknown;
    body.once('error', (err) => {
      bodyError ??= err;
    });
    const measure = new Transform({
      transform(chunk: Buffer, _enc, cb) {
        hash.update(chunk);
        size += chunk.length;
        cb(null, chunk);
      },
      flush(cb) {
        // Failing here aborts the upload request before it ends: nothing is stored.
        cb(expectedSize !== undefined && size !== expectedSize ? new S3Error('IncompleteBody') : null);
      },
    });
    const ws = file.createWriteStream({
      resumable: false,
      validation: false,
      contentType: resource.contentType,
      metadata: resource,
      ...(ifGenerationMatch !== undefined ? { preconditionOpts: { ifGenerationMatch } } : {}),
    });
    try {
      await pipeline(body, measure, ws);
    } catch (err) {
      if (bodyError !== undefined) throw bodyFailure(bodyError);
      if (err instanceof S3Error) throw err;
      throw toS3ErrorFromGcs(err, ctx);
    }
    return { resource: file.metadata as GcsResource, md5: hash.digest('hex'), size };
  }

  /**
   * Object resources with names starting with `prefix`, in order, from `from`
   * (inclusive) on; `pageSize` per request.
   */
  async *names(
    bucket: string,
    prefix: string,
    from: string | undefined,
    pageSize: number,
    delimiter?: string,
  ): AsyncGenerator<GcsResource & { name: string; isPrefix?: boolean }> {
    const b = this.bucket(bucket);
    let pageToken: string | undefined;
    let lastPrefix: string | undefined;
    do {
      let page;
      try {
        page = await b.getFiles({
          prefix,
          autoPaginate: false,
          maxResults: pageSize,
          ...(from !== undefined && from > prefix ? { startOffset: from } : {}),
          ...(delimiter !== undefined ? { delimiter } : {}),
          ...(pageToken !== undefined ? { pageToken } : {}),
        });
      } catch (err) {
        // Without the bucket API a bucket nothing was written to yet is simply empty.
        if (!this.bucketApi && isGcsNotFound(err)) return;
        throw toS3ErrorFromGcs(err, { bucket });
      }
      const [files, next, raw] = page;
      const items: (GcsResource & { name: string; isPrefix?: boolean })[] = files.map((f) => ({
        ...(f.metadata as GcsResource),
        name: f.name,
      }));
      for (const p of (raw as { prefixes?: string[] } | undefined)?.prefixes ?? []) {
        if (p !== lastPrefix) items.push({ name: p, isPrefix: true });
      }
      items.sort((x, y) => compareKeys(x.name, y.name));
      for (const item of items) {
        if (item.isPrefix) lastPrefix = item.name;
        yield item;
      }
      pageToken = (next as { pageToken?: string } | null | undefined)?.pageToken;
    } while (pageToken);
  }
}
