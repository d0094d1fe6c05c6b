/**
 * The GCS backend against the conformance suite twice: on Google's firebase-tools Storage
 * emulator (the real server, with s3mux's fallbacks for what it lacks: compose, rewrite, the
 * bucket API, metadata patches), and on the local double of the GCS JSON API
 * (test/helpers/gcs-double.ts) for what only real GCS does: compose, rewrite, generation
 * preconditions, UTF-8 listing order, retries. Then what only GCS can get wrong, and a real
 * S3 client through s3mux onto a GCS bucket.
 */
import { expect } from 'chai';
import { createHash, generateKeyPairSync, randomBytes } from 'node:crypto';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { Readable } from 'node:stream';
import {
  CopyObjectCommand,
  CreateBucketCommand,
  GetObjectCommand,
  HeadObjectCommand,
  ListObjectsV2Command,
  PutObjectCommand,
} from '@aws-sdk/client-s3';
import { Upload } from '@aws-sdk/lib-storage';
import { startGcsEmulator, type GcsEmulator } from '../helpers/gcs-emulator';
import { startGcsDouble, type GcsDouble } from '../helpers/gcs-double';
import { startTestServer, type TestServer } from '../helpers/server';
import { startGoogleIdentityDouble, type GoogleIdentityDouble } from '../helpers/google-identity';
import { FIREBASE_EMULATOR_GAPS, GcsBackend, type GcsBackendOptions } from '../../src/backends/gcs/index';
import { toS3ErrorFromGcs } from '../../src/backends/gcs/errors';
import { fromGcs, toGcs } from '../../src/backends/gcs/metadata';
import { gcsNames, needsEscape } from '../../src/backends/gcs/names';
import { ESCAPED_PREFIX } from '../../src/backends/escaped-keys';
import { GcsStore } from '../../src/backends/gcs/store';
import { createBackend } from '../../src/backends/create';
import { validateRoutingTable } from '../../src/router/config';
import { Router } from '../../src/router/router';
import type { ObjectAttributes } from '../../src/backends/types';
import { body, describeBackendConformance, expectS3Error, getObject, md5 } from './conformance';

const MiB = 1024 * 1024;

let emulator: Promise<GcsEmulator> | undefined;
function sharedEmulator(): Promise<GcsEmulator> {
  emulator ??= startGcsEmulator();
  return emulator;
}

let double: Promise<GcsDouble> | undefined;
function sharedDouble(): Promise<GcsDouble> {
  double ??= startGcsDouble({ maxObjectBytes: 96 * MiB });
  return double;
}

after(async function () {
  this.timeout(20_000);
  if (emulator) await (await emulator).stop();
  if (double) await (await double).stop();
});

function onDouble(d: GcsDouble, opts: Partial<GcsBackendOptions> = {}): GcsBackend {
  return new GcsBackend({ endpoint: d.endpoint, projectId: d.projectId, anonymous: true, ...opts });
}

const attrs = (a: Partial<ObjectAttributes> = {}): ObjectAttributes => ({ userMetadata: {}, ...a });
let bucketCounter = 0;
const runId = randomBytes(3).toString('hex');
const newBucketName = (what: string) => `gcs-${what}-${runId}-${++bucketCounter}`;

/**
 * Keys the emulator cannot hold as GCS does (the SDK sends each intact; the emulator's routes
 * mangle them): those whose order differs between UTF-16 (its listing order) and UTF-8; an
 * empty path segment ('a//b', '/x') or a '.' / '..' segment, which its upload route
 * normalises away ('a/b', 'x'); and '%' escapes, which its delete route decodes twice (so
 * '%2F' can be written but never deleted).
 */
const emulatorCannotHold = (key: string) =>
  /[\uE000-\uFFFF\uD800-\uDFFF]/.test(key) ||
  key.includes('//') ||
  key.startsWith('/') ||
  /(^|\/)\.\.?(\/|$)/.test(key) ||
  key.includes('%');

describeBackendConformance(
  'gcs (firebase emulator)',
  async () => {
    const e = await sharedEmulator();
    return {
      backend: new GcsBackend({ endpoint: e.endpoint, projectId: e.projectId, anonymous: true, ...FIREBASE_EMULATOR_GAPS }),
      cleanup: async () => {},
    };
  },
  {
    listingMatrix: 'small',
    lacks: { bucketAdmin: true, atomicConditions: true, tags: true, utf8Order: true, key: emulatorCannotHold },
  },
);

