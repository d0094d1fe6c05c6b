import { expect } from 'chai';
import { createHash, createHmac, randomBytes } from 'node:crypto';
import { Readable, Writable } from 'node:stream';
import { pipeline } from 'node:stream/promises';
import { S3Client, PutObjectCommand } from '@aws-sdk/client-s3';
import { AwsChunkedDecoder, AwsChunkedOptions, parseTrailerHeader } from '../../src/s3/aws-chunked';
import { authenticateV4 as authenticate, chunkSigningContext, ChunkSigningContext, EMPTY_SHA256 } from '../../src/auth/sigv4';
import { VerifyingStream } from '../../src/s3/checksums';
import { expectFailure } from '../helpers/s3-error';

// ---------------------------------------------------------------------------------------
// An independent aws-chunked encoder (Node crypto only).

const sha256 = (d: string | Buffer) => createHash('sha256').update(d).digest('hex');
const hmac = (k: string | Buffer, s: string) => createHmac('sha256', k).update(s).digest();

interface Signer {
  key: Buffer;
  amzDate: string;
  scope: string;
  seed: string;
}

function testSigner(seed = 'f'.repeat(64)): Signer {
  const key = hmac(hmac(hmac(hmac('AWS4' + 'test-secret', '20240102'), 'us-east-1'), 's3'), 'aws4_request');
  return { key, amzDate: '20240102T030405Z', scope: '20240102/us-east-1/s3/aws4_request', seed };
}

function contextOf(s: Signer, trailer: boolean): ChunkSigningContext {
  return chunkSigningContext(s.key, s.amzDate, s.scope, s.seed, trailer);
}

interface Encoding {
  chunks: Buffer[];
  signer?: Signer;
  trailers?: Array<[string, string]>;
  /** minio-go ends trailer lines with "\n" and puts "\r\n" before the signature line. */
  minioStyle?: boolean;
}

function encode(e: Encoding): Buffer {
  const parts: Buffer[] = [];
  let prev = e.signer?.seed ?? '';
  for (const c of [...e.chunks, Buffer.alloc(0)]) {
    let line = c.length.toString(16);
    if (e.signer) {
      const { key, amzDate, scope } = e.signer;
      prev = hmac(key, ['AWS4-HMAC-SHA256-PAYLOAD', amzDate, scope, prev, EMPTY_SHA256, sha256(c)].join('\n')).toString('hex');
      line += `;chunk-signature=${prev}`;
    }
    parts.push(Buffer.from(line + '\r\n'), c);
    if (c.length > 0) parts.push(Buffer.from('\r\n'));
  }
  if (e.trailers) {
    const text = e.trailers.map(([n, v]) => `${n}:${v}\n`).join('');
    parts.push(Buffer.from(e.minioStyle ? text + '\r\n' : e.trailers.map(([n, v]) => `${n}:${v}\r\n`).join('')));
    if (e.signer) {
      const { key, amzDate, scope } = e.signer;
      const sig = hmac(key, ['AWS4-HMAC-SHA256-TRAILER', amzDate, scope, prev, sha256(text)].join('\n')).toString('hex');
      parts.push(Buffer.from(`x-amz-trailer-signature:${sig}\r\n`));
    }
  }
  parts.push(Buffer.from('\r\n'));
  return Buffer.concat(parts);
}

/** Slice a body: one byte at a time, or random pieces. */
function slices(body: Buffer, how: 'bytes' | 'random' | 'whole'): Buffer[] {
  if (how === 'whole') return [body];
  const out: Buffer[] = [];
  for (let i = 0; i < body.length;) {
    const n = how === 'bytes' ? 1 : 1 + Math.floor(Math.random() * 300);
    out.push(body.subarray(i, i + n));
    i += n;
  }
  return out;
}

async function decode(
  pieces: Buffer[],
  opts: AwsChunkedOptions = {},
): Promise<{ data: Buffer; trailers: Record<string, string>; writes: number }> {
  const decoder = new AwsChunkedDecoder(opts);
  const out: Buffer[] = [];
  await pipeline(
    Readable.from(pieces),
    decoder,
    new Writable({
      write(chunk: Buffer, _e, cb) {
        out.push(chunk);
        cb();
      },
    }),
  );
  return { data: Buffer.concat(out), trailers: { ...decoder.trailers }, writes: out.length };
}

// ---------------------------------------------------------------------------------------

