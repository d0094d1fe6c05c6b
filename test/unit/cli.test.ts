/** The command line: options from flags and S3MUX_* variables, usage errors (exit 2), help, version, routes, start-up banner. */
import { execFile, spawn } from 'node:child_process';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { promisify } from 'node:util';
import { expect } from 'chai';
import { parseServeOptions, SERVE_OPTIONS, envName } from '../../src/cli/serve-options';
import { UsageError } from '../../src/cli/usage-error';
import { rootIdentity } from '../../src/credentials';
import { stopChild } from '../helpers/processes';

const CLI = path.resolve(__dirname, '../../src/cli.js');
const run = async (args: string[], env: NodeJS.ProcessEnv = {}) => {
  try {
    const { stdout, stderr } = await promisify(execFile)(process.execPath, [CLI, ...args], { env: { PATH: process.env.PATH, ...env } });
    return { code: 0, stdout, stderr };
  } catch (err) {
    const e = err as { code: number; stdout: string; stderr: string };
    return { code: e.code, stdout: e.stdout, stderr: e.stderr };
  }
};

describe('cli: serve options', () => {
  it('has defaults, takes flags, and takes every flag from its S3MUX_* variable (flags win)', () => {
    const d = parseServeOptions([], {});
    expect(d).to.include({
      address: '127.0.0.1:9000',
      dataDir: './data',
      region: 'us-east-1',
      logLevel: 'info',
      logFormat: 'json',
      metrics: false,
      shutdownGraceMs: 25_000,
      fsEncryptedAtRest: false,
      idleTimeoutMs: 20_000,
      maxConnections: 1024,
    });
    expect(d.multipartExpiryMs).to.equal(7 * 86_400_000);
    const env = {
      S3MUX_ADDRESS: '0.0.0.0:9100',
      S3MUX_DATA_DIR: '/data',
      S3MUX_CONFIG: '/etc/s3mux/routing.yaml',
      S3MUX_DOMAIN: 'S3.Example.com, s3.local',
      S3MUX_TLS_CERT: 'c.pem',
      S3MUX_TLS_KEY: 'k.pem',
      S3MUX_REGION: 'eu-west-1',
      S3MUX_MULTIPART_EXPIRY: '12h',
      S3MUX_LIFECYCLE_INTERVAL: '10m',
      S3MUX_LIFECYCLE_TEST_DAY_LENGTH: '2s',
      S3MUX_LOG_LEVEL: 'debug',
      S3MUX_LOG_FORMAT: 'pretty',
      S3MUX_METRICS: 'true',
      S3MUX_METRICS_ADDRESS: ':9464',
      S3MUX_SHUTDOWN_GRACE: '10s',
      S3MUX_FS_ENCRYPTED_AT_REST: 'true',
      S3MUX_TRUST_FORWARDED: 'true',
      S3MUX_IDLE_TIMEOUT: '5s',
      S3MUX_MAX_CONNECTIONS: '0',
    };
    // Every option has a variable in this test.
    expect(SERVE_OPTIONS.map((o) => envName(o.flag)).sort()).to.deep.equal(Object.keys(env).sort());
    expect(parseServeOptions([], env)).to.deep.equal({
      address: '0.0.0.0:9100',
      dataDir: '/data',
      config: '/etc/s3mux/routing.yaml',
      domains: ['s3.example.com', 's3.local'],
      tlsCert: 'c.pem',
      tlsKey: 'k.pem',
      region: 'eu-west-1',
      multipartExpiryMs: 12 * 3_600_000,
      lifecycleIntervalMs: 600_000,
      lifecycleTestDayMs: 2000,
      logLevel: 'debug',
      logFormat: 'pretty',
      metrics: true,
      metricsAddress: ':9464',
      shutdownGraceMs: 10_000,
      fsEncryptedAtRest: true,
      trustForwarded: true,
      idleTimeoutMs: 5000,
      maxConnections: 0,
    });
    const o = parseServeOptions(
      ['--address', '127.0.0.1:1', '--domain', 'a.test', '--domain=b.test', '--shutdown-grace', '500ms', '--metrics'],
      { ...env, S3MUX_METRICS: 'false' },
    );
    expect(o).to.include({ address: '127.0.0.1:1', shutdownGraceMs: 500, metrics: true, region: 'eu-west-1' });
    expect(o.domains).to.deep.equal(['a.test', 'b.test']);
  });

  it('refuses unknown flags and bad values with a message naming them', () => {
    const cases: Array<[string[], NodeJS.ProcessEnv, RegExp]> = [
      [['--adress', 'x'], {}, /unknown option '--adress'/],
      [['stray'], {}, /unexpected argument 'stray'/],
      [['--address'], {}, /--address.*needs a value/],
      [['--address', 'nowhere'], {}, /--address expects HOST:PORT/],
      [['--log-level', 'loud'], {}, /--log-level expects one of fatal, error, warn, info, debug, trace, silent, got 'loud'/],
      [[], { S3MUX_LOG_FORMAT: 'xml' }, /S3MUX_LOG_FORMAT expects one of json, pretty/],
      [[], { S3MUX_METRICS: 'perhaps' }, /S3MUX_METRICS expects true or false/],
      [[], { S3MUX_SHUTDOWN_GRACE: '5 minutes' }, /S3MUX_SHUTDOWN_GRACE expects a duration/],
      [['--metrics-address', '1.2.3.4:99999'], {}, /--metrics-address expects HOST:PORT/],
      [['--tls-cert', 'c.pem'], {}, /--tls-cert and --tls-key go together/],
      [[], { S3MUX_MAX_CONNECTIONS: 'many' }, /S3MUX_MAX_CONNECTIONS expects a whole number, got 'many'/],
    ];
    for (const [argv, env, message] of cases) {
      expect(() => parseServeOptions(argv, env), argv.join(' ')).to.throw(UsageError, message);
    }
  });

  it('reads root credentials from S3MUX_ROOT_*, MINIO_ROOT_* or their *_FILE variants', () => {
    const dir = mkdtempSync(path.join(os.tmpdir(), 's3mux-cli-'));
    try {
      writeFileSync(path.join(dir, 'user'), 'fileuser\n');
      writeFileSync(path.join(dir, 'pw'), 'filepassword\n');
      expect(rootIdentity({}).source).to.equal('dev-default');
      expect(rootIdentity({ MINIO_ROOT_USER: 'm', MINIO_ROOT_PASSWORD: 'mpassword' })).to.deep.include({
        source: 'MINIO_ROOT',
        identity: { accessKeyId: 'm', secretAccessKey: 'mpassword' },
      });
      const fromFiles = rootIdentity({
        MINIO_ROOT_USER_FILE: path.join(dir, 'user'),
        MINIO_ROOT_PASSWORD_FILE: path.join(dir, 'pw'),
        MINIO_ROOT_USER: '',
      });
      expect(fromFiles.identity).to.deep.equal({ accessKeyId: 'fileuser', secretAccessKey: 'filepassword' });
      expect(
        rootIdentity({ S3MUX_ROOT_USER: 's', S3MUX_ROOT_PASSWORD: 'spassword', MINIO_ROOT_USER: 'm', MINIO_ROOT_PASSWORD: 'mpassword' })
          .source,
      ).to.equal('S3MUX_ROOT');
      expect(() => rootIdentity({ S3MUX_ROOT_USER: 'only-user' })).to.throw(/go together/);
      expect(() => rootIdentity({ S3MUX_ROOT_USER: 'u', S3MUX_ROOT_PASSWORD_FILE: path.join(dir, 'missing') })).to.throw(
        /S3MUX_ROOT_PASSWORD_FILE: cannot read/,
      );
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });
});

describe('cli: commands', function () {
  this.timeout(30_000);

  it('--help on every command, --version and version; unknown commands and flags exit 2', async () => {
    const version = (require('../../../package.json') as { version: string }).version;
    expect(await run(['--version'])).to.deep.include({ code: 0, stdout: `${version}\n` });
    expect((await run(['version'])).stdout).to.equal(`s3mux ${version} (node ${process.version})\n`);
    const help = await run(['--help']);
    expect(help.code).to.equal(0);
    for (const c of ['serve', 'check', 'routes', 'version']) expect(help.stdout).to.contain(c);
    const serveHelp = await run(['serve', '--help']);
    expect(serveHelp.code).to.equal(0);
    for (const o of SERVE_OPTIONS) expect(serveHelp.stdout).to.contain(`--${o.flag}`).and.contain(envName(o.flag));
    expect((await run(['check', '--help'])).stdout).to.match(/^usage: s3mux check \[--probe\] FILE/);
    expect((await run(['routes', '--help'])).stdout).to.match(/^usage: s3mux routes FILE/);
    expect((await run(['help', 'routes'])).stdout).to.match(/^usage: s3mux routes FILE/);
    const unknown = await run(['serve', '--frobnicate']);
    expect(unknown.code).to.equal(2);
    expect(unknown.stderr).to.contain("s3mux serve: unknown option '--frobnicate'").and.contain("Run 's3mux serve --help'");
    expect((await run(['serve'], { S3MUX_LOG_LEVEL: 'loud' })).code).to.equal(2);
    expect((await run(['deploy'])).code).to.equal(2);
    expect((await run(['check'])).code).to.equal(2);
    expect((await run(['routes', 'a', 'b'])).code).to.equal(2);
    // A route of another form points at the command's own help, which says which routes it takes.
    const memoryTable = path.resolve(__dirname, '../../../routing-config/memory-test.json');
    const repair = await run(['repair', 'scratch', '--config', memoryTable]);
    expect(repair.code).to.equal(2);
    expect(repair.stderr).to.contain("s3mux repair: 'scratch' is not a mirror or failover route").and.contain("Run 's3mux repair --help'");
    const migrate = await run(['migrate', 'status', 'scratch', '--config', memoryTable]);
    expect(migrate.code).to.equal(2);
    expect(migrate.stderr).to.contain("s3mux migrate: 'scratch' is not a migrate route").and.contain("Run 's3mux migrate --help'");
  });

  it('routes FILE prints each virtual bucket: backend, real location, mode and who may do what', async () => {
    const dir = mkdtempSync(path.join(os.tmpdir(), 's3mux-cli-'));
    try {
      writeFileSync(
        path.join(dir, 't.yaml'),
        [
          'backends:',
          '  disk: { type: fs, root: ./data }',
          '  arc: { type: s3, region: eu-west-1 }',
          'default: disk',
          'routes:',
          '  archive: { backend: arc, target: "s3://real-archive/team-a/", readOnly: true }',
          '  site: { bucket: www, publicRead: true }',
          'identities:',
          '  ann:',
          '    accessKeyId: ANNKEY',
          '    secretAccessKeyEnv: ANN_SECRET',
          '    policy:',
          '      - { buckets: [archive, site], allow: [read, list, write] }',
        ].join('\n'),
      );
      const out = await run(['routes', path.join(dir, 't.yaml')]);
      expect(out.code, out.stderr).to.equal(0);
      const lines = out.stdout.split('\n');
      expect(lines).to.include('archive -> arc (s3) s3://real-archive/team-a/ in eu-west-1 [read-only]');
      expect(lines).to.include(`site    -> disk (fs) file://${path.join(dir, 'data', 'www')}/ [read-write, public-read]`);
      expect(lines).to.include(`*       -> disk (fs) file://${path.join(dir, 'data')}/<same name>/ [read-write]`);
      // Read-only takes write away from ann on archive; anonymous may read the public route.
      const after = (head: string) => {
        const rest = lines.slice(lines.findIndex((l) => l.startsWith(head)) + 1);
        return rest.slice(
          0,
          rest.findIndex((l) => !l.startsWith('    ')),
        );
      };
      expect(after('archive')).to.deep.equal(['    root: read, list', '    ann: read, list']);
      expect(after('site ')).to.deep.equal([
        '    root: read, write, list, delete, createBucket, deleteBucket',
        '    ann: read, write, list',
        '    anonymous: read, list',
      ]);
      const bad = await run(['routes', path.join(dir, 'missing.yaml')]);
      expect(bad.code).to.equal(1);
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });

  it("routes FILE and check FILE name a migrate, mirror or failover route's form and its other targets (routing-config/moving-data.yaml)", async () => {
    const table = path.resolve(__dirname, '../../../routing-config/moving-data.yaml');
    const routes = await run(['routes', table]);
    expect(routes.code, routes.stderr).to.equal(0);
    expect(routes.stdout.split('\n')).to.include.members([
      'datasets -> blob (azure) az://mystorageaccount/datasets/ [read-write, migrating from fs:/srv/old (fs) file:///srv/old/datasets/]',
      'media    -> aws (s3) s3://media-a/ in eu-west-1 [read-write, mirror (sync), also on minio (s3) s3://media-b/ at http://minio.internal:9000]',
      'logs     -> minio (s3) s3://logs-primary/ at http://minio.internal:9000 [read-write, failover, then fs:/var/lib/s3mux (fs) file:///var/lib/s3mux/logs-standby/]',
    ]);
    const check = await run(['check', table]);
    expect(check.code, check.stderr).to.equal(0);
    expect(check.stdout.split('\n')).to.include.members([
      "  datasets -> blob bucket 'datasets'  [read-write, migrating from fs:/srv/old bucket 'datasets']",
      "  media    -> aws bucket 'media-a'  [read-write, mirror (sync), also on minio bucket 'media-b']",
      "  logs     -> minio bucket 'logs-primary'  [read-write, failover, then fs:/var/lib/s3mux bucket 'logs-standby']",
    ]);
  });

  async function banner(args: string[], env: NodeJS.ProcessEnv): Promise<string> {
    const dir = mkdtempSync(path.join(os.tmpdir(), 's3mux-cli-'));
    const child = spawn(process.execPath, [CLI, 'serve', '--data-dir', path.join(dir, 'data'), ...args], {
      env: { PATH: process.env.PATH, ...env },
    });
    let out = '';
    child.stdout.on('data', (d: Buffer) => {
      out += d.toString();
    });
    child.stderr.on('data', (d: Buffer) => {
      out += d.toString();
    });
    try {
      const end = Date.now() + 15_000;
      while (!/health: /.test(out) && Date.now() < end && child.exitCode === null) await new Promise((r) => setTimeout(r, 50));
      await new Promise((r) => setTimeout(r, 100));
      return out;
    } finally {
      await stopChild(child);
      rmSync(dir, { recursive: true, force: true });
    }
  }

  it("the start-up banner names the endpoint, the credentials' source and the routes; dev credentials on a non-loopback address get a warning", async () => {
    const loopback = await banner(['--address', '127.0.0.1:0'], {});
    expect(loopback).to.match(/^s3mux listening on http:\/\/127\.0\.0\.1:\d+$/m);
    expect(loopback).to.contain('root credentials: development default');
    expect(loopback).to.match(/^route \* -> local \(fs\) file:\/\/.*\/data\/<same name>\/ \[read-write\]$/m);
    expect(loopback).not.to.contain('WARNING');

    const exposed = await banner(['--address', '0.0.0.0:0'], {});
    expect(exposed).to.contain('WARNING: s3mux listens on 0.0.0.0, reachable from other machines, with the DEVELOPMENT');
    expect(exposed).to.contain('"msg":"development default credentials on a non-loopback address"');

    const real = await banner([], {
      S3MUX_ADDRESS: '0.0.0.0:0',
      MINIO_ROOT_USER: 'minioadmin2',
      MINIO_ROOT_PASSWORD: 'a-real-secret-9876',
    });
    expect(real).to.contain('root credentials: from MINIO_ROOT_USER / MINIO_ROOT_PASSWORD (access key minioadmin2)');
    expect(real).not.to.contain('WARNING');
    expect(real).not.to.contain('a-real-secret-9876');
  });
});
