/** CopyObject: within a backend natively where it can, otherwise streamed across. */
import { aclForWrite, writeObjectAcl } from '../access';
import { S3Error } from '../../errors';
import type { ObjectAttributes, ObjectMeta } from '../../backends/types';
import type { BucketView } from '../../router/bucket-view';
import type { Handler, S3Context } from '../context';
import { checkCopySourceConditions } from '../conditions';
import { attributesFromHeaders } from '../headers';
import { xmlResponse } from '../respond';
import { readConditions, writeConditions, writtenChecksumHeaders } from './objects';

export interface CopySource {
  bucket: string;
  key: string;
}

/** x-amz-copy-source: `bucket/key` or `/bucket/key`, URL-encoded, maybe with `?versionId=`. */
export function parseCopySource(value: string): CopySource {
  let v = value.startsWith('/') ? value.slice(1) : value;
  const q = v.indexOf('?');
  if (q !== -1) {
    const versionId = new URLSearchParams(v.slice(q + 1)).get('versionId');
    if (versionId !== null && versionId !== 'null') throw new S3Error('NotImplemented', 'Object versions are not supported.');
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
  return { bucket: decoded.slice(0, slash), key: decoded.slice(slash + 1) };
}

function directive(ctx: S3Context, name: string): 'COPY' | 'REPLACE' {
  const v = ctx.header(name) ?? 'COPY';
  if (v !== 'COPY' && v !== 'REPLACE') throw new S3Error('InvalidArgument', `Unknown ${name}`, { ArgumentName: name, ArgumentValue: v });
  return v;
}

/** The attributes the copy gets: the source's, or the request's for REPLACE. */
function copiedAttributes(ctx: S3Context, source: ObjectMeta): ObjectAttributes {
  const requested = attributesFromHeaders(ctx.headers);
  const metadata = directive(ctx, 'x-amz-metadata-directive');
  const tagging = directive(ctx, 'x-amz-tagging-directive');
  const { key: _k, size: _s, etag: _e, lastModified: _l, ...sourceAttrs } = source;
  const attrs: ObjectAttributes =
    metadata === 'REPLACE'
      ? { ...requested, tags: sourceAttrs.tags, checksums: sourceAttrs.checksums }
      : { ...sourceAttrs, storageClass: requested.storageClass ?? sourceAttrs.storageClass };
  attrs.tags = tagging === 'REPLACE' ? (requested.tags ?? []) : sourceAttrs.tags;
  return attrs;
}

export async function copyBetween(src: BucketView, srcKey: string, dst: BucketView, dstKey: string, ctx: S3Context): Promise<ObjectMeta> {
  const handle = await src.openObject(srcKey);
  try {
    checkCopySourceConditions(handle.meta, readConditions(ctx, 'x-amz-copy-source-'));
    const sameObject =
      src.route.backend === dst.route.backend && src.realBucket === dst.realBucket && src.realKey(srcKey) === dst.realKey(dstKey);
    const attrs = copiedAttributes(ctx, handle.meta);
    if (
      sameObject &&
      ctx.header('x-amz-metadata-directive') !== 'REPLACE' &&
      ctx.header('x-amz-storage-class') === undefined &&
      ctx.header('x-amz-tagging-directive') !== 'REPLACE'
    ) {
      throw new S3Error(
        'InvalidRequest',
        "This copy request is illegal because it is trying to copy an object to itself without changing the object's metadata, storage class, website redirect location or encryption attributes.",
      );
    }
    const native = await dst.nativeCopyFrom(src, srcKey, dstKey, attrs);
    if (native) return native;
    return await dst.putObject(dstKey, handle.read(), attrs, { size: handle.meta.size, conditions: writeConditions(ctx) });
  } finally {
    await handle.close();
  }
}

export const copyObject: Handler = async (ctx) => {
  const dstKey = ctx.key;
  const source = parseCopySource(ctx.header('x-amz-copy-source') ?? '');
  const src = await ctx.sourceBucket(source.bucket, source.key);
  const dst = ctx.bucket();
  dst.assertWritable();
  await dst.exists();
  const acl = await aclForWrite(ctx, dst);
  const meta = await copyBetween(src, source.key, dst, dstKey, ctx);
  await writeObjectAcl(dst, dstKey, acl);
  return xmlResponse('CopyObjectResult', { LastModified: meta.lastModified, ETag: `"${meta.etag}"` }, 200, writtenChecksumHeaders(meta));
};
