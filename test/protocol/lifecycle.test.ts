/**
 * The server's life as a process: graceful stop with an upload in flight (finished within the
 * grace period; cut at its end leaving nothing), hot reload of the routing table under traffic
 * (file change, SIGHUP, invalid tables), and the multipart sweeper's scope.
 */
import { createHash, randomBytes } from 'node:crypto';
import { existsSync, mkdtempSync, readdirSync, rmSync, writeFileSync } from 'node:fs';
import http from 'node:http';
import os from 'node:os';
import path from 'node:path';
import { Readable } from 'node:stream';
import { expect } from 'chai';
import {
  CreateBucketCommand,
  GetObjectCommand,
  HeadObjectCommand,
  ListObjectsV2Command,
  PutObjectCommand,
  S3Client,
} from '@aws-sdk/client-s3';
import { getSignedUrl } from '@aws-sdk/s3-request-presigner';
import { startChildServer, type ChildServer } from '../helpers/child-server';
import { waitForExit } from '../helpers/processes';
import { errorOf } from '../helpers/errors';
import { Router } from '../../src/router/router';
import { validateRoutingTable } from '../../src/router/config';
import { sweepOnce, sweepTargets } from '../../src/server/upload-sweeper';
import type { Backend } from '../../src/backends/types';

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

async function until(what: string, check: () => Promise<boolean> | boolean, timeoutMs = 8000): Promise<void> {
  const end = Date.now() + timeoutMs;
  while (Date.now() < end) {
    if (await check()) return;
    await sleep(100);
  }
  throw new Error(`timed out waiting for ${what}`);
}

function logEntries(child: ChildServer): Array<Record<string, unknown>> {
  return child
    .log()
    .split('\n')
    .filter((l) => l.startsWith('{'))
    .map((l) => JSON.parse(l) as Record<string, unknown>);
}

/**
 * Waits until the server counts `n` requests under way (its metrics listener, from the
 * banner): a connection whose request the server has not parsed yet is idle to it, and a
 * stop closes idle connections at once.
 */
async function untilInFlight(child: ChildServer, n: number): Promise<void> {
  const url = /^metrics: (http:\S+\/metrics)$/m.exec(child.log())?.[1];
  if (!url) throw new Error(`no metrics listener in: ${child.log()}`);
  await until(`${n} request(s) in flight`, async () =>
    new RegExp(`^s3mux_requests_in_flight ${n}$`, 'm').test(await (await fetch(url)).text()),
  );
}

/** A PUT through a presigned URL whose body the test writes by hand: `send` more, then `end`. */
function manualUpload(url: string, size: number) {
  const u = new URL(url);
  const req = http.request({
    host: u.hostname,
    port: u.port,
    path: u.pathname + u.search,
    method: 'PUT',
    headers: { 'content-length': String(size) },
    agent: false,
  });
  const answer = new Promise<{ status?: number; error?: string }>((resolve) => {
    req.on('response', (res) => {
      res.resume();
      res.on('end', () => resolve({ status: res.statusCode }));
    });
    req.on('error', (err) => resolve({ error: (err as NodeJS.ErrnoException).code ?? err.message }));
  });
  return { send: (b: Buffer) => new Promise<void>((r) => req.write(b, () => r())), end: () => req.end(), answer };
}

