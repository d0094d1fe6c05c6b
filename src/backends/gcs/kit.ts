/** The `gcs` kind: Google Cloud Storage (JSON API). */
import { defineKit } from '../kit';
import { gcsBucketNameProblem } from '../bucket-names';
import { bucketAndPrefix } from '../uri-parts';
import { gcsSettings } from './settings';

const FORM = 'gs://bucket[/prefix]';

export const gcsKit = defineKit({
  kind: 'gcs',
  description: 'Google Cloud Storage',
  settings: gcsSettings,
  uris: [{ scheme: 'gs', forms: FORM, parse: (rest, uri) => bucketAndPrefix(rest, uri, FORM) }],
  credentialKinds: ['service account key', 'anonymous', 'application default credentials'],
  bucketNameProblem: gcsBucketNameProblem,
  // Loaded on first use: the Google SDK adds ~0.5 s to every start.
  create: (settings, context) => (require('./index') as typeof import('./index')).gcsBackendFromSpec(settings, context),
});
