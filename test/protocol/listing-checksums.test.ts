/**
 * The checksum a listing names for each object: S3 writes ChecksumAlgorithm and ChecksumType
 * after the ETag of every <Contents> (ListObjectsV2 and ListObjects) and <Version>
 * (ListObjectVersions) whose object was stored with a checksum, and neither for one stored
 * without (where AWS, since 2025, lists the CRC64NVME it computes itself; s3mux computes none).
 */
import { randomBytes } from 'node:crypto';
import { expect } from 'chai';
import {
  CompleteMultipartUploadCommand,
  CreateBucketCommand,
  CreateMultipartUploadCommand,
  ListObjectsCommand,
  ListObjectsV2Command,
  ListObjectVersionsCommand,
  PutBucketVersioningCommand,
  PutObjectCommand,
  UploadPartCommand,
  type ChecksumAlgorithm,
  type ChecksumType,
  type CompletedPart,
  type S3Client,
} from '@aws-sdk/client-s3';
import { startTestServer, ACCESS_KEY, SECRET_KEY, type TestServer } from '../helpers/server';
import { signedFetch } from '../helpers/sign';

const CREDS = { accessKeyId: ACCESS_KEY, secretAccessKey: SECRET_KEY };
const MiB = 1024 * 1024;

/** What a listing entry says of its checksum, as the SDK parsed it. */
const named = (e: { ChecksumAlgorithm?: string[]; ChecksumType?: string } | undefined) => [e?.ChecksumAlgorithm, e?.ChecksumType];

/** The text of the first `<element>` whose <Key> is `key`, from a listing document. */
function entryXml(doc: string, element: 'Contents' | 'Version', key: string): string {
  const all = doc.match(new RegExp(`<${element}>.*?</${element}>`, 'gs')) ?? [];
  const found = all.find((e) => e.includes(`<Key>${key}</Key>`));
  expect(found, `${element} of ${key} in ${doc}`).to.be.a('string');
  return found!;
}

/** S3's order: the checksum's two elements between ETag and Size. */
function expectChecksumElements(entry: string, algorithm: string, type: string): void {
  expect(entry).to.match(
    new RegExp(`</ETag><ChecksumAlgorithm>${algorithm}</ChecksumAlgorithm><ChecksumType>${type}</ChecksumType><Size>`),
  );
}

function expectNoChecksumElements(entry: string): void {
  expect(entry).not.to.include('<ChecksumAlgorithm>');
  expect(entry).not.to.include('<ChecksumType>');
}