describe('protocol: graceful stop', function () {
  this.timeout(60_000);
  let dir: string;
  beforeEach(() => {
    dir = mkdtempSync(path.join(os.tmpdir(), 's3mux-stop-'));
  });
  afterEach(() => rmSync(dir, { recursive: true, force: true }));

  it('SIGTERM lets an upload in flight finish, refuses new connections, then exits 0', async () => {
    const child = await startChildServer(path.join(dir, 'data'), ['--shutdown-grace', '20s', '--metrics-address', '127.0.0.1:0']);
    const body = randomBytes(6 * 1024 * 1024);
    try {
      await child.client.send(new CreateBucketCommand({ Bucket: 'stop' }));
      const upload = manualUpload(
        await getSignedUrl(child.presigner, new PutObjectCommand({ Bucket: 'stop', Key: 'big.bin' }), { expiresIn: 300 }),
        body.length,
      );
      await upload.send(body.subarray(0, 2 * 1024 * 1024));
      await untilInFlight(child, 1);
      child.process.kill('SIGTERM');
      await until('the stop to begin', () => child.log().includes('shutting down'));
      // New connections are refused while the upload goes on.
      const probe = await fetch(`${child.url}/healthz`).then(
        (r) => r.status,
        (e: Error) => (e.cause as NodeJS.ErrnoException)?.code ?? e.message,
      );
      expect(probe).to.equal('ECONNREFUSED');
      for (let off = 2; off < 6; off++) {
        await sleep(250);
        await upload.send(body.subarray(off * 1024 * 1024, (off + 1) * 1024 * 1024));
      }
      upload.end();
      expect(await upload.answer).to.deep.equal({ status: 200 });
      expect(await waitForExit(child.process, 10_000)).to.equal(true);
      expect(child.process.exitCode).to.equal(0);
    } finally {
      await child.stop('SIGKILL');
    }
    // The object is whole after a restart.
    const again = await startChildServer(path.join(dir, 'data'));
    try {
      const got = await again.client.send(new GetObjectCommand({ Bucket: 'stop', Key: 'big.bin' }));
      const bytes = Buffer.from(await got.Body!.transformToByteArray());
      expect(createHash('md5').update(bytes).digest('hex')).to.equal(createHash('md5').update(body).digest('hex'));
    } finally {
      await again.stop();
    }
  });

  it('an upload still running at the end of the grace period is cut: nothing visible, no temp files, exit 0', async () => {
    const child = await startChildServer(path.join(dir, 'data'), ['--shutdown-grace', '1s', '--metrics-address', '127.0.0.1:0']);
    try {
      await child.client.send(new CreateBucketCommand({ Bucket: 'stop' }));
      const upload = manualUpload(
        await getSignedUrl(child.presigner, new PutObjectCommand({ Bucket: 'stop', Key: 'cut.bin' }), { expiresIn: 300 }),
        8 * 1024 * 1024,
      );
      await upload.send(randomBytes(3 * 1024 * 1024));
      await untilInFlight(child, 1);
      const start = Date.now();
      child.process.kill('SIGTERM');
      expect(await waitForExit(child.process, 15_000)).to.equal(true);
      expect(Date.now() - start).to.be.within(900, 12_000);
      expect(child.process.exitCode).to.equal(0);
      expect((await upload.answer).error).to.be.a('string');
      expect(child.log()).to.contain('cutting the requests still under way');
    } finally {
      await child.stop('SIGKILL');
    }
    const tmp = path.join(dir, 'data', '.s3mux', 'tmp');
    expect(existsSync(tmp) ? readdirSync(tmp) : []).to.deep.equal([]);
    const again = await startChildServer(path.join(dir, 'data'));
    try {
      const err = await errorOf(again.client.send(new HeadObjectCommand({ Bucket: 'stop', Key: 'cut.bin' })));
      expect(err.$metadata.httpStatusCode).to.equal(404);
      expect((await again.client.send(new ListObjectsV2Command({ Bucket: 'stop' }))).KeyCount).to.equal(0);
    } finally {
      await again.stop();
    }
  });
});

