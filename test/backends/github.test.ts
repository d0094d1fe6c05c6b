/**
 * The GitHub release-assets backend on a local double of GitHub's REST API, uploads host and
 * download host (test/helpers/github-double.ts): the conformance suite with GitHub's real gaps
 * declared, then what only GitHub does: the download redirect with Range, rate limits,
 * read-only refusal, the replace swap, releases as prefixes, GitHub Enterprise Server's
 * baseUrl and GitHub App authentication.
 */
import { expect } from 'chai';
import { generateKeyPairSync, randomBytes } from 'node:crypto';
import { Readable } from 'node:stream';
import { DeleteObjectCommand, GetObjectCommand, HeadObjectCommand, ListObjectsV2Command, PutObjectCommand } from '@aws-sdk/client-s3';
import { Upload } from '@aws-sdk/lib-storage';
import { validateRoutingTable } from '../../src/router/config';
import { Router } from '../../src/router/router';
import { startTestServer, type TestServer } from '../helpers/server';
import { GithubBackend, type GithubBackendOptions, ALL_RELEASES } from '../../src/backends/github/index';
import { nameOf, keyOf, isPlainKey } from '../../src/backends/github/names';
import { RateGate } from '../../src/backends/github/client';
import { GithubDouble } from '../helpers/github-double';
import { body, describeBackendConformance, expectS3Error, getObject, pattern, md5 } from './conformance';
import { S3Error } from '../../src/errors';

const TOKEN = 'ghp_testtoken0123456789';
const MiB = 1024 * 1024;

const cantName = (key: string): boolean => {
  try {
    nameOf(key);
    return false;
  } catch {
    return true;
  }
};

async function withDouble(opts: ConstructorParameters<typeof GithubDouble>[0] = {}): Promise<GithubDouble> {
  const d = new GithubDouble({ tokens: [TOKEN], ...opts });
  await d.start();
  return d;
}

function onDouble(d: GithubDouble, opts: Partial<GithubBackendOptions> = {}): GithubBackend {
  return new GithubBackend({ owner: d.owner, repo: d.repo, baseUrl: d.apiUrl, token: TOKEN, readOnly: false, ...opts });
}

const GITHUB_GAPS = {
  givenEtag: true,
  tags: true,
  checksums: true,
  partSizes: true,
  multipartEtag: true,
  ifMatch: true,
  md5Etag: true,
  attributes: true,
  caseSensitiveKeys: true,
  key: cantName,
} as const;

describeBackendConformance(
  'github (REST API double)',
  async () => {
    const d = await withDouble();
    return { backend: onDouble(d), cleanup: () => d.stop() };
  },
  { lacks: GITHUB_GAPS, listingMatrix: 'small' },
);

