/**
 * Every auth type of the s3 kit, end to end: the routing table's `credentials` (parsed by the
 * kit's schema) make the backend fetch credentials from a local double of AWS's token service
 * (STS AssumeRole with ExternalId, AssumeRoleWithWebIdentity with a token file, the ECS
 * container endpoint, IMDSv2), and those credentials sign requests to a second s3mux whose
 * only identity they are, so a flow that fetched nothing or the wrong thing cannot pass.
 */
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { Readable } from 'node:stream';
import { expect } from 'chai';
import { startServer, type RunningServer } from '../../src/server/app';
import { Router } from '../../src/router/router';
import { s3Kit } from '../../src/backends/s3/kit';
import { createS3Backend } from '../../src/backends/s3/index';
import {
  startEcsDouble,
  startImdsDouble,
  startStsDouble,
  type TemporaryCredentials,
  type TokenServiceDouble,
} from '../helpers/aws-identity';

const ROOT = { accessKeyId: 'storeroot', secretAccessKey: 'store-root-secret' };
const TEMP: TemporaryCredentials = {
  accessKeyId: 'ASIATEMPORARY1',
  secretAccessKey: 'temporary/secret+1',
  sessionToken: 'session-token-1',
};
const SOURCE = { accessKeyId: 'AKIASOURCE', secretAccessKey: 'source-secret' };
const ROLE = 'arn:aws:iam::123456789012:role/s3mux';
const BUCKET = 'auth-target';

