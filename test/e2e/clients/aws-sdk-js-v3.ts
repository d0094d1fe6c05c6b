/**
 * @aws-sdk/client-s3 (v3) scenario with its DEFAULT flexible checksums (CRC32 header on buffers,
 * aws-chunked CRC32 trailers on streams, x-amz-checksum-mode: ENABLED on every GetObject) and
 * @aws-sdk/lib-storage multipart: put (buffer and stream), multipart, get, range, head, metadata,
 * list (delimiter and pagination), copy, DeleteObjects (CRC32, no Content-MD5), delete, NoSuchKey, rb.
 *
 * Presigning is not exercised here: @aws-sdk/s3-request-presigner is not installed (see minio-js).
 */
import { createReadStream, writeFileSync } from 'node:fs';
import { crc32 } from 'node:zlib';
import path from 'node:path';
import { randomBytes } from 'node:crypto';
import { PassThrough, Readable } from 'node:stream';
import {
  S3Client,
  CreateBucketCommand,
  HeadBucketCommand,
  ListBucketsCommand,
  PutObjectCommand,
  GetObjectCommand,
  HeadObjectCommand,
  ListObjectsV2Command,
  paginateListObjectsV2,
  CopyObjectCommand,
  DeleteObjectsCommand,
  DeleteObjectCommand,
  DeleteBucketCommand,
} from '@aws-sdk/client-s3';
import { Upload } from '@aws-sdk/lib-storage';
import { NodeHttpHandler } from '@smithy/node-http-handler';
import { env, httpsAgent, step, finish, check, checkSame, expectError, readAll, md5, logWire, note, etagOk, noMetadata } from './harness';

const B = env.bucket;
const client = new S3Client({
  endpoint: env.endpoint,
  region: env.region,
  forcePathStyle: true,
  credentials: { accessKeyId: env.accessKey, secretAccessKey: env.secretKey },
  maxAttempts: 2,
  requestHandler: new NodeHttpHandler({ connectionTimeout: 10_000, requestTimeout: 120_000, httpsAgent }),
});

// Wire log: the signed request as sent and the raw response status/headers.
interface WireRequest {
  method?: string;
  path?: string;
  query?: Record<string, string>;
  headers: Record<string, string>;
}
interface WireResponse {
  statusCode?: number;
  headers?: Record<string, string>;
}
client.middlewareStack.add(
  (next, context) => async (args) => {
    const req = (args as { request?: WireRequest }).request;
    if (req?.method) {
      const q = req.query && Object.keys(req.query).length ? '?' + new URLSearchParams(req.query).toString() : '';
      logWire(
        `> ${context.commandName}: ${req.method} ${req.path ?? ''}${q}\n  ${Object.entries(req.headers)
          .map(([k, v]) => `${k}: ${v}`)
          .join('\n  ')}`,
      );
    }
    try {
      const out = await next(args);
      const res = (out as { response?: WireResponse }).response;
      if (res?.statusCode) {
        logWire(
          `< ${context.commandName}: HTTP ${res.statusCode} ${Object.entries(res.headers ?? {})
            .filter(([k]) => /^(x-amz-|etag|content-)/i.test(k))
            .map(([k, v]) => `${k}=${v}`)
            .join(' ')}`,
        );
      }
      return out;
    } catch (err) {
      const e = err as { $metadata?: { httpStatusCode?: number }; name?: string; message?: string } | undefined;
      logWire(`< ${context.commandName}: ${e?.$metadata?.httpStatusCode ?? ''} ${e?.name ?? ''}: ${e?.message ?? ''}`);
      throw err;
    }
  },
  { step: 'deserialize', name: 'e2eWireLog', priority: 'low' },
);

const crc32b64 = (b: Buffer) => {
  const out = Buffer.alloc(4);
  out.writeUInt32BE(crc32(b) >>> 0);
  return out.toString('base64');
};
const encodeKey = (k: string) => k.split('/').map(encodeURIComponent).join('/');
async function getBody(Key: string, extra: Record<string, unknown> = {}) {
  const res = await client.send(new GetObjectCommand({ Bucket: B, Key, ...extra }));
  return { res, body: await readAll(res.Body as Readable) };
}