describe('aws-chunked: the AWS documentation examples', () => {
  // docs.aws.amazon.com/AmazonS3/latest/API/sigv4-streaming.html and sigv4-streaming-trailers.html:
  // 66560 bytes of 'a' in a 64 KiB and a 1 KiB chunk, signed with the example credentials.
  const id = { accessKeyId: 'AKIAIOSFODNN7EXAMPLE', secretAccessKey: 'wJalrXUtnFEMI/K7MDENG/bPxRfiCYEXAMPLEKEY' };
  const now = new Date('2013-05-24T00:00:00Z');
  const object = Buffer.alloc(66560, 'a');
  const common = {
    host: 's3.amazonaws.com',
    'content-encoding': 'aws-chunked',
    'x-amz-date': '20130524T000000Z',
    'x-amz-decoded-content-length': '66560',
    'x-amz-storage-class': 'REDUCED_REDUNDANCY',
  };
  const cred = 'Credential=AKIAIOSFODNN7EXAMPLE/20130524/us-east-1/s3/aws4_request';

  function streamingContext(trailer: boolean): ChunkSigningContext {
    const headers: Record<string, string> = trailer
      ? {
          ...common,
          'x-amz-content-sha256': 'STREAMING-AWS4-HMAC-SHA256-PAYLOAD-TRAILER',
          'x-amz-trailer': 'x-amz-checksum-crc32c',
          authorization: `AWS4-HMAC-SHA256 ${cred},SignedHeaders=content-encoding;host;x-amz-content-sha256;x-amz-date;x-amz-decoded-content-length;x-amz-storage-class;x-amz-trailer,Signature=106e2a8a18243abcf37539882f36619c00e2dfc72633413f02d3b74544bfeb8e`,
        }
      : {
          ...common,
          'content-length': '66824',
          'x-amz-content-sha256': 'STREAMING-AWS4-HMAC-SHA256-PAYLOAD',
          authorization: `AWS4-HMAC-SHA256 ${cred},SignedHeaders=content-encoding;content-length;host;x-amz-content-sha256;x-amz-date;x-amz-decoded-content-length;x-amz-storage-class,Signature=4f232c4386841ef735655705268965c44a0e4690baa4adea153f7db9fa80a0a9`,
        };
    const r = authenticate({ method: 'PUT', rawPath: '/examplebucket/chunkObject.txt', rawQuery: '', headers }, () => id, now);
    if (r.type === 'anonymous' || !r.streaming) throw new Error('no streaming context');
    return r.streaming;
  }

  // The bodies exactly as the documentation shows them.
  const signedBody = Buffer.concat([
    Buffer.from('10000;chunk-signature=ad80c730a21e5b8d04586a2213dd63b9a0e99e0e2307b0ade35a65485a288648\r\n'),
    object.subarray(0, 65536),
    Buffer.from('\r\n400;chunk-signature=0055627c9e194cb4542bae2aa5492e3c1575bbb81b612b7d234b86a503ef5497\r\n'),
    object.subarray(65536),
    Buffer.from('\r\n0;chunk-signature=b6c6ea8a5354eaf15b3cb7646744f4275b71ea724fed81ceb9323e279d449df9\r\n\r\n'),
  ]);
  const trailerBody = Buffer.concat([
    Buffer.from('10000;chunk-signature=b474d8862b1487a5145d686f57f013e54db672cee1c953b3010fb58501ef5aa2\r\n'),
    object.subarray(0, 65536),
    Buffer.from('\r\n400;chunk-signature=1c1344b170168f8e65b41376b44b20fe354e373826ccbbe2c1d40a8cae51e5c7\r\n'),
    object.subarray(65536),
    Buffer.from(
      '\r\n0;chunk-signature=2ca2aba2005185cf7159c6277faf83795951dd77a3a99e6e65d5c9f85863f992\r\n' +
        'x-amz-checksum-crc32c:sOO8/Q==\r\n' +
        'x-amz-trailer-signature:d81f82fc3505edab99d459891051a732e8730629a2e4a59689829ca17fe2e435\r\n\r\n',
    ),
  ]);

  it('decodes and verifies STREAMING-AWS4-HMAC-SHA256-PAYLOAD (content-length 66824)', async () => {
    expect(signedBody.length).to.equal(66824);
    const { data } = await decode(slices(signedBody, 'random'), { signing: streamingContext(false), decodedLength: 66560 });
    expect(data.equals(object)).to.equal(true);
  });

  it('decodes and verifies STREAMING-AWS4-HMAC-SHA256-PAYLOAD-TRAILER, and the trailer checksum', async () => {
    let seen: Record<string, string> | undefined;
    const decoder = new AwsChunkedDecoder({
      signing: streamingContext(true),
      expectTrailers: parseTrailerHeader('x-amz-checksum-crc32c'),
      decodedLength: 66560,
      onTrailers: (t) => {
        seen = { ...t };
        verifier.setExpected('crc32c', t['x-amz-checksum-crc32c']);
      },
    });
    const verifier = new VerifyingStream({ computeAlso: ['crc32c'] });
    const out: Buffer[] = [];
    await pipeline(
      Readable.from(slices(trailerBody, 'random')),
      decoder,
      verifier,
      new Writable({ write: (c: Buffer, _e, cb) => (out.push(c), cb()) }),
    );
    expect(Buffer.concat(out).equals(object)).to.equal(true);
    expect(seen).to.deep.equal({ 'x-amz-checksum-crc32c': 'sOO8/Q==' });
    expect({ ...decoder.trailers }).to.deep.equal({ 'x-amz-checksum-crc32c': 'sOO8/Q==' });
    expect(verifier.digests().crc32c).to.equal('sOO8/Q==');
  });

  it('rejects one changed data byte, chunk signature or trailer with SignatureDoesNotMatch', async () => {
    const ctx = streamingContext(true);
    const data1 = trailerBody.indexOf('\r\n') + 2;
    const data2 = trailerBody.indexOf('\r\n', data1 + 65536 + 2) + 2;
    for (const pos of [data1 + 100, data2 + 200]) {
      const body = Buffer.from(trailerBody);
      body[pos] ^= 1;
      await expectFailure(decode([body], { signing: ctx }), 'SignatureDoesNotMatch');
    }
    const sigChanged = Buffer.from(trailerBody.toString('latin1').replace('1c1344b1', '1c1344b2'), 'latin1');
    await expectFailure(decode([sigChanged], { signing: ctx }), 'SignatureDoesNotMatch');
    const trailerChanged = Buffer.from(trailerBody.toString('latin1').replace('sOO8/Q==', 'sOO8/Q=='.replace('s', 't')), 'latin1');
    const err = await expectFailure(decode([trailerChanged], { signing: ctx }), 'SignatureDoesNotMatch');
    expect(err.extra.StringToSign).to.match(/^AWS4-HMAC-SHA256-TRAILER\n20130524T000000Z\n/);
  });

  it('rejects the signed body with the other request signature (the chain starts at the seed)', async () => {
    await expectFailure(decode([signedBody], { signing: streamingContext(true) }), 'SignatureDoesNotMatch');
  });
});

