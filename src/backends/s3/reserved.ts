/**
 * The s3 adapter's reserved area: documents are objects `.s3mux/r/<name>`, a key range client
 * keys are refused (client-keys.ts). Their etag is the store's ETag, the content's MD5: a write
 * of the same bytes keeps it, which compare-and-swap cannot tell from no write (harmless: the
 * document is what was read). Conditions are If-Match / If-None-Match on the PUT where the store
 * compares them (`conditionalWrites: 'native'`), else checked first under this process's lock.
 */
import { S3Error, isS3Error } from '../../errors';
import type { ReservedObjects } from '../reserved-objects';
import { parseDate, unquote } from './headers';
import { relay } from './body';
import type { S3Http } from './http';
import type { BucketInfo, ObjectMeta, WriteConditions } from '../types';
import type { ReservedObject } from '../reserved-objects';
import type { Readable } from 'node:stream';
import { lockHeaders, s3NativeLock, type LockAccess } from './native-lock';
import { storeSaidNoSuchKey } from './errors';

/** What the documents need of the s3 backend (S3Backend has it; named here so this file does not import the backend). */
export interface S3DocumentAccess extends LockAccess {
  readonly http: S3Http;
  headBucket(bucket: string): Promise<BucketInfo>;
  putDocument(
    bucket: string,
    key: string,
    body: Buffer | Readable,
    cond: WriteConditions,
    lock?: Record<string, string>,
  ): Promise<ObjectMeta>;
  deleteDocument(bucket: string, key: string, ifMatch?: string): Promise<void>;
  listDocuments(bucket: string, prefix: string, startAfter: string | undefined, max: number): Promise<ReservedObject[]>;
}

const preconditionFailed = () => new S3Error('PreconditionFailed', undefined, { Condition: 'If-Match' });

export function s3ReservedObjects(be: S3DocumentAccess): ReservedObjects {
  return {
    async get(bucket, name) {
      let reply;
      try {
        reply = await be.http.send({ method: 'GET', bucket, key: name, notFound: 'NoSuchKey' });
      } catch (err) {
        if (isS3Error(err, 'NoSuchKey')) {
          if (!storeSaidNoSuchKey(err)) await be.headBucket(bucket); // a bare 404 may mean the bucket
          return undefined;
        }
        throw err;
      }
      const h = reply.headers;
      const object = {
        name,
        etag: unquote(h.etag),
        size: Number(h['content-length'] ?? 0),
        lastModified: parseDate(h['last-modified']) ?? new Date(),
      };
      return { object, body: relay(reply.body, be.http.name) };
    },

    async put(bucket, name, body, cond, lock) {
      try {
        const meta = await be.putDocument(bucket, name, body, { ifMatch: cond.ifMatch, ifNoneMatch: cond.ifNoneMatch }, lockHeaders(lock));
        return { etag: meta.etag, lastModified: meta.lastModified };
      } catch (err) {
        // If-Match on a key that is not there
        if (cond.ifMatch !== undefined && isS3Error(err, 'NoSuchKey')) throw preconditionFailed();
        throw err;
      }
    },

    async delete(bucket, name, ifMatch) {
      try {
        await be.deleteDocument(bucket, name, ifMatch);
      } catch (err) {
        if (ifMatch !== undefined && isS3Error(err, 'NoSuchKey')) throw preconditionFailed();
        throw err;
      }
    },

    list: (bucket, prefix, startAfter, max) => be.listDocuments(bucket, prefix, startAfter, max),

    native: s3NativeLock(be),
  };
}
