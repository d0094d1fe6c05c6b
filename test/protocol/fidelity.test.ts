/**
 * Answers that must be S3's, through the AWS SDK (and raw signed requests where the SDK
 * would hide the difference): repeated Complete, checksum mismatches, partNumber, listing
 * tokens, tagging headers, aws-chunked Content-Encoding, presigned expiry, ListBuckets
 * paging, GetObjectAttributes, delete answers and ?torrent.
 */
import { createHash, createHmac, randomBytes } from 'node:crypto';
import { expect } from 'chai';
import {
  CompleteMultipartUploadCommand,
  CopyObjectCommand,
  CreateBucketCommand,
  CreateMultipartUploadCommand,
  DeleteObjectCommand,
  DeleteObjectsCommand,
  GetObjectAttributesCommand,
  GetObjectCommand,
  GetObjectTaggingCommand,
  GetObjectTorrentCommand,
  HeadObjectCommand,
  ListBucketsCommand,
  PutObjectCommand,
  UploadPartCommand,
} from '@aws-sdk/client-s3';
import { getSignedUrl } from '@aws-sdk/s3-request-presigner';
import { startTestServer, ACCESS_KEY, SECRET_KEY, type TestServer } from '../helpers/server';
import { errorOf } from '../helpers/errors';
import { exchange } from '../helpers/hostile-wire';
import { signedFetch, signer } from '../helpers/sign';

const MiB = 1024 * 1024;
const md5 = (b: Buffer) => createHash('md5').update(b).digest();
const sha256b64 = (b: Buffer | string) => createHash('sha256').update(b).digest('base64');

