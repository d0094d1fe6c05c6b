/**
 * A body sent with Content-MD5 is hashed once: the s3 layer checks it against the header as it
 * streams, and the fs backend takes the declared MD5 as the ETag (PutOptions.md5) instead of
 * hashing the same bytes again; a multipart assembly is not hashed at all (its ETag is that of its
 * parts). Counted by wrapping node:crypto's MD5 for the test's duration.
 */
import crypto, { createHash, randomBytes } from 'node:crypto';
import { mkdtempSync, rmSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { expect } from 'chai';
import {
  CompleteMultipartUploadCommand,
  CreateBucketCommand,
  CreateMultipartUploadCommand,
  GetObjectCommand,
  HeadObjectCommand,
  UploadPartCommand,
} from '@aws-sdk/client-s3';
import { Router } from '../../src/router/router';
import { startTestServer, ACCESS_KEY, SECRET_KEY, type TestServer } from '../helpers/server';
import { signedFetch } from '../helpers/sign';
import { errorOf } from '../helpers/errors';

const CREDS = { accessKeyId: ACCESS_KEY, secretAccessKey: SECRET_KEY };
const md5b64 = (b: Buffer) => createHash('md5').update(b).digest('base64');
const md5hex = (b: Buffer) => createHash('md5').update(b).digest('hex');

type Writable<T> = { -readonly [K in keyof T]: T[K] };

/** Bytes passed through MD5 (createHash('md5') and the one-shot hash('md5', ...)) while `fn` runs. */
async function md5BytesDuring(fn: () => Promise<void>): Promise<number> {
  const c = crypto as Writable<typeof crypto>;
  const origCreate = c.createHash;
  const origHash = c.hash;
  let bytes = 0;
  const size = (d: unknown) => (typeof d === 'string' ? Buffer.byteLength(d) : (d as Uint8Array).byteLength);
  c.createHash = (alg: string, opts?: crypto.HashOptions) => {
    const h = origCreate(alg, opts);
    if (alg.toLowerCase() !== 'md5') return h;
    const update = h.update.bind(h) as (d: unknown, e?: unknown) => crypto.Hash;
    h.update = (d: unknown, e?: unknown) => {
      bytes += size(d);
      return update(d, e);
    };
    return h;
  };
  c.hash = ((alg: string, data: crypto.BinaryLike, enc?: crypto.BinaryToTextEncoding) => {
    if (alg.toLowerCase() === 'md5') bytes += size(data);
    return origHash(alg, data, enc);
  }) as typeof crypto.hash;
  try {
    await fn();
  } finally {
    c.createHash = origCreate;
    c.hash = origHash;
  }
  return bytes;
}

describe('fs backend: a body sent with Content-MD5 is hashed once', () => {
  let srv: TestServer;
  let dir: string;
  const Bucket = 'md5-once';
  before(async () => {
    dir = mkdtempSync(path.join(os.tmpdir(), 's3mux-md5-once-'));
    srv = await startTestServer({ router: Router.defaultFor(dir) });
    await srv.s3.send(new CreateBucketCommand({ Bucket }));
  });
  after(async () => {
    await srv.stop();
    rmSync(dir, { recursive: true, force: true });
  });

  for (const [what, size] of [
    ['a small body (read whole)', 4 * 1024],
    ['a streamed body', 3 * 1024 * 1024 + 5],
  ] as const) {
    it(`PUT of ${what}: once with Content-MD5, once without, and the ETag is its MD5`, async () => {
      const body = randomBytes(size);
      const declared = md5b64(body); // before counting: the test's own hashing is not the server's
      let status = 0;
      let etag: string | null = null;
      const withHeader = await md5BytesDuring(async () => {
        const r = await signedFetch(srv.url, CREDS, 'PUT', `/${Bucket}/with-${size}`, { body, headers: { 'content-md5': declared } });
        status = r.status;
        etag = r.headers.etag as string;
      });
      expect(status).to.equal(200);
      expect(etag).to.equal(`"${md5hex(body)}"`);
      expect(withHeader).to.equal(size);
      const without = await md5BytesDuring(async () => {
        const r = await signedFetch(srv.url, CREDS, 'PUT', `/${Bucket}/without-${size}`, { body });
        status = r.status;
      });
      expect(status).to.equal(200);
      expect(without).to.equal(size);
      const head = await srv.s3.send(new HeadObjectCommand({ Bucket, Key: `with-${size}` }));
      expect(head.ETag).to.equal(`"${md5hex(body)}"`);
    });
  }

  it('a streamed body whose Content-MD5 lies: BadDigest, the object before it stays', async () => {
    const first = randomBytes(200 * 1024);
    expect((await signedFetch(srv.url, CREDS, 'PUT', `/${Bucket}/lie`, { body: first })).status).to.equal(200);
    const body = randomBytes(3 * 1024 * 1024);
    const r = await signedFetch(srv.url, CREDS, 'PUT', `/${Bucket}/lie`, {
      body,
      headers: { 'content-md5': md5b64(Buffer.concat([body, Buffer.from('x')])) },
    });
    expect(r.status).to.equal(400);
    expect(r.text).to.contain('<Code>BadDigest</Code>');
    const head = await srv.s3.send(new HeadObjectCommand({ Bucket, Key: 'lie' }));
    expect(head.ETag).to.equal(`"${md5hex(first)}"`);
    expect(head.ContentLength).to.equal(first.length);
    expect((await errorOf(srv.s3.send(new HeadObjectCommand({ Bucket, Key: 'never' })))).$metadata.httpStatusCode).to.equal(404);
  });

  it('UploadPart with Content-MD5: hashed once; a lying one is BadDigest and stores no part', async () => {
    const up = await srv.s3.send(new CreateMultipartUploadCommand({ Bucket, Key: 'mpu' }));
    const part = randomBytes(5 * 1024 * 1024);
    const uploadId = up.UploadId!;
    const declared = md5b64(part);
    let etag: string | null = null;
    const hashed = await md5BytesDuring(async () => {
      const r = await signedFetch(srv.url, CREDS, 'PUT', `/${Bucket}/mpu`, {
        query: { partNumber: '1', uploadId },
        body: part,
        headers: { 'content-md5': declared },
      });
      expect(r.status).to.equal(200);
      etag = r.headers.etag as string;
    });
    expect(etag).to.equal(`"${md5hex(part)}"`);
    expect(hashed).to.equal(part.length);
    const bad = await signedFetch(srv.url, CREDS, 'PUT', `/${Bucket}/mpu`, {
      query: { partNumber: '2', uploadId },
      body: part,
      headers: { 'content-md5': md5b64(Buffer.from('x')) },
    });
    expect(bad.status).to.equal(400);
    expect(bad.text).to.contain('<Code>BadDigest</Code>');
    const list = await signedFetch(srv.url, CREDS, 'GET', `/${Bucket}/mpu`, { query: { uploadId } });
    expect(list.text).to.contain('<PartNumber>1</PartNumber>');
    expect(list.text).not.to.contain('<PartNumber>2</PartNumber>');
  });

  it('CompleteMultipartUpload does not hash the assembled bytes: the ETag is that of the parts', async () => {
    const Key = 'assembled';
    const up = await srv.s3.send(new CreateMultipartUploadCommand({ Bucket, Key }));
    const UploadId = up.UploadId!;
    const parts = [randomBytes(5 * 1024 * 1024), randomBytes(1024 * 1024 + 7)];
    const Parts: { PartNumber: number; ETag?: string }[] = [];
    for (const [i, Body] of parts.entries()) {
      const r = await srv.s3.send(new UploadPartCommand({ Bucket, Key, UploadId, PartNumber: i + 1, Body }));
      Parts.push({ PartNumber: i + 1, ETag: r.ETag });
    }
    let etag: string | undefined;
    const hashed = await md5BytesDuring(async () => {
      etag = (await srv.s3.send(new CompleteMultipartUploadCommand({ Bucket, Key, UploadId, MultipartUpload: { Parts } }))).ETag;
    });
    const ofParts = createHash('md5')
      .update(Buffer.concat(parts.map((p) => createHash('md5').update(p).digest())))
      .digest('hex');
    expect(etag).to.equal(`"${ofParts}-2"`);
    // the parts' MD5s (16 bytes each) for the ETag, never the object's 6 MiB
    expect(hashed).to.be.below(1024);
    const got = await srv.s3.send(new GetObjectCommand({ Bucket, Key }));
    expect(got.ETag).to.equal(`"${ofParts}-2"`);
    expect(Buffer.from(await got.Body!.transformToByteArray()).equals(Buffer.concat(parts))).to.equal(true);
  });
});
