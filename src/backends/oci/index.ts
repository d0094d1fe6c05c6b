/**
 * The OCI Object Storage backend: buckets are OCI buckets of one namespace, objects are OCI
 * objects, spoken to through the REST API (client.ts) with oci-common's authentication
 * providers (auth.ts).
 *
 * - Names: keys are object names, except the few OCI cannot hold or address, which live in
 *   the reserved area `.s3mux/` (names.ts); listings merge both in S3's UTF-8 order.
 * - Attributes: content headers are the object's headers, the rest `opc-meta-*` (metadata.ts).
 * - ETags: the hex of the object's MD5 (single requests) or of OCI's multipart MD5, which is
 *   S3's `<md5 of md5s>-N`; OCI's own ETag is the version s3mux makes its writes conditional on.
 * - Writes: one PutObject that streams the body with its length; the last chunk is held back
 *   until the body has ended cleanly (body.ts), so a failing body stores nothing. A body of
 *   unknown length is buffered up to `bufferSize`, and longer ones go up as a multipart upload
 *   of `bufferSize` parts (their ETag is then the multipart form).
 * - Write conditions: S3's conditions are checked on the current object, and the write is
 *   made conditional on that object's OCI ETag (if-match), or on there being none
 *   (if-none-match: *): a compare-and-swap that holds across replicas.
 * - Reads: HEAD, then GET with if-match on that version, so metadata and bytes belong together.
 * - Metadata changes (tags, trailing checksums): OCI cannot change an object's metadata in
 *   place; s3mux copies the object onto itself (CopyObject, server-side) with the new metadata,
 *   conditional on the version read.
 * - Copies: CopyObject is asynchronous: s3mux waits for its work request. OCI copies metadata
 *   but not content headers, so a copy that changes Content-Type & co. streams through s3mux.
 * - Multipart: native (multipart.ts); the uploads live in OCI, so any replica continues one.
 * - Errors: one table (errors.ts); retries: client.ts.
 */
import { PassThrough, Readable } from 'node:stream';
import { bodyFailure, S3Error } from '../../errors';
import { checkWriteConditions, hasWriteConditions, unquoteEtag } from '../conditions';
import { RESERVED_PREFIX } from '../reserved';
import { copyAttributes, storedAttributes } from '../attributes';
import { isValidBucketName, validateBucketName } from '../keys';
import { compareKeys, firstWantedName, listFromSource, mergeAscending, seekWants, type ListSeek, type ListSourceItem } from '../listing';
import type {
  Backend,
  BackendCapabilities,
  BucketInfo,
  ByteRange,
  ListOptions,
  ListPage,
  ObjectAttributes,
  ObjectHandle,
  ObjectMeta,
  ObjectSummary,
  PutOptions,
  Tag,
  WriteConditions,
} from '../types';
import type { BackendContext } from '../kit';
import type { OciSettings } from './settings';
import { ociProvider } from './auth';
import { OciClient, pathOf, type OciClientOptions, type OciResponse } from './client';
import { readUpTo, relayBody } from './body';
import { MeasuredBody } from '../measured-body';
import { isOciStatus, OciHttpError, toS3ErrorFromOci, type ErrorContext } from './errors';
import { dateOf, fromMetadata, fromOci, META, metaHeaders, SYS, metaOf, s3EtagOf, tierOf, toOci, type OciTier } from './metadata';
import { OciMultipartStore } from './multipart';
import { ociNames } from './names';
import { ObjectReservedStore, RESERVED_DOCS_PREFIX } from '../reserved-objects';
import { ociReservedObjects } from './reserved';
import { dropLayout, readLayout } from './layout';

