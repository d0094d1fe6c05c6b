/** The `gcs` kind: Google Cloud Storage (JSON API). */
import { authTypeOf, defineKit } from '../kit';
import { gcsBucketNameProblem } from '../bucket-names';
import { bucketAndPrefix, settingBucketAndPrefix } from '../uri-parts';
import { gcsSettings } from './settings';
import { GCS_STORAGE_CLASSES } from './storage-classes';

const FORM = 'gs://bucket[/prefix]';
const GCP_FORM = 'gcp://{project}/bucket[/prefix]';

const AUTH_TYPES = [
  ['serviceAccountKey', 'service account'],
  ['workloadIdentity', 'workload identity'],
  ['applicationDefault', 'application default'],
  ['anonymous', 'anonymous'],
] as const;

export const gcsKit = defineKit({
  kind: 'gcs',
  description: 'Google Cloud Storage',
  atRest: 'encrypted',
  settings: gcsSettings,
  uris: [
    { scheme: 'gs', forms: FORM, parse: (rest, uri) => bucketAndPrefix(rest, uri, FORM) },
    // The product design's form: the project is the backend's `projectId` setting.
    { scheme: 'gcp', forms: GCP_FORM, parse: (rest, uri) => settingBucketAndPrefix(rest, uri, GCP_FORM, 'projectId') },
  ],
  credentialKinds: [
    'service account (serviceAccount, or serviceAccountKey)',
    'application default (applicationDefault, or nothing)',
    'workload identity (workloadIdentity)',
    'anonymous',
  ],
  authType: (s) => authTypeOf(s.credentials, AUTH_TYPES, 'application default'),
  bucketNameProblem: gcsBucketNameProblem,
  implicitName: (s) => (s.projectId ? `gcs:${s.projectId}` : 'gcs:default'),
  storageClasses: GCS_STORAGE_CLASSES,
  location: (s, where) => `gs://${where}${s.endpoint ? ` at ${s.endpoint}` : ''}`,
  // Loaded on first use: the Google SDK adds ~0.5 s to every start.
  create: (settings, context) => (require('./index') as typeof import('./index')).gcsBackendFromSpec(settings, context),
});
