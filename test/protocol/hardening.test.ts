/**
 * Issue 10's defects, one test each: requests that used to end the process, an object that
 * ended it on every read, a delete that hit another key, temp files that outlived crashes, a
 * signature for another region, public read that showed too much, sockets held open, a
 * half-closed client left without an answer, and answers a strict client rejects.
 */
import { expect } from 'chai';
import { createHash } from 'node:crypto';
import { existsSync, mkdirSync, mkdtempSync, readdirSync, rmSync, utimesSync, writeFileSync } from 'node:fs';
import net from 'node:net';
import os from 'node:os';
import path from 'node:path';
import { Readable } from 'node:stream';
import {
  CopyObjectCommand,
  CreateBucketCommand,
  GetObjectCommand,
  GetObjectTaggingCommand,
  HeadObjectCommand,
  ListObjectsV2Command,
  PutObjectCommand,
} from '@aws-sdk/client-s3';
import { getSignedUrl } from '@aws-sdk/s3-request-presigner';
import { startTestServer, rawRequest, ACCESS_KEY, SECRET_KEY, type TestServer } from '../helpers/server';
import { signedFetch } from '../helpers/sign';
import { exchange } from '../helpers/hostile-wire';
import { startChildServer } from '../helpers/child-server';
import { Router } from '../../src/router/router';
import { validateRoutingTable } from '../../src/router/config';
import { FsBackend } from '../../src/backends/fs/index';
import { CLOSE_GRACE_MS } from '../../src/server/http-wire';

const CREDS = { accessKeyId: ACCESS_KEY, secretAccessKey: SECRET_KEY };
const Bucket = 'hardening';
const codeOf = (text: string) => /<Code>([^<]*)<\/Code>/.exec(text)?.[1];
// The protocol suite also runs on other stores (S3MUX_TEST_BACKEND); these tests write into an fs folder.
const onFs = (process.env.S3MUX_TEST_BACKEND ?? 'fs') === 'fs';

async function alive(srv: TestServer): Promise<void> {
  const r = await rawRequest(`${srv.url}/-/health`);
  expect(r.status).to.equal(200);
}

