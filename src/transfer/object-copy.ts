/**
 * Copying one object between two locations, the three ways: server-side (the store copies,
 * no bytes through s3mux), one streamed PUT, or a multipart upload in ranged reads. Content
 * headers, user metadata, tags and storage class travel with the bytes; the bytes are checked
 * against the source on the way (verify.ts) and the destination's answer is checked against
 * the bytes.
 */
import { createHash } from 'node:crypto';
import { pipeline, Transform, type Readable } from 'node:stream';
import { copyAttributes } from '../backends/attributes';
import { checkStorageClass } from '../backends/storage-classes';
import type { ObjectAttributes, ObjectHandle, ObjectMeta, ObjectSummary, PartInfo, WriteConditions } from '../backends/types';
import { multipartEtag } from '../backends/multipart-etag';
import { Throttle, type RateLimiter } from './rate-limit';
import { ChecksumMismatch, isRetryable, SourceChanged, withRetries } from './retry';
import type { Location, RetryPolicy } from './types';
import { checkableChecksums, isPlainEtag, SourceVerifier, sourcePartSizes, type Verification } from './verify';

const MiB = 1024 * 1024;
const MIN_PART = 5 * MiB;
const MAX_PARTS = 10_000;

export interface CopyContext {
  source: Location;
  destination: Location;
  limiter?: RateLimiter;
  retry: RetryPolicy;
  multipartThreshold: number;
  partSize: number;
  serverSide: boolean;
  conditionalWrites: boolean;
  signal?: AbortSignal;
  onRetry(key: string, attempt: number, delayMs: number, err: unknown): void;
}

export interface CopyResult {
  how: 'server-side' | 'stream' | 'multipart';
  meta: ObjectMeta;
  verification: Verification[];
}

/** The write condition that makes a copy lose to any write the comparison did not see. */
export function conditionsFor(dst: ObjectSummary | undefined): WriteConditions {
  return dst ? { ifMatch: dst.etag } : { ifNoneMatch: '*' };
}

/** What the destination is given: the source's attributes, without what describes the source's own layout. */
function attributesToWrite(meta: ObjectMeta, carryChecksums: boolean): ObjectAttributes {
  const attrs = copyAttributes(meta);
  delete attrs.partSizes;
  delete attrs.partChecksums;
  // Only full-object checksums the copy recomputes travel; a composite (per-part) value would
  // describe a part layout the destination may not have.
  const checksums = carryChecksums ? checkableChecksums(meta) : {};
  if (Object.keys(checksums).length > 0) attrs.checksums = checksums;
  else delete attrs.checksums;
  return attrs;
}

/** Part sizes for a multipart copy: the source's own when a store would accept them (the ETag then survives), else even parts. */
export function planParts(meta: Pick<ObjectMeta, 'etag' | 'size' | 'partSizes'>, partSize: number): number[] {
  const own = sourcePartSizes(meta);
  if (own && own.length <= MAX_PARTS && own.slice(0, -1).every((s) => s >= MIN_PART)) return own;
  let size = Math.max(partSize, MIN_PART, Math.ceil(meta.size / MAX_PARTS));
  size = Math.ceil(size / MiB) * MiB;
  const parts: number[] = [];
  for (let left = meta.size; left > 0; left -= size) parts.push(Math.min(size, left));
  return parts.length ? parts : [0];
}

/** Copies `key` (relative). `dst` is what the comparison saw at the destination, for conditional writes. */
export async function copyOne(ctx: CopyContext, key: string, dst: ObjectSummary | undefined): Promise<CopyResult> {
  const { source, destination } = ctx;
  const srcKey = source.prefix + key;
  const dstKey = destination.prefix + key;
  const conditions = ctx.conditionalWrites ? conditionsFor(dst) : undefined;

  if (ctx.serverSide && !ctx.conditionalWrites && source.backend === destination.backend && source.backend.copyObject) {
    const before = await source.backend.headObject(source.bucket, srcKey);
    const meta = await source.backend.copyObject(source.bucket, srcKey, destination.bucket, dstKey, undefined);
    if (meta.size !== before.size) throw new ChecksumMismatch(`${key}: server-side copy made ${meta.size} bytes of ${before.size}`);
    return { how: 'server-side', meta, verification: ['size'] };
  }

  const handle = await source.backend.openObject(source.bucket, srcKey);
  let parts: number[] = [];
  try {
    // The class travels with the bytes: one the destination cannot hold is InvalidStorageClass, never dropped.
    if (handle.meta.storageClass !== undefined) checkStorageClass(destination.backend, handle.meta.storageClass);
    if (handle.meta.size >= ctx.multipartThreshold || sourcePartSizes(handle.meta)) parts = planParts(handle.meta, ctx.partSize);
    if (parts.length <= 1 || !destination.backend.multipart) return await streamCopy(ctx, handle, dstKey, conditions);
  } finally {
    await handle.close();
  }
  // A handle may serve one read (fs): each part opens the object again, and must find the same version.
  return await multipartCopy(ctx, handle.meta, srcKey, dstKey, parts, conditions);
}

