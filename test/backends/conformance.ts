/**
 * The backend behaviour suite. Every adapter runs it unchanged:
 *
 *   describeBackendConformance('fs', async () => ({ backend, cleanup }));
 *
 * It only uses the Backend interface, creates its own uniquely named buckets (so it can run
 * against a real cloud account) and removes them afterwards.
 */
import { expect } from 'chai';
import { createHash, randomBytes } from 'node:crypto';
import { Readable } from 'node:stream';
import { S3Error } from '../../src/errors';
import type { Backend, ListPage, ListUploadsPage, MultipartStore, ObjectAttributes, ObjectMeta, PartInfo } from '../../src/backends/types';

export interface ConformanceFixture {
  backend: Backend;
  cleanup(): Promise<void>;
}

export interface ConformanceOptions {
  /**
   * 'full' (default) pages through every prefix x delimiter combination with maxKeys 1, 2
   * and 1000; 'small' keeps the combinations but pages with maxKeys 1 only for a few (for
   * remote stores where each page is a request).
   */
  listingMatrix?: 'full' | 'small';
  /**
   * What the target lacks (an emulator, a store with fewer features): each entry skips only
   * the checks that need it. Leave it unset for a complete backend.
   */
  lacks?: {
    /** PutOptions.etag: the store computes every ETag itself (any S3-compatible store). */
    givenEtag?: boolean;
    /** Object tags set with the object and reported by HEAD/GET. */
    tags?: boolean;
    /** Additional checksums kept with the object. */
    checksums?: boolean;
    /** Listing in UTF-8 byte order (not UTF-16) for start positions. */
    utf8Order?: boolean;
    /** Listing pages cut in sorted order, and delimiters of more than one character. */
    sortedPaging?: boolean;
    /** Keys it cannot store: true for each such key, which is left out of the key sets. */
    key?: (key: string) => boolean;
    /**
     * Creating, deleting and heading buckets (every bucket exists implicitly): the bucket
     * checks are skipped and the suite's buckets are fresh names that are never created.
     */
    bucketAdmin?: boolean;
    /** Conditional writes that hold under concurrency (the store ignores preconditions). */
    atomicConditions?: boolean;
    /** If-Match on a write: the store cannot compare-and-swap, and refuses it with NotImplemented. */
    ifMatch?: boolean;
    /**
     * ETags that are the content's MD5: the store's ETags are version ids (GitHub assets), so
     * the suite checks that put, head, get and listings agree and that a new version gets a
     * new one, not what they are.
     */
    md5Etag?: boolean;
    /**
     * Attributes besides Content-Type (other content headers, user metadata, tags): the store
     * cannot hold them and refuses a write that carries them with NotImplemented, so the
     * suite writes only Content-Type and checks the refusal.
     */
    attributes?: boolean;
    /** Keys that differ only in letter case as two keys: the store's names ignore case, so only the first of such keys is used. */
    caseSensitiveKeys?: boolean;

    // ---- multipart (Backend.multipart); the whole section is skipped when it is absent

    /**
     * uploadPart without `opts.size` (a part streamed with no announced length): the store
     * needs each part's length up front (S3's UploadPart requires Content-Length).
     */
    unsizedParts?: boolean;
    /** abortUpload (and sweepUploads, which an S3-compatible store builds on it). */
    abortUpload?: boolean;
    /** listUploads (and sweepUploads, which an S3-compatible store builds on it). */
    listUploads?: boolean;
    /** listParts: what an upload holds cannot be read back before Complete. */
    listParts?: boolean;
    /**
     * Upload ids checked against the store's uploads: the store accepts a part or a Complete
     * for an id it never gave, for another key's upload, or for an upload already completed.
     */
    uploadIds?: boolean;
    /**
     * S3's multipart ETag (`<md5 of the parts' MD5s>-N`) on a completed upload: the store
     * records an ETag of its own (s3rver: the MD5 of the whole object), so the suite only
     * checks that HEAD and listings show the ETag completeUpload returned.
     */
    multipartEtag?: boolean;
    /** ObjectMeta.partSizes on an object assembled from parts. */
    partSizes?: boolean;
    /**
     * A re-sent part that fails midway keeping the part it would have replaced: the store
     * writes the new part over the old one in place (s3rver), so the checks that re-send a
     * stored part with a failing body are skipped (a failing first send is still checked).
     */
    atomicParts?: boolean;
  };
  /**
   * The smallest size the store accepts, at Complete, for every part but the last (S3 and
   * any store behind the S3 API: 5 MiB). The multipart checks then make their non-last parts
   * this large; otherwise they use 64 KiB parts (the Backend interface has no minimum: the S3
   * layer enforces S3's).
   */
  minPartSize?: number;
}

// ------------------------------------------------------------------ helpers

export function md5(data: Buffer | string): string {
  return createHash('md5').update(data).digest('hex');
}

const CRC_TABLE = (() => {
  const t = new Uint32Array(256);
  for (let n = 0; n < 256; n++) {
    let c = n;
    for (let k = 0; k < 8; k++) c = c & 1 ? 0xedb88320 ^ (c >>> 1) : c >>> 1;
    t[n] = c >>> 0;
  }
  return t;
})();

/** CRC32 (the x-amz-checksum-crc32 flavour), base64 of the big-endian value. */
export function crc32Base64(data: Buffer): string {
  let c = 0xffffffff;
  for (const b of data) c = CRC_TABLE[(c ^ b) & 0xff] ^ (c >>> 8);
  const out = Buffer.alloc(4);
  out.writeUInt32BE((c ^ 0xffffffff) >>> 0);
  return out.toString('base64');
}

export function utf8Sort(keys: string[]): string[] {
  return [...keys].sort((a, b) => Buffer.compare(Buffer.from(a, 'utf8'), Buffer.from(b, 'utf8')));
}

/** Tags in key order, for comparing tag sets. */
export function sortTags(t?: { key: string; value: string }[]): { key: string; value: string }[] {
  return [...(t ?? [])].sort((x, y) => (x.key < y.key ? -1 : 1));
}

/** The content headers, user metadata and (unless the store lacks them) tags of `meta` are those of `attrs`. */
export function expectAttributes(meta: ObjectAttributes, attrs: ObjectAttributes, lacksTags = false): void {
  for (const h of ['contentType', 'contentEncoding', 'contentDisposition', 'contentLanguage', 'cacheControl', 'expires'] as const) {
    expect(meta[h], h).to.equal(attrs[h]);
  }
  expect(meta.userMetadata).to.deep.equal(attrs.userMetadata);
  if (!lacksTags) expect(sortTags(meta.tags)).to.deep.equal(sortTags(attrs.tags));
}

export function body(data: Buffer | string, chunkSize = 16 * 1024): Readable {
  const buf = typeof data === 'string' ? Buffer.from(data, 'utf8') : data;
  const chunks: Buffer[] = [];
  for (let i = 0; i < buf.length; i += chunkSize) chunks.push(buf.subarray(i, i + chunkSize));
  return Readable.from(chunks);
}

/** A body that sends some bytes, then fails like a client going away (or a checksum failing). */
export function failingBody(data: Buffer, failAfter: number, err: Error = new Error('client went away')): Readable {
  let sent = false;
  return new Readable({
    read() {
      if (!sent) {
        sent = true;
        this.push(data.subarray(0, failAfter));
      } else {
        setImmediate(() => this.destroy(err));
      }
    },
  });
}

/** S3's multipart ETag: the MD5 of the parts' binary MD5s, then `-<count>`. */
export function s3MultipartEtag(parts: Buffer[]): string {
  const h = createHash('md5');
  for (const p of parts) h.update(createHash('md5').update(p).digest());
  return `${h.digest('hex')}-${parts.length}`;
}

export function sleep(ms: number): Promise<void> {
  return new Promise((resolve) => setTimeout(resolve, ms));
}

export async function readAll(stream: Readable): Promise<Buffer> {
  const chunks: Buffer[] = [];
  for await (const c of stream) chunks.push(Buffer.isBuffer(c) ? c : Buffer.from(c as Uint8Array));
  return Buffer.concat(chunks);
}

export async function expectS3Error(p: Promise<unknown>, ...codes: string[]): Promise<S3Error> {
  let err: unknown;
  try {
    await p;
  } catch (e) {
    err = e;
  }
  expect(err, `expected S3Error ${codes.join(' or ')}, the call succeeded`).to.not.equal(undefined);
  expect(err, `expected S3Error ${codes.join(' or ')}, got ${String(err)}`).to.be.instanceOf(S3Error);
  expect(codes, `unexpected code (${String(err)})`).to.include((err as S3Error).code);
  return err as S3Error;
}

export async function getObject(
  b: Backend,
  bucket: string,
  key: string,
  range?: { start: number; end: number },
): Promise<{ meta: ObjectMeta; data: Buffer }> {
  const h = await b.openObject(bucket, key);
  try {
    const data = h.meta.size === 0 && !range ? Buffer.alloc(0) : await readAll(h.read(range));
    return { meta: h.meta, data };
  } finally {
    await h.close();
  }
}

/** Every entry (keys and common prefixes, merged in order) of a listing, paging through all pages. */
export async function listAll(
  b: Backend,
  bucket: string,
  opts: { prefix?: string; delimiter?: string; startAfter?: string; maxKeys: number },
): Promise<{ entries: string[]; pages: number; objects: string[]; prefixes: string[] }> {
  const entries: string[] = [];
  const objects: string[] = [];
  const prefixes: string[] = [];
  let after = opts.startAfter;
  let pages = 0;
  for (;;) {
    const page: ListPage = await b.listObjects(bucket, {
      prefix: opts.prefix ?? '',
      delimiter: opts.delimiter,
      startAfter: after,
      maxKeys: opts.maxKeys,
    });
    pages++;
    const keys = page.objects.map((o) => o.key);
    expect(utf8Sort(keys), 'objects sorted in UTF-8 order').to.deep.equal(keys);
    expect(utf8Sort(page.commonPrefixes), 'prefixes sorted in UTF-8 order').to.deep.equal(page.commonPrefixes);
    const merged = utf8Sort([...keys, ...page.commonPrefixes]);
    expect(merged.length, 'page size').to.be.at.most(opts.maxKeys);
    entries.push(...merged);
    objects.push(...keys);
    prefixes.push(...page.commonPrefixes);
    if (!page.isTruncated) break;
    expect(merged.length, 'a truncated page is not empty').to.be.greaterThan(0);
    expect(page.nextStartAfter, 'nextStartAfter = last entry of a truncated page').to.equal(merged[merged.length - 1]);
    after = page.nextStartAfter;
    if (pages > 5000) throw new Error('listing does not terminate');
  }
  return { entries, pages, objects, prefixes };
}

/** The reference model: the complete listing S3 gives, computed by brute force. */
export function expectedPage(
  keys: string[],
  prefix: string,
  delimiter?: string,
  startAfter?: string,
): { entries: string[]; objects: string[]; prefixes: string[] } {
  const sorted = utf8Sort(keys);
  const cmp = (a: string, b: string) => Buffer.compare(Buffer.from(a, 'utf8'), Buffer.from(b, 'utf8'));
  let skipUnder: string | undefined;
  if (startAfter !== undefined && delimiter && startAfter.startsWith(prefix)) {
    // The common prefix the start position lies in (or is) sorts at or before it: S3 skips it whole.
    const i = startAfter.indexOf(delimiter, prefix.length);
    if (i >= 0) skipUnder = startAfter.slice(0, i + delimiter.length);
  }
  const entries: string[] = [];
  const objects: string[] = [];
  const prefixes: string[] = [];
  for (const k of sorted) {
    if (!k.startsWith(prefix)) continue;
    if (startAfter !== undefined && cmp(k, startAfter) <= 0) continue;
    if (skipUnder !== undefined && k.startsWith(skipUnder)) continue;
    if (delimiter) {
      const i = k.indexOf(delimiter, prefix.length);
      if (i >= 0) {
        const cp = k.slice(0, i + delimiter.length);
        if (prefixes[prefixes.length - 1] !== cp) {
          prefixes.push(cp);
          entries.push(cp);
        }
        continue;
      }
    }
    objects.push(k);
    entries.push(k);
  }
  return { entries, objects, prefixes };
}

