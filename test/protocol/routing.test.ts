/** Routing tables through a running server: prefixes, read-only routes, the CLI's check and serve. */
import { execFile, spawn } from 'node:child_process';
import { mkdirSync, mkdtempSync, readFileSync, rmSync, statSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { promisify } from 'node:util';
import { expect } from 'chai';
import {
  CopyObjectCommand,
  CreateBucketCommand,
  DeleteObjectCommand,
  GetObjectCommand,
  ListBucketsCommand,
  ListObjectsV2Command,
  PutObjectCommand,
  S3Client,
} from '@aws-sdk/client-s3';
import { getSignedUrl } from '@aws-sdk/s3-request-presigner';
import { Router } from '../../src/router/router';
import { loadRoutingTable } from '../../src/router/config';
import { startTestServer, type TestServer } from '../helpers/server';
import { errorOf } from '../helpers/errors';

const CLI = path.resolve(__dirname, '../../src/cli.js');

describe('protocol: routing tables', () => {
  let dir: string;
  let srv: TestServer;
  before(async () => {
    dir = mkdtempSync(path.join(os.tmpdir(), 's3mux-routing-'));
    // An existing photo tree, served read-only through a prefix.
    mkdirSync(path.join(dir, 'srv/photos/2024/trip'), { recursive: true });
    mkdirSync(path.join(dir, 'srv/photos/2023'), { recursive: true });
    writeFileSync(path.join(dir, 'srv/photos/2024/a.jpg'), 'jpeg-a');
    writeFileSync(path.join(dir, 'srv/photos/2024/trip/b.jpg'), 'jpeg-b');
    writeFileSync(path.join(dir, 'srv/photos/2023/old.jpg'), 'old');
    writeFileSync(
      path.join(dir, 'table.yaml'),
      [
        'backends:',
        '  disk: { type: fs, root: ./data }',
        'default: disk',
        'routes:',
        '  photos:',
        `    target: file://${path.join(dir, 'srv/photos')}`,
        '    prefix: 2024/',
        '    readOnly: true',
        '  scratch:',
        `    target: memory://routing-${process.pid}/scratch`,
        '  drafts:',
        `    target: file://${path.join(dir, 'srv/photos')}`,
        '    prefix: drafts/',
        '',
      ].join('\n'),
    );
    srv = await startTestServer({ router: Router.fromTable(loadRoutingTable(path.join(dir, 'table.yaml'))) });
  });
  after(async () => {
    await srv.stop();
    rmSync(dir, { recursive: true, force: true });
  });

  it('shows the files under the prefix as keys without it', async () => {
    const r = await srv.s3.send(new ListObjectsV2Command({ Bucket: 'photos' }));
    expect(r.Contents?.map((c) => c.Key)).to.deep.equal(['a.jpg', 'trip/b.jpg']);
    const d = await srv.s3.send(new ListObjectsV2Command({ Bucket: 'photos', Delimiter: '/' }));
    expect(d.CommonPrefixes?.map((c) => c.Prefix)).to.deep.equal(['trip/']);
    const g = await srv.s3.send(new GetObjectCommand({ Bucket: 'photos', Key: 'trip/b.jpg' }));
    expect(await g.Body!.transformToString()).to.equal('jpeg-b');
    expect(g.ETag).to.match(/^"[0-9a-f]{32}"$/);
  });

  it('refuses writes on a read-only route with AccessDenied', async () => {
    expect((await errorOf(srv.s3.send(new PutObjectCommand({ Bucket: 'photos', Key: 'new.jpg', Body: 'x' })))).name).to.equal(
      'AccessDenied',
    );
    expect((await errorOf(srv.s3.send(new DeleteObjectCommand({ Bucket: 'photos', Key: 'a.jpg' })))).name).to.equal('AccessDenied');
    const still = await srv.s3.send(new GetObjectCommand({ Bucket: 'photos', Key: 'a.jpg' }));
    expect(await still.Body!.transformToString()).to.equal('jpeg-a');
  });

  it('writes through a writable prefix route onto the same folder', async () => {
    await srv.s3.send(new PutObjectCommand({ Bucket: 'drafts', Key: 'd1.txt', Body: 'draft' }));
    expect(readFileSync(path.join(dir, 'srv/photos/drafts/d1.txt'), 'utf8')).to.equal('draft');
    // The read-only view of 2024/ does not see it.
    const r = await srv.s3.send(new ListObjectsV2Command({ Bucket: 'photos' }));
    expect(r.Contents?.map((c) => c.Key)).to.not.include('d1.txt');
  });

  it('lists routed buckets with buckets of the default backend, and creates new ones there', async () => {
    await srv.s3.send(new CreateBucketCommand({ Bucket: 'fresh' }));
    const names = (await srv.s3.send(new ListBucketsCommand({}))).Buckets?.map((b) => b.Name);
    expect(names).to.include.members(['photos', 'drafts', 'fresh']);
    expect(statSync(path.join(dir, 'data/fresh')).isDirectory()).to.equal(true);
    expect((await errorOf(srv.s3.send(new CreateBucketCommand({ Bucket: 'photos' })))).name).to.be.oneOf([
      'AccessDenied',
      'BucketAlreadyOwnedByYou',
    ]);
  });

  it('copies between virtual buckets on different backends (fs to memory and back), streamed across', async () => {
    await srv.s3.send(new CreateBucketCommand({ Bucket: 'scratch' }));
    const big = Buffer.alloc(3 * 1024 * 1024, 'z');
    await srv.s3.send(
      new PutObjectCommand({ Bucket: 'drafts', Key: 'src.bin', Body: big, ContentType: 'application/x-src', Metadata: { from: 'fs' } }),
    );
    await srv.s3.send(new CopyObjectCommand({ Bucket: 'scratch', Key: 'copied.bin', CopySource: 'drafts/src.bin' }));
    const r = await srv.s3.send(new GetObjectCommand({ Bucket: 'scratch', Key: 'copied.bin' }));
    expect(r.ContentType).to.equal('application/x-src');
    expect(r.Metadata).to.deep.equal({ from: 'fs' });
    expect(Buffer.from(await r.Body!.transformToByteArray()).equals(big)).to.equal(true);
    await srv.s3.send(new CopyObjectCommand({ Bucket: 'drafts', Key: 'back.bin', CopySource: 'scratch/copied.bin' }));
    expect(readFileSync(path.join(dir, 'srv/photos/drafts/back.bin')).equals(big)).to.equal(true);
    // And into a read-only route: refused.
    expect(
      (await errorOf(srv.s3.send(new CopyObjectCommand({ Bucket: 'photos', Key: 'x', CopySource: 'scratch/copied.bin' })))).name,
    ).to.equal('AccessDenied');
  });

  it('serves presigned GET and PUT URLs', async () => {
    await srv.s3.send(new PutObjectCommand({ Bucket: 'fresh', Key: 'pre signed.txt', Body: 'presigned body' }));
    const getUrl = await getSignedUrl(srv.s3, new GetObjectCommand({ Bucket: 'fresh', Key: 'pre signed.txt' }), { expiresIn: 60 });
    const got = await fetch(getUrl);
    expect(got.status).to.equal(200);
    expect(await got.text()).to.equal('presigned body');
    const putUrl = await getSignedUrl(srv.presigner, new PutObjectCommand({ Bucket: 'fresh', Key: 'uploaded.txt' }), { expiresIn: 60 });
    const put = await fetch(putUrl, { method: 'PUT', body: 'via presigned put' });
    expect(put.status).to.equal(200);
    const back = await srv.s3.send(new GetObjectCommand({ Bucket: 'fresh', Key: 'uploaded.txt' }));
    expect(await back.Body!.transformToString()).to.equal('via presigned put');
    const tampered = await fetch(getUrl.replace('pre%20signed.txt', 'uploaded.txt'));
    expect(tampered.status).to.equal(403);
  });

  describe('the CLI', () => {
    it('`s3mux check` accepts a good table and names file, line and path for a bad one', async () => {
      const run = promisify(execFile);
      const ok = await run(process.execPath, [CLI, 'check', path.join(dir, 'table.yaml')]);
      expect(ok.stdout).to.contain('photos');
      const bad = path.join(dir, 'bad.yaml');
      writeFileSync(
        bad,
        'backends:\n  disk: { type: fs, root: ./d }\nroutes:\n  photos:\n    target: file:///x/y\n    prefix: 2024\n    readonly: true\n',
      );
      const err = await run(process.execPath, [CLI, 'check', bad]).then(
        () => undefined,
        (e: { code: number; stderr: string }) => e,
      );
      expect(err?.code).to.equal(1);
      expect(err?.stderr).to.contain(`${bad}:6:`);
      expect(err?.stderr).to.contain('routes.photos.prefix');
      expect(err?.stderr).to.contain('readOnly');
    });

    it('`s3mux serve --config` serves the table; credentials come from S3MUX_ROOT_*', async function () {
      const child = spawn(process.execPath, [CLI, 'serve', '--config', path.join(dir, 'table.yaml'), '--address', '127.0.0.1:0'], {
        env: { ...process.env, S3MUX_ROOT_USER: 'cliuser', S3MUX_ROOT_PASSWORD: 'clipassword' },
        stdio: ['ignore', 'pipe', 'pipe'],
      });
      try {
        const url = await new Promise<string>((resolve, reject) => {
          let out = '';
          const timer = setTimeout(() => reject(new Error(`no start-up line: ${out}`)), 10_000);
          child.stdout.on('data', (d: Buffer) => {
            out += d.toString();
            const m = /listening on (http:\/\/\S+)/.exec(out);
            if (m) {
              clearTimeout(timer);
              resolve(m[1]);
            }
          });
          child.on('exit', (code) => reject(new Error(`exited ${code}: ${out}`)));
        });
        const client = new S3Client({
          endpoint: url,
          region: 'us-east-1',
          forcePathStyle: true,
          credentials: { accessKeyId: 'cliuser', secretAccessKey: 'clipassword' },
        });
        const r = await client.send(new ListObjectsV2Command({ Bucket: 'photos' }));
        expect(r.Contents?.map((c) => c.Key)).to.deep.equal(['a.jpg', 'trip/b.jpg']);
        const wrong = new S3Client({
          endpoint: url,
          region: 'us-east-1',
          forcePathStyle: true,
          credentials: { accessKeyId: 'cliuser', secretAccessKey: 'nope' },
        });
        expect((await errorOf(wrong.send(new ListObjectsV2Command({ Bucket: 'photos' })))).name).to.equal('SignatureDoesNotMatch');
        client.destroy();
        wrong.destroy();
      } finally {
        child.kill('SIGTERM');
      }
    });
  });
});
