/** The `s3` kind: AWS S3 or any S3-compatible store. */
import { authTypeOf, defineKit } from '../kit';
import { s3BucketNameProblem } from '../bucket-names';
import { bucketAndPrefix, settingBucketAndPrefix } from '../uri-parts';
import { s3Settings } from './settings';
import { S3_STORAGE_CLASSES } from '../storage-class-table';

const FORM = 's3://bucket[/prefix]';
const AWS_FORM = 'aws://{region}/bucket[/prefix]';

/** Settings key → auth type (assumeRole adds to one of these: its source). */
const AUTH_TYPES = [
  ['accessKeyId', 'access key'],
  ['webIdentity', 'web identity / IRSA'],
  ['ecsRole', 'ECS role'],
  ['ec2InstanceRole', 'EC2 instance role'],
  ['profile', 'default chain'],
  ['defaultChain', 'default chain'],
] as const;

export const s3Kit = defineKit({
  kind: 's3',
  description: 'AWS S3 or an S3-compatible store',
  atRest: 'when asked',
  settings: s3Settings,
  uris: [
    { scheme: 's3', forms: FORM, parse: (rest, uri) => bucketAndPrefix(rest, uri, FORM) },
    // The product design's form: the region is the backend's `region` setting.
    { scheme: 'aws', forms: AWS_FORM, parse: (rest, uri) => settingBucketAndPrefix(rest, uri, AWS_FORM, 'region') },
  ],
  credentialKinds: [
    'access key (accessKeyId + secretAccessKey [+ sessionToken])',
    'default chain (defaultChain, or profile)',
    'assume role (assumeRole, with externalId)',
    'web identity / IRSA (webIdentity)',
    'ECS role (ecsRole)',
    'EC2 instance role (ec2InstanceRole)',
  ],
  authType: (s) => {
    const source = authTypeOf(s.credentials, AUTH_TYPES, 'default chain');
    return s.credentials?.assumeRole ? `assume role (source: ${source})` : source;
  },
  bucketNameProblem: s3BucketNameProblem,
  // One implicit backend per region, so aws://eu-west-1/... and aws://us-east-1/... do not share one.
  implicitName: (s) => (s.region ? `s3:${s.region}` : 's3:default'),
  // The store's own classes, passed through; it may refuse some (an S3-compatible store often holds STANDARD only).
  storageClasses: {
    kept: 'native',
    toNative: Object.fromEntries(S3_STORAGE_CLASSES.map((c) => [c, c])),
    archived: ['GLACIER', 'DEEP_ARCHIVE'],
    restore: { kind: 'rehydrate' },
  },
  location: (s, where) => `s3://${where}${s.endpoint ? ` at ${s.endpoint}` : s.region ? ` in ${s.region}` : ''}`,
  create: (settings, context) => (require('./index') as typeof import('./index')).createS3Backend(settings, context),
});