export function expectedListing(keys: string[], prefix: string, delimiter?: string, startAfter?: string): string[] {
  return expectedPage(keys, prefix, delimiter, startAfter).entries;
}

/** Deterministic pseudo-random bytes. */
export function pattern(size: number, seed = 1): Buffer {
  const b = Buffer.alloc(size);
  let x = seed >>> 0 || 1;
  for (let i = 0; i < size; i++) {
    x ^= x << 13;
    x ^= x >>> 17;
    x ^= x << 5;
    b[i] = x & 0xff;
  }
  return b;
}

const MD5_EMPTY = 'd41d8cd98f00b204e9800998ecf8427e';

/** Keys every backend must store, read, list in UTF-8 order, and delete. */
export const AWKWARD_KEYS: string[] = [
  'a',
  'a/b',
  'a/',
  'a-b',
  'a.b',
  'aé',
  'a😀',
  'a\uE000',
  'a\uFFFD',
  'A',
  'B',
  'b',
  'é',
  '😀',
  'dir/',
  'dir/file',
  'dir//double',
  'a//b',
  '//lead',
  '/',
  './x',
  '../../etc/passwd',
  '../escape',
  'x/../y',
  'x/./y',
  'x/..',
  'x/.',
  '.',
  '..',
  '...',
  'sp ace',
  ' lead',
  'trail ',
  '%2F',
  'a%2Fb',
  'plus+sign',
  'q?uery',
  'hash#x',
  'amp&lt;',
  `quote'"`,
  'back\\slash',
  '..\\..\\win',
  'colon:x',
  'star*',
  'tab\there',
  '.s3mux',
  '.s3mux-self',
  'a/.s3mux-self',
  '.s3mux~',
  '.S3MUX',
  '.s3mux#' + '0'.repeat(64),
  'x.meta',
  'x.meta/y',
  'x',
  'L' + 'x'.repeat(300),
  'seg/' + 'y'.repeat(300) + '/z',
  'seg/' + 'y'.repeat(300),
  'n'.repeat(255),
  'n'.repeat(256),
  '.s3mux' + 'z'.repeat(245),
  'é'.repeat(512),
  'k/' + 'q'.repeat(1022),
  'ab/'.repeat(341) + 'x',
];

/** The keys of the listing matrix. */
export const LISTING_KEYS: string[] = [
  'a',
  'a/',
  'a/b',
  'a/b/c',
  'a/c',
  'a-b',
  'a-b/c',
  'a.b',
  'aé',
  'a😀',
  'a\uE000',
  'ab',
  'abab',
  'abc/ab/x',
  'A',
  'B',
  'b',
  'b/',
  'b//c',
  'b/ab',
  'c d',
  'dir/',
  'dir/sub/',
  'dir/sub/file',
  'dir/x',
  'x/../y',
  'x/./y',
  './x',
  '../../etc/passwd',
  '.hidden',
  'z',
  'zz-top',
  'é',
  'éa/é',
  '😀',
];

// ------------------------------------------------------------------ the suite

