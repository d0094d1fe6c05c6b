/**
 * Hostile input: well over a thousand malformed, lying or abusive requests, generated from
 * tables × mutations with a seeded PRNG (HOSTILE_SEED=<n> reproduces a run), sent as exact
 * bytes on raw sockets so that no HTTP client normalises them away.
 *
 * For every request: a 4xx answer with an S3 error document whose <Code> is the one S3
 * gives (or, where S3's answer is not documented, one of a small documented set), never
 * InternalError; for HTTP-level garbage Node's own 400/431 is accepted. After each batch a
 * normal signed request must still work, and at the end nothing may have been stored:
 * listings, uploads, parts, tags and the fs data directory are exactly as the test left them
 * on purpose, and <dataDir>/.s3mux/tmp is empty.
 *
 * Every mutation starts from a request that a control case proves the server accepts, so an
 * expected SignatureDoesNotMatch cannot pass merely because the test signs wrongly.
 */
import { createHash } from 'node:crypto';
import { existsSync, readdirSync, readFileSync, statSync } from 'node:fs';
import path from 'node:path';
import { expect } from 'chai';
import { tempFiles } from '../helpers/fs-temps';
import { startTestServer, ACCESS_KEY, SECRET_KEY, type TestServer } from '../helpers/server';
import { signedFetch } from '../helpers/sign';
import { checksumBase64, type ChecksumAlgorithm } from '../../src/s3/checksums';
import {
  ALGORITHM,
  EMPTY_SHA256,
  STREAMING_PAYLOAD,
  STREAMING_PAYLOAD_TRAILER,
  STREAMING_UNSIGNED_TRAILER,
  UNSIGNED_PAYLOAD,
  amzDate,
  authorizationHeader,
  defaultSignedHeaders,
  frameChunked,
  scopeOf,
  serializeChunked,
  sha256Hex,
  sign,
  type ChunkedBody,
  type HeaderList,
  type Scope,
  type SigningResult,
} from '../helpers/hostile-sigv4';
import { exchange, flipHex, pool, Prng, type RawResponse, type SendOptions } from '../helpers/hostile-wire';

const SEED = Number(process.env.HOSTILE_SEED ?? 0x5eed5);
const CONCURRENCY = 8;
const BUCKET = 'hostile';
const NS = 'http://s3.amazonaws.com/doc/2006-03-01/';
const CREDS = { accessKeyId: ACCESS_KEY, secretAccessKey: SECRET_KEY };

/** S3's HTTP status for each code the test expects. */
const S3_STATUS: Record<string, number> = {
  AccessDenied: 403,
  AuthorizationHeaderMalformed: 400,
  AuthorizationQueryParametersError: 400,
  BadDigest: 400,
  EntityTooLarge: 400,
  IncompleteBody: 400,
  InvalidAccessKeyId: 403,
  InvalidArgument: 400,
  InvalidBucketName: 400,
  InvalidDigest: 400,
  InvalidPart: 400,
  InvalidPartOrder: 400,
  InvalidPartNumber: 416,
  InvalidRequest: 400,
  InvalidURI: 400,
  InvalidTag: 400,
  KeyTooLongError: 400,
  MalformedXML: 400,
  MetadataTooLarge: 400,
  MethodNotAllowed: 405,
  MissingContentLength: 411,
  NoSuchBucket: 404,
  NoSuchKey: 404,
  NoSuchUpload: 404,
  RequestTimeTooSkewed: 403,
  SignatureDoesNotMatch: 403,
  XAmzContentSHA256Mismatch: 400,
  InvalidToken: 400,
  InvalidLocationConstraint: 400,
  MalformedTrailerError: 400,
  MaxMessageLengthExceeded: 400,
  RequestTimeout: 400,
};

/** How long a stalled body may hold a connection before S3 answers RequestTimeout (S3: about 20 s). */
const STALL_WAIT_MS = 30_000;

// ---------------------------------------------------------------------------------------
// Cases

type Expect =
  /** An S3 error document with one of these codes. */
  | { codes: readonly string[]; status?: number }
  /** HTTP-level garbage: Node's parser may answer (400/431/505, no XML) or s3mux may. */
  | { http: true; allowNoAnswer?: boolean }
  /** DeleteObjects: S3 authorizes each key, so a refused caller gets 200 with one error of these codes per key and nothing deleted. */
  | { perKey: readonly string[] };

interface Case {
  cat: string;
  name: string;
  bytes: Buffer;
  method: string;
  send?: SendOptions;
  expect: Expect;
}

interface Outcome {
  c: Case;
  status: number;
  code: string;
  problem?: string;
}

const codes = (...c: string[]): Expect => ({ codes: c });
const HTTP: Expect = { http: true };

/** One request before serialisation. */
interface Wire {
  method: string;
  path: string;
  query: string;
  headers: HeaderList;
  body: Buffer;
  sig?: SigningResult;
}

interface Req {
  method: string;
  path: string;
  query?: string;
  headers?: HeaderList;
  body?: Buffer | string;
  /** x-amz-content-sha256: 'signed' (sha256 of the body, the default), 'unsigned', or a literal value. */
  payload?: string;
}

interface SignOpts {
  date?: Date;
  /** x-amz-date exactly as sent (and used in the string to sign unless signDate is given). */
  amzDate?: string;
  signDate?: string;
  scope?: Partial<Scope>;
  signedHeaders?: string[] | ((defaults: string[]) => string[]);
  noDateHeader?: boolean;
  noContentSha?: boolean;
  /** Sign this payload hash while sending another. */
  signPayload?: string;
}

let HOST = '';

function build(req: Req, so: SignOpts = {}): Wire {
  const body = Buffer.isBuffer(req.body) ? req.body : Buffer.from(req.body ?? '', 'utf8');
  const amz = so.amzDate ?? amzDate(so.date ?? new Date());
  const payload =
    req.payload === undefined || req.payload === 'signed' ? sha256Hex(body) : req.payload === 'unsigned' ? UNSIGNED_PAYLOAD : req.payload;
  const headers: HeaderList = [['host', HOST]];
  if (!so.noDateHeader) headers.push(['x-amz-date', amz]);
  if (!so.noContentSha) headers.push(['x-amz-content-sha256', payload]);
  headers.push(...(req.headers ?? []));
  let signed = defaultSignedHeaders(headers);
  if (so.signedHeaders) signed = typeof so.signedHeaders === 'function' ? so.signedHeaders(signed) : so.signedHeaders;
  const scope: Scope = { accessKeyId: ACCESS_KEY, secret: SECRET_KEY, amzDate: so.signDate ?? amz, ...so.scope };
  const sig = sign({ method: req.method, path: req.path, query: req.query ?? '', headers }, so.signPayload ?? payload, scope, signed);
  headers.push(['authorization', authorizationHeader(scope.accessKeyId, sig)]);
  return { method: req.method, path: req.path, query: req.query ?? '', headers, body, sig };
}

function anon(req: Req): Wire {
  const body = Buffer.isBuffer(req.body) ? req.body : Buffer.from(req.body ?? '', 'utf8');
  return { method: req.method, path: req.path, query: req.query ?? '', headers: [['host', HOST], ...(req.headers ?? [])], body };
}

function getAuth(w: Wire): string {
  return w.headers.find(([n]) => n === 'authorization')![1];
}

function withAuth(w: Wire, value: string | ((a: string) => string)): Wire {
  const a = getAuth(w);
  const v = typeof value === 'function' ? value(a) : value;
  return { ...w, headers: w.headers.map(([n, x]) => (n === 'authorization' ? [n, v] : [n, x])) };
}

function setHeader(w: Wire, name: string, value: string | undefined): Wire {
  const headers = w.headers.filter(([n]) => n !== name);
  if (value !== undefined) headers.push([name, value]);
  return { ...w, headers };
}

interface SerializeOpts {
  /** Content-Length to send; null for none; default the body's length. */
  contentLength?: string | null;
  /** Bytes sent instead of the body (a body that differs from what Content-Length says). */
  sendBody?: Buffer;
  noConnectionClose?: boolean;
}

function serialize(w: Wire, o: SerializeOpts = {}): Buffer {
  let head = `${w.method} ${w.path}${w.query ? '?' + w.query : ''} HTTP/1.1\r\n`;
  for (const [n, v] of w.headers) head += `${n}: ${v}\r\n`;
  const cl = o.contentLength === undefined ? String(w.body.length) : o.contentLength;
  if (cl !== null) head += `content-length: ${cl}\r\n`;
  if (!o.noConnectionClose) head += 'connection: close\r\n';
  head += '\r\n';
  return Buffer.concat([Buffer.from(head, 'latin1'), o.sendBody ?? w.body]);
}

/** A UTF-8 string as the latin1 string whose bytes are its UTF-8 encoding (header values are written as latin1). */
const utf8Bytes = (s: string) => Buffer.from(s, 'utf8').toString('latin1');

