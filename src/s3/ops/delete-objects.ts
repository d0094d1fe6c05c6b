/** DeleteObjects: an XML batch of up to 1000 keys, each answered on its own. */
import { S3Error, toS3Error } from '../../errors';
import { validateKey } from '../../backends/keys';
import type { Handler } from '../context';
import { readSmallBody } from '../payload';
import { xmlResponse } from '../respond';
import { children, element, many, parseXml, text } from '../xml';

const MAX_OBJECTS = 1000;

export const deleteObjects: Handler = async (ctx) => {
  const view = ctx.bucket();
  await view.exists();
  // Content-MD5 is not required: current SDKs send x-amz-checksum-* instead (verified in payload).
  const del = element(parseXml((await readSmallBody(ctx, 2 * 1024 * 1024)).toString('utf8')), 'Delete', ['Object', 'Quiet']);
  if (!del) throw new S3Error('MalformedXML');
  const objects = many(del.Object);
  if (objects.length === 0 || objects.length > MAX_OBJECTS) throw new S3Error('MalformedXML');
  const quiet = text(del.Quiet)?.trim().toLowerCase() === 'true';
  // The whole document is checked before anything is deleted.
  const keys = objects.map((obj) => {
    const key = text(children(obj, ['Key', 'VersionId', 'ETag', 'LastModifiedTime', 'Size']).Key);
    if (key === undefined) throw new S3Error('MalformedXML');
    return key;
  });

  const deleted: Array<{ Key: string }> = [];
  const errors: Array<{ Key: string; Code: string; Message: string }> = [];
  for (const key of keys) {
    try {
      validateKey(key);
      await view.deleteObject(key);
      deleted.push({ Key: key });
    } catch (err) {
      const e = toS3Error(err);
      errors.push({ Key: key, Code: e.code, Message: e.message });
    }
  }
  return xmlResponse('DeleteResult', { Deleted: quiet ? [] : deleted, Error: errors });
};
