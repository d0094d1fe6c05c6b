/**
 * aws-chunked bodies (STREAMING-* payloads) answered as S3 answers them, byte for byte on the
 * wire: the answers are the ones openstack/swift's test/s3api/test_input_errors.py recorded
 * against AWS.
 */
import { randomBytes } from 'node:crypto';
import { expect } from 'chai';
import { CreateBucketCommand, GetObjectCommand } from '@aws-sdk/client-s3';
import { startTestServer, ACCESS_KEY, SECRET_KEY, type TestServer } from '../helpers/server';
import { exactRequest, type SignedFetch } from '../helpers/sign';
import {
  STREAMING_PAYLOAD,
  STREAMING_PAYLOAD_TRAILER,
  STREAMING_UNSIGNED_TRAILER,
  amzDate,
  authorizationHeader,
  chunkSignature,
  sign,
  trailerSignature,
  type HeaderList,
} from '../helpers/hostile-sigv4';
import { checksumBase64 } from '../../src/s3/checksums';
import { byteString, bytesHex } from '../../src/auth/byte-strings';

type Mode = 'signed' | 'signed-trailer' | 'unsigned-trailer';
const MARKER: Record<Mode, string> = {
  signed: STREAMING_PAYLOAD,
  'signed-trailer': STREAMING_PAYLOAD_TRAILER,
  'unsigned-trailer': STREAMING_UNSIGNED_TRAILER,
};

interface Upload {
  mode: Mode;
  chunks: Buffer[];
  /** Trailer lines, in order (the trailer signature is added in signed-trailer mode). */
  trailers?: HeaderList;
  headers?: Record<string, string>;
  /** x-amz-decoded-content-length; default the data's length. */
  decodedLength?: number;
  /** Edits the serialised body (latin1 text) before it is sent. */
  edit?: (body: string) => string;
}

/** Frames and signs an aws-chunked PUT the way an SDK does, then sends it as built. */
function streamedPut(srv: TestServer, path: string, u: Upload): Promise<SignedFetch> {
  const url = new URL(srv.url);
  const data = Buffer.concat(u.chunks);
  const own = u.headers ?? {};
  const headers: HeaderList = [
    ['host', url.host],
    ['x-amz-date', amzDate(new Date())],
    ['x-amz-content-sha256', MARKER[u.mode]],
    ...(own['content-encoding'] === undefined ? [['content-encoding', 'aws-chunked'] as [string, string]] : []),
    ['x-amz-decoded-content-length', String(u.decodedLength ?? data.length)],
    ...Object.entries(own),
  ];
  const s = sign({ method: 'PUT', path, query: '', headers }, MARKER[u.mode], {
    accessKeyId: ACCESS_KEY,
    secret: SECRET_KEY,
    amzDate: headers[1][1],
  });
  const signed = u.mode !== 'unsigned-trailer';
  let prev = s.signature;
  const parts: string[] = [];
  for (const c of [...u.chunks, Buffer.alloc(0)]) {
    let line = c.length.toString(16);
    if (signed) {
      prev = chunkSignature(s.key, s.amzDate, s.scope, prev, c);
      line += `;chunk-signature=${prev}`;
    }
    parts.push(`${line}\r\n`, c.toString('latin1'), c.length ? '\r\n' : '');
  }
  const trailers = u.trailers ?? [];
  for (const [n, v] of trailers) parts.push(`${n}:${v}\r\n`);
  if (u.mode === 'signed-trailer') {
    const text = trailers.map(([n, v]) => `${n}:${v}\n`).join('');
    parts.push(`x-amz-trailer-signature:${trailerSignature(s.key, s.amzDate, s.scope, prev, text)}\r\n`);
  }
  parts.push('\r\n');
  let body = parts.join('');
  if (u.edit) body = u.edit(body);
  const sent: Record<string, string> = Object.fromEntries(headers);
  sent.authorization = authorizationHeader(ACCESS_KEY, s);
  return exactRequest(`${url.origin}${path}`, 'PUT', sent, Buffer.from(body, 'latin1'));
}

const element = (text: string, name: string) => text.match(new RegExp(`<${name}>([^<]*)</${name}>`))?.[1];

