import { expect } from 'chai';
import {
  CreateBucketCommand,
  DeleteBucketCommand,
  DeleteBucketOwnershipControlsCommand,
  GetBucketAclCommand,
  GetBucketLocationCommand,
  GetBucketOwnershipControlsCommand,
  GetBucketTaggingCommand,
  GetBucketVersioningCommand,
  HeadBucketCommand,
  ListObjectsV2Command,
  ListBucketsCommand,
  PutBucketAclCommand,
  PutBucketOwnershipControlsCommand,
  PutBucketTaggingCommand,
  PutBucketVersioningCommand,
  PutObjectCommand,
} from '@aws-sdk/client-s3';
import { startTestServer, rawRequest, ACCESS_KEY, SECRET_KEY, type TestServer } from '../helpers/server';
import { signedFetch } from '../helpers/sign';
import { errorOf, expectSdkError } from '../helpers/errors';
import { validateRoutingTable } from '../../src/router/config';
import { Router } from '../../src/router/router';

const CREDS = { accessKeyId: ACCESS_KEY, secretAccessKey: SECRET_KEY };

describe('protocol: buckets', () => {
  let srv: TestServer;
  before(async () => {
    srv = await startTestServer();
  });
  after(async () => {
    await srv.stop();
  });

  it('creates, lists, heads and deletes buckets', async () => {
    await srv.s3.send(new CreateBucketCommand({ Bucket: 'alpha' }));
    await srv.s3.send(new CreateBucketCommand({ Bucket: 'beta' }));
    const list = await srv.s3.send(new ListBucketsCommand({}));
    expect(list.Buckets?.map((b) => b.Name)).to.include.members(['alpha', 'beta']);
    expect(list.Buckets?.[0].CreationDate).to.be.instanceOf(Date);
    expect(list.Owner?.ID).to.be.a('string');
    await srv.s3.send(new HeadBucketCommand({ Bucket: 'alpha' }));
    await srv.s3.send(new DeleteBucketCommand({ Bucket: 'beta' }));
    const after = await srv.s3.send(new ListBucketsCommand({}));
    expect(after.Buckets?.map((b) => b.Name)).to.not.include('beta');
  });

  it('answers BucketAlreadyOwnedByYou, InvalidBucketName, NoSuchBucket, BucketNotEmpty', async () => {
    await srv.s3.send(new CreateBucketCommand({ Bucket: 'dup' }));
    // In us-east-1 only a request asking for more than an ACL (here object ownership) is refused; see below.
    const again = await errorOf(srv.s3.send(new CreateBucketCommand({ Bucket: 'dup', ObjectOwnership: 'BucketOwnerEnforced' })));
    expect([again.name, again.$metadata.httpStatusCode]).to.deep.equal(['BucketAlreadyOwnedByYou', 409]);
    for (const bad of ['ab', 'UPPER', 'a..b', '192.168.1.1', '-lead', 'trail-', 'x'.repeat(64), 'xn--punycode']) {
      const err = await errorOf(srv.s3.send(new CreateBucketCommand({ Bucket: bad })));
      expect(err.$metadata.httpStatusCode, bad).to.equal(400);
      expect(err.name, bad).to.equal('InvalidBucketName');
    }
    const missing = await errorOf(srv.s3.send(new DeleteBucketCommand({ Bucket: 'nope-missing' })));
    expect(missing.name).to.equal('NoSuchBucket');
    expect(missing.$metadata.httpStatusCode).to.equal(404);
    const head = await errorOf(srv.s3.send(new HeadBucketCommand({ Bucket: 'nope-missing' })));
    expect(head.$metadata.httpStatusCode).to.equal(404);
    await srv.s3.send(new PutObjectCommand({ Bucket: 'dup', Key: 'x', Body: 'x' }));
    const notEmpty = await errorOf(srv.s3.send(new DeleteBucketCommand({ Bucket: 'dup' })));
    expect(notEmpty.name).to.equal('BucketNotEmpty');
    expect(notEmpty.$metadata.httpStatusCode).to.equal(409);
  });

  it('creates a bucket its owner has again in us-east-1: 200, its objects kept and its ACL reset to the one asked for', async () => {
    // S3's legacy answer in us-east-1 (elsewhere 409 BucketAlreadyOwnedByYou): aws s3 mb and
    // boto3's create_bucket of an existing bucket succeed there.
    const Bucket = 'again';
    await srv.s3.send(new CreateBucketCommand({ Bucket, ObjectOwnership: 'ObjectWriter', ACL: 'public-read' }));
    await srv.s3.send(new PutObjectCommand({ Bucket, Key: 'kept', Body: 'kept' }));
    const r = await srv.s3.send(new CreateBucketCommand({ Bucket }));
    expect([r.$metadata.httpStatusCode, r.Location]).to.deep.equal([200, `/${Bucket}`]);
    const grants = (await srv.s3.send(new GetBucketAclCommand({ Bucket }))).Grants ?? [];
    expect(grants.map((g) => [g.Grantee?.Type, g.Permission])).to.deep.equal([['CanonicalUser', 'FULL_CONTROL']]);
    await srv.s3.send(new CreateBucketCommand({ Bucket, ACL: 'public-read' }));
    expect((await srv.s3.send(new GetBucketAclCommand({ Bucket }))).Grants?.map((g) => g.Grantee?.URI ?? g.Grantee?.Type)).to.deep.equal([
      'CanonicalUser',
      'http://acs.amazonaws.com/groups/global/AllUsers',
    ]);
    expect((await srv.s3.send(new ListObjectsV2Command({ Bucket }))).Contents?.map((c) => c.Key)).to.deep.equal(['kept']);
    expect((await srv.s3.send(new GetBucketOwnershipControlsCommand({ Bucket }))).OwnershipControls?.Rules?.[0].ObjectOwnership).to.equal(
      'ObjectWriter',
    );
  });

  it('answers 409 BucketAlreadyOwnedByYou to creating a bucket its owner has, in a region other than us-east-1', async () => {
    const other = await startTestServer({ region: 'eu-west-1' });
    try {
      const CreateBucketConfiguration = { LocationConstraint: 'eu-west-1' as const };
      await other.s3.send(new CreateBucketCommand({ Bucket: 'owned', CreateBucketConfiguration }));
      await expectSdkError(
        other.s3.send(new CreateBucketCommand({ Bucket: 'owned', CreateBucketConfiguration })),
        'BucketAlreadyOwnedByYou',
        409,
      );
    } finally {
      await other.stop();
    }
  });

  it('applies every one of 40 concurrent PutBucketAcl calls, as S3 does (none fails with OperationAborted)', async () => {
    await srv.s3.send(new CreateBucketCommand({ Bucket: 'acl-race', ObjectOwnership: 'ObjectWriter' }));
    const results = await Promise.allSettled(
      Array.from({ length: 40 }, (_, i) =>
        srv.s3.send(new PutBucketAclCommand({ Bucket: 'acl-race', ACL: i % 2 ? 'public-read' : 'private' })),
      ),
    );
    expect(results.flatMap((r) => (r.status === 'rejected' ? [String(r.reason)] : []))).to.deep.equal([]);
    await srv.s3.send(new PutBucketAclCommand({ Bucket: 'acl-race', ACL: 'public-read' }));
    const grants = (await srv.s3.send(new GetBucketAclCommand({ Bucket: 'acl-race' }))).Grants ?? [];
    expect(grants.map((g) => g.Grantee?.URI).filter(Boolean)).to.deep.equal(['http://acs.amazonaws.com/groups/global/AllUsers']);
  });

  it('a bucket deleted and created again under its name has none of the old configuration, at once', async () => {
    const Bucket = 'reborn';
    await srv.s3.send(new CreateBucketCommand({ Bucket }));
    await srv.s3.send(new PutBucketVersioningCommand({ Bucket, VersioningConfiguration: { Status: 'Enabled' } }));
    await srv.s3.send(new PutBucketTaggingCommand({ Bucket, Tagging: { TagSet: [{ Key: 'team', Value: 'old' }] } }));
    expect((await srv.s3.send(new GetBucketVersioningCommand({ Bucket }))).Status).to.equal('Enabled');
    await srv.s3.send(new DeleteBucketCommand({ Bucket }));
    await srv.s3.send(new CreateBucketCommand({ Bucket }));
    expect((await srv.s3.send(new GetBucketVersioningCommand({ Bucket }))).Status).to.equal(undefined);
    expect((await errorOf(srv.s3.send(new GetBucketTaggingCommand({ Bucket })))).name).to.equal('NoSuchTagSet');
  });

  it("reports the location, and refuses a LocationConstraint naming another region than s3mux's", async () => {
    await srv.s3.send(new CreateBucketCommand({ Bucket: 'loc' }));
    const loc = await srv.s3.send(new GetBucketLocationCommand({ Bucket: 'loc' }));
    expect(loc.LocationConstraint ?? '').to.equal('');
    // boto3's create_bucket(CreateBucketConfiguration={'LocationConstraint': ...}), s3cmd mb
    // --bucket-location: s3mux made such a bucket in its own region (us-east-1) and reported it there.
    for (const LocationConstraint of ['eu-west-1', 'EU'] as const) {
      const err = await errorOf(
        srv.s3.send(new CreateBucketCommand({ Bucket: 'elsewhere', CreateBucketConfiguration: { LocationConstraint } })),
      );
      expect(err.name, LocationConstraint).to.equal('IllegalLocationConstraintException');
      expect(err.$metadata.httpStatusCode).to.equal(400);
    }
    expect((await errorOf(srv.s3.send(new HeadBucketCommand({ Bucket: 'elsewhere' })))).$metadata.httpStatusCode).to.equal(404);
  });

  it('refuses a LocationConstraint naming us-east-1 with InvalidLocationConstraint, as S3 does: that region is asked for by omitting it', async () => {
    // s3mux (itself us-east-1) made the bucket.
    await expectSdkError(
      srv.s3.send(
        new CreateBucketCommand({ Bucket: 'named-us-east-1', CreateBucketConfiguration: { LocationConstraint: 'us-east-1' as never } }),
      ),
      'InvalidLocationConstraint',
      400,
    );
    expect((await errorOf(srv.s3.send(new HeadBucketCommand({ Bucket: 'named-us-east-1' })))).$metadata.httpStatusCode).to.equal(404);
  });

  it('rejects a malformed CreateBucket body with MalformedXML, and anonymous requests with AccessDenied', async () => {
    const bad = await signedFetch(srv.url, CREDS, 'PUT', '/bad-xml-bucket', { body: '<CreateBucketConfiguration><oops' });
    expect(bad.status).to.equal(400);
    expect(bad.text).to.contain('<Code>MalformedXML</Code>');
    expect(bad.text).to.contain('<RequestId>');
    const url = `${srv.url}/bad-xml-bucket`;
    const res = await rawRequest(url, { method: 'PUT', body: '<CreateBucketConfiguration><oops' });
    expect(res.status).to.equal(403);
    expect(res.text).to.contain('<Code>AccessDenied</Code>');
    expect(res.headers.get('x-amz-request-id')).to.match(/^[0-9A-F]{16}$/);
  });

  it('refuses PutBucketAcl with both ACL headers and an AccessControlPolicy body: 400 UnexpectedContent, not a dropped connection', async () => {
    const Bucket = 'acl-and-body';
    await srv.s3.send(new CreateBucketCommand({ Bucket, ObjectOwnership: 'ObjectWriter' }));
    const owner = (await srv.s3.send(new GetBucketAclCommand({ Bucket }))).Owner!.ID!;
    const AccessControlPolicy = {
      Owner: { ID: owner },
      Grants: [{ Grantee: { ID: owner, Type: 'CanonicalUser' as const }, Permission: 'FULL_CONTROL' as const }],
    };
    for (const headers of [{ ACL: 'private' as const }, { GrantFullControl: `id=${owner}` }]) {
      // s3mux chose an error code its table lacked and failed while answering it: the client saw its socket hang up.
      await expectSdkError(srv.s3.send(new PutBucketAclCommand({ Bucket, ...headers, AccessControlPolicy })), 'UnexpectedContent', 400);
    }
  });

  it('refuses a bad ACL grant naming the argument as S3 does: the header key for x-amz-grant-*, the element path in a body', async () => {
    const Bucket = 'acl-bad-grants';
    await srv.s3.send(new CreateBucketCommand({ Bucket, ObjectOwnership: 'ObjectWriter' }));
    const owner = (await srv.s3.send(new GetBucketAclCommand({ Bucket }))).Owner!.ID!;
    const fake = 'http://acs.amazonaws.com/groups/s3/FakeGroup';
    const refusal = async (send: Promise<unknown>) => {
      const e = await errorOf(send);
      const x = e as unknown as { Code?: string; ArgumentName?: string; ArgumentValue?: string; message: string };
      return [e.name, e.message, x.ArgumentName, x.ArgumentValue];
    };
    // LocalStack's AWS-validated test_s3_bucket_acl_exceptions records these answers.
    expect(await refusal(srv.s3.send(new PutBucketAclCommand({ Bucket, GrantWrite: `uri="${fake}"` })))).to.deep.equal([
      'InvalidArgument',
      'Invalid group uri',
      'uri',
      fake,
    ]);
    expect(await refusal(srv.s3.send(new PutBucketAclCommand({ Bucket, GrantWrite: 'id="wrong-id"' })))).to.deep.equal([
      'InvalidArgument',
      'Invalid id',
      'id',
      'wrong-id',
    ]);
    expect(await refusal(srv.s3.send(new PutBucketAclCommand({ Bucket, GrantWrite: 'fakekey="1234"' })))).to.deep.equal([
      'InvalidArgument',
      'Argument format not recognized',
      'x-amz-grant-write',
      'fakekey="1234"',
    ]);
    const logWrite = {
      Grantee: { URI: 'http://acs.amazonaws.com/groups/s3/LogDelivery', Type: 'Group' as const },
      Permission: 'WRITE' as const,
    };
    const badOwner = { Owner: { ID: 'wrong-id' }, Grants: [logWrite] };
    expect(await refusal(srv.s3.send(new PutBucketAclCommand({ Bucket, AccessControlPolicy: badOwner })))).to.deep.equal([
      'InvalidArgument',
      'Invalid id',
      'CanonicalUser/ID',
      'wrong-id',
    ]);
    const badType = {
      Owner: { ID: owner },
      Grants: [{ Grantee: { ID: 'wrong-id', Type: 'BadType' as unknown as 'CanonicalUser' }, Permission: 'WRITE' as const }],
    };
    expect((await errorOf(srv.s3.send(new PutBucketAclCommand({ Bucket, AccessControlPolicy: badType })))).name).to.equal(
      'MalformedACLError',
    );
    // The grant the body names with a bad id is refused naming its element.
    const badGrantee = { Owner: { ID: owner }, Grants: [{ ...logWrite, Grantee: { ID: 'wrong-id', Type: 'CanonicalUser' as const } }] };
    expect(await refusal(srv.s3.send(new PutBucketAclCommand({ Bucket, AccessControlPolicy: badGrantee })))).to.deep.equal([
      'InvalidArgument',
      'Invalid id',
      'CanonicalUser/ID',
      'wrong-id',
    ]);
  });

  it('after DeleteBucketOwnershipControls, GetBucketOwnershipControls answers 404 OwnershipControlsNotFoundError and ACLs are taken (ObjectWriter)', async () => {
    const Bucket = 'ownership-deleted';
    await srv.s3.send(new CreateBucketCommand({ Bucket }));
    await srv.s3.send(new DeleteBucketOwnershipControlsCommand({ Bucket }));
    // s3mux answered ObjectWriter here, as though the bucket still had controls.
    await expectSdkError(srv.s3.send(new GetBucketOwnershipControlsCommand({ Bucket })), 'OwnershipControlsNotFoundError', 404);
    // Without controls S3 applies ObjectWriter: ACLs are enabled.
    await srv.s3.send(new PutBucketAclCommand({ Bucket, ACL: 'public-read' }));
    await srv.s3.send(
      new PutBucketOwnershipControlsCommand({ Bucket, OwnershipControls: { Rules: [{ ObjectOwnership: 'BucketOwnerPreferred' }] } }),
    );
    const got = await srv.s3.send(new GetBucketOwnershipControlsCommand({ Bucket }));
    expect(got.OwnershipControls?.Rules?.[0].ObjectOwnership).to.equal('BucketOwnerPreferred');
  });

  it("takes CreateBucketConfiguration's Tags as the bucket's tag set, held to PutBucketTagging's rules before the bucket is made", async () => {
    const create = (Bucket: string, Tags: { Key: string; Value: string }[]) =>
      srv.s3.send(new CreateBucketCommand({ Bucket, CreateBucketConfiguration: { Tags } }));
    // s3mux refused every such body with MalformedXML.
    await create('tagged-at-birth', [
      { Key: 'team', Value: 'data' },
      { Key: 'cost-center', Value: '42' },
    ]);
    const got = await srv.s3.send(new GetBucketTaggingCommand({ Bucket: 'tagged-at-birth' }));
    expect(got.TagSet).to.deep.equal([
      { Key: 'team', Value: 'data' },
      { Key: 'cost-center', Value: '42' },
    ]);
    for (const Tags of [
      [{ Key: 'k'.repeat(129), Value: 'v' }],
      [{ Key: 'k', Value: 'v'.repeat(257) }],
      [
        { Key: 'k', Value: 'a' },
        { Key: 'k', Value: 'b' },
      ],
    ]) {
      await expectSdkError(create('tags-refused', Tags), 'InvalidTag', 400);
    }
    const tooMany = Array.from({ length: 51 }, (_, i) => ({ Key: `k${i}`, Value: 'v' }));
    await expectSdkError(create('tags-refused', tooMany), 'BadRequest', 400);
    expect((await errorOf(srv.s3.send(new HeadBucketCommand({ Bucket: 'tags-refused' })))).$metadata.httpStatusCode).to.equal(404);
  });

  it('works with the minio client', async () => {
    await srv.minio.makeBucket('minio-bucket');
    expect(await srv.minio.bucketExists('minio-bucket')).to.equal(true);
    expect(await srv.minio.bucketExists('minio-missing')).to.equal(false);
    const buckets = await srv.minio.listBuckets();
    expect(buckets.map((b) => b.name)).to.include('minio-bucket');
    await srv.minio.removeBucket('minio-bucket');
    expect(await srv.minio.bucketExists('minio-bucket')).to.equal(false);
  });
});

