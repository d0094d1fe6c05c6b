/**
 * The S3-compatible backend against two stores:
 * - s3rver 3.7.1 (an emulator, in a child process), with the gaps it has declared;
 * - a second s3mux on the fs backend, which verifies SigV4 (so this also checks signing with
 *   odd keys) and has the full multipart set (abort, list uploads, list parts).
 * Then native multipart, a client-level test through a routed s3mux, retries/backoff against
 * a local failing server, and the credential cache.
 */
import { createHash } from 'node:crypto';
import http from 'node:http';
import type { AddressInfo } from 'node:net';
import { Readable } from 'node:stream';
import { expect } from 'chai';
import {
  CopyObjectCommand,
  CreateBucketCommand,
  CreateMultipartUploadCommand,
  DeleteObjectCommand,
  GetBucketEncryptionCommand,
  GetObjectCommand,
  HeadObjectCommand,
  ListObjectsV2Command,
  ListObjectVersionsCommand,
  PutBucketEncryptionCommand,
  PutBucketVersioningCommand,
  PutObjectCommand,
} from '@aws-sdk/client-s3';
import { Upload } from '@aws-sdk/lib-storage';
import { S3Error } from '../../src/errors';
import { CachedCredentials, encodeKey, S3Backend, type S3BackendOptions } from '../../src/backends/s3/index';
import { storeError } from '../../src/backends/s3/errors';
import type { ObjectAttributes } from '../../src/backends/types';
import { validateRoutingTable } from '../../src/router/config';
import { Router } from '../../src/router/router';
import { startS3rver, S3RVER_ACCESS_KEY, S3RVER_SECRET_KEY, type RunningS3rver } from '../helpers/s3rver';
import { startTestServer, ACCESS_KEY, SECRET_KEY, type TestServer } from '../helpers/server';
import { expectSdkError } from '../helpers/errors';
import { awsCliEnv, run } from '../helpers/processes';
import { body, describeBackendConformance, expectS3Error, failingBody, getObject, md5, pattern, readAll } from './conformance';

const MiB = 1024 * 1024;

/**
 * What any S3-compatible store lacks through this adapter: UploadPart needs Content-Length
 * (the adapter refuses a part of unknown length with MissingContentLength), and HEAD/GET do
 * not tell an object's part sizes (only GetObject?partNumber=N does, one part at a time).
 */
const S3_STORE_LACKS = { unsizedParts: true, partSizes: true };
/** S3 refuses parts under 5 MiB but the last at Complete (EntityTooSmall). */
const S3_MIN_PART_SIZE = 5 * 1024 * 1024;

/**
 * What s3rver 3.7.1 cannot do (multipart gaps: see MULTIPART_GAPS_S3RVER). Keys: it stores
 * objects as files named after the key, so '.'/'..' segments escape the bucket directory
 * (and its data directory!), empty segments break its router, segments near 255 bytes crash
 * it (ENAMETOOLONG); it compares and sorts keys as UTF-16, so keys with U+E000..U+FFFF
 * (which UTF-8 orders after astral characters) are left out too.
 */
const S3RVER_LACKS = {
  // every S3-compatible store computes its own ETags
  givenEtag: true,
  // neither x-amz-tagging on PUT nor x-amz-tagging-count on HEAD/GET (PutObjectTagging works)
  tags: true,
  // x-amz-checksum-* are ignored
  checksums: true,
  utf8Order: true,
  // it pages in directory-walk order (a file 'a' after the keys under 'a/'), counts only keys
  // against max-keys, and cuts a multi-character delimiter to its first character
  sortedPaging: true,
  key: (key: string): boolean =>
    key
      .split('/')
      .some((seg, i, all) => seg === '.' || seg === '..' || (seg === '' && i < all.length - 1) || Buffer.byteLength(seg) > 200) ||
    /[\uE000-\uFFFF]/.test(key),
  // multipart (MULTIPART_GAPS_S3RVER): no AbortMultipartUpload (405), ListMultipartUploads
  // (501), ListParts; UploadPart accepts any upload id (and Complete assembles under the key
  // the upload was begun with, whatever the request's key); the ETag of a completed upload is
  // the MD5 of the whole object; a re-sent part is written over the stored one in place
  // (fs.createWriteStream on the part's file), so a re-send that fails leaves it truncated
  abortUpload: true,
  listUploads: true,
  listParts: true,
  uploadIds: true,
  multipartEtag: true,
  atomicParts: true,
  ...S3_STORE_LACKS,
};

function s3rverBackend(s3rver: RunningS3rver, opts: Partial<S3BackendOptions> = {}): S3Backend {
  return new S3Backend({
    name: 's3rver',
    endpoint: s3rver.endpoint,
    region: 'us-east-1',
    forcePathStyle: true,
    credentials: { accessKeyId: S3RVER_ACCESS_KEY, secretAccessKey: S3RVER_SECRET_KEY },
    // s3rver ignores If-Match / If-None-Match on writes
    conditionalWrites: 'check',
    ...opts,
  });
}

function s3muxBackend(server: TestServer, opts: Partial<S3BackendOptions> = {}): S3Backend {
  return new S3Backend({
    name: 's3mux',
    endpoint: server.url,
    region: 'us-east-1',
    forcePathStyle: true,
    credentials: { accessKeyId: ACCESS_KEY, secretAccessKey: SECRET_KEY },
    ...opts,
  });
}

/** A routing table's s3 backend onto `endpoint`, its keys read from the two variables. */
function routedS3(endpoint: string, keyEnv: string, secretEnv: string, more: Record<string, unknown> = {}) {
  return {
    type: 's3' as const,
    endpoint,
    region: 'us-east-1',
    forcePathStyle: true,
    credentials: { accessKeyIdEnv: keyEnv, secretAccessKeyEnv: secretEnv },
    ...more,
  };
}

// ------------------------------------------------------------------ conformance

describeBackendConformance(
  's3 on s3rver',
  async () => {
    const s3rver = await startS3rver();
    return { backend: s3rverBackend(s3rver), cleanup: () => s3rver.stop() };
  },
  { listingMatrix: 'small', lacks: S3RVER_LACKS },
);

describeBackendConformance(
  's3 on s3mux (fs)',
  async () => {
    const server = await startTestServer();
    return { backend: s3muxBackend(server), cleanup: () => server.stop() };
  },
  { listingMatrix: 'small', minPartSize: S3_MIN_PART_SIZE, lacks: { givenEtag: true, ...S3_STORE_LACKS } },
);

// ------------------------------------------------------------------ native multipart

interface MultipartGaps {
  abort?: boolean;
  listUploads?: boolean;
  listParts?: boolean;
  uploadPartCopy?: boolean;
  /** The store's multipart ETag is not `<md5 of part md5s>-N` (s3rver: MD5 of the whole object). */
  multipartEtag?: boolean;
  /** Upload ids are not checked on UploadPart. */
  uploadIdCheck?: boolean;
  /** Content-MD5 is not checked on PutObject. */
  contentMd5?: boolean;
}

/** s3rver: no AbortMultipartUpload (405), ListMultipartUploads (501), ListParts, UploadPartCopy; Content-MD5 unchecked. */
const MULTIPART_GAPS_S3RVER: MultipartGaps = {
  contentMd5: true,
  abort: true,
  listUploads: true,
  listParts: true,
  uploadPartCopy: true,
  multipartEtag: true,
  uploadIdCheck: true,
};

/**
 * Every byte of `data`, then (a moment later, once a store could have taken the whole body)
 * an error instead of the end: a checksum that fails as the body ends.
 */
function lateFailure(data: Buffer, err: Error = new S3Error('BadDigest')): Readable {
  let pushed = false;
  return new Readable({
    read() {
      if (pushed) return;
      pushed = true;
      this.push(data);
      setTimeout(() => this.destroy(err), 150);
    },
  });
}

function multipartEtag(parts: Buffer[]): string {
  const h = createHash('md5');
  for (const p of parts) h.update(createHash('md5').update(p).digest());
  return `${h.digest('hex')}-${parts.length}`;
}