const enc = (s: string) => encodeURIComponent(s).replace(/[!'()*]/g, (c) => '%' + c.charCodeAt(0).toString(16).toUpperCase());
const encKey = (k: string) => k.split('/').map(enc).join('/');
const md5b64 = (b: Buffer | string) => createHash('md5').update(b).digest('base64');
/** A DeleteObjects body with the Content-MD5 S3 requires of it. */
const batch = (keys: string[]): { body: string; headers: HeaderList } => {
  const body = deleteDoc(keys);
  return { body, headers: [['content-md5', md5b64(body)]] };
};
const deleteDoc = (keys: string[]) =>
  `<?xml version="1.0" encoding="UTF-8"?><Delete xmlns="${NS}">${keys.map((k) => `<Object><Key>${k}</Key></Object>`).join('')}<Quiet>false</Quiet></Delete>`;
const completeDoc = (parts: Array<[number | string, string]>) =>
  `<CompleteMultipartUpload xmlns="${NS}">${parts.map(([n, e]) => `<Part><PartNumber>${n}</PartNumber><ETag>"${e}"</ETag></Part>`).join('')}</CompleteMultipartUpload>`;
const taggingDoc = (tags: Array<[string, string]>) =>
  `<Tagging xmlns="${NS}"><TagSet>${tags.map(([k, v]) => `<Tag><Key>${k}</Key><Value>${v}</Value></Tag>`).join('')}</TagSet></Tagging>`;
const bucketDoc = (loc: string) =>
  `<CreateBucketConfiguration xmlns="${NS}"><LocationConstraint>${loc}</LocationConstraint></CreateBucketConfiguration>`;

// ---------------------------------------------------------------------------------------
// The fixture the test creates on purpose

interface Fixture {
  uploadId: string;
  part1Etag: string;
  /** Object bytes by key, as put on purpose. */
  objects: Map<string, Buffer>;
}

const KEEP_A = 'keep/a.txt';
const KEEP_B = 'keep/b.bin';
const KEEP_TAGGED = 'keep/tagged.txt';
const MPU_KEY = 'keep/mpu.bin';
const PING = 'health/ping.txt';
/** Named by a DeleteObjects document that is only malformed further on: it must survive. */
const VICTIM = 'keep/victim.txt';

/** The base operations every authentication mutation is applied to. */
function baseOps(f: Fixture): Array<Req & { name: string }> {
  return [
    { name: 'GetObject', method: 'GET', path: `/${BUCKET}/${KEEP_A}` },
    {
      name: 'PutObject',
      method: 'PUT',
      path: `/${BUCKET}/target/put.txt`,
      body: 'hostile payload',
      headers: [['content-type', 'text/plain']],
    },
    { name: 'DeleteObject', method: 'DELETE', path: `/${BUCKET}/${KEEP_B}` },
    { name: 'ListObjectsV2', method: 'GET', path: `/${BUCKET}`, query: 'list-type=2&prefix=keep%2F' },
    { name: 'DeleteObjects', method: 'POST', path: `/${BUCKET}`, query: 'delete=', ...batch([KEEP_A]) },
    {
      name: 'UploadPart',
      method: 'PUT',
      path: `/${BUCKET}/${MPU_KEY}`,
      query: `partNumber=2&uploadId=${enc(f.uploadId)}`,
      body: 'part two bytes',
    },
    { name: 'CreateBucket', method: 'PUT', path: '/hostile-newbucket' },
    { name: 'ListBuckets', method: 'GET', path: '/' },
  ];
}

// ---------------------------------------------------------------------------------------
// Category: Authorization header

function authHeaderCases(f: Fixture, r: Prng): Case[] {
  const cat = 'auth-header';
  const out: Case[] = [];
  const MAL = codes('AuthorizationHeaderMalformed');
  const UNSUPPORTED = codes('InvalidArgument'); // S3: InvalidArgument "Unsupported Authorization Type"
  // A signature S3 cannot match; when the scope is also bad S3 may report the scope first.
  const SDNM_OR_MAL = codes('SignatureDoesNotMatch', 'AuthorizationHeaderMalformed');
  const today = amzDate(new Date()).slice(0, 8);
  const yesterday = amzDate(new Date(Date.now() - 86400_000)).slice(0, 8);

  const stringMutations: Array<[string, (a: string, w: Wire) => string, Expect]> = [
    ['empty value', () => '', codes('InvalidArgument', 'AccessDenied', 'AuthorizationHeaderMalformed')],
    ['algorithm only', () => ALGORITHM, MAL],
    ['algorithm and garbage', () => `${ALGORITHM} garbage`, MAL],
    ['no commas', (a) => a.replace(/, /g, ' '), MAL],
    ['semicolons for commas', (a) => a.replace(/, /g, '; '), MAL],
    ['drop Credential', (a) => a.replace(/Credential=[^,]*, /, ''), MAL],
    ['drop SignedHeaders', (a) => a.replace(/SignedHeaders=[^,]*, /, ''), MAL],
    ['drop Signature', (a) => a.replace(/, Signature=.*/, ''), MAL],
    ['drop Credential and Signature', (a) => a.replace(/Credential=[^,]*, /, '').replace(/, Signature=.*/, ''), MAL],
    ['only Signature', (a) => `${ALGORITHM} ${a.slice(a.indexOf('Signature='))}`, MAL],
    ['empty Credential', (a) => a.replace(/Credential=[^,]*/, 'Credential='), MAL],
    ['empty SignedHeaders', (a) => a.replace(/SignedHeaders=[^,]*/, 'SignedHeaders='), MAL],
    ['empty Signature', (a) => a.replace(/Signature=[0-9a-f]+$/, 'Signature='), MAL],
    ['component without =', (a) => a.replace('Credential=', 'Credential'), MAL],
    ['algorithm SHA512', (a) => a.replace(ALGORITHM, 'AWS4-HMAC-SHA512'), UNSUPPORTED],
    ['algorithm SHA1', (a) => a.replace(ALGORITHM, 'AWS4-HMAC-SHA1'), UNSUPPORTED],
    ['algorithm suffix', (a) => a.replace(ALGORITHM, ALGORITHM + 'X'), UNSUPPORTED],
    ['algorithm AWS5', (a) => a.replace(ALGORITHM, 'AWS5-HMAC-SHA256'), UNSUPPORTED],
    // SigV4a with an HMAC signature and a regional scope: refused, but how S3 words it is unknown.
    [
      'algorithm SigV4a',
      (a) => a.replace(ALGORITHM, 'AWS4-ECDSA-P256-SHA256'),
      codes('InvalidArgument', 'AuthorizationHeaderMalformed', 'SignatureDoesNotMatch'),
    ],
    [
      'lower-case algorithm',
      (a) => a.replace(ALGORITHM, ALGORITHM.toLowerCase()),
      codes('InvalidArgument', 'AuthorizationHeaderMalformed'),
    ],
    ['Bearer token', () => 'Bearer eyJhbGciOiJIUzI1NiJ9.e30.ZRrHA1JJJW8opsbCGfG_HACGpVUMN_a9IV7pAx_Zmeo', UNSUPPORTED],
    ['Basic credentials', () => 'Basic dGVzdGFjY2Vzc2tleTp0ZXN0c2VjcmV0a2V5', UNSUPPORTED],
    ['Digest', () => 'Digest username="testaccesskey", realm="s3", nonce="x", uri="/", response="00"', UNSUPPORTED],
    // SigV2 is not implemented in s3mux (documented: AccessDenied "SigV2 not supported"); S3 would verify it.
    ['SigV2 known key, bad signature', () => `AWS ${ACCESS_KEY}:c2lnbmF0dXJl`, codes('SignatureDoesNotMatch', 'AccessDenied')],
    ['SigV2 unknown key', () => 'AWS AKIANOTEXISTING00:c2lnbmF0dXJl', codes('InvalidAccessKeyId', 'AccessDenied')],
    ['SigV2 no colon', () => `AWS ${ACCESS_KEY}`, codes('InvalidArgument', 'AccessDenied', 'AuthorizationHeaderMalformed')],
    ['scope date with dashes', (a) => a.replace(`/${today}/`, `/${today.slice(0, 4)}-${today.slice(4, 6)}-${today.slice(6)}/`), MAL],
    ['scope date 7 digits', (a) => a.replace(`/${today}/`, `/${today.slice(0, 7)}/`), MAL],
    ['scope date 9 digits', (a) => a.replace(`/${today}/`, `/${today}1/`), MAL],
    ['scope date letters', (a) => a.replace(`/${today}/`, '/abcdefgh/'), MAL],
    ['scope date empty', (a) => a.replace(`/${today}/`, '//'), MAL],
    ['scope date yesterday (not re-signed)', (a) => a.replace(`/${today}/`, `/${yesterday}/`), MAL],
    ['region empty', (a) => a.replace('/us-east-1/', '//'), MAL],
    // s3mux accepts any region a client signs for (by design); S3 checks the region first.
    ['region upper-case', (a) => a.replace('/us-east-1/', '/US-EAST-1/'), SDNM_OR_MAL],
    ['region underscore', (a) => a.replace('/us-east-1/', '/us_east_1/'), SDNM_OR_MAL],
    ['region non-ASCII', (a) => a.replace('/us-east-1/', `/${utf8Bytes('üs-east-1')}/`), SDNM_OR_MAL],
    ['region 2000 chars', (a) => a.replace('/us-east-1/', `/${'r'.repeat(2000)}/`), SDNM_OR_MAL],
    ['service empty', (a) => a.replace('/s3/', '//'), MAL],
    ['service ec2 (not re-signed)', (a) => a.replace('/s3/', '/ec2/'), SDNM_OR_MAL],
    ['service S3 (not re-signed)', (a) => a.replace('/s3/', '/S3/'), SDNM_OR_MAL],
    ['terminator suffix', (a) => a.replace('aws4_request', 'aws4_requestX'), MAL],
    ['terminator upper-case', (a) => a.replace('aws4_request', 'AWS4_REQUEST'), MAL],
    ['terminator aws5', (a) => a.replace('aws4_request', 'aws5_request'), MAL],
    ['terminator missing', (a) => a.replace('/aws4_request', ''), MAL],
    ['terminator trailing slash', (a) => a.replace('aws4_request', 'aws4_request/'), MAL],
    ['extra scope part', (a) => a.replace('/s3/', '/s3/extra/'), MAL],
    ['access key empty', (a) => a.replace(`Credential=${ACCESS_KEY}/`, 'Credential=/'), MAL],
    ['access key unknown', (a) => a.replace(`Credential=${ACCESS_KEY}/`, 'Credential=AKIANOTEXISTING00/'), codes('InvalidAccessKeyId')],
    [
      'access key case-changed',
      (a) => a.replace(`Credential=${ACCESS_KEY}/`, `Credential=${ACCESS_KEY.toUpperCase()}/`),
      codes('InvalidAccessKeyId'),
    ],
    [
      'access key 6000 chars',
      (a) => a.replace(`Credential=${ACCESS_KEY}/`, `Credential=${'K'.repeat(6000)}/`),
      codes('InvalidAccessKeyId', 'AuthorizationHeaderMalformed'),
    ],
    [
      'access key non-ASCII (UTF-8)',
      (a) => a.replace(`Credential=${ACCESS_KEY}/`, `Credential=${utf8Bytes('clé-d’accès')}/`),
      codes('InvalidAccessKeyId', 'AuthorizationHeaderMalformed'),
    ],
    [
      'access key latin1 byte',
      (a) => a.replace(`Credential=${ACCESS_KEY}/`, `Credential=${ACCESS_KEY}\xe9/`),
      codes('InvalidAccessKeyId', 'AuthorizationHeaderMalformed'),
    ],
    ['SignedHeaders ;;', (a) => a.replace(/SignedHeaders=[^,]*/, 'SignedHeaders=;;'), MAL],
    ['SignedHeaders leading ;', (a) => a.replace('SignedHeaders=', 'SignedHeaders=;'), MAL],
    ['SignedHeaders double ;', (a) => a.replace(/SignedHeaders=([^;,]+);/, 'SignedHeaders=$1;;'), MAL],
    [
      'SignedHeaders upper-case (not re-signed)',
      (a) => a.replace(/SignedHeaders=[^,]*/, (m) => m.replace('SignedHeaders=', '').toUpperCase().replace(/^/, 'SignedHeaders=')),
      SDNM_OR_MAL,
    ],
    [
      'SignedHeaders names an absent header (not re-signed)',
      (a) => a.replace(/SignedHeaders=([^;,]+);/, 'SignedHeaders=$1;x-absent;'),
      codes('SignatureDoesNotMatch', 'AuthorizationHeaderMalformed', 'AccessDenied'),
    ],
    [
      'Credential repeated, first wrong',
      (a) => a.replace('Credential=', 'Credential=AKIANOTEXISTING00/20200101/us-east-1/s3/aws4_request, Credential='),
      codes('AuthorizationHeaderMalformed', 'SignatureDoesNotMatch', 'InvalidAccessKeyId'),
    ],
    [
      'Credential repeated, second wrong',
      (a) => a.replace(/(Credential=[^,]*)/, '$1, Credential=AKIANOTEXISTING00/20200101/us-east-1/s3/aws4_request'),
      codes('AuthorizationHeaderMalformed', 'SignatureDoesNotMatch', 'InvalidAccessKeyId'),
    ],
    ['Signature repeated, first wrong', (a) => a.replace('Signature=', `Signature=${'0'.repeat(64)}, Signature=`), SDNM_OR_MAL],
    ['Signature repeated, second wrong', (a) => `${a}, Signature=${'0'.repeat(64)}`, SDNM_OR_MAL],
    ['SignedHeaders repeated, one wrong', (a) => a.replace('SignedHeaders=', 'SignedHeaders=host, SignedHeaders='), SDNM_OR_MAL],
    ['Signature 8000 chars', (a) => a.replace(/Signature=[0-9a-f]+$/, `Signature=${'a'.repeat(8000)}`), SDNM_OR_MAL],
    ['Signature 63 chars', (a) => a.slice(0, -1), SDNM_OR_MAL],
    ['Signature 65 chars', (a) => a + '0', SDNM_OR_MAL],
    [
      'Signature upper-case hex',
      (a) => a.replace(/Signature=([0-9a-f]+)$/, (_m, s: string) => `Signature=${s.toUpperCase()}`),
      SDNM_OR_MAL,
    ],
    ['Signature non-hex', (a) => a.replace(/Signature=[0-9a-f]+$/, `Signature=${'z'.repeat(64)}`), SDNM_OR_MAL],
    ['Signature latin1 byte', (a) => a.slice(0, -1) + '\xe9', SDNM_OR_MAL],
    ['Signature UTF-8 bytes', (a) => a.slice(0, -2) + utf8Bytes('é'), SDNM_OR_MAL],
    ['algorithm latin1 byte', (a) => a.replace(ALGORITHM, 'AWS4-HMAC-SHA256\xff'), UNSUPPORTED],
    [
      'lower-case component names',
      (a) => a.replace('Credential=', 'credential=').replace('SignedHeaders=', 'signedheaders=').replace('Signature=', 'signature='),
      MAL,
    ],
    [
      'upper-case component names',
      (a) => a.replace('Credential=', 'CREDENTIAL=').replace('SignedHeaders=', 'SIGNEDHEADERS=').replace('Signature=', 'SIGNATURE='),
      MAL,
    ],
    ['whole header lower-case', (a) => a.toLowerCase(), codes('InvalidArgument', 'AuthorizationHeaderMalformed')],
    [
      'whole header upper-case',
      (a) => a.toUpperCase(),
      codes('InvalidArgument', 'AuthorizationHeaderMalformed', 'SignatureDoesNotMatch', 'InvalidAccessKeyId'),
    ],
  ];

  for (const op of baseOps(f)) {
    const w = build(op);
    const send = (name: string, wire: Wire, e: Expect) =>
      out.push({ cat, name: `${op.name}: ${name}`, bytes: serialize(wire), method: op.method, expect: e });
    for (const [name, m, e] of stringMutations)
      send(
        name,
        withAuth(w, (a) => m(a, w)),
        e,
      );

    // Truncations at PRNG positions; the expected code follows from where the cut falls.
    const a = getAuth(w);
    const sigAt = a.indexOf('Signature=') + 'Signature='.length;
    for (let i = 0; i < 4; i++) {
      const cut =
        i === 0 ? r.int(1, ALGORITHM.length - 1) : i === 1 ? r.int(sigAt + 1, a.length - 1) : r.int(ALGORITHM.length + 1, sigAt - 1);
      let t = a.slice(0, cut);
      const e = cut < ALGORITHM.length ? UNSUPPORTED : cut > sigAt ? SDNM_OR_MAL : MAL;
      if (/\s$/.test(t)) t = t.trimEnd(); // Node trims trailing whitespace itself
      send(`truncated at ${cut}`, withAuth(w, t), e);
    }

    // Re-signed with a bad scope or signed-headers list: only the check itself can refuse.
    const resigned: Array<[string, SignOpts, Expect]> = [
      ['re-signed, scope date yesterday', { scope: { scopeDate: yesterday } }, MAL],
      [
        're-signed without host in SignedHeaders',
        { signedHeaders: (d) => d.filter((h) => h !== 'host') },
        codes('AccessDenied', 'AuthorizationHeaderMalformed', 'SignatureDoesNotMatch'),
      ],
    ];
    for (const [name, so, e] of resigned) send(name, build(op, so), e);
    // One x-amz-* header present but left out of SignedHeaders: S3's HeadersNotSigned AccessDenied.
    send(
      'x-amz-meta header not signed',
      build(
        { ...op, headers: [...(op.headers ?? []), ['x-amz-meta-sneaky', 'v']] },
        { signedHeaders: (d) => d.filter((h) => h !== 'x-amz-meta-sneaky') },
      ),
      codes('AccessDenied'),
    );
    // A session token on a long-term key: S3 answers InvalidToken (400).
    send(
      'x-amz-security-token on a long-term key',
      build({ ...op, headers: [...(op.headers ?? []), ['x-amz-security-token', 'FwoGZXIvYXdzEBYaDGarbageToken']] }),
      codes('InvalidToken'),
    );
  }

  // Re-signed for another service: read-only operations, so a wrongly accepted one stores nothing.
  for (const op of baseOps(f).filter((o) => o.method === 'GET')) {
    for (const service of ['ec2', 'S3', 'sts', 's3-object-lambda']) {
      out.push({
        cat,
        name: `${op.name}: re-signed for service ${service}`,
        bytes: serialize(build(op, { scope: { service } })),
        method: op.method,
        expect: codes('AuthorizationHeaderMalformed', 'SignatureDoesNotMatch'),
      });
    }
    for (const terminator of ['aws4_requesT', 'aws4']) {
      out.push({
        cat,
        name: `${op.name}: re-signed with terminator ${terminator}`,
        bytes: serialize(build(op, { scope: { terminator } })),
        method: op.method,
        expect: MAL,
      });
    }
  }
  return out;
}

// ---------------------------------------------------------------------------------------
// Category: presigned URLs

interface PresignOpts {
  date?: Date;
  amzDate?: string;
  expires?: string;
  scope?: Partial<Scope>;
  signedHeaders?: string[];
  /** Mutates the X-Amz-* parameters before signing (the signature covers the result). */
  pre?: (p: Array<[string, string]>) => Array<[string, string]>;
  /** Mutates all parameters, signature included, after signing. */
  post?: (p: Array<[string, string]>) => Array<[string, string]>;
}

function presign(req: Req, p: PresignOpts = {}): Wire {
  const body = Buffer.from(req.body ?? '');
  const amz = p.amzDate ?? amzDate(p.date ?? new Date());
  const scope: Scope = { accessKeyId: ACCESS_KEY, secret: SECRET_KEY, amzDate: amz, ...p.scope };
  const scopeStr = scopeOf(scope).scope;
  const signedHeaders = p.signedHeaders ?? ['host'];
  let params: Array<[string, string]> = [
    ['X-Amz-Algorithm', ALGORITHM],
    ['X-Amz-Credential', `${scope.accessKeyId}/${scopeStr}`],
    ['X-Amz-Date', amz],
    ['X-Amz-Expires', p.expires ?? '900'],
    ['X-Amz-SignedHeaders', signedHeaders.join(';')],
  ];
  if (p.pre) params = p.pre(params);
  const q = (ps: Array<[string, string]>) => [req.query ?? '', ...ps.map(([k, v]) => `${k}=${enc(v)}`)].filter(Boolean).join('&');
  const headers: HeaderList = [['host', HOST], ...(req.headers ?? [])];
  const sig = sign({ method: req.method, path: req.path, query: q(params), headers }, UNSIGNED_PAYLOAD, scope, signedHeaders, true);
  let all: Array<[string, string]> = [...params, ['X-Amz-Signature', sig.signature]];
  if (p.post) all = p.post(all);
  return { method: req.method, path: req.path, query: q(all), headers, body, sig };
}

function presignCases(f: Fixture, r: Prng): Case[] {
  const cat = 'presigned';
  const out: Case[] = [];
  const QPE = codes('AuthorizationQueryParametersError');
  const now = Date.now();
  const drop = (name: string) => (ps: Array<[string, string]>) => ps.filter(([k]) => k !== name);
  const replace = (name: string, v: string) => (ps: Array<[string, string]>) =>
    ps.map(([k, x]) => [k, k === name ? v : x] as [string, string]);
  const table: Array<[string, PresignOpts, Expect]> = [];
  for (const d of [
    '',
    'now',
    'garbage',
    '2024-01-01T00:00:00Z',
    amzDate(new Date()).slice(0, 8),
    amzDate(new Date()).slice(0, 15),
    amzDate(new Date()).toLowerCase(),
    '20241301T000000Z',
    '20240230T120000Z',
    '20240101T250000Z',
    'x'.repeat(300),
    String(Math.floor(now / 1000)),
    new Date().toUTCString(),
  ]) {
    table.push([
      `X-Amz-Date ${JSON.stringify(d.slice(0, 40))}`,
      { amzDate: d, scope: { scopeDate: amzDate(new Date()).slice(0, 8) } },
      QPE,
    ]);
  }
  // X-Amz-Expires 0: S3 finds the URL expired at once.
  table.push(['X-Amz-Expires 0', { expires: '0' }, codes('AccessDenied')]);
  // Out of range (negative, over a week): S3 refuses it with 403; not a number: 400.
  for (const e of ['-1', '-604800', '604801', '1000000', '999999999999999999999']) {
    table.push([`X-Amz-Expires ${JSON.stringify(e)}`, { expires: e }, { codes: ['AuthorizationQueryParametersError'], status: 403 }]);
  }
  for (const e of ['abc', '', '1e3', '60.5', '0x10', ' 60', '６０']) {
    table.push([`X-Amz-Expires ${JSON.stringify(e)}`, { expires: e }, QPE]);
  }
  for (const name of ['X-Amz-Credential', 'X-Amz-Date', 'X-Amz-Expires', 'X-Amz-SignedHeaders'])
    table.push([`missing ${name}`, { pre: drop(name) }, QPE]);
  table.push(['missing X-Amz-Signature', { post: drop('X-Amz-Signature') }, QPE]);
  // Without X-Amz-Algorithm the request is anonymous.
  table.push(['missing X-Amz-Algorithm', { post: drop('X-Amz-Algorithm') }, codes('AccessDenied')]);
  for (const alg of ['AWS4-HMAC-SHA512', 'aws4-hmac-sha256', '', 'AWS4-ECDSA-P256-SHA256', 'HMAC-SHA256']) {
    table.push([`X-Amz-Algorithm ${JSON.stringify(alg)}`, { pre: replace('X-Amz-Algorithm', alg) }, QPE]);
  }
  const today = amzDate(new Date()).slice(0, 8);
  for (const [name, cred] of [
    ['no scope', ACCESS_KEY],
    ['scope date dashes', `${ACCESS_KEY}/${today.slice(0, 4)}-${today.slice(4, 6)}-${today.slice(6)}/us-east-1/s3/aws4_request`],
    ['bad terminator', `${ACCESS_KEY}/${today}/us-east-1/s3/aws4_requestX`],
    ['empty region', `${ACCESS_KEY}/${today}//s3/aws4_request`],
    ['six parts', `${ACCESS_KEY}/${today}/us-east-1/s3/x/aws4_request`],
    ['empty key', `/${today}/us-east-1/s3/aws4_request`],
  ] as const)
    table.push([`X-Amz-Credential ${name}`, { pre: replace('X-Amz-Credential', cred) }, QPE]);
  table.push(['X-Amz-Credential unknown key', { scope: { accessKeyId: 'AKIANOTEXISTING00' } }, codes('InvalidAccessKeyId')]);
  table.push(["credential date is not X-Amz-Date's day", { scope: { scopeDate: amzDate(new Date(now - 86400_000)).slice(0, 8) } }, QPE]);
  table.push(['expired an hour ago', { date: new Date(now - 2 * 3600_000), expires: '3600' }, codes('AccessDenied')]);
  table.push(['expired a week ago', { date: new Date(now - 8 * 86400_000), expires: '604800' }, codes('AccessDenied')]);
  table.push(['dated tomorrow', { date: new Date(now + 86400_000) }, codes('AccessDenied', 'RequestTimeTooSkewed')]);
  table.push([
    'X-Amz-Signature empty',
    { post: replace('X-Amz-Signature', '') },
    codes('AuthorizationQueryParametersError', 'SignatureDoesNotMatch'),
  ]);
  table.push(['X-Amz-Signature 8000 chars', { post: replace('X-Amz-Signature', 'f'.repeat(8000)) }, codes('SignatureDoesNotMatch')]);
  table.push([
    'X-Amz-Signature upper-case',
    { post: (ps) => ps.map(([k, v]) => [k, k === 'X-Amz-Signature' ? v.toUpperCase() : v] as [string, string]) },
    codes('SignatureDoesNotMatch'),
  ]);
  table.push([
    'X-Amz-Signature repeated (second wrong)',
    { post: (ps) => [...ps, ['X-Amz-Signature', '0'.repeat(64)]] },
    codes('AuthorizationQueryParametersError', 'SignatureDoesNotMatch'),
  ]);
  table.push([
    'X-Amz-Signature repeated (first wrong)',
    { post: (ps) => [['X-Amz-Signature', '0'.repeat(64)], ...ps] },
    codes('AuthorizationQueryParametersError', 'SignatureDoesNotMatch'),
  ]);
  table.push([
    'X-Amz-Date repeated',
    { post: (ps) => [...ps, ['X-Amz-Date', amzDate(new Date(now - 3600_000))]] },
    codes('AuthorizationQueryParametersError', 'SignatureDoesNotMatch'),
  ]);
  table.push([
    'X-Amz-SignedHeaders without host',
    { signedHeaders: ['x-amz-meta-none'] },
    codes('AccessDenied', 'AuthorizationQueryParametersError', 'SignatureDoesNotMatch'),
  ]);
  table.push(['X-Amz-SignedHeaders ;;', { pre: replace('X-Amz-SignedHeaders', ';;') }, QPE]);
  table.push([
    'X-Amz-Security-Token on a long-term key',
    { pre: (ps) => [...ps, ['X-Amz-Security-Token', 'FwoGZXIvYXdzEBYaDGarbageToken']] },
    codes('InvalidToken'),
  ]);
  for (let i = 0; i < 3; i++) {
    const pos = r.int(0, 63);
    table.push([
      `X-Amz-Signature one hex digit off at ${pos}`,
      { post: (ps) => ps.map(([k, v]) => [k, k === 'X-Amz-Signature' ? flipHex(v, pos) : v] as [string, string]) },
      codes('SignatureDoesNotMatch'),
    ]);
  }
  const ops: Array<Req & { name: string }> = [
    { name: 'GetObject', method: 'GET', path: `/${BUCKET}/${KEEP_A}` },
    { name: 'PutObject', method: 'PUT', path: `/${BUCKET}/target/presigned.txt`, body: 'presigned body' },
    { name: 'ListObjectsV2', method: 'GET', path: `/${BUCKET}`, query: 'list-type=2' },
    { name: 'DeleteObject', method: 'DELETE', path: `/${BUCKET}/${KEEP_B}` },
  ];
  for (const op of ops) {
    for (const [name, p, e] of table)
      out.push({ cat, name: `${op.name}: ${name}`, bytes: serialize(presign(op, p)), method: op.method, expect: e });
    // Mixed: a valid presigned URL plus a valid Authorization header.
    const pw = presign(op);
    out.push({
      cat,
      name: `${op.name}: presigned URL and Authorization header`,
      bytes: serialize(build({ ...op, query: pw.query })),
      method: op.method,
      expect: codes('InvalidArgument'),
    });
    // The path changed after signing.
    out.push({
      cat,
      name: `${op.name}: path changed after signing`,
      bytes: serialize({ ...pw, path: pw.path + 'x' }),
      method: op.method,
      expect: codes('SignatureDoesNotMatch'),
    });
  }
  return out;
}

// ---------------------------------------------------------------------------------------
// Category: request dates

function dateCases(f: Fixture): Case[] {
  const cat = 'dates';
  const out: Case[] = [];
  const now = Date.now();
  const NOAUTHDATE = codes('AccessDenied'); // "AWS authentication requires a valid Date or x-amz-date header"
  const SKEW = codes('RequestTimeTooSkewed');
  const today = amzDate(new Date()).slice(0, 8);
  const ops = baseOps(f).filter((o) => ['GetObject', 'PutObject', 'DeleteObject', 'DeleteObjects', 'CreateBucket'].includes(o.name));
  const nowAmz = amzDate(new Date());
  const garbage = [
    'garbage',
    '0',
    nowAmz.slice(0, 8),
    nowAmz.slice(0, 15),
    nowAmz.toLowerCase(),
    nowAmz.replace('T', ' '),
    new Date().toISOString(),
    new Date().toISOString().replace(/\.\d+/, ''),
    `${today}T250000Z`,
    `${today.slice(0, 4)}1301T000000Z`,
    `${today.slice(0, 4)}0230T000000Z`,
    String(Math.floor(now / 1000)),
    new Date().toUTCString(),
    'x'.repeat(4000),
    `${nowAmz}Z`,
    `+${nowAmz}`,
  ];
  for (const op of ops) {
    const add = (name: string, w: Wire, e: Expect) =>
      out.push({ cat, name: `${op.name}: ${name}`, bytes: serialize(w), method: op.method, expect: e });
    for (const g of garbage)
      add(`x-amz-date ${JSON.stringify(g.slice(0, 40))}`, build(op, { amzDate: g, scope: { scopeDate: today } }), NOAUTHDATE);
    add('x-amz-date with a latin1 byte', build(op, { amzDate: nowAmz.slice(0, -1) + '\xda', scope: { scopeDate: today } }), NOAUTHDATE);
    for (const [name, ms] of [
      ['16 minutes ago', -16 * 60_000],
      ['16 minutes ahead', 16 * 60_000],
      ['a day ago', -86400_000],
      ['a day ahead', 86400_000],
      ['in 1970', -now + 1000],
      ['in 2099', Date.UTC(2099, 0, 1) - now],
      ['in 9999', Date.UTC(9999, 11, 31) - now],
    ] as const) {
      add(`x-amz-date ${name} (re-signed)`, build(op, { date: new Date(now + ms) }), SKEW);
    }
    // No x-amz-date: the Date header decides.
    const past = new Date(now - 3600_000);
    add(
      'no x-amz-date, Date an hour ago',
      build(
        { ...op, headers: [...(op.headers ?? []), ['date', past.toUTCString()]] },
        { noDateHeader: true, signDate: amzDate(past), scope: { scopeDate: amzDate(past).slice(0, 8) } },
      ),
      SKEW,
    );
    add(
      'no x-amz-date, Date garbage',
      build({ ...op, headers: [...(op.headers ?? []), ['date', 'yesterday-ish']] }, { noDateHeader: true }),
      NOAUTHDATE,
    );
    add('no x-amz-date, no Date', build(op, { noDateHeader: true }), NOAUTHDATE);
    add(
      'two x-amz-date headers',
      (() => {
        const w = build(op);
        return { ...w, headers: [...w.headers, ['x-amz-date', nowAmz]] as HeaderList };
      })(),
      codes('AccessDenied', 'SignatureDoesNotMatch'),
    );
    const d = new Date(Math.floor(now / 1000) * 1000);
    add(
      'x-amz-date changed by one second after signing',
      setHeader(build(op, { date: d }), 'x-amz-date', amzDate(new Date(d.getTime() + (d.getUTCSeconds() === 59 ? -1000 : 1000)))),
      codes('SignatureDoesNotMatch'),
    );
  }
  return out;
}

// ---------------------------------------------------------------------------------------
// Category: wrong signatures by one byte

function oneByteCases(f: Fixture, r: Prng): Case[] {
  const cat = 'signature-one-byte';
  const out: Case[] = [];
  const SDNM = codes('SignatureDoesNotMatch');
  for (const op of baseOps(f)) {
    const add = (name: string, w: Wire | Buffer) =>
      out.push({ cat, name: `${op.name}: ${name}`, bytes: Buffer.isBuffer(w) ? w : serialize(w), method: op.method, expect: SDNM });
    const w = build({ ...op, headers: [...(op.headers ?? []), ['x-amz-meta-note', 'signed value']] });
    const a = getAuth(w);
    const sigAt = a.indexOf('Signature=') + 'Signature='.length;
    for (let i = 0; i < 4; i++) {
      const pos = r.int(0, 63);
      add(`signature hex digit ${pos} changed`, withAuth(w, a.slice(0, sigAt) + flipHex(a.slice(sigAt), pos)));
    }
    add('signed header value changed', setHeader(w, 'x-amz-meta-note', 'signed valuf'));
    add('signed header value case changed', setHeader(w, 'x-amz-meta-note', 'Signed value'));
    add(
      'host port changed',
      setHeader(
        w,
        'host',
        HOST.replace(/:(\d+)$/, (_m, p: string) => `:${Number(p) + 1}`),
      ),
    );
    if (op.path.length > 1) {
      const p = w.path;
      const i = r.int(p.indexOf('/', 1) > 0 ? p.indexOf('/', 1) + 1 : 1, p.length - 1);
      const ch = p[i] === 'a' ? 'b' : 'a';
      add(`path byte ${i} changed`, { ...w, path: p.slice(0, i) + ch + p.slice(i + 1) });
    }
    add('query parameter added', { ...w, query: w.query ? `${w.query}&x-extra=1` : 'x-extra=1' });
    if (w.query) add('query value byte changed', { ...w, query: w.query.slice(0, -1) + (w.query.endsWith('a') ? 'b' : 'a') });
    add(
      'signed with a secret one character off',
      build(
        { ...op, headers: [...(op.headers ?? []), ['x-amz-meta-note', 'signed value']] },
        { scope: { secret: SECRET_KEY.slice(0, -1) + 'X' } },
      ),
    );
    add(
      'signed for another method',
      (() => {
        const other = op.method === 'GET' ? 'HEAD' : 'GET';
        const x = build({ ...op, method: other, headers: [...(op.headers ?? []), ['x-amz-meta-note', 'signed value']] });
        return { ...x, method: op.method };
      })(),
    );
    if (op.body) {
      // The payload hash the signature covers differs (by one hex digit) from the header sent.
      const x = build({ ...op, headers: [...(op.headers ?? []), ['x-amz-meta-note', 'signed value']] });
      const sha = x.headers.find(([n]) => n === 'x-amz-content-sha256')![1];
      add('x-amz-content-sha256 changed after signing', setHeader(x, 'x-amz-content-sha256', flipHex(sha, 0)));
    }
  }
  return out;
}

// ---------------------------------------------------------------------------------------
// Category: x-amz-content-sha256

function bodyOps(f: Fixture): Array<Req & { name: string }> {
  return [
    { name: 'PutObject', method: 'PUT', path: `/${BUCKET}/target/sha.txt`, body: 'the real body of this upload' },
    {
      name: 'UploadPart',
      method: 'PUT',
      path: `/${BUCKET}/${MPU_KEY}`,
      query: `partNumber=3&uploadId=${enc(f.uploadId)}`,
      body: 'the real bytes of part three',
    },
    { name: 'DeleteObjects', method: 'POST', path: `/${BUCKET}`, query: 'delete=', ...batch([KEEP_A, KEEP_B]) },
    { name: 'PutObjectTagging', method: 'PUT', path: `/${BUCKET}/${KEEP_A}`, query: 'tagging=', body: taggingDoc([['hostile', 'yes']]) },
    {
      name: 'CompleteMultipartUpload',
      method: 'POST',
      path: `/${BUCKET}/${MPU_KEY}`,
      query: `uploadId=${enc(f.uploadId)}`,
      body: completeDoc([[1, f.part1Etag]]),
    },
    { name: 'CreateBucket', method: 'PUT', path: '/hostile-sha-bucket', body: bucketDoc('us-east-2') },
  ];
}

function contentShaCases(f: Fixture, r: Prng): Case[] {
  const cat = 'content-sha256';
  const out: Case[] = [];
  const MISMATCH = codes('XAmzContentSHA256Mismatch');
  const BADARG = codes('InvalidArgument');
  for (const op of bodyOps(f)) {
    const body = Buffer.from(op.body as string);
    const add = (name: string, w: Wire, e: Expect, so?: SerializeOpts) =>
      out.push({ cat, name: `${op.name}: ${name}`, bytes: serialize(w, so), method: op.method, expect: e });
    const flipped = Buffer.from(body);
    flipped[r.int(0, body.length - 1)] ^= 0x20;
    add('hash of the empty body', build({ ...op, payload: EMPTY_SHA256 }), MISMATCH);
    add('hash of the body plus a byte', build({ ...op, payload: sha256Hex(Buffer.concat([body, Buffer.from('!')])) }), MISMATCH);
    add('hash of the body with one byte changed', build({ ...op, payload: sha256Hex(flipped) }), MISMATCH);
    add('upper-case hash of another body', build({ ...op, payload: sha256Hex('another body').toUpperCase() }), MISMATCH);
    add('body with one byte changed after signing', { ...build(op), body: flipped }, MISMATCH);
    for (const v of [
      'g'.repeat(64),
      sha256Hex(body).slice(0, 63),
      sha256Hex(body) + '0',
      'unsigned-payload',
      'UNSIGNED_PAYLOAD',
      'STREAMING-FOO',
      'SHA256',
      createHash('sha256').update(body).digest('base64'),
      ' ',
      `${sha256Hex(body)}, ${sha256Hex(body)}`,
      'x'.repeat(5000),
    ]) {
      add(`x-amz-content-sha256 of ${v.length} chars ${JSON.stringify(v.slice(0, 24))}`, build({ ...op, payload: v }), BADARG);
    }
    add('x-amz-content-sha256 with a latin1 byte', build({ ...op, payload: sha256Hex(body).slice(0, 63) + '\xe9' }), BADARG);
    // STREAMING-* markers over a plain body: the framing is missing.
    for (const marker of [STREAMING_PAYLOAD, STREAMING_PAYLOAD_TRAILER, STREAMING_UNSIGNED_TRAILER]) {
      const headers: HeaderList = [
        ...(op.headers ?? []),
        ['content-encoding', 'aws-chunked'],
        ['x-amz-decoded-content-length', String(body.length)],
      ];
      if (marker !== STREAMING_PAYLOAD) headers.push(['x-amz-trailer', 'x-amz-checksum-crc32']);
      add(
        `${marker} over an unframed body`,
        build({ ...op, payload: marker, headers }),
        codes('IncompleteBody', 'InvalidRequest', 'SignatureDoesNotMatch'),
      );
      add(
        `${marker} over an unframed body ending in CRLF`,
        build({
          ...op,
          body: Buffer.concat([body, Buffer.from('\r\n')]),
          payload: marker,
          headers: headers.map(([n, v]) => [n, n === 'x-amz-decoded-content-length' ? String(body.length + 2) : v] as [string, string]),
        }),
        codes('IncompleteBody', 'InvalidRequest', 'SignatureDoesNotMatch'),
      );
      add(
        `${marker} without x-amz-decoded-content-length`,
        build({ ...op, payload: marker, headers: headers.filter(([n]) => n !== 'x-amz-decoded-content-length') }),
        codes('MissingContentLength'),
      );
    }
  }
  return out;
}

// ---------------------------------------------------------------------------------------
// Category: aws-chunked bodies

type StreamMode = 'signed' | 'signed-trailer' | 'unsigned-trailer';

interface ChunkedOpts {
  mode: StreamMode;
  data: Buffer;
  /** x-amz-trailer value; null: no header. Default x-amz-checksum-crc32 for trailer modes. */
  announce?: string | null;
  /** Trailer lines sent; default the crc32 of the data for trailer modes. */
  trailers?: HeaderList;
  decodedLength?: string | null;
  mutate?: (b: ChunkedBody, w: Wire) => void;
  /** Seed the chunk chain with another signature. */
  seed?: string;
}

function chunkedWire(op: Req, o: ChunkedOpts): Wire {
  const marker =
    o.mode === 'signed' ? STREAMING_PAYLOAD : o.mode === 'signed-trailer' ? STREAMING_PAYLOAD_TRAILER : STREAMING_UNSIGNED_TRAILER;
  const headers: HeaderList = [['content-encoding', 'aws-chunked']];
  const decoded = o.decodedLength === undefined ? String(o.data.length) : o.decodedLength;
  if (decoded !== null) headers.push(['x-amz-decoded-content-length', decoded]);
  const trailerMode = o.mode !== 'signed';
  const announce = o.announce === undefined ? (trailerMode ? 'x-amz-checksum-crc32' : null) : o.announce;
  if (announce !== null) headers.push(['x-amz-trailer', announce]);
  const w = build({ ...op, body: '', payload: marker, headers });
  const trailers = o.trailers ?? (trailerMode ? [['x-amz-checksum-crc32', checksumBase64('crc32', o.data)] as [string, string]] : []);
  const signing =
    o.mode === 'unsigned-trailer'
      ? undefined
      : { key: w.sig!.key, amzDate: w.sig!.amzDate, scope: w.sig!.scope, seed: o.seed ?? w.sig!.signature };
  const framed = frameChunked(o.data, 8192, { signing, trailers, signTrailer: o.mode === 'signed-trailer' });
  o.mutate?.(framed, w);
  return { ...w, body: serializeChunked(framed) };
}

function chunkedCases(f: Fixture, r: Prng): Case[] {
  const cat = 'aws-chunked';
  const out: Case[] = [];
  const data = r.bytes(20000); // chunks of 8192, 8192, 3616, then the final 0
  const INCOMPLETE = codes('IncompleteBody');
  const SDNM = codes('SignatureDoesNotMatch');
  const FRAMING = codes('IncompleteBody', 'InvalidRequest', 'SignatureDoesNotMatch');
  const TRAILER = codes('InvalidRequest', 'MalformedTrailerError');
  const ops: Array<Req & { name: string }> = [
    { name: 'PutObject', method: 'PUT', path: `/${BUCKET}/target/chunked.bin` },
    { name: 'UploadPart', method: 'PUT', path: `/${BUCKET}/${MPU_KEY}`, query: `partNumber=5&uploadId=${enc(f.uploadId)}` },
  ];
  const crcOther = checksumBase64('crc32', 'other data');
  for (const op of ops) {
    for (const mode of ['signed', 'signed-trailer', 'unsigned-trailer'] as const) {
      const signed = mode !== 'unsigned-trailer';
      const trailerMode = mode !== 'signed';
      const add = (name: string, o: Partial<ChunkedOpts>, e: Expect, so?: (w: Wire) => SerializeOpts) => {
        const w = chunkedWire(op, { mode, data, ...o });
        out.push({ cat, name: `${op.name} ${mode}: ${name}`, bytes: serialize(w, so?.(w)), method: op.method, expect: e });
      };
      // Truncated anywhere before the final chunk's header line is complete (Content-Length matches what is sent).
      // Bytes before the final chunk's header line, and that line's length (signatures are all 64 digits).
      const dummy = { key: Buffer.alloc(32), amzDate: 'x', scope: 'x', seed: 'x' };
      const finalAt = serializeChunked({
        chunks: frameChunked(data, 8192, signed ? { signing: dummy } : {}).chunks.slice(0, 3),
        trailers: [],
        end: '',
      }).length;
      const finalHeaderLen = `0${signed ? ';chunk-signature=' + '0'.repeat(64) : ''}\r\n`.length;
      for (let i = 0; i < 3; i++) {
        const cut = r.int(1, finalAt + finalHeaderLen - 1);
        add(`truncated to ${cut} bytes`, {}, INCOMPLETE, (w) => ({ contentLength: String(cut), sendBody: w.body.subarray(0, cut) }));
      }
      add(
        'final chunk missing',
        {
          mutate: (b) => {
            b.chunks.pop();
            b.trailers = [];
            b.end = '';
          },
        },
        INCOMPLETE,
      );
      for (const sizeText of ['zz', '', '-2000', '0x2000', '2000.0', '+2000', utf8Bytes('２０００')]) {
        add(
          `first chunk size ${JSON.stringify(sizeText)}`,
          {
            mutate: (b) => {
              b.chunks[0].sizeText = sizeText;
            },
          },
          FRAMING,
        );
      }
      add(
        'second chunk size garbage',
        {
          mutate: (b) => {
            b.chunks[1].sizeText = 'g00d';
          },
        },
        FRAMING,
      );
      add(
        'first chunk size larger than its data',
        {
          mutate: (b) => {
            b.chunks[0].sizeText = (8192 * 2).toString(16);
          },
        },
        FRAMING,
      );
      add(
        'first chunk size larger than the body',
        {
          mutate: (b) => {
            b.chunks[0].sizeText = (100000).toString(16);
          },
        },
        FRAMING,
      );
      add(
        'first chunk size smaller than its data',
        {
          mutate: (b) => {
            b.chunks[0].sizeText = (4096).toString(16);
          },
        },
        FRAMING,
      );
      for (const sizeText of ['ffffffff', 'ffffffffffffffff', '1' + '0'.repeat(20)]) {
        add(
          `first chunk size ${sizeText}`,
          {
            mutate: (b) => {
              b.chunks[0].sizeText = sizeText;
            },
          },
          codes('IncompleteBody', 'InvalidRequest', 'EntityTooLarge'),
        );
      }
      add(
        'data byte changed',
        {
          mutate: (b) => {
            b.chunks[1].data = Buffer.from(b.chunks[1].data);
            b.chunks[1].data[17] ^= 1;
          },
        },
        signed ? SDNM : codes('BadDigest'),
      );
      add(
        'data CRLF replaced',
        {
          mutate: (b) => {
            b.chunks[0].after = 'XX';
          },
        },
        FRAMING,
      );
      add(
        'chunk header line of 5000 bytes',
        {
          mutate: (b) => {
            b.chunks[0].ext = ';x=' + 'a'.repeat(5000);
          },
        },
        FRAMING,
      );
      // Bytes after the end, and a repeated trailer, S3 accepts: aws-chunked.test.ts sends them.
      add('decoded length one short', { decodedLength: String(data.length - 1) }, codes('IncompleteBody', 'InvalidRequest'));
      add('decoded length zero', { decodedLength: '0' }, codes('IncompleteBody', 'InvalidRequest'));
      add('decoded length one long', { decodedLength: String(data.length + 1) }, INCOMPLETE);
      add('decoded length doubled', { decodedLength: String(data.length * 2) }, INCOMPLETE);
      for (const d of ['abc', '-1', '1.5', '', '0x10', '1e4'])
        add(`decoded length ${JSON.stringify(d)}`, { decodedLength: d }, codes('InvalidArgument', 'MissingContentLength'));
      add('decoded length missing', { decodedLength: null }, codes('MissingContentLength'));
      if (signed) {
        for (let i = 0; i < 4; i++) {
          const pos = r.int(0, 63);
          add(
            `chunk ${i} signature digit ${pos} changed`,
            {
              mutate: (b) => {
                b.chunks[i].sig = flipHex(b.chunks[i].sig!, pos);
              },
            },
            SDNM,
          );
        }
        add(
          'chunk 1 without chunk-signature',
          {
            mutate: (b) => {
              b.chunks[1].sig = undefined;
            },
          },
          INCOMPLETE, // as S3 answers a signed chunk without its signature
        );
        add(
          'final chunk without chunk-signature',
          {
            mutate: (b) => {
              b.chunks[3].sig = undefined;
            },
          },
          INCOMPLETE, // as S3 answers a signed chunk without its signature
        );
        add(
          'chunk-signature empty',
          {
            mutate: (b) => {
              b.chunks[0].sig = '';
            },
          },
          INCOMPLETE,
        );
        add(
          'chunk-signature upper-case',
          {
            mutate: (b) => {
              b.chunks[0].sig = b.chunks[0].sig!.toUpperCase();
            },
          },
          SDNM,
        );
        add(
          'signatures of chunks 0 and 1 swapped',
          {
            mutate: (b) => {
              [b.chunks[0].sig, b.chunks[1].sig] = [b.chunks[1].sig, b.chunks[0].sig];
            },
          },
          SDNM,
        );
        add('chain seeded with another signature', { seed: sha256Hex('another request') }, SDNM);
        add(
          'chunks 1 and 2 swapped (with their signatures)',
          {
            mutate: (b) => {
              [b.chunks[1], b.chunks[2]] = [b.chunks[2], b.chunks[1]];
            },
          },
          SDNM,
        );
      }
      if (mode === 'signed') {
        add(
          'a trailer in a body that announced none',
          { trailers: [['x-amz-checksum-crc32', checksumBase64('crc32', data)]] },
          codes('InvalidRequest', 'MalformedTrailerError', 'SignatureDoesNotMatch'),
        );
      }
      if (trailerMode) {
        add('trailer checksum wrong', { trailers: [['x-amz-checksum-crc32', crcOther]] }, codes('BadDigest'));
        for (const v of ['!!!!', 'AAAA', 'AAAAAAAA', '', checksumBase64('sha256', data)]) {
          add(`trailer checksum ${JSON.stringify(v.slice(0, 20))}`, { trailers: [['x-amz-checksum-crc32', v]] }, codes('InvalidRequest'));
        }
        add('trailer not the one announced', { trailers: [['x-amz-checksum-sha256', checksumBase64('sha256', data)]] }, TRAILER);
        add('trailer without x-amz-trailer', { announce: null }, TRAILER);
        add('trailer announced, none sent', { trailers: [] }, codes('IncompleteBody', 'InvalidRequest', 'MalformedTrailerError'));
        add(
          'extra unannounced trailer',
          {
            trailers: [
              ['x-amz-checksum-crc32', checksumBase64('crc32', data)],
              ['x-amz-meta-smuggled', 'yes'],
            ],
          },
          TRAILER,
        );
        add(
          'trailer line without colon',
          {
            trailers: [],
            mutate: (b) => {
              b.end = `x-amz-checksum-crc32 ${checksumBase64('crc32', data)}\r\n\r\n`;
            },
          },
          codes('InvalidRequest', 'MalformedTrailerError', 'IncompleteBody', 'SignatureDoesNotMatch'),
        );
        for (const a of ['x-amz-checksum-md5', 'x-amz-foo', 'content-md5']) {
          add(`x-amz-trailer ${a}`, { announce: a, trailers: [[a, md5b64(data)]] }, codes('InvalidRequest', 'InvalidArgument'));
        }
      }
      if (mode === 'signed-trailer') {
        add(
          'trailer signature digit changed',
          {
            mutate: (b) => {
              const t = b.trailers[b.trailers.length - 1];
              t[1] = flipHex(t[1], 5);
            },
          },
          SDNM,
        );
        add(
          'trailer signature missing',
          {
            mutate: (b) => {
              b.trailers.pop();
            },
          },
          codes('IncompleteBody', 'SignatureDoesNotMatch', 'MalformedTrailerError'),
        );
        add(
          'trailer value changed after signing',
          {
            mutate: (b) => {
              b.trailers[0][1] = crcOther;
            },
          },
          codes('SignatureDoesNotMatch', 'BadDigest'),
        );
      }
    }
  }
  return out;
}

// ---------------------------------------------------------------------------------------
// Category: Content-Length, Content-MD5 and x-amz-checksum-*

function lengthAndDigestCases(f: Fixture, r: Prng): Case[] {
  const out: Case[] = [];
  const ops: Array<Req & { name: string }> = [
    { name: 'PutObject', method: 'PUT', path: `/${BUCKET}/target/digest.txt`, body: 'body whose digest is checked, 0123456789' },
    {
      name: 'UploadPart',
      method: 'PUT',
      path: `/${BUCKET}/${MPU_KEY}`,
      query: `partNumber=4&uploadId=${enc(f.uploadId)}`,
      body: 'part four, whose digest is checked',
    },
    { name: 'DeleteObjects', method: 'POST', path: `/${BUCKET}`, query: 'delete=', ...batch([KEEP_A]) },
    {
      name: 'PutObjectTagging',
      method: 'PUT',
      path: `/${BUCKET}/${KEEP_TAGGED}`,
      query: 'tagging=',
      body: taggingDoc([['hostile', 'yes']]),
    },
  ];
  const ALGS: ChecksumAlgorithm[] = ['crc32', 'crc32c', 'crc64nvme', 'sha1', 'sha256'];
  for (const op of ops) {
    const body = Buffer.from(op.body as string);
    const other = Buffer.from('some other body entirely');
    // The case's headers take the place of the op's own of the same name (DeleteObjects' Content-MD5).
    const withH = (h: HeaderList, payload = 'unsigned'): Req => ({
      ...op,
      payload,
      headers: [...(op.headers ?? []).filter(([n]) => !h.some(([m]) => m.toLowerCase() === n.toLowerCase())), ...h],
    });

    // --- Content-Length lies
    let cat = 'content-length';
    const add = (name: string, w: Wire, e: Expect, so?: SerializeOpts, send?: SendOptions) =>
      out.push({ cat, name: `${op.name}: ${name}`, bytes: serialize(w, so), method: op.method, expect: e, send });
    for (let i = 0; i < 3; i++) {
      const k = r.int(1, body.length - 1);
      add(`Content-Length ${k} short, signed hash of the whole body`, build(op), codes('XAmzContentSHA256Mismatch'), {
        contentLength: String(body.length - k),
      });
      add(`Content-Length ${k} short, Content-MD5 of the whole body`, build(withH([['content-md5', md5b64(body)]])), codes('BadDigest'), {
        contentLength: String(body.length - k),
      });
    }
    add(
      'Content-Length short, x-amz-checksum-crc32 of the whole body',
      build(withH([['x-amz-checksum-crc32', checksumBase64('crc32', body)]])),
      codes('BadDigest'),
      { contentLength: String(body.length - 5) },
    );
    add('Content-Length 0, signed hash of the body', build(op), codes('XAmzContentSHA256Mismatch'), { contentLength: '0' });
    for (const k of [1, 100, 100000]) {
      // PutObjectTagging's body cap is 64 KB: a longer announcement may be refused as such.
      const e =
        op.name === 'PutObjectTagging' && k > 64 * 1024
          ? codes('IncompleteBody', 'EntityTooLarge', 'MaxMessageLengthExceeded')
          : codes('IncompleteBody');
      add(
        `Content-Length ${k} long (unsigned), then the client half-closes`,
        build({ ...op, payload: 'unsigned' }),
        e,
        { contentLength: String(body.length + k) },
        { halfClose: true },
      );
      add(
        `Content-Length ${k} long (signed), then the client half-closes`,
        build(op),
        e,
        { contentLength: String(body.length + k) },
        { halfClose: true },
      );
    }
    // Refused on the announcement alone: the client keeps the connection open and waits.
    add(
      'Content-Length 6 GB, 40 bytes sent',
      build({ ...op, payload: 'unsigned' }),
      codes('EntityTooLarge', 'MaxMessageLengthExceeded'),
      { contentLength: String(6 * 1024 ** 3) },
      { timeoutMs: 5000 },
    );
    if (op.method === 'PUT') {
      // No Content-Length and no Transfer-Encoding: S3 requires the length of a PUT body
      // (an empty tagging document is malformed as well).
      add(
        'no Content-Length, empty body',
        build({ ...op, body: '' }),
        op.name === 'PutObjectTagging' ? codes('MissingContentLength', 'MalformedXML') : codes('MissingContentLength'),
        { contentLength: null },
      );
    }
    // Framing the HTTP parser itself refuses.
    cat = 'content-length';
    for (const [name, cl] of [
      ['non-numeric', 'abc'],
      ['negative', '-1'],
      ['hex', '0x10'],
      ['with a space inside', '1 0'],
      ['list', `${body.length}, ${body.length + 1}`],
    ] as const) {
      add(`Content-Length ${name}`, build(op), HTTP, { contentLength: cl });
    }
    add(
      'two different Content-Length headers',
      build({ ...op, headers: [...(op.headers ?? []), ['content-length', String(body.length + 1)]] }),
      HTTP,
    );
    add(
      'Content-Length and Transfer-Encoding: chunked',
      build({ ...op, headers: [...(op.headers ?? []), ['transfer-encoding', 'chunked']] }),
      HTTP,
    );

    // --- Content-MD5
    cat = 'content-md5';
    add('Content-MD5 of another body', build(withH([['content-md5', md5b64(other)]])), codes('BadDigest'));
    add('Content-MD5 of another body, signed payload', build(withH([['content-md5', md5b64(other)]], 'signed')), codes('BadDigest'));
    for (const v of [
      'notbase64!!',
      '',
      'AAAA',
      createHash('md5').update(body).digest('hex'),
      Buffer.alloc(15).toString('base64'),
      Buffer.alloc(17).toString('base64'),
      md5b64(body) + 'x',
      md5b64(body).replace(/=+$/, '') + '%3D%3D',
      md5b64(body).slice(0, 10) + ' ' + md5b64(body).slice(10),
      '\xe9' + md5b64(body).slice(1),
    ]) {
      add(`Content-MD5 ${JSON.stringify(v.slice(0, 30))}`, build(withH([['content-md5', v]])), codes('InvalidDigest'));
    }
    add(
      'Content-MD5 right, x-amz-checksum-crc32 wrong',
      build(
        withH([
          ['content-md5', md5b64(body)],
          ['x-amz-checksum-crc32', checksumBase64('crc32', other)],
        ]),
      ),
      codes('BadDigest'),
    );
    add(
      'Content-MD5 wrong, x-amz-checksum-crc32 right',
      build(
        withH([
          ['content-md5', md5b64(other)],
          ['x-amz-checksum-crc32', checksumBase64('crc32', body)],
        ]),
      ),
      codes('BadDigest'),
    );

    // --- x-amz-checksum-*
    cat = 'x-amz-checksum';
    for (const alg of ALGS) {
      add(
        `x-amz-checksum-${alg} of another body`,
        build(withH([[`x-amz-checksum-${alg}`, checksumBase64(alg, other)]])),
        codes('BadDigest'),
      );
      add(
        `x-amz-checksum-${alg} of another body, with x-amz-sdk-checksum-algorithm`,
        build(
          withH([
            ['x-amz-sdk-checksum-algorithm', alg.toUpperCase()],
            [`x-amz-checksum-${alg}`, checksumBase64(alg, other)],
          ]),
        ),
        codes('BadDigest'),
      );
      add(`x-amz-checksum-${alg} not base64`, build(withH([[`x-amz-checksum-${alg}`, '!!not-base64!!']])), codes('InvalidRequest'));
      add(
        `x-amz-checksum-${alg} one byte short`,
        build(withH([[`x-amz-checksum-${alg}`, Buffer.from(checksumBase64(alg, body), 'base64').subarray(1).toString('base64')]])),
        codes('InvalidRequest'),
      );
      add(
        `x-amz-checksum-${alg} hex instead of base64`,
        build(withH([[`x-amz-checksum-${alg}`, Buffer.from(checksumBase64(alg, body), 'base64').toString('hex')]])),
        codes('InvalidRequest'),
      );
    }
    add(
      'two checksum algorithms, both right',
      build(
        withH([
          ['x-amz-checksum-crc32', checksumBase64('crc32', body)],
          ['x-amz-checksum-sha256', checksumBase64('sha256', body)],
        ]),
      ),
      codes('InvalidRequest'),
    );
    for (const a of ['MD5', 'crc99', 'SHA512', '']) {
      add(
        `x-amz-sdk-checksum-algorithm ${JSON.stringify(a)}`,
        build(withH([['x-amz-sdk-checksum-algorithm', a]])),
        codes('InvalidRequest'),
      );
    }
    add(
      'x-amz-checksum-crc32 sent twice (different values)',
      build(
        withH([
          ['x-amz-checksum-crc32', checksumBase64('crc32', body)],
          ['x-amz-checksum-crc32', checksumBase64('crc32', other)],
        ]),
      ),
      codes('InvalidRequest', 'BadDigest'),
    );
  }
  return out;
}

// ---------------------------------------------------------------------------------------
// Category: oversized headers

function headerCases(): Case[] {
  const cat = 'oversized-headers';
  const out: Case[] = [];
  const put: Req = { method: 'PUT', path: `/${BUCKET}/target/headers.txt`, body: 'x' };
  const get: Req = { method: 'GET', path: `/${BUCKET}/${KEEP_A}` };
  const add = (name: string, bytes: Buffer, method: string, e: Expect) => out.push({ cat, name, bytes, method, expect: e });
  add('a 100 KB header (anonymous)', serialize(anon({ ...get, headers: [['x-amz-meta-big', 'b'.repeat(100 * 1024)]] })), 'GET', HTTP);
  add('a 100 KB header (signed)', serialize(build({ ...put, headers: [['x-amz-meta-big', 'b'.repeat(100 * 1024)]] })), 'PUT', HTTP);
  add('a 20 KB non-amz header', serialize(build({ ...get, headers: [['x-big', 'b'.repeat(20 * 1024)]] })), 'GET', HTTP);
  add('a 17 KB Authorization header', serialize(withAuth(build(get), (a) => a + 'f'.repeat(17 * 1024))), 'GET', HTTP);
  add('a 20 KB URL', serialize(build({ ...get, path: `/${BUCKET}/${'u'.repeat(20 * 1024)}` })), 'GET', HTTP);
  const many = (n: number, name: (i: number) => string, v = 'v'): HeaderList => Array.from({ length: n }, (_, i) => [name(i), v]);
  add(
    '500 unsigned x-amz-meta-* headers',
    serialize(
      build({ ...put, headers: many(500, (i) => `x-amz-meta-${i}`) }, { signedHeaders: ['host', 'x-amz-content-sha256', 'x-amz-date'] }),
    ),
    'PUT',
    codes('AccessDenied'),
  );
  add(
    '500 x-pad-* headers with a signature one digit off',
    serialize(withAuth(build({ ...put, headers: many(500, (i) => `x-pad-${i}`) }), (a) => flipHex(a, a.length - 1))),
    'PUT',
    codes('SignatureDoesNotMatch'),
  );
  add(
    'one x-amz-meta header repeated 500 times, signed (metadata > 2 KB)',
    serialize(build({ ...put, headers: many(500, () => 'x-amz-meta-dup', 'vvvvv') })),
    'PUT',
    codes('MetadataTooLarge'),
  );
  add(
    'a 3 KB x-amz-meta header, signed',
    serialize(build({ ...put, headers: [['x-amz-meta-big', 'm'.repeat(3000)]] })),
    'PUT',
    codes('MetadataTooLarge'),
  );
  add(
    '40 x-amz-meta headers of 60 bytes, signed',
    serialize(build({ ...put, headers: many(40, (i) => `x-amz-meta-field${i}`, 'm'.repeat(60)) })),
    'PUT',
    codes('MetadataTooLarge'),
  );
  add(
    '2500 tiny headers (anonymous)',
    serialize(anon({ ...put, headers: many(2500, (i) => `h${i}`, '') })),
    'PUT',
    codes('AccessDenied', 'RequestHeaderSectionTooLarge'),
  ); // ~20 KB of headers: Node 24 counts it over its 16 KB limit, Node 20 not
  add(
    'a header name of 8000 bytes (anonymous)',
    serialize(anon({ ...get, headers: [['x-' + 'n'.repeat(8000), 'v']] })),
    'GET',
    codes('AccessDenied'),
  );
  add(
    '500 headers, the request otherwise valid but unsigned x-amz-*',
    serialize(
      build({ ...get, headers: many(500, (i) => `x-amz-h${i}`) }, { signedHeaders: ['host', 'x-amz-content-sha256', 'x-amz-date'] }),
    ),
    'GET',
    codes('AccessDenied'),
  );
  return out;
}

// ---------------------------------------------------------------------------------------
// Category: URIs, keys, bucket names, query parameters

function uriCases(f: Fixture, r: Prng): Case[] {
  const out: Case[] = [];
  const add = (cat: string, name: string, w: Wire, e: Expect, so?: SerializeOpts) =>
    out.push({ cat, name, bytes: serialize(w, so), method: w.method, expect: e });
  const U = enc(f.uploadId);

  // --- percent-encoding in the path
  let cat = 'uri-encoding';
  for (const p of ['%zz', '%', '%0', 'a%', '%G1', '%%', 'a%2', '%C3%28', '%FF', '%ED%A0%80', '%E0%A4%A', 'ok/%zz/ok', '%c0%af']) {
    for (const method of ['GET', 'PUT', 'DELETE']) {
      add(
        cat,
        `${method} key ${p}`,
        build({ method, path: `/${BUCKET}/${p}`, body: method === 'PUT' ? 'x' : undefined }),
        codes('InvalidURI'),
      );
    }
    add(cat, `GET bucket ${p}`, build({ method: 'GET', path: `/${p}` }), codes('InvalidURI'));
    add(cat, `anonymous PUT key ${p}`, anon({ method: 'PUT', path: `/${BUCKET}/${p}`, body: 'x' }), codes('InvalidURI', 'AccessDenied'));
  }
  // --- in the query: on parameters whose value is refused anyway
  for (const bad of ['%zz', '%', '%0', '%FF']) {
    add(
      cat,
      `max-keys=${bad}`,
      build({ method: 'GET', path: `/${BUCKET}`, query: `list-type=2&max-keys=${bad}` }),
      codes('InvalidArgument', 'InvalidURI'),
    );
    add(
      cat,
      `continuation-token=${bad}`,
      build({ method: 'GET', path: `/${BUCKET}`, query: `list-type=2&continuation-token=${bad}` }),
      codes('InvalidArgument', 'InvalidURI'),
    );
    add(
      cat,
      `uploadId=${bad}`,
      build({ method: 'GET', path: `/${BUCKET}/${MPU_KEY}`, query: `uploadId=${bad}` }),
      codes('NoSuchUpload', 'InvalidURI'),
    );
    add(
      cat,
      `partNumber=${bad}`,
      build({ method: 'PUT', path: `/${BUCKET}/${MPU_KEY}`, query: `partNumber=${bad}&uploadId=${U}`, body: 'x' }),
      codes('InvalidArgument', 'InvalidURI'),
    );
  }
  // Request targets that are not origin-form paths (anonymous: S3 would refuse them either way).
  for (const target of ['*', `http://${HOST}/${BUCKET}/${KEEP_A}`]) {
    add(cat, `request target ${target}`, { ...anon({ method: 'GET', path: target }) }, codes('InvalidURI', 'AccessDenied'));
  }
  add(cat, 'request target without a leading slash', anon({ method: 'GET', path: `${BUCKET}/${KEEP_A}` }), HTTP);

  // --- NUL
  cat = 'nul-in-key';
  for (const k of ['a%00b', '%00', 'dir%00/x', 'x%00']) {
    add(cat, `PUT ${k}`, build({ method: 'PUT', path: `/${BUCKET}/${k}`, body: 'x' }), codes('InvalidArgument', 'InvalidURI'));
    add(cat, `GET ${k}`, build({ method: 'GET', path: `/${BUCKET}/${k}` }), codes('InvalidArgument', 'InvalidURI'));
    add(
      cat,
      `POST ${k}?uploads`,
      build({ method: 'POST', path: `/${BUCKET}/${k}`, query: 'uploads=' }),
      codes('InvalidArgument', 'InvalidURI'),
    );
    add(
      cat,
      `PUT ${k}?tagging`,
      build({ method: 'PUT', path: `/${BUCKET}/${k}`, query: 'tagging=', body: taggingDoc([['a', 'b']]) }),
      codes('InvalidArgument', 'InvalidURI'),
    );
    add(
      cat,
      `CopyObject from ${k}`,
      build({ method: 'PUT', path: `/${BUCKET}/target/copy.txt`, headers: [['x-amz-copy-source', `/${BUCKET}/${k}`]] }),
      codes('InvalidArgument', 'InvalidURI'),
    );
  }
  add(cat, 'raw NUL byte in the request line', anon({ method: 'GET', path: `/${BUCKET}/a\x00b` }), HTTP);

  // --- key length
  cat = 'key-too-long';
  const longKeys = [
    ['1025 ASCII bytes', 'k'.repeat(1025)],
    ['1500 ASCII bytes', 'k'.repeat(1500)],
    ['4000 bytes with slashes', Array.from({ length: 400 }, () => 'segment12').join('/')],
    ['342 euro signs (1026 bytes)', '€'.repeat(342)],
    ['1024 bytes plus one multi-byte char', 'k'.repeat(1023) + 'é'],
    ['8000 bytes', 'k'.repeat(8000)],
  ] as const;
  for (const [name, key] of longKeys) {
    const p = `/${BUCKET}/${encKey(key)}`;
    const TOO_LONG = codes('KeyTooLongError');
    add(cat, `PutObject ${name}`, build({ method: 'PUT', path: p, body: 'x' }), TOO_LONG);
    add(cat, `CreateMultipartUpload ${name}`, build({ method: 'POST', path: p, query: 'uploads=' }), TOO_LONG);
    add(
      cat,
      `PutObjectTagging ${name}`,
      build({ method: 'PUT', path: p, query: 'tagging=', body: taggingDoc([['a', 'b']]) }),
      codes('KeyTooLongError', 'NoSuchKey'),
    );
    add(
      cat,
      `CopyObject to ${name}`,
      build({ method: 'PUT', path: p, headers: [['x-amz-copy-source', `/${BUCKET}/${KEEP_A}`]] }),
      TOO_LONG,
    );
    add(
      cat,
      `UploadPart ${name}`,
      build({ method: 'PUT', path: p, query: `partNumber=1&uploadId=${U}`, body: 'x' }),
      codes('KeyTooLongError', 'NoSuchUpload'),
    );
    add(cat, `GetObject ${name}`, build({ method: 'GET', path: p }), codes('KeyTooLongError', 'NoSuchKey'));
  }

  // --- bucket names
  cat = 'bucket-name';
  const badNames = [
    'ab',
    'a',
    'x'.repeat(64),
    'UPPERCASE',
    'Mixed-Case',
    'under_score',
    '-lead',
    'trail-',
    '.lead',
    'trail.',
    'a..b',
    '192.168.5.4',
    'xn--bucket',
    'sthree-bucket',
    'amzn-s3-demo-bucket',
    'bucket-s3alias',
    'bucket--ol-s3',
    'bucket.mrap',
    'bucket--x-s3',
    'bucket--table-s3',
    'sp%20ace',
    '%C3%BC-bucket',
    'a%2Fb%2Fc',
    '..',
    '.',
    'ab%00c',
    'semi%3Bcolon',
    'hostile%2F..%2F..%2Fescape',
  ];
  for (const name of badNames) {
    add(cat, `CreateBucket ${name}`, build({ method: 'PUT', path: `/${name}` }), codes('InvalidBucketName'));
    add(
      cat,
      `CreateBucket ${name} with a configuration`,
      build({ method: 'PUT', path: `/${name}`, body: bucketDoc('us-east-2') }),
      codes('InvalidBucketName'),
    );
    add(
      cat,
      `PutObject into ${name}`,
      build({ method: 'PUT', path: `/${name}/hostile-escape-${name.length}`, body: 'x' }),
      codes('InvalidBucketName', 'NoSuchBucket'),
    );
    add(
      cat,
      `ListObjectsV2 of ${name}`,
      build({ method: 'GET', path: `/${name}`, query: 'list-type=2' }),
      codes('InvalidBucketName', 'NoSuchBucket'),
    );
    add(
      cat,
      `CreateMultipartUpload in ${name}`,
      build({ method: 'POST', path: `/${name}/k`, query: 'uploads=' }),
      codes('InvalidBucketName', 'NoSuchBucket'),
    );
  }

  // --- traversal and odd paths
  cat = 'path-traversal';
  const other = md5b64('not this');
  for (const p of [
    `/${BUCKET}/../../etc/passwd`,
    `/${BUCKET}/%2e%2e/%2e%2e/etc/passwd`,
    `/${BUCKET}/..%2F..%2Fetc%2Fpasswd`,
    `/${BUCKET}/..\\..\\etc\\passwd`,
    `/${BUCKET}/./keep/a.txt`,
    `/${BUCKET}//keep/a.txt`,
    `/${BUCKET}/keep/a.txt/`,
    `/${BUCKET}/keep/./a.txt`,
    `/${BUCKET}/keep/../keep/a.txt`,
    `/${BUCKET}/%2E%2E`,
    `/${BUCKET}/..`,
  ]) {
    add(cat, `GET ${p}`, build({ method: 'GET', path: p }), codes('NoSuchKey'));
    add(
      cat,
      `PUT ${p} with a lying Content-MD5`,
      build({ method: 'PUT', path: p, body: 'escape attempt', headers: [['content-md5', other]] }),
      codes('BadDigest'),
    );
  }
  for (const p of [
    '/../../etc/passwd',
    '/../hostile-escape-1',
    '/%2e%2e/hostile-escape-2',
    '/./hostile-escape-3',
    '/%2E/hostile-escape-4',
    '/..%2F..%2Fhostile-escape-5/x',
  ]) {
    add(cat, `PUT ${p}`, build({ method: 'PUT', path: p, body: 'escape attempt' }), codes('InvalidBucketName', 'NoSuchBucket'));
    add(cat, `GET ${p}`, build({ method: 'GET', path: p }), codes('InvalidBucketName', 'NoSuchBucket'));
    add(cat, `DELETE ${p}`, build({ method: 'DELETE', path: p }), codes('InvalidBucketName', 'NoSuchBucket'));
  }
  // An empty bucket segment: S3's answer is not documented.
  const EMPTY_BUCKET = codes('InvalidBucketName', 'NoSuchBucket', 'InvalidRequest', 'InvalidURI', 'MethodNotAllowed');
  for (const p of ['//', `//${BUCKET}/${KEEP_A}`, '//hostile-escape-6']) {
    add(cat, `GET ${p}`, build({ method: 'GET', path: p }), EMPTY_BUCKET);
    add(cat, `PUT ${p}`, build({ method: 'PUT', path: p, body: 'escape attempt' }), EMPTY_BUCKET);
  }
  add(
    cat,
    'CopyObject from ../../etc/passwd',
    build({ method: 'PUT', path: `/${BUCKET}/target/copy.txt`, headers: [['x-amz-copy-source', '/../../etc/passwd']] }),
    codes('InvalidBucketName', 'NoSuchBucket', 'InvalidArgument', 'InvalidRequest'),
  );
  add(
    cat,
    `CopyObject from ${BUCKET}/../../../etc/passwd`,
    build({ method: 'PUT', path: `/${BUCKET}/target/copy.txt`, headers: [['x-amz-copy-source', `/${BUCKET}/../../../etc/passwd`]] }),
    codes('NoSuchKey'),
  );

  // --- uploadId garbage
  cat = 'upload-id';
  const ids = [
    '',
    'x',
    '../../etc/passwd',
    '..',
    '.',
    '%2F',
    'A'.repeat(1000),
    'null',
    f.uploadId + 'x',
    f.uploadId.slice(0, -1),
    flipHex(f.uploadId, 3),
    `${f.uploadId}/../${f.uploadId}`,
    r.string(32, 'abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789_-'),
    '%00',
    'A%0AB',
    '%C3%BC'.repeat(20),
  ];
  for (const id of ids) {
    const q = (extra: string) => `${extra}uploadId=${/%/.test(id) ? id : enc(id)}`;
    const e = id === '' ? codes('NoSuchUpload', 'InvalidArgument', 'InvalidRequest') : codes('NoSuchUpload');
    add(
      cat,
      `UploadPart uploadId=${JSON.stringify(id.slice(0, 40))}`,
      build({ method: 'PUT', path: `/${BUCKET}/${MPU_KEY}`, query: q('partNumber=1&'), body: 'x' }),
      e,
    );
    add(
      cat,
      `ListParts uploadId=${JSON.stringify(id.slice(0, 40))}`,
      build({ method: 'GET', path: `/${BUCKET}/${MPU_KEY}`, query: q('') }),
      e,
    );
    add(
      cat,
      `AbortMultipartUpload uploadId=${JSON.stringify(id.slice(0, 40))}`,
      build({ method: 'DELETE', path: `/${BUCKET}/${MPU_KEY}`, query: q('') }),
      e,
    );
    add(
      cat,
      `CompleteMultipartUpload uploadId=${JSON.stringify(id.slice(0, 40))}`,
      build({ method: 'POST', path: `/${BUCKET}/${MPU_KEY}`, query: q(''), body: completeDoc([[1, f.part1Etag]]) }),
      e,
    );
  }
  // The right id on another key.
  add(
    cat,
    'UploadPart with the upload id of another key',
    build({ method: 'PUT', path: `/${BUCKET}/${KEEP_A}`, query: `partNumber=1&uploadId=${U}`, body: 'x' }),
    codes('NoSuchUpload'),
  );
  add(
    cat,
    'CompleteMultipartUpload with the upload id of another key',
    build({ method: 'POST', path: `/${BUCKET}/${KEEP_A}`, query: `uploadId=${U}`, body: completeDoc([[1, f.part1Etag]]) }),
    codes('NoSuchUpload'),
  );
  add(
    cat,
    'AbortMultipartUpload with the upload id of another key',
    build({ method: 'DELETE', path: `/${BUCKET}/${KEEP_A}`, query: `uploadId=${U}` }),
    codes('NoSuchUpload'),
  );

  // --- partNumber garbage
  cat = 'part-number';
  for (const n of [
    '0',
    '10001',
    '-1',
    'abc',
    '',
    '1.5',
    '1e3',
    '%201',
    '99999999999999999999',
    '0x10',
    '%EF%BC%91',
    '%2B1',
    '4294967297',
    '1,2',
  ]) {
    add(
      cat,
      `UploadPart partNumber=${n}`,
      build({ method: 'PUT', path: `/${BUCKET}/${MPU_KEY}`, query: `partNumber=${n}&uploadId=${U}`, body: 'x' }),
      codes('InvalidArgument'),
    );
    add(
      cat,
      `GetObject partNumber=${n}`,
      build({ method: 'GET', path: `/${BUCKET}/${KEEP_A}`, query: `partNumber=${n}` }),
      codes('InvalidArgument'),
    );
  }
  add(
    cat,
    'GetObject partNumber=2 of a single-part object',
    build({ method: 'GET', path: `/${BUCKET}/${KEEP_A}`, query: 'partNumber=2' }),
    codes('InvalidPartNumber'),
  );
  add(
    cat,
    'GetObject partNumber with a Range',
    build({ method: 'GET', path: `/${BUCKET}/${KEEP_A}`, query: 'partNumber=1', headers: [['range', 'bytes=0-1']] }),
    codes('InvalidRequest'),
  );
  add(
    cat,
    'UploadPart without partNumber',
    build({ method: 'PUT', path: `/${BUCKET}/${MPU_KEY}`, query: `uploadId=${U}`, body: 'x' }),
    codes('InvalidArgument', 'InvalidRequest'),
  );

  // --- listing parameters
  cat = 'list-params';
  for (const v of ['abc', '-1', '1.5', '1e3', '%20', '0x10', '2147483648', '99999999999999999999', '%00', '10%2C20']) {
    add(
      cat,
      `ListObjectsV2 max-keys=${v}`,
      build({ method: 'GET', path: `/${BUCKET}`, query: `list-type=2&max-keys=${v}` }),
      codes('InvalidArgument'),
    );
    add(cat, `ListObjects max-keys=${v}`, build({ method: 'GET', path: `/${BUCKET}`, query: `max-keys=${v}` }), codes('InvalidArgument'));
    add(
      cat,
      `ListMultipartUploads max-uploads=${v}`,
      build({ method: 'GET', path: `/${BUCKET}`, query: `max-uploads=${v}&uploads=` }),
      codes('InvalidArgument'),
    );
    add(
      cat,
      `ListParts max-parts=${v}`,
      build({ method: 'GET', path: `/${BUCKET}/${MPU_KEY}`, query: `max-parts=${v}&uploadId=${U}` }),
      codes('InvalidArgument'),
    );
    add(
      cat,
      `ListParts part-number-marker=${v}`,
      build({ method: 'GET', path: `/${BUCKET}/${MPU_KEY}`, query: `part-number-marker=${v}&uploadId=${U}` }),
      codes('InvalidArgument'),
    );
  }
  const tokenAlphabet = 'ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_';
  const tokens = [
    'v1:abc',
    'djI6YWJj' /* v2:abc */,
    Buffer.from('garbage').toString('base64url'),
    '!!!',
    'A'.repeat(5000),
    '%FF%FE',
    'dj E6',
    '====',
    ...Array.from({ length: 10 }, () => r.string(r.int(1, 60), tokenAlphabet)),
  ];
  for (const t of tokens) {
    add(
      cat,
      `continuation-token ${JSON.stringify(t.slice(0, 30))}`,
      build({ method: 'GET', path: `/${BUCKET}`, query: `list-type=2&continuation-token=${/%/.test(t) ? t : enc(t)}` }),
      codes('InvalidArgument'),
    );
  }
  for (const e of ['URL', 'base64', 'url%00', '']) {
    add(
      cat,
      `encoding-type=${e}`,
      build({ method: 'GET', path: `/${BUCKET}`, query: `list-type=2&encoding-type=${e}` }),
      codes('InvalidArgument'),
    );
  }
  return out;
}

// ---------------------------------------------------------------------------------------
// Category: XML bodies

function xmlCases(f: Fixture, r: Prng): Case[] {
  const cat = 'xml';
  const out: Case[] = [];
  const MAL = codes('MalformedXML');
  let bucketN = 0;
  interface XmlOp {
    name: string;
    req: (body: string | Buffer) => Req;
    valid: string;
    root: string;
    cap: number;
  }
  const ops: XmlOp[] = [
    {
      name: 'DeleteObjects',
      req: (b) => ({ method: 'POST', path: `/${BUCKET}`, query: 'delete=', body: b, headers: [['content-md5', md5b64(b)]] }),
      valid: deleteDoc(['nothing-1', 'nothing-2']),
      root: 'Delete',
      cap: 2 * 1024 * 1024,
    },
    // Part 1 with a wrong ETag: even a document the server misreads as valid cannot complete the upload.
    {
      name: 'CompleteMultipartUpload',
      req: (b) => ({ method: 'POST', path: `/${BUCKET}/${MPU_KEY}`, query: `uploadId=${enc(f.uploadId)}`, body: b }),
      valid: completeDoc([[1, '0'.repeat(32)]]),
      root: 'CompleteMultipartUpload',
      cap: 4 * 1024 * 1024,
    },
    {
      name: 'PutObjectTagging',
      req: (b) => ({ method: 'PUT', path: `/${BUCKET}/${KEEP_A}`, query: 'tagging=', body: b }),
      valid: taggingDoc([['k', 'v']]),
      root: 'Tagging',
      cap: 64 * 1024,
    },
    {
      name: 'CreateBucket',
      req: (b) => ({ method: 'PUT', path: `/hostile-xml-${++bucketN}`, body: b }),
      valid: bucketDoc('us-east-2'),
      root: 'CreateBucketConfiguration',
      cap: 64 * 1024,
    },
  ];
  const nest = (n: number) => '<a>'.repeat(n) + 'x' + '</a>'.repeat(n);
  const laughs = (root: string, inner: (ref: string) => string) => {
    let dtd = '<!ENTITY lol0 "lollollollollollollollollollol">';
    for (let i = 1; i <= 9; i++) dtd += `<!ENTITY lol${i} "${`&lol${i - 1};`.repeat(10)}">`;
    return `<?xml version="1.0"?><!DOCTYPE ${root} [${dtd}]><${root} xmlns="${NS}">${inner('&lol9;')}</${root}>`;
  };
  for (const op of ops) {
    const add = (name: string, body: string | Buffer, e: Expect, payload?: string, so?: SerializeOpts, send?: SendOptions) => {
      const w = build({ ...op.req(body), payload });
      out.push({ cat, name: `${op.name}: ${name}`, bytes: serialize(w, so), method: w.method, expect: e, send });
    };
    const cuts = new Set<number>();
    while (cuts.size < 8) cuts.add(r.int(1, op.valid.length - 1));
    for (const cut of cuts) add(`truncated at ${cut} of ${op.valid.length}`, op.valid.slice(0, cut), MAL);
    for (const [name, body] of [
      ['plain text', 'hello'],
      ['JSON', `{"${op.root}":{"Object":[{"Key":"a"}]}}`],
      ['angle brackets', '<<>>'],
      ['NUL bytes', '\x00\x01\x02'],
      ['null', 'null'],
      ['only a declaration', '<?xml version="1.0"?>'],
      ['only a comment', '<!-- nothing -->'],
      ['unclosed root', `<${op.root}>`],
      ['mismatched close tag', `<${op.root}></${op.root}x>`],
      ['two roots', `<${op.root}/><${op.root}/>`],
      ['text before the root', `junk${op.valid}`],
      ['text after the root', `${op.valid}junk`],
      ['bad attribute', `<${op.root} a=></${op.root}>`],
      ['unclosed CDATA', `<${op.root}><![CDATA[x</${op.root}>`],
      ['undefined entity', `<${op.root}>&nope;</${op.root}>`],
      ['unclosed comment', `<${op.root}><!-- </${op.root}>`],
      ['wrong root', '<Foo><Bar/></Foo>'],
      ['undeclared namespace prefix', `<x:${op.root} xmlns:y="z"></x:${op.root}>`],
    ] as const)
      add(name, body, MAL);
    add('random bytes', r.bytes(300), MAL);
    add('UTF-16LE encoded document', Buffer.concat([Buffer.from([0xff, 0xfe]), Buffer.from(op.valid, 'utf16le')]), MAL);
    // (An empty CreateBucketConfiguration is valid: it names no region.)
    if (op.name !== 'CreateBucket') add('empty root element', `<${op.root} xmlns="${NS}"></${op.root}>`, MAL);
    const depth = op.cap > 100_000 ? 10_000 : 9_000;
    add(`nested ${depth} levels inside the root`, `<${op.root} xmlns="${NS}">${nest(depth)}</${op.root}>`, MAL);
    add(`nested ${depth} levels, no root`, nest(depth), MAL);
    if (op.cap > 100_000) add('nested 100,000 levels', `<${op.root}>${nest(100_000)}</${op.root}>`, MAL);
    add('unknown element only', `<${op.root} xmlns="${NS}"><Unknown>x</Unknown></${op.root}>`, MAL);
    // Entity expansion and external entities: S3 does not take a DTD.
    const ENTITY = codes('MalformedXML');
    if (op.name === 'DeleteObjects') {
      add(
        'billion laughs',
        laughs('Delete', (e) => `<Object><Key>${e}</Key></Object>`),
        ENTITY,
      );
      add(
        'external entity (XXE)',
        `<?xml version="1.0"?><!DOCTYPE Delete [<!ENTITY xxe SYSTEM "file:///etc/passwd">]><Delete><Object><Key>&xxe;</Key></Object></Delete>`,
        ENTITY,
      );
      add(
        'internal entity',
        `<?xml version="1.0"?><!DOCTYPE Delete [<!ENTITY k "nothing-3">]><Delete><Object><Key>&k;</Key></Object></Delete>`,
        ENTITY,
      );
      add('1001 objects', deleteDoc(Array.from({ length: 1001 }, (_, i) => `none-${i}`)), MAL);
      add('5000 objects', deleteDoc(Array.from({ length: 5000 }, (_, i) => `none-${i}`)), MAL);
      add('no Object', `<Delete xmlns="${NS}"><Quiet>true</Quiet></Delete>`, MAL);
      add('Object without Key', `<Delete xmlns="${NS}"><Object><VersionId>x</VersionId></Object></Delete>`, MAL);
      add('Key with child elements', `<Delete xmlns="${NS}"><Object><Key><a/></Key></Object></Delete>`, MAL);
      // S3 validates the whole document before deleting anything.
      add('one good Object then one without Key', `<Delete xmlns="${NS}"><Object><Key>${VICTIM}</Key></Object><Object/></Delete>`, MAL);
      add(
        'one good Object then one with a child in Key',
        `<Delete xmlns="${NS}"><Object><Key>${VICTIM}</Key></Object><Object><Key><a/></Key></Object></Delete>`,
        MAL,
      );
    }
    if (op.name === 'CompleteMultipartUpload') {
      add(
        'billion laughs',
        laughs('CompleteMultipartUpload', (e) => `<Part><PartNumber>1</PartNumber><ETag>${e}</ETag></Part>`),
        ENTITY,
      );
      add(
        'external entity (XXE)',
        `<?xml version="1.0"?><!DOCTYPE c [<!ENTITY xxe SYSTEM "file:///etc/passwd">]><CompleteMultipartUpload><Part><PartNumber>1</PartNumber><ETag>&xxe;</ETag></Part></CompleteMultipartUpload>`,
        ENTITY,
      );
      add('PartNumber abc', completeDoc([['abc', f.part1Etag]]), MAL);
      add('PartNumber 1.5', completeDoc([['1.5', f.part1Etag]]), MAL);
      add('PartNumber empty', completeDoc([['', f.part1Etag]]), codes('MalformedXML', 'InvalidPart'));
      add('PartNumber -1', completeDoc([[-1, f.part1Etag]]), codes('InvalidPart', 'MalformedXML', 'InvalidArgument'));
      add('no Part', `<CompleteMultipartUpload xmlns="${NS}"></CompleteMultipartUpload>`, MAL);
      add(
        'Part without ETag',
        `<CompleteMultipartUpload xmlns="${NS}"><Part><PartNumber>1</PartNumber></Part></CompleteMultipartUpload>`,
        MAL,
      );
      add(
        'parts out of order',
        completeDoc([
          [2, '0'.repeat(32)],
          [1, f.part1Etag],
        ]),
        codes('InvalidPartOrder'),
      );
      add(
        'part listed twice',
        completeDoc([
          [1, f.part1Etag],
          [1, f.part1Etag],
        ]),
        codes('InvalidPartOrder'),
      );
      add(
        'a part never uploaded',
        completeDoc([
          [1, f.part1Etag],
          [2, '0'.repeat(32)],
        ]),
        codes('InvalidPart'),
      );
      add('part 1 with a wrong ETag', completeDoc([[1, flipHex(f.part1Etag, 0)]]), codes('InvalidPart'));
      add(
        '10001 parts',
        completeDoc(Array.from({ length: 10001 }, (_, i) => [i + 1, '0'.repeat(32)] as [number, string])),
        codes('InvalidPart', 'MalformedXML', 'InvalidArgument'),
      );
    }
    if (op.name === 'PutObjectTagging') {
      add(
        'billion laughs',
        laughs('Tagging', (e) => `<TagSet><Tag><Key>k</Key><Value>${e}</Value></Tag></TagSet>`),
        ENTITY,
      );
      add(
        'external entity (XXE)',
        `<?xml version="1.0"?><!DOCTYPE t [<!ENTITY xxe SYSTEM "file:///etc/passwd">]><Tagging><TagSet><Tag><Key>k</Key><Value>&xxe;</Value></Tag></TagSet></Tagging>`,
        ENTITY,
      );
      add('no TagSet', `<Tagging xmlns="${NS}"></Tagging>`, MAL);
      add('Tag without Key', `<Tagging xmlns="${NS}"><TagSet><Tag><Value>v</Value></Tag></TagSet></Tagging>`, MAL);
      add(
        '11 tags',
        taggingDoc(Array.from({ length: 11 }, (_, i) => [`k${i}`, 'v'] as [string, string])),
        codes('InvalidTag', 'BadRequest'),
      );
      add(
        'duplicate tag keys',
        taggingDoc([
          ['k', 'v'],
          ['k', 'w'],
        ]),
        codes('InvalidTag'),
      );
      add('tag key of 129 characters', taggingDoc([['k'.repeat(129), 'v']]), codes('InvalidTag'));
      add('tag value of 257 characters', taggingDoc([['k', 'v'.repeat(257)]]), codes('InvalidTag'));
      add('empty tag key', taggingDoc([['', 'v']]), codes('InvalidTag'));
    }
    if (op.name === 'CreateBucket') {
      add(
        'billion laughs',
        laughs('CreateBucketConfiguration', (e) => `<LocationConstraint>${e}</LocationConstraint>`),
        ENTITY,
      );
      add(
        'external entity (XXE)',
        `<?xml version="1.0"?><!DOCTYPE c [<!ENTITY xxe SYSTEM "file:///etc/passwd">]><CreateBucketConfiguration><LocationConstraint>&xxe;</LocationConstraint></CreateBucketConfiguration>`,
        ENTITY,
      );
      for (const loc of ['!!!', 'US EAST 1', 'x'.repeat(200), 'eu_west_1'])
        add(`LocationConstraint ${JSON.stringify(loc.slice(0, 20))}`, bucketDoc(loc), codes('InvalidLocationConstraint'));
    }
    // Bodies over the size cap: real bytes, and a Content-Length that only announces them.
    const pad = Buffer.alloc(op.cap + 1024, 0x20);
    add(
      `body of ${op.cap + 1024} bytes (whitespace after the document)`,
      Buffer.concat([Buffer.from(op.valid), pad]),
      codes('EntityTooLarge', 'MalformedXML', 'MaxMessageLengthExceeded'),
      'unsigned',
    );
    add(
      'Content-Length of 3 GB, the document sent, no more',
      op.valid,
      codes('EntityTooLarge', 'MalformedXML', 'MaxMessageLengthExceeded'),
      'unsigned',
      { contentLength: String(3 * 1024 ** 3) },
      { timeoutMs: 5000 },
    );
  }
  return out;
}

// ---------------------------------------------------------------------------------------
// Category: HTTP-level garbage, anonymous access, odd methods

function httpGarbageCases(r: Prng): Case[] {
  const cat = 'http-garbage';
  const out: Case[] = [];
  const add = (name: string, raw: string | Buffer, e: Expect = HTTP, send?: SendOptions) =>
    out.push({ cat, name, bytes: Buffer.isBuffer(raw) ? raw : Buffer.from(raw, 'latin1'), method: 'GET', expect: e, send });
  const H = `Host: ${HOST}\r\nConnection: close\r\n`;
  const lines: Array<[string, string]> = [
    ['bad request line', 'GARBAGE\r\n\r\n'],
    ['method only', 'GET\r\n\r\n'],
    ['HTTP/0.9 request', 'GET /\r\n\r\n'],
    ['HTTP/9.9', `GET / HTTP/9.9\r\n${H}\r\n`],
    ['HTTP/1.2', `GET / HTTP/1.2\r\n${H}\r\n`],
    ['HTTP/2.0 in an HTTP/1 request line', `GET / HTTP/2.0\r\n${H}\r\n`],
    ['HTTX version', `GET / HTTX/1.1\r\n${H}\r\n`],
    ['lower-case http version', `GET / http/1.1\r\n${H}\r\n`],
    ['extra token in the request line', `GET / HTTP/1.1 extra\r\n${H}\r\n`],
    ['double space in the request line', `GET  / HTTP/1.1\r\n${H}\r\n`],
    ['tab in the request line', `GET\t/ HTTP/1.1\r\n${H}\r\n`],
    ['lower-case method', `get / HTTP/1.1\r\n${H}\r\n`],
    ['unknown method', `FROB / HTTP/1.1\r\n${H}\r\n`],
    ['method of 5000 letters', `${'G'.repeat(5000)} / HTTP/1.1\r\n${H}\r\n`],
    ['header without colon', `GET / HTTP/1.1\r\n${H}NoColonHere\r\n\r\n`],
    ['space before colon', `GET / HTTP/1.1\r\nHost : ${HOST}\r\nConnection: close\r\n\r\n`],
    ['empty header name', `GET / HTTP/1.1\r\n${H}: value\r\n\r\n`],
    ['space inside header name', `GET / HTTP/1.1\r\n${H}Bad Header: x\r\n\r\n`],
    ['bracket in header name', `GET / HTTP/1.1\r\n${H}Bad(Header): x\r\n\r\n`],
    ['obs-fold continuation line', `GET / HTTP/1.1\r\n${H}X-Folded: a\r\n b\r\n\r\n`],
    ['NUL in a header value', `GET / HTTP/1.1\r\n${H}X-Nul: a\x00b\r\n\r\n`],
    ['bare CR in a header value', `GET / HTTP/1.1\r\n${H}X-Cr: a\rb\r\n\r\n`],
    ['control byte in a header value', `GET / HTTP/1.1\r\n${H}X-Ctl: a\x01b\r\n\r\n`],
    ['no Host header', 'GET / HTTP/1.1\r\nConnection: close\r\n\r\n'],
    ['two Host headers', `GET / HTTP/1.1\r\n${H}Host: other.example\r\n\r\n`],
    ['HTTP/2 connection preface', 'PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n'],
    ['Transfer-Encoding gzip, chunked', `PUT /${BUCKET}/x HTTP/1.1\r\n${H}Transfer-Encoding: gzip, chunked\r\n\r\n0\r\n\r\n`],
    [
      'Transfer-Encoding chunked with a bad chunk',
      `PUT /${BUCKET}/x HTTP/1.1\r\n${H}Transfer-Encoding: chunked\r\n\r\nzz\r\nhello\r\n0\r\n\r\n`,
    ],
    ['Transfer-Encoding unknown', `PUT /${BUCKET}/x HTTP/1.1\r\n${H}Transfer-Encoding: bogus\r\n\r\nhello`],
    [
      'two Transfer-Encoding headers',
      `PUT /${BUCKET}/x HTTP/1.1\r\n${H}Transfer-Encoding: chunked\r\nTransfer-Encoding: chunked\r\n\r\n0\r\n\r\n`,
    ],
    ['Content-Length with a plus sign', `PUT /${BUCKET}/x HTTP/1.1\r\n${H}Content-Length: +5\r\n\r\nhello`],
    ['request line with a raw space in the path', `GET /${BUCKET}/a b HTTP/1.1\r\n${H}\r\n`],
    ['request line with a DEL byte', `GET /${BUCKET}/a\x7fb HTTP/1.1\r\n${H}\r\n`],
  ];
  for (const [name, raw] of lines) add(name, raw);
  // Bare LF line ends: Node may accept them; then s3mux answers an anonymous request.
  add('bare LF line ends', `GET /${BUCKET}/${KEEP_A} HTTP/1.1\nHost: ${HOST}\nConnection: close\n\n`, HTTP);
  add('TLS ClientHello on the plain port', Buffer.from('160301003d0100003903035f1b' + '00'.repeat(40), 'hex'), {
    http: true,
    allowNoAnswer: true,
  });
  add('CONNECT request', `CONNECT ${HOST} HTTP/1.1\r\n${H}\r\n`, { http: true, allowNoAnswer: true });
  add(
    'headers never finished, client half-closes',
    `GET /${BUCKET}/${KEEP_A} HTTP/1.1\r\nHost: ${HOST}\r\nX-Partial: `,
    { http: true, allowNoAnswer: true },
    { halfClose: true },
  );
  // Empty lines before a request line are ignored (RFC 9112 2.2): the server waits for more.
  add('only CRLFs, client half-closes', '\r\n\r\n\r\n\r\n', { http: true, allowNoAnswer: true }, { halfClose: true });
  add(
    'request line never finished, client half-closes',
    `GET /${BUCKET}/${KEEP_A} HTT`,
    { http: true, allowNoAnswer: true },
    { halfClose: true },
  );
  add(
    'connection dropped mid-headers',
    `PUT /${BUCKET}/target/dropped HTTP/1.1\r\nHost: ${HOST}\r\nContent-Length: 5`,
    { http: true, allowNoAnswer: true },
    { abortAfterMs: 20 },
  );
  for (let i = 0; i < 20; i++) add(`random bytes #${i}`, r.bytes(r.int(1, 400)), { http: true, allowNoAnswer: true }, { halfClose: true });
  for (let i = 0; i < 8; i++) {
    // A valid request line followed by random header bytes.
    add(
      `random header bytes #${i}`,
      Buffer.concat([
        Buffer.from(`GET /${BUCKET}/${KEEP_A} HTTP/1.1\r\nHost: ${HOST}\r\n`),
        r.bytes(r.int(1, 200)),
        Buffer.from('\r\n\r\n'),
      ]),
      { http: true, allowNoAnswer: true },
      { halfClose: true },
    );
  }
  return out;
}

function anonymousCases(f: Fixture): Case[] {
  const cat = 'anonymous';
  const out: Case[] = [];
  const DENIED = codes('AccessDenied');
  const reqs: Array<[string, Req]> = [
    ['GetObject', { method: 'GET', path: `/${BUCKET}/${KEEP_A}` }],
    ['PutObject', { method: 'PUT', path: `/${BUCKET}/target/anon.txt`, body: 'anonymous write' }],
    ['DeleteObject', { method: 'DELETE', path: `/${BUCKET}/${KEEP_B}` }],
    ['CreateBucket', { method: 'PUT', path: '/hostile-anon-bucket' }],
    ['ListBuckets', { method: 'GET', path: '/' }],
    ['ListObjectsV2', { method: 'GET', path: `/${BUCKET}`, query: 'list-type=2' }],
    ['UploadPart', { method: 'PUT', path: `/${BUCKET}/${MPU_KEY}`, query: `partNumber=1&uploadId=${enc(f.uploadId)}`, body: 'x' }],
    ['AbortMultipartUpload', { method: 'DELETE', path: `/${BUCKET}/${MPU_KEY}`, query: `uploadId=${enc(f.uploadId)}` }],
    ['PutObjectTagging', { method: 'PUT', path: `/${BUCKET}/${KEEP_A}`, query: 'tagging=', body: taggingDoc([['a', 'b']]) }],
    ['CopyObject', { method: 'PUT', path: `/${BUCKET}/target/anon-copy.txt`, headers: [['x-amz-copy-source', `/${BUCKET}/${KEEP_A}`]] }],
    [
      'PutObject with X-Amz-Credential but no X-Amz-Algorithm',
      {
        method: 'PUT',
        path: `/${BUCKET}/target/anon2.txt`,
        query: `X-Amz-Credential=${ACCESS_KEY}%2F20250101%2Fus-east-1%2Fs3%2Faws4_request&X-Amz-Signature=${'0'.repeat(64)}`,
        body: 'x',
      },
    ],
    [
      'PutObject with x-amz-content-sha256 only',
      { method: 'PUT', path: `/${BUCKET}/target/anon3.txt`, headers: [['x-amz-content-sha256', UNSIGNED_PAYLOAD]], body: 'x' },
    ],
    // Sub-resources s3mux does not implement: an anonymous caller is still refused, not told 501.
    ['GetBucketPolicy', { method: 'GET', path: `/${BUCKET}`, query: 'policy=' }],
    ['PutBucketLifecycle', { method: 'PUT', path: `/${BUCKET}`, query: 'lifecycle=', body: '<LifecycleConfiguration/>' }],
    ['PutBucketPolicy', { method: 'PUT', path: `/${BUCKET}`, query: 'policy=', body: '{"Statement":[]}' }],
    ['ListObjectVersions', { method: 'GET', path: `/${BUCKET}`, query: 'versions=' }],
  ];
  for (const [name, req] of reqs) out.push({ cat, name, bytes: serialize(anon(req)), method: req.method, expect: DENIED });
  // S3 answers an anonymous DeleteObjects 200 with AccessDenied for each key (MinIO's mint checks the same).
  const del: Req = { method: 'POST', path: `/${BUCKET}`, query: 'delete=', ...batch([KEEP_A]) };
  out.push({ cat, name: 'DeleteObjects', bytes: serialize(anon(del)), method: del.method, expect: { perKey: ['AccessDenied'] } });
  // Anonymous writes announcing large bodies: refused without waiting for the bytes.
  out.push({
    cat,
    name: 'PutObject announcing 1 GB, 1 KB sent, half-close',
    bytes: serialize(anon({ method: 'PUT', path: `/${BUCKET}/target/anon-big.bin`, body: Buffer.alloc(1024) }), {
      contentLength: String(1024 ** 3),
    }),
    method: 'PUT',
    expect: DENIED,
    send: { halfClose: true },
  });
  return out;
}

function methodCases(): Case[] {
  const cat = 'methods';
  const out: Case[] = [];
  for (const method of ['PATCH', 'PROPFIND', 'MKCOL', 'LOCK', 'TRACE', 'PURGE', 'LINK']) {
    for (const p of [`/${BUCKET}/${KEEP_A}`, `/${BUCKET}`]) {
      out.push({ cat, name: `${method} ${p}`, bytes: serialize(build({ method, path: p })), method, expect: codes('MethodNotAllowed') });
    }
  }
  out.push({
    cat,
    name: 'POST to an object without a sub-resource',
    bytes: serialize(build({ method: 'POST', path: `/${BUCKET}/${KEEP_A}`, body: 'x' })),
    method: 'POST',
    expect: codes('MethodNotAllowed'),
  });
  out.push({
    cat,
    name: 'PUT to the service',
    bytes: serialize(build({ method: 'PUT', path: '/', body: 'x' })),
    method: 'PUT',
    expect: codes('MethodNotAllowed'),
  });
  out.push({
    cat,
    name: 'DELETE the service',
    bytes: serialize(build({ method: 'DELETE', path: '/' })),
    method: 'DELETE',
    expect: codes('MethodNotAllowed'),
  });
  return out;
}

// ---------------------------------------------------------------------------------------
// Judging answers

function judge(c: Case, res: RawResponse): Outcome {
  const body = res.body.toString('utf8');
  const m = /^<\?xml version="1\.0" encoding="UTF-8"\?>\s*<Error><Code>([^<]+)<\/Code><Message>[^<]*<\/Message>/.exec(body);
  const code = c.method === 'HEAD' ? (res.headers['x-amz-error-code'] ?? '') : (m?.[1] ?? '');
  const o: Outcome = { c, status: res.status, code };
  const what = `${res.status || 'no answer'}${code ? ' ' + code : ''}${res.timedOut ? ' (timed out)' : ''}${res.incomplete && res.status ? ' (incomplete)' : ''}`;
  if ('http' in c.expect) {
    if (res.status === 0 && c.expect.allowNoAnswer && !res.timedOut) return o;
    if (code === 'InternalError') o.problem = `InternalError: ${what}`;
    else if (!(res.status >= 400 && res.status < 500) && res.status !== 505) o.problem = `expected a 4xx (HTTP-level), got ${what}`;
    return o;
  }
  if ('perKey' in c.expect) {
    const allowedPerKey = c.expect.perKey;
    const errors = [...body.matchAll(/<Error>.*?<Code>([^<]+)<\/Code>/g)].map((x) => x[1]);
    const ok = res.status === 200 && body.includes('<DeleteResult') && !body.includes('<Deleted>') && errors.length > 0;
    if (!ok || errors.some((e) => !allowedPerKey.includes(e)))
      o.problem = `expected 200 with per-key ${allowedPerKey.join('|')}, got ${what}: ${body.slice(0, 160)}`;
    return o;
  }
  const allowed = c.expect.codes;
  if (res.timedOut || res.status === 0) o.problem = `expected ${allowed.join('|')}, got ${what}`;
  else if (code === 'InternalError' || res.status >= 500)
    o.problem = `expected ${allowed.join('|')}, got ${what}: ${/<Message>([^<]*)<\/Message>/.exec(body)?.[1] ?? body.slice(0, 120)}`;
  else if (res.status < 400) o.problem = `expected ${allowed.join('|')}, got success ${res.status}`;
  else if (!m && c.method !== 'HEAD')
    o.problem = `expected ${allowed.join('|')}, got ${res.status} without an S3 error document: ${JSON.stringify(body.slice(0, 120))}`;
  else if (!allowed.includes(code)) o.problem = `expected ${allowed.join('|')}, got ${what}`;
  else if ((c.expect.status ?? S3_STATUS[code]) !== undefined && (c.expect.status ?? S3_STATUS[code]) !== res.status)
    o.problem = `${code} with status ${res.status}, S3 uses ${c.expect.status ?? S3_STATUS[code]}`;
  else if (res.headers['content-type'] !== 'application/xml') o.problem = `${code} with Content-Type ${res.headers['content-type']}`;
  return o;
}

// ---------------------------------------------------------------------------------------
// What is on disk

/** Relative path -> '<dir>' or sha256 of the file, below root (skipping .s3mux/tmp, checked apart). */
function snapshot(root: string): Map<string, string> {
  const out = new Map<string, string>();
  const walk = (dir: string) => {
    for (const name of readdirSync(dir)) {
      const p = path.join(dir, name);
      const rel = path.relative(root, p);
      if (rel === path.join('.s3mux', 'tmp')) continue;
      const st = statSync(p);
      if (st.isDirectory()) {
        out.set(rel + '/', '<dir>');
        walk(p);
      } else {
        out.set(rel, createHash('sha256').update(readFileSync(p)).digest('hex'));
      }
    }
  };
  if (existsSync(root)) walk(root);
  return out;
}

/** Failures grouped by what went wrong, each group with its count and a few of its requests. */
function groupProblems(bad: Outcome[]): string[] {
  const groups = new Map<string, Outcome[]>();
  for (const o of bad) {
    const k = `[${o.c.cat}] ${o.problem}`;
    groups.set(k, [...(groups.get(k) ?? []), o]);
  }
  return [...groups].map(
    ([k, os]) =>
      `  ${k}\n      ×${os.length}: ${os
        .slice(0, 4)
        .map((o) => o.c.name)
        .join(' · ')}${os.length > 4 ? ' · …' : ''}`,
  );
}

/** Entries (lines or comma-separated items) added (+) and removed (-) between two state strings. */
function entryDiff(a: string, b: string): string[] {
  const split = (x: string) => x.split(/\n|,/).filter(Boolean);
  const A = new Set(split(a));
  const B = new Set(split(b));
  return [...[...B].filter((x) => !A.has(x)).map((x) => `+ ${x}`), ...[...A].filter((x) => !B.has(x)).map((x) => `- ${x}`)].map((x) =>
    x.replace(/&quot;/g, '"'),
  );
}

function diffSnapshots(a: Map<string, string>, b: Map<string, string>): string[] {
  const d: string[] = [];
  for (const [k, v] of b)
    if (!a.has(k)) d.push(`+ ${k}`);
    else if (a.get(k) !== v) d.push(`~ ${k}`);
  for (const k of a.keys()) if (!b.has(k)) d.push(`- ${k}`);
  return d;
}

// ---------------------------------------------------------------------------------------

describe('protocol: hostile input', function () {
  this.timeout(120_000);
  let srv: TestServer;
  const fixture: Fixture = { uploadId: '', part1Etag: '', objects: new Map() };
  const outcomes: Outcome[] = [];
  let started = Date.now();
  let baseline: { objects: string; buckets: string; uploads: string; parts: string; tags: string; files: Map<string, string> } | undefined;
  let siblingsBefore: Set<string>;
  let stalled: Promise<Outcome[]> | undefined;

  async function okFetch(method: string, p: string, opts: Parameters<typeof signedFetch>[4] = {}) {
    const res = await signedFetch(srv.url, CREDS, method, p, opts);
    if (res.status >= 300) throw new Error(`setup ${method} ${p}: ${res.status} ${res.text}`);
    return res;
  }

  async function state() {
    const list = await okFetch('GET', `/${BUCKET}`, { query: { 'list-type': '2', 'max-keys': '1000' } });
    // An object stored with a checksum lists its algorithm and type between ETag and Size, as S3 does.
    const objects = [
      ...list.text.matchAll(
        /<Key>([^<]*)<\/Key>.*?<ETag>([^<]*)<\/ETag>(?:<ChecksumAlgorithm>([^<]*)<\/ChecksumAlgorithm><ChecksumType>([^<]*)<\/ChecksumType>)?<Size>(\d+)<\/Size>/g,
      ),
    ]
      .map((m) => `${m[1]} ${m[2]} ${m[5]}${m[3] ? ` ${m[3]} ${m[4]}` : ''}`)
      .join('\n');
    const buckets = [...(await okFetch('GET', '/')).text.matchAll(/<Name>([^<]*)<\/Name>/g)].map((m) => m[1]).join(',');
    const uploads = [...(await okFetch('GET', `/${BUCKET}`, { query: { uploads: '' } })).text.matchAll(/<UploadId>([^<]*)<\/UploadId>/g)]
      .map((m) => m[1])
      .join(',');
    const parts = [
      ...(await signedFetch(srv.url, CREDS, 'GET', `/${BUCKET}/${MPU_KEY}`, { query: { uploadId: fixture.uploadId } })).text.matchAll(
        /<PartNumber>(\d+)<\/PartNumber>.*?<ETag>([^<]*)<\/ETag><Size>(\d+)/g,
      ),
    ]
      .map((m) => `${m[1]} ${m[2]} ${m[3]}`)
      .join(',');
    const tags = (
      await Promise.all(
        [KEEP_A, KEEP_TAGGED].map(async (k) => {
          const t = await signedFetch(srv.url, CREDS, 'GET', `/${BUCKET}/${k}`, { query: { tagging: '' } });
          return `${k}: ${t.status} ${[...t.text.matchAll(/<Key>([^<]*)<\/Key><Value>([^<]*)<\/Value>/g)].map((m) => `${m[1]}=${m[2]}`).join('&')}`;
        }),
      )
    ).join('\n');
    return { objects, buckets, uploads, parts, tags };
  }

  async function healthy(after: string): Promise<void> {
    const r = await signedFetch(srv.url, CREDS, 'GET', `/${BUCKET}/${PING}`);
    expect(r.status, `a normal signed GET after ${after}`).to.equal(200);
    expect(r.text).to.equal('pong');
  }

  async function runBatch(name: string, cases: Case[]): Promise<void> {
    const before = await state();
    const results = await pool(cases, CONCURRENCY, async (c) =>
      judge(c, await exchange(srv.port, c.bytes, { timeoutMs: 10_000, ...c.send })),
    );
    outcomes.push(...results);
    await healthy(`the ${name} batch`);
    const bad = results.filter((o) => o.problem);
    const lines = groupProblems(bad);
    // What this batch changed (the final test checks the whole; this names the batch).
    const after = await state();
    const changed = (Object.keys(before) as Array<keyof typeof before>).filter((k) => before[k] !== after[k]);
    for (const k of changed) lines.push(`  ${k} changed during this batch: ${entryDiff(before[k], after[k]).join('; ')}`);
    if (bad.length || changed.length) {
      expect.fail(
        `${bad.length} of ${results.length} hostile requests were answered wrongly (seed ${SEED})${changed.length ? ', and state changed' : ''}:\n${lines.join('\n')}`,
      );
    }
  }

  before(async () => {
    started = Date.now();
    srv = await startTestServer();
    HOST = `127.0.0.1:${srv.port}`;
    siblingsBefore = new Set(readdirSync(path.dirname(srv.dataDir)));
    await okFetch('PUT', `/${BUCKET}`);
    const put = async (k: string, body: Buffer | string, headers?: Record<string, string>) => {
      await okFetch('PUT', `/${BUCKET}/${encKey(k)}`, { body, headers });
      fixture.objects.set(k, Buffer.from(body));
    };
    await put(KEEP_A, 'alpha');
    await put(KEEP_B, new Prng(SEED).bytes(3000));
    await put(KEEP_TAGGED, 'tagged', { 'x-amz-tagging': 'color=blue' });
    await put(PING, 'pong');
    await put(VICTIM, 'victim');
    const created = await okFetch('POST', `/${BUCKET}/${MPU_KEY}`, { query: { uploads: '' } });
    fixture.uploadId = /<UploadId>([^<]+)<\/UploadId>/.exec(created.text)![1];
    const part = await okFetch('PUT', `/${BUCKET}/${MPU_KEY}`, {
      query: { partNumber: '1', uploadId: fixture.uploadId },
      body: 'part one',
    });
    fixture.part1Etag = String(part.headers.etag).replace(/"/g, '');
  });

  after(async function () {
    if (!srv) return;
    // Summary: category -> requests, failures, codes seen.
    const byCat = new Map<string, { n: number; bad: number; codes: Map<string, number> }>();
    for (const o of outcomes) {
      const e = byCat.get(o.c.cat) ?? { n: 0, bad: 0, codes: new Map() };
      e.n++;
      if (o.problem) e.bad++;
      const k = o.code || (o.status ? `(${o.status}, no XML)` : '(no answer)');
      e.codes.set(k, (e.codes.get(k) ?? 0) + 1);
      byCat.set(o.c.cat, e);
    }
    const rows = [...byCat].map(
      ([cat, e]) =>
        `  ${cat.padEnd(20)} ${String(e.n).padStart(5)} ${String(e.bad).padStart(6)}   ${[...e.codes]
          .sort((a, b) => b[1] - a[1])
          .map(([c, n]) => `${c}×${n}`)
          .join(', ')}`,
    );
    // HOSTILE_VERBOSE=1 lists every request with its answer.
    if (process.env.HOSTILE_VERBOSE)
      for (const o of outcomes) console.log(`  ${o.problem ? '✗' : '✓'} [${o.c.cat}] ${o.c.name} -> ${o.status} ${o.code}`);
    const total = outcomes.length;
    console.log(
      `\n  hostile input summary (seed ${SEED}, ${total} requests, ${((Date.now() - started) / 1000).toFixed(1)} s)\n  ${'category'.padEnd(20)} ${'sent'.padStart(5)} ${'wrong'.padStart(6)}   codes seen\n${rows.join('\n')}\n`,
    );
    await srv.stop();
  });

  it('accepts the unmutated control requests every mutation starts from', async () => {
    // If these fail, the test's own signer is wrong and every SignatureDoesNotMatch below means nothing.
    const controls: Array<[string, Wire, number]> = [
      ['GetObject', build({ method: 'GET', path: `/${BUCKET}/${KEEP_A}` }), 200],
      ['ListObjectsV2', build({ method: 'GET', path: `/${BUCKET}`, query: 'list-type=2&prefix=keep%2F' }), 200],
      ['ListBuckets', build({ method: 'GET', path: '/' }), 200],
      ['ListParts', build({ method: 'GET', path: `/${BUCKET}/${MPU_KEY}`, query: `uploadId=${enc(fixture.uploadId)}` }), 200],
      ['DeleteObjects of absent keys', build({ method: 'POST', path: `/${BUCKET}`, query: 'delete=', ...batch(['control/absent']) }), 200],
      [
        'PutObject',
        build({
          method: 'PUT',
          path: `/${BUCKET}/control/put.txt`,
          body: 'control',
          headers: [
            ['content-type', 'text/plain'],
            ['x-amz-meta-note', 'signed value'],
          ],
        }),
        200,
      ],
      [
        'PutObject, unsigned payload, Content-MD5 and crc32',
        build({
          method: 'PUT',
          path: `/${BUCKET}/control/digest.txt`,
          body: 'digest',
          payload: 'unsigned',
          headers: [
            ['content-md5', md5b64('digest')],
            ['x-amz-checksum-crc32', checksumBase64('crc32', 'digest')],
          ],
        }),
        200,
      ],
      [
        'PutObject, Date header instead of x-amz-date',
        (() => {
          const d = new Date(Math.floor(Date.now() / 1000) * 1000);
          return build(
            { method: 'PUT', path: `/${BUCKET}/control/date.txt`, body: 'date', headers: [['date', d.toUTCString()]] },
            { noDateHeader: true, signDate: amzDate(d) },
          );
        })(),
        200,
      ],
      ['presigned GET', presign({ method: 'GET', path: `/${BUCKET}/${KEEP_A}` }), 200],
      ['presigned PUT', presign({ method: 'PUT', path: `/${BUCKET}/control/presigned.txt`, body: 'presigned' }), 200],
    ];
    const data = new Prng(SEED + 1).bytes(20000);
    for (const mode of ['signed', 'signed-trailer', 'unsigned-trailer'] as const) {
      controls.push([
        `aws-chunked ${mode}`,
        chunkedWire({ method: 'PUT', path: `/${BUCKET}/control/chunked-${mode}.bin` }, { mode, data }),
        200,
      ]);
    }
    for (const [name, w, status] of controls) {
      const res = await exchange(srv.port, serialize(w));
      expect(res.status, `${name}: ${res.body.toString()}`).to.equal(status);
    }
    // The chunked uploads stored exactly the decoded bytes.
    for (const mode of ['signed', 'signed-trailer', 'unsigned-trailer']) {
      const g = await signedFetch(srv.url, CREDS, 'GET', `/${BUCKET}/control/chunked-${mode}.bin`);
      expect(g.body.equals(data), mode).to.equal(true);
      fixture.objects.set(`control/chunked-${mode}.bin`, data);
    }
    for (const [k, v] of [
      ['control/put.txt', 'control'],
      ['control/digest.txt', 'digest'],
      ['control/date.txt', 'date'],
      ['control/presigned.txt', 'presigned'],
    ])
      fixture.objects.set(k, Buffer.from(v));
    // What the test has stored on purpose, as the server and the disk show it.
    baseline = { ...(await state()), files: snapshot(srv.dataDir) };
    expect(
      baseline.objects
        .split('\n')
        .map((l) => l.split(' ')[0])
        .sort(),
    ).to.deep.equal([...fixture.objects.keys()].sort());
    expect(baseline.uploads).to.equal(fixture.uploadId);

    // Bodies that stop half-way while the connection stays open: S3 gives up with 400
    // RequestTimeout after ~20 s of silence. Started now, judged at the end, so the wait
    // overlaps the other batches.
    const half = Buffer.from('half of a body that never arrives in full, 0123456789');
    const put = build({ method: 'PUT', path: `/${BUCKET}/target/stalled.txt`, body: half, payload: 'unsigned' });
    const chunked = chunkedWire(
      { method: 'PUT', path: `/${BUCKET}/target/stalled-chunked.bin` },
      { mode: 'signed', data: new Prng(SEED + 2).bytes(20000) },
    );
    const stallCases: Case[] = [
      {
        cat: 'stalled-body',
        name: 'PutObject: 54 of 1000 bytes sent, then silence',
        bytes: serialize(put, { contentLength: '1000' }),
        method: 'PUT',
        expect: codes('RequestTimeout'),
        send: { timeoutMs: STALL_WAIT_MS },
      },
      {
        cat: 'stalled-body',
        name: 'aws-chunked PutObject: first chunk half sent, then silence',
        bytes: serialize(chunked, { sendBody: chunked.body.subarray(0, 5000) }),
        method: 'PUT',
        expect: codes('RequestTimeout'),
        send: { timeoutMs: STALL_WAIT_MS },
      },
    ];
    stalled = Promise.all(stallCases.map(async (c) => judge(c, await exchange(srv.port, c.bytes, c.send))));
  });

  const batches: Array<[string, (f: Fixture, r: Prng) => Case[]]> = [
    ['Authorization header', authHeaderCases],
    ['presigned URLs', presignCases],
    ['request dates', (f) => dateCases(f)],
    ['signatures one byte off', oneByteCases],
    ['x-amz-content-sha256', contentShaCases],
    ['aws-chunked bodies', chunkedCases],
    ['Content-Length, Content-MD5, x-amz-checksum-*', lengthAndDigestCases],
    ['oversized headers', () => headerCases()],
    ['URIs, keys, bucket names, query parameters', uriCases],
    ['XML bodies', xmlCases],
    ['HTTP-level garbage', (_f, r) => httpGarbageCases(r)],
    ['anonymous requests', (f) => anonymousCases(f)],
    ['unsupported methods', () => methodCases()],
  ];
  batches.forEach(([name, gen], i) => {
    it(`answers every hostile request: ${name}`, async function () {
      if (!baseline) this.skip();
      // One PRNG stream per batch: a batch's cases do not depend on which other batches ran.
      await runBatch(name, gen(fixture, new Prng(SEED * 31 + i)));
    });
  });

  it('answers a body that stalls half-way with RequestTimeout, not by holding the connection open', async function () {
    if (!stalled) this.skip();
    const results = await stalled;
    outcomes.push(...results);
    await healthy('the stalled bodies');
    const bad = results.filter((o) => o.problem);
    if (bad.length) expect.fail(groupProblems(bad).join('\n'));
  });

  it(`sent at least 1000 requests, within the time budget`, () => {
    expect(outcomes.length).to.be.at.least(1000);
    expect(Date.now() - started).to.be.below(60_000);
  });

  it('stored nothing: objects, buckets, uploads, parts, tags and files are as the test left them', async function () {
    if (!baseline) this.skip();
    const now = await state();
    const problems: string[] = [];
    for (const k of Object.keys(now) as Array<keyof typeof now>) {
      if (now[k] !== baseline[k]) problems.push(`${k}: ${entryDiff(baseline[k], now[k]).join('; ')}`);
    }
    for (const [k, v] of fixture.objects) {
      const g = await signedFetch(srv.url, CREDS, 'GET', `/${BUCKET}/${encKey(k)}`);
      if (!(g.status === 200 && g.body.equals(v))) problems.push(`content of ${k}: ${g.status}`);
    }
    if (srv.router.defaultBackend.kind === 'fs') {
      // Failed writes clean their temp files as they fail; give the last ones a moment.
      for (let i = 0; i < 20 && tempFiles(srv.dataDir).length > 0; i++) await new Promise((r) => setTimeout(r, 100));
      const left = tempFiles(srv.dataDir);
      if (left.length) problems.push(`temp files left in .s3mux/tmp: ${left.join(', ')}`);
      const files = diffSnapshots(baseline.files, snapshot(srv.dataDir));
      if (files.length) problems.push(`data directory (+ added, - removed, ~ changed): ${files.join('; ')}`);
      // Nothing escaped next to the data directory.
      const siblings = readdirSync(path.dirname(srv.dataDir)).filter((n) => !siblingsBefore.has(n) && /escape|passwd|hostile/.test(n));
      if (siblings.length) problems.push(`created outside the data directory: ${siblings.join(', ')}`);
    }
    expect(problems, 'what the hostile requests changed (+ added, - removed)').to.deep.equal([]);
  });
});
