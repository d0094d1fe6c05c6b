/**
 * The ReservedStore suite (reserved-conformance.ts) on every adapter that has one, against the
 * same real local stores as the backend conformance suite; and the fs store across processes.
 */
import { expect } from 'chai';
import { spawn } from 'node:child_process';
import { promises as fsp } from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { FsBackend } from '../../src/backends/fs/index';
import { FILE_LOCK_STALE_MS } from '../../src/backends/fs/file-lock';
import { sha256Hex } from '../../src/auth/digests';
import { MemoryBackend } from '../../src/backends/memory/index';
import { AzureBackend } from '../../src/backends/azure/index';
import { FIREBASE_EMULATOR_GAPS, GcsBackend } from '../../src/backends/gcs/index';
import { OciBackend } from '../../src/backends/oci/index';
import { S3Backend } from '../../src/backends/s3/index';
import { ALL_RELEASES, GithubBackend } from '../../src/backends/github/index';
import { GithubDouble } from '../helpers/github-double';
import { BucketView } from '../../src/router/bucket-view';
import { bucketConfig } from '../../src/bucket-config/store';
import { expectS3Error } from './conformance';
import { startAzurite } from '../helpers/azurite';
import { startGcsDouble } from '../helpers/gcs-double';
import { startGcsEmulator } from '../helpers/gcs-emulator';
import { startOciDouble, testApiKey } from '../helpers/oci-double';
import { startS3rver, S3RVER_ACCESS_KEY, S3RVER_SECRET_KEY } from '../helpers/s3rver';
import { ACCESS_KEY, SECRET_KEY, startTestServer } from '../helpers/server';
import { readReservedBody } from '../../src/backends/reserved-store';
import { tempFiles } from '../helpers/fs-temps';
import { waitForExit } from '../helpers/processes';
import { describeReservedConformance } from './reserved-conformance';

async function tmpParent(): Promise<string> {
  return fsp.mkdtemp(path.join(os.tmpdir(), 's3mux-reserved-test-'));
}

describeReservedConformance('memory', async () => ({ backend: new MemoryBackend({ name: 'reserved' }), cleanup: async () => {} }));

describeReservedConformance('fs', async () => {
  const parent = await tmpParent();
  return { backend: new FsBackend({ root: path.join(parent, 'data') }), cleanup: () => fsp.rm(parent, { recursive: true, force: true }) };
});

describeReservedConformance(
  's3 on s3mux (fs)',
  async () => {
    const server = await startTestServer();
    const backend = new S3Backend({
      name: 's3mux',
      stateInStore: true,
      endpoint: server.url,
      region: 'us-east-1',
      forcePathStyle: true,
      credentials: { accessKeyId: ACCESS_KEY, secretAccessKey: SECRET_KEY },
    });
    return { backend, cleanup: () => server.stop() };
  },
  { lacks: { etagPerWrite: true, clientKeysInArea: true } },
);

describeReservedConformance(
  's3 on s3rver',
  async () => {
    const s3rver = await startS3rver();
    const backend = new S3Backend({
      name: 's3rver',
      stateInStore: true,
      endpoint: s3rver.endpoint,
      region: 'us-east-1',
      forcePathStyle: true,
      credentials: { accessKeyId: S3RVER_ACCESS_KEY, secretAccessKey: S3RVER_SECRET_KEY },
      // s3rver ignores If-Match / If-None-Match: checked first, under this process's lock
      conditionalWrites: 'check',
    });
    return { backend, cleanup: () => s3rver.stop() };
  },
  { lacks: { etagPerWrite: true, clientKeysInArea: true, nestedNames: true, sortedPaging: true } },
);

describeReservedConformance('azure (Azurite)', async () => {
  const a = await startAzurite();
  return {
    backend: new AzureBackend({ account: a.account, endpoint: a.endpoint, accountKey: a.accountKey, blockSize: 1024 * 1024 }),
    cleanup: () => a.stop(),
  };
});

describeReservedConformance(
  'gcs (firebase emulator)',
  async () => {
    const e = await startGcsEmulator();
    return {
      backend: new GcsBackend({ endpoint: e.endpoint, projectId: e.projectId, anonymous: true, ...FIREBASE_EMULATOR_GAPS }),
      cleanup: () => e.stop(),
    };
  },
  // the emulator ignores ifGenerationMatch
  { lacks: { bucketAdmin: true, conditions: true } },
);

describeReservedConformance('gcs (GCS JSON API double)', async () => {
  const d = await startGcsDouble({ maxObjectBytes: 96 * 1024 * 1024 });
  return { backend: new GcsBackend({ endpoint: d.endpoint, projectId: d.projectId, anonymous: true }), cleanup: () => d.stop() };
});