export interface OciBackendOptions extends OciClientOptions {
  /** The Object Storage namespace; asked of the service (GET /n) when absent. */
  namespace?: string;
  /** Where buckets are created and listed; default the tenancy (root compartment) of the credentials. */
  compartmentId?: string;
  /** The region CopyObject names as destination (OCI needs it); default the endpoint's. */
  region?: string;
  /** Storage tier of new buckets (default Standard). */
  bucketTier?: 'Standard' | 'Archive';
  /** Bodies of unknown length are buffered up to this, and sent as parts of this size beyond (default 8 MiB). */
  bufferSize?: number;
  /** Between polls of a copy's work request (default 250 ms, growing to 2 s). */
  copyPollMs?: number;
  /** How long a copy may take before s3mux gives up waiting (default 1 h). */
  copyTimeoutMs?: number;
}

/** OCI bucket names: letters, digits, '-', '_' and '.', up to 256. */
const OCI_BUCKET_NAME = /^[A-Za-z0-9._-]{1,256}$/;
const MAX_META_ATTEMPTS = 5;
/** The first name after every name in the reserved area ('/' + 1 is '0'). */
const PAST_RESERVED = RESERVED_PREFIX.slice(0, -1) + '0';
const PAGE_SIZE = 1000;
const LIST_FIELDS = 'name,size,etag,md5,timeCreated,timeModified,storageTier';

/** One object version as HEAD gives it: S3 metadata, OCI's ETag, and the raw headers. */
export interface Current {
  meta: ObjectMeta;
  ociEtag: string;
  headers: Record<string, string | undefined>;
}

/** An entry of ListObjects. */
interface OciObjectSummary {
  name: string;
  size?: number;
  md5?: string;
  etag?: string;
  timeCreated?: string;
  timeModified?: string;
  storageTier?: string;
}

class OciObjectHandle implements ObjectHandle {
  constructor(
    readonly meta: ObjectMeta,
    private readonly be: OciBackend,
    private readonly bucket: string,
    private readonly name: string,
    private readonly ociEtag: string,
  ) {}

  read(range?: ByteRange): Readable {
    const out = new PassThrough();
    if (this.meta.size === 0 && !range) {
      out.end();
      return out;
    }
    const ctx = { bucket: this.bucket, key: this.meta.key };
    this.be
      .objectRequest(this.bucket, this.name, {
        method: 'GET',
        headers: { 'if-match': this.ociEtag, ...(range ? { range: `bytes=${range.start}-${range.end}` } : {}) },
      })
      .then((res: OciResponse) => relayBody(res.body, (err) => toS3ErrorFromOci(err, ctx), out))
      .catch((err: unknown) => {
        const e = isOciStatus(err, 412)
          ? new S3Error('NoSuchKey', 'The object was replaced while it was read.', { Key: this.meta.key })
          : toS3ErrorFromOci(err, ctx);
        if (!out.destroyed) out.destroy(e);
      });
    return out;
  }

  async close(): Promise<void> {}
}

export class OciBackend implements Backend {
  readonly kind = 'oci';
  readonly capabilities: BackendCapabilities = { serverSideCopy: true };
  readonly multipart: OciMultipartStore;
  /** Documents as objects under `.s3mux/r/`, compare-and-swap on OCI's ETag (reserved.ts). */
  readonly reserved: ObjectReservedStore;
  readonly client: OciClient;
  readonly bufferSize: number;
  private namespace?: Promise<string>;
  private readonly opts: OciBackendOptions;

  constructor(opts: OciBackendOptions) {
    this.opts = opts;
    this.client = new OciClient(opts);
    if (opts.namespace !== undefined) this.namespace = Promise.resolve(opts.namespace);
    this.bufferSize = Math.max(opts.bufferSize ?? 8 * 1024 * 1024, 64 * 1024);
    this.multipart = new OciMultipartStore(this);
    this.reserved = new ObjectReservedStore(ociReservedObjects(this));
  }

  // ---------------------------------------------------------------- plumbing

  /** @internal The namespace (asked once when not configured). */
  ns(): Promise<string> {
    this.namespace ??= this.client
      .json<string>({ method: 'GET', path: '/n' })
      .then((r) => r.value)
      .catch((err: unknown) => {
        this.namespace = undefined;
        throw toS3ErrorFromOci(err);
      });
    return this.namespace;
  }

