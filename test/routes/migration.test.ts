/**
 * Migration routes through the S3 API (AWS SDK v3) on real stores: fs, Azurite, a second
 * s3mux behind a proxy that drops connections, the firebase Cloud Storage emulator, and s3mux
 * itself as a child process killed with SIGKILL mid-copy.
 */
import { expect } from 'chai';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import {
  CompleteMultipartUploadCommand,
  CreateBucketCommand,
  CreateMultipartUploadCommand,
  DeleteObjectCommand,
  GetObjectCommand,
  HeadObjectCommand,
  ListObjectsV2Command,
  type ListObjectsV2CommandOutput,
  PutObjectCommand,
  PutObjectTaggingCommand,
  GetObjectTaggingCommand,
  S3Client,
  UploadPartCommand,
} from '@aws-sdk/client-s3';
import { validateRoutingTable } from '../../src/router/config';
import { Router } from '../../src/router/router';
import { MigrationBackend } from '../../src/router/forms/migrate';
import { MigrationCopier } from '../../src/router/forms/migration-copier';
import { verifyMigration } from '../../src/router/forms/migration-verify';
import { readCheckpoint, type MigrationCheckpoint } from '../../src/router/forms/migration-state';
import { startTestServer, type TestServer } from '../helpers/server';
import { startChildServer, type ChildServer } from '../helpers/child-server';
import { startAzurite, type Azurite } from '../helpers/azurite';
import { startFlakyProxy, type FlakyProxy } from '../helpers/flaky-proxy';
import { startGcsEmulator, type GcsEmulator } from '../helpers/gcs-emulator';
import { body, expectServedEquals, expectStoreEquals, readAll, seed, sleep, traffic, until, type Model } from './harness';
import { areaDocuments, expectState, putVersion, readVersion, setState, versionIds } from './state';

function migrationOf(router: Router, name: string): MigrationBackend {
  const form = router.explicitRoutes().find((r) => r.name === name)?.form;
  if (!(form instanceof MigrationBackend)) throw new Error(`${name} is not a migrate route`);
  return form;
}

/** The copy ended without errors, the destination holds exactly the model, and a deep verify finds no difference. */
async function expectMigrated(route: MigrationBackend, cp: MigrationCheckpoint | undefined, bucket: string, model: Model): Promise<void> {
  expect(cp?.state).to.equal('done');
  expect(cp?.errors, cp?.lastErrors.join('\n')).to.equal(0);
  await expectStoreEquals(route.to.backend, bucket, '', model, 'destination');
  const report = await verifyMigration(route, { deep: true });
  expect(report.differences).to.deep.equal([]);
  expect(report.ok).to.equal(true);
}

/** A second s3mux (test credentials) as an s3 backend of a routing table. */
function s3muxStore(endpoint: string) {
  process.env.MIGRATE_TEST_S3_KEY = 'testaccesskey';
  process.env.MIGRATE_TEST_S3_SECRET = 'testsecretkey/with+chars';
  return {
    type: 's3',
    endpoint,
    region: 'us-east-1',
    forcePathStyle: true,
    credentials: { accessKeyIdEnv: 'MIGRATE_TEST_S3_KEY', secretAccessKeyEnv: 'MIGRATE_TEST_S3_SECRET' },
  };
}

