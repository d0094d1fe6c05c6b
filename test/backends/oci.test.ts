/**
 * The OCI Object Storage backend against the conformance suite, on the local double of the
 * OCI REST API (test/helpers/oci-double.ts), which verifies every request's signature with
 * the test key's public half. Then what only OCI can get wrong: signatures, retries, state
 * across replicas, the asynchronous copy, and each authentication provider.
 */
import { expect } from 'chai';
import { OciBackend, type OciBackendOptions } from '../../src/backends/oci/index';
import { startOciDouble, testApiKey, type OciDouble } from '../helpers/oci-double';
import { describeBackendConformance } from './conformance';

const key = testApiKey();
let double: Promise<OciDouble> | undefined;
function sharedDouble(): Promise<OciDouble> {
  double ??= startOciDouble({ maxObjectBytes: 96 * 1024 * 1024 }).then((d) => {
    d.addKey(key.keyId, key.publicKeyPem);
    return d;
  });
  return double;
}

after(async () => {
  if (double) await (await double).stop();
});

export function onDouble(d: OciDouble, opts: Partial<OciBackendOptions> = {}): OciBackend {
  const { SimpleAuthenticationDetailsProvider } = require('oci-common') as typeof import('oci-common');
  return new OciBackend({
    endpoint: d.endpoint,
    region: 'us-ashburn-1',
    provider: new SimpleAuthenticationDetailsProvider(key.tenancy, key.user, key.fingerprint, key.privateKeyPem, null),
    copyPollMs: 5,
    backoffMs: 5,
    ...opts,
  });
}

describeBackendConformance(
  'oci (OCI REST API double, signatures verified)',
  async () => {
    const d = await sharedDouble();
    return { backend: onDouble(d), cleanup: async () => {} };
  },
  {
    lacks: { givenEtag: true, unsizedParts: true },
  },
);

// ------------------------------------------------------------------------------ helpers

import * as crypto from 'node:crypto';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { PassThrough, Readable } from 'node:stream';
import { S3Error } from '../../src/errors';
import { body, expectS3Error, getObject, md5, s3MultipartEtag } from './conformance';
import { createBackend } from '../../src/backends/create';
import { parseRoutingTable } from '../../src/router/config';
import { toS3ErrorFromOci, OciHttpError, OciNetworkError } from '../../src/backends/oci/errors';
import { fromOci, metaHeaders, s3EtagOf, toOci } from '../../src/backends/oci/metadata';
import { needsEscape, ociNames } from '../../src/backends/oci/names';
import type { ObjectAttributes } from '../../src/backends/types';

const attrs = (a: Partial<ObjectAttributes> = {}): ObjectAttributes => ({ userMetadata: {}, ...a });
let counter = 0;
const runId = crypto.randomBytes(3).toString('hex');
const newBucketName = (what: string) => `oci-${what}-${runId}-${++counter}`;

// ------------------------------------------------------------------------------ pure helpers

