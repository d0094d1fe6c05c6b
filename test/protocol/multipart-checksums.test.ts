/**
 * The checksum a multipart upload promises its object (x-amz-checksum-algorithm and
 * x-amz-checksum-type on CreateMultipartUpload): COMPOSITE (the algorithm over the parts'
 * digests, `-N`) and FULL_OBJECT (the CRC of the whole object), as S3 makes them, kept with the
 * object, and S3's refusals around them. The expected values are computed here from the bytes
 * (node's zlib.crc32 and crypto), not by s3mux's code; CRC64NVME by s3mux's hasher, whose check
 * value test/unit/checksums.test.ts holds.
 */
import { createHash, randomBytes } from 'node:crypto';
import * as zlib from 'node:zlib';
import { expect } from 'chai';
import {
  AbortMultipartUploadCommand,
  CompleteMultipartUploadCommand,
  CreateBucketCommand,
  CreateMultipartUploadCommand,
  GetObjectAttributesCommand,
  GetObjectCommand,
  HeadObjectCommand,
  ListMultipartUploadsCommand,
  ListPartsCommand,
  PutObjectCommand,
  UploadPartCommand,
  UploadPartCopyCommand,
  type ChecksumAlgorithm,
  type ChecksumType,
  type CompletedPart,
} from '@aws-sdk/client-s3';
import { startTestServer, ACCESS_KEY, SECRET_KEY, type TestServer } from '../helpers/server';
import { signedFetch } from '../helpers/sign';
import { errorOf } from '../helpers/errors';
import { checksumBase64 } from '../../src/s3/checksums';

const MiB = 1024 * 1024;
const crc32 = (b: Buffer) => {
  const out = Buffer.alloc(4);
  out.writeUInt32BE(zlib.crc32(b) >>> 0);
  return out;
};
const sha256 = (b: Buffer) => createHash('sha256').update(b).digest();

