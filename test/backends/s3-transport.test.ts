/**
 * What the s3 backend puts on the wire, per request (issue 15, proxy overhead): its SigV4
 * signature is the one aws4 (which signed these requests before) computes; HEADs keep their
 * connection; a missing key the store names costs one request; small PUTs go as one signed
 * body; concurrent readers of a stale bucket configuration share one read.
 *
 * The store here is a small HTTP server speaking S3's documented wire format (status codes,
 * error documents), so the test can count what arrives; the s3 suites (s3.test.ts and the
 * protocol suite with --backend s3 / s3rver) cover behaviour against real stores.
 */
import { createHash } from 'node:crypto';
import http from 'node:http';
import type { AddressInfo } from 'node:net';
import { Readable } from 'node:stream';
import aws4 from 'aws4';
import { expect } from 'chai';
import { S3Backend } from '../../src/backends/s3';
import { signRequest } from '../../src/backends/s3/sign';
import { BucketConfigStore } from '../../src/bucket-config/store';
import { validateRoutingTable } from '../../src/router/config';
import { Router } from '../../src/router/router';
import { BucketView } from '../../src/router/bucket-view';

const CREDS = { accessKeyId: 'AKIDTRANSPORT', secretAccessKey: 'transport-secret' };
const sha256 = (b: Buffer | string) => createHash('sha256').update(b).digest('hex');

interface Seen {
  method: string;
  url: string;
  headers: http.IncomingHttpHeaders;
  body: Buffer;
}

/** A store that records every request; `answer` decides the reply. */
async function countingStore(answer: (req: Seen, res: http.ServerResponse) => void) {
  const seen: Seen[] = [];
  let connections = 0;
  const server = http.createServer((req, res) => {
    const chunks: Buffer[] = [];
    req.on('data', (c: Buffer) => chunks.push(c));
    req.on('end', () => {
      const s = { method: req.method!, url: req.url!, headers: req.headers, body: Buffer.concat(chunks) };
      seen.push(s);
      answer(s, res);
    });
  });
  server.on('connection', () => connections++);
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  const url = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
  return {
    url,
    seen,
    connections: () => connections,
    close: () => new Promise<void>((r) => server.close(() => r())),
  };
}

function noSuchKey(res: http.ServerResponse): void {
  const body =
    '<?xml version="1.0" encoding="UTF-8"?><Error><Code>NoSuchKey</Code><Message>The specified key does not exist.</Message></Error>';
  res.writeHead(404, { 'content-type': 'application/xml', 'content-length': Buffer.byteLength(body) });
  res.end(body);
}

const backendFor = (url: string) => new S3Backend({ endpoint: url, region: 'us-east-1', forcePathStyle: true, credentials: CREDS });

