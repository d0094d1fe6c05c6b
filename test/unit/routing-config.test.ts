import { expect } from 'chai';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { Readable } from 'node:stream';
import {
  ConfigError,
  loadRoutingTable,
  parseRoutingTable,
  validateRoutingTable,
  type BackendSpec,
  type ConfigProblem,
  type LoadOptions,
} from '../../src/router/config';
import { parseBackendUri, UriError } from '../../src/router/uri';
import { Router } from '../../src/router/router';
import { checkConfigFile } from '../../src/router/check';
import { BACKEND_KITS } from '../../src/backends/registry';
import type { BackendKit } from '../../src/backends/kit';
import { s3BucketNameProblem as bucketNameProblem } from '../../src/backends/bucket-names';
import type { Backend } from '../../src/backends/types';
import { FsBackend } from '../../src/backends/fs/index';
import { MemoryBackend } from '../../src/backends/memory/index';

// dist/test/unit -> the repository root
const REPO = path.resolve(__dirname, '..', '..', '..');
const EXAMPLES = path.join(REPO, 'routing-config');

/** The problems a broken table produces (fails the test when it validates). */
function problemsOf(text: string, file = '/cfg/table.yaml', opts: LoadOptions = {}): ConfigProblem[] {
  try {
    parseRoutingTable(text, file, opts);
  } catch (err) {
    expect(err).to.be.instanceOf(ConfigError);
    return (err as ConfigError).problems;
  }
  expect.fail('the table validated');
}

function only(text: string, file?: string): ConfigProblem {
  const ps = problemsOf(text, file);
  expect(ps, ps.map((p) => p.message).join('\n')).to.have.length(1);
  return ps[0];
}

/** This build's kits, making stand-in backends and remembering what they were asked for. */
function stubKits(kits: readonly BackendKit[] = BACKEND_KITS): { kits: BackendKit[]; made: { spec: BackendSpec; closed: number }[] } {
  const made: { spec: BackendSpec; closed: number }[] = [];
  const stub = (spec: BackendSpec): Backend => {
    const rec = { spec, closed: 0 };
    made.push(rec);
    return {
      kind: spec.kind,
      capabilities: { serverSideCopy: false },
      close: async () => {
        rec.closed++;
      },
    } as unknown as Backend;
  };
  return { kits: kits.map((k) => ({ ...k, create: stub })), made };
}

const MINIMAL = 'backends:\n  disk: { type: fs, root: ./data }\n';

describe('routing-config examples', () => {
  const files = fs
    .readdirSync(EXAMPLES)
    .filter((f) => /\.(ya?ml|json)$/i.test(f) && f !== 'schema.json')
    .sort();

  it('finds the example tables', () => {
    expect(files).to.include.members(['local-dev.yaml', 'photos-readonly.yaml', 'multi-cloud.yaml', 'memory-test.json']);
  });

  for (const f of files) {
    describe(f, () => {
      const file = path.join(EXAMPLES, f);

      it('validates', () => {
        const table = loadRoutingTable(file);
        expect(table.backends).to.have.property(table.default);
        const check = checkConfigFile(file);
        expect(check.ok, check.text).to.equal(true);
        expect(check.text).to.contain('OK');
      });

      it('builds a router', () => {
        const table = loadRoutingTable(file);
        const { kits, made } = stubKits();
        const router = Router.fromTable(table, { kits });
        expect(router.explicitRoutes().map((r) => r.name)).to.deep.equal(table.routes.map((r) => r.name));
        expect(made.length).to.equal(router.backends().length);
      });
    });
  }

  it('photos-readonly.yaml maps photos onto /srv/photos under 2024/, read-only', () => {
    const table = loadRoutingTable(path.join(EXAMPLES, 'photos-readonly.yaml'));
    const photos = table.routes.find((r) => r.name === 'photos');
    expect(photos).to.include({ bucket: 'photos', prefix: '2024/', readOnly: true });
    expect(photos?.spec).to.deep.equal({ kind: 'fs', root: '/srv' });
    expect(table.backends[table.default].spec.kind).to.equal('fs');
  });

  it('multi-cloud.yaml names only backend kinds this build serves, and check accepts it', () => {
    const table = loadRoutingTable(path.join(EXAMPLES, 'multi-cloud.yaml'));
    for (const b of Object.values(table.backends))
      expect(
        BACKEND_KITS.map((k) => k.kind),
        b.spec.kind,
      ).to.include(b.spec.kind);
    const check = checkConfigFile(path.join(EXAMPLES, 'multi-cloud.yaml'));
    expect(check.ok, check.text).to.equal(true);
  });

  it('multi-cloud.yaml routes onto all seven kinds, and serve would build a router from it', () => {
    const table = loadRoutingTable(path.join(EXAMPLES, 'multi-cloud.yaml'));
    const routed = new Set(table.routes.map((r) => r.spec.kind));
    routed.add(table.backends[table.default].spec.kind);
    expect([...routed].sort()).to.deep.equal(['azure', 'fs', 'gcs', 'github', 'memory', 'oci', 's3']);
    expect(table.routes.find((r) => r.name === 'models')).to.include({ backend: 'gcp', bucket: 'shared-models' });
    expect(table.routes.find((r) => r.name === 'logs')).to.include({ backend: 'aws', bucket: 'central-logs', prefix: 's3mux/' });
  });

  it('multi-cloud.yaml holds credentials only by reference', () => {
    const table = loadRoutingTable(path.join(EXAMPLES, 'multi-cloud.yaml'));
    const aws = table.backends.aws.spec;
    expect(aws).to.deep.include({ kind: 's3', region: 'eu-west-1' });
    expect(aws).to.have.nested.property('credentials.secretAccessKey').that.deep.equals({ env: 'AWS_SECRET_ACCESS_KEY' });
    expect(table.routes.map((r) => r.spec.kind)).to.include.members(['s3', 'gcs', 'azure', 'github']);
    expect(table.backends.releases.spec).to.have.nested.property('credentials.token').that.deep.equals({ env: 'GITHUB_TOKEN' });
  });
});

