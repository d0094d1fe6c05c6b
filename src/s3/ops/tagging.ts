/** Get/Put/DeleteObjectTagging. */
import { S3Error } from '../../errors';
import type { Tag } from '../../backends/types';
import type { Handler, S3Context } from '../context';
import { requestTagKeys } from '../access';
import { validateTags } from '../headers';
import { readXmlBody } from '../payload';
import { xmlResponse } from '../respond';
import { children, element, many, parseXml, text, type XmlObject } from '../xml';
import { VersionedObjects } from '../../versioning/objects';
import { requestedVersion, versionHeader } from './objects';

export const getObjectTagging: Handler = async (ctx) => {
  const meta = await (await VersionedObjects.of(ctx.bucket())).head(ctx.key, requestedVersion(ctx), true);
  return xmlResponse('Tagging', taggingXml(meta.tags ?? []), 200, versionHeader(meta));
};

/** The tags of a `<Tagging><TagSet>` body (PutObjectTagging, PutBucketTagging), not yet validated. */
export async function readTaggingBody(ctx: S3Context): Promise<Tag[]> {
  const tagging = element(parseXml(await readXmlBody(ctx, 64 * 1024)), 'Tagging', ['TagSet']);
  if (!tagging || tagging.TagSet === undefined) throw new S3Error('MalformedXML');
  return tagsOf(tagging.TagSet);
}

/** The `<Tag>` elements of a tag set (a Tagging's TagSet, a CreateBucketConfiguration's Tags), not yet validated. */
export function tagsOf(node: unknown): Tag[] {
  return many(children(node, ['Tag']).Tag).map((t) => {
    const node = children(t, ['Key', 'Value']);
    const key = text(node.Key);
    const value = text(node.Value) ?? '';
    if (key === undefined) throw new S3Error('MalformedXML');
    return { key, value };
  });
}

/** The `<Tagging>` answer body. */
export function taggingXml(tags: readonly Tag[]): XmlObject {
  return { TagSet: { Tag: tags.map((t) => ({ Key: t.key, Value: t.value })) } };
}

export const putObjectTagging: Handler = async (ctx) => {
  const tags = await readTaggingBody(ctx);
  // A bucket policy may test the tags asked for (s3:RequestObjectTag/<key>): known once the body is read.
  await ctx.authorizeWithBodyKeys(requestTagKeys(tags.map((t) => [t.key, t.value] as const)));
  const view = ctx.bucket();
  view.assertWritable();
  validateTags(tags);
  const versionId = await (await VersionedObjects.of(view)).setTags(ctx.key, tags, requestedVersion(ctx));
  return { status: 200, headers: versionHeader({ versionId }) };
};

export const deleteObjectTagging: Handler = async (ctx) => {
  const versionId = await (await VersionedObjects.of(ctx.bucket())).setTags(ctx.key, [], requestedVersion(ctx));
  return { status: 204, headers: versionHeader({ versionId }) };
};