  /** @internal Runs an OCI call, mapping its errors. */
  async call<T>(ctx: ErrorContext, fn: () => Promise<T>): Promise<T> {
    try {
      return await fn();
    } catch (err) {
      throw toS3ErrorFromOci(err, ctx);
    }
  }

  /** @internal The bucket name, or NoSuchBucket right away for a name OCI cannot have. */
  checkBucket(bucket: string): string {
    // '.' and '..' match the character rule, but as a path segment they would name another resource.
    if (typeof bucket !== 'string' || !OCI_BUCKET_NAME.test(bucket) || /^\.+$/.test(bucket))
      throw new S3Error('NoSuchBucket', undefined, { BucketName: String(bucket) });
    return bucket;
  }

  /** @internal /n/{ns}/b/{bucket}/... */
  async bucketPath(bucket: string, ...rest: string[]): Promise<string> {
    return pathOf('n', await this.ns(), 'b', this.checkBucket(bucket), ...rest);
  }

  /** @internal A request on object `name` (unmapped errors). */
  async objectRequest(bucket: string, name: string, req: Omit<Parameters<OciClient['send']>[0], 'path'>): Promise<OciResponse> {
    return this.client.send({ ...req, path: await this.bucketPath(bucket, 'o', name) });
  }

  /** @internal The current version of the object stored under `name`, or undefined. NoSuchBucket when the bucket is missing. */
  async current(bucket: string, name: string, key = name): Promise<Current | undefined> {
    let headers: Record<string, string | undefined>;
    try {
      headers = (await this.objectRequest(bucket, name, { method: 'HEAD' })).headers;
    } catch (err) {
      if (!isOciStatus(err, 404)) throw toS3ErrorFromOci(err, { bucket, key });
      // HEAD has no body to say whether the object or the bucket is missing.
      await this.headBucket(bucket);
      return undefined;
    }
    return { meta: metaOf(key, headers), ociEtag: headers.etag ?? '', headers };
  }

  /**
   * @internal Checks S3 write conditions on the current object and returns the OCI
   * conditions that make the write apply only to that very version.
   */
  async cas(bucket: string, key: string, conditions: WriteConditions | undefined): Promise<Record<string, string>> {
    if (!hasWriteConditions(conditions)) return {};
    const cur = await this.current(bucket, ociNames.nameOf(key), key);
    checkWriteConditions(cur?.meta, conditions);
    return cur ? { 'if-match': cur.ociEtag } : { 'if-none-match': '*' };
  }

  // ---------------------------------------------------------------- buckets

  private async compartment(): Promise<string> {
    const c = this.opts.compartmentId ?? (await this.client.tenancy());
    if (!c) throw new S3Error('InternalError', "oci: set 'compartmentId': the credentials name no tenancy to list and create buckets in.");
    return c;
  }

  async listBuckets(): Promise<BucketInfo[]> {
    return this.call({}, async () => {
      const out: BucketInfo[] = [];
      const compartmentId = await this.compartment();
      let page: string | undefined;
      do {
        const r = await this.client.json<{ name: string; timeCreated?: string }[]>({
          method: 'GET',
          path: pathOf('n', await this.ns(), 'b'),
          query: { compartmentId, limit: PAGE_SIZE, page },
        });
        for (const b of r.value ?? []) if (isValidBucketName(b.name)) out.push({ name: b.name, creationDate: dateOf(b.timeCreated) });
        page = r.headers['opc-next-page'];
      } while (page);
      return out.sort((a, b) => compareKeys(a.name, b.name));
    });
  }

  async createBucket(bucket: string): Promise<void> {
    validateBucketName(bucket);
    await this.call({ bucket }, async () => {
      await this.client.json({
        method: 'POST',
        path: pathOf('n', await this.ns(), 'b'),
        json: {
          name: bucket,
          compartmentId: await this.compartment(),
          storageTier: this.opts.bucketTier ?? 'Standard',
          publicAccessType: 'NoPublicAccess',
        },
      });
    });
  }

