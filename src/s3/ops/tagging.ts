/** Get/Put/DeleteObjectTagging. */
import { S3Error } from '../../errors';
import type { Tag } from '../../backends/types';
import type { Handler } from '../context';
import { validateTags } from '../headers';
import { readSmallBody } from '../payload';
import { xmlResponse } from '../respond';
import { children, element, many, parseXml, text } from '../xml';

export const getObjectTagging: Handler = async (ctx) => {
  const meta = await ctx.bucket().headObject(ctx.key);
  return xmlResponse('Tagging', { TagSet: { Tag: (meta.tags ?? []).map((t) => ({ Key: t.key, Value: t.value })) } });
};

export const putObjectTagging: Handler = async (ctx) => {
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
  await view.setTags(ctx.key, tags);
  return { status: 200 };
};

export const deleteObjectTagging: Handler = async (ctx) => {
  await ctx.bucket().setTags(ctx.key, []);
  return { status: 204 };
};
