/**
 * The GCS test servers against the SDK the GCS backend uses (@google-cloud/storage 7.22.0): the
 * in-memory double for everything, and the firebase emulator for the basics plus one of its
 * documented gaps, so that a change in the pinned emulator gets noticed.
 */
import * as crypto from 'node:crypto';
import { expect } from 'chai';
import { Storage, type Bucket } from '@google-cloud/storage';
import { crc32cBase64, startGcsDouble, type GcsDouble, type LoggedRequest } from '../helpers/gcs-double';
import { startGcsEmulator } from '../helpers/gcs-emulator';

/** The HTTP status in whichever shape the SDK reports it (ApiError, GaxiosError, upload error). */
function statusOf(err: unknown): number | undefined {
  const e = err as { code?: unknown; status?: unknown; response?: { status?: unknown } };
  for (const v of [e.code, e.status, e.response?.status]) if (typeof v === 'number') return v;
  return undefined;
}

async function expectStatus(p: Promise<unknown>, status: number): Promise<unknown> {
  try {
    await p;
  } catch (err) {
    expect(statusOf(err), String((err as Error).message)).to.equal(status);
    return err;
  }
  throw new Error(`expected an error with status ${status}`);
}

function storageFor(endpoint: string, projectId: string): Storage {
  return new Storage({
    apiEndpoint: endpoint,
    projectId,
    // No credentials: a custom endpoint is used without auth.
    useAuthWithCustomEndpoint: false,
    // Retries on, at most 1 s apart (the default grows to 64 s; save() refuses less than 1 s).
    retryOptions: { maxRetries: 3, retryDelayMultiplier: 1, maxRetryDelay: 1, totalTimeout: 10 },
  });
}

function uploadStream(bucket: Bucket, name: string, data: Buffer, chunkSize: number): Promise<void> {
  return new Promise((resolve, reject) => {
    const ws = bucket.file(name).createWriteStream({ resumable: true, chunkSize, contentType: 'application/octet-stream' });
    ws.on('error', reject).on('finish', () => resolve());
    // Several writes, as a piped stream would do.
    for (let i = 0; i < data.length; i += 100_000) ws.write(data.subarray(i, i + 100_000));
    ws.end();
  });
}

const since = (d: GcsDouble, n: number): LoggedRequest[] => d.requests.slice(n);