  async headBucket(bucket: string): Promise<BucketInfo> {
    return this.call({ bucket }, async () => {
      const r = await this.client.json<{ timeCreated?: string }>({ method: 'GET', path: await this.bucketPath(bucket) });
      return { name: bucket, creationDate: dateOf(r.value?.timeCreated) };
    });
  }

  /**
   * Refuses while any object remains (natural or escaped); uploads in progress are aborted
   * and s3mux's documents removed first, as S3 discards them with the bucket (OCI refuses to
   * delete a bucket that has any).
   */
  async deleteBucket(bucket: string): Promise<void> {
    await this.headBucket(bucket);
    const left = await this.listObjects(bucket, { prefix: '', maxKeys: 1 });
    if (left.objects.length > 0) throw new S3Error('BucketNotEmpty', undefined, { BucketName: bucket });
    await this.multipart.abortAll(bucket);
    // s3mux's documents go with the bucket (S3 drops a bucket's configuration with it).
    for await (const o of this.names(bucket, RESERVED_DOCS_PREFIX, undefined, PAGE_SIZE)) {
      await this.objectRequest(bucket, o.name, { method: 'DELETE' }).then(
        (r) => r.body.resume(),
        (err: unknown) => {
          if (toS3ErrorFromOci(err, { bucket, key: o.name }).code !== 'NoSuchKey') throw toS3ErrorFromOci(err, { bucket });
        },
      );
    }
    await this.call({ bucket }, async () => {
      await this.client.headers({ method: 'DELETE', path: await this.bucketPath(bucket) });
    });
  }

  // ---------------------------------------------------------------- reading

  async headObject(bucket: string, key: string): Promise<ObjectMeta> {
    return (await this.existing(bucket, key)).meta;
  }

  async openObject(bucket: string, key: string): Promise<ObjectHandle> {
    const cur = await this.existing(bucket, key);
    return new OciObjectHandle(cur.meta, this, bucket, ociNames.nameOf(key), cur.ociEtag);
  }

  private async existing(bucket: string, key: string): Promise<Current> {
    this.checkBucket(bucket);
    const name = ociNames.nameOf(key);
    const cur = await this.current(bucket, name, key);
    if (!cur) throw new S3Error('NoSuchKey', undefined, { Key: key });
    return this.withLayout(bucket, name, cur);
  }

  /** `cur` with the part sizes s3mux recorded when it assembled that version (layout.ts). */
  private async withLayout(bucket: string, name: string, cur: Current): Promise<Current> {
    const partSizes = await readLayout(this.reserved, bucket, name, cur.headers);
    if (partSizes === undefined || partSizes.reduce((a, b) => a + b, 0) !== cur.meta.size) return cur;
    return { ...cur, meta: { ...cur.meta, partSizes } };
  }

  // ---------------------------------------------------------------- writing

  async putObject(bucket: string, key: string, body: Readable, attrs: ObjectAttributes, opts: PutOptions = {}): Promise<ObjectMeta> {
    let cas: Record<string, string>;
    try {
      this.checkBucket(bucket);
      cas = await this.cas(bucket, key, opts.conditions);
    } catch (err) {
      body.resume();
      throw err;
    }
    const name = ociNames.nameOf(key);
    const stored = storedAttributes(attrs);
    // One request's bytes make one part, whatever the source was assembled from.
    delete stored.partSizes;
    const ctx: ErrorContext = { bucket, key };
    let meta: ObjectMeta;
    if (opts.size !== undefined) {
      meta = await this.putStream(bucket, key, name, body, opts.size, stored, cas);
    } else {
      const first = await readUpTo(body, this.bufferSize);
      if (first.ended) meta = await this.putStream(bucket, key, name, Readable.from([first.head]), first.head.length, stored, cas);
      else meta = await this.multipart.putUnsized(bucket, key, first.head, body, stored, cas);
    }
    // Trailing checksums arrive with the end of the body, after the object's metadata was sent.
    const late = storedAttributes(attrs);
    if (JSON.stringify(late.checksums ?? {}) !== JSON.stringify(stored.checksums ?? {})) {
      await this.call(ctx, () => this.rewriteMetadata(bucket, key, (a) => ({ ...a, checksums: late.checksums })));
    }
    return { ...meta, ...late, key };
  }