describe('protocol: aws-chunked bodies', () => {
  let srv: TestServer;
  const Bucket = 'chunked';
  before(async () => {
    srv = await startTestServer();
    await srv.s3.send(new CreateBucketCommand({ Bucket }));
  });
  after(async () => {
    await srv.stop();
  });

  const stored = async (Key: string) => {
    const r = await srv.s3.send(new GetObjectCommand({ Bucket, Key }));
    return Buffer.from(await r.Body!.transformToByteArray());
  };

  it('stores Content-Encoding without the aws-chunked word that named the framing', async () => {
    const data = randomBytes(100);
    for (const [sent, stored] of [
      ['aws-chunked', undefined],
      ['gzip, aws-chunked', 'gzip'],
      ['foo, aws-chunked, bar', 'foo, bar'],
    ] as const) {
      const r = await streamedPut(srv, `/${Bucket}/encoded`, { mode: 'signed', chunks: [data], headers: { 'content-encoding': sent } });
      expect(r.status, r.text).to.equal(200);
      const head = await srv.s3.send(new GetObjectCommand({ Bucket, Key: 'encoded' }));
      expect(head.ContentEncoding, sent).to.equal(stored);
      await head.Body!.transformToByteArray();
    }
  });

  describe('the trailer section', () => {
    const data = randomBytes(20);
    const crc = checksumBase64('crc32', data);
    const crcOther = checksumBase64('crc32', data.subarray(1));
    const headers = { 'x-amz-trailer': 'x-amz-checksum-crc32' };

    for (const mode of ['signed-trailer', 'unsigned-trailer'] as const) {
      it(`${mode}: a repeated trailer is held to its last value`, async () => {
        const badThenGood = await streamedPut(srv, `/${Bucket}/repeat-${mode}`, {
          mode,
          chunks: [data],
          headers,
          trailers: [
            ['x-amz-checksum-crc32', crcOther],
            ['x-amz-checksum-crc32', crc],
          ],
        });
        expect(badThenGood.status, badThenGood.text).to.equal(200);
        expect((await stored(`repeat-${mode}`)).equals(data)).to.equal(true);
        const goodThenBad = await streamedPut(srv, `/${Bucket}/repeat-${mode}-2`, {
          mode,
          chunks: [data],
          headers,
          trailers: [
            ['x-amz-checksum-crc32', crc],
            ['x-amz-checksum-crc32', crcOther],
          ],
        });
        expect([goodThenBad.status, element(goodThenBad.text, 'Code'), element(goodThenBad.text, 'Message')]).to.deep.equal([
          400,
          'BadDigest',
          'The CRC32 you specified did not match the calculated checksum.',
        ]);
      });

      it(`${mode}: bytes after the trailer section's blank line are ignored`, async () => {
        for (const after of ['\r\n', '\xff\xde\xad\xbe\xef\xff', 'bonus: trailer\r\n']) {
          const r = await streamedPut(srv, `/${Bucket}/after-${mode}`, {
            mode,
            chunks: [data],
            headers,
            trailers: [['x-amz-checksum-crc32', crc]],
            edit: (body) => body + after,
          });
          expect(r.status, `${JSON.stringify(after)}: ${r.text}`).to.equal(200);
          expect((await stored(`after-${mode}`)).equals(data)).to.equal(true);
        }
      });
    }
  });

  describe('framing S3 finds incomplete', () => {
    // No CR or LF in the data: the tests below rewrite the framing's line ends, and a data byte
    // CR before a rewritten one would make a CRLF of its own (one run in 256 failed so).
    const data = Buffer.from(randomBytes(32).map((b) => (b === 0x0d || b === 0x0a ? 0x41 : b)));
    const crc = checksumBase64('crc32', data);
    const incomplete = (r: SignedFetch) =>
      expect([r.status, element(r.text, 'Code'), element(r.text, 'Message')], r.text).to.deep.equal([
        400,
        'IncompleteBody',
        'The request body terminated unexpectedly',
      ]);

    it('lines that end in LF alone (chunk headers, or the trailer line)', async () => {
      incomplete(
        await streamedPut(srv, `/${Bucket}/lf`, { mode: 'unsigned-trailer', chunks: [data], edit: (b) => b.replace(/\r\n/g, '\n') }),
      );
      const trailerLf = await streamedPut(srv, `/${Bucket}/lf`, {
        mode: 'unsigned-trailer',
        chunks: [data],
        headers: { 'x-amz-trailer': 'x-amz-checksum-crc32' },
        trailers: [['x-amz-checksum-crc32', crc]],
        edit: (b) => b.replace(/\r\n\r\n$/, '').replace(/(x-amz-checksum-crc32:.*)\r\n$/, '$1\n'),
      });
      incomplete(trailerLf);
    });

    it('chunk data not followed by CRLF', async () => {
      // As swift records AWS: "20\r\n<32 bytes>0\r\n", the data run into the final chunk's header.
      const r = await streamedPut(srv, `/${Bucket}/no-crlf`, {
        mode: 'unsigned-trailer',
        chunks: [data],
        edit: (b) => b.replace(`${data.toString('latin1')}\r\n`, data.toString('latin1')),
      });
      incomplete(r);
    });

    it('a signed trailer section with no trailer, only its signature', async () => {
      const r = await streamedPut(srv, `/${Bucket}/no-trailer`, {
        mode: 'signed-trailer',
        chunks: [data],
        edit: (b) => b.replace(/\r\n$/, ''),
      });
      incomplete(r);
    });

    it('signed chunks without chunk-signature, with an empty one, or with an extension after it', async () => {
      for (const edit of [
        (b: string) => b.replace(/;chunk-signature=[0-9a-f]{64}/g, ''),
        (b: string) => b.replace(/;chunk-signature=[0-9a-f]{64}/g, ';chunk-signature='),
        (b: string) => b.replace(/(;chunk-signature=[0-9a-f]{64})/g, '$1;extra=param'),
      ]) {
        incomplete(await streamedPut(srv, `/${Bucket}/sigless`, { mode: 'signed', chunks: [data], edit }));
      }
      // With spaces around the name and value, the signatures are read.
      const spaced = await streamedPut(srv, `/${Bucket}/spaced`, {
        mode: 'signed',
        chunks: [data],
        edit: (b) => b.replace(/;chunk-signature=([0-9a-f]{64})/g, ' ; chunk-signature = $1 '),
      });
      expect(spaced.status, spaced.text).to.equal(200);
    });
  });

  describe('more or fewer bytes than x-amz-decoded-content-length', () => {
    const data = randomBytes(32);
    const miscounted = (r: SignedFetch, expected: number, provided: number) =>
      expect(
        [r.status, ...['Code', 'Message', 'NumberBytesExpected', 'NumberBytesProvided'].map((n) => element(r.text, n))],
        r.text,
      ).to.deep.equal([
        400,
        'IncompleteBody',
        'You did not provide the number of bytes specified by the Content-Length HTTP header',
        String(expected),
        String(provided),
      ]);

    for (const mode of ['signed', 'unsigned-trailer'] as const) {
      it(`${mode}: a chunk past the length, or a final chunk short of it, names both counts`, async () => {
        miscounted(await streamedPut(srv, `/${Bucket}/long`, { mode, chunks: [Buffer.concat([data, data])], decodedLength: 32 }), 32, 64);
        // A zero-length chunk in the middle is the final one: 4 bytes of 32.
        const early = await streamedPut(srv, `/${Bucket}/short`, {
          mode,
          chunks: [data.subarray(0, 4)],
          decodedLength: 32,
          edit: (b) => b.replace(/\r\n$/, '') + '1c\r\n' + data.subarray(4).toString('latin1') + '\r\n0\r\n\r\n',
        });
        miscounted(early, 32, 4);
      });
    }
  });

  describe('a chunk or trailer signature that does not match', () => {
    const data = randomBytes(32);
    for (const [what, mode, edit, first] of [
      [
        'a chunk signature',
        'signed',
        (b: string) => b.replace(/(chunk-signature=)[0-9a-f]{64}/, `$1${'0'.repeat(64)}`),
        'AWS4-HMAC-SHA256-PAYLOAD',
      ],
      [
        'a chunk signature that is no hex',
        'signed',
        (b: string) => b.replace(/(chunk-signature=)[0-9a-f]{64}/g, '$1invalid'),
        'AWS4-HMAC-SHA256-PAYLOAD',
      ],
      [
        'the trailer signature',
        'signed-trailer',
        (b: string) => b.replace(/(x-amz-trailer-signature:)[0-9a-f]{64}/, `$1${'0'.repeat(64)}`),
        'AWS4-HMAC-SHA256-TRAILER',
      ],
    ] as const) {
      it(`${what}: 403 SignatureDoesNotMatch with the request's canonical request and the ${first} string to sign`, async () => {
        const r = await streamedPut(srv, `/${Bucket}/bad-sig`, {
          mode,
          chunks: [data],
          headers: mode === 'signed-trailer' ? { 'x-amz-trailer': 'x-amz-checksum-crc32' } : {},
          trailers: mode === 'signed-trailer' ? [['x-amz-checksum-crc32', checksumBase64('crc32', data)]] : [],
          edit,
        });
        expect([r.status, element(r.text, 'Code'), element(r.text, 'Message')]).to.deep.equal([
          403,
          'SignatureDoesNotMatch',
          'The request signature we calculated does not match the signature you provided. Check your key and signing method.',
        ]);
        expect(element(r.text, 'AWSAccessKeyId')).to.equal(ACCESS_KEY);
        expect(element(r.text, 'StringToSign')).to.match(new RegExp(`^${first}\n\\d{8}T\\d{6}Z\n\\d{8}/us-east-1/s3/aws4_request\n`));
        expect(element(r.text, 'SignatureProvided')).to.be.a('string');
        expect(element(r.text, 'StringToSignBytes')).to.match(/^[0-9a-f]{2}( [0-9a-f]{2})+$/);
        expect(element(r.text, 'CanonicalRequest')).to.match(new RegExp(`^PUT\n/${Bucket}/bad-sig\n`));
        expect(element(r.text, 'CanonicalRequestBytes')).to.match(/^[0-9a-f]{2}( [0-9a-f]{2})+$/);
      });
    }

    it('a signed header value in UTF-8 is shown as its text, and its bytes as received, as in a request signature refusal', async () => {
      const name = 'résumé.pdf';
      const r = await streamedPut(srv, `/${Bucket}/bad-sig-utf8`, {
        mode: 'signed',
        chunks: [data],
        headers: { 'content-type': byteString(`text/plain; name="${name}"`) },
        edit: (b) => b.replace(/(chunk-signature=)[0-9a-f]{64}/, `$1${'0'.repeat(64)}`),
      });
      expect([r.status, element(r.text, 'Code')]).to.deep.equal([403, 'SignatureDoesNotMatch']);
      const line = `content-type:text/plain; name="${name}"`;
      expect(element(r.text, 'CanonicalRequest')).to.contain(`\n${line.replace(/"/g, '&quot;')}\n`);
      expect(element(r.text, 'CanonicalRequestBytes')).to.contain(bytesHex(line));
    });
  });

  describe('chunks under 8 KiB before the last', () => {
    for (const mode of ['signed', 'signed-trailer', 'unsigned-trailer'] as const) {
      it(`${mode}: 403 InvalidChunkSizeError naming the chunk after the small one and its size`, async () => {
        const chunks = [randomBytes(1024), randomBytes(4096), randomBytes(3072)];
        const data = Buffer.concat(chunks);
        const trailers: HeaderList = mode === 'signed' ? [] : [['x-amz-checksum-crc32', checksumBase64('crc32', data)]];
        const headers: Record<string, string> = mode === 'signed' ? {} : { 'x-amz-trailer': 'x-amz-checksum-crc32' };
        const r = await streamedPut(srv, `/${Bucket}/small-${mode}`, { mode, chunks, trailers, headers });
        expect(r.status, r.text).to.equal(403);
        expect(element(r.text, 'Code')).to.equal('InvalidChunkSizeError');
        expect(element(r.text, 'Message')).to.equal('Only the last chunk is allowed to have a size less than 8192 bytes');
        expect([element(r.text, 'Chunk'), element(r.text, 'BadChunkSize')]).to.deep.equal(['2', '1024']);
      });

      it(`${mode}: 8 KiB chunks or more, then a small last one, are stored`, async () => {
        const chunks = [randomBytes(15 * 1024), randomBytes(8192), randomBytes(16 * 1024), randomBytes(10)];
        const data = Buffer.concat(chunks);
        const trailers: HeaderList = mode === 'signed' ? [] : [['x-amz-checksum-crc32', checksumBase64('crc32', data)]];
        const headers: Record<string, string> = mode === 'signed' ? {} : { 'x-amz-trailer': 'x-amz-checksum-crc32' };
        const r = await streamedPut(srv, `/${Bucket}/ragged-${mode}`, { mode, chunks, trailers, headers });
        expect(r.status, r.text).to.equal(200);
        expect((await stored(`ragged-${mode}`)).equals(data)).to.equal(true);
      });
    }
  });
});
