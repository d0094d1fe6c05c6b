/** Identities with policies, and public-read routes. */
import { expect } from 'chai';
import {
  CopyObjectCommand,
  CreateBucketCommand,
  DeleteBucketCommand,
  DeleteObjectCommand,
  GetObjectCommand,
  ListBucketsCommand,
  ListObjectsV2Command,
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