describe('oci: names, metadata, errors', () => {
  it('keeps keys as object names except the ones OCI refuses or cannot address', () => {
    for (const k of ['a', 'dir/file', 'dir/', 'a//b', './x', 'x/..', 'é', 'a😀', '%2F', '...']) expect(ociNames.nameOf(k)).to.equal(k);
    for (const k of ['.', '..', 'line\nbreak', 'cr\r', 'tab\t', '.s3mux/x', 'x\uffff']) {
      expect(needsEscape(k), JSON.stringify(k)).to.equal(true);
      expect(ociNames.keyOfEscaped(ociNames.nameOf(k))).to.equal(k);
    }
  });

  it('maps attributes onto headers and opc-meta-* and back; s3mux fields never collide with user metadata', () => {
    const a: ObjectAttributes = {
      contentType: 'text/plain',
      contentEncoding: 'gzip',
      contentDisposition: 'attachment; filename="é.txt"',
      contentLanguage: 'fr',
      cacheControl: 'no-cache',
      expires: 'Wed, 21 Oct 2037 07:28:00 GMT',
      storageClass: 'STANDARD_IA',
      userMetadata: { 'multi-word': 'a b  c', empty: '', unicode: 'é 😀', 's3mux-etag': 'user value' },
      tags: [{ key: 'k&=', value: 'v é' }],
      checksums: { crc32c: 'AAAAAA==' },
    };
    const { headers, metadata } = toOci(a);
    expect(headers['content-type']).to.equal('text/plain');
    expect(headers['content-disposition'], 'not a header value: kept in metadata').to.equal(undefined);
    for (const v of Object.values(metadata)) expect(v).to.match(/^[\x21-\x7e](?:[\x20-\x7e]*[\x21-\x7e])?$/);
    const back = fromOci({ ...headers, ...metaHeaders(metadata) });
    expect(back.attrs).to.deep.equal(a);
    expect(back.extras.etag).to.equal(undefined);
  });

  it('derives S3 ETags from OCI hashes: MD5, multipart MD5, else a non-MD5 form', () => {
    const m = crypto.createHash('md5').update('x').digest();
    expect(s3EtagOf(m.toString('base64'), 'e')).to.equal(m.toString('hex'));
    expect(s3EtagOf(`${m.toString('base64')}-3`, 'e')).to.equal(`${m.toString('hex')}-3`);
    expect(s3EtagOf(undefined, 'some-oci-etag')).to.match(/^[0-9a-f]{32}-1$/);
  });

  it('maps OCI errors through one table', () => {
    const e = (status: number, code?: string) => new OciHttpError(status, code, 'x');
    expect(toS3ErrorFromOci(e(404, 'ObjectNotFound'), { bucket: 'b', key: 'k' }).code).to.equal('NoSuchKey');
    expect(toS3ErrorFromOci(e(404, 'BucketNotFound'), { bucket: 'b', key: 'k' }).code).to.equal('NoSuchBucket');
    expect(toS3ErrorFromOci(e(404), { bucket: 'b' }).code).to.equal('NoSuchBucket');
    expect(toS3ErrorFromOci(e(404, 'NoSuchUpload'), { bucket: 'b', key: 'k', multipart: true }).code).to.equal('NoSuchUpload');
    expect(toS3ErrorFromOci(e(409, 'BucketAlreadyExists'), { bucket: 'b' }).code).to.equal('BucketAlreadyOwnedByYou');
    expect(toS3ErrorFromOci(e(409, 'BucketNotEmpty'), { bucket: 'b' }).code).to.equal('BucketNotEmpty');
    expect(toS3ErrorFromOci(e(412, 'IfMatchFailed')).code).to.equal('PreconditionFailed');
    expect(toS3ErrorFromOci(e(429, 'TooManyRequests')).code).to.equal('SlowDown');
    expect(toS3ErrorFromOci(e(503)).code).to.equal('SlowDown');
    expect(toS3ErrorFromOci(e(401, 'NotAuthenticated')).code).to.equal('AccessDenied');
    expect(toS3ErrorFromOci(e(409, 'NotRestored')).code).to.equal('InvalidObjectState');
    expect(toS3ErrorFromOci(e(416, 'InvalidRange')).code).to.equal('InvalidRange');
    expect(toS3ErrorFromOci(new OciNetworkError(Object.assign(new Error('x'), { code: 'ECONNREFUSED' }))).code).to.equal(
      'ServiceUnavailable',
    );
  });
});

// ------------------------------------------------------------------------------ on the double

