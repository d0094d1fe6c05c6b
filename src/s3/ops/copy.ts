/** CopyObject: within a backend natively where it can, otherwise streamed across. */
import { aclForWrite, recordObjectAcl } from '../access';
import { S3Error } from '../../errors';
import type { ObjectAttributes, ObjectMeta } from '../../backends/types';
import type { BucketView } from '../../router/bucket-view';
import type { Handler, S3Context } from '../context';
import { checkCopySourceConditions } from '../conditions';
import { attributesFromHeaders } from '../headers';
import { headerText } from '../header-values';
import { xmlResponse } from '../respond';
import { expirationHeaders } from '../expiration';
import { lockFromHeaders, readConditions, writeConditions, writtenChecksumHeaders, writtenVersionHeader } from './objects';
import { VersionedObjects, type VersionedHandle, type VersionedMeta } from '../../versioning/objects';
import { bucketTier } from '../../bucket-config/tier';
import {
  checksumElements,
  checksumTypeElement,
  checksummed,
  compositeChecksum,
  parseChecksumAlgorithm,
  type ChecksumAlgorithm,
} from '../checksums';

export interface CopySource {
  bucket: string;
  key: string;
  /** `?versionId=` of the source (undefined: its latest version). */
  versionId?: string;
}

/** x-amz-copy-source: `bucket/key` or `/bucket/key`, URL-encoded, maybe with `?versionId=`. */
export function parseCopySource(value: string): CopySource {
  // Its bytes are UTF-8 (percent-encoded or not): read one char per byte, a raw 'é' named the
  // key 'Ã©'.
  const text = headerText(value);
  if (text === undefined) throw new S3Error('InvalidArgument', 'Invalid copy source encoding', { ArgumentName: 'x-amz-copy-source' });
  let v = text.startsWith('/') ? text.slice(1) : text;
  const q = v.indexOf('?');
  let versionId: string | undefined;
  if (q !== -1) {
    versionId = new URLSearchParams(v.slice(q + 1)).get('versionId') ?? undefined;
    v = v.slice(0, q);
  }
  let decoded: string;
  try {
    decoded = decodeURIComponent(v);
  } catch {
    throw new S3Error('InvalidArgument', 'Invalid copy source encoding', { ArgumentName: 'x-amz-copy-source' });
  }
  const slash = decoded.indexOf('/');
  if (slash <= 0 || slash === decoded.length - 1) {
    throw new S3Error('InvalidArgument', 'Invalid copy source object key', { ArgumentName: 'x-amz-copy-source', ArgumentValue: value });
  }
  return { bucket: decoded.slice(0, slash), key: decoded.slice(slash + 1), versionId };
}

function directive(ctx: S3Context, name: string): 'COPY' | 'REPLACE' {
  const v = ctx.header(name) ?? 'COPY';
  if (v !== 'COPY' && v !== 'REPLACE') throw new S3Error('InvalidArgument', `Unknown ${name}`, { ArgumentName: name, ArgumentValue: v });
  return v;
}

/** The attributes the copy gets: the source's, or the request's for REPLACE. */
function copiedAttributes(ctx: S3Context, source: VersionedMeta): ObjectAttributes {
  const requested = attributesFromHeaders(ctx.headers);
  const metadata = directive(ctx, 'x-amz-metadata-directive');
  const tagging = directive(ctx, 'x-amz-tagging-directive');
  // The source version's id and object lock are its own: a copy is a new version, locked only as
  // its request (or the bucket's default retention) asks.
  const { key: _k, size: _s, etag: _e, lastModified: _l, versionId: _v, lock: _lock, ...sourceAttrs } = source;
  // The storage class is the request's, never the source's: S3 stores a copy naming none as
  // STANDARD (or, here, the destination bucket's tier), whichever directive it names.
  const attrs: ObjectAttributes =
    metadata === 'REPLACE'
      ? { ...requested, tags: sourceAttrs.tags, checksums: sourceAttrs.checksums }
      : { ...sourceAttrs, storageClass: requested.storageClass };
  attrs.tags = tagging === 'REPLACE' ? (requested.tags ?? []) : sourceAttrs.tags;
  // A copy is encrypted as its own request asks, whatever the source was.
  if (requested.serverSideEncryption) attrs.serverSideEncryption = requested.serverSideEncryption;
  else delete attrs.serverSideEncryption;
  return attrs;
}

/**
 * x-amz-checksum-algorithm on a copy: the copy holds a checksum of that algorithm (S3 keeps
 * one per object). The source's is kept when it has one for the whole object; otherwise it is
 * computed from the bytes as they are copied. A copy of a multipart source is one part: its
 * composite checksum (value-N) describes parts the copy does not have, so the copy gets one of
 * the same algorithm over its bytes. Undefined: no checksum to give.
 */
function copyChecksum(
  ctx: S3Context,
  source: ObjectMeta,
  attrs: ObjectAttributes,
): { algorithm: ChecksumAlgorithm; kept?: string } | undefined {
  const composite = compositeChecksum(attrs.checksums)?.[0];
  const named = ctx.header('x-amz-checksum-algorithm') ?? composite;
  if (named === undefined) return undefined;
  const algorithm = parseChecksumAlgorithm(named);
  // A multipart source's checksum describes its parts, not the copy's bytes.
  const kept = source.etag.includes('-') ? undefined : attrs.checksums?.[algorithm];
  return { algorithm, kept };
}

