/**
 * The Entra ID token credential for an azure backend's `credentials` in the routing table:
 *
 *   servicePrincipal  → ClientSecretCredential or ClientCertificateCredential (PEM with key)
 *   managedIdentity   → ManagedIdentityCredential: system-assigned, or user-assigned by
 *                       clientId / resourceId / objectId (IMDS, App Service, Arc ... as the
 *                       host provides; @azure/identity finds out which)
 *   workloadIdentity  → WorkloadIdentityCredential; what the table leaves out comes from the
 *                       variables AKS sets: AZURE_TENANT_ID, AZURE_CLIENT_ID,
 *                       AZURE_FEDERATED_TOKEN_FILE, AZURE_AUTHORITY_HOST
 *   azureCli          → AzureCliCredential (`az login`; needs `az` on the PATH)
 *
 * Secrets (client secret, certificate, its password) are resolved here, at start, with the
 * same helper as every other secret, so a missing variable fails the start and not the first
 * request. @azure/identity is required only when one of these is used.
 */
import type { AccessToken, GetTokenOptions, TokenCredential } from '@azure/core-auth';
import type { TokenCredentialOptions } from '@azure/identity';
import { S3Error } from '../../errors';
import { resolveSecret } from '../../auth/secrets';
import type { AzureCredentials } from './settings';

type Identity = typeof import('@azure/identity');

function identity(): Identity {
  return require('@azure/identity') as Identity;
}

/** Options given to every credential made here (embedding, tests: a TLS CA, an http client). */
export type CommonCredentialOptions = TokenCredentialOptions;

/** Drops undefined values: identity's options treat a present-but-undefined key like any other. */
function defined<T extends Record<string, unknown>>(o: T): Partial<T> {
  return Object.fromEntries(Object.entries(o).filter(([, v]) => v !== undefined)) as Partial<T>;
}

/**
 * The token credential `creds` asks for, or undefined when it names a shared key, SAS or
 * connection string (or nothing: the caller then uses DefaultAzureCredential).
 * `what(field)` names the field in messages; `env` is where *Env secrets and the AZURE_*
 * defaults of workload identity are read.
 */
export function azureTokenCredential(
  creds: AzureCredentials | undefined,
  what: (field: string) => string,
  env: NodeJS.ProcessEnv = process.env,
  common: CommonCredentialOptions = {},
): TokenCredential | undefined {
  if (!creds) return undefined;
  if (creds.servicePrincipal) {
    const sp = creds.servicePrincipal;
    const at = (f: string) => what(`credentials.servicePrincipal.${f}`);
    const options = { ...common, ...defined({ authorityHost: sp.authorityHost, disableInstanceDiscovery: sp.disableInstanceDiscovery }) };
    if (sp.clientSecret) {
      const secret = resolveSecret(sp.clientSecret, at('clientSecret'), env);
      return new (identity().ClientSecretCredential)(sp.tenantId, sp.clientId, secret, options);
    }
    if (sp.certificate) {
      const certificate = resolveSecret(sp.certificate, at('certificate'), env);
      if (!/-----BEGIN [A-Z ]*PRIVATE KEY-----/.test(certificate) || !/-----BEGIN CERTIFICATE-----/.test(certificate)) {
        throw new Error(
          `${at('certificate')}: expected PEM holding the certificate and its private key (BEGIN CERTIFICATE and BEGIN ... PRIVATE KEY)`,
        );
      }
      const certificatePassword = sp.certificatePassword
        ? resolveSecret(sp.certificatePassword, at('certificatePassword'), env)
        : undefined;
      return new (identity().ClientCertificateCredential)(
        sp.tenantId,
        sp.clientId,
        { certificate, ...defined({ certificatePassword }) },
        { ...options, ...defined({ sendCertificateChain: sp.sendCertificateChain }) },
      );
    }
    throw new Error(`${what('credentials.servicePrincipal')}: give a client secret or a certificate`);
  }
  if (creds.managedIdentity) {
    const mi = creds.managedIdentity;
    const { ManagedIdentityCredential } = identity();
    if (mi.clientId !== undefined) return new ManagedIdentityCredential({ ...common, clientId: mi.clientId });
    if (mi.resourceId !== undefined) return new ManagedIdentityCredential({ ...common, resourceId: mi.resourceId });
    if (mi.objectId !== undefined) return new ManagedIdentityCredential({ ...common, objectId: mi.objectId });
    return new ManagedIdentityCredential({ ...common });
  }
  if (creds.workloadIdentity) {
    const wi = creds.workloadIdentity;
    const at = (f: string) => what(`credentials.workloadIdentity.${f}`);
    const need = (v: string | undefined, field: string, variable: string): string => {
      if (v !== undefined && v !== '') return v;
      throw new Error(`${at(field)}: not given, and ${variable} is not set (AKS sets it when the pod uses workload identity)`);
    };
    const tenantId = need(wi.tenantId ?? env.AZURE_TENANT_ID, 'tenantId', 'AZURE_TENANT_ID');
    const clientId = need(wi.clientId ?? env.AZURE_CLIENT_ID, 'clientId', 'AZURE_CLIENT_ID');
    const tokenFilePath = need(wi.tokenFile ?? env.AZURE_FEDERATED_TOKEN_FILE, 'tokenFile', 'AZURE_FEDERATED_TOKEN_FILE');
    const authorityHost = wi.authorityHost ?? (env.AZURE_AUTHORITY_HOST || undefined);
    return new (identity().WorkloadIdentityCredential)({
      ...common,
      tenantId,
      clientId,
      tokenFilePath,
      ...defined({ authorityHost, disableInstanceDiscovery: wi.disableInstanceDiscovery }),
    });
  }
  if (creds.azureCli) {
    return new (identity().AzureCliCredential)({ ...common, ...defined({ tenantId: creds.azureCli.tenantId }) });
  }
  return undefined;
}

/**
 * `cred` with its failures as S3 errors: the identity platform refusing the backend's identity
 * (wrong secret, unknown app, bad certificate) is AccessDenied, like a wrong account key; no
 * token source at all (no managed identity endpoint, no `az`) is ServiceUnavailable. Either
 * way the client is not told why (the cause stays on the error, for the log). Anything else
 * (aborts, network errors) passes unchanged.
 */
export function withS3TokenErrors(cred: TokenCredential, backend: string): TokenCredential {
  return {
    async getToken(scopes: string | string[], options?: GetTokenOptions): Promise<AccessToken | null> {
      try {
        return await cred.getToken(scopes, options);
      } catch (err) {
        const name = (err as Error | undefined)?.name;
        let e: S3Error | undefined;
        if (name === 'CredentialUnavailableError' || name === 'AggregateAuthenticationError')
          e = new S3Error('ServiceUnavailable', 'The Azure backend has no way to get an access token right now.');
        else if (name === 'AuthenticationError' || name === 'AuthenticationRequiredError')
          e = new S3Error('AccessDenied', 'The storage backend refused access.');
        if (!e) throw err;
        Object.defineProperty(e, 'cause', { value: err, enumerable: false });
        Object.defineProperty(e, 'backend', { value: backend, enumerable: false });
        throw e;
      }
    },
  };
}