function describeMultipart(
  name: string,
  start: () => Promise<{ make(opts?: Partial<S3BackendOptions>): S3Backend; stop(): Promise<void> }>,
  gaps: MultipartGaps,
): void {
  describe(`S3 backend native multipart: ${name}`, function () {
    this.timeout(120_000);
    let target: Awaited<ReturnType<typeof start>>;
    let b: S3Backend;
    const made: S3Backend[] = [];
    const bucket = `s3mux-mp-${Math.random().toString(16).slice(2, 8)}`;
    const make = (opts?: Partial<S3BackendOptions>): S3Backend => {
      const x = target.make(opts);
      made.push(x);
      return x;
    };
    const part1 = pattern(5 * MiB, 1);
    const part2 = pattern(5 * MiB, 2);
    const part3 = Buffer.from('the last, small part');

    before(async () => {
      target = await start();
      b = make();
      await b.createBucket(bucket);
    });
    after(async () => {
      for (const x of made) await x.close();
      await target?.stop();
    });

    it('assembles parts in order; the object reads back whole and across part boundaries', async () => {
      const id = await b.multipart.createUpload(bucket, 'mp/one', { contentType: 'text/x-mp', userMetadata: { who: 'me' } });
      expect(id).to.be.a('string').and.not.equal('');
      // out of order on purpose
      const p3 = await b.multipart.uploadPart(bucket, 'mp/one', id, 3, body(part3), { size: part3.length });
      const p1 = await b.multipart.uploadPart(bucket, 'mp/one', id, 1, body(part1), { size: part1.length });
      const p2 = await b.multipart.uploadPart(bucket, 'mp/one', id, 2, body(part2), { size: part2.length });
      expect([p1.etag, p2.etag, p3.etag]).to.deep.equal([md5(part1), md5(part2), md5(part3)]);
      expect(p1.size).to.equal(part1.length);
      const expected = multipartEtag([part1, part2, part3]);
      const meta = await b.multipart.completeUpload(bucket, 'mp/one', id, [1, 2, 3], expected);
      const all = Buffer.concat([part1, part2, part3]);
      expect(meta.size).to.equal(all.length);
      if (!gaps.multipartEtag) expect(meta.etag).to.equal(expected);
      const head = await b.headObject(bucket, 'mp/one');
      expect(head.etag).to.equal(meta.etag);
      expect(head.size).to.equal(all.length);
      expect(head.contentType).to.equal('text/x-mp');
      expect(head.userMetadata).to.deep.equal({ who: 'me' });
      expect(md5((await getObject(b, bucket, 'mp/one')).data)).to.equal(md5(all));
      const across = { start: 5 * MiB - 3, end: 5 * MiB + 2 };
      expect((await getObject(b, bucket, 'mp/one', across)).data.equals(all.subarray(across.start, across.end + 1))).to.equal(true);
    });

    it('lists parts in pages', async function () {
      if (gaps.listParts) this.skip();
      const id = await b.multipart.createUpload(bucket, 'mp/parts', { userMetadata: {} });
      for (const n of [1, 2, 3]) await b.multipart.uploadPart(bucket, 'mp/parts', id, n, body(`part ${n}`), { size: 6 });
      const all = await b.multipart.listParts(bucket, 'mp/parts', id, { maxParts: 1000 });
      expect(all.parts.map((p) => p.partNumber)).to.deep.equal([1, 2, 3]);
      expect(all.parts.map((p) => p.etag)).to.deep.equal([md5('part 1'), md5('part 2'), md5('part 3')]);
      expect(all.parts.every((p) => p.size === 6)).to.equal(true);
      expect(all.isTruncated).to.equal(false);
      expect(all.upload.uploadId).to.equal(id);
      const seen: number[] = [];
      let marker: number | undefined;
      for (let i = 0; i < 10; i++) {
        const page = await b.multipart.listParts(bucket, 'mp/parts', id, { maxParts: 1, partNumberMarker: marker });
        seen.push(...page.parts.map((p) => p.partNumber));
        if (!page.isTruncated) break;
        marker = page.nextPartNumberMarker;
      }
      expect(seen).to.deep.equal([1, 2, 3]);
      await b.multipart.abortUpload(bucket, 'mp/parts', id);
    });

    it("is continued and completed by another instance (another replica): the state is the store's", async function () {
      if (gaps.listParts) this.skip(); // completing without this process's memory needs ListParts
      const id = await b.multipart.createUpload(bucket, 'mp/replica', { userMetadata: {} });
      await b.multipart.uploadPart(bucket, 'mp/replica', id, 1, body(part1), { size: part1.length });
      const other = make();
      await other.multipart.uploadPart(bucket, 'mp/replica', id, 2, body(part3), { size: part3.length });
      const meta = await other.multipart.completeUpload(bucket, 'mp/replica', id, [1, 2], multipartEtag([part1, part3]));
      if (!gaps.multipartEtag) expect(meta.etag).to.equal(multipartEtag([part1, part3]));
      expect(md5((await getObject(b, bucket, 'mp/replica')).data)).to.equal(md5(Buffer.concat([part1, part3])));
    });

    it('aborts: the upload and its parts are gone', async function () {
      const id = await b.multipart.createUpload(bucket, 'mp/aborted', { userMetadata: {} });
      await b.multipart.uploadPart(bucket, 'mp/aborted', id, 1, body('x'), { size: 1 });
      if (gaps.abort) {
        // declared gap: the store's 405 MethodNotAllowed comes out as NotImplemented
        await expectS3Error(b.multipart.abortUpload(bucket, 'mp/aborted', id), 'NotImplemented');
        this.skip();
      }
      await b.multipart.abortUpload(bucket, 'mp/aborted', id);
      await expectS3Error(b.multipart.listParts(bucket, 'mp/aborted', id, { maxParts: 10 }), 'NoSuchUpload');
      await expectS3Error(b.multipart.uploadPart(bucket, 'mp/aborted', id, 2, body('y'), { size: 1 }), 'NoSuchUpload');
      await expectS3Error(b.multipart.abortUpload(bucket, 'mp/aborted', id), 'NoSuchUpload');
      await expectS3Error(b.headObject(bucket, 'mp/aborted'), 'NoSuchKey');
    });

    it('answers NoSuchUpload for an upload id the store never gave', async function () {
      if (gaps.uploadIdCheck) this.skip();
      await expectS3Error(b.multipart.uploadPart(bucket, 'mp/x', 'no-such-upload', 1, body('x'), { size: 1 }), 'NoSuchUpload');
      await expectS3Error(b.multipart.completeUpload(bucket, 'mp/x', 'no-such-upload', [1], 'e-1'), 'NoSuchUpload', 'InvalidPart');
    });

    it('lists uploads with prefix, delimiter and markers; sweeps the old ones', async function () {
      if (gaps.listUploads || gaps.abort) this.skip();
      const bk = `${bucket}-up`;
      await b.createBucket(bk);
      const ids: Record<string, string> = {};
      for (const k of ['u/a', 'u/b', 'u/b', 'u/sub/c', 'v', 'sp ace+é'])
        ids[`${k}#${Object.keys(ids).length}`] = await b.multipart.createUpload(bk, k, { userMetadata: {} });
      const all = await b.multipart.listUploads(bk, { prefix: '', maxUploads: 1000 });
      expect(all.uploads.map((u) => u.key)).to.deep.equal(['sp ace+é', 'u/a', 'u/b', 'u/b', 'u/sub/c', 'v']);
      expect(all.uploads.every((u) => u.initiated instanceof Date && Math.abs(u.initiated.getTime() - Date.now()) < 600_000)).to.equal(
        true,
      );
      const grouped = await b.multipart.listUploads(bk, { prefix: 'u/', delimiter: '/', maxUploads: 1000 });
      expect(grouped.uploads.map((u) => u.key)).to.deep.equal(['u/a', 'u/b', 'u/b']);
      expect(grouped.commonPrefixes).to.deep.equal(['u/sub/']);
      const paged: string[] = [];
      let keyMarker: string | undefined;
      let uploadIdMarker: string | undefined;
      for (let i = 0; i < 20; i++) {
        const page = await b.multipart.listUploads(bk, { prefix: 'u/', keyMarker, uploadIdMarker, maxUploads: 1 });
        paged.push(...page.uploads.map((u) => `${u.key}:${u.uploadId}`));
        if (!page.isTruncated) break;
        keyMarker = page.nextKeyMarker;
        uploadIdMarker = page.nextUploadIdMarker;
      }
      expect(paged).to.deep.equal(all.uploads.filter((u) => u.key.startsWith('u/')).map((u) => `${u.key}:${u.uploadId}`));

      expect(await b.multipart.sweepUploads(bk, new Date(Date.now() - 3600_000))).to.equal(0);
      expect(await b.multipart.sweepUploads(bk, new Date(Date.now() + 3600_000))).to.equal(6);
      expect((await b.multipart.listUploads(bk, { prefix: '', maxUploads: 1000 })).uploads).to.deep.equal([]);
      await b.deleteBucket(bk);
    });

    it('refuses a part of unknown length (MissingContentLength, as S3 does)', async () => {
      const id = await b.multipart.createUpload(bucket, 'mp/nolength', { userMetadata: {} });
      await expectS3Error(b.multipart.uploadPart(bucket, 'mp/nolength', id, 1, body('x')), 'MissingContentLength');
      if (!gaps.abort) await b.multipart.abortUpload(bucket, 'mp/nolength', id);
    });

    it('stores no part whose body fails, even at its very end', async () => {
      const id = await b.multipart.createUpload(bucket, 'mp/badpart', { userMetadata: {} });
      const data = pattern(300_000, 5);
      await expectS3Error(
        b.multipart.uploadPart(bucket, 'mp/badpart', id, 1, lateFailure(data.subarray(0, 1000)), { size: 1000 }),
        'BadDigest',
      );
      await expectS3Error(
        b.multipart.uploadPart(bucket, 'mp/badpart', id, 2, failingBody(data, 1000), { size: data.length }),
        'IncompleteBody',
      );
      if (!gaps.listParts) expect((await b.multipart.listParts(bucket, 'mp/badpart', id, { maxParts: 10 })).parts).to.deep.equal([]);
      if (!gaps.abort) await b.multipart.abortUpload(bucket, 'mp/badpart', id);
    });

    it('keeps the old object when a PUT body fails after its last byte', async () => {
      await b.putObject(bucket, 'late', body('old'), { userMetadata: {} }, { size: 3 });
      const data = Buffer.from('new content, checksum fails at the end');
      await expectS3Error(b.putObject(bucket, 'late', lateFailure(data), { userMetadata: {} }, { size: data.length }), 'BadDigest');
      expect((await getObject(b, bucket, 'late')).data.toString()).to.equal('old');
    });

    it('reads a small object whole when it is opened: a range is cut from its bytes, not asked for again', async () => {
      const data = pattern(40 * 1024, 3);
      await b.putObject(bucket, 'small/whole', body(data), { userMetadata: {} }, { size: data.length });
      const before = b.http.stats.requests;
      const h = await b.openObject(bucket, 'small/whole');
      expect(h.bytes?.()).to.deep.equal(data);
      expect(await readAll(h.read({ start: 100, end: 199 }))).to.deep.equal(data.subarray(100, 200));
      await h.close();
      expect(b.http.stats.requests - before).to.equal(1);
      const big = pattern(300 * 1024, 4);
      await b.putObject(bucket, 'small/not', body(big), { userMetadata: {} }, { size: big.length });
      const h2 = await b.openObject(bucket, 'small/not');
      expect(h2.bytes?.()).to.equal(undefined);
      expect(await readAll(h2.read())).to.deep.equal(big);
      await h2.close();
    });

    it("sends the client's Content-MD5 on: the store refuses bytes that do not have it", async () => {
      for (const size of [1000, 300 * 1024]) {
        const data = pattern(size, 7);
        const meta = await b.putObject(bucket, `md5/ok-${size}`, body(data), { userMetadata: {} }, { size, md5: md5(data) });
        expect(meta.etag).to.equal(md5(data));
        if (gaps.contentMd5) continue;
        // A lie the s3 layer would have caught: only the store can refuse it here.
        await expectS3Error(
          b.putObject(bucket, `md5/lie-${size}`, body(data), { userMetadata: {} }, { size, md5: md5(Buffer.from('other')) }),
          'BadDigest',
        );
        await expectS3Error(b.headObject(bucket, `md5/lie-${size}`), 'NoSuchKey');
      }
    });

    it('completes under write conditions', async () => {
      await b.putObject(bucket, 'mp/cond', body('exists'), { userMetadata: {} }, { size: 6 });
      const id = await b.multipart.createUpload(bucket, 'mp/cond', { userMetadata: {} });
      await b.multipart.uploadPart(bucket, 'mp/cond', id, 1, body('new'), { size: 3 });
      await expectS3Error(
        b.multipart.completeUpload(bucket, 'mp/cond', id, [1], 'x-1', { conditions: { ifNoneMatch: '*' } }),
        'PreconditionFailed',
      );
      const meta = await b.multipart.completeUpload(bucket, 'mp/cond', id, [1], multipartEtag([Buffer.from('new')]), {
        conditions: { ifMatch: md5('exists') },
      });
      expect((await getObject(b, bucket, 'mp/cond')).data.toString()).to.equal('new');
      expect(meta.size).to.equal(3);
    });

    it('puts a body of unknown length above the buffer as a multipart upload', async () => {
      const small = make({ unknownSizePartBytes: 5 * MiB });
      const data = pattern(11 * MiB + 5, 9);
      const meta = await small.putObject(bucket, 'mp/unknown', body(data, 256 * 1024), {
        contentType: 'text/x-unknown',
        userMetadata: { k: 'v' },
      });
      expect(meta.size).to.equal(data.length);
      if (!gaps.multipartEtag)
        expect(meta.etag).to.equal(multipartEtag([data.subarray(0, 5 * MiB), data.subarray(5 * MiB, 10 * MiB), data.subarray(10 * MiB)]));
      const got = await getObject(small, bucket, 'mp/unknown');
      expect(md5(got.data)).to.equal(md5(data));
      expect(got.meta.contentType).to.equal('text/x-unknown');
      expect(got.meta.userMetadata).to.deep.equal({ k: 'v' });
      // a body that fails in its second part leaves no object (and, where abort exists, no upload)
      await expectS3Error(
        small.putObject(bucket, 'mp/unknown-failing', failingBody(data, 7 * MiB), { userMetadata: {} }),
        'IncompleteBody',
      );
      await expectS3Error(small.headObject(bucket, 'mp/unknown-failing'), 'NoSuchKey');
      if (!gaps.listUploads) {
        const left = await small.multipart.listUploads(bucket, { prefix: 'mp/unknown', maxUploads: 100 });
        expect(left.uploads).to.deep.equal([]);
      }
    });

    it('streams a known size above the single-PUT limit as parts, without buffering', async () => {
      const large = make({ maxSingleBytes: 6 * MiB, largePartBytes: 5 * MiB });
      const data = pattern(12 * MiB + 1, 4);
      const meta = await large.putObject(bucket, 'mp/large', body(data, 64 * 1024), { userMetadata: {} }, { size: data.length });
      expect(meta.size).to.equal(data.length);
      if (!gaps.multipartEtag) expect(meta.etag).to.match(/-3$/);
      expect(md5((await getObject(large, bucket, 'mp/large')).data)).to.equal(md5(data));
      // a body shorter than announced fails and leaves nothing
      await expectS3Error(
        large.putObject(bucket, 'mp/large-short', body(data.subarray(0, 7 * MiB)), { userMetadata: {} }, { size: data.length }),
        'IncompleteBody',
      );
      await expectS3Error(large.headObject(bucket, 'mp/large-short'), 'NoSuchKey');
    });

    it('copies an object above the CopyObject limit with UploadPartCopy', async function () {
      if (gaps.uploadPartCopy) this.skip();
      const large = make({ maxSingleBytes: 6 * MiB, largePartBytes: 5 * MiB });
      const data = pattern(11 * MiB, 6);
      await b.putObject(bucket, 'mp/copy-src', body(data), { contentType: 'text/x-src', userMetadata: { s: '1' } }, { size: data.length });
      const meta = await large.copyObject(bucket, 'mp/copy-src', bucket, 'mp/copy-dst', undefined);
      expect(meta.size).to.equal(data.length);
      const got = await getObject(b, bucket, 'mp/copy-dst');
      expect(md5(got.data)).to.equal(md5(data));
      expect(got.meta.contentType).to.equal('text/x-src');
      expect(got.meta.userMetadata).to.deep.equal({ s: '1' });
    });
  });
}