describe('aws-chunked: framing', () => {
  const data = randomBytes(200_000);
  const chunks = [data.subarray(0, 65536), data.subarray(65536, 131072), data.subarray(131072)];

  for (const mode of ['unsigned', 'signed', 'unsigned trailer', 'signed trailer'] as const) {
    for (const how of ['bytes', 'random', 'whole'] as const) {
      it(`${mode}, fed ${how === 'bytes' ? 'one byte at a time' : how === 'random' ? 'in random slices' : 'at once'}`, async () => {
        const signer = mode.startsWith('signed') ? testSigner() : undefined;
        const trailers: Array<[string, string]> | undefined = mode.endsWith('trailer')
          ? [['x-amz-checksum-crc64nvme', 'AAAAAAAAAAA=']]
          : undefined;
        const body = encode({ chunks, signer, trailers });
        const r = await decode(slices(body, how), {
          signing: signer ? contextOf(signer, !!trailers) : undefined,
          expectTrailers: trailers ? ['x-amz-checksum-crc64nvme'] : undefined,
          decodedLength: data.length,
        });
        expect(r.data.equals(data)).to.equal(true);
        expect(r.trailers).to.deep.equal(trailers ? { 'x-amz-checksum-crc64nvme': 'AAAAAAAAAAA=' } : {});
      });
    }
  }

  it('passes data on before the chunk ends (no whole-chunk buffering)', async () => {
    const big = randomBytes(4 << 20);
    const body = encode({ chunks: [big], signer: testSigner() });
    const decoder = new AwsChunkedDecoder({ signing: contextOf(testSigner(), false) });
    let received = 0;
    decoder.on('data', (c: Buffer) => (received += c.length));
    const half = 2 << 20;
    decoder.write(body.subarray(0, half));
    await new Promise((r) => setImmediate(r));
    expect(received).to.be.greaterThan(half - 200); // all but the header line
    decoder.end(body.subarray(half));
    await new Promise((r) => decoder.on('end', r));
    expect(received).to.equal(big.length);
  });

  it('an empty body: only the final chunk', async () => {
    expect((await decode([Buffer.from('0\r\n\r\n')], { decodedLength: 0 })).data.length).to.equal(0);
    const signer = testSigner();
    expect((await decode(slices(encode({ chunks: [], signer }), 'bytes'), { signing: contextOf(signer, false) })).data.length).to.equal(0);
    const t = await decode([encode({ chunks: [], trailers: [['x-amz-checksum-crc32', 'AAAAAA==']] })], {
      expectTrailers: ['x-amz-checksum-crc32'],
    });
    expect(t.trailers).to.deep.equal({ 'x-amz-checksum-crc32': 'AAAAAA==' });
  });

  it('what @aws-sdk/client-s3 sends (STREAMING-UNSIGNED-PAYLOAD-TRAILER)', async () => {
    const first = 'h'.repeat(8192);
    const body = Buffer.from(`2000\r\n${first}\r\n6\r\n world\r\n0\r\nx-amz-checksum-crc32:DUoRhQ==\r\n\r\n`);
    const r = await decode(slices(body, 'random'), { expectTrailers: parseTrailerHeader('x-amz-checksum-crc32'), decodedLength: 8198 });
    expect(r.data.toString()).to.equal(`${first} world`);
    expect(r.trailers).to.deep.equal({ 'x-amz-checksum-crc32': 'DUoRhQ==' });
  });

  it('a chunk under 8 KiB before the last → InvalidChunkSizeError naming the next chunk and the small size, as S3', async () => {
    for (const signer of [undefined, testSigner()]) {
      const body = encode({ chunks: [Buffer.alloc(9000), Buffer.alloc(1024), Buffer.alloc(8192), Buffer.alloc(5)], signer });
      const err = await expectFailure(
        decode([body], { signing: signer && contextOf(signer, false) }),
        'InvalidChunkSizeError',
        /^Only the last chunk is allowed to have a size less than 8192 bytes$/,
      );
      expect(err.extra).to.deep.equal({ Chunk: '3', BadChunkSize: '1024' });
      // The last chunk (before the final zero-length one) may be of any size.
      await decode([encode({ chunks: [Buffer.alloc(8192), Buffer.alloc(1)], signer })], { signing: signer && contextOf(signer, false) });
    }
  });

  it('minio-go\'s signed trailer layout ("name:value\\n\\r\\n" before the signature)', async () => {
    const signer = testSigner();
    const body = encode({ chunks, signer, trailers: [['x-amz-checksum-crc32c', 'AAAAAA==']], minioStyle: true });
    const r = await decode(slices(body, 'random'), { signing: contextOf(signer, true), expectTrailers: ['x-amz-checksum-crc32c'] });
    expect(r.data.equals(data)).to.equal(true);
  });

  it('tolerates a body that ends right after its last trailer line', async () => {
    const r = await decode([Buffer.from('3\r\nabc\r\n0\r\nx-amz-checksum-crc32:NSRBwg==\r\n')], {
      expectTrailers: ['x-amz-checksum-crc32'],
    });
    expect(r.trailers).to.deep.equal({ 'x-amz-checksum-crc32': 'NSRBwg==' });
  });

  it('premature end → IncompleteBody, wherever the body is cut', async () => {
    const signer = testSigner();
    const body = encode({
      chunks: [Buffer.alloc(8192, 'h'), Buffer.from('world!')],
      signer,
      trailers: [['x-amz-checksum-crc32', 'AAAAAA==']],
    });
    const end = body.length - 2; // the final blank line may be missing (see above); nothing earlier may
    for (let cut = 0; cut < end; cut++) {
      await expectFailure(
        decode([body.subarray(0, cut)], { signing: contextOf(signer, true), expectTrailers: ['x-amz-checksum-crc32'] }),
        'IncompleteBody',
      );
    }
    const unsigned = encode({ chunks: [Buffer.from('hello')] });
    for (let cut = 0; cut < unsigned.length - 2; cut++) await expectFailure(decode([unsigned.subarray(0, cut)]), 'IncompleteBody');
  });

  it('bad framing → InvalidRequest', async () => {
    for (const body of ['zz\r\nab\r\n0\r\n\r\n', '-1\r\n\r\n', '\r\n', '0\r\nno colon\r\n\r\n', '11111111111111111\r\n']) {
      await expectFailure(decode([Buffer.from(body)]), 'InvalidRequest');
    }
  });

  it('bounds header and trailer lines (4 KiB by default)', async () => {
    await expectFailure(decode([Buffer.alloc(5000, '1')]), 'InvalidRequest', /longer than 4096/);
    await expectFailure(decode([Buffer.from('0\r\n'), Buffer.alloc(5000, 'x')]), 'InvalidRequest', /longer than/);
    await expectFailure(decode([Buffer.from('1;' + 'x'.repeat(200) + '\r\na\r\n0\r\n\r\n')], { maxLineBytes: 100 }), 'InvalidRequest');
  });

  it('x-amz-decoded-content-length mismatch → IncompleteBody', async () => {
    const body = encode({ chunks: [Buffer.from('hello')] });
    await expectFailure(decode([body], { decodedLength: 6 }), 'IncompleteBody');
    await expectFailure(decode([body], { decodedLength: 4 }), 'IncompleteBody');
    await decode([body], { decodedLength: 5 });
  });

  it('ignores whatever follows the end of the trailer section, as S3', async () => {
    for (const after of ['extra', '\r\n\r\n', 'x-amz-checksum-crc32:AAAAAA==\r\n', '\xff\xde\xad']) {
      const body = Buffer.concat([
        encode({ chunks: [Buffer.from('abc')], trailers: [['x-amz-checksum-crc32', 'NSRBwg==']] }),
        Buffer.from(after, 'latin1'),
      ]);
      const r = await decode(slices(body, 'bytes'), { expectTrailers: ['x-amz-checksum-crc32'], decodedLength: 3 });
      expect([r.data.toString(), r.trailers]).to.deep.equal(['abc', { 'x-amz-checksum-crc32': 'NSRBwg==' }]);
    }
  });

  it('trailers: undeclared or declared but missing → MalformedTrailerError (as S3), repeated → the last value', async () => {
    const body = encode({ chunks: [Buffer.from('x')], trailers: [['x-amz-checksum-crc32', 'AAAAAA==']] });
    await expectFailure(decode([body], { expectTrailers: ['x-amz-checksum-sha256'] }), 'MalformedTrailerError');
    await expectFailure(
      decode([encode({ chunks: [Buffer.from('x')] })], { expectTrailers: ['x-amz-checksum-crc32'] }),
      'MalformedTrailerError',
    );
    const twice = encode({
      chunks: [],
      trailers: [
        ['a', '1'],
        ['A', '2'],
      ],
    });
    expect((await decode([twice])).trailers).to.deep.equal({ a: '2' });
    const proto = encode({
      chunks: [],
      trailers: [
        ['__proto__', 'x'],
        ['constructor', 'y'],
      ],
    });
    expect(Object.entries((await decode([proto])).trailers)).to.deep.equal([
      ['__proto__', 'x'],
      ['constructor', 'y'],
    ]);
  });

  it('signed bodies: a chunk without chunk-signature, or an empty one, or an extension after it → IncompleteBody, as S3', async () => {
    const signing = contextOf(testSigner(), false);
    await expectFailure(decode([encode({ chunks: [Buffer.from('abc')] })], { signing }), 'IncompleteBody');
    await expectFailure(decode([Buffer.from('3;chunk-signature=\r\nabc\r\n0;chunk-signature=\r\n\r\n')], { signing }), 'IncompleteBody');
    const signer = testSigner();
    const body = encode({ chunks: [Buffer.from('abc')], signer }).toString('latin1');
    const after = body.replace(/(chunk-signature=[0-9a-f]{64})/g, '$1;extra=param');
    await expectFailure(decode([Buffer.from(after, 'latin1')], { signing }), 'IncompleteBody');
    // Another extension before it: the signature is all the text after the size, which does not match.
    const before = body.replace(/;chunk-signature=/g, ';extra=param;chunk-signature=');
    await expectFailure(decode([Buffer.from(before, 'latin1')], { signing }), 'SignatureDoesNotMatch');
    // Spaces around the extension's name and value are allowed.
    const spaced = body.replace(/;chunk-signature=([0-9a-f]{64})/g, ' ; chunk-signature = $1 ');
    expect((await decode([Buffer.from(spaced, 'latin1')], { signing })).data.toString()).to.equal('abc');
  });

  it('chunk data not followed by CRLF → IncompleteBody, as S3', async () => {
    for (const body of ['2\r\nabc\r\n0\r\n\r\n', '2\r\nab\n0\r\n\r\n', '3\r\nabc0\r\n\r\n']) {
      await expectFailure(decode([Buffer.from(body)]), 'IncompleteBody', /^The request body terminated unexpectedly$/);
    }
  });

  it('lines end at CRLF only: a body whose lines end in LF alone is incomplete, as S3 reads it', async () => {
    for (const body of ['3\nabc\n0\n\n', '3\r\nabc\r\n0\r\nx-amz-checksum-crc32:NSRBwg==\n', '3\r\nabc\r\n0\r\n\r']) {
      await expectFailure(
        decode([Buffer.from(body)], { expectTrailers: body.includes('crc32') ? ['x-amz-checksum-crc32'] : undefined }),
        'IncompleteBody',
      );
    }
  });

  it('signed trailer mode: the trailer signature is required', async () => {
    const signer = testSigner();
    const noSig = encode({ chunks: [Buffer.from('abc')], signer }); // no trailers, no trailer signature
    await expectFailure(
      decode([noSig], { signing: contextOf(signer, true) }),
      'IncompleteBody',
      /^The request body terminated unexpectedly$/,
    );
    // A signed trailer section that holds only the signature: S3 finds the body incomplete.
    const empty = encode({ chunks: [Buffer.from('abc')], signer, trailers: [] });
    await expectFailure(decode([empty], { signing: contextOf(signer, true) }), 'IncompleteBody');
  });

  it('signed mode without trailer: trailers (unauthenticated) → InvalidRequest', async () => {
    const signer = testSigner();
    const body = Buffer.concat([
      encode({ chunks: [Buffer.from('abc')], signer }).subarray(0, -2),
      Buffer.from('x-amz-checksum-crc32:AAAAAA==\r\n\r\n'),
    ]);
    await expectFailure(decode([body], { signing: contextOf(signer, false) }), 'InvalidRequest');
  });

  it('a chunk moved out of order breaks the chain', async () => {
    const signer = testSigner();
    const body = encode({ chunks: [Buffer.from('first'), Buffer.from('other')], signer }).toString('latin1');
    const lines = body.split('\r\n'); // [h1, first, h2, other, h0, '', '']
    const swapped = [lines[2], lines[3], lines[0], lines[1], ...lines.slice(4)].join('\r\n');
    await expectFailure(decode([Buffer.from(swapped, 'latin1')], { signing: contextOf(signer, false) }), 'SignatureDoesNotMatch');
  });
});

