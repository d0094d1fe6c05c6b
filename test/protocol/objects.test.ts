import { createHash, createHmac, randomBytes } from 'node:crypto';
import { Readable } from 'node:stream';
import { expect } from 'chai';
import {
  CopyObjectCommand,
  CreateBucketCommand,
  CreateMultipartUploadCommand,
  DeleteObjectCommand,
  DeleteObjectTaggingCommand,
  DeleteObjectsCommand,
  GetObjectCommand,
  GetObjectTaggingCommand,
  HeadObjectCommand,
  PutObjectCommand,
  PutObjectTaggingCommand,
} from '@aws-sdk/client-s3';
import { startTestServer, ACCESS_KEY, SECRET_KEY, type TestServer } from '../helpers/server';
import { exactRequest, signedFetch } from '../helpers/sign';
import { errorOf } from '../helpers/errors';
import { checksumBase64 } from '../../src/s3/checksums';

const CREDS = { accessKeyId: ACCESS_KEY, secretAccessKey: SECRET_KEY };
const md5hex = (b: Buffer | string) => createHash('md5').update(b).digest('hex');
const md5b64 = (b: Buffer | string) => createHash('md5').update(b).digest('base64');

describe('protocol: objects', () => {
  let srv: TestServer;
  const Bucket = 'objects';
  before(async () => {
    srv = await startTestServer();
    await srv.s3.send(new CreateBucketCommand({ Bucket }));
  });
  after(async () => {
    await srv.stop();
  });

  const get = async (Key: string, extra: Record<string, unknown> = {}) => {
    const r = await srv.s3.send(new GetObjectCommand({ Bucket, Key, ...extra }));
    return { ...r, bytes: Buffer.from(await r.Body!.transformToByteArray()) };
  };

  it('keeps user metadata named __proto__ like any other name, through a copy too (it was dropped with a 200)', async () => {
    const put = await signedFetch(srv.url, CREDS, 'PUT', `/${Bucket}/meta/proto`, {
      body: 'x',
      headers: { 'x-amz-meta-__proto__': 'p', 'x-amz-meta-other': 'o' },
    });
    expect(put.status).to.equal(200);
    const copy = await signedFetch(srv.url, CREDS, 'PUT', `/${Bucket}/meta/proto-copy`, {
      headers: { 'x-amz-copy-source': `/${Bucket}/meta/proto` },
    });
    expect(copy.status).to.equal(200);
    for (const key of ['meta/proto', 'meta/proto-copy']) {
      const head = await signedFetch(srv.url, CREDS, 'HEAD', `/${Bucket}/${key}`);
      expect([head.headers['x-amz-meta-__proto__'], head.headers['x-amz-meta-other']], key).to.deep.equal(['p', 'o']);
    }
  });

  it('round-trips content, headers and user metadata with an MD5 ETag', async () => {
    const body = 'hello, s3mux';
    const put = await srv.s3.send(
      new PutObjectCommand({
        Bucket,
        Key: 'docs/hello.txt',
        Body: body,
        ContentType: 'text/plain; charset=utf-8',
        CacheControl: 'max-age=60',
        ContentDisposition: 'attachment; filename="h.txt"',
        ContentEncoding: 'identity',
        ContentLanguage: 'en',
        Expires: new Date('2030-01-01T00:00:00Z'),
        Metadata: { colour: 'blue', 'multi-word': 'a b' },
        StorageClass: 'STANDARD_IA',
      }),
    );
    expect(put.ETag).to.equal(`"${md5hex(body)}"`);
    const r = await get('docs/hello.txt');
    expect(r.bytes.toString()).to.equal(body);
    expect(r.ETag).to.equal(`"${md5hex(body)}"`);
    expect(r.ContentType).to.equal('text/plain; charset=utf-8');
    expect(r.CacheControl).to.equal('max-age=60');
    expect(r.ContentDisposition).to.equal('attachment; filename="h.txt"');
    expect(r.ContentEncoding).to.equal('identity');
    expect(r.ContentLanguage).to.equal('en');
    expect(r.Expires?.toISOString()).to.equal('2030-01-01T00:00:00.000Z');
    expect(r.Metadata).to.deep.equal({ colour: 'blue', 'multi-word': 'a b' });
    expect(r.StorageClass).to.equal('STANDARD_IA');
    expect(r.ContentLength).to.equal(body.length);
    expect(r.LastModified).to.be.instanceOf(Date);
    const head = await srv.s3.send(new HeadObjectCommand({ Bucket, Key: 'docs/hello.txt' }));
    expect(head.ContentLength).to.equal(body.length);
    expect(head.Metadata).to.deep.equal({ colour: 'blue', 'multi-word': 'a b' });
  });

  it('refuses with InvalidStorageClass a class a general purpose bucket cannot hold (EXPRESS_ONEZONE, OUTPOSTS, SNOW), on every write', async () => {
    await srv.s3.send(new PutObjectCommand({ Bucket, Key: 'class-src', Body: 'x' }));
    for (const StorageClass of ['EXPRESS_ONEZONE', 'OUTPOSTS', 'SNOW', 'FSX_OPENZFS'] as const) {
      for (const [what, write] of [
        ['PutObject', () => srv.s3.send(new PutObjectCommand({ Bucket, Key: 'class-x', Body: 'x', StorageClass }))],
        ['CreateMultipartUpload', () => srv.s3.send(new CreateMultipartUploadCommand({ Bucket, Key: 'class-x', StorageClass }))],
        [
          'CopyObject',
          () => srv.s3.send(new CopyObjectCommand({ Bucket, Key: 'class-x', CopySource: `${Bucket}/class-src`, StorageClass })),
        ],
      ] as const) {
        const e = await errorOf(write());
        expect([e.name, e.$metadata.httpStatusCode], `${what} ${StorageClass}`).to.deep.equal(['InvalidStorageClass', 400]);
      }
    }
    expect((await errorOf(srv.s3.send(new HeadObjectCommand({ Bucket, Key: 'class-x' })))).$metadata.httpStatusCode).to.equal(404);
  });

  it('stores a streamed upload (aws-chunked with a CRC32 trailer) without its framing', async () => {
    const data = randomBytes(300_000);
    await srv.s3.send(
      new PutObjectCommand({
        Bucket,
        Key: 'streamed.bin',
        Body: Readable.from([data.subarray(0, 100_000), data.subarray(100_000)]),
        ContentLength: data.length,
      }),
    );
    const r = await get('streamed.bin');
    expect(r.bytes.equals(data)).to.equal(true);
    expect(r.ETag).to.equal(`"${md5hex(data)}"`);
  });

  it('answers a streamed upload cut short, without its trailer or its decoded length, or with another trailer, as S3 does', async () => {
    // As swift's test/s3api/test_input_errors.py records AWS answering.
    const data = Buffer.from('streamed body');
    const framed = (chunks: Buffer[]) =>
      Buffer.concat(chunks.flatMap((c) => [Buffer.from(`${c.length.toString(16)}\r\n`), c, Buffer.from('\r\n')]));
    const streamed = { 'x-amz-content-sha256': 'STREAMING-UNSIGNED-PAYLOAD-TRAILER', 'content-encoding': 'aws-chunked' };
    const cases: [Buffer, Record<string, string>, number, string, string][] = [
      [
        Buffer.concat([Buffer.from('2000\r\n'), Buffer.alloc(100, 'A')]),
        { 'x-amz-decoded-content-length': '8192' },
        400,
        'IncompleteBody',
        'The request body terminated unexpectedly',
      ],
      [data, { 'x-amz-decoded-content-length': String(data.length) }, 400, 'IncompleteBody', 'The request body terminated unexpectedly'],
      [
        framed([data, Buffer.alloc(0)]),
        { 'x-amz-decoded-content-length': String(data.length), 'x-amz-trailer': 'x-amz-checksum-crc32' },
        400,
        'MalformedTrailerError',
        'The request contained trailing data that was not well-formed or did not conform to our published schema.',
      ],
      [
        framed([data, Buffer.alloc(0)]),
        { 'x-amz-decoded-content-length': 'not a number' },
        411,
        'MissingContentLength',
        'You must provide the Content-Length HTTP header.',
      ],
      [framed([data, Buffer.alloc(0)]), {}, 411, 'MissingContentLength', 'You must provide the Content-Length HTTP header.'],
      [
        Buffer.concat([framed([data]), Buffer.from('0\r\nx-amz-checksum-crc32: AAAAAA==\r\n\r\n')]),
        { 'x-amz-decoded-content-length': String(data.length), 'x-amz-trailer': 'x-amz-checksum-crc32c' },
        400,
        'MalformedTrailerError',
        'The request contained trailing data that was not well-formed or did not conform to our published schema.',
      ],
      [
        Buffer.concat([framed([data]), Buffer.from('0\r\nx-amz-checksum-crc32: not-base-64\r\n\r\n')]),
        { 'x-amz-decoded-content-length': String(data.length), 'x-amz-trailer': 'x-amz-checksum-crc32' },
        400,
        'InvalidRequest',
        'Value for x-amz-checksum-crc32 trailing header is invalid.',
      ],
    ];
    for (const [body, headers, status, code, message] of cases) {
      const r = await signedFetch(srv.url, CREDS, 'PUT', `/${Bucket}/streamed-refused`, { body, headers: { ...streamed, ...headers } });
      expect([r.status, r.text.match(/<Code>(.*?)<\/Code><Message>(.*?)<\/Message>/)?.slice(1)], JSON.stringify(headers)).to.deep.equal([
        status,
        [code, message],
      ]);
    }
  });

  it('keeps a trailing checksum of an upload that names a storage class', async () => {
    const data = Buffer.from('trailed and tiered');
    const crc32 = 'kttKJg==';
    const put = await srv.s3.send(
      new PutObjectCommand({
        Bucket,
        Key: 'trailed-ia.bin',
        Body: Readable.from([data]),
        ContentLength: data.length,
        ChecksumAlgorithm: 'CRC32',
        StorageClass: 'STANDARD_IA',
      }),
    );
    expect(put.ChecksumCRC32).to.equal(crc32);
    const head = await srv.s3.send(new HeadObjectCommand({ Bucket, Key: 'trailed-ia.bin', ChecksumMode: 'ENABLED' }));
    expect(head.ChecksumCRC32).to.equal(crc32);
    expect(head.StorageClass).to.equal('STANDARD_IA');
  });

  it('returns the stored checksum when checksum mode is enabled', async () => {
    const body = Buffer.from('checksummed');
    const put = await srv.s3.send(new PutObjectCommand({ Bucket, Key: 'ck.txt', Body: body, ChecksumAlgorithm: 'SHA256' }));
    expect(put.ChecksumSHA256).to.equal(createHash('sha256').update(body).digest('base64'));
    const r = await get('ck.txt', { ChecksumMode: 'ENABLED' });
    expect(r.ChecksumSHA256).to.equal(createHash('sha256').update(body).digest('base64'));
  });

  it('verifies Content-MD5: BadDigest and nothing stored on mismatch', async () => {
    const ok = await signedFetch(srv.url, CREDS, 'PUT', `/${Bucket}/md5-ok`, { body: 'abc', headers: { 'content-md5': md5b64('abc') } });
    expect(ok.status).to.equal(200);
    const bad = await signedFetch(srv.url, CREDS, 'PUT', `/${Bucket}/md5-bad`, { body: 'abc', headers: { 'content-md5': md5b64('abd') } });
    expect(bad.status).to.equal(400);
    expect(bad.text).to.contain('<Code>BadDigest</Code>');
    // As swift's test_input_errors.py records AWS: PutObject names the MD5 sent in hex, the one computed in base64.
    expect(bad.text)
      .to.contain('<Message>The Content-MD5 you specified did not match what we received.</Message>')
      .and.contain(`<ExpectedDigest>${md5hex('abd')}</ExpectedDigest>`)
      .and.contain(`<CalculatedDigest>${md5b64('abc')}</CalculatedDigest>`);
    // A DeleteObjects body's, S3 names as sent (base64).
    const doc = '<Delete><Object><Key>md5-ok</Key></Object></Delete>';
    const batch = await signedFetch(srv.url, CREDS, 'POST', `/${Bucket}`, {
      query: { delete: '' },
      body: doc,
      headers: { 'content-md5': md5b64('not the body') },
    });
    expect([batch.status, batch.text.match(/<ExpectedDigest>(.*?)<\/ExpectedDigest>/)?.[1]]).to.deep.equal([400, md5b64('not the body')]);
    expect((await errorOf(srv.s3.send(new HeadObjectCommand({ Bucket, Key: 'md5-bad' })))).$metadata.httpStatusCode).to.equal(404);
    const invalid = await signedFetch(srv.url, CREDS, 'PUT', `/${Bucket}/md5-bad`, {
      body: 'abc',
      headers: { 'content-md5': 'not-base64' },
    });
    // As S3 answers (LocalStack's AWS-validated test_s3_invalid_content_md5): its message, and the value named.
    expect(invalid.text)
      .to.contain('<Code>InvalidDigest</Code><Message>The Content-MD5 you specified was invalid.</Message>')
      .and.contain('<Content-MD5>not-base64</Content-MD5>');
  });

  it('refuses checksum headers that do not name exactly one checksum of the body, as S3 does', async () => {
    // Each as swift's test/s3api/test_input_errors.py records AWS answering a plain PutObject.
    const body = 'checksum headers';
    // The body's own CRC32, computed here: a store that keeps no checksums (github) answers none.
    const crc32 = checksumBase64('crc32', body);
    const cases: [Record<string, string>, string, string][] = [
      [{ 'x-amz-checksum-bad': crc32 }, 'InvalidRequest', 'The algorithm type you specified in x-amz-checksum- header is invalid.'],
      [
        { 'x-amz-sdk-checksum-algorithm': 'CRC32' },
        'InvalidRequest',
        'x-amz-sdk-checksum-algorithm specified, but no corresponding x-amz-checksum-* or x-amz-trailer headers were found.',
      ],
      [
        { 'x-amz-sdk-checksum-algorithm': 'CRC32C', 'x-amz-checksum-crc32': crc32 },
        'InvalidRequest',
        'Value for x-amz-sdk-checksum-algorithm header is invalid.',
      ],
      [
        { 'x-amz-checksum-crc32': crc32, 'x-amz-trailer': 'x-amz-checksum-crc32' },
        'InvalidRequest',
        'Expecting a single x-amz-checksum- header',
      ],
      [
        { 'x-amz-trailer': 'x-amz-checksum-crc32, x-amz-checksum-crc32' },
        'InvalidRequest',
        'Expecting a single x-amz-checksum- header. Multiple checksum Types are not allowed.',
      ],
      [
        { 'x-amz-trailer': 'x-amz-checksum-crc32' },
        'MalformedTrailerError',
        'The request contained trailing data that was not well-formed or did not conform to our published schema.',
      ],
    ];
    for (const [headers, code, message] of cases) {
      const r = await signedFetch(srv.url, CREDS, 'PUT', `/${Bucket}/ck-hdr-refused`, { body, headers });
      expect([r.status, r.text.match(/<Code>(.*?)<\/Code><Message>(.*?)<\/Message>/)?.slice(1)], JSON.stringify(headers)).to.deep.equal([
        400,
        [code, message],
      ]);
    }
    expect((await errorOf(srv.s3.send(new HeadObjectCommand({ Bucket, Key: 'ck-hdr-refused' })))).$metadata.httpStatusCode).to.equal(404);
  });

  it('holds a SigV2 request body to the x-amz-content-sha256 it claims, as S3 does', async () => {
    // SigV2 signs no payload hash; AWS still answers a claim the body does not match (swift's test_input_errors.py).
    const body = 'signed the old way';
    const put = (claim: string) => {
      const date = new Date().toUTCString();
      const path = `/${Bucket}/v2-claim`;
      const toSign = `PUT\n\n\n${date}\nx-amz-content-sha256:${claim}\n${path}`;
      const signature = createHmac('sha1', SECRET_KEY).update(toSign).digest('base64');
      const headers = {
        date,
        'x-amz-content-sha256': claim,
        authorization: `AWS ${ACCESS_KEY}:${signature}`,
        'content-length': String(body.length),
      };
      return exactRequest(`${srv.url}${path}`, 'PUT', headers, body);
    };
    const sha = createHash('sha256').update(body).digest('hex');
    expect((await put(sha.toUpperCase())).status).to.equal(200);
    for (const claim of ['invalid', createHash('sha256').update('another body').digest('hex')]) {
      const r = await put(claim);
      expect([r.status, r.text.match(/<Code>(.*?)<\/Code>/)?.[1]], claim).to.deep.equal([400, 'XAmzContentSHA256Mismatch']);
      expect(r.text).to.contain(`<ClientComputedContentSHA256>${claim}</ClientComputedContentSHA256><S3ComputedContentSHA256>${sha}<`);
    }
  });

  it('checks x-amz-content-sha256 against the body', async () => {
    const r = await signedFetch(srv.url, CREDS, 'PUT', `/${Bucket}/sha-lie`, {
      body: 'the real body',
      headers: { 'x-amz-content-sha256': createHash('sha256').update('another body').digest('hex') },
    });
    expect(r.status).to.equal(400);
    expect(r.text).to.match(/XAmzContentSHA256Mismatch|SignatureDoesNotMatch/);
    expect((await errorOf(srv.s3.send(new HeadObjectCommand({ Bucket, Key: 'sha-lie' })))).$metadata.httpStatusCode).to.equal(404);
  });

  describe('ranges and conditions', () => {
    const body = '0123456789abcdefghij';
    before(async () => {
      await srv.s3.send(new PutObjectCommand({ Bucket, Key: 'range.txt', Body: body }));
    });

    it('serves bytes=a-b, a- and -n with 206 and Content-Range', async () => {
      for (const [range, expected, cr] of [
        ['bytes=2-5', '2345', 'bytes 2-5/20'],
        ['bytes=15-', 'fghij', 'bytes 15-19/20'],
        ['bytes=-3', 'hij', 'bytes 17-19/20'],
        ['bytes=18-100', 'ij', 'bytes 18-19/20'],
      ]) {
        const r = await get('range.txt', { Range: range });
        expect(r.bytes.toString(), range).to.equal(expected);
        expect(r.ContentRange, range).to.equal(cr);
        expect(r.$metadata.httpStatusCode).to.equal(206);
      }
    });

    it('answers 416 InvalidRange past the end', async () => {
      const err = await errorOf(get('range.txt', { Range: 'bytes=20-' }));
      expect(err.$metadata.httpStatusCode).to.equal(416);
      expect(err.name).to.equal('InvalidRange');
    });

    it('ignores a malformed Range and serves the whole object', async () => {
      // Backwards, and spaces inside the range (S3 reads neither as a range).
      for (const Range of ['bytes=5-2', 'bytes= -1', 'bytes=0 -1', 'bytes=0- 1', 'bytes =0-1']) {
        const r = await get('range.txt', { Range });
        expect(r.bytes.toString(), Range).to.equal(body);
        expect(r.$metadata.httpStatusCode).to.equal(200);
      }
    });

    it('serves an empty object whole to a suffix range, and refuses bytes=-0 and offsets', async () => {
      await srv.s3.send(new PutObjectCommand({ Bucket, Key: 'empty-range', Body: '' }));
      for (const Range of ['bytes=-1', 'bytes=-8']) {
        const r = await get('empty-range', { Range });
        expect([r.$metadata.httpStatusCode, r.ContentLength, r.ContentRange, r.bytes.length], Range).to.deep.equal([200, 0, undefined, 0]);
        const h = await srv.s3.send(new HeadObjectCommand({ Bucket, Key: 'empty-range', Range }));
        expect([h.$metadata.httpStatusCode, h.ContentLength, h.ContentRange], `HEAD ${Range}`).to.deep.equal([200, 0, undefined]);
      }
      for (const Range of ['bytes=-0', 'bytes=0-0', 'bytes=0-']) {
        const e = await errorOf(get('empty-range', { Range }));
        expect([e.name, e.$metadata.httpStatusCode], Range).to.deep.equal(['InvalidRange', 416]);
      }
    });

    it('follows S3 precedence for If-Match, If-None-Match, If-Modified-Since, If-Unmodified-Since', async () => {
      const etag = `"${md5hex(body)}"`;
      const past = new Date(Date.now() - 3600_000);
      const future = new Date(Date.now() + 3600_000);
      expect((await get('range.txt', { IfMatch: etag })).bytes.toString()).to.equal(body);
      expect((await errorOf(get('range.txt', { IfMatch: '"nope"' }))).$metadata.httpStatusCode).to.equal(412);
      expect((await errorOf(get('range.txt', { IfNoneMatch: etag }))).$metadata.httpStatusCode).to.equal(304);
      expect((await get('range.txt', { IfNoneMatch: '"other"' })).bytes.toString()).to.equal(body);
      expect((await errorOf(get('range.txt', { IfModifiedSince: new Date() }))).$metadata.httpStatusCode).to.equal(304);
      // A date later than now is no valid date: S3 ignores it and serves the object.
      expect((await get('range.txt', { IfModifiedSince: future })).bytes.toString()).to.equal(body);
      expect((await get('range.txt', { IfModifiedSince: past })).bytes.toString()).to.equal(body);
      expect((await errorOf(get('range.txt', { IfUnmodifiedSince: past }))).$metadata.httpStatusCode).to.equal(412);
      // If-Match true wins over If-Unmodified-Since false; If-None-Match false wins over If-Modified-Since true.
      expect((await get('range.txt', { IfMatch: etag, IfUnmodifiedSince: past })).bytes.toString()).to.equal(body);
      expect((await errorOf(get('range.txt', { IfNoneMatch: etag, IfModifiedSince: past }))).$metadata.httpStatusCode).to.equal(304);
      expect(
        (await errorOf(srv.s3.send(new HeadObjectCommand({ Bucket, Key: 'range.txt', IfMatch: '"x"' })))).$metadata.httpStatusCode,
      ).to.equal(412);
      // S3's 412 names the condition that failed.
      for (const [header, value] of [
        ['if-match', '"nope"'],
        ['if-unmodified-since', past.toUTCString()],
      ]) {
        const r = await signedFetch(srv.url, CREDS, 'GET', `/${Bucket}/range.txt`, { headers: { [header]: value } });
        expect(r.status, header).to.equal(412);
        expect(r.text, header).to.contain(`<Condition>${header === 'if-match' ? 'If-Match' : 'If-Unmodified-Since'}</Condition>`);
      }
    });

    it('applies response-* overrides', async () => {
      const r = await get('range.txt', {
        ResponseContentType: 'application/x-test',
        ResponseContentDisposition: 'inline',
        ResponseCacheControl: 'no-store',
      });
      expect(r.ContentType).to.equal('application/x-test');
      expect(r.ContentDisposition).to.equal('inline');
      expect(r.CacheControl).to.equal('no-store');
      // HEAD takes them too (HeadObject's Response* parameters): a presigned HEAD sees what its GET would.
      const head = await srv.s3.send(
        new HeadObjectCommand({
          Bucket,
          Key: 'range.txt',
          ResponseContentType: 'application/x-test',
          ResponseContentLanguage: 'fr',
          ResponseExpires: new Date('2031-01-01T00:00:00Z'),
        }),
      );
      expect(head.ContentType).to.equal('application/x-test');
      expect(head.ContentLanguage).to.equal('fr');
      expect(head.ExpiresString).to.equal('Wed, 01 Jan 2031 00:00:00 GMT');
    });
  });

  it('supports conditional writes: If-None-Match * and If-Match', async () => {
    await srv.s3.send(new PutObjectCommand({ Bucket, Key: 'cond.txt', Body: 'v1', IfNoneMatch: '*' }));
    const err = await errorOf(srv.s3.send(new PutObjectCommand({ Bucket, Key: 'cond.txt', Body: 'v2', IfNoneMatch: '*' })));
    expect(err.$metadata.httpStatusCode).to.equal(412);
    expect(err.name).to.equal('PreconditionFailed');
    const wrong = await errorOf(srv.s3.send(new PutObjectCommand({ Bucket, Key: 'cond.txt', Body: 'v2', IfMatch: '"0000"' })));
    expect(wrong.$metadata.httpStatusCode).to.equal(412);
    await srv.s3.send(new PutObjectCommand({ Bucket, Key: 'cond.txt', Body: 'v2', IfMatch: `"${md5hex('v1')}"` }));
    expect((await get('cond.txt')).bytes.toString()).to.equal('v2');
    // Values S3 does not take on a write: If-None-Match other than *, If-Match *.
    for (const [header, value] of [
      ['If-None-Match', `"${md5hex('v2')}"`],
      ['If-Match', '*'],
    ]) {
      const r = await signedFetch(srv.url, CREDS, 'PUT', `/${Bucket}/cond.txt`, { body: 'v3', headers: { [header.toLowerCase()]: value } });
      expect(r.status, header).to.equal(501);
      // The apostrophe may come escaped (&apos;): the same XML text.
      expect(r.text.replace(/&apos;/g, "'"), header).to.contain(
        `<Code>NotImplemented</Code><Message>A header you provided implies functionality that is not implemented</Message><Header>${header}</Header><additionalMessage>We don't accept the provided value of ${header} header for this API</additionalMessage>`,
      );
    }
    expect((await get('cond.txt')).bytes.toString()).to.equal('v2');
    // If-Match on a key that does not exist: S3 answers NoSuchKey naming it, not 412.
    const absent = await signedFetch(srv.url, CREDS, 'PUT', `/${Bucket}/cond-absent.txt`, { body: 'x', headers: { 'if-match': '"0000"' } });
    expect([absent.status, /<Code>(.*)<\/Code>/.exec(absent.text)?.[1]]).to.deep.equal([404, 'NoSuchKey']);
    expect(absent.text).to.contain('<Key>cond-absent.txt</Key>');
    expect((await errorOf(get('cond-absent.txt'))).name).to.equal('NoSuchKey');
  });

  it('deletes with 204, also when the key is absent, and NoSuchKey afterwards', async () => {
    await srv.s3.send(new PutObjectCommand({ Bucket, Key: 'gone.txt', Body: 'x' }));
    const del = await srv.s3.send(new DeleteObjectCommand({ Bucket, Key: 'gone.txt' }));
    expect(del.$metadata.httpStatusCode).to.equal(204);
    const again = await srv.s3.send(new DeleteObjectCommand({ Bucket, Key: 'gone.txt' }));
    expect(again.$metadata.httpStatusCode).to.equal(204);
    const err = await errorOf(get('gone.txt'));
    expect(err.name).to.equal('NoSuchKey');
    expect(err.$metadata.httpStatusCode).to.equal(404);
    const noBucket = await errorOf(srv.s3.send(new GetObjectCommand({ Bucket: 'no-such-bucket-here', Key: 'x' })));
    expect(noBucket.name).to.equal('NoSuchBucket');
  });

  it('deletes only when the conditions hold: If-Match, size and Last-Modified (DeleteObject), ETag and Size (DeleteObjects)', async () => {
    await srv.s3.send(new PutObjectCommand({ Bucket, Key: 'cond-del.txt', Body: 'keep me' }));
    const etag = `"${md5hex('keep me')}"`;
    for (const cond of [{ IfMatch: '"0123"' }, { IfMatchSize: 99 }, { IfMatchLastModifiedTime: new Date('2000-01-01T00:00:00Z') }]) {
      const e = await errorOf(srv.s3.send(new DeleteObjectCommand({ Bucket, Key: 'cond-del.txt', ...cond })));
      expect(e.name, JSON.stringify(cond)).to.equal('PreconditionFailed');
      expect(e.$metadata.httpStatusCode).to.equal(412);
    }
    const batch = await srv.s3.send(
      new DeleteObjectsCommand({
        Bucket,
        Delete: {
          Objects: [
            { Key: 'cond-del.txt', ETag: '"0123"' },
            { Key: 'cond-del.txt', Size: 99 },
          ],
        },
      }),
    );
    expect(batch.Errors?.map((e) => e.Code)).to.deep.equal(['PreconditionFailed', 'PreconditionFailed']);
    expect(batch.Deleted ?? []).to.have.length(0);
    expect((await get('cond-del.txt')).bytes.toString()).to.equal('keep me');
    const absent = await errorOf(srv.s3.send(new DeleteObjectCommand({ Bucket, Key: 'cond-del-absent.txt', IfMatch: '*' })));
    expect(absent.name).to.equal('NoSuchKey');
    await srv.s3.send(new DeleteObjectCommand({ Bucket, Key: 'cond-del.txt', IfMatch: etag, IfMatchSize: 7 }));
    expect((await errorOf(get('cond-del.txt'))).name).to.equal('NoSuchKey');
    await srv.s3.send(new PutObjectCommand({ Bucket, Key: 'cond-del.txt', Body: 'again' }));
    const ok = await srv.s3.send(
      new DeleteObjectsCommand({ Bucket, Delete: { Objects: [{ Key: 'cond-del.txt', ETag: `"${md5hex('again')}"`, Size: 5 }] } }),
    );
    expect(ok.Deleted?.map((d) => d.Key)).to.deep.equal(['cond-del.txt']);
    expect((await errorOf(get('cond-del.txt'))).name).to.equal('NoSuchKey');
  });

  it('refuses a delete condition that is not of its type, and deletes nothing: InvalidArgument in a header, MalformedXML in a batch', async () => {
    await srv.s3.send(new PutObjectCommand({ Bucket, Key: 'cond-bad.txt', Body: 'stay' }));
    for (const [name, value] of [
      ['x-amz-if-match-size', 'seven'],
      ['x-amz-if-match-last-modified-time', 'yesterday'],
    ]) {
      const r = await signedFetch(srv.url, CREDS, 'DELETE', `/${Bucket}/cond-bad.txt`, { headers: { [name]: value } });
      expect(r.status, name).to.equal(400);
      expect(r.text).to.contain('<Code>InvalidArgument</Code>').and.contain(`<ArgumentName>${name}</ArgumentName>`);
    }
    for (const field of ['<Size>-1</Size>', '<LastModifiedTime>yesterday</LastModifiedTime>']) {
      const body = `<Delete><Object><Key>cond-bad.txt</Key>${field}</Object></Delete>`;
      const r = await signedFetch(srv.url, CREDS, 'POST', `/${Bucket}`, {
        query: { delete: '' },
        body,
        headers: { 'content-md5': md5b64(body) },
      });
      expect(r.status, field).to.equal(400);
      expect(r.text).to.contain('<Code>MalformedXML</Code>');
    }
    expect((await get('cond-bad.txt')).bytes.toString()).to.equal('stay');
  });

  it('deletes a batch with per-key results and Quiet mode', async () => {
    for (const k of ['b/1', 'b/2', 'b/3']) await srv.s3.send(new PutObjectCommand({ Bucket, Key: k, Body: k }));
    const r = await srv.s3.send(
      new DeleteObjectsCommand({
        Bucket,
        Delete: { Objects: [{ Key: 'b/1' }, { Key: 'b/2' }, { Key: 'b/missing' }, { Key: 'x'.repeat(1100) }] },
      }),
    );
    expect(r.Deleted?.map((d) => d.Key)).to.deep.equal(['b/1', 'b/2', 'b/missing']);
    expect(r.Errors?.map((e) => e.Code)).to.deep.equal(['KeyTooLongError']);
    const quiet = await srv.s3.send(new DeleteObjectsCommand({ Bucket, Delete: { Quiet: true, Objects: [{ Key: 'b/3' }] } }));
    expect(quiet.Deleted ?? []).to.have.length(0);
    expect((await errorOf(get('b/3'))).name).to.equal('NoSuchKey');
    const malformed = await signedFetch(srv.url, CREDS, 'POST', `/${Bucket}`, {
      query: { delete: '' },
      body: '<Delete><Object><Key>a</Key></Object',
      headers: { 'content-md5': md5b64('<Delete><Object><Key>a</Key></Object') },
    });
    expect(malformed.text).to.contain('<Code>MalformedXML</Code>');
    // S3 requires Content-MD5 or an x-amz-checksum-* of the batch (swift's test_input_errors.py, run against AWS).
    const unchecked = await signedFetch(srv.url, CREDS, 'POST', `/${Bucket}`, {
      query: { delete: '' },
      body: '<Delete><Object><Key>b/4</Key></Object></Delete>',
    });
    expect([unchecked.status, unchecked.text.match(/<Code>(.*?)<\/Code><Message>(.*?)<\/Message>/)?.slice(1)]).to.deep.equal([
      400,
      ['InvalidRequest', 'Missing required header for this request: Content-MD5 OR x-amz-checksum-*'],
    ]);
  });

  describe('copy', () => {
    it('copies with COPY and REPLACE directives and URL-encoded sources', async () => {
      await srv.s3.send(
        new PutObjectCommand({ Bucket, Key: 'src dir/ü file+1.txt', Body: 'copy me', ContentType: 'text/x-src', Metadata: { a: '1' } }),
      );
      const c = await srv.s3.send(
        new CopyObjectCommand({ Bucket, Key: 'dst1.txt', CopySource: `${Bucket}/${encodeURIComponent('src dir/ü file+1.txt')}` }),
      );
      expect(c.CopyObjectResult?.ETag).to.equal(`"${md5hex('copy me')}"`);
      const d1 = await get('dst1.txt');
      expect(d1.bytes.toString()).to.equal('copy me');
      expect(d1.ContentType).to.equal('text/x-src');
      expect(d1.Metadata).to.deep.equal({ a: '1' });
      await srv.s3.send(
        new CopyObjectCommand({
          Bucket,
          Key: 'dst2.txt',
          CopySource: `/${Bucket}/${encodeURIComponent('src dir/ü file+1.txt')}`,
          MetadataDirective: 'REPLACE',
          ContentType: 'text/x-new',
          Metadata: { b: '2' },
        }),
      );
      const d2 = await get('dst2.txt');
      expect(d2.ContentType).to.equal('text/x-new');
      expect(d2.Metadata).to.deep.equal({ b: '2' });
      // REPLACE naming no metadata stores none (aws s3 cp --metadata-directive REPLACE): nothing
      // of the source's comes along, even from a source without checksums (aws-cli sends none;
      // Azure's Copy Blob given no metadata at all copies the source's).
      const put = await signedFetch(srv.url, CREDS, 'PUT', `/${Bucket}/bare-src.txt`, {
        body: 'copy me',
        headers: { 'x-amz-meta-a': '1', 'cache-control': 'max-age=60' },
      });
      expect(put.status).to.equal(200);
      await srv.s3.send(
        new CopyObjectCommand({
          Bucket,
          Key: 'dst3.txt',
          CopySource: `${Bucket}/bare-src.txt`,
          MetadataDirective: 'REPLACE',
          ContentType: 'text/x-bare',
        }),
      );
      const d3 = await get('dst3.txt');
      expect(d3.CacheControl).to.equal(undefined);
      expect([d3.ContentType, d3.Metadata, d3.bytes.toString()]).to.deep.equal(['text/x-bare', {}, 'copy me']);
    });

    it('changes metadata in place with REPLACE (as s3fs does) and refuses a plain self-copy', async () => {
      await srv.s3.send(new PutObjectCommand({ Bucket, Key: 'self.txt', Body: 'same bytes', Metadata: { mode: '644' } }));
      const err = await errorOf(srv.s3.send(new CopyObjectCommand({ Bucket, Key: 'self.txt', CopySource: `${Bucket}/self.txt` })));
      expect(err.name).to.equal('InvalidRequest');
      await srv.s3.send(
        new CopyObjectCommand({
          Bucket,
          Key: 'self.txt',
          CopySource: `${Bucket}/self.txt`,
          MetadataDirective: 'REPLACE',
          Metadata: { mode: '600' },
        }),
      );
      const r = await get('self.txt');
      expect(r.bytes.toString()).to.equal('same bytes');
      expect(r.Metadata).to.deep.equal({ mode: '600' });
    });

    it("stores a copy in the class it names, else STANDARD: never the source's class, whatever the directive", async () => {
      await srv.s3.send(new PutObjectCommand({ Bucket, Key: 'ia-src.txt', Body: 'cold', StorageClass: 'STANDARD_IA' }));
      const classOf = async (Key: string) => (await srv.s3.send(new HeadObjectCommand({ Bucket, Key }))).StorageClass;
      const copy = (Key: string, extra: Record<string, unknown> = {}) =>
        srv.s3.send(new CopyObjectCommand({ Bucket, Key, CopySource: `${Bucket}/ia-src.txt`, ...extra }));
      await copy('ia-copy.txt');
      expect(await classOf('ia-copy.txt')).to.equal(undefined);
      await copy('ia-replaced.txt', { MetadataDirective: 'REPLACE' });
      expect(await classOf('ia-replaced.txt')).to.equal(undefined);
      await copy('ia-glacier.txt', { StorageClass: 'GLACIER' });
      expect(await classOf('ia-glacier.txt')).to.equal('GLACIER');
      // In place with a class: the way to change one.
      await copy('ia-src.txt', { StorageClass: 'ONEZONE_IA' });
      expect(await classOf('ia-src.txt')).to.equal('ONEZONE_IA');
    });

    it('gives a copy the checksum x-amz-checksum-algorithm names, computed from its bytes', async () => {
      const bytes = 'checksummed copy';
      await srv.s3.send(new PutObjectCommand({ Bucket, Key: 'ck-src.txt', Body: bytes }));
      const sha256 = createHash('sha256').update(bytes).digest('base64');
      const copied = await srv.s3.send(
        new CopyObjectCommand({ Bucket, Key: 'ck-dst.txt', CopySource: `${Bucket}/ck-src.txt`, ChecksumAlgorithm: 'SHA256' }),
      );
      expect(copied.CopyObjectResult?.ChecksumSHA256).to.equal(sha256);
      const head = await srv.s3.send(new HeadObjectCommand({ Bucket, Key: 'ck-dst.txt', ChecksumMode: 'ENABLED' }));
      expect(head.ChecksumSHA256).to.equal(sha256);
      // In place too: adding a checksum is a change, not a plain self-copy.
      await srv.s3.send(
        new CopyObjectCommand({ Bucket, Key: 'ck-src.txt', CopySource: `${Bucket}/ck-src.txt`, ChecksumAlgorithm: 'SHA256' }),
      );
      const inPlace = await srv.s3.send(new HeadObjectCommand({ Bucket, Key: 'ck-src.txt', ChecksumMode: 'ENABLED' }));
      expect(inPlace.ChecksumSHA256).to.equal(sha256);
      expect((await get('ck-src.txt')).bytes.toString()).to.equal(bytes);
      const bogus = await signedFetch(srv.url, CREDS, 'PUT', `/${Bucket}/ck-bogus.txt`, {
        headers: { 'x-amz-copy-source': `/${Bucket}/ck-src.txt`, 'x-amz-checksum-algorithm': 'MD4' },
      });
      expect(bogus.status).to.equal(400);
      expect(bogus.text).to.include('<Code>InvalidRequest</Code>');
    });

    it('gives a copy the class its request names, STANDARD when it names none, and keeps a computed checksum', async () => {
      await srv.s3.send(new PutObjectCommand({ Bucket, Key: 'ia-src.txt', Body: 'infrequent', StorageClass: 'STANDARD_IA' }));
      await srv.s3.send(new CopyObjectCommand({ Bucket, Key: 'ia-dst.txt', CopySource: `${Bucket}/ia-src.txt` }));
      // S3 keeps the source's class on no copy: the destination takes the request's.
      expect((await srv.s3.send(new HeadObjectCommand({ Bucket, Key: 'ia-dst.txt' }))).StorageClass).to.equal(undefined);
      const sha256 = createHash('sha256').update('infrequent').digest('base64');
      const copied = await srv.s3.send(
        new CopyObjectCommand({
          Bucket,
          Key: 'ia-dst.txt',
          CopySource: `${Bucket}/ia-src.txt`,
          StorageClass: 'STANDARD_IA',
          ChecksumAlgorithm: 'SHA256',
        }),
      );
      expect(copied.CopyObjectResult?.ChecksumSHA256).to.equal(sha256);
      const head = await srv.s3.send(new HeadObjectCommand({ Bucket, Key: 'ia-dst.txt', ChecksumMode: 'ENABLED' }));
      expect(head.StorageClass).to.equal('STANDARD_IA');
      expect(head.ChecksumSHA256).to.equal(sha256);
    });

    it('honours x-amz-copy-source-if-* conditions', async () => {
      await srv.s3.send(new PutObjectCommand({ Bucket, Key: 'csrc.txt', Body: 'c' }));
      const etag = `"${md5hex('c')}"`;
      await srv.s3.send(new CopyObjectCommand({ Bucket, Key: 'cdst.txt', CopySource: `${Bucket}/csrc.txt`, CopySourceIfMatch: etag }));
      for (const [header, value] of [
        ['If-Match', '"bad"'],
        ['If-None-Match', etag],
        ['If-Unmodified-Since', new Date(Date.now() - 3600_000).toUTCString()],
        ['If-Modified-Since', new Date().toUTCString()],
      ]) {
        const e = await signedFetch(srv.url, CREDS, 'PUT', `/${Bucket}/cdst.txt`, {
          headers: { 'x-amz-copy-source': `/${Bucket}/csrc.txt`, [`x-amz-copy-source-${header.toLowerCase()}`]: value },
        });
        expect(e.status, header).to.equal(412);
        // S3 names the copy-source condition that failed.
        expect(e.text, header).to.contain(`<Condition>x-amz-copy-source-${header}</Condition>`);
      }
      // A date later than now is no valid date: S3 ignores it and copies.
      await srv.s3.send(
        new CopyObjectCommand({
          Bucket,
          Key: 'cdst.txt',
          CopySource: `${Bucket}/csrc.txt`,
          CopySourceIfModifiedSince: new Date(Date.now() + 3600_000),
        }),
      );
      const missing = await errorOf(srv.s3.send(new CopyObjectCommand({ Bucket, Key: 'x', CopySource: `${Bucket}/no-such-source` })));
      expect(missing.name).to.equal('NoSuchKey');
    });
  });

  it('gets, puts and deletes tags; x-amz-tagging on put', async () => {
    await srv.s3.send(new PutObjectCommand({ Bucket, Key: 'tagged', Body: 't', Tagging: 'a=1&b=two%20words' }));
    const t1 = await srv.s3.send(new GetObjectTaggingCommand({ Bucket, Key: 'tagged' }));
    expect(t1.TagSet).to.deep.equal([
      { Key: 'a', Value: '1' },
      { Key: 'b', Value: 'two words' },
    ]);
    expect((await srv.s3.send(new HeadObjectCommand({ Bucket, Key: 'tagged' }))).$metadata.httpStatusCode).to.equal(200);
    await srv.s3.send(new PutObjectTaggingCommand({ Bucket, Key: 'tagged', Tagging: { TagSet: [{ Key: 'z', Value: '' }] } }));
    expect((await srv.s3.send(new GetObjectTaggingCommand({ Bucket, Key: 'tagged' }))).TagSet).to.deep.equal([{ Key: 'z', Value: '' }]);
    await srv.s3.send(new DeleteObjectTaggingCommand({ Bucket, Key: 'tagged' }));
    expect((await srv.s3.send(new GetObjectTaggingCommand({ Bucket, Key: 'tagged' }))).TagSet ?? []).to.deep.equal([]);
    // Too many object tags is BadRequest on S3 (InvalidTag is for a bad key or value, and too many bucket tags).
    const tooMany = Array.from({ length: 11 }, (_, i) => ({ Key: `k${i}`, Value: 'v' }));
    const eleven = await errorOf(srv.s3.send(new PutObjectTaggingCommand({ Bucket, Key: 'tagged', Tagging: { TagSet: tooMany } })));
    expect([eleven.name, eleven.message, eleven.$metadata.httpStatusCode]).to.deep.equal([
      'BadRequest',
      'Object tags cannot be greater than 10',
      400,
    ]);
    const onPut = await errorOf(
      srv.s3.send(new PutObjectCommand({ Bucket, Key: 'tagged', Body: 'x', Tagging: tooMany.map((t) => `${t.Key}=${t.Value}`).join('&') })),
    );
    expect([onPut.name, onPut.$metadata.httpStatusCode]).to.deep.equal(['BadRequest', 400]);
    expect((await srv.s3.send(new GetObjectTaggingCommand({ Bucket, Key: 'tagged' }))).TagSet ?? []).to.deep.equal([]);
    expect((await errorOf(srv.s3.send(new GetObjectTaggingCommand({ Bucket, Key: 'untagged-missing' })))).name).to.equal('NoSuchKey');
  });

  it('reads x-amz-tagging as S3 does, and refuses tag text S3 refuses, on PUT and PutObjectTagging', async () => {
    const tagsAfterPut = async (Tagging: string) => {
      await srv.s3.send(new PutObjectCommand({ Bucket, Key: 'tag-rules', Body: 'x', Tagging }));
      return (await srv.s3.send(new GetObjectTaggingCommand({ Bucket, Key: 'tag-rules' }))).TagSet ?? [];
    };
    expect(await tagsAfterPut('&&')).to.deep.equal([]);
    expect(await tagsAfterPut('key&')).to.deep.equal([{ Key: 'key', Value: '' }]);
    expect(await tagsAfterPut('k%2E=v%2F&a++b=c%20d&at@=x:y')).to.deep.equal([
      { Key: 'k.', Value: 'v/' },
      { Key: 'a  b', Value: 'c d' },
      { Key: 'at@', Value: 'x:y' },
    ]);
    // A broken escape, a pair without a key and a key given twice: the header itself is refused.
    for (const Tagging of ['key%', '=', '=v', 'k=1&k=2', 'key1=val1,key2=val2']) {
      const e = await errorOf(srv.s3.send(new PutObjectCommand({ Bucket, Key: 'tag-rules', Body: 'x', Tagging })));
      expect([e.name, e.$metadata.httpStatusCode, e.message], Tagging).to.deep.equal([
        'InvalidArgument',
        400,
        "The header 'x-amz-tagging' shall be encoded as UTF-8 then URLEncoded URL query parameters without tag name duplicates.",
      ]);
    }
    // Tags hold letters, digits, spaces and + - = . _ : / @ only.
    const refused = [
      ['k?=v', 'TagKey'],
      ['k(=v', 'TagKey'],
      ['k%23=v', 'TagKey'],
      ['k=v!', 'TagValue'],
      ['k=a%2Cb', 'TagValue'],
    ];
    for (const [Tagging, part] of refused) {
      const e = await errorOf(srv.s3.send(new PutObjectCommand({ Bucket, Key: 'tag-rules', Body: 'x', Tagging })));
      expect([e.name, e.message], Tagging).to.deep.equal(['InvalidTag', `The ${part} you have provided is invalid`]);
    }
    for (const [Key, Value, part] of [
      ['user!name', 'v', 'TagKey'],
      ['data%20', 'v', 'TagKey'],
      ['k', 'semicolon;test', 'TagValue'],
      ['k', '(parentheses)', 'TagValue'],
      ['k', '`path', 'TagValue'],
    ]) {
      const e = await errorOf(
        srv.s3.send(new PutObjectTaggingCommand({ Bucket, Key: 'tag-rules', Tagging: { TagSet: [{ Key, Value }] } })),
      );
      expect([e.name, e.message], `${Key}=${Value}`).to.deep.equal(['InvalidTag', `The ${part} you have provided is invalid`]);
    }
    expect(await tagsAfterPut('k%2E=v%2F&a++b=c%20d&at@=x:y')).to.have.length(3);
    await srv.s3.send(
      new PutObjectTaggingCommand({ Bucket, Key: 'tag-rules', Tagging: { TagSet: [{ Key: 'clé ü', Value: 'été +-=._:/@' }] } }),
    );
    expect((await srv.s3.send(new GetObjectTaggingCommand({ Bucket, Key: 'tag-rules' }))).TagSet).to.deep.equal([
      { Key: 'clé ü', Value: 'été +-=._:/@' },
    ]);
  });

  it('names the tag InvalidTag refuses (TagKey, TagValue) and refuses object tag keys under aws:, as S3 does', async () => {
    await srv.s3.send(new PutObjectCommand({ Bucket, Key: 'tag-named', Body: 'x' }));
    const doc = (tags: Array<[string, string]>) =>
      `<Tagging><TagSet>${tags.map(([k, v]) => `<Tag><Key>${k}</Key><Value>${v}</Value></Tag>`).join('')}</TagSet></Tagging>`;
    const cases: Array<[Array<[string, string]>, string]> = [
      [
        [
          ['Key1', 'Val1'],
          ['Key1', 'Val1'],
        ],
        'Cannot provide multiple Tags with the same key</Message><TagKey>Key1</TagKey>',
      ],
      [[['Key1,Key2', 'Val1']], 'The TagKey you have provided is invalid</Message><TagKey>Key1,Key2</TagKey>'],
      [[['Key1', 'Val1,Val2']], 'The TagValue you have provided is invalid</Message><TagKey>Key1</TagKey><TagValue>Val1,Val2</TagValue>'],
      [[['aws:prefixed', 'Val1']], 'Your TagKey cannot be prefixed with aws:</Message><TagKey>aws:prefixed</TagKey>'],
    ];
    for (const [tags, expected] of cases) {
      const r = await signedFetch(srv.url, CREDS, 'PUT', `/${Bucket}/tag-named`, { query: { tagging: '' }, body: doc(tags) });
      expect([r.status, /<Code>(.*)<\/Code>/.exec(r.text)?.[1]], JSON.stringify(tags)).to.deep.equal([400, 'InvalidTag']);
      expect(r.text, JSON.stringify(tags)).to.contain(`<Message>${expected}`);
    }
    const onPut = await errorOf(srv.s3.send(new PutObjectCommand({ Bucket, Key: 'tag-named', Body: 'y', Tagging: 'aws:k=v' })));
    expect([onPut.name, onPut.message]).to.deep.equal(['InvalidTag', 'Your TagKey cannot be prefixed with aws:']);
    expect((await srv.s3.send(new GetObjectTaggingCommand({ Bucket, Key: 'tag-named' }))).TagSet ?? []).to.deep.equal([]);
  });

  describe('odd keys', () => {
    const keys = [
      'a',
      'a/b',
      'a/',
      'dir/',
      'a//b',
      './x',
      'x/./y',
      'x/../y',
      '../../etc/passwd',
      '..',
      '.',
      'with space',
      'plus+sign',
      'percent%20literal',
      'ünïcödé/文件/😀',
      'q?uestion&amp=1#hash',
      'tab\tkey',
      'seg/' + 's'.repeat(300),
      'k'.repeat(1024),
    ];
    it('stores and reads back every valid key, each its own object', async () => {
      for (const Key of keys) await srv.s3.send(new PutObjectCommand({ Bucket: 'objects', Key, Body: `body of ${Key}` }));
      for (const Key of keys) expect((await get(Key)).bytes.toString(), Key).to.equal(`body of ${Key}`);
    });
    it('refuses keys over 1024 bytes with KeyTooLongError', async () => {
      const err = await errorOf(srv.s3.send(new PutObjectCommand({ Bucket, Key: 'é'.repeat(513), Body: 'x' })));
      expect(err.name).to.equal('KeyTooLongError');
      expect(err.$metadata.httpStatusCode).to.equal(400);
    });
  });

  it('works with the minio client: put, get, stat, remove, presign', async () => {
    const data = randomBytes(70_000);
    await srv.minio.putObject(Bucket, 'minio/obj.bin', data, data.length, { 'Content-Type': 'application/x-m', 'X-Amz-Meta-Who': 'minio' });
    const stat = await srv.minio.statObject(Bucket, 'minio/obj.bin');
    expect(stat.size).to.equal(data.length);
    expect(stat.etag).to.equal(md5hex(data));
    expect(stat.metaData['content-type']).to.equal('application/x-m');
    expect(stat.metaData.who).to.equal('minio');
    const stream = await srv.minio.getObject(Bucket, 'minio/obj.bin');
    const chunks: Buffer[] = [];
    for await (const c of stream) chunks.push(c as Buffer);
    expect(Buffer.concat(chunks).equals(data)).to.equal(true);
    const partial = await srv.minio.getPartialObject(Bucket, 'minio/obj.bin', 10, 5);
    const pc: Buffer[] = [];
    for await (const c of partial) pc.push(c as Buffer);
    expect(Buffer.concat(pc).equals(data.subarray(10, 15))).to.equal(true);
    await srv.minio.removeObject(Bucket, 'minio/obj.bin');
    let missing = false;
    try {
      await srv.minio.statObject(Bucket, 'minio/obj.bin');
    } catch (e) {
      missing = (e as { code?: string }).code === 'NotFound';
    }
    expect(missing).to.equal(true);
  });
});