describeMultipart(
  's3rver',
  async () => {
    const s3rver = await startS3rver();
    return { make: (opts) => s3rverBackend(s3rver, opts), stop: () => s3rver.stop() };
  },
  MULTIPART_GAPS_S3RVER,
);

describeMultipart(
  's3mux (fs)',
  async () => {
    const server = await startTestServer();
    return { make: (opts) => s3muxBackend(server, opts), stop: () => server.stop() };
  },
  {},
);

// ------------------------------------------------------------------ through a routed s3mux

describe('S3 backend behind s3mux: a routed bucket driven by the AWS SDK', function () {
  this.timeout(120_000);
  let upstream: TestServer;
  let front: TestServer;
  const upstreamBucket = 'upstream-data';
  const envNames = ['S3MUX_TEST_UP_KEY', 'S3MUX_TEST_UP_SECRET'];

  before(async () => {
    upstream = await startTestServer();
    await upstream.s3.send(new CreateBucketCommand({ Bucket: upstreamBucket }));
    process.env.S3MUX_TEST_UP_KEY = ACCESS_KEY;
    process.env.S3MUX_TEST_UP_SECRET = SECRET_KEY;
    const table = validateRoutingTable({
      backends: { up: routedS3(upstream.url, 'S3MUX_TEST_UP_KEY', 'S3MUX_TEST_UP_SECRET') },
      routes: { remote: { target: `s3://${upstreamBucket}/some/prefix/` } },
    });
    front = await startTestServer({ router: Router.fromTable(table) });
  });

  after(async () => {
    await front?.stop();
    await upstream?.stop();
    for (const n of envNames) delete process.env[n];
  });

  async function upstreamKeys(): Promise<string[]> {
    const res = await upstream.s3.send(new ListObjectsV2Command({ Bucket: upstreamBucket }));
    return (res.Contents ?? []).map((c) => c.Key as string);
  }

  it('puts, gets, lists and deletes; the objects land under the prefix upstream', async () => {
    const put = await front.s3.send(
      new PutObjectCommand({
        Bucket: 'remote',
        Key: 'docs/hello world+1.txt',
        Body: 'hello through two s3muxes',
        ContentType: 'text/plain',
        Metadata: { color: 'blue' },
      }),
    );
    expect(put.ETag).to.equal(`"${md5('hello through two s3muxes')}"`);
    await front.s3.send(new PutObjectCommand({ Bucket: 'remote', Key: 'docs/sub/b.txt', Body: 'b' }));
    await front.s3.send(new PutObjectCommand({ Bucket: 'remote', Key: 'top.txt', Body: 'top' }));
    expect(await upstreamKeys()).to.deep.equal(['some/prefix/docs/hello world+1.txt', 'some/prefix/docs/sub/b.txt', 'some/prefix/top.txt']);

    const got = await front.s3.send(new GetObjectCommand({ Bucket: 'remote', Key: 'docs/hello world+1.txt' }));
    expect(await got.Body!.transformToString()).to.equal('hello through two s3muxes');
    expect(got.ContentType).to.equal('text/plain');
    expect(got.Metadata).to.deep.equal({ color: 'blue' });
    const ranged = await front.s3.send(new GetObjectCommand({ Bucket: 'remote', Key: 'docs/hello world+1.txt', Range: 'bytes=6-12' }));
    expect(await ranged.Body!.transformToString()).to.equal('through');
    expect(ranged.ContentRange).to.equal('bytes 6-12/25');

    const top = await front.s3.send(new ListObjectsV2Command({ Bucket: 'remote', Delimiter: '/' }));
    expect((top.Contents ?? []).map((c) => c.Key)).to.deep.equal(['top.txt']);
    expect((top.CommonPrefixes ?? []).map((c) => c.Prefix)).to.deep.equal(['docs/']);
    const paged: string[] = [];
    let token: string | undefined;
    do {
      const page = await front.s3.send(new ListObjectsV2Command({ Bucket: 'remote', MaxKeys: 1, ContinuationToken: token }));
      paged.push(...(page.Contents ?? []).map((c) => c.Key as string));
      token = page.NextContinuationToken;
    } while (token);
    expect(paged).to.deep.equal(['docs/hello world+1.txt', 'docs/sub/b.txt', 'top.txt']);

    await front.s3.send(new DeleteObjectCommand({ Bucket: 'remote', Key: 'docs/sub/b.txt' }));
    expect(await upstreamKeys()).to.deep.equal(['some/prefix/docs/hello world+1.txt', 'some/prefix/top.txt']);
    const missing = await front.s3.send(new HeadObjectCommand({ Bucket: 'remote', Key: 'docs/sub/b.txt' })).catch((e: unknown) => e);
    expect((missing as { $metadata?: { httpStatusCode?: number } }).$metadata?.httpStatusCode).to.equal(404);
  });

  it('uploads 12 MiB with lib-storage (native multipart on the upstream)', async () => {
    const data = pattern(12 * MiB, 12);
    const up = new Upload({
      client: front.s3,
      params: { Bucket: 'remote', Key: 'big/blob.bin', Body: Readable.from([data]) },
      partSize: 5 * MiB,
      queueSize: 2,
    });
    const res = await up.done();
    const expected = multipartEtag([data.subarray(0, 5 * MiB), data.subarray(5 * MiB, 10 * MiB), data.subarray(10 * MiB)]);
    expect(res.ETag).to.equal(`"${expected}"`);
    expect(await upstreamKeys()).to.include('some/prefix/big/blob.bin');
    const direct = await upstream.s3.send(new HeadObjectCommand({ Bucket: upstreamBucket, Key: 'some/prefix/big/blob.bin' }));
    expect(direct.ETag).to.equal(`"${expected}"`);
    expect(direct.ContentLength).to.equal(data.length);
    const got = await front.s3.send(new GetObjectCommand({ Bucket: 'remote', Key: 'big/blob.bin' }));
    expect(md5(Buffer.from(await got.Body!.transformToByteArray()))).to.equal(md5(data));
  });
});