describe('migration route: reads, writes, deletes and listings across both locations (fs -> fs)', function () {
  this.timeout(60_000);
  let dir: string;
  let server: TestServer;
  let route: MigrationBackend;
  let seeded: Model;

  before(async () => {
    dir = mkdtempSync(path.join(os.tmpdir(), 's3mux-migrate-'));
    const table = validateRoutingTable(
      {
        routes: {
          data: { migrate: { from: { target: `file://${dir}/old/bkt`, prefix: 'pre/' }, to: `file://${dir}/new/dst`, copy: false } },
        },
      },
      { defaultDataDir: path.join(dir, 'default') },
    );
    const router = Router.fromTable(table);
    route = migrationOf(router, 'data');
    seeded = await seed(route.from.backend, 'bkt', 'pre/', 12, (i) => 100 + i * 50);
    await route.to.backend.createBucket('dst');
    server = await startTestServer({ router });
  });
  after(async () => {
    await server?.stop();
    rmSync(dir, { recursive: true, force: true });
  });

  it('GET and HEAD fall back to from (ranges and conditions too); writes land on to', async () => {
    const k = 'obj/003';
    const whole = seeded.get(k)!;
    const got = await server.s3.send(new GetObjectCommand({ Bucket: 'data', Key: k, Range: 'bytes=10-29' }));
    expect(Buffer.from(await got.Body!.transformToByteArray())).to.deep.equal(whole.subarray(10, 30));
    const head = await server.s3.send(new HeadObjectCommand({ Bucket: 'data', Key: k }));
    expect(head.Metadata).to.deep.equal({ seq: '3' });
    const notModified = await server.s3.send(new GetObjectCommand({ Bucket: 'data', Key: k, IfNoneMatch: head.ETag })).then(
      () => 200,
      (e: { $metadata?: { httpStatusCode?: number } }) => e.$metadata?.httpStatusCode,
    );
    expect(notModified).to.equal(304);

    // A create-only write is judged against the object still in from.
    const refused = await server.s3.send(new PutObjectCommand({ Bucket: 'data', Key: k, Body: 'x', IfNoneMatch: '*' })).then(
      () => 200,
      (e: { $metadata?: { httpStatusCode?: number } }) => e.$metadata?.httpStatusCode,
    );
    expect(refused).to.equal(412);

    await server.s3.send(new PutObjectCommand({ Bucket: 'data', Key: 'new/one', Body: 'fresh' }));
    expect((await readAll(route.to.backend, 'dst', 'new/one'))?.toString()).to.equal('fresh');
    expect(await readAll(route.from.backend, 'bkt', 'pre/new/one')).to.equal(null);
  });

  it('tags on a key still in from: the object is copied to to first, then tagged', async () => {
    await server.s3.send(new PutObjectTaggingCommand({ Bucket: 'data', Key: 'obj/004', Tagging: { TagSet: [{ Key: 't', Value: '1' }] } }));
    expect(await readAll(route.to.backend, 'dst', 'obj/004')).to.deep.equal(seeded.get('obj/004'));
    const tags = await server.s3.send(new GetObjectTaggingCommand({ Bucket: 'data', Key: 'obj/004' }));
    expect(tags.TagSet).to.deep.equal([{ Key: 't', Value: '1' }]);
  });

  it('a delete removes both copies, leaves a tombstone, and the key never reappears', async () => {
    await server.s3.send(new DeleteObjectCommand({ Bucket: 'data', Key: 'obj/005' }));
    expect(await readAll(route.from.backend, 'bkt', 'pre/obj/005')).to.equal(null);
    expect(await route.tombstones.has('obj/005')).to.equal(true);
    // The old location gets the key back behind s3mux's back: the tombstone still hides it.
    await seed(route.from.backend, 'bkt', 'pre/', 6, () => 10);
    const status = await server.s3.send(new HeadObjectCommand({ Bucket: 'data', Key: 'obj/005' })).then(
      () => 200,
      (e: { $metadata?: { httpStatusCode?: number } }) => e.$metadata?.httpStatusCode,
    );
    expect(status).to.equal(404);
    const listed = await server.s3.send(new ListObjectsV2Command({ Bucket: 'data', Prefix: 'obj/' }));
    expect(listed.Contents?.map((c) => c.Key)).not.to.include('obj/005');
    // Put the seeded bodies back for the listing test.
    for (let i = 0; i < 6; i++) {
      const k = `obj/00${i}`;
      if (k === 'obj/005') continue;
      seeded.set(k, await readAll(route.from.backend, 'bkt', `pre/${k}`));
    }
  });

  it('lists both merged in key order, to winning, page by page and with a delimiter', async () => {
    for (const k of ['obj/0035', 'obj/010', 'a/x', 'z/y']) await server.s3.send(new PutObjectCommand({ Bucket: 'data', Key: k, Body: k }));
    const expected = [...new Set([...seeded.keys(), 'obj/0035', 'obj/010', 'a/x', 'z/y', 'new/one'])].filter((k) => k !== 'obj/005').sort();
    const keys: string[] = [];
    let token: string | undefined;
    do {
      const page: ListObjectsV2CommandOutput = await server.s3.send(
        new ListObjectsV2Command({ Bucket: 'data', MaxKeys: 3, ContinuationToken: token }),
      );
      expect(page.Contents?.length ?? 0).to.be.at.most(3);
      keys.push(...(page.Contents ?? []).map((c) => c.Key!));
      token = page.NextContinuationToken;
    } while (token);
    expect(keys).to.deep.equal(expected);
    const sizes = await server.s3.send(new ListObjectsV2Command({ Bucket: 'data', Prefix: 'obj/010' }));
    expect(sizes.Contents?.[0].Size).to.equal(7); // to's object, not from's

    const grouped: string[] = [];
    token = undefined;
    do {
      const page: ListObjectsV2CommandOutput = await server.s3.send(
        new ListObjectsV2Command({ Bucket: 'data', Delimiter: '/', MaxKeys: 1, ContinuationToken: token }),
      );
      grouped.push(...(page.CommonPrefixes ?? []).map((c) => c.Prefix!), ...(page.Contents ?? []).map((c) => c.Key!));
      token = page.NextContinuationToken;
    } while (token);
    expect(grouped).to.deep.equal(['a/', 'new/', 'obj/', 'z/']);
  });
});

