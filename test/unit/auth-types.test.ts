/**
 * Every auth type the product design names, per backend kind, as the routing table spells it
 * (and under today's other spelling where one exists): the table validates, and the kit names
 * the auth type the settings select (what `s3mux check --probe` prints). The flows themselves
 * run against token-service doubles in test/backends/{s3-auth,azure,gcs,oci,github}.test.ts.
 */
import { expect } from 'chai';
import { kitFor } from '../../src/backends/create';
import { validateRoutingTable } from '../../src/router/config';

const sp = { tenantId: 't', clientId: 'c', clientSecretEnv: 'S' };
const CASES: Record<string, [string, Record<string, unknown> | undefined][]> = {
  oci: [
    ['user principal (API key)', { userPrincipal: { tenancy: 't', user: 'u', fingerprint: 'f', privateKeyEnv: 'K' } }],
    ['user principal (config file)', { configFile: '/oci/config', profile: 'P' }],
    ['user principal (config file)', undefined],
    ['session token', { sessionToken: true }],
    ['instance principal', { instancePrincipal: true }],
    ['resource principal', { resourcePrincipal: true }],
    ['OKE workload identity', { okeWorkloadIdentity: true }],
  ],
  s3: [
    ['access key', { accessKeyIdEnv: 'A', secretAccessKeyEnv: 'S' }],
    ['default chain', undefined],
    ['default chain', { defaultChain: true }],
    ['default chain', { profile: 'dev' }],
    ['assume role (source: default chain)', { assumeRole: { roleArn: 'arn:aws:iam::1:role/r', externalId: 'x' } }],
    [
      'assume role (source: access key)',
      { accessKeyIdEnv: 'A', secretAccessKeyEnv: 'S', assumeRole: { roleArn: 'arn:aws:iam::1:role/r' } },
    ],
    ['web identity / IRSA', { webIdentity: true }],
    ['ECS role', { ecsRole: true }],
    ['EC2 instance role', { ec2InstanceRole: true }],
  ],
  gcs: [
    ['service account', { serviceAccountFile: '/key.json' }],
    ['service account', { serviceAccountKeyEnv: 'K' }],
    ['application default', { applicationDefault: true }],
    ['application default', undefined],
    ['workload identity', { workloadIdentity: true }],
    ['workload identity', { workloadIdentity: { configFile: '/wif.json' } }],
    ['anonymous', { anonymous: true }],
  ],
  azure: [
    ['shared key', { sharedKeyEnv: 'K' }],
    ['shared key', { accountKeyEnv: 'K' }],
    ['SAS', { sasEnv: 'S' }],
    ['SAS', { sasTokenFile: '/sas' }],
    ['connection string', { connectionStringEnv: 'C' }],
    ['service principal', { servicePrincipal: sp }],
    ['managed identity', { managedIdentity: true }],
    ['managed identity', { managedIdentity: { clientId: 'c' } }],
    ['workload identity', { workloadIdentity: true }],
    ['CLI', { azureCli: true }],
    ['default chain', undefined],
  ],
  github: [
    ['token', { tokenEnv: 'GITHUB_TOKEN' }],
    ['app', { app: { appId: 1, installationId: 2, privateKeyFile: '/app.pem' } }],
    ['anonymous', undefined],
  ],
};

describe('auth types: every one the design names, per kind, in the routing table', () => {
  for (const [kind, cases] of Object.entries(CASES)) {
    it(`${kind}: ${[...new Set(cases.map(([name]) => name))].join(', ')}`, () => {
      for (const [name, credentials] of cases) {
        const spec = validateRoutingTable({ backends: { b: { type: kind, ...(credentials ? { credentials } : {}) } } }).backends.b.spec;
        expect(kitFor(kind)!.authType!(spec), JSON.stringify(credentials)).to.equal(name);
      }
    });
  }

  it('kinds without credentials name no auth type', () => {
    expect('authType' in kitFor('fs')!).to.equal(false);
    expect('authType' in kitFor('memory')!).to.equal(false);
  });
});