describeReservedConformance('oci (OCI REST API double)', async () => {
  const key = testApiKey();
  const d = await startOciDouble({ maxObjectBytes: 96 * 1024 * 1024 });
  d.addKey(key.keyId, key.publicKeyPem);
  const { SimpleAuthenticationDetailsProvider } = require('oci-common') as typeof import('oci-common');
  const backend = new OciBackend({
    endpoint: d.endpoint,
    region: 'us-ashburn-1',
    provider: new SimpleAuthenticationDetailsProvider(key.tenancy, key.user, key.fingerprint, key.privateKeyPem, null),
    copyPollMs: 5,
    backoffMs: 5,
    bufferSize: 1024 * 1024,
  });
  return { backend, cleanup: () => d.stop() };
});

describeReservedConformance(
  'github (GitHub REST API double: Contents API on a state branch, release assets)',
  async () => {
    const d = new GithubDouble({ tokens: ['t'] });
    await d.start();
    return {
      backend: new GithubBackend({ owner: d.owner, repo: d.repo, token: 't', baseUrl: d.apiUrl, readOnly: false }),
      cleanup: () => d.stop(),
    };
  },
  { largeBytes: 2 * 1024 * 1024 + 7 },
);

describe('github reserved store: the state branch, across instances', function () {
  this.timeout(60_000);
  let d: GithubDouble;
  const backends: GithubBackend[] = [];
  const make = (opts: { readOnly?: boolean; stateBranch?: string } = {}) => {
    const b = new GithubBackend({
      owner: d.owner,
      repo: d.repo,
      token: 't',
      baseUrl: d.apiUrl,
      readOnly: opts.readOnly ?? false,
      stateBranch: opts.stateBranch,
    });
    backends.push(b);
    return b;
  };

  beforeEach(async () => {
    d = new GithubDouble({ tokens: ['t'] });
    await d.start();
  });
  afterEach(async () => {
    backends.splice(0);
    await d.stop();
  });

  it('makes the state branch from the default branch on first write, and keeps small documents in its files', async () => {
    const b = make({ stateBranch: 'ops/s3mux' });
    const rel = d.addRelease('v1');
    expect(await b.reserved.get('v1', 'config/acl')).to.equal(undefined);
    expect(d.git.branches.has('ops/s3mux'), 'no branch made by a read').to.equal(false);
    const e = await b.reserved.put('v1', 'config/acl', Buffer.from('{}'));
    expect(d.git.branches.has('ops/s3mux')).to.equal(true);
    const files = d.git.filesOf('ops/s3mux')!;
    expect(files.has('README.md'), 'started from main').to.equal(true);
    expect(files.get(`.s3mux/${rel.id}/config/acl@`)).to.equal(e.etag);
    expect(rel.assets).to.deep.equal([]);
    // A large one is a release asset the file names, gone with the document.
    await b.reserved.put('v1', 'big', Buffer.alloc(200 * 1024, 7));
    expect(rel.assets.map((a) => a.name)).to.have.length(1);
    expect(rel.assets[0].name).to.match(/^_s3mux\.r\.[0-9a-f]{24}$/);
    await b.reserved.put('v1', 'big', Buffer.alloc(300 * 1024, 8));
    expect(rel.assets.map((a) => a.data.length)).to.deep.equal([300 * 1024]);
    await b.reserved.delete('v1', 'big');
    expect(rel.assets).to.deep.equal([]);
    // Clients never see the documents or their assets.
    expect((await b.listObjects('v1', { prefix: '', maxKeys: 1000 })).objects).to.deep.equal([]);
  });

  it('two backends racing on one document from one etag: one wins, the other gets PreconditionFailed', async () => {
    const [a, b] = [make(), make()];
    d.addRelease('v1');
    const start = await a.reserved.put('v1', 'doc', Buffer.from('0'));
    for (let round = 0; round < 5; round++) {
      const cur = (await a.reserved.list('v1', 'doc'))[0].etag;
      const results = await Promise.allSettled([
        a.reserved.put('v1', 'doc', Buffer.from(`a${round}`), { ifMatch: cur }),
        b.reserved.put('v1', 'doc', Buffer.from(`b${round}`), { ifMatch: cur }),
      ]);
      const won = results.filter((r) => r.status === 'fulfilled');
      expect(won.length, `round ${round}`).to.equal(1);
      const lost = results.find((r) => r.status === 'rejected') as PromiseRejectedResult;
      expect((lost.reason as { code?: string }).code).to.equal('PreconditionFailed');
    }
    expect(start.etag).to.not.equal((await b.reserved.list('v1', 'doc'))[0].etag);
    // Two instances writing different documents at once overlap on the branch; both land.
    await Promise.all([a.reserved.put('v1', 'x', Buffer.from('x')), b.reserved.put('v1', 'y', Buffer.from('y'))]);
    expect((await a.reserved.list('v1', '')).map((e) => e.name)).to.deep.equal(['doc', 'x', 'y']);
    expect(d.git.overlapConflicts, 'the double made writes conflict').to.be.greaterThan(0);
  });

  it('counts exactly with two backends incrementing by compare-and-swap', async () => {
    const [a, b] = [make(), make()];
    d.addRelease('v1');
    await a.reserved.put('v1', 'counter', Buffer.from('0'));
    const increment = async (r: GithubBackend): Promise<void> => {
      for (let attempt = 0; attempt < 50; attempt++) {
        const doc = (await r.reserved.get('v1', 'counter'))!;
        const n = Number((await readReservedBody(doc)).toString());
        try {
          await r.reserved.put('v1', 'counter', Buffer.from(String(n + 1)), { ifMatch: doc.entry.etag });
          return;
        } catch (err) {
          if ((err as { code?: string }).code !== 'PreconditionFailed') throw err;
        }
      }
      throw new Error('no progress');
    };
    await Promise.all(
      [a, b].map(async (r) => {
        for (let i = 0; i < 6; i++) await increment(r);
      }),
    );
    expect((await readReservedBody((await a.reserved.get('v1', 'counter'))!)).toString()).to.equal('12');
  });

  it('refuses writes on a read-only backend, and has no area on a route onto every release', async () => {
    d.addRelease('v1');
    const ro = make({ readOnly: true });
    await expectS3Error(ro.reserved.put('v1', 'x', Buffer.from('x')), 'AccessDenied');
    await expectS3Error(ro.reserved.delete('v1', 'x'), 'AccessDenied');
    expect(await ro.reserved.get('v1', 'x')).to.equal(undefined);
    const rw = make();
    expect(await rw.reserved.get(ALL_RELEASES, 'x')).to.equal(undefined);
    expect(await rw.reserved.list(ALL_RELEASES, '')).to.deep.equal([]);
    await expectS3Error(rw.reserved.put(ALL_RELEASES, 'x', Buffer.from('x')), 'NotImplemented');
    await expectS3Error(rw.reserved.delete(ALL_RELEASES, 'x'), 'NotImplemented');
    const view = new BucketView({
      name: 'all',
      backend: rw,
      backendName: 'gh',
      bucket: ALL_RELEASES,
      prefix: '',
      readOnly: false,
      publicRead: false,
      explicit: true,
    });
    expect(await bucketConfig.get(view, 'cors')).to.equal(undefined);
    await expectS3Error(bucketConfig.set(view, 'cors', { rules: [] }), 'NotImplemented');
  });
});