describe('migration copier under concurrent client writes, deletes and overwrites (fs -> fs)', function () {
  this.timeout(120_000);
  let dir: string;
  let server: TestServer;
  let router: Router;

  before(async () => {
    dir = mkdtempSync(path.join(os.tmpdir(), 's3mux-migrate-'));
    const table = validateRoutingTable(
      { routes: { data: { migrate: { from: `file://${dir}/old/src`, to: `file://${dir}/new/dst`, copy: false } } } },
      { defaultDataDir: path.join(dir, 'default') },
    );
    router = Router.fromTable(table);
    server = await startTestServer({ router });
  });
  after(async () => {
    await server?.stop();
    rmSync(dir, { recursive: true, force: true });
  });

  it('ends with the destination equal to what the clients last wrote; verify passes and reports the overwrites', async () => {
    const route = migrationOf(router, 'data');
    const model = await seed(route.from.backend, 'src', '', 60, (i) => 2048 + ((i * 997) % 20000));
    await route.to.backend.createBucket('dst');
    const copier = new MigrationCopier(route, { concurrency: 3, rate: 256 * 1024, checkpointMs: 200 });
    const copying = copier.run();
    const keys = [...model.keys()];
    const mine = (n: number) => keys.filter((_, i) => i % 3 === n).concat([`new/${n}a`, `new/${n}b`]);
    await Promise.all([0, 1, 2].map((n) => traffic(server.s3, 'data', model, { keys: mine(n), ops: 25, pauseMs: 40 })));
    await expectMigrated(route, await copying, 'dst', model);
    await expectServedEquals(server.s3, 'data', model, 'through s3mux');
    const stored = await readCheckpoint(route.stateArea!);
    expect(stored?.checkpoint.keysCopied).to.be.greaterThan(0);
  });
});

