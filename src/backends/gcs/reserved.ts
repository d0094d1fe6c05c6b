/**
 * The gcs adapter's reserved area: documents are objects `.s3mux/r/<name>` and their etag is
 * the object's generation (new with every write); compare-and-swap is ifGenerationMatch (0:
 * create only). Client keys under `.s3mux/` are escaped (names.ts), so none is ever one of
 * these objects.
 */
import { PassThrough, Readable } from 'node:stream';
import { S3Error } from '../../errors';
import type { ReservedObject, ReservedObjects } from '../reserved-objects';
import { isMissingObject, toS3ErrorFromGcs } from './errors';
import type { GcsResource } from './metadata';
import { gcsNativeLock, lockFields } from './native-lock';
import type { GcsStore } from './store';

function objectOf(name: string, r: GcsResource): ReservedObject {
  return {
    name,
    etag: String(r.generation ?? ''),
    size: Number(r.size ?? 0),
    lastModified: new Date(String(r.updated ?? r.timeCreated ?? 0)),
  };
}

const preconditionFailed = () => new S3Error('PreconditionFailed');

/** The generation an etag names; one that is not a generation matches nothing. */
function generationOf(etag: string): number {
  if (!/^[1-9][0-9]{0,19}$/.test(etag)) throw preconditionFailed();
  return Number(etag);
}

export function gcsReservedObjects(store: GcsStore): ReservedObjects {
  return {
    async get(bucket, name) {
      // One unpinned GET: its answer names the generation it is (a pinned read after a metadata
      // call would fail when the document is replaced in between, as old generations go).
      const src = store.bucket(bucket).file(name).createReadStream({ validation: false, decompress: false });
      const body = new PassThrough();
      const answered = new Promise<Record<string, string | string[] | undefined>>((resolve, reject) => {
        src.on('response', (res: { statusCode?: number; headers?: Record<string, string | string[] | undefined> }) => {
          if ((res.statusCode ?? 200) < 300) resolve(res.headers ?? {});
        });
        src.once('error', reject);
      });
      src.on('error', (err) => body.destroy(toS3ErrorFromGcs(err, { bucket, key: name })));
      body.on('error', () => {}); // reaches the caller through `answered` until the body is handed over
      body.on('close', () => {
        if (!src.destroyed) src.destroy();
      });
      src.pipe(body); // the SDK sends the request once its stream is read
      let headers: Record<string, string | string[] | undefined>;
      try {
        headers = await answered;
      } catch (err) {
        body.destroy();
        if (isMissingObject(err)) return undefined;
        throw toS3ErrorFromGcs(err, { bucket, key: name });
      }
      const header = (n: string): string | undefined => {
        const v = headers[n];
        return Array.isArray(v) ? v[0] : v;
      };
      // A store that does not name the generation in its answer (an emulator): asked apart.
      const generation = header('x-goog-generation') ?? String((await store.current(bucket, name))?.generation ?? '');
      const object: ReservedObject = {
        name,
        etag: generation,
        size: Number(header('x-goog-stored-content-length') ?? header('content-length') ?? 0),
        lastModified: new Date(header('last-modified') ?? 0),
      };
      return { object, body };
    },

    async put(bucket, name, body, cond, lock) {
      const generation = cond.ifMatch !== undefined ? generationOf(cond.ifMatch) : cond.ifNoneMatch === '*' ? 0 : undefined;
      // Checked first too: a store may answer a failed precondition by dropping the upload's
      // connection, which reads as a network error.
      const current = async () => (await store.current(bucket, name))?.generation;
      if (generation !== undefined && Number((await current()) ?? 0) !== generation) throw preconditionFailed();
      const stream = Buffer.isBuffer(body) ? Readable.from(body.length > 0 ? [body] : []) : body;
      try {
        const resource = { contentType: 'application/octet-stream', ...lockFields(lock) };
        const up = await store.upload(bucket, name, stream, resource, { bucket, key: name }, generation);
        const o = objectOf(name, up.resource);
        return { etag: o.etag, lastModified: o.lastModified };
      } catch (err) {
        const lost = err instanceof S3Error && err.code === 'ServiceUnavailable';
        if (generation !== undefined && lost && Number((await current()) ?? 0) !== generation) throw preconditionFailed();
        throw err;
      }
    },

    async delete(bucket, name, ifMatch) {
      const opts = ifMatch !== undefined ? { ifGenerationMatch: generationOf(ifMatch) } : {};
      try {
        await store.bucket(bucket).file(name).delete(opts);
      } catch (err) {
        if (isMissingObject(err)) {
          if (ifMatch !== undefined) throw preconditionFailed();
          return;
        }
        throw toS3ErrorFromGcs(err, { bucket, key: name });
      }
    },

    native: gcsNativeLock(store),

    async list(bucket, prefix, startAfter, max) {
      const out: ReservedObject[] = [];
      for await (const r of store.names(bucket, prefix, startAfter, Math.min(max + 1, 1000))) {
        if (r.isPrefix || (startAfter !== undefined && r.name <= startAfter)) continue;
        out.push(objectOf(r.name, r));
        if (out.length >= max) break;
      }
      return out;
    },
  };
}