/** The copy source's headers on a copy's answer: the version it was read from. */
export function copySourceHeaders(meta: { versionId?: string }): Record<string, string> {
  return meta.versionId === undefined ? {} : { 'x-amz-copy-source-version-id': meta.versionId };
}

/**
 * Opens a copy's source. A source naming a delete marker by its version id is S3's 400
 * InvalidRequest, where a read of that marker is 405 MethodNotAllowed (AWS's recorded answers
 * to CopyObject and UploadPartCopy).
 */
export async function openCopySource(reader: VersionedObjects, source: CopySource): Promise<VersionedHandle> {
  try {
    return await reader.open(source.key, source.versionId);
  } catch (e) {
    if (
      source.versionId !== undefined &&
      e instanceof S3Error &&
      e.code === 'MethodNotAllowed' &&
      e.extra.ResourceType === 'DeleteMarker'
    ) {
      throw new S3Error('InvalidRequest', 'The source of a copy request may not specifically refer to a delete marker by version id.');
    }
    throw e;
  }
}

export async function copyBetween(
  src: BucketView,
  source: CopySource,
  dst: BucketView,
  dstKey: string,
  ctx: S3Context,
): Promise<{ meta: VersionedMeta; source: VersionedMeta }> {
  const srcKey = source.key;
  const reader = await VersionedObjects.of(src);
  const handle = await openCopySource(reader, source);
  try {
    checkCopySourceConditions(handle.meta, readConditions(ctx, 'x-amz-copy-source-'));
    const sameObject =
      src.route.backend === dst.route.backend && src.realBucket === dst.realBucket && src.realKey(srcKey) === dst.realKey(dstKey);
    const attrs = copiedAttributes(ctx, handle.meta);
    // A copy is one part, whatever its source: S3 gives it the MD5 of its bytes as its ETag,
    // which only a store that copies as S3 does computes itself.
    const etagFromBytes = handle.meta.etag.includes('-') && !dst.backend.capabilities.copyMakesOnePart;
    delete attrs.partSizes;
    delete attrs.partChecksums;
    // A copy naming no class takes the destination bucket's tier, where its CreateBucket named one.
    if (ctx.header('x-amz-storage-class') === undefined) {
      const tier = await bucketTier(dst);
      if (tier) attrs.storageClass = tier.storageClass;
    }
    const checksum = copyChecksum(ctx, handle.meta, attrs);
    const computeChecksum = checksum !== undefined && checksum.kept === undefined;
    if (checksum) attrs.checksums = checksum.kept === undefined ? undefined : { [checksum.algorithm]: checksum.kept };
    if (
      sameObject &&
      // Copying an older version over the key restores it, and a new checksum the request names changes it.
      source.versionId === undefined &&
      !(computeChecksum && ctx.header('x-amz-checksum-algorithm') !== undefined) &&
      ctx.header('x-amz-metadata-directive') !== 'REPLACE' &&
      ctx.header('x-amz-storage-class') === undefined &&
      ctx.header('x-amz-tagging-directive') !== 'REPLACE'
    ) {
      throw new S3Error(
        'InvalidRequest',
        "This copy request is illegal because it is trying to copy an object to itself without changing the object's metadata, storage class, website redirect location or encryption attributes.",
      );
    }
    const target = await VersionedObjects.of(dst);
    // The copy's lock is what this request asks for (or the bucket's default), never the source's.
    const lock = lockFromHeaders(ctx, target);
    // A versioned destination takes the bytes through its version layer; a plain one may copy natively.
    // A checksum computed from the bytes, or the new ETag of a multipart source's copy, needs
    // them to pass through s3mux.
    const native =
      target.status || reader.status || computeChecksum || etagFromBytes ? undefined : await dst.nativeCopyFrom(src, srcKey, dstKey, attrs);
    if (native) return { meta: native, source: handle.meta };
    // Set as the bytes end, before the store commits the copy.
    const body = computeChecksum
      ? checksummed(handle.read(), checksum.algorithm, (v) => (attrs.checksums = { [checksum.algorithm]: v }))
      : handle.read();
    const meta = await target.put(dstKey, body, attrs, { size: handle.meta.size, conditions: writeConditions(ctx), lock });
    return { meta, source: handle.meta };
  } finally {
    await handle.close();
  }
}

export const copyObject: Handler = async (ctx) => {
  const dstKey = ctx.key;
  const source = parseCopySource(ctx.header('x-amz-copy-source') ?? '');
  const src = await ctx.sourceBucket(source.bucket, source.key, source.versionId);
  const dst = ctx.bucket();
  dst.assertWritable();
  await dst.exists();
  const acl = await aclForWrite(ctx, dst);
  const { meta, source: read } = await copyBetween(src, source, dst, dstKey, ctx);
  await recordObjectAcl(dst, dstKey, acl, meta);
  return xmlResponse(
    'CopyObjectResult',
    {
      LastModified: meta.lastModified,
      ETag: `"${meta.etag}"`,
      ...checksumElements(meta.checksums),
      ...checksumTypeElement(meta.checksums),
    },
    200,
    {
      ...writtenChecksumHeaders(meta),
      ...writtenVersionHeader(meta),
      ...copySourceHeaders(read),
      ...(await expirationHeaders(ctx, dstKey, meta)),
    },
  );
};
