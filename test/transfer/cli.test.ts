/**
 * `s3mux cp` and `s3mux sync` as a user runs them (a child process, JSON lines on a pipe)
 * between real stores: fs folders, a second s3mux serving S3, Azurite, a store that fails
 * part way (then `--resume` finishes), and a source whose bytes no longer match its ETag.
 */
import { execFile, execFileSync } from 'node:child_process';
import { createHash } from 'node:crypto';
import { mkdirSync, mkdtempSync, readFileSync, rmSync, statSync, writeFileSync } from 'node:fs';
import http from 'node:http';
import type { AddressInfo } from 'node:net';
import os from 'node:os';
import path from 'node:path';
import { GetObjectCommand, GetObjectTaggingCommand, HeadObjectCommand, ListObjectsV2Command, PutObjectCommand } from '@aws-sdk/client-s3';
import { expect } from 'chai';
import { startTestServer, ACCESS_KEY, SECRET_KEY, type TestServer } from '../helpers/server';
import { Router } from '../../src/router/router';
import { startAzurite, type Azurite } from '../helpers/azurite';
import { AzureBackend } from '../../src/backends/azure';

const CLI = path.resolve(__dirname, '../../src/cli.js');

interface Run {
  code: number;
  lines: Record<string, unknown>[];
  stderr: string;
}

function s3mux(args: string[], env: NodeJS.ProcessEnv = {}): Promise<Run> {
  return new Promise((resolve) => {
    execFile(
      process.execPath,
      [CLI, ...args],
      { env: { PATH: process.env.PATH, ...env }, maxBuffer: 64 * 1024 * 1024 },
      (err, stdout, stderr) => {
        const code = err ? ((err as { code?: number }).code ?? 1) : 0;
        const lines = stdout
          .split('\n')
          .filter(Boolean)
          .map((l) => JSON.parse(l) as Record<string, unknown>);
        resolve({ code, lines, stderr });
      },
    );
  });
}

const done = (r: Run) => r.lines.find((l) => l.type === 'done') as Record<string, unknown> & { errors: { key: string; error: string }[] };
const objects = (r: Run) => r.lines.filter((l) => l.type === 'object');

function writeTree(root: string, files: Record<string, string | Buffer>): void {
  for (const [rel, body] of Object.entries(files)) {
    mkdirSync(path.dirname(path.join(root, rel)), { recursive: true });
    writeFileSync(path.join(root, rel), body);
  }
}

