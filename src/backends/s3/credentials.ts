/**
 * Credentials for signing requests to an S3-compatible store.
 *
 * One source per auth type of the routing table (credentialsFromSettings); the providers of
 * @aws-sdk/credential-providers do the token-service work (STS, the ECS endpoint, IMDS).
 *
 * Either way the result is cached, and fetched again when it is within five minutes of its
 * `expiration` (concurrent callers share one refresh).
 */
import { resolveSecret } from '../../auth/secrets';
import { S3Error } from '../../errors';
import type { S3Settings } from './settings';

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
export type CredentialSettings = NonNullable<S3Settings['credentials']>;

/** Refresh this long before `expiration`. */
export const REFRESH_WINDOW_MS = 5 * 60 * 1000;

/** A fixed set of keys. */
export function staticCredentials(creds: S3Credentials): CredentialSource {
  const value = { ...creds };
  return async () => value;
}

type Providers = typeof import('@aws-sdk/credential-providers');

/** Loaded on first use only: the providers pull in STS/SSO clients. */
function providers(): Providers {
  return require('@aws-sdk/credential-providers') as Providers;
}

/** A provider made on first use (the SDK reads its variables then, not at start). */
function lazy(make: () => () => Promise<S3Credentials>): CredentialSource {
  let provider: (() => Promise<S3Credentials>) | undefined;
  return () => (provider ??= make())();
}

/** The AWS SDK's default chain, optionally for a named profile of the shared config files. */
export function chainCredentials(profile?: string): CredentialSource {
  return lazy(() => providers().fromNodeProviderChain(profile ? { profile } : {}));
}

/** STS client settings: the table's endpoint and region, else the backend's region. */
function stsClient(group: { stsEndpoint?: string; stsRegion?: string }, region: string | undefined) {
  const clientRegion = group.stsRegion ?? region;
  return { ...(group.stsEndpoint ? { endpoint: group.stsEndpoint } : {}), ...(clientRegion ? { region: clientRegion } : {}) };
}

/**
 * The credential source for a backend's settings, one auth type of the product design each:
 *
 *   access key        accessKeyId + secretAccessKey [+ sessionToken], resolved now, so a
 *                     missing variable or file fails at start-up
 *   default chain     nothing, `defaultChain: true`, or `profile` (the SDK's Node chain)
 *   assume role       `assumeRole` (with ExternalId), the rest of the group as its source
 *   web identity/IRSA `webIdentity`: AssumeRoleWithWebIdentity with the token file
 *   ECS role          `ecsRole`: the container credentials endpoint
 *   EC2 instance role `ec2InstanceRole`: the instance metadata service
 */
export function credentialsFromSettings(
  settings: CredentialSettings | undefined,
  what: string,
  env: NodeJS.ProcessEnv = process.env,
  region?: string,
): CredentialSource {
  const base = sourceCredentials(settings, what, env, region);
  const role = settings?.assumeRole;
  if (!role) return base;
  return lazy(() =>
    providers().fromTemporaryCredentials({
      params: {
        RoleArn: role.roleArn,
        RoleSessionName: role.sessionName ?? 's3mux',
        ...(role.externalId !== undefined ? { ExternalId: role.externalId } : {}),
        ...(role.durationSeconds !== undefined ? { DurationSeconds: role.durationSeconds } : {}),
      },
      masterCredentials: base,
      clientConfig: stsClient(role, region),
    }),
  );
}

/** What signs the request itself, or (with assumeRole) the AssumeRole call. */
function sourceCredentials(
  settings: CredentialSettings | undefined,
  what: string,
  env: NodeJS.ProcessEnv,
  region?: string,
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
  const web = settings?.webIdentity;
  if (web) {
    const roleArn = web.roleArn ?? env.AWS_ROLE_ARN;
    const tokenFile = web.tokenFile ?? env.AWS_WEB_IDENTITY_TOKEN_FILE;
    if (!roleArn) throw new Error(`${what}: credentials.webIdentity needs roleArn (or AWS_ROLE_ARN)`);
    if (!tokenFile) throw new Error(`${what}: credentials.webIdentity needs tokenFile (or AWS_WEB_IDENTITY_TOKEN_FILE)`);
    return lazy(() =>
      providers().fromTokenFile({
        roleArn,
        webIdentityTokenFile: tokenFile,
        roleSessionName: web.sessionName ?? env.AWS_ROLE_SESSION_NAME ?? 's3mux',
        clientConfig: stsClient(web, region),
      }),
    );
  }
  if (settings?.ecsRole) return lazy(() => providers().fromContainerMetadata({ maxRetries: 2, timeout: 2000 }));
  if (settings?.ec2InstanceRole) return lazy(() => providers().fromInstanceMetadata({ maxRetries: 2, timeout: 2000 }));
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

  /** The cached credentials while they need no refresh (no promise on the hot path), else undefined: call get(). */
  peek(): S3Credentials | undefined {
    return this.fresh(this.current) ? this.current : undefined;
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
