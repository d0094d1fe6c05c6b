/** Put/GetBucketVersioning and ListObjectVersions; the versions themselves are src/versioning/. */
import { S3Error } from '../../errors';
import { bucketConfig } from '../../bucket-config/store';
import { VERSIONING_DOCUMENT, VersionedObjects, versioningStatus, type VersioningStatus } from '../../versioning/objects';
import { listObjectVersions } from '../../versioning/listing';
import { lockConfiguration } from '../../object-lock/config';
import type { Handler } from '../context';
import { readXmlBody } from '../payload';
import { xmlResponse } from '../respond';
import { element, parseXml, text } from '../xml';
import { listedOwners } from '../listed-owners';
import { encoder, listedChecksum, parseMaxKeys } from './listing';

const STATUSES: readonly string[] = ['Enabled', 'Suspended'] satisfies VersioningStatus[];

export const getBucketVersioning: Handler = async (ctx) => {
  const view = ctx.bucket();
  await view.exists();
  // A bucket never versioned answers an empty configuration, as S3 does.
  const status = await versioningStatus(view);
  return xmlResponse('VersioningConfiguration', status ? { Status: status } : {});
};

export const putBucketVersioning: Handler = async (ctx) => {
  const view = ctx.bucket();
  view.assertWritable();
  await view.exists();
  const config = element(parseXml(await readXmlBody(ctx, 64 * 1024)), 'VersioningConfiguration', ['Status', 'MfaDelete']);
  if (!config) throw new S3Error('MalformedXML');
  // A configuration that says nothing (neither Status nor MfaDelete) is refused, as S3 does.
  if (config.Status === undefined && config.MfaDelete === undefined) throw new S3Error('IllegalVersioningConfigurationException');
  const status = text(config.Status);
  const mfa = text(config.MfaDelete);
  if (status !== undefined && !STATUSES.includes(status)) throw new S3Error('MalformedXML');
  if (mfa !== undefined && mfa !== 'Enabled' && mfa !== 'Disabled') throw new S3Error('MalformedXML');
  if (mfa === 'Enabled') {
    // s3mux has no MFA devices to check a token against.
    throw new S3Error('NotImplemented', 'MFA delete is not supported by s3mux.', { Header: 'x-amz-mfa' });
  }
  // No Status leaves the state as it is (S3 accepts a configuration with MfaDelete alone).
  if (status === 'Suspended' && (await lockConfiguration(view))) {
    throw new S3Error(
      'InvalidBucketState',
      'An Object Lock configuration is present on this bucket, so the versioning state cannot be changed.',
    );
  }
  if (status !== undefined) {
    view.reservedArea('versioning');
    await bucketConfig.set(view, VERSIONING_DOCUMENT, { status });
  }
  return { status: 200 };
};

export const listVersions: Handler = async (ctx) => {
  const enc = encoder(ctx);
  const view = ctx.bucket();
  const prefix = ctx.query.get('prefix') ?? '';
  const delimiter = ctx.query.get('delimiter') || undefined;
  const keyMarker = ctx.query.get('key-marker') || undefined;
  const versionIdMarker = ctx.query.get('version-id-marker') || undefined;
  const maxKeys = parseMaxKeys(ctx.query.get('max-keys'));
  const objects = await VersionedObjects.of(view);
  const page = await listObjectVersions(objects, { prefix, delimiter, keyMarker, versionIdMarker, maxKeys });
  const owners = new Map((await listedOwners(ctx, page.versions)).map((o, i) => [page.versions[i], o]));
  return xmlResponse('ListVersionsResult', {
    Name: ctx.bucketName,
    Prefix: enc(prefix),
    KeyMarker: enc(keyMarker ?? ''),
    VersionIdMarker: versionIdMarker ?? '',
    NextKeyMarker: page.nextKeyMarker === undefined ? undefined : enc(page.nextKeyMarker),
    NextVersionIdMarker: page.nextVersionIdMarker,
    MaxKeys: maxKeys,
    Delimiter: delimiter ? enc(delimiter) : undefined,
    IsTruncated: page.isTruncated,
    EncodingType: ctx.query.get('encoding-type') ?? undefined,
    Version: page.versions
      .filter((v) => !v.deleteMarker)
      .map((v) => {
        const checksum = listedChecksum(v);
        return {
          Key: enc(v.key),
          VersionId: v.versionId,
          IsLatest: v.isLatest,
          LastModified: v.lastModified,
          ETag: `"${v.etag}"`,
          ChecksumAlgorithm: checksum.algorithm,
          ChecksumType: checksum.type,
          Size: v.size,
          Owner: owners.get(v),
          StorageClass: v.storageClass ?? 'STANDARD',
        };
      }),
    DeleteMarker: page.versions
      .filter((v) => v.deleteMarker)
      .map((v) => ({ Key: enc(v.key), VersionId: v.versionId, IsLatest: v.isLatest, LastModified: v.lastModified, Owner: owners.get(v) })),
    CommonPrefixes: page.commonPrefixes.map((p) => ({ Prefix: enc(p) })),
  });
};
