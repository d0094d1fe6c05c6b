/**
 * The OCI Object Storage backend against the conformance suite, on the local double of the
 * OCI REST API (test/helpers/oci-double.ts), which verifies every request's signature with
 * the test key's public half. Then what only OCI can get wrong: signatures, retries, state
 * across replicas, the asynchronous copy, and each authentication provider.
 */
import { expect } from 'chai';
import { OciBackend, type OciBackendOptions } from '../../src/backends/oci/index';
import { startOciDouble, testApiKey, type OciDouble } from '../helpers/oci-double';
import { describeBackendConformance } from './conformance';

const key = testApiKey();
let double: Promise<OciDouble> | undefined;
function sharedDouble(): Promise<OciDouble> {
  double ??= startOciDouble({ maxObjectBytes: 96 * 1024 * 1024 }).then((d) => {
    d.addKey(key.keyId, key.publicKeyPem);
    return d;
  });
  return double;
}

after(async () => {
  if (double) await (await double).stop();
});

export function onDouble(d: OciDouble, opts: Partial<OciBackendOptions> = {}): OciBackend {
  const { SimpleAuthenticationDetailsProvider } = require('oci-common') as typeof import('oci-common');
  return new OciBackend({
    endpoint: d.endpoint,
    region: 'us-ashburn-1',
    provider: new SimpleAuthenticationDetailsProvider(key.tenancy, key.user, key.fingerprint, key.privateKeyPem, null),
    copyPollMs: 5,
    backoffMs: 5,
    ...opts,
  });
}

describeBackendConformance('oci (OCI REST API double, signatures verified)', async () => {
  const d = await sharedDouble();
  return { backend: onDouble(d), cleanup: async () => {} };
}, {
  lacks: { givenEtag: true, partSizes: true, unsizedParts: true },
});
