/** CORS: Put/Get/DeleteBucketCors through the SDK, preflights, and the headers actual answers carry. */
import { expect } from 'chai';
import {
  CreateBucketCommand,
  DeleteBucketCorsCommand,
  GetBucketCorsCommand,
  GetObjectCommand,
  PutBucketCorsCommand,
  PutObjectCommand,
  type CORSRule,
} from '@aws-sdk/client-s3';
import { getSignedUrl } from '@aws-sdk/s3-request-presigner';
import { startTestServer, type TestServer } from '../helpers/server';
import { errorOf } from '../helpers/errors';
import { bucketConfig } from '../../src/bucket-config/store';
import { validateRoutingTable } from '../../src/router/config';
import { Router } from '../../src/router/router';

const RULES: CORSRule[] = [
  {
    ID: 'app',
    AllowedOrigins: ['https://*.example.com'],
    AllowedMethods: ['GET', 'PUT'],
    AllowedHeaders: ['content-type', 'x-amz-*'],
    ExposeHeaders: ['ETag', 'x-amz-request-id'],
    MaxAgeSeconds: 600,
  },
  { AllowedOrigins: ['*'], AllowedMethods: ['GET', 'HEAD'] },
];

describe('protocol: CORS configuration', () => {
  let srv: TestServer;
  const bucket = 'cors-bucket';
  before(async () => {
    srv = await startTestServer();
    await srv.s3.send(new CreateBucketCommand({ Bucket: bucket }));
    await srv.s3.send(new PutObjectCommand({ Bucket: bucket, Key: 'a.txt', Body: 'hello' }));
  });
  after(async () => {
    await srv.stop();
  });

  const preflight = (path: string, headers: Record<string, string>) =>
    fetch(`${srv.url}/${path}`, { method: 'OPTIONS', headers }).then(async (r) => ({
      status: r.status,
      headers: r.headers,
      text: await r.text(),
    }));

  it('answers a preflight 403 while the bucket has no CORS configuration, and GetBucketCors NoSuchCORSConfiguration', async () => {
    const r = await preflight(`${bucket}/a.txt`, { Origin: 'https://app.example.com', 'Access-Control-Request-Method': 'GET' });
    expect(r.status).to.equal(403);
    // S3 names the bucket (not the object) as what has no CORS, and OPTIONS when no method was asked for.
    const forbidden = (method: string) =>
      `<Code>AccessForbidden</Code><Message>CORSResponse: CORS is not enabled for this bucket.</Message><Method>${method}</Method><ResourceType>BUCKET</ResourceType>`;
    expect(r.text).to.contain(forbidden('GET'));
    const noMethod = await preflight(`${bucket}/a.txt`, { Origin: 'https://app.example.com' });
    expect([noMethod.status, noMethod.text.includes(forbidden('OPTIONS'))]).to.deep.equal([403, true]);
    const err = await errorOf(srv.s3.send(new GetBucketCorsCommand({ Bucket: bucket })));
    expect(err.name).to.equal('NoSuchCORSConfiguration');
    expect(err.$metadata.httpStatusCode).to.equal(404);
  });

  it('round-trips the rules through Put and Get', async () => {
    await srv.s3.send(new PutBucketCorsCommand({ Bucket: bucket, CORSConfiguration: { CORSRules: RULES } }));
    const got = await srv.s3.send(new GetBucketCorsCommand({ Bucket: bucket }));
    expect(got.CORSRules).to.deep.equal([RULES[0], { AllowedOrigins: ['*'], AllowedMethods: ['GET', 'HEAD'] }]);
  });

  it("refuses invalid rules with S3's errors", async () => {
    const bad = async (rule: CORSRule) =>
      errorOf(srv.s3.send(new PutBucketCorsCommand({ Bucket: bucket, CORSConfiguration: { CORSRules: [rule] } })));
    const method = await bad({ AllowedOrigins: ['*'], AllowedMethods: ['PATCH'] });
    expect(method.name).to.equal('InvalidRequest');
    expect(method.message).to.contain('Unsupported method is PATCH');
    expect((await bad({ AllowedOrigins: ['http://*.*.x'], AllowedMethods: ['GET'] })).name).to.equal('InvalidRequest');
    expect((await bad({ AllowedOrigins: [], AllowedMethods: ['GET'] })).name).to.equal('MalformedXML');
    // More than 100 rules: InvalidRequest, as S3 answers (Scality's putCors, run against AWS too).
    const many = Array.from({ length: 101 }, () => ({ AllowedOrigins: ['*'], AllowedMethods: ['GET'] }));
    const tooMany = await errorOf(srv.s3.send(new PutBucketCorsCommand({ Bucket: bucket, CORSConfiguration: { CORSRules: many } })));
    expect([tooMany.name, tooMany.message]).to.deep.equal([
      'InvalidRequest',
      'The number of CORS rules should not exceed allowed limit of 100 rules.',
    ]);
    // The rules stored before are unchanged.
    expect((await srv.s3.send(new GetBucketCorsCommand({ Bucket: bucket }))).CORSRules).to.have.length(2);
  });

  it('answers a matching preflight from the first rule that allows it', async () => {
    const r = await preflight(`${bucket}/new.txt`, {
      Origin: 'https://app.example.com',
      'Access-Control-Request-Method': 'PUT',
      'Access-Control-Request-Headers': 'Content-Type, X-Amz-Date',
    });
    expect(r.status).to.equal(200);
    expect(r.headers.get('access-control-allow-origin')).to.equal('https://app.example.com');
    expect(r.headers.get('access-control-allow-methods')).to.equal('GET, PUT');
    expect(r.headers.get('access-control-allow-headers')).to.equal('content-type, x-amz-date');
    expect(r.headers.get('access-control-expose-headers')).to.equal('ETag, x-amz-request-id');
    expect(r.headers.get('access-control-max-age')).to.equal('600');
    expect(r.headers.get('access-control-allow-credentials')).to.equal('true');
    expect(r.headers.get('vary')).to.contain('Origin');
    // Bucket level too, and the second rule for any other origin's GET.
    const any = await preflight(bucket, { Origin: 'http://elsewhere.test', 'Access-Control-Request-Method': 'GET' });
    expect(any.status).to.equal(200);
    expect(any.headers.get('access-control-allow-origin')).to.equal('*');
  });

  it('refuses a preflight no rule allows, and one missing its headers', async () => {
    const cases: Array<[Record<string, string>, number]> = [
      [{ Origin: 'http://elsewhere.test', 'Access-Control-Request-Method': 'PUT' }, 403],
      [{ Origin: 'https://app.example.com', 'Access-Control-Request-Method': 'DELETE' }, 403],
      [
        { Origin: 'https://app.example.com', 'Access-Control-Request-Method': 'PUT', 'Access-Control-Request-Headers': 'authorization' },
        403,
      ],
      [{ 'Access-Control-Request-Method': 'GET' }, 400],
      [{ Origin: 'https://app.example.com' }, 400],
    ];
    for (const [headers, status] of cases) {
      const r = await preflight(`${bucket}/a.txt`, headers);
      expect(r.status, JSON.stringify(headers)).to.equal(status);
      expect(r.headers.get('access-control-allow-origin')).to.equal(null);
    }
    const denied = await preflight(`${bucket}/a.txt`, cases[0][0]);
    expect(denied.text).to.contain('CORSResponse: This CORS request is not allowed');
    // A bucket that does not exist has no rules either; S3's refusal names why.
    const missing = await preflight('no-such-bucket-for-cors/a.txt', { Origin: 'https://app.example.com' });
    expect(missing.status).to.equal(403);
    expect(missing.text).to.contain(
      '<Code>AccessForbidden</Code><Message>CORSResponse: Bucket not found</Message><Method>OPTIONS</Method>',
    );
  });

  it('adds CORS headers to actual answers: presigned GET and PUT, and errors', async () => {
    const origin = { Origin: 'https://app.example.com' };
    const put = await getSignedUrl(srv.presigner, new PutObjectCommand({ Bucket: bucket, Key: 'up.txt' }), { expiresIn: 300 });
    const putRes = await fetch(put, { method: 'PUT', headers: origin, body: 'uploaded' });
    expect(putRes.status).to.equal(200);
    expect(putRes.headers.get('access-control-allow-origin')).to.equal('https://app.example.com');
    expect(putRes.headers.get('access-control-expose-headers')).to.contain('ETag');
    expect(putRes.headers.get('etag')).to.match(/^"[0-9a-f]{32}"$/);

    const get = await getSignedUrl(srv.s3, new GetObjectCommand({ Bucket: bucket, Key: 'up.txt' }), { expiresIn: 300 });
    const getRes = await fetch(get, { headers: origin });
    expect(await getRes.text()).to.equal('uploaded');
    expect(getRes.headers.get('access-control-allow-origin')).to.equal('https://app.example.com');

    const missing = await getSignedUrl(srv.s3, new GetObjectCommand({ Bucket: bucket, Key: 'nope' }), { expiresIn: 300 });
    const errRes = await fetch(missing, { headers: origin });
    expect(errRes.status).to.equal(404);
    expect(errRes.headers.get('access-control-allow-origin')).to.equal('https://app.example.com');

    // An unsigned request is refused, but the browser may still read why.
    const anon = await fetch(`${srv.url}/${bucket}/up.txt`, { headers: { Origin: 'http://other.test' } });
    expect(anon.status).to.equal(403);
    expect(anon.headers.get('access-control-allow-origin')).to.equal('*');

    // An origin no rule allows gets no CORS headers, not even Vary (S3 sends it only with a rule's headers).
    const delRes = await fetch(`${srv.url}/${bucket}/up.txt`, { method: 'DELETE', headers: { Origin: 'http://other.test' } });
    expect(delRes.headers.get('access-control-allow-origin')).to.equal(null);
    expect(delRes.headers.get('vary')).to.equal(null);
    // No Origin: no CORS headers.
    expect((await fetch(get)).headers.get('access-control-allow-origin')).to.equal(null);
  });

  it('deletes the configuration', async () => {
    await srv.s3.send(new DeleteBucketCorsCommand({ Bucket: bucket }));
    // This replica sees its own change at once.
    expect((await errorOf(srv.s3.send(new GetBucketCorsCommand({ Bucket: bucket })))).name).to.equal('NoSuchCORSConfiguration');
    const r = await preflight(`${bucket}/a.txt`, { Origin: 'https://app.example.com', 'Access-Control-Request-Method': 'GET' });
    expect(r.status).to.equal(403);
  });
});

