/** Get/Put/DeleteObjectTagging. */
import { S3Error } from '../../errors';
import { validateKey } from '../../backends/keys';
import type { Tag } from '../../backends/types';
import type { Handler } from '../context';
import { validateTags } from '../headers';
import { readSmallBody } from '../payload';
import { xmlResponse } from '../respond';
import { children, element, many, parseXml, text } from '../xml';
import { VersionedObjects } from '../../versioning/objects';
import { requestedVersion, versionHeader } from './objects';

export const getObjectTagging: Handler = async (ctx) => {
  validateKey(ctx.key);
  const meta = await (await VersionedObjects.of(ctx.bucket())).head(ctx.key, requestedVersion(ctx));
  return xmlResponse(
    'Tagging',
    { TagSet: { Tag: (meta.tags ?? []).map((t) => ({ Key: t.key, Value: t.value })) } },
    200,
    versionHeader(meta),
  );
};

export const putObjectTagging: Handler = async (ctx) => {
  validateKey(ctx.key);
  const view = ctx.bucket();
  view.assertWritable();
  const tagging = element(parseXml((await readSmallBody(ctx, 64 * 1024)).toString('utf8')), 'Tagging', ['TagSet']);
  if (!tagging || tagging.TagSet === undefined) throw new S3Error('MalformedXML');
  const tags: Tag[] = many(children(tagging.TagSet, ['Tag']).Tag).map((t) => {
    const node = children(t, ['Key', 'Value']);
    const key = text(node.Key);
    const value = text(node.Value) ?? '';
    if (key === undefined) throw new S3Error('MalformedXML');
    return { key, value };
  });
  validateTags(tags);
  const versionId = await (await VersionedObjects.of(view)).setTags(ctx.key, tags, requestedVersion(ctx));
  return { status: 200, headers: versionHeader({ versionId }) };
};

export const deleteObjectTagging: Handler = async (ctx) => {
  validateKey(ctx.key);
  const versionId = await (await VersionedObjects.of(ctx.bucket())).setTags(ctx.key, [], requestedVersion(ctx));
  return { status: 204, headers: versionHeader({ versionId }) };
};