// ------------------------------------------------------------------ retries and backoff

interface FakeStore {
  url: string;
  requests: { method: string; url: string }[];
  close(): Promise<void>;
}

/** A tiny store on 127.0.0.1: `answer` decides each reply from the request number (1-based). */
async function fakeStore(answer: (n: number, req: http.IncomingMessage, res: http.ServerResponse) => void): Promise<FakeStore> {
  const requests: { method: string; url: string }[] = [];
  const server = http.createServer((req, res) => {
    requests.push({ method: req.method ?? '', url: req.url ?? '' });
    req.resume();
    req.on('end', () => answer(requests.length, req, res));
  });
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  return {
    url: `http://127.0.0.1:${(server.address() as AddressInfo).port}`,
    requests,
    close: () =>
      new Promise((r) => {
        server.closeAllConnections();
        server.close(() => r());
      }),
  };
}

function slowDown(res: http.ServerResponse, withBody = true): void {
  const xml =
    '<?xml version="1.0" encoding="UTF-8"?><Error><Code>SlowDown</Code><Message>Please reduce your request rate.</Message></Error>';
  res.writeHead(503, withBody ? { 'content-type': 'application/xml', 'content-length': Buffer.byteLength(xml) } : {});
  res.end(withBody ? xml : undefined);
}

function okObject(res: http.ServerResponse, method: string, data: string): void {
  res.writeHead(200, {
    etag: `"${md5(data)}"`,
    'content-length': Buffer.byteLength(data),
    'content-type': 'text/plain',
    'last-modified': new Date(0).toUTCString(),
    'x-amz-meta-a': 'b',
  });
  res.end(method === 'HEAD' ? undefined : data);
}