describe('oci on the double: what only OCI does', function () {
  this.timeout(60_000);
  let d: OciDouble;
  let b: OciBackend;
  let bucket: string;

  before(async () => {
    d = await sharedDouble();
    b = onDouble(d);
    bucket = newBucketName('x');
    await b.createBucket(bucket);
  });

  it('the double itself speaks OCI: the official SDK (oci-objectstorage) puts, lists, reads and copies on it', async () => {
    const os = require('oci-objectstorage') as typeof import('oci-objectstorage');
    const common = require('oci-common') as typeof import('oci-common');
    const provider = new common.SimpleAuthenticationDetailsProvider(
      key.tenancy,
      key.user,
      key.fingerprint,
      key.privateKeyPem,
      null,
      common.Region.US_ASHBURN_1,
    );
    const client = new os.ObjectStorageClient({ authenticationDetailsProvider: provider });
    client.endpoint = d.endpoint;
    const once = { retryConfiguration: { terminationStrategy: new common.MaxAttemptsTerminationStrategy(1) } };
    const ns = (await client.getNamespace({ ...once })).value;
    expect(ns).to.equal(d.namespace);
    await client.putObject({
      namespaceName: ns,
      bucketName: bucket,
      objectName: 'sdk/a.txt',
      putObjectBody: 'from the sdk',
      contentLength: 12,
      opcMeta: { color: 'red' },
      ...once,
    });
    const head = await client.headObject({ namespaceName: ns, bucketName: bucket, objectName: 'sdk/a.txt', ...once });
    expect(head.contentMd5).to.equal(crypto.createHash('md5').update('from the sdk').digest('base64'));
    expect(head.opcMeta).to.deep.equal({ 'opc-meta-color': 'red' });
    const list = await client.listObjects({ namespaceName: ns, bucketName: bucket, prefix: 'sdk/', fields: 'name,size,md5', ...once });
    expect(list.listObjects.objects.map((o) => [o.name, o.size])).to.deep.equal([['sdk/a.txt', 12]]);
    const got = await client.getObject({
      namespaceName: ns,
      bucketName: bucket,
      objectName: 'sdk/a.txt',
      range: new common.Range(5, 7, null),
      ...once,
    });
    const chunks: Buffer[] = [];
    for await (const c of got.value as unknown as AsyncIterable<Buffer>) chunks.push(Buffer.from(c));
    expect(Buffer.concat(chunks).toString()).to.equal('the');
    const copy = await client.copyObject({
      namespaceName: ns,
      bucketName: bucket,
      copyObjectDetails: {
        sourceObjectName: 'sdk/a.txt',
        destinationRegion: 'us-ashburn-1',
        destinationNamespace: ns,
        destinationBucket: bucket,
        destinationObjectName: 'sdk/b.txt',
      },
      ...once,
    });
    expect(copy.opcWorkRequestId).to.match(/^ocid1\.objectstorageworkrequest/);
    // A request signed with another key is refused.
    const other = testApiKey();
    const stranger = new os.ObjectStorageClient({
      authenticationDetailsProvider: new common.SimpleAuthenticationDetailsProvider(
        key.tenancy,
        key.user,
        key.fingerprint,
        other.privateKeyPem,
        null,
        common.Region.US_ASHBURN_1,
      ),
    });
    stranger.endpoint = d.endpoint;
    const err = await stranger.getNamespace({ ...once }).then(
      () => undefined,
      (e: unknown) => e as { statusCode?: number; serviceCode?: string },
    );
    expect(err?.statusCode).to.equal(401);
    expect(err?.serviceCode).to.equal('NotAuthenticated');
  });

  it('signs every request: x-date, (request-target), host; JSON bodies also content-*, x-content-sha256; object bodies are not hashed', async () => {
    const n = d.requests.length;
    await b.putObject(bucket, 'signed', body('signed body'), attrs(), { size: 11 });
    const id = await b.multipart.createUpload(bucket, 'signed-mp', attrs());
    await b.multipart.uploadPart(bucket, 'signed-mp', id, 1, body('p'), { size: 1 });
    await b.multipart.abortUpload(bucket, 'signed-mp', id);
    const reqs = d.requests.slice(n);
    const put = reqs.find((r) => r.method === 'PUT' && r.path.endsWith('/o/signed'))!;
    expect(put.signedHeaders).to.deep.equal(['x-date', '(request-target)', 'host']);
    const part = reqs.find((r) => r.method === 'PUT' && r.path.includes('/u/'))!;
    expect(part.signedHeaders).to.deep.equal(['x-date', '(request-target)', 'host']);
    const create = reqs.find((r) => r.method === 'POST' && r.path.endsWith('/u'))!;
    expect(create.signedHeaders).to.include.members([
      'x-date',
      '(request-target)',
      'host',
      'content-type',
      'content-length',
      'x-content-sha256',
    ]);
    for (const r of reqs)
      expect(r.headers.authorization).to.match(
        /^Signature version="1",keyId="ocid1\.tenancy\.oc1\.\.test\/ocid1\.user\.oc1\.\.test\/[0-9a-f:]+",algorithm="rsa-sha256"/,
      );
  });

  it('a wrong signing setup fails: an unknown key, or the right keyId signed with another key, is AccessDenied', async () => {
    const other = testApiKey('ocid1.tenancy.oc1..other', 'ocid1.user.oc1..other');
    const { SimpleAuthenticationDetailsProvider } = require('oci-common') as typeof import('oci-common');
    const unknown = onDouble(d, {
      provider: new SimpleAuthenticationDetailsProvider(other.tenancy, other.user, other.fingerprint, other.privateKeyPem, null),
      namespace: d.namespace,
    });
    await expectS3Error(unknown.headObject(bucket, 'signed'), 'AccessDenied');
    const forged = onDouble(d, {
      provider: new SimpleAuthenticationDetailsProvider(key.tenancy, key.user, key.fingerprint, other.privateKeyPem, null),
      namespace: d.namespace,
    });
    await expectS3Error(forged.putObject(bucket, 'forged', body('x'), attrs(), { size: 1 }), 'AccessDenied');
    await expectS3Error(b.headObject(bucket, 'forged'), 'NoSuchKey');
  });

  it('retries 429 and 503 with backoff, in one place, and never re-sends a streamed body', async () => {
    await b.putObject(bucket, 'retry', body('r'), attrs(), { size: 1 });
    let n = d.requests.length;
    d.fail({ status: 429, code: 'TooManyRequests', method: 'HEAD', path: /\/o\/retry$/, times: 2 });
    expect((await b.headObject(bucket, 'retry')).etag).to.equal(md5('r'));
    expect(d.requests.slice(n).filter((r) => r.method === 'HEAD').length).to.equal(3);
    n = d.requests.length;
    d.fail({ status: 503, code: 'ServiceUnavailable', method: 'GET', path: /\/o$/, times: 1 });
    expect((await b.listObjects(bucket, { prefix: 'retry', maxKeys: 10 })).objects.map((o) => o.key)).to.deep.equal(['retry']);
    d.fail({ status: 503, code: 'ServiceUnavailable', method: 'HEAD', times: 10 });
    await expectS3Error(b.headObject(bucket, 'retry'), 'SlowDown');
    d.fail({ status: 503, code: 'ServiceUnavailable', method: 'HEAD', times: 0 });
    (d as unknown as { faults: unknown[] }).faults.length = 0;
    n = d.requests.length;
    d.fail({ status: 503, code: 'ServiceUnavailable', method: 'PUT', times: 1 });
    await expectS3Error(b.putObject(bucket, 'retry', body('second'), attrs(), { size: 6 }), 'SlowDown');
    expect(d.requests.slice(n).filter((r) => r.method === 'PUT').length, 'a streamed body is sent once').to.equal(1);
    expect((await getObject(b, bucket, 'retry')).data.toString()).to.equal('r');
  });

  it('keeps multipart state in OCI: an upload begun by one adapter is continued and completed by another', async () => {
    const one = onDouble(d);
    const two = onDouble(d);
    const p1 = crypto.randomBytes(70_000);
    const p2 = crypto.randomBytes(1234);
    const id = await one.multipart.createUpload(
      bucket,
      'replicas.bin',
      attrs({ contentType: 'application/x-r', userMetadata: { by: 'one' }, tags: [{ key: 't', value: '1' }] }),
    );
    await one.multipart.uploadPart(bucket, 'replicas.bin', id, 1, body(p1), { size: p1.length });
    await two.multipart.uploadPart(bucket, 'replicas.bin', id, 2, body(p2), { size: p2.length });
    expect((await two.multipart.listParts(bucket, 'replicas.bin', id, { maxParts: 10 })).parts.map((p) => p.etag)).to.deep.equal([
      md5(p1),
      md5(p2),
    ]);
    expect((await one.multipart.listUploads(bucket, { prefix: 'replicas', maxUploads: 10 })).uploads.map((u) => u.uploadId)).to.deep.equal([
      id,
    ]);
    const etag = s3MultipartEtag([p1, p2]);
    const meta = await two.multipart.completeUpload(bucket, 'replicas.bin', id, [1, 2], etag);
    expect(meta.etag).to.equal(etag);
    const head = await one.headObject(bucket, 'replicas.bin');
    expect([head.etag, head.contentType, head.userMetadata, head.tags]).to.deep.equal([
      etag,
      'application/x-r',
      { by: 'one' },
      [{ key: 't', value: '1' }],
    ]);
    expect(d.peek(bucket, 'replicas.bin')!.multipartMd5).to.equal(`${Buffer.from(etag.slice(0, 32), 'hex').toString('base64')}-2`);
  });

  it('records the part layout of a completed upload for that version only: kept by a tag rewrite, not by an overwrite, gone with the object', async () => {
    const p1 = crypto.randomBytes(70_000);
    const p2 = crypto.randomBytes(1234);
    const assemble = async (key: string) => {
      const id = await b.multipart.createUpload(bucket, key, attrs());
      await b.multipart.uploadPart(bucket, key, id, 1, body(p1), { size: p1.length });
      await b.multipart.uploadPart(bucket, key, id, 2, body(p2), { size: p2.length });
      return b.multipart.completeUpload(bucket, key, id, [1, 2], s3MultipartEtag([p1, p2]));
    };
    const records = () => d.names(bucket).filter((n) => n.startsWith('.s3mux/r/oci/layout/'));
    // Other tests' uploads in this bucket have records of their own.
    const others = records().length;
    expect((await assemble('layout.bin')).partSizes).to.deep.equal([70_000, 1234]);
    // Another replica reads it from the store.
    expect((await onDouble(d).headObject(bucket, 'layout.bin')).partSizes).to.deep.equal([70_000, 1234]);
    await b.setTags(bucket, 'layout.bin', [{ key: 'k', value: 'v' }]);
    const tagged = await b.headObject(bucket, 'layout.bin');
    expect([tagged.etag, tagged.partSizes, tagged.tags]).to.deep.equal([
      s3MultipartEtag([p1, p2]),
      [70_000, 1234],
      [{ key: 'k', value: 'v' }],
    ]);
    await assemble('layout2.bin');
    await b.putObject(bucket, 'layout2.bin', body('plain'), attrs(), { size: 5 });
    expect((await b.headObject(bucket, 'layout2.bin')).partSizes).to.equal(undefined);
    expect(records()).to.have.length(others + 2);
    await b.deleteObject(bucket, 'layout.bin');
    await b.deleteObject(bucket, 'layout2.bin');
    expect(records()).to.have.length(others);
  });

  it('a body of unknown length that failed before it was read stores nothing and fails with its own error', async () => {
    const failed = new PassThrough();
    failed.on('error', () => {}); // as the form's pipeline listens
    failed.destroy(new S3Error('EntityTooSmall'));
    await new Promise((r) => setImmediate(r));
    await expectS3Error(b.putObject(bucket, 'failed-early', failed, attrs()), 'EntityTooSmall');
    const closed = new PassThrough();
    closed.destroy();
    await expectS3Error(b.putObject(bucket, 'failed-early', closed, attrs()), 'IncompleteBody');
    expect(d.peek(bucket, 'failed-early')).to.equal(undefined);
  });

  it('waits for the copy work request, and maps a failed one (the source changed meanwhile)', async () => {
    const slow = await startOciDouble({ copySteps: 6 });
    slow.addKey(key.keyId, key.publicKeyPem);
    try {
      const s = onDouble(slow);
      await s.createBucket('copies');
      await s.putObject('copies', 'src', body('source v1'), attrs({ userMetadata: { v: '1' } }), { size: 9 });
      const copied = await s.copyObject('copies', 'src', 'copies', 'dst', undefined);
      expect(copied.etag).to.equal(md5('source v1'));
      const polls = slow.requests.filter((r) => r.path.startsWith('/workRequests/') && !r.path.endsWith('/errors'));
      expect(polls.length, 'polled until COMPLETED').to.be.greaterThan(6);
      expect((await s.headObject('copies', 'dst')).userMetadata).to.deep.equal({ v: '1' });
      const pending = s.copyObject('copies', 'src', 'copies', 'dst2', undefined);
      for (let i = 0; i < 500 && slow.requests.filter((r) => r.path.endsWith('/actions/copyObject')).length < 2; i++) {
        await new Promise((r) => setTimeout(r, 2));
      }
      await s.putObject('copies', 'src', body('source v2'), attrs(), { size: 9 });
      await expectS3Error(pending, 'PreconditionFailed');
      await expectS3Error(s.headObject('copies', 'dst2'), 'NoSuchKey');
      await s.close();
    } finally {
      await slow.stop();
    }
  });

  it('copies that change content headers stream through s3mux (OCI copies keep them); metadata-only ones stay server-side', async () => {
    await b.putObject(bucket, 'cp-src', body('copy'), attrs({ contentType: 'text/plain' }), { size: 4 });
    let n = d.requests.length;
    await b.copyObject(bucket, 'cp-src', bucket, 'cp-meta', attrs({ contentType: 'text/plain', userMetadata: { n: '1' } }));
    expect(d.requests.slice(n).some((r) => r.path.endsWith('/actions/copyObject'))).to.equal(true);
    n = d.requests.length;
    await b.copyObject(bucket, 'cp-src', bucket, 'cp-type', attrs({ contentType: 'application/json' }));
    expect(d.requests.slice(n).some((r) => r.path.endsWith('/actions/copyObject'))).to.equal(false);
    expect((await b.headObject(bucket, 'cp-type')).contentType).to.equal('application/json');
  });

  it('creates buckets in the configured compartment with the configured storage tier; keys OCI cannot name live in the reserved area', async () => {
    const arch = onDouble(d, { compartmentId: 'ocid1.compartment.oc1..archive', bucketTier: 'Archive' });
    await arch.createBucket('cold-bucket');
    expect(d.buckets.get('cold-bucket')!.storageTier).to.equal('Archive');
    expect(d.buckets.get('cold-bucket')!.compartmentId).to.equal('ocid1.compartment.oc1..archive');
    expect((await arch.listBuckets()).map((x) => x.name)).to.deep.equal(['cold-bucket']);
    await arch.deleteBucket('cold-bucket');
    await b.putObject(bucket, '..', body('dots'), attrs(), { size: 4 });
    expect(d.peek(bucket, ociNames.nameOf('..'))!.data.toString()).to.equal('dots');
    expect((await b.listObjects(bucket, { prefix: '.', maxKeys: 10 })).objects.map((o) => o.key)).to.include('..');
    // A bucket named '.' or '..' would be a dot segment in the request path, naming another resource.
    for (const name of ['.', '..']) {
      const err = await b.putObject(name, 'escape', body('x'), attrs(), { size: 1 }).then(
        () => undefined,
        (e: unknown) => e,
      );
      expect((err as { code?: string })?.code, name).to.equal('NoSuchBucket');
    }
    expect(d.peek(bucket, 'escape')).to.equal(undefined);
  });

  it('maps S3 storage classes onto OCI tiers and keeps the class asked for', async () => {
    await b.putObject(bucket, 'ia', body('ia'), attrs({ storageClass: 'STANDARD_IA' }), { size: 2 });
    expect(d.peek(bucket, 'ia')!.storageTier).to.equal('InfrequentAccess');
    expect((await b.headObject(bucket, 'ia')).storageClass).to.equal('STANDARD_IA');
    await b.putObject(bucket, 'cold', body('cold'), attrs({ storageClass: 'GLACIER' }), { size: 4 });
    expect(d.peek(bucket, 'cold')!.storageTier).to.equal('Archive');
    const h = await b.openObject(bucket, 'cold');
    await expectS3Error(readStream(h.read()), 'InvalidObjectState');
  });

  it('stores a body of unknown length larger than the buffer as a multipart upload', async () => {
    const small = onDouble(d, { bufferSize: 64 * 1024 });
    const data = crypto.randomBytes(200_000);
    const meta = await small.putObject(
      bucket,
      'unsized',
      Readable.from([data.subarray(0, 100_000), data.subarray(100_000)]),
      attrs({ userMetadata: { u: '1' } }),
    );
    expect(meta.size).to.equal(data.length);
    expect(meta.etag).to.match(/-\d+$/);
    const got = await getObject(small, bucket, 'unsized');
    expect(got.data.equals(data)).to.equal(true);
    expect(got.meta.userMetadata).to.deep.equal({ u: '1' });
  });
});

