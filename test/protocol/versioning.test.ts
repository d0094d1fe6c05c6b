/** Bucket versioning through the AWS SDK v3 (on fs, or memory with S3MUX_TEST_BACKEND=memory). */
import { randomBytes } from 'node:crypto';
import { existsSync, readFileSync } from 'node:fs';
import path from 'node:path';
import { expect } from 'chai';
import {
  CompleteMultipartUploadCommand,
  CopyObjectCommand,
  CreateBucketCommand,
  CreateMultipartUploadCommand,
  DeleteBucketCommand,
  DeleteObjectCommand,
  DeleteObjectsCommand,
  GetBucketVersioningCommand,
  GetObjectAttributesCommand,
  GetObjectCommand,
  GetObjectTaggingCommand,
  HeadBucketCommand,
  HeadObjectCommand,
  ListObjectVersionsCommand,
  ListObjectsV2Command,
  PutBucketVersioningCommand,
  PutObjectCommand,
  PutObjectTaggingCommand,
  UploadPartCommand,
  UploadPartCopyCommand,
  type ListObjectVersionsCommandOutput,
} from '@aws-sdk/client-s3';
import { startTestServer, ACCESS_KEY, SECRET_KEY, type TestServer } from '../helpers/server';
import { signedFetch } from '../helpers/sign';
import { errorOf } from '../helpers/errors';
import { awsCliEnv, run } from '../helpers/processes';

const CREDS = { accessKeyId: ACCESS_KEY, secretAccessKey: SECRET_KEY };
const onFs = process.env.S3MUX_TEST_BACKEND === undefined || process.env.S3MUX_TEST_BACKEND === 'fs';
const MiB = 1024 * 1024;

