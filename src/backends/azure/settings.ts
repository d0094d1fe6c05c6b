/** An `azure` backend's settings in the routing table. */
import { z } from 'zod';
import { boolean, credentialGroup, foldAliases, httpsUrl, httpUrl, nonEmptyString, filePath, settingsSchema, trueOr } from '../kit-schema';

/** Where Entra ID token requests go and whether the authority is checked against Microsoft's list (off for private clouds and test doubles). */
const authority = { authorityHost: httpsUrl.optional(), disableInstanceDiscovery: boolean.optional() };

const RESOURCE_ID_MESSAGE =
  'expected an Azure resource id (/subscriptions/SUB/resourceGroups/RG/providers/Microsoft.ManagedIdentity/userAssignedIdentities/NAME)';
const azureResourceId = z
  .string({ error: RESOURCE_ID_MESSAGE })
  .regex(/^\/subscriptions\/[^/]+\/resourcegroups\/[^/]+\/providers\/[^/]+\/[^/]+\/[^/]+$/i, { error: RESOURCE_ID_MESSAGE });

/** Nested credential kinds: each key, its fields and secrets (for the hint on a key put one level too high). */
const GROUP_KEYS: Record<string, string[]> = {
  servicePrincipal: [
    'tenantId',
    'clientId',
    'sendCertificateChain',
    'authorityHost',
    'disableInstanceDiscovery',
    'clientSecret',
    'certificate',
    'certificatePassword',
  ],
  managedIdentity: ['clientId', 'resourceId', 'objectId'],
  workloadIdentity: ['tenantId', 'clientId', 'tokenFile', 'authorityHost', 'disableInstanceDiscovery'],
  azureCli: ['tenantId'],
};
const SECRETS = new Set(['clientSecret', 'certificate', 'certificatePassword']);

/** For a key under `credentials` that belongs inside one of its groups: where it goes. */
function groupHint(key: string): string | undefined {
  const bare = key.replace(/(Env|File)$/, '');
  const owners = Object.entries(GROUP_KEYS).filter(
    ([, keys]) => keys.includes(key) || (SECRETS.has(bare) && keys.includes(bare) && key !== bare),
  );
  const literal = Object.entries(GROUP_KEYS).find(([, keys]) => SECRETS.has(key) && keys.includes(key));
  if (literal) return `a literal secret is not allowed in the config: use '${key}Env' or '${key}File' under '${literal[0]}'`;
  if (owners.length === 0) return undefined;
  return `'${key}' goes inside ${owners.map(([g]) => `'${g}'`).join(' or ')}, e.g. credentials: { ${owners[0][0]}: { ${key}: ... } }`;
}

export const azureSettings = settingsSchema('azure', {
  account: nonEmptyString.optional(),
  endpoint: httpUrl.optional(),
  /**
   * At most one kind. Absent: DefaultAzureCredential. `sharedKey` and `sas` (the product
   * design's words) are other spellings of `accountKey` and `sasToken`.
   */
  credentials: credentialGroup(
    'azure backends',
    {
      /** An app registration: a client secret or a certificate (PEM with its private key). */
      servicePrincipal: credentialGroup(
        "'servicePrincipal'",
        { tenantId: nonEmptyString, clientId: nonEmptyString, sendCertificateChain: boolean.optional(), ...authority },
        ['clientSecret', 'certificate', 'certificatePassword'],
        { oneSecretOf: ['clientSecret', 'certificate'], needs: [['certificatePassword', 'certificate']] },
      ).optional(),
      /** System-assigned when no id is given, else the user-assigned identity with that id. */
      managedIdentity: trueOr(
        credentialGroup(
          "'managedIdentity'",
          { clientId: nonEmptyString.optional(), resourceId: azureResourceId.optional(), objectId: nonEmptyString.optional() },
          [],
          {
            atMostOneOf: ['clientId', 'resourceId', 'objectId'],
          },
        ),
      ).optional(),
      /** A federated token file (AKS workload identity); what is not given comes from AZURE_* variables. */
      workloadIdentity: trueOr(
        credentialGroup("'workloadIdentity'", {
          tenantId: nonEmptyString.optional(),
          clientId: nonEmptyString.optional(),
          tokenFile: filePath.optional(),
          ...authority,
        }),
      ).optional(),
      /** The signed-in Azure CLI (`az login`). */
      azureCli: trueOr(credentialGroup("'azureCli'", { tenantId: nonEmptyString.optional() })).optional(),
    },
    ['accountKey', 'sasToken', 'connectionString', 'sharedKey', 'sas'],
    { oneKindOf: ['servicePrincipal', 'managedIdentity', 'workloadIdentity', 'azureCli'], hint: groupHint },
  )
    .transform(foldAliases({ sharedKey: 'accountKey', sas: 'sasToken' }))
    .optional(),
});

export type AzureSettings = z.output<typeof azureSettings>;
/** An azure backend's credentials: a secret, or how to get Entra ID tokens (`true` in the table reads as `{}`). */
export type AzureCredentials = NonNullable<AzureSettings['credentials']>;