describe('S3 backend: SSE-S3 is asked of the store, never only echoed', function () {
  this.timeout(120_000);
  let plainStore: TestServer;
  let encryptedStore: TestServer;
  let front: TestServer;
  const Bucket = 'sse-data';
  const envNames = ['S3MUX_TEST_SSE_KEY', 'S3MUX_TEST_SSE_SECRET'];
  const sse = { ServerSideEncryption: 'AES256' as const };

  before(async () => {
    // Two s3mux stores on plain fs folders: one told its folder is on an encrypted volume.
    plainStore = await startTestServer();
    encryptedStore = await startTestServer({ fsEncryptedAtRest: true });
    for (const store of [plainStore, encryptedStore]) await store.s3.send(new CreateBucketCommand({ Bucket }));
    process.env.S3MUX_TEST_SSE_KEY = ACCESS_KEY;
    process.env.S3MUX_TEST_SSE_SECRET = SECRET_KEY;
    const backend = (url: string) => routedS3(url, 'S3MUX_TEST_SSE_KEY', 'S3MUX_TEST_SSE_SECRET');
    const table = validateRoutingTable({
      backends: { plain: backend(plainStore.url), encrypted: backend(encryptedStore.url) },
      default: 'plain',
      routes: {
        plain: { backend: 'plain', target: `s3://${Bucket}/` },
        encrypted: { backend: 'encrypted', target: `s3://${Bucket}/` },
      },
    });
    front = await startTestServer({ router: Router.fromTable(table) });
  });

  after(async () => {
    await front?.stop();
    await plainStore?.stop();
    await encryptedStore?.stop();
    for (const n of envNames) delete process.env[n];
  });

  async function storeKeys(store: TestServer): Promise<string[]> {
    return ((await store.s3.send(new ListObjectsV2Command({ Bucket }))).Contents ?? []).map((c) => c.Key as string);
  }

  it('a store that cannot encrypt refuses the write, and nothing is stored', async () => {
    await expectSdkError(front.s3.send(new PutObjectCommand({ Bucket: 'plain', Key: 'secret.txt', Body: 'x', ...sse })), 'NotImplemented');
    await expectSdkError(front.s3.send(new CreateMultipartUploadCommand({ Bucket: 'plain', Key: 'big.bin', ...sse })), 'NotImplemented');
    await front.s3.send(new PutObjectCommand({ Bucket: 'plain', Key: 'open.txt', Body: 'o' }));
    await expectSdkError(
      front.s3.send(new CopyObjectCommand({ Bucket: 'plain', Key: 'copy.txt', CopySource: 'plain/open.txt', ...sse })),
      'NotImplemented',
    );
    expect(await storeKeys(plainStore)).to.deep.equal(['open.txt']);
  });

  it('a store that encrypts takes the write, and the answer says so', async () => {
    const put = await front.s3.send(new PutObjectCommand({ Bucket: 'encrypted', Key: 'secret.txt', Body: 'x', ...sse }));
    expect(put.ServerSideEncryption).to.equal('AES256');
    const copy = await front.s3.send(
      new CopyObjectCommand({ Bucket: 'encrypted', Key: 'copy.txt', CopySource: 'encrypted/secret.txt', ...sse }),
    );
    expect(copy.ServerSideEncryption).to.equal('AES256');
    expect(await storeKeys(encryptedStore)).to.deep.equal(['copy.txt', 'secret.txt']);
  });

  it('the probe that asks the store leaves nothing behind in a versioned bucket, not even a version', async () => {
    const versioned = 'sse-versioned';
    await encryptedStore.s3.send(new CreateBucketCommand({ Bucket: versioned }));
    await encryptedStore.s3.send(new PutBucketVersioningCommand({ Bucket: versioned, VersioningConfiguration: { Status: 'Enabled' } }));
    const direct = s3muxBackend(encryptedStore);
    try {
      for (const key of ['one', 'two']) {
        const meta = await direct.putObject(versioned, key, body('x'), { userMetadata: {}, serverSideEncryption: 'AES256' }, { size: 1 });
        expect(meta.serverSideEncryption).to.equal('AES256');
      }
    } finally {
      await direct.close();
    }
    const versions = await encryptedStore.s3.send(new ListObjectVersionsCommand({ Bucket: versioned }));
    expect((versions.Versions ?? []).map((v) => v.Key).sort()).to.deep.equal(['one', 'two']);
    expect(versions.DeleteMarkers ?? []).to.deep.equal([]);
  });

  it('GET and HEAD report the encryption the store reports, and none where it reports none', async () => {
    await front.s3.send(new PutObjectCommand({ Bucket: 'encrypted', Key: 'read-back.txt', Body: 'r', ...sse }));
    const head = await front.s3.send(new HeadObjectCommand({ Bucket: 'encrypted', Key: 'read-back.txt' }));
    expect(head.ServerSideEncryption).to.equal('AES256');
    const got = await front.s3.send(new GetObjectCommand({ Bucket: 'encrypted', Key: 'read-back.txt' }));
    expect(got.ServerSideEncryption).to.equal('AES256');
    await got.Body?.transformToString();
    await front.s3.send(new PutObjectCommand({ Bucket: 'plain', Key: 'read-back.txt', Body: 'p' }));
    const plainHead = await front.s3.send(new HeadObjectCommand({ Bucket: 'plain', Key: 'read-back.txt' }));
    expect(plainHead.ServerSideEncryption).to.equal(undefined);
    const plainGot = await front.s3.send(new GetObjectCommand({ Bucket: 'plain', Key: 'read-back.txt' }));
    expect(plainGot.ServerSideEncryption).to.equal(undefined);
    await plainGot.Body?.transformToString();
  });

  it("a large copy does not ask the store for the source's encryption (only its own request's)", async () => {
    const direct = new S3Backend({
      name: 'encrypted',
      endpoint: encryptedStore.url,
      forcePathStyle: true,
      credentials: { accessKeyId: ACCESS_KEY, secretAccessKey: SECRET_KEY },
      maxSingleBytes: 6 * MiB,
      largePartBytes: 5 * MiB,
    });
    try {
      const data = pattern(7 * MiB, 3);
      await direct.putObject(Bucket, 'large-src', body(data), { userMetadata: {}, serverSideEncryption: 'AES256' }, { size: data.length });
      expect((await direct.headObject(Bucket, 'large-src')).serverSideEncryption).to.equal('AES256');
      const begun: ObjectAttributes[] = [];
      const beginUpload = direct.multipart.beginUpload.bind(direct.multipart);
      direct.multipart.beginUpload = (b, k, attrs, ...rest) => {
        begun.push(attrs);
        return beginUpload(b, k, attrs, ...rest);
      };
      await direct.copyObject(Bucket, 'large-src', Bucket, 'large-copy', undefined);
      expect(begun).to.have.length(1);
      expect(begun[0].serverSideEncryption).to.equal(undefined);
      expect(md5((await getObject(direct, Bucket, 'large-copy')).data)).to.equal(md5(data));
    } finally {
      await direct.close();
    }
  });

  it("a bucket's default encryption is not claimed for the store (only the writes that ask are asked)", async () => {
    await expectSdkError(
      front.s3.send(new GetBucketEncryptionCommand({ Bucket: 'encrypted' })),
      'ServerSideEncryptionConfigurationNotFoundError',
    );
    await expectSdkError(
      front.s3.send(
        new PutBucketEncryptionCommand({
          Bucket: 'encrypted',
          ServerSideEncryptionConfiguration: { Rules: [{ ApplyServerSideEncryptionByDefault: { SSEAlgorithm: 'AES256' } }] },
        }),
      ),
      'NotImplemented',
    );
  });
});