describe('s3mux cp / sync', function () {
  this.timeout(60_000);
  let dir: string;
  beforeEach(() => {
    dir = mkdtempSync(path.join(os.tmpdir(), 'cp-cli-'));
  });
  afterEach(() => rmSync(dir, { recursive: true, force: true }));

  it('cp between fs folders, then sync: equal objects skipped, --include/--exclude, --delete, --dry-run, exit 0', async () => {
    writeTree(path.join(dir, 'a', 'photos'), { 'x.jpg': 'x', 'raw/y.cr2': 'yy', 'notes.txt': 'n' });
    const src = `file://${dir}/a/photos`;
    const dst = `file://${dir}/b/photos`;
    const first = await s3mux(['cp', src, dst, '--exclude', 'raw/*']);
    expect(first.code).to.equal(0);
    expect(done(first)).to.include({ copied: 2, failed: 0 });
    expect(readFileSync(path.join(dir, 'b', 'photos', 'x.jpg'), 'utf8')).to.equal('x');

    writeTree(path.join(dir, 'b', 'photos'), { 'stale.txt': 'old' });
    const dry = await s3mux(['sync', src, dst, '--delete', '--dry-run']);
    expect(dry.code).to.equal(0);
    expect(done(dry)).to.include({ copied: 1, skipped: 2, deleted: 1, dryRun: true });
    expect(readFileSync(path.join(dir, 'b', 'photos', 'stale.txt'), 'utf8')).to.equal('old');

    const sync = await s3mux(['sync', src, dst, '--delete', '--exclude', '*', '--include', '*.txt']);
    expect(sync.code).to.equal(0);
    expect(done(sync)).to.include({ copied: 0, skipped: 1, deleted: 1 });
    expect(objects(sync).map((o) => [o.key, o.action])).to.have.deep.members([
      ['notes.txt', 'skipped'],
      ['stale.txt', 'deleted'],
    ]);
    const usage = await s3mux(['sync', src]);
    expect(usage.code).to.equal(2);
    expect(usage.stderr).to.match(/takes SRC and DST/);
  });

  describe('onto a second s3mux serving S3', () => {
    let upstream: TestServer;
    let proxy: http.Server;
    let failing: { puts: number; failAfter: number } = { puts: 0, failAfter: Infinity };
    let table: string;

    before(async () => {
      upstream = await startTestServer({ router: Router.defaultFor(mkdtempSync(path.join(os.tmpdir(), 'cp-up-'))) });
      // A store that fails part way: the proxy answers 503 to PUTs after `failAfter` of them went through.
      proxy = http.createServer((req, res) => {
        if (req.method === 'PUT' && ++failing.puts > failing.failAfter) {
          req.resume();
          res.writeHead(503, { 'content-type': 'application/xml' });
          res.end('<?xml version="1.0" encoding="UTF-8"?><Error><Code>ServiceUnavailable</Code><Message>down</Message></Error>');
          return;
        }
        const up = http.request(upstream.url + req.url, { method: req.method, headers: req.headers }, (r) => {
          res.writeHead(r.statusCode ?? 500, r.headers);
          r.pipe(res);
        });
        up.on('error', () => res.destroy());
        req.pipe(up);
      });
      await new Promise<void>((r) => proxy.listen(0, '127.0.0.1', r));
    });
    after(async () => {
      await new Promise((r) => proxy.close(r));
      await upstream.stop();
    });
    beforeEach(async () => {
      failing = { puts: 0, failAfter: Infinity };
      const bucket = `b${Date.now()}`;
      table = path.join(dir, 'table.yaml');
      writeFileSync(
        table,
        [
          'backends:',
          '  up:',
          '    type: s3',
          `    endpoint: http://127.0.0.1:${(proxy.address() as AddressInfo).port}`,
          '    region: us-east-1',
          '    forcePathStyle: true',
          '    credentials: { accessKeyIdEnv: UP_KEY, secretAccessKeyEnv: UP_SECRET }',
          'default: up',
          'routes:',
          `  site: s3://${bucket}/www/`,
        ].join('\n'),
      );
      await upstream.s3.send(new PutObjectCommand({ Bucket: 'seed', Key: 'x', Body: 'x' })).catch(() => {});
      process.env.CP_TEST_BUCKET = bucket;
    });
    const env = { UP_KEY: ACCESS_KEY, UP_SECRET: SECRET_KEY };

    it('copies fs → s3 URI and route: endpoints with metadata, tags and multipart; s3 → s3 is server-side', async () => {
      const bucket = process.env.CP_TEST_BUCKET!;
      const big = Buffer.alloc(11 * 1024 * 1024, 3);
      writeTree(path.join(dir, 'src', 'site'), { 'index.html': '<h1>hi</h1>', 'img/big.bin': big });
      const r = await s3mux(
        ['cp', `file://${dir}/src/site`, 'route:site/', '--config', table, '--multipart-threshold', '8MiB', '--part-size', '5MiB'],
        env,
      );
      expect(r.code, r.stderr + JSON.stringify(done(r))).to.equal(0);
      expect(objects(r).map((o) => [o.key, o.how])).to.have.deep.members([
        ['index.html', 'stream'],
        ['img/big.bin', 'multipart'],
      ]);
      const head = await upstream.s3.send(new HeadObjectCommand({ Bucket: bucket, Key: 'www/img/big.bin' }));
      expect(head.ETag).to.match(/-3"$/);
      const got = await upstream.s3.send(new GetObjectCommand({ Bucket: bucket, Key: 'www/img/big.bin' }));
      const bytes = Buffer.from(await got.Body!.transformToByteArray());
      expect(createHash('md5').update(bytes).digest('hex')).to.equal(createHash('md5').update(big).digest('hex'));

      await upstream.s3.send(
        new PutObjectCommand({
          Bucket: bucket,
          Key: 'www/meta.txt',
          Body: 'm',
          ContentType: 'text/x-meta',
          Metadata: { owner: 'ann' },
          Tagging: 'team=blue',
        }),
      );
      const s2s = await s3mux(['sync', `s3://${bucket}/www/`, `s3://${bucket}/copy/`, '--config', table], env);
      expect(s2s.code, s2s.stderr).to.equal(0);
      expect(new Set(objects(s2s).map((o) => o.how))).to.deep.equal(new Set(['server-side']));
      const meta = await upstream.s3.send(new HeadObjectCommand({ Bucket: bucket, Key: 'copy/meta.txt' }));
      expect(meta).to.include({ ContentType: 'text/x-meta' });
      expect(meta.Metadata).to.deep.equal({ owner: 'ann' });
      const back = await s3mux(['cp', `s3://${bucket}/copy/`, `file://${dir}/back/site`, '--config', table], env);
      expect(back.code, back.stderr).to.equal(0);
      expect(readFileSync(path.join(dir, 'back', 'site', 'meta.txt'), 'utf8')).to.equal('m');
      const tags = await upstream.s3.send(new GetObjectTaggingCommand({ Bucket: bucket, Key: 'copy/meta.txt' }));
      expect(tags.TagSet).to.deep.equal([{ Key: 'team', Value: 'blue' }]);
    });

    it('a store that fails part way: retries, then a non-zero exit; --resume finishes the job', async () => {
      const bucket = process.env.CP_TEST_BUCKET!;
      const files: Record<string, string> = {};
      for (let i = 0; i < 30; i++) files[`f${String(i).padStart(2, '0')}.txt`] = `body ${i}`;
      writeTree(path.join(dir, 'src', 'many'), files);
      const checkpoint = path.join(dir, 'resume.json');
      failing.failAfter = 12;
      const args = [
        'cp',
        `file://${dir}/src/many`,
        `s3://${bucket}/many/`,
        '--config',
        table,
        '--resume',
        checkpoint,
        '--retries',
        '2',
        '--concurrency',
        '2',
      ];
      const first = await s3mux(args, env);
      expect(first.code).to.equal(1);
      const summary = done(first);
      expect(summary.failed).to.be.greaterThan(0);
      expect(first.lines.some((l) => l.type === 'retry')).to.equal(true);
      expect(summary.errors[0].error).to.match(/ServiceUnavailable/);
      const cp = JSON.parse(readFileSync(checkpoint, 'utf8')) as { failed: string[]; complete: boolean };
      expect(cp.failed.length).to.equal(summary.failed);

      failing.failAfter = Infinity;
      const second = await s3mux(args, env);
      expect(second.code, JSON.stringify(done(second))).to.equal(0);
      // Only the keys that had failed are written again.
      expect(done(second).copied).to.equal(summary.failed);
      const listed = await upstream.s3.send(new ListObjectsV2Command({ Bucket: bucket, Prefix: 'many/' }));
      expect(listed.KeyCount).to.equal(30);
      for (const [name, body] of Object.entries(files)) {
        const o = await upstream.s3.send(new GetObjectCommand({ Bucket: bucket, Key: `many/${name}` }));
        expect(await o.Body!.transformToString()).to.equal(body);
      }
    });
  });

  it('a source whose bytes differ from its recorded ETag is reported and not written', async () => {
    // Write through s3mux's fs backend, then change the file behind its back. Over 64 KiB, so its
    // ETag is recorded in a sidecar: a smaller object with nothing else to record has none (a bare
    // object, whose ETag is the MD5 of its bytes as they are; README, "The filesystem backend").
    const size = 64 * 1024 + 1;
    writeTree(path.join(dir, 'a', 'docs'), { 'ok.txt': 'fine', 'bad.txt': 'o'.repeat(size) });
    const warm = await s3mux(['cp', `file://${dir}/a/docs`, `file://${dir}/b/docs`]);
    expect(warm.code).to.equal(0);
    // Bit rot: same inode, same size, same modification time, different bytes.
    const bad = path.join(dir, 'b', 'docs', 'bad.txt');
    const { mtimeNs } = statSync(bad, { bigint: true });
    writeFileSync(bad, 't'.repeat(size));
    const ns = String(mtimeNs % 1_000_000_000n).padStart(9, '0');
    execFileSync('touch', ['-m', '-d', `@${mtimeNs / 1_000_000_000n}.${ns}`, bad]);
    const r = await s3mux(['cp', `file://${dir}/b/docs`, `file://${dir}/c/docs`]);
    expect(r.code).to.equal(1);
    expect(done(r).errors).to.have.length(1);
    expect(done(r).errors[0].key).to.equal('bad.txt');
    expect(done(r).errors[0].error).to.match(/MD5 .* differs from the source ETag/);
    expect(readFileSync(path.join(dir, 'c', 'docs', 'ok.txt'), 'utf8')).to.equal('fine');
    expect(() => readFileSync(path.join(dir, 'c', 'docs', 'bad.txt'))).to.throw(/ENOENT/);
  });

  describe('onto Azurite', () => {
    let azurite: Azurite;
    before(async function () {
      this.timeout(60_000);
      azurite = await startAzurite();
    });
    after(async () => azurite?.stop());

    it('fs → az:// and back, content headers and metadata carried', async () => {
      writeTree(path.join(dir, 'a', 'logs'), { 'x/1.log': 'one', 'x/2.log': 'two' });
      const table = path.join(dir, 't.yaml');
      writeFileSync(
        table,
        [
          'backends:',
          '  az:',
          '    type: azure',
          `    account: ${azurite.account}`,
          `    endpoint: ${azurite.endpoint}`,
          '    credentials: { accountKeyEnv: AZ_KEY }',
          'default: az',
        ].join('\n'),
      );
      const env = { AZ_KEY: azurite.accountKey };
      const up = await s3mux(['cp', `file://${dir}/a/logs`, 'az://logs/2026/', '--config', table], env);
      expect(up.code, up.stderr + JSON.stringify(done(up))).to.equal(0);
      expect(done(up)).to.include({ copied: 2 });
      const az = new AzureBackend({ account: azurite.account, endpoint: azurite.endpoint, accountKey: azurite.accountKey });
      const meta = await az.headObject('logs', '2026/x/1.log');
      expect(meta.size).to.equal(3);
      const again = await s3mux(['sync', `file://${dir}/a/logs`, 'az://logs/2026/', '--config', table], env);
      expect(done(again)).to.include({ copied: 0, skipped: 2 });
      const down = await s3mux(['sync', 'az://logs/2026/', `file://${dir}/down/logs`, '--config', table], env);
      expect(down.code, down.stderr).to.equal(0);
      expect(readFileSync(path.join(dir, 'down', 'logs', 'x', '2.log'), 'utf8')).to.equal('two');
      await az.close?.();
    });
  });
});
