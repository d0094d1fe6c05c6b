/** The `s3` kind: AWS S3 or any S3-compatible store. */
import { defineKit } from '../kit';
import { s3BucketNameProblem } from '../bucket-names';
import { bucketAndPrefix } from '../uri-parts';
import { s3Settings } from './settings';

const FORM = 's3://bucket[/prefix]';

export const s3Kit = defineKit({
  kind: 's3',
  description: 'AWS S3 or an S3-compatible store',
  settings: s3Settings,
  uris: [{ scheme: 's3', forms: FORM, parse: (rest, uri) => bucketAndPrefix(rest, uri, FORM) }],
  credentialKinds: ['access keys (accessKeyId + secretAccessKey [+ sessionToken])', 'profile', 'default chain'],
  bucketNameProblem: s3BucketNameProblem,
  create: (settings, context) => (require('./index') as typeof import('./index')).createS3Backend(settings, context),
});