describe('S3 backend: a store that takes SSE-S3 and does not encrypt (s3rver 3.7.1) is refused it', function () {
  this.timeout(120_000);
  let store: RunningS3rver;
  let front: TestServer;
  let direct: S3Backend;
  const Bucket = 'sse-ignored';
  const sse = { ServerSideEncryption: 'AES256' as const };

  before(async () => {
    store = await startS3rver({ readyTimeoutMs: 30_000 });
    process.env.S3MUX_TEST_S3RVER_KEY = S3RVER_ACCESS_KEY;
    process.env.S3MUX_TEST_S3RVER_SECRET = S3RVER_SECRET_KEY;
    const table = validateRoutingTable({
      backends: { up: routedS3(store.endpoint, 'S3MUX_TEST_S3RVER_KEY', 'S3MUX_TEST_S3RVER_SECRET', { conditionalWrites: 'check' }) },
      default: 'up',
      routes: { [Bucket]: { backend: 'up', target: `s3://${Bucket}/` } },
    });
    front = await startTestServer({ router: Router.fromTable(table) });
    direct = s3rverBackend(store);
    await direct.createBucket(Bucket);
  });
  after(async () => {
    await front?.stop();
    await direct?.close();
    await store?.stop();
    delete process.env.S3MUX_TEST_S3RVER_KEY;
    delete process.env.S3MUX_TEST_S3RVER_SECRET;
  });

  /** Every key in the store's bucket, s3mux's own area (where the probe went) included. */
  async function storeKeys(): Promise<string[]> {
    const { doc } = await direct.http.sendXml({ method: 'GET', bucket: Bucket, query: { 'list-type': '2' } });
    const contents = (doc?.ListBucketResult as { Contents?: { Key: string } | { Key: string }[] } | undefined)?.Contents;
    return (contents === undefined ? [] : Array.isArray(contents) ? contents : [contents]).map((c) => String(c.Key));
  }

  it('PutObject, CreateMultipartUpload and CopyObject asking for SSE-S3 are NotImplemented; plain writes go on', async () => {
    await expectSdkError(front.s3.send(new PutObjectCommand({ Bucket, Key: 'secret.txt', Body: 'x', ...sse })), 'NotImplemented', 501);
    await expectSdkError(front.s3.send(new CreateMultipartUploadCommand({ Bucket, Key: 'big.bin', ...sse })), 'NotImplemented', 501);
    const put = await front.s3.send(new PutObjectCommand({ Bucket, Key: 'open.txt', Body: 'o' }));
    expect(put.ServerSideEncryption).to.equal(undefined);
    await expectSdkError(
      front.s3.send(new CopyObjectCommand({ Bucket, Key: 'copy.txt', CopySource: `${Bucket}/open.txt`, ...sse })),
      'NotImplemented',
    );
    // Nothing but the plain write reached the store; the probe was deleted.
    expect(await storeKeys()).to.deep.equal(['open.txt']);
  });

  it('aws-cli: `s3 cp --sse AES256` fails with NotImplemented and stores nothing', async () => {
    const result = await run(
      '/usr/bin/aws',
      ['--endpoint-url', front.url, 's3', 'cp', '-', `s3://${Bucket}/cli.txt`, '--sse', 'AES256'],
      'from the cli',
      awsCliEnv(ACCESS_KEY, SECRET_KEY),
    );
    expect(result.status, result.stderr).to.not.equal(0);
    expect(result.stderr).to.contain('NotImplemented');
    expect(await storeKeys()).to.not.include('cli.txt');
  });
});

describe('S3 backend: an SSE-S3 write whose answer does not say AES256', function () {
  this.timeout(30_000);
  let store: FakeStore;
  let be: S3Backend;
  /** The store says AES256 to the first PUT (the probe) and to nothing after: it changed since it was asked. */
  before(async () => {
    let confirmed = 0;
    store = await fakeStore((_n, req, res) => {
      if (req.method === 'PUT' && confirmed++ === 0) {
        res.writeHead(200, { etag: '"d41d8cd98f00b204e9800998ecf8427e"', 'x-amz-server-side-encryption': 'AES256' });
        return res.end();
      }
      if (req.method === 'DELETE') {
        res.writeHead(204);
        return res.end();
      }
      if (req.method === 'POST') {
        const xml =
          '<?xml version="1.0" encoding="UTF-8"?><InitiateMultipartUploadResult><Bucket>b</Bucket><Key>k</Key><UploadId>up-1</UploadId></InitiateMultipartUploadResult>';
        res.writeHead(200, { 'content-type': 'application/xml', 'content-length': Buffer.byteLength(xml) });
        return res.end(xml);
      }
      res.writeHead(200, { etag: `"${md5('x')}"` });
      res.end();
    });
    be = new S3Backend({
      name: 'fickle',
      endpoint: store.url,
      forcePathStyle: true,
      credentials: { accessKeyId: 'AK', secretAccessKey: 'SK' },
    });
  });
  after(async () => {
    await be?.close();
    await store?.close();
  });

  it('is an error naming the unencrypted object, and later SSE-S3 requests are refused before any write', async () => {
    const err = await be
      .putObject('b', 'k', body(Buffer.from('x')), { userMetadata: {}, serverSideEncryption: 'AES256' }, { size: 1 })
      .then(
        () => undefined,
        (e: unknown) => e,
      );
    expect(err).to.be.instanceOf(S3Error);
    expect((err as S3Error).code).to.equal('InternalError');
    expect((err as S3Error).message).to.contain('unencrypted');
    const before = store.requests.length;
    await expectS3Error(be.multipart.createUpload('b', 'k2', { userMetadata: {}, serverSideEncryption: 'AES256' }), 'NotImplemented');
    await expectS3Error(
      be.putObject('b', 'k3', body(Buffer.from('x')), { userMetadata: {}, serverSideEncryption: 'AES256' }, { size: 1 }),
      'NotImplemented',
    );
    expect(store.requests.slice(before)).to.deep.equal([]);
    // Writes that do not ask still go to the store.
    await be.putObject('b', 'plain', body(Buffer.from('x')), { userMetadata: {} }, { size: 1 });
    expect(store.requests.slice(before).map((r) => r.method)).to.deep.equal(['PUT']);
  });
});

describe("S3 backend: a listing passes on the checksum the store's listing names", function () {
  this.timeout(30_000);
  let store: FakeStore;
  let be: S3Backend;
  before(async () => {
    // AWS's form (ChecksumAlgorithm, ChecksumType between ETag and Size), a store naming no
    // type (AWS before 2025), two algorithms, an algorithm S3 clients cannot send, and none.
    const entry = (key: string, extra: string) =>
      `<Contents><Key>${key}</Key><LastModified>2026-01-01T00:00:00.000Z</LastModified><ETag>&quot;${md5(key)}&quot;</ETag>${extra}<Size>1</Size><StorageClass>STANDARD</StorageClass></Contents>`;
    const xml =
      '<?xml version="1.0" encoding="UTF-8"?><ListBucketResult xmlns="http://s3.amazonaws.com/doc/2006-03-01/"><Name>b</Name><Prefix></Prefix><KeyCount>5</KeyCount><MaxKeys>1000</MaxKeys><IsTruncated>false</IsTruncated>' +
      entry('aws', '<ChecksumAlgorithm>CRC64NVME</ChecksumAlgorithm><ChecksumType>FULL_OBJECT</ChecksumType>') +
      entry('composite', '<ChecksumAlgorithm>SHA256</ChecksumAlgorithm><ChecksumType>COMPOSITE</ChecksumType>') +
      entry('no-type', '<ChecksumAlgorithm>CRC32</ChecksumAlgorithm>') +
      entry(
        'two',
        '<ChecksumAlgorithm>CRC32C</ChecksumAlgorithm><ChecksumAlgorithm>SHA1</ChecksumAlgorithm><ChecksumType>FULL_OBJECT</ChecksumType>',
      ) +
      entry('unknown', '<ChecksumAlgorithm>XXHASH64</ChecksumAlgorithm><ChecksumType>FULL_OBJECT</ChecksumType>') +
      entry('zz-none', '') +
      '</ListBucketResult>';
    store = await fakeStore((_n, _req, res) => {
      res.writeHead(200, { 'content-type': 'application/xml', 'content-length': Buffer.byteLength(xml) });
      res.end(xml);
    });
    be = new S3Backend({
      name: 'lister',
      endpoint: store.url,
      forcePathStyle: true,
      credentials: { accessKeyId: 'AK', secretAccessKey: 'SK' },
    });
  });
  after(async () => {
    await be?.close();
    await store?.close();
  });

  it('reads ChecksumAlgorithm and ChecksumType from each entry, and invents none', async () => {
    const page = await be.listObjects('b', { prefix: '', maxKeys: 1000 });
    expect(page.objects.map((o) => [o.key, o.checksumAlgorithm, o.checksumType])).to.deep.equal([
      ['aws', 'crc64nvme', 'FULL_OBJECT'],
      ['composite', 'sha256', 'COMPOSITE'],
      ['no-type', 'crc32', undefined],
      ['two', 'crc32c', 'FULL_OBJECT'],
      ['unknown', undefined, undefined],
      ['zz-none', undefined, undefined],
    ]);
  });
});

