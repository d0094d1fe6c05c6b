import { expect } from 'chai';
import {
  CopyObjectCommand,
  CreateBucketCommand,
  CreateMultipartUploadCommand,
  HeadObjectCommand,
  ListObjectsCommand,
  ListObjectsV2Command,
  PutObjectCommand,
  S3ServiceException,
  UploadPartCommand,
} from '@aws-sdk/client-s3';
import { startTestServer, ACCESS_KEY, SECRET_KEY, type TestServer } from '../helpers/server';
import { signedFetch } from '../helpers/sign';

const CREDS = { accessKeyId: ACCESS_KEY, secretAccessKey: SECRET_KEY };
const utf8Sort = (keys: string[]) => [...keys].sort((a, b) => Buffer.compare(Buffer.from(a), Buffer.from(b)));

describe('protocol: listing', () => {
  let srv: TestServer;
  const Bucket = 'listing';
  const keys = [
    'a',
    'a-b',
    'a/b',
    'a/c/d',
    'a/c/e',
    'aé',
    'a😀',
    'a\uffee',
    'B',
    'b',
    'b/',
    'b/x',
    'c d/e',
    'photos/2024/x.jpg',
    'photos/2024/y.jpg',
    'photos/2025/z.jpg',
    'z',
  ];
  before(async () => {
    srv = await startTestServer();
    await srv.s3.send(new CreateBucketCommand({ Bucket }));
    for (const Key of keys) await srv.s3.send(new PutObjectCommand({ Bucket, Key, Body: Key }));
  });
  after(async () => {
    await srv.stop();
  });

  it('lists every key in UTF-8 binary order (v2) with KeyCount', async () => {
    const r = await srv.s3.send(new ListObjectsV2Command({ Bucket }));
    expect(r.Contents?.map((c) => c.Key)).to.deep.equal(utf8Sort(keys));
    expect(r.KeyCount).to.equal(keys.length);
    expect(r.IsTruncated).to.equal(false);
    const first = r.Contents![0];
    expect(first.Size).to.equal(1);
    expect(first.ETag).to.match(/^"[0-9a-f]{32}"$/);
    expect(first.StorageClass).to.equal('STANDARD');
    expect(first.Owner).to.equal(undefined);
  });

  it('names the bucket\u2019s region in x-amz-bucket-region on ListObjects, ListObjectsV2 and HeadBucket, as S3 does', async () => {
    // LocalStack's AWS-validated test_region_header_exists and test_bucket_name_with_dots see it on both.
    for (const query of [{}, { 'list-type': '2' }] as Array<Record<string, string>>) {
      const r = await signedFetch(srv.url, CREDS, 'GET', `/${Bucket}`, { query });
      expect(r.status).to.equal(200);
      expect(r.headers['x-amz-bucket-region'], JSON.stringify(query)).to.equal('us-east-1');
    }
    // HeadBucket: the region and, as S3 sends it, x-amz-access-point-alias (LocalStack's AWS-validated test_create_bucket_head_bucket).
    const head = await signedFetch(srv.url, CREDS, 'HEAD', `/${Bucket}`);
    expect([head.headers['x-amz-bucket-region'], head.headers['x-amz-access-point-alias']]).to.deep.equal(['us-east-1', 'false']);
  });

  it('writes every date in whole seconds, as S3 does: a listing names the second HEAD names', async () => {
    const B = 'whole-seconds';
    await srv.s3.send(new CreateBucketCommand({ Bucket: B }));
    // Several writes: the store keeps milliseconds, and at least one of them is not .000.
    for (let i = 0; i < 5; i++) await srv.s3.send(new PutObjectCommand({ Bucket: B, Key: `k${i}`, Body: 'x' }));
    await srv.s3.send(new CopyObjectCommand({ Bucket: B, Key: 'copy', CopySource: `${B}/k0` }));
    const up = await srv.s3.send(new CreateMultipartUploadCommand({ Bucket: B, Key: 'mp' }));
    await srv.s3.send(new UploadPartCommand({ Bucket: B, Key: 'mp', UploadId: up.UploadId, PartNumber: 1, Body: 'part' }));
    const dates = (text: string) => [...text.matchAll(/<(LastModified|Initiated|CreationDate)>([^<]*)</g)].map((m) => m[2]);
    const answers = [
      await signedFetch(srv.url, CREDS, 'GET', `/${B}`, { query: { 'list-type': '2' } }),
      await signedFetch(srv.url, CREDS, 'GET', `/${B}`),
      await signedFetch(srv.url, CREDS, 'GET', `/${B}`, { query: { versions: '' } }),
      await signedFetch(srv.url, CREDS, 'GET', `/${B}`, { query: { uploads: '' } }),
      await signedFetch(srv.url, CREDS, 'GET', `/${B}/mp`, { query: { uploadId: up.UploadId! } }),
      await signedFetch(srv.url, CREDS, 'PUT', `/${B}/copy2`, { headers: { 'x-amz-copy-source': `/${B}/k1` } }),
      await signedFetch(srv.url, CREDS, 'GET', '/'),
    ];
    for (const a of answers) {
      expect(a.status, a.text).to.equal(200);
      expect(dates(a.text), a.text).to.have.length.above(0);
      for (const d of dates(a.text)) expect(d).to.match(/^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.000Z$/);
    }
    const listed = await srv.s3.send(new ListObjectsV2Command({ Bucket: B }));
    for (const o of listed.Contents!) {
      const head = await srv.s3.send(new HeadObjectCommand({ Bucket: B, Key: o.Key }));
      expect(o.LastModified!.getTime(), o.Key).to.equal(head.LastModified!.getTime());
    }
  });

  it('returns LastModified as an ISO 8601 date and Owner with fetch-owner', async () => {
    const raw = await signedFetch(srv.url, CREDS, 'GET', `/${Bucket}`, {
      query: { 'list-type': '2', 'fetch-owner': 'true', 'max-keys': '1' },
    });
    expect(raw.text).to.match(/<LastModified>\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}Z<\/LastModified>/);
    expect(raw.text).to.contain('<Owner><ID>');
    expect(raw.text).to.contain('xmlns="http://s3.amazonaws.com/doc/2006-03-01/"');
  });

  it('groups by delimiter into CommonPrefixes, for "/" and other strings', async () => {
    const r = await srv.s3.send(new ListObjectsV2Command({ Bucket, Delimiter: '/' }));
    expect(r.CommonPrefixes?.map((p) => p.Prefix)).to.deep.equal(['a/', 'b/', 'c d/', 'photos/']);
    expect(r.Contents?.map((c) => c.Key)).to.deep.equal(utf8Sort(['a', 'a-b', 'aé', 'a😀', 'a\uffee', 'B', 'b', 'z']));
    const p = await srv.s3.send(new ListObjectsV2Command({ Bucket, Prefix: 'photos/', Delimiter: '/' }));
    expect(p.CommonPrefixes?.map((x) => x.Prefix)).to.deep.equal(['photos/2024/', 'photos/2025/']);
    expect(p.Contents ?? []).to.have.length(0);
    const dash = await srv.s3.send(new ListObjectsV2Command({ Bucket, Prefix: 'a', Delimiter: '-' }));
    expect(dash.CommonPrefixes?.map((x) => x.Prefix)).to.deep.equal(['a-']);
    const multi = await srv.s3.send(new ListObjectsV2Command({ Bucket, Delimiter: '/2' }));
    expect(multi.CommonPrefixes?.map((x) => x.Prefix)).to.deep.equal(['photos/2']);
  });

  it('pages through with continuation tokens and max-keys, no gaps or repeats', async () => {
    for (const [delimiter, maxKeys] of [
      [undefined, 1],
      [undefined, 3],
      ['/', 1],
      ['/', 2],
    ] as const) {
      const seen: string[] = [];
      let token: string | undefined;
      let pages = 0;
      do {
        const r = await srv.s3.send(new ListObjectsV2Command({ Bucket, MaxKeys: maxKeys, Delimiter: delimiter, ContinuationToken: token }));
        expect((r.Contents?.length ?? 0) + (r.CommonPrefixes?.length ?? 0)).to.be.at.most(maxKeys);
        // Contents and CommonPrefixes come as two lists; together they follow key order.
        seen.push(...utf8Sort([...(r.Contents ?? []).map((c) => c.Key!), ...(r.CommonPrefixes ?? []).map((c) => c.Prefix!)]));
        token = r.IsTruncated ? r.NextContinuationToken : undefined;
        if (r.IsTruncated) expect(token).to.be.a('string');
        expect(++pages).to.be.below(50);
      } while (token);
      const expected = delimiter
        ? utf8Sort(['a', 'a-b', 'aé', 'a😀', 'a\uffee', 'B', 'b', 'z', 'a/', 'b/', 'c d/', 'photos/'])
        : utf8Sort(keys);
      expect(seen, `${delimiter} ${maxKeys}`).to.deep.equal(expected);
    }
  });

  it('honours start-after (v2) and marker with NextMarker (v1)', async () => {
    const v2 = await srv.s3.send(new ListObjectsV2Command({ Bucket, StartAfter: 'photos/2024/x.jpg' }));
    expect(v2.Contents?.map((c) => c.Key)).to.deep.equal(['photos/2024/y.jpg', 'photos/2025/z.jpg', 'z']);
    expect(v2.StartAfter).to.equal('photos/2024/x.jpg');
    // With a continuation token S3 ignores start-after, and does not echo it either.
    const first = await srv.s3.send(new ListObjectsV2Command({ Bucket, StartAfter: 'photos/2024/x.jpg', MaxKeys: 1 }));
    const next = await srv.s3.send(
      new ListObjectsV2Command({ Bucket, StartAfter: 'z', ContinuationToken: first.NextContinuationToken, MaxKeys: 1 }),
    );
    expect([next.Contents?.map((c) => c.Key), next.StartAfter]).to.deep.equal([['photos/2025/z.jpg'], undefined]);
    const seen: string[] = [];
    let marker: string | undefined;
    for (let i = 0; i < 50; i++) {
      const r = await srv.s3.send(new ListObjectsCommand({ Bucket, MaxKeys: 4, Marker: marker }));
      seen.push(...(r.Contents ?? []).map((c) => c.Key!));
      if (!r.IsTruncated) break;
      expect(r.NextMarker).to.be.a('string');
      marker = r.NextMarker;
    }
    expect(seen).to.deep.equal(utf8Sort(keys));
    const withSpace = await srv.s3.send(new ListObjectsCommand({ Bucket, Marker: 'c d/e' }));
    expect(withSpace.Contents?.map((c) => c.Key)).to.deep.equal(['photos/2024/x.jpg', 'photos/2024/y.jpg', 'photos/2025/z.jpg', 'z']);
  });

  it('skips the common prefix a marker lies in: it sorts before the marker (v1 marker, v2 start-after)', async () => {
    // S3 lists only what sorts after the marker; photos/2024/ sorts before photos/2024/x.jpg even
    // though photos/2024/y.jpg follows it (LocalStack's AWS-validated manual-first-file snapshot).
    const v1 = await srv.s3.send(new ListObjectsCommand({ Bucket, Prefix: 'photos/', Delimiter: '/', Marker: 'photos/2024/x.jpg' }));
    expect(v1.CommonPrefixes?.map((p) => p.Prefix)).to.deep.equal(['photos/2025/']);
    const one = await srv.s3.send(new ListObjectsCommand({ Bucket, Delimiter: '/', Marker: 'photos/2024/x.jpg', MaxKeys: 1 }));
    expect([one.CommonPrefixes, one.Contents?.map((c) => c.Key), one.IsTruncated]).to.deep.equal([undefined, ['z'], false]);
    const v2 = await srv.s3.send(new ListObjectsV2Command({ Bucket, Prefix: 'photos/', Delimiter: '/', StartAfter: 'photos/2024/x.jpg' }));
    expect([v2.CommonPrefixes?.map((p) => p.Prefix), v2.KeyCount]).to.deep.equal([['photos/2025/'], 1]);
  });

  it('URL-encodes names with encoding-type=url', async () => {
    const raw = await signedFetch(srv.url, CREDS, 'GET', `/${Bucket}`, {
      query: { 'list-type': '2', prefix: 'c d', 'encoding-type': 'url' },
    });
    expect(raw.text).to.contain('<Key>c%20d/e</Key>');
    expect(raw.text).to.contain('<Prefix>c%20d</Prefix>');
    expect(raw.text).to.contain('<EncodingType>url</EncodingType>');
    const sdk = await srv.s3.send(new ListObjectsV2Command({ Bucket, Prefix: 'a', EncodingType: 'url' }));
    expect(sdk.Contents?.map((c) => decodeURIComponent(c.Key!))).to.include('aé');
  });

  it('caps max-keys at 1000, answers max-keys=0 empty, rejects bad values', async () => {
    const zero = await srv.s3.send(new ListObjectsV2Command({ Bucket, MaxKeys: 0 }));
    expect(zero.KeyCount).to.equal(0);
    expect(zero.IsTruncated).to.equal(false);
    const big = await signedFetch(srv.url, CREDS, 'GET', `/${Bucket}`, { query: { 'list-type': '2', 'max-keys': '5000' } });
    expect(big.text).to.contain('<MaxKeys>1000</MaxKeys>');
    const bad = await signedFetch(srv.url, CREDS, 'GET', `/${Bucket}`, { query: { 'list-type': '2', 'max-keys': 'ten' } });
    expect(bad.status).to.equal(400);
    expect(bad.text).to.contain('<Code>InvalidArgument</Code>');
    const badToken = await signedFetch(srv.url, CREDS, 'GET', `/${Bucket}`, { query: { 'list-type': '2', 'continuation-token': '!!!' } });
    expect(badToken.text).to.contain('<Code>InvalidArgument</Code>');
    try {
      await srv.s3.send(new ListObjectsV2Command({ Bucket: 'no-such-listing' }));
      expect.fail('should fail');
    } catch (e) {
      expect((e as S3ServiceException).name).to.equal('NoSuchBucket');
    }
  });

  it('lists with the minio client (v2, recursive and not)', async () => {
    const names: string[] = [];
    for await (const o of srv.minio.listObjectsV2(Bucket, 'photos/', true)) names.push((o as { name: string }).name);
    expect(names).to.deep.equal(['photos/2024/x.jpg', 'photos/2024/y.jpg', 'photos/2025/z.jpg']);
    const top: string[] = [];
    for await (const o of srv.minio.listObjects(Bucket, 'photos/', false))
      top.push((o as { prefix?: string; name?: string }).prefix ?? (o as { name: string }).name);
    expect(top).to.deep.equal(['photos/2024/', 'photos/2025/']);
  });
});