describe('migration fs -> Azurite with s3mux killed (SIGKILL) mid-copy, resumed, then switched to Azure alone by a reload', function () {
  this.timeout(180_000);
  let dir: string;
  let azurite: Azurite;
  let child: ChildServer | undefined;
  let local: Router;
  const env = process.env;

  before(async () => {
    dir = mkdtempSync(path.join(os.tmpdir(), 's3mux-migrate-az-'));
    azurite = await startAzurite();
    env.MIGRATE_TEST_AZ_KEY = azurite.accountKey;
  });
  after(async () => {
    await child?.stop('SIGKILL');
    await local?.close();
    await azurite?.stop();
    rmSync(dir, { recursive: true, force: true });
  });

  const table = (migrating: boolean) => ({
    backends: {
      blob: { type: 'azure', account: azurite.account, endpoint: azurite.endpoint, credentials: { accountKeyEnv: 'MIGRATE_TEST_AZ_KEY' } },
    },
    default: 'blob',
    routes: {
      datasets: migrating
        ? {
            migrate: {
              from: `file://${dir}/old/datasets`,
              to: { backend: 'blob', target: 'az://datasets/' },
              concurrency: 2,
              rate: '200KiB',
            },
          }
        : { backend: 'blob', target: 'az://datasets/' },
    },
  });

  it('copies everything once, never over a client write, and serves from Azure after the reload', async () => {
    const config = path.join(dir, 'table.json');
    writeFileSync(config, JSON.stringify(table(true)));
    local = Router.fromTable(validateRoutingTable(table(true), { baseDir: dir }), { forms: { drainIntervalMs: 0 } });
    const route = migrationOf(local, 'datasets');
    const model = await seed(route.from.backend, 'datasets', '', 50, (i) => 4096 + ((i * 7919) % 30000));
    await route.to.backend.createBucket('datasets');

    const start = () => startChildServer(path.join(dir, 'data'), ['--config', config]);
    child = await start();
    let gate: Promise<void> = Promise.resolve();
    const keys = [...model.keys()];
    // A client is busy from passing the gate until it comes back to it (or ends): the kill waits for none to be.
    const busy = [false, false];
    const clients = [0, 1].map((n) =>
      traffic(() => child!.client, 'datasets', model, {
        keys: keys.filter((_, i) => i % 2 === n).concat([`added/${n}`]),
        ops: 40,
        pauseMs: 60,
        gate: async () => {
          busy[n] = false;
          await gate;
          busy[n] = true;
        },
      }).finally(() => (busy[n] = false)),
    );
    // Once the copier has checkpointed some progress, kill s3mux between client requests.
    await until(async () => ((await readCheckpoint(route.stateArea!))?.checkpoint.keysDone ?? 0) > 5, 60_000, 'copy progress');
    let reopen!: () => void;
    gate = new Promise((r) => (reopen = r));
    await until(() => busy.every((b) => !b), 30_000, 'the requests under way to finish');
    const before = (await readCheckpoint(route.stateArea!))!.checkpoint;
    expect(before.state).to.equal('copying');
    child.process.kill('SIGKILL');
    await new Promise((r) => child!.process.once('exit', r));
    child = await start();
    reopen();
    await Promise.all(clients);
    await until(async () => (await readCheckpoint(route.stateArea!))?.checkpoint.state === 'done', 120_000, 'the copy to finish');
    const done = (await readCheckpoint(route.stateArea!))!.checkpoint;
    expect(done.errors, done.lastErrors.join('\n')).to.equal(0);
    expect(done.keysDone).to.be.at.least(before.keysDone);

    await expectStoreEquals(route.to.backend, 'datasets', '', model, 'Azure');
    const report = await verifyMigration(route, { deep: true });
    expect(report.differences).to.deep.equal([]);

    // Switch the route to Azure alone: the file changes, the running process reloads it.
    writeFileSync(config, JSON.stringify(table(false)));
    await until(() => /routing table reloaded/.test(child!.log()), 15_000, 'the reload');
    await expectServedEquals(child.client, 'datasets', model, 'after the switch');
    const moreData = body(5000);
    await child.client.send(new PutObjectCommand({ Bucket: 'datasets', Key: 'after/switch', Body: moreData }));
    expect(await readAll(route.to.backend, 'datasets', 'after/switch')).to.deep.equal(moreData);
  });
});

