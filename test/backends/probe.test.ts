/**
 * `s3mux check --probe`: against real local stores (an fs root, a second s3mux as an s3 store,
 * Azurite), one backend per store plus failing credentials, through the CLI as a user runs it.
 */
import { execFile } from 'node:child_process';
import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { CreateBucketCommand } from '@aws-sdk/client-s3';
import { expect } from 'chai';
import { startTestServer, ACCESS_KEY, SECRET_KEY, type TestServer } from '../helpers/server';
import { startAzurite, type Azurite } from '../helpers/azurite';
import { probeConfigFile } from '../../src/router/probe';
import { AzureBackend } from '../../src/backends/azure/index';

const CLI = path.resolve(__dirname, '../../src/cli.js');

function runCli(args: string[], env: NodeJS.ProcessEnv): Promise<{ code: number; stdout: string; stderr: string }> {
  return new Promise((resolve) => {
    execFile(process.execPath, [CLI, ...args], { env, timeout: 60_000 }, (err, stdout, stderr) => {
      resolve({ code: err ? ((err as { code?: number }).code ?? 1) : 0, stdout, stderr });
    });
  });
}

describe('s3mux check --probe', function () {
  this.timeout(90_000);
  let dir: string;
  let s3: TestServer;
  let azurite: Azurite;
  let env: NodeJS.ProcessEnv;

  before(async () => {
    dir = mkdtempSync(path.join(os.tmpdir(), 's3mux-probe-'));
    mkdirSync(path.join(dir, 'root', 'local-bucket'), { recursive: true });
    writeFileSync(path.join(dir, 'root', 'local-bucket', 'hello.txt'), 'hi');
    s3 = await startTestServer();
    await s3.s3.send(new CreateBucketCommand({ Bucket: 'remote-bucket' }));
    azurite = await startAzurite();
    await new AzureBackend({ account: azurite.account, endpoint: azurite.endpoint, accountKey: azurite.accountKey }).createBucket(
      'probe-container',
    );
    env = {
      ...process.env,
      PROBE_S3_AK: ACCESS_KEY,
      PROBE_S3_SK: SECRET_KEY,
      PROBE_S3_BAD_SK: 'not-the-secret',
      PROBE_AZ_KEY: azurite.accountKey,
    };
  });
  after(async () => {
    await s3?.stop();
    await azurite?.stop();
    rmSync(dir, { recursive: true, force: true });
  });

  function table(name: string, s3Secret: string): string {
    const file = path.join(dir, name);
    writeFileSync(
      file,
      [
        'backends:',
        `  disk: { type: fs, root: ${path.join(dir, 'root')} }`,
        `  mux: { type: s3, endpoint: "${s3.url}", region: us-east-1, forcePathStyle: true, credentials: { accessKeyIdEnv: PROBE_S3_AK, secretAccessKeyEnv: ${s3Secret} } }`,
        `  blob: { type: azure, account: ${azurite.account}, endpoint: "${azurite.endpoint}", credentials: { sharedKeyEnv: PROBE_AZ_KEY } }`,
        'default: disk',
        'routes:',
        '  local: { backend: disk, bucket: local-bucket }',
        '  remote: { backend: mux, target: s3://remote-bucket/some/prefix/ }',
        '  azure-files: { backend: blob, target: az://probe-container }',
        '',
      ].join('\n'),
    );
    return file;
  }

  it('reports each backend authenticated and able to list its target, and exits 0', async () => {
    const r = await runCli(['check', '--probe', table('good.yaml', 'PROBE_S3_SK')], env);
    expect(r.code, r.stderr).to.equal(0);
    expect(r.stdout).to.contain("disk (fs) route 'local' -> local-bucket/: OK: authenticated, listed a key");
    expect(r.stdout).to.contain(
      "mux (s3, auth: access key) route 'remote' -> remote-bucket/some/prefix/: OK: authenticated, listed no keys (empty)",
    );
    expect(r.stdout).to.contain("blob (azure, auth: shared key) route 'azure-files' -> probe-container/: OK: authenticated");
    expect(r.stdout).to.contain('probe: every backend answered');
  });

  it('names the backend whose credentials fail, and exits 1', async () => {
    const r = await runCli(['check', '--probe', table('bad.yaml', 'PROBE_S3_BAD_SK')], env);
    expect(r.code).to.equal(1);
    expect(r.stderr, r.stderr).to.match(
      /mux \(s3, auth: access key\) route 'remote' -> remote-bucket\/some\/prefix\/: FAILED: (AccessDenied|SignatureDoesNotMatch)/,
    );
    expect(r.stderr).to.contain("disk (fs) route 'local' -> local-bucket/: OK");
    expect(r.stderr).to.contain('probe: some backends failed');
  });

  it('a missing secret, a missing bucket: FAILED for that backend only', async () => {
    const file = table('missing.yaml', 'PROBE_S3_SK');
    const noKey = { ...env };
    delete noKey.PROBE_AZ_KEY;
    const r = await probeConfigFile(file, { env: noKey });
    expect(r.ok).to.equal(false);
    expect(r.text).to.match(
      /blob \(azure, auth: shared key\) route 'azure-files' -> probe-container\/: FAILED: cannot be made: .*PROBE_AZ_KEY/,
    );
    expect(r.text).to.contain("mux (s3, auth: access key) route 'remote' -> remote-bucket/some/prefix/: OK");
    const gone = path.join(dir, 'gone.yaml');
    writeFileSync(
      gone,
      `backends:\n  disk: { type: fs, root: ${path.join(dir, 'root')} }\nroutes:\n  nothing-here: { backend: disk, bucket: no-such-bucket }\n`,
    );
    const g = await probeConfigFile(gone, { env });
    expect(g.ok).to.equal(false);
    expect(g.text).to.match(/FAILED: .*NoSuchBucket/);
  });

  it('check without --probe contacts no store', async () => {
    const r = await runCli(['check', table('offline.yaml', 'PROBE_S3_BAD_SK')], env);
    expect(r.code).to.equal(0);
    expect(r.stdout).not.to.contain('probe:');
  });
});
