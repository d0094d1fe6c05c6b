/**
 * s3mux behind a reverse proxy that rewrites Host and serves it under a sub-path, as nginx's
 * `location /s3/ { proxy_pass http://s3mux/; }` does (client-pitfalls 8): the client signs the
 * host and path it uses, s3mux sees others. With --trust-forwarded the forwarded headers say
 * what the client used; without it the same requests fail their signature, as they must.
 */
import http from 'node:http';
import type { AddressInfo } from 'node:net';
import { expect } from 'chai';
import {
  CompleteMultipartUploadCommand,
  CreateBucketCommand,
  CreateMultipartUploadCommand,
  GetObjectCommand,
  ListObjectsV2Command,
  PutObjectCommand,
  S3Client,
  UploadPartCommand,
} from '@aws-sdk/client-s3';
import { getSignedUrl } from '@aws-sdk/s3-request-presigner';
import { startTestServer, ACCESS_KEY, SECRET_KEY, type TestServer } from '../helpers/server';
import { errorOf } from '../helpers/errors';
import { run } from '../helpers/processes';

const PREFIX = '/s3';

/** A proxy on 127.0.0.1 that strips PREFIX, sends the upstream's own Host, and says what it changed. */
async function startProxy(upstreamPort: number): Promise<{ url: string; close: () => Promise<void> }> {
  const server = http.createServer((req, res) => {
    const path = (req.url ?? '/').startsWith(`${PREFIX}/`) ? (req.url ?? '/').slice(PREFIX.length) : (req.url ?? '/');
    const [host, port] = (req.headers.host ?? '').split(':');
    const headers = {
      ...req.headers,
      host: `127.0.0.1:${upstreamPort}`,
      'x-forwarded-host': host,
      'x-forwarded-port': port ?? '80',
      'x-forwarded-proto': 'http',
      'x-forwarded-prefix': PREFIX,
    };
    const up = http.request({ host: '127.0.0.1', port: upstreamPort, method: req.method, path, headers }, (upRes) => {
      res.writeHead(upRes.statusCode ?? 502, upRes.headers);
      upRes.pipe(res);
    });
    up.on('error', () => res.destroy());
    req.pipe(up);
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const { port } = server.address() as AddressInfo;
  return {
    url: `http://localhost:${port}${PREFIX}`,
    close: () => new Promise((resolve) => server.close(() => resolve())),
  };
}

const clientOf = (endpoint: string) =>
  new S3Client({
    endpoint,
    region: 'us-east-1',
    forcePathStyle: true,
    credentials: { accessKeyId: ACCESS_KEY, secretAccessKey: SECRET_KEY },
  });

describe('protocol: behind a reverse proxy that rewrites Host and strips a sub-path', function () {
  this.timeout(60_000);
  const servers: TestServer[] = [];
  const proxies: Array<{ close: () => Promise<void> }> = [];
  after(async () => {
    for (const p of proxies) await p.close();
    for (const s of servers) await s.stop();
  });

  const behindProxy = async (trustForwarded: boolean) => {
    const srv = await startTestServer({ trustForwarded });
    servers.push(srv);
    const proxy = await startProxy(srv.port);
    proxies.push(proxy);
    return { srv, proxy, s3: clientOf(proxy.url) };
  };

  it('with --trust-forwarded: signed requests, presigned URLs and boto3 work through the proxy', async () => {
    const { srv, proxy, s3 } = await behindProxy(true);
    await s3.send(new CreateBucketCommand({ Bucket: 'fwd' }));
    await s3.send(new PutObjectCommand({ Bucket: 'fwd', Key: 'dir/a b.txt', Body: 'through the proxy' }));
    const got = await s3.send(new GetObjectCommand({ Bucket: 'fwd', Key: 'dir/a b.txt' }));
    expect(await got.Body!.transformToString()).to.equal('through the proxy');
    expect((await s3.send(new ListObjectsV2Command({ Bucket: 'fwd' }))).Contents?.map((c) => c.Key)).to.deep.equal(['dir/a b.txt']);
    const url = await getSignedUrl(s3, new GetObjectCommand({ Bucket: 'fwd', Key: 'dir/a b.txt' }), { expiresIn: 60 });
    const presigned = await fetch(url);
    expect([presigned.status, await presigned.text()]).to.deep.equal([200, 'through the proxy']);
    // Reached directly, s3mux still takes the host and path the client used.
    expect((await srv.s3.send(new ListObjectsV2Command({ Bucket: 'fwd' }))).KeyCount).to.equal(1);
    const script = [
      'import boto3, sys',
      `c = boto3.client("s3", endpoint_url=sys.argv[1], region_name="us-east-1", aws_access_key_id="${ACCESS_KEY}", aws_secret_access_key="${SECRET_KEY}")`,
      'c.put_object(Bucket="fwd", Key="boto3.txt", Body=b"py")',
      'print(c.get_object(Bucket="fwd", Key="boto3.txt")["Body"].read().decode())',
    ].join('\n');
    const out = await run('/usr/bin/python3', ['-c', script, proxy.url]);
    expect(out.stdout.trim()).to.equal('py');
  });

  it("with --trust-forwarded: CompleteMultipartUpload's Location and a POST form's are the URL the client used", async () => {
    const { srv, proxy, s3 } = await behindProxy(true);
    await s3.send(new CreateBucketCommand({ Bucket: 'fwdloc' }));
    const { UploadId } = await s3.send(new CreateMultipartUploadCommand({ Bucket: 'fwdloc', Key: 'd/m p.bin' }));
    const part = await s3.send(new UploadPartCommand({ Bucket: 'fwdloc', Key: 'd/m p.bin', UploadId, PartNumber: 1, Body: 'one part' }));
    const done = await s3.send(
      new CompleteMultipartUploadCommand({
        Bucket: 'fwdloc',
        Key: 'd/m p.bin',
        UploadId,
        MultipartUpload: { Parts: [{ PartNumber: 1, ETag: part.ETag }] },
      }),
    );
    expect(done.Location).to.equal(`${proxy.url}/fwdloc/d/m%20p.bin`);
    // A browser form through the proxy: its 201 answer names the object where the browser can fetch it.
    const policy = srv.minio.newPostPolicy();
    policy.setBucket('fwdloc');
    policy.setKey('posted.txt');
    policy.setExpires(new Date(Date.now() + 600_000));
    policy.policy.conditions.push(['eq', '$success_action_status', '201']);
    const { formData } = await srv.minio.presignedPostPolicy(policy);
    const form = new FormData();
    for (const [k, v] of Object.entries({ ...formData, success_action_status: '201' })) form.append(k, v);
    form.append('file', new Blob(['posted through the proxy']), 'posted.txt');
    const posted = await fetch(`${proxy.url}/fwdloc`, { method: 'POST', body: form });
    expect(posted.status, await posted.clone().text()).to.equal(201);
    expect(posted.headers.get('location')).to.equal(`${proxy.url}/fwdloc/posted.txt`);
    expect(await posted.text()).to.contain(`<Location>${proxy.url}/fwdloc/posted.txt</Location>`);
  });

  it('without it the forwarded headers are not believed: the same requests fail their signature', async () => {
    const { s3 } = await behindProxy(false);
    const e = await errorOf(s3.send(new CreateBucketCommand({ Bucket: 'fwd' })));
    expect([e.name, e.$metadata.httpStatusCode]).to.deep.equal(['SignatureDoesNotMatch', 403]);
  });
});
