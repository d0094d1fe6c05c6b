/**
 * minio-js (minio npm package) scenario: makeBucket, putObject (buffer and stream), fPutObject
 * multipart, getObject/fGetObject, getPartialObject, statObject, listObjectsV2, copyObject,
 * presignedGetObject / presignedPutObject fetched with plain https, removeObject(s), NoSuchKey,
 * removeBucket.
 */
import { createReadStream, readFileSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { randomBytes } from 'node:crypto';
import { PassThrough } from 'node:stream';
import * as Minio from 'minio';
import {
  env,
  httpsAgent,
  step,
  finish,
  check,
  checkSame,
  expectError,
  readAll,
  md5,
  logWire,
  request,
  etagOk,
  noMetadata,
} from './harness';

const B = env.bucket;
const client = new Minio.Client({
  endPoint: env.host,
  port: env.port,
  useSSL: env.proto === 'https',
  accessKey: env.accessKey,
  secretKey: env.secretKey,
  region: env.region,
  pathStyle: true,
  partSize: 5 * 1024 * 1024,
  ...(env.proto === 'https' ? { transportAgent: httpsAgent } : {}),
});
// minio's own request/response trace feeds the wire log shown when a step fails.
const trace = new PassThrough();
trace.on('data', (c: Buffer) => {
  for (const line of c.toString().split('\n')) if (line.trim() && !/^\s*$/.test(line)) logWire(line);
});
client.traceOn(trace);

const buf = randomBytes(700 * 1024 + 5);
const streamData = randomBytes(2 * 1024 * 1024 + 9);
const streamFile = path.join(env.workDir, 'stream.bin');
const big = randomBytes(12 * 1024 * 1024 + 13);
const bigFile = path.join(env.workDir, 'big.bin');
writeFileSync(streamFile, streamData);
writeFileSync(bigFile, big);

const listAll = (prefix: string, recursive: boolean) =>
  new Promise<Minio.BucketItem[]>((resolve, reject) => {
    const items: Minio.BucketItem[] = [];
    const s = client.listObjectsV2(B, prefix, recursive);
    s.on('data', (i) => items.push(i));
    s.on('error', reject);
    s.on('end', () => resolve(items));
  });

async function main(): Promise<void> {
  console.log(`VERSION minio ${require('minio/package.json').version}`);

  await step(
    'mb',
    async () => {
      await client.makeBucket(B, env.region);
      check(await client.bucketExists(B), 'bucketExists is false after makeBucket');
    },
    { critical: true },
  );

  await step('list-buckets', async () => {
    const names = (await client.listBuckets()).map((b) => b.name);
    check(names.includes(B), `${B} not in listBuckets: ${names.join(', ')}`);
  });

  await step('put', async () => {
    const res = await client.putObject(B, 'buf.bin', buf, buf.length, {
      'Content-Type': 'application/x-e2e',
      ...(noMetadata ? {} : { 'X-Amz-Meta-Color': 'red' }),
    });
    check(etagOk(res.etag, md5(buf)), `putObject etag ${res.etag} is not the MD5 ${md5(buf)}`);
    checkSame(buf, await readAll(await client.getObject(B, 'buf.bin')), 'buf.bin');
  });

  await step('put-stream', async () => {
    // A stream of unknown size: minio uploads it as a multipart upload (here a single part).
    const res = await client.putObject(B, 'dir/stream.bin', createReadStream(streamFile));
    const onePart = `${md5(Buffer.from(md5(streamData), 'hex'))}-1`;
    check(
      etagOk(res.etag, md5(streamData)) || res.etag === onePart,
      `putObject(stream) etag ${res.etag}, expected ${md5(streamData)} or ${onePart}`,
    );
    checkSame(streamData, await readAll(await client.getObject(B, 'dir/stream.bin')), 'dir/stream.bin');
  });

  await step('multipart', async () => {
    // 12 MiB with partSize 5 MiB: three parts.
    const res = await client.fPutObject(B, 'big.bin', bigFile, { 'Content-Type': 'application/octet-stream' });
    check(etagOk(res.etag, /^[0-9a-f]{32}-3$/), `fPutObject etag ${res.etag}, expected <md5>-3`);
    const st = await client.statObject(B, 'big.bin');
    check(st.size === big.length, `statObject size ${st.size}`);
  });

  await step('get', async () => {
    checkSame(buf, await readAll(await client.getObject(B, 'buf.bin')), 'getObject buf.bin');
    const out = path.join(env.workDir, 'big.download');
    await client.fGetObject(B, 'big.bin', out);
    checkSame(big, readFileSync(out), 'fGetObject big.bin');
  });

  await step('range-get', async () => {
    checkSame(buf.subarray(100, 200), await readAll(await client.getPartialObject(B, 'buf.bin', 100, 100)), 'getPartialObject(100, 100)');
    const off = 5 * 1024 * 1024 - 3;
    checkSame(big.subarray(off), await readAll(await client.getPartialObject(B, 'big.bin', off)), 'getPartialObject to the end');
  });

  await step('head', async () => {
    const st = await client.statObject(B, 'buf.bin');
    check(st.size === buf.length, `statObject size ${st.size}`);
    check(etagOk(st.etag, md5(buf)), `statObject etag ${st.etag}`);
    check(noMetadata || st.metaData?.color === 'red', `statObject metaData ${JSON.stringify(st.metaData)}`);
    check(st.metaData?.['content-type'] === 'application/x-e2e', `statObject content-type ${st.metaData?.['content-type']}`);
  });

  await step('list', async () => {
    const top = await listAll('', false);
    const names = top.map((i) => i.name ?? `PRE ${i.prefix}`);
    check(
      JSON.stringify(names) === JSON.stringify(['big.bin', 'buf.bin', 'PRE dir/']),
      `listObjectsV2 non-recursive: ${JSON.stringify(names)}`,
    );
    const all = await listAll('', true);
    check(
      JSON.stringify(all.map((i) => i.name)) === JSON.stringify(['big.bin', 'buf.bin', 'dir/stream.bin']),
      `recursive: ${JSON.stringify(all.map((i) => i.name))}`,
    );
    const bufItem = all.find((i) => i.name === 'buf.bin');
    check(bufItem?.size === buf.length && etagOk(bufItem?.etag, md5(buf)), `listed buf.bin ${JSON.stringify(bufItem)}`);
  });

  await step('copy', async () => {
    await client.copyObject(B, 'copies/buf.bin', `/${B}/buf.bin`);
    checkSame(buf, await readAll(await client.getObject(B, 'copies/buf.bin')), 'copy');
    const st = await client.statObject(B, 'copies/buf.bin');
    check(noMetadata || st.metaData?.color === 'red', `copy lost metadata: ${JSON.stringify(st.metaData)}`);
  });

  await step('presign-get', async () => {
    const url = await client.presignedGetObject(B, 'buf.bin', 300);
    const res = await request(url);
    check(res.status === 200, `presigned GET -> HTTP ${res.status}: ${res.body.subarray(0, 300).toString()}`);
    checkSame(buf, res.body, 'presigned GET');
  });

  await step('presign-put', async () => {
    const url = await client.presignedPutObject(B, 'presigned/up load.bin', 300);
    const res = await request(url, { method: 'PUT', body: streamData });
    check(res.status === 200, `presigned PUT -> HTTP ${res.status}: ${res.body.subarray(0, 300).toString()}`);
    checkSame(streamData, await readAll(await client.getObject(B, 'presigned/up load.bin')), 'object uploaded with a presigned PUT');
  });

  await step('delete', async () => {
    await client.removeObject(B, 'copies/buf.bin');
    await expectError(
      'statObject after removeObject',
      () => client.statObject(B, 'copies/buf.bin'),
      (e) => e?.code === 'NotFound',
    );
  });

  await step('delete-many', async () => {
    const names = ['many/a', 'many/b c', 'many/ü+d'];
    for (const n of names) await client.putObject(B, n, Buffer.from(n));
    const res = await client.removeObjects(B, names);
    const errors = (res ?? []).filter((r) => r && r.Error);
    check(errors.length === 0, `removeObjects errors: ${JSON.stringify(errors)}`);
    const left = await listAll('many/', true);
    check(left.length === 0, `left after removeObjects: ${JSON.stringify(left.map((i) => i.name))}`);
  });

  await step('err-NoSuchKey', async () => {
    await expectError(
      'getObject of a missing key',
      () => client.getObject(B, 'no/such/key'),
      (e) => e?.code === 'NoSuchKey',
    );
  });

  await step('rb', async () => {
    await expectError(
      'removeBucket of a non-empty bucket',
      () => client.removeBucket(B),
      (e) => e?.code === 'BucketNotEmpty',
    );
    const all = await listAll('', true);
    await client.removeObjects(
      B,
      all.map((i) => i.name!),
    );
    await client.removeBucket(B);
    check(!(await client.bucketExists(B)), 'bucketExists is true after removeBucket');
  });

  finish();
}

main().catch((err) => {
  console.log(`OP _scenario FAIL ${(err as Error)?.message ?? String(err)}`);
  console.error(err);
  process.exit(1);
});
