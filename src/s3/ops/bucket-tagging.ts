/** Get/Put/DeleteBucketTagging: the tag set is a document in the bucket's configuration. */
import { S3Error } from '../../errors';
import { bucketConfig } from '../../bucket-config/store';
import type { Tag } from '../../backends/types';
import type { BucketView } from '../../router/bucket-view';
import type { Handler } from '../context';
import { validateTags, type TagRules } from '../headers';
import { xmlResponse } from '../respond';
import { readTaggingBody, taggingXml } from './tagging';

const TAGGING_DOCUMENT = 'tagging';
const BUCKET_TAG_RULES: TagRules = {
  max: 50,
  message: 'Bucket tag count cannot be greater than 50',
  systemKeyMessage: 'System tags cannot be added/updated by requester',
};

interface StoredTags {
  tags: Tag[];
}

export const getBucketTagging: Handler = async (ctx) => {
  const view = ctx.bucket();
  await view.exists();
  const stored = await bucketConfig.get<StoredTags>(view, TAGGING_DOCUMENT);
  if (!stored || stored.tags.length === 0) throw new S3Error('NoSuchTagSet', undefined, { BucketName: view.name });
  return xmlResponse('Tagging', taggingXml(stored.tags));
};

export const putBucketTagging: Handler = async (ctx) => {
  const view = ctx.bucket();
  view.assertWritable();
  await view.exists();
  const tags = await readTaggingBody(ctx);
  checkBucketTags(tags);
  await setBucketTags(view, tags);
  return { status: 204 };
};

/** A bucket's tag set as S3 takes it, from PutBucketTagging or CreateBucket's configuration. */
export function checkBucketTags(tags: Tag[]): void {
  validateTags(tags, BUCKET_TAG_RULES);
}

export async function setBucketTags(view: BucketView, tags: Tag[]): Promise<void> {
  await bucketConfig.set(view, TAGGING_DOCUMENT, tags.length ? ({ tags } satisfies StoredTags) : undefined);
}

export const deleteBucketTagging: Handler = async (ctx) => {
  const view = ctx.bucket();
  await view.exists();
  await bucketConfig.set(view, TAGGING_DOCUMENT, undefined);
  return { status: 204 };
};