describeBackendConformance('gcs (GCS JSON API double: compose, rewrite, preconditions)', async () => {
  const d = await sharedDouble();
  return { backend: onDouble(d), cleanup: async () => {} };
});

// ------------------------------------------------------------------------------ pure helpers

describe('gcs: names, metadata, errors', () => {
  it('keeps keys as object names except the ones GCS refuses or s3mux reserves', () => {
    for (const k of ['a', 'dir/file', 'dir/', 'a//b', '/lead', './x', 'x/..', '.well-known/x', 'é', 'a😀', '%2F', '...']) {
      expect(needsEscape(k), k).to.equal(false);
      expect(gcsNames.nameOf(k)).to.equal(k);
    }
    for (const k of ['.', '..', 'line\nbreak', 'cr\r', 'tab\t', '.s3mux/x', '.well-known/acme-challenge/token', 'x\uffff']) {
      expect(needsEscape(k), JSON.stringify(k)).to.equal(true);
      const name = gcsNames.nameOf(k);
      expect(name.startsWith(ESCAPED_PREFIX)).to.equal(true);
      expect(gcsNames.keyOfEscaped(name)).to.equal(k);
    }
  });

  it('maps attributes onto the resource and back; s3mux: names never collide with user metadata', () => {
    const a: ObjectAttributes = {
      contentType: 'text/plain',
      contentEncoding: 'gzip',
      contentDisposition: 'attachment; filename="é.txt"',
      contentLanguage: 'fr',
      cacheControl: 'no-cache',
      expires: 'Wed, 21 Oct 2037 07:28:00 GMT',
      storageClass: 'STANDARD_IA',
      userMetadata: { 'multi-word': 'x', empty: '', unicode: 'é 😀' },
      tags: [{ key: 'k&=', value: 'v é' }],
      checksums: { crc32c: 'AAAAAA==' },
      partSizes: [5 * MiB, 5 * MiB, 12],
    };
    const r = toGcs(a, { etag: 'abc-3' });
    expect(r.contentDisposition).to.equal(a.contentDisposition);
    expect(r.metadata['multi-word']).to.equal('x');
    expect(r.metadata['s3mux:parts']).to.equal(`${5 * MiB}*2,12`);
    const back = fromGcs(r);
    expect(back.attrs).to.deep.equal(a);
    expect(back.extras.etag).to.equal('abc-3');
  });

  it('maps GCS errors through one table', () => {
    const api = (code: number, reason?: string, message = 'x') =>
      Object.assign(new Error(message), { code, errors: reason ? [{ reason }] : [] });
    expect(toS3ErrorFromGcs(api(404, 'notFound', 'No such object: b/k'), { bucket: 'b', key: 'k' }).code).to.equal('NoSuchKey');
    expect(toS3ErrorFromGcs(api(404, 'notFound', 'The specified bucket does not exist.'), { bucket: 'b', key: 'k' }).code).to.equal(
      'NoSuchBucket',
    );
    expect(toS3ErrorFromGcs(api(404), { bucket: 'b' }).code).to.equal('NoSuchBucket');
    expect(toS3ErrorFromGcs(api(412, 'conditionNotMet'), { bucket: 'b', key: 'k' }).code).to.equal('PreconditionFailed');
    expect(toS3ErrorFromGcs(api(429, 'rateLimitExceeded')).code).to.equal('SlowDown');
    expect(toS3ErrorFromGcs(api(503, 'backendError')).code).to.equal('ServiceUnavailable');
    expect(toS3ErrorFromGcs(api(503)).code).to.equal('SlowDown');
    expect(toS3ErrorFromGcs(api(416, 'requestedRangeNotSatisfiable')).code).to.equal('InvalidRange');
    expect(toS3ErrorFromGcs(api(403, 'forbidden')).code).to.equal('AccessDenied');
    expect(toS3ErrorFromGcs(api(401)).code).to.equal('AccessDenied');
    expect(toS3ErrorFromGcs(api(409), { bucket: 'b' }).code).to.equal('BucketAlreadyOwnedByYou');
    expect(toS3ErrorFromGcs(api(501)).code).to.equal('NotImplemented');
    expect(toS3ErrorFromGcs(Object.assign(new Error('refused'), { code: 'ECONNREFUSED' })).code).to.equal('ServiceUnavailable');
  });
});

// ------------------------------------------------------------------------------ on the double