describe('protocol: hardening (no request ends the process or touches another key)', function () {
  this.timeout(60_000);
  let srv: TestServer;

  before(async () => {
    srv = await startTestServer();
    await srv.s3.send(new CreateBucketCommand({ Bucket }));
    await srv.s3.send(new PutObjectCommand({ Bucket, Key: 'doc.pdf', Body: 'pdf bytes' }));
  });
  after(async () => srv.stop());

  describe('response-* overrides (defect 1)', () => {
    it('serves a presigned link whose Content-Disposition holds any Unicode, as UTF-8', async () => {
      const disposition = 'attachment; filename="résumé-文件.pdf"';
      const url = await getSignedUrl(srv.s3, new GetObjectCommand({ Bucket, Key: 'doc.pdf', ResponseContentDisposition: disposition }), {
        expiresIn: 300,
      });
      const u = new URL(url);
      const r = await exchange(
        srv.port,
        Buffer.from(`GET ${u.pathname}${u.search} HTTP/1.1\r\nHost: ${u.host}\r\nConnection: close\r\n\r\n`),
      );
      expect(r.status).to.equal(200);
      expect(Buffer.from(r.headers['content-disposition'], 'latin1').toString('utf8')).to.equal(disposition);
      expect(r.body.toString()).to.equal('pdf bytes');
      await alive(srv);
    });

    it('refuses an override holding CR/LF with InvalidArgument, and injects no header', async () => {
      const r = await signedFetch(srv.url, CREDS, 'GET', `/${Bucket}/doc.pdf`, { query: { 'response-content-type': '\r\nX-Evil: 1' } });
      expect(r.status).to.equal(400);
      expect(codeOf(r.text)).to.equal('InvalidArgument');
      expect(r.text).to.include('<ArgumentName>response-content-type</ArgumentName>');
      expect(r.headers['x-evil']).to.equal(undefined);
      await alive(srv);
    });

    it('answers every response-* override with a control character or above U+00FF, and stays up', async () => {
      const values = ['\u0000', 'a\u0001b', '\u007f', 'tab\tok', '\u2028', '😀', 'ÿ', 'a\nb', '\u00a0'];
      for (const param of [
        'response-content-type',
        'response-content-language',
        'response-expires',
        'response-cache-control',
        'response-content-disposition',
        'response-content-encoding',
      ]) {
        for (const v of values) {
          const r = await signedFetch(srv.url, CREDS, 'GET', `/${Bucket}/doc.pdf`, { query: { [param]: v } });
          expect([200, 400], `${param}=${JSON.stringify(v)}`).to.include(r.status);
        }
      }
      await alive(srv);
    });
  });

  describe('stored metadata is always sendable (defect 2)', () => {
    it('refuses metadata a header cannot carry at write time (POST Object form)', async () => {
      // A V2 form policy allowing any x-amz-meta-note.
      const { createHmac } = await import('node:crypto');
      const policy = Buffer.from(
        JSON.stringify({
          expiration: new Date(Date.now() + 3600_000).toISOString(),
          conditions: [{ bucket: Bucket }, ['starts-with', '$key', 'form/'], ['starts-with', '$x-amz-meta-note', '']],
        }),
      ).toString('base64');
      const signature = createHmac('sha1', SECRET_KEY).update(policy).digest('base64');
      for (const [key, note] of [
        ['form/crlf', 'a\r\nb'],
        ['form/nul', 'a\u0000b'],
        ['form/bell', 'x\u0007'],
      ]) {
        const fd = new FormData();
        for (const [k, v] of [
          ['key', key],
          ['AWSAccessKeyId', ACCESS_KEY],
          ['policy', policy],
          ['signature', signature],
          ['x-amz-meta-note', note],
        ])
          fd.append(k, v);
        fd.append('file', new Blob(['form body']), 'f.txt');
        const res = await fetch(`${srv.url}/${Bucket}`, { method: 'POST', body: fd });
        const text = await res.text();
        expect(res.status, text).to.equal(400);
        expect(codeOf(text)).to.equal('InvalidArgument');
        const head = await rawRequest(`${srv.url}/${Bucket}/${key}`, { method: 'HEAD' });
        expect(head.status).to.equal(403); // anonymous: nothing to learn, and nothing was stored:
        const listed = await srv.s3.send(new ListObjectsV2Command({ Bucket, Prefix: key }));
        expect(listed.KeyCount).to.equal(0);
      }
      await alive(srv);
    });

    it('returns non-ASCII user metadata RFC 2047 encoded, as S3 does', async () => {
      const value = 'ünïcödé ✓';
      const bytes = Buffer.from(value, 'utf8').toString('latin1');
      const put = await signedFetch(srv.url, CREDS, 'PUT', `/${Bucket}/meta/utf8`, { body: 'x', headers: { 'x-amz-meta-note': bytes } });
      expect(put.status, put.text).to.equal(200);
      const head = await srv.s3.send(new HeadObjectCommand({ Bucket, Key: 'meta/utf8' }));
      expect(head.Metadata?.note).to.equal(`=?UTF-8?B?${Buffer.from(value, 'utf8').toString('base64')}?=`);
    });

    it('reads an object whose store holds values no header can carry (written by another tool)', async function () {
      if (!onFs) this.skip(); // writes straight into the fs store, as another tool would
      const store = new FsBackend({ root: srv.dataDir });
      await store.putObject(Bucket, 'foreign/odd', Readable.from([Buffer.from('odd')]), {
        userMetadata: { note: 'a\r\nb', 'bad name': 'x', han: '文件' },
        contentDisposition: 'inline; filename="文件.txt"',
      });
      await store.close();
      const got = await srv.s3.send(new GetObjectCommand({ Bucket, Key: 'foreign/odd' }));
      expect(await got.Body!.transformToString()).to.equal('odd');
      expect(got.Metadata?.note).to.equal(`=?UTF-8?B?${Buffer.from('a\r\nb').toString('base64')}?=`);
      expect(got.Metadata?.han).to.equal(`=?UTF-8?B?${Buffer.from('文件').toString('base64')}?=`);
      expect(got.$metadata.httpStatusCode).to.equal(200);
      const raw = await signedFetch(srv.url, CREDS, 'HEAD', `/${Bucket}/foreign/odd`);
      expect(raw.headers['x-amz-missing-meta']).to.equal('1');
      expect(Buffer.from(raw.headers['content-disposition'] as string, 'latin1').toString('utf8')).to.equal('inline; filename="文件.txt"');
      await alive(srv);
    });
  });

  describe('XML bodies name exactly the keys they hold (defect 3)', () => {
    const deleteDoc = (inner: string) =>
      `<Delete xmlns="http://s3.amazonaws.com/doc/2006-03-01/"><Object><Key>${inner}</Key></Object></Delete>`;
    const md5 = (s: string) => createHash('md5').update(s).digest('base64');

    it('refuses a character reference XML cannot hold instead of deleting another key', async () => {
      await srv.s3.send(new PutObjectCommand({ Bucket, Key: 'ef', Body: 'victim' }));
      for (const ref of ['e&#x1;f', 'e&#0;f', 'e&#xD800;f', 'e&#xFFFE;f', 'e&#x110000;f', 'e&#1;f', 'e\u0001f']) {
        const body = deleteDoc(ref);
        const r = await signedFetch(srv.url, CREDS, 'POST', `/${Bucket}`, {
          query: { delete: '' },
          body,
          headers: { 'content-md5': md5(body) },
        });
        expect(r.status, ref).to.equal(400);
        expect(codeOf(r.text)).to.equal('MalformedXML');
      }
      const still = await srv.s3.send(new HeadObjectCommand({ Bucket, Key: 'ef' }));
      expect(still.ContentLength).to.equal(6);
    });

    it('takes valid character references exactly (é, 😀, &amp;)', async () => {
      const key = 'ref/é😀&x';
      await srv.s3.send(new PutObjectCommand({ Bucket, Key: key, Body: 'r' }));
      const body = deleteDoc('ref/&#xE9;&#x1F600;&amp;x');
      const r = await signedFetch(srv.url, CREDS, 'POST', `/${Bucket}`, {
        query: { delete: '' },
        body,
        headers: { 'content-md5': md5(body) },
      });
      expect(r.status, r.text).to.equal(200);
      expect(r.text).to.include('<Deleted><Key>ref/é😀&amp;x</Key></Deleted>');
      const left = await srv.s3.send(new ListObjectsV2Command({ Bucket, Prefix: 'ref/' }));
      expect(left.KeyCount).to.equal(0);
    });

    it('refuses bad references in tagging and CompleteMultipartUpload documents too', async () => {
      const tagging = '<Tagging><TagSet><Tag><Key>k&#x2;</Key><Value>v</Value></Tag></TagSet></Tagging>';
      const t = await signedFetch(srv.url, CREDS, 'PUT', `/${Bucket}/doc.pdf`, {
        query: { tagging: '' },
        body: tagging,
        headers: { 'content-md5': md5(tagging) },
      });
      expect(codeOf(t.text)).to.equal('MalformedXML');
    });

    it('refuses bytes that are not UTF-8 instead of reading them as U+FFFD (which named another key)', async () => {
      await srv.s3.send(new PutObjectCommand({ Bucket, Key: 'utf8/victim\ufffd', Body: 'victim' }));
      const bin = (before: string, after: string) => Buffer.concat([Buffer.from(before), Buffer.from([0xff]), Buffer.from(after)]);
      const md5b = (b: Buffer) => createHash('md5').update(b).digest('base64');
      const del = bin('<Delete><Object><Key>utf8/victim', '</Key></Object></Delete>');
      const d = await signedFetch(srv.url, CREDS, 'POST', `/${Bucket}`, {
        query: { delete: '' },
        body: del,
        headers: { 'content-md5': md5b(del) },
      });
      expect(d.status, d.text).to.equal(400);
      expect(codeOf(d.text)).to.equal('MalformedXML');
      expect((await srv.s3.send(new HeadObjectCommand({ Bucket, Key: 'utf8/victim\ufffd' }))).ContentLength).to.equal(6);
      const tagging = bin('<Tagging><TagSet><Tag><Key>k</Key><Value>v', '</Value></Tag></TagSet></Tagging>');
      const t = await signedFetch(srv.url, CREDS, 'PUT', `/${Bucket}/utf8/victim%EF%BF%BD`, {
        query: { tagging: '' },
        body: tagging,
        headers: { 'content-md5': md5b(tagging) },
      });
      expect(codeOf(t.text)).to.equal('MalformedXML');
    });

    it('refuses an element given twice or holding elements instead of reading it as absent', async () => {
      const put = (path: string, query: string, body: string) =>
        signedFetch(srv.url, CREDS, 'PUT', path, { query: { [query]: '' }, body, headers: { 'content-md5': md5(body) } });
      const pab = (inner: string) => `<PublicAccessBlockConfiguration>${inner}</PublicAccessBlockConfiguration>`;
      for (const body of [
        pab('<BlockPublicAcls>true</BlockPublicAcls><BlockPublicAcls>true</BlockPublicAcls>'),
        pab('<BlockPublicPolicy>true<x/></BlockPublicPolicy>'),
      ]) {
        const r = await put(`/${Bucket}`, 'publicAccessBlock', body);
        expect(codeOf(r.text), body).to.equal('MalformedXML');
      }
      const got = await signedFetch(srv.url, CREDS, 'GET', `/${Bucket}`, { query: { publicAccessBlock: '' } });
      expect(got.text).to.not.include('<BlockPublicAcls>false</BlockPublicAcls>');
      const tags = '<Tagging><TagSet><Tag><Key>k</Key><Value>v</Value><Value>w</Value></Tag></TagSet></Tagging>';
      expect(codeOf((await put(`/${Bucket}/doc.pdf`, 'tagging', tags)).text)).to.equal('MalformedXML');
      const versioning = '<VersioningConfiguration><Status>Enabled</Status><Status>Suspended</Status></VersioningConfiguration>';
      expect(codeOf((await put(`/${Bucket}`, 'versioning', versioning)).text)).to.equal('MalformedXML');
    });

    it('DeleteObjects: Quiet must be a boolean; a version id s3mux never gave out is NoSuchVersion and deletes nothing', async () => {
      await srv.s3.send(new PutObjectCommand({ Bucket, Key: 'versioned/a', Body: 'a' }));
      const quiet = '<Delete><Quiet>maybe</Quiet><Object><Key>versioned/a</Key></Object></Delete>';
      const q = await signedFetch(srv.url, CREDS, 'POST', `/${Bucket}`, {
        query: { delete: '' },
        body: quiet,
        headers: { 'content-md5': md5(quiet) },
      });
      expect(codeOf(q.text)).to.equal('MalformedXML');
      const versioned = '<Delete><Object><Key>versioned/a</Key><VersionId>3HL4kqtJlcpXroDTDmJ.rmSpXd3dIbrHY</VersionId></Object></Delete>';
      const v = await signedFetch(srv.url, CREDS, 'POST', `/${Bucket}`, {
        query: { delete: '' },
        body: versioned,
        headers: { 'content-md5': md5(versioned) },
      });
      expect(v.status).to.equal(200);
      // Within DeleteObjects S3 reports an id it never gave out as a version that is not there.
      expect(v.text).to.include('<Code>NoSuchVersion</Code>');
      expect(v.text).to.not.include('<Deleted>');
      expect((await srv.s3.send(new HeadObjectCommand({ Bucket, Key: 'versioned/a' }))).ContentLength).to.equal(1);
      const nullVersion = '<Delete><Quiet>1</Quiet><Object><Key>versioned/a</Key><VersionId>null</VersionId></Object></Delete>';
      const n = await signedFetch(srv.url, CREDS, 'POST', `/${Bucket}`, {
        query: { delete: '' },
        body: nullVersion,
        headers: { 'content-md5': md5(nullVersion) },
      });
      expect(n.status).to.equal(200);
      expect(n.text).to.not.include('<Error>');
      const left = await srv.s3.send(new ListObjectsV2Command({ Bucket, Prefix: 'versioned/' }));
      expect(left.KeyCount).to.equal(0);
    });

    it('lists a key holding U+0001 as a character reference, as S3 does (raw, it is not XML 1.0)', async () => {
      await srv.s3.send(new PutObjectCommand({ Bucket, Key: 'ctl/a\u0001b\rc', Body: 'c' }));
      const r = await signedFetch(srv.url, CREDS, 'GET', `/${Bucket}`, { query: { 'list-type': '2', prefix: 'ctl/' } });
      expect(r.text).to.include('<Key>ctl/a&#x1;b&#xD;c</Key>');
      // eslint-disable-next-line no-control-regex
      expect(r.text).to.not.match(/[\u0001\r]/);
    });
  });

  describe('signatures scoped to another region (defect 5)', () => {
    it('answers AuthorizationHeaderMalformed naming the expected region', async () => {
      const { signer } = await import('../helpers/sign');
      const url = new URL(srv.url);
      const req = await signer(ACCESS_KEY, SECRET_KEY, 'eu-west-1').sign({
        method: 'GET',
        protocol: url.protocol,
        hostname: url.hostname,
        port: Number(url.port),
        path: `/${Bucket}/doc.pdf`,
        query: {},
        headers: { host: url.host, 'x-amz-content-sha256': 'UNSIGNED-PAYLOAD' },
      });
      const r = await rawRequest(`${srv.url}/${Bucket}/doc.pdf`, { headers: req.headers });
      expect(r.status).to.equal(400);
      expect(codeOf(r.text)).to.equal('AuthorizationHeaderMalformed');
      expect(r.text).to.include('the region &apos;eu-west-1&apos; is wrong; expecting &apos;us-east-1&apos;');
      expect(r.text).to.include('<Region>us-east-1</Region>');
    });

    it('answers AuthorizationQueryParametersError for a presigned URL of another region', async () => {
      const { S3Client } = await import('@aws-sdk/client-s3');
      const other = new S3Client({ endpoint: srv.url, region: 'eu-west-1', forcePathStyle: true, credentials: CREDS });
      const url = await getSignedUrl(other, new GetObjectCommand({ Bucket, Key: 'doc.pdf' }), { expiresIn: 60 });
      other.destroy();
      const r = await rawRequest(url);
      expect(r.status).to.equal(400);
      expect(codeOf(r.text)).to.equal('AuthorizationQueryParametersError');
      expect(r.text).to.include('<Region>us-east-1</Region>');
    });
  });

  describe('header bytes that name text are read as UTF-8', () => {
    // Node reads a header one char per byte: a raw UTF-8 'é' (C3 A9) was the two chars 'Ã©'.
    const latin1 = (s: string) => Buffer.from(s, 'utf8').toString('latin1');
    const putWith = (Key: string, headers: Record<string, string>) =>
      signedFetch(srv.url, CREDS, 'PUT', `/${Bucket}/${Key}`, { headers, body: '' });

    it('x-amz-copy-source: a raw UTF-8 key is that key (it copied the key "Ã©"); bytes that are not UTF-8 are refused', async () => {
      await srv.s3.send(new PutObjectCommand({ Bucket, Key: 'raw/é', Body: 'the accented key' }));
      await srv.s3.send(new PutObjectCommand({ Bucket, Key: 'raw/Ã©', Body: 'another key' }));
      const r = await putWith('raw/copy', { 'x-amz-copy-source': latin1(`${Bucket}/raw/é`) });
      expect(r.status, r.text).to.equal(200);
      const got = await srv.s3.send(new GetObjectCommand({ Bucket, Key: 'raw/copy' }));
      expect(await got.Body!.transformToString()).to.equal('the accented key');
      const bad = await putWith('raw/copy2', { 'x-amz-copy-source': `${Bucket}/raw/\xe9` });
      expect(bad.status).to.equal(400);
      expect(codeOf(bad.text)).to.equal('InvalidArgument');
    });

    it('x-amz-tagging: a raw UTF-8 value is that text (it was refused as InvalidTag); bytes that are not UTF-8 are refused', async () => {
      const r = await putWith('raw/tagged', { 'x-amz-tagging': latin1('k=é') });
      expect(r.status, r.text).to.equal(200);
      const tags = await srv.s3.send(new GetObjectTaggingCommand({ Bucket, Key: 'raw/tagged' }));
      expect(tags.TagSet).to.deep.equal([{ Key: 'k', Value: 'é' }]);
      const bad = await putWith('raw/tagged2', { 'x-amz-tagging': 'k=\xe9' });
      expect(bad.status).to.equal(400);
      expect(codeOf(bad.text)).to.equal('InvalidArgument');
      expect((await signedFetch(srv.url, CREDS, 'HEAD', `/${Bucket}/raw/tagged2`)).status).to.equal(404);
    });
  });

  describe("a presigned URL's x-amz-* query parameters are its headers", () => {
    // The SDK's presigner moves x-amz-* headers into the query; the URL's signature covers them.
    const put = (url: string, body: string) => fetch(url, { method: 'PUT', body });

    it('a presigned CopyObject copies (it wrote an empty object over the destination)', async () => {
      await srv.s3.send(new PutObjectCommand({ Bucket, Key: 'presign/src', Body: 'source bytes' }));
      await srv.s3.send(new PutObjectCommand({ Bucket, Key: 'presign/dst', Body: 'old destination' }));
      const url = await getSignedUrl(srv.s3, new CopyObjectCommand({ Bucket, Key: 'presign/dst', CopySource: `${Bucket}/presign/src` }), {
        expiresIn: 60,
      });
      expect(new URL(url).searchParams.get('x-amz-copy-source')).to.equal(`${Bucket}/presign/src`);
      const r = await put(url, '');
      expect(r.status, await r.text()).to.equal(200);
      const got = await srv.s3.send(new GetObjectCommand({ Bucket, Key: 'presign/dst' }));
      expect(await got.Body!.transformToString()).to.equal('source bytes');
    });

    it('a presigned PutObject keeps its metadata and tags, and is refused what the bucket refuses (an ACL)', async () => {
      const url = await getSignedUrl(
        srv.presigner,
        new PutObjectCommand({ Bucket, Key: 'presign/meta', Metadata: { colour: 'blue' }, Tagging: 'a=1&b=2' }),
        { expiresIn: 60 },
      );
      expect((await put(url, 'with metadata')).status).to.equal(200);
      const head = await srv.s3.send(new HeadObjectCommand({ Bucket, Key: 'presign/meta' }));
      expect(head.Metadata).to.deep.equal({ colour: 'blue' });
      const tags = await srv.s3.send(new GetObjectTaggingCommand({ Bucket, Key: 'presign/meta' }));
      expect(tags.TagSet).to.deep.equal([
        { Key: 'a', Value: '1' },
        { Key: 'b', Value: '2' },
      ]);
      const acl = await getSignedUrl(srv.presigner, new PutObjectCommand({ Bucket, Key: 'presign/acl', ACL: 'public-read' }), {
        expiresIn: 60,
      });
      const refused = await put(acl, 'public?');
      expect(refused.status).to.equal(400);
      expect(codeOf(await refused.text())).to.equal('AccessControlListNotSupported');
    });

    it('its non-ASCII values are UTF-8 text, as the same header would be bytes of: metadata, tags and a copy source', async () => {
      // The query's text was kept as if it were a header's bytes: 'Zürich' went back as the RFC 2047
      // word of its Latin-1 bytes, which is not UTF-8, and 'é' in a copy source could not be read as UTF-8.
      await srv.s3.send(new PutObjectCommand({ Bucket, Key: 'presign/é', Body: 'accented source' }));
      const url = await getSignedUrl(
        srv.presigner,
        new PutObjectCommand({ Bucket, Key: 'presign/utf8', Metadata: { city: 'Zürich' }, Tagging: 'k=é' }),
        { expiresIn: 60 },
      );
      expect((await put(url, 'utf8')).status).to.equal(200);
      const head = await signedFetch(srv.url, CREDS, 'HEAD', `/${Bucket}/presign/utf8`);
      expect(head.headers['x-amz-meta-city']).to.equal(`=?UTF-8?B?${Buffer.from('Zürich').toString('base64')}?=`);
      const tags = await srv.s3.send(new GetObjectTaggingCommand({ Bucket, Key: 'presign/utf8' }));
      expect(tags.TagSet).to.deep.equal([{ Key: 'k', Value: 'é' }]);
      const copy = await getSignedUrl(
        srv.presigner,
        new CopyObjectCommand({ Bucket, Key: 'presign/copy', CopySource: `${Bucket}/presign/é` }),
        {
          expiresIn: 60,
        },
      );
      expect((await put(copy, '')).status).to.equal(200);
      const got = await srv.s3.send(new GetObjectCommand({ Bucket, Key: 'presign/copy' }));
      expect(await got.Body!.transformToString()).to.equal('accented source');
    });

    it('a checksum signed into the URL is checked against the bytes, as S3 checks it', async () => {
      // The SDK's default signs the CRC32 of the empty body it presigned (AAAAAA==) into the URL.
      const url = await getSignedUrl(srv.s3, new PutObjectCommand({ Bucket, Key: 'presign/sum' }), { expiresIn: 60 });
      expect(new URL(url).searchParams.get('x-amz-checksum-crc32')).to.equal('AAAAAA==');
      const r = await put(url, 'not empty');
      expect(r.status).to.equal(400);
      expect(codeOf(await r.text())).to.equal('BadDigest');
      expect((await put(url, '')).status).to.equal(200);
    });
  });

  describe('the wire (defects 7, 8, 9)', () => {
    it('closes sockets of clients that stay silent after an error answer', async () => {
      const sockets = await Promise.all(
        Array.from(
          { length: 20 },
          () =>
            new Promise<net.Socket>((resolve) => {
              const s = net.connect(srv.port, '127.0.0.1', () => {
                s.write('NOT HTTP AT ALL\r\n\r\n');
                resolve(s);
              });
              s.on('error', () => {});
              s.on('data', () => {});
            }),
        ),
      );
      const closed = sockets.map((s) => new Promise<void>((resolve) => s.once('close', () => resolve())));
      // The clients never close their side; s3mux must.
      for (const s of sockets) s.on('end', () => {});
      const started = Date.now();
      await Promise.race([
        Promise.all(closed),
        new Promise((_, reject) => setTimeout(() => reject(new Error('sockets still open')), CLOSE_GRACE_MS + 5000)),
      ]);
      expect(Date.now() - started).to.be.lessThan(CLOSE_GRACE_MS + 5000);
    });

    it('answers a client that half-closes after a complete PUT', async () => {
      const { signer } = await import('../helpers/sign');
      const url = new URL(srv.url);
      const body = 'half-closed body';
      const sha = createHash('sha256').update(body).digest('hex');
      const req = await signer(ACCESS_KEY, SECRET_KEY).sign({
        method: 'PUT',
        protocol: url.protocol,
        hostname: url.hostname,
        port: Number(url.port),
        path: `/${Bucket}/half/closed`,
        query: {},
        headers: { host: url.host, 'x-amz-content-sha256': sha, 'content-length': String(body.length) },
      });
      const head = Object.entries(req.headers)
        .map(([k, v]) => `${k}: ${v}`)
        .join('\r\n');
      const r = await exchange(srv.port, Buffer.from(`PUT /${Bucket}/half/closed HTTP/1.1\r\n${head}\r\n\r\n${body}`), {
        halfClose: true,
        timeoutMs: 10_000,
      });
      expect(r.timedOut).to.equal(false);
      expect(r.status).to.equal(200);
      const got = await srv.s3.send(new GetObjectCommand({ Bucket, Key: 'half/closed' }));
      expect(await got.Body!.transformToString()).to.equal(body);
    });

    it('answers a request without Host with an S3 error document', async () => {
      const r = await exchange(srv.port, Buffer.from(`GET /${Bucket}/doc.pdf HTTP/1.1\r\nConnection: close\r\n\r\n`));
      expect(r.status).to.equal(400);
      expect(codeOf(r.body.toString())).to.equal('InvalidRequest');
    });

    it('ignores an Expect value it does not know, as S3 does', async () => {
      for (const expectValue of ['bogus', '']) {
        const r = await signedFetch(srv.url, CREDS, 'GET', `/${Bucket}/doc.pdf`, { headers: { expect: expectValue } });
        expect(r.status, `Expect: ${expectValue}`).to.equal(200);
        expect(r.text).to.equal('pdf bytes');
      }
    });

    it('Expect: 100-continue: a refused request gets its error, never 100 Continue; an allowed one gets 100', async () => {
      const waitFirstBytes = (s: net.Socket) =>
        new Promise<string>((resolve) => s.once('data', (d: Buffer) => resolve(d.toString('latin1'))));
      // Anonymous PUT: refused from the headers alone.
      const refused = net.connect(srv.port, '127.0.0.1');
      refused.on('error', () => {});
      refused.write(`PUT /${Bucket}/continue/anon HTTP/1.1\r\nHost: 127.0.0.1\r\nContent-Length: 5\r\nExpect: 100-continue\r\n\r\n`);
      const first = await waitFirstBytes(refused);
      refused.destroy();
      expect(first).to.match(/^HTTP\/1\.1 403/);
      // Signed PUT: 100 Continue, then the body, then 200.
      const { signer } = await import('../helpers/sign');
      const url = new URL(srv.url);
      const body = 'hello';
      const req = await signer(ACCESS_KEY, SECRET_KEY).sign({
        method: 'PUT',
        protocol: url.protocol,
        hostname: url.hostname,
        port: Number(url.port),
        path: `/${Bucket}/continue/signed`,
        query: {},
        headers: {
          host: url.host,
          'x-amz-content-sha256': createHash('sha256').update(body).digest('hex'),
          'content-length': '5',
          expect: '100-continue',
        },
      });
      const ok = net.connect(srv.port, '127.0.0.1');
      ok.on('error', () => {});
      ok.write(
        `PUT /${Bucket}/continue/signed HTTP/1.1\r\n${Object.entries(req.headers)
          .map(([k, v]) => `${k}: ${v}`)
          .join('\r\n')}\r\n\r\n`,
      );
      expect(await waitFirstBytes(ok)).to.match(/^HTTP\/1\.1 100 Continue/);
      const final = waitFirstBytes(ok);
      ok.write(body);
      expect(await final).to.match(/^HTTP\/1\.1 200/);
      ok.destroy();
    });
  });
});