describe('protocol: multipart upload checksums', () => {
  let srv: TestServer;
  const Bucket = 'mp-checksums';
  const creds = { accessKeyId: ACCESS_KEY, secretAccessKey: SECRET_KEY };
  before(async () => {
    srv = await startTestServer();
    await srv.s3.send(new CreateBucketCommand({ Bucket }));
  });
  after(async () => {
    await srv.stop();
  });

  const parts = [randomBytes(5 * MiB), randomBytes(MiB + 77)];

  /** Creates the upload and sends the parts (each with the algorithm's checksum when `withChecksums`). */
  async function upload(Key: string, algorithm: ChecksumAlgorithm, type?: ChecksumType, withChecksums = true) {
    const created = await srv.s3.send(new CreateMultipartUploadCommand({ Bucket, Key, ChecksumAlgorithm: algorithm, ChecksumType: type }));
    const UploadId = created.UploadId!;
    const done: CompletedPart[] = [];
    // Without checksums, parts go through a client that adds none (the SDK's default adds a CRC32).
    const client = withChecksums ? srv.s3 : srv.presigner;
    for (let i = 0; i < parts.length; i++) {
      const r = await client.send(
        new UploadPartCommand({
          Bucket,
          Key,
          UploadId,
          PartNumber: i + 1,
          Body: parts[i],
          ...(withChecksums ? { ChecksumAlgorithm: algorithm } : {}),
        }),
      );
      const field = `Checksum${algorithm}` as keyof typeof r;
      done.push({ PartNumber: i + 1, ETag: r.ETag, ...(withChecksums ? { [field]: r[field] } : {}) });
    }
    return { created, UploadId, done };
  }

  it('COMPOSITE CRC32 and SHA256: the digest of the parts\u2019 digests, with -N on Complete, HEAD and ListParts, without it on GetObjectAttributes', async () => {
    for (const [algorithm, digest] of [
      ['CRC32', crc32],
      ['SHA256', sha256],
    ] as const) {
      const Key = `composite-${algorithm}`;
      const { created, UploadId, done } = await upload(Key, algorithm);
      expect([created.ChecksumAlgorithm, created.ChecksumType]).to.deep.equal([algorithm, 'COMPOSITE']);
      const expected = `${digest(Buffer.concat(parts.map(digest))).toString('base64')}-2`;
      const field = `Checksum${algorithm}` as const;
      expect(done.map((p) => p[field])).to.deep.equal(parts.map((p) => digest(p).toString('base64')));
      const listed = await srv.s3.send(new ListPartsCommand({ Bucket, Key, UploadId }));
      expect([listed.ChecksumAlgorithm, listed.ChecksumType]).to.deep.equal([algorithm, 'COMPOSITE']);
      expect(listed.Parts!.map((p) => p[field])).to.deep.equal(done.map((p) => p[field]));
      const completed = await srv.s3.send(new CompleteMultipartUploadCommand({ Bucket, Key, UploadId, MultipartUpload: { Parts: done } }));
      expect([completed[field], completed.ChecksumType]).to.deep.equal([expected, 'COMPOSITE']);
      const head = await srv.s3.send(new HeadObjectCommand({ Bucket, Key, ChecksumMode: 'ENABLED' }));
      expect([head[field], head.ChecksumType]).to.deep.equal([expected, 'COMPOSITE']);
      // GetObjectAttributes gives the digest without its -N (LocalStack's AWS-validated test_multipart_upload_checksum).
      const attrs = await srv.s3.send(new GetObjectAttributesCommand({ Bucket, Key, ObjectAttributes: ['Checksum'] }));
      expect([attrs.Checksum?.[field], attrs.Checksum?.ChecksumType]).to.deep.equal([expected.replace(/-2$/, ''), 'COMPOSITE']);
    }
  });

  it('GET and HEAD of one part of a COMPOSITE object give that part’s checksum, as S3 does (localstack#12842, recorded against AWS)', async () => {
    const Key = 'composite-part-SHA256';
    const { UploadId, done } = await upload(Key, 'SHA256');
    await srv.s3.send(new CompleteMultipartUploadCommand({ Bucket, Key, UploadId, MultipartUpload: { Parts: done } }));
    for (const PartNumber of [1, 2]) {
      const own = sha256(parts[PartNumber - 1]).toString('base64');
      const head = await srv.s3.send(new HeadObjectCommand({ Bucket, Key, ChecksumMode: 'ENABLED', PartNumber }));
      expect([head.ContentLength, head.ChecksumSHA256, head.ChecksumType], `HEAD part ${PartNumber}`).to.deep.equal([
        parts[PartNumber - 1].length,
        own,
        'COMPOSITE',
      ]);
      // The SDK checks the bytes it receives against the checksum given.
      const got = await srv.s3.send(new GetObjectCommand({ Bucket, Key, ChecksumMode: 'ENABLED', PartNumber }));
      expect(Buffer.from(await got.Body!.transformToByteArray()).equals(parts[PartNumber - 1])).to.equal(true);
      expect([got.ChecksumSHA256, got.ChecksumType], `GET part ${PartNumber}`).to.deep.equal([own, 'COMPOSITE']);
    }
    // Without checksum mode, none.
    const plain = await srv.s3.send(new HeadObjectCommand({ Bucket, Key, PartNumber: 1 }));
    expect(plain.ChecksumSHA256).to.equal(undefined);
  });

  it('FULL_OBJECT CRC32 and CRC64NVME: the CRC of the whole object, from parts sent with or without checksums', async () => {
    const whole = Buffer.concat(parts);
    for (const [algorithm, type, withChecksums, expected] of [
      ['CRC32', 'FULL_OBJECT', true, crc32(whole).toString('base64')],
      ['CRC64NVME', undefined, false, checksumBase64('crc64nvme', whole)],
    ] as const) {
      const Key = `full-${algorithm}`;
      const { created, UploadId, done } = await upload(Key, algorithm, type, withChecksums);
      expect([created.ChecksumAlgorithm, created.ChecksumType]).to.deep.equal([algorithm, 'FULL_OBJECT']);
      const field = `Checksum${algorithm}` as const;
      const completed = await srv.s3.send(new CompleteMultipartUploadCommand({ Bucket, Key, UploadId, MultipartUpload: { Parts: done } }));
      expect([completed[field], completed.ChecksumType], algorithm).to.deep.equal([expected, 'FULL_OBJECT']);
      const head = await srv.s3.send(new HeadObjectCommand({ Bucket, Key, ChecksumMode: 'ENABLED' }));
      expect([head[field], head.ChecksumType], algorithm).to.deep.equal([expected, 'FULL_OBJECT']);
      // One part is not the whole object: HEAD, as GET, does not give it the object's checksum.
      for (const PartNumber of [1, 2]) {
        const part = await srv.s3.send(new HeadObjectCommand({ Bucket, Key, ChecksumMode: 'ENABLED', PartNumber }));
        expect([part.ContentLength, part[field], part.ChecksumType], `${algorithm} part ${PartNumber}`).to.deep.equal([
          parts[PartNumber - 1].length,
          undefined,
          undefined,
        ]);
        const got = await srv.s3.send(new GetObjectCommand({ Bucket, Key, ChecksumMode: 'ENABLED', PartNumber }));
        await got.Body!.transformToByteArray();
        expect([got[field], got.ChecksumType], `${algorithm} GET part ${PartNumber}`).to.deep.equal([undefined, undefined]);
      }
    }
  });

  it('UploadPartCopy into an upload with a checksum: the copied part gets that algorithm\u2019s checksum, which completes it', async () => {
    const source = randomBytes(3000);
    await srv.s3.send(new PutObjectCommand({ Bucket, Key: 'copy-source', Body: source }));
    const Key = 'copied-part';
    const { UploadId } = await srv.s3.send(new CreateMultipartUploadCommand({ Bucket, Key, ChecksumAlgorithm: 'CRC32C' }));
    const copied = await srv.s3.send(
      new UploadPartCopyCommand({
        Bucket,
        Key,
        UploadId,
        PartNumber: 1,
        CopySource: `${Bucket}/copy-source`,
        CopySourceRange: 'bytes=100-1099',
      }),
    );
    const partCrc = checksumBase64('crc32c', source.subarray(100, 1100));
    expect(copied.CopyPartResult?.ChecksumCRC32C).to.equal(partCrc);
    const done = await srv.s3.send(
      new CompleteMultipartUploadCommand({
        Bucket,
        Key,
        UploadId,
        MultipartUpload: { Parts: [{ PartNumber: 1, ETag: copied.CopyPartResult!.ETag, ChecksumCRC32C: partCrc }] },
      }),
    );
    expect(done.ChecksumCRC32C).to.equal(`${checksumBase64('crc32c', Buffer.from(partCrc, 'base64'))}-1`);
  });

  it('checks the object checksum a Complete states: the right one completes, a wrong one is BadDigest and completes nothing', async () => {
    const Key = 'stated-full-object';
    const { UploadId, done } = await upload(Key, 'CRC32', 'FULL_OBJECT');
    const wrong = await errorOf(
      srv.s3.send(
        new CompleteMultipartUploadCommand({
          Bucket,
          Key,
          UploadId,
          ChecksumCRC32: crc32(parts[0]).toString('base64'),
          MultipartUpload: { Parts: done },
        }),
      ),
    );
    expect([wrong.name, wrong.$metadata.httpStatusCode]).to.deep.equal(['BadDigest', 400]);
    expect((await errorOf(srv.s3.send(new HeadObjectCommand({ Bucket, Key })))).name).to.equal('NotFound');
    const right = crc32(Buffer.concat(parts)).toString('base64');
    const ok = await srv.s3.send(
      new CompleteMultipartUploadCommand({
        Bucket,
        Key,
        UploadId,
        ChecksumCRC32: right,
        ChecksumType: 'FULL_OBJECT',
        MultipartUpload: { Parts: done },
      }),
    );
    expect(ok.ChecksumCRC32).to.equal(right);
  });

  it('refuses what S3 refuses: a type the algorithm cannot have, a part of another algorithm, a composite Complete without part checksums, another mode', async () => {
    const create = (headers: Record<string, string>) =>
      signedFetch(srv.url, creds, 'POST', `/${Bucket}/refused`, { query: { uploads: '' }, headers });
    const refused: Array<Record<string, string>> = [
      { 'x-amz-checksum-algorithm': 'SHA256', 'x-amz-checksum-type': 'FULL_OBJECT' },
      { 'x-amz-checksum-algorithm': 'CRC64NVME', 'x-amz-checksum-type': 'COMPOSITE' },
      { 'x-amz-checksum-type': 'COMPOSITE' },
      { 'x-amz-checksum-algorithm': 'CRC32', 'x-amz-checksum-type': 'PARTIAL' },
    ];
    for (const headers of refused) {
      const r = await create(headers);
      expect([r.status, /<Code>(\w+)<\/Code>/.exec(r.text)?.[1]], JSON.stringify(headers)).to.deep.equal([400, 'InvalidRequest']);
    }

    const Key = 'mismatch';
    const { UploadId } = await srv.s3.send(new CreateMultipartUploadCommand({ Bucket, Key, ChecksumAlgorithm: 'CRC32' }));
    const other = await errorOf(
      srv.s3.send(new UploadPartCommand({ Bucket, Key, UploadId, PartNumber: 1, Body: parts[1], ChecksumAlgorithm: 'SHA256' })),
    );
    expect([other.name, other.$metadata.httpStatusCode]).to.deep.equal(['InvalidRequest', 400]);
    const part = await srv.s3.send(
      new UploadPartCommand({ Bucket, Key, UploadId, PartNumber: 1, Body: parts[1], ChecksumAlgorithm: 'CRC32' }),
    );
    const missing = await errorOf(
      srv.s3.send(
        new CompleteMultipartUploadCommand({ Bucket, Key, UploadId, MultipartUpload: { Parts: [{ PartNumber: 1, ETag: part.ETag }] } }),
      ),
    );
    expect([missing.name, missing.message]).to.deep.equal([
      'InvalidRequest',
      'The upload was created using a crc32 checksum. The complete request must include the checksum for each part. It was missing for part 1 in the request.',
    ]);
    const mode = await errorOf(
      srv.s3.send(
        new CompleteMultipartUploadCommand({
          Bucket,
          Key,
          UploadId,
          ChecksumType: 'FULL_OBJECT',
          MultipartUpload: { Parts: [{ PartNumber: 1, ETag: part.ETag, ChecksumCRC32: part.ChecksumCRC32 }] },
        }),
      ),
    );
    expect([mode.name, mode.$metadata.httpStatusCode]).to.deep.equal(['InvalidRequest', 400]);
    await srv.s3.send(new AbortMultipartUploadCommand({ Bucket, Key, UploadId }));
  });

  /** Sends a Complete with the XML written out, so a part may name any checksum elements. */
  async function completeRaw(Key: string, UploadId: string, partsXml: string, headers: Record<string, string> = {}) {
    const body = `<CompleteMultipartUpload>${partsXml}</CompleteMultipartUpload>`;
    const r = await signedFetch(srv.url, creds, 'POST', `/${Bucket}/${Key}`, { query: { uploadId: UploadId }, headers, body });
    return [r.status, /<Code>(\w+)<\/Code>/.exec(r.text)?.[1], /<Message>([^<]*)<\/Message>/.exec(r.text)?.[1]];
  }
  const partXml = (n: number, etag: string, elements: Record<string, string>) =>
    `<Part><PartNumber>${n}</PartNumber><ETag>${etag}</ETag>${Object.entries(elements)
      .map(([el, v]) => `<${el}>${v}</${el}>`)
      .join('')}</Part>`;

  it('refuses a Complete\u2019s stated object checksum as S3 does: malformed or more than one is InvalidRequest, before any other check', async () => {
    const Key = 'stated-malformed';
    const { UploadId, done } = await upload(Key, 'CRC32', 'COMPOSITE');
    const xml = done.map((p) => partXml(p.PartNumber!, p.ETag!, { ChecksumCRC32: p.ChecksumCRC32! })).join('');
    for (const value of ['invalid_checksum', 'ImIEBA==-smth', 'ImIEBA==-10-20', 'ImIEBA==--3', 'ImIEBA==-0', 'AAAAAAAA']) {
      expect(await completeRaw(Key, UploadId, xml, { 'x-amz-checksum-crc32': value }), value).to.deep.equal([
        400,
        'InvalidRequest',
        'Value for x-amz-checksum-crc32 header is invalid.',
      ]);
    }
    expect(
      await completeRaw(Key, UploadId, xml, { 'x-amz-checksum-crc32': 'sGc9Hg==', 'x-amz-checksum-crc32c': '/2NsFg==' }),
    ).to.deep.equal([400, 'InvalidRequest', 'Expecting a single x-amz-checksum- header. Multiple checksum Types are not allowed.']);
    // A well-formed wrong value is still BadDigest, and the right one (with or without -N) completes.
    expect((await completeRaw(Key, UploadId, xml, { 'x-amz-checksum-crc32': 'ImIEBA==-2' })).slice(0, 2)).to.deep.equal([400, 'BadDigest']);
    const digests = Buffer.concat(done.map((p) => Buffer.from(p.ChecksumCRC32!, 'base64')));
    const right = `${crc32(digests).toString('base64')}-2`;
    expect((await completeRaw(Key, UploadId, xml, { 'x-amz-checksum-crc32': right }))[0]).to.equal(200);
  });

  it('refuses a Complete\u2019s part checksums as S3 does: bad base64 or two for a part, a part number below 1, a checksum the part was not sent with', async () => {
    const Key = 'part-elements';
    const { UploadId, done } = await upload(Key, 'CRC32', 'FULL_OBJECT');
    const [one, two] = done;
    const second = partXml(2, two.ETag!, { ChecksumCRC32: two.ChecksumCRC32! });
    const invalid = [400, 'InvalidArgument', 'Invalid Base64 or multiple checksums present in request'];
    expect(await completeRaw(Key, UploadId, partXml(1, one.ETag!, { ChecksumCRC32: 'invalid_checksum' }) + second)).to.deep.equal(invalid);
    expect(
      await completeRaw(
        Key,
        UploadId,
        partXml(1, one.ETag!, { ChecksumCRC32: one.ChecksumCRC32!, ChecksumSHA1: 'Kq5sNclPz7QV2+lfQIuc6R7oRu0=' }) + second,
      ),
    ).to.deep.equal(invalid);
    expect(await completeRaw(Key, UploadId, partXml(-4, one.ETag!, {}))).to.deep.equal([
      400,
      'InvalidArgument',
      'PartNumber must be &gt;= 1',
    ]);
    // Part 1 was sent with a CRC32: a SHA256 named for it is not what was received.
    const sha = 'n2alat9FhKiZXkZO18V2LLcZFM3IT8R7DjSMvK//7WU=';
    expect(await completeRaw(Key, UploadId, partXml(1, one.ETag!, { ChecksumSHA256: sha }) + second)).to.deep.equal([
      400,
      'BadDigest',
      'The sha256 you specified for part 1 did not match what we received.',
    ]);
    expect((await errorOf(srv.s3.send(new HeadObjectCommand({ Bucket, Key })))).name).to.equal('NotFound');
    expect((await completeRaw(Key, UploadId, partXml(1, one.ETag!, { ChecksumCRC32: one.ChecksumCRC32! }) + second))[0]).to.equal(200);
  });

  it('takes a part named with a checksum it was not uploaded with as a part it does not have (InvalidPart), as S3 does: a wrong value of the upload\u2019s algorithm, or any checksum in an upload created without one', async () => {
    const invalidPart =
      'One or more of the specified parts could not be found.  The part may not have been uploaded, or the specified entity tag may not match the part&apos;s entity tag.';
    const Key = 'wrong-part-value';
    const { UploadId, done } = await upload(Key, 'CRC32', 'COMPOSITE');
    const [one, two] = done;
    const second = partXml(2, two.ETag!, { ChecksumCRC32: two.ChecksumCRC32! });
    expect(await completeRaw(Key, UploadId, partXml(1, one.ETag!, { ChecksumCRC32: 'AAAAAA==' }) + second)).to.deep.equal([
      400,
      'InvalidPart',
      invalidPart,
    ]);
    expect((await completeRaw(Key, UploadId, partXml(1, one.ETag!, { ChecksumCRC32: one.ChecksumCRC32! }) + second))[0]).to.equal(200);

    // No algorithm on the upload: the SDK's default still sends a CRC32 with the part, and S3
    // answers InvalidPart to a Complete that names it (or any other), even with its right value.
    const plain = 'no-algorithm';
    const created = await srv.s3.send(new CreateMultipartUploadCommand({ Bucket, Key: plain }));
    const body = parts[1];
    const sent = await srv.s3.send(
      new UploadPartCommand({ Bucket, Key: plain, UploadId: created.UploadId, PartNumber: 1, Body: body, ChecksumAlgorithm: 'CRC32' }),
    );
    const nameds: Array<Record<string, string>> = [
      { ChecksumCRC32: crc32(body).toString('base64') },
      { ChecksumSHA256: sha256(body).toString('base64') },
    ];
    for (const named of nameds) {
      expect(await completeRaw(plain, created.UploadId!, partXml(1, sent.ETag!, named)), JSON.stringify(named)).to.deep.equal([
        400,
        'InvalidPart',
        invalidPart,
      ]);
    }
    expect((await completeRaw(plain, created.UploadId!, partXml(1, sent.ETag!, {})))[0]).to.equal(200);
  });

  it('ListMultipartUploads names each upload\u2019s checksum algorithm and type after Initiated, as S3 does; an upload without one names none', async () => {
    const Prefix = 'listed-';
    const asked = [
      ['listed-crc32', 'CRC32', undefined],
      ['listed-crc64nvme', 'CRC64NVME', undefined],
      ['listed-sha1', 'SHA1', 'COMPOSITE'],
      ['listed-plain', undefined, undefined],
    ] as const;
    const ids: string[] = [];
    for (const [Key, ChecksumAlgorithm, ChecksumType] of asked)
      ids.push((await srv.s3.send(new CreateMultipartUploadCommand({ Bucket, Key, ChecksumAlgorithm, ChecksumType }))).UploadId!);
    // A store without a reserved area keeps no upload's checksum (a declared gap): its listings name none.
    const kept = srv.router.defaultBackend.reserved !== undefined;
    const listed = await srv.s3.send(new ListMultipartUploadsCommand({ Bucket, Prefix }));
    expect(listed.Uploads!.map((u) => [u.Key, u.ChecksumAlgorithm, u.ChecksumType])).to.deep.equal(
      kept
        ? [
            ['listed-crc32', 'CRC32', 'COMPOSITE'],
            ['listed-crc64nvme', 'CRC64NVME', 'FULL_OBJECT'],
            ['listed-plain', undefined, undefined],
            ['listed-sha1', 'SHA1', 'COMPOSITE'],
          ]
        : asked.map(([Key]) => [Key, undefined, undefined]).sort(),
    );
    const xml = (await signedFetch(srv.url, creds, 'GET', `/${Bucket}`, { query: { uploads: '', prefix: 'listed-crc32' } })).text;
    if (kept)
      expect(xml).to.match(/<\/Initiated><ChecksumAlgorithm>CRC32<\/ChecksumAlgorithm><ChecksumType>COMPOSITE<\/ChecksumType><\/Upload>/);
    for (const [i, [Key]] of asked.entries()) await srv.s3.send(new AbortMultipartUploadCommand({ Bucket, Key, UploadId: ids[i] }));
  });
  it('judges the x-amz-checksum-* headers before the algorithm they must agree with, as S3 answers (swift\u2019s test/s3api/test_object_checksums.py, run against AWS)', async () => {
    const body = '123456789';
    const errorOfRaw = (r: { status: number; text: string }) => [
      r.status,
      /<Code>(\w+)<\/Code>/.exec(r.text)?.[1],
      /<Message>([^<]*)<\/Message>/.exec(r.text)?.[1],
    ];
    // A CRC32 value under x-amz-sdk-checksum-algorithm: SHA1 (both sent by an SDK asked for SHA1).
    const put = await signedFetch(srv.url, creds, 'PUT', `/${Bucket}/sdk-algorithm-mismatch`, {
      headers: { 'x-amz-checksum-crc32': 'y/Q5Jg==', 'x-amz-sdk-checksum-algorithm': 'SHA1' },
      body,
    });
    expect(errorOfRaw(put)).to.deep.equal([400, 'InvalidRequest', 'Value for x-amz-sdk-checksum-algorithm header is invalid.']);
    expect(
      (await errorOf(srv.s3.send(new HeadObjectCommand({ Bucket, Key: 'sdk-algorithm-mismatch' })))).$metadata.httpStatusCode,
    ).to.equal(404);
    // Two checksum headers on a part of a CRC32C upload: the two headers are refused, not the CRC32.
    const Key = 'part-two-headers';
    const { UploadId } = await srv.s3.send(new CreateMultipartUploadCommand({ Bucket, Key, ChecksumAlgorithm: 'CRC32C' }));
    const part = await signedFetch(srv.url, creds, 'PUT', `/${Bucket}/${Key}`, {
      query: { partNumber: '1', uploadId: UploadId! },
      headers: { 'x-amz-checksum-crc32': 'y/Q5Jg==', 'x-amz-checksum-crc32c': '4waSgw==' },
      body,
    });
    expect(errorOfRaw(part)).to.deep.equal([
      400,
      'InvalidRequest',
      'Expecting a single x-amz-checksum- header. Multiple checksum Types are not allowed.',
    ]);
    await srv.s3.send(new AbortMultipartUploadCommand({ Bucket, Key, UploadId }));
  });
});