describe('s3 backend: every auth type against local token service doubles', function () {
  this.timeout(30_000);
  let dir: string;
  let router: Router;
  let store: RunningServer;
  let sts: TokenServiceDouble;
  const saved: Record<string, string | undefined> = {};
  const setEnv = (vars: Record<string, string | undefined>) => {
    for (const [k, v] of Object.entries(vars)) {
      if (!(k in saved)) saved[k] = process.env[k];
      if (v === undefined) delete process.env[k];
      else process.env[k] = v;
    }
  };

  before(async () => {
    dir = mkdtempSync(path.join(os.tmpdir(), 's3mux-s3-auth-'));
    router = Router.defaultFor(path.join(dir, 'data'));
    // The store knows the temporary credentials (with their session token) and a root for setup, nothing else.
    store = await startServer({ router, host: '127.0.0.1', port: 0, identities: [ROOT, TEMP], log: () => undefined });
    await router.resolve(BUCKET).backend.createBucket(BUCKET);
    sts = await startStsDouble({
      issue: TEMP,
      roleArn: ROLE,
      sourceAccessKeyId: SOURCE.accessKeyId,
      externalId: 'ext-42',
      webIdentityToken: 'oidc.jwt.token',
    });
  });
  after(async () => {
    for (const [k, v] of Object.entries(saved)) {
      if (v === undefined) delete process.env[k];
      else process.env[k] = v;
    }
    await sts.close();
    await store.close();
    await router.close();
    rmSync(dir, { recursive: true, force: true });
  });

  /** A backend made from the routing table's settings, as `serve` makes it. */
  function backendFor(credentials: Record<string, unknown>, env: NodeJS.ProcessEnv = process.env) {
    const settings = s3Kit.settings.parse({ endpoint: store.url, region: 'us-east-1', forcePathStyle: true, credentials });
    return createS3Backend(settings, { name: 'auth', env });
  }

  async function roundTrip(credentials: Record<string, unknown>, key: string, env?: NodeJS.ProcessEnv): Promise<void> {
    const b = backendFor(credentials, env);
    const body = `written with ${key}`;
    await b.putObject(BUCKET, key, Readable.from([Buffer.from(body)]), { userMetadata: {} }, { size: body.length });
    const meta = await b.headObject(BUCKET, key);
    expect(meta.size).to.equal(body.length);
    // The store saw it: read back by its own backend.
    const h = await router.resolve(BUCKET).backend.openObject(BUCKET, key);
    await h.close();
  }

  async function failure(p: Promise<unknown>): Promise<string> {
    try {
      await p;
    } catch (err) {
      return (err as Error).message;
    }
    throw new Error('expected a failure');
  }

  it('access key: the store refuses keys it does not know, and takes the temporary ones with their session token', async () => {
    setEnv({ S3MUX_T_AK: TEMP.accessKeyId, S3MUX_T_SK: TEMP.secretAccessKey, S3MUX_T_ST: TEMP.sessionToken });
    await roundTrip({ accessKeyIdEnv: 'S3MUX_T_AK', secretAccessKeyEnv: 'S3MUX_T_SK', sessionTokenEnv: 'S3MUX_T_ST' }, 'access-key');
    setEnv({ S3MUX_T_ST: 'wrong-token' });
    const b = backendFor({ accessKeyIdEnv: 'S3MUX_T_AK', secretAccessKeyEnv: 'S3MUX_T_SK', sessionTokenEnv: 'S3MUX_T_ST' });
    const err = await b.openObject(BUCKET, 'access-key').then(
      () => undefined,
      (e: unknown) => e as { code?: string },
    );
    expect(err?.code).to.be.oneOf(['InvalidToken', 'AccessDenied']);
  });

  it('assume role: AssumeRole signed by the source keys, with the external id, through the STS endpoint override', async () => {
    setEnv({ S3MUX_SRC_AK: SOURCE.accessKeyId, S3MUX_SRC_SK: SOURCE.secretAccessKey });
    const before = sts.calls.length;
    await roundTrip(
      {
        accessKeyIdEnv: 'S3MUX_SRC_AK',
        secretAccessKeyEnv: 'S3MUX_SRC_SK',
        assumeRole: { roleArn: ROLE, externalId: 'ext-42', sessionName: 'probe', stsEndpoint: sts.url },
      },
      'assume-role',
    );
    expect(sts.calls.slice(before)).to.deep.equal(['AssumeRole']);
  });

  it('assume role: a wrong external id is refused by STS and no request reaches the store', async () => {
    const b = backendFor({
      accessKeyIdEnv: 'S3MUX_SRC_AK',
      secretAccessKeyEnv: 'S3MUX_SRC_SK',
      assumeRole: { roleArn: ROLE, externalId: 'not-it', stsEndpoint: sts.url },
    });
    expect(await failure(b.headObject(BUCKET, 'assume-role'))).to.match(/no credentials for the storage backend.*external id/);
  });

  it('web identity / IRSA: AssumeRoleWithWebIdentity with the token file (from the variables EKS sets)', async () => {
    const tokenFile = path.join(dir, 'token');
    writeFileSync(tokenFile, 'oidc.jwt.token');
    const before = sts.calls.length;
    await roundTrip({ webIdentity: { stsEndpoint: sts.url } }, 'web-identity', {
      ...process.env,
      AWS_ROLE_ARN: ROLE,
      AWS_WEB_IDENTITY_TOKEN_FILE: tokenFile,
    });
    expect(sts.calls.slice(before)).to.deep.equal(['AssumeRoleWithWebIdentity']);
    writeFileSync(tokenFile, 'another.token');
    const b = backendFor({ webIdentity: { roleArn: ROLE, tokenFile, stsEndpoint: sts.url } });
    expect(await failure(b.headObject(BUCKET, 'web-identity'))).to.match(/token is not valid/);
  });

  it('web identity: without a role or token file, the start fails naming what is missing', () => {
    expect(() => backendFor({ webIdentity: true }, {})).to.throw(
      "s3 backend 'auth': credentials.webIdentity needs roleArn (or AWS_ROLE_ARN)",
    );
  });

  it('ECS role: the container credentials endpoint (AWS_CONTAINER_CREDENTIALS_FULL_URI + authorization token)', async () => {
    const ecs = await startEcsDouble(TEMP, 'ecs-task-token');
    try {
      setEnv({
        AWS_CONTAINER_CREDENTIALS_FULL_URI: ecs.url,
        AWS_CONTAINER_AUTHORIZATION_TOKEN: 'ecs-task-token',
        AWS_CONTAINER_CREDENTIALS_RELATIVE_URI: undefined,
      });
      await roundTrip({ ecsRole: true }, 'ecs-role');
      expect(ecs.calls).to.include('ecs');
      setEnv({ AWS_CONTAINER_AUTHORIZATION_TOKEN: 'stolen' });
      expect(await failure(backendFor({ ecsRole: true }).headObject(BUCKET, 'ecs-role'))).to.match(
        /no credentials for the storage backend/,
      );
    } finally {
      setEnv({ AWS_CONTAINER_CREDENTIALS_FULL_URI: undefined, AWS_CONTAINER_AUTHORIZATION_TOKEN: undefined });
      await ecs.close();
    }
  });

  it('EC2 instance role: IMDSv2 through AWS_EC2_METADATA_SERVICE_ENDPOINT', async () => {
    const imds = await startImdsDouble(TEMP);
    try {
      setEnv({ AWS_EC2_METADATA_SERVICE_ENDPOINT: imds.url, AWS_EC2_METADATA_DISABLED: undefined });
      await roundTrip({ ec2InstanceRole: true }, 'ec2-role');
      expect(imds.calls[0]).to.equal('imds-token');
      expect(imds.calls.some((c) => c.endsWith('/instance-role'))).to.equal(true);
    } finally {
      setEnv({ AWS_EC2_METADATA_SERVICE_ENDPOINT: undefined });
      await imds.close();
    }
  });

  it('default chain: `defaultChain: true` (and no credentials at all) take the keys from the environment', async () => {
    setEnv({ AWS_ACCESS_KEY_ID: TEMP.accessKeyId, AWS_SECRET_ACCESS_KEY: TEMP.secretAccessKey, AWS_SESSION_TOKEN: TEMP.sessionToken });
    try {
      await roundTrip({ defaultChain: true }, 'default-chain');
    } finally {
      setEnv({ AWS_ACCESS_KEY_ID: undefined, AWS_SECRET_ACCESS_KEY: undefined, AWS_SESSION_TOKEN: undefined });
    }
  });

  it('one kind at a time: the schema refuses two, but assumeRole takes any other as its source', () => {
    const r = s3Kit.settings.safeParse({ credentials: { ecsRole: true, ec2InstanceRole: true } });
    expect(r.success).to.equal(false);
    expect(JSON.stringify(r.error?.issues)).to.contain('give one kind of credentials, not several');
    expect(s3Kit.settings.safeParse({ credentials: { ecsRole: true, assumeRole: { roleArn: ROLE, externalId: 'x' } } }).success).to.equal(
      true,
    );
  });
});