describe('protocol: public read is what S3 grants, nothing more (defect 6)', function () {
  this.timeout(30_000);
  let srv: TestServer;
  before(async () => {
    const table = validateRoutingTable({
      backends: { mem: { type: 'memory', store: `public-${process.pid}` } },
      routes: { site: { bucket: 'site', publicRead: true } },
    });
    srv = await startTestServer({ router: Router.fromTable(table) });
    await srv.s3.send(new CreateBucketCommand({ Bucket: 'site' }));
    await srv.s3.send(new PutObjectCommand({ Bucket: 'site', Key: 'index.html', Body: '<h1>hi</h1>', Tagging: 'secret=yes' }));
    await signedFetch(srv.url, CREDS, 'POST', '/site/upload.bin?uploads', { query: { uploads: '' } });
  });
  after(async () => srv.stop());

  it('serves anonymous GET, HEAD and listings', async () => {
    expect((await rawRequest(`${srv.url}/site/index.html`)).status).to.equal(200);
    expect((await rawRequest(`${srv.url}/site/index.html`, { method: 'HEAD' })).status).to.equal(200);
    expect((await rawRequest(`${srv.url}/site?list-type=2`)).text).to.include('<Key>index.html</Key>');
    expect((await rawRequest(`${srv.url}/site`)).text).to.include('<Key>index.html</Key>');
  });

  it('refuses anonymous uploads listings, tags, ACLs and response-* overrides', async () => {
    for (const q of ['?uploads', '?location', '?versioning', '?acl']) {
      const r = await rawRequest(`${srv.url}/site${q}`);
      expect(r.status, q).to.equal(403);
      expect(r.text).to.not.include('upload.bin');
    }
    for (const q of ['?tagging', '?acl']) {
      const r = await rawRequest(`${srv.url}/site/index.html${q}`);
      expect(r.status, q).to.equal(403);
      expect(r.text).to.not.include('secret');
    }
    const o = await rawRequest(`${srv.url}/site/index.html?response-content-type=text/plain`);
    expect(o.status).to.equal(400);
    expect(codeOf(o.text)).to.equal('InvalidRequest');
    expect(o.text).to.include('anonymous');
  });
});

