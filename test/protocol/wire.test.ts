/** The wire protocol around the operations: addressing, TLS, errors, hostile input. */
import { createHash } from 'node:crypto';
import { readdirSync, rmSync, statSync } from 'node:fs';
import http from 'node:http';
import https from 'node:https';
import net from 'node:net';
import path from 'node:path';
import { expect } from 'chai';
import { CreateBucketCommand, GetObjectCommand, ListObjectsV2Command, PutObjectCommand, S3Client } from '@aws-sdk/client-s3';
import { NodeHttpHandler } from '@smithy/node-http-handler';
import { tempFiles } from '../helpers/fs-temps';
import { startTestServer, ACCESS_KEY, SECRET_KEY, type TestServer } from '../helpers/server';
import { signedFetch, signer } from '../helpers/sign';
import { exchange } from '../helpers/hostile-wire';
import { makeSelfSignedCert, type TestCert } from '../helpers/tls';

const CREDS = { accessKeyId: ACCESS_KEY, secretAccessKey: SECRET_KEY };

/** Every path under dir (files and folders). */
function walk(dir: string): string[] {
  const out: string[] = [];
  for (const name of readdirSync(dir)) {
    const p = path.join(dir, name);
    out.push(p);
    if (statSync(p).isDirectory()) out.push(...walk(p));
  }
  return out;
}

/** Resolves every name (here *.s3.test) to 127.0.0.1. */
function loopbackLookup(_host: string, opts: { all?: boolean }, cb: (...args: unknown[]) => void): void {
  if (opts.all) cb(null, [{ address: '127.0.0.1', family: 4 }]);
  else cb(null, '127.0.0.1', 4);
}