describe('aws-chunked: a body encoded by @aws-sdk/client-s3', function () {
  this.timeout(20000);

  it('decodes a streamed PutObject and its CRC32 trailer matches', async () => {
    let captured: { headers: Record<string, string>; body: Readable } | undefined;
    const client = new S3Client({
      region: 'us-east-1',
      endpoint: 'http://127.0.0.1:9000',
      forcePathStyle: true,
      maxAttempts: 1,
      credentials: { accessKeyId: 'AKID', secretAccessKey: 'SECRET' },
      logger: { debug() {}, info() {}, warn() {}, error() {} },
      requestHandler: {
        handle: async (req: { headers: Record<string, string>; body: Readable }) => {
          captured = req;
          throw Object.assign(new Error('captured'), { name: 'Captured' });
        },
      } as never,
    });
    const object = randomBytes(300_000);
    // Each piece becomes a chunk: S3 refuses one under 8 KiB before the last (InvalidChunkSizeError).
    const pieces = [object.subarray(0, 10_000), object.subarray(10_000, 150_000), object.subarray(150_000)];
    await client
      .send(new PutObjectCommand({ Bucket: 'b', Key: 'k', Body: Readable.from(pieces), ContentLength: object.length }))
      .catch((e: Error) => {
        if (e.name !== 'Captured') throw e;
      });
    const { headers, body } = captured!;
    expect(headers['x-amz-content-sha256']).to.equal('STREAMING-UNSIGNED-PAYLOAD-TRAILER');
    const trailerNames = parseTrailerHeader(headers['x-amz-trailer']);
    const verifier = new VerifyingStream({ computeAlso: ['crc32'] });
    const decoder = new AwsChunkedDecoder({
      expectTrailers: trailerNames,
      decodedLength: Number(headers['x-amz-decoded-content-length']),
      onTrailers: (t) => verifier.setExpected('crc32', t['x-amz-checksum-crc32']),
    });
    const out: Buffer[] = [];
    await pipeline(body, decoder, verifier, new Writable({ write: (c: Buffer, _e, cb) => (out.push(c), cb()) }));
    expect(Buffer.concat(out).equals(object)).to.equal(true);
    expect(Object.keys(decoder.trailers)).to.deep.equal(['x-amz-checksum-crc32']);
  });
});