  /** One PutObject streaming `body` (exactly `size` bytes). */
  private async putStream(
    bucket: string,
    key: string,
    name: string,
    body: Readable,
    size: number,
    stored: ObjectAttributes,
    cas: Record<string, string>,
  ): Promise<ObjectMeta> {
    // OCI stores the object once it has `size` bytes: the last chunk waits for the body's clean end.
    const out = MeasuredBody.of(body, size, { holdLast: true });
    const { headers, metadata } = toOci(stored);
    const tier = tierOf(stored.storageClass);
    let res: OciResponse;
    try {
      res = await this.objectRequest(bucket, name, {
        method: 'PUT',
        headers: { ...headers, ...metaHeaders(metadata), ...cas, ...(tier ? { 'storage-tier': tier } : {}) },
        stream: { body: out, length: size },
      });
      res.body.resume();
    } catch (err) {
      out.discard();
      if (out.failure !== undefined) throw bodyFailure(out.failure);
      throw toS3ErrorFromOci(err, { bucket, key });
    }
    const md5 = out.md5.digest('hex');
    const stored5 = res.headers['opc-content-md5'];
    if (stored5 && Buffer.from(stored5, 'base64').toString('hex') !== md5) {
      throw new S3Error('InternalError', 'OCI stored different bytes than s3mux sent (Content-MD5 mismatch).');
    }
    return {
      ...stored,
      key,
      size,
      etag: md5,
      lastModified: res.headers['last-modified'] ? dateOf(res.headers['last-modified']) : new Date(),
    };
  }

  async deleteObject(bucket: string, key: string): Promise<void> {
    this.checkBucket(bucket);
    const name = ociNames.nameOf(key);
    // The part layout s3mux may have recorded for it goes too (at once: a record never applies to another version).
    const layout = dropLayout(this.reserved, bucket, name).catch(() => {});
    try {
      await this.objectRequest(bucket, name, { method: 'DELETE' }).then((r) => r.body.resume());
    } catch (err) {
      const s3 = toS3ErrorFromOci(err, { bucket, key });
      if (s3.code !== 'NoSuchKey') throw s3;
    } finally {
      await layout;
    }
  }

  async setTags(bucket: string, key: string, tags: Tag[]): Promise<void> {
    await this.call({ bucket, key }, () =>
      this.rewriteMetadata(bucket, key, (a) => ({ ...a, tags: tags.map((t) => ({ key: t.key, value: t.value })) })),
    );
  }

  /**
   * A lifecycle transition: UpdateObjectStorageTier, in place (bytes, OCI ETag and so the S3
   * ETag stay). OCI's call takes no condition, so the ETag the worker judged is checked by a
   * HEAD just before: a write landing between the two is moved too (one store call's window).
   * OCI moves nothing out of Archive; an Archive object asked for DEEP_ARCHIVE stays as it is.
   */
  async setStorageClass(bucket: string, key: string, storageClass: string, ifMatch: string): Promise<void> {
    const tier = tierOf(storageClass);
    if (!tier) throw new S3Error('InvalidStorageClass', `The oci backend has no storage tier for ${storageClass}.`);
    const cur = await this.existing(bucket, key);
    if (cur.meta.etag !== unquoteEtag(ifMatch)) throw new S3Error('PreconditionFailed');
    if (cur.headers['storage-tier'] === tier) return;
    await this.call({ bucket, key }, async () => {
      const r = await this.client.send({
        method: 'POST',
        path: await this.bucketPath(bucket, 'actions', 'updateObjectStorageTier'),
        json: { objectName: ociNames.nameOf(key), storageTier: tier },
      });
      r.body.resume();
    });
  }