describe('bucket configuration through BucketView on the fs reserved store', () => {
  it('keeps one document per route prefix, and loses it with the bucket', async () => {
    const parent = await tmpParent();
    const backend = new FsBackend({ root: path.join(parent, 'data') });
    try {
      await backend.createBucket('real');
      const route = (name: string, prefix: string) =>
        new BucketView({ name, backend, backendName: 'local', bucket: 'real', prefix, readOnly: false, publicRead: false, explicit: true });
      const a = route('a', 'one/');
      const b = route('b', 'two/');
      bucketConfig.clear();
      await bucketConfig.set(a, 'cors', { rules: ['a'] });
      expect(await bucketConfig.get(b, 'cors')).to.equal(undefined);
      expect(await bucketConfig.update<{ n: number }>(b, 'counter', (c) => ({ n: (c?.n ?? 0) + 1 }))).to.deep.equal({ n: 1 });
      bucketConfig.clear();
      expect(await bucketConfig.get(a, 'cors')).to.deep.equal({ rules: ['a'] });
      expect(await bucketConfig.get(b, 'counter')).to.deep.equal({ n: 1 });
      await backend.deleteBucket('real');
      await backend.createBucket('real');
      bucketConfig.clear();
      expect(await bucketConfig.get(a, 'cors')).to.equal(undefined);
    } finally {
      bucketConfig.clear();
      await backend.close();
      await fsp.rm(parent, { recursive: true, force: true });
    }
  });
});