describe('protocol: hot reload of the routing table', function () {
  this.timeout(60_000);
  let dir: string;
  let child: ChildServer;
  const table = (routes: string[], extra: string[] = []) =>
    ['backends:', '  disk: { type: fs, root: ./data }', 'default: disk', 'routes:', ...routes, ...extra, ''].join('\n');
  const ALPHA = ['  alpha: { bucket: real }'];
  const BETA = ['  beta: { bucket: real, readOnly: true }'];
  const identity = [
    'identities:',
    '  bob:',
    '    accessKeyId: BOBKEY',
    '    secretAccessKeyFile: ./bob-secret',
    '    policy:',
    '      - { buckets: ["*"], allow: [read, list] }',
  ];

  before(async () => {
    dir = mkdtempSync(path.join(os.tmpdir(), 's3mux-reload-'));
    writeFileSync(path.join(dir, 'bob-secret'), 'bob-secret-one\n');
    writeFileSync(path.join(dir, 'table.yaml'), table(ALPHA, identity));
    child = await startChildServer(path.join(dir, 'unused'), ['--config', path.join(dir, 'table.yaml')]);
    await child.client.send(new CreateBucketCommand({ Bucket: 'real' }));
    await child.client.send(new PutObjectCommand({ Bucket: 'alpha', Key: 'obj', Body: 'payload' }));
  });
  after(async () => {
    await child?.stop();
    rmSync(dir, { recursive: true, force: true });
  });

  it('applies a changed file, keeps the old table when the new one is invalid, and re-reads secrets on SIGHUP, all without failing a request', async () => {
    // Traffic on keep-alive connections for the whole test.
    let stop = false;
    let ok = 0;
    const failures: string[] = [];
    const traffic = (async () => {
      while (!stop) {
        try {
          const got = await child.client.send(new GetObjectCommand({ Bucket: 'alpha', Key: 'obj' }));
          if ((await got.Body!.transformToString()) === 'payload') ok++;
          else failures.push('wrong body');
        } catch (err) {
          failures.push((err as Error).message);
        }
      }
    })();
    const getBeta = () =>
      child.client.send(new GetObjectCommand({ Bucket: 'beta', Key: 'obj' })).then(
        () => true,
        () => false,
      );
    try {
      expect(await getBeta()).to.equal(false);
      // 1. A valid change: beta appears.
      writeFileSync(path.join(dir, 'table.yaml'), table([...ALPHA, ...BETA], identity));
      await until('beta to be routed', getBeta);
      // Info lines reach stdout up to 20 ms after they are logged (the batched access log).
      await until('the reload to be logged', () => logEntries(child).some((e) => e.msg === 'routing table reloaded'));
      expect(logEntries(child).find((e) => e.msg === 'routing table reloaded')).to.include({ reason: 'file changed', routes: 2 });

      // 2. An invalid table: its problems are logged, beta keeps working.
      writeFileSync(path.join(dir, 'table.yaml'), table([...ALPHA, ...BETA, '  Bad_Bucket: { bucket: real, readOnly: maybe }'], identity));
      await until('the rejection to be logged', () => logEntries(child).some((e) => e.level === 'error'));
      const rejected = logEntries(child).find((e) => e.level === 'error')!;
      expect(rejected.msg).to.contain('not reloaded');
      expect((rejected.problems as string[]).join('\n')).to.match(/table\.yaml:\d+:\d+: routes\.Bad_Bucket/);
      expect(await getBeta()).to.equal(true);

      // 3. SIGHUP re-reads the secrets the table names.
      const bob = (secret: string) =>
        new S3Client({
          endpoint: child.url,
          region: 'us-east-1',
          forcePathStyle: true,
          credentials: { accessKeyId: 'BOBKEY', secretAccessKey: secret },
          maxAttempts: 1,
        });
      const asBob = (secret: string) =>
        bob(secret)
          .send(new GetObjectCommand({ Bucket: 'alpha', Key: 'obj' }))
          .then(
            () => 'ok',
            (e: Error) => e.name,
          );
      expect(await asBob('bob-secret-one')).to.equal('ok');
      writeFileSync(path.join(dir, 'table.yaml'), table([...ALPHA, ...BETA], identity));
      await until('the valid table to be back', () => logEntries(child).filter((e) => e.msg === 'routing table reloaded').length >= 2);
      writeFileSync(path.join(dir, 'bob-secret'), 'bob-secret-two\n');
      child.process.kill('SIGHUP');
      await until('the SIGHUP reload', () => logEntries(child).some((e) => e.msg === 'routing table reloaded' && e.reason === 'SIGHUP'));
      expect(await asBob('bob-secret-two')).to.equal('ok');
      expect(await asBob('bob-secret-one')).to.equal('SignatureDoesNotMatch');
      expect(child.process.exitCode).to.equal(null);
    } finally {
      stop = true;
      await traffic;
    }
    expect(failures).to.deep.equal([]);
    expect(ok).to.be.greaterThan(20);
  });
});