describe('gcs on the double: what only GCS does', function () {
  this.timeout(60_000);
  let d: GcsDouble;
  let b: GcsBackend;
  let bucket: string;

  before(async () => {
    d = await sharedDouble();
    b = onDouble(d);
    bucket = newBucketName('x');
    await b.createBucket(bucket);
  });

  const since = (n: number) => d.requests.slice(n);

  it('stores keys GCS refuses in the reserved area and ordinary ones under their own name', async () => {
    await b.putObject(bucket, 'plain/key.txt', body('p'), attrs());
    await b.putObject(bucket, '..', body('dots'), attrs());
    expect(d.peek(bucket, 'plain/key.txt')?.data.toString()).to.equal('p');
    expect(d.peek(bucket, '..')).to.equal(undefined);
    expect(d.peek(bucket, gcsNames.nameOf('..'))?.data.toString()).to.equal('dots');
    const page = await b.listObjects(bucket, { prefix: '', maxKeys: 100 });
    expect(page.objects.map((o) => o.key)).to.include.members(['..', 'plain/key.txt']);
    expect(page.objects.map((o) => o.key).some((k) => k.startsWith('.s3mux/'))).to.equal(false);
  });

  it('lists past the reserved area in one step, however many parts open uploads hold there', async () => {
    const own = newBucketName('reserved');
    await b.createBucket(own);
    const id = await b.multipart.createUpload(own, 'big', attrs());
    for (let n = 1; n <= 30; n++) await b.multipart.uploadPart(own, 'big', id, n, body('p'));
    for (const k of ['.a', '.s3muw', '.s3mux-self', '.s3mux0', 'z']) await b.putObject(own, k, body(k), attrs());
    const n = d.requests.length;
    const small = onDouble(d);
    const listing = [];
    let page = await small.listObjects(own, { prefix: '', maxKeys: 1000 });
    listing.push(...page.objects.map((o) => o.key));
    expect(listing).to.deep.equal(['.a', '.s3muw', '.s3mux-self', '.s3mux0', 'z']);
    const lists = since(n).filter((r) => r.method === 'GET' && /\/o$/.test(r.path));
    // natural names up to the reserved area, again past it, and the escaped keys
    expect(lists.length).to.equal(3);
    expect(lists.map((r) => r.query.startOffset)).to.include('.s3mux0');
    page = await small.listObjects(own, { prefix: '.s3mu', maxKeys: 1000 });
    expect(page.objects.map((o) => o.key)).to.deep.equal(['.s3muw', '.s3mux-self', '.s3mux0']);
    await b.multipart.abortUpload(own, 'big', id);
  });

  it('keeps user metadata as it is and s3mux fields apart, in the object resource', async () => {
    await b.putObject(
      bucket,
      'meta',
      body('m'),
      attrs({ contentType: 'text/x-m', userMetadata: { color: 'blue', 'multi-word': 'ok' }, tags: [{ key: 't', value: '1' }] }),
    );
    const raw = d.peek(bucket, 'meta')!.resource;
    expect(raw.contentType).to.equal('text/x-m');
    expect(raw.metadata).to.include({ color: 'blue', 'multi-word': 'ok', 's3mux:tags': 't=1' });
    expect(Buffer.from(raw.md5Hash!, 'base64').toString('hex')).to.equal(md5('m'));
  });

  it('reads ranges with a Range request of the generation read (no bytes beyond)', async () => {
    const data = randomBytes(300_000);
    await b.putObject(bucket, 'ranged', body(data), attrs(), { size: data.length });
    const n = d.requests.length;
    const h = await b.openObject(bucket, 'ranged');
    const chunks: Buffer[] = [];
    for await (const c of h.read({ start: 1000, end: 1999 })) chunks.push(c as Buffer);
    expect(Buffer.concat(chunks).equals(data.subarray(1000, 2000))).to.equal(true);
    const media = since(n).find((r) => r.query.alt === 'media')!;
    expect(media.headers.range).to.equal('bytes=1000-1999');
    expect(media.query.generation).to.equal(String(d.peek(bucket, 'ranged')!.resource.generation));
  });

  it('completes a multipart upload by compose, chained past 32 parts, moving no bytes', async () => {
    const parts = Array.from({ length: 70 }, (_, i) => randomBytes(1000 + i));
    const id = await b.multipart.createUpload(bucket, 'composed', attrs({ contentType: 'application/x-c', userMetadata: { u: '1' } }));
    for (let i = 0; i < parts.length; i++) await b.multipart.uploadPart(bucket, 'composed', id, i + 1, body(parts[i]));
    const n = d.requests.length;
    const etag = `${createHash('md5')
      .update(Buffer.concat(parts.map((p) => createHash('md5').update(p).digest())))
      .digest('hex')}-70`;
    const meta = await b.multipart.completeUpload(
      bucket,
      'composed',
      id,
      parts.map((_, i) => i + 1),
      etag,
    );
    expect(meta.etag).to.equal(etag);
    const composes = since(n).filter((r) => r.path.endsWith('/compose'));
    expect(composes.length, '3 intermediates of <=32, then the object').to.equal(4);
    expect(
      since(n).some((r) => r.path.startsWith('/upload/')),
      'no upload of the assembled bytes',
    ).to.equal(false);
    const got = await getObject(b, bucket, 'composed');
    expect(got.data.equals(Buffer.concat(parts))).to.equal(true);
    expect(got.meta.etag).to.equal(etag);
    expect(got.meta.partSizes).to.deep.equal(parts.map((p) => p.length));
    expect(got.meta.contentType).to.equal('application/x-c');
    expect(got.meta.userMetadata).to.deep.equal({ u: '1' });
    const raw = d.peek(bucket, 'composed')!.resource;
    expect(raw.componentCount).to.equal(70);
    expect(raw.md5Hash).to.equal(undefined);
    const left = (await b.listObjects(bucket, { prefix: '', maxKeys: 1000 })).objects.map((o) => o.key);
    expect(left.some((k) => k.includes('s3mux'))).to.equal(false);
    const reserved: string[] = [];
    for await (const r of new GcsStore(b.storage, true).names(bucket, '.s3mux/uploads/', undefined, 1000)) reserved.push(r.name);
    expect(reserved, 'parts, intermediates and the record are deleted').to.deep.equal([]);
    expect((await b.multipart.listUploads(bucket, { prefix: '', maxUploads: 100 })).uploads).to.deep.equal([]);
  });

  it('copies with rewrite (no bytes through s3mux); a replacing copy clears what the source had', async () => {
    await b.putObject(
      bucket,
      'src',
      body('gz bytes'),
      attrs({ contentType: 'text/a', contentEncoding: 'gzip', userMetadata: { old: '1' } }),
    );
    const n = d.requests.length;
    await b.copyObject!(bucket, 'src', bucket, 'dst', attrs({ contentType: 'text/b', userMetadata: { new: '2' } }));
    expect(since(n).some((r) => r.path.includes('/rewriteTo/'))).to.equal(true);
    expect(since(n).some((r) => r.query.alt === 'media' || r.path.startsWith('/upload/'))).to.equal(false);
    const head = await b.headObject(bucket, 'dst');
    expect(head.contentType).to.equal('text/b');
    expect(head.contentEncoding).to.equal(undefined);
    expect(head.userMetadata).to.deep.equal({ new: '2' });
    expect(head.etag).to.equal(md5('gz bytes'));
  });

  it('makes a conditional write a compare-and-swap on the generation, across replicas', async () => {
    const replicaA = onDouble(d);
    const replicaB = onDouble(d);
    let release!: () => void;
    const gate = new Promise<void>((r) => (release = r));
    // A checks (no object), starts sending, and B writes before A's body ends.
    const slow = new Readable({ read() {} });
    slow.push('from A');
    const a = replicaA.putObject(bucket, 'cas', slow, attrs(), { conditions: { ifNoneMatch: '*' } });
    setTimeout(release, 100);
    await gate;
    await replicaB.putObject(bucket, 'cas', body('from B'), attrs(), { conditions: { ifNoneMatch: '*' } });
    slow.push(null);
    await expectS3Error(a, 'PreconditionFailed');
    expect((await getObject(b, bucket, 'cas')).data.toString()).to.equal('from B');
  });

  it('retries reads through 503 and 429, and answers SlowDown when the store stays busy', async () => {
    await b.putObject(bucket, 'busy', body('b'), attrs());
    d.failNext(2, 503, 'backendError', { method: 'GET' });
    expect((await b.headObject(bucket, 'busy')).size).to.equal(1);
    d.failNext(1, 429, 'rateLimitExceeded', { method: 'GET' });
    expect((await b.headObject(bucket, 'busy')).size).to.equal(1);
    const impatient = onDouble(d, { maxAttempts: 2 });
    d.failNext(2, 503, undefined, { method: 'GET' });
    await expectS3Error(impatient.headObject(bucket, 'busy'), 'SlowDown', 'ServiceUnavailable');
    expect((await b.headObject(bucket, 'busy')).size, 'both failures were used up').to.equal(1);
  });

  it('gives up on a store that does not answer: ServiceUnavailable after the timeout, retried', async () => {
    const sockets: import('node:net').Socket[] = [];
    const silent = (await import('node:net')).createServer((s) => void sockets.push(s));
    await new Promise<void>((r) => silent.listen(0, '127.0.0.1', r));
    try {
      const port = (silent.address() as import('node:net').AddressInfo).port;
      const mute = new GcsBackend({
        endpoint: `http://127.0.0.1:${port}`,
        projectId: 'p',
        anonymous: true,
        timeoutMs: 300,
        maxAttempts: 2,
      });
      const t0 = Date.now();
      await expectS3Error(mute.headObject('some-bucket', 'k'), 'ServiceUnavailable');
      expect(sockets.length, 'tried twice').to.equal(2);
      expect(Date.now() - t0).to.be.below(10_000);
    } finally {
      for (const s of sockets) s.destroy();
      await new Promise((r) => silent.close(r));
    }
  });

  it('does not retry a streamed upload, and a failed one leaves the old object', async () => {
    await b.putObject(bucket, 'once', body('old'), attrs());
    d.failNext(1, 503, 'backendError', { method: 'POST', path: '/upload/' });
    await expectS3Error(b.putObject(bucket, 'once', body('new'), attrs()), 'ServiceUnavailable', 'SlowDown');
    expect((await getObject(b, bucket, 'once')).data.toString()).to.equal('old');
  });

  it('records checksums that arrive after the body (trailers) with a patch', async () => {
    const a = attrs();
    const src = body('trailed');
    src.on('end', () => (a.checksums = { crc32: 'deadbeef' }));
    const meta = await b.putObject(bucket, 'trailed', src, a);
    expect(meta.checksums).to.deep.equal({ crc32: 'deadbeef' });
    expect((await b.headObject(bucket, 'trailed')).checksums).to.deep.equal({ crc32: 'deadbeef' });
  });
});