describe('routing table validation', () => {
  it('resolves relative paths against the config file directory', () => {
    const t = parseRoutingTable(MINIMAL, '/etc/s3mux/table.yaml');
    expect(t.backends.disk.spec).to.deep.equal({ kind: 'fs', root: '/etc/s3mux/data' });
    expect(t.default).to.equal('disk');
  });

  it('reads JSON the same way as YAML', () => {
    const t = parseRoutingTable('{"backends": {"m": {"type": "memory"}}, "routes": {"abc": "memory://m/real"}}', '/x/t.json');
    expect(t.default).to.equal('m');
    expect(t.routes[0]).to.include({ name: 'abc', backend: 'm', bucket: 'real', prefix: '' });
  });

  it("ignores '$comment' strings in any mapping", () => {
    const t = parseRoutingTable(
      '{"$comment": "c", "backends": {"$comment": "c", "m": {"type": "memory", "$comment": "c"}}, "routes": {"$comment": "c", "abc": {"$comment": "c", "bucket": "x"}}}',
      '/x/t.json',
    );
    expect(Object.keys(t.backends)).to.deep.equal(['m']);
    expect(t.routes.map((r) => r.name)).to.deep.equal(['abc']);
    expect(only('{"backends": {"m": {"type": "memory"}}, "$comment": 1}', '/x/t.json').message).to.equal(
      'expected a string, got 1 (a number)',
    );
  });

  it('reports an unknown key with a suggestion, its path and position', () => {
    const p = only(`${MINIMAL}routes:\n  photos:\n    target: file:///srv/photos\n    readonly: true\n`);
    expect(p).to.include({ file: '/cfg/table.yaml', path: 'routes.photos.readonly', line: 6, column: 5 });
    expect(p.message).to.equal("unknown key 'readonly' (did you mean 'readOnly'?)");
  });

  it('rejects unknown top-level keys, with a suggestion', () => {
    const p = only(`${MINIMAL}identites: {}\n`);
    expect(p.path).to.equal('identites');
    expect(p.message).to.equal("unknown key 'identites' (did you mean 'identities'?)");
  });

  it('reports a wrong type with what was expected and what was found', () => {
    const p = only(`${MINIMAL}routes:\n  photos:\n    target: file:///srv/photos\n    readOnly: "yes"\n`);
    expect(p).to.include({ path: 'routes.photos.readOnly', line: 6, column: 15 });
    expect(p.message).to.equal("expected true or false, got 'yes'");
    const q = only('backends:\n  aws: { type: s3, region: 3 }\n');
    expect(q).to.include({ path: 'backends.aws.region', message: 'expected a non-empty string, got 3 (a number)' });
    const r = only('backends: []\n');
    expect(r.message).to.match(/^expected a mapping, got a list/);
  });

  it('requires a target or a bucket on each route', () => {
    const p = only(`${MINIMAL}routes:\n  photos:\n    readOnly: true\n`);
    expect(p).to.include({ path: 'routes.photos', line: 4, column: 3 });
    expect(p.message).to.match(/^missing 'target' \(a backend URI/);
    const q = only(`${MINIMAL}routes:\n  photos: { target: s3://x, bucket: y }\n`);
    expect(q.message).to.contain("give either 'target'");
  });

  it("requires a prefix ending in '/'", () => {
    const p = only(`${MINIMAL}routes:\n  photos:\n    target: file:///srv/photos\n    prefix: "2024"\n`);
    expect(p).to.include({ path: 'routes.photos.prefix', line: 6, column: 13 });
    expect(p.message).to.equal("expected a string ending in '/' (or '' for none), got '2024'");
    expect(only(`${MINIMAL}routes:\n  photos:\n    target: file:///srv/photos\n    prefix: 2024\n`).message).to.contain(
      "expected a string ending in '/'",
    );
  });

  it('refuses a prefix given both in the target and in prefix', () => {
    const p = only(`${MINIMAL}routes:\n  photos: { target: 'memory://m/b/x/', prefix: y/ }\n`);
    expect(p.message).to.equal("the prefix is given twice: 'x/' in the target and 'y/' here; keep one");
  });

  it('reports an unknown backend reference with the known names', () => {
    const text =
      'backends:\n  alpha: { type: fs, root: /a }\n  beta: { type: memory }\ndefault: gamma\nroutes:\n  photos: { backend: alpah, bucket: x }\n';
    const ps = problemsOf(text);
    expect(ps.map((p) => [p.path, p.message])).to.deep.equal([
      ['default', "unknown backend 'gamma' (known: alpha, beta)"],
      ['routes.photos.backend', "unknown backend 'alpah' (known: alpha, beta) — did you mean 'alpha'?"],
    ]);
  });

  it('reports bad backend URIs', () => {
    const cases: [string, RegExp][] = [
      [
        'ftp://host/x',
        /^unknown URI scheme 'ftp:' in 'ftp:\/\/host\/x' \(known: file:, memory:, s3:, aws:, gs:, gcp:, az:, azure:, oci:, github:\)$/,
      ],
      ['photos', /is not a backend URI/],
      ['swift://ns/b', /unknown URI scheme 'swift:'/],
      ['oci://ns', /names no bucket: expected oci:\/\/namespace@region/],
      ['oci://n/ns/b', /malformed: expected oci:/],
      ['memory://store', /names no bucket/],
      ['file://otherhost/x', /names host 'otherhost'/],
      ['s3://', /malformed/],
      ['s3://b/a%zz', /malformed percent-escape/],
      ['s3://b/k?versionId=1', /query or fragment/],
    ];
    for (const [uri, re] of cases) {
      const p = only(`${MINIMAL}routes:\n  photos:\n    target: '${uri}'\n`);
      expect(p.path, uri).to.equal('routes.photos.target');
      expect(p.line, uri).to.equal(5);
      expect(p.message, uri).to.match(re);
    }
  });

  it('reports a target whose scheme does not match the named backend, or contradicts it', () => {
    expect(only(`${MINIMAL}routes:\n  photos: { backend: disk, target: 's3://b' }\n`).message).to.equal(
      "'s3://b' needs a backend of type s3, but backend 'disk' has type fs",
    );
    expect(only(`${MINIMAL}routes:\n  photos: { backend: disk, target: 'file:///elsewhere/b' }\n`).message).to.equal(
      "'file:///elsewhere/b' names root '/elsewhere' but backend 'disk' has root '/cfg/data'",
    );
  });

  it('asks which backend when several of the target type are declared', () => {
    const text = `${MINIMAL}  a1: { type: s3 }\n  a2: { type: s3 }\ndefault: disk\nroutes:\n  archive: s3://x/y\n`;
    expect(only(text).message).to.equal("backends a1, a2 have type s3: say which one serves this route with 'backend:'");
  });

  it('reports duplicate routes, in YAML and in JSON', () => {
    const p = only(`${MINIMAL}routes:\n  photos: s3://aaa\n  photos: s3://bbb\n`);
    expect(p).to.include({ path: 'routes.photos', line: 5, column: 3, message: "duplicate route 'photos' (first defined at line 4)" });
    const json =
      '{\n  "backends": {"m": {"type": "memory"}},\n  "routes": {\n    "abc": "memory://m/a",\n    "abc": "memory://m/b"\n  }\n}\n';
    const q = only(json, '/cfg/t.json');
    expect(q).to.include({ path: 'routes.abc', line: 5, column: 5, message: "duplicate route 'abc' (first defined at line 4)" });
  });

  it('applies S3 naming rules to virtual bucket names', () => {
    const bad: [string, string][] = [
      ['ab', '3 to 63 characters'],
      ['a'.repeat(64), '3 to 63 characters'],
      ['Photos', "lowercase letters, digits, '.' and '-'"],
      ['my_bucket', "lowercase letters, digits, '.' and '-'"],
      ['-photos', 'begin and end with a letter or digit'],
      ['photos.', 'begin and end with a letter or digit'],
      ['my..bucket', 'two adjacent periods'],
      ['192.168.1.1', 'IP address'],
      ['xn--photos', "begin with 'xn--'"],
      ['photos-s3alias', "end with '-s3alias'"],
    ];
    for (const [name, why] of bad) {
      const p = only(`${MINIMAL}routes:\n  "${name}": memory://m/b\n`);
      expect(p.message, name).to.equal(`invalid virtual bucket name '${name}': ${bucketNameProblem(name)}`);
      expect(p.message, name).to.contain(why);
      expect(p.line, name).to.equal(4);
    }
    for (const name of ['abc', 'photos', 'my.bucket', 'a-b-c', '123']) expect(bucketNameProblem(name), name).to.equal(undefined);
    expect(only(`${MINIMAL}routes:\n  "my.bucket": 'memory://m/b'\n  x: memory://m/b\n`).path).to.equal('routes.x');
  });

  it("checks the real bucket a route targets against the store's naming rules, saying which rule", () => {
    const cases: [string, string][] = [
      ['gs://goog-photos', "gcs bucket 'goog-photos' breaks the store's naming rules: GCS bucket names may not begin with 'goog'"],
      ['gs://my-g00gle-bucket', "GCS bucket names may not contain 'google' or a look-alike of it"],
      [`gs://${'a'.repeat(64)}.b`, 'each dot-separated part of a GCS bucket name is 1 to 63 characters long'],
      ['az://my--container', "Azure container names may not contain two hyphens in a row ('--')"],
      ['az://my_container', "Azure container names may contain only lowercase letters, digits and '-'"],
      ['s3://Bad_Bucket', "bucket names may contain only lowercase letters, digits, '.' and '-'"],
    ];
    for (const [target, why] of cases) {
      const p = only(`${MINIMAL}routes:\n  photos:\n    target: '${target}'\n`);
      expect(p.path, target).to.equal('routes.photos.target');
      expect(p.message, target).to.contain(why);
    }
    expect(
      only(`${MINIMAL}  az: { type: azure, account: a }\ndefault: disk\nroutes:\n  photos: { backend: az, bucket: ab--c }\n`).path,
    ).to.equal('routes.photos.bucket');
    // Dotted GCS names up to 222 characters are fine; so are the ones each store allows.
    const ok = parseRoutingTable(
      `${MINIMAL}routes:\n  aa1: gs://${'a'.repeat(60)}.${'b'.repeat(60)}\n  aa2: az://my-container\n  aa3: s3://my.bucket\n`,
      '/cfg/t.yaml',
    );
    expect(ok.routes).to.have.length(3);
  });

  it('rejects a literal secret and says to use <name>Env or <name>File', () => {
    const p = only(
      'backends:\n  aws:\n    type: s3\n    credentials:\n      accessKeyIdEnv: AWS_ACCESS_KEY_ID\n      secretAccessKey: abc\n',
    );
    expect(p).to.include({ path: 'backends.aws.credentials.secretAccessKey', line: 6, column: 7 });
    expect(p.message).to.contain("use 'secretAccessKeyEnv'").and.contain("or 'secretAccessKeyFile'");
    expect(p.message).not.to.contain('abc');
    const q = only('backends:\n  aws:\n    type: s3\n    secretAccessKey: abc\n');
    expect(q.path).to.equal('backends.aws.secretAccessKey');
    expect(q.message).to.contain("'secretAccessKeyEnv'").and.contain("'secretAccessKeyFile'").and.contain("under 'credentials'");
    const r = only('backends:\n  g:\n    type: gcs\n    credentials: { password: hunter2 }\n');
    expect(r.message).to.contain('literal secret').and.contain('serviceAccountKeyEnv');
  });

  it('rejects a secret value where an environment variable name belongs', () => {
    const p = only(
      'backends:\n  aws:\n    type: s3\n    credentials:\n      accessKeyIdEnv: AKIA/EXAMPLE+KEY\n      secretAccessKeyEnv: S\n',
    );
    expect(p.path).to.equal('backends.aws.credentials.accessKeyIdEnv');
    expect(p.message).to.match(/^expected the NAME of an environment variable/);
    expect(p.message).not.to.contain('AKIA'); // possibly a secret: never echoed
  });

  it('keeps credentials as references, file paths resolved', () => {
    const t = parseRoutingTable(
      'backends:\n  aws:\n    type: s3\n    credentials: { accessKeyIdEnv: K, secretAccessKeyFile: secrets/s }\n',
      '/etc/s3mux/t.yaml',
    );
    expect(t.backends.aws.spec).to.deep.equal({
      kind: 's3',
      credentials: { accessKeyId: { env: 'K' }, secretAccessKey: { file: '/etc/s3mux/secrets/s' } },
    });
  });

  it('suggests the backend type a URI scheme stands for', () => {
    const p = only('backends:\n  d: { type: file, root: /x }\n');
    expect(p).to.include({ path: 'backends.d.type' });
    expect(p.message).to.contain("(did you mean 'fs'?)");
  });

  it('collects every problem, in file order', () => {
    const text = [
      'backends:',
      '  disk: { type: fs }', // 2: missing root
      'default: disk',
      'routes:',
      '  Photos: memory://m/b', // 5: bad name
      '  docs:',
      '    target: memory://m/d',
      '    prefix: d', // 8
      '    readonly: true', // 9
    ].join('\n');
    const ps = problemsOf(text);
    expect(ps.map((p) => `${p.line}:${p.path}`)).to.deep.equal([
      '2:backends.disk',
      '5:routes.Photos',
      '8:routes.docs.prefix',
      '9:routes.docs.readonly',
    ]);
  });

  it('needs a default when several backends are declared, and a backend at all unless given a data dir', () => {
    const several = only('backends:\n  a: { type: memory }\n  b: { type: memory }\n');
    expect(several.message).to.equal("missing 'default': name the backend (one of a, b) that receives new buckets and unrouted names");
    expect(only('routes: {}\n').message).to.match(/^no backend to use as the default/);
    expect(only('').message).to.match(/^no backend to use as the default/);
    const t = parseRoutingTable('routes:\n  photos: file:///srv/photos\n', '/cfg/t.yaml', { defaultDataDir: '/var/data' });
    expect(t.default).to.equal('local');
    expect(t.backends.local.spec).to.deep.equal({ kind: 'fs', root: '/var/data' });
  });

  it('reports syntax errors with a position', () => {
    const y = problemsOf('backends:\n  disk: { type: fs\n', '/cfg/t.yaml');
    expect(y[0].message).to.match(/^YAML syntax/);
    expect(y[0].line).to.be.a('number');
    const j = only('{\n  "backends": {,\n}', '/cfg/t.json');
    expect(j.message).to.match(/^JSON syntax/);
    expect(j).to.include({ line: 2, column: 16 });
  });

  it('rejects files of another type', () => {
    expect(() => loadRoutingTable('/cfg/t.toml')).to.throw(ConfigError, "unsupported file type '.toml'");
  });

  it('validates an object as well as text', () => {
    const t = validateRoutingTable({ backends: { m: { type: 'memory' } }, routes: { abc: { bucket: 'x' } } }, { baseDir: '/b' });
    expect(t.routes[0]).to.include({ backend: 'm', bucket: 'x' });
    expect(() => validateRoutingTable({ routes: 1 })).to.throw(ConfigError, 'routes: expected a mapping, got 1 (a number)');
  });
});

describe('backend URIs', () => {
  const base = '/etc/s3mux';
  const cases: [string, Record<string, unknown>][] = [
    ['file:///srv/photos', { kind: 'fs', settings: { root: '/srv' }, bucket: 'photos', prefix: '' }],
    ['file:///srv/photos/', { kind: 'fs', settings: { root: '/srv' }, bucket: 'photos', prefix: '' }],
    ['file://localhost/srv/photos', { kind: 'fs', settings: { root: '/srv' }, bucket: 'photos' }],
    ['file://./data/b', { kind: 'fs', settings: { root: '/etc/s3mux/data' }, bucket: 'b' }],
    ['file://../data/b', { kind: 'fs', settings: { root: '/etc/data' }, bucket: 'b' }],
    ['file:data/b', { kind: 'fs', settings: { root: '/etc/s3mux/data' }, bucket: 'b' }],
    ['file:/abs/b', { kind: 'fs', settings: { root: '/abs' }, bucket: 'b' }],
    ['file:///my%20photos/b', { kind: 'fs', settings: { root: '/my photos' }, bucket: 'b' }],
    ['memory://store/bucket', { kind: 'memory', settings: { store: 'store' }, bucket: 'bucket', prefix: '' }],
    ['memory://store/bucket/a/b', { kind: 'memory', settings: { store: 'store' }, bucket: 'bucket', prefix: 'a/b/' }],
    ['s3://bucket', { kind: 's3', bucket: 'bucket', prefix: '' }],
    ['s3://bucket/team-a', { kind: 's3', bucket: 'bucket', prefix: 'team-a/' }],
    ['s3://bucket/team-a/', { kind: 's3', bucket: 'bucket', prefix: 'team-a/' }],
    ['s3://bucket/a%20b/c', { kind: 's3', bucket: 'bucket', prefix: 'a b/c/' }],
    ['gs://bucket/p', { kind: 'gcs', bucket: 'bucket', prefix: 'p/' }],
    ['az://container/p', { kind: 'azure', settings: {}, bucket: 'container', prefix: 'p/' }],
    ['azure://acct/container/p/q', { kind: 'azure', settings: { account: 'acct' }, bucket: 'container', prefix: 'p/q/' }],
    ['S3://bucket', { kind: 's3', bucket: 'bucket' }],
    ['aws://eu-west-1/bucket/team-a', { kind: 's3', settings: { region: 'eu-west-1' }, bucket: 'bucket', prefix: 'team-a/' }],
    ['gcp://my-project/bucket', { kind: 'gcs', settings: { projectId: 'my-project' }, bucket: 'bucket', prefix: '' }],
  ];
  for (const [uri, want] of cases) {
    it(uri, () => {
      expect(parseBackendUri(uri, { baseDir: base })).to.deep.include({ uri, ...want });
    });
  }

  describe('aws://{region}/... and gcp://{project}/... select the backend s3:// and gs:// would with those settings', () => {
    const DISK = 'backends:\n  disk: { type: fs, root: /srv }\ndefault: disk\n';
    const pairs: Array<[string, string, string, string, string]> = [
      ['s3', 'region', 'eu-west-1', 's3://bucket-one/p', 'aws://eu-west-1/bucket-two/p'],
      ['gcs', 'projectId', 'my-project', 'gs://bucket-one/p', 'gcp://my-project/bucket-two/p'],
    ];
    for (const [type, name, value, short, long] of pairs) {
      it(`${long}: the declared ${type} backend with ${name} ${value}, as ${short}`, () => {
        const text = `backends:\n  disk: { type: fs, root: /srv }\n  cloud: { type: ${type}, ${name}: ${value} }\ndefault: disk\nroutes:\n  route-one: ${short}\n  route-two: ${long}\n`;
        const table = parseRoutingTable(text, '/cfg/t.yaml');
        expect(table.routes.map((r) => [r.name, r.backend, r.bucket, r.prefix])).to.deep.equal([
          ['route-one', 'cloud', 'bucket-one', 'p/'],
          ['route-two', 'cloud', 'bucket-two', 'p/'],
        ]);
        expect(Object.keys(table.backends)).to.deep.equal(['disk', 'cloud']);
      });
      it(`${long}: without a declared ${type} backend, an implicit one with ${name} ${value}`, () => {
        const table = parseRoutingTable(
          `${DISK}routes:\n  route-two: ${long}\n  route-three: ${long.replace('two', 'three')}\n`,
          '/cfg/t.yaml',
        );
        const [two, three] = table.routes;
        expect(two.backend).to.equal(three.backend);
        expect(table.backends[two.backend].spec).to.deep.include({ kind: type, [name]: value });
      });
      it(`${long}: a declared ${type} backend with another ${name} is an error naming both`, () => {
        const p = only(
          `backends:\n  disk: { type: fs, root: /srv }\n  cloud: { type: ${type}, ${name}: elsewhere }\ndefault: disk\nroutes:\n  route-two: ${long}\n`,
        );
        expect(p.message).to.equal(`'${long}' names ${name} '${value}' but backend 'cloud' has ${name} 'elsewhere'`);
      });
    }
    it('two regions make two implicit backends', () => {
      const table = parseRoutingTable(`${DISK}routes:\n  one-a: aws://eu-west-1/bucket\n  one-b: aws://us-east-1/bucket\n`, '/cfg/t.yaml');
      expect(table.routes.map((r) => r.backend)).to.deep.equal(['s3:eu-west-1', 's3:us-east-1']);
    });
    it('refuses a form without a bucket', () => {
      expect(() => parseBackendUri('aws://eu-west-1')).to.throw(UriError, 'names no bucket: expected aws://{region}/bucket[/prefix]');
      expect(() => parseBackendUri('gcp://proj/')).to.throw(UriError, 'names no bucket: expected gcp://{project}/bucket[/prefix]');
    });
  });

  it('leaves out what a short form does not name', () => {
    expect(parseBackendUri('az://c/p').settings).not.to.have.property('account');
  });

  it('refuses unknown schemes and malformed forms', () => {
    for (const bad of ['ftp://x/y', 'nothing', 'file:///', 'file://', 'azure://acct', 'memory://', 's3://', 'gs:bucket']) {
      expect(() => parseBackendUri(bad), bad).to.throw(UriError);
    }
    expect(() => parseBackendUri('ftp://x/y')).to.throw("unknown URI scheme 'ftp:'");
  });
});

describe('Router', () => {
  let tmp: string;
  beforeEach(() => {
    tmp = fs.mkdtempSync(path.join(os.tmpdir(), 's3mux-router-'));
  });
  afterEach(() => {
    fs.rmSync(tmp, { recursive: true, force: true });
  });

  it('resolves explicit routes and falls back to the default backend (memory-test.json)', async () => {
    const router = Router.fromTable(loadRoutingTable(path.join(EXAMPLES, 'memory-test.json')));
    try {
      expect(router.defaultBackendName).to.equal('mem');
      expect(router.defaultBackend).to.be.instanceOf(MemoryBackend);

      const fixtures = router.resolve('fixtures');
      expect(fixtures).to.include({
        name: 'fixtures',
        backendName: 'other',
        bucket: 'fixtures',
        prefix: 'v1/',
        readOnly: true,
        publicRead: false,
        explicit: true,
      });
      expect(router.isExplicit('fixtures')).to.equal(true);

      const other = router.resolve('unrouted-bucket');
      expect(other).to.include({
        name: 'unrouted-bucket',
        backendName: 'mem',
        bucket: 'unrouted-bucket',
        prefix: '',
        readOnly: false,
        explicit: false,
      });
      expect(other.backend).to.equal(router.defaultBackend);
      expect(router.isExplicit('unrouted-bucket')).to.equal(false);

      expect(router.resolve('alias')).to.include({ bucket: 'real-bucket', backend: router.defaultBackend });
      expect(router.resolve('public-assets')).to.include({ publicRead: true, backendName: 'memory:assets' });
      expect(router.explicitRoutes().map((r) => r.name)).to.deep.equal(['scratch', 'fixtures', 'fixtures-rw', 'public-assets', 'alias']);
    } finally {
      await router.close();
    }
  });

  it('shares one backend instance between routes with the same settings', async () => {
    const router = Router.fromTable(loadRoutingTable(path.join(EXAMPLES, 'memory-test.json')));
    try {
      const [scratch, fixtures, fixturesRw, assets, alias] = ['scratch', 'fixtures', 'fixtures-rw', 'public-assets', 'alias'].map((n) =>
        router.resolve(n),
      );
      expect(scratch.backend).to.equal(router.defaultBackend);
      expect(alias.backend).to.equal(router.defaultBackend);
      expect(fixtures.backend).to.equal(fixturesRw.backend);
      expect(fixtures.backend).not.to.equal(router.defaultBackend);
      expect(assets.backend).not.to.equal(fixtures.backend);
      expect(router.backends()).to.have.length(3);

      // What one route writes, the other route onto the same place reads.
      await fixturesRw.backend.createBucket(fixturesRw.bucket);
      await fixturesRw.backend.putObject(fixturesRw.bucket, `${fixturesRw.prefix}a.txt`, Readable.from([Buffer.from('hi')]), {
        userMetadata: {},
      });
      const meta = await fixtures.backend.headObject(fixtures.bucket, `${fixtures.prefix}a.txt`);
      expect(meta.size).to.equal(2);
    } finally {
      await router.close();
    }
  });

  it('maps a file:// route with a prefix onto the right root, bucket and prefix', async () => {
    fs.mkdirSync(path.join(tmp, 'srv', 'photos', '2024'), { recursive: true });
    fs.mkdirSync(path.join(tmp, 'srv', 'other'), { recursive: true });
    fs.mkdirSync(path.join(tmp, 'data', 'shared'), { recursive: true });
    const cfg = path.join(tmp, 'table.yaml');
    fs.writeFileSync(
      cfg,
      [
        'backends:',
        '  disk: { type: fs, root: ./data }',
        'routes:',
        '  photos:',
        '    target: file://./srv/photos',
        '    prefix: 2024/',
        '    readOnly: true',
        `  other: file://${path.join(tmp, 'srv', 'other')}`,
        '  shared-view: file:data/shared',
        '',
      ].join('\n'),
    );
    const table = loadRoutingTable(cfg);
    expect(table.routes[0].spec).to.deep.equal({ kind: 'fs', root: path.join(tmp, 'srv') });
    const router = Router.fromTable(table);
    try {
      const photos = router.resolve('photos');
      expect(photos).to.include({ bucket: 'photos', prefix: '2024/', readOnly: true, backendName: `fs:${path.join(tmp, 'srv')}` });
      expect(photos.backend).to.be.instanceOf(FsBackend);

      // Two routes onto the same root share one FsBackend; a route onto the default's root is the default.
      expect(router.resolve('other').backend).to.equal(photos.backend);
      const shared = router.resolve('shared-view');
      expect(shared.backend).to.equal(router.defaultBackend);
      expect(shared.backendName).to.equal('disk');
      expect(router.backends()).to.have.length(2);

      // The backend's root is <tmp>/srv: its buckets are the directories there.
      const names = (await photos.backend.listBuckets()).map((b) => b.name);
      expect(names).to.include.members(['photos', 'other']);
      await photos.backend.headBucket(photos.bucket);

      // A key under the route is <root>/<bucket>/<prefix><key> on disk.
      fs.writeFileSync(path.join(tmp, 'srv', 'photos', '2024', 'img.jpg'), 'jpeg');
      const meta = await photos.backend.headObject(photos.bucket, `${photos.prefix}img.jpg`);
      expect(meta.size).to.equal(4);
      const page = await photos.backend.listObjects(photos.bucket, { prefix: photos.prefix, maxKeys: 10 });
      expect(page.objects.map((o) => o.key)).to.deep.equal(['2024/img.jpg']);

      // The default backend lives at <tmp>/data.
      expect((await router.defaultBackend.listBuckets()).map((b) => b.name)).to.include('shared');
    } finally {
      await router.close();
    }
  });

  it('defaultFor(dataDir): one fs backend, the default, no routes', async () => {
    fs.mkdirSync(path.join(tmp, 'existing'));
    const router = Router.defaultFor(tmp);
    try {
      expect(router.defaultBackend).to.be.instanceOf(FsBackend);
      expect(router.defaultBackendName).to.equal('local');
      expect(router.explicitRoutes()).to.deep.equal([]);
      expect(router.resolve('existing')).to.include({
        bucket: 'existing',
        prefix: '',
        readOnly: false,
        explicit: false,
        backend: router.defaultBackend,
      });
      expect((await router.defaultBackend.listBuckets()).map((b) => b.name)).to.include('existing');
    } finally {
      await router.close();
    }
  });

  it('refuses a table using a kind its kits lack, before making any backend', () => {
    const table = parseRoutingTable(
      'backends:\n  m: { type: memory }\n  aws: { type: s3 }\ndefault: m\nroutes:\n  archive: s3://real/x\n',
      '/cfg/t.yaml',
    );
    const { kits, made } = stubKits(BACKEND_KITS.filter((k) => k.kind !== 's3'));
    expect(() => Router.fromTable(table, { kits })).to.throw(
      "backend kind 's3' is not served by this build (backend 'aws', used by route 'archive')",
    );
    expect(made).to.have.length(0);
    // An unused declared backend does not stop serving.
    const unused = parseRoutingTable('backends:\n  m: { type: memory }\n  aws: { type: s3 }\ndefault: m\n', '/cfg/t.yaml');
    expect(() => Router.fromTable(unused, { kits })).not.to.throw();
  });

  it('refuses, at load, a kind no kit serves (what check and serve both use)', () => {
    const p = only('backends:\n  o: { type: swift }\n');
    expect(p).to.include({ path: 'backends.o.type' });
    expect(p.message).to.equal("expected a backend type, one of fs, memory, s3, gcs, azure, oci, github, got 'swift'");
  });

  it('closes every distinct backend exactly once', async () => {
    const table = loadRoutingTable(path.join(EXAMPLES, 'memory-test.json'));
    const { kits, made } = stubKits();
    const router = Router.fromTable(table, { kits });
    expect(made.map((m) => m.spec)).to.deep.equal([
      { kind: 'memory', store: 'mem' },
      { kind: 'memory', store: 'other-store' },
      { kind: 'memory', store: 'assets' },
    ]);
    await router.close();
    await router.close();
    expect(made.map((m) => m.closed)).to.deep.equal([1, 1, 1]);
  });
});

describe('checkConfigFile', () => {
  let tmp: string;
  beforeEach(() => {
    tmp = fs.mkdtempSync(path.join(os.tmpdir(), 's3mux-check-'));
  });
  afterEach(() => {
    fs.rmSync(tmp, { recursive: true, force: true });
  });

  it('summarizes a valid table', () => {
    const r = checkConfigFile(path.join(EXAMPLES, 'photos-readonly.yaml'));
    expect(r.ok).to.equal(true);
    expect(r.text).to.contain("default 'scratch'");
    expect(r.text).to.match(/photos -> fs:\/srv bucket 'photos' prefix '2024\/'\s+\[read-only\]/);
  });

  it('fails (exit non-zero) for a table serve would refuse: an unknown kind, a bucket name the store forbids', () => {
    const file = path.join(tmp, 'refused.yaml');
    fs.writeFileSync(
      file,
      'backends:\n  o: { type: swift, namespace: n }\n  g: { type: gcs }\ndefault: g\nroutes:\n  photos: gs://googly\n',
    );
    const r = checkConfigFile(file);
    expect(r.ok).to.equal(false);
    expect(r.text).to.contain("backends.o.type: expected a backend type, one of fs, memory, s3, gcs, azure, oci, github, got 'swift'");
    expect(r.text).to.contain(
      "routes.photos: gcs bucket 'googly' breaks the store's naming rules: GCS bucket names may not begin with 'goog'",
    );
  });

  it('prints each problem as FILE:LINE:COL: path: message', () => {
    const file = path.join(tmp, 'bad.yaml');
    fs.writeFileSync(
      file,
      'backends:\n  disk: { type: fs, root: . }\nroutes:\n  photos:\n    target: file:///srv/photos\n    prefix: x\n    readonly: true\n',
    );
    const r = checkConfigFile(file);
    expect(r.ok).to.equal(false);
    expect(r.text.split('\n')).to.deep.equal([
      `${file}:6:13: routes.photos.prefix: expected a string ending in '/' (or '' for none), got 'x'`,
      `${file}:7:5: routes.photos.readonly: unknown key 'readonly' (did you mean 'readOnly'?)`,
    ]);
  });
});
