/**
 * The azure adapter's reserved area: documents are block blobs `.s3mux/r/<name>` and their
 * etag is the blob's Azure ETag (new with every write); compare-and-swap is Azure's If-Match /
 * If-None-Match on the upload. Client keys under `.s3mux/` are escaped (names.ts), so none
 * is ever one of these blobs.
 */
import type { Readable } from 'node:stream';
import { bodyFailure, S3Error } from '../../errors';
import { unquoteEtag } from '../conditions';
import type { ReservedConditions } from '../reserved-store';
import type { ReservedObjects } from '../reserved-objects';
import { isAzureError, toS3ErrorFromAzure } from './errors';
import { azureNativeLock, lockOptions } from './native-lock';
import type { AzureStore } from './store';

/** Staged block size and blocks in flight for a streamed document (the SDK holds them for retries). */
const STREAM_BLOCK = 4 * 1024 * 1024;
const STREAM_CONCURRENCY = 2;

const quoted = (etag: string): string => `"${etag}"`;

function conditionsOf(cond: ReservedConditions): { ifMatch?: string; ifNoneMatch?: string } | undefined {
  if (cond.ifMatch !== undefined) return { ifMatch: quoted(cond.ifMatch) };
  if (cond.ifNoneMatch === '*') return { ifNoneMatch: '*' };
  return undefined;
}

export function azureReservedObjects(store: AzureStore): ReservedObjects {
  const blob = (bucket: string, name: string) => store.container(bucket).getBlockBlobClient(name);
  return {
    async get(bucket, name) {
      try {
        const res = await blob(bucket, name).download(0, undefined, { maxRetryRequests: 3 });
        const body = res.readableStreamBody as Readable;
        return {
          object: { name, etag: unquoteEtag(res.etag ?? ''), size: res.contentLength ?? 0, lastModified: res.lastModified ?? new Date() },
          body,
        };
      } catch (err) {
        if (isAzureError(err, 'BlobNotFound')) return undefined;
        throw toS3ErrorFromAzure(err, { bucket });
      }
    },

    async put(bucket, name, body, cond, lock) {
      const b = blob(bucket, name);
      const conditions = conditionsOf(cond);
      let bodyError: unknown;
      if (!Buffer.isBuffer(body)) body.once('error', (err) => (bodyError ??= err));
      // The lock goes on the Put Blob, or on the Put Block List that commits the staged blocks
      // (uploadStream hands its options to commitBlockList, though its type does not name them):
      // a body that fails first commits nothing, so nothing is left locked.
      const locked = lockOptions(lock);
      try {
        const res = Buffer.isBuffer(body)
          ? await b.upload(body, body.length, { conditions, ...locked })
          : await b.uploadStream(body, STREAM_BLOCK, STREAM_CONCURRENCY, { conditions, ...locked });
        return { etag: unquoteEtag(res.etag ?? ''), lastModified: res.lastModified ?? new Date() };
      } catch (err) {
        // If-Match on a blob that is not there
        if (cond.ifMatch !== undefined && isAzureError(err, 'BlobNotFound')) throw new S3Error('PreconditionFailed');
        if (bodyError !== undefined) throw bodyFailure(bodyError);
        throw toS3ErrorFromAzure(err, { bucket });
      }
    },

    async delete(bucket, name, ifMatch) {
      try {
        await blob(bucket, name).delete({ conditions: ifMatch !== undefined ? { ifMatch: quoted(ifMatch) } : undefined });
      } catch (err) {
        if (isAzureError(err, 'BlobNotFound')) {
          if (ifMatch !== undefined) throw new S3Error('PreconditionFailed');
          return;
        }
        throw toS3ErrorFromAzure(err, { bucket });
      }
    },

    native: azureNativeLock(store),

    async list(bucket, prefix, startAfter, max) {
      const container = store.container(bucket);
      const it = store.opener(container, false, Math.min(max + 1, 5000))(prefix, startAfter);
      const out = [];
      try {
        for (let r = await it.next(); !r.done; r = await it.next()) {
          const { name, blob: item } = r.value;
          if (!item || !name.startsWith(prefix) || (startAfter !== undefined && name <= startAfter)) continue;
          out.push({
            name,
            etag: unquoteEtag(item.properties.etag ?? ''),
            size: item.properties.contentLength ?? 0,
            lastModified: item.properties.lastModified,
          });
          if (out.length >= max) break;
        }
      } catch (err) {
        throw toS3ErrorFromAzure(err, { bucket });
      } finally {
        await it.return?.(undefined);
      }
      return out;
    },
  };
}