describe('fs reserved store: files, locks, processes', function () {
  this.timeout(120_000);
  let parent: string;
  let root: string;
  let b: FsBackend;

  beforeEach(async () => {
    parent = await tmpParent();
    root = path.join(parent, 'data');
    b = new FsBackend({ root });
    await b.createBucket('bkt');
  });

  afterEach(async () => {
    await b.close();
    await fsp.rm(parent, { recursive: true, force: true });
  });

  const lockFile = (name: string) => path.join(root, '.s3mux', 'reserved-locks', sha256Hex(`bkt\0${name}`));

  it('keeps documents under .s3mux/reserved/<bucket>, leaves no temp or lock files, survives a restart', async () => {
    const e = await b.reserved.put('bkt', 'config/acl', Buffer.from('{}'));
    await b.reserved.put('bkt', 'config', Buffer.from('both a document and a folder'));
    const file = path.join(root, '.s3mux', 'reserved', 'bkt', 'config', 'acl@');
    const raw = await fsp.readFile(file);
    expect(raw.subarray(64).toString()).to.equal('{}');
    expect(raw.subarray(0, 64).toString('latin1')).to.contain(e.etag);
    expect(tempFiles(root)).to.deep.equal([]);
    expect(await fsp.readdir(path.join(root, '.s3mux', 'reserved-locks'))).to.deep.equal([]);
    await b.close();
    b = new FsBackend({ root });
    const doc = (await b.reserved.get('bkt', 'config/acl'))!;
    expect(doc.entry.etag).to.equal(e.etag);
    expect((await readReservedBody(doc)).toString()).to.equal('{}');
    // Deleting the last document of a folder removes the folder.
    await b.reserved.delete('bkt', 'config/acl');
    await expectMissing(path.join(root, '.s3mux', 'reserved', 'bkt', 'config'));
    expect((await b.reserved.list('bkt', '')).map((x) => x.name)).to.deep.equal(['config']);
  });

  it('a re-created bucket starts without the documents a folder removed by hand left', async () => {
    await b.reserved.put('bkt', 'config/acl', Buffer.from('{}'));
    await fsp.rm(path.join(root, 'bkt'), { recursive: true });
    await b.createBucket('bkt');
    expect(await b.reserved.list('bkt', '')).to.deep.equal([]);
  });

  it("breaks a dead holder's lock at once, an old one of another host after the stale age, waits for a live one", async () => {
    await b.reserved.put('bkt', 'doc', Buffer.from('0'));
    // A holder on this host that is gone.
    const child = spawn(process.execPath, ['-e', '0']);
    const deadPid = child.pid!;
    await waitForExit(child, 10_000);
    await fsp.writeFile(lockFile('doc'), JSON.stringify({ host: os.hostname(), pid: deadPid, nonce: 'x' }));
    const t0 = Date.now();
    await b.reserved.put('bkt', 'doc', Buffer.from('1'));
    expect(Date.now() - t0).to.be.below(5000);
    // A holder on another host, silent for longer than the stale age.
    await fsp.writeFile(lockFile('doc'), JSON.stringify({ host: 'elsewhere', pid: 1, nonce: 'y' }));
    const old = new Date(Date.now() - FILE_LOCK_STALE_MS - 5000);
    await fsp.utimes(lockFile('doc'), old, old);
    await b.reserved.put('bkt', 'doc', Buffer.from('2'));
    // A live holder (another host, fresh): the write waits until it lets go.
    await fsp.writeFile(lockFile('doc'), JSON.stringify({ host: 'elsewhere', pid: 1, nonce: 'z' }));
    let settled = false;
    const p = b.reserved.put('bkt', 'doc', Buffer.from('3')).finally(() => (settled = true));
    await new Promise((r) => setTimeout(r, 300));
    expect(settled, 'waits for the holder').to.equal(false);
    await fsp.rm(lockFile('doc'));
    await p;
    expect((await readReservedBody((await b.reserved.get('bkt', 'doc'))!)).toString()).to.equal('3');
    expect(await fsp.readdir(path.join(root, '.s3mux', 'reserved-locks'))).to.deep.equal([]);
  });

  it('two processes incrementing one counter by compare-and-swap end at exactly 2N', async () => {
    const N = 60;
    await b.reserved.put('bkt', 'counter', Buffer.from('0'));
    const script = path.join(__dirname, '..', 'helpers', 'reserved-counter-main.js');
    const run = () => {
      const c = spawn(process.execPath, [script, root, 'bkt', 'counter', String(N)], { stdio: ['ignore', 'pipe', 'inherit'] });
      let out = '';
      c.stdout.on('data', (d: Buffer) => (out += d.toString()));
      return { child: c, output: () => out };
    };
    const children = [run(), run()];
    for (const c of children) expect(await waitForExit(c.child, 100_000), 'child exits').to.equal(true);
    for (const c of children) {
      expect(c.output()).to.match(/^DONE \d+\n$/);
      expect(c.child.exitCode).to.equal(0);
    }
    const doc = (await b.reserved.get('bkt', 'counter'))!;
    expect((await readReservedBody(doc)).toString()).to.equal(String(2 * N));
    const retries = children.reduce((n, c) => n + Number(/DONE (\d+)/.exec(c.output())![1]), 0);
    // Not asserted (scheduling decides), but shows the two really contended.
    console.log(`      (${retries} compare-and-swap retries)`);
  });
});

async function expectMissing(p: string): Promise<void> {
  const st = await fsp.lstat(p).catch(() => undefined);
  expect(st, p).to.equal(undefined);
}