describe('s3 backend transport', () => {
  describe('SigV4 signing', () => {
    const when = new Date('2026-03-04T05:06:07.890Z');
    const cases: Array<{
      what: string;
      method: string;
      path: string;
      query: Array<[string, string]>;
      headers: Record<string, string>;
      /** The text aws4 signs for a header whose value here is its UTF-8 bytes. */
      text?: Record<string, string>;
      token?: string;
    }> = [
      { what: 'a GET without query', method: 'GET', path: '/bucket/a/b%20c/%C3%A9', query: [], headers: {} },
      {
        what: 'a bare sub-resource and pairs to sort',
        method: 'POST',
        path: '/b/k',
        query: [
          ['uploads', ''],
          ['a', 'x%2Fy'],
        ],
        headers: {},
      },
      {
        what: 'object attributes with odd whitespace, UTF-8 values and a range',
        method: 'PUT',
        path: '/b/k%21%27%28%29%2A',
        query: [
          ['partNumber', '3'],
          ['uploadId', 'u%2Bp'],
        ],
        // Values are byte strings (one char per byte, as undici sends them): the UTF-8 bytes of
        // 'café' and of a name ending in 'à' (bytes C3 A0) are signed as aws4 signs that text.
        headers: {
          'content-type': 'text/plain ;  charset=x',
          'x-amz-meta-name': 'caf\u00c3\u00a9',
          'content-disposition': 'inline; filename=voil\u00c3\u00a0',
          range: 'bytes=0-1',
          'content-length': '5',
        },
        text: { 'x-amz-meta-name': 'caf\u00e9', 'content-disposition': 'inline; filename=voil\u00e0' },
      },
      {
        what: 'temporary credentials',
        method: 'HEAD',
        path: '/base/path/b/k',
        query: [],
        headers: { 'x-amz-checksum-mode': 'ENABLED' },
        token: 'tok/en+=',
      },
    ];
    for (const c of cases) {
      it(`signs ${c.what} as aws4 does`, () => {
        const creds = { ...CREDS, ...(c.token ? { sessionToken: c.token } : {}) };
        const headers = { ...c.headers, host: 'store.test:9000', 'x-amz-content-sha256': 'UNSIGNED-PAYLOAD' };
        const ours = signRequest({
          method: c.method,
          path: c.path,
          query: c.query,
          headers: { ...headers },
          region: 'eu-west-3',
          credentials: creds,
          now: when,
        });
        const search = c.query.length ? `?${c.query.map(([k, v]) => (v === '' ? k : `${k}=${v}`)).join('&')}` : '';
        const theirs = aws4.sign(
          {
            method: c.method,
            host: 'store.test:9000',
            path: c.path + search,
            headers: { ...headers, ...(c.text ?? {}), 'X-Amz-Date': '20260304T050607Z' },
            service: 's3',
            region: 'eu-west-3',
          },
          creds,
        );
        expect(ours.authorization).to.equal((theirs.headers as Record<string, string>).Authorization);
        expect(ours['x-amz-date']).to.equal('20260304T050607Z');
        if (c.token) expect(ours['x-amz-security-token']).to.equal(c.token);
      });
    }
  });

  describe('requests per operation', () => {
    let store: Awaited<ReturnType<typeof countingStore>>;
    afterEach(async () => store?.close());

    it('keeps the connection across HEADs (undici closes it after each HEAD unless told not to)', async () => {
      store = await countingStore((_req, res) => {
        res.writeHead(200, { 'content-length': '4', etag: '"abc"', 'last-modified': new Date().toUTCString() });
        res.end();
      });
      const be = backendFor(store.url);
      try {
        for (let i = 0; i < 8; i++) expect((await be.headObject('b', 'k')).size).to.equal(4);
        expect(store.seen.map((s) => s.method)).to.deep.equal(new Array(8).fill('HEAD'));
        // undici still drops the connection of the very first HEAD on a new socket; after that one
        // connection serves them all (it was one connection per HEAD)
        expect(store.connections()).to.be.at.most(2);
      } finally {
        await be.http.close();
      }
    });

    it('a missing key the store names costs one request; a bare 404 (HEAD) still asks about the bucket', async () => {
      store = await countingStore((req, res) => {
        if (req.method === 'GET') return noSuchKey(res);
        if (req.url === '/b') return void res.writeHead(200).end();
        res.writeHead(404).end();
      });
      const be = backendFor(store.url);
      try {
        const got = await be.openObject('b', 'missing').catch((e: unknown) => e);
        expect((got as { code?: string }).code).to.equal('NoSuchKey');
        expect(store.seen.map((s) => `${s.method} ${s.url}`)).to.deep.equal(['GET /b/missing']);
        const doc = await be.reserved!.get('b', 'config/versioning');
        expect(doc).to.equal(undefined);
        expect(store.seen).to.have.length(2);
        const head = await be.headObject('b', 'missing').catch((e: unknown) => e);
        expect((head as { code?: string }).code).to.equal('NoSuchKey');
        expect(store.seen.slice(2).map((s) => `${s.method} ${s.url}`)).to.deep.equal(['HEAD /b/missing', 'HEAD /b']);
      } finally {
        await be.http.close();
      }
    });

    it('sends a small PUT as one body with its SHA-256 signed, and nothing when the body fails', async () => {
      store = await countingStore((_req, res) => {
        res.writeHead(200, { etag: '"e"' });
        res.end();
      });
      const be = backendFor(store.url);
      try {
        const body = Buffer.alloc(4096, 7);
        await be.putObject('b', 'k', Readable.from([body.subarray(0, 1000), body.subarray(1000)]), { userMetadata: {} }, { size: 4096 });
        expect(store.seen).to.have.length(1);
        expect(store.seen[0].headers['x-amz-content-sha256']).to.equal(sha256(body));
        expect(store.seen[0].body.equals(body)).to.equal(true);

        const failing = new Readable({
          read() {
            this.push(Buffer.alloc(100));
            this.destroy(new Error('checksum failed'));
          },
        });
        const err = await be.putObject('b', 'k2', failing, { userMetadata: {} }, { size: 4096 }).catch((e: unknown) => e);
        expect(err).to.be.instanceOf(Error);
        const short = await be
          .putObject('b', 'k3', Readable.from([Buffer.alloc(10)]), { userMetadata: {} }, { size: 4096 })
          .catch((e: unknown) => e);
        expect((short as { code?: string }).code).to.equal('IncompleteBody');
        expect(store.seen).to.have.length(1);
      } finally {
        await be.http.close();
      }
    });

    it("reads the store's header values as the bytes it sent, UTF-8 or not (a latin1 byte came back as U+FFFD)", async () => {
      // Values as byte strings: Node's server writes each char as one byte.
      const sent = {
        'content-type': 'text/plain; name=caf\xe9',
        'content-disposition': 'attachment; filename="\xe9t\xe9.txt"',
        'cache-control': 'max-age=1, x=\xff\x80',
        'content-language': 'fr-\xc3\xa9', // the UTF-8 bytes of "fr-é"
        'x-amz-meta-latin1': 'caf\xe9',
        'x-amz-meta-utf8': '\xc3\xa9\xf0\x9f\x98\x80',
      };
      store = await countingStore((_req, res) => {
        // Written by hand: Node's own writer refuses some of these bytes in some headers.
        const head = { 'content-length': '4', etag: '"abc"', 'last-modified': new Date().toUTCString(), connection: 'close', ...sent };
        const lines = Object.entries(head).map(([k, v]) => `${k}: ${v}\r\n`);
        res.socket!.end(Buffer.from(`HTTP/1.1 200 OK\r\n${lines.join('')}\r\n`, 'latin1'));
      });
      const be = backendFor(store.url);
      try {
        const meta = await be.headObject('b', 'k');
        expect([meta.contentType, meta.contentDisposition, meta.cacheControl, meta.contentLanguage]).to.deep.equal([
          sent['content-type'],
          sent['content-disposition'],
          sent['cache-control'],
          sent['content-language'],
        ]);
        expect(meta.userMetadata).to.deep.equal({ latin1: 'caf\xe9', utf8: sent['x-amz-meta-utf8'] });
      } finally {
        await be.http.close();
      }
    });

    it('concurrent readers of a stale bucket configuration share one read of the store', async () => {
      store = await countingStore((req, res) => noSuchKey(res));
      process.env.S3MUX_TEST_TRANSPORT_KEY = CREDS.accessKeyId;
      process.env.S3MUX_TEST_TRANSPORT_SECRET = CREDS.secretAccessKey;
      const router = Router.fromTable(
        validateRoutingTable({
          backends: {
            up: {
              type: 's3',
              endpoint: store.url,
              region: 'us-east-1',
              forcePathStyle: true,
              credentials: { accessKeyIdEnv: 'S3MUX_TEST_TRANSPORT_KEY', secretAccessKeyEnv: 'S3MUX_TEST_TRANSPORT_SECRET' },
            },
          },
          routes: { vee: { target: 's3://real/' } },
        }),
      );
      try {
        const view = new BucketView(router.resolve('vee'));
        const configs = new BucketConfigStore(50);
        const read = () => Promise.all(Array.from({ length: 16 }, () => configs.get(view, 'versioning')));
        expect(await read()).to.deep.equal(new Array(16).fill(undefined));
        expect(store.seen).to.have.length(1);
        await new Promise((r) => setTimeout(r, 80)); // stale again
        await read();
        expect(store.seen.map((s) => s.method)).to.deep.equal(['GET', 'GET']);
      } finally {
        await router.close();
        delete process.env.S3MUX_TEST_TRANSPORT_KEY;
        delete process.env.S3MUX_TEST_TRANSPORT_SECRET;
      }
    });
  });
});