describe('protocol: checksums in listings', () => {
  let srv: TestServer;
  const Bucket = 'listing-checksums';
  before(async () => {
    srv = await startTestServer();
    await srv.s3.send(new CreateBucketCommand({ Bucket }));
  });
  after(async () => {
    await srv.stop();
  });

  /** A PUT with the SDK's checksum of `algorithm`, or (undefined) through the client that sends none. */
  async function put(client: S3Client, B: string, Key: string, algorithm?: ChecksumAlgorithm) {
    return client.send(
      new PutObjectCommand({ Bucket: B, Key, Body: `body of ${Key}`, ...(algorithm ? { ChecksumAlgorithm: algorithm } : {}) }),
    );
  }

  it('names no checksum in ListObjectsV2, ListObjects or ListObjectVersions for objects stored without one', async () => {
    const B = 'listing-checksums-none';
    await srv.s3.send(new CreateBucketCommand({ Bucket: B }));
    await put(srv.presigner, B, 'plain');
    await srv.s3.send(new PutBucketVersioningCommand({ Bucket: B, VersioningConfiguration: { Status: 'Enabled' } }));
    await put(srv.presigner, B, 'versioned');
    const v2 = await srv.s3.send(new ListObjectsV2Command({ Bucket: B }));
    const v1 = await srv.s3.send(new ListObjectsCommand({ Bucket: B }));
    const versions = await srv.s3.send(new ListObjectVersionsCommand({ Bucket: B }));
    for (const e of [...v2.Contents!, ...v1.Contents!, ...versions.Versions!])
      expect(named(e), e.Key).to.deep.equal([undefined, undefined]);
    expect(versions.Versions).to.have.length(2);
    for (const query of [{ 'list-type': '2' }, {}, { versions: '' }] as Array<Record<string, string>>) {
      const r = await signedFetch(srv.url, CREDS, 'GET', `/${B}`, { query });
      expect(r.status).to.equal(200);
      expect(r.text).to.include('<Key>versioned</Key>');
      expectNoChecksumElements(r.text);
    }
  });

  it('ListObjectsV2 and ListObjects name the algorithm and FULL_OBJECT type of single-part objects\u2019 checksums, and nothing for an object stored without one', async () => {
    const B = 'listing-checksums-single';
    await srv.s3.send(new CreateBucketCommand({ Bucket: B }));
    await put(srv.s3, B, 'crc32', 'CRC32');
    await put(srv.presigner, B, 'plain');
    await put(srv.s3, B, 'sha256', 'SHA256');

    const v2 = await srv.s3.send(new ListObjectsV2Command({ Bucket: B }));
    const v1 = await srv.s3.send(new ListObjectsCommand({ Bucket: B }));
    for (const [name, r] of [
      ['v2', v2],
      ['v1', v1],
    ] as const) {
      const of = (k: string) => r.Contents?.find((c) => c.Key === k);
      expect(named(of('crc32')), name).to.deep.equal([['CRC32'], 'FULL_OBJECT']);
      expect(named(of('sha256')), name).to.deep.equal([['SHA256'], 'FULL_OBJECT']);
      expect(named(of('plain')), name).to.deep.equal([undefined, undefined]);
    }

    for (const query of [{ 'list-type': '2' }, {}, { 'list-type': '2', 'fetch-owner': 'true' }] as Array<Record<string, string>>) {
      const r = await signedFetch(srv.url, CREDS, 'GET', `/${B}`, { query });
      expect(r.status).to.equal(200);
      expectChecksumElements(entryXml(r.text, 'Contents', 'crc32'), 'CRC32', 'FULL_OBJECT');
      expectChecksumElements(entryXml(r.text, 'Contents', 'sha256'), 'SHA256', 'FULL_OBJECT');
      expectNoChecksumElements(entryXml(r.text, 'Contents', 'plain'));
    }
  });

  it('ListObjectsV2 and ListObjects name the COMPOSITE or FULL_OBJECT checksum of multipart objects uploaded with checksums', async () => {
    const parts = [randomBytes(5 * MiB), randomBytes(1000)];
    const multipart = async (Key: string, algorithm: ChecksumAlgorithm, type: ChecksumType) => {
      const { UploadId } = await srv.s3.send(
        new CreateMultipartUploadCommand({ Bucket, Key, ChecksumAlgorithm: algorithm, ChecksumType: type }),
      );
      const done: CompletedPart[] = [];
      for (let i = 0; i < parts.length; i++) {
        const r = await srv.s3.send(
          new UploadPartCommand({ Bucket, Key, UploadId, PartNumber: i + 1, Body: parts[i], ChecksumAlgorithm: algorithm }),
        );
        const field = `Checksum${algorithm}` as keyof typeof r;
        done.push({ PartNumber: i + 1, ETag: r.ETag, [field]: r[field] });
      }
      await srv.s3.send(new CompleteMultipartUploadCommand({ Bucket, Key, UploadId, MultipartUpload: { Parts: done } }));
    };
    await multipart('mp-composite', 'CRC32', 'COMPOSITE');
    await multipart('mp-full', 'CRC64NVME', 'FULL_OBJECT');
    await srv.presigner.send(new PutObjectCommand({ Bucket, Key: 'mp-plain', Body: 'x' }));

    const v2 = await srv.s3.send(new ListObjectsV2Command({ Bucket, Prefix: 'mp-' }));
    const v1 = await srv.s3.send(new ListObjectsCommand({ Bucket, Prefix: 'mp-' }));
    for (const r of [v2, v1]) {
      const of = (k: string) => r.Contents?.find((c) => c.Key === k);
      expect(named(of('mp-composite'))).to.deep.equal([['CRC32'], 'COMPOSITE']);
      expect(named(of('mp-full'))).to.deep.equal([['CRC64NVME'], 'FULL_OBJECT']);
      expect(named(of('mp-plain'))).to.deep.equal([undefined, undefined]);
    }
    for (const query of [{ 'list-type': '2', prefix: 'mp-' }, { prefix: 'mp-' }] as Array<Record<string, string>>) {
      const r = await signedFetch(srv.url, CREDS, 'GET', `/${Bucket}`, { query });
      expectChecksumElements(entryXml(r.text, 'Contents', 'mp-composite'), 'CRC32', 'COMPOSITE');
      expectChecksumElements(entryXml(r.text, 'Contents', 'mp-full'), 'CRC64NVME', 'FULL_OBJECT');
    }
  });

  it('ListObjectVersions names the checksum of each version, the null version of an object written before versioning too', async () => {
    const B = 'listing-checksums-versions';
    await srv.s3.send(new CreateBucketCommand({ Bucket: B }));
    await put(srv.s3, B, 'before', 'CRC32C');
    await srv.s3.send(new PutBucketVersioningCommand({ Bucket: B, VersioningConfiguration: { Status: 'Enabled' } }));
    const first = await put(srv.s3, B, 'k', 'CRC32');
    const second = await put(srv.presigner, B, 'k');
    const third = await put(srv.s3, B, 'k', 'SHA1');

    const r = await srv.s3.send(new ListObjectVersionsCommand({ Bucket: B }));
    const of = (key: string, id: string) => r.Versions?.find((v) => v.Key === key && v.VersionId === id);
    expect(named(of('before', 'null'))).to.deep.equal([['CRC32C'], 'FULL_OBJECT']);
    expect(named(of('k', first.VersionId!))).to.deep.equal([['CRC32'], 'FULL_OBJECT']);
    expect(named(of('k', second.VersionId!))).to.deep.equal([undefined, undefined]);
    expect(named(of('k', third.VersionId!))).to.deep.equal([['SHA1'], 'FULL_OBJECT']);

    const raw = await signedFetch(srv.url, CREDS, 'GET', `/${B}`, { query: { versions: '' } });
    expect(raw.status).to.equal(200);
    const versions = raw.text.match(/<Version>.*?<\/Version>/gs) ?? [];
    const byId = (id: string) => versions.find((v) => v.includes(`<VersionId>${id}</VersionId>`)) ?? '';
    expectChecksumElements(entryXml(raw.text, 'Version', 'before'), 'CRC32C', 'FULL_OBJECT');
    expectChecksumElements(byId(first.VersionId!), 'CRC32', 'FULL_OBJECT');
    expectNoChecksumElements(byId(second.VersionId!));
    expectChecksumElements(byId(third.VersionId!), 'SHA1', 'FULL_OBJECT');
  });
});
