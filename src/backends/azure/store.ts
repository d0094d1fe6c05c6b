/**
 * The one place the azure adapter talks to its store: calls with their errors mapped,
 * containers and blobs by S3 name (through the retrying client, or the one without retries
 * for a body streamed once), listing openers with their marker cache, and the conditions
 * that make a write a compare-and-swap. The adapter (index.ts) and its multipart store
 * (multipart.ts) both build on it.
 */
import type { BlobServiceClient, BlockBlobClient, ContainerClient } from '@azure/storage-blob';
import { S3Error } from '../../errors';
import { azureContainerNameProblem } from '../bucket-names';
import { checkWriteConditions, hasWriteConditions } from '../conditions';
import type { ObjectMeta, WriteConditions } from '../types';
import { isAzureError, toS3ErrorFromAzure, type ErrorContext } from './errors';
import { MarkerCache, rawListing, type Opener } from './listing';
import { metaOf } from './metadata';
import { blobNameOf } from './names';

/** The Azure access conditions that make a write a compare-and-swap on what was checked. */
export interface Cas {
  ifMatch?: string;
  ifNoneMatch?: string;
}

export class AzureStore {
  readonly markers = new MarkerCache();

  constructor(
    readonly service: BlobServiceClient,
    /** The same account without retries, for requests whose body is a stream read once. */
    private readonly streamService: BlobServiceClient,
    /** Bytes held at a time when a body is staged in chunks, and the largest single Put Blob. */
    readonly blockSize: number,
  ) {}

  /** Runs an Azure call, mapping its errors. */
  async call<T>(ctx: ErrorContext, fn: () => Promise<T>): Promise<T> {
    try {
      return await fn();
    } catch (err) {
      throw toS3ErrorFromAzure(err, ctx);
    }
  }

  /** The container; NoSuchBucket right away for names Azure cannot have. */
  container(bucket: string): ContainerClient {
    if (typeof bucket !== 'string' || azureContainerNameProblem(bucket) !== undefined)
      throw new S3Error('NoSuchBucket', undefined, { BucketName: String(bucket) });
    return this.service.getContainerClient(bucket);
  }

  /** The block blob that holds `key`. */
  blob(bucket: string, key: string): BlockBlobClient {
    return this.container(bucket).getBlockBlobClient(blobNameOf(key));
  }

  /** The same blob through the client without retries (for a streamed request body). */
  streamingBlob(bucket: string, key: string): BlockBlobClient {
    this.container(bucket);
    return this.streamService.getContainerClient(bucket).getBlockBlobClient(blobNameOf(key));
  }

  /** A listing opener over a container (with the marker cache). */
  opener(container: ContainerClient, hierarchical: boolean, pageSize: number): Opener {
    return (prefix, from) => rawListing(container, { prefix, hierarchical, from, pageSize, cache: this.markers })[Symbol.asyncIterator]();
  }

  /** The current version's metadata and Azure ETag, or undefined when there is none. */
  async current(bucket: string, key: string): Promise<{ meta: ObjectMeta; azureEtag?: string } | undefined> {
    try {
      const p = await this.blob(bucket, key).getProperties();
      return { meta: metaOf(key, p), azureEtag: p.etag };
    } catch (err) {
      if (isAzureError(err, 'BlobNotFound')) return undefined;
      throw toS3ErrorFromAzure(err, { bucket, key });
    }
  }

  /**
   * Checks S3 write conditions on the current object and returns the Azure
   * conditions that make the write apply only to that very version.
   */
  async cas(bucket: string, key: string, conditions: WriteConditions | undefined): Promise<Cas | undefined> {
    if (!hasWriteConditions(conditions)) return undefined;
    const cur = await this.current(bucket, key);
    checkWriteConditions(cur?.meta, conditions);
    return cur ? { ifMatch: cur.azureEtag } : { ifNoneMatch: '*' };
  }
}
