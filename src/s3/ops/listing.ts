/** ListObjects (v1) and ListObjectsV2. */
import { S3Error } from '../../errors';
import type { ListPage, ObjectSummary } from '../../backends/types';
import type { Handler, S3Context } from '../context';
import { xmlResponse } from '../respond';
import { listedOwners } from '../listed-owners';
import { decodeToken, encodeToken } from '../continuation-token';
import { ALGORITHM_NAME, type ChecksumAlgorithm, type ChecksumType } from '../checksums';

const MAX_KEYS = 1000;

export function parseMaxKeys(value: string | null, name = 'max-keys', cap = MAX_KEYS): number {
  if (value === null || value === '') return cap;
  if (!/^\d+$/.test(value) || Number(value) > 2147483647)
    throw new S3Error('InvalidArgument', `Provided ${name} not an integer or within integer range`, {
      ArgumentName: name,
      ArgumentValue: value,
    });
  return Math.min(Number(value), cap);
}

/** encoding-type=url: S3 percent-encodes names so any byte survives XML. */
export function encoder(ctx: S3Context): (s: string) => string {
  const type = ctx.query.get('encoding-type');
  if (type === null) return (s) => s;
  if (type !== 'url')
    throw new S3Error('InvalidArgument', 'Invalid Encoding Method specified in Request', {
      ArgumentName: 'encoding-type',
      ArgumentValue: type,
    });
  return (s) =>
    encodeURIComponent(s)
      .replace(/%2F/g, '/')
      .replace(/[!'()*]/g, (c) => '%' + c.charCodeAt(0).toString(16).toUpperCase());
}

async function list(ctx: S3Context, startAfter: string | undefined, maxKeys: number): Promise<ListPage> {
  const view = ctx.bucket();
  const prefix = ctx.query.get('prefix') ?? '';
  const delimiter = ctx.query.get('delimiter') || undefined;
  if (maxKeys === 0) {
    await view.exists();
    return { objects: [], commonPrefixes: [], isTruncated: false };
  }
  return view.listObjects({ prefix, delimiter, startAfter, maxKeys });
}

/**
 * The ChecksumAlgorithm and ChecksumType elements of a listed object or version (<Contents>,
 * <Version>), as S3 writes them after its ETag; none for an object whose store named no
 * checksum (s3mux computes none for an object uploaded without one, where AWS lists a default
 * CRC64NVME). The one place a listing writes them.
 */
export function listedChecksum(entry: { checksumAlgorithm?: ChecksumAlgorithm; checksumType?: ChecksumType }): {
  algorithm: string | undefined;
  type: ChecksumType | undefined;
} {
  const algorithm = entry.checksumAlgorithm === undefined ? undefined : ALGORITHM_NAME[entry.checksumAlgorithm];
  return { algorithm, type: algorithm === undefined ? undefined : entry.checksumType };
}

async function contents(ctx: S3Context, objects: ObjectSummary[], enc: (s: string) => string, withOwner: boolean) {
  const owners = withOwner ? await listedOwners(ctx, objects) : [];
  return objects.map((obj, i) => {
    const checksum = listedChecksum(obj);
    return {
      Key: enc(obj.key),
      LastModified: obj.lastModified,
      ETag: `"${obj.etag}"`,
      ChecksumAlgorithm: checksum.algorithm,
      ChecksumType: checksum.type,
      Size: obj.size,
      Owner: owners[i],
      StorageClass: obj.storageClass ?? 'STANDARD',
    };
  });
}

/** S3 names the bucket's region on an object listing, as on HeadBucket. */
function regionHeader(ctx: S3Context): Record<string, string> {
  return { 'x-amz-bucket-region': ctx.services.region };
}

export const listObjectsV1: Handler = async (ctx) => {
  const enc = encoder(ctx);
  const marker = ctx.query.get('marker') ?? '';
  const maxKeys = parseMaxKeys(ctx.query.get('max-keys'));
  const page = await list(ctx, marker || undefined, maxKeys);
  const delimiter = ctx.query.get('delimiter') ?? '';
  return xmlResponse(
    'ListBucketResult',
    {
      Name: ctx.bucketName,
      Prefix: enc(ctx.query.get('prefix') ?? ''),
      Marker: enc(marker),
      // Always given when truncated: clients such as rclone page on it even without a delimiter.
      NextMarker: page.isTruncated && page.nextStartAfter !== undefined ? enc(page.nextStartAfter) : undefined,
      MaxKeys: maxKeys,
      Delimiter: delimiter ? enc(delimiter) : undefined,
      IsTruncated: page.isTruncated,
      EncodingType: ctx.query.get('encoding-type') ?? undefined,
      Contents: await contents(ctx, page.objects, enc, true),
      CommonPrefixes: page.commonPrefixes.map((p) => ({ Prefix: enc(p) })),
    },
    200,
    regionHeader(ctx),
  );
};

export const listObjectsV2: Handler = async (ctx) => {
  const enc = encoder(ctx);
  const token = ctx.query.get('continuation-token');
  const startAfterParam = ctx.query.get('start-after') ?? '';
  const maxKeys = parseMaxKeys(ctx.query.get('max-keys'));
  // With a token, S3 ignores start-after: the token already lies past it. An empty token is
  // one S3 never gave: InvalidArgument, as S3 answers continuation-token= (LocalStack's
  // AWS-validated test_list_objects_v2_continuation_start_after).
  const from = token !== null ? decodeToken(token) : startAfterParam;
  const page = await list(ctx, from || undefined, maxKeys);
  const delimiter = ctx.query.get('delimiter') ?? '';
  return xmlResponse(
    'ListBucketResult',
    {
      Name: ctx.bucketName,
      Prefix: enc(ctx.query.get('prefix') ?? ''),
      Delimiter: delimiter ? enc(delimiter) : undefined,
      MaxKeys: maxKeys,
      EncodingType: ctx.query.get('encoding-type') ?? undefined,
      KeyCount: page.objects.length + page.commonPrefixes.length,
      IsTruncated: page.isTruncated,
      ContinuationToken: token ?? undefined,
      NextContinuationToken: page.isTruncated && page.nextStartAfter !== undefined ? encodeToken(page.nextStartAfter) : undefined,
      // A token replaces start-after, and S3 then leaves it out of the answer too.
      StartAfter: startAfterParam && token === null ? enc(startAfterParam) : undefined,
      Contents: await contents(ctx, page.objects, enc, ctx.query.get('fetch-owner') === 'true'),
      CommonPrefixes: page.commonPrefixes.map((p) => ({ Prefix: enc(p) })),
    },
    200,
    regionHeader(ctx),
  );
};