describe('migration s3 (a second s3mux) -> fs with the source dropping connections for a while', function () {
  this.timeout(180_000);
  let dir: string;
  let source: TestServer;
  let proxy: FlakyProxy;
  let server: TestServer;
  let router: Router;

  before(async () => {
    dir = mkdtempSync(path.join(os.tmpdir(), 's3mux-migrate-s3-'));
    source = await startTestServer({ router: Router.defaultFor(path.join(dir, 'source-data')) });
    proxy = await startFlakyProxy(source.port);
    const table = validateRoutingTable(
      {
        backends: {
          old: s3muxStore(proxy.url),
        },
        routes: {
          logs: { migrate: { from: { backend: 'old', target: 's3://logs/' }, to: `file://${dir}/new/logs`, copy: false } },
          // The same old bucket as a plain route (how it was served before the migration) and as a migration.
          'settings-old': { backend: 'old', target: 's3://settings/' },
          settings: { migrate: { from: { backend: 'old', target: 's3://settings/' }, to: `file://${dir}/new/settings`, copy: false } },
        },
        default: 'old',
      },
      { baseDir: dir },
    );
    router = Router.fromTable(table, { forms: { health: { cooldownMs: 500 } } });
    server = await startTestServer({ router });
  });
  after(async () => {
    await server?.stop();
    await proxy?.close();
    await source?.stop();
    rmSync(dir, { recursive: true, force: true });
  });

  it('pauses while the source is out, resumes, and ends equal to what the clients last wrote', async () => {
    const route = migrationOf(router, 'logs');
    const direct = new S3Client({
      endpoint: source.url,
      region: 'us-east-1',
      forcePathStyle: true,
      credentials: { accessKeyId: 'testaccesskey', secretAccessKey: 'testsecretkey/with+chars' },
    });
    const model = await seed(route.from.backend, 'logs', '', 40, (i) => 3000 + ((i * 4099) % 20000));
    direct.destroy();
    await route.to.backend.createBucket('logs');
    const copier = new MigrationCopier(route, { concurrency: 2, rate: 128 * 1024, checkpointMs: 200, maxBackoffMs: 500, attempts: 3 });
    const copying = copier.run();
    const keys = [...model.keys()];
    // Writes and deletes go to `to` (fs), so clients keep working while the old store is out.
    const clients = traffic(server.s3, 'logs', model, { keys: keys.filter((_, i) => i % 4 === 0), ops: 30, pauseMs: 80 });
    await until(() => (copier.current?.keysDone ?? 0) > 4, 60_000, 'copy progress');
    proxy.down();
    await sleep(3000);
    proxy.up();
    await clients;
    await expectMigrated(route, await copying, 'logs', model);
  });

  it('the bucket configuration and versions move to the destination: read from from until copied, then served while from is out', async () => {
    const route = migrationOf(router, 'settings');
    await route.from.backend.createBucket('settings');
    await route.to.backend.createBucket('settings');
    // Written while the bucket was served from the old store alone.
    await setState(server.s3, 'settings-old');
    const v1 = await putVersion(server.s3, 'settings-old', 'doc', 'one');
    const v2 = await putVersion(server.s3, 'settings-old', 'doc', 'two');
    const old = await areaDocuments(route.from.area()!);
    expect((await areaDocuments(route.to.area()!)).size, 'nothing on the destination yet').to.equal(0);

    // Before the copy: the migration route reads the state from `from`.
    await expectState(server.s3, 'settings', 'before the copy');
    expect(await versionIds(server.s3, 'settings', 'doc')).to.deep.equal([v2, v1]);
    expect(await readVersion(server.s3, 'settings', 'doc', v1)).to.equal('one');

    const cp = await new MigrationCopier(route, { checkpointMs: 200 }).run();
    expect(cp?.state).to.equal('done');
    expect(await areaDocuments(route.to.area()!)).to.deep.equal(old);

    proxy.down();
    try {
      await expectState(server.s3, 'settings', 'with the old store out');
      expect(await readVersion(server.s3, 'settings', 'doc', v1)).to.equal('one');
      const v3 = await putVersion(server.s3, 'settings', 'doc', 'three');
      expect(await readVersion(server.s3, 'settings', 'doc')).to.equal('three');
      expect(await readVersion(server.s3, 'settings', 'doc', v2)).to.equal('two');
      // Listing versions merges the object listing, which (as ListObjects on a migration) needs both locations.
      proxy.up();
      await until(() => route.from.health.available(), 15_000, 'the old store to be tried again');
      expect(await versionIds(server.s3, 'settings', 'doc')).to.deep.equal([v3, v2, v1]);
    } finally {
      proxy.up();
    }
  });
});

