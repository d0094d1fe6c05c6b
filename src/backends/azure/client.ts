/**
 * The BlobServiceClient for a backend's settings: shared key, SAS token, connection string,
 * a token credential (service principal, managed identity, workload identity, Azure CLI: see
 * credential.ts for how the routing table picks one), or, when none is given, the Azure
 * credential chain (DefaultAzureCredential: environment variables AZURE_CLIENT_ID /
 * AZURE_TENANT_ID / AZURE_CLIENT_SECRET / AZURE_CLIENT_CERTIFICATE_PATH, workload identity,
 * managed identity, Azure CLI, ...). Token credentials need an https endpoint: the SDK sends
 * no bearer token over http.
 */
import type { TokenCredential } from '@azure/core-auth';
import { AnonymousCredential, BlobServiceClient, StorageSharedKeyCredential, type StoragePipelineOptions } from '@azure/storage-blob';
import { withS3TokenErrors } from './credential';

export interface AzureConnection {
  /** Storage account name. */
  account?: string;
  /**
   * The account's blob endpoint, e.g. https://acct.blob.core.windows.net or, for Azurite,
   * http://127.0.0.1:10000/devstoreaccount1. Default: https://<account>.blob.core.windows.net.
   */
  endpoint?: string;
  accountKey?: string;
  /** An account or container SAS (with or without the leading '?'). */
  sasToken?: string;
  connectionString?: string;
  /** A token credential to use instead of the default chain (credential.ts makes one from the routing table). */
  credential?: TokenCredential;
}

function pipeline(maxTries: number): StoragePipelineOptions {
  // No per-try timeout: a streamed block lasts as long as the client takes to send it.
  return { userAgentOptions: { userAgentPrefix: 's3mux' }, retryOptions: { maxTries } };
}

/** The account name in an endpoint: the path's first segment for IP / localhost style, else the host's first label. */
export function accountFromEndpoint(endpoint: string): string | undefined {
  let u: URL;
  try {
    u = new URL(endpoint);
  } catch {
    return undefined;
  }
  const first = u.pathname.split('/').filter(Boolean)[0];
  const ipStyle = /^(\d{1,3}\.){3}\d{1,3}$|^localhost$|^\[.*\]$|^host\.docker\.internal$/.test(u.hostname);
  if (ipStyle) return first;
  const label = u.hostname.split('.')[0];
  return u.hostname.includes('.blob.') ? label : (first ?? label);
}

/**
 * The client for the settings. `maxTries`: attempts per request (default 4); requests that
 * stream a body that cannot be read twice use a client with 1.
 */
export function makeServiceClient(c: AzureConnection, maxTries = 4): BlobServiceClient {
  const PIPELINE = pipeline(maxTries);
  if (c.connectionString !== undefined) {
    if (c.endpoint === undefined) return BlobServiceClient.fromConnectionString(c.connectionString, PIPELINE);
    // An explicit endpoint wins over the one the connection string names.
    const parts = Object.fromEntries(
      c.connectionString
        .split(';')
        .filter(Boolean)
        .map((kv) => {
          const i = kv.indexOf('=');
          return [kv.slice(0, i).trim(), kv.slice(i + 1).trim()];
        }),
    ) as Record<string, string>;
    if (parts.AccountKey) {
      const account = parts.AccountName ?? c.account ?? accountFromEndpoint(c.endpoint);
      if (!account) throw new Error('azure: the connection string names no AccountName');
      return new BlobServiceClient(c.endpoint, new StorageSharedKeyCredential(account, parts.AccountKey), PIPELINE);
    }
    if (parts.SharedAccessSignature)
      return new BlobServiceClient(withSas(c.endpoint, parts.SharedAccessSignature), new AnonymousCredential(), PIPELINE);
    return BlobServiceClient.fromConnectionString(c.connectionString, PIPELINE);
  }
  const endpoint = c.endpoint ?? (c.account ? `https://${c.account}.blob.core.windows.net` : undefined);
  if (endpoint === undefined) throw new Error("azure: give the storage 'account', an 'endpoint' or a connection string");
  if (c.accountKey !== undefined) {
    const account = c.account ?? accountFromEndpoint(endpoint);
    if (!account) throw new Error(`azure: cannot tell the account name from '${endpoint}': set 'account'`);
    return new BlobServiceClient(endpoint, new StorageSharedKeyCredential(account, c.accountKey), PIPELINE);
  }
  if (c.sasToken !== undefined) return new BlobServiceClient(withSas(endpoint, c.sasToken), new AnonymousCredential(), PIPELINE);
  return new BlobServiceClient(endpoint, c.credential ?? defaultCredential(), PIPELINE);
}

/** The Azure credential chain; @azure/identity is loaded only when a backend needs it. */
function defaultCredential(): TokenCredential {
  const { DefaultAzureCredential } = require('@azure/identity') as typeof import('@azure/identity');
  return withS3TokenErrors(new DefaultAzureCredential(), 'azure');
}

function withSas(endpoint: string, sas: string): string {
  const q = sas.replace(/^\?/, '');
  return endpoint.includes('?') ? `${endpoint}&${q}` : `${endpoint.replace(/\/$/, '')}?${q}`;
}