// ------------------------------------------------------------------------------ routing table

describe('gcs: from the routing table', () => {
  it('validates gcs settings and makes the backend; a service-account key must be JSON', () => {
    const table = validateRoutingTable({
      backends: { g: { type: 'gcs', endpoint: 'http://127.0.0.1:1', projectId: 'p', emulator: true, credentials: { anonymous: true } } },
      routes: { blobs: { target: 'gs://real-bucket/prefix/', backend: 'g' } },
    });
    const route = table.routes[0];
    expect(route.bucket).to.equal('real-bucket');
    expect(route.prefix).to.equal('prefix/');
    const be = createBackend(route.spec, { name: 'g' }) as GcsBackend;
    expect(be.kind).to.equal('gcs');
    expect(be.capabilities.serverSideCopy).to.equal(false);
    expect(be.copyObject).to.equal(undefined);
    const spec = validateRoutingTable({ backends: { g: { type: 'gcs', credentials: { serviceAccountKeyEnv: 'GCS_KEY' } } } }).backends.g
      .spec;
    expect(() => createBackend(spec, { name: 'g', env: { GCS_KEY: 'not json' } })).to.throw(/not JSON/);
    expect(() => createBackend(spec, { name: 'g', env: { GCS_KEY: '{"type":"service_account"}' } })).to.throw(/client_email/);
    expect(() => createBackend(spec, { name: 'g', env: {} })).to.throw(/GCS_KEY/);
    expect(() => validateRoutingTable({ backends: { g: { type: 'gcs', credentials: { serviceAccountKey: '{}' } } } })).to.throw(
      /literal secret|serviceAccountKey/,
    );
  });
});