describe('migration GCS (the firebase Storage emulator) -> s3 (a second s3mux) under concurrent client traffic', function () {
  this.timeout(180_000);
  let dir: string;
  let emulator: GcsEmulator;
  let dest: TestServer;
  let server: TestServer;
  let router: Router;

  before(async () => {
    dir = mkdtempSync(path.join(os.tmpdir(), 's3mux-migrate-gcs-'));
    emulator = await startGcsEmulator({ startTimeoutMs: 30_000 });
    dest = await startTestServer({ router: Router.defaultFor(path.join(dir, 'dest-data')) });
    const table = validateRoutingTable(
      {
        backends: {
          gcs: {
            type: 'gcs',
            endpoint: emulator.endpoint,
            projectId: emulator.projectId,
            emulator: true,
            credentials: { anonymous: true },
          },
          next: s3muxStore(dest.url),
        },
        routes: {
          media: {
            migrate: { from: { backend: 'gcs', target: 'gs://media-old/' }, to: { backend: 'next', target: 's3://media/' }, copy: false },
          },
        },
        default: 'next',
      },
      { baseDir: dir },
    );
    router = Router.fromTable(table);
    server = await startTestServer({ router });
  });
  after(async () => {
    await server?.stop();
    await dest?.stop();
    await emulator?.stop();
    rmSync(dir, { recursive: true, force: true });
  });

  it('copies content, metadata and tags; ends with s3 equal to what the clients last wrote; verify is clean', async () => {
    const route = migrationOf(router, 'media');
    const model = await seed(route.from.backend, 'media-old', '', 36, (i) => 2048 + ((i * 6151) % 24000));
    const seeded = new Map(model);
    await route.to.backend.createBucket('media');
    const copier = new MigrationCopier(route, { concurrency: 2, rate: 192 * 1024, checkpointMs: 200 });
    const copying = copier.run();
    const keys = [...model.keys()];
    const mine = (n: number) => keys.filter((_, i) => i % 3 === n).concat([`new/${n}a`, `new/${n}b`]);
    // Three clients overwrite, delete and create keys while the copy runs.
    let duringCopy = 0;
    const seen = async () => {
      if (copier.current?.state === 'copying' && copier.current.keysDone > 0) duringCopy++;
    };
    await Promise.all([0, 1, 2].map((n) => traffic(server.s3, 'media', model, { keys: mine(n), ops: 20, pauseMs: 50, gate: seen })));
    const cp = await copying;
    expect(cp?.keysCopied, 'the copier copied some keys itself').to.be.greaterThan(0);
    expect(duringCopy, 'client operations made while the copy was under way').to.be.greaterThan(5);
    await expectMigrated(route, cp, 'media', model);
    await expectServedEquals(server.s3, 'media', model, 'through s3mux');
    // Seeded keys no client touched came across with their content type, metadata and tags.
    const untouched = keys.filter((k) => model.get(k) === seeded.get(k));
    expect(untouched.length, 'some seeded keys left alone by the clients').to.be.greaterThan(0);
    for (const k of untouched) {
      const head = await dest.s3.send(new HeadObjectCommand({ Bucket: 'media', Key: k }));
      expect(head.Metadata, k).to.deep.equal({ seq: String(Number(k.slice('obj/'.length))) });
      expect(head.ContentType, k).to.equal('application/x-test');
      const tags = await dest.s3.send(new GetObjectTaggingCommand({ Bucket: 'media', Key: k }));
      expect(tags.TagSet, k).to.deep.equal([{ Key: 'seeded', Value: 'yes' }]);
    }
  });
});

