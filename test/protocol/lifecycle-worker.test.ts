/**
 * The lifecycle worker: expiration by prefix, size and tags on a fake clock, resuming from its
 * cursor after a restart, leaving alone an object rewritten after the scan, aborting old
 * uploads; and two s3mux processes on one fs store expiring each object once.
 */
import { mkdtempSync, rmSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { expect } from 'chai';
import {
  CreateBucketCommand,
  CreateMultipartUploadCommand,
  DeleteBucketLifecycleCommand,
  DeleteObjectCommand,
  ListObjectVersionsCommand,
  ListMultipartUploadsCommand,
  ListObjectsV2Command,
  PutBucketLifecycleConfigurationCommand,
  PutObjectCommand,
  type S3Client,
} from '@aws-sdk/client-s3';
import { startTestServer, type TestServer } from '../helpers/server';
import { startChildServer, type ChildServer } from '../helpers/child-server';
import { LifecycleWorker } from '../../src/lifecycle/worker';
import { bucketConfig } from '../../src/bucket-config/store';
import { Router } from '../../src/router/router';
import { BucketView } from '../../src/router/bucket-view';
import { validateRoutingTable } from '../../src/router/config';

const DAY = 1000;

async function keys(s3: S3Client, Bucket: string): Promise<string[]> {
  const out = await s3.send(new ListObjectsV2Command({ Bucket }));
  return (out.Contents ?? []).map((o) => o.Key as string);
}

describe('lifecycle worker', () => {
  let srv: TestServer;
  let router: Router;
  let clock = Date.now();
  const now = () => clock;
  const worker = (extra: Partial<ConstructorParameters<typeof LifecycleWorker>[0]> = {}) =>
    new LifecycleWorker({ router: () => router, dayMs: DAY, now, maxCallsPerSecond: 10_000, ...extra });

  before(async () => {
    router = Router.fromTable(validateRoutingTable({ backends: { mem: { type: 'memory', store: `lifecycle-worker-${process.pid}` } } }));
    srv = await startTestServer({ router });
  });
  after(async () => {
    await srv.stop();
  });
  const used: string[] = [];
  beforeEach(() => {
    bucketConfig.clear();
    clock = Date.now();
  });
  // Each test's rules end with it, so the next test's run reports only its own bucket.
  afterEach(async () => {
    for (const Bucket of used.splice(0)) await srv.s3.send(new DeleteBucketLifecycleCommand({ Bucket }));
  });

  it('expires what the rules name once due, and nothing else', async () => {
    const Bucket = 'expiring';
    used.push(Bucket);
    await srv.s3.send(new CreateBucketCommand({ Bucket }));
    const put = (Key: string, Body: string, Tagging?: string) => srv.s3.send(new PutObjectCommand({ Bucket, Key, Body, Tagging }));
    await put('tmp/a', 'x');
    await put('tmp/big', 'x'.repeat(200));
    await put('tagged/t', 'x', 'class=scratch');
    await put('tagged/other', 'x', 'class=keep');
    await put('keep/k', 'x');
    await srv.s3.send(
      new PutBucketLifecycleConfigurationCommand({
        Bucket,
        LifecycleConfiguration: {
          Rules: [
            { ID: 'tmp', Filter: { And: { Prefix: 'tmp/', ObjectSizeLessThan: 100 } }, Status: 'Enabled', Expiration: { Days: 5 } },
            { ID: 'tag', Filter: { Tag: { Key: 'class', Value: 'scratch' } }, Status: 'Enabled', Expiration: { Days: 1 } },
            { ID: 'off', Filter: { Prefix: 'keep/' }, Status: 'Disabled', Expiration: { Days: 1 } },
          ],
        },
      }),
    );
    const w = worker();
    let r = await w.runOnce();
    expect(r.expired).to.equal(0);
    expect(await keys(srv.s3, Bucket)).to.have.length(5);

    clock += 3 * DAY; // past one day and the midnight after it; not five
    r = await w.runOnce();
    expect(r.expired).to.equal(1);
    expect((await keys(srv.s3, Bucket)).sort()).to.deep.equal(['keep/k', 'tagged/other', 'tmp/a', 'tmp/big']);
    clock += 4 * DAY;
    r = await w.runOnce();
    expect((await keys(srv.s3, Bucket)).sort()).to.deep.equal(['keep/k', 'tagged/other', 'tmp/big']);
  });

  it('versioned bucket: noncurrent versions expire by age and count, lone delete markers go, locked versions stay', async () => {
    const Bucket = 'noncurrent';
    used.push(Bucket);
    await srv.s3.send(new CreateBucketCommand({ Bucket, ObjectLockEnabledForBucket: true }));
    const put = async (Key: string, Body: string, extra: Record<string, unknown> = {}) =>
      (await srv.s3.send(new PutObjectCommand({ Bucket, Key, Body, ...extra }))).VersionId!;
    const a = [
      await put('a', 'a1', { ObjectLockLegalHoldStatus: 'ON' }),
      await put('a', 'a2'),
      await put('a', 'a3'),
      await put('a', 'a4'),
      await put('a', 'a5'),
    ];
    const compliance = { ObjectLockMode: 'COMPLIANCE', ObjectLockRetainUntilDate: new Date(Date.now() + 86_400_000) };
    const b = [await put('b', 'b1', compliance), await put('b', 'b2'), await put('b', 'b3')];
    const m1 = await put('m/x', 'x1');
    await srv.s3.send(new DeleteObjectCommand({ Bucket, Key: 'm/x' }));
    await put('e/current', 'e');
    await srv.s3.send(
      new PutBucketLifecycleConfigurationCommand({
        Bucket,
        LifecycleConfiguration: {
          Rules: [
            {
              ID: 'keep-one',
              Filter: { Prefix: '' },
              Status: 'Enabled',
              NoncurrentVersionExpiration: { NoncurrentDays: 1, NewerNoncurrentVersions: 1 },
            },
            {
              ID: 'markers',
              Filter: { Prefix: 'm/' },
              Status: 'Enabled',
              Expiration: { ExpiredObjectDeleteMarker: true },
              NoncurrentVersionExpiration: { NoncurrentDays: 1 },
            },
            { ID: 'current', Filter: { Prefix: 'e/' }, Status: 'Enabled', Expiration: { Days: 1 } },
          ],
        },
      }),
    );
    const listed = async () => {
      const out = await srv.s3.send(new ListObjectVersionsCommand({ Bucket }));
      const all = [
        ...(out.Versions ?? []).map((v) => [v.Key, v.VersionId, v.IsLatest]),
        ...(out.DeleteMarkers ?? []).map((d) => [d.Key, 'marker', d.IsLatest]),
      ];
      return all.sort((x, y) => String(x[0]).localeCompare(String(y[0])));
    };
    const before = await listed();
    // Nothing is old enough yet (the clock stands where the test began).
    const first = await worker().runOnce();
    expect([first.noncurrentExpired, first.markersRemoved, first.expired]).to.deep.equal([0, 0, 0]);
    expect(await listed()).to.deep.equal(before);

    clock = Date.now() + 3 * DAY;
    const r = await worker().runOnce();
    // a: a5 current, a4 the one newer noncurrent kept, a3 and a2 expired, a1 under legal hold.
    // b: b3 current, b2 kept; b1 is due but under COMPLIANCE retention.
    // m/x: its only version expired, then the delete marker left alone was removed.
    // e/current: expired as a current object, so a delete marker now hides it.
    expect(r.noncurrentExpired).to.equal(3);
    expect(r.skippedLocked).to.equal(2);
    expect(r.expired).to.equal(1);
    const after = await listed();
    expect(after.filter((v) => v[0] === 'a').map((v) => v[1])).to.have.members([a[4], a[3], a[0]]);
    expect(after.filter((v) => v[0] === 'b').map((v) => v[1])).to.have.members([b[2], b[1], b[0]]);
    expect(after.filter((v) => v[0] === 'e/current').map((v) => [v[1] === 'marker', v[2]])).to.have.deep.members([
      [true, true],
      [false, false],
    ]);
    expect(after.filter((v) => v[0] === 'm/x')).to.deep.equal([]);
    expect(before.filter((v) => v[0] === 'm/x').map((v) => v[1])).to.include(m1);
    // The marker of m/x needed a second look after its version went, in the same run.
    expect(r.markersRemoved).to.equal(1);
  });

  it('continues from its cursor after a restart, within its per-run budget', async () => {
    const Bucket = 'resuming';
    used.push(Bucket);
    await srv.s3.send(new CreateBucketCommand({ Bucket }));
    for (let i = 0; i < 7; i++) await srv.s3.send(new PutObjectCommand({ Bucket, Key: `k${i}`, Body: 'x' }));
    await srv.s3.send(
      new PutBucketLifecycleConfigurationCommand({
        Bucket,
        LifecycleConfiguration: { Rules: [{ ID: 'all', Filter: { Prefix: '' }, Status: 'Enabled', Expiration: { Days: 1 } }] },
      }),
    );
    clock += 3 * DAY;
    const first = await worker({ maxKeysPerRun: 3 }).runOnce();
    expect(first.scanned).to.equal(3);
    expect(await keys(srv.s3, Bucket)).to.deep.equal(['k3', 'k4', 'k5', 'k6']);
    // A new worker (a restarted process) starts after k2, where the cursor says the pass was.
    const second = await worker({ maxKeysPerRun: 3 }).runOnce();
    expect(second.scanned).to.equal(3);
    expect(await keys(srv.s3, Bucket)).to.deep.equal(['k6']);
    await worker({ maxKeysPerRun: 3 }).runOnce();
    expect(await keys(srv.s3, Bucket)).to.deep.equal([]);
  });

  it('leaves an object rewritten after the scan saw it', async () => {
    const Bucket = 'rewritten';
    used.push(Bucket);
    await srv.s3.send(new CreateBucketCommand({ Bucket }));
    await srv.s3.send(new PutObjectCommand({ Bucket, Key: 'r', Body: 'old' }));
    await srv.s3.send(
      new PutBucketLifecycleConfigurationCommand({
        Bucket,
        LifecycleConfiguration: { Rules: [{ ID: 'all', Filter: { Prefix: '' }, Status: 'Enabled', Expiration: { Days: 1 } }] },
      }),
    );
    clock += 3 * DAY;
    // The object is rewritten between the worker's listing and its delete.
    const backend = router.defaultBackend;
    const list = backend.listObjects.bind(backend);
    backend.listObjects = async (b, o) => {
      const page = await list(b, o);
      if (b === Bucket) await srv.s3.send(new PutObjectCommand({ Bucket, Key: 'r', Body: 'new' }));
      return page;
    };
    try {
      const r = await worker().runOnce();
      expect(r.skippedChanged).to.equal(1);
    } finally {
      backend.listObjects = list;
    }
    expect(await keys(srv.s3, Bucket)).to.deep.equal(['r']);
  });

  it("leaves a bucket while another replica's lease on it lasts", async () => {
    const Bucket = 'leased';
    used.push(Bucket);
    await srv.s3.send(new CreateBucketCommand({ Bucket }));
    await srv.s3.send(new PutObjectCommand({ Bucket, Key: 'x', Body: 'x' }));
    await srv.s3.send(
      new PutBucketLifecycleConfigurationCommand({
        Bucket,
        LifecycleConfiguration: { Rules: [{ ID: 'all', Filter: { Prefix: '' }, Status: 'Enabled', Expiration: { Days: 1 } }] },
      }),
    );
    clock += 3 * DAY;
    const area = new BucketView(router.resolve(Bucket)).reservedArea('test');
    const lease = JSON.stringify({ owner: 'another-replica', until: clock + 60_000 });
    await area.put('lifecycle/lease', Buffer.from(lease), { ifNoneMatch: '*' });
    const held = await worker().runOnce();
    expect(held).to.include({ leased: 1, expired: 0 });
    expect(await keys(srv.s3, Bucket)).to.deep.equal(['x']);
    clock += 120_000; // the other replica stopped renewing: its lease expired
    const taken = await worker().runOnce();
    expect(taken).to.include({ leased: 0, expired: 1 });
    expect(await keys(srv.s3, Bucket)).to.deep.equal([]);
  });

  it('aborts multipart uploads older than the rule allows', async () => {
    const Bucket = 'uploads';
    used.push(Bucket);
    await srv.s3.send(new CreateBucketCommand({ Bucket }));
    await srv.s3.send(new CreateMultipartUploadCommand({ Bucket, Key: 'up/one' }));
    await srv.s3.send(new CreateMultipartUploadCommand({ Bucket, Key: 'other/two' }));
    await srv.s3.send(
      new PutBucketLifecycleConfigurationCommand({
        Bucket,
        LifecycleConfiguration: {
          Rules: [{ ID: 'mpu', Filter: { Prefix: 'up/' }, Status: 'Enabled', AbortIncompleteMultipartUpload: { DaysAfterInitiation: 1 } }],
        },
      }),
    );
    clock += 3 * DAY;
    const r = await worker().runOnce();
    expect(r.aborted).to.equal(1);
    const left = await srv.s3.send(new ListMultipartUploadsCommand({ Bucket }));
    expect((left.Uploads ?? []).map((u) => u.Key)).to.deep.equal(['other/two']);
  });
});

describe('lifecycle worker: two processes on one fs store', function () {
  this.timeout(60_000);
  let dir: string;
  const children: ChildServer[] = [];
  before(async () => {
    dir = mkdtempSync(path.join(os.tmpdir(), 's3mux-lifecycle-'));
    for (let i = 0; i < 2; i++) {
      children.push(await startChildServer(dir, ['--lifecycle-interval', '300ms', '--lifecycle-test-day-length', '1s', '--metrics']));
    }
  });
  after(async () => {
    await Promise.all(children.map((c) => c.stop()));
    rmSync(dir, { recursive: true, force: true });
  });

  async function expiredCount(c: ChildServer): Promise<number> {
    const text = await (await fetch(`${c.url}/minio/v2/metrics/cluster`)).text();
    const m = /s3mux_lifecycle_objects_total\{action="expired"\} (\d+)/.exec(text);
    return m ? Number(m[1]) : 0;
  }

  it('expires each due object once, whichever replica gets there', async () => {
    const [a, b] = children;
    const Bucket = 'shared';
    await a.client.send(new CreateBucketCommand({ Bucket }));
    const N = 20;
    for (let i = 0; i < N; i++) await a.client.send(new PutObjectCommand({ Bucket, Key: `tmp/${String(i).padStart(2, '0')}`, Body: 'x' }));
    await a.client.send(new PutObjectCommand({ Bucket, Key: 'keep/me', Body: 'x' }));
    await b.client.send(
      new PutBucketLifecycleConfigurationCommand({
        Bucket,
        LifecycleConfiguration: { Rules: [{ ID: 'tmp', Filter: { Prefix: 'tmp/' }, Status: 'Enabled', Expiration: { Days: 1 } }] },
      }),
    );
    const deadline = Date.now() + 30_000;
    while ((await keys(a.client, Bucket)).length > 1 && Date.now() < deadline) await new Promise((r) => setTimeout(r, 250));
    expect(await keys(b.client, Bucket)).to.deep.equal(['keep/me']);
    // A worker adds its run's counts to the metrics when the run ends, which can be after its
    // last deletion is visible: wait for that run to end before adding the replicas' counts.
    const expired = async () => (await expiredCount(a)) + (await expiredCount(b));
    while ((await expired()) < N && Date.now() < deadline) await new Promise((r) => setTimeout(r, 250));
    // Together the replicas deleted each object once: no object was expired twice.
    expect(await expired()).to.equal(N);
  });
});
