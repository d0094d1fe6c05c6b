/**
 * Credentials for signing requests to an S3-compatible store.
 *
 * - Static keys: the access key id and secret (and optional session token) named in the
 *   routing table by reference (`…Env` / `…File`), resolved with resolveSecret.
 * - Otherwise the AWS SDK's Node provider chain (`fromNodeProviderChain`): environment,
 *   shared config/credentials files (with `profile`), SSO, web identity (IRSA), ECS
 *   container credentials, EC2 instance metadata.
 *
 * Either way the result is cached, and fetched again when it is within five minutes of its
 * `expiration` (concurrent callers share one refresh).
 */
import { resolveSecret, type SecretRef } from '../../auth/secrets';
import { S3Error } from '../../errors';

export interface S3Credentials {
  accessKeyId: string;
  secretAccessKey: string;
  sessionToken?: string;
  /** When temporary credentials stop working. */
  expiration?: Date;
}

/** Anything that yields credentials: a static value or a provider from @aws-sdk/credential-providers. */
export type CredentialSource = () => Promise<S3Credentials>;

/** Settings as the routing table gives them (s3/settings.ts, `credentials`). */
export interface CredentialSettings {
  profile?: string;
  accessKeyId?: SecretRef;
  secretAccessKey?: SecretRef;
  sessionToken?: SecretRef;
}

/** Refresh this long before `expiration`. */
export const REFRESH_WINDOW_MS = 5 * 60 * 1000;

/** A fixed set of keys. */
export function staticCredentials(creds: S3Credentials): CredentialSource {
  const value = { ...creds };
  return async () => value;
}

/** The AWS SDK's default chain, optionally for a named profile of the shared config files. */
export function chainCredentials(profile?: string): CredentialSource {
  let provider: (() => Promise<S3Credentials>) | undefined;
  return async () => {
    if (!provider) {
      // Loaded on first use only: the chain pulls in STS/SSO clients.

      const { fromNodeProviderChain } = require('@aws-sdk/credential-providers') as typeof import('@aws-sdk/credential-providers');
      provider = fromNodeProviderChain(profile ? { profile } : {});
    }
    return provider();
  };
}

/**
 * The credential source for a backend's settings: static keys when the table names them
 * (resolved now, so a missing variable or file fails at start-up), else the provider chain.
 */
export function credentialsFromSettings(
  settings: CredentialSettings | undefined,
  what: string,
  env: NodeJS.ProcessEnv = process.env,
): CredentialSource {
  if (settings?.accessKeyId || settings?.secretAccessKey) {
    if (!settings.accessKeyId || !settings.secretAccessKey) {
      throw new Error(`${what}: accessKeyId and secretAccessKey go together`);
    }
    return staticCredentials({
      accessKeyId: resolveSecret(settings.accessKeyId, `${what} accessKeyId`, env),
      secretAccessKey: resolveSecret(settings.secretAccessKey, `${what} secretAccessKey`, env),
      sessionToken: settings.sessionToken ? resolveSecret(settings.sessionToken, `${what} sessionToken`, env) : undefined,
    });
  }
  return chainCredentials(settings?.profile);
}

/**
 * Caches what a source yields; fetches again when the cached credentials are within
 * REFRESH_WINDOW_MS of their expiration. A failed refresh keeps using credentials that
 * have not expired yet.
 */
export class CachedCredentials {
  private current?: S3Credentials;
  private pending?: Promise<S3Credentials>;

  constructor(
    private readonly source: CredentialSource,
    private readonly what: string,
    private readonly now: () => number = Date.now,
  ) {}

  private fresh(c: S3Credentials | undefined): c is S3Credentials {
    return !!c && (c.expiration === undefined || c.expiration.getTime() - this.now() > REFRESH_WINDOW_MS);
  }

  private usable(c: S3Credentials | undefined): c is S3Credentials {
    return !!c && (c.expiration === undefined || c.expiration.getTime() > this.now());
  }

  async get(): Promise<S3Credentials> {
    if (this.fresh(this.current)) return this.current;
    if (!this.pending) {
      this.pending = this.source()
        .then((c) => {
          if (!c || !c.accessKeyId || !c.secretAccessKey) throw new Error('the provider returned no keys');
          this.current = {
            accessKeyId: c.accessKeyId,
            secretAccessKey: c.secretAccessKey,
            sessionToken: c.sessionToken,
            expiration: c.expiration,
          };
          return this.current;
        })
        .finally(() => {
          this.pending = undefined;
        });
    }
    try {
      return await this.pending;
    } catch (err) {
      if (this.usable(this.current)) return this.current;
      const e = new S3Error(
        'InternalError',
        `${this.what}: no credentials for the storage backend (${(err as Error)?.message ?? String(err)})`,
      );
      Object.defineProperty(e, 'cause', { value: err, enumerable: false });
      throw e;
    }
  }
}
