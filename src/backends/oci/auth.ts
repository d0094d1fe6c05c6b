/**
 * The routing table's OCI credentials → an oci-common authentication provider. One kind per
 * backend:
 *
 * - userPrincipal: an API signing key (tenancy, user, fingerprint; the private key and its
 *   passphrase by reference, from an env var or a file);
 * - configFile / profile: the user principal of an OCI CLI config file (its key_file);
 *   without any credentials, ~/.oci/config's DEFAULT profile, as the OCI CLI does;
 * - sessionToken: a config-file profile with a security_token_file (`oci session authenticate`);
 * - instancePrincipal: the instance's identity (the metadata service, then the federation
 *   endpoint of the region);
 * - resourcePrincipal: the resource's identity from OCI_RESOURCE_PRINCIPAL_* variables
 *   (Functions, Container Instances, ...);
 * - okeWorkloadIdentity: the pod's service-account token exchanged at the OKE proxymux.
 *
 * Providers are made on first use (the token-based ones ask a service), so a backend whose
 * identity is missing fails its requests with AccessDenied instead of stopping s3mux.
 */
import type { AuthenticationDetailsProvider } from 'oci-common';
import { resolveSecret } from '../../auth/secrets';
import type { OciCredentials } from './settings';

type OciCredentialsSpec = OciCredentials;

export type ProviderSource = () => Promise<AuthenticationDetailsProvider>;

/** The auth type a spec names (for messages and `check`). */
export function ociAuthKind(c: OciCredentialsSpec | undefined): string {
  if (c?.userPrincipal) return 'user principal (API key)';
  if (c?.sessionToken) return 'session token';
  if (c?.instancePrincipal) return 'instance principal';
  if (c?.resourcePrincipal) return 'resource principal';
  if (c?.okeWorkloadIdentity) return 'OKE workload identity';
  return 'user principal (OCI config file)';
}

/**
 * The provider for a backend's credentials. Secrets are read now (a missing one is a
 * configuration error at start); token sources are asked on first use.
 */
export function ociProvider(c: OciCredentialsSpec | undefined, what: string, env: NodeJS.ProcessEnv = process.env): ProviderSource {
  const common = () => require('oci-common') as typeof import('oci-common');
  if (c?.userPrincipal) {
    const u = c.userPrincipal;
    if (!u.privateKey) throw new Error(`${what}: userPrincipal needs privateKeyEnv or privateKeyFile`);
    const key = resolveSecret(u.privateKey, `${what}: privateKey`, env);
    const passphrase = u.passphrase ? resolveSecret(u.passphrase, `${what}: passphrase`, env) : null;
    const provider = new (common().SimpleAuthenticationDetailsProvider)(u.tenancy, u.user, u.fingerprint, key, passphrase);
    return async () => provider;
  }
  if (c?.sessionToken)
    return once(async () => new (common().SessionAuthDetailProvider)(c.sessionToken!.configFile, c.sessionToken!.profile ?? 'DEFAULT'));
  if (c?.instancePrincipal) {
    const ip = c.instancePrincipal;
    return once(async () => {
      const b = new (common().InstancePrincipalsAuthenticationDetailsProviderBuilder)();
      if (ip.metadataBaseUrl) b.metadataBaseUrl = ip.metadataBaseUrl;
      if (ip.federationEndpoint) b.federationEndpoint = ip.federationEndpoint;
      return b.build();
    });
  }
  if (c?.resourcePrincipal) return once(async () => common().ResourcePrincipalAuthenticationDetailsProvider.builder());
  if (c?.okeWorkloadIdentity) {
    const o = c.okeWorkloadIdentity;
    return once(async () => common().OkeWorkloadIdentityAuthenticationDetailsProvider.builder(o.caFile as string, o.tokenFile as string));
  }
  return once(async () => new (common().ConfigFileAuthenticationDetailsProvider)(c?.configFile, c?.profile ?? 'DEFAULT'));
}

/** Makes the provider once; a failure is not kept, so the next request tries again. */
function once(make: () => Promise<AuthenticationDetailsProvider>): ProviderSource {
  let p: Promise<AuthenticationDetailsProvider> | undefined;
  return () => {
    p ??= make().catch((err: unknown) => {
      p = undefined;
      throw err;
    });
    return p;
  };
}