describe('migration s3 -> fs: a multipart object whose ETag the copy cannot keep', function () {
  this.timeout(120_000);
  let dir: string;
  let source: TestServer;
  let server: TestServer;

  before(async () => {
    dir = mkdtempSync(path.join(os.tmpdir(), 's3mux-migrate-etag-'));
    source = await startTestServer({ router: Router.defaultFor(path.join(dir, 'source-data')) });
  });
  after(async () => {
    await server?.stop();
    await source?.stop();
    rmSync(dir, { recursive: true, force: true });
  });

  it('copies it byte for byte; the route shows and honours the old ETag; verify (deep and --quick) matches it', async () => {
    await source.s3.send(new CreateBucketCommand({ Bucket: 'logs' }));
    const parts = [body(5 * 1024 * 1024), body(5 * 1024 * 1024), body(1000)];
    const up = await source.s3.send(new CreateMultipartUploadCommand({ Bucket: 'logs', Key: 'big' }));
    const done = await source.s3.send(
      new CompleteMultipartUploadCommand({
        Bucket: 'logs',
        Key: 'big',
        UploadId: up.UploadId,
        MultipartUpload: {
          Parts: await Promise.all(
            parts.map(async (Body, i) => {
              const p = await source.s3.send(
                new UploadPartCommand({ Bucket: 'logs', Key: 'big', UploadId: up.UploadId, PartNumber: i + 1, Body }),
              );
              return { ETag: p.ETag, PartNumber: i + 1 };
            }),
          ),
        },
      }),
    );
    const router = Router.fromTable(
      validateRoutingTable(
        {
          backends: {
            old: s3muxStore(source.url),
          },
          routes: { logs: { migrate: { from: { backend: 'old', target: 's3://logs/' }, to: `file://${dir}/new/logs`, copy: false } } },
          default: 'old',
        },
        { baseDir: dir },
      ),
    );
    server = await startTestServer({ router });
    const route = migrationOf(router, 'logs');
    await route.to.backend.createBucket('logs');
    const cp = await new MigrationCopier(route, { checkpointMs: 200 }).run();
    expect(cp?.state).to.equal('done');
    expect(cp?.errors, cp?.lastErrors.join('\n')).to.equal(0);
    const model: Model = new Map([['big', Buffer.concat(parts)]]);
    await expectStoreEquals(route.to.backend, 'logs', '', model, 'destination');
    // The s3 backend cannot read the source's part sizes, so the copy has another ETag on the store...
    const stored = await route.to.headObject('big');
    expect(`"${stored.etag}"`).not.to.equal(done.ETag);
    // ... and the route shows the one clients knew, on HEAD and GET, and judges conditions on it.
    const served = await server.s3.send(new HeadObjectCommand({ Bucket: 'logs', Key: 'big' }));
    expect(served.ETag).to.equal(done.ETag);
    const got = await server.s3.send(new GetObjectCommand({ Bucket: 'logs', Key: 'big', IfMatch: done.ETag, Range: 'bytes=0-9' }));
    expect(got.ETag).to.equal(done.ETag);
    expect(Buffer.from(await got.Body!.transformToByteArray()).equals(parts[0].subarray(0, 10))).to.equal(true);
    const notModified = await server.s3.send(new HeadObjectCommand({ Bucket: 'logs', Key: 'big', IfNoneMatch: done.ETag })).then(
      () => 200,
      (err: { $metadata?: { httpStatusCode?: number } }) => err.$metadata?.httpStatusCode,
    );
    expect(notModified).to.equal(304);
    const stale = await server.s3.send(new GetObjectCommand({ Bucket: 'logs', Key: 'big', IfMatch: `"${stored.etag}-stale"` })).then(
      () => 200,
      (err: { $metadata?: { httpStatusCode?: number } }) => err.$metadata?.httpStatusCode,
    );
    expect(stale).to.equal(412);
    // A listing shows the same ETag as HEAD (aws s3 sync and rclone compare listed ETags).
    const listed = await server.s3.send(new ListObjectsV2Command({ Bucket: 'logs' }));
    expect(listed.Contents?.map((o) => [o.Key, o.ETag])).to.deep.equal([['big', done.ETag]]);

    const deep = await verifyMigration(route, { deep: true });
    expect({ matched: deep.matched, newer: deep.newer, differences: deep.differences, ok: deep.ok }).to.deep.equal({
      matched: 1,
      newer: [],
      differences: [],
      ok: true,
    });
    // --quick compares ETags: the copier's record matches the old one with the new.
    const quick = await verifyMigration(route);
    expect({ matched: quick.matched, newer: quick.newer, ok: quick.ok }).to.deep.equal({ matched: 1, newer: [], ok: true });

    // A conditional overwrite with the ETag the client knew succeeds; from then on the new object's own ETag is shown.
    const next = body(2000);
    const put = await server.s3.send(new PutObjectCommand({ Bucket: 'logs', Key: 'big', Body: next, IfMatch: done.ETag }));
    expect(put.ETag).to.equal(`"${(await route.to.headObject('big')).etag}"`);
    expect((await server.s3.send(new HeadObjectCommand({ Bucket: 'logs', Key: 'big' }))).ETag).to.equal(put.ETag);
    const again = await server.s3.send(new PutObjectCommand({ Bucket: 'logs', Key: 'big', Body: next, IfMatch: done.ETag })).then(
      () => 200,
      (err: { $metadata?: { httpStatusCode?: number } }) => err.$metadata?.httpStatusCode,
    );
    expect(again).to.equal(412);
    expect((await verifyMigration(route)).newer).to.deep.equal(['big']);
  });
});
