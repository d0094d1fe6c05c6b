/**
 * Storage classes through migrate, mirror and failover routes, with the AWS SDK v3 through
 * s3mux onto memory, fs and OCI (the OCI double: native tiers, Archive and RestoreObjects):
 * the route holds the classes every target its writes reach can hold; each copy carries the
 * class (writes, sync and async mirroring, repair, the migration copier); lifecycle transitions
 * change every copy; RestoreObject goes to the copy reads are served from; route and bucket
 * tiers are checked against every target.
 */
import { existsSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { Readable } from 'node:stream';
import { expect } from 'chai';
import {
  CopyObjectCommand,
  CreateMultipartUploadCommand,
  DeleteBucketLifecycleCommand,
  GetObjectCommand,
  HeadObjectCommand,
  ListObjectsV2Command,
  PutBucketLifecycleConfigurationCommand,
  PutObjectCommand,
  RestoreObjectCommand,
  type S3Client,
} from '@aws-sdk/client-s3';
import { ACCESS_KEY, SECRET_KEY, startTestServer, type TestServer } from '../helpers/server';
import { awsCliEnv, run } from '../helpers/processes';
import { errorOf } from '../helpers/errors';
import { ociTableEntry, startOciDouble, testApiKey, type OciDouble } from '../helpers/oci-double';
import { Router } from '../../src/router/router';
import { ConfigError, validateRoutingTable } from '../../src/router/config';
import { ReplicatedBackend } from '../../src/router/forms/replicated';
import { MigrationBackend } from '../../src/router/forms/migrate';
import { MigrationCopier } from '../../src/router/forms/migration-copier';
import type { CompositeBackend } from '../../src/router/forms/composite';
import type { Target } from '../../src/router/forms/target';
import { classOf, multipart, createWithTier, fakeClockWorker, TRANSITIONS } from '../helpers/tiers';
import { bucketConfig } from '../../src/bucket-config/store';
import { BucketView } from '../../src/router/bucket-view';

const TIERS = {
  silver: { memory: 'STANDARD_IA', fs: 'STANDARD_IA', oci: 'InfrequentAccess' },
  cold: { memory: 'GLACIER_IR', fs: 'GLACIER_IR' },
  mixed: { memory: 'STANDARD_IA', fs: 'GLACIER_IR' },
};

/** The class a target's own copy has, read from its store (STANDARD for an object stored without one). */
const copyClass = async (t: Target, key: string) => (await t.headObject(key)).storageClass ?? 'STANDARD';

async function listed(s3: S3Client, Bucket: string): Promise<Record<string, string | undefined>> {
  const page = await s3.send(new ListObjectsV2Command({ Bucket }));
  return Object.fromEntries((page.Contents ?? []).map((o) => [o.Key!, o.StorageClass]));
}

describe('storage classes through migrate, mirror and failover routes (memory, fs, OCI double)', function () {
  this.timeout(60_000);
  let dir: string;
  let double: OciDouble;
  let router: Router;
  let srv: TestServer;
  const store = (s: string) => `classes-${s}-${process.pid}`;

  const form = <T extends CompositeBackend>(name: string) => router.explicitRoutes().find((r) => r.name === name)!.form as T;

  before(async () => {
    dir = mkdtempSync(path.join(os.tmpdir(), 's3mux-route-classes-'));
    const key = testApiKey();
    double = await startOciDouble({ restoreSteps: 1 });
    double.addKey(key.keyId, key.publicKeyPem);
    process.env.ROUTE_CLASSES_OCI_KEY = key.privateKeyPem;
    const on = (backend: string, bucket: string) => ({ backend, bucket });
    const table = validateRoutingTable(
      {
        tiers: TIERS,
        backends: {
          a: { type: 'memory', store: store('a') },
          b: { type: 'memory', store: store('b') },
          disk: { type: 'fs', root: path.join(dir, 'disk') },
          oci: ociTableEntry(double, key, 'ROUTE_CLASSES_OCI_KEY'),
        },
        default: 'a',
        routes: {
          mirrored: { mirror: [on('a', 'mirrored'), on('disk', 'mirrored')], mode: 'sync' },
          queued: { mirror: [on('a', 'queued'), on('b', 'queued')], mode: 'async' },
          failing: { failover: [on('disk', 'failing'), on('b', 'failing')] },
          moving: { migrate: { from: on('disk', 'moving-old'), to: on('a', 'moving'), copy: false } },
          withoci: { mirror: [on('oci', 'withoci'), on('a', 'withoci')], mode: 'sync' },
          bothoci: { mirror: [on('oci', 'bothoci-1'), on('oci', 'bothoci-2')], mode: 'sync' },
          fromoci: { migrate: { from: on('oci', 'fromoci-old'), to: on('a', 'fromoci'), copy: false } },
          tiered: { mirror: [on('a', 'tiered'), on('disk', 'tiered')], tier: 'silver' },
        },
      },
      { baseDir: dir },
    );
    router = Router.fromTable(table, { forms: { drainIntervalMs: 0 } });
    for (const r of router.explicitRoutes()) await r.form!.createBucket();
    srv = await startTestServer({ router });
  });
  after(async () => {
    await srv?.stop();
    await double?.stop();
    rmSync(dir, { recursive: true, force: true });
  });
  beforeEach(() => bucketConfig.clear());

  it('PUT, CopyObject and multipart with a class on mirror, failover and migrate: each receiving copy holds it; HEAD, GET and listings report it', async () => {
    const s3 = srv.s3;
    for (const Bucket of ['mirrored', 'failing', 'moving']) {
      await s3.send(new PutObjectCommand({ Bucket, Key: 'ia', Body: 'infrequent', StorageClass: 'STANDARD_IA' }));
      await s3.send(new CopyObjectCommand({ Bucket, Key: 'ir', CopySource: `${Bucket}/ia`, StorageClass: 'GLACIER_IR' }));
      await multipart(s3, Bucket, 'deep', 'DEEP_ARCHIVE');
      await s3.send(new PutObjectCommand({ Bucket, Key: 'plain', Body: 'p' }));
      expect(await classOf(s3, Bucket, 'ia'), Bucket).to.equal('STANDARD_IA');
      expect(await classOf(s3, Bucket, 'ir'), Bucket).to.equal('GLACIER_IR');
      expect(await classOf(s3, Bucket, 'deep'), Bucket).to.equal('DEEP_ARCHIVE');
      expect(await classOf(s3, Bucket, 'plain'), Bucket).to.equal(undefined);
      const got = await s3.send(new GetObjectCommand({ Bucket, Key: 'ia' }));
      expect(got.StorageClass).to.equal('STANDARD_IA');
      expect(await got.Body!.transformToString()).to.equal('infrequent');
      expect(await listed(s3, Bucket), Bucket).to.deep.equal({
        deep: 'DEEP_ARCHIVE',
        ia: 'STANDARD_IA',
        ir: 'GLACIER_IR',
        plain: 'STANDARD',
      });
    }
    // Every copy a write reached: both of a mirror, the writer of a failover route, a migration's `to`.
    const mirror = form<ReplicatedBackend>('mirrored');
    for (const t of mirror.targets) {
      expect(await copyClass(t, 'ia'), t.label).to.equal('STANDARD_IA');
      expect(await copyClass(t, 'ir'), t.label).to.equal('GLACIER_IR');
      expect(await copyClass(t, 'deep'), t.label).to.equal('DEEP_ARCHIVE');
    }
    expect(await copyClass(form<ReplicatedBackend>('failing').targets[0], 'ir')).to.equal('GLACIER_IR');
    const moving = form<MigrationBackend>('moving');
    expect(await copyClass(moving.to, 'deep')).to.equal('DEEP_ARCHIVE');
    // A read falling back to `from` reports the class the `from` copy has.
    await moving.from.putObject('old', Readable.from(['old']), { userMetadata: {}, storageClass: 'GLACIER' });
    expect(await classOf(s3, 'moving', 'old')).to.equal('GLACIER');
    expect((await listed(s3, 'moving')).old).to.equal('GLACIER');
  });

  it('a class one receiving target cannot hold is InvalidStorageClass naming that target and what it holds; a migration’s `from` does not count', async () => {
    const s3 = srv.s3;
    const put = await errorOf(s3.send(new PutObjectCommand({ Bucket: 'withoci', Key: 'x', Body: 'x', StorageClass: 'GLACIER_IR' })));
    expect(put.name).to.equal('InvalidStorageClass');
    expect(put.$metadata.httpStatusCode).to.equal(400);
    expect(put.message).to.contain('Target oci:withoci/ (oci) of mirror route withoci has no storage class for GLACIER_IR');
    expect(put.message).to.contain('it holds STANDARD, STANDARD_IA, ONEZONE_IA, GLACIER, DEEP_ARCHIVE');
    expect(
      (await errorOf(s3.send(new CreateMultipartUploadCommand({ Bucket: 'withoci', Key: 'x', StorageClass: 'GLACIER_IR' })))).name,
    ).to.equal('InvalidStorageClass');
    await s3.send(new PutObjectCommand({ Bucket: 'withoci', Key: 'src', Body: 's' }));
    const copy = await errorOf(
      s3.send(new CopyObjectCommand({ Bucket: 'withoci', Key: 'y', CopySource: 'withoci/src', StorageClass: 'GLACIER_IR' })),
    );
    expect(copy.name).to.equal('InvalidStorageClass');
    for (const t of form<ReplicatedBackend>('withoci').targets)
      expect((await t.headObject('x').catch((e: Error) => e)) instanceof Error).to.equal(true);
    // A class every target of a mirror archives: no copy could be read to make the others.
    const archived = await errorOf(s3.send(new PutObjectCommand({ Bucket: 'bothoci', Key: 'x', Body: 'x', StorageClass: 'GLACIER' })));
    expect(archived.name).to.equal('InvalidStorageClass');
    expect(archived.message).to.contain('Every target of this route archives GLACIER');
    // Each target maps the S3 class to its own: OCI's InfrequentAccess tier on both copies.
    await s3.send(new PutObjectCommand({ Bucket: 'bothoci', Key: 'x', Body: 'x', StorageClass: 'STANDARD_IA' }));
    for (const b of ['bothoci-1', 'bothoci-2'])
      expect(double.buckets.get(b)!.objects.get('x')!.storageTier, b).to.equal('InfrequentAccess');
    // Writes on a migration land on `to` only: `from` (OCI) need not hold the class.
    await s3.send(new PutObjectCommand({ Bucket: 'fromoci', Key: 'ir', Body: 'x', StorageClass: 'GLACIER_IR' }));
    expect(await classOf(s3, 'fromoci', 'ir')).to.equal('GLACIER_IR');
    // A Transition to a class a target cannot hold is refused with the same reason; one all hold is accepted.
    const rule = (StorageClass: 'GLACIER_IR' | 'STANDARD_IA') => ({
      Rules: [{ ID: 'r', Filter: { Prefix: '' }, Status: 'Enabled' as const, Transitions: [{ Days: 30, StorageClass }] }],
    });
    const life = await errorOf(
      s3.send(new PutBucketLifecycleConfigurationCommand({ Bucket: 'withoci', LifecycleConfiguration: rule('GLACIER_IR') })),
    );
    expect(life.message).to.contain('Target oci:withoci/ (oci) of mirror route withoci has no storage class for GLACIER_IR');
    await s3.send(new PutBucketLifecycleConfigurationCommand({ Bucket: 'withoci', LifecycleConfiguration: rule('STANDARD_IA') }));
    await s3.send(new DeleteBucketLifecycleCommand({ Bucket: 'withoci' }));
  });

  it('async catch-up, mirror repair and the migration copier carry the class to the copies they make', async () => {
    const s3 = srv.s3;
    // Async: the second copy is made by the queue's drain, with the class.
    const queued = form<ReplicatedBackend>('queued');
    await s3.send(new PutObjectCommand({ Bucket: 'queued', Key: 'q', Body: 'queued', StorageClass: 'ONEZONE_IA' }));
    await queued.drain();
    expect(await copyClass(queued.targets[1], 'q')).to.equal('ONEZONE_IA');

    // Repair: an object one copy lacks is copied with its class; a copy whose class alone differs is changed in place.
    const mirror = form<ReplicatedBackend>('mirrored');
    const [a, b] = mirror.targets;
    await a.putObject('only-a', Readable.from(['only on a']), { userMetadata: {}, storageClass: 'GLACIER' });
    await s3.send(new PutObjectCommand({ Bucket: 'mirrored', Key: 'reclassed', Body: 'r' }));
    const etag = (await b.headObject('reclassed')).etag;
    await a.setStorageClass('reclassed', 'STANDARD_IA', etag);
    const report = await mirror.repair();
    expect(report.errors).to.deep.equal([]);
    expect(report.copied).to.be.at.least(2);
    expect(await copyClass(b, 'only-a')).to.equal('GLACIER');
    expect(await copyClass(b, 'reclassed')).to.equal('STANDARD_IA');
    expect((await b.headObject('reclassed')).etag).to.equal(etag);

    // The migration copier: the copy on `to` keeps the class the `from` copy has.
    const moving = form<MigrationBackend>('moving');
    await moving.from.putObject('seed/ir', Readable.from(['ir']), { userMetadata: {}, storageClass: 'GLACIER_IR' });
    await moving.from.putObject('seed/plain', Readable.from(['plain']), { userMetadata: {} });
    const cp = await new MigrationCopier(moving, { checkpointMs: 200 }).run();
    expect(cp?.errors).to.equal(0);
    expect(await copyClass(moving.to, 'seed/ir')).to.equal('GLACIER_IR');
    expect(await copyClass(moving.to, 'seed/plain')).to.equal('STANDARD');
  });

  it('a lifecycle transition changes the class of both copies of a mirror (same ETag), and of a migrating key (copied to `to` first)', async () => {
    const s3 = srv.s3;
    await s3.send(new PutObjectCommand({ Bucket: 'mirrored', Key: 'cold/a', Body: 'aaa' }));
    const before = await s3.send(new HeadObjectCommand({ Bucket: 'mirrored', Key: 'cold/a' }));
    const moving = form<MigrationBackend>('moving');
    await moving.from.putObject('cold/m', Readable.from(['mmm']), { userMetadata: {} });
    const LifecycleConfiguration = TRANSITIONS;
    await s3.send(new PutBucketLifecycleConfigurationCommand({ Bucket: 'mirrored', LifecycleConfiguration }));
    await s3.send(new PutBucketLifecycleConfigurationCommand({ Bucket: 'moving', LifecycleConfiguration }));
    const { worker, advance } = fakeClockWorker(() => router);
    advance(32);
    const first = await worker.runOnce();
    expect(first.transitioned).to.equal(2);
    for (const t of form<ReplicatedBackend>('mirrored').targets) expect(await copyClass(t, 'cold/a'), t.label).to.equal('STANDARD_IA');
    const after = await s3.send(new HeadObjectCommand({ Bucket: 'mirrored', Key: 'cold/a' }));
    expect(after.StorageClass).to.equal('STANDARD_IA');
    expect(after.ETag).to.equal(before.ETag);
    expect(await copyClass(moving.to, 'cold/m')).to.equal('STANDARD_IA');
    expect(await classOf(s3, 'moving', 'cold/m')).to.equal('STANDARD_IA');
    advance(60);
    expect((await worker.runOnce()).transitioned).to.equal(2);
    for (const t of form<ReplicatedBackend>('mirrored').targets) expect(await copyClass(t, 'cold/a'), t.label).to.equal('GLACIER');
    expect(await copyClass(moving.to, 'cold/m')).to.equal('GLACIER');

    // Failover: the writer's copy, and a later target's copy of the same object.
    const [writer, later] = form<ReplicatedBackend>('failing').targets;
    const written = await s3.send(new PutObjectCommand({ Bucket: 'failing', Key: 'both', Body: 'same bytes' }));
    await later.putObject('both', Readable.from(['same bytes']), { userMetadata: {} });
    await new BucketView(router.resolve('failing')).setStorageClass('both', 'GLACIER_IR', written.ETag!.replace(/"/g, ''));
    expect(await copyClass(writer, 'both')).to.equal('GLACIER_IR');
    expect(await copyClass(later, 'both')).to.equal('GLACIER_IR');
  });

  it('RestoreObject on a mirror whose primary archives (OCI Archive): GET is InvalidObjectState until the restore, which goes to the copy reads come from', async () => {
    const s3 = srv.s3;
    const Bucket = 'withoci';
    await s3.send(new PutObjectCommand({ Bucket, Key: 'arch', Body: 'frozen', StorageClass: 'GLACIER' }));
    expect(double.buckets.get('withoci')!.objects.get('arch')!.storageTier).to.equal('Archive');
    expect(await copyClass(form<ReplicatedBackend>(Bucket).targets[1], 'arch')).to.equal('GLACIER');
    const e = await errorOf(s3.send(new GetObjectCommand({ Bucket, Key: 'arch' })));
    expect(e.name).to.equal('InvalidObjectState');
    expect(e.$metadata.httpStatusCode).to.equal(403);
    const r = await s3.send(new RestoreObjectCommand({ Bucket, Key: 'arch', RestoreRequest: { Days: 2 } }));
    expect(r.$metadata.httpStatusCode).to.equal(202);
    expect(double.requests.filter((q) => q.path.endsWith('/actions/restoreObjects'))).to.have.length(1);
    const again = await errorOf(s3.send(new RestoreObjectCommand({ Bucket, Key: 'arch', RestoreRequest: { Days: 2 } })));
    expect(again.name).to.equal('RestoreAlreadyInProgress');
    const head = await s3.send(new HeadObjectCommand({ Bucket, Key: 'arch' }));
    expect(head.StorageClass).to.equal('GLACIER');
    expect(head.Restore).to.match(/^ongoing-request="false"/);
    expect(await (await s3.send(new GetObjectCommand({ Bucket, Key: 'arch' }))).Body!.transformToString()).to.equal('frozen');
    // An object that is not archived: S3's answer, from the copy's store.
    const notArchived = await errorOf(s3.send(new RestoreObjectCommand({ Bucket, Key: 'src', RestoreRequest: { Days: 1 } })));
    expect(notArchived.name).to.equal('InvalidObjectState');
  });

  it('a route tier and a CreateBucket tier apply to a composite route: every receiving copy gets the class', async () => {
    const s3 = srv.s3;
    await s3.send(new PutObjectCommand({ Bucket: 'tiered', Key: 't', Body: 't' }));
    expect(await classOf(s3, 'tiered', 't')).to.equal('STANDARD_IA');
    for (const t of form<ReplicatedBackend>('tiered').targets) expect(await copyClass(t, 't'), t.label).to.equal('STANDARD_IA');

    await createWithTier(s3, 'failing', 'cold');
    await s3.send(new PutObjectCommand({ Bucket: 'failing', Key: 'c', Body: 'c' }));
    expect(await classOf(s3, 'failing', 'c')).to.equal('GLACIER_IR');
    expect(await copyClass(form<ReplicatedBackend>('failing').targets[0], 'c')).to.equal('GLACIER_IR');
    // `cold` names no class for OCI, one of the mirror's targets; `mixed` gives its targets different S3 classes.
    const noOci = await errorOf(createWithTier(s3, 'withoci', 'cold'));
    expect(noOci.name).to.equal('InvalidStorageClass');
    expect(noOci.message).to.contain("Tier 'cold' names no storage class for oci stores");
    const mixed = await errorOf(createWithTier(s3, 'mirrored', 'mixed'));
    expect(mixed.name).to.equal('InvalidStorageClass');
    expect(mixed.message).to.contain('different S3 classes (memory: STANDARD_IA, fs: GLACIER_IR)');
  });

  it('the routing table checks a composite route’s tier against every target its writes reach', () => {
    const backends = { m: { type: 'memory' }, o: ociTableEntry(double, testApiKey(), 'UNUSED_KEY'), d: { type: 'fs', root: dir } };
    const attempt =
      (route: Record<string, unknown>, extra: Record<string, unknown> = {}) =>
      () =>
        validateRoutingTable(
          { tiers: TIERS, backends: { ...backends, ...extra }, default: 'm', routes: { 'route-r': route } },
          { baseDir: dir },
        );
    const problem = (fn: () => unknown) => {
      try {
        fn();
      } catch (err) {
        expect(err).to.be.instanceOf(ConfigError);
        return (err as Error).message;
      }
      throw new Error('expected a configuration error');
    };
    const pair = [
      { backend: 'm', bucket: 'x' },
      { backend: 'o', bucket: 'y' },
    ];
    expect(problem(attempt({ mirror: pair, tier: 'cold' }))).to.match(/tier 'cold' names no storage class for oci stores/);
    expect(problem(attempt({ failover: [pair[0], { backend: 'd', bucket: 'z' }], tier: 'mixed' }))).to.match(
      /tier 'mixed' gives this route's stores different S3 classes/,
    );
    // The primary's backend tier: GLACIER_IR, which the OCI target cannot hold.
    expect(problem(attempt({ mirror: [{ backend: 'cold', bucket: 'x' }, pair[1]] }, { cold: { type: 'memory', tier: 'cold' } }))).to.match(
      /the tier of backend 'cold' gives this mirror route GLACIER_IR, which not every target holds/,
    );
    const ok = attempt({ mirror: pair, tier: 'silver' })();
    expect(ok.routes[0].storageClass).to.equal('STANDARD_IA');
    // A migration's `from` is only read: `cold` need not name OCI there.
    const mig = attempt({ migrate: { from: pair[1], to: pair[0] }, tier: 'cold' })();
    expect(mig.routes[0].storageClass).to.equal('GLACIER_IR');
  });

  it('aws-cli: `aws s3 cp --storage-class` onto a mirror puts the class on both copies, `s3api head-object` and `list-objects-v2` report it; a class one target cannot hold fails the command with InvalidStorageClass', async function () {
    if (!existsSync('/usr/bin/aws')) this.skip(); // skipped: /usr/bin/aws is not installed here
    const env = awsCliEnv(ACCESS_KEY, SECRET_KEY);
    const aws = (...args: string[]) => run('/usr/bin/aws', ['--endpoint-url', srv.url, ...args], '', env);
    const file = path.join(dir, 'cli-upload.txt');
    writeFileSync(file, 'through aws-cli');
    const cp = await aws('s3', 'cp', '--no-progress', '--storage-class', 'STANDARD_IA', file, 's3://mirrored/cli-ia');
    expect(cp.status, cp.stderr).to.equal(0);
    const head = await aws('s3api', 'head-object', '--bucket', 'mirrored', '--key', 'cli-ia', '--output', 'json');
    expect(head.status, head.stderr).to.equal(0);
    expect((JSON.parse(head.stdout) as { StorageClass?: string }).StorageClass).to.equal('STANDARD_IA');
    for (const t of form<ReplicatedBackend>('mirrored').targets) expect(await copyClass(t, 'cli-ia'), t.label).to.equal('STANDARD_IA');
    const list = await aws('s3api', 'list-objects-v2', '--bucket', 'mirrored', '--prefix', 'cli-', '--output', 'json');
    expect((JSON.parse(list.stdout) as { Contents: { StorageClass: string }[] }).Contents.map((o) => o.StorageClass)).to.deep.equal([
      'STANDARD_IA',
    ]);
    // OCI has no class for GLACIER_IR: the mirror over OCI and memory refuses it, and nothing is stored.
    const refused = await aws('s3', 'cp', '--no-progress', '--storage-class', 'GLACIER_IR', file, 's3://withoci/cli-ir');
    expect(refused.status).to.not.equal(0);
    expect(refused.stderr).to.contain('InvalidStorageClass');
    const absent = await aws('s3api', 'head-object', '--bucket', 'withoci', '--key', 'cli-ir');
    expect(absent.status).to.not.equal(0);
    expect(absent.stderr).to.contain('404');
  });
});