describe('protocol: the multipart sweeper touches only what the table routes writes to', () => {
  let dir: string;
  let router: Router;
  before(() => {
    dir = mkdtempSync(path.join(os.tmpdir(), 's3mux-sweep-'));
    router = Router.fromTable(
      validateRoutingTable(
        {
          backends: { disk: { type: 'fs', root: './default' }, shared: { type: 'fs', root: './shared' } },
          default: 'disk',
          routes: {
            // A store shared with other applications: s3mux may write under app/ of one bucket only.
            'app-data': { backend: 'shared', bucket: 'common', prefix: 'app/' },
            archive: { backend: 'shared', bucket: 'archive', readOnly: true },
            // Hides the default backend's bucket of the same name.
            hidden: { backend: 'shared', bucket: 'common', prefix: 'app/hidden/' },
          },
        },
        { baseDir: dir },
      ),
    );
  });
  after(async () => {
    await router.close();
    rmSync(dir, { recursive: true, force: true });
  });

  async function upload(b: Backend, bucket: string, key: string): Promise<void> {
    await b.createBucket(bucket).catch(() => undefined);
    const id = await b.multipart!.createUpload(bucket, key, { userMetadata: {} });
    await b.multipart!.uploadPart(bucket, key, id, 1, Readable.from([Buffer.from('part')]));
  }
  const keys = async (b: Backend, bucket: string) =>
    (await b.multipart!.listUploads(bucket, { prefix: '', maxUploads: 1000 })).uploads.map((u) => u.key).sort();

  it("sweeps writable routes inside their prefix and the default backend's reachable buckets; never read-only routes or other applications' uploads", async () => {
    const shared = router.resolve('app-data').backend;
    const disk = router.defaultBackend;
    await upload(shared, 'common', 'app/mine');
    await upload(shared, 'common', 'other-app/theirs');
    await upload(shared, 'archive', 'app/read-only-route');
    await upload(shared, 'unrouted', 'someone-elses');
    await upload(disk, 'plain', 'reachable');
    await upload(disk, 'hidden', 'shadowed-by-a-route');

    const targets = sweepTargets(router);
    expect(targets.map((t) => `${t.backendName}:${t.bucket ?? '*'}/${t.prefix}`)).to.deep.equal([
      'shared:common/app/',
      'shared:common/app/hidden/',
      'disk:*/',
    ]);
    // Nothing is old enough yet; the open uploads in scope are counted.
    const early = await sweepOnce(targets, 3600_000);
    expect(early).to.include({ removed: 0, failed: false });
    expect(Object.fromEntries(early.open)).to.deep.equal({ shared: 1, disk: 1 });

    const report = await sweepOnce(targets, 3600_000, Date.now() + 2 * 3600_000);
    expect(report).to.include({ removed: 2, failed: false });
    expect(await keys(shared, 'common')).to.deep.equal(['other-app/theirs']);
    expect(await keys(shared, 'archive')).to.deep.equal(['app/read-only-route']);
    expect(await keys(shared, 'unrouted')).to.deep.equal(['someone-elses']);
    expect(await keys(disk, 'plain')).to.deep.equal([]);
    expect(await keys(disk, 'hidden')).to.deep.equal(['shadowed-by-a-route']);
  });
});
