/**
 * Property test of the whole server: requests built from hostile parts (header values,
 * response-* overrides, keys, metadata, XML bodies with character references, aws-chunked
 * framing) go to s3mux running as its own process. After each one: the process is alive, the
 * answer is a well-formed HTTP response carrying success or an S3 error document, nothing was
 * written outside the data directory, and no key changed but the ones the request named.
 *
 * Bounded: FUZZ_RUNS requests (default 300) within FUZZ_SECONDS (default 60). The seed is
 * fixed so CI is repeatable; FUZZ_SEED=<n> explores others. Inputs of failures it found are
 * kept in REGRESSIONS below and run first, every time.
 */
import { expect } from 'chai';
import { createHash } from 'node:crypto';
import { mkdtempSync, readdirSync, rmSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import fc from 'fast-check';
import { CreateBucketCommand, PutObjectCommand, ListObjectsV2Command, GetObjectCommand } from '@aws-sdk/client-s3';
import { startChildServer, CHILD_USER, CHILD_PASSWORD, type ChildServer } from '../helpers/child-server';
import { exchange, type RawResponse } from '../helpers/hostile-wire';
import {
  amzDate,
  authorizationHeader,
  frameChunked,
  serializeChunked,
  sha256Hex,
  sign,
  STREAMING_UNSIGNED_TRAILER,
  UNSIGNED_PAYLOAD,
  type HeaderList,
} from '../helpers/hostile-sigv4';

const BUCKET = 'fuzz';
const RUNS = Number(process.env.FUZZ_RUNS ?? 300);
const SECONDS = Number(process.env.FUZZ_SECONDS ?? 60);
const SEED = Number(process.env.FUZZ_SEED ?? 20261205);

/** Keys that exist before every request; the ones under control/ are never named by one. */
const POOL = ['ef', 'e f', 'a/b', 'a/../b', 'a/./b', 'é', '文件', 'x%2Fy', 'dir/', 'k', '..', 'nul\u0001'];
const CONTROL = ['control/one', 'control/two.bin'];

interface FuzzRequest {
  method: string;
  key: string;
  query: Array<[string, string]>;
  headers: HeaderList;
  body:
    | { kind: 'none' }
    | { kind: 'raw'; data: string }
    | { kind: 'xml'; root: string; keys: string[] }
    | { kind: 'chunked'; data: string; sizeText?: string; after?: string; trailer?: string };
  signed: boolean;
}

// ---------------------------------------------------------------------------------------
// Generators

const HOSTILE_CHARS = [
  '\r',
  '\n',
  '\r\n',
  '\u0000',
  '\u0001',
  '\u001f',
  '\u007f',
  '\t',
  '..',
  '/',
  '%',
  '%00',
  '&',
  '<',
  ']]>',
  '"',
  '文',
  '😀',
  '\u00ff',
  '\u0100',
  '\u2028',
  '\ufffe',
  ' ',
  '\u00e9',
];
const hostileText = (maxLength: number) =>
  fc
    .array(fc.oneof(fc.constantFrom(...HOSTILE_CHARS), fc.string({ unit: 'binary', maxLength: 3 }), fc.string({ maxLength: 4 })), {
      maxLength,
    })
    .map((parts) => parts.join(''));

/** A character reference, valid or not. */
const charRef = fc.oneof(
  fc.integer({ min: 0, max: 0x110001 }).map((n) => `&#x${n.toString(16)};`),
  fc.integer({ min: 0, max: 0x20 }).map((n) => `&#${n};`),
  fc.constantFrom('&amp;', '&lt;', '&#xD800;', '&#xFFFE;', '&#x;', '&nbsp;', '&#0065;', '&#x00000041;'),
);
/** A pool key with a reference slipped in: a parser that dropped it would name the pool key. */
const xmlKey = fc.tuple(fc.constantFrom(...POOL), fc.nat(), charRef).map(([k, at, ref]) => {
  const escaped = k.replace(/&/g, '&amp;').replace(/</g, '&lt;');
  const i = at % (escaped.length + 1);
  return escaped.slice(0, i) + ref + escaped.slice(i);
});

const keyArb = fc
  .oneof(
    fc.constantFrom(...POOL),
    hostileText(6).filter((k) => k.length > 0),
    fc.constantFrom('long/' + 'k'.repeat(1100), '../../etc/passwd', '.s3mux/tmp/x', 'a\u0000b'),
  )
  .filter((k) => !CONTROL.includes(k));

const headerName = fc.oneof(
  fc.constantFrom(
    'content-type',
    'content-disposition',
    'content-encoding',
    'cache-control',
    'expires',
    'expect',
    'range',
    'if-match',
    'if-none-match',
    'x-amz-tagging',
    'x-amz-storage-class',
    'x-amz-checksum-crc32',
    'x-amz-meta-note',
    'content-md5',
    'x-amz-copy-source',
    'x-amz-metadata-directive',
  ),
  hostileText(2).map((s) => `x-amz-meta-${s}`),
);
/** Header values as the bytes a client sends: text as UTF-8, read by Node as latin1. */
const headerValue = hostileText(5).map((v) => Buffer.from(v, 'utf8').toString('latin1'));

const OVERRIDES = [
  'response-content-type',
  'response-content-disposition',
  'response-content-language',
  'response-expires',
  'response-cache-control',
  'response-content-encoding',
];
const queryArb = fc.array(
  fc.oneof(
    fc.tuple(fc.constantFrom(...OVERRIDES), hostileText(4)),
    fc.tuple(
      fc.constantFrom('tagging', 'uploads', 'acl', 'delete', 'partNumber', 'uploadId', 'list-type', 'prefix', 'versionId'),
      fc.oneof(fc.constant(''), hostileText(2)),
    ),
  ),
  { maxLength: 3 },
);

const bodyArb = fc.oneof(
  fc.constant({ kind: 'none' as const }),
  hostileText(8).map((data) => ({ kind: 'raw' as const, data })),
  fc
    .tuple(fc.constantFrom('Delete', 'CompleteMultipartUpload', 'Tagging'), fc.array(xmlKey, { minLength: 1, maxLength: 3 }))
    .map(([root, keys]) => ({ kind: 'xml' as const, root, keys })),
  fc
    .record({
      data: hostileText(8),
      sizeText: fc.option(fc.constantFrom('ffffffffffffffff', '-1', 'zz', '0', '1;x', ''), { nil: undefined }),
      after: fc.option(fc.constantFrom('', '\n', 'XX', '\r\n\r\n'), { nil: undefined }),
      trailer: fc.option(fc.constantFrom('x-amz-checksum-crc32:AAAAAA==', 'x-amz-meta-smuggled:yes', 'garbage'), { nil: undefined }),
    })
    .map((c) => ({ kind: 'chunked' as const, ...c })),
);

const requestArb: fc.Arbitrary<FuzzRequest> = fc.record({
  method: fc.constantFrom('GET', 'HEAD', 'PUT', 'POST', 'DELETE'),
  key: keyArb,
  query: queryArb,
  headers: fc.array(fc.tuple(headerName, headerValue), { maxLength: 4 }),
  body: bodyArb,
  // Mostly signed, so requests get past authentication to the handlers.
  signed: fc.oneof({ arbitrary: fc.constant(true), weight: 4 }, { arbitrary: fc.constant(false), weight: 1 }),
});

// ---------------------------------------------------------------------------------------
// Wire

const enc = (s: string) => encodeURIComponent(s).replace(/[!'()*]/g, (c) => '%' + c.charCodeAt(0).toString(16).toUpperCase());

function xmlDocument(root: string, keys: string[]): string {
  const inner = {
    Delete: keys.map((k) => `<Object><Key>${k}</Key></Object>`).join(''),
    CompleteMultipartUpload: keys.map((k, i) => `<Part><PartNumber>${i + 1}</PartNumber><ETag>${k}</ETag></Part>`).join(''),
    Tagging: `<TagSet>${keys.map((k) => `<Tag><Key>${k}</Key><Value>v</Value></Tag>`).join('')}</TagSet>`,
  }[root];
  return `<${root} xmlns="http://s3.amazonaws.com/doc/2006-03-01/">${inner}</${root}>`;
}

function serialize(r: FuzzRequest, host: string): Buffer {
  const rawPath = `/${BUCKET}/${r.key.split('/').map(enc).join('/')}`;
  const query = r.query.map(([k, v]) => (v === '' ? enc(k) : `${enc(k)}=${enc(v)}`)).join('&');
  const headers: HeaderList = [
    ['host', host],
    ['x-amz-date', amzDate(new Date())],
  ];
  let body: Buffer;
  let payload: string;
  const b = r.body;
  if (b.kind === 'chunked') {
    const framed = frameChunked(Buffer.from(b.data, 'utf8'), 3, {
      trailers: b.trailer ? [[b.trailer.split(':')[0], b.trailer.split(':')[1] ?? '']] : [],
    });
    if (b.sizeText !== undefined) framed.chunks[0].sizeText = b.sizeText;
    if (b.after !== undefined) framed.chunks[0].after = b.after;
    body = serializeChunked(framed);
    payload = STREAMING_UNSIGNED_TRAILER;
    headers.push(['content-encoding', 'aws-chunked'], ['x-amz-decoded-content-length', String(Buffer.byteLength(b.data))]);
    if (b.trailer) headers.push(['x-amz-trailer', b.trailer.split(':')[0]]);
  } else {
    body = b.kind === 'none' ? Buffer.alloc(0) : Buffer.from(b.kind === 'xml' ? xmlDocument(b.root, b.keys) : b.data, 'utf8');
    payload = r.method === 'PUT' && body.length > 0 && r.headers.length % 2 ? UNSIGNED_PAYLOAD : sha256Hex(body);
    if (b.kind === 'xml') headers.push(['content-md5', createHash('md5').update(body).digest('base64')]);
  }
  headers.push(['x-amz-content-sha256', payload], ...r.headers);
  if (body.length > 0 || r.method === 'PUT' || r.method === 'POST') headers.push(['content-length', String(body.length)]);
  if (r.signed) {
    const sig = sign({ method: r.method, path: rawPath, query, headers }, payload, {
      accessKeyId: CHILD_USER,
      secret: CHILD_PASSWORD,
      amzDate: headers[1][1],
    });
    headers.push(['authorization', authorizationHeader(CHILD_USER, sig)]);
  }
  const head = `${r.method} ${rawPath}${query ? '?' + query : ''} HTTP/1.1\r\n${headers.map(([n, v]) => `${n}: ${v}`).join('\r\n')}\r\nconnection: close\r\n\r\n`;
  return Buffer.concat([Buffer.from(head, 'latin1'), body]);
}

/** What a strict XML reader makes of a key's text; undefined when XML 1.0 cannot hold it. */
function decodeXmlText(s: string): string | undefined {
  // eslint-disable-next-line no-control-regex
  if (/[\u0000-\u0008\u000b\u000c\u000e-\u001f\ufffe\uffff]/.test(s)) return undefined;
  if (/&(?!(amp|lt|gt|quot|apos|#x[0-9a-fA-F]+|#\d+);)/.test(s)) return undefined;
  let bad = false;
  const out = s.replace(/&([^;&]*);/g, (_, ref: string) => {
    const named: Record<string, string> = { amp: '&', lt: '<', gt: '>', quot: '"', apos: "'" };
    if (named[ref]) return named[ref];
    const m = /^#(?:x([0-9a-fA-F]+)|(\d+))$/.exec(ref);
    const cp = m ? parseInt(m[1] ?? m[2], m[1] !== undefined ? 16 : 10) : -1;
    const ok =
      cp === 0x9 ||
      cp === 0xa ||
      cp === 0xd ||
      (cp >= 0x20 && cp <= 0xd7ff) ||
      (cp >= 0xe000 && cp <= 0xfffd) ||
      (cp >= 0x10000 && cp <= 0x10ffff);
    if (!ok) {
      bad = true;
      return '';
    }
    return String.fromCodePoint(cp);
  });
  return bad ? undefined : out;
}

/** Keys a request may change: its own, and those its delete document names exactly. */
function namedKeys(r: FuzzRequest): Set<string> {
  const named = new Set([r.key]);
  if (r.body.kind === 'xml' && r.body.root === 'Delete') {
    for (const k of r.body.keys) {
      const d = decodeXmlText(k);
      if (d !== undefined) named.add(d);
    }
  }
  return named;
}

function wellFormed(method: string, res: RawResponse): string | undefined {
  if (res.timedOut) return 'no answer within the timeout';
  if (res.status < 100 || res.status > 599) return `no HTTP status (${res.socketError ?? 'closed'})`;
  if (res.status >= 300 && res.status !== 304 && method !== 'HEAD') {
    const text = res.body.toString('utf8');
    if (!/^<\?xml[^>]*>\s*<Error>[\s\S]*<Code>[A-Za-z]+<\/Code>[\s\S]*<\/Error>\s*$/.test(text))
      return `status ${res.status} without an S3 error document: ${JSON.stringify(text.slice(0, 200))}`;
  }
  return undefined;
}

// Inputs that once broke s3mux (issue 10), replayed before the random ones.
const REGRESSIONS: FuzzRequest[] = [
  {
    method: 'GET',
    key: 'ef',
    query: [['response-content-disposition', 'attachment; filename="résumé-文件.pdf"']],
    headers: [],
    body: { kind: 'none' },
    signed: true,
  },
  { method: 'GET', key: 'ef', query: [['response-content-type', '\r\nX-Evil: 1']], headers: [], body: { kind: 'none' }, signed: true },
  { method: 'GET', key: 'ef', query: [['response-content-type', '\r\nX-Evil: 1']], headers: [], body: { kind: 'none' }, signed: false },
  { method: 'POST', key: '', query: [['delete', '']], headers: [], body: { kind: 'xml', root: 'Delete', keys: ['e&#x1;f'] }, signed: true },
  {
    method: 'POST',
    key: '',
    query: [['delete', '']],
    headers: [],
    body: { kind: 'xml', root: 'Delete', keys: ['e&#0;f', 'e&#xD800;f'] },
    signed: true,
  },
  { method: 'GET', key: 'ef', query: [], headers: [['expect', 'bogus']], body: { kind: 'none' }, signed: true },
];

describe('protocol: fuzzing the server with hostile requests', function () {
  this.timeout((SECONDS + 120) * 1000);
  let sandbox: string;
  let srv: ChildServer;
  let host: string;
  let port: number;
  let baseline: Map<string, string>;

  const snapshot = async (): Promise<Map<string, string>> => {
    const m = new Map<string, string>();
    let token: string | undefined;
    do {
      const page = await srv.client.send(new ListObjectsV2Command({ Bucket: BUCKET, ContinuationToken: token, EncodingType: 'url' }));
      for (const o of page.Contents ?? []) m.set(decodeURIComponent(o.Key!), `${o.ETag}/${o.Size}`);
      token = page.NextContinuationToken;
    } while (token);
    return m;
  };

  before(async function () {
    // The server under test is a child process on the embedded fs backend; the protocol
    // suite's runs on other backends (S3MUX_TEST_BACKEND) need not repeat it.
    if (process.env.S3MUX_TEST_BACKEND) this.skip();
    sandbox = mkdtempSync(path.join(os.tmpdir(), 's3mux-fuzz-'));
    srv = await startChildServer(path.join(sandbox, 'data'));
    const u = new URL(srv.url);
    host = u.host;
    port = Number(u.port);
    await srv.client.send(new CreateBucketCommand({ Bucket: BUCKET }));
    for (const k of [...POOL, ...CONTROL]) {
      await srv.client.send(
        new PutObjectCommand({ Bucket: BUCKET, Key: k, Body: `content of ${k}`, Metadata: { origin: 'fixture' }, Tagging: 'keep=yes' }),
      );
    }
    baseline = await snapshot();
  });
  after(async () => {
    await srv?.stop();
    if (sandbox) rmSync(sandbox, { recursive: true, force: true });
  });

  async function check(r: FuzzRequest): Promise<void> {
    const res = await exchange(port, serialize(r, host), { halfClose: true, timeoutMs: 15_000 });
    expect(srv.process.exitCode, `s3mux exited: ${srv.log().slice(-2000)}`).to.equal(null);
    expect(srv.process.signalCode).to.equal(null);
    const problem = wellFormed(r.method, res);
    expect(problem, JSON.stringify(r)).to.equal(undefined);
    // Only keys the request named may have changed or gone; new keys only under its own name.
    const now = await snapshot();
    const named = namedKeys(r);
    for (const [k, v] of baseline) {
      if (!named.has(k)) expect(now.get(k), `key ${JSON.stringify(k)} changed by ${JSON.stringify(r)}`).to.equal(v);
    }
    for (const k of now.keys()) {
      if (!baseline.has(k)) expect(named.has(k), `key ${JSON.stringify(k)} appeared after ${JSON.stringify(r)}`).to.equal(true);
    }
    // Restore what the request was allowed to change, so every run starts from the same store.
    for (const k of named) {
      if (baseline.has(k) && now.get(k) !== baseline.get(k)) {
        await srv.client.send(
          new PutObjectCommand({ Bucket: BUCKET, Key: k, Body: `content of ${k}`, Metadata: { origin: 'fixture' }, Tagging: 'keep=yes' }),
        );
      }
    }
    baseline = await snapshot();
  }

  it('replays every input that once broke it', async () => {
    for (const r of REGRESSIONS) await check(r);
  });

  it(`survives ${RUNS} generated requests (seed ${SEED}) with every answer well-formed and no other key touched`, async () => {
    await fc.assert(
      fc.asyncProperty(requestArb, async (r) => {
        await check(r);
      }),
      {
        numRuns: RUNS,
        seed: SEED,
        interruptAfterTimeLimit: SECONDS * 1000,
        endOnFailure: true,
      },
    );
    // Nothing beside the data directory, and the control objects read back whole.
    expect(readdirSync(sandbox)).to.deep.equal(['data']);
    for (const k of CONTROL) {
      const o = await srv.client.send(new GetObjectCommand({ Bucket: BUCKET, Key: k }));
      expect(await o.Body!.transformToString()).to.equal(`content of ${k}`);
      expect(o.Metadata?.origin).to.equal('fixture');
    }
  });
});