describe('fs: temp space is reclaimed after crashes, never under a live write (defect 4)', function () {
  this.timeout(60_000);
  let sandbox: string;
  before(function () {
    if (!onFs) this.skip();
    sandbox = mkdtempSync(path.join(os.tmpdir(), 's3mux-temps-'));
  });
  after(() => {
    if (sandbox) rmSync(sandbox, { recursive: true, force: true });
  });

  it('removes the temp folder of a process killed mid-upload when a new one starts, and keeps a live one', async () => {
    const dataDir = path.join(sandbox, 'data');
    const first = await startChildServer(dataDir);
    await first.client.send(new CreateBucketCommand({ Bucket: 'bkt' }));
    // An upload that stalls half-way: its temp file exists while the process is killed.
    const u = new URL(first.url);
    const sock = net.connect(Number(u.port), u.hostname);
    sock.on('error', () => {});
    const { signer } = await import('../helpers/sign');
    const req = await signer('childuser', 'childpassword').sign({
      method: 'PUT',
      protocol: 'http:',
      hostname: u.hostname,
      port: Number(u.port),
      path: '/bkt/big',
      query: {},
      headers: { host: u.host, 'x-amz-content-sha256': 'UNSIGNED-PAYLOAD', 'content-length': String(8 << 20) },
    });
    sock.write(
      `PUT /bkt/big HTTP/1.1\r\n${Object.entries(req.headers)
        .map(([k, v]) => `${k}: ${v}`)
        .join('\r\n')}\r\n\r\n`,
    );
    sock.write(Buffer.alloc(1 << 20, 7));
    const tmpRoot = path.join(dataDir, '.s3mux', 'tmp');
    const tempFiles = () => readdirSync(tmpRoot).flatMap((d) => readdirSync(path.join(tmpRoot, d)).map((f) => path.join(d, f)));
    for (let i = 0; i < 100 && tempFiles().length === 0; i++) await new Promise((r) => setTimeout(r, 50));
    expect(tempFiles().length).to.be.greaterThan(0);
    await first.stop('SIGKILL');
    sock.destroy();
    const deadFolders = readdirSync(tmpRoot);

    // A live writer elsewhere: another host's folder with a fresh heartbeat stays, a stale one goes.
    const fresh = path.join(tmpRoot, `otherhost~4242~${'a'.repeat(16)}`);
    const stale = path.join(tmpRoot, `otherhost~4243~${'b'.repeat(16)}`);
    for (const d of [fresh, stale]) {
      mkdirSync(d);
      writeFileSync(path.join(d, 'put-x'), 'x');
    }
    const old = new Date(Date.now() - 3600_000);
    utimesSync(stale, old, old);

    const second = await startChildServer(dataDir);
    try {
      // The killed upload left no object either (and the first request has the store open).
      const r = await second.client.send(new ListObjectsV2Command({ Bucket: 'bkt' }));
      expect(r.KeyCount ?? 0).to.equal(0);
      const left = readdirSync(tmpRoot);
      for (const d of deadFolders) expect(left, 'killed process folder').to.not.include(d);
      expect(existsSync(fresh)).to.equal(true);
      expect(existsSync(stale)).to.equal(false);
    } finally {
      await second.stop();
    }
  });

  it('never removes the folder of another live backend on the same root in this process', async () => {
    const root = path.join(sandbox, 'shared');
    const a = new FsBackend({ root });
    await a.createBucket('bkt1');
    const b = new FsBackend({ root });
    await b.createBucket('bkt2');
    const tmpRoot = path.join(root, '.s3mux', 'tmp');
    expect(readdirSync(tmpRoot).length).to.equal(2);
    await a.close();
    expect(readdirSync(tmpRoot).length).to.equal(1);
    await b.close();
    expect(readdirSync(tmpRoot).length).to.equal(0);
  });
});