/** Pipes `body` through the rate limit and `tail`, so that a failure anywhere ends the whole chain. */
function throttled<T extends NodeJS.ReadWriteStream>(ctx: CopyContext, body: Readable, tail: T): T {
  pipeline(body, new Throttle(ctx.limiter), tail, () => {});
  return tail;
}

async function streamCopy(ctx: CopyContext, handle: ObjectHandle, dstKey: string, conditions?: WriteConditions): Promise<CopyResult> {
  const { destination } = ctx;
  const verifier = throttled(ctx, handle.read(), new SourceVerifier(handle.meta));
  let meta: ObjectMeta;
  try {
    meta = await destination.backend.putObject(destination.bucket, dstKey, verifier, attributesToWrite(handle.meta, true), {
      size: handle.meta.size,
      conditions,
    });
  } catch (err) {
    verifier.destroy();
    throw verifier.mismatch ?? err;
  }
  if (verifier.mismatch) throw verifier.mismatch;
  checkWritten(handle.meta.key, meta, handle.meta.size, verifier.md5Hex);
  return { how: 'stream', meta, verification: verifier.verification };
}

/** The destination must hold as many bytes as were read, and a plain ETag must be their MD5. */
function checkWritten(key: string, meta: ObjectMeta, size: number, md5Hex: string | undefined): void {
  if (meta.size !== size) throw new ChecksumMismatch(`${key}: the destination stored ${meta.size} bytes of ${size}`);
  if (md5Hex && isPlainEtag(meta.etag) && meta.etag !== md5Hex)
    throw new ChecksumMismatch(`${key}: the destination's ETag ${meta.etag} is not the MD5 of the bytes sent (${md5Hex})`);
}

async function multipartCopy(
  ctx: CopyContext,
  src: ObjectMeta,
  srcKey: string,
  dstKey: string,
  sizes: number[],
  conditions?: WriteConditions,
): Promise<CopyResult> {
  const { source, destination } = ctx;
  const mp = destination.backend.multipart!;
  const uploadId = await mp.createUpload(destination.bucket, dstKey, attributesToWrite(src, false));
  try {
    // The whole object's MD5 goes on only with a part that was stored: an attempt hashes into a copy.
    let whole = createHash('md5');
    const partEtags: string[] = [];
    let start = 0;
    for (let i = 0; i < sizes.length; i++) {
      const range = { start, end: start + sizes[i] - 1 };
      const { info, hash } = await withRetries(
        async () => {
          const attemptWhole = whole.copy();
          const partMd5 = createHash('md5');
          const hashing = new Transform({
            transform(c: Buffer, _enc, cb) {
              attemptWhole.update(c);
              partMd5.update(c);
              cb(null, c);
            },
          });
          const part = await source.backend.openObject(source.bucket, srcKey);
          let info: PartInfo;
          try {
            if (part.meta.etag !== src.etag || part.meta.size !== src.size) throw new SourceChanged(`${src.key} changed during the copy`);
            const body = throttled(ctx, part.read(range), hashing);
            info = await mp.uploadPart(destination.bucket, dstKey, uploadId, i + 1, body, { size: sizes[i] });
          } finally {
            await part.close();
          }
          const md5 = partMd5.digest('hex');
          if (info.etag !== md5) throw new ChecksumMismatch(`${src.key}: part ${i + 1} stored with ETag ${info.etag}, sent ${md5}`);
          if (info.size !== sizes[i]) throw new ChecksumMismatch(`${src.key}: part ${i + 1} stored ${info.size} bytes of ${sizes[i]}`);
          return { info, hash: attemptWhole };
        },
        ctx.retry,
        (attempt, delay, err) => ctx.onRetry(`${src.key}#part${i + 1}`, attempt, delay, err),
        ctx.signal,
        // A changed source is retried by the whole object's copy, not part by part.
        (err) => !(err instanceof SourceChanged) && isRetryable(err),
      );
      whole = hash;
      partEtags.push(info.etag);
      start += sizes[i];
    }
    const verification: Verification[] = ['size'];
    const md5Hex = whole.digest('hex');
    const etag = multipartEtag(partEtags);
    if (isPlainEtag(src.etag)) {
      if (md5Hex !== src.etag) throw new ChecksumMismatch(`${src.key}: content MD5 ${md5Hex} differs from the source ETag ${src.etag}`);
      verification.push('md5');
    } else if (sourcePartSizes(src) && sizes.length === src.partSizes!.length) {
      if (etag !== src.etag)
        throw new ChecksumMismatch(`${src.key}: multipart ETag recomputed as ${etag} differs from the source's ${src.etag}`);
      verification.push('multipart-etag');
    }
    const meta = await mp.completeUpload(
      destination.bucket,
      dstKey,
      uploadId,
      sizes.map((_, i) => i + 1),
      etag,
      { conditions },
    );
    if (meta.size !== src.size) throw new ChecksumMismatch(`${src.key}: the destination stored ${meta.size} bytes of ${src.size}`);
    return { how: 'multipart', meta, verification };
  } catch (err) {
    await mp.abortUpload(destination.bucket, dstKey, uploadId).catch(() => {});
    throw err;
  }
}