  /**
   * RestoreObject: RestoreObjects for `days` (OCI keeps a restored object readable for 1 to 240
   * hours, so `days` above 10 is 10 days; S3's default of 1 day when none is named). An object
   * being restored answers 'ongoing', a restored one 'restored'.
   */
  async restoreObject(bucket: string, key: string, days: number | undefined): Promise<'started' | 'ongoing' | 'restored'> {
    const cur = await this.existing(bucket, key);
    const state = cur.headers['archival-state'];
    if (cur.headers['storage-tier'] !== 'Archive' || state === undefined)
      throw new S3Error('InvalidObjectState', "Restore is not allowed for the object's current storage class");
    if (state === 'Restoring') return 'ongoing';
    const hours = Math.min(240, Math.max(1, Math.round((days ?? 1) * 24)));
    const status = await this.call({ bucket, key }, async () => {
      try {
        const r = await this.client.send({
          method: 'POST',
          path: await this.bucketPath(bucket, 'actions', 'restoreObjects'),
          json: { objectName: ociNames.nameOf(key), hours },
        });
        r.body.resume();
        return r.status;
      } catch (err) {
        if (isOciStatus(err, 409)) return 409;
        throw err;
      }
    });
    return status === 202 ? 'started' : status === 409 ? 'ongoing' : 'restored';
  }

  /**
   * Replaces the metadata of the current version by copying the object onto itself, on the
   * condition that it is still that version; a concurrent write makes it read again.
   */
  private async rewriteMetadata(bucket: string, key: string, change: (a: ObjectAttributes) => ObjectAttributes): Promise<void> {
    const name = ociNames.nameOf(key);
    for (let attempt = 1; ; attempt++) {
      const found = await this.current(bucket, name, key);
      if (!found) throw new S3Error('NoSuchKey', undefined, { Key: key });
      const cur = await this.withLayout(bucket, name, found);
      const { attrs, extras } = fromOci(cur.headers);
      // The copy keeps the multipart ETag (recordedEtag), so it keeps the part sizes too, in its own metadata.
      const next = change(cur.meta.partSizes ? { ...attrs, partSizes: cur.meta.partSizes } : attrs);
      try {
        await this.serverCopy(bucket, name, bucket, name, toOci(next, { ...extras, etag: recordedEtag(cur) }).metadata, cur.ociEtag, {
          destinationObjectIfMatchETag: cur.ociEtag,
        });
        return;
      } catch (err) {
        const s3 = toS3ErrorFromOci(err, { bucket, key });
        if (attempt < MAX_META_ATTEMPTS && s3.code === 'PreconditionFailed') continue;
        throw s3;
      }
    }
  }

  /**
   * Server-side copy when OCI can make the copy as asked (it keeps content headers as they
   * are), else a stream through s3mux. Without `attrs` the source's attributes come along.
   */
  async copyObject(
    srcBucket: string,
    srcKey: string,
    dstBucket: string,
    dstKey: string,
    attrs: ObjectAttributes | undefined,
  ): Promise<ObjectMeta> {
    this.checkBucket(dstBucket);
    const srcName = ociNames.nameOf(srcKey);
    const src = await this.current(this.checkBucket(srcBucket), srcName, srcKey);
    if (!src) throw new S3Error('NoSuchKey', undefined, { Key: srcKey });
    const { attrs: srcAttrs } = fromOci(src.headers);
    let next: ObjectAttributes;
    if (attrs === undefined) next = copyAttributes(srcAttrs);
    else {
      next = storedAttributes(attrs);
      if (attrs.tags === undefined && srcAttrs.tags !== undefined) next.tags = srcAttrs.tags.map((t) => ({ ...t }));
      if (attrs.checksums === undefined && srcAttrs.checksums !== undefined) next.checksums = { ...srcAttrs.checksums };
    }
    const target = toOci(next, { etag: recordedEtag(src) });
    const sameHeaders = JSON.stringify(target.headers) === JSON.stringify(toOci(srcAttrs).headers);
    // A copy with attributes of its own is in the tier they name (STANDARD names none); the
    // server-side copy keeps the source's.
    const sameTier =
      tierOf(next.storageClass) === tierOf(srcAttrs.storageClass) || (attrs === undefined && tierOf(next.storageClass) === undefined);
    if (!sameHeaders || !sameTier) {
      const handle = new OciObjectHandle(src.meta, this, srcBucket, srcName, src.ociEtag);
      return this.putObject(dstBucket, dstKey, handle.read(), next, { size: src.meta.size });
    }
    await this.call({ bucket: dstBucket, key: dstKey }, async () => {
      await this.headBucket(dstBucket);
      await this.serverCopy(srcBucket, srcName, dstBucket, ociNames.nameOf(dstKey), target.metadata, src.ociEtag, {});
    });
    return this.headObject(dstBucket, dstKey);
  }

