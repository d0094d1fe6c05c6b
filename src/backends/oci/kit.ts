/** The `oci` kind: OCI Object Storage (its native REST API); buckets of one namespace. */
import { authTypeOf, defineKit, UriError } from '../kit';
import { authorityAndPath, joinPrefix } from '../uri-parts';
import { ociSettings } from './settings';

const AT_REGION = 'oci://namespace@region/bucket[/prefix]';
const API_PATH = 'oci://n/{namespace}/b/{bucket}[/o/{prefix}]';
const PLAIN = 'oci://namespace/bucket[/prefix]';
const FORMS = `${AT_REGION}, ${API_PATH} or ${PLAIN}`;

const AUTH_TYPES = [
  ['userPrincipal', 'user principal (API key)'],
  ['sessionToken', 'session token'],
  ['configFile', 'user principal (config file)'],
  ['instancePrincipal', 'instance principal'],
  ['resourcePrincipal', 'resource principal'],
  ['okeWorkloadIdentity', 'OKE workload identity'],
] as const;

/**
 * The three forms. `oci://n/...` with a `b` as its second segment is the API path form; any
 * other authority without '@' is a namespace, the region coming from the backend's settings.
 */
function parseOci(rest: string, uri: string) {
  const { authority, segments } = authorityAndPath(rest, uri, FORMS);
  const at = authority.indexOf('@');
  if (at >= 0) {
    const namespace = authority.slice(0, at);
    const region = authority.slice(at + 1);
    const [bucket, ...more] = segments;
    if (!namespace || !region || !bucket) throw new UriError(`'${uri}' is malformed: expected ${FORMS}`);
    return { bucket, prefix: joinPrefix(more), settings: { namespace, region } };
  }
  if (authority === 'n' && segments[1] === 'b') {
    const [namespace, , bucket, o, ...more] = segments;
    if (!namespace || !bucket || !(o === undefined || (o === 'o' && more.length > 0)))
      throw new UriError(`'${uri}' is malformed: expected ${FORMS}`);
    return { bucket, prefix: joinPrefix(more), settings: { namespace } };
  }
  const [bucket, ...more] = segments;
  if (!bucket) throw new UriError(`'${uri}' names no bucket: expected ${FORMS}`);
  return { bucket, prefix: joinPrefix(more), settings: { namespace: authority } };
}

export const ociKit = defineKit({
  kind: 'oci',
  description: 'OCI Object Storage',
  atRest: 'encrypted',
  settings: ociSettings,
  uris: [{ scheme: 'oci', forms: FORMS, parse: parseOci }],
  storageClasses: {
    kept: 'native',
    toNative: {
      STANDARD: 'Standard',
      STANDARD_IA: 'InfrequentAccess',
      ONEZONE_IA: 'InfrequentAccess',
      GLACIER: 'Archive',
      DEEP_ARCHIVE: 'Archive',
    },
    toS3: { Standard: 'STANDARD', InfrequentAccess: 'STANDARD_IA', Archive: 'GLACIER' },
    archived: ['Archive'],
    restore: { kind: 'rehydrate' },
  },
  credentialKinds: [
    'user principal (API key)',
    'user principal (config file)',
    'session token',
    'instance principal',
    'resource principal',
    'OKE workload identity',
  ],
  authType: (s) => authTypeOf(s.credentials, AUTH_TYPES, 'user principal (config file)'),
  implicitName: (s) => `oci:${s.namespace ?? 'default'}${s.region ? `@${s.region}` : ''}`,
  // Loaded on first use: oci-common and its dependencies add to every start.
  create: (settings, context) => (require('./index') as typeof import('./index')).ociBackendFromSpec(settings, context),
});
