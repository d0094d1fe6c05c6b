/**
 * S3's key rules (empty, NUL, lone surrogate: InvalidArgument; over 1024 UTF-8 bytes:
 * KeyTooLongError) are checked once, where a request enters a bucket (BucketView), for every
 * operation that names a key: the object, a copy source, a multipart upload's key. Adapters no
 * longer check them, so these tests run on every store the protocol suite runs on.
 */
import { Readable } from 'node:stream';
import { expect } from 'chai';
import {
  AbortMultipartUploadCommand,
  CopyObjectCommand,
  CreateBucketCommand,
  CreateMultipartUploadCommand,
  DeleteObjectCommand,
  DeleteObjectsCommand,
  GetObjectAttributesCommand,
  GetObjectCommand,
  HeadObjectCommand,
  ListPartsCommand,
  PutObjectCommand,
  PutObjectTaggingCommand,
  UploadPartCommand,
  UploadPartCopyCommand,
} from '@aws-sdk/client-s3';
import { startTestServer, ACCESS_KEY, SECRET_KEY, type TestServer } from '../helpers/server';
import { signedFetch } from '../helpers/sign';
import { errorOf } from '../helpers/errors';
import { BucketView } from '../../src/router/bucket-view';
import { isS3Error } from '../../src/errors';

const CREDS = { accessKeyId: ACCESS_KEY, secretAccessKey: SECRET_KEY };
/** 1025 UTF-8 bytes in 513 characters: a check on characters instead of bytes would pass it. */
const LONG = 'é'.repeat(512) + 'x';

describe('protocol: key rules, checked where a request enters a bucket', () => {
  let srv: TestServer;
  const Bucket = 'key-rules';
  let uploadId: string;
  before(async () => {
    srv = await startTestServer();
    await srv.s3.send(new CreateBucketCommand({ Bucket }));
    await srv.s3.send(new PutObjectCommand({ Bucket, Key: 'source', Body: 'source body' }));
    uploadId = (await srv.s3.send(new CreateMultipartUploadCommand({ Bucket, Key: 'upload' }))).UploadId!;
  });
  after(async () => {
    await srv.s3.send(new AbortMultipartUploadCommand({ Bucket, Key: 'upload', UploadId: uploadId })).catch(() => undefined);
    await srv.stop();
  });

  const entryPoints: Array<[string, () => Promise<unknown>]> = [
    ['PutObject', () => srv.s3.send(new PutObjectCommand({ Bucket, Key: LONG, Body: 'x' }))],
    ['GetObject', () => srv.s3.send(new GetObjectCommand({ Bucket, Key: LONG }))],
    ['DeleteObject', () => srv.s3.send(new DeleteObjectCommand({ Bucket, Key: LONG }))],
    ['CopyObject to a long key', () => srv.s3.send(new CopyObjectCommand({ Bucket, Key: LONG, CopySource: `${Bucket}/source` }))],
    [
      'CopyObject from a long key',
      () => srv.s3.send(new CopyObjectCommand({ Bucket, Key: 'dst', CopySource: `${Bucket}/${encodeURIComponent(LONG)}` })),
    ],
    ['CreateMultipartUpload', () => srv.s3.send(new CreateMultipartUploadCommand({ Bucket, Key: LONG }))],
    ['UploadPart', () => srv.s3.send(new UploadPartCommand({ Bucket, Key: LONG, UploadId: uploadId, PartNumber: 1, Body: 'x' }))],
    [
      'UploadPartCopy from a long key',
      () =>
        srv.s3.send(
          new UploadPartCopyCommand({
            Bucket,
            Key: 'upload',
            UploadId: uploadId,
            PartNumber: 1,
            CopySource: `${Bucket}/${encodeURIComponent(LONG)}`,
          }),
        ),
    ],
    ['ListParts', () => srv.s3.send(new ListPartsCommand({ Bucket, Key: LONG, UploadId: uploadId }))],
    ['AbortMultipartUpload', () => srv.s3.send(new AbortMultipartUploadCommand({ Bucket, Key: LONG, UploadId: uploadId }))],
    [
      'PutObjectTagging',
      () => srv.s3.send(new PutObjectTaggingCommand({ Bucket, Key: LONG, Tagging: { TagSet: [{ Key: 'a', Value: 'b' }] } })),
    ],
    ['GetObjectAttributes', () => srv.s3.send(new GetObjectAttributesCommand({ Bucket, Key: LONG, ObjectAttributes: ['ETag'] }))],
  ];
  for (const [name, send] of entryPoints) {
    it(`${name}: a key over 1024 UTF-8 bytes is KeyTooLongError`, async () => {
      const err = await errorOf(send());
      expect(err.name).to.equal('KeyTooLongError');
      expect(err.$metadata.httpStatusCode).to.equal(400);
    });
  }

  it('HeadObject: a key over 1024 bytes is 400 (a HEAD answer has no body to name the code)', async () => {
    const err = await errorOf(srv.s3.send(new HeadObjectCommand({ Bucket, Key: LONG })));
    expect(err.$metadata.httpStatusCode).to.equal(400);
  });

  it('DeleteObjects answers KeyTooLongError for that key alone', async () => {
    const r = await srv.s3.send(new DeleteObjectsCommand({ Bucket, Delete: { Objects: [{ Key: LONG }, { Key: 'gone' }] } }));
    expect(r.Errors?.map((e) => [e.Key, e.Code])).to.deep.equal([[LONG, 'KeyTooLongError']]);
    expect(r.Deleted?.map((d) => d.Key)).to.deep.equal(['gone']);
  });

  it('accepts a key of exactly 1024 bytes', async () => {
    const Key = 'é'.repeat(512);
    await srv.s3.send(new PutObjectCommand({ Bucket, Key, Body: 'at the limit' }));
    const r = await srv.s3.send(new GetObjectCommand({ Bucket, Key }));
    expect(await r.Body!.transformToString()).to.equal('at the limit');
    await srv.s3.send(new DeleteObjectCommand({ Bucket, Key }));
  });

  it('a NUL in the key is InvalidArgument, for the object and for a copy source', async () => {
    const put = await signedFetch(srv.url, CREDS, 'PUT', `/${Bucket}/a%00b`, { body: 'x' });
    expect(put.status).to.equal(400);
    expect(put.text).to.contain('<Code>InvalidArgument</Code>');
    const copy = await signedFetch(srv.url, CREDS, 'PUT', `/${Bucket}/dst`, { headers: { 'x-amz-copy-source': `/${Bucket}/a%00b` } });
    expect(copy.status).to.equal(400);
    expect(copy.text).to.contain('<Code>InvalidArgument</Code>');
  });

  it('BucketView refuses what no URL can carry (an empty key, a lone surrogate) before the store sees it', async () => {
    const view = new BucketView(srv.router.resolve(Bucket));
    const codeOf = async (p: Promise<unknown>): Promise<string | undefined> => {
      try {
        await p;
        return undefined;
      } catch (err) {
        return isS3Error(err) ? err.code : String(err);
      }
    };
    expect(await codeOf(view.putObject('', Readable.from(['x']), { userMetadata: {} }, { size: 1 }))).to.equal('InvalidArgument');
    expect(await codeOf(view.headObject('lone \uD800 surrogate'))).to.equal('InvalidArgument');
    expect(await codeOf(view.createUpload('', { userMetadata: {} }))).to.equal('InvalidArgument');
    const src = new BucketView(srv.router.resolve(Bucket));
    expect(await codeOf(view.nativeCopyFrom(src, 'nul\0', 'dst', undefined))).to.equal('InvalidArgument');
  });
});