async function readStream(s: Readable): Promise<Buffer> {
  const chunks: Buffer[] = [];
  for await (const c of s) chunks.push(c as Buffer);
  return Buffer.concat(chunks);
}

// ------------------------------------------------------------------------------ authentication

describe('oci authentication providers against the double', function () {
  this.timeout(60_000);
  let d: OciDouble;
  let dir: string;

  before(async () => {
    d = await sharedDouble();
    dir = mkdtempSync(path.join(os.tmpdir(), 's3mux-oci-auth-'));
  });
  after(() => rmSync(dir, { recursive: true, force: true }));

  function fromTable(credentials: string, env: NodeJS.ProcessEnv = {}): OciBackend {
    const table = parseRoutingTable(
      `backends:\n  o:\n    type: oci\n    endpoint: ${d.endpoint}\n    namespace: ${d.namespace}\n    region: us-ashburn-1\n    credentials:\n${credentials}\n`,
      path.join(dir, 'table.yaml'),
    );
    return createBackend(table.backends.o.spec, { name: 'o', env }) as OciBackend;
  }

  async function works(be: OciBackend, what: string): Promise<void> {
    const bk = newBucketName(what);
    await be.createBucket(bk);
    await be.putObject(bk, 'k', body(what), attrs(), { size: Buffer.byteLength(what) });
    expect((await getObject(be, bk, 'k')).data.toString()).to.equal(what);
    await be.deleteObject(bk, 'k');
    await be.deleteBucket(bk);
    await be.close();
  }

  it('user principal: an API key given by env var or by file (secrets by reference only)', async () => {
    writeFileSync(path.join(dir, 'key.pem'), key.privateKeyPem);
    const creds = (secret: string) =>
      `      userPrincipal:\n        tenancy: ${key.tenancy}\n        user: ${key.user}\n        fingerprint: "${key.fingerprint}"\n        ${secret}\n`;
    await works(fromTable(creds('privateKeyEnv: OCI_TEST_KEY'), { OCI_TEST_KEY: key.privateKeyPem }), 'env');
    await works(fromTable(creds('privateKeyFile: ./key.pem')), 'file');
    expect(() =>
      parseRoutingTable(
        `backends:\n  o:\n    type: oci\n    credentials:\n      userPrincipal:\n        tenancy: t\n        user: u\n        fingerprint: f\n        privateKey: "-----BEGIN"\n`,
        path.join(dir, 't.yaml'),
      ),
    ).to.throw(/literal secret/);
  });

  it('user principal from an OCI config file and profile', async () => {
    writeFileSync(path.join(dir, 'key.pem'), key.privateKeyPem);
    writeFileSync(
      path.join(dir, 'config'),
      `[DEFAULT]\nuser=ocid1.user.oc1..nobody\nfingerprint=00\ntenancy=ocid1.tenancy.oc1..nobody\nregion=us-phoenix-1\nkey_file=${path.join(dir, 'key.pem')}\n\n[S3MUX]\nuser=${key.user}\nfingerprint=${key.fingerprint}\ntenancy=${key.tenancy}\nregion=us-ashburn-1\nkey_file=${path.join(dir, 'key.pem')}\n`,
    );
    await works(fromTable(`      configFile: ./config\n      profile: S3MUX\n`), 'config');
    await expectS3Error(fromTable(`      configFile: ./config\n`).headBucket('x'), 'AccessDenied');
  });

  it('session token: a config profile with security_token_file signs as ST$<token>', async () => {
    const session = crypto.generateKeyPairSync('rsa', { modulusLength: 2048 });
    writeFileSync(path.join(dir, 'session.pem'), session.privateKey.export({ type: 'pkcs1', format: 'pem' }));
    const token = fakeJwt({ sub: key.user, tenant: key.tenancy, exp: Math.floor(Date.now() / 1000) + 3600 });
    writeFileSync(path.join(dir, 'token'), token);
    writeFileSync(
      path.join(dir, 'session-config'),
      `[SESSION]\nfingerprint=${key.fingerprint}\ntenancy=${key.tenancy}\nregion=us-ashburn-1\nkey_file=${path.join(dir, 'session.pem')}\nsecurity_token_file=${path.join(dir, 'token')}\n`,
    );
    d.addKey(`ST$${token}`, session.publicKey);
    await works(fromTable(`      sessionToken:\n        configFile: ./session-config\n        profile: SESSION\n`), 'session');
  });

  it('resource principal: OCI_RESOURCE_PRINCIPAL_* (v2.2) give a session token and key', async () => {
    const rp = crypto.generateKeyPairSync('rsa', { modulusLength: 2048 });
    writeFileSync(path.join(dir, 'rp.pem'), rp.privateKey.export({ type: 'pkcs1', format: 'pem' }));
    const rpst = fakeJwt({
      res_tenant: key.tenancy,
      res_compartment: 'ocid1.compartment.oc1..rp',
      exp: Math.floor(Date.now() / 1000) + 3600,
    });
    d.addKey(`ST$${rpst}`, rp.publicKey);
    const saved = { ...process.env };
    Object.assign(process.env, {
      OCI_RESOURCE_PRINCIPAL_VERSION: '2.2',
      OCI_RESOURCE_PRINCIPAL_RPST: rpst,
      OCI_RESOURCE_PRINCIPAL_PRIVATE_PEM: path.join(dir, 'rp.pem'),
      OCI_RESOURCE_PRINCIPAL_REGION: 'us-ashburn-1',
    });
    try {
      await works(fromTable(`      resourcePrincipal: true\n`), 'rp');
    } finally {
      for (const k of Object.keys(process.env)) if (!(k in saved)) delete process.env[k];
    }
    await expectS3Error(fromTable(`      resourcePrincipal: true\n`).headBucket('x'), 'AccessDenied');
  });
});

