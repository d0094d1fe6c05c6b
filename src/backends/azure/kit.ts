/** The `azure` kind: Azure Blob Storage; containers are the buckets. */
import { AZURE_STORAGE_CLASSES } from './storage-classes';
import { authTypeOf, defineKit, UriError } from '../kit';
import { azureContainerNameProblem } from '../bucket-names';
import { authorityAndPath, bucketAndPrefix, joinPrefix } from '../uri-parts';
import { azureSettings } from './settings';

const SHORT = 'az://container[/prefix]';
const LONG = 'azure://account/container[/prefix]';

const AUTH_TYPES = [
  ['accountKey', 'shared key'],
  ['sasToken', 'SAS'],
  ['connectionString', 'connection string'],
  ['servicePrincipal', 'service principal'],
  ['managedIdentity', 'managed identity'],
  ['workloadIdentity', 'workload identity'],
  ['azureCli', 'CLI'],
] as const;

export const azureKit = defineKit({
  kind: 'azure',
  description: 'Azure Blob Storage',
  atRest: 'encrypted',
  settings: azureSettings,
  uris: [
    // The account comes from the backend's settings.
    { scheme: 'az', forms: SHORT, parse: (rest, uri) => bucketAndPrefix(rest, uri, SHORT) },
    {
      scheme: 'azure',
      forms: LONG,
      parse: (rest, uri) => {
        const { authority, segments } = authorityAndPath(rest, uri, LONG);
        const [container, ...more] = segments;
        if (!container) throw new UriError(`'${uri}' names no container: expected ${LONG}`);
        return { bucket: container, prefix: joinPrefix(more), settings: { account: authority } };
      },
    },
  ],
  credentialKinds: [
    'shared key (sharedKey, or accountKey)',
    'SAS (sas, or sasToken)',
    'connection string (connectionString)',
    'service principal (servicePrincipal)',
    'managed identity (managedIdentity)',
    'workload identity (workloadIdentity)',
    'CLI (azureCli)',
    'default chain',
  ],
  authType: (s) => authTypeOf(s.credentials, AUTH_TYPES, 'default chain'),
  implicitName: (s) => `azure:${s.account ?? 'default'}`,
  location: (s, where) => `az://${s.account ? `${s.account}/` : ''}${where}${s.endpoint ? ` at ${s.endpoint}` : ''}`,
  bucketNameProblem: azureContainerNameProblem,
  storageClasses: AZURE_STORAGE_CLASSES,
  // Loaded on first use: the Azure SDK adds ~0.5 s to every start.
  create: (settings, context) => (require('./index') as typeof import('./index')).azureBackendFromSpec(settings, context),
});