describe('GitHub backend', function () {
  this.timeout(60_000);
  let d: GithubDouble;
  beforeEach(async () => {
    d = await withDouble();
  });
  afterEach(async () => {
    await d.stop();
  });

  describe('names', () => {
    it('keeps plain keys as asset names and escapes the rest reversibly, lower case', () => {
      for (const k of ['app-1.0.tar.gz', 'A_b-c.ZIP', 'x']) {
        expect(isPlainKey(k)).to.equal(true);
        expect(nameOf(k)).to.equal(k);
      }
      for (const k of ['dir/file', 'sp ace', '.hidden', 'trail.', 'é', '_s3mux.k.x', '_S3MUX.x', 'a~b']) {
        const n = nameOf(k);
        expect(n, k).to.match(/^_s3mux\.k\.[0-9a-v]+$/);
        expect(keyOf(n)).to.equal(k);
      }
      expect(keyOf('_s3mux.u.abc')).to.equal(undefined);
      expect(keyOf('_s3mux.k.zz')).to.equal(undefined);
    });
  });

  describe('reads', () => {
    it('follows the download redirect without the token and streams byte ranges', async () => {
      const data = pattern(300_000, 5);
      d.addRelease('v1.0', { 'app.bin': data });
      const b = onDouble(d, { readOnly: true });
      const head = await b.headObject('v1.0', 'app.bin');
      expect(head.size).to.equal(data.length);
      expect(head.etag).to.match(/^[0-9a-f]{32}-1$/);
      const whole = await getObject(b, 'v1.0', 'app.bin');
      expect(md5(whole.data)).to.equal(md5(data));
      const r = await getObject(b, 'v1.0', 'app.bin', { start: 1000, end: 200_000 });
      expect(r.data.equals(data.subarray(1000, 200_001))).to.equal(true);

      const api = d.requests.filter((q) => q.host === 'api' && /\/releases\/assets\/\d+$/.test(q.path));
      expect(api.length).to.be.greaterThan(0);
      for (const q of api) {
        expect(q.headers.accept).to.equal('application/octet-stream');
        expect(q.headers.authorization).to.equal(`token ${TOKEN}`);
      }
      const dl = d.requests.filter((q) => q.host === 'download');
      expect(dl.map((q) => q.headers.range)).to.deep.equal([undefined, 'bytes=1000-200000']);
      for (const q of dl) expect(q.headers.authorization, 'no token to the download host').to.equal(undefined);
    });

    it('answers NoSuchBucket for a missing release, NoSuchKey for a missing asset, and hides s3mux assets', async () => {
      d.addRelease('v1', { 'a.txt': 'a', '_s3mux.u.someupload': '{}', '_s3mux.t.0123': 'partial' });
      const b = onDouble(d, { readOnly: true });
      await expectS3Error(b.headObject('v2', 'a.txt'), 'NoSuchBucket');
      await expectS3Error(b.headObject('v1', 'b.txt'), 'NoSuchKey');
      const page = await b.listObjects('v1', { prefix: '', maxKeys: 1000 });
      expect(page.objects.map((o) => o.key)).to.deep.equal(['a.txt']);
    });

    it('pages through a release with more assets than one API page, in UTF-8 order', async () => {
      const assets: Record<string, string> = {};
      for (let i = 0; i < 230; i++) assets[`f${String(i).padStart(3, '0')}.txt`] = String(i);
      const r = d.addRelease('big', assets);
      r.assets.reverse();
      const b = onDouble(d, { readOnly: true });
      const keys: string[] = [];
      let after: string | undefined;
      for (;;) {
        const page = await b.listObjects('big', { prefix: 'f', startAfter: after, maxKeys: 100 });
        keys.push(...page.objects.map((o) => o.key));
        if (!page.isTruncated) break;
        after = page.nextStartAfter;
      }
      expect(keys).to.deep.equal(Object.keys(assets).sort());
      expect(
        d.requests.some((q) => /\/assets\?.*page=3/.test(q.path)),
        'the third API page was read',
      ).to.equal(true);
    });
  });

  describe('read-only by default', () => {
    it('refuses every write with AccessDenied and sends nothing that changes the release', async () => {
      d.addRelease('v1', { 'a.txt': 'a' });
      const b = new GithubBackend({ owner: d.owner, repo: d.repo, baseUrl: d.apiUrl, token: TOKEN });
      await expectS3Error(b.putObject('v1', 'b.txt', body('b'), { userMetadata: {} }, { size: 1 }), 'AccessDenied');
      await expectS3Error(b.deleteObject('v1', 'a.txt'), 'AccessDenied');
      await expectS3Error(b.createBucket('v2.0'), 'AccessDenied');
      await expectS3Error(b.deleteBucket('v1'), 'AccessDenied');
      await expectS3Error(b.multipart.createUpload('v1', 'c', { userMetadata: {} }), 'AccessDenied');
      expect(d.requests.filter((q) => q.method !== 'GET')).to.deep.equal([]);
      expect((await getObject(b, 'v1', 'a.txt')).data.toString()).to.equal('a');
    });
  });

  describe('writes', () => {
    it('replaces an asset by uploading under a temporary name, deleting the old one and renaming', async () => {
      const r = d.addRelease('v1', { 'app.zip': 'old bytes' });
      const oldId = r.assets[0].id;
      const b = onDouble(d);
      const meta = await b.putObject(
        'v1',
        'app.zip',
        body('new bytes!'),
        { userMetadata: {}, contentType: 'application/zip' },
        { size: 10 },
      );
      const uploads = d.requests.filter((q) => q.host === 'uploads');
      expect(uploads).to.have.length(1);
      const temp = new URL(uploads[0].path, 'http://x').searchParams.get('name')!;
      expect(temp).to.match(/^_s3mux\.t\.[0-9a-f]+$/);
      expect(uploads[0].headers['content-length']).to.equal('10');
      const order = d.requests.filter((q) => q.method === 'DELETE' || q.method === 'PATCH').map((q) => q.method);
      expect(order).to.deep.equal(['DELETE', 'PATCH']);
      expect(r.assets.map((a) => a.name)).to.deep.equal(['app.zip']);
      expect(r.assets[0].id).to.not.equal(oldId);
      expect(r.assets[0].contentType).to.equal('application/zip');
      expect((await b.headObject('v1', 'app.zip')).etag).to.equal(meta.etag);
      expect((await getObject(b, 'v1', 'app.zip')).data.toString()).to.equal('new bytes!');
    });

    it('uploads a new key under its own name in one request; If-None-Match * is GitHub refusing a duplicate', async () => {
      d.addRelease('v1');
      const b = onDouble(d);
      await b.putObject('v1', 'fresh.txt', body('x'), { userMetadata: {} }, { size: 1, conditions: { ifNoneMatch: '*' } });
      expect(d.requests.filter((q) => q.host === 'uploads').map((q) => new URL(q.path, 'http://x').searchParams.get('name'))).to.deep.equal(
        ['fresh.txt'],
      );
      await expectS3Error(
        b.putObject('v1', 'fresh.txt', body('y'), { userMetadata: {} }, { size: 1, conditions: { ifNoneMatch: '*' } }),
        'PreconditionFailed',
      );
      expect((await getObject(b, 'v1', 'fresh.txt')).data.toString()).to.equal('x');
    });

    it('a body whose check fails only at its end (a bad Content-MD5) makes no asset, even once every byte has arrived', async () => {
      d.addRelease('v1');
      const b = onDouble(d);
      let pushed = false;
      const failing = new Readable({
        read() {
          if (pushed) return;
          pushed = true;
          this.push(Buffer.from('all of it'));
          // Every byte is out; the digest check answers later, as the verifying stream does at its end.
          setTimeout(() => this.destroy(new S3Error('BadDigest')), 150);
        },
      });
      await expectS3Error(b.putObject('v1', 'bad-md5.bin', failing, { userMetadata: {} }, { size: 9 }), 'BadDigest');
      await expectS3Error(b.headObject('v1', 'bad-md5.bin'), 'NoSuchKey');
    });

    it('refuses a key that differs only in case from an existing asset', async () => {
      d.addRelease('v1', { 'App.zip': 'a' });
      const b = onDouble(d);
      await expectS3Error(b.putObject('v1', 'app.zip', body('b'), { userMetadata: {} }, { size: 1 }), 'InvalidRequest');
      expect((await getObject(b, 'v1', 'App.zip')).data.toString()).to.equal('a');
    });

    it('spools a body of unknown length to a bounded temporary file, and refuses one over the limit', async () => {
      d.addRelease('v1');
      const b = onDouble(d, { maxAssetSize: 100_000 });
      const data = pattern(70_000, 3);
      await b.putObject('v1', 'unsized.bin', Readable.from([data.subarray(0, 30_000), data.subarray(30_000)]), { userMetadata: {} });
      const up = d.requests.find((q) => q.host === 'uploads')!;
      expect(up.headers['content-length']).to.equal('70000');
      expect(md5((await getObject(b, 'v1', 'unsized.bin')).data)).to.equal(md5(data));
      await expectS3Error(b.putObject('v1', 'huge.bin', body(pattern(150_000)), { userMetadata: {} }), 'EntityTooLarge');
      await expectS3Error(b.putObject('v1', 'huge.bin', body('x'), { userMetadata: {} }, { size: 100_001 }), 'EntityTooLarge');
      await expectS3Error(b.headObject('v1', 'huge.bin'), 'NoSuchKey');
    });

    it('creates the release on first write only when createRelease is set', async () => {
      await expectS3Error(onDouble(d).putObject(ALL_RELEASES, 'v9/a.txt', body('a'), { userMetadata: {} }, { size: 1 }), 'InvalidArgument');
      const b = onDouble(d, { createRelease: true });
      await b.putObject(ALL_RELEASES, 'v9/a.txt', body('a'), { userMetadata: {} }, { size: 1 });
      expect(d.releases.map((r) => r.tag)).to.deep.equal(['v9']);
      expect((await getObject(b, ALL_RELEASES, 'v9/a.txt')).data.toString()).to.equal('a');
    });
  });

  describe('releases as prefixes', () => {
    it('lists releases as prefixes in UTF-8 order, reads and writes through tag/asset keys (tags with / too)', async () => {
      d.addRelease('v1.0', { 'app.tar.gz': 'one', 'notes.txt': 'n' });
      d.addRelease('v2.0', { 'app.tar.gz': 'two' });
      d.addRelease('release/3', { 'app.tar.gz': 'three' });
      d.addRelease('empty');
      const b = onDouble(d);
      const root = await b.listObjects(ALL_RELEASES, { prefix: '', delimiter: '/', maxKeys: 1000 });
      expect(root.commonPrefixes).to.deep.equal(['release/', 'v1.0/', 'v2.0/']);
      const all = await b.listObjects(ALL_RELEASES, { prefix: '', maxKeys: 1000 });
      expect(all.objects.map((o) => o.key)).to.deep.equal(['release/3/app.tar.gz', 'v1.0/app.tar.gz', 'v1.0/notes.txt', 'v2.0/app.tar.gz']);
      const paged = await b.listObjects(ALL_RELEASES, { prefix: 'v', maxKeys: 2 });
      expect(paged.objects.map((o) => o.key)).to.deep.equal(['v1.0/app.tar.gz', 'v1.0/notes.txt']);
      expect(paged.isTruncated).to.equal(true);
      expect((await getObject(b, ALL_RELEASES, 'release/3/app.tar.gz')).data.toString()).to.equal('three');
      expect((await getObject(b, ALL_RELEASES, 'v2.0/app.tar.gz')).data.toString()).to.equal('two');
      await b.putObject(ALL_RELEASES, 'v2.0/new.txt', body('new'), { userMetadata: {} }, { size: 3 });
      expect(d.releases.find((r) => r.tag === 'v2.0')!.assets.map((a) => a.name)).to.include('new.txt');
      await b.deleteObject(ALL_RELEASES, 'v1.0/notes.txt');
      await expectS3Error(b.headObject(ALL_RELEASES, 'v1.0/notes.txt'), 'NoSuchKey');
      await expectS3Error(b.headObject(ALL_RELEASES, 'v7/app.tar.gz'), 'NoSuchKey');
      await expectS3Error(b.multipart.createUpload(ALL_RELEASES, 'v2.0/big.bin', { userMetadata: {} }), 'NotImplemented');
      expect((await b.headBucket(ALL_RELEASES)).name).to.equal(ALL_RELEASES);
      expect(
        (await b.listBuckets()).map((x) => x.name),
        'ListBuckets: only tags S3 can name',
      ).to.deep.equal(['empty', 'v1.0', 'v2.0']);
    });
  });

  describe('rate limits', () => {
    it('turns a spent quota into SlowDown with Retry-After, then sends nothing until the reset', async () => {
      d.addRelease('v1', { 'a.txt': 'a' });
      const b = onDouble(d, { readOnly: true, maxRateWaitMs: 0 });
      d.rateReset = Math.ceil(Date.now() / 1000) + 120;
      d.rateRemaining = 1;
      await b.headBucket('v1'); // the last request of the quota: answered, remaining 0
      const sent = d.requests.length;
      const err = await expectS3Error(b.headObject('v1', 'a.txt'), 'SlowDown');
      expect(err.retryAfterSeconds).to.be.within(100, 121);
      expect(d.requests.length, 'backs off: no request while the quota is spent').to.equal(sent);
    });

    it('turns a 403 rate-limit answer into SlowDown', async () => {
      d.addRelease('v1', { 'a.txt': 'a' });
      const b = onDouble(d, { readOnly: true, maxRateWaitMs: 0 });
      d.rateReset = Math.ceil(Date.now() / 1000) + 30;
      d.rateRemaining = 0;
      const err = await expectS3Error(b.headObject('v1', 'a.txt'), 'SlowDown');
      expect(err.retryAfterSeconds).to.be.within(1, 31);
    });

    it('honours a secondary limit (429 + Retry-After): SlowDown, then waits a short block out', async () => {
      d.addRelease('v1', { 'a.txt': 'a' });
      const b = onDouble(d, { readOnly: true, maxRateWaitMs: 3000 });
      d.secondaryLimit(1);
      const err = await expectS3Error(b.headObject('v1', 'a.txt'), 'SlowDown');
      expect(err.retryAfterSeconds).to.equal(1);
      const t0 = Date.now();
      expect((await b.headObject('v1', 'a.txt')).size).to.equal(1);
      expect(Date.now() - t0, 'waited for the block to end').to.be.at.least(500);
    });

    it('RateGate refuses without waiting when the reset is far', async () => {
      let now = 1_000_000;
      const gate = new RateGate(1000, () => now);
      gate.observe({ 'x-ratelimit-remaining': '0', 'x-ratelimit-reset': String(now / 1000 + 50) });
      await expectS3Error(gate.admit(), 'SlowDown');
      now += 50_000;
      await gate.admit();
    });
  });

  describe('GitHub Enterprise Server and auth', () => {
    it('uses baseUrl (…/api/v3) for every API call', async () => {
      const ghes = await withDouble({ apiPrefix: '/api/v3' });
      try {
        ghes.addRelease('v1', { 'a.txt': 'a' });
        const b = onDouble(ghes);
        expect(ghes.apiUrl).to.match(/\/api\/v3$/);
        expect((await getObject(b, 'v1', 'a.txt')).data.toString()).to.equal('a');
        await b.putObject('v1', 'b.txt', body('b'), { userMetadata: {} }, { size: 1 });
        for (const q of ghes.requests.filter((x) => x.host === 'api')) expect(q.path).to.match(/^\/api\/v3\//);
      } finally {
        await ghes.stop();
      }
    });

    it('a wrong token is AccessDenied', async () => {
      d.addRelease('v1', { 'a.txt': 'a' });
      await expectS3Error(onDouble(d, { token: 'ghp_wrong' }).headObject('v1', 'a.txt'), 'AccessDenied');
    });

    it('a GitHub App: a JWT signed with the app key, exchanged for an installation token used everywhere', async () => {
      const { privateKey, publicKey } = generateKeyPairSync('rsa', { modulusLength: 2048 });
      const app = await withDouble({
        tokens: [],
        app: { id: 4242, publicKeyPem: publicKey.export({ type: 'spki', format: 'pem' }).toString(), installationId: 77 },
      });
      try {
        app.addRelease('v1', { 'a.txt': 'a' });
        const pem = privateKey.export({ type: 'pkcs1', format: 'pem' }).toString();
        const b = new GithubBackend({
          owner: app.owner,
          repo: app.repo,
          baseUrl: app.apiUrl,
          app: { appId: 4242, privateKey: pem, installationId: 77 },
          readOnly: false,
        });
        expect((await getObject(b, 'v1', 'a.txt')).data.toString()).to.equal('a');
        await b.putObject('v1', 'b.txt', body('b'), { userMetadata: {} }, { size: 1 });
        expect(app.installationTokens).to.have.length(1);
        expect(app.appJwts[0].iss).to.satisfy((v: unknown) => String(v) === '4242');
        const token = app.installationTokens[0];
        const used = app.requests.filter((q) => q.host !== 'download' && !q.path.includes('/access_tokens'));
        expect(used.length).to.be.greaterThan(2);
        for (const q of used) expect(q.headers.authorization).to.equal(`token ${token}`);

        // the same app with another key: the JWT does not verify
        const other = generateKeyPairSync('rsa', { modulusLength: 2048 }).privateKey.export({ type: 'pkcs1', format: 'pem' }).toString();
        const wrong = new GithubBackend({
          owner: app.owner,
          repo: app.repo,
          baseUrl: app.apiUrl,
          app: { appId: 4242, privateKey: other, installationId: 77 },
        });
        await expectS3Error(wrong.headObject('v1', 'a.txt'), 'AccessDenied');
      } finally {
        await app.stop();
      }
    });
  });
});

// ------------------------------------------------------------------------------ routing tables

describe('GitHub in the routing table', () => {
  it('parses both URI forms and the settings; secrets only by reference; read-only unless said', () => {
    const table = validateRoutingTable({
      backends: {
        gh: {
          type: 'github',
          baseUrl: 'https://ghe.example.com/api/v3',
          readOnly: false,
          createRelease: true,
          credentials: { tokenEnv: 'GH_TOKEN' },
        },
        app: { type: 'github', credentials: { app: { appId: 12, installationId: 34, privateKeyFile: '/run/secrets/app.pem' } } },
      },
      default: 'gh',
      routes: {
        one: { backend: 'gh', target: 'github://octo/assets/releases/v1.0' },
        all: { backend: 'app', target: 'github://octo/other/releases' },
      },
    });
    const one = table.routes.find((r) => r.name === 'one')!;
    expect(one.bucket).to.equal('v1.0');
    expect(one.spec).to.deep.equal({
      kind: 'github',
      owner: 'octo',
      repo: 'assets',
      baseUrl: 'https://ghe.example.com/api/v3',
      readOnly: false,
      createRelease: true,
      credentials: { token: { env: 'GH_TOKEN' } },
    });
    const all = table.routes.find((r) => r.name === 'all')!;
    expect(all.bucket).to.equal(ALL_RELEASES);
    expect(all.spec).to.deep.include({ kind: 'github', owner: 'octo', repo: 'other' });
    expect((all.spec as unknown as { credentials: unknown }).credentials).to.deep.equal({
      app: { appId: 12, installationId: 34, privateKey: { file: '/run/secrets/app.pem' } },
    });
    expect(() => validateRoutingTable({ backends: { gh: { type: 'github', credentials: { token: 'ghp_literal' } } } })).to.throw(
      /literal secret/,
    );
    expect(() =>
      validateRoutingTable({
        backends: { gh: { type: 'github', credentials: { app: { appId: 1, installationId: 2, privateKey: 'x' } } } },
      }),
    ).to.throw(/literal secret/);
    expect(() =>
      validateRoutingTable({
        backends: { gh: { type: 'github', credentials: { tokenEnv: 'T', app: { appId: 1, installationId: 2, privateKeyEnv: 'K' } } } },
      }),
    ).to.throw(/one kind of credentials/);
    expect(() => validateRoutingTable({ routes: { x: 'github://octo/assets/tags/v1' } })).to.throw(/github:\/\/owner\/repo\/releases/);
  });

  it('a route serves the release through the backend made from the table, read-only by default', async () => {
    const d = await withDouble();
    try {
      d.addRelease('v1.0', { 'a.txt': 'a' });
      const table = validateRoutingTable({
        backends: { gh: { type: 'github', baseUrl: d.apiUrl, credentials: { tokenEnv: 'GH_TEST_TOKEN' } } },
        routes: { rel: { backend: 'gh', target: `github://${d.owner}/${d.repo}/releases/v1.0` } },
      });
      const router = Router.fromTable(table, { env: { GH_TEST_TOKEN: TOKEN } });
      const route = router.resolve('rel');
      expect(route.backend.kind).to.equal('github');
      expect((await getObject(route.backend, route.bucket, 'a.txt')).data.toString()).to.equal('a');
      await expectS3Error(route.backend.putObject(route.bucket, 'b.txt', body('b'), { userMetadata: {} }, { size: 1 }), 'AccessDenied');
      await router.close();
    } finally {
      await d.stop();
    }
  });
});

// ------------------------------------------------------------------------------ a real S3 client

describe('s3mux → GitHub release assets (double) with @aws-sdk/client-s3', function () {
  this.timeout(120_000);
  let d: GithubDouble;
  let srv: TestServer;

  before(async () => {
    d = await withDouble();
    d.addRelease('v1.0', { 'existing.tar.gz': 'released bytes' });
    d.addRelease('v2.0', { 'app.zip': 'two' });
    const table = validateRoutingTable({
      backends: { gh: { type: 'github', baseUrl: d.apiUrl, readOnly: false, credentials: { tokenEnv: 'GH_TEST_TOKEN' } } },
      routes: {
        rel: { backend: 'gh', target: `github://${d.owner}/${d.repo}/releases/v1.0` },
        all: { backend: 'gh', target: `github://${d.owner}/${d.repo}/releases` },
      },
    });
    srv = await startTestServer({ router: Router.fromTable(table, { env: { GH_TEST_TOKEN: TOKEN } }) });
  });

  after(async () => {
    await srv?.stop();
    await d?.stop();
  });

  const text = async (r: { Body?: { transformToString(): Promise<string> } }) => r.Body!.transformToString();

  it('reads, range-reads, writes, replaces, lists and deletes; refuses metadata with NotImplemented', async () => {
    expect(await text(await srv.s3.send(new GetObjectCommand({ Bucket: 'rel', Key: 'existing.tar.gz' })))).to.equal('released bytes');
    expect(await text(await srv.s3.send(new GetObjectCommand({ Bucket: 'rel', Key: 'existing.tar.gz', Range: 'bytes=9-13' })))).to.equal(
      'bytes',
    );
    const put = await srv.s3.send(new PutObjectCommand({ Bucket: 'rel', Key: 'dir/new.txt', Body: 'new', ContentType: 'text/plain' }));
    const head = await srv.s3.send(new HeadObjectCommand({ Bucket: 'rel', Key: 'dir/new.txt' }));
    expect(head.ETag).to.equal(put.ETag);
    expect(head.ETag).to.match(/^"[0-9a-f]{32}-1"$/);
    expect(head.ContentType).to.equal('text/plain');
    const again = await srv.s3.send(new PutObjectCommand({ Bucket: 'rel', Key: 'dir/new.txt', Body: 'newer' }));
    expect(again.ETag).to.not.equal(put.ETag);
    const list = await srv.s3.send(new ListObjectsV2Command({ Bucket: 'rel', Delimiter: '/' }));
    expect(list.Contents?.map((o) => o.Key)).to.deep.equal(['existing.tar.gz']);
    expect(list.CommonPrefixes?.map((p) => p.Prefix)).to.deep.equal(['dir/']);
    const err = await srv.s3.send(new PutObjectCommand({ Bucket: 'rel', Key: 'meta.txt', Body: 'x', Metadata: { a: 'b' } })).then(
      () => undefined,
      (e: Error & { $metadata?: { httpStatusCode?: number } }) => e,
    );
    expect(err?.name).to.equal('NotImplemented');
    expect(err?.$metadata?.httpStatusCode).to.equal(501);
    await srv.s3.send(new DeleteObjectCommand({ Bucket: 'rel', Key: 'dir/new.txt' }));
    const after = await srv.s3.send(new ListObjectsV2Command({ Bucket: 'rel' }));
    expect(after.Contents?.map((o) => o.Key)).to.deep.equal(['existing.tar.gz']);
  });

  it('uploads 12 MiB with @aws-sdk/lib-storage (parts staged as hidden assets) and reads it back', async () => {
    const data = randomBytes(12 * MiB);
    const up = new Upload({
      client: srv.s3,
      params: { Bucket: 'rel', Key: 'big.bin', Body: Readable.from([data]) },
      partSize: 5 * MiB,
      queueSize: 2,
    });
    const r = await up.done();
    const whole = Buffer.from(
      await (await srv.s3.send(new GetObjectCommand({ Bucket: 'rel', Key: 'big.bin' }))).Body!.transformToByteArray(),
    );
    expect(md5(whole)).to.equal(md5(data));
    expect((await srv.s3.send(new HeadObjectCommand({ Bucket: 'rel', Key: 'big.bin' }))).ETag).to.equal(r.ETag);
    const names = d.releases.find((x) => x.tag === 'v1.0')!.assets.map((a) => a.name);
    expect(
      names.filter((n) => n.startsWith('_s3mux.')),
      'no staged part left',
    ).to.deep.equal([]);
  });

  it('lists every release as a prefix', async () => {
    const list = await srv.s3.send(new ListObjectsV2Command({ Bucket: 'all', Delimiter: '/' }));
    expect(list.CommonPrefixes?.map((p) => p.Prefix)).to.deep.equal(['v1.0/', 'v2.0/']);
    expect(await text(await srv.s3.send(new GetObjectCommand({ Bucket: 'all', Key: 'v2.0/app.zip' })))).to.equal('two');
  });
});