describe('oci instance principal against doubles of the metadata service and the federation endpoint', function () {
  this.timeout(60_000);
  it('fetches the instance certificate, federates it for a session token, and signs as ST$<token> with the session key', async () => {
    const d = await sharedDouble();
    const { startInstanceIdentityDouble } = await import('../helpers/oci-identity');
    const idp = await startInstanceIdentityDouble(d, key.tenancy);
    try {
      const table = parseRoutingTable(
        `backends:\n  o:\n    type: oci\n    endpoint: ${d.endpoint}\n    namespace: ${d.namespace}\n    region: us-ashburn-1\n    credentials:\n      instancePrincipal:\n        metadataBaseUrl: ${idp.metadataBaseUrl}\n        federationEndpoint: ${idp.federationEndpoint}\n`,
        path.join(os.tmpdir(), 'ip.yaml'),
      );
      const be = createBackend(table.backends.o.spec, { name: 'o' }) as OciBackend;
      const bk = newBucketName('ip');
      await be.createBucket(bk);
      await be.putObject(bk, 'k', body('instance'), attrs(), { size: 8 });
      expect((await getObject(be, bk, 'k')).data.toString()).to.equal('instance');
      expect(idp.tokensIssued).to.equal(1);
      expect(d.requests.at(-1)!.headers.authorization).to.match(/keyId="ST\$/);
      await be.close();
    } finally {
      await idp.stop();
    }
  });
});

describe('oci OKE workload identity against a double of the proxymux', function () {
  this.timeout(60_000);
  it("exchanges the pod's service-account token over TLS for a resource principal session token", async () => {
    const d = await sharedDouble();
    const { startProxymuxDouble } = await import('../helpers/oci-identity');
    const mux = await startProxymuxDouble(d, key.tenancy);
    const dir = mkdtempSync(path.join(os.tmpdir(), 's3mux-oke-'));
    const saved = { ...process.env };
    try {
      writeFileSync(path.join(dir, 'ca.crt'), mux.caPem);
      writeFileSync(path.join(dir, 'token'), mux.serviceAccountToken);
      Object.assign(process.env, { KUBERNETES_SERVICE_HOST: mux.host, KUBERNETES_SERVICE_PORT_PROXYMUX: String(mux.port) });
      const table = parseRoutingTable(
        `backends:\n  o:\n    type: oci\n    endpoint: ${d.endpoint}\n    namespace: ${d.namespace}\n    region: us-ashburn-1\n    credentials:\n      okeWorkloadIdentity:\n        tokenFile: ./token\n        caFile: ./ca.crt\n`,
        path.join(dir, 'oke.yaml'),
      );
      const be = createBackend(table.backends.o.spec, { name: 'o' }) as OciBackend;
      const bk = newBucketName('oke');
      await be.createBucket(bk);
      await be.putObject(bk, 'k', body('oke'), attrs(), { size: 3 });
      expect((await getObject(be, bk, 'k')).data.toString()).to.equal('oke');
      expect(mux.tokensIssued).to.equal(1);
      await be.close();
    } finally {
      for (const k of Object.keys(process.env)) if (!(k in saved)) delete process.env[k];
      rmSync(dir, { recursive: true, force: true });
      await mux.stop();
    }
  });
});

/** A JWT as OCI's session tokens are (the SDK reads its claims, OCI verifies it). */
function fakeJwt(claims: Record<string, unknown>): string {
  const enc = (o: unknown) => Buffer.from(JSON.stringify(o)).toString('base64url');
  const head = enc({ alg: 'RS256', typ: 'JWT', kid: 'test' });
  const payload = enc(claims);
  const { privateKey } = crypto.generateKeyPairSync('rsa', { modulusLength: 1024 });
  const sig = crypto.sign('sha256', Buffer.from(`${head}.${payload}`), privateKey).toString('base64url');
  return `${head}.${payload}.${sig}`;
}

// ------------------------------------------------------------------------------ through s3mux

import { CopyObjectCommand, GetObjectCommand, HeadObjectCommand, ListObjectsV2Command, PutObjectCommand } from '@aws-sdk/client-s3';
import { Upload } from '@aws-sdk/lib-storage';
import { validateRoutingTable } from '../../src/router/config';
import { Router } from '../../src/router/router';
import { startTestServer, type TestServer } from '../helpers/server';

describe('s3mux → OCI with @aws-sdk/client-s3, through each URI form', function () {
  this.timeout(120_000);
  let srv: TestServer;
  let d: OciDouble;
  let dir: string;
  const real = `s3mux-client-${runId}`;
  const forms: [string, string][] = [];

  before(async () => {
    d = await sharedDouble();
    dir = mkdtempSync(path.join(os.tmpdir(), 's3mux-oci-route-'));
    writeFileSync(path.join(dir, 'key.pem'), key.privateKeyPem);
    await onDouble(d).createBucket(real);
    forms.push(
      ['at-region', `oci://${d.namespace}@us-ashburn-1/${real}/one/`],
      ['n-b-o', `oci://n/${d.namespace}/b/${real}/o/two`],
      ['plain', `oci://${d.namespace}/${real}/three`],
    );
    const table = validateRoutingTable({
      backends: {
        o: {
          type: 'oci',
          endpoint: d.endpoint,
          region: 'us-ashburn-1',
          credentials: {
            userPrincipal: {
              tenancy: key.tenancy,
              user: key.user,
              fingerprint: key.fingerprint,
              privateKeyFile: path.join(dir, 'key.pem'),
            },
          },
        },
      },
      routes: Object.fromEntries(forms.map(([name, target]) => [name, { target }])),
    });
    srv = await startTestServer({ router: Router.fromTable(table) });
  });

  after(async () => {
    await srv?.stop();
    rmSync(dir, { recursive: true, force: true });
  });

  it('each form routes onto the bucket and prefix it names', async () => {
    for (const [Bucket, target] of forms) {
      await srv.s3.send(new PutObjectCommand({ Bucket, Key: 'k.txt', Body: Bucket }));
      const prefix = target.endsWith('/') ? target.split('/').slice(-2, -1)[0] : target.split('/').at(-1);
      expect(d.peek(real, `${prefix}/k.txt`)?.data.toString(), target).to.equal(Bucket);
    }
  });

  it("puts with metadata, gets, range-gets, lists, copies; ETags look like S3's", async () => {
    const Bucket = 'at-region';
    const data = 'hello from s3mux to oci';
    const put = await srv.s3.send(
      new PutObjectCommand({ Bucket, Key: 'dir/hello.txt', Body: data, ContentType: 'text/plain', Metadata: { 'multi-word': 'yes' } }),
    );
    expect(put.ETag).to.equal(`"${md5(data)}"`);
    const head = await srv.s3.send(new HeadObjectCommand({ Bucket, Key: 'dir/hello.txt' }));
    expect(head.Metadata).to.deep.equal({ 'multi-word': 'yes' });
    const range = await srv.s3.send(new GetObjectCommand({ Bucket, Key: 'dir/hello.txt', Range: 'bytes=6-9' }));
    expect(await range.Body!.transformToString()).to.equal('from');
    const list = await srv.s3.send(new ListObjectsV2Command({ Bucket, Delimiter: '/' }));
    expect(list.CommonPrefixes?.map((p) => p.Prefix)).to.deep.equal(['dir/']);
    const copy = await srv.s3.send(new CopyObjectCommand({ Bucket, Key: 'copy.txt', CopySource: `${Bucket}/dir/hello.txt` }));
    expect(copy.CopyObjectResult?.ETag).to.equal(`"${md5(data)}"`);
  });

  it("uploads 12 MiB with @aws-sdk/lib-storage (3 parts, OCI multipart); the ETag is S3's", async () => {
    const data = crypto.randomBytes(12 * 1024 * 1024);
    const up = new Upload({
      client: srv.s3,
      params: { Bucket: 'plain', Key: 'big.bin', Body: Readable.from([data]) },
      partSize: 5 * 1024 * 1024,
      queueSize: 2,
    });
    const r = await up.done();
    const parts = [data.subarray(0, 5 << 20), data.subarray(5 << 20, 10 << 20), data.subarray(10 << 20)];
    expect(r.ETag).to.equal(`"${s3MultipartEtag(parts)}"`);
    const whole = Buffer.from(
      await (await srv.s3.send(new GetObjectCommand({ Bucket: 'plain', Key: 'big.bin' }))).Body!.transformToByteArray(),
    );
    expect(md5(whole)).to.equal(md5(data));
    expect(d.peek(real, 'three/big.bin')!.multipartMd5).to.match(/-3$/);
  });
});
