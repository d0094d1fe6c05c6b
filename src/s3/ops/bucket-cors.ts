/** Get/Put/DeleteBucketCors: the rules live in the bucket's configuration, or in the routing table. */
import { S3Error } from '../../errors';
import { bucketConfig } from '../../bucket-config/store';
import { corsConfigurationXml, parseCorsConfiguration, MAX_CORS_BYTES } from '../../bucket-config/cors';
import type { BucketView } from '../../router/bucket-view';
import type { Handler } from '../context';
import { CORS_DOCUMENT, corsRulesOf, type StoredCors } from '../cors';
import { readXmlBody } from '../payload';
import { xmlResponse } from '../respond';

function assertNotFixed(view: BucketView): void {
  if (view.route.cors) {
    throw new S3Error('AccessDenied', `The routing table owns bucket ${view.name}'s CORS configuration; change it there.`);
  }
}

export const getBucketCors: Handler = async (ctx) => {
  const view = ctx.bucket();
  await view.exists();
  const rules = await corsRulesOf(view);
  if (!rules) throw new S3Error('NoSuchCORSConfiguration', undefined, { BucketName: view.name });
  return xmlResponse('CORSConfiguration', corsConfigurationXml([...rules]));
};

export const putBucketCors: Handler = async (ctx) => {
  const view = ctx.bucket();
  assertNotFixed(view);
  await view.exists();
  const rules = parseCorsConfiguration(await readXmlBody(ctx, MAX_CORS_BYTES));
  await bucketConfig.set(view, CORS_DOCUMENT, { rules } satisfies StoredCors);
  return { status: 200 };
};

export const deleteBucketCors: Handler = async (ctx) => {
  const view = ctx.bucket();
  assertNotFixed(view);
  await view.exists();
  await bucketConfig.set(view, CORS_DOCUMENT, undefined);
  return { status: 204 };
};
