/** An `oci` backend's settings in the routing table. */
import { z } from 'zod';
import { credentialGroup, httpUrl, nonEmptyString, filePath, settingsSchema, trueOr } from '../kit-schema';

/** Nested credential kinds and their keys (for the hint on a key put one level too high). */
const GROUP_KEYS: Record<string, string[]> = {
  userPrincipal: ['tenancy', 'user', 'fingerprint', 'privateKey', 'passphrase'],
  sessionToken: ['configFile', 'profile'],
  instancePrincipal: ['metadataBaseUrl', 'federationEndpoint'],
  okeWorkloadIdentity: ['tokenFile', 'caFile'],
};

function groupHint(key: string): string | undefined {
  const bare = key.replace(/(Env|File)$/, '');
  if (key === 'privateKey' || key === 'passphrase')
    return `a literal secret is not allowed in the config: use '${key}Env' or '${key}File' under 'userPrincipal'`;
  const owners = Object.entries(GROUP_KEYS).filter(
    ([g, keys]) => keys.includes(bare) && !(g === 'sessionToken' && (key === 'configFile' || key === 'profile')),
  );
  if (owners.length === 0) return undefined;
  return `'${key}' goes inside ${owners.map(([g]) => `'${g}'`).join(' or ')}, e.g. credentials: { ${owners[0][0]}: { ${key}: ... } }`;
}

export const ociSettings = settingsSchema('oci', {
  /** The Object Storage namespace; asked of the service when absent. */
  namespace: nonEmptyString.optional(),
  region: nonEmptyString.optional(),
  endpoint: httpUrl.optional(),
  /** Where buckets are listed and created; default the tenancy of the credentials. */
  compartmentId: nonEmptyString.optional(),
  /** Storage tier of the buckets s3mux creates (default Standard). */
  storageTier: z.enum(['Standard', 'Archive'], { error: "expected 'Standard' or 'Archive'" }).optional(),
  /** One kind (auth.ts). Absent: ~/.oci/config, profile DEFAULT. */
  credentials: credentialGroup(
    'oci backends',
    {
      /** A config file's user principal (its key_file), or with `sessionToken` its session profile. */
      configFile: filePath.optional(),
      profile: nonEmptyString.optional(),
      /** An API signing key; the private key (and its passphrase) by reference. */
      userPrincipal: credentialGroup(
        "'userPrincipal'",
        { tenancy: nonEmptyString, user: nonEmptyString, fingerprint: nonEmptyString },
        ['privateKey', 'passphrase'],
        { oneSecretOf: ['privateKey'], needs: [['passphrase', 'privateKey']] },
      ).optional(),
      sessionToken: trueOr(
        credentialGroup("'sessionToken'", { configFile: filePath.optional(), profile: nonEmptyString.optional() }),
      ).optional(),
      instancePrincipal: trueOr(
        credentialGroup("'instancePrincipal'", { metadataBaseUrl: httpUrl.optional(), federationEndpoint: httpUrl.optional() }),
      ).optional(),
      resourcePrincipal: trueOr(credentialGroup("'resourcePrincipal'", {})).optional(),
      okeWorkloadIdentity: trueOr(
        credentialGroup("'okeWorkloadIdentity'", { tokenFile: filePath.optional(), caFile: filePath.optional() }),
      ).optional(),
    },
    [],
    {
      oneKindOf: ['userPrincipal', 'sessionToken', 'instancePrincipal', 'resourcePrincipal', 'okeWorkloadIdentity', 'configFile'],
      hint: groupHint,
    },
  ).optional(),
});

export type OciSettings = z.output<typeof ociSettings>;
export type OciCredentials = NonNullable<OciSettings['credentials']>;