  /** CopyObject, then waits for its work request (unmapped errors). */
  private async serverCopy(
    srcBucket: string,
    srcName: string,
    dstBucket: string,
    dstName: string,
    metadata: Record<string, string>,
    srcOciEtag: string,
    extra: Record<string, string>,
  ): Promise<void> {
    const ns = await this.ns();
    // OCI gives the copy the source's metadata when the request names none: an empty set is
    // written as one field of s3mux's that means nothing.
    const dest: Record<string, string> = { [`${META}${SYS}none`]: '1' };
    for (const [k, v] of Object.entries(metadata)) dest[META + k] = v;
    const headers = await this.client.headers({
      method: 'POST',
      path: await this.bucketPath(srcBucket, 'actions', 'copyObject'),
      json: {
        sourceObjectName: srcName,
        sourceObjectIfMatchETag: srcOciEtag,
        destinationRegion: await this.region(),
        destinationNamespace: ns,
        destinationBucket: dstBucket,
        destinationObjectName: dstName,
        destinationObjectMetadata: dest,
        ...extra,
      },
    });
    const id = headers['opc-work-request-id'];
    if (!id) throw new S3Error('InternalError', 'OCI accepted the copy but named no work request to follow.');
    await this.waitForWorkRequest(id);
  }

  private async region(): Promise<string> {
    const r = await this.client.region();
    if (!r) throw new S3Error('InternalError', "oci: set 'region' (CopyObject names the destination region).");
    return r;
  }

  /** Polls a work request until it ends; a failed one throws the OCI error it reports. */
  private async waitForWorkRequest(id: string): Promise<void> {
    const started = Date.now();
    let wait = this.opts.copyPollMs ?? 250;
    for (;;) {
      const r = await this.client.json<{ status?: string }>({ method: 'GET', path: pathOf('workRequests', id) });
      const status = r.value?.status;
      if (status === 'COMPLETED') return;
      if (status === 'FAILED' || status === 'CANCELED' || status === 'CANCELING') {
        const errors = await this.client
          .json<{ code?: string; message?: string }[]>({ method: 'GET', path: pathOf('workRequests', id, 'errors') })
          .catch(() => undefined);
        const e = errors?.value?.[0];
        throw new OciHttpError(
          status === 'FAILED' ? statusOfWorkError(e?.code) : 409,
          e?.code ?? 'Conflict',
          e?.message ?? `The copy ended ${status}.`,
        );
      }
      if (Date.now() - started > (this.opts.copyTimeoutMs ?? 3_600_000))
        throw new S3Error('ServiceUnavailable', 'OCI did not finish the copy in time.');
      await new Promise((res) => setTimeout(res, wait));
      wait = Math.min(wait * 2, 2000);
    }
  }

  // ---------------------------------------------------------------- listing