describe('protocol: CreateBucket on a store without a reserved area', () => {
  let srv: TestServer;
  before(async () => {
    const router = Router.fromTable(validateRoutingTable({ backends: { mem: { type: 'memory', store: `no-reserved-${process.pid}` } } }));
    // As the s3 backend with stateInStore off: nowhere to keep s3mux's state.
    Object.defineProperty(router.defaultBackend, 'reserved', { value: undefined });
    srv = await startTestServer({ router });
  });
  after(async () => {
    await srv.stop();
  });

  it('refuses tags it cannot keep with NotImplemented before the bucket is made; without tags the bucket is made', async () => {
    const e = await errorOf(
      srv.s3.send(
        new CreateBucketCommand({ Bucket: 'tags-nowhere', CreateBucketConfiguration: { Tags: [{ Key: 'team', Value: 'data' }] } }),
      ),
    );
    expect([e.name, e.$metadata.httpStatusCode, e.message]).to.deep.equal([
      'NotImplemented',
      501,
      'The memory backend cannot hold bucket tags.',
    ]);
    expect((await errorOf(srv.s3.send(new HeadBucketCommand({ Bucket: 'tags-nowhere' })))).$metadata.httpStatusCode).to.equal(404);
    await srv.s3.send(new CreateBucketCommand({ Bucket: 'untagged' }));
    await srv.s3.send(new HeadBucketCommand({ Bucket: 'untagged' }));
  });
});
