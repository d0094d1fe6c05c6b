import { expect } from 'chai';
import { spawn, spawnSync } from 'node:child_process';
import { createHash, createHmac } from 'node:crypto';
import { existsSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { CreateBucketCommand, GetObjectCommand } from '@aws-sdk/client-s3';
import { authenticateV2, canonicalizedResource, stringToSignV2, type SigV2Request } from '../../src/auth/sigv2';
import { authenticate } from '../../src/auth/authenticate';
import type { AuthResult, CredentialLookup, Identity } from '../../src/auth/sigv4';
import { startTestServer, ACCESS_KEY, SECRET_KEY, type TestServer } from '../helpers/server';
import { exactRequest } from '../helpers/sign';
import { expectS3Error } from '../helpers/s3-error';

// Independent V2 signing (Node crypto only), so the tests do not trust the code under test.
const sign = (secret: string, stringToSign: string) => createHmac('sha1', secret).update(stringToSign, 'utf8').digest('base64');

function signed(r: AuthResult) {
  if (r.type === 'anonymous') throw new Error('expected a signed request');
  return r;
}

// The example credentials of S3's "Signing and authenticating REST requests" page.
const doc: Identity = { accessKeyId: 'AKIAIOSFODNN7EXAMPLE', secretAccessKey: 'wJalrXUtnFEMI/K7MDENG/bPxRfiCYEXAMPLEKEY' };
const docLookup: CredentialLookup = (id) => (id === doc.accessKeyId ? doc : undefined);

function req(method: string, pathAndQuery: string, headers: Record<string, string | string[]>, virtualHostBucket?: string): SigV2Request {
  const q = pathAndQuery.indexOf('?');
  return {
    method,
    rawPath: q < 0 ? pathAndQuery : pathAndQuery.slice(0, q),
    rawQuery: q < 0 ? '' : pathAndQuery.slice(q + 1),
    headers,
    ...(virtualHostBucket !== undefined ? { virtualHostBucket } : {}),
  };
}

describe('sigv2: the examples of the S3 documentation', () => {
  const at = (d: string) => new Date(d);
  const cases: Array<{ name: string; r: SigV2Request; now: Date; sts: string; sig: string }> = [
    {
      name: 'object GET (virtual-hosted)',
      r: req('GET', '/photos/puppy.jpg', { host: 'johnsmith.s3.amazonaws.com', date: 'Tue, 27 Mar 2007 19:36:42 +0000' }, 'johnsmith'),
      now: at('2007-03-27T19:36:42Z'),
      sts: 'GET\n\n\nTue, 27 Mar 2007 19:36:42 +0000\n/johnsmith/photos/puppy.jpg',
      sig: 'bWq2s1WEIj+Ydj0vQ697zp+IXMU=',
    },
    {
      name: 'object PUT with a Content-Type',
      r: req(
        'PUT',
        '/photos/puppy.jpg',
        {
          host: 'johnsmith.s3.amazonaws.com',
          'content-type': 'image/jpeg',
          'content-length': '94328',
          date: 'Tue, 27 Mar 2007 21:15:45 +0000',
        },
        'johnsmith',
      ),
      now: at('2007-03-27T21:15:45Z'),
      sts: 'PUT\n\nimage/jpeg\nTue, 27 Mar 2007 21:15:45 +0000\n/johnsmith/photos/puppy.jpg',
      sig: 'MyyxeRY7whkBe+bq8fHCL/2kKUg=',
    },
    {
      name: 'list (query parameters that are not sub-resources are not signed)',
      r: req(
        'GET',
        '/?prefix=photos&max-keys=50&marker=puppy',
        { host: 'johnsmith.s3.amazonaws.com', date: 'Tue, 27 Mar 2007 19:42:41 +0000', 'user-agent': 'Mozilla/5.0' },
        'johnsmith',
      ),
      now: at('2007-03-27T19:42:41Z'),
      sts: 'GET\n\n\nTue, 27 Mar 2007 19:42:41 +0000\n/johnsmith/',
      sig: 'htDYFYduRNen8P9ZfE/s9SuKy0U=',
    },
    {
      name: '?acl (a sub-resource)',
      r: req('GET', '/?acl', { host: 'johnsmith.s3.amazonaws.com', date: 'Tue, 27 Mar 2007 19:44:46 +0000' }, 'johnsmith'),
      now: at('2007-03-27T19:44:46Z'),
      sts: 'GET\n\n\nTue, 27 Mar 2007 19:44:46 +0000\n/johnsmith/?acl',
      sig: 'c2WLPFtWHVgbEmeEG93a4cG37dM=',
    },
    {
      name: 'upload with Content-MD5, x-amz-* headers (mixed case, repeated) and a CNAME bucket',
      r: req(
        'PUT',
        '/db-backup.dat.gz',
        {
          host: 'static.johnsmith.net:8080',
          date: 'Tue, 27 Mar 2007 21:06:08 +0000',
          'x-amz-acl': 'public-read',
          'content-type': 'application/x-download',
          'content-md5': '4gJE4saaMU4BqNR0kLY+lw==',
          'x-amz-meta-reviewedby': ['joe@johnsmith.net', 'jane@johnsmith.net'],
          'x-amz-meta-filechecksum': '0x02661779',
          'x-amz-meta-checksumalgorithm': 'crc32',
          'content-disposition': 'attachment; filename=database.dat',
          'content-encoding': 'gzip',
          'content-length': '5913339',
        },
        'static.johnsmith.net',
      ),
      now: at('2007-03-27T21:06:08Z'),
      sts:
        'PUT\n4gJE4saaMU4BqNR0kLY+lw==\napplication/x-download\nTue, 27 Mar 2007 21:06:08 +0000\n' +
        'x-amz-acl:public-read\nx-amz-meta-checksumalgorithm:crc32\nx-amz-meta-filechecksum:0x02661779\n' +
        'x-amz-meta-reviewedby:joe@johnsmith.net,jane@johnsmith.net\n/static.johnsmith.net/db-backup.dat.gz',
      sig: 'ilyl83RwaSoYIEdixDQcA4OnAnc=',
    },
    {
      name: 'list all buckets',
      r: req('GET', '/', { host: 's3.amazonaws.com', date: 'Wed, 28 Mar 2007 01:29:59 +0000' }),
      now: at('2007-03-28T01:29:59Z'),
      sts: 'GET\n\n\nWed, 28 Mar 2007 01:29:59 +0000\n/',
      sig: 'qGdzdERIC03wnaRNKh6OqZehG9s=',
    },
    {
      name: 'Unicode keys: the path exactly as sent, percent-encoding case kept',
      r: req('GET', '/dictionary/fran%C3%A7ais/pr%c3%a9f%c3%a8re', { host: 's3.amazonaws.com', date: 'Wed, 28 Mar 2007 01:49:49 +0000' }),
      now: at('2007-03-28T01:49:49Z'),
      sts: 'GET\n\n\nWed, 28 Mar 2007 01:49:49 +0000\n/dictionary/fran%C3%A7ais/pr%c3%a9f%c3%a8re',
      sig: 'DNEZGsoieTZ92F3bUfSPQcbGmlM=',
    },
  ];

  for (const c of cases) {
    it(c.name, () => {
      const dateLine = (c.r.headers.date as string) ?? '';
      expect(stringToSignV2(c.r, dateLine)).to.equal(c.sts);
      const withAuth = { ...c.r, headers: { ...c.r.headers, authorization: `AWS ${doc.accessKeyId}:${c.sig}` } };
      const r = signed(authenticateV2(withAuth, docLookup, c.now));
      expect(r).to.deep.include({ type: 'v2', accessKeyId: doc.accessKeyId, payloadHash: 'UNSIGNED-PAYLOAD', service: 's3' });
      expect(r.streaming).to.equal(undefined);
    });
  }

  it('query string authentication (the documented presigned URL)', () => {
    const r = req(
      'GET',
      '/photos/puppy.jpg?AWSAccessKeyId=AKIAIOSFODNN7EXAMPLE&Signature=NpgCjnDzrM%2BWFzoENXmpNDUsSn8%3D&Expires=1175139620',
      { host: 'johnsmith.s3.amazonaws.com' },
      'johnsmith',
    );
    expect(signed(authenticateV2(r, docLookup, new Date(1175139000 * 1000))).type).to.equal('v2');
    // One second after Expires.
    const err = expectS3Error(() => authenticateV2(r, docLookup, new Date(1175139621 * 1000)), 'AccessDenied', /^Request has expired$/);
    expect(err.extra.Expires).to.equal(new Date(1175139620 * 1000).toISOString());
    expect(err.extra).to.have.property('ServerTime');
  });
});

describe('sigv2: the string to sign and the verifier', () => {
  const id: Identity = { accessKeyId: 'AKIDV2', secretAccessKey: 'secret/with+chars=' };
  const lookup: CredentialLookup = (k) => (k === id.accessKeyId ? id : undefined);
  const now = new Date('2024-01-02T03:04:05Z');
  const date = 'Tue, 02 Jan 2024 03:04:05 GMT';

  function signedReq(
    method: string,
    pathAndQuery: string,
    headers: Record<string, string | string[]>,
    sts: string,
    vhost?: string,
  ): SigV2Request {
    const r = req(method, pathAndQuery, headers, vhost);
    return { ...r, headers: { ...headers, authorization: `AWS ${id.accessKeyId}:${sign(id.secretAccessKey, sts)}` } };
  }

  it('signs the sub-resources S3 lists, sorted, with decoded values; other parameters are not signed', () => {
    expect(canonicalizedResource('/b/k', 'uploadId=abc&partNumber=3&x-id=UploadPart')).to.equal('/b/k?partNumber=3&uploadId=abc');
    expect(
      canonicalizedResource(
        '/b/k',
        'versionId=v1&response-content-type=text%2Fplain&response-content-disposition=attachment%3B%20filename%3D%22a%20b%22',
      ),
    ).to.equal('/b/k?response-content-disposition=attachment; filename="a b"&response-content-type=text/plain&versionId=v1');
    expect(canonicalizedResource('/b', 'delete')).to.equal('/b?delete');
    expect(canonicalizedResource('/b', 'delete=')).to.equal('/b?delete');
    for (const sub of [
      'acl',
      'lifecycle',
      'location',
      'logging',
      'notification',
      'policy',
      'requestPayment',
      'tagging',
      'torrent',
      'uploads',
      'versioning',
      'versions',
      'website',
    ]) {
      expect(canonicalizedResource('/b', `${sub}&list-type=2`)).to.equal(`/b?${sub}`);
    }
    expect(canonicalizedResource('/b', 'prefix=a&max-keys=5&list-type=2&continuation-token=x')).to.equal('/b');
    // Virtual-hosted: /bucket + path.
    expect(canonicalizedResource('/', '', 'vb')).to.equal('/vb/');
    expect(canonicalizedResource('/k%20x', 'acl', 'vb')).to.equal('/vb/k%20x?acl');
  });

  it('x-amz-date empties the Date line and is signed among the amz headers; values trimmed, names lower-cased, sorted', () => {
    const headers = {
      date: 'Mon, 01 Jan 2024 00:00:00 GMT',
      'x-amz-date': date,
      'x-amz-meta-b': '  two  ',
      'x-amz-meta-a': 'one',
      'content-type': ' text/plain ',
    };
    const sts = `PUT\n\ntext/plain\n\nx-amz-date:${date}\nx-amz-meta-a:one\nx-amz-meta-b:two\n/b/k`;
    expect(stringToSignV2(req('PUT', '/b/k', headers), '')).to.equal(sts);
    // The Date header is a day off, but x-amz-date is the request time.
    expect(signed(authenticateV2(signedReq('PUT', '/b/k', headers, sts), lookup, now)).accessKeyId).to.equal(id.accessKeyId);
  });

  it('a wrong signature is SignatureDoesNotMatch with the StringToSign', () => {
    const sts = `GET\n\n\n${date}\n/b/k`;
    const r = signedReq('GET', '/b/k', { date }, sts);
    const bad = { ...r, headers: { ...r.headers, authorization: `AWS ${id.accessKeyId}:${sign('other', sts)}` } };
    const err = expectS3Error(() => authenticateV2(bad, lookup, now), 'SignatureDoesNotMatch');
    expect(err.extra.StringToSign).to.equal(sts);
    expect(err.extra.AWSAccessKeyId).to.equal(id.accessKeyId);
    expect(err.extra.SignatureProvided).to.equal(sign('other', sts));
    expect(err.extra.StringToSignBytes).to.match(/^47 45 54 0a/);
    // What is signed is what the request names: another key, method, or sub-resource fails.
    expectS3Error(() => authenticateV2({ ...r, rawPath: '/b/k2' }, lookup, now), 'SignatureDoesNotMatch');
    expectS3Error(() => authenticateV2({ ...r, method: 'DELETE' }, lookup, now), 'SignatureDoesNotMatch');
    expectS3Error(() => authenticateV2({ ...r, rawQuery: 'acl' }, lookup, now), 'SignatureDoesNotMatch');
    expectS3Error(() => authenticateV2({ ...r, headers: { ...r.headers, 'x-amz-meta-added': '1' } }, lookup, now), 'SignatureDoesNotMatch');
    expectS3Error(
      () => authenticateV2({ ...r, headers: { ...r.headers, 'content-md5': 'AAAAAAAAAAAAAAAAAAAAAA==' } }, lookup, now),
      'SignatureDoesNotMatch',
    );
    // Parameters that are not sub-resources are not signed.
    authenticateV2({ ...r, rawQuery: 'prefix=x' }, lookup, now);
  });

  it('unknown key, bad header, missing or skewed date', () => {
    const sts = `GET\n\n\n${date}\n/b/k`;
    const r = signedReq('GET', '/b/k', { date }, sts);
    const err = expectS3Error(() => authenticateV2(r, () => undefined, now), 'InvalidAccessKeyId');
    expect(err.extra.AWSAccessKeyId).to.equal(id.accessKeyId);
    for (const a of ['AWS ', 'AWS nocolon', 'AWS :sig', 'AWS AKID:']) {
      expectS3Error(
        () => authenticateV2({ ...r, headers: { ...r.headers, authorization: a } }, lookup, now),
        'InvalidArgument',
        /Expected AwsAccessKeyId:signature/,
      );
    }
    expectS3Error(
      () => authenticateV2({ ...r, headers: { authorization: r.headers.authorization } }, lookup, now),
      'AccessDenied',
      /valid Date or x-amz-date/,
    );
    expectS3Error(() => authenticateV2({ ...r, headers: { ...r.headers, date: 'not a date' } }, lookup, now), 'AccessDenied', /valid Date/);
    authenticateV2(r, lookup, new Date(now.getTime() + 14 * 60_000));
    authenticateV2(r, lookup, new Date(now.getTime() - 14 * 60_000));
    const skew = expectS3Error(() => authenticateV2(r, lookup, new Date(now.getTime() + 16 * 60_000)), 'RequestTimeTooSkewed');
    expect(skew.status).to.equal(403);
    expect(skew.extra.RequestTime).to.equal(date);
    expectS3Error(() => authenticateV2(r, lookup, new Date(now.getTime() - 16 * 60_000)), 'RequestTimeTooSkewed');
    expectS3Error(() => authenticateV2(r, lookup, new Date(now.getTime() + 2 * 60_000), { maxSkewMs: 60_000 }), 'RequestTimeTooSkewed');
    // A date before the epoch is no date at all to S3: AccessDenied, not a skew.
    const epochSts = 'GET\n\n\nTue, 07 Jul 1950 21:53:04 GMT\n/b/k';
    const before = expectS3Error(
      () => authenticateV2(signedReq('GET', '/b/k', { date: 'Tue, 07 Jul 1950 21:53:04 GMT' }, epochSts), lookup, now),
      'AccessDenied',
    );
    expect(before.status).to.equal(403);
  });

  it('query authentication: Expires is the date line, x-amz-* parameters are signed, "+" left raw is tolerated', () => {
    const expires = String(Math.floor(now.getTime() / 1000) + 60);
    const sts = `GET\n\n\n${expires}\nx-amz-meta-x:y\n/b/k?versionId=null`;
    const sig = sign(id.secretAccessKey, sts);
    const q = `versionId=null&AWSAccessKeyId=${id.accessKeyId}&Expires=${expires}&x-amz-meta-x=y&Signature=${encodeURIComponent(sig)}`;
    expect(signed(authenticateV2(req('GET', `/b/k?${q}`, {}), lookup, now)).type).to.equal('v2');
    // A client that left the base64 unencoded: '+' would read as a space.
    const raw = `AWSAccessKeyId=${id.accessKeyId}&Expires=${expires}&Signature=${sign(id.secretAccessKey, `GET\n\n\n${expires}\n/b/plus`)}`;
    authenticateV2(req('GET', `/b/plus?${raw}`, {}), lookup, now);
    // Far-future presigned URLs are V2's norm (no one-week cap), a past one has expired.
    const past = String(Math.floor(now.getTime() / 1000) - 1);
    const pq = `AWSAccessKeyId=${id.accessKeyId}&Expires=${past}&Signature=${encodeURIComponent(sign(id.secretAccessKey, `GET\n\n\n${past}\n/b/k`))}`;
    expectS3Error(() => authenticateV2(req('GET', `/b/k?${pq}`, {}), lookup, now), 'AccessDenied', /^Request has expired$/);
    expectS3Error(
      () => authenticateV2(req('GET', `/b/k?AWSAccessKeyId=${id.accessKeyId}&Signature=x`, {}), lookup, now),
      'AccessDenied',
      /requires the Signature, Expires and AWSAccessKeyId/,
    );
    expectS3Error(
      () => authenticateV2(req('GET', `/b/k?Signature=x&Expires=1`, {}), lookup, now),
      'AccessDenied',
      /requires the Signature, Expires and AWSAccessKeyId/,
    );
    expectS3Error(
      () => authenticateV2(req('GET', `/b/k?AWSAccessKeyId=a&Signature=x&Expires=soon`, {}), lookup, now),
      'AccessDenied',
      /seconds since epoch/,
    );
    expectS3Error(
      () => authenticateV2(req('GET', `/b/k?AWSAccessKeyId=a&AWSAccessKeyId=b&Signature=x&Expires=1`, {}), lookup, now),
      'InvalidArgument',
      /repeated/,
    );
    expectS3Error(
      () => authenticateV2(req('GET', `/b/k?AWSAccessKeyId=nobody&Signature=x&Expires=${expires}`, {}), lookup, now),
      'InvalidAccessKeyId',
    );
  });

  it('session tokens: required when the identity has one, refused otherwise', () => {
    const tid: Identity = { accessKeyId: 'AKIDTOKEN', secretAccessKey: 's', sessionToken: 'tok' };
    const tl: CredentialLookup = (k) => (k === tid.accessKeyId ? tid : k === id.accessKeyId ? id : undefined);
    const withToken = (akid: string, secret: string, token?: string) => {
      const headers: Record<string, string> = { date, ...(token ? { 'x-amz-security-token': token } : {}) };
      const sts = `GET\n\n\n${date}\n${token ? `x-amz-security-token:${token}\n` : ''}/b/k`;
      return req('GET', '/b/k', { ...headers, authorization: `AWS ${akid}:${sign(secret, sts)}` });
    };
    authenticateV2(withToken('AKIDTOKEN', 's', 'tok'), tl, now);
    expectS3Error(() => authenticateV2(withToken('AKIDTOKEN', 's'), tl, now), 'InvalidToken', /token/);
    expectS3Error(() => authenticateV2(withToken('AKIDTOKEN', 's', 'other'), tl, now), 'InvalidToken', /token/);
    expectS3Error(() => authenticateV2(withToken(id.accessKeyId, id.secretAccessKey, 'tok'), tl, now), 'InvalidToken', /token/);
  });

  it("accepts the resource forms botocore signs (its URI template's path and query), and only for the same request", () => {
    const at = (method: string, pq: string, resource: string, headers: Record<string, string> = {}) => {
      const r = req(method, pq, { date, ...headers });
      const sts = `${method}\n\n${headers['content-type'] ?? ''}\n${date}\n${resource}`;
      return { ...r, headers: { ...r.headers, authorization: `AWS ${id.accessKeyId}:${sign(id.secretAccessKey, sts)}` } };
    };
    authenticateV2(at('PUT', '/b', '/b/'), lookup, now); // CreateBucket
    authenticateV2(at('GET', '/b?list-type=2&prefix=a', '/b?list-type=2'), lookup, now); // ListObjectsV2
    authenticateV2(at('PUT', '/b/k?tagging', '/b/k?tagging?tagging'), lookup, now); // PutObjectTagging
    authenticateV2(at('POST', '/b?delete', '/b?delete?delete'), lookup, now); // DeleteObjects
    authenticateV2(at('POST', '/b/k?uploads', '/b/k?uploads?uploads'), lookup, now); // CreateMultipartUpload
    authenticateV2({ ...at('GET', '/?acl', '/b?acl?acl'), virtualHostBucket: 'b' }, lookup, now); // virtual-hosted GetBucketAcl
    // The same signatures on other requests do not verify.
    const tagging = at('PUT', '/b/k?tagging', '/b/k?tagging?tagging');
    expectS3Error(() => authenticateV2({ ...tagging, rawQuery: 'acl' }, lookup, now), 'SignatureDoesNotMatch');
    expectS3Error(() => authenticateV2({ ...tagging, rawQuery: '' }, lookup, now), 'SignatureDoesNotMatch');
    expectS3Error(() => authenticateV2({ ...tagging, rawPath: '/b/k2' }, lookup, now), 'SignatureDoesNotMatch');
    const bucket = at('PUT', '/b', '/b/');
    expectS3Error(() => authenticateV2({ ...bucket, rawPath: '/b/k' }, lookup, now), 'SignatureDoesNotMatch');
    expectS3Error(() => authenticateV2({ ...bucket, rawQuery: 'acl' }, lookup, now), 'SignatureDoesNotMatch');
  });

  it('the entry point: V2 or V4 or anonymous, and only one mechanism at a time', () => {
    const sts = `GET\n\n\n${date}\n/b/k`;
    const r = signedReq('GET', '/b/k', { date }, sts);
    expect(authenticate(r, lookup, now).type).to.equal('v2');
    expect(authenticate(req('GET', '/b/k', { date }), lookup, now).type).to.equal('anonymous');
    const one = /Only one auth mechanism allowed/;
    expectS3Error(() => authenticate({ ...r, rawQuery: 'X-Amz-Algorithm=AWS4-HMAC-SHA256' }, lookup, now), 'InvalidArgument', one);
    expectS3Error(() => authenticate({ ...r, rawQuery: 'AWSAccessKeyId=a&Signature=b&Expires=1' }, lookup, now), 'InvalidArgument', one);
    expectS3Error(
      () => authenticate(req('GET', '/b/k?AWSAccessKeyId=a&Signature=b&Expires=1&X-Amz-Algorithm=AWS4-HMAC-SHA256', {}), lookup, now),
      'InvalidArgument',
      one,
    );
    expectS3Error(
      () =>
        authenticate(
          req('GET', '/b/k?AWSAccessKeyId=a&Signature=b&Expires=1', { authorization: 'AWS4-HMAC-SHA256 Credential=x' }),
          lookup,
          now,
        ),
      'InvalidArgument',
      one,
    );
    // SigV4 goes to the V4 verifier as before.
    expectS3Error(
      () => authenticate(req('GET', '/b/k', { authorization: 'AWS4-HMAC-SHA256 Credential=x' }), lookup, now),
      'AuthorizationHeaderMalformed',
    );
  });
});

// ---------------------------------------------------------------------------------------
// Real clients

const PYTHON = '/usr/bin/python3';
const S3CMD = '/usr/bin/s3cmd';

function hasBoto3(): boolean {
  if (!existsSync(PYTHON)) return false;
  return spawnSync(PYTHON, ['-c', 'import boto3, botocore'], { timeout: 30_000 }).status === 0;
}

/** Runs a child process without blocking the event loop (the server under test runs in this process). */
function run(
  cmd: string,
  args: string[],
  opts: { input?: string; timeoutMs?: number; cwd?: string; env?: Record<string, string> } = {},
): Promise<{ status: number | null; stdout: string; stderr: string }> {
  return new Promise((resolve, reject) => {
    const child = spawn(cmd, args, { cwd: opts.cwd, env: { ...process.env, ...(opts.env ?? {}) } });
    const out: Buffer[] = [];
    const err: Buffer[] = [];
    child.stdout.on('data', (c: Buffer) => out.push(c));
    child.stderr.on('data', (c: Buffer) => err.push(c));
    const timer = setTimeout(() => child.kill('SIGKILL'), opts.timeoutMs ?? 120_000);
    child.on('error', (e) => {
      clearTimeout(timer);
      reject(e);
    });
    child.on('close', (status) => {
      clearTimeout(timer);
      resolve({ status, stdout: Buffer.concat(out).toString('utf8'), stderr: Buffer.concat(err).toString('utf8') });
    });
    child.stdin.end(opts.input ?? '');
  });
}

async function runPython(script: string, input: unknown): Promise<unknown> {
  const r = await run(PYTHON, ['-c', script], { input: JSON.stringify(input) });
  if (r.status !== 0) throw new Error(`python failed (${r.status}): ${r.stderr}`);
  return JSON.parse(r.stdout);
}

describe('sigv2: requests signed by botocore (HmacV1Auth / HmacV1QueryAuth)', function () {
  this.timeout(120_000);
  before(function () {
    if (!hasBoto3()) this.skip(); // skipped: /usr/bin/python3 with boto3 is not installed here
  });

  const id: Identity = { accessKeyId: 'AKIDBOTO', secretAccessKey: 'boto/secret+key=' };
  const lookup: CredentialLookup = (k) => (k === id.accessKeyId ? id : undefined);

  it('verifies what botocore signs: keys with odd characters, sub-resources, x-amz-* headers, presigned URLs', async () => {
    const requests = [
      { method: 'GET', url: 'http://127.0.0.1:9000/bkt/plain.txt', headers: {} },
      {
        method: 'PUT',
        url: 'http://127.0.0.1:9000/bkt/with%20space/and%2Bplus%3Dequals',
        headers: {
          'Content-Type': 'text/plain',
          'Content-MD5': 'XrY7u+Ae7tCTyyK7j1rNww==',
          'x-amz-meta-Colour': ' blue ',
          'x-amz-storage-class': 'STANDARD_IA',
        },
      },
      {
        method: 'GET',
        url: 'http://127.0.0.1:9000/bkt/%C3%BCn%C3%AFc%C3%B6d%C3%A9/%E6%97%A5%E6%9C%AC?response-content-type=text%2Fplain&versionId=null',
        headers: {},
      },
      { method: 'POST', url: 'http://127.0.0.1:9000/bkt?delete', headers: { 'Content-Type': 'application/xml' } },
      { method: 'PUT', url: 'http://127.0.0.1:9000/bkt/big?partNumber=2&uploadId=abc-_DEF', headers: {} },
      { method: 'GET', url: 'http://127.0.0.1:9000/bkt?list-type=2&prefix=a%2Fb&delimiter=%2F', headers: {} },
      { method: 'GET', url: 'http://bkt.s3.local:9000/vhost/key?tagging', headers: {}, auth_path: '/bkt/vhost/key' },
      { method: 'GET', url: 'http://127.0.0.1:9000/bkt/presigned.txt', headers: {}, presign: true },
      { method: 'PUT', url: 'http://127.0.0.1:9000/bkt/presigned-put', headers: { 'x-amz-meta-a': 'b' }, presign: true },
    ];
    const script = `
import json, sys
from botocore.auth import HmacV1Auth, HmacV1QueryAuth
from botocore.awsrequest import AWSRequest
from botocore.credentials import Credentials
creds = Credentials(${JSON.stringify(id.accessKeyId)}, ${JSON.stringify(id.secretAccessKey)})
out = []
for r in json.load(sys.stdin):
    req = AWSRequest(method=r['method'], url=r['url'], headers=r['headers'], auth_path=r.get('auth_path'))
    (HmacV1QueryAuth(creds, expires=600) if r.get('presign') else HmacV1Auth(creds)).add_auth(req)
    out.append({'url': req.url, 'headers': {k.lower(): v for k, v in req.headers.items()}})
print(json.dumps(out))
`;
    const out = (await runPython(script, requests)) as Array<{ url: string; headers: Record<string, string> }>;
    out.forEach((o, i) => {
      const u = new URL(o.url);
      const vhost = u.hostname === 'bkt.s3.local' ? 'bkt' : undefined;
      const rawPath = o.url.slice(u.origin.length).split('?')[0];
      const r: SigV2Request = {
        method: requests[i].method,
        rawPath,
        rawQuery: u.search.slice(1),
        headers: o.headers,
        ...(vhost ? { virtualHostBucket: vhost } : {}),
      };
      const result = signed(authenticate(r, lookup));
      expect(result.type, o.url).to.equal('v2');
    });
  });
});

describe('sigv2: real clients against a running server', function () {
  this.timeout(180_000);
  let srv: TestServer;
  let tmp: string;
  before(async () => {
    srv = await startTestServer();
    tmp = mkdtempSync(path.join(os.tmpdir(), 's3mux-sigv2-'));
  });
  after(async () => {
    await srv.stop();
    rmSync(tmp, { recursive: true, force: true });
  });

  it('boto3 with signature_version="s3": buckets, put/get/head/list/copy/delete, multipart, tagging, presigned GET', async function () {
    if (!hasBoto3()) this.skip(); // skipped: /usr/bin/python3 with boto3 is not installed here
    const script = `
import json, sys, hashlib, urllib.request
import boto3
from botocore.config import Config
from botocore.exceptions import ClientError
a = json.load(sys.stdin)
s3 = boto3.client('s3', endpoint_url=a['url'], aws_access_key_id=a['ak'], aws_secret_access_key=a['sk'], region_name='us-east-1',
                  config=Config(signature_version='s3', s3={'addressing_style': 'path'}, retries={'max_attempts': 1}))
r = {}
B = 'boto-v2'
s3.create_bucket(Bucket=B)
r['buckets'] = [b['Name'] for b in s3.list_buckets()['Buckets']]
body = b'hello from boto3 sigv2'
keys = ['plain.txt', 'with space/and+plus=equals', u'\\u00fcn\\u00efc\\u00f6d\\u00e9/\\u65e5\\u672c', "unreserved-_.~ and !*'()"]
for k in keys:
    s3.put_object(Bucket=B, Key=k, Body=body, ContentType='text/plain', Metadata={'colour': 'blue'})
r['get'] = [s3.get_object(Bucket=B, Key=k)['Body'].read().decode() for k in keys]
h = s3.head_object(Bucket=B, Key='plain.txt')
r['head'] = {'etag': h['ETag'], 'meta': h['Metadata'], 'type': h['ContentType']}
r['ranged'] = s3.get_object(Bucket=B, Key='plain.txt', Range='bytes=0-4', ResponseContentType='x/y')['Body'].read().decode()
r['list'] = sorted(o['Key'] for o in s3.list_objects_v2(Bucket=B)['Contents'])
r['list1'] = sorted(o['Key'] for o in s3.list_objects(Bucket=B, Prefix='with')['Contents'])
s3.copy_object(Bucket=B, Key='copy.txt', CopySource={'Bucket': B, 'Key': 'plain.txt'})
r['copy'] = s3.get_object(Bucket=B, Key='copy.txt')['Body'].read().decode()
s3.put_object_tagging(Bucket=B, Key='copy.txt', Tagging={'TagSet': [{'Key': 't', 'Value': 'v'}]})
r['tags'] = s3.get_object_tagging(Bucket=B, Key='copy.txt')['TagSet']
up = s3.create_multipart_upload(Bucket=B, Key='mp.bin')
p1 = b'a' * (5 * 1024 * 1024); p2 = b'b' * 1000
e1 = s3.upload_part(Bucket=B, Key='mp.bin', UploadId=up['UploadId'], PartNumber=1, Body=p1)['ETag']
e2 = s3.upload_part(Bucket=B, Key='mp.bin', UploadId=up['UploadId'], PartNumber=2, Body=p2)['ETag']
r['parts'] = len(s3.list_parts(Bucket=B, Key='mp.bin', UploadId=up['UploadId'])['Parts'])
s3.complete_multipart_upload(Bucket=B, Key='mp.bin', UploadId=up['UploadId'], MultipartUpload={'Parts': [{'PartNumber': 1, 'ETag': e1}, {'PartNumber': 2, 'ETag': e2}]})
r['mp'] = hashlib.md5(s3.get_object(Bucket=B, Key='mp.bin')['Body'].read()).hexdigest()
url = s3.generate_presigned_url('get_object', Params={'Bucket': B, 'Key': 'with space/and+plus=equals'}, ExpiresIn=300)
r['presigned_url'] = url
r['presigned'] = urllib.request.urlopen(url).read().decode()
s3.delete_objects(Bucket=B, Delete={'Objects': [{'Key': 'copy.txt'}]})
s3.delete_object(Bucket=B, Key='plain.txt')
try:
    s3.get_object(Bucket=B, Key='plain.txt'); r['deleted'] = False
except ClientError as e:
    r['deleted'] = e.response['Error']['Code']
bad = boto3.client('s3', endpoint_url=a['url'], aws_access_key_id=a['ak'], aws_secret_access_key='wrong', region_name='us-east-1',
                   config=Config(signature_version='s3', s3={'addressing_style': 'path'}, retries={'max_attempts': 1}))
try:
    bad.list_objects(Bucket=B); r['bad'] = None
except ClientError as e:
    r['bad'] = e.response['Error']['Code']
try:
    s3.put_object(Bucket=B, Key='md5', Body=b'x', ContentMD5='AAAAAAAAAAAAAAAAAAAAAA=='); r['badmd5'] = None
except ClientError as e:
    r['badmd5'] = e.response['Error']['Code']
print(json.dumps(r))
`;
    const r = (await runPython(script, { url: srv.url, ak: ACCESS_KEY, sk: SECRET_KEY })) as Record<string, unknown>;
    const body = 'hello from boto3 sigv2';
    expect(r.buckets).to.include('boto-v2');
    expect(r.get).to.deep.equal([body, body, body, body]);
    expect(r.head).to.deep.equal({
      etag: `"${createHash('md5').update(body).digest('hex')}"`,
      meta: { colour: 'blue' },
      type: 'text/plain',
    });
    expect(r.ranged).to.equal('hello');
    expect(r.list).to.have.length(4);
    expect(r.list1).to.deep.equal(['with space/and+plus=equals']);
    expect(r.copy).to.equal(body);
    expect(r.tags).to.deep.equal([{ Key: 't', Value: 'v' }]);
    expect(r.parts).to.equal(2);
    expect(r.mp).to.equal(
      createHash('md5')
        .update(Buffer.concat([Buffer.alloc(5 * 1024 * 1024, 'a'), Buffer.alloc(1000, 'b')]))
        .digest('hex'),
    );
    expect(r.presigned_url).to.match(/AWSAccessKeyId=.*Signature=.*Expires=|AWSAccessKeyId=.*Expires=.*Signature=/);
    expect(r.presigned).to.equal(body);
    expect(r.deleted).to.equal('NoSuchKey');
    expect(r.bad).to.equal('SignatureDoesNotMatch');
    // The payload is unsigned in V2, but Content-MD5 is still checked.
    expect(r.badmd5).to.equal('BadDigest');
  });

  it('s3cmd with signature_v2 = True: mb, put, ls, get, info, multipart put, del', async function () {
    if (!existsSync(S3CMD)) this.skip(); // skipped: /usr/bin/s3cmd is not installed here
    const cfg = path.join(tmp, 's3cfg');
    writeFileSync(
      cfg,
      [
        '[default]',
        `access_key = ${ACCESS_KEY}`,
        `secret_key = ${SECRET_KEY}`,
        `host_base = 127.0.0.1:${srv.port}`,
        `host_bucket = 127.0.0.1:${srv.port}`,
        'use_https = False',
        'signature_v2 = True',
        'check_ssl_certificate = False',
        'multipart_chunk_size_mb = 5',
        '',
      ].join('\n'),
    );
    const s3cmd = async (...args: string[]) => {
      const r = await run(S3CMD, ['-c', cfg, '--no-progress', ...args], { cwd: tmp });
      const out = `${r.stdout}${r.stderr}`;
      if (r.status !== 0) throw new Error(`s3cmd ${args.join(' ')} failed (${r.status}):\n${out}`);
      return out;
    };
    const small = path.join(tmp, 'small file.txt');
    writeFileSync(small, 'hello from s3cmd\n');
    const big = path.join(tmp, 'big.bin');
    const bigData = Buffer.alloc(12 * 1024 * 1024);
    for (let i = 0; i < bigData.length; i += 4096) bigData.writeUInt32BE(i, i);
    writeFileSync(big, bigData);

    await s3cmd('mb', 's3://s3cmd-v2');
    await s3cmd('put', small, 's3://s3cmd-v2/dir/small file.txt');
    await s3cmd('put', big, 's3://s3cmd-v2/big.bin');
    await s3cmd('put', small, 's3://s3cmd-v2/ünï+cödé.txt');
    const ls = await s3cmd('ls', '-r', 's3://s3cmd-v2');
    expect(ls).to.include('s3://s3cmd-v2/dir/small file.txt');
    expect(ls).to.include('s3://s3cmd-v2/big.bin');
    expect(ls).to.include('s3://s3cmd-v2/ünï+cödé.txt');
    const info = await s3cmd('info', 's3://s3cmd-v2/dir/small file.txt');
    expect(info).to.match(/File size:\s+17/);
    await s3cmd('get', '--force', 's3://s3cmd-v2/big.bin', path.join(tmp, 'big.out'));
    const back = spawnSync('cmp', [big, path.join(tmp, 'big.out')]);
    expect(back.status, 'big.bin round-trips').to.equal(0);
    await s3cmd('get', '--force', 's3://s3cmd-v2/ünï+cödé.txt', path.join(tmp, 'u.out'));
    const got = await srv.s3.send(new GetObjectCommand({ Bucket: 's3cmd-v2', Key: 'big.bin' }));
    expect(got.ETag).to.match(/-3"$/); // stored by a multipart upload of three parts
    await s3cmd('del', 's3://s3cmd-v2/dir/small file.txt');
    expect(await s3cmd('ls', '-r', 's3://s3cmd-v2')).not.to.include('small file.txt');

    // A wrong secret is refused.
    const badCfg = path.join(tmp, 's3cfg-bad');
    writeFileSync(
      badCfg,
      `[default]\naccess_key = ${ACCESS_KEY}\nsecret_key = wrong\nhost_base = 127.0.0.1:${srv.port}\nhost_bucket = 127.0.0.1:${srv.port}\nuse_https = False\nsignature_v2 = True\n`,
    );
    const bad = await run(S3CMD, ['-c', badCfg, 'ls', 's3://s3cmd-v2']);
    expect(bad.status).to.not.equal(0);
    expect(`${bad.stdout}${bad.stderr}`).to.match(/SignatureDoesNotMatch|403/);
  });

  it('V2 over the wire: a header-signed PUT and GET, and the errors S3 gives', async () => {
    await srv.s3.send(new CreateBucketCommand({ Bucket: 'wire-v2' }));
    const date = new Date().toUTCString();
    const put = await exactRequest(
      `${srv.url}/wire-v2/k%20x`,
      'PUT',
      {
        date,
        'content-type': 'text/plain',
        'x-amz-meta-a': 'b',
        authorization: `AWS ${ACCESS_KEY}:${sign(SECRET_KEY, `PUT\n\ntext/plain\n${date}\nx-amz-meta-a:b\n/wire-v2/k%20x`)}`,
      },
      'v2 body',
    );
    expect(put.status, put.text).to.equal(200);
    const get = await exactRequest(`${srv.url}/wire-v2/k%20x`, 'GET', {
      date,
      authorization: `AWS ${ACCESS_KEY}:${sign(SECRET_KEY, `GET\n\n\n${date}\n/wire-v2/k%20x`)}`,
    });
    expect(get.text).to.equal('v2 body');
    expect(get.headers['x-amz-meta-a']).to.equal('b');

    const bad = await exactRequest(`${srv.url}/wire-v2/k%20x`, 'GET', { date, authorization: `AWS ${ACCESS_KEY}:${sign('nope', 'x')}` });
    expect(bad.status).to.equal(403);
    expect(bad.text).to.include('<Code>SignatureDoesNotMatch</Code>');
    expect(bad.text).to.include(`<StringToSign>GET\n\n\n${date}\n/wire-v2/k%20x</StringToSign>`);

    const old = new Date(Date.now() - 20 * 60_000).toUTCString();
    const skew = await exactRequest(`${srv.url}/wire-v2/k%20x`, 'GET', {
      date: old,
      authorization: `AWS ${ACCESS_KEY}:${sign(SECRET_KEY, `GET\n\n\n${old}\n/wire-v2/k%20x`)}`,
    });
    expect(skew.status).to.equal(403);
    expect(skew.text).to.include('<Code>RequestTimeTooSkewed</Code>');

    const unknown = await exactRequest(`${srv.url}/wire-v2/k%20x`, 'GET', { date, authorization: `AWS nobody:${sign(SECRET_KEY, 'x')}` });
    expect(unknown.status).to.equal(403);
    expect(unknown.text).to.include('<Code>InvalidAccessKeyId</Code>');

    const expires = Math.floor(Date.now() / 1000) - 5;
    const sig = encodeURIComponent(sign(SECRET_KEY, `GET\n\n\n${expires}\n/wire-v2/k%20x`));
    const expired = await exactRequest(
      `${srv.url}/wire-v2/k%20x?AWSAccessKeyId=${ACCESS_KEY}&Expires=${expires}&Signature=${sig}`,
      'GET',
      {},
    );
    expect(expired.status).to.equal(403);
    expect(expired.text).to.include('<Message>Request has expired</Message>');

    // The body is not signed, but a Content-MD5 is verified and a bad one stores nothing.
    const md5 = createHash('md5').update('other').digest('base64');
    const badMd5 = await exactRequest(
      `${srv.url}/wire-v2/k%20x`,
      'PUT',
      {
        date,
        'content-md5': md5,
        authorization: `AWS ${ACCESS_KEY}:${sign(SECRET_KEY, `PUT\n${md5}\n\n${date}\n/wire-v2/k%20x`)}`,
      },
      'v2 body changed',
    );
    expect(badMd5.status).to.equal(400);
    expect(badMd5.text).to.include('<Code>BadDigest</Code>');
    const still = await srv.s3.send(new GetObjectCommand({ Bucket: 'wire-v2', Key: 'k x' }));
    expect(await still.Body!.transformToString()).to.equal('v2 body');
  });

  it('V2 over the wire, virtual-hosted: the resource is /bucket + path', async () => {
    const vsrv = await startTestServer({ domains: ['s3.test'] });
    try {
      await vsrv.s3.send(new CreateBucketCommand({ Bucket: 'vhost-v2' }));
      const date = new Date().toUTCString();
      const host = `vhost-v2.s3.test:${vsrv.port}`;
      const put = await exactRequest(
        `${vsrv.url}/dir/k`,
        'PUT',
        { host, date, authorization: `AWS ${ACCESS_KEY}:${sign(SECRET_KEY, `PUT\n\n\n${date}\n/vhost-v2/dir/k`)}` },
        'vhost body',
      );
      expect(put.status, put.text).to.equal(200);
      const list = await exactRequest(`${vsrv.url}/?prefix=dir`, 'GET', {
        host,
        date,
        authorization: `AWS ${ACCESS_KEY}:${sign(SECRET_KEY, `GET\n\n\n${date}\n/vhost-v2/`)}`,
      });
      expect(list.status, list.text).to.equal(200);
      expect(list.text).to.include('<Key>dir/k</Key>');
      // Signed as if path-style: refused.
      const wrong = await exactRequest(`${vsrv.url}/dir/k`, 'GET', {
        host,
        date,
        authorization: `AWS ${ACCESS_KEY}:${sign(SECRET_KEY, `GET\n\n\n${date}\n/dir/k`)}`,
      });
      expect(wrong.status).to.equal(403);
    } finally {
      await vsrv.stop();
    }
  });
});
