/**
 * The Storage client for a backend's settings, and its retry policy (the one place GCS
 * retries are decided). Credentials, one auth type each: a service account (its JSON key,
 * from an env var or a file: a JWT grant at the key's token_uri), workload identity
 * federation (an external_account configuration: a subject token exchanged at its token_url,
 * optionally impersonating a service account), Application Default Credentials
 * (GOOGLE_APPLICATION_CREDENTIALS, gcloud's login, the metadata server on GCE/GKE), or none
 * for emulators.
 */
import type { Storage, StorageOptions } from '@google-cloud/storage';

export interface GcsConnection {
  projectId?: string;
  /** API root, e.g. http://127.0.0.1:9199 for an emulator; default Google's. */
  endpoint?: string;
  /** A service-account key (the JSON text of the key file). */
  serviceAccountKey?: string;
  /** A workload identity federation configuration (an external_account file's JSON). */
  externalAccount?: Record<string, unknown>;
  /** Send no credentials (emulators, public buckets). */
  anonymous?: boolean;
  /** Attempts per idempotent request (default 4). */
  maxAttempts?: number;
  /** Per request, until the store answers (default 60 s); a streamed body then takes as long as it takes. */
  timeoutMs?: number;
}

/** The token endpoint the auth library posts every service-account JWT grant to, whatever the key says. */
const LIBRARY_TOKEN_URL = 'https://www.googleapis.com/oauth2/v4/token';
/** Google's token endpoints: a key naming one of these needs nothing changed. */
const GOOGLE_TOKEN_URLS = new Set([LIBRARY_TOKEN_URL, 'https://oauth2.googleapis.com/token']);

type ClientOptions = NonNullable<StorageOptions['clientOptions']>;
type Adapter = NonNullable<NonNullable<ClientOptions['transporterOptions']>['adapter']>;

/**
 * Client options that send the JWT grant to the key's `token_uri`: google-auth-library 9
 * (gtoken 7) posts it to Google's endpoint whatever the key names, which breaks keys for a
 * private endpoint (Private Service Connect) and any local token service.
 */
function tokenUriOptions(key: Record<string, unknown>): ClientOptions | undefined {
  const tokenUri = key.token_uri;
  if (typeof tokenUri !== 'string' || GOOGLE_TOKEN_URLS.has(tokenUri)) return undefined;
  const adapter: Adapter = (opts, next) => {
    const url = opts.url instanceof URL ? opts.url.href : String(opts.url);
    return next(url === LIBRARY_TOKEN_URL ? { ...opts, url: tokenUri } : opts);
  };
  return { transporterOptions: { adapter } };
}

/** An external_account configuration (workload identity federation), checked enough to give a clear message. */
export function parseExternalAccount(text: string, what: string): Record<string, unknown> {
  let config: unknown;
  try {
    config = JSON.parse(text);
  } catch {
    throw new Error(
      `${what}: not JSON (give the credential configuration file gcloud iam workload-identity-pools create-cred-config writes)`,
    );
  }
  const c = config as Record<string, unknown> | null;
  if (typeof c !== 'object' || c === null || c.type !== 'external_account')
    throw new Error(`${what}: not a workload identity federation configuration (its "type" is not "external_account")`);
  if (typeof c.audience !== 'string' || typeof c.subject_token_type !== 'string' || typeof c.credential_source !== 'object')
    throw new Error(`${what}: lacks audience, subject_token_type or credential_source`);
  return c;
}

/** The service-account key's JSON, checked enough to give a clear message. */
export function parseServiceAccountKey(text: string): Record<string, unknown> {
  let key: unknown;
  try {
    key = JSON.parse(text);
  } catch {
    throw new Error('gcs: the service-account key is not JSON (give the content of the key file)');
  }
  if (typeof key !== 'object' || key === null || Array.isArray(key)) throw new Error('gcs: the service-account key is not a JSON object');
  const k = key as Record<string, unknown>;
  if (k.type === 'service_account' && (typeof k.client_email !== 'string' || typeof k.private_key !== 'string')) {
    throw new Error('gcs: the service-account key lacks client_email or private_key');
  }
  return k;
}

export function makeStorage(c: GcsConnection): Storage {
  // Loaded on first use: the SDK and its auth library add to every start.
  const { Storage: StorageClass, IdempotencyStrategy } = require('@google-cloud/storage') as typeof import('@google-cloud/storage');
  const opts: StorageOptions = {
    projectId: c.projectId,
    userAgent: 's3mux',
    timeout: c.timeoutMs ?? 60_000,
    retryOptions: {
      autoRetry: true,
      maxRetries: Math.max(0, (c.maxAttempts ?? 4) - 1),
      retryDelayMultiplier: 2,
      // The SDK needs at least 1 s here.
      maxRetryDelay: 8,
      totalTimeout: 60,
      // RetryConditional would be the natural choice, but one unconditional write turns
      // autoRetry off for the whole Storage instance (SDK 7.22). s3mux's writes are safe to
      // repeat where the SDK repeats them: streamed uploads never are (maxRetries 0), compose
      // without a generation condition is sent with maxRetries 0 (parts.ts), and deletes,
      // patches and rewrites give the same result twice.
      idempotencyStrategy: IdempotencyStrategy.RetryAlways,
    },
  };
  if (c.endpoint !== undefined || c.anonymous) {
    // The SDK sends no credentials to a custom endpoint unless told to.
    opts.apiEndpoint = (c.endpoint ?? 'https://storage.googleapis.com').replace(/\/+$/, '');
    opts.useAuthWithCustomEndpoint = !c.anonymous;
  }
  if (c.serviceAccountKey !== undefined) {
    const key = parseServiceAccountKey(c.serviceAccountKey);
    opts.credentials = key;
    const clientOptions = tokenUriOptions(key);
    if (clientOptions) opts.clientOptions = clientOptions;
    if (opts.projectId === undefined && typeof key.project_id === 'string') opts.projectId = key.project_id;
  } else if (c.externalAccount !== undefined) {
    opts.credentials = c.externalAccount;
  }
  return new StorageClass(opts);
}