/**
 * Each auth type of the routing table against a local double of its token service
 * (test/helpers/google-identity.ts); the GCS JSON API double records the Authorization header
 * of every request, which must carry exactly the token the token service issued last.
 */
describe('gcs: every auth type reaches the store with the token its token service issued', function () {
  this.timeout(60_000);
  const ENV = ['GCE_METADATA_HOST', 'GOOGLE_APPLICATION_CREDENTIALS', 'GOOGLE_CLOUD_PROJECT', 'GCLOUD_PROJECT'] as const;
  let saved: Record<string, string | undefined>;
  let id: GoogleIdentityDouble;
  let dir: string;
  beforeEach(async () => {
    saved = Object.fromEntries(ENV.map((k) => [k, process.env[k]]));
    for (const k of ENV) delete process.env[k];
    id = await startGoogleIdentityDouble();
    dir = mkdtempSync(path.join(os.tmpdir(), 's3mux-gcp-auth-'));
  });
  afterEach(async () => {
    for (const k of ENV) {
      if (saved[k] === undefined) delete process.env[k];
      else process.env[k] = saved[k];
    }
    await id.stop();
    rmSync(dir, { recursive: true, force: true });
  });

  function specOf(settings: Record<string, unknown>, endpoint: string) {
    return validateRoutingTable({ backends: { g: { type: 'gcs', endpoint, ...settings } } }, { baseDir: dir }).backends.g.spec;
  }

  /**
   * Writes and reads through a backend made from `settings`: every request the store got
   * carries the last token issued, and `tokens` were issued in all (cached, not one per request).
   */
  async function writesWithToken(settings: Record<string, unknown>, tokens: number, env: NodeJS.ProcessEnv = process.env): Promise<void> {
    const d = await sharedDouble();
    const be = createBackend(specOf(settings, d.endpoint), { name: 'g', env });
    const n = d.requests.length;
    const bucket = newBucketName('auth');
    await be.createBucket(bucket);
    await be.putObject(bucket, 'k', body('with a token'), attrs());
    expect((await getObject(be, bucket, 'k')).data.toString()).to.equal('with a token');
    expect(id.issued.length, `tokens issued (refused: ${id.refused.join('; ')})`).to.equal(tokens);
    const auth = new Set(d.requests.slice(n).map((r) => r.headers.authorization));
    expect([...auth]).to.deep.equal([`Bearer ${id.issued[tokens - 1].token}`]);
  }

  /** A service-account key file's JSON with a fresh RSA key whose token_uri is the double's. */
  function serviceAccountKey(email: string, register = true): string {
    const { privateKey, publicKey } = generateKeyPairSync('rsa', { modulusLength: 2048 });
    if (register) id.addServiceAccount(email, publicKey);
    return JSON.stringify({
      type: 'service_account',
      project_id: 'sa-project',
      private_key_id: randomBytes(20).toString('hex'),
      private_key: privateKey.export({ type: 'pkcs8', format: 'pem' }),
      client_email: email,
      client_id: '1234567890',
      token_uri: id.oauthUrl,
    });
  }

  /** An external_account configuration reading its subject token from a file, optionally impersonating `impersonate`. */
  function externalAccount(impersonate?: string): string {
    const subject = `subject-${randomBytes(8).toString('hex')}`;
    id.acceptSubjectToken(subject);
    writeFileSync(path.join(dir, 'subject-token'), subject);
    const file = path.join(dir, 'wif.json');
    writeFileSync(
      file,
      JSON.stringify({
        type: 'external_account',
        audience: '//iam.googleapis.com/projects/1/locations/global/workloadIdentityPools/p/providers/x',
        subject_token_type: 'urn:ietf:params:oauth:token-type:jwt',
        token_url: id.stsUrl,
        credential_source: { file: path.join(dir, 'subject-token') },
        ...(impersonate ? { service_account_impersonation_url: id.impersonationUrl(impersonate) } : {}),
      }),
    );
    return file;
  }

  it("service account (serviceAccountFile): a JWT grant signed with the key, checked with its public half, at the key's token_uri", async () => {
    const email = 's3mux@sa-project.iam.gserviceaccount.com';
    writeFileSync(path.join(dir, 'key.json'), serviceAccountKey(email));
    await writesWithToken({ credentials: { serviceAccountFile: './key.json' } }, 1);
    expect(id.issued[0].via).to.equal('jwt');
    expect(id.grants).to.have.length(1);
    expect(id.grants[0].iss).to.equal(email);
    expect(String(id.grants[0].scope).split(' ')).to.include('https://www.googleapis.com/auth/devstorage.full_control');
  });

  it("service account under today's spelling (serviceAccountKeyEnv); a key the token service does not know is refused", async () => {
    await writesWithToken({ credentials: { serviceAccountKeyEnv: 'GCS_SA_KEY' } }, 1, {
      GCS_SA_KEY: serviceAccountKey('today@sa-project.iam.gserviceaccount.com'),
    });
    expect(id.issued[0].via).to.equal('jwt');
    const d = await sharedDouble();
    const stranger = createBackend(specOf({ credentials: { serviceAccountKeyEnv: 'GCS_SA_KEY' } }, d.endpoint), {
      name: 'g',
      env: { GCS_SA_KEY: serviceAccountKey('stranger@sa-project.iam.gserviceaccount.com', false) },
    });
    const n = d.requests.length;
    const err = await stranger.headBucket('any-bucket').then(
      () => undefined,
      (e: Error) => e,
    );
    expect(err, 'a grant the token service refused').to.be.instanceOf(Error);
    expect(id.refused.at(-1)).to.equal('no service account stranger@sa-project.iam.gserviceaccount.com');
    expect(d.requests.length, 'nothing reached the store').to.equal(n);
  });

  for (const [what, settings] of [
    ['applicationDefault: true', { credentials: { applicationDefault: true } }],
    ['no credentials (the default)', {}],
  ] as const) {
    it(`application default (${what}): the metadata server (GCE, GKE), project included`, async () => {
      process.env.GCE_METADATA_HOST = id.host;
      await writesWithToken(settings, 1);
      expect(id.issued[0].via).to.equal('metadata');
    });
  }

  it('workload identity (configFile): the subject token file exchanged at the STS', async () => {
    externalAccount();
    await writesWithToken({ projectId: 'wif-project', credentials: { workloadIdentity: { configFile: './wif.json' } } }, 1);
    expect(id.issued[0].via).to.equal('sts');
  });

  it('workload identity (configFile) impersonating a service account: STS, then generateAccessToken', async () => {
    externalAccount('target@sa-project.iam.gserviceaccount.com');
    await writesWithToken({ projectId: 'wif-project', credentials: { workloadIdentity: { configFile: './wif.json' } } }, 2);
    expect(id.issued.map((t) => t.via)).to.deep.equal(['sts', 'impersonation']);
  });

  it('workload identity: true takes the configuration from GOOGLE_APPLICATION_CREDENTIALS', async () => {
    process.env.GOOGLE_APPLICATION_CREDENTIALS = externalAccount();
    await writesWithToken({ projectId: 'wif-project', credentials: { workloadIdentity: true } }, 1);
    expect(id.issued[0].via).to.equal('sts');
  });

  it('refuses a configuration that is not external_account, and two kinds at once, naming the setting', () => {
    writeFileSync(path.join(dir, 'key.json'), serviceAccountKey('x@sa-project.iam.gserviceaccount.com'));
    const spec = specOf({ credentials: { workloadIdentity: { configFile: './key.json' } } }, 'http://127.0.0.1:1');
    expect(() => createBackend(spec, { name: 'g' })).to.throw(
      /^backend 'g': credentials\.workloadIdentity\.configFile .*key\.json: not a workload identity federation configuration/,
    );
    const missing = specOf({ credentials: { workloadIdentity: { configFile: './none.json' } } }, 'http://127.0.0.1:1');
    expect(() => createBackend(missing, { name: 'g' })).to.throw(/credentials\.workloadIdentity\.configFile: cannot read .*none\.json/);
    expect(() => specOf({ credentials: { serviceAccountFile: './key.json', serviceAccountKeyEnv: 'K' } }, 'http://127.0.0.1:1')).to.throw(
      /give one kind of credentials, not several/,
    );
    expect(() => specOf({ credentials: { applicationDefault: true, workloadIdentity: true } }, 'http://127.0.0.1:1')).to.throw(
      /give one kind of credentials, not several/,
    );
    expect(() => specOf({ credentials: { serviceAccount: '{}' } }, 'http://127.0.0.1:1')).to.throw(/literal secret/);
  });
});