describe('GCS double with @google-cloud/storage', function () {
  this.timeout(20_000);
  let double: GcsDouble;
  let storage: Storage;
  let bucket: Bucket;

  before(async () => {
    double = await startGcsDouble({ buckets: ['bkt'] });
    storage = storageFor(double.endpoint, double.projectId);
  });
  after(() => double?.stop());
  beforeEach(() => {
    double.reset();
    bucket = storage.bucket('bkt');
  });

  it('creates, gets and deletes buckets (409 when it exists or is not empty)', async () => {
    const [b] = await storage.createBucket('made-here');
    expect(b.name).to.equal('made-here');
    expect(double.requests.at(-1)).to.include({ method: 'POST', path: '/storage/v1/b' });
    expect(double.requests.at(-1)!.query.project).to.equal('test');
    expect((await b.exists())[0]).to.equal(true);
    await expectStatus(storage.createBucket('made-here'), 409);
    await b.file('x').save('x', { resumable: false });
    await expectStatus(b.delete(), 409);
    await b.file('x').delete();
    await b.delete();
    expect((await b.exists())[0]).to.equal(false);
    await expectStatus(storage.bucket('nope').file('x').save('x', { resumable: false }), 404);
  });

  it('save() without resumable sends one multipart POST; metadata has GCS hashes', async () => {
    const body = 'hello world';
    await bucket.file('dir/a.txt').save(body, { resumable: false, contentType: 'text/plain', metadata: { metadata: { k: 'v' } } });
    const post = double.requests.at(-1)!;
    expect(post).to.include({ method: 'POST', path: '/upload/storage/v1/b/bkt/o' });
    expect(post.query).to.include({ uploadType: 'multipart', name: 'dir/a.txt' });
    const [md] = await bucket.file('dir/a.txt').getMetadata();
    expect(double.requests.at(-1)!.path).to.equal('/storage/v1/b/bkt/o/dir%2Fa.txt');
    expect(md).to.include({ name: 'dir/a.txt', contentType: 'text/plain', size: '11', metageneration: '1', storageClass: 'STANDARD' });
    expect(md.md5Hash).to.equal(crypto.createHash('md5').update(body).digest('base64'));
    expect(md.crc32c).to.equal('yZRlqg=='); // GCS's value for "hello world"
    expect(md.metadata).to.deep.equal({ k: 'v' });
    expect(Number(md.generation)).to.be.greaterThan(0);
    const [data] = await bucket.file('dir/a.txt').download();
    expect(data.toString()).to.equal(body);
  });

  it('save() with resumable sends a POST for the session and one PUT', async () => {
    const data = crypto.randomBytes(300_000);
    const n = double.requests.length;
    await bucket.file('r1').save(data, { resumable: true });
    const reqs = since(double, n);
    expect(reqs.map((r) => `${r.method} ${r.query.uploadType ?? ''}`)).to.deep.equal(['POST resumable', 'PUT resumable']);
    expect(reqs[1].query.upload_id).to.be.a('string');
    expect(double.peek('bkt', 'r1')!.data.equals(data)).to.equal(true);
  });

  it('chunked resumable upload: 256 KiB chunks answered 308 + Range, then finalized', async () => {
    const data = crypto.randomBytes(1024 * 1024 + 1000);
    const n = double.requests.length;
    await uploadStream(bucket, 'chunked', data, 256 * 1024);
    const puts = since(double, n).filter((r) => r.method === 'PUT');
    expect(puts.map((r) => r.headers['content-range'])).to.deep.equal([
      'bytes 0-262143/*',
      'bytes 262144-524287/*',
      'bytes 524288-786431/*',
      'bytes 786432-1048575/*',
      'bytes 1048576-1049575/1049576',
    ]);
    const [md] = await bucket.file('chunked').getMetadata();
    expect(md.size).to.equal(String(data.length));
    expect(md.crc32c).to.equal(crc32cBase64(data));
    expect((await bucket.file('chunked').download())[0].equals(data)).to.equal(true);
  });

  it('download with start/end sends Range and gets 206; past the end is 416', async () => {
    await bucket.file('f').save('hello world', { resumable: false });
    const [part] = await bucket.file('f').download({ start: 1, end: 4 });
    expect(part.toString()).to.equal('ello');
    const get = double.requests.at(-1)!;
    expect(get).to.include({ method: 'GET', path: '/storage/v1/b/bkt/o/f' });
    expect(get.query.alt).to.equal('media');
    expect(get.headers).to.include({ range: 'bytes=1-4', 'accept-encoding': 'gzip' });
    await expectStatus(bucket.file('f').download({ start: 100, end: 200 }), 416);
    await expectStatus(bucket.file('missing').download(), 404);
  });

  it('getFiles: prefix, delimiter, maxResults pages, startOffset/endOffset, UTF-8 byte order', async () => {
    for (const n of ['o/a', 'o/a\uFFFF', 'o/a😀', 'o/aé', 'o/b', 'o/a/x', 'o/a/y', 'o/c/z', 'o/d/', 'p'])
      await bucket.file(n).save('x', { resumable: false });
    const list = async (q: Record<string, unknown>) => {
      const [files, next, resp] = await bucket.getFiles({ autoPaginate: false, ...q });
      return { names: files.map((f) => f.name), prefixes: (resp as { prefixes?: string[] }).prefixes, next };
    };
    // U+FFFF is EF BF BF, and sorts before 😀 (F0 ...) in bytes, though not in UTF-16.
    expect((await list({ prefix: 'o/' })).names).to.deep.equal([
      'o/a',
      'o/a/x',
      'o/a/y',
      'o/aé',
      'o/a\uFFFF',
      'o/a😀',
      'o/b',
      'o/c/z',
      'o/d/',
    ]);
    const dir = await list({ prefix: 'o/', delimiter: '/' });
    expect(dir.names).to.deep.equal(['o/a', 'o/aé', 'o/a\uFFFF', 'o/a😀', 'o/b']);
    expect(dir.prefixes).to.deep.equal(['o/a/', 'o/c/', 'o/d/']);
    const trailing = await list({ prefix: 'o/', delimiter: '/', includeTrailingDelimiter: true });
    expect(trailing.names).to.include('o/d/');
    expect((await list({ prefix: 'o/', startOffset: 'o/b' })).names).to.deep.equal(['o/b', 'o/c/z', 'o/d/']);
    expect((await list({ prefix: 'o/', startOffset: 'o/a/y', endOffset: 'o/b' })).names).to.deep.equal([
      'o/a/y',
      'o/aé',
      'o/a\uFFFF',
      'o/a😀',
    ]);
    expect(double.requests.at(-1)!.query).to.include({ startOffset: 'o/a/y', endOffset: 'o/b' });

    // maxResults counts items and prefixes together.
    const seen: string[] = [];
    let query: Record<string, unknown> | null = { prefix: 'o/', delimiter: '/', maxResults: 2 };
    for (let page = 0; query && page < 10; page++) {
      const [files, next, resp] = await bucket.getFiles({ autoPaginate: false, ...query });
      const prefixes = (resp as { prefixes?: string[] }).prefixes ?? [];
      expect(files.length + prefixes.length).to.be.at.most(2);
      seen.push(...files.map((f) => f.name), ...prefixes);
      query = next as Record<string, unknown> | null;
    }
    expect(seen.sort()).to.deep.equal([...dir.names, ...dir.prefixes!].sort());
    // With autoPaginate (the default) the SDK's maxResults caps the total, not the page.
    expect((await bucket.getFiles({ prefix: 'o/', maxResults: 3 }))[0]).to.have.length(3);
  });

  it('combine() composes 3 objects (componentCount, crc32c, no md5) and refuses more than 32', async () => {
    const parts = ['one-', 'two-', 'three'];
    for (const [i, p] of parts.entries()) await bucket.file(`part${i}`).save(p, { resumable: false });
    const n = double.requests.length;
    await bucket.combine(['part0', 'part1', 'part2'], bucket.file('whole.txt'));
    expect(since(double, n).map((r) => `${r.method} ${r.path}`)).to.deep.equal(['POST /storage/v1/b/bkt/o/whole.txt/compose']);
    const [md] = await bucket.file('whole.txt').getMetadata();
    expect(md.componentCount).to.equal(3);
    expect(md.md5Hash).to.equal(undefined);
    expect(md.crc32c).to.equal(crc32cBase64(Buffer.from(parts.join(''))));
    expect(md.contentType).to.equal('text/plain'); // the SDK guesses it from the name
    expect((await bucket.file('whole.txt').download())[0].toString()).to.equal('one-two-three');
    // A composite of composites counts all their components.
    await bucket.combine(['whole.txt', 'part0'], 'again');
    expect((await bucket.file('again').getMetadata())[0].componentCount).to.equal(4);

    const many = Array.from({ length: 33 }, () => 'part0');
    const err = await expectStatus(bucket.combine(many, 'too-many'), 400);
    expect(String((err as Error).message)).to.match(/exceeds the maximum \(32\)/);
  });

  it('file.copy() rewrites across buckets, also in several calls with a rewriteToken', async () => {
    await storage.createBucket('other');
    await bucket.file('src').save('copy me', { resumable: false, contentType: 'text/x-src', metadata: { metadata: { a: '1' } } });
    const n = double.requests.length;
    await bucket.file('src').copy(storage.bucket('other').file('dst/copied'));
    expect(since(double, n).map((r) => r.path)).to.deep.equal(['/storage/v1/b/bkt/o/src/rewriteTo/b/other/o/dst%2Fcopied']);
    const [md] = await storage.bucket('other').file('dst/copied').getMetadata();
    expect(md).to.include({ contentType: 'text/x-src', size: '7' });
    expect(md.metadata).to.deep.equal({ a: '1' });

    const slow = await startGcsDouble({ buckets: ['bkt'], rewriteBytesPerCall: 1024 * 1024 });
    try {
      const s = storageFor(slow.endpoint, slow.projectId).bucket('bkt');
      const data = crypto.randomBytes(2.5 * 1024 * 1024);
      await s.file('big').save(data, { resumable: false });
      const m = slow.requests.length;
      await s.file('big').copy('big-copy');
      const calls = since(slow, m);
      expect(calls).to.have.length(3);
      expect(calls[0].query.rewriteToken).to.equal(undefined);
      expect(calls[2].query.rewriteToken).to.be.a('string');
      expect(slow.peek('bkt', 'big-copy')!.data.equals(data)).to.equal(true);
    } finally {
      await slow.stop();
    }
  });

  it('preconditions: ifGenerationMatch 0 on an existing object is 412; a matching generation works', async () => {
    await bucket.file('p').save('v1', { resumable: false });
    await expectStatus(bucket.file('p').save('v2', { resumable: false, preconditionOpts: { ifGenerationMatch: 0 } }), 412);
    await expectStatus(bucket.file('p').save('v2', { resumable: true, preconditionOpts: { ifGenerationMatch: 0 } }), 412);
    const [md] = await bucket.file('p').getMetadata();
    await bucket.file('p').save('v2', { resumable: false, preconditionOpts: { ifGenerationMatch: Number(md.generation) } });
    const [md2] = await bucket.file('p').getMetadata();
    expect(Number(md2.generation)).to.be.greaterThan(Number(md.generation));
    await expectStatus(bucket.file('p').delete({ ifGenerationMatch: Number(md.generation) }), 412);
    await expectStatus(bucket.file('p').setMetadata({ metadata: { x: 'y' } }, { ifMetagenerationMatch: 5 }), 412);
    expect((await bucket.file('p').download())[0].toString()).to.equal('v2');
  });

  it('setMetadata() patches: custom keys merge, null deletes, metageneration grows', async () => {
    await bucket.file('m').save('x', { resumable: false, metadata: { metadata: { a: '1', b: '2' } } });
    const [md] = await bucket.file('m').setMetadata({ metadata: { a: null, c: '3' }, cacheControl: 'no-cache' });
    expect(md.metadata).to.deep.equal({ b: '2', c: '3' });
    expect(md).to.include({ metageneration: '2', cacheControl: 'no-cache' });
    expect(double.requests.at(-1)).to.include({ method: 'PATCH' });
  });

  it('delete() removes; a missing object is 404 with the GCS error shape', async () => {
    await bucket.file('d').save('x', { resumable: false });
    await bucket.file('d').delete();
    expect((await bucket.file('d').exists())[0]).to.equal(false);
    const err = await expectStatus(bucket.file('d').delete(), 404);
    expect((err as { errors?: { reason?: string }[] }).errors?.[0]?.reason).to.equal('notFound');
    expect(String((err as Error).message)).to.equal('No such object: bkt/d');
  });

  it('refuses object names GCS refuses', async () => {
    await expectStatus(bucket.file('a\nb').save('x', { resumable: false }), 400);
    await expectStatus(bucket.file('a\rb').save('x', { resumable: true }), 400);
    await expectStatus(bucket.file('x'.repeat(1025)).save('x', { resumable: false }), 400);
    const fine = ['x'.repeat(1024), 'é'.repeat(512), 'a#b?c[d]*e%f', ' lead and trail '];
    for (const name of fine) {
      await bucket.file(name).save(name, { resumable: false });
      expect((await bucket.file(name).download())[0].toString()).to.equal(name);
    }
  });

  it('failNext(503) is retried by the SDK; the request log shows the retry', async () => {
    await bucket.file('r').save('retry me', { resumable: false });
    // A fresh Storage: in 7.22.0 a save() without a precondition leaves retryOptions.autoRetry
    // false on its whole Storage instance, so that instance's later reads are not retried.
    expect(storage.retryOptions.autoRetry).to.equal(false);
    const fresh = storageFor(double.endpoint, double.projectId).bucket('bkt');
    double.failNext(1, 503, undefined, { method: 'GET' });
    const n = double.requests.length;
    const [data] = await fresh.file('r').download();
    expect(data.toString()).to.equal('retry me');
    expect(since(double, n).filter((r) => r.method === 'GET')).to.have.length(2);

    double.failNext(1, 429, 'rateLimitExceeded', { path: /\/o\/r$/, method: 'GET' });
    const [md] = await fresh.file('r').getMetadata();
    expect(md.name).to.equal('r');

    // Not retried: a non-idempotent call with no precondition.
    double.failNext(1, 503, undefined, { path: '/compose' });
    await expectStatus(fresh.combine(['r'], 'c'), 503);
  });
});

describe('GCS firebase emulator (pinned firebase-tools) with @google-cloud/storage', function () {
  this.timeout(20_000);

  it('save, download, list and delete work; compose is still 501', async () => {
    const emu = await startGcsEmulator();
    try {
      const b = storageFor(emu.endpoint, emu.projectId).bucket('emu-bucket');
      await b.file('dir/a.txt').save('hello world', { resumable: false, contentType: 'text/plain' });
      await b.file('dir/b.txt').save(Buffer.alloc(300_000, 7), { resumable: true });
      expect((await b.file('dir/a.txt').download({ start: 1, end: 4 }))[0].toString()).to.equal('ello');
      const [files] = await b.getFiles({ prefix: 'dir/' });
      expect(files.map((f) => f.name)).to.deep.equal(['dir/a.txt', 'dir/b.txt']);
      await b.file('dir/a.txt').delete();
      expect((await b.file('dir/a.txt').exists())[0]).to.equal(false);
      // Documented gap (see the header of test/helpers/gcs-emulator.ts).
      await expectStatus(b.combine(['dir/b.txt'], 'combined'), 501);
    } finally {
      await emu.stop();
    }
  });
});