export function describeBackendConformance(
  name: string,
  factory: () => Promise<ConformanceFixture>,
  options: ConformanceOptions = {},
): void {
  describe(`Backend conformance: ${name}`, function () {
    this.timeout(120_000);
    let fx: ConformanceFixture;
    let b: Backend;
    const runId = randomBytes(3).toString('hex');
    let counter = 0;
    const created: string[] = [];

    const bucketName = () => `s3mux-ct-${runId}-${++counter}`;
    const storable = (key: string, i = 0, all: readonly string[] = []): boolean =>
      !options.lacks?.key?.(key) &&
      !(options.lacks?.caseSensitiveKeys && all.slice(0, i).some((k) => k !== key && k.toLowerCase() === key.toLowerCase()));
    /** What the store holds of `attrs` (everything, or only Content-Type). */
    const hold = <T extends Partial<ObjectAttributes>>(attrs: T): T =>
      options.lacks?.attributes
        ? ({
            ...(attrs.contentType !== undefined ? { contentType: attrs.contentType } : {}),
            ...(attrs.checksums ? { checksums: attrs.checksums } : {}),
            ...(attrs.userMetadata ? { userMetadata: {} } : {}),
          } as T)
        : attrs;
    /** The ETag a store gives `data`: its MD5, or (lacks.md5Etag) any non-empty value. */
    const expectEtag = (etag: string, data: Buffer | string, what?: string): void => {
      if (options.lacks?.md5Etag) expect(etag, what).to.be.a('string').and.not.equal('');
      else expect(etag, what).to.equal(md5(data));
    };

    async function newBucket(): Promise<string> {
      const name = bucketName();
      if (!options.lacks?.bucketAdmin) await b.createBucket(name);
      created.push(name);
      return name;
    }

    async function emptyBucket(bucket: string): Promise<void> {
      for (;;) {
        const page = await b.listObjects(bucket, { prefix: '', maxKeys: 1000 });
        for (const o of page.objects) await b.deleteObject(bucket, o.key);
        if (page.objects.length === 0) break;
      }
    }

    async function put(bucket: string, key: string, data: Buffer | string, attrs: Partial<ObjectAttributes> = {}): Promise<ObjectMeta> {
      return b.putObject(bucket, key, body(data), { userMetadata: {}, ...hold(attrs) }, { size: Buffer.byteLength(data) });
    }

    before(async () => {
      fx = await factory();
      b = fx.backend;
    });

    after(async () => {
      for (const name of created) {
        try {
          await emptyBucket(name);
          if (!options.lacks?.bucketAdmin) await b.deleteBucket(name);
        } catch {
          // already gone
        }
      }
      await b?.close?.();
      await fx?.cleanup();
    });

    // -------------------------------------------------------------- buckets

    describe('buckets', () => {
      before(function () {
        if (options.lacks?.bucketAdmin) this.skip();
      });

      it('creates, heads and lists a bucket', async () => {
        const name = await newBucket();
        const info = await b.headBucket(name);
        expect(info.name).to.equal(name);
        expect(info.creationDate).to.be.instanceOf(Date);
        expect(Math.abs(info.creationDate.getTime() - Date.now())).to.be.below(24 * 3600 * 1000);
        const all = await b.listBuckets();
        expect(all.map((x) => x.name)).to.include(name);
        expect(all.find((x) => x.name === name)!.creationDate).to.be.instanceOf(Date);
      });

      it('lists buckets sorted by name', async () => {
        const n1 = await newBucket();
        const n2 = await newBucket();
        const names = (await b.listBuckets()).map((x) => x.name);
        expect(names.indexOf(n1)).to.be.below(names.indexOf(n2));
        expect(utf8Sort(names)).to.deep.equal(names);
      });

      it('answers BucketAlreadyOwnedByYou when the bucket exists', async () => {
        const name = await newBucket();
        await expectS3Error(b.createBucket(name), 'BucketAlreadyOwnedByYou');
      });

      it('refuses invalid bucket names with InvalidBucketName', async () => {
        for (const bad of [
          'ab',
          'UPPER-case',
          'has_underscore',
          '-leading',
          'trailing-',
          'a..b',
          '192.168.1.1',
          'xn--abc',
          'x'.repeat(64),
          '..',
          '.s3mux',
          'a/b',
        ]) {
          await expectS3Error(b.createBucket(bad), 'InvalidBucketName');
        }
      });

      it('deletes an empty bucket, then it is gone', async () => {
        const name = bucketName();
        await b.createBucket(name);
        await b.deleteBucket(name);
        await expectS3Error(b.headBucket(name), 'NoSuchBucket');
        expect((await b.listBuckets()).map((x) => x.name)).to.not.include(name);
        await expectS3Error(b.deleteBucket(name), 'NoSuchBucket');
      });

      it('refuses to delete a non-empty bucket (BucketNotEmpty), also when the only key is deep', async () => {
        const name = await newBucket();
        await put(name, 'deep/er/key', 'x');
        await expectS3Error(b.deleteBucket(name), 'BucketNotEmpty');
        expect((await b.headObject(name, 'deep/er/key')).size).to.equal(1);
        await b.deleteObject(name, 'deep/er/key');
        await put(name, 'dir/', '');
        await expectS3Error(b.deleteBucket(name), 'BucketNotEmpty');
        await b.deleteObject(name, 'dir/');
        await b.deleteBucket(name);
        await expectS3Error(b.headBucket(name), 'NoSuchBucket');
      });

      it('answers NoSuchBucket for every operation on a missing bucket', async () => {
        const missing = bucketName();
        await expectS3Error(b.headBucket(missing), 'NoSuchBucket');
        await expectS3Error(b.deleteBucket(missing), 'NoSuchBucket');
        await expectS3Error(b.headObject(missing, 'k'), 'NoSuchBucket');
        await expectS3Error(b.openObject(missing, 'k'), 'NoSuchBucket');
        await expectS3Error(b.putObject(missing, 'k', body('x'), { userMetadata: {} }), 'NoSuchBucket');
        await expectS3Error(b.deleteObject(missing, 'k'), 'NoSuchBucket');
        await expectS3Error(b.listObjects(missing, { prefix: '', maxKeys: 10 }), 'NoSuchBucket');
        await expectS3Error(b.setTags(missing, 'k', []), 'NoSuchBucket');
        if (b.copyObject) {
          const real = await newBucket();
          await put(real, 'k', 'x');
          await expectS3Error(b.copyObject(missing, 'k', real, 'k2', undefined), 'NoSuchBucket');
          await expectS3Error(b.copyObject(real, 'k', missing, 'k2', undefined), 'NoSuchBucket');
        }
      });
    });

    // -------------------------------------------------------------- objects

    describe('objects', () => {
      let bucket: string;
      before(async () => {
        bucket = await newBucket();
      });

      it('puts, heads and reads an object; ETag is the MD5 hex of the content', async () => {
        const data = 'hello, s3mux';
        const t0 = Date.now();
        const meta = await put(bucket, 'hello.txt', data, { contentType: 'text/plain' });
        expect(meta.key).to.equal('hello.txt');
        expect(meta.size).to.equal(12);
        expectEtag(meta.etag, data);
        if (!options.lacks?.md5Etag) expect(meta.etag).to.match(/^[0-9a-f]{32}$/);
        expect(meta.lastModified).to.be.instanceOf(Date);
        expect(Math.abs(meta.lastModified.getTime() - t0)).to.be.below(5 * 60 * 1000);
        const head = await b.headObject(bucket, 'hello.txt');
        expect(head.etag).to.equal(meta.etag);
        expectEtag(head.etag, data);
        expect(head.size).to.equal(12);
        expect(head.contentType).to.equal('text/plain');
        expect(head.lastModified.getTime()).to.be.closeTo(meta.lastModified.getTime(), 1000);
        const got = await getObject(b, bucket, 'hello.txt');
        expect(got.data.toString()).to.equal(data);
        expect(got.meta.etag).to.equal(meta.etag);
      });

      it('gives a stable ETag per version, the same in put, head, get and listing, and a new one on overwrite', async () => {
        const m1 = await put(bucket, 'etag-versions', 'one');
        expect((await b.headObject(bucket, 'etag-versions')).etag).to.equal(m1.etag);
        expect((await b.headObject(bucket, 'etag-versions')).etag).to.equal(m1.etag);
        expect((await getObject(b, bucket, 'etag-versions')).meta.etag).to.equal(m1.etag);
        expect((await b.listObjects(bucket, { prefix: 'etag-versions', maxKeys: 10 })).objects.map((o) => o.etag)).to.deep.equal([m1.etag]);
        const m2 = await put(bucket, 'etag-versions', 'two');
        expect(m2.etag).to.not.equal(m1.etag);
        expect((await b.headObject(bucket, 'etag-versions')).etag).to.equal(m2.etag);
      });

      it('records a given ETag (multipart assembly) instead of the MD5', async function () {
        if (options.lacks?.givenEtag) this.skip();
        const etag = `${md5('x')}-3`;
        const meta = await b.putObject(bucket, 'with-etag', body('assembled'), { userMetadata: {} }, { etag });
        expect(meta.etag).to.equal(etag);
        expect((await b.headObject(bucket, 'with-etag')).etag).to.equal(etag);
        const page = await b.listObjects(bucket, { prefix: 'with-etag', maxKeys: 10 });
        expect(page.objects.map((o) => o.etag)).to.deep.equal([etag]);
        expect((await getObject(b, bucket, 'with-etag')).data.toString()).to.equal('assembled');
      });

      it('stores an empty object', async () => {
        const meta = await put(bucket, 'empty', '');
        expect(meta.size).to.equal(0);
        expectEtag(meta.etag, '');
        if (!options.lacks?.md5Etag) expect(meta.etag).to.equal(MD5_EMPTY);
        const got = await getObject(b, bucket, 'empty');
        expect(got.data.length).to.equal(0);
        const h = await b.openObject(bucket, 'empty');
        expect((await readAll(h.read())).length).to.equal(0);
        await h.close();
      });

      it('reads byte ranges', async () => {
        const data = pattern(100_003, 7);
        await put(bucket, 'ranged.bin', data);
        for (const r of [
          { start: 0, end: 0 },
          { start: 1, end: 3 },
          { start: 65_535, end: 65_537 },
          { start: 100_002, end: 100_002 },
          { start: 0, end: 100_002 },
          { start: 4096, end: 90_000 },
        ]) {
          const got = await getObject(b, bucket, 'ranged.bin', r);
          expect(got.data.equals(data.subarray(r.start, r.end + 1)), `range ${r.start}-${r.end}`).to.equal(true);
          expect(got.meta.size).to.equal(data.length);
        }
      });

      it('streams a multi-megabyte body in and out', async () => {
        const data = pattern(3 * 1024 * 1024 + 17, 3);
        const meta = await b.putObject(bucket, 'big/blob.bin', body(data, 64 * 1024), { userMetadata: {} });
        expect(meta.size).to.equal(data.length);
        expectEtag(meta.etag, data);
        const got = await getObject(b, bucket, 'big/blob.bin');
        expect(md5(got.data)).to.equal(md5(data));
      });

      it('can open a handle and close it without reading', async () => {
        await put(bucket, 'unread', 'data');
        for (let i = 0; i < 20; i++) {
          const h = await b.openObject(bucket, 'unread');
          expect(h.meta.size).to.equal(4);
          await h.close();
        }
      });

      it('refuses attributes it cannot hold with NotImplemented, writing nothing', async function () {
        if (!options.lacks?.attributes) this.skip();
        const refused: Partial<ObjectAttributes>[] = [
          { userMetadata: { color: 'blue' } },
          { tags: [{ key: 'k', value: 'v' }] },
          { contentDisposition: 'attachment' },
          { cacheControl: 'max-age=60' },
          { contentEncoding: 'gzip' },
          { contentLanguage: 'en' },
          { expires: 'Wed, 21 Oct 2037 07:28:00 GMT' },
        ];
        for (const attrs of refused) {
          await expectS3Error(b.putObject(bucket, 'unholdable', body('x'), { userMetadata: {}, ...attrs }, { size: 1 }), 'NotImplemented');
          if (b.multipart)
            await expectS3Error(b.multipart.createUpload(bucket, 'unholdable', { userMetadata: {}, ...attrs }), 'NotImplemented');
        }
        await expectS3Error(b.headObject(bucket, 'unholdable'), 'NoSuchKey');
        const meta = await b.putObject(bucket, 'holdable', body('x'), { userMetadata: {}, contentType: 'text/x-kept' }, { size: 1 });
        expect((await b.headObject(bucket, 'holdable')).contentType).to.equal('text/x-kept');
        expect(meta.userMetadata).to.deep.equal({});
      });

      it('round-trips content headers, user metadata, tags and checksums', async function () {
        if (options.lacks?.attributes) this.skip();
        const data = Buffer.from('attributes');
        const attrs: ObjectAttributes = {
          contentType: 'text/plain; charset=utf-8',
          contentEncoding: 'identity',
          contentDisposition: 'attachment; filename="r.txt"',
          contentLanguage: 'en-GB',
          cacheControl: 'max-age=60, public',
          expires: 'Wed, 21 Oct 2037 07:28:00 GMT',
          userMetadata: { color: 'blue', 'multi-word': 'a b  c', empty: '' },
          tags: [
            { key: 'k1', value: 'v1' },
            { key: 'k 2', value: '' },
          ],
          checksums: { crc32: crc32Base64(data) },
        };
        await b.putObject(bucket, 'attrs', body(data), attrs);
        for (const meta of [await b.headObject(bucket, 'attrs'), (await getObject(b, bucket, 'attrs')).meta]) {
          expectAttributes(meta, attrs, options.lacks?.tags);
          if (!options.lacks?.checksums) expect(meta.checksums?.crc32).to.equal(crc32Base64(data));
        }
      });

      it('replaces the tag set with setTags, keeping content and ETag', async function () {
        if (options.lacks?.tags) this.skip();
        await put(bucket, 'tagged', 'tagged body', { tags: [{ key: 'a', value: '1' }] });
        await b.setTags(bucket, 'tagged', [
          { key: 'b', value: '2' },
          { key: 'c', value: '3' },
        ]);
        const meta = await b.headObject(bucket, 'tagged');
        expect(sortTags(meta.tags)).to.deep.equal([
          { key: 'b', value: '2' },
          { key: 'c', value: '3' },
        ]);
        expectEtag(meta.etag, 'tagged body');
        await b.setTags(bucket, 'tagged', []);
        expect((await b.headObject(bucket, 'tagged')).tags ?? []).to.deep.equal([]);
        expect((await getObject(b, bucket, 'tagged')).data.toString()).to.equal('tagged body');
        await expectS3Error(b.setTags(bucket, 'no-such-tagged', []), 'NoSuchKey');
      });

      it('overwrites content and replaces all attributes', async () => {
        await put(bucket, 'over', 'first', { contentType: 'text/plain', userMetadata: { a: '1' }, tags: [{ key: 't', value: '1' }] });
        const m2 = await put(bucket, 'over', 'second version', { contentType: 'application/json', userMetadata: { b: '2' } });
        expectEtag(m2.etag, 'second version');
        const head = await b.headObject(bucket, 'over');
        expect(head.size).to.equal(14);
        expect(head.etag).to.equal(m2.etag);
        expect(head.contentType).to.equal('application/json');
        expect(head.userMetadata).to.deep.equal(hold({ userMetadata: { b: '2' } }).userMetadata);
        expect(head.tags ?? []).to.deep.equal([]);
        expect((await getObject(b, bucket, 'over')).data.toString()).to.equal('second version');
      });

      it('keeps the opened version readable (or fails) while the key is overwritten', async () => {
        const old = await put(bucket, 'versioned', 'old content');
        const h = await b.openObject(bucket, 'versioned');
        await put(bucket, 'versioned', 'new content that is longer');
        expect(h.meta.etag).to.equal(old.etag);
        expectEtag(h.meta.etag, 'old content');
        try {
          const data = await readAll(h.read());
          expect(data.toString()).to.equal('old content');
        } catch (err) {
          expect(err).to.be.instanceOf(S3Error);
        } finally {
          await h.close();
        }
      });

      it('deletes objects; deleting a missing key succeeds', async () => {
        await put(bucket, 'doomed', 'x');
        await b.deleteObject(bucket, 'doomed');
        await expectS3Error(b.headObject(bucket, 'doomed'), 'NoSuchKey');
        await expectS3Error(b.openObject(bucket, 'doomed'), 'NoSuchKey');
        await b.deleteObject(bucket, 'doomed');
        await b.deleteObject(bucket, 'never/existed');
      });

      it('answers NoSuchKey for missing keys, including under a file and above a directory', async () => {
        await put(bucket, 'file-not-dir', 'x');
        await put(bucket, 'only/child', 'x');
        await expectS3Error(b.headObject(bucket, 'nope'), 'NoSuchKey');
        await expectS3Error(b.headObject(bucket, 'file-not-dir/below'), 'NoSuchKey');
        await expectS3Error(b.headObject(bucket, 'only'), 'NoSuchKey');
        await expectS3Error(b.headObject(bucket, 'only/'), 'NoSuchKey');
        await expectS3Error(b.openObject(bucket, 'only'), 'NoSuchKey');
      });

      it("stores a key of exactly 1024 bytes, S3's limit (the key rules themselves are BucketView's: test/protocol/key-rules.test.ts)", async function () {
        if (!storable('k'.repeat(1024))) this.skip();
        const ok = await put(bucket, 'k'.repeat(1024), 'x');
        expect(ok.key.length).to.equal(1024);
      });

      it('keeps an object that is also a prefix apart from its children (a, a/, a/b)', async () => {
        const bk = await newBucket();
        await put(bk, 'a', 'object a');
        await put(bk, 'a/b', 'object a/b');
        await put(bk, 'a/', 'marker a/', { contentType: 'application/x-directory' });
        await put(bk, 'a/b/c', 'object a/b/c');
        expect((await getObject(b, bk, 'a')).data.toString()).to.equal('object a');
        expect((await getObject(b, bk, 'a/b')).data.toString()).to.equal('object a/b');
        expect((await getObject(b, bk, 'a/')).data.toString()).to.equal('marker a/');
        expect((await b.headObject(bk, 'a/')).contentType).to.equal('application/x-directory');
        expect((await getObject(b, bk, 'a/b/c')).data.toString()).to.equal('object a/b/c');
        expect((await listAll(b, bk, { maxKeys: 1000 })).entries).to.deep.equal(['a', 'a/', 'a/b', 'a/b/c']);
        await b.deleteObject(bk, 'a/b');
        expect((await getObject(b, bk, 'a')).data.toString()).to.equal('object a');
        expect((await getObject(b, bk, 'a/b/c')).data.toString()).to.equal('object a/b/c');
        await expectS3Error(b.headObject(bk, 'a/b'), 'NoSuchKey');
        await b.deleteObject(bk, 'a');
        await expectS3Error(b.headObject(bk, 'a'), 'NoSuchKey');
        expect((await getObject(b, bk, 'a/')).data.toString()).to.equal('marker a/');
        await b.deleteObject(bk, 'a/b/c');
        await b.deleteObject(bk, 'a/');
        expect((await listAll(b, bk, { maxKeys: 1000 })).entries).to.deep.equal([]);
        // and in the other order: the child first, then the object that is its prefix
        await put(bk, 'p/q', 'child');
        await put(bk, 'p', 'parent');
        expect((await getObject(b, bk, 'p')).data.toString()).to.equal('parent');
        await put(bk, 'p', 'parent v2');
        expect((await getObject(b, bk, 'p')).data.toString()).to.equal('parent v2');
        expect((await listAll(b, bk, { maxKeys: 1000 })).entries).to.deep.equal(['p', 'p/q']);
      });

      it('stores, reads, lists (UTF-8 order) and deletes awkward keys', async () => {
        const bk = await newBucket();
        const keys = [...new Set(AWKWARD_KEYS)].filter(storable);
        const etags = new Map<string, string>();
        for (const k of keys) {
          const meta = await put(bk, k, `content:${k}`);
          expect(meta.key).to.equal(k);
          etags.set(k, meta.etag);
        }
        for (const k of keys) {
          const got = await getObject(b, bk, k);
          expect(got.data.toString(), `content of ${JSON.stringify(k)}`).to.equal(`content:${k}`);
          expect(got.meta.key).to.equal(k);
          expect(got.meta.etag).to.equal(etags.get(k));
          expectEtag(got.meta.etag, `content:${k}`);
        }
        const listed = await listAll(b, bk, { maxKeys: 1000 });
        expect(listed.entries).to.deep.equal(utf8Sort(keys));
        if (!options.lacks?.sortedPaging) {
          const paged = await listAll(b, bk, { maxKeys: 7 });
          expect(paged.entries).to.deep.equal(utf8Sort(keys));
        }
        for (const k of keys) await b.deleteObject(bk, k);
        expect((await listAll(b, bk, { maxKeys: 1000 })).entries).to.deep.equal([]);
        await b.deleteBucket(bk);
      });

      it('lists in UTF-8 byte order, not UTF-16 order', async function () {
        if (options.lacks?.utf8Order) this.skip();
        const bk = await newBucket();
        const keys = ['a\uE000', 'a😀', 'a\uFFFD', 'aé', 'a', 'B', 'b', 'Z', 'z', '\uFF21'].filter(storable);
        const js = [...keys].sort();
        expect(js, 'the test needs keys whose two orders differ').to.not.deep.equal(utf8Sort(keys));
        for (const k of keys) await put(bk, k, k);
        const listed = await listAll(b, bk, { maxKeys: 1000 });
        expect(listed.entries).to.deep.equal(utf8Sort(keys));
        const page = await b.listObjects(bk, { prefix: 'a', startAfter: 'a\uFFFD', maxKeys: 10 });
        expect(page.objects.map((o) => o.key)).to.deep.equal(['a😀']);
      });

      it('leaves no object, and keeps the old one, when the body stream fails midway', async () => {
        const data = pattern(200_000, 9);
        await expectS3Error(
          b.putObject(bucket, 'failing-new', failingBody(data, 100_000), { userMetadata: {} }),
          'InternalError',
          'IncompleteBody',
          'RequestTimeout',
          'BadDigest',
        );
        await expectS3Error(b.headObject(bucket, 'failing-new'), 'NoSuchKey');
        await put(bucket, 'failing-old', 'the old content', { userMetadata: { v: '1' } });
        await expectS3Error(
          b.putObject(bucket, 'failing-old', failingBody(data, 150_000, new S3Error('BadDigest')), hold({ userMetadata: { v: '2' } })),
          'BadDigest',
        );
        const got = await getObject(b, bucket, 'failing-old');
        expect(got.data.toString()).to.equal('the old content');
        expect(got.meta.userMetadata).to.deep.equal(hold({ userMetadata: { v: '1' } }).userMetadata);
        const listed = await listAll(b, bucket, { prefix: 'failing', maxKeys: 1000 });
        expect(listed.entries).to.deep.equal(['failing-old']);
      });

      it('refuses a body shorter than the announced size and keeps the old object', async () => {
        await put(bucket, 'short', 'old');
        await expectS3Error(
          b.putObject(bucket, 'short', body('abc'), { userMetadata: {} }, { size: 10 }),
          'IncompleteBody',
          'InternalError',
        );
        expect((await getObject(b, bucket, 'short')).data.toString()).to.equal('old');
      });

      describe('conditional writes', () => {
        it('If-None-Match * creates only when absent', async () => {
          await b.putObject(bucket, 'cond-new', body('one'), { userMetadata: {} }, { conditions: { ifNoneMatch: '*' } });
          await expectS3Error(
            b.putObject(bucket, 'cond-new', body('two'), { userMetadata: {} }, { conditions: { ifNoneMatch: '*' } }),
            'PreconditionFailed',
          );
          expect((await getObject(b, bucket, 'cond-new')).data.toString()).to.equal('one');
        });

        it('refuses If-Match with NotImplemented when the store cannot compare-and-swap', async function () {
          if (!options.lacks?.ifMatch) this.skip();
          const m1 = await put(bucket, 'cond-unsupported', 'v1');
          await expectS3Error(
            b.putObject(bucket, 'cond-unsupported', body('v2'), { userMetadata: {} }, { conditions: { ifMatch: m1.etag } }),
            'NotImplemented',
          );
          expect((await getObject(b, bucket, 'cond-unsupported')).data.toString()).to.equal('v1');
        });

        it('If-Match replaces only the expected version (quoted or not)', async function () {
          if (options.lacks?.ifMatch) this.skip();
          const m1 = await put(bucket, 'cond-match', 'v1');
          const m2 = await b.putObject(bucket, 'cond-match', body('v2'), { userMetadata: {} }, { conditions: { ifMatch: `"${m1.etag}"` } });
          await b.putObject(bucket, 'cond-match', body('v3'), { userMetadata: {} }, { conditions: { ifMatch: m2.etag } });
          await expectS3Error(
            b.putObject(bucket, 'cond-match', body('v4'), { userMetadata: {} }, { conditions: { ifMatch: m1.etag } }),
            'PreconditionFailed',
          );
          expect((await getObject(b, bucket, 'cond-match')).data.toString()).to.equal('v3');
        });

        it('If-Match on a missing key fails and creates nothing', async function () {
          if (options.lacks?.ifMatch) this.skip();
          await expectS3Error(
            b.putObject(bucket, 'cond-absent', body('x'), { userMetadata: {} }, { conditions: { ifMatch: MD5_EMPTY } }),
            'PreconditionFailed',
            'NoSuchKey',
          );
          await expectS3Error(b.headObject(bucket, 'cond-absent'), 'NoSuchKey');
        });

        it('only one of concurrent If-None-Match * writes wins', async function () {
          if (options.lacks?.atomicConditions) this.skip();
          const results = await Promise.allSettled(
            [1, 2, 3, 4, 5].map((i) =>
              b.putObject(bucket, 'cond-race', body(`writer ${i}`), { userMetadata: {} }, { conditions: { ifNoneMatch: '*' } }),
            ),
          );
          const ok = results.filter((r) => r.status === 'fulfilled');
          expect(ok.length).to.equal(1);
          for (const r of results) {
            if (r.status === 'rejected')
              expect((r.reason as S3Error).code).to.be.oneOf(['PreconditionFailed', 'ConditionalRequestConflict']);
          }
          const winner = ok[0].value;
          expect((await b.headObject(bucket, 'cond-race')).etag).to.equal(winner.etag);
        });
      });

      describe('copyObject', () => {
        before(function () {
          if (!b.copyObject) this.skip();
        });

        it('copies bytes and, without attrs, the source attributes', async () => {
          const tags = [{ key: 'k', value: 'v' }];
          await put(bucket, 'copy-src', 'copy me', { contentType: 'text/x-copy', userMetadata: { m: '1' }, tags });
          const meta = await b.copyObject!(bucket, 'copy-src', bucket, 'copy-dst', undefined);
          expect(meta.key).to.equal('copy-dst');
          expect(meta.etag).to.equal(md5('copy me'));
          expect(meta.size).to.equal(7);
          const got = await getObject(b, bucket, 'copy-dst');
          expect(got.data.toString()).to.equal('copy me');
          expect(got.meta.contentType).to.equal('text/x-copy');
          expect(got.meta.userMetadata).to.deep.equal({ m: '1' });
          if (!options.lacks?.tags) expect(got.meta.tags).to.deep.equal(tags);
          expect((await getObject(b, bucket, 'copy-src')).data.toString()).to.equal('copy me');
        });

        it('replaces attributes when given, also onto the source key itself', async () => {
          await put(bucket, 'copy-src2', 'copy me too', { contentType: 'text/plain', userMetadata: { m: '1' } });
          await b.copyObject!(bucket, 'copy-src2', bucket, 'copy-dst2', { contentType: 'application/x-new', userMetadata: { n: '2' } });
          const h = await b.headObject(bucket, 'copy-dst2');
          expect(h.contentType).to.equal('application/x-new');
          expect(h.userMetadata).to.deep.equal({ n: '2' });
          await b.copyObject!(bucket, 'copy-src2', bucket, 'copy-src2', { contentType: 'text/x-self', userMetadata: { s: '3' } });
          const self = await getObject(b, bucket, 'copy-src2');
          expect(self.data.toString()).to.equal('copy me too');
          expect(self.meta.contentType).to.equal('text/x-self');
          expect(self.meta.userMetadata).to.deep.equal({ s: '3' });
        });

        it('copies across buckets, to awkward keys, and over an existing object', async () => {
          const other = await newBucket();
          const data = pattern(300_000, 11);
          await put(bucket, 'copy-big', data);
          await put(other, 'a/b', 'existing');
          for (const dst of ['a/b', 'a', '../../x', 'é'.repeat(300)].filter(storable)) {
            const meta = await b.copyObject!(bucket, 'copy-big', other, dst, undefined);
            expect(meta.etag).to.equal(md5(data));
            expect(md5((await getObject(b, other, dst)).data)).to.equal(md5(data));
          }
        });

        it('answers NoSuchKey for a missing source', async () => {
          await expectS3Error(b.copyObject!(bucket, 'no-such-source', bucket, 'x', undefined), 'NoSuchKey');
          await expectS3Error(b.headObject(bucket, 'x'), 'NoSuchKey');
        });
      });
    });

    // -------------------------------------------------------------- listing

    describe('listing', () => {
      let bucket: string;
      const keys = LISTING_KEYS.filter(storable);
      before(async () => {
        bucket = await newBucket();
        for (const k of keys) await put(bucket, k, `v:${k}`);
      });

      it('lists every key with size, ETag and date', async () => {
        const page = await b.listObjects(bucket, { prefix: '', maxKeys: 1000 });
        expect(page.isTruncated).to.equal(false);
        expect(page.nextStartAfter).to.equal(undefined);
        expect(page.objects.map((o) => o.key)).to.deep.equal(utf8Sort(keys));
        for (const o of page.objects) {
          expect(o.size).to.equal(Buffer.byteLength(`v:${o.key}`));
          expectEtag(o.etag, `v:${o.key}`);
          expect(o.lastModified).to.be.instanceOf(Date);
        }
      });

      const prefixes = [
        '',
        'a',
        'a/',
        'a/b',
        'a-',
        'ab',
        'b/',
        'b//',
        'dir/',
        'dir/sub/',
        'x/',
        '.',
        '..',
        'é',
        'z',
        'nothing',
        'a😀',
        'A',
      ];
      const delimiters: (string | undefined)[] = [undefined, '/', '-', 'ab', 'é', '//', 'b/'];

      it('pages through every prefix x delimiter combination with no duplicate and no gap', async function () {
        if (options.lacks?.sortedPaging) this.skip();
        const small = options.listingMatrix === 'small';
        for (const prefix of prefixes) {
          for (const delimiter of delimiters) {
            const expected = expectedListing(keys, prefix, delimiter);
            const what = `prefix ${JSON.stringify(prefix)} delimiter ${JSON.stringify(delimiter)}`;
            const full = await listAll(b, bucket, { prefix, delimiter, maxKeys: 1000 });
            expect(full.entries, what).to.deep.equal(expected);
            const split = expectedPage(keys, prefix, delimiter);
            expect(full.objects, `${what}: objects`).to.deep.equal(split.objects);
            expect(full.prefixes, `${what}: common prefixes`).to.deep.equal(split.prefixes);
            expect(full.pages, what).to.equal(1);
            const sizes = small && delimiter !== '/' && prefix !== '' ? [2] : [1, 2, 3];
            for (const maxKeys of sizes) {
              const paged = await listAll(b, bucket, { prefix, delimiter, maxKeys });
              expect(paged.entries, `${what} maxKeys ${maxKeys}`).to.deep.equal(expected);
              expect(new Set(paged.entries).size, 'no duplicates').to.equal(paged.entries.length);
              expect(paged.pages, `${what} maxKeys ${maxKeys}: pages`).to.equal(Math.max(1, Math.ceil(expected.length / maxKeys)));
            }
          }
        }
      });

      it('is not truncated when the last page is exactly full', async () => {
        const expected = expectedListing(keys, 'a/', undefined);
        const page = await b.listObjects(bucket, { prefix: 'a/', maxKeys: expected.length });
        expect(page.objects.length).to.equal(expected.length);
        expect(page.isTruncated).to.equal(false);
      });

      it('starts after any position: keys, non-keys, common prefixes', async function () {
        if (options.lacks?.sortedPaging) this.skip();
        const positions = [
          '',
          'a',
          'a/',
          'a/b',
          'a/b/',
          'a0',
          'a-',
          'a-b/',
          'b/',
          'b//',
          'dir/',
          'dir/sub/',
          'dir/sub',
          'zzz',
          'A',
          '.',
          '~',
          '😀',
          'é',
        ];
        for (const delimiter of [undefined, '/', '-']) {
          for (const prefix of ['', 'a', 'dir/']) {
            for (const startAfter of positions) {
              const expected = expectedListing(keys, prefix, delimiter, startAfter === '' ? undefined : startAfter);
              const what = `prefix ${JSON.stringify(prefix)} delimiter ${JSON.stringify(delimiter)} startAfter ${JSON.stringify(startAfter)}`;
              const got = await listAll(b, bucket, { prefix, delimiter, startAfter: startAfter || undefined, maxKeys: 1000 });
              expect(got.entries, what).to.deep.equal(expected);
              const paged = await listAll(b, bucket, { prefix, delimiter, startAfter: startAfter || undefined, maxKeys: 2 });
              expect(paged.entries, `${what} (pages of 2)`).to.deep.equal(expected);
            }
          }
        }
      });

      it('never repeats a common prefix given as the start position', async () => {
        const first = await b.listObjects(bucket, { prefix: '', delimiter: '/', maxKeys: 2 });
        expect(first.isTruncated).to.equal(true);
        const withPrefix = await b.listObjects(bucket, { prefix: '', delimiter: '/', startAfter: 'a/', maxKeys: 1000 });
        expect(withPrefix.commonPrefixes).to.not.include('a/');
        expect(withPrefix.objects.map((o) => o.key).some((k) => k.startsWith('a/'))).to.equal(false);
        // '-' and '.' sort before '/', so 'a-b' and 'a.b' are before the position; 'ab' and 'aé' after it
        expect(withPrefix.objects.map((o) => o.key)).to.not.include('a-b');
        expect(withPrefix.objects.map((o) => o.key)).to.include('ab');
        expect(withPrefix.objects.map((o) => o.key)).to.include('aé');
      });

      it('groups with multi-character and non-ASCII delimiters', async function () {
        if (options.lacks?.sortedPaging) this.skip();
        const ab = await b.listObjects(bucket, { prefix: '', delimiter: 'ab', maxKeys: 1000 });
        expect(ab.commonPrefixes).to.deep.equal(expectedPage(keys, '', 'ab').prefixes);
        expect(ab.objects.map((o) => o.key)).to.deep.equal(expectedPage(keys, '', 'ab').objects);
        expect(ab.commonPrefixes).to.include('ab');
        expect(ab.commonPrefixes).to.include('b/ab');
        const e = await b.listObjects(bucket, { prefix: '', delimiter: 'é', maxKeys: 1000 });
        expect(e.commonPrefixes).to.deep.equal(['aé', 'é']);
      });

      it('returns nothing for a prefix nothing starts with', async () => {
        for (const prefix of ['nothing', 'a/b/c/d', 'zzz/', '\uFFFD']) {
          const page = await b.listObjects(bucket, { prefix, delimiter: '/', maxKeys: 10 });
          expect(page.objects).to.deep.equal([]);
          expect(page.commonPrefixes).to.deep.equal([]);
          expect(page.isTruncated).to.equal(false);
        }
      });
    });

    // -------------------------------------------------------------- multipart

    describe('multipart', () => {
      let mp: MultipartStore;
      let bucket: string;
      const lacks = options.lacks ?? {};
      /** Every non-last part of an upload that is completed is at least this large. */
      const PART = options.minPartSize ?? 64 * 1024;
      const opened: { bucket: string; key: string; uploadId: string }[] = [];
      const BODY_FAILURE = ['InternalError', 'IncompleteBody', 'RequestTimeout', 'BadDigest'];

      const mpBucket = newBucket;

      async function create(bk: string, key: string, attrs: Partial<ObjectAttributes> = {}): Promise<string> {
        const id = await mp.createUpload(bk, key, { userMetadata: {}, ...hold(attrs) });
        expect(id, 'an upload id').to.be.a('string').and.not.equal('');
        opened.push({ bucket: bk, key, uploadId: id });
        return id;
      }

      async function part(bk: string, key: string, id: string, n: number, data: Buffer, sized = true): Promise<PartInfo> {
        const p = await mp.uploadPart(bk, key, id, n, body(data, 16 * 1024), sized ? { size: data.length } : {});
        expect(p.partNumber, `part ${n}: number`).to.equal(n);
        expect(p.etag, `part ${n}: ETag is the part's MD5 hex`).to.equal(md5(data));
        expect(p.size, `part ${n}: size`).to.equal(data.length);
        expect(p.lastModified, `part ${n}: lastModified`).to.be.instanceOf(Date);
        return p;
      }

      /** Every part of an upload, paging with maxParts 1000. */
      async function partsOf(bk: string, key: string, id: string): Promise<PartInfo[]> {
        const page = await mp.listParts(bk, key, id, { maxParts: 1000 });
        expect(page.isTruncated).to.equal(false);
        return page.parts;
      }

      /** Completes with S3's ETag of the given parts; checks the answer. */
      async function complete(
        bk: string,
        key: string,
        id: string,
        parts: [number, Buffer][],
        opts?: Parameters<MultipartStore['completeUpload']>[5],
      ): Promise<ObjectMeta> {
        const etag = s3MultipartEtag(parts.map(([, d]) => d));
        const meta = await mp.completeUpload(
          bk,
          key,
          id,
          parts.map(([n]) => n),
          etag,
          opts,
        );
        expect(meta.key).to.equal(key);
        expect(meta.size, 'size of the assembled object').to.equal(parts.reduce((s, [, d]) => s + d.length, 0));
        if (!lacks.multipartEtag) expect(meta.etag, 'the given multipart ETag').to.equal(etag);
        return meta;
      }

      /** The upload is gone (completed or aborted): every call on it answers NoSuchUpload. */
      async function expectGone(bk: string, key: string, id: string): Promise<void> {
        if (!lacks.listParts) await expectS3Error(mp.listParts(bk, key, id, { maxParts: 10 }), 'NoSuchUpload');
        if (!lacks.uploadIds) await expectS3Error(mp.uploadPart(bk, key, id, 1, body('late'), { size: 4 }), 'NoSuchUpload');
        if (!lacks.abortUpload) await expectS3Error(mp.abortUpload(bk, key, id), 'NoSuchUpload');
        if (!lacks.uploadIds) await expectS3Error(mp.completeUpload(bk, key, id, [1], `${md5('late')}-1`), 'NoSuchUpload');
        if (!lacks.listUploads) {
          const page = await mp.listUploads(bk, { prefix: key, maxUploads: 1000 });
          expect(
            page.uploads.map((u) => u.uploadId),
            'no longer listed',
          ).to.not.include(id);
        }
      }

      before(async function () {
        if (!b.multipart) this.skip();
        mp = b.multipart!;
        bucket = await mpBucket();
      });

      after(async () => {
        if (!mp || lacks.abortUpload) return;
        for (const u of opened) await mp.abortUpload(u.bucket, u.key, u.uploadId).catch(() => {});
      });

      it('assembles an upload: attributes, parts out of order, a replaced part, a subset completed', async () => {
        const key = 'mp/assembled.bin';
        const tags = [
          { key: 'stage', value: 'mp' },
          { key: 'k 2', value: '' },
        ];
        const attrs: ObjectAttributes = {
          contentType: 'application/x-assembled',
          contentDisposition: 'attachment; filename="mp.bin"',
          contentLanguage: 'fr',
          cacheControl: 'no-cache',
          userMetadata: { color: 'green', 'multi-word': 'a b  c' },
          tags,
        };
        const t0 = Date.now();
        const id = await create(bucket, key, attrs);
        const p1 = pattern(PART + 1, 21);
        const p2old = pattern(PART + 2, 22);
        const p2 = pattern(PART + 333, 23);
        const p3 = pattern(1000, 24);
        const p4 = pattern(12_345, 25);
        // out of order, and part 2 sent twice: the second one replaces the first
        await part(bucket, key, id, 4, p4);
        await part(bucket, key, id, 2, p2old);
        await part(bucket, key, id, 1, p1);
        await part(bucket, key, id, 3, p3);
        await part(bucket, key, id, 2, p2);

        if (!lacks.listParts) {
          const page = await mp.listParts(bucket, key, id, { maxParts: 1000 });
          expect(page.isTruncated).to.equal(false);
          expect(page.nextPartNumberMarker).to.equal(undefined);
          expect(page.upload.key).to.equal(key);
          expect(page.upload.uploadId).to.equal(id);
          expect(
            page.parts.map((p) => p.partNumber),
            'ascending',
          ).to.deep.equal([1, 2, 3, 4]);
          expect(
            page.parts.map((p) => p.etag),
            'ETags: MD5 hex of each part (part 2: the second one)',
          ).to.deep.equal([p1, p2, p3, p4].map((d) => md5(d)));
          expect(page.parts.map((p) => p.size)).to.deep.equal([p1, p2, p3, p4].map((d) => d.length));
          for (const p of page.parts) {
            expect(p.lastModified).to.be.instanceOf(Date);
            expect(Math.abs(p.lastModified.getTime() - t0)).to.be.below(10 * 60 * 1000);
          }
        }

        // part 3 is left out: the object is parts 1, 2 and 4
        const meta = await complete(bucket, key, id, [
          [1, p1],
          [2, p2],
          [4, p4],
        ]);
        const all = Buffer.concat([p1, p2, p4]);
        const etag = meta.etag;
        if (lacks.multipartEtag) expect(etag).to.be.a('string').and.not.equal('');
        else expect(etag).to.match(/^[0-9a-f]{32}-3$/);

        const head = await b.headObject(bucket, key);
        for (const m of [head, (await getObject(b, bucket, key)).meta]) {
          expect(m.etag).to.equal(etag);
          expect(m.size).to.equal(all.length);
          expectAttributes(m, hold(attrs), lacks.tags);
          if (!lacks.partSizes)
            expect(m.partSizes, 'partSizes: the completed parts, in order').to.deep.equal([p1.length, p2.length, p4.length]);
        }
        expect(md5((await getObject(b, bucket, key)).data), 'the concatenation of parts 1, 2, 4').to.equal(md5(all));
        for (const r of [
          { start: p1.length - 2, end: p1.length + 1 },
          { start: p1.length + p2.length - 1, end: p1.length + p2.length },
          { start: all.length - 5, end: all.length - 1 },
        ]) {
          const got = await getObject(b, bucket, key, r);
          expect(got.data.equals(all.subarray(r.start, r.end + 1)), `range ${r.start}-${r.end} across parts`).to.equal(true);
        }
        const listed = await b.listObjects(bucket, { prefix: key, maxKeys: 10 });
        expect(listed.objects.map((o) => [o.key, o.etag, o.size])).to.deep.equal([[key, etag, all.length]]);

        await expectGone(bucket, key, id);
      });

      it('keeps parts smaller than 5 MiB (the S3 layer, not the backend, enforces the minimum)', async function () {
        if (options.minPartSize) this.skip();
        const key = 'mp/small-parts';
        const id = await create(bucket, key);
        const parts: [number, Buffer][] = [
          [1, pattern(1000, 31)],
          [2, pattern(1, 32)],
          [3, Buffer.from('the end')],
        ];
        for (const [n, d] of parts) await part(bucket, key, id, n, d);
        await complete(bucket, key, id, parts);
        expect((await getObject(b, bucket, key)).data.equals(Buffer.concat(parts.map(([, d]) => d)))).to.equal(true);
      });

      it("assembles parts of several MiB (S3's minimum part size)", async () => {
        const key = 'mp/big';
        const id = await create(bucket, key, { contentType: 'application/x-big' });
        const MiB = 1024 * 1024;
        const parts: [number, Buffer][] = [
          [1, pattern(5 * MiB + 1, 33)],
          [2, pattern(5 * MiB + 7, 34)],
          [3, pattern(100_000, 35)],
        ];
        for (const [n, d] of parts) {
          const p = await mp.uploadPart(bucket, key, id, n, body(d, 256 * 1024), { size: d.length });
          expect(p.etag).to.equal(md5(d));
          expect(p.size).to.equal(d.length);
        }
        await complete(bucket, key, id, parts);
        const all = Buffer.concat(parts.map(([, d]) => d));
        expect(md5((await getObject(b, bucket, key)).data)).to.equal(md5(all));
        const r = { start: 5 * MiB - 3, end: 5 * MiB + 3 };
        expect((await getObject(b, bucket, key, r)).data.equals(all.subarray(r.start, r.end + 1))).to.equal(true);
        expect((await b.headObject(bucket, key)).contentType).to.equal('application/x-big');
      });

      it('stores a part streamed with no announced length', async function () {
        if (lacks.unsizedParts) this.skip();
        const key = 'mp/unsized';
        const id = await create(bucket, key);
        const p1 = pattern(PART + 4321, 36);
        const p2 = pattern(777, 37);
        await part(bucket, key, id, 1, p1, false);
        await part(bucket, key, id, 2, p2, false);
        if (!lacks.listParts)
          expect((await partsOf(bucket, key, id)).map((p) => [p.partNumber, p.size, p.etag])).to.deep.equal([
            [1, p1.length, md5(p1)],
            [2, p2.length, md5(p2)],
          ]);
        await complete(bucket, key, id, [
          [1, p1],
          [2, p2],
        ]);
        expect(md5((await getObject(b, bucket, key)).data)).to.equal(md5(Buffer.concat([p1, p2])));
      });

      it('stores no part whose body fails midway, and keeps the part it would have replaced', async () => {
        const key = 'mp/failing';
        const id = await create(bucket, key);
        const data = pattern(PART + 50_000, 38);
        await expectS3Error(mp.uploadPart(bucket, key, id, 1, failingBody(data, 40_000), { size: data.length }), ...BODY_FAILURE);
        if (!lacks.unsizedParts) await expectS3Error(mp.uploadPart(bucket, key, id, 1, failingBody(data, 40_000)), ...BODY_FAILURE);
        if (!lacks.listParts) expect(await partsOf(bucket, key, id), 'no part after a failed body').to.deep.equal([]);

        const good = pattern(PART + 10, 39);
        await part(bucket, key, id, 2, good);
        if (!lacks.atomicParts) {
          await expectS3Error(
            mp.uploadPart(bucket, key, id, 2, failingBody(data, 30_000, new S3Error('BadDigest')), { size: data.length }),
            'BadDigest',
          );
          if (!lacks.unsizedParts) await expectS3Error(mp.uploadPart(bucket, key, id, 2, failingBody(data, 30_000)), ...BODY_FAILURE);
        }
        if (!lacks.listParts) {
          expect(
            (await partsOf(bucket, key, id)).map((p) => [p.partNumber, p.etag, p.size]),
            'the old part 2',
          ).to.deep.equal([[2, md5(good), good.length]]);
        }
        const last = Buffer.from('last');
        await part(bucket, key, id, 3, last);
        await expectS3Error(mp.completeUpload(bucket, key, id, [1, 3], s3MultipartEtag([data, last])), 'InvalidPart');
        await complete(bucket, key, id, [
          [2, good],
          [3, last],
        ]);
        expect(md5((await getObject(b, bucket, key)).data), 'the old part 2, whole').to.equal(md5(Buffer.concat([good, last])));
      });

      it('refuses a part body shorter than its announced size, storing nothing', async () => {
        const key = 'mp/short';
        const id = await create(bucket, key);
        const p2 = Buffer.from('a good part');
        await part(bucket, key, id, 2, p2);
        await expectS3Error(mp.uploadPart(bucket, key, id, 1, body(pattern(1000, 40)), { size: 5000 }), 'IncompleteBody', 'InternalError');
        if (!lacks.atomicParts)
          await expectS3Error(mp.uploadPart(bucket, key, id, 2, body('short'), { size: 5000 }), 'IncompleteBody', 'InternalError');
        if (!lacks.listParts)
          expect((await partsOf(bucket, key, id)).map((p) => [p.partNumber, p.etag, p.size])).to.deep.equal([[2, md5(p2), p2.length]]);
        await expectS3Error(mp.completeUpload(bucket, key, id, [1], s3MultipartEtag([pattern(1000, 40)])), 'InvalidPart');
        await complete(bucket, key, id, [[2, p2]]);
        expect((await getObject(b, bucket, key)).data.equals(p2), 'the good part 2').to.equal(true);
      });

      it('lists parts in pages (partNumberMarker, maxParts, nextPartNumberMarker)', async function () {
        if (lacks.listParts) this.skip();
        const key = 'mp/paged-parts';
        const id = await create(bucket, key);
        const numbers = [1, 2, 3, 5, 8, 13, 10_000];
        const datas = new Map(numbers.map((n) => [n, Buffer.from(`part number ${n}`)]));
        for (const n of [...numbers].reverse()) await part(bucket, key, id, n, datas.get(n)!);
        for (const maxParts of [1, 2, 3, 7, 1000]) {
          const seen: number[] = [];
          let marker: number | undefined;
          for (let pages = 1; ; pages++) {
            expect(pages, 'pages').to.be.at.most(numbers.length + 1);
            const page = await mp.listParts(bucket, key, id, { maxParts, partNumberMarker: marker });
            expect(page.parts.length).to.be.at.most(maxParts);
            expect(page.upload.uploadId).to.equal(id);
            for (const p of page.parts) {
              expect(p.etag).to.equal(md5(datas.get(p.partNumber)!));
              expect(p.size).to.equal(datas.get(p.partNumber)!.length);
            }
            seen.push(...page.parts.map((p) => p.partNumber));
            if (!page.isTruncated) break;
            expect(page.parts.length, 'a truncated page is full').to.equal(maxParts);
            expect(page.nextPartNumberMarker, 'nextPartNumberMarker = last part of the page').to.equal(page.parts.at(-1)!.partNumber);
            marker = page.nextPartNumberMarker;
          }
          expect(seen, `maxParts ${maxParts}`).to.deep.equal(numbers);
        }
        const exact = await mp.listParts(bucket, key, id, { maxParts: numbers.length });
        expect(exact.isTruncated, 'not truncated when the page is exactly full').to.equal(false);
        const after5 = await mp.listParts(bucket, key, id, { maxParts: 1000, partNumberMarker: 5 });
        expect(
          after5.parts.map((p) => p.partNumber),
          'marker exclusive',
        ).to.deep.equal([8, 13, 10_000]);
        const after4 = await mp.listParts(bucket, key, id, { maxParts: 2, partNumberMarker: 4 });
        expect(
          after4.parts.map((p) => p.partNumber),
          'marker between parts',
        ).to.deep.equal([5, 8]);
        expect(after4.isTruncated).to.equal(true);
        const past = await mp.listParts(bucket, key, id, { maxParts: 10, partNumberMarker: 10_000 });
        expect(past.parts).to.deep.equal([]);
        expect(past.isTruncated).to.equal(false);
        const empty = await create(bucket, 'mp/no-parts');
        const none = await mp.listParts(bucket, 'mp/no-parts', empty, { maxParts: 10 });
        expect(none.parts).to.deep.equal([]);
        expect(none.isTruncated).to.equal(false);
      });

      it('aborts: nothing is left, not even the key', async function () {
        if (lacks.abortUpload) this.skip();
        const key = 'mp/aborted';
        const id = await create(bucket, key, { userMetadata: { x: '1' } });
        await part(bucket, key, id, 1, pattern(PART, 41));
        await part(bucket, key, id, 2, Buffer.from('two'));
        await mp.abortUpload(bucket, key, id);
        await expectGone(bucket, key, id);
        await expectS3Error(b.headObject(bucket, key), 'NoSuchKey');
        expect((await listAll(b, bucket, { prefix: key, maxKeys: 1000 })).entries).to.deep.equal([]);

        // aborting an upload onto an existing object leaves the object alone
        const kept = 'mp/aborted-over';
        await put(bucket, kept, 'the object stays', { contentType: 'text/x-kept' });
        const id2 = await create(bucket, kept, { contentType: 'text/x-never' });
        await part(bucket, kept, id2, 1, Buffer.from('never seen'));
        await mp.abortUpload(bucket, kept, id2);
        await expectGone(bucket, kept, id2);
        const got = await getObject(b, bucket, kept);
        expect(got.data.toString()).to.equal('the object stays');
        expect(got.meta.contentType).to.equal('text/x-kept');
      });

      it('answers InvalidPart for a part number never uploaded; the upload stays', async () => {
        const key = 'mp/invalid-part';
        const id = await create(bucket, key);
        const p1 = pattern(PART, 42);
        const p2 = Buffer.from('second');
        await part(bucket, key, id, 1, p1);
        await part(bucket, key, id, 2, p2);
        await expectS3Error(mp.completeUpload(bucket, key, id, [1, 3], s3MultipartEtag([p1, p2])), 'InvalidPart');
        await expectS3Error(mp.completeUpload(bucket, key, id, [7], s3MultipartEtag([p2])), 'InvalidPart');
        await expectS3Error(b.headObject(bucket, key), 'NoSuchKey');
        if (!lacks.listParts) expect((await partsOf(bucket, key, id)).map((p) => p.partNumber)).to.deep.equal([1, 2]);
        await complete(bucket, key, id, [
          [1, p1],
          [2, p2],
        ]);
        expect(md5((await getObject(b, bucket, key)).data)).to.equal(md5(Buffer.concat([p1, p2])));
      });

      it("answers NoSuchUpload for another key's upload id and for malformed or unknown ids", async function () {
        if (lacks.uploadIds) this.skip();
        const key = 'mp/owner';
        const id = await create(bucket, key);
        const p1 = Buffer.from('owned part');
        await part(bucket, key, id, 1, p1);
        for (const wrong of ['mp/other', 'mp/owner/', 'mp/Owner', 'mp']) {
          await expectS3Error(mp.uploadPart(bucket, wrong, id, 2, body('x'), { size: 1 }), 'NoSuchUpload');
          if (!lacks.listParts) await expectS3Error(mp.listParts(bucket, wrong, id, { maxParts: 10 }), 'NoSuchUpload');
          await expectS3Error(mp.completeUpload(bucket, wrong, id, [1], s3MultipartEtag([p1])), 'NoSuchUpload');
          if (!lacks.abortUpload) await expectS3Error(mp.abortUpload(bucket, wrong, id), 'NoSuchUpload');
          await expectS3Error(b.headObject(bucket, wrong), 'NoSuchKey');
        }
        const other = await create(bucket, 'mp/other');
        const unknown = [
          'no-such-upload',
          `${id}x`,
          id.slice(0, -1) + (id.endsWith('A') ? 'B' : 'A'),
          `../${id}`,
          `${id}/../${id}`,
          'x'.repeat(300),
          randomBytes(16).toString('hex'),
          randomBytes(24).toString('base64url'),
          other,
        ];
        for (const bad of unknown) {
          const what = `upload id ${JSON.stringify(bad)}`;
          await expectS3Error(mp.uploadPart(bucket, key, bad, 1, body('x'), { size: 1 }), 'NoSuchUpload').catch((e: Error) => {
            throw new Error(`${what}: ${e.message}`);
          });
          if (!lacks.listParts) await expectS3Error(mp.listParts(bucket, key, bad, { maxParts: 10 }), 'NoSuchUpload');
          await expectS3Error(mp.completeUpload(bucket, key, bad, [1], s3MultipartEtag([p1])), 'NoSuchUpload').catch((e: Error) => {
            throw new Error(`${what}: ${e.message}`);
          });
          if (!lacks.abortUpload) await expectS3Error(mp.abortUpload(bucket, key, bad), 'NoSuchUpload');
        }
        // the upload is untouched on its own key
        if (!lacks.listParts) expect((await partsOf(bucket, key, id)).map((p) => [p.partNumber, p.etag])).to.deep.equal([[1, md5(p1)]]);
        await complete(bucket, key, id, [[1, p1]]);
        expect((await getObject(b, bucket, key)).data.toString()).to.equal('owned part');
      });

      it('deletes a bucket whose only content is an open upload (S3 discards it), but not one with objects too', async function () {
        if (lacks.bucketAdmin) this.skip();
        const name = bucketName();
        await b.createBucket(name);
        const id = await mp.createUpload(name, 'pending', { userMetadata: {} });
        await mp.uploadPart(name, 'pending', id, 1, body('part'), { size: 4 });
        await put(name, 'x', 'object');
        await expectS3Error(b.deleteBucket(name), 'BucketNotEmpty');
        await b.deleteObject(name, 'x');
        await b.deleteBucket(name);
        await expectS3Error(b.headBucket(name), 'NoSuchBucket');
      });

      it('answers NoSuchBucket on a missing bucket', async function () {
        if (lacks.bucketAdmin) this.skip();
        const missing = bucketName();
        await expectS3Error(mp.createUpload(missing, 'k', { userMetadata: {} }), 'NoSuchBucket');
        if (!lacks.listUploads) await expectS3Error(mp.listUploads(missing, { prefix: '', maxUploads: 10 }), 'NoSuchBucket');
      });

      describe('listUploads', () => {
        let bk: string;
        /** In creation order; the two uploads of 'u/b' are more than a second apart. */
        const made: { key: string; uploadId: string }[] = [];
        const KEYS = ['u/b', 'v', 'u/a', 'é/x', 'u/sub/c', 'u-dash', 'u/sub/d', 'a😀', 'a\uE000'].filter(storable);
        const id = (u: { key: string; uploadId: string }) => `${u.key} ${u.uploadId}`;
        /** The reference: key order (UTF-8), then initiation order. */
        const sorted = () =>
          [...made].sort((x, y) => Buffer.compare(Buffer.from(x.key), Buffer.from(y.key)) || made.indexOf(x) - made.indexOf(y));

        /** Uploads as "key id" and common prefixes as themselves, page after page. */
        async function listAllUploads(opts: {
          prefix?: string;
          delimiter?: string;
          keyMarker?: string;
          uploadIdMarker?: string;
          maxUploads: number;
        }): Promise<{ uploads: string[]; prefixes: string[]; entries: string[]; pages: number }> {
          const uploads: string[] = [];
          const prefixes: string[] = [];
          const entries: string[] = [];
          let keyMarker = opts.keyMarker;
          let uploadIdMarker = opts.uploadIdMarker;
          for (let pages = 1; ; pages++) {
            if (pages > made.length + 2)
              expect.fail(`listing ${JSON.stringify(opts)} does not terminate; so far: ${JSON.stringify(entries)}`);
            const page: ListUploadsPage = await mp.listUploads(bk, {
              prefix: opts.prefix ?? '',
              delimiter: opts.delimiter,
              keyMarker,
              uploadIdMarker,
              maxUploads: opts.maxUploads,
            });
            const keys = page.uploads.map((u) => u.key);
            expect(utf8Sort(keys), 'uploads sorted by key').to.deep.equal(keys);
            expect(utf8Sort(page.commonPrefixes), 'prefixes sorted').to.deep.equal(page.commonPrefixes);
            expect(page.uploads.length + page.commonPrefixes.length, 'page size').to.be.at.most(opts.maxUploads);
            for (const u of page.uploads) {
              expect(u.initiated).to.be.instanceOf(Date);
              expect(Math.abs(u.initiated.getTime() - Date.now()), 'initiated: recently').to.be.below(10 * 60 * 1000);
            }
            uploads.push(...page.uploads.map(id));
            prefixes.push(...page.commonPrefixes);
            const merged = [
              ...page.uploads.map((u) => ({ sort: u.key, entry: id(u) })),
              ...page.commonPrefixes.map((p) => ({ sort: p, entry: p })),
            ].sort((x, y) => Buffer.compare(Buffer.from(x.sort), Buffer.from(y.sort)));
            entries.push(...merged.map((m) => m.entry));
            if (!page.isTruncated) return { uploads, prefixes, entries, pages };
            expect(merged.length, 'a truncated page is not empty').to.be.greaterThan(0);
            expect(page.nextKeyMarker, 'nextKeyMarker on a truncated page').to.be.a('string');
            const lastUpload = page.uploads.at(-1);
            if (lastUpload && merged.at(-1)!.entry === id(lastUpload)) {
              expect(page.nextKeyMarker).to.equal(lastUpload.key);
              expect(page.nextUploadIdMarker).to.equal(lastUpload.uploadId);
            }
            keyMarker = page.nextKeyMarker;
            uploadIdMarker = page.nextUploadIdMarker;
          }
        }

        before(async function () {
          if (lacks.listUploads) this.skip();
          bk = await mpBucket();
          for (const key of KEYS) made.push({ key, uploadId: await create(bk, key) });
          await sleep(1100);
          made.push({ key: 'u/b', uploadId: await create(bk, 'u/b') });
        });

        it('lists every upload, sorted by key then initiation', async () => {
          const page = await mp.listUploads(bk, { prefix: '', maxUploads: 1000 });
          expect(page.isTruncated).to.equal(false);
          expect(page.commonPrefixes).to.deep.equal([]);
          expect(page.uploads.map(id)).to.deep.equal(sorted().map(id));
          const twoOnB = page.uploads.filter((u) => u.key === 'u/b');
          expect(
            twoOnB.map((u) => u.uploadId),
            'two uploads on one key, the older first',
          ).to.deep.equal(made.filter((u) => u.key === 'u/b').map((u) => u.uploadId));
          expect(twoOnB[0].initiated.getTime()).to.be.below(twoOnB[1].initiated.getTime());
          const exact = await mp.listUploads(bk, { prefix: '', maxUploads: made.length });
          expect(exact.isTruncated, 'not truncated when the page is exactly full').to.equal(false);
        });

        it('filters by prefix, and groups by delimiter into common prefixes', async () => {
          const under = (p: string) =>
            sorted()
              .filter((u) => u.key.startsWith(p))
              .map(id);
          expect((await listAllUploads({ prefix: 'u/', maxUploads: 1000 })).uploads).to.deep.equal(under('u/'));
          expect((await listAllUploads({ prefix: 'u/b', maxUploads: 1000 })).uploads).to.deep.equal(under('u/b'));
          expect((await listAllUploads({ prefix: 'nothing', maxUploads: 1000 })).entries).to.deep.equal([]);
          const grouped = await listAllUploads({ prefix: 'u/', delimiter: '/', maxUploads: 1000 });
          expect(grouped.uploads).to.deep.equal(
            sorted()
              .filter((u) => u.key === 'u/a' || u.key === 'u/b')
              .map(id),
          );
          expect(grouped.prefixes).to.deep.equal(['u/sub/']);
          const top = await listAllUploads({ prefix: '', delimiter: '/', maxUploads: 1000 });
          expect(top.prefixes).to.deep.equal(utf8Sort(['u/', 'é/']));
          expect(top.uploads).to.deep.equal(
            sorted()
              .filter((u) => !u.key.includes('/'))
              .map(id),
          );
        });

        it('pages with keyMarker/uploadIdMarker and maxUploads: no duplicate, no gap', async () => {
          const everything = sorted().map(id);
          for (const maxUploads of [1, 2, 3]) {
            const paged = await listAllUploads({ prefix: '', maxUploads });
            expect(paged.uploads, `maxUploads ${maxUploads}`).to.deep.equal(everything);
            expect(paged.pages).to.equal(Math.ceil(everything.length / maxUploads));
          }
        });

        it('pages through common prefixes: a prefix given back as keyMarker is not listed again', async () => {
          const full = await listAllUploads({ prefix: '', delimiter: '/', maxUploads: 1000 });
          for (const maxUploads of [1, 2]) {
            const paged = await listAllUploads({ prefix: '', delimiter: '/', maxUploads });
            expect(paged.entries, `delimiter '/', maxUploads ${maxUploads}`).to.deep.equal(full.entries);
          }
          const inU = await listAllUploads({ prefix: 'u/', delimiter: '/', maxUploads: 1000 });
          const inUPaged = await listAllUploads({ prefix: 'u/', delimiter: '/', maxUploads: 1 });
          expect(inUPaged.entries, "prefix 'u/' delimiter '/' maxUploads 1").to.deep.equal(inU.entries);
        });

        it('starts after keyMarker (and, within it, after uploadIdMarker)', async () => {
          const s = sorted();
          const after = (pred: (u: { key: string; uploadId: string }) => boolean) => s.filter(pred).map(id);
          const gt = (k: string) => (u: { key: string }) => Buffer.compare(Buffer.from(u.key), Buffer.from(k)) > 0;
          const onB = made.filter((u) => u.key === 'u/b');
          expect((await listAllUploads({ keyMarker: 'u/b', maxUploads: 1000 })).uploads, 'keyMarker alone: keys after it').to.deep.equal(
            after(gt('u/b')),
          );
          expect((await listAllUploads({ keyMarker: 'u/a0', maxUploads: 1000 })).uploads, 'keyMarker between keys').to.deep.equal(
            after(gt('u/a0')),
          );
          expect(
            (await listAllUploads({ keyMarker: 'u/b', uploadIdMarker: onB[0].uploadId, maxUploads: 1000 })).uploads,
            'after the first upload of u/b',
          ).to.deep.equal([id(onB[1]), ...after(gt('u/b'))]);
          expect(
            (await listAllUploads({ keyMarker: 'u/b', uploadIdMarker: onB[1].uploadId, maxUploads: 1000 })).uploads,
            'after the second upload of u/b',
          ).to.deep.equal(after(gt('u/b')));
          expect((await listAllUploads({ prefix: 'u/', keyMarker: 'u/a', maxUploads: 1000 })).uploads).to.deep.equal(
            after((u) => u.key.startsWith('u/') && gt('u/a')(u)),
          );
          expect((await listAllUploads({ keyMarker: '\u{10FFFF}', maxUploads: 1000 })).entries).to.deep.equal([]);
        });

        it('no longer lists an upload once it is completed or aborted', async () => {
          const victim = made.find((u) => u.key === 'v')!;
          const d = Buffer.from('v');
          await part(bk, 'v', victim.uploadId, 1, d);
          await complete(bk, 'v', victim.uploadId, [[1, d]]);
          made.splice(made.indexOf(victim), 1);
          const page = await mp.listUploads(bk, { prefix: '', maxUploads: 1000 });
          expect(page.uploads.map(id)).to.deep.equal(sorted().map(id));
          if (!lacks.abortUpload) {
            const dash = made.find((u) => u.key === 'u-dash')!;
            await mp.abortUpload(bk, dash.key, dash.uploadId);
            made.splice(made.indexOf(dash), 1);
            expect((await mp.listUploads(bk, { prefix: '', maxUploads: 1000 })).uploads.map(id)).to.deep.equal(sorted().map(id));
          }
        });
      });

      it('sweepUploads removes only the uploads initiated before the date, in that bucket', async function () {
        if (lacks.listUploads || lacks.abortUpload) this.skip();
        const bk = await mpBucket();
        const other = await mpBucket();
        const old1 = await create(bk, 'sw/old');
        const old2 = await create(bk, 'sw/old');
        const old3 = await create(bk, 'sw/old/deeper');
        await part(bk, 'sw/old', old1, 1, Buffer.from('old part'));
        const elsewhere = await create(other, 'sw/old');
        await sleep(1100);
        const cutoff = new Date();
        await sleep(1100);
        const fresh = await create(bk, 'sw/new');
        await part(bk, 'sw/new', fresh, 1, Buffer.from('new part'));
        const fresh2 = await create(bk, 'sw/old');

        expect(await mp.sweepUploads(bk, new Date(Date.now() - 3600_000)), 'nothing that old').to.equal(0);
        expect(await mp.sweepUploads(bk, cutoff)).to.equal(3);
        for (const [key, id] of [
          ['sw/old', old1],
          ['sw/old', old2],
          ['sw/old/deeper', old3],
        ] as const)
          await expectGone(bk, key, id);
        const left = await mp.listUploads(bk, { prefix: '', maxUploads: 1000 });
        expect(left.uploads.map((u) => u.uploadId).sort()).to.deep.equal([fresh, fresh2].sort());
        expect(
          (await mp.listUploads(other, { prefix: '', maxUploads: 1000 })).uploads.map((u) => u.uploadId),
          'another bucket is not swept',
        ).to.deep.equal([elsewhere]);
        expect(await mp.sweepUploads(bk, cutoff), 'a second sweep finds nothing').to.equal(0);
        // the survivors still work
        if (!lacks.listParts) expect((await partsOf(bk, 'sw/new', fresh)).map((p) => p.partNumber)).to.deep.equal([1]);
        await complete(bk, 'sw/new', fresh, [[1, Buffer.from('new part')]]);
        expect((await getObject(b, bk, 'sw/new')).data.toString()).to.equal('new part');
      });

      describe('completes under write conditions', () => {
        it('If-None-Match * on an existing key fails and keeps the upload; If-Match the current ETag succeeds', async () => {
          const key = 'mp/cond';
          // the object first: on some stores (Azure) a write to the key discards staged parts
          const m0 = await put(bucket, key, 'the existing object');
          const id = await create(bucket, key, { contentType: 'text/x-cond' });
          const p1 = Buffer.from('new content by multipart');
          await part(bucket, key, id, 1, p1);
          await expectS3Error(
            mp.completeUpload(bucket, key, id, [1], s3MultipartEtag([p1]), { conditions: { ifNoneMatch: '*' } }),
            'PreconditionFailed',
          );
          if (!lacks.ifMatch)
            await expectS3Error(
              mp.completeUpload(bucket, key, id, [1], s3MultipartEtag([p1]), { conditions: { ifMatch: md5('something else') } }),
              'PreconditionFailed',
            );
          expect((await getObject(b, bucket, key)).data.toString(), 'the object is unchanged').to.equal('the existing object');
          if (!lacks.listParts) {
            expect(
              (await partsOf(bucket, key, id)).map((p) => [p.partNumber, p.etag]),
              'the upload is still there',
            ).to.deep.equal([[1, md5(p1)]]);
          }
          if (!lacks.listUploads)
            expect((await mp.listUploads(bucket, { prefix: key, maxUploads: 10 })).uploads.map((u) => u.uploadId)).to.include(id);
          const meta = await complete(bucket, key, id, [[1, p1]], lacks.ifMatch ? {} : { conditions: { ifMatch: `"${m0.etag}"` } });
          const got = await getObject(b, bucket, key);
          expect(got.data.equals(p1)).to.equal(true);
          expect(got.meta.etag).to.equal(meta.etag);
          expect(got.meta.contentType).to.equal('text/x-cond');
          await expectGone(bucket, key, id);
        });

        it('a failed conditional Complete can be aborted; If-None-Match * on an absent key succeeds', async function () {
          const key = 'mp/cond-abort';
          await put(bucket, key, 'stays');
          const id = await create(bucket, key);
          await part(bucket, key, id, 1, Buffer.from('never'));
          await expectS3Error(
            mp.completeUpload(bucket, key, id, [1], s3MultipartEtag([Buffer.from('never')]), { conditions: { ifNoneMatch: '*' } }),
            'PreconditionFailed',
          );
          if (!lacks.abortUpload) {
            await mp.abortUpload(bucket, key, id);
            await expectGone(bucket, key, id);
          }
          expect((await getObject(b, bucket, key)).data.toString()).to.equal('stays');

          const fresh = 'mp/cond-fresh';
          const id2 = await create(bucket, fresh);
          const d = Buffer.from('created only if absent');
          await part(bucket, fresh, id2, 1, d);
          await complete(bucket, fresh, id2, [[1, d]], { conditions: { ifNoneMatch: '*' } });
          expect((await getObject(b, bucket, fresh)).data.equals(d)).to.equal(true);
          // and If-Match on a missing key fails
          if (lacks.ifMatch) return;
          const id3 = await create(bucket, 'mp/cond-missing');
          await part(bucket, 'mp/cond-missing', id3, 1, d);
          await expectS3Error(
            mp.completeUpload(bucket, 'mp/cond-missing', id3, [1], s3MultipartEtag([d]), { conditions: { ifMatch: md5(d) } }),
            'PreconditionFailed',
            'NoSuchKey',
          );
          await expectS3Error(b.headObject(bucket, 'mp/cond-missing'), 'NoSuchKey');
        });
      });

      it('replaces an existing object on Complete, content and all attributes', async () => {
        const key = 'mp/over';
        await put(bucket, key, 'the old object', {
          contentType: 'text/x-old',
          cacheControl: 'max-age=1',
          userMetadata: { old: '1' },
          tags: [{ key: 'old', value: 'yes' }],
        });
        const id = await create(bucket, key, { contentType: 'text/x-new', userMetadata: { new: '2' } });
        const p1 = pattern(PART, 43);
        const p2 = Buffer.from('!');
        await part(bucket, key, id, 1, p1);
        await part(bucket, key, id, 2, p2);
        const meta = await complete(bucket, key, id, [
          [1, p1],
          [2, p2],
        ]);
        const got = await getObject(b, bucket, key);
        expect(md5(got.data)).to.equal(md5(Buffer.concat([p1, p2])));
        expect(got.meta.etag).to.equal(meta.etag);
        expect(got.meta.etag).to.not.equal(md5('the old object'));
        expect(got.meta.contentType).to.equal('text/x-new');
        expect(got.meta.cacheControl).to.equal(undefined);
        expect(got.meta.userMetadata).to.deep.equal(hold({ userMetadata: { new: '2' } }).userMetadata);
        expect(got.meta.tags ?? []).to.deep.equal([]);
        if (!lacks.partSizes) expect(got.meta.partSizes).to.deep.equal([p1.length, 1]);
        expect((await listAll(b, bucket, { prefix: key, maxKeys: 10 })).entries).to.deep.equal([key]);
      });

      it('works on awkward keys (unicode, dot segments, 1024 bytes)', async () => {
        const keys = ['ü/ñ 😀 é+%20', 'a/../b', './x', 'ab/'.repeat(341) + 'x', 'k/' + 'q'.repeat(1022)].filter(storable);
        expect(keys.length).to.be.greaterThan(0);
        const bk = await mpBucket();
        const ids = new Map<string, string>();
        for (const key of keys) ids.set(key, await create(bk, key, { userMetadata: { k: 'awkward' } }));
        if (!lacks.listUploads) {
          const page = await mp.listUploads(bk, { prefix: '', maxUploads: 1000 });
          expect(page.uploads.map((u) => u.key)).to.deep.equal(utf8Sort(keys));
        }
        for (const [i, key] of keys.entries()) {
          const id = ids.get(key)!;
          const p1 = pattern(PART, 50 + i);
          const p2 = Buffer.from(`end of ${key}`);
          await part(bk, key, id, 1, p1);
          await part(bk, key, id, 2, p2);
          if (!lacks.listParts) {
            const page = await mp.listParts(bk, key, id, { maxParts: 10 });
            expect(page.upload.key).to.equal(key);
            expect(page.parts.map((p) => p.etag)).to.deep.equal([md5(p1), md5(p2)]);
          }
          const meta = await complete(bk, key, id, [
            [1, p1],
            [2, p2],
          ]);
          const got = await getObject(b, bk, key);
          expect(got.meta.key).to.equal(key);
          expect(got.meta.etag).to.equal(meta.etag);
          expect(got.meta.userMetadata).to.deep.equal(hold({ userMetadata: { k: 'awkward' } }).userMetadata);
          expect(md5(got.data), `content of ${JSON.stringify(key.slice(0, 40))}`).to.equal(md5(Buffer.concat([p1, p2])));
          await expectGone(bk, key, id);
        }
        expect((await listAll(b, bk, { maxKeys: 1000 })).entries).to.deep.equal(utf8Sort(keys));
      });
    });
  });
}