const buf = randomBytes(1024 * 1024 + 3);
const streamData = randomBytes(3 * 1024 * 1024 + 7);
const streamFile = path.join(env.workDir, 'stream.bin');
writeFileSync(streamFile, streamData);
const big = randomBytes(12 * 1024 * 1024 + 11);

async function main(): Promise<void> {
  console.log(`VERSION @aws-sdk/client-s3 ${require('@aws-sdk/client-s3/package.json').version}`);

  await step(
    'mb',
    async () => {
      await client.send(new CreateBucketCommand({ Bucket: B }));
      await client.send(new HeadBucketCommand({ Bucket: B }));
    },
    { critical: true },
  );

  await step('list-buckets', async () => {
    const res = await client.send(new ListBucketsCommand({}));
    const names = (res.Buckets ?? []).map((b) => b.Name);
    check(names.includes(B), `${B} not in ListBuckets: ${names.join(', ')}`);
  });

  await step('put', async () => {
    // Buffer body: the SDK sends x-amz-checksum-crc32 computed over the whole body.
    const res = await client.send(new PutObjectCommand({ Bucket: B, Key: 'buf.bin', Body: buf }));
    check(etagOk(res.ETag, `"${md5(buf)}"`), `PutObject ETag ${res.ETag} is not the quoted MD5 ${md5(buf)}`);
    if (res.ChecksumCRC32 !== undefined)
      check(res.ChecksumCRC32 === crc32b64(buf), `PutObject ChecksumCRC32 ${res.ChecksumCRC32} != ${crc32b64(buf)}`);
    else note('PutObject response has no x-amz-checksum-crc32');
    const { body } = await getBody('buf.bin');
    checkSame(buf, body, 'buf.bin');
  });

  await step('put-stream', async () => {
    // Stream body: aws-chunked with an x-amz-checksum-crc32 trailer (STREAMING-UNSIGNED-PAYLOAD-TRAILER).
    const res = await client.send(
      new PutObjectCommand({
        Bucket: B,
        Key: 'stream.bin',
        Body: createReadStream(streamFile),
        ContentLength: streamData.length,
      }),
    );
    check(
      etagOk(res.ETag, `"${md5(streamData)}"`),
      `PutObject(stream) ETag ${res.ETag} is not the MD5 of the payload: aws-chunked framing stored?`,
    );
    const { res: got, body } = await getBody('stream.bin');
    checkSame(streamData, body, 'stream.bin (aws-chunked framing stored in the object?)');
    check(got.ContentLength === streamData.length, `ContentLength ${got.ContentLength}`);
  });

  await step('multipart', async () => {
    // lib-storage with a stream of unknown length: CreateMultipartUpload, 3 x UploadPart, Complete.
    const source = new PassThrough();
    const upload = new Upload({
      client,
      params: { Bucket: B, Key: 'multipart.bin', Body: source, ContentType: 'application/x-e2e' },
      partSize: 5 * 1024 * 1024,
      queueSize: 2,
      leavePartsOnError: false,
    });
    Readable.from(
      (function* () {
        for (let i = 0; i < big.length; i += 64 * 1024) yield big.subarray(i, i + 64 * 1024);
      })(),
    ).pipe(source);
    const res = await upload.done();
    check(etagOk(res.ETag, /^"[0-9a-f]{32}-3"$/), `multipart ETag ${res.ETag}, expected "<md5>-3"`);
    const { res: got, body } = await getBody('multipart.bin');
    checkSame(big, body, 'multipart.bin');
    check(got.ContentType === 'application/x-e2e', `ContentType ${got.ContentType}`);
  });

  await step('get', async () => {
    for (const [key, data] of [
      ['buf.bin', buf],
      ['stream.bin', streamData],
      ['multipart.bin', big],
    ] as const) {
      const { res, body } = await getBody(key);
      checkSame(data, body, key);
      check(res.ContentLength === data.length, `${key} ContentLength ${res.ContentLength}`);
    }
    const { res } = await getBody('buf.bin');
    if (res.ChecksumCRC32 !== undefined) check(res.ChecksumCRC32 === crc32b64(buf), `GetObject ChecksumCRC32 ${res.ChecksumCRC32}`);
  });

  await step('range-get', async () => {
    const { res, body } = await getBody('buf.bin', { Range: 'bytes=100-199' });
    checkSame(buf.subarray(100, 200), body, 'Range bytes=100-199');
    check(res.ContentRange === `bytes 100-199/${buf.length}`, `ContentRange ${res.ContentRange}`);
    const tail = await getBody('multipart.bin', { Range: `bytes=${5 * 1024 * 1024 - 5}-${5 * 1024 * 1024 + 4}` });
    checkSame(big.subarray(5 * 1024 * 1024 - 5, 5 * 1024 * 1024 + 5), tail.body, 'range across a part boundary');
  });

  await step('metadata', async () => {
    await client.send(
      new PutObjectCommand({
        Bucket: B,
        Key: 'dir/meta.txt',
        Body: 'hello',
        ContentType: 'text/plain',
        Metadata: { color: 'green', 'x-y': 'z w' },
        CacheControl: 'no-cache',
      }),
    );
    const res = await client.send(new HeadObjectCommand({ Bucket: B, Key: 'dir/meta.txt' }));
    const sorted = (m: Record<string, string> = {}) => JSON.stringify(Object.entries(m).sort());
    check(sorted(res.Metadata) === sorted({ color: 'green', 'x-y': 'z w' }), `Metadata ${JSON.stringify(res.Metadata)}`);
    check(res.ContentType === 'text/plain', `ContentType ${res.ContentType}`);
    check(res.CacheControl === 'no-cache', `CacheControl ${res.CacheControl}`);
  });

  await step('head', async () => {
    const res = await client.send(new HeadObjectCommand({ Bucket: B, Key: 'buf.bin' }));
    check(res.ContentLength === buf.length, `ContentLength ${res.ContentLength}`);
    check(etagOk(res.ETag, `"${md5(buf)}"`), `ETag ${res.ETag}`);
    check(
      res.LastModified instanceof Date && Math.abs(Date.now() - res.LastModified.getTime()) < 600_000,
      `LastModified ${String(res.LastModified)}`,
    );
  });

  const pagedKeys = Array.from({ length: 13 }, (_, i) => `paged/k ${String(i).padStart(2, '0')}+ü.txt`);
  await step('list', async () => {
    // Where the metadata step did not run (a store gap), its object without metadata.
    if (noMetadata) await client.send(new PutObjectCommand({ Bucket: B, Key: 'dir/meta.txt', Body: 'hello', ContentType: 'text/plain' }));
    const res = await client.send(new ListObjectsV2Command({ Bucket: B, Delimiter: '/' }));
    const keys = (res.Contents ?? []).map((o) => o.Key);
    const prefixes = (res.CommonPrefixes ?? []).map((p) => p.Prefix);
    check(JSON.stringify(keys) === JSON.stringify(['buf.bin', 'multipart.bin', 'stream.bin']), `keys ${JSON.stringify(keys)}`);
    check(JSON.stringify(prefixes) === JSON.stringify(['dir/']), `CommonPrefixes ${JSON.stringify(prefixes)}`);
    const sizes = Object.fromEntries((res.Contents ?? []).map((o) => [o.Key, o.Size]));
    check(sizes['buf.bin'] === buf.length && sizes['multipart.bin'] === big.length, `sizes ${JSON.stringify(sizes)}`);
  });

  await step('list-paged', async () => {
    await Promise.all(pagedKeys.map((Key) => client.send(new PutObjectCommand({ Bucket: B, Key, Body: Key }))));
    const keys: string[] = [];
    let pages = 0;
    for await (const page of paginateListObjectsV2({ client, pageSize: 4 }, { Bucket: B, Prefix: 'paged/' })) {
      pages++;
      keys.push(...(page.Contents ?? []).map((o) => o.Key!));
      check(pages <= 10, 'more than 10 pages');
    }
    check(pages === 4, `13 keys in pages of 4: ${pages} pages`);
    check(JSON.stringify(keys) === JSON.stringify([...pagedKeys].sort()), `keys ${JSON.stringify(keys)}`);
  });

  await step('copy', async () => {
    const res = await client.send(
      new CopyObjectCommand({ Bucket: B, Key: 'copies/buf copy.bin', CopySource: `${B}/${encodeKey('buf.bin')}` }),
    );
    check(etagOk(res.CopyObjectResult?.ETag, `"${md5(buf)}"`), `CopyObject ETag ${res.CopyObjectResult?.ETag}`);
    const { body } = await getBody('copies/buf copy.bin');
    checkSame(buf, body, 'copy');
    await client.send(new CopyObjectCommand({ Bucket: B, Key: 'copies/paged.txt', CopySource: `${B}/${encodeKey(pagedKeys[0])}` }));
    const again = await getBody('copies/paged.txt');
    check(again.body.toString() === pagedKeys[0], 'copy of a key with space, plus and unicode differs');
  });

  await step('delete-many', async () => {
    // JS v3 sends x-amz-checksum-crc32 and no Content-MD5 on DeleteObjects.
    const res = await client.send(new DeleteObjectsCommand({ Bucket: B, Delete: { Objects: pagedKeys.map((Key) => ({ Key })) } }));
    check((res.Errors ?? []).length === 0, `DeleteObjects errors ${JSON.stringify(res.Errors)}`);
    check((res.Deleted ?? []).length === pagedKeys.length, `DeleteObjects deleted ${(res.Deleted ?? []).length}`);
    const left = await client.send(new ListObjectsV2Command({ Bucket: B, Prefix: 'paged/' }));
    check((left.KeyCount ?? 0) === 0, `${left.KeyCount} keys left`);
  });

  await step('delete', async () => {
    await client.send(new DeleteObjectCommand({ Bucket: B, Key: 'copies/buf copy.bin' }));
    await expectError(
      'HeadObject after delete',
      () => client.send(new HeadObjectCommand({ Bucket: B, Key: 'copies/buf copy.bin' })),
      (e) => e?.$metadata?.httpStatusCode === 404,
    );
  });

  await step('err-NoSuchKey', async () => {
    await expectError(
      'GetObject of a missing key',
      () => client.send(new GetObjectCommand({ Bucket: B, Key: 'no/such/key' })),
      (e) => e?.name === 'NoSuchKey' && e?.$metadata?.httpStatusCode === 404,
    );
  });

  await step('rb', async () => {
    for (;;) {
      const res = await client.send(new ListObjectsV2Command({ Bucket: B }));
      const objs = (res.Contents ?? []).map((o) => ({ Key: o.Key! }));
      if (objs.length === 0) break;
      await client.send(new DeleteObjectsCommand({ Bucket: B, Delete: { Objects: objs, Quiet: true } }));
    }
    await client.send(new DeleteBucketCommand({ Bucket: B }));
    await expectError(
      'HeadBucket after DeleteBucket',
      () => client.send(new HeadBucketCommand({ Bucket: B })),
      (e) => e?.$metadata?.httpStatusCode === 404,
    );
  });

  note('presign not exercised with the v3 SDK: @aws-sdk/s3-request-presigner is not installed (minio-js covers presigned URLs)');
  client.destroy();
  finish();
}

main().catch((err) => {
  console.log(`OP _scenario FAIL ${(err as Error)?.message ?? String(err)}`);
  console.error(err);
  process.exit(1);
});