// ------------------------------------------------------------------------------ a real S3 client

for (const target of ['double', 'emulator'] as const) {
  describe(`s3mux → GCS (${target}) with @aws-sdk/client-s3`, function () {
    this.timeout(120_000);
    let srv: TestServer;
    const Bucket = 'blobs';
    const real = `s3mux-client-${runId}-${target}`;

    before(async () => {
      const store = target === 'double' ? await sharedDouble() : await sharedEmulator();
      const table = validateRoutingTable({
        backends: {
          g: {
            type: 'gcs',
            endpoint: store.endpoint,
            projectId: store.projectId,
            emulator: target === 'emulator',
            credentials: { anonymous: true },
          },
        },
        routes: { blobs: { target: `gs://${real}/prefix/`, backend: 'g' } },
      });
      if (target === 'double') await onDouble(store as GcsDouble).createBucket(real);
      srv = await startTestServer({ router: Router.fromTable(table) });
    });

    after(async () => {
      await srv?.stop();
    });

    const text = async (r: { Body?: { transformToString(): Promise<string> } }) => r.Body!.transformToString();

    it("puts with metadata, gets, range-gets, lists, copies; ETags look like S3's", async () => {
      const data = 'hello from s3mux to gcs';
      const put = await srv.s3.send(
        new PutObjectCommand({ Bucket, Key: 'dir/hello.txt', Body: data, ContentType: 'text/plain', Metadata: { 'multi-word': 'yes' } }),
      );
      expect(put.ETag).to.equal(`"${md5(data)}"`);
      const head = await srv.s3.send(new HeadObjectCommand({ Bucket, Key: 'dir/hello.txt' }));
      expect(head.Metadata).to.deep.equal({ 'multi-word': 'yes' });
      expect(head.ContentType).to.equal('text/plain');
      const range = await srv.s3.send(new GetObjectCommand({ Bucket, Key: 'dir/hello.txt', Range: 'bytes=6-9' }));
      expect(await text(range)).to.equal('from');
      await srv.s3.send(new PutObjectCommand({ Bucket, Key: 'top.txt', Body: 'top' }));
      const list = await srv.s3.send(new ListObjectsV2Command({ Bucket, Delimiter: '/' }));
      expect(list.Contents?.map((o) => [o.Key, o.ETag])).to.deep.equal([['top.txt', `"${md5('top')}"`]]);
      expect(list.CommonPrefixes?.map((p) => p.Prefix)).to.deep.equal(['dir/']);
      const copy = await srv.s3.send(new CopyObjectCommand({ Bucket, Key: 'copy/of-hello.txt', CopySource: `${Bucket}/dir/hello.txt` }));
      expect(copy.CopyObjectResult?.ETag).to.equal(`"${md5(data)}"`);
      expect(await text(await srv.s3.send(new GetObjectCommand({ Bucket, Key: 'copy/of-hello.txt' })))).to.equal(data);
      // GCS's 409 as S3's code (a request asking only for an ACL is answered 200 in us-east-1, as by S3).
      const bucketErr = await srv.s3.send(new CreateBucketCommand({ Bucket, ObjectOwnership: 'BucketOwnerEnforced' })).then(
        () => undefined,
        (e: Error) => e,
      );
      expect(bucketErr?.name).to.be.oneOf(['BucketAlreadyOwnedByYou', 'BucketAlreadyExists']);
    });

    it('uploads 12 MiB with @aws-sdk/lib-storage (3 parts) and reads it back whole and by part', async () => {
      const data = randomBytes(12 * MiB);
      const up = new Upload({
        client: srv.s3,
        params: { Bucket, Key: 'big/twelve.bin', Body: Readable.from([data]) },
        partSize: 5 * MiB,
        queueSize: 2,
      });
      const r = await up.done();
      const partMd5s = [data.subarray(0, 5 * MiB), data.subarray(5 * MiB, 10 * MiB), data.subarray(10 * MiB)].map((p) =>
        createHash('md5').update(p).digest(),
      );
      const expected = `${createHash('md5').update(Buffer.concat(partMd5s)).digest('hex')}-3`;
      expect(r.ETag).to.equal(`"${expected}"`);
      const whole = Buffer.from(
        await (await srv.s3.send(new GetObjectCommand({ Bucket, Key: 'big/twelve.bin' }))).Body!.transformToByteArray(),
      );
      expect(md5(whole)).to.equal(md5(data));
      const part2 = await srv.s3.send(new GetObjectCommand({ Bucket, Key: 'big/twelve.bin', PartNumber: 2 }));
      expect(part2.ContentLength).to.equal(5 * MiB);
      expect(part2.PartsCount).to.equal(3);
      // Read to its end: the SDK checks the part's bytes against the part's checksum (an unread body would be cut at the server's stop).
      expect(Buffer.from(await part2.Body!.transformToByteArray()).equals(data.subarray(5 * MiB, 10 * MiB))).to.equal(true);
    });
  });
}