  /**
   * @internal Object summaries with names starting with `prefix`, in order, from `start`
   * (inclusive) on, `limit` per request.
   */
  async *names(bucket: string, prefix: string, start: string | undefined, limit: number): AsyncGenerator<OciObjectSummary> {
    const path = await this.bucketPath(bucket, 'o');
    let next = start !== undefined && compareKeys(start, prefix) > 0 ? start : undefined;
    for (;;) {
      const r = await this.call({ bucket }, () =>
        this.client.json<{ objects?: OciObjectSummary[]; nextStartWith?: string }>({
          method: 'GET',
          path,
          query: { prefix: prefix || undefined, start: next, limit, fields: LIST_FIELDS },
        }),
      );
      for (const o of r.value?.objects ?? []) yield o;
      next = r.value?.nextStartWith;
      if (!next) return;
    }
  }

  async listObjects(bucket: string, opts: ListOptions): Promise<ListPage> {
    this.checkBucket(bucket);
    const prefix = opts.prefix ?? '';
    if (prefix.includes('\0') || Buffer.byteLength(prefix, 'utf8') > 1024) {
      await this.headBucket(bucket);
      return { objects: [], commonPrefixes: [], isTruncated: false };
    }
    const page = await listFromSource((seek) => this.source(bucket, seek), { ...opts, prefix });
    if (page.objects.length === 0 && page.commonPrefixes.length === 0) await this.headBucket(bucket);
    return page;
  }

  private source(bucket: string, seek: ListSeek): AsyncIterable<ListSourceItem> {
    const from = firstWantedName(seek);
    const self = this;
    const natural = async function* (): AsyncGenerator<ObjectSummary> {
      let start = from;
      for (let pass = 0; pass < 2; pass++) {
        let skipReserved = false;
        for await (const o of self.names(bucket, seek.prefix, start, PAGE_SIZE)) {
          // The reserved area holds only escaped keys, listed apart: jump past it.
          if (o.name.startsWith(RESERVED_PREFIX)) {
            skipReserved = true;
            break;
          }
          if (seekWants(o.name, seek)) yield summaryOf(o.name, o);
        }
        if (!skipReserved) return;
        start = PAST_RESERVED;
      }
    };
    const escaped = async function* (): AsyncGenerator<ObjectSummary> {
      const codeFrom = from !== undefined ? ociNames.escapedPrefixFor(from) : undefined;
      for await (const o of self.names(bucket, ociNames.escapedPrefixFor(seek.prefix), codeFrom, PAGE_SIZE)) {
        const key = ociNames.keyOfEscaped(o.name);
        if (key !== undefined && seekWants(key, seek)) yield summaryOf(key, o);
      }
    };
    return { [Symbol.asyncIterator]: () => mergeAscending(natural(), escaped()) };
  }

  async close(): Promise<void> {
    await this.client.close();
  }
}

/** The S3 ETag to record with a copy when OCI's hashes would not give it (a copy may not keep a multipart MD5). */
function recordedEtag(cur: Current): string | undefined {
  return /-\d+$/.test(cur.meta.etag) ? cur.meta.etag : undefined;
}

function statusOfWorkError(code: string | undefined): number {
  if (code === 'ObjectNotFound' || code === 'BucketNotFound') return 404;
  if (code && /IfMatch|IfNoneMatch|Precondition|ETag/i.test(code)) return 412;
  return 500;
}

function summaryOf(key: string, o: OciObjectSummary): ObjectSummary {
  const storageClass = fromMetadata({}, { 'storage-tier': o.storageTier }).attrs.storageClass;
  return {
    key,
    size: Number(o.size ?? 0),
    etag: s3EtagOf(o.md5, o.etag),
    lastModified: dateOf(o.timeModified ?? o.timeCreated),
    ...(storageClass !== undefined ? { storageClass } : {}),
  };
}

export type { OciTier };

// ---------------------------------------------------------------- from the routing table

/** The backend for an `oci` entry of the routing table; secrets are resolved here. */
export function ociBackendFromSpec(spec: OciSettings, ctx: BackendContext): OciBackend {
  return new OciBackend({
    namespace: spec.namespace,
    region: spec.region,
    endpoint: spec.endpoint,
    compartmentId: spec.compartmentId,
    bucketTier: spec.storageTier,
    provider: ociProvider(spec.credentials, `backend '${ctx.name}'`, ctx.env),
  });
}
