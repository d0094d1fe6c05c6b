/**
 * The Storage client for a backend's settings, and its retry policy (the one place GCS
 * retries are decided). Credentials: a service-account key (JSON, from an env var or a file),
 * or Application Default Credentials (GOOGLE_APPLICATION_CREDENTIALS, gcloud's login, the
 * metadata server on GCE/GKE, workload identity federation), or none for emulators.
 */
import type { Storage, StorageOptions } from '@google-cloud/storage';

export interface GcsConnection {
  projectId?: string;
  /** API root, e.g. http://127.0.0.1:9199 for an emulator; default Google's. */
  endpoint?: string;
  /** A service-account key (the JSON text of the key file). */
  serviceAccountKey?: string;
  /** Send no credentials (emulators, public buckets). */
  anonymous?: boolean;
  /** Attempts per idempotent request (default 4). */
  maxAttempts?: number;
  /** Per request, until the store answers (default 60 s); a streamed body then takes as long as it takes. */
  timeoutMs?: number;
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
    if (opts.projectId === undefined && typeof key.project_id === 'string') opts.projectId = key.project_id;
  }
  return new StorageClass(opts);
}
