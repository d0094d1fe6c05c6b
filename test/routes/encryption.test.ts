/**
 * SSE-S3 on routes over several stores: a mirror, failover or migration route promises only what
 * its weakest target does. A route with a plain fs folder among its targets refuses SSE-S3 and
 * says nothing of encryption; one whose targets all encrypt says AES256 on every object answer.
 */
import { expect } from 'chai';
import { existsSync, mkdtempSync, readdirSync, rmSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { CopyObjectCommand, CreateMultipartUploadCommand, HeadObjectCommand, PutObjectCommand } from '@aws-sdk/client-s3';
import { validateRoutingTable } from '../../src/router/config';
import { Router } from '../../src/router/router';
import { startTestServer, type TestServer } from '../helpers/server';
import { expectSdkError } from '../helpers/errors';

describe('routes over several stores: SSE-S3 only where every target encrypts', function () {
  this.timeout(60_000);
  let dir: string;
  let plain: TestServer;
  let encrypted: TestServer;
  const sse = { ServerSideEncryption: 'AES256' as const };

  function router(): Router {
    const table = validateRoutingTable(
      {
        routes: {
          'plain-mirror': { mirror: [`file://${dir}/a/plain-mirror`, `file://${dir}/b/plain-mirror`], mode: 'sync' },
          'mixed-failover': { failover: ['memory://enc/mixed-failover', `file://${dir}/c/mixed-failover`] },
          'mixed-migrate': { migrate: { from: `file://${dir}/d/mixed-migrate`, to: 'memory://enc/mixed-migrate', copy: false } },
          'memory-mirror': { mirror: ['memory://enc/memory-mirror-a', 'memory://enc2/memory-mirror-b'], mode: 'sync' },
        },
      },
      { baseDir: dir, defaultDataDir: path.join(dir, 'default') },
    );
    return Router.fromTable(table);
  }

  before(async () => {
    dir = mkdtempSync(path.join(os.tmpdir(), 's3mux-route-sse-'));
    // The same folders behind both servers; the memory stores may be each router's own.
    const routers = [router(), router()];
    for (const rt of routers) for (const r of rt.explicitRoutes()) await r.form!.createBucket().catch(() => {});
    plain = await startTestServer({ router: routers[0] });
    encrypted = await startTestServer({ router: routers[1], fsEncryptedAtRest: true });
  });
  after(async () => {
    await plain?.stop();
    await encrypted?.stop();
    rmSync(dir, { recursive: true, force: true });
  });

  /** The object files under a target folder (s3mux's own state aside). */
  const filesIn = (folder: string) => (existsSync(folder) ? readdirSync(folder).filter((n) => !n.startsWith('.')) : []);

  for (const Bucket of ['plain-mirror', 'mixed-failover', 'mixed-migrate']) {
    it(`${Bucket}: a target is a plain fs folder, so SSE-S3 is refused and no answer claims it`, async () => {
      await expectSdkError(plain.s3.send(new PutObjectCommand({ Bucket, Key: 'secret', Body: 's', ...sse })), 'NotImplemented');
      await expectSdkError(plain.s3.send(new CreateMultipartUploadCommand({ Bucket, Key: 'big', ...sse })), 'NotImplemented');
      const put = await plain.s3.send(new PutObjectCommand({ Bucket, Key: 'open', Body: 'o' }));
      expect(put.ServerSideEncryption).to.equal(undefined);
      expect((await plain.s3.send(new HeadObjectCommand({ Bucket, Key: 'open' }))).ServerSideEncryption).to.equal(undefined);
      await expectSdkError(
        plain.s3.send(new CopyObjectCommand({ Bucket, Key: 'copied', CopySource: `${Bucket}/open`, ...sse })),
        'NotImplemented',
      );
      await expectSdkError(plain.s3.send(new HeadObjectCommand({ Bucket, Key: 'secret' })), 'NotFound');
    });
  }

  it('plain-mirror: the refused write reached neither folder', () => {
    expect(filesIn(path.join(dir, 'a', 'plain-mirror'))).to.deep.equal(['open']);
    expect(filesIn(path.join(dir, 'b', 'plain-mirror'))).to.deep.equal(['open']);
  });

  it('a route whose targets all encrypt says AES256 on every object answer, asked or not', async () => {
    for (const Bucket of ['memory-mirror', 'mixed-failover', 'plain-mirror']) {
      const asked = await encrypted.s3.send(new PutObjectCommand({ Bucket, Key: 'asked', Body: 'a', ...sse }));
      const unasked = await encrypted.s3.send(new PutObjectCommand({ Bucket, Key: 'unasked', Body: 'u' }));
      const head = await encrypted.s3.send(new HeadObjectCommand({ Bucket, Key: 'unasked' }));
      expect(
        [asked, unasked, head].map((r) => r.ServerSideEncryption),
        Bucket,
      ).to.deep.equal(['AES256', 'AES256', 'AES256']);
    }
    // Without --fs-encrypted-at-rest the memory-only route still encrypts every object.
    const put = await plain.s3.send(new PutObjectCommand({ Bucket: 'memory-mirror', Key: 'unasked', Body: 'u' }));
    expect(put.ServerSideEncryption).to.equal('AES256');
  });
});