describe('protocol: versioning', function () {
  this.timeout(60_000);
  let srv: TestServer;
  let n = 0;
  const fresh = async (versioning?: 'Enabled' | 'Suspended'): Promise<string> => {
    const Bucket = `ver-${++n}-${Date.now().toString(36)}`;
    await srv.s3.send(new CreateBucketCommand({ Bucket }));
    if (versioning) await srv.s3.send(new PutBucketVersioningCommand({ Bucket, VersioningConfiguration: { Status: versioning } }));
    return Bucket;
  };
  const put = (Bucket: string, Key: string, Body: string | Buffer, extra: Record<string, unknown> = {}) =>
    srv.s3.send(new PutObjectCommand({ Bucket, Key, Body, ...extra }));
  const text = async (Bucket: string, Key: string, VersionId?: string) => {
    const r = await srv.s3.send(new GetObjectCommand({ Bucket, Key, VersionId }));
    return { body: await r.Body!.transformToString(), versionId: r.VersionId, r };
  };
  const versions = async (Bucket: string, extra: Record<string, unknown> = {}): Promise<ListObjectVersionsCommandOutput> =>
    srv.s3.send(new ListObjectVersionsCommand({ Bucket, ...extra }));

  before(async () => {
    srv = await startTestServer();
  });
  after(async () => {
    await srv.stop();
  });

  describe('bucket state', () => {
    it('a new bucket answers an empty configuration; Enabled and Suspended are kept', async () => {
      const Bucket = await fresh();
      expect((await srv.s3.send(new GetBucketVersioningCommand({ Bucket }))).Status).to.equal(undefined);
      await srv.s3.send(new PutBucketVersioningCommand({ Bucket, VersioningConfiguration: { Status: 'Enabled' } }));
      expect((await srv.s3.send(new GetBucketVersioningCommand({ Bucket }))).Status).to.equal('Enabled');
      await srv.s3.send(new PutBucketVersioningCommand({ Bucket, VersioningConfiguration: { Status: 'Suspended' } }));
      expect((await srv.s3.send(new GetBucketVersioningCommand({ Bucket }))).Status).to.equal('Suspended');
    });

    it('refuses MFA delete, a status S3 does not define and a missing bucket', async () => {
      const Bucket = await fresh();
      const mfa = await errorOf(
        srv.s3.send(new PutBucketVersioningCommand({ Bucket, VersioningConfiguration: { Status: 'Enabled', MFADelete: 'Enabled' } })),
      );
      expect(mfa.name).to.equal('NotImplemented');
      const bad = await signedFetch(srv.url, CREDS, 'PUT', `/${Bucket}`, {
        query: { versioning: '' },
        body: '<VersioningConfiguration><Status>On</Status></VersioningConfiguration>',
      });
      expect(bad.status).to.equal(400);
      expect(bad.text).to.contain('<Code>MalformedXML</Code>');
      expect((await srv.s3.send(new GetBucketVersioningCommand({ Bucket }))).Status).to.equal(undefined);
      const empty = await errorOf(srv.s3.send(new PutBucketVersioningCommand({ Bucket, VersioningConfiguration: {} })));
      expect([empty.name, empty.message, empty.$metadata.httpStatusCode]).to.deep.equal([
        'IllegalVersioningConfigurationException',
        'The Versioning element must be specified',
        400,
      ]);
      const missing = await errorOf(
        srv.s3.send(new PutBucketVersioningCommand({ Bucket: 'no-such-bucket-v', VersioningConfiguration: { Status: 'Enabled' } })),
      );
      expect(missing.name).to.equal('NoSuchBucket');
    });
  });

  describe('deleting the bucket', () => {
    it('refuses BucketNotEmpty while any version or delete marker is left, even with no current object', async () => {
      for (const status of ['Enabled', 'Suspended'] as const) {
        const Bucket = await fresh('Enabled');
        const first = await put(Bucket, 'kept', 'old bytes');
        await srv.s3.send(new DeleteObjectCommand({ Bucket, Key: 'kept' }));
        await srv.s3.send(new DeleteObjectCommand({ Bucket, Key: 'never-written' }));
        await srv.s3.send(new PutBucketVersioningCommand({ Bucket, VersioningConfiguration: { Status: status } }));
        expect((await srv.s3.send(new ListObjectsV2Command({ Bucket }))).KeyCount, status).to.equal(0);
        const refused = await errorOf(srv.s3.send(new DeleteBucketCommand({ Bucket })));
        expect([refused.name, refused.$metadata.httpStatusCode], status).to.deep.equal(['BucketNotEmpty', 409]);
        expect((await text(Bucket, 'kept', first.VersionId)).body, status).to.equal('old bytes');
        // Only the markers left: still not empty.
        await srv.s3.send(new DeleteObjectCommand({ Bucket, Key: 'kept', VersionId: first.VersionId }));
        const markers = await errorOf(srv.s3.send(new DeleteBucketCommand({ Bucket })));
        expect(markers.name, status).to.equal('BucketNotEmpty');
        for (const m of (await versions(Bucket)).DeleteMarkers ?? [])
          await srv.s3.send(new DeleteObjectCommand({ Bucket, Key: m.Key, VersionId: m.VersionId }));
        await srv.s3.send(new DeleteBucketCommand({ Bucket }));
        expect((await errorOf(srv.s3.send(new HeadBucketCommand({ Bucket })))).$metadata.httpStatusCode, status).to.equal(404);
      }
    });
  });

  describe('versions of one key', () => {
    it('every PUT makes a version; GET, HEAD and attributes read any of them; the latest is at its name', async () => {
      const Bucket = await fresh('Enabled');
      const v1 = await put(Bucket, 'doc.txt', 'one', { ContentType: 'text/plain', Metadata: { n: '1' } });
      const v2 = await put(Bucket, 'doc.txt', 'two!', { ContentType: 'text/x-two', Metadata: { n: '2' } });
      expect(v1.VersionId).to.match(/^[0-9a-f]{32}$/);
      expect(v2.VersionId).to.match(/^[0-9a-f]{32}$/);
      expect(v2.VersionId! > v1.VersionId!).to.equal(true);
      const latest = await text(Bucket, 'doc.txt');
      expect(latest.body).to.equal('two!');
      expect(latest.versionId).to.equal(v2.VersionId);
      const old = await text(Bucket, 'doc.txt', v1.VersionId);
      expect(old.body).to.equal('one');
      expect(old.r.ContentType).to.equal('text/plain');
      expect(old.r.Metadata).to.deep.equal({ n: '1' });
      expect(old.r.ETag).to.equal(v1.ETag);
      const range = await srv.s3.send(new GetObjectCommand({ Bucket, Key: 'doc.txt', VersionId: v1.VersionId, Range: 'bytes=1-1' }));
      expect(await range.Body!.transformToString()).to.equal('n');
      expect(range.ContentRange).to.equal('bytes 1-1/3');
      const head = await srv.s3.send(new HeadObjectCommand({ Bucket, Key: 'doc.txt', VersionId: v1.VersionId }));
      expect(head.ContentLength).to.equal(3);
      expect(head.VersionId).to.equal(v1.VersionId);
      const attrs = await srv.s3.send(
        new GetObjectAttributesCommand({ Bucket, Key: 'doc.txt', VersionId: v1.VersionId, ObjectAttributes: ['ETag', 'ObjectSize'] }),
      );
      expect(attrs.ObjectSize).to.equal(3);
      expect(attrs.VersionId).to.equal(v1.VersionId);
      if (onFs) expect(readFileSync(path.join(srv.dataDir, Bucket, 'doc.txt'), 'utf8')).to.equal('two!');
      // A plain listing shows the current object once.
      const listed = await srv.s3.send(new ListObjectsV2Command({ Bucket }));
      expect(listed.Contents?.map((c) => [c.Key, c.Size])).to.deep.equal([['doc.txt', 4]]);
    });

    it('keeps every one of 40 concurrent PUTs to one key as a version, as S3 does (none fails with OperationAborted)', async () => {
      const Bucket = await fresh('Enabled');
      const results = await Promise.allSettled(Array.from({ length: 40 }, (_, i) => put(Bucket, 'hot.txt', `write ${i}`)));
      expect(results.flatMap((r) => (r.status === 'rejected' ? [String(r.reason)] : []))).to.deep.equal([]);
      const ids = results.map((r) => (r.status === 'fulfilled' ? r.value.VersionId : undefined));
      const listed = await srv.s3.send(new ListObjectVersionsCommand({ Bucket }));
      expect(listed.Versions?.map((v) => v.VersionId).sort()).to.deep.equal([...ids].sort());
      const latest = listed.Versions?.find((v) => v.IsLatest);
      expect((await text(Bucket, 'hot.txt')).versionId).to.equal(latest?.VersionId);
    });

    it('answers NoSuchVersion for an unknown id and InvalidArgument for a malformed one', async () => {
      const Bucket = await fresh('Enabled');
      await put(Bucket, 'k', 'x');
      const unknown = await errorOf(text(Bucket, 'k', '0'.repeat(32)));
      expect(unknown.name).to.equal('NoSuchVersion');
      const bad = await signedFetch(srv.url, CREDS, 'GET', `/${Bucket}/k`, { query: { versionId: 'not-a-version' } });
      expect(bad.status).to.equal(400);
      expect(bad.text).to.contain('<Code>InvalidArgument</Code>');
      // versionId= (empty) has S3's own message, on every call that takes a version.
      for (const [method, subresource] of [
        ['GET', ''],
        ['DELETE', ''],
        ['GET', 'tagging'],
        ['DELETE', 'tagging'],
        ['GET', 'attributes'],
      ] as const) {
        const query: Record<string, string> = { versionId: '' };
        if (subresource) query[subresource] = '';
        const headers: Record<string, string> = subresource === 'attributes' ? { 'x-amz-object-attributes': 'ETag' } : {};
        const empty = await signedFetch(srv.url, CREDS, method, `/${Bucket}/k`, { query, headers });
        expect([empty.status, /<Message>(.*)<\/Message>/.exec(empty.text)?.[1]], `${method} ?${subresource}`).to.deep.equal([
          400,
          'Version id cannot be the empty string',
        ]);
      }
    });

    it('refuses a version id given to an operation that takes none: InvalidArgument, as S3 answers (not NotImplemented)', async () => {
      const Bucket = await fresh('Enabled');
      const { VersionId } = await put(Bucket, 'k', 'x');
      // PutObject (Scality's versioning objectPut, run against AWS too), UploadPart (recorded from
      // AWS: even a real version id) and a bucket's listing.
      const upload = await srv.s3.send(new CreateMultipartUploadCommand({ Bucket, Key: 'k' }));
      for (const [method, p, query] of [
        ['PUT', `/${Bucket}/k`, { versionId: 'testVersionId' }],
        ['PUT', `/${Bucket}/k`, { versionId: '' }],
        ['PUT', `/${Bucket}/k`, { versionId: VersionId!, partNumber: '1', uploadId: upload.UploadId! }],
        ['GET', `/${Bucket}`, { versionId: 'x', 'list-type': '2' }],
      ] as const) {
        const r = await signedFetch(srv.url, CREDS, method, p, { query, body: method === 'PUT' ? 'y' : undefined });
        expect(
          [r.status, /<Code>(.*)<\/Code>/.exec(r.text)?.[1], /<Message>(.*)<\/Message>/.exec(r.text)?.[1]],
          `${method} ${p}`,
        ).to.deep.equal([400, 'InvalidArgument', 'This operation does not accept a version-id.']);
      }
      expect((await text(Bucket, 'k')).body).to.equal('x');
    });

    it('a conditional DELETE checks the current version: a mismatch adds no marker, a delete marker fails If-Match', async () => {
      const Bucket = await fresh('Enabled');
      const v1 = await put(Bucket, 'cond.txt', 'data');
      const wrong = await errorOf(srv.s3.send(new DeleteObjectCommand({ Bucket, Key: 'cond.txt', IfMatch: '"0123"' })));
      expect(wrong.name).to.equal('PreconditionFailed');
      expect((await versions(Bucket)).DeleteMarkers ?? []).to.have.length(0);
      expect((await text(Bucket, 'cond.txt')).body).to.equal('data');
      const del = await srv.s3.send(new DeleteObjectCommand({ Bucket, Key: 'cond.txt', IfMatch: v1.ETag }));
      expect(del.DeleteMarker).to.equal(true);
      const onMarker = await errorOf(srv.s3.send(new DeleteObjectCommand({ Bucket, Key: 'cond.txt', IfMatch: '*' })));
      expect(onMarker.name).to.equal('PreconditionFailed');
      expect((await versions(Bucket)).DeleteMarkers ?? []).to.have.length(1);
    });

    it('DELETE adds a delete marker: GET answers 404 with x-amz-delete-marker, the marker id 405, older versions stay', async () => {
      const Bucket = await fresh('Enabled');
      const v1 = await put(Bucket, 'gone.txt', 'data');
      const del = await srv.s3.send(new DeleteObjectCommand({ Bucket, Key: 'gone.txt' }));
      expect(del.DeleteMarker).to.equal(true);
      expect(del.VersionId).to.match(/^[0-9a-f]{32}$/);
      const r = await signedFetch(srv.url, CREDS, 'GET', `/${Bucket}/gone.txt`);
      expect(r.status).to.equal(404);
      expect(r.headers['x-amz-delete-marker']).to.equal('true');
      expect(r.headers['x-amz-version-id']).to.equal(del.VersionId);
      // S3 names the key in the error, as for a key never written.
      expect(r.text).to.contain('<Code>NoSuchKey</Code>').and.contain('<Key>gone.txt</Key>');
      const attributes = await signedFetch(srv.url, CREDS, 'GET', `/${Bucket}/gone.txt`, {
        query: { attributes: '' },
        headers: { 'x-amz-object-attributes': 'ETag' },
      });
      expect(attributes.text).to.contain('<Code>NoSuchKey</Code>').and.contain('<Key>gone.txt</Key>');
      // Its tags: S3 answers 405 on a delete marker, the latest one too (LocalStack's AWS-validated test_object_tagging_versioned).
      const tagging = await signedFetch(srv.url, CREDS, 'GET', `/${Bucket}/gone.txt`, { query: { tagging: '' } });
      expect([tagging.status, tagging.text]).to.satisfy(
        ([st, t]: [number, string]) => st === 405 && t.includes('<ResourceType>DeleteMarker</ResourceType>'),
      );
      const m = await signedFetch(srv.url, CREDS, 'GET', `/${Bucket}/gone.txt`, { query: { versionId: del.VersionId! } });
      expect(m.status).to.equal(405);
      expect(m.headers['x-amz-delete-marker']).to.equal('true');
      // ... and the method it can act with (Allow).
      expect(m.headers.allow).to.equal('DELETE');
      // As S3: the method and the kind of resource refused are named.
      expect(m.text)
        .to.contain('<Code>MethodNotAllowed</Code>')
        .and.contain('<Method>GET</Method><ResourceType>DeleteMarker</ResourceType>');
      // Its ACL: GetObjectAcl answers 404 as GET does, PutObjectAcl 405 as S3 answers them.
      const getAcl = await signedFetch(srv.url, CREDS, 'GET', `/${Bucket}/gone.txt`, { query: { acl: '' } });
      expect([getAcl.status, getAcl.text]).to.satisfy(([st, t]: [number, string]) => st === 404 && t.includes('<Code>NoSuchKey</Code>'));
      const putAcl = await signedFetch(srv.url, CREDS, 'PUT', `/${Bucket}/gone.txt`, {
        query: { acl: '' },
        headers: { 'x-amz-acl': 'private' },
      });
      expect(putAcl.status).to.equal(405);
      expect(putAcl.headers['x-amz-delete-marker']).to.equal('true');
      expect(putAcl.text)
        .to.contain('<Code>MethodNotAllowed</Code>')
        .and.contain('<Method>PUT</Method><ResourceType>DeleteMarker</ResourceType>');
      const h = await signedFetch(srv.url, CREDS, 'HEAD', `/${Bucket}/gone.txt`);
      expect(h.status).to.equal(404);
      expect(h.headers['x-amz-delete-marker']).to.equal('true');
      expect((await text(Bucket, 'gone.txt', v1.VersionId)).body).to.equal('data');
      if (onFs) expect(existsSync(path.join(srv.dataDir, Bucket, 'gone.txt'))).to.equal(false);
      expect((await srv.s3.send(new ListObjectsV2Command({ Bucket }))).KeyCount).to.equal(0);
      // Removing the marker brings the object back.
      const undo = await srv.s3.send(new DeleteObjectCommand({ Bucket, Key: 'gone.txt', VersionId: del.VersionId }));
      expect(undo.DeleteMarker).to.equal(true);
      expect(undo.VersionId).to.equal(del.VersionId);
      expect((await text(Bucket, 'gone.txt')).body).to.equal('data');
      if (onFs) expect(readFileSync(path.join(srv.dataDir, Bucket, 'gone.txt'), 'utf8')).to.equal('data');
    });

    it('DELETE with a version id removes that version for good; removing the latest makes the previous one current', async () => {
      const Bucket = await fresh('Enabled');
      const v1 = await put(Bucket, 'k', 'first');
      const v2 = await put(Bucket, 'k', 'second');
      const d = await srv.s3.send(new DeleteObjectCommand({ Bucket, Key: 'k', VersionId: v2.VersionId }));
      expect(d.VersionId).to.equal(v2.VersionId);
      expect(d.DeleteMarker).to.equal(undefined);
      expect((await text(Bucket, 'k')).body).to.equal('first');
      const gone = await signedFetch(srv.url, CREDS, 'GET', `/${Bucket}/k`, { query: { versionId: v2.VersionId! } });
      expect([gone.status, /<Code>(.*)<\/Code>/.exec(gone.text)?.[1]]).to.deep.equal([404, 'NoSuchVersion']);
      expect(gone.text).to.contain(`<Key>k</Key><VersionId>${v2.VersionId}</VersionId>`);
      await srv.s3.send(new DeleteObjectCommand({ Bucket, Key: 'k', VersionId: v1.VersionId }));
      expect((await errorOf(text(Bucket, 'k'))).name).to.equal('NoSuchKey');
      expect((await versions(Bucket)).Versions ?? []).to.have.length(0);
    });

    it('tags belong to a version', async () => {
      const Bucket = await fresh('Enabled');
      const v1 = await put(Bucket, 'k', 'a', { Tagging: 'v=1' });
      const v2 = await put(Bucket, 'k', 'b');
      await srv.s3.send(
        new PutObjectTaggingCommand({ Bucket, Key: 'k', VersionId: v1.VersionId, Tagging: { TagSet: [{ Key: 'x', Value: 'old' }] } }),
      );
      await srv.s3.send(new PutObjectTaggingCommand({ Bucket, Key: 'k', Tagging: { TagSet: [{ Key: 'x', Value: 'new' }] } }));
      const t1 = await srv.s3.send(new GetObjectTaggingCommand({ Bucket, Key: 'k', VersionId: v1.VersionId }));
      expect(t1.TagSet).to.deep.equal([{ Key: 'x', Value: 'old' }]);
      expect(t1.VersionId).to.equal(v1.VersionId);
      const t2 = await srv.s3.send(new GetObjectTaggingCommand({ Bucket, Key: 'k' }));
      expect(t2.TagSet).to.deep.equal([{ Key: 'x', Value: 'new' }]);
      expect(t2.VersionId).to.equal(v2.VersionId);
    });
    it('tagging a delete marker, by its id or as the latest, is refused with 405 naming the method, as S3 does', async () => {
      const Bucket = await fresh('Enabled');
      await put(Bucket, 'k', 'a');
      const marker = await srv.s3.send(new DeleteObjectCommand({ Bucket, Key: 'k' }));
      const body = '<Tagging><TagSet><Tag><Key>a</Key><Value>b</Value></Tag></TagSet></Tagging>';
      const queries: Record<string, string>[] = [{ tagging: '', versionId: marker.VersionId! }, { tagging: '' }];
      for (const query of queries) {
        for (const method of ['GET', 'PUT', 'DELETE'] as const) {
          const r = await signedFetch(srv.url, CREDS, method, `/${Bucket}/k`, { query, body: method === 'PUT' ? body : undefined });
          expect([r.status, /<Code>(.*)<\/Code>/.exec(r.text)?.[1], r.headers.allow], `${method} ${JSON.stringify(query)}`).to.deep.equal([
            405,
            'MethodNotAllowed',
            'DELETE',
          ]);
          expect(r.text).to.contain(`<Method>${method}</Method><ResourceType>DeleteMarker</ResourceType>`);
        }
      }
      // The object itself still answers NoSuchKey behind its marker.
      expect((await errorOf(text(Bucket, 'k'))).name).to.equal('NoSuchKey');
    });
  });

  describe('the null version', () => {
    it('objects written before versioning keep version null and stay readable as such', async () => {
      const Bucket = await fresh();
      const before = await put(Bucket, 'old.txt', 'pre');
      expect(before.VersionId).to.equal(undefined);
      await srv.s3.send(new PutBucketVersioningCommand({ Bucket, VersioningConfiguration: { Status: 'Enabled' } }));
      expect((await text(Bucket, 'old.txt')).versionId).to.equal('null');
      const v = await put(Bucket, 'old.txt', 'post');
      expect((await text(Bucket, 'old.txt', 'null')).body).to.equal('pre');
      expect((await text(Bucket, 'old.txt')).body).to.equal('post');
      const listed = await versions(Bucket);
      expect(listed.Versions?.map((x) => [x.Key, x.VersionId, x.IsLatest])).to.deep.equal([
        ['old.txt', v.VersionId, true],
        ['old.txt', 'null', false],
      ]);
    });

    it('a bucket never versioned serves ?versionId=null without an x-amz-version-id, as S3 does', async () => {
      const Bucket = await fresh();
      await put(Bucket, 'plain.txt', 'data');
      const got = await text(Bucket, 'plain.txt', 'null');
      expect([got.body, got.versionId]).to.deep.equal(['data', undefined]);
      const head = await srv.s3.send(new HeadObjectCommand({ Bucket, Key: 'plain.txt', VersionId: 'null' }));
      expect(head.VersionId).to.equal(undefined);
    });

    it('in a suspended bucket writes and deletes replace the null version, other versions stay', async () => {
      const Bucket = await fresh('Enabled');
      const v1 = await put(Bucket, 'k', 'kept');
      await srv.s3.send(new PutBucketVersioningCommand({ Bucket, VersioningConfiguration: { Status: 'Suspended' } }));
      const n1 = await put(Bucket, 'k', 'null-1');
      // S3 names no version on a write that makes the null version; a read of it says 'null'.
      expect(n1.VersionId).to.equal(undefined);
      expect((await srv.s3.send(new HeadObjectCommand({ Bucket, Key: 'k' }))).VersionId).to.equal('null');
      expect((await text(Bucket, 'k')).versionId).to.equal('null');
      await put(Bucket, 'k', 'null-2');
      let listed = await versions(Bucket);
      expect(listed.Versions?.map((x) => [x.VersionId, x.IsLatest])).to.deep.equal([
        ['null', true],
        [v1.VersionId, false],
      ]);
      expect((await text(Bucket, 'k', 'null')).body).to.equal('null-2');
      const del = await srv.s3.send(new DeleteObjectCommand({ Bucket, Key: 'k' }));
      expect(del.DeleteMarker).to.equal(true);
      expect(del.VersionId).to.equal('null');
      listed = await versions(Bucket);
      expect(listed.DeleteMarkers?.map((x) => [x.VersionId, x.IsLatest])).to.deep.equal([['null', true]]);
      expect(listed.Versions?.map((x) => x.VersionId)).to.deep.equal([v1.VersionId]);
    });

    it('an unversioned bucket serves versionId=null and lists its objects as null versions', async () => {
      const Bucket = await fresh();
      await put(Bucket, 'a', '1');
      expect((await text(Bucket, 'a', 'null')).body).to.equal('1');
      expect((await errorOf(text(Bucket, 'a', '0'.repeat(32)))).name).to.equal('NoSuchVersion');
      const listed = await versions(Bucket);
      expect(listed.Versions?.map((x) => [x.Key, x.VersionId, x.IsLatest])).to.deep.equal([['a', 'null', true]]);
      const plainDelete = await srv.s3.send(new DeleteObjectCommand({ Bucket, Key: 'a' }));
      expect(plainDelete.DeleteMarker).to.equal(undefined);
      expect((await errorOf(text(Bucket, 'a'))).name).to.equal('NoSuchKey');
    });
  });

  describe('other writes', () => {
    it('CopyObject and CompleteMultipartUpload in a suspended bucket name no version, as PutObject does', async () => {
      const Bucket = await fresh('Enabled');
      const src = await put(Bucket, 'src', 'source bytes');
      await srv.s3.send(new PutBucketVersioningCommand({ Bucket, VersioningConfiguration: { Status: 'Suspended' } }));
      const copied = await srv.s3.send(
        new CopyObjectCommand({ Bucket, Key: 'dst', CopySource: `${Bucket}/src?versionId=${src.VersionId}` }),
      );
      expect(copied.VersionId).to.equal(undefined);
      expect(copied.CopySourceVersionId).to.equal(src.VersionId);
      const { UploadId } = await srv.s3.send(new CreateMultipartUploadCommand({ Bucket, Key: 'mp' }));
      const p1 = await srv.s3.send(new UploadPartCommand({ Bucket, Key: 'mp', UploadId, PartNumber: 1, Body: 'only part' }));
      const done = await srv.s3.send(
        new CompleteMultipartUploadCommand({ Bucket, Key: 'mp', UploadId, MultipartUpload: { Parts: [{ PartNumber: 1, ETag: p1.ETag }] } }),
      );
      expect(done.VersionId).to.equal(undefined);
      const listed = await versions(Bucket);
      expect(listed.Versions?.filter((v) => v.Key !== 'src').map((v) => [v.Key, v.VersionId])).to.deep.equal([
        ['dst', 'null'],
        ['mp', 'null'],
      ]);
    });

    it('CopyObject copies a given version and names both versions', async () => {
      const Bucket = await fresh('Enabled');
      const v1 = await put(Bucket, 'src', 'version one');
      await put(Bucket, 'src', 'version two');
      const c = await srv.s3.send(new CopyObjectCommand({ Bucket, Key: 'dst', CopySource: `${Bucket}/src?versionId=${v1.VersionId}` }));
      expect(c.CopySourceVersionId).to.equal(v1.VersionId);
      expect(c.VersionId).to.match(/^[0-9a-f]{32}$/);
      expect((await text(Bucket, 'dst')).body).to.equal('version one');
      // Restoring an old version over its own key is allowed.
      const restore = await srv.s3.send(
        new CopyObjectCommand({ Bucket, Key: 'src', CopySource: `${Bucket}/src?versionId=${v1.VersionId}` }),
      );
      expect((await text(Bucket, 'src')).body).to.equal('version one');
      expect((await versions(Bucket, { Prefix: 'src' })).Versions?.map((v) => v.VersionId)[0]).to.equal(restore.VersionId);
    });

    it('a copy from a delete marker: by its id InvalidRequest, as the latest NoSuchKey naming the marker (AWS\u2019s recorded answers)', async () => {
      const Bucket = await fresh('Enabled');
      await put(Bucket, 'src', 'gone soon');
      const marker = await srv.s3.send(new DeleteObjectCommand({ Bucket, Key: 'src' }));
      const { UploadId } = await srv.s3.send(new CreateMultipartUploadCommand({ Bucket, Key: 'mp' }));
      const byId = `${Bucket}/src?versionId=${marker.VersionId}`;
      for (const copy of [
        () => srv.s3.send(new CopyObjectCommand({ Bucket, Key: 'dst', CopySource: byId })),
        () => srv.s3.send(new UploadPartCopyCommand({ Bucket, Key: 'mp', UploadId, PartNumber: 1, CopySource: byId })),
      ]) {
        const e = await errorOf(copy());
        expect([e.$metadata.httpStatusCode, e.name, e.message]).to.deep.equal([
          400,
          'InvalidRequest',
          'The source of a copy request may not specifically refer to a delete marker by version id.',
        ]);
      }
      const latest = await signedFetch(srv.url, CREDS, 'PUT', `/${Bucket}/dst`, { headers: { 'x-amz-copy-source': `/${Bucket}/src` } });
      expect([latest.status, latest.headers['x-amz-delete-marker'], latest.headers['x-amz-version-id']]).to.deep.equal([
        404,
        'true',
        marker.VersionId,
      ]);
    });

    it('CompleteMultipartUpload makes a version; UploadPartCopy reads a given version', async () => {
      const Bucket = await fresh('Enabled');
      const part1 = randomBytes(5 * MiB);
      const small = await put(Bucket, 'small', 'tail from v1');
      await put(Bucket, 'small', 'tail from v2');
      const first = await put(Bucket, 'big', 'before multipart');
      const { UploadId } = await srv.s3.send(new CreateMultipartUploadCommand({ Bucket, Key: 'big' }));
      const p1 = await srv.s3.send(new UploadPartCommand({ Bucket, Key: 'big', UploadId, PartNumber: 1, Body: part1 }));
      const p2 = await srv.s3.send(
        new UploadPartCopyCommand({
          Bucket,
          Key: 'big',
          UploadId,
          PartNumber: 2,
          CopySource: `${Bucket}/small?versionId=${small.VersionId}`,
        }),
      );
      expect(p2.CopySourceVersionId).to.equal(small.VersionId);
      const done = await srv.s3.send(
        new CompleteMultipartUploadCommand({
          Bucket,
          Key: 'big',
          UploadId,
          MultipartUpload: {
            Parts: [
              { PartNumber: 1, ETag: p1.ETag },
              { PartNumber: 2, ETag: p2.CopyPartResult!.ETag },
            ],
          },
        }),
      );
      expect(done.VersionId).to.match(/^[0-9a-f]{32}$/);
      const got = await srv.s3.send(new GetObjectCommand({ Bucket, Key: 'big' }));
      const bytes = Buffer.from(await got.Body!.transformToByteArray());
      expect(bytes.equals(Buffer.concat([part1, Buffer.from('tail from v1')]))).to.equal(true);
      expect(got.VersionId).to.equal(done.VersionId);
      expect(got.ETag).to.equal(done.ETag);
      expect((await text(Bucket, 'big', first.VersionId)).body).to.equal('before multipart');
    });

    it('DeleteObjects takes version ids and reports delete markers', async () => {
      const Bucket = await fresh('Enabled');
      const a1 = await put(Bucket, 'a', '1');
      await put(Bucket, 'b', '2');
      const r = await srv.s3.send(
        new DeleteObjectsCommand({ Bucket, Delete: { Objects: [{ Key: 'a', VersionId: a1.VersionId }, { Key: 'b' }] } }),
      );
      const byKey = Object.fromEntries((r.Deleted ?? []).map((d) => [d.Key, d]));
      expect(byKey.a.VersionId).to.equal(a1.VersionId);
      expect(byKey.a.DeleteMarker).to.equal(undefined);
      expect(byKey.b.DeleteMarker).to.equal(true);
      expect(byKey.b.DeleteMarkerVersionId).to.match(/^[0-9a-f]{32}$/);
      const listed = await versions(Bucket);
      expect(listed.Versions?.map((v) => v.Key)).to.deep.equal(['b']);
      expect(listed.DeleteMarkers?.map((v) => [v.Key, v.IsLatest])).to.deep.equal([['b', true]]);
    });

    it('DeleteObjects reports a version id never given out as NoSuchVersion, in a versioned bucket or not, as S3 does', async () => {
      for (const Bucket of [await fresh('Enabled'), await fresh()]) {
        await put(Bucket, 'k', 'x');
        const VersionId = 'HPniJFCxqTsMuIH9KX8K8wEjNUgmABCD';
        const r = await srv.s3.send(
          new DeleteObjectsCommand({
            Bucket,
            Delete: {
              Objects: [
                { Key: 'k', VersionId },
                { Key: 'none', VersionId },
              ],
            },
          }),
        );
        expect(r.Errors?.map((e) => [e.Key, e.VersionId, e.Code, e.Message])).to.deep.equal([
          ['k', VersionId, 'NoSuchVersion', 'The specified version does not exist.'],
          ['none', VersionId, 'NoSuchVersion', 'The specified version does not exist.'],
        ]);
        expect((await text(Bucket, 'k')).body).to.equal('x');
      }
    });
  });

  describe('ListObjectVersions', () => {
    it('lists keys in order, each newest first, with prefix, delimiter and paging by key and version markers', async () => {
      const Bucket = await fresh('Enabled');
      const ids: Record<string, string[]> = {};
      for (const key of ['b/2', 'a', 'b/1', 'a', 'c', 'b/1', 'a']) {
        const r = await put(Bucket, key, key);
        (ids[key] ??= []).unshift(r.VersionId!);
      }
      const all = await versions(Bucket);
      expect(all.Versions?.map((v) => [v.Key, v.VersionId, v.IsLatest])).to.deep.equal([
        ['a', ids.a[0], true],
        ['a', ids.a[1], false],
        ['a', ids.a[2], false],
        ['b/1', ids['b/1'][0], true],
        ['b/1', ids['b/1'][1], false],
        ['b/2', ids['b/2'][0], true],
        ['c', ids.c[0], true],
      ]);
      const folded = await versions(Bucket, { Delimiter: '/' });
      expect(folded.Versions?.map((v) => v.Key)).to.deep.equal(['a', 'a', 'a', 'c']);
      expect(folded.CommonPrefixes?.map((p) => p.Prefix)).to.deep.equal(['b/']);
      const prefixed = await versions(Bucket, { Prefix: 'b/' });
      expect(prefixed.Versions?.map((v) => v.Key)).to.deep.equal(['b/1', 'b/1', 'b/2']);
      // Pages of two, following the markers, give back the whole listing.
      const seen: Array<[string, string]> = [];
      let markers: { KeyMarker?: string; VersionIdMarker?: string } = {};
      for (let i = 0; i < 10; i++) {
        const page = await versions(Bucket, { MaxKeys: 2, ...markers });
        seen.push(...(page.Versions ?? []).map((v) => [v.Key!, v.VersionId!] as [string, string]));
        if (!page.IsTruncated) break;
        expect(page.Versions).to.have.length(2);
        markers = { KeyMarker: page.NextKeyMarker, VersionIdMarker: page.NextVersionIdMarker };
      }
      expect(seen).to.deep.equal(all.Versions?.map((v) => [v.Key, v.VersionId]));
      const afterA = await versions(Bucket, { KeyMarker: 'a' });
      expect(afterA.Versions?.[0].Key).to.equal('b/1');
    });

    it('a version-id marker whose version was deleted since still marks the place: older versions follow, as in S3', async () => {
      const Bucket = await fresh('Enabled');
      const ids: string[] = [];
      for (let i = 0; i < 5; i++) ids.unshift((await put(Bucket, 'prefixed_key', `v${i}`)).VersionId!);
      await put(Bucket, 'non_prefixed_key', 'x');
      const page1 = await versions(Bucket, { Prefix: 'prefix', MaxKeys: 3 });
      expect(page1.Versions?.map((v) => v.VersionId)).to.deep.equal(ids.slice(0, 3));
      await srv.s3.send(
        new DeleteObjectsCommand({
          Bucket,
          Delete: { Objects: (page1.Versions ?? []).map((v) => ({ Key: v.Key, VersionId: v.VersionId })) },
        }),
      );
      const page2 = await versions(Bucket, {
        Prefix: 'prefix',
        MaxKeys: 5,
        KeyMarker: page1.NextKeyMarker,
        VersionIdMarker: page1.NextVersionIdMarker,
      });
      expect(page2.Versions?.map((v) => [v.VersionId, v.IsLatest])).to.deep.equal([
        [ids[3], true],
        [ids[4], false],
      ]);
      expect(page2.IsTruncated).to.equal(false);
    });

    it('encodes keys with encoding-type=url', async () => {
      const Bucket = await fresh('Enabled');
      await put(Bucket, 'sp ace/é', 'x');
      const r = await signedFetch(srv.url, CREDS, 'GET', `/${Bucket}`, { query: { versions: '', 'encoding-type': 'url' } });
      expect(r.status).to.equal(200);
      expect(r.text).to.contain('<Key>sp%20ace/%C3%A9</Key>');
      expect(r.text).to.contain('<EncodingType>url</EncodingType>');
    });

    it('goes on after a key marker that names no key (deleted since the last page), with its version-id marker', async () => {
      // s3mux answered 500 InternalError: the marker's versions were read from an object that is not there.
      for (const status of ['Enabled', undefined] as const) {
        const Bucket = await fresh(status);
        await put(Bucket, 'a', 'A');
        await put(Bucket, 'c', 'C');
        const page = await versions(Bucket, { KeyMarker: 'b', VersionIdMarker: 'null' });
        expect((page.Versions ?? []).map((v) => v.Key)).to.deep.equal(['c']);
        const gone = await versions(Bucket, { KeyMarker: 'b/../../x', VersionIdMarker: 'null' });
        expect((gone.Versions ?? []).map((v) => v.Key)).to.deep.equal(['c']);
      }
    });

    it('refuses a version-id-marker without a key-marker', async () => {
      const Bucket = await fresh('Enabled');
      const r = await signedFetch(srv.url, CREDS, 'GET', `/${Bucket}`, { query: { versions: '', 'version-id-marker': 'null' } });
      expect(r.status).to.equal(400);
      expect(r.text).to.contain('<Code>InvalidArgument</Code>');
    });

    it('refuses a version-id-marker that is no version id before anything else, as S3 does (swift\u2019s test/s3api/test_versioning.py, run against AWS)', async () => {
      const Bucket = await fresh('Enabled');
      await put(Bucket, 'a', 'A');
      for (const query of [{ 'key-marker': 'a' }, { 'key-marker': '' }, {}] as Array<Record<string, string>>) {
        const r = await signedFetch(srv.url, CREDS, 'GET', `/${Bucket}`, {
          query: { versions: '', ...query, 'version-id-marker': 'bogus' },
        });
        expect(
          [r.status, /<Code>(\w+)<\/Code>/.exec(r.text)?.[1], /<Message>([^<]*)<\/Message>/.exec(r.text)?.[1]],
          JSON.stringify(query),
        ).to.deep.equal([400, 'InvalidArgument', 'Invalid version id specified']);
      }
      // A well-formed id without a key marker is still refused for the missing key marker.
      const r = await signedFetch(srv.url, CREDS, 'GET', `/${Bucket}`, { query: { versions: '', 'version-id-marker': 'a'.repeat(32) } });
      expect(/<Message>([^<]*)<\/Message>/.exec(r.text)?.[1]).to.equal('A version-id marker cannot be specified without a key marker.');
    });
  });

  describe('aws-cli and boto3', () => {
    const awsEnv = () => awsCliEnv(ACCESS_KEY, SECRET_KEY);
    const aws = async (...args: string[]) => {
      const r = await run('/usr/bin/aws', ['--endpoint-url', srv.url, 's3api', ...args, '--output', 'json'], '', awsEnv());
      expect(r.status, r.stderr).to.equal(0);
      const out = r.stdout;
      return (out.trim() ? JSON.parse(out) : {}) as Record<string, unknown>;
    };

    it('aws s3api put-bucket-versioning, put-object, list-object-versions, get-object --version-id, delete-object', async function () {
      if (!existsSync('/usr/bin/aws')) this.skip(); // skipped: /usr/bin/aws is not installed here
      const Bucket = await fresh();
      await aws('put-bucket-versioning', '--bucket', Bucket, '--versioning-configuration', 'Status=Enabled');
      expect(await aws('get-bucket-versioning', '--bucket', Bucket)).to.deep.equal({ Status: 'Enabled' });
      await put(Bucket, 'cli.txt', 'first');
      await put(Bucket, 'cli.txt', 'second');
      await aws('delete-object', '--bucket', Bucket, '--key', 'cli.txt');
      const listed = (await aws('list-object-versions', '--bucket', Bucket)) as {
        Versions: Array<{ Key: string; VersionId: string; IsLatest: boolean; Size: number }>;
        DeleteMarkers: Array<{ VersionId: string; IsLatest: boolean }>;
      };
      expect(listed.Versions.map((v) => [v.Key, v.Size, v.IsLatest])).to.deep.equal([
        ['cli.txt', 6, false],
        ['cli.txt', 5, false],
      ]);
      expect(listed.DeleteMarkers.map((m) => m.IsLatest)).to.deep.equal([true]);
      const out = path.join(srv.sandbox, 'cli-out.txt');
      await aws('get-object', '--bucket', Bucket, '--key', 'cli.txt', '--version-id', listed.Versions[1].VersionId, out);
      expect(readFileSync(out, 'utf8')).to.equal('first');
    });

    it('boto3: versions, delete markers, list_object_versions paginator and delete_objects with versions', async function () {
      if (!existsSync('/usr/bin/python3')) this.skip(); // skipped: /usr/bin/python3 is not installed here
      const Bucket = await fresh();
      const script = `
import json, sys, boto3
from botocore.config import Config
a = json.load(sys.stdin)
s3 = boto3.client('s3', endpoint_url=a['url'], aws_access_key_id=a['ak'], aws_secret_access_key=a['sk'], region_name='us-east-1',
                  config=Config(s3={'addressing_style': 'path'}))
b = a['bucket']
s3.put_bucket_versioning(Bucket=b, VersioningConfiguration={'Status': 'Enabled'})
ids = [s3.put_object(Bucket=b, Key='p/' + str(i % 3), Body=b'x' * i)['VersionId'] for i in range(7)]
marker = s3.delete_object(Bucket=b, Key='p/0')
seen = []
for page in s3.get_paginator('list_object_versions').paginate(Bucket=b, PaginationConfig={'PageSize': 2}):
    seen += [[v['Key'], v['VersionId'], v['IsLatest']] for v in page.get('Versions', [])]
    seen += [[m['Key'], m['VersionId'], 'marker'] for m in page.get('DeleteMarkers', [])]
old = s3.get_object(Bucket=b, Key='p/1', VersionId=ids[1])['Body'].read().decode()
gone = s3.delete_objects(Bucket=b, Delete={'Objects': [{'Key': 'p/2', 'VersionId': ids[2]}, {'Key': 'p/1'}]})
try:
    s3.head_object(Bucket=b, Key='p/0')
    head = 'found'
except Exception as e:
    head = e.response['Error']['Code']
print(json.dumps({'ids': ids, 'marker': marker, 'seen': seen, 'old': old, 'deleted': gone['Deleted'], 'head': head}, default=str))
`;
      const r = await run(
        '/usr/bin/python3',
        ['-c', script],
        JSON.stringify({ url: srv.url, ak: ACCESS_KEY, sk: SECRET_KEY, bucket: Bucket }),
      );
      if (r.status !== 0 && /No module named 'boto3'/.test(r.stderr)) this.skip(); // skipped: boto3 is not importable by /usr/bin/python3
      expect(r.status, r.stderr).to.equal(0);
      const out = JSON.parse(r.stdout) as {
        ids: string[];
        marker: { DeleteMarker: boolean; VersionId: string };
        seen: Array<[string, string, boolean | 'marker']>;
        old: string;
        deleted: Array<{ Key: string; VersionId?: string; DeleteMarker?: boolean }>;
        head: string;
      };
      expect(out.marker.DeleteMarker).to.equal(true);
      // Every version once, across pages of two.
      expect(
        out.seen
          .filter((s) => s[2] !== 'marker')
          .map((s) => s[1])
          .sort(),
      ).to.deep.equal([...out.ids].sort());
      expect(out.seen.filter((s) => s[2] === 'marker').map((s) => s[1])).to.deep.equal([out.marker.VersionId]);
      expect(out.old).to.equal('x');
      expect(out.deleted.find((d) => d.Key === 'p/2')?.VersionId).to.equal(out.ids[2]);
      expect(out.deleted.find((d) => d.Key === 'p/1')?.DeleteMarker).to.equal(true);
      expect(out.head).to.equal('404');
    });
  });
});
