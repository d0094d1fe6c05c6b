/** Identities with policies, and public-read routes. */
import { expect } from 'chai';
import {
  CopyObjectCommand,
  CreateBucketCommand,
  DeleteBucketCommand,
  DeleteObjectCommand,
  GetBucketPolicyCommand,
  GetObjectCommand,
  ListBucketsCommand,
  ListObjectsV2Command,
  PutBucketPolicyCommand,
  PutObjectCommand,
  S3Client,
} from '@aws-sdk/client-s3';
import { validateRoutingTable, ConfigError } from '../../src/router/config';
import { Router } from '../../src/router/router';
import { startTestServer, type TestServer } from '../helpers/server';
import { errorOf } from '../helpers/errors';

describe('protocol: identities, policies and public-read routes', () => {
  let srv: TestServer;
  const clients: S3Client[] = [];
  const client = (accessKeyId: string, secretAccessKey: string) => {
    const c = new S3Client({ endpoint: srv.url, region: 'us-east-1', forcePathStyle: true, credentials: { accessKeyId, secretAccessKey } });
    clients.push(c);
    return c;
  };

  before(async () => {
    const table = validateRoutingTable({
      backends: { mem: { type: 'memory', store: `policies-${process.pid}` } },
      routes: { site: { bucket: 'site', publicRead: true } },
      identities: {
        alice: {
          accessKeyId: 'ALICE',
          secretAccessKeyEnv: 'X',
          policy: [
            { buckets: ['alice-*', 'shared'], allow: ['read', 'write', 'list', 'delete'] },
            { buckets: 'alice-*', allow: ['createBucket'] },
          ],
        },
        reporter: { accessKeyId: 'REPORTER', secretAccessKeyEnv: 'Y', policy: [{ buckets: '*', allow: ['read', 'list'] }] },
      },
    });
    const users = table.identities!.map((i) => ({
      identity: { accessKeyId: i.accessKeyId, secretAccessKey: `${i.name}-secret` },
      principal: { name: i.name, admin: i.admin, rules: i.rules },
    }));
    srv = await startTestServer({ router: Router.fromTable(table), users });
    for (const b of ['alice-data', 'bob-data', 'shared', 'site']) await srv.s3.send(new CreateBucketCommand({ Bucket: b }));
    await srv.s3.send(new PutObjectCommand({ Bucket: 'bob-data', Key: 'secret.txt', Body: 'bob only' }));
    await srv.s3.send(new PutObjectCommand({ Bucket: 'site', Key: 'index.html', Body: '<h1>hi</h1>', ContentType: 'text/html' }));
  });
  after(async () => {
    clients.forEach((c) => c.destroy());
    await srv.stop();
  });

  it('lets a user work in its own buckets and nowhere else', async () => {
    const alice = client('ALICE', 'alice-secret');
    await alice.send(new PutObjectCommand({ Bucket: 'alice-data', Key: 'a.txt', Body: 'mine' }));
    expect(await (await alice.send(new GetObjectCommand({ Bucket: 'alice-data', Key: 'a.txt' }))).Body!.transformToString()).to.equal(
      'mine',
    );
    await alice.send(new PutObjectCommand({ Bucket: 'shared', Key: 's.txt', Body: 'shared' }));
    for (const attempt of [
      alice.send(new GetObjectCommand({ Bucket: 'bob-data', Key: 'secret.txt' })),
      alice.send(new PutObjectCommand({ Bucket: 'bob-data', Key: 'x', Body: 'x' })),
      alice.send(new ListObjectsV2Command({ Bucket: 'bob-data' })),
      alice.send(new DeleteObjectCommand({ Bucket: 'bob-data', Key: 'secret.txt' })),
      alice.send(new CreateBucketCommand({ Bucket: 'bob-new' })),
      alice.send(new DeleteBucketCommand({ Bucket: 'alice-data' })),
      // Copying out of a bucket it cannot read is refused too.
      alice.send(new CopyObjectCommand({ Bucket: 'alice-data', Key: 'stolen', CopySource: 'bob-data/secret.txt' })),
    ]) {
      const err = await errorOf(attempt);
      expect(err.name).to.equal('AccessDenied');
      expect(err.$metadata.httpStatusCode).to.equal(403);
    }
    await alice.send(new CreateBucketCommand({ Bucket: 'alice-new' }));
    const names = (await alice.send(new ListBucketsCommand({}))).Buckets?.map((b) => b.Name);
    expect(names).to.deep.equal(['alice-data', 'alice-new', 'shared']);
    // Bob's object is untouched.
    expect(await (await srv.s3.send(new GetObjectCommand({ Bucket: 'bob-data', Key: 'secret.txt' }))).Body!.transformToString()).to.equal(
      'bob only',
    );
  });

  it('lets a read-only user read and list but not write', async () => {
    const reporter = client('REPORTER', 'reporter-secret');
    expect(await (await reporter.send(new GetObjectCommand({ Bucket: 'bob-data', Key: 'secret.txt' }))).Body!.transformToString()).to.equal(
      'bob only',
    );
    expect((await reporter.send(new ListObjectsV2Command({ Bucket: 'shared' }))).KeyCount).to.be.a('number');
    expect((await errorOf(reporter.send(new PutObjectCommand({ Bucket: 'shared', Key: 'r', Body: 'r' })))).name).to.equal('AccessDenied');
    expect((await errorOf(reporter.send(new DeleteObjectCommand({ Bucket: 'bob-data', Key: 'secret.txt' })))).name).to.equal(
      'AccessDenied',
    );
    const wrong = client('REPORTER', 'not-the-secret');
    expect((await errorOf(wrong.send(new ListObjectsV2Command({ Bucket: 'shared' })))).name).to.equal('SignatureDoesNotMatch');
    const unknown = client('NOBODY', 'x');
    expect((await errorOf(unknown.send(new ListObjectsV2Command({ Bucket: 'shared' })))).name).to.equal('InvalidAccessKeyId');
  });

  it('serves anonymous GET, HEAD and listing on a public-read route, and nothing else', async () => {
    const get = await fetch(`${srv.url}/site/index.html`);
    expect(get.status).to.equal(200);
    expect(await get.text()).to.equal('<h1>hi</h1>');
    expect(get.headers.get('content-type')).to.equal('text/html');
    expect((await fetch(`${srv.url}/site/index.html`, { method: 'HEAD' })).status).to.equal(200);
    const list = await fetch(`${srv.url}/site?list-type=2`);
    expect(list.status).to.equal(200);
    expect(await list.text()).to.contain('<Key>index.html</Key>');
    for (const [method, url] of [
      ['PUT', '/site/new.html'],
      ['DELETE', '/site/index.html'],
      ['GET', '/bob-data/secret.txt'],
      ['GET', '/'],
      ['PUT', '/site-2'],
    ] as const) {
      const r = await fetch(`${srv.url}${url}`, { method, body: method === 'PUT' ? 'x' : undefined });
      expect(r.status, `${method} ${url}`).to.equal(403);
      expect(await r.text()).to.contain('<Code>AccessDenied</Code>');
    }
  });

  describe('PutBucketPolicy checks a policy as S3 does', () => {
    const B = 'guarded';
    const BUCKET = `arn:aws:s3:::${B}`;
    const OBJECTS = `arn:aws:s3:::${B}/*`;
    const statement = (extra: Record<string, unknown>) => ({
      Effect: 'Deny',
      Principal: '*',
      Action: 's3:GetObject',
      Resource: OBJECTS,
      ...extra,
    });
    const put = (...Statement: unknown[]) =>
      srv.s3.send(new PutBucketPolicyCommand({ Bucket: B, Policy: JSON.stringify({ Version: '2012-10-17', Statement }) }));
    before(async () => {
      await srv.s3.send(new CreateBucketCommand({ Bucket: B }));
    });

    it("refuses, with S3's message, what would be stored and never apply", async () => {
      const refused: [string, Record<string, unknown>][] = [
        // Not an S3 action: a misspelling, or a wildcard that matches none.
        ['Policy has invalid action', { Action: 's3:GetObjec' }],
        ['Policy has invalid action', { Action: ['s3:PutObject', 's3:????'] }],
        ['Policy has invalid action', { Action: 's3:Abort?' }],
        ['Policy has invalid action', { Action: 's3:*Obj??ect*' }],
        ['Policy has invalid action', { Action: undefined, NotAction: 's3:DeleteObjekt' }],
        // An action that applies to none of the statement's resources.
        ['Action does not apply to any resource(s) in statement', { Resource: BUCKET }],
        ['Action does not apply to any resource(s) in statement', { Action: 's3:ListBucket' }],
        ['Action does not apply to any resource(s) in statement', { Action: ['s3:GetObject', 's3:ListBucket'] }],
        ['Action does not apply to any resource(s) in statement', { Action: 's3:Abort*', Resource: BUCKET }],
        ['Action does not apply to any resource(s) in statement', { Action: 's3:GetBucket*' }],
        ['Action does not apply to any resource(s) in statement', { Action: 's3:ListAllMyBuckets', Resource: [BUCKET, OBJECTS] }],
        // A condition key neither IAM nor S3 defines.
        ['Policy has an invalid condition key', { Condition: { StringEquals: { 's3:FakeKey': 'x' } } }],
        ['Policy has an invalid condition key', { Condition: { Bool: { 'aws:NotARealGlobalKey': 'true' } } }],
        // A key none of the statement's actions has.
        [
          'Conditions do not apply to combination of actions and resources in statement',
          { Condition: { StringLike: { 's3:prefix': 'a/*' } } },
        ],
        [
          'Conditions do not apply to combination of actions and resources in statement',
          { Action: 's3:ListBucket', Resource: BUCKET, Condition: { StringEquals: { 's3:x-amz-acl': 'private' } } },
        ],
      ];
      const kept = JSON.stringify({ Version: '2012-10-17', Statement: [statement({ Sid: 'kept' })] });
      await srv.s3.send(new PutBucketPolicyCommand({ Bucket: B, Policy: kept }));
      for (const [message, extra] of refused) {
        const err = await errorOf(put(statement({ Principal: '*' }), statement(extra)));
        expect(err.name, JSON.stringify(extra)).to.equal('MalformedPolicy');
        expect(err.$metadata.httpStatusCode).to.equal(400);
        expect(err.message, JSON.stringify(extra)).to.equal(message);
      }
      // The policy in force is the one taken before.
      expect((await srv.s3.send(new GetBucketPolicyCommand({ Bucket: B }))).Policy).to.equal(kept);
    });

    it('takes valid policies: wildcards, mixed resources, NotAction and NotResource, the condition keys s3mux evaluates', async () => {
      const valid: Record<string, unknown>[] = [
        { Action: 's3:Get*' },
        { Action: 's3:*' },
        { Action: '*', Resource: BUCKET },
        { Action: 's3:*', Resource: BUCKET },
        { Action: 's3:List*', Resource: BUCKET },
        { Action: 'S3:getobject' },
        { Action: ['s3:GetObject', 's3:ListBucket'], Resource: [BUCKET, OBJECTS] },
        { Action: ['s3:GetObject', 's3:ListBucket'], Resource: 'arn:aws:s3:::*' },
        { Action: 's3:GetObject', Resource: `arn:aws:s3:::${B.slice(0, 3)}*` },
        { Action: 's3:GetObject', Resource: `${BUCKET}/home/\${aws:username}/*` },
        { Action: 's3:ListAllMyBuckets', Resource: '*' },
        // Actions s3mux does not serve are valid policy text all the same.
        { Action: ['s3:PutBucketWebsite', 's3:GetReplicationConfiguration'], Resource: BUCKET },
        { Action: undefined, NotAction: 's3:List*' },
        { Action: undefined, NotAction: 's3:GetObject', Resource: BUCKET },
        { Resource: undefined, NotResource: `${BUCKET}/open/*` },
        { Action: 's3:ListBucket', Resource: BUCKET, Condition: { StringLike: { 's3:prefix': 'a/*', 's3:delimiter': '/' } } },
        { Action: 's3:ListBucket', Resource: BUCKET, Condition: { NumericLessThan: { 's3:max-keys': 10 } } },
        { Action: 's3:*', Resource: [BUCKET, OBJECTS], Condition: { StringNotLike: { 's3:prefix': 'x/*' } } },
        {
          Action: 's3:PutObject',
          Condition: {
            StringEquals: { 's3:x-amz-acl': 'private', 's3:x-amz-server-side-encryption': 'AES256', 's3:x-amz-storage-class': 'STANDARD' },
            StringLike: { 's3:x-amz-copy-source': 'src/*', 's3:x-amz-metadata-directive': 'COPY', 's3:x-amz-grant-read': 'id=*' },
            'ForAllValues:StringEquals': { 's3:RequestObjectTagKeys': ['team'], 's3:RequestObjectTag/team': 'blue' },
          },
        },
        {
          Action: 's3:GetObject',
          Condition: { StringEquals: { 's3:ExistingObjectTag/team': 'blue', 's3:signatureversion': 'AWS4-HMAC-SHA256' } },
        },
        { Action: 's3:GetObjectVersion', Condition: { StringEquals: { 's3:VersionId': 'v1', 's3:authType': 'REST-HEADER' } } },
        {
          Condition: {
            IpAddress: { 'aws:SourceIp': '10.0.0.0/8' },
            Bool: { 'aws:SecureTransport': 'false' },
            StringLike: { 'aws:Referer': 'https://*', 'aws:UserAgent': '*', 'aws:username': 'bob', 'aws:userid': '*' },
            DateLessThan: { 'aws:CurrentTime': '2030-01-01T00:00:00Z', 'aws:EpochTime': '1900000000' },
            ArnLike: { 'aws:PrincipalArn': 'arn:aws:iam::*:user/*' },
            StringEquals: { 'aws:PrincipalAccount': '000000000000', 'aws:PrincipalType': 'User', 'aws:PrincipalOrgID': 'o-1' },
          },
        },
      ];
      for (const extra of valid) {
        const r = await put(statement(extra));
        expect(r.$metadata.httpStatusCode, JSON.stringify(extra)).to.equal(204);
      }
    });
  });

  it("refuses a route's fixed policy that S3 would refuse, when the table loads", () => {
    const table = (Action: string) => () =>
      validateRoutingTable({
        backends: { mem: { type: 'memory' } },
        routes: {
          docs: { bucket: 'docs', policy: { Statement: [{ Effect: 'Deny', Principal: '*', Action, Resource: 'arn:aws:s3:::docs/*' }] } },
        },
      });
    expect(table('s3:DeleteObject')).to.not.throw();
    expect(table('s3:DeleteObjekt')).to.throw(ConfigError, 'Policy has invalid action');
    expect(table('s3:ListBucket')).to.throw(ConfigError, 'Action does not apply to any resource(s) in statement');
  });

  it('refuses literal secrets and unknown actions in the table', () => {
    const bad = () =>
      validateRoutingTable(
        {
          backends: { mem: { type: 'memory' } },
          identities: { eve: { accessKeyId: 'EVE', secretAccessKey: 'hunter2', policy: [{ buckets: '*', allow: ['read', 'fly'] }] } },
        },
        { file: 'team.yaml' },
      );
    expect(bad).to.throw(ConfigError);
    try {
      bad();
    } catch (e) {
      const text = (e as Error).message;
      expect(text).to.contain('identities.eve.secretAccessKey: a literal secret is not allowed');
      expect(text).to.contain('identities.eve.policy["0"].allow: expected a list of actions');
      expect(text).to.not.contain('hunter2');
    }
  });
});
