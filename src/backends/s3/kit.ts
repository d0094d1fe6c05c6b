/** The `s3` kind: AWS S3 or any S3-compatible store. */
import { defineKit } from '../kit';
import { s3BucketNameProblem } from '../bucket-names';
import { bucketAndPrefix } from '../uri-parts';
import { s3Settings } from './settings';
import { S3_STORAGE_CLASSES } from '../storage-class-table';

const FORM = 's3://bucket[/prefix]';

export const s3Kit = defineKit({
  kind: 's3',
  description: 'AWS S3 or an S3-compatible store',
  settings: s3Settings,
  uris: [{ scheme: 's3', forms: FORM, parse: (rest, uri) => bucketAndPrefix(rest, uri, FORM) }],
  credentialKinds: ['access keys (accessKeyId + secretAccessKey [+ sessionToken])', 'profile', 'default chain'],
  bucketNameProblem: s3BucketNameProblem,
  // The store's own classes, passed through; it may refuse some (an S3-compatible store often holds STANDARD only).
  storageClasses: {
    kept: 'native',
    toNative: Object.fromEntries(S3_STORAGE_CLASSES.map((c) => [c, c])),
    archived: ['GLACIER', 'DEEP_ARCHIVE'],
    restore: { kind: 'unsupported', reason: 'RestoreObject is not passed through to an s3 backend yet' },
  },
  location: (s, where) => `s3://${where}${s.endpoint ? ` at ${s.endpoint}` : s.region ? ` in ${s.region}` : ''}`,
  create: (settings, context) => (require('./index') as typeof import('./index')).createS3Backend(settings, context),
});