describe('S3 backend retries', function () {
  this.timeout(30_000);
  const stores: FakeStore[] = [];
  const backends: S3Backend[] = [];
  const backendFor = (store: FakeStore, opts: Partial<S3BackendOptions> = {}): S3Backend => {
    const b = new S3Backend({
      name: 'fake',
      endpoint: store.url,
      forcePathStyle: true,
      credentials: { accessKeyId: 'AK', secretAccessKey: 'SK' },
      retry: { maxAttempts: 4, baseDelayMs: 20, maxDelayMs: 200 },
      ...opts,
    });
    backends.push(b);
    return b;
  };
  afterEach(async () => {
    while (backends.length) await backends.pop()!.close();
    while (stores.length) await stores.pop()!.close();
  });

  it('retries 503 SlowDown with backoff and succeeds (GET, and HEAD without an error body)', async () => {
    const store = await fakeStore((n, req, res) =>
      n <= 2 ? slowDown(res, req.method !== 'HEAD') : okObject(res, req.method ?? 'GET', 'hello'),
    );
    stores.push(store);
    const b = backendFor(store);
    const got = await getObject(b, 'bucket', 'some/key');
    expect(got.data.toString()).to.equal('hello');
    expect(got.meta.etag).to.equal(md5('hello'));
    expect(got.meta.userMetadata).to.deep.equal({ a: 'b' });
    expect(store.requests.map((r) => `${r.method} ${r.url}`)).to.deep.equal(Array(3).fill('GET /bucket/some/key'));
    expect(b.http.stats.retries).to.equal(2);
    // a HEAD's 503 has no error document
    const heads = await fakeStore((n, _req, res) => (n <= 2 ? slowDown(res, false) : okObject(res, 'HEAD', 'hi')));
    stores.push(heads);
    expect((await backendFor(heads).headObject('bucket', 'k')).size).to.equal(2);
    expect(heads.requests.map((r) => r.method)).to.deep.equal(['HEAD', 'HEAD', 'HEAD']);
  });

  it('gives up after the bounded attempts with SlowDown, in bounded time', async () => {
    const store = await fakeStore((_n, req, res) => slowDown(res, req.method !== 'HEAD'));
    stores.push(store);
    const b = backendFor(store);
    const t0 = Date.now();
    const err = await expectS3Error(b.openObject('bucket', 'k'), 'SlowDown');
    expect(err.status).to.equal(503);
    expect(store.requests.length).to.equal(4);
    expect(Date.now() - t0).to.be.below(2000);
    // without an error document (HEAD) a 503 is ServiceUnavailable
    const head = await expectS3Error(b.headObject('bucket', 'k'), 'ServiceUnavailable');
    expect(head.status).to.equal(503);
    expect(store.requests.length).to.equal(8);
  });

  it('retries a dropped connection, and reports an unreachable store as ServiceUnavailable', async () => {
    const store = await fakeStore((n, req, res) => (n === 1 ? req.socket.destroy() : okObject(res, req.method ?? 'GET', 'again')));
    stores.push(store);
    const b = backendFor(store);
    expect((await b.headObject('bucket', 'k')).etag).to.equal(md5('again'));
    expect(store.requests.length).to.equal(2);
    const closed = await fakeStore(() => {});
    await closed.close();
    const nowhere = backendFor(closed, { retry: { maxAttempts: 2, baseDelayMs: 10 } });
    await expectS3Error(nowhere.headObject('bucket', 'k'), 'ServiceUnavailable');
  });

  it('does not send a streamed body twice: a 503 after the body was read comes out as SlowDown', async () => {
    const store = await fakeStore((n, req, res) => (n === 1 ? slowDown(res) : okObject(res, req.method ?? 'GET', 'x')));
    stores.push(store);
    const b = backendFor(store);
    const data = pattern(200_000, 3);
    await expectS3Error(b.putObject('bucket', 'k', body(data), { userMetadata: {} }, { size: data.length }), 'SlowDown');
    expect(store.requests.length).to.equal(1);
    // a Buffer body (unknown size, buffered) can be sent again
    const ok = await b.putObject('bucket', 'k2', body('small'), { userMetadata: {} });
    expect(ok.size).to.equal(5);
  });

  it('retries an error inside a 200 answer (CopyObject), and maps a final one', async () => {
    const copyError = (code: string) => `<?xml version="1.0" encoding="UTF-8"?>\n<Error><Code>${code}</Code><Message>m</Message></Error>`;
    const copied =
      '<?xml version="1.0" encoding="UTF-8"?><CopyObjectResult><LastModified>2026-01-02T03:04:05.000Z</LastModified><ETag>&quot;abc&quot;</ETag></CopyObjectResult>';
    let copies = 0;
    const store = await fakeStore((_n, req, res) => {
      if (req.method === 'HEAD') return okObject(res, 'HEAD', 'source');
      copies++;
      res.writeHead(200, { 'content-type': 'application/xml' });
      res.end(req.url === '/b/fails' ? copyError('NoSuchBucket') : copies === 1 ? copyError('InternalError') : copied);
    });
    stores.push(store);
    const b = backendFor(store);
    const meta = await b.copyObject('b', 'src', 'b', 'dst', undefined);
    expect(meta.etag).to.equal('abc');
    expect(meta.lastModified.toISOString()).to.equal('2026-01-02T03:04:05.000Z');
    expect(meta.size).to.equal(6);
    expect(copies).to.equal(2);
    await expectS3Error(b.copyObject('b', 'src', 'b', 'fails', undefined), 'NoSuchBucket');
    expect(copies).to.equal(3);
  });

  it('creates buckets with a LocationConstraint outside us-east-1', async () => {
    const bodies: string[] = [];
    const recording = await new Promise<FakeStore>((resolve) => {
      const requests: { method: string; url: string }[] = [];
      const srv = http.createServer((req, res) => {
        requests.push({ method: req.method ?? '', url: req.url ?? '' });
        const chunks: Buffer[] = [];
        req.on('data', (c: Buffer) => chunks.push(c));
        req.on('end', () => {
          bodies.push(Buffer.concat(chunks).toString());
          res.writeHead(req.method === 'HEAD' ? 404 : 200);
          res.end();
        });
      });
      srv.listen(0, '127.0.0.1', () =>
        resolve({
          url: `http://127.0.0.1:${(srv.address() as AddressInfo).port}`,
          requests,
          close: () =>
            new Promise((r) => {
              srv.closeAllConnections();
              srv.close(() => r());
            }),
        }),
      );
    });
    stores.push(recording);
    await backendFor(recording, { region: 'eu-west-3' }).createBucket('in-paris');
    expect(recording.requests.map((r) => `${r.method} ${r.url}`)).to.deep.equal(['HEAD /in-paris', 'PUT /in-paris']);
    expect(bodies[1]).to.contain('<LocationConstraint>eu-west-3</LocationConstraint>');
    await backendFor(recording, { region: 'us-east-1' }).createBucket('in-virginia');
    expect(bodies[3]).to.equal('');
  });

  it("maps the store's errors through one table", () => {
    const e = (status: number, code?: string) => storeError({ status, code, backend: 'b', notFound: 'NoSuchKey' }).code;
    expect(e(404, 'NoSuchBucket')).to.equal('NoSuchBucket');
    expect(e(404)).to.equal('NoSuchKey');
    expect(e(403, 'SignatureDoesNotMatch')).to.equal('AccessDenied');
    expect(e(403, 'InvalidAccessKeyId')).to.equal('AccessDenied');
    expect(e(409, 'ConditionalRequestConflict')).to.equal('PreconditionFailed');
    expect(e(412)).to.equal('PreconditionFailed');
    expect(e(405, 'MethodNotAllowed')).to.equal('NotImplemented');
    expect(e(503, 'SlowDown')).to.equal('SlowDown');
    expect(e(429)).to.equal('SlowDown');
    expect(e(400, 'AuthorizationHeaderMalformed')).to.equal('InternalError');
    expect(e(301, 'PermanentRedirect')).to.equal('InternalError');
    expect(e(500, 'SomethingNew')).to.equal('InternalError');
    expect(e(400, 'EntityTooSmall')).to.equal('EntityTooSmall');
  });
});

// ------------------------------------------------------------------ small parts