describe('protocol: wire', () => {
  describe('over plain HTTP', () => {
    let srv: TestServer;
    before(async () => {
      srv = await startTestServer({ domains: ['s3.test'] });
      await srv.s3.send(new CreateBucketCommand({ Bucket: 'wire' }));
    });
    after(async () => {
      await srv.stop();
    });

    it('answers errors as S3 error XML with Code, Message, Resource, RequestId and x-amz-request-id', async () => {
      const r = await signedFetch(srv.url, CREDS, 'GET', '/wire/missing%20key');
      expect(r.status).to.equal(404);
      expect(r.headers['content-type']).to.equal('application/xml');
      expect(r.text).to.match(/^<\?xml version="1.0" encoding="UTF-8"\?>\n<Error><Code>NoSuchKey<\/Code><Message>[^<]+<\/Message>/);
      expect(r.text).to.contain('<Resource>/wire/missing%20key</Resource>');
      const id = r.headers['x-amz-request-id'];
      expect(id).to.match(/^[0-9A-F]{16}$/);
      expect(r.text).to.contain(`<RequestId>${String(id)}</RequestId>`);
    });

    it('answers bytes that are not HTTP with an S3 error document and a request id, and closes', async () => {
      const r = await exchange(srv.port, Buffer.from('NOT HTTP AT ALL\r\n\r\n', 'latin1'), { timeoutMs: 5000 });
      expect(r.status).to.equal(400);
      expect(r.headers.connection).to.equal('close');
      const id = r.headers['x-amz-request-id'];
      expect(id).to.match(/^[0-9A-F]{16}$/);
      expect(r.headers['x-amz-id-2']).to.equal(id);
      expect(r.body.toString()).to.match(
        new RegExp(
          `<Error><Code>InvalidRequest</Code><Message>The request could not be parsed as HTTP.</Message><RequestId>${String(id)}</RequestId></Error>$`,
        ),
      );
    });

    it('answers operations it does not implement with 501 NotImplemented XML, never HTML or 404', async () => {
      for (const [method, query] of [
        ['GET', 'metadataTable'],
        ['PUT', 'metadataTable'],
        ['GET', 'session'],
        ['PUT', 'renameObject'],
      ] as const) {
        const r = await signedFetch(srv.url, CREDS, method, '/wire', {
          query: { [query]: '' },
          body: method === 'PUT' ? '<x/>' : undefined,
        });
        expect(r.status, `${method} ?${query}`).to.equal(501);
        expect(r.text).to.contain('<Code>NotImplemented</Code>');
      }
      const post = await signedFetch(srv.url, CREDS, 'POST', '/wire/obj', { query: { select: '', 'select-type': '2' }, body: '<x/>' });
      expect(post.status).to.equal(501);
    });

    it('refuses two sub-resources in one request as conflicting, naming them sorted (it answered 501 for one it serves)', async () => {
      await srv.s3.send(new PutObjectCommand({ Bucket: 'wire', Key: 'conflict.txt', Body: 'kept' }));
      for (const [method, path, query, names] of [
        ['GET', '/wire', { versioning: '', acl: '' }, 'acl, versioning'],
        ['GET', '/wire', { uploads: '', uploadId: 'x' }, 'uploadId, uploads'],
        ['PUT', '/wire', { tagging: '', versioning: '' }, 'tagging, versioning'],
        ['GET', '/wire/conflict.txt', { tagging: '', acl: '', retention: '' }, 'acl, retention, tagging'],
        ['DELETE', '/wire/conflict.txt', { tagging: '', uploadId: 'x' }, 'tagging, uploadId'],
        ['POST', '/wire', { delete: '', uploads: '' }, 'delete, uploads'],
      ] as const) {
        const r = await signedFetch(srv.url, CREDS, method, path, {
          query,
          body: method === 'PUT' || method === 'POST' ? '<x/>' : undefined,
        });
        const label = `${method} ${path} ${Object.keys(query).join('&')}`;
        expect(r.status, label).to.equal(400);
        expect(r.text, label).to.contain('<Code>InvalidArgument</Code>');
        expect(r.text, label).to.contain(`<Message>Conflicting query string parameters: ${names}</Message>`);
        expect(r.text, label).to.contain(`<ArgumentName>ResourceType</ArgumentName><ArgumentValue>${names.split(',')[0]}</ArgumentValue>`);
      }
      // The object and its tags are untouched; a sub-resource with its qualifiers (versionId, partNumber) is one operation.
      const tags = await signedFetch(srv.url, CREDS, 'GET', '/wire/conflict.txt', { query: { tagging: '', versionId: 'null' } });
      expect(tags.status).to.equal(200);
      const part = await signedFetch(srv.url, CREDS, 'GET', '/wire/conflict.txt', { query: { partNumber: '1' } });
      expect([part.status, part.text]).to.deep.equal([206, 'kept']);
    });

    it('serves the health endpoint outside the bucket namespace', async () => {
      const r = await fetch(`${srv.url}/-/health`);
      expect(r.status).to.equal(200);
      expect(await r.json()).to.deep.equal({ status: 'ok' });
    });

    it('addresses buckets virtual-hosted style under --domain', async () => {
      await srv.s3.send(new PutObjectCommand({ Bucket: 'wire', Key: 'vhost/key.txt', Body: 'via vhost' }));
      const vhost = new S3Client({
        endpoint: `http://s3.test:${srv.port}`,
        region: 'us-east-1',
        forcePathStyle: false,
        credentials: CREDS,
        // Resolve every *.s3.test name to the test server.
        requestHandler: new NodeHttpHandler({ httpAgent: new http.Agent({ lookup: loopbackLookup as never }) }),
      });
      const r = await vhost.send(new GetObjectCommand({ Bucket: 'wire', Key: 'vhost/key.txt' }));
      expect(await r.Body!.transformToString()).to.equal('via vhost');
      const l = await vhost.send(new ListObjectsV2Command({ Bucket: 'wire', Prefix: 'vhost/' }));
      expect(l.Contents?.map((c) => c.Key)).to.deep.equal(['vhost/key.txt']);
      vhost.destroy();
    });

    it('keeps hostile keys inside the data directory', async () => {
      // On disk checks apply to the fs backend; the memory run checks the S3 behaviour only.
      const onDisk = srv.router.defaultBackend.kind === 'fs';
      if (onDisk) expect(readdirSync(srv.sandbox)).to.deep.equal(['data']);
      const keys = ['../escape.txt', '../../escape2.txt', 'a/../../../escape3.txt', '..', '../', './../x', '/abs/olute', '..%2Fenc'];
      for (const key of keys) {
        const r = await signedFetch(srv.url, CREDS, 'PUT', '/wire/' + key.split('/').map(encodeURIComponent).join('/'), { body: 'x' });
        expect(r.status, key).to.equal(200);
        const g = await signedFetch(srv.url, CREDS, 'GET', '/wire/' + key.split('/').map(encodeURIComponent).join('/'));
        expect(g.text, key).to.equal('x');
      }
      // Nothing beside the data directory, and nothing inside it that resolves outside.
      if (onDisk) {
        expect(readdirSync(srv.sandbox)).to.deep.equal(['data']);
        for (const p of walk(srv.dataDir)) expect(path.relative(srv.dataDir, p).startsWith('..')).to.equal(false);
      }
    });

    it('refuses a key with a NUL byte and a bad percent-encoding', async () => {
      const nul = await signedFetch(srv.url, CREDS, 'PUT', '/wire/a%00b', { body: 'x' });
      expect(nul.status).to.equal(400);
      expect(nul.text).to.contain('<Code>InvalidArgument</Code>');
      const bad = await fetch(`${srv.url}/wire/%zz`, { method: 'GET' });
      expect(bad.status).to.equal(400);
    });

    it('stores nothing from a truncated body or a dropped connection', async () => {
      const key = 'truncated.bin';
      // Headers promise 1 MiB; the client sends 1000 bytes and closes.
      const url = new URL(srv.url);
      const payload = Buffer.alloc(1000, 7);
      const signed = await signer(ACCESS_KEY, SECRET_KEY).sign({
        method: 'PUT',
        protocol: 'http:',
        hostname: url.hostname,
        port: Number(url.port),
        path: `/wire/${key}`,
        query: {},
        headers: { host: url.host, 'content-length': String(1024 * 1024), 'x-amz-content-sha256': 'UNSIGNED-PAYLOAD' },
      });
      await new Promise<void>((resolve) => {
        const sock = net.connect(Number(url.port), url.hostname, () => {
          const head = [`PUT /wire/${key} HTTP/1.1`, ...Object.entries(signed.headers).map(([k, v]) => `${k}: ${v}`), '', ''].join('\r\n');
          sock.write(head);
          sock.write(payload);
          setTimeout(() => sock.destroy(), 100);
        });
        sock.on('close', () => resolve());
        sock.on('error', () => resolve());
      });
      await new Promise((r) => setTimeout(r, 200));
      const g = await signedFetch(srv.url, CREDS, 'GET', `/wire/${key}`);
      expect(g.status).to.equal(404);
      // And no temp files are left behind.
      if (srv.router.defaultBackend.kind === 'fs') expect(tempFiles(srv.dataDir)).to.deep.equal([]);
    });

    it('answers Expect: 100-continue before the body', async () => {
      const body = 'after continue';
      const url = new URL(srv.url);
      const signed = await signer(ACCESS_KEY, SECRET_KEY).sign({
        method: 'PUT',
        protocol: 'http:',
        hostname: url.hostname,
        port: Number(url.port),
        path: '/wire/continue.txt',
        query: {},
        headers: {
          host: url.host,
          'content-length': String(body.length),
          expect: '100-continue',
          'x-amz-content-sha256': createHash('sha256').update(body).digest('hex'),
        },
      });
      const status = await new Promise<number>((resolve, reject) => {
        const req = http.request({
          host: url.hostname,
          port: url.port,
          method: 'PUT',
          path: '/wire/continue.txt',
          headers: signed.headers,
        });
        req.on('continue', () => req.end(body));
        req.on('response', (res: import('node:http').IncomingMessage) => {
          res.resume();
          resolve(res.statusCode ?? 0);
        });
        req.on('error', reject);
        req.flushHeaders();
      });
      expect(status).to.equal(200);
    });
  });

  describe('over HTTPS', () => {
    let srv: TestServer;
    let cert: TestCert;
    before(async () => {
      cert = makeSelfSignedCert();
      srv = await startTestServer({ tls: { cert: cert.cert, key: cert.key } });
    });
    after(async () => {
      await srv.stop();
      rmSync(cert.dir, { recursive: true, force: true });
    });

    it('serves the same operations with the SDK (default checksums) over TLS', async () => {
      expect(srv.url.startsWith('https://')).to.equal(true);
      const client = new S3Client({
        endpoint: srv.url,
        region: 'us-east-1',
        forcePathStyle: true,
        credentials: CREDS,
        requestHandler: new NodeHttpHandler({ httpsAgent: new https.Agent({ ca: cert.pem }) }),
      });
      await client.send(new CreateBucketCommand({ Bucket: 'tls' }));
      const { Readable } = await import('node:stream');
      await client.send(
        new PutObjectCommand({
          Bucket: 'tls',
          Key: 'streamed',
          // One piece: each becomes an aws-chunked chunk, and S3 refuses one under 8 KiB before the last.
          Body: Readable.from([Buffer.from('over tls')]),
          ContentLength: 8,
        }),
      );
      const r = await client.send(new GetObjectCommand({ Bucket: 'tls', Key: 'streamed' }));
      expect(await r.Body!.transformToString()).to.equal('over tls');
      client.destroy();
    });
  });
});
