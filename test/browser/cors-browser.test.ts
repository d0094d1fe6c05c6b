/**
 * CORS in a real browser: headless Chromium (Debian's package) loads a page from one
 * 127.0.0.1 port that uploads to s3mux on another port with a presigned PUT, reads the ETag
 * the upload answered, and downloads the object with fetch(); a page from an origin the
 * bucket's rules do not allow sees its requests fail. Skipped where /usr/bin/chromium is not
 * installed, as the tests driving aws-cli, boto3 or s3cmd are where those are not.
 */
import { existsSync, mkdtempSync, rmSync } from 'node:fs';
import http from 'node:http';
import type { AddressInfo } from 'node:net';
import os from 'node:os';
import path from 'node:path';
import { expect } from 'chai';
import { chromium, type BrowserContext } from 'playwright-core';
import { CreateBucketCommand, GetObjectCommand, HeadObjectCommand, PutBucketCorsCommand, PutObjectCommand } from '@aws-sdk/client-s3';
import { getSignedUrl } from '@aws-sdk/s3-request-presigner';
import { startTestServer, type TestServer } from '../helpers/server';
import { errorOf } from '../helpers/errors';

const CHROMIUM = '/usr/bin/chromium';

/** The page: uploads with the presigned PUT, then downloads with the presigned GET, and reports what it saw. */
const PAGE = `<!doctype html><html><body><script>
(async () => {
  const q = new URLSearchParams(location.search);
  const result = {};
  try {
    const put = await fetch(q.get('put'), { method: 'PUT', body: 'made in the browser', headers: { 'Content-Type': 'text/plain' } });
    result.putStatus = put.status;
    result.etag = put.headers.get('ETag');
    const get = await fetch(q.get('get'));
    result.getStatus = get.status;
    result.body = await get.text();
  } catch (err) {
    result.error = String(err);
  }
  window.result = result;
})();
</script></body></html>`;

/** A static server for the page: another origin than s3mux's. */
async function pageServer(): Promise<{ origin: string; close: () => Promise<void> }> {
  const server = http.createServer((_req, res) => {
    res.writeHead(200, { 'Content-Type': 'text/html' });
    res.end(PAGE);
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  return {
    origin: `http://127.0.0.1:${(server.address() as AddressInfo).port}`,
    close: () =>
      new Promise<void>((resolve) => {
        server.closeAllConnections();
        server.close(() => resolve());
      }),
  };
}

describe('browser: CORS with presigned URLs in headless Chromium', function () {
  this.timeout(90_000);
  let srv: TestServer;
  let browser: BrowserContext;
  let profile: string;
  let allowed: Awaited<ReturnType<typeof pageServer>>;
  let other: Awaited<ReturnType<typeof pageServer>>;
  const Bucket = 'browser-uploads';

  before(async function () {
    if (!existsSync(CHROMIUM)) this.skip(); // skipped: Debian's chromium is not installed here (CI installs it)
    srv = await startTestServer();
    allowed = await pageServer();
    other = await pageServer();
    await srv.s3.send(new CreateBucketCommand({ Bucket }));
    await srv.s3.send(
      new PutBucketCorsCommand({
        Bucket,
        CORSConfiguration: {
          CORSRules: [{ AllowedOrigins: [allowed.origin], AllowedMethods: ['GET', 'PUT'], AllowedHeaders: ['*'], ExposeHeaders: ['ETag'] }],
        },
      }),
    );
    profile = mkdtempSync(path.join(os.tmpdir(), 's3mux-chromium-'));
    // Playwright takes the fresh profile folder itself (it refuses --user-data-dir in args).
    browser = await chromium.launchPersistentContext(profile, {
      executablePath: CHROMIUM,
      headless: true,
      args: [
        '--headless',
        '--no-sandbox',
        '--disable-gpu',
        '--disable-quic',
        '--no-first-run',
        '--disable-background-networking',
        '--disable-component-update',
        '--disable-sync',
      ],
    });
  });
  after(async () => {
    await browser?.close();
    await allowed?.close();
    await other?.close();
    await srv?.stop();
    if (profile) rmSync(profile, { recursive: true, force: true });
  });

  async function runPage(origin: string, key: string): Promise<Record<string, unknown>> {
    const put = await getSignedUrl(srv.presigner, new PutObjectCommand({ Bucket, Key: key }), { expiresIn: 300 });
    const get = await getSignedUrl(srv.s3, new GetObjectCommand({ Bucket, Key: key }), { expiresIn: 300 });
    const page = await browser.newPage();
    try {
      await page.goto(`${origin}/?put=${encodeURIComponent(put)}&get=${encodeURIComponent(get)}`);
      await page.waitForFunction(() => (globalThis as unknown as { result?: unknown }).result !== undefined, undefined, {
        timeout: 30_000,
      });
      return await page.evaluate(() => (globalThis as unknown as { result: Record<string, unknown> }).result);
    } finally {
      await page.close();
    }
  }

  it('uploads and downloads from an allowed origin, reading the ETag', async () => {
    const result = await runPage(allowed.origin, 'from-browser.txt');
    expect(result.error).to.equal(undefined);
    expect(result.putStatus).to.equal(200);
    const head = await srv.s3.send(new HeadObjectCommand({ Bucket, Key: 'from-browser.txt' }));
    expect(result.etag).to.equal(head.ETag);
    expect(result.getStatus).to.equal(200);
    expect(result.body).to.equal('made in the browser');
  });

  it('fails in the page when the rules do not allow its origin, and nothing is stored', async () => {
    const result = await runPage(other.origin, 'refused.txt');
    expect(result.error).to.match(/TypeError: Failed to fetch/);
    expect(result.putStatus).to.equal(undefined);
    expect((await errorOf(srv.s3.send(new HeadObjectCommand({ Bucket, Key: 'refused.txt' })))).name).to.equal('NotFound');
  });
});