describe('S3 backend pieces', () => {
  it('encodes each key segment exactly once, keeping the slashes', () => {
    expect(encodeKey("a b/c+d/%2F/é/~!*()'")).to.equal('a%20b/c%2Bd/%252F/%C3%A9/~%21%2A%28%29%27');
    expect(encodeKey('//lead/')).to.equal('//lead/');
  });

  it('addresses path-style or virtual-hosted as the settings and the bucket name allow', () => {
    const at = (endpoint: string, forcePathStyle: boolean, bucket?: string, key?: string) =>
      new S3Backend({ endpoint, forcePathStyle, credentials: { accessKeyId: 'a', secretAccessKey: 'b' } }).http.addressOf(bucket, key);
    expect(at('https://s3.eu-west-1.amazonaws.com', false, 'photos', 'a b/c')).to.deep.equal({
      origin: 'https://photos.s3.eu-west-1.amazonaws.com',
      host: 'photos.s3.eu-west-1.amazonaws.com',
      path: '/a%20b/c',
    });
    expect(at('https://s3.eu-west-1.amazonaws.com', false, 'photos')).to.deep.include({ path: '/' });
    // dots break the wildcard certificate: path-style over https
    expect(at('https://s3.eu-west-1.amazonaws.com', false, 'my.photos', 'k')).to.deep.equal({
      origin: 'https://s3.eu-west-1.amazonaws.com',
      host: 's3.eu-west-1.amazonaws.com',
      path: '/my.photos/k',
    });
    expect(at('http://minio.local:9000', true, 'photos', 'k')).to.deep.equal({
      origin: 'http://minio.local:9000',
      host: 'minio.local:9000',
      path: '/photos/k',
    });
    expect(at('http://127.0.0.1:9000', false, 'photos', 'k')).to.deep.include({ path: '/photos/k' });
    expect(at('http://gateway.local/s3/', true, 'photos', 'k')).to.deep.include({ path: '/s3/photos/k' });
    expect(at('https://s3.eu-west-1.amazonaws.com', false)).to.deep.equal({
      origin: 'https://s3.eu-west-1.amazonaws.com',
      host: 's3.eu-west-1.amazonaws.com',
      path: '/',
    });
  });

  it('copies server-side from and to awkward keys (the copy source is encoded once)', async () => {
    const server = await startTestServer();
    const b = s3muxBackend(server);
    try {
      await b.createBucket('copies');
      const src = 'src key+%2F/é!*()~\'"&<>';
      await b.putObject('copies', src, body('copied'), { userMetadata: { m: '1' } }, { size: 6 });
      for (const dst of ['dst key+', '%41/é', src]) {
        const meta = await b.copyObject('copies', src, 'copies', dst, dst === src ? { userMetadata: { m: '2' } } : undefined);
        expect(meta.etag).to.equal(md5('copied'));
        const got = await getObject(b, 'copies', dst);
        expect(got.data.toString()).to.equal('copied');
        expect(got.meta.userMetadata).to.deep.equal({ m: dst === src ? '2' : '1' });
      }
    } finally {
      await b.close();
      await server.stop();
    }
  });

  it('caches credentials and refreshes them within five minutes of expiry', async () => {
    let now = 1_000_000;
    let calls = 0;
    const cache = new CachedCredentials(
      async () => {
        calls++;
        return { accessKeyId: `AK${calls}`, secretAccessKey: 'S', expiration: new Date(now + 10 * 60_000) };
      },
      'test',
      () => now,
    );
    expect((await cache.get()).accessKeyId).to.equal('AK1');
    const [a, b2] = await Promise.all([cache.get(), cache.get()]);
    expect([a.accessKeyId, b2.accessKeyId, calls]).to.deep.equal(['AK1', 'AK1', 1]);
    now += 4 * 60_000; // 6 minutes left
    expect((await cache.get()).accessKeyId).to.equal('AK1');
    now += 2 * 60_000; // 4 minutes left: refresh
    expect((await cache.get()).accessKeyId).to.equal('AK2');
    expect(calls).to.equal(2);
  });

  it('keeps using unexpired credentials when a refresh fails, and fails once they expire', async () => {
    let now = 0;
    let fail = false;
    const cache = new CachedCredentials(
      async () => {
        if (fail) throw new Error('IMDS unreachable');
        return { accessKeyId: 'AK', secretAccessKey: 'S', expiration: new Date(now + 6 * 60_000) };
      },
      'test',
      () => now,
    );
    await cache.get();
    fail = true;
    now += 2 * 60_000;
    expect((await cache.get()).accessKeyId).to.equal('AK');
    now += 5 * 60_000;
    const err = await cache.get().catch((e: unknown) => e);
    expect(err).to.be.instanceOf(S3Error);
    expect(String((err as Error).message)).to.match(/IMDS unreachable/);
  });

  it('signs for a routing-table backend with keys from variables or files; a wrong secret is AccessDenied', async () => {
    const server = await startTestServer();
    try {
      const table = validateRoutingTable({
        backends: {
          up: {
            type: 's3',
            endpoint: server.url,
            forcePathStyle: true,
            credentials: { accessKeyIdEnv: 'T_AK', secretAccessKeyFile: '/nonexistent/secret' },
          },
        },
      });
      expect(() => Router.fromTable(table, { env: { T_AK: 'x' } })).to.throw(/cannot read \/nonexistent\/secret/);
      const good = validateRoutingTable({
        backends: {
          up: {
            type: 's3',
            endpoint: server.url,
            forcePathStyle: true,
            credentials: { accessKeyIdEnv: 'T_AK', secretAccessKeyEnv: 'T_SK' },
          },
        },
      });
      const router = Router.fromTable(good, { env: { T_AK: ACCESS_KEY, T_SK: SECRET_KEY } });
      try {
        const backend = router.defaultBackend;
        expect(backend.kind).to.equal('s3');
        await backend.createBucket('from-table');
        expect((await backend.listBuckets()).map((x) => x.name)).to.include('from-table');
      } finally {
        await router.close();
      }
      const wrong = Router.fromTable(good, { env: { T_AK: ACCESS_KEY, T_SK: 'not-the-secret' } });
      try {
        await expectS3Error(wrong.defaultBackend.listBuckets(), 'AccessDenied');
      } finally {
        await wrong.close();
      }
    } finally {
      await server.stop();
    }
  });

  it('without configured keys, signs with the AWS SDK provider chain (here: its environment step)', async () => {
    const server = await startTestServer();
    const names = ['AWS_ACCESS_KEY_ID', 'AWS_SECRET_ACCESS_KEY', 'AWS_SESSION_TOKEN', 'AWS_PROFILE'];
    const saved = Object.fromEntries(names.map((n) => [n, process.env[n]]));
    const router = Router.fromTable(validateRoutingTable({ backends: { up: { type: 's3', endpoint: server.url, forcePathStyle: true } } }));
    try {
      for (const n of names) delete process.env[n];
      process.env.AWS_ACCESS_KEY_ID = ACCESS_KEY;
      process.env.AWS_SECRET_ACCESS_KEY = SECRET_KEY;
      await router.defaultBackend.createBucket('from-chain');
      expect((await router.defaultBackend.headBucket('from-chain')).name).to.equal('from-chain');
    } finally {
      for (const n of names) {
        if (saved[n] === undefined) delete process.env[n];
        else process.env[n] = saved[n];
      }
      await router.close();
      await server.stop();
    }
  });

  it('reads a lazily ranged GET with If-Match, so bytes and metadata are one version', async () => {
    const server = await startTestServer();
    const b = s3muxBackend(server);
    try {
      await b.createBucket('versions');
      // Over 64 KiB: not read whole when opened (a small object's range comes from its bytes).
      const one = pattern(100 * 1024, 1);
      const two = pattern(100 * 1024, 2);
      await b.putObject('versions', 'k', body(one), { userMetadata: {} }, { size: one.length });
      const h = await b.openObject('versions', 'k');
      await b.putObject('versions', 'k', body(two), { userMetadata: {} }, { size: two.length });
      const err = await readAll(h.read({ start: 0, end: 3 })).catch((e: unknown) => e);
      expect(err).to.be.instanceOf(S3Error);
      await h.close();
      const h2 = await b.openObject('versions', 'k');
      expect(await readAll(h2.read({ start: 8, end: 11 }))).to.deep.equal(two.subarray(8, 12));
      await h2.close();
      // A small one keeps the bytes of the version it was opened at.
      await b.putObject('versions', 's', body('version one'), { userMetadata: {} }, { size: 11 });
      const h3 = await b.openObject('versions', 's');
      await b.putObject('versions', 's', body('version two!'), { userMetadata: {} }, { size: 12 });
      expect((await readAll(h3.read({ start: 8, end: 10 }))).toString()).to.equal('one');
      expect(h3.meta.size).to.equal(11);
      await h3.close();
    } finally {
      await b.close();
      await server.stop();
    }
  });
});