describe('protocol: CORS rules fixed by the routing table', () => {
  let srv: TestServer;
  before(async () => {
    const table = validateRoutingTable({
      backends: { mem: { type: 'memory', store: `cors-route-${process.pid}` } },
      routes: {
        site: {
          bucket: 'site',
          cors: [{ allowedOrigins: 'https://site.test', allowedMethods: ['GET', 'PUT'], exposeHeaders: ['ETag'], maxAgeSeconds: 60 }],
        },
      },
    });
    srv = await startTestServer({ router: Router.fromTable(table) });
    await srv.s3.send(new CreateBucketCommand({ Bucket: 'site' }));
  });
  after(async () => {
    bucketConfig.clear();
    await srv.stop();
  });

  it('serves the table rules and refuses changes through S3', async () => {
    const got = await srv.s3.send(new GetBucketCorsCommand({ Bucket: 'site' }));
    expect(got.CORSRules).to.deep.equal([
      { AllowedOrigins: ['https://site.test'], AllowedMethods: ['GET', 'PUT'], ExposeHeaders: ['ETag'], MaxAgeSeconds: 60 },
    ]);
    const put = await errorOf(
      srv.s3.send(
        new PutBucketCorsCommand({
          Bucket: 'site',
          CORSConfiguration: { CORSRules: [{ AllowedOrigins: ['*'], AllowedMethods: ['GET'] }] },
        }),
      ),
    );
    expect(put.name).to.equal('AccessDenied');
    expect(put.message).to.contain('routing table');
    expect((await errorOf(srv.s3.send(new DeleteBucketCorsCommand({ Bucket: 'site' })))).name).to.equal('AccessDenied');
    const r = await fetch(`${srv.url}/site/x`, {
      method: 'OPTIONS',
      headers: { Origin: 'https://site.test', 'Access-Control-Request-Method': 'PUT' },
    });
    expect(r.status).to.equal(200);
    expect(r.headers.get('access-control-allow-origin')).to.equal('https://site.test');
  });

  it('refuses a table whose rules S3 would refuse', () => {
    expect(() =>
      validateRoutingTable({
        backends: { mem: { type: 'memory', store: 'x' } },
        routes: { site: { bucket: 'site', cors: [{ allowedOrigins: 'http://*.*.a', allowedMethods: 'GET' }] } },
      }),
    ).to.throw(/more than one wildcard/);
    expect(() =>
      validateRoutingTable({
        backends: { mem: { type: 'memory', store: 'x' } },
        routes: { site: { bucket: 'site', cors: [{ allowedOrigins: '*', allowedMethods: 'PATCH' }] } },
      }),
    ).to.throw(/cors/);
  });
});