describe('protocol: S3 fidelity', () => {
  let srv: TestServer;
  const Bucket = 'fidelity';
  before(async () => {
    srv = await startTestServer();
    await srv.s3.send(new CreateBucketCommand({ Bucket }));
  });
  after(async () => {
    await srv.stop();
  });
  const raw = (
    method: string,
    path: string,
    opts: { query?: Record<string, string>; headers?: Record<string, string>; body?: string } = {},
  ) => signedFetch(srv.url, { accessKeyId: ACCESS_KEY, secretAccessKey: SECRET_KEY }, method, path, opts);

  async function multipartObject(
    Key: string,
    parts: Buffer[],
  ): Promise<{ UploadId: string; Parts: Array<{ ETag: string; PartNumber: number }> }> {
    const { UploadId } = await srv.s3.send(new CreateMultipartUploadCommand({ Bucket, Key }));
    const Parts = [];
    for (let i = 0; i < parts.length; i++) {
      const r = await srv.s3.send(new UploadPartCommand({ Bucket, Key, UploadId, PartNumber: i + 1, Body: parts[i] }));
      Parts.push({ ETag: r.ETag!, PartNumber: i + 1 });
    }
    return { UploadId: UploadId!, Parts };
  }

  describe('CompleteMultipartUpload repeated', () => {
    it('answers 200 with the same ETag when the upload has just completed', async () => {
      const Key = 'retry/complete.bin';
      const parts = [randomBytes(5 * MiB), randomBytes(1000)];
      const { UploadId, Parts } = await multipartObject(Key, parts);
      const first = await srv.s3.send(new CompleteMultipartUploadCommand({ Bucket, Key, UploadId, MultipartUpload: { Parts } }));
      const expected = `"${createHash('md5')
        .update(Buffer.concat(parts.map(md5)))
        .digest('hex')}-2"`;
      expect(first.ETag).to.equal(expected);
      const again = await srv.s3.send(new CompleteMultipartUploadCommand({ Bucket, Key, UploadId, MultipartUpload: { Parts } }));
      expect(again.ETag).to.equal(expected);
      expect(again.Key).to.equal(Key);
      expect(again.$metadata.httpStatusCode).to.equal(200);
    });

    it('is still NoSuchUpload when the parts named do not make the object there', async () => {
      const Key = 'retry/other.bin';
      const { UploadId, Parts } = await multipartObject(Key, [randomBytes(5 * MiB), randomBytes(10)]);
      await srv.s3.send(new CompleteMultipartUploadCommand({ Bucket, Key, UploadId, MultipartUpload: { Parts } }));
      const wrong = await errorOf(
        srv.s3.send(new CompleteMultipartUploadCommand({ Bucket, Key, UploadId, MultipartUpload: { Parts: Parts.slice(0, 1) } })),
      );
      expect(wrong.name).to.equal('NoSuchUpload');
      const overwritten = await errorOf(
        (async () => {
          await srv.s3.send(new PutObjectCommand({ Bucket, Key, Body: 'replaced' }));
          await srv.s3.send(new CompleteMultipartUploadCommand({ Bucket, Key, UploadId, MultipartUpload: { Parts } }));
        })(),
      );
      expect(overwritten.name).to.equal('NoSuchUpload');
    });
  });

  describe('checksums that do not match the body', () => {
    it('PutObject: a well-formed mismatch is BadDigest, a malformed value InvalidRequest, and nothing is stored', async () => {
      const bad = await errorOf(
        srv.s3.send(new PutObjectCommand({ Bucket, Key: 'ck/put', Body: 'abc', ChecksumSHA256: sha256b64('abd') })),
      );
      expect(bad.name).to.equal('BadDigest');
      expect(bad.$metadata.httpStatusCode).to.equal(400);
      const crc = await errorOf(srv.s3.send(new PutObjectCommand({ Bucket, Key: 'ck/put', Body: 'abc', ChecksumCRC32: 'AAAAAA==' })));
      expect(crc.name).to.equal('BadDigest');
      const malformed = await raw('PUT', `/${Bucket}/ck/put`, { body: 'abc', headers: { 'x-amz-checksum-sha256': 'not-base64!' } });
      expect(malformed.status).to.equal(400);
      expect(malformed.text).to.contain('<Code>InvalidRequest</Code>');
      expect((await errorOf(srv.s3.send(new HeadObjectCommand({ Bucket, Key: 'ck/put' })))).$metadata.httpStatusCode).to.equal(404);
    });

    it('PutObject and CopyObject say the checksum type beside the checksum, as S3 does (FULL_OBJECT for a single upload)', async () => {
      const put = await srv.s3.send(new PutObjectCommand({ Bucket, Key: 'ck/typed', Body: 'abc', ChecksumSHA256: sha256b64('abc') }));
      expect(put.ChecksumSHA256).to.equal(sha256b64('abc'));
      expect(put.ChecksumType).to.equal('FULL_OBJECT');
      const copy = await srv.s3.send(
        new CopyObjectCommand({ Bucket, Key: 'ck/typed-copy', CopySource: `${Bucket}/ck/typed`, ChecksumAlgorithm: 'SHA256' }),
      );
      expect(copy.CopyObjectResult?.ChecksumSHA256).to.equal(sha256b64('abc'));
      expect(copy.CopyObjectResult?.ChecksumType).to.equal('FULL_OBJECT');
      const plain = await raw('PUT', `/${Bucket}/ck/untyped`, { body: 'abc' });
      expect(plain.headers['x-amz-checksum-type']).to.equal(undefined);
    });

    it('UploadPart: a mismatching checksum is BadDigest; a malformed one in CompleteMultipartUpload InvalidArgument', async () => {
      const Key = 'ck/multi';
      const { UploadId } = await srv.s3.send(new CreateMultipartUploadCommand({ Bucket, Key, ChecksumAlgorithm: 'SHA256' }));
      const part = randomBytes(1000);
      const bad = await errorOf(
        srv.s3.send(new UploadPartCommand({ Bucket, Key, UploadId, PartNumber: 1, Body: part, ChecksumSHA256: sha256b64('other') })),
      );
      expect(bad.name).to.equal('BadDigest');
      const ok = await srv.s3.send(
        new UploadPartCommand({ Bucket, Key, UploadId, PartNumber: 1, Body: part, ChecksumSHA256: sha256b64(part) }),
      );
      expect(ok.ChecksumSHA256).to.equal(sha256b64(part));
      const complete = (ChecksumSHA256: string) =>
        srv.s3.send(
          new CompleteMultipartUploadCommand({
            Bucket,
            Key,
            UploadId,
            MultipartUpload: { Parts: [{ PartNumber: 1, ETag: ok.ETag, ChecksumSHA256 }] },
          }),
        );
      // S3: 400 InvalidArgument 'Invalid Base64 or multiple checksums present in request'.
      const malformed = await errorOf(complete('short'));
      expect([malformed.name, malformed.$metadata.httpStatusCode]).to.deep.equal(['InvalidArgument', 400]);
      const done = await complete(sha256b64(part));
      expect(done.ETag).to.match(/-1"$/);
    });

    it('CompleteMultipartUpload: a part checksum other than the one the part was uploaded with is InvalidPart, as a wrong ETag is', async () => {
      const Key = 'ck/complete';
      const { UploadId } = await srv.s3.send(new CreateMultipartUploadCommand({ Bucket, Key, ChecksumAlgorithm: 'SHA256' }));
      const part = randomBytes(1000);
      const ok = await srv.s3.send(
        new UploadPartCommand({ Bucket, Key, UploadId, PartNumber: 1, Body: part, ChecksumSHA256: sha256b64(part) }),
      );
      const mismatch = await errorOf(
        srv.s3.send(
          new CompleteMultipartUploadCommand({
            Bucket,
            Key,
            UploadId,
            MultipartUpload: { Parts: [{ PartNumber: 1, ETag: ok.ETag, ChecksumSHA256: sha256b64('other') }] },
          }),
        ),
      );
      expect(mismatch.name).to.equal('InvalidPart');
    });
  });

  describe('GetObject ?partNumber', () => {
    it('beyond the parts is 416 InvalidPartNumber (GET and HEAD); on a single-part object part 1 is the whole object', async () => {
      await srv.s3.send(new PutObjectCommand({ Bucket, Key: 'pn/single', Body: 'body' }));
      const one = await srv.s3.send(new GetObjectCommand({ Bucket, Key: 'pn/single', PartNumber: 1 }));
      expect(await one.Body!.transformToString()).to.equal('body');
      expect(one.PartsCount).to.equal(undefined);
      for (const PartNumber of [2, 3]) {
        const e = await errorOf(srv.s3.send(new GetObjectCommand({ Bucket, Key: 'pn/single', PartNumber })));
        expect(e.$metadata.httpStatusCode).to.equal(416);
        expect(e.name).to.equal('InvalidPartNumber');
      }
      const head = await errorOf(srv.s3.send(new HeadObjectCommand({ Bucket, Key: 'pn/single', PartNumber: 2 })));
      expect(head.$metadata.httpStatusCode).to.equal(416);
    });

    it('a part number out of 1-10000 is InvalidArgument before the key is looked up, as S3 checks it', async () => {
      for (const [method, partNumber] of [
        ['GET', '-3'],
        ['GET', '0'],
        ['HEAD', '10001'],
        ['GET', 'one'],
      ] as const) {
        const r = await raw(method, `/${Bucket}/pn/absent`, { query: { partNumber } });
        expect(r.status, `${method} ${partNumber}`).to.equal(400);
        if (method === 'GET')
          expect(r.text).to.contain('<Code>InvalidArgument</Code>').and.contain('<ArgumentName>partNumber</ArgumentName>');
      }
    });
  });

  it('ListObjectsV2 refuses an empty continuation-token as S3 does: InvalidArgument naming continuation-token', async () => {
    await srv.s3.send(new PutObjectCommand({ Bucket, Key: 'tok/a', Body: 'a' }));
    const r = await raw('GET', `/${Bucket}`, { query: { 'list-type': '2', prefix: 'tok/', 'continuation-token': '' } });
    expect(r.status).to.equal(400);
    expect(r.text)
      .to.contain('<Code>InvalidArgument</Code>')
      .and.contain('<Message>The continuation token provided is incorrect</Message>')
      .and.contain('<ArgumentName>continuation-token</ArgumentName>');
  });

  it('MalformedXML carries the message S3 sends, without a final period', async () => {
    // LocalStack's AWS-validated snapshots record it so for every malformed configuration body.
    const r = await raw('PUT', `/${Bucket}`, { query: { versioning: '' }, body: '<VersioningConfiguration><Status>' });
    expect(r.status).to.equal(400);
    expect(r.text).to.contain(
      '<Code>MalformedXML</Code><Message>The XML you provided was not well-formed or did not validate against our published schema</Message>',
    );
  });

  it('x-amz-tagging: a tag without "=" has an empty value', async () => {
    await srv.s3.send(new PutObjectCommand({ Bucket, Key: 'tags/obj', Body: 'x', Tagging: 'foo=bar&bar' }));
    const t = await srv.s3.send(new GetObjectTaggingCommand({ Bucket, Key: 'tags/obj' }));
    expect(t.TagSet).to.deep.equal([
      { Key: 'foo', Value: 'bar' },
      { Key: 'bar', Value: '' },
    ]);
  });

  it('Content-Encoding: aws-chunked over a plain body is kept as sent, as any other value', async () => {
    // Without the framing S3 keeps the header as it came (swift's test_input_errors.py records AWS
    // answering the GET of such a PutObject with Content-Encoding: aws-chunked).
    for (const [sent, stored] of [
      ['gzip, aws-chunked', 'gzip, aws-chunked'],
      ['aws-chunked', 'aws-chunked'],
      ['aws-chunked,br', 'aws-chunked,br'],
      ['br,compress', 'br,compress'],
    ] as const) {
      const key = `enc/${sent.replace(/\W/g, '')}`;
      const put = await raw('PUT', `/${Bucket}/${key}`, { body: 'plain', headers: { 'content-encoding': sent } });
      expect(put.status, sent).to.equal(200);
      const head = await srv.s3.send(new HeadObjectCommand({ Bucket, Key: key }));
      expect(head.ContentEncoding, sent).to.equal(stored);
    }
  });

  describe('presigned URLs', () => {
    const presignedGet = async (expires: string) => {
      await srv.s3.send(new PutObjectCommand({ Bucket, Key: 'pre/obj', Body: 'x' }));
      const url = await getSignedUrl(srv.s3, new GetObjectCommand({ Bucket, Key: 'pre/obj' }), { expiresIn: 60 });
      const r = await fetch(url.replace('X-Amz-Expires=60', `X-Amz-Expires=${expires}`));
      return { status: r.status, text: await r.text() };
    };

    it('X-Amz-Expires 0 has expired: 403 AccessDenied', async () => {
      const r = await presignedGet('0');
      expect(r.status).to.equal(403);
      expect(r.text).to.contain('<Code>AccessDenied</Code>').and.contain('Request has expired');
    });

    it('X-Amz-Expires negative or above 604800: 403 AuthorizationQueryParametersError', async () => {
      for (const [v, message] of [
        ['-1', 'X-Amz-Expires must be non-negative'],
        ['604801', 'X-Amz-Expires must be less than a week'],
      ]) {
        const r = await presignedGet(v);
        expect(r.status, v).to.equal(403);
        expect(r.text, v).to.contain('<Code>AuthorizationQueryParametersError</Code>').and.contain(message);
      }
    });

    it('an expired URL: 403 AccessDenied "Request has expired"', async () => {
      await srv.s3.send(new PutObjectCommand({ Bucket, Key: 'pre/obj', Body: 'x' }));
      const url = await getSignedUrl(srv.s3, new GetObjectCommand({ Bucket, Key: 'pre/obj' }), {
        expiresIn: 1,
        signingDate: new Date(Date.now() - 10_000),
      });
      const r = await fetch(url);
      expect(r.status).to.equal(403);
      expect(await r.text())
        .to.contain('<Code>AccessDenied</Code>')
        .and.contain('Request has expired');
    });
    it('a presigned URL may carry a signed x-amz-* header in its query: the request need not send it (JS SDK v2 presigner)', async () => {
      // SignedHeaders names x-amz-storage-class, and its value is in the query only.
      const { hostname, port } = new URL(srv.url);
      const request = {
        method: 'PUT',
        protocol: 'http:',
        hostname,
        port: Number(port),
        path: `/${Bucket}/pre/signed-in-query`,
        query: { 'x-amz-storage-class': 'STANDARD_IA' },
        headers: { host: `${hostname}:${port}`, 'x-amz-storage-class': 'STANDARD_IA', 'x-amz-content-sha256': 'UNSIGNED-PAYLOAD' },
      };
      const presigned = await signer(ACCESS_KEY, SECRET_KEY).presign(request, {
        expiresIn: 60,
        unhoistableHeaders: new Set(['x-amz-storage-class']),
      });
      const query = new URLSearchParams(presigned.query as Record<string, string>);
      expect(query.get('X-Amz-SignedHeaders')).to.equal('host;x-amz-storage-class');
      const put = await fetch(`${srv.url}${presigned.path}?${query.toString()}`, { method: 'PUT', body: Buffer.from('123456') });
      expect([put.status, await put.text()]).to.deep.equal([200, '']);
      const head = await srv.s3.send(new HeadObjectCommand({ Bucket, Key: 'pre/signed-in-query' }));
      expect(head.StorageClass).to.equal('STANDARD_IA');
      // Another value sent as a header is what was not signed.
      const other = await fetch(`${srv.url}${presigned.path}?${query.toString()}`, {
        method: 'PUT',
        body: Buffer.from('123456'),
        headers: { 'x-amz-storage-class': 'GLACIER' },
      });
      expect(other.status).to.equal(403);
      expect(await other.text()).to.contain('<Code>SignatureDoesNotMatch</Code>');
    });

    it('a V2 query-signed URL\u2019s x-amz-* parameters are its headers: metadata and a copy source are honoured', async () => {
      // botocore's legacy (signature_version="s3") presigner moves the x-amz-* headers it signs
      // into the query, as the SigV4 presigners do: S3 stores the metadata and copies the source.
      const v2Url = (method: string, key: string, amz: Record<string, string>) => {
        const expires = Math.floor(Date.now() / 1000) + 60;
        const amzLines = Object.entries(amz).map(([n, v]) => `${n}:${v}\n`);
        const stringToSign = `${method}\n\n\n${expires}\n${amzLines.join('')}/${Bucket}/${key}`;
        const signature = createHmac('sha1', SECRET_KEY).update(stringToSign).digest('base64');
        const query = new URLSearchParams({ AWSAccessKeyId: ACCESS_KEY, Expires: String(expires), Signature: signature, ...amz });
        return `${srv.url}/${Bucket}/${key}?${query.toString()}`;
      };
      const put = await fetch(v2Url('PUT', 'pre/v2-meta', { 'x-amz-meta-foo': 'bar' }), {
        method: 'PUT',
        body: Buffer.from('content 123'),
      });
      expect([put.status, await put.text()]).to.deep.equal([200, '']);
      const head = await srv.s3.send(new HeadObjectCommand({ Bucket, Key: 'pre/v2-meta' }));
      expect(head.Metadata).to.deep.equal({ foo: 'bar' });
      const copy = await fetch(v2Url('PUT', 'pre/v2-copy', { 'x-amz-copy-source': `${Bucket}/pre/v2-meta` }), { method: 'PUT' });
      expect(copy.status).to.equal(200);
      expect(await copy.text()).to.contain('<CopyObjectResult');
      const copied = await srv.s3.send(new GetObjectCommand({ Bucket, Key: 'pre/v2-copy' }));
      expect(await copied.Body!.transformToString()).to.equal('content 123');
      expect(copied.Metadata).to.deep.equal({ foo: 'bar' });
    });
  });

  describe('header values in UTF-8', () => {
    // Clients sign a header's text and send its UTF-8 bytes (botocore's test_can_set_utf_8_headers
    // puts such a Content-Disposition on S3; aws-cli's --content-disposition sends it so): S3 signs
    // the bytes it receives. Node hands header values over one character per byte; the value
    // ending in 'à' (bytes C3 A0) is not trimmed of a non-breaking space either.
    const disposition = 'attachment; filename=5小時接力起跑.jpg; name="voilà"';
    const contentType = 'text/plain; name="voilà"';
    /** The request's exact bytes, each header value as UTF-8 (a raw socket: Node's client re-encodes). */
    const sendUtf8 = (method: string, path: string, headers: Record<string, string>, body: string) => {
      const head = Object.entries({ ...headers, 'content-length': String(Buffer.byteLength(body)), connection: 'close' })
        .map(([n, v]) => `${n}: ${v}\r\n`)
        .join('');
      return exchange(Number(new URL(srv.url).port), Buffer.from(`${method} ${path} HTTP/1.1\r\n${head}\r\n${body}`, 'utf8'));
    };
    const headValue = async (key: string, name: string) => {
      const head = await raw('HEAD', `/${Bucket}/${key}`);
      expect(head.status).to.equal(200);
      return Buffer.from(String(head.headers[name]), 'latin1').toString('utf8');
    };

    it('SigV4: the signature over the UTF-8 text verifies, and the bytes are kept', async () => {
      const { hostname, port } = new URL(srv.url);
      const signed = await signer(ACCESS_KEY, SECRET_KEY).sign({
        method: 'PUT',
        protocol: 'http:',
        hostname,
        port: Number(port),
        path: `/${Bucket}/utf8/v4`,
        query: {},
        headers: {
          host: `${hostname}:${port}`,
          'x-amz-content-sha256': createHash('sha256').update('v4').digest('hex'),
          'content-disposition': disposition,
          'content-type': contentType,
        },
        body: 'v4',
      });
      const put = await sendUtf8('PUT', `/${Bucket}/utf8/v4`, signed.headers, 'v4');
      expect([put.status, put.body.toString()]).to.deep.equal([200, '']);
      expect(await headValue('utf8/v4', 'content-disposition')).to.equal(disposition);
      expect(await headValue('utf8/v4', 'content-type')).to.equal(contentType);
    });

    it('SigV2: the string to sign holds the UTF-8 Content-Type as its bytes', async () => {
      const date = new Date().toUTCString();
      const stringToSign = `PUT\n\n${contentType}\n${date}\n/${Bucket}/utf8/v2`;
      const signature = createHmac('sha1', SECRET_KEY).update(stringToSign, 'utf8').digest('base64');
      const put = await sendUtf8(
        'PUT',
        `/${Bucket}/utf8/v2`,
        { host: new URL(srv.url).host, date, 'content-type': contentType, authorization: `AWS ${ACCESS_KEY}:${signature}` },
        'v2',
      );
      expect([put.status, put.body.toString()]).to.deep.equal([200, '']);
      expect(await headValue('utf8/v2', 'content-type')).to.equal(contentType);
    });
  });

  it('ListBuckets pages with max-buckets, continuation-token and prefix', async () => {
    for (const b of ['lb-a', 'lb-b', 'lb-c']) await srv.s3.send(new CreateBucketCommand({ Bucket: b }));
    const first = await srv.s3.send(new ListBucketsCommand({ MaxBuckets: 2, Prefix: 'lb-' }));
    expect(first.Buckets?.map((b) => b.Name)).to.deep.equal(['lb-a', 'lb-b']);
    expect(first.Prefix).to.equal('lb-');
    expect(first.ContinuationToken).to.be.a('string');
    const second = await srv.s3.send(new ListBucketsCommand({ MaxBuckets: 2, Prefix: 'lb-', ContinuationToken: first.ContinuationToken }));
    expect(second.Buckets?.map((b) => b.Name)).to.deep.equal(['lb-c']);
    expect(second.ContinuationToken).to.equal(undefined);
    const all = await srv.s3.send(new ListBucketsCommand({}));
    expect(all.ContinuationToken).to.equal(undefined);
    expect(all.Buckets?.map((b) => b.Name)).to.include.members(['lb-a', 'lb-b', 'lb-c', Bucket]);
    const bad = await errorOf(srv.s3.send(new ListBucketsCommand({ MaxBuckets: 0 })));
    expect(bad.name).to.equal('InvalidArgument');
  });

  describe('GetObjectAttributes', () => {
    it('answers ETag, Checksum, StorageClass and ObjectSize of a single-part object', async () => {
      const body = Buffer.from('attributes');
      await srv.s3.send(new PutObjectCommand({ Bucket, Key: 'attr/single', Body: body, ChecksumSHA256: sha256b64(body) }));
      const r = await srv.s3.send(
        new GetObjectAttributesCommand({
          Bucket,
          Key: 'attr/single',
          ObjectAttributes: ['ETag', 'Checksum', 'StorageClass', 'ObjectSize', 'ObjectParts'],
        }),
      );
      expect(r.ETag).to.equal(md5(body).toString('hex'));
      expect(r.Checksum?.ChecksumSHA256).to.equal(sha256b64(body));
      expect(r.StorageClass).to.equal('STANDARD');
      expect(r.ObjectSize).to.equal(body.length);
      expect(r.ObjectParts).to.equal(undefined);
      expect(r.LastModified).to.be.instanceOf(Date);
      const some = await srv.s3.send(new GetObjectAttributesCommand({ Bucket, Key: 'attr/single', ObjectAttributes: ['ObjectSize'] }));
      expect(some.ETag).to.equal(undefined);
      expect(some.ObjectSize).to.equal(body.length);
    });

    it('counts the parts of a multipart object without checksums, and lists none, as S3 does', async () => {
      const { UploadId, Parts } = await multipartObject('attr/plain-multi', [randomBytes(5 * MiB), randomBytes(7)]);
      await srv.s3.send(new CompleteMultipartUploadCommand({ Bucket, Key: 'attr/plain-multi', UploadId, MultipartUpload: { Parts } }));
      const r = await srv.s3.send(
        new GetObjectAttributesCommand({ Bucket, Key: 'attr/plain-multi', ObjectAttributes: ['ObjectParts'], MaxParts: 3 }),
      );
      // S3 lists Part elements only for an object uploaded with an additional checksum.
      expect(r.ObjectParts).to.deep.equal({ TotalPartsCount: 2 });
    });

    it('pages the parts of a multipart object uploaded with checksums', async () => {
      const Key = 'attr/multi';
      const parts = [randomBytes(5 * MiB), randomBytes(5 * MiB), randomBytes(7)];
      const { UploadId } = await srv.s3.send(new CreateMultipartUploadCommand({ Bucket, Key, ChecksumAlgorithm: 'SHA256' }));
      const Parts = [];
      for (let i = 0; i < parts.length; i++) {
        const ChecksumSHA256 = sha256b64(parts[i]);
        const r = await srv.s3.send(new UploadPartCommand({ Bucket, Key, UploadId, PartNumber: i + 1, Body: parts[i], ChecksumSHA256 }));
        Parts.push({ ETag: r.ETag!, PartNumber: i + 1, ChecksumSHA256 });
      }
      const done = await srv.s3.send(new CompleteMultipartUploadCommand({ Bucket, Key, UploadId, MultipartUpload: { Parts } }));
      const r = await srv.s3.send(
        new GetObjectAttributesCommand({ Bucket, Key: 'attr/multi', ObjectAttributes: ['ETag', 'ObjectParts', 'ObjectSize'], MaxParts: 2 }),
      );
      expect(`"${r.ETag}"`).to.equal(done.ETag);
      expect(r.ObjectSize).to.equal(10 * MiB + 7);
      expect(r.ObjectParts?.TotalPartsCount).to.equal(3);
      expect(r.ObjectParts?.IsTruncated).to.equal(true);
      // Each part with its checksum, as S3 lists the parts of a COMPOSITE object.
      expect(r.ObjectParts?.Parts?.map((p) => [p.PartNumber, p.Size, p.ChecksumSHA256])).to.deep.equal([
        [1, 5 * MiB, sha256b64(parts[0])],
        [2, 5 * MiB, sha256b64(parts[1])],
      ]);
      const rest = await srv.s3.send(
        new GetObjectAttributesCommand({
          Bucket,
          Key: 'attr/multi',
          ObjectAttributes: ['ObjectParts'],
          PartNumberMarker: r.ObjectParts?.NextPartNumberMarker,
        }),
      );
      expect(rest.ObjectParts?.IsTruncated).to.equal(false);
      expect(rest.ObjectParts?.Parts?.map((p) => [p.PartNumber, p.Size, p.ChecksumSHA256])).to.deep.equal([[3, 7, sha256b64(parts[2])]]);
    });

    it('counts the parts of a multipart object with a FULL_OBJECT checksum, and lists none, as S3 does', async () => {
      const Key = 'attr/full-object';
      const parts = [randomBytes(5 * MiB), randomBytes(7)];
      const { UploadId } = await srv.s3.send(
        new CreateMultipartUploadCommand({ Bucket, Key, ChecksumAlgorithm: 'CRC32', ChecksumType: 'FULL_OBJECT' }),
      );
      const Parts = [];
      for (let i = 0; i < parts.length; i++) {
        const r = await srv.s3.send(
          new UploadPartCommand({ Bucket, Key, UploadId, PartNumber: i + 1, Body: parts[i], ChecksumAlgorithm: 'CRC32' }),
        );
        Parts.push({ ETag: r.ETag!, PartNumber: i + 1, ChecksumCRC32: r.ChecksumCRC32 });
      }
      await srv.s3.send(new CompleteMultipartUploadCommand({ Bucket, Key, UploadId, MultipartUpload: { Parts } }));
      const r = await srv.s3.send(new GetObjectAttributesCommand({ Bucket, Key, ObjectAttributes: ['ObjectParts'] }));
      // The parts are listed only when the object's checksum is made of theirs (COMPOSITE).
      expect(r.ObjectParts).to.deep.equal({ TotalPartsCount: 2 });
    });

    it('refuses a missing or unknown attribute name and answers NoSuchKey for a missing object', async () => {
      const unknown = await raw('GET', `/${Bucket}/attr/single`, {
        query: { attributes: '' },
        headers: { 'x-amz-object-attributes': 'Colour' },
      });
      expect(unknown.status).to.equal(400);
      expect(unknown.text).to.contain('<Code>InvalidArgument</Code>');
      // No attribute named, the header absent or empty: InvalidRequest, as S3 answers (versitygw's
      // GetObjectAttributes_empty_attrs, MinIO's errMissingAttributes).
      for (const headers of [{}, { 'x-amz-object-attributes': '' }] as Record<string, string>[]) {
        const none = await raw('GET', `/${Bucket}/attr/single`, { query: { attributes: '' }, headers });
        expect([none.status, /<Code>(.*)<\/Code>/.exec(none.text)?.[1]], JSON.stringify(headers)).to.deep.equal([400, 'InvalidRequest']);
        expect(none.text).to.contain(
          '<Message>The x-amz-object-attributes header specifying the attributes to be retrieved is either missing or empty</Message>',
        );
      }
      const missing = await errorOf(srv.s3.send(new GetObjectAttributesCommand({ Bucket, Key: 'attr/none', ObjectAttributes: ['ETag'] })));
      expect(missing.name).to.equal('NoSuchKey');
    });
  });

  describe('deletes on a non-versioned bucket', () => {
    it('DeleteObject answers 204 without version or delete-marker headers', async () => {
      await srv.s3.send(new PutObjectCommand({ Bucket, Key: 'del/one', Body: 'x' }));
      const r = await raw('DELETE', `/${Bucket}/del/one`);
      expect(r.status).to.equal(204);
      expect(r.headers).not.to.have.property('x-amz-delete-marker');
      expect(r.headers).not.to.have.property('x-amz-version-id');
      expect(r.text).to.equal('');
      const sdk = await srv.s3.send(new DeleteObjectCommand({ Bucket, Key: 'del/absent' }));
      expect(sdk.DeleteMarker).to.equal(undefined);
      expect(sdk.VersionId).to.equal(undefined);
    });

    it('DeleteObjects lists each key as Deleted with no DeleteMarker fields', async () => {
      await srv.s3.send(new PutObjectCommand({ Bucket, Key: 'del/a', Body: 'x' }));
      const r = await srv.s3.send(new DeleteObjectsCommand({ Bucket, Delete: { Objects: [{ Key: 'del/a' }, { Key: 'del/b' }] } }));
      expect(r.Deleted).to.deep.equal([{ Key: 'del/a' }, { Key: 'del/b' }]);
      expect(r.Errors).to.equal(undefined);
    });
  });

  it('GET ?torrent: 404 NoSuchKey (no object is served as a torrent), never the object bytes', async () => {
    await srv.s3.send(new PutObjectCommand({ Bucket, Key: 'torrent/obj', Body: 'not a torrent' }));
    const e = await errorOf(srv.s3.send(new GetObjectTorrentCommand({ Bucket, Key: 'torrent/obj' })));
    expect(e.$metadata.httpStatusCode).to.equal(404);
    expect(e.name).to.equal('NoSuchKey');
  });

  it('GET ?torrent in a missing bucket: NoSuchBucket', async () => {
    const missing = await errorOf(srv.s3.send(new GetObjectTorrentCommand({ Bucket: 'no-such-bucket-here', Key: 'x' })));
    expect(missing.name).to.equal('NoSuchBucket');
  });
});
