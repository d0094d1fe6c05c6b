/**
 * The oci adapter's reserved area: documents are objects `.s3mux/r/<name>` and their etag is
 * OCI's ETag (new with every write); compare-and-swap is OCI's if-match / if-none-match. A
 * body of unknown length goes up in one PutObject when it fits the buffer, else as a multipart
 * upload committed under the same conditions. Client keys under `.s3mux/` are escaped
 * (names.ts), so none is ever one of these objects.
 */
import { Readable } from 'node:stream';
import { bodyFailure, S3Error } from '../../errors';
import type { ReservedConditions } from '../reserved-store';
import type { ReservedObject, ReservedObjects } from '../reserved-objects';
import { readUpTo, relayBody } from './body';
import { toS3ErrorFromOci } from './errors';
import { dateOf } from './metadata';
import type { OciClient, OciResponse } from './client';
import type { OciMultipartStore } from './multipart';

/** An object of a listing, as the backend's `names` yields it. */
interface NamedObject {
  name: string;
  size?: number;
  etag?: string;
  timeCreated?: string;
  timeModified?: string;
}

/** What the documents need of the OCI backend (OciBackend has it; named here so this file does not import the backend). */
export interface OciDocumentAccess {
  readonly bufferSize: number;
  readonly multipart: Pick<OciMultipartStore, 'putUnsizedAs'>;
  objectRequest(bucket: string, name: string, req: Omit<Parameters<OciClient['send']>[0], 'path'>): Promise<OciResponse>;
  names(bucket: string, prefix: string, start: string | undefined, limit: number): AsyncIterable<NamedObject>;
}

function casOf(cond: ReservedConditions): Record<string, string> {
  if (cond.ifMatch !== undefined) return { 'if-match': cond.ifMatch };
  if (cond.ifNoneMatch === '*') return { 'if-none-match': '*' };
  return {};
}

/** The S3 error of a failed call on `name`; a missing object under If-Match is a failed condition. */
function failure(err: unknown, bucket: string, name: string, ifMatch: string | undefined): S3Error {
  const e = toS3ErrorFromOci(err, { bucket, key: name });
  return e.code === 'NoSuchKey' && ifMatch !== undefined ? new S3Error('PreconditionFailed', undefined, { Condition: 'If-Match' }) : e;
}

export function ociReservedObjects(be: OciDocumentAccess): ReservedObjects {
  return {
    async get(bucket, name) {
      try {
        const res = await be.objectRequest(bucket, name, { method: 'GET' });
        const h = res.headers;
        const object = { name, etag: h.etag ?? '', size: Number(h['content-length'] ?? 0), lastModified: dateOf(h['last-modified']) };
        return { object, body: relayBody(res.body, (err) => toS3ErrorFromOci(err, { bucket, key: name })) };
      } catch (err) {
        const e = toS3ErrorFromOci(err, { bucket, key: name });
        if (e.code === 'NoSuchKey') return undefined;
        throw e;
      }
    },

    async put(bucket, name, body, cond) {
      const cas = casOf(cond);
      let first: { head: Buffer; ended: boolean };
      try {
        first = Buffer.isBuffer(body) ? { head: body, ended: true } : await readUpTo(body, be.bufferSize);
      } catch (err) {
        throw bodyFailure(err);
      }
      try {
        if (first.ended) {
          const res = await be.objectRequest(bucket, name, {
            method: 'PUT',
            headers: { 'content-type': 'application/octet-stream', ...cas },
            stream: { body: Readable.from(first.head.length > 0 ? [first.head] : []), length: first.head.length },
          });
          res.body.resume();
          return { etag: res.headers.etag ?? '', lastModified: dateOf(res.headers['last-modified']) };
        }
        const attrs = { userMetadata: {}, contentType: 'application/octet-stream' };
        await be.multipart.putUnsizedAs(bucket, name, { bucket, key: name }, first.head, body as Readable, attrs, cas);
        const res = await be.objectRequest(bucket, name, { method: 'HEAD' });
        res.body.resume();
        return { etag: res.headers.etag ?? '', lastModified: dateOf(res.headers['last-modified']) };
      } catch (err) {
        throw failure(err, bucket, name, cond.ifMatch);
      }
    },

    async delete(bucket, name, ifMatch) {
      try {
        const res = await be.objectRequest(bucket, name, {
          method: 'DELETE',
          headers: ifMatch !== undefined ? { 'if-match': ifMatch } : {},
        });
        res.body.resume();
      } catch (err) {
        const e = failure(err, bucket, name, ifMatch);
        if (e.code !== 'NoSuchKey') throw e;
      }
    },

    async list(bucket, prefix, startAfter, max) {
      const out: ReservedObject[] = [];
      for await (const o of be.names(bucket, prefix, startAfter, Math.min(max + 1, 1000))) {
        if (!o.name.startsWith(prefix)) break;
        if (startAfter !== undefined && o.name <= startAfter) continue;
        out.push({ name: o.name, etag: o.etag ?? '', size: Number(o.size ?? 0), lastModified: dateOf(o.timeModified ?? o.timeCreated) });
        if (out.length >= max) break;
      }
      return out;
    },
  };
}
