/** DeleteObjects: an XML batch of up to 1000 keys, each answered on its own. */
import { collectObjectAcl } from '../access';
import { isS3Error, S3Error, toS3Error } from '../../errors';
import type { Handler } from '../context';
import type { DeleteConditions } from '../../backends/types';
import { hasIntegrityCheck, readXmlBody } from '../payload';
import { xmlResponse } from '../respond';
import { children, element, many, parseXml, text } from '../xml';
import { VersionedObjects } from '../../versioning/objects';
import { bypassGovernance, refuseBypassWithoutLock } from '../bypass-governance';
import { parseDeleteConditions } from '../conditions';

const MAX_OBJECTS = 1000;

/** Quiet is an xsd:boolean; anything else is not the schema S3 publishes. */
function parseQuiet(node: unknown): boolean {
  if (node === undefined) return false;
  const v = text(node)?.trim();
  if (v === 'true' || v === '1') return true;
  if (v === 'false' || v === '0') return false;
  throw new S3Error('MalformedXML');
}

/**
 * An Object's conditions: ETag (If-Match), Size and LastModifiedTime, checked on the key's
 * current version as DeleteObject checks its headers; a value that is not of its type is not
 * the schema S3 publishes.
 */
function objectConditions(fields: Record<string, unknown>): DeleteConditions | undefined {
  const textOf = (node: unknown) => (node === undefined ? undefined : text(node));
  return parseDeleteConditions(
    textOf(fields.ETag),
    textOf(fields.Size),
    textOf(fields.LastModifiedTime),
    () => new S3Error('MalformedXML'),
  );
}

/**
 * Within DeleteObjects S3 reports a version id it never gave out as a version that is not
 * there (NoSuchVersion), where DeleteObject refuses it as InvalidArgument.
 */
function perKeyError(e: S3Error, versionId: string | undefined): S3Error {
  return isS3Error(e, 'InvalidArgument') && versionId !== undefined && e.extra.ArgumentName === 'versionId'
    ? new S3Error('NoSuchVersion')
    : e;
}

export const deleteObjects: Handler = async (ctx) => {
  const view = ctx.bucket();
  await view.exists();
  // S3 requires an integrity check on the batch, Content-MD5 or (as current SDKs send) an
  // x-amz-checksum-*; either is verified against the body in payload.
  if (!hasIntegrityCheck(ctx))
    throw new S3Error('InvalidRequest', 'Missing required header for this request: Content-MD5 OR x-amz-checksum-*');
  const del = element(parseXml(await readXmlBody(ctx, 2 * 1024 * 1024)), 'Delete', ['Object', 'Quiet']);
  if (!del) throw new S3Error('MalformedXML');
  const objects = many(del.Object);
  if (objects.length === 0 || objects.length > MAX_OBJECTS) throw new S3Error('MalformedXML');
  const quiet = parseQuiet(del.Quiet);
  // The whole document is checked before anything is deleted.
  const entries = objects.map((obj) => {
    const fields = children(obj, ['Key', 'VersionId', 'ETag', 'LastModifiedTime', 'Size']);
    const key = text(fields.Key);
    if (key === undefined) throw new S3Error('MalformedXML');
    const versionId = fields.VersionId === undefined ? undefined : text(fields.VersionId);
    if (fields.VersionId !== undefined && versionId === undefined) throw new S3Error('MalformedXML');
    return { key, versionId, conditions: objectConditions(fields) };
  });

  const versioned = await VersionedObjects.of(view);
  refuseBypassWithoutLock(ctx, versioned.lockConfig !== undefined);
  const deleted: Array<{ Key: string; VersionId?: string; DeleteMarker?: boolean; DeleteMarkerVersionId?: string }> = [];
  const errors: Array<{ Key: string; VersionId?: string; Code: string; Message: string }> = [];
  for (const { key, versionId, conditions } of entries) {
    try {
      // Each key is authorized on its own (s3:DeleteObject on bucket/key, s3:DeleteObjectVersion with a version), as S3 does.
      await ctx.authorizeKey(versionId === undefined ? 's3:DeleteObject' : 's3:DeleteObjectVersion', 'delete', key);
      const bypass = versionId !== undefined && (await bypassGovernance(ctx, key));
      const removed = await versioned.remove(key, versionId, { bypass, conditions });
      if (!removed.deleteMarker) await collectObjectAcl(view, key, versionId);
      deleted.push({
        Key: key,
        VersionId: versionId,
        DeleteMarker: removed.deleteMarker || undefined,
        DeleteMarkerVersionId: removed.deleteMarker ? removed.versionId : undefined,
      });
    } catch (err) {
      const e = perKeyError(toS3Error(err), versionId);
      errors.push({ Key: key, VersionId: versionId, Code: e.code, Message: e.message });
    }
  }
  return xmlResponse('DeleteResult', { Deleted: quiet ? [] : deleted, Error: errors });
};
