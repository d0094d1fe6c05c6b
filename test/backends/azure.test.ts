/**
 * The Azure backend against the conformance suite on Azurite, plus what only Azure can get
 * wrong: metadata names, MD5 ETags, block-list writes and multipart, keys that cannot be blob
 * names, listing order, and a real S3 client through s3mux onto a container.
 */
import { expect } from 'chai';
import { createHash, randomBytes } from 'node:crypto';
import { Readable } from 'node:stream';
import {
  CopyObjectCommand,
  DeleteObjectCommand,
  GetObjectCommand,
  HeadObjectCommand,
  ListObjectsV2Command,
  PutObjectCommand,
} from '@aws-sdk/client-s3';
import { Upload } from '@aws-sdk/lib-storage';
import {
  AccountSASPermissions,
  AccountSASResourceTypes,
  AccountSASServices,
  BlobServiceClient,
  generateAccountSASQueryParameters,
  SASProtocol,
  StorageSharedKeyCredential,
  type ContainerClient,
} from '@azure/storage-blob';
import { createBackend } from '../../src/backends/create';
import { AzureBackend } from '../../src/backends/azure/index';
import {
  decodeBytes,
  encodeBytes,
  escapedPrefixFor,
  keyOfEscaped,
  needsEscape,
  blobNameOf,
  ESCAPED_PREFIX,
} from '../../src/backends/azure/names';
import { escapeName, fromAzure, metadataNameOf, toAzure, unescapeName, decodeValue, encodeValue } from '../../src/backends/azure/metadata';
import { toS3ErrorFromAzure } from '../../src/backends/azure/errors';
import { MarkerCache, markerScope, utf8Ordered, type Opener } from '../../src/backends/azure/listing';
import { S3Error } from '../../src/errors';
import { validateRoutingTable } from '../../src/router/config';
import { Router } from '../../src/router/router';
import type { ObjectAttributes } from '../../src/backends/types';
import { body, describeBackendConformance, expectS3Error, failingBody, getObject, listAll, md5, pattern, utf8Sort } from './conformance';
import { startAzurite, type Azurite } from '../helpers/azurite';
import { startTestServer, type TestServer } from '../helpers/server';
import { errorOf } from '../helpers/errors';
import { execFileSync } from 'node:child_process';
import { randomUUID } from 'node:crypto';
import * as fs from 'node:fs';
import * as path from 'node:path';
import type { TokenCredential } from '@azure/core-auth';
import {
  AzureCliCredential,
  ClientCertificateCredential,
  ClientSecretCredential,
  ManagedIdentityCredential,
  WorkloadIdentityCredential,
} from '@azure/identity';
import type { StoragePipelineOptions } from '@azure/storage-blob';
import { azureTokenCredential } from '../../src/backends/azure/credential';
import type { AzureSettings } from '../../src/backends/azure/settings';
import type { AzureStore } from '../../src/backends/azure/store';

type AzureSpec = AzureSettings & { kind: 'azure' };
import { AZURITE_KEY } from '../helpers/azurite';
import { startChildServer, type ChildServer } from '../helpers/child-server';
import {
  startEntraDouble,
  startAzuriteWithOAuth,
  STORAGE_AUDIENCE,
  type EntraDouble,
  type SecureAzurite,
  type TokenRequestRecord,
} from '../helpers/entra';
import { makeSelfSignedCert, type TestCert } from '../helpers/tls';

const MiB = 1024 * 1024;

let azurite: Promise<Azurite> | undefined;
function sharedAzurite(): Promise<Azurite> {
  azurite ??= startAzurite();
  return azurite;
}

after(async function () {
  this.timeout(20_000);
  if (azurite) await (await azurite).stop();
});

function backendOn(a: Azurite, blockSize?: number): AzureBackend {
  return new AzureBackend({ account: a.account, endpoint: a.endpoint, accountKey: a.accountKey, blockSize });
}

function serviceOn(a: Azurite): BlobServiceClient {
  return new BlobServiceClient(a.endpoint, new StorageSharedKeyCredential(a.account, a.accountKey));
}

let bucketCounter = 0;
const runId = randomBytes(3).toString('hex');
const newBucketName = (what: string) => `az-${what}-${runId}-${++bucketCounter}`;

const attrs = (a: Partial<ObjectAttributes> = {}): ObjectAttributes => ({ userMetadata: {}, ...a });

/** `data` in chunks, as a stream whose length the backend is not told. */
function streamed(data: Buffer, chunk = 64 * 1024): Readable {
  return body(data, chunk);
}

/**
 * Sends all of `data`, then fails instead of ending, as the S3 layer's verified body does when
 * a checksum or signature turns out wrong at the end: Azure has all the announced bytes by then.
 */
function failsAtEnd(data: Buffer, err: Error, delayMs = 200): Readable {
  let sent = false;
  return new Readable({
    read() {
      if (sent) return;
      sent = true;
      this.push(data);
      setTimeout(() => this.destroy(err), delayMs);
    },
  });
}

describeBackendConformance('azure (Azurite)', async () => {
  const a = await sharedAzurite();
  return { backend: backendOn(a), cleanup: async () => {} };
});

// ------------------------------------------------------------------------------ pure helpers

describe('azure: key names', () => {
  it('keeps ordinary keys as blob names and escapes the ones Azure cannot hold', () => {
    for (const k of [
      'a',
      'dir/file',
      'dir/',
      'a//b',
      '//lead',
      '/',
      'x.meta/y',
      '.hidden',
      '.s3mux',
      '.s3mux-self',
      'é',
      'a😀',
      'sp ace',
      'q?uery',
      '%2F',
      'a.b',
    ]) {
      expect(needsEscape(k), k).to.equal(false);
      expect(blobNameOf(k)).to.equal(k);
    }
    for (const k of [
      '.',
      '..',
      './x',
      '../../etc/passwd',
      'x/..',
      'x/.',
      '...',
      'a./b',
      'back\\slash',
      'tab\there',
      'del\x7f',
      '.s3mux/k/x',
      '.s3mux/uploads/y',
      'ab/'.repeat(300),
      'x\uffff',
    ]) {
      expect(needsEscape(k), JSON.stringify(k)).to.equal(true);
      const name = blobNameOf(k);
      expect(name.startsWith(ESCAPED_PREFIX)).to.equal(true);
      expect(name.length).to.be.at.most(1024);
      expect(keyOfEscaped(name)).to.equal(k);
    }
    expect(blobNameOf('k/' + 'é'.repeat(511)).length).to.equal('k/'.length + 511);
    expect(blobNameOf('..' + '/x'.repeat(511)).length).to.be.at.most(ESCAPED_PREFIX.length + 683);
  });

  it("codes escaped keys so that their order and prefixes are the keys' (UTF-8 bytes)", () => {
    const keys = ['.', '..', '...', './x', '../a', '..\\b', 'a\u0001', 'a\u0001\u0001', 'é.', '😀.', '\uE000.', 'z.', 'zz.'];
    const byCode = [...keys].sort((x, y) => (blobNameOf(x) < blobNameOf(y) ? -1 : 1));
    expect(byCode).to.deep.equal(utf8Sort(keys));
    for (const k of keys) {
      for (let n = 0; n <= k.length; n++) {
        const p = k.slice(0, n);
        if (p.length > 0 && /[\ud800-\udbff]$/.test(p)) continue;
        expect(blobNameOf(k).startsWith(escapedPrefixFor(p)), `${JSON.stringify(p)} of ${JSON.stringify(k)}`).to.equal(true);
      }
    }
    for (const len of [1, 2, 3, 4, 5, 6, 7, 100, 1024]) {
      const b = randomBytes(len).map((x) => x || 1);
      expect(decodeBytes(encodeBytes(b))!.equals(Buffer.from(b))).to.equal(true);
    }
    expect(keyOfEscaped(`${ESCAPED_PREFIX}not-a-code`)).to.equal(undefined);
    expect(keyOfEscaped(blobNameOf('plain'))).to.equal(undefined);
  });
});

describe('azure: metadata encoding', () => {
  it('stores plain identifiers as they are and escapes every other name reversibly', () => {
    expect(metadataNameOf('color')).to.equal('color');
    expect(metadataNameOf('under_score')).to.equal('under_score');
    expect(metadataNameOf('multi-word')).to.equal('s3muxm_multi_2dword');
    expect(metadataNameOf('Upper')).to.equal('upper');
    for (const n of ['multi-word', 'a.b', '1abc', '_', 'x__y', 's3mux_x', 's3muxm_y', 'dots.and-dashes_and~tilde', 'é', '$', 'a b']) {
      const stored = metadataNameOf(n);
      expect(stored, n).to.match(/^[a-z_][a-z0-9_]*$/);
      const back = fromAzure({ metadata: { [stored]: encodeValue('v') } }).attrs.userMetadata;
      expect(back, n).to.deep.equal({ [n]: 'v' });
    }
    expect(unescapeName(escapeName('a_-_b'))).to.equal('a_-_b');
  });

  it('encodes values HTTP headers cannot carry, and only those', () => {
    for (const v of ['plain', 'a b  c', 'x=y; z', '{"json":1}']) expect(encodeValue(v)).to.equal(v);
    for (const v of ['', ' lead', 'trail ', 'é', '~tilde', 'new\nline', '\u0000', '😀']) {
      expect(encodeValue(v)).to.match(/^~[A-Za-z0-9_-]*$/);
      expect(decodeValue(encodeValue(v))).to.equal(v);
    }
    expect(decodeValue('~not base64!')).to.equal('~not base64!');
  });

  it('keeps Expires, storage class, tags, checksums and part sizes in s3mux_ metadata', () => {
    const a: ObjectAttributes = {
      contentType: 'text/plain',
      contentDisposition: 'attachment; filename="é.txt"',
      expires: 'Wed, 21 Oct 2037 07:28:00 GMT',
      storageClass: 'STANDARD_IA',
      userMetadata: { 'multi-word': 'x' },
      tags: [{ key: 'k&=', value: 'v é' }],
      checksums: { crc32c: 'AAAAAA==' },
      partSizes: [5 * MiB, 5 * MiB, 5 * MiB, 12],
    };
    const { headers, metadata } = toAzure(a, { etag: 'abc-4' });
    expect(headers.blobContentType).to.equal('text/plain');
    expect(headers.blobContentDisposition, 'non-ASCII header values go to metadata').to.equal(undefined);
    expect(metadata.s3mux_parts).to.equal(`${5 * MiB}*3,12`);
    for (const name of Object.keys(metadata)) expect(name).to.match(/^[a-z_][a-z0-9_]*$/);
    const back = fromAzure({ contentType: headers.blobContentType, metadata });
    expect(back.extras.etag).to.equal('abc-4');
    expect(back.attrs).to.deep.equal(a);
  });

  it('maps Azure errors through one table', () => {
    const rest = (statusCode: number, code?: string, errorCode?: string) =>
      Object.assign(new Error('x'), { name: 'RestError', statusCode, code, details: errorCode ? { errorCode } : undefined });
    expect(toS3ErrorFromAzure(rest(404, 'ContainerNotFound')).code).to.equal('NoSuchBucket');
    expect(toS3ErrorFromAzure(rest(404, undefined, 'BlobNotFound')).code).to.equal('NoSuchKey');
    expect(toS3ErrorFromAzure(rest(409, 'ContainerAlreadyExists')).code).to.equal('BucketAlreadyOwnedByYou');
    expect(toS3ErrorFromAzure(rest(412, 'ConditionNotMet')).code).to.equal('PreconditionFailed');
    expect(toS3ErrorFromAzure(rest(503, 'ServerBusy')).code).to.equal('SlowDown');
    expect(toS3ErrorFromAzure(rest(429)).code).to.equal('SlowDown');
    expect(toS3ErrorFromAzure(rest(409, 'ContainerBeingDeleted')).code).to.equal('NoSuchBucket');
    expect(toS3ErrorFromAzure(rest(500, 'OperationTimedOut')).code).to.equal('ServiceUnavailable');
    expect(toS3ErrorFromAzure(rest(403, 'AuthorizationFailure')).code).to.equal('AccessDenied');
    expect(toS3ErrorFromAzure(rest(404), { bucket: 'b', key: 'k' }).code).to.equal('NoSuchKey');
    expect(toS3ErrorFromAzure(rest(400, 'InvalidBlockList'), { multipart: true }).code).to.equal('InvalidPart');
    expect(toS3ErrorFromAzure(Object.assign(new Error('refused'), { code: 'ECONNREFUSED' })).code).to.equal('ServiceUnavailable');
  });
});

describe('azure: listing order and markers', () => {
  /** A store listing `names` in the given order, by prefix. */
  const store = (names: string[], order: 'utf16' | 'utf8'): { open: Opener; opened: number } => {
    const sorted = order === 'utf8' ? utf8Sort(names) : [...names].sort();
    const s = {
      opened: 0,
      open: ((prefix: string) => {
        s.opened++;
        return (async function* () {
          for (const name of sorted) if (name.startsWith(prefix)) yield { name };
        })();
      }) as Opener,
    };
    return s;
  };

  it('turns a UTF-16-ordered (or already UTF-8-ordered) listing into UTF-8 order, at any depth', async () => {
    const alphabet = ['a', '/', '\uE000', '\uFFFD', '😀', '😁', 'é', '\uFF21'];
    let seed = 7;
    const rnd = (n: number) => {
      seed ^= seed << 13;
      seed ^= seed >>> 17;
      seed ^= seed << 5;
      return (seed >>> 0) % n;
    };
    for (let trial = 0; trial < 300; trial++) {
      const names = new Set<string>();
      const count = 1 + rnd(12);
      while (names.size < count) {
        let k = '';
        for (let i = 0, n = 1 + rnd(4); i < n; i++) k += alphabet[rnd(alphabet.length)];
        names.add(k);
      }
      for (const order of ['utf16', 'utf8'] as const) {
        for (const prefix of ['', 'a', '😀']) {
          const s = store([...names], order);
          const got: string[] = [];
          for await (const item of utf8Ordered(s.open, prefix)) got.push(item.name);
          expect(got, `${order} ${JSON.stringify([...names])} prefix ${prefix}`).to.deep.equal(
            utf8Sort([...names].filter((n) => n.startsWith(prefix))),
          );
          if (![...names].some((n) => /[\ud800-\udfff]/.test(n)))
            expect(s.opened, 'no extra listing without astral characters').to.equal(1);
        }
      }
    }
  });

  it('remembers page markers by first name, and forgets least recently used scopes', () => {
    const c = new MarkerCache();
    c.record('s', 'k/0200', 'm2');
    c.record('s', 'k/0100', 'm1');
    c.record('s', 'k/0300', 'm3');
    expect(c.lookup('s', 'k/0050')).to.equal(undefined);
    expect(c.lookup('s', 'k/0100')).to.equal('m1');
    expect(c.lookup('s', 'k/0250')).to.equal('m2');
    expect(c.lookup('s', 'z')).to.equal('m3');
    expect(c.lookup('other', 'z')).to.equal(undefined);
    for (let i = 0; i < 300; i++) c.record(`scope-${i}`, 'a', 'm');
    expect(c.lookup('s', 'z')).to.equal(undefined);
    expect(c.lookup('scope-299', 'z')).to.equal('m');
    c.forget('scope-2');
    expect(c.lookup('scope-299', 'z')).to.equal(undefined);
    expect(c.lookup('scope-100', 'z')).to.equal('m');
  });
});

// ------------------------------------------------------------------------------ on Azurite

describe('AzureBackend on Azurite', function () {
  this.timeout(120_000);
  let a: Azurite;
  let be: AzureBackend;
  let small: AzureBackend;
  let svc: BlobServiceClient;
  let bucket: string;
  let container: ContainerClient;

  before(async () => {
    a = await sharedAzurite();
    be = backendOn(a);
    small = backendOn(a, 256 * 1024);
    svc = serviceOn(a);
    bucket = newBucketName('spec');
    await be.createBucket(bucket);
    container = svc.getContainerClient(bucket);
  });

  describe('ETags and writes', () => {
    it('sets the blob Content-MD5 and presents its hex as the ETag, in heads and listings', async () => {
      const data = Buffer.from('md5 please');
      const meta = await be.putObject(bucket, 'md5/one', body(data), attrs());
      expect(meta.etag).to.equal(md5(data));
      const p = await container.getBlobClient('md5/one').getProperties();
      expect(Buffer.from(p.contentMD5!).toString('hex')).to.equal(md5(data));
      expect((await be.listObjects(bucket, { prefix: 'md5/', maxKeys: 10 })).objects[0].etag).to.equal(md5(data));
    });

    it('streams a body of known length into one block, and one of unknown length in chunks', async () => {
      const data = pattern(MiB + 4321, 5);
      const known = await small.putObject(bucket, 'blocks/known', body(data), attrs(), { size: data.length });
      expect(known.etag).to.equal(md5(data));
      const list1 = await container.getBlockBlobClient('blocks/known').getBlockList('committed');
      expect(list1.committedBlocks!.length).to.equal(1);
      const unknown = await small.putObject(bucket, 'blocks/unknown', streamed(data), attrs({ contentType: 'application/x-test' }));
      expect(unknown.etag).to.equal(md5(data));
      const list2 = await container.getBlockBlobClient('blocks/unknown').getBlockList('committed');
      expect(list2.committedBlocks!.length).to.equal(Math.ceil(data.length / (256 * 1024)));
      for (const k of ['blocks/known', 'blocks/unknown']) {
        const got = await getObject(be, bucket, k);
        expect(md5(got.data)).to.equal(md5(data));
        expect(got.meta.etag).to.equal(md5(data));
        const p = await container.getBlobClient(k).getProperties();
        expect(Buffer.from(p.contentMD5!).toString('hex')).to.equal(md5(data));
      }
      expect((await be.headObject(bucket, 'blocks/unknown')).contentType).to.equal('application/x-test');
    });

    it('keeps the old object when a staged body fails or is short (known and unknown length)', async () => {
      await be.putObject(bucket, 'blocks/keep', body('old'), attrs());
      const data = pattern(MiB, 6);
      await expectS3Error(
        small.putObject(bucket, 'blocks/keep', failingBody(data, 600_000), attrs(), { size: data.length }),
        'IncompleteBody',
        'InternalError',
      );
      await expectS3Error(
        small.putObject(bucket, 'blocks/keep', failingBody(data, 600_000, new S3Error('BadDigest')), attrs()),
        'BadDigest',
      );
      await expectS3Error(
        small.putObject(bucket, 'blocks/keep', body(data.subarray(0, 700_000)), attrs(), { size: data.length }),
        'IncompleteBody',
      );
      await expectS3Error(small.putObject(bucket, 'blocks/keep', body(data), attrs(), { size: 300_000 }), 'IncompleteBody');
      expect((await getObject(be, bucket, 'blocks/keep')).data.toString()).to.equal('old');
    });

    it('stores nothing when the body fails after its last byte (a checksum checked at the end)', async () => {
      await be.putObject(bucket, 'blocks/late', body('old'), attrs());
      const data = pattern(600_000, 8);
      await expectS3Error(
        small.putObject(bucket, 'blocks/late', failsAtEnd(data, new S3Error('BadDigest')), attrs(), { size: data.length }),
        'BadDigest',
      );
      await expectS3Error(small.putObject(bucket, 'blocks/late', failsAtEnd(data, new S3Error('BadDigest')), attrs()), 'BadDigest');
      await expectS3Error(
        be.putObject(bucket, 'blocks/late', failsAtEnd(data, new S3Error('BadDigest')), attrs(), { size: data.length }),
        'BadDigest',
      );
      expect((await getObject(be, bucket, 'blocks/late')).data.toString()).to.equal('old');
      const id = await small.multipart.createUpload(bucket, 'blocks/late', attrs());
      await expectS3Error(
        small.multipart.uploadPart(bucket, 'blocks/late', id, 1, failsAtEnd(data, new S3Error('BadDigest')), { size: data.length }),
        'BadDigest',
      );
      await expectS3Error(
        small.multipart.uploadPart(bucket, 'blocks/late', id, 2, failsAtEnd(data, new S3Error('BadDigest'))),
        'BadDigest',
      );
      expect((await small.multipart.listParts(bucket, 'blocks/late', id, { maxParts: 10 })).parts).to.deep.equal([]);
      await small.multipart.abortUpload(bucket, 'blocks/late', id);
    });

    it('applies write conditions to staged writes too', async () => {
      const data = pattern(600_000, 7);
      const m1 = await small.putObject(bucket, 'blocks/cond', body(data), attrs(), { conditions: { ifNoneMatch: '*' } });
      await expectS3Error(
        small.putObject(bucket, 'blocks/cond', body(data), attrs(), { conditions: { ifNoneMatch: '*' } }),
        'PreconditionFailed',
      );
      await small.putObject(bucket, 'blocks/cond', streamed(data), attrs(), { conditions: { ifMatch: `"${m1.etag}"` } });
      await expectS3Error(
        small.putObject(bucket, 'blocks/cond', streamed(data), attrs(), { conditions: { ifMatch: 'ffffffffffffffffffffffffffffffff' } }),
        'PreconditionFailed',
      );
    });

    it('gives blobs written by other tools without an MD5 a stable ETag that is not an MD5', async () => {
      const blob = container.getBlockBlobClient('foreign/no-md5');
      const id = Buffer.alloc(48, 1).toString('base64');
      await blob.stageBlock(id, Buffer.from('foreign'), 7);
      await blob.commitBlockList([id], { metadata: { Author: 'someone' } });
      const h = await be.headObject(bucket, 'foreign/no-md5');
      expect(h.etag).to.match(/^[0-9a-f]{32}-1$/);
      expect(h.userMetadata).to.deep.equal({ author: 'someone' });
      expect((await be.headObject(bucket, 'foreign/no-md5')).etag).to.equal(h.etag);
      await be.setTags(bucket, 'foreign/no-md5', [{ key: 't', value: '1' }]);
      expect((await be.headObject(bucket, 'foreign/no-md5')).etag, 'tagging keeps the ETag').to.equal(h.etag);
    });
  });

  describe('metadata on Azure', () => {
    it('round-trips names Azure would refuse, and values it would mangle', async () => {
      const userMetadata = {
        'multi-word': 'a b',
        'x.y': '1',
        '9lives': 'cat',
        s3mux_evil: 'no',
        plain_name: '',
        'non-ascii': 'é😀',
        spaced: ' x ',
      };
      await be.putObject(bucket, 'meta/names', body('m'), attrs({ userMetadata, contentLanguage: 'fr-CA' }));
      expect((await be.headObject(bucket, 'meta/names')).userMetadata).to.deep.equal(userMetadata);
      const raw = await container.getBlobClient('meta/names').getProperties();
      for (const name of Object.keys(raw.metadata ?? {})) expect(name).to.match(/^[a-z_][a-z0-9_]*$/);
      expect(raw.metadata).to.include({ s3muxm_multi_2dword: 'a b', s3muxm_x_2ey: '1' });
      expect(raw.contentLanguage).to.equal('fr-CA');
    });
  });

  describe('keys Azure cannot hold', () => {
    it('stores them in the reserved area and lists them in order with the others', async () => {
      const bk = newBucketName('esc');
      await be.createBucket(bk);
      const keys = ['a', 'a/.', 'a/..', 'a/./b', 'a/b', 'a\\b', 'b.', 'b.c', '.s3mux/x', '.s3mux', 'z'];
      for (const k of keys) await be.putObject(bk, k, body(k), attrs());
      const names: string[] = [];
      for await (const item of svc.getContainerClient(bk).listBlobsFlat()) names.push(item.name);
      expect(names.filter((n) => !n.startsWith('.s3mux/'))).to.deep.equal(['.s3mux', 'a', 'a/b', 'b.c', 'z']);
      expect(names.filter((n) => n.startsWith(ESCAPED_PREFIX)).length).to.equal(6);
      for (const k of keys) expect((await getObject(be, bk, k)).data.toString()).to.equal(k);
      expect((await listAll(be, bk, { maxKeys: 1000 })).entries).to.deep.equal(utf8Sort(keys));
      expect((await listAll(be, bk, { maxKeys: 2 })).entries).to.deep.equal(utf8Sort(keys));
      expect((await listAll(be, bk, { prefix: 'a/', delimiter: '/', maxKeys: 1 })).entries).to.deep.equal(['a/.', 'a/..', 'a/./', 'a/b']);
      expect((await listAll(be, bk, { delimiter: '/', maxKeys: 1000 })).entries).to.deep.equal([
        '.s3mux',
        '.s3mux/',
        'a',
        'a/',
        'a\\b',
        'b.',
        'b.c',
        'z',
      ]);
      await expectS3Error(be.deleteBucket(bk), 'BucketNotEmpty');
      for (const k of keys.filter((x) => needsEscape(x))) await be.deleteObject(bk, k);
      await be.deleteObject(bk, 'a/b');
      await expectS3Error(be.deleteBucket(bk), 'BucketNotEmpty');
      for (const k of ['a', 'b.c', '.s3mux', 'z']) await be.deleteObject(bk, k);
      await be.deleteBucket(bk);
    });

    it('lists astral and U+E000.. characters in UTF-8 order at any depth, with paging', async () => {
      const bk = newBucketName('order');
      await be.createBucket(bk);
      const keys = [
        'p/\uE000',
        'p/\uE000/x',
        'p/😀',
        'p/😀/\uFFFD',
        'p/😀/😁',
        'p/😀/a',
        'p/😀\uE000',
        'p/😀😀',
        'p/\uFF21\uE000',
        'p/\uFF21😀',
        'p/a',
        'p/\uFFFD.',
      ];
      for (const k of keys) await be.putObject(bk, k, body('x'), attrs());
      for (const delimiter of [undefined, '/']) {
        for (const maxKeys of [1, 3, 1000]) {
          const got = await listAll(be, bk, { prefix: 'p/', delimiter, maxKeys });
          const want = utf8Sort(keys).reduce<string[]>((out, k) => {
            const i = delimiter ? k.indexOf('/', 2) : -1;
            const e = i >= 0 ? k.slice(0, i + 1) : k;
            if (out[out.length - 1] !== e) out.push(e);
            return out;
          }, []);
          expect(got.entries, `delimiter ${delimiter} maxKeys ${maxKeys}`).to.deep.equal(want);
        }
      }
    });
  });

  describe('multipart (native, on block lists)', () => {
    it('assembles parts in order, with an empty last part and a re-sent part', async () => {
      const key = 'mp/object.bin';
      const mp = small.multipart;
      const id = await mp.createUpload(
        bucket,
        key,
        attrs({ contentType: 'application/x-mp', userMetadata: { 'multi-word': 'mp' }, tags: [{ key: 't', value: 'v' }] }),
      );
      const p1 = pattern(300_000, 11);
      const p2old = pattern(200_000, 12);
      const p2 = pattern(250_000, 13);
      const r1 = await mp.uploadPart(bucket, key, id, 1, body(p1), { size: p1.length });
      await mp.uploadPart(bucket, key, id, 2, body(p2old), { size: p2old.length });
      const r2 = await mp.uploadPart(bucket, key, id, 2, streamed(p2));
      const r3 = await mp.uploadPart(bucket, key, id, 3, body(Buffer.alloc(0)), { size: 0 });
      expect(r1.etag).to.equal(md5(p1));
      expect(r2.etag).to.equal(md5(p2));
      expect(r3).to.include({ etag: md5(Buffer.alloc(0)), size: 0 });
      const listed = await mp.listParts(bucket, key, id, { maxParts: 1000 });
      expect(listed.parts.map((p) => [p.partNumber, p.etag, p.size])).to.deep.equal([
        [1, md5(p1), p1.length],
        [2, md5(p2), p2.length],
        [3, r3.etag, 0],
      ]);
      const page = await mp.listParts(bucket, key, id, { maxParts: 2 });
      expect(page.isTruncated).to.equal(true);
      expect(page.nextPartNumberMarker).to.equal(2);
      expect((await mp.listParts(bucket, key, id, { maxParts: 2, partNumberMarker: 2 })).parts.map((p) => p.partNumber)).to.deep.equal([3]);
      const uploads = await mp.listUploads(bucket, { prefix: 'mp/', maxUploads: 10 });
      expect(uploads.uploads.map((u) => [u.key, u.uploadId])).to.deep.equal([[key, id]]);
      const etag = `${md5(Buffer.concat([r1, r2, r3].map((r) => Buffer.from(r.etag, 'hex'))))}-3`;
      const meta = await mp.completeUpload(bucket, key, id, [1, 2, 3], etag);
      expect(meta.etag).to.equal(etag);
      expect(meta.size).to.equal(p1.length + p2.length);
      const got = await getObject(be, bucket, key);
      expect(got.data.equals(Buffer.concat([p1, p2]))).to.equal(true);
      expect(got.meta.etag).to.equal(etag);
      expect(got.meta.partSizes).to.deep.equal([p1.length, p2.length, 0]);
      expect(got.meta.contentType).to.equal('application/x-mp');
      expect(got.meta.userMetadata).to.deep.equal({ 'multi-word': 'mp' });
      expect(got.meta.tags).to.deep.equal([{ key: 't', value: 'v' }]);
      expect((await be.listObjects(bucket, { prefix: key, maxKeys: 10 })).objects.map((o) => o.etag)).to.deep.equal([etag]);
      // the upload is gone, and nothing of it is left in the reserved area
      await expectS3Error(mp.listParts(bucket, key, id, { maxParts: 10 }), 'NoSuchUpload');
      const left: string[] = [];
      for await (const b of container.listBlobsFlat({ prefix: `.s3mux/uploads/${id}` })) left.push(b.name);
      expect(left).to.deep.equal([]);
    });

    it('completes with a subset of parts, refuses missing ones, honours conditions', async () => {
      const key = 'mp/subset';
      const mp = be.multipart;
      const id = await mp.createUpload(bucket, key, attrs());
      const parts = [pattern(1000, 1), pattern(2000, 2), pattern(3000, 3)];
      const infos = [];
      for (let i = 0; i < parts.length; i++)
        infos.push(await mp.uploadPart(bucket, key, id, i + 1, body(parts[i]), { size: parts[i].length }));
      await expectS3Error(mp.completeUpload(bucket, key, id, [1, 4], 'x-2'), 'InvalidPart');
      // Another upload completing on the same key commits the blob, which discards every
      // uncommitted block of it (Azure's rule): the first upload's parts are lost.
      const other = await mp.createUpload(bucket, key, attrs());
      await mp.uploadPart(bucket, key, other, 1, body('existing'), { size: 8 });
      await mp.completeUpload(bucket, key, other, [1], `${md5(Buffer.from(md5('existing'), 'hex'))}-1`);
      await expectS3Error(mp.completeUpload(bucket, key, id, [1, 3], 'x-2'), 'InvalidPart');
      const existing = await be.headObject(bucket, key);
      const id2 = await mp.createUpload(bucket, key, attrs());
      for (const n of [1, 3]) await mp.uploadPart(bucket, key, id2, n, body(parts[n - 1]), { size: parts[n - 1].length });
      await expectS3Error(mp.completeUpload(bucket, key, id2, [1, 3], 'x-2', { conditions: { ifNoneMatch: '*' } }), 'PreconditionFailed');
      await expectS3Error(
        mp.completeUpload(bucket, key, id2, [1, 3], 'x-2', { conditions: { ifMatch: md5('other') } }),
        'PreconditionFailed',
      );
      await mp.completeUpload(bucket, key, id2, [1, 3], 'abc-2', { conditions: { ifMatch: `"${existing.etag}"` } });
      expect((await getObject(be, bucket, key)).data.equals(Buffer.concat([parts[0], parts[2]]))).to.equal(true);
      await mp.abortUpload(bucket, key, id);
    });

    it('refuses unknown, foreign and other-key upload ids with NoSuchUpload', async () => {
      const mp = be.multipart;
      const id = await mp.createUpload(bucket, 'mp/owner', attrs());
      await expectS3Error(mp.uploadPart(bucket, 'mp/other', id, 1, body('x'), { size: 1 }), 'NoSuchUpload');
      await expectS3Error(mp.listParts(bucket, 'mp/owner', 'A'.repeat(22), { maxParts: 1 }), 'NoSuchUpload');
      await expectS3Error(mp.abortUpload(bucket, 'mp/owner', '../../etc'), 'NoSuchUpload');
      await mp.abortUpload(bucket, 'mp/owner', id);
      await expectS3Error(mp.abortUpload(bucket, 'mp/owner', id), 'NoSuchUpload');
      await expectS3Error(mp.createUpload(newBucketName('missing'), 'k', attrs()), 'NoSuchBucket');
    });

    it('is visible to another backend instance (another replica) and swept by age', async () => {
      const other = backendOn(a);
      const key = 'mp/replica';
      const id = await be.multipart.createUpload(bucket, key, attrs({ storageClass: 'STANDARD_IA' }));
      const part = pattern(5000, 4);
      await other.multipart.uploadPart(bucket, key, id, 1, body(part), { size: part.length });
      const list = await other.multipart.listUploads(bucket, { prefix: key, maxUploads: 10 });
      expect(list.uploads.map((u) => u.uploadId)).to.deep.equal([id]);
      expect(list.uploads[0].attrs.storageClass).to.equal('STANDARD_IA');
      expect(await other.multipart.sweepUploads(bucket, new Date(Date.now() - 3600_000))).to.equal(0);
      expect(await other.multipart.sweepUploads(bucket, new Date(Date.now() + 1000))).to.be.at.least(1);
      await expectS3Error(be.multipart.listParts(bucket, key, id, { maxParts: 1 }), 'NoSuchUpload');
    });
  });

  describe('listing with many pages', () => {
    it('pages a large listing without rescanning from the start (marker cache), and is correct', async () => {
      const bk = newBucketName('pages');
      await be.createBucket(bk);
      const keys: string[] = [];
      for (let i = 0; i < 450; i++) keys.push(`k/${String(i).padStart(4, '0')}`);
      await Promise.all(keys.map((k) => be.putObject(bk, k, body('x'), attrs())));
      const got = await listAll(be, bk, { prefix: 'k/', maxKeys: 100 });
      expect(got.entries).to.deep.equal(keys);
      // the pages' Azure markers were remembered: a listing from k/0300 starts at the page holding it
      const marker = (be as unknown as { store: AzureStore }).store.markers.lookup(markerScope(bk, false, 'k/'), 'k/0300');
      expect(marker).to.be.a('string');
      const page = await svc
        .getContainerClient(bk)
        .listBlobsFlat({ prefix: 'k/' })
        .byPage({ continuationToken: marker, maxPageSize: 5 })
        .next();
      const first = page.value.segment.blobItems[0].name as string;
      expect(first > 'k/0100' && first <= 'k/0300', first).to.equal(true);
      const fresh = backendOn(a);
      expect((await listAll(fresh, bk, { prefix: 'k/', startAfter: 'k/0300', maxKeys: 1000 })).entries).to.deep.equal(keys.slice(301));
    });
  });
});

describe('azure: credentials from the routing table', function () {
  this.timeout(60_000);

  it('works with a shared key, a connection string (with or without an endpoint) and a SAS token, under either spelling; a wrong key is AccessDenied', async () => {
    const a = await sharedAzurite();
    const bk = newBucketName('cred');
    await backendOn(a).createBucket(bk);
    const sas = generateAccountSASQueryParameters(
      {
        permissions: AccountSASPermissions.parse('rwdlac'),
        resourceTypes: AccountSASResourceTypes.parse('sco').toString(),
        services: AccountSASServices.parse('b').toString(),
        expiresOn: new Date(Date.now() + 3600_000),
        protocol: SASProtocol.HttpsAndHttp,
      },
      new StorageSharedKeyCredential(a.account, a.accountKey),
    ).toString();
    const env = { AZ_KEY: a.accountKey, AZ_CONN: a.connectionString, AZ_SAS: sas, AZ_BAD_KEY: Buffer.alloc(64, 7).toString('base64') };
    const specOf = (settings: Record<string, unknown>) =>
      validateRoutingTable({ backends: { az: { type: 'azure', ...settings } } }).backends.az.spec;
    const kinds: Record<string, Record<string, unknown>> = {
      'shared key': { account: a.account, endpoint: a.endpoint, credentials: { accountKeyEnv: 'AZ_KEY' } },
      'connection string': { credentials: { connectionStringEnv: 'AZ_CONN' } },
      'connection string + endpoint': { endpoint: a.endpoint, credentials: { connectionStringEnv: 'AZ_CONN' } },
      'SAS token': { endpoint: a.endpoint, credentials: { sasTokenEnv: 'AZ_SAS' } },
      // The product design's spellings of the same two kinds.
      'shared key (sharedKey)': { account: a.account, endpoint: a.endpoint, credentials: { sharedKeyEnv: 'AZ_KEY' } },
      'SAS (sas)': { endpoint: a.endpoint, credentials: { sasEnv: 'AZ_SAS' } },
    };
    for (const [what, settings] of Object.entries(kinds)) {
      const be = createBackend(specOf(settings), { name: 'az', env });
      const key = `cred/${what}`;
      const meta = await be.putObject(bk, key, body(what), attrs());
      expect(meta.etag, what).to.equal(md5(what));
      expect((await getObject(be, bk, key)).data.toString(), what).to.equal(what);
      expect(
        (await be.listObjects(bk, { prefix: key, maxKeys: 10 })).objects.map((o) => o.key),
        what,
      ).to.deep.equal([key]);
    }
    const bad = createBackend(specOf({ account: a.account, endpoint: a.endpoint, credentials: { accountKeyEnv: 'AZ_BAD_KEY' } }), {
      name: 'az',
      env,
    });
    await expectS3Error(bad.headObject(bk, 'cred/shared key'), 'AccessDenied');
    expect(() => createBackend(specOf({ account: a.account, credentials: { accountKeyEnv: 'AZ_UNSET' } }), { name: 'az', env })).to.throw(
      /AZ_UNSET/,
    );
    // Both spellings normalise to one setting; giving both is two kinds.
    expect(specOf({ credentials: { sharedKeyEnv: 'K' } }).credentials).to.deep.equal({ accountKey: { env: 'K' } });
    expect(specOf({ credentials: { sasFile: '/sas' } }).credentials).to.deep.equal({ sasToken: { file: '/sas' } });
    expect(() => specOf({ credentials: { sharedKeyEnv: 'K', accountKeyEnv: 'K' } })).to.throw(/give one kind of credentials, not several/);
    expect(() => specOf({ credentials: { sas: 'sv=2020&sig=x' } })).to.throw(/literal secret/);
  });
});

// ------------------------------------------------------------------------------ Entra ID credentials

/**
 * Service principal (secret, certificate file, certificate PEM from a variable with a
 * password), managed identity (system-assigned, by client id, by resource id) and workload
 * identity run for real here: s3mux serve, as a child process, gets tokens from a local
 * double of the Microsoft identity platform (test/helpers/entra.ts: discovery + token
 * endpoint over HTTPS, certificate assertions verified; an App Service style managed
 * identity endpoint) and sends them to Azurite over HTTPS with `--oauth basic`, which checks
 * audience, issuer and lifetime (not the signature: no real Entra ID can run here). The child
 * trusts the throwaway CA through NODE_EXTRA_CA_CERTS, as a deployment behind a private CA
 * would; nothing in s3mux is test-specific.
 *
 * Managed identity runs twice: through an App Service style endpoint, and through IMDS (a VM,
 * AKS pod identity), its address moved by AZURE_POD_IDENTITY_AUTHORITY_HOST as @azure/identity
 * allows. The Azure CLI flow runs a fake `az` put first on the PATH, which prints a token the
 * double minted in `az account get-access-token`'s format (the real `az` cannot run here).
 * Not exercised: the real Entra ID / Azure Storage token checks.
 */
describe('azure: Entra ID credentials from the routing table', function () {
  this.timeout(120_000);
  let dir: string;
  let tls: TestCert;
  /** A certificate + unencrypted key, and one whose key needs a password. */
  let spCert: string;
  let spCertLocked: string;
  const SP_CERT_PASSWORD = `pw-${randomBytes(6).toString('hex')}`;

  /** A throwaway client certificate made with openssl, as PEM: certificate, then key. */
  function clientCert(name: string, password?: string): string {
    const key = path.join(dir, `${name}.key`);
    const cert = path.join(dir, `${name}.crt`);
    execFileSync(
      'openssl',
      [
        'req',
        '-x509',
        '-newkey',
        'rsa:2048',
        ...(password ? ['-passout', `pass:${password}`] : ['-nodes']),
        '-days',
        '1',
        '-subj',
        `/CN=${name}`,
        '-keyout',
        key,
        '-out',
        cert,
      ],
      { stdio: 'ignore' },
    );
    return fs.readFileSync(cert, 'utf8') + fs.readFileSync(key, 'utf8');
  }

  before(() => {
    tls = makeSelfSignedCert();
    dir = tls.dir;
    spCert = clientCert('s3mux-sp');
    spCertLocked = clientCert('s3mux-sp-locked', SP_CERT_PASSWORD);
  });
  after(() => {
    if (dir) fs.rmSync(dir, { recursive: true, force: true });
  });

  const specOf = (credentials: unknown): AzureSpec =>
    validateRoutingTable({ backends: { az: { type: 'azure', account: 'acct', credentials } } }, { baseDir: dir }).backends.az
      .spec as AzureSpec;
  const what = (f: string) => `backend 'az': ${f}`;

  it('maps each kind to its @azure/identity credential, resolving secrets at start', () => {
    fs.writeFileSync(path.join(dir, 'sp.pem'), spCert);
    const env = { SP_SECRET: 's3cret', SP_CERT: spCertLocked, SP_CERT_PW: SP_CERT_PASSWORD, NOT_PEM: 'hello' };
    const sp = { tenantId: 'tenant', clientId: 'app' };
    const cases: [unknown, new (...args: never[]) => TokenCredential][] = [
      [{ servicePrincipal: { ...sp, clientSecretEnv: 'SP_SECRET' } }, ClientSecretCredential],
      [
        { servicePrincipal: { ...sp, certificateFile: 'sp.pem', authorityHost: 'https://login.microsoftonline.us' } },
        ClientCertificateCredential,
      ],
      [
        { servicePrincipal: { ...sp, certificateEnv: 'SP_CERT', certificatePasswordEnv: 'SP_CERT_PW', sendCertificateChain: true } },
        ClientCertificateCredential,
      ],
      [{ managedIdentity: true }, ManagedIdentityCredential],
      [{ managedIdentity: { clientId: 'mi-client' } }, ManagedIdentityCredential],
      [
        {
          managedIdentity: {
            resourceId: '/subscriptions/s/resourceGroups/rg/providers/Microsoft.ManagedIdentity/userAssignedIdentities/id',
          },
        },
        ManagedIdentityCredential,
      ],
      [{ managedIdentity: { objectId: 'oid' } }, ManagedIdentityCredential],
      [{ workloadIdentity: { tenantId: 't', clientId: 'c', tokenFile: 'token' } }, WorkloadIdentityCredential],
      [{ azureCli: true }, AzureCliCredential],
      [{ azureCli: { tenantId: 't' } }, AzureCliCredential],
    ];
    for (const [creds, cls] of cases) {
      const spec = specOf(creds);
      expect(azureTokenCredential(spec.credentials, what, env), JSON.stringify(creds)).to.be.instanceOf(cls);
      // Through the registry too: the backend is made (no request is sent until it is used).
      expect(createBackend(spec, { name: 'az', env })).to.be.instanceOf(AzureBackend);
    }
    // The secret kinds and no credentials at all make no token credential here (DefaultAzureCredential is the client's fallback).
    expect(azureTokenCredential(specOf({ accountKeyEnv: 'K' }).credentials, what, env)).to.equal(undefined);
    expect(azureTokenCredential(undefined, what, env)).to.equal(undefined);
    // Missing or unusable secrets fail the start, naming the field and the variable or file.
    expect(() =>
      azureTokenCredential(specOf({ servicePrincipal: { ...sp, clientSecretEnv: 'UNSET_SP_SECRET' } }).credentials, what, env),
    ).to.throw("backend 'az': credentials.servicePrincipal.clientSecret: environment variable UNSET_SP_SECRET is not set");
    expect(() =>
      azureTokenCredential(specOf({ servicePrincipal: { ...sp, certificateFile: 'missing.pem' } }).credentials, what, env),
    ).to.throw(/^backend 'az': credentials\.servicePrincipal\.certificate: cannot read .*missing\.pem/);
    expect(() => azureTokenCredential(specOf({ servicePrincipal: { ...sp, certificateEnv: 'NOT_PEM' } }).credentials, what, env)).to.throw(
      /credentials\.servicePrincipal\.certificate: expected PEM holding the certificate and its private key/,
    );
    expect(() =>
      azureTokenCredential(
        specOf({ servicePrincipal: { ...sp, certificateEnv: 'SP_CERT', certificatePasswordEnv: 'UNSET_PW' } }).credentials,
        what,
        env,
      ),
    ).to.throw(/credentials\.servicePrincipal\.certificatePassword: environment variable UNSET_PW is not set/);
  });

  it('workload identity takes what the table leaves out from the AZURE_* variables AKS sets, and names what is missing', () => {
    const aks = {
      AZURE_TENANT_ID: 't',
      AZURE_CLIENT_ID: 'c',
      AZURE_FEDERATED_TOKEN_FILE: '/var/run/secrets/azure/tokens/azure-identity-token',
      AZURE_AUTHORITY_HOST: 'https://login.microsoftonline.com/',
    };
    expect(azureTokenCredential(specOf({ workloadIdentity: true }).credentials, what, aks)).to.be.instanceOf(WorkloadIdentityCredential);
    expect(
      azureTokenCredential(specOf({ workloadIdentity: { tenantId: 'other' } }).credentials, what, {
        AZURE_CLIENT_ID: 'c',
        AZURE_FEDERATED_TOKEN_FILE: '/t',
      }),
    ).to.be.instanceOf(WorkloadIdentityCredential);
    expect(() =>
      azureTokenCredential(specOf({ workloadIdentity: true }).credentials, what, { ...aks, AZURE_TENANT_ID: undefined }),
    ).to.throw("backend 'az': credentials.workloadIdentity.tenantId: not given, and AZURE_TENANT_ID is not set");
    expect(() =>
      azureTokenCredential(specOf({ workloadIdentity: { clientId: 'c' } }).credentials, what, { AZURE_TENANT_ID: 't' }),
    ).to.throw("backend 'az': credentials.workloadIdentity.tokenFile: not given, and AZURE_FEDERATED_TOKEN_FILE is not set");
  });

  it('refuses a bad credentials block, naming the field path', () => {
    const problems = (credentials: unknown): string[] => {
      try {
        validateRoutingTable({ backends: { az: { type: 'azure', account: 'acct', credentials } } });
      } catch (err) {
        return (err as { problems: { path: string; message: string }[] }).problems.map((p) => `${p.path}: ${p.message}`);
      }
      return [];
    };
    const sp = { tenantId: 't', clientId: 'c' };
    expect(problems({ servicePrincipal: { ...sp, clientSecret: 'literal' } })).to.deep.equal([
      "backends.az.credentials.servicePrincipal.clientSecret: a literal secret is not allowed in the config: use 'clientSecretEnv' (the name of an environment variable) or 'clientSecretFile' (the path of a file holding it)",
    ]);
    expect(problems({ servicePrincipal: { tenantId: 't', clientSecretEnv: 'X' } })).to.deep.equal([
      "backends.az.credentials.servicePrincipal: missing required key 'clientId'",
    ]);
    expect(problems({ servicePrincipal: sp })).to.deep.equal([
      "backends.az.credentials.servicePrincipal: missing the secret: add 'clientSecretEnv' or 'clientSecretFile', or 'certificateEnv' or 'certificateFile'",
    ]);
    expect(problems({ servicePrincipal: { ...sp, clientSecretEnv: 'X', certificateFile: 'c.pem' } })).to.deep.equal([
      "backends.az.credentials.servicePrincipal: give one of 'clientSecret', 'certificate', not several",
    ]);
    expect(problems({ servicePrincipal: { ...sp, clientSecretEnv: 'X', certificatePasswordEnv: 'P' } })).to.deep.equal([
      "backends.az.credentials.servicePrincipal: 'certificatePassword' needs 'certificate': add 'certificateEnv' or 'certificateFile', or drop 'certificatePassword'",
    ]);
    expect(problems({ servicePrincipal: { ...sp, clientSecretEnv: 'X', authorityHost: 'http://login.example' } })).to.deep.equal([
      "backends.az.credentials.servicePrincipal.authorityHost: expected an https:// URL, got 'http://login.example'",
    ]);
    expect(problems({ servicePrincipal: { ...sp, clientSecretEnv: 'a value, not a name' } })).to.deep.equal([
      "backends.az.credentials.servicePrincipal.clientSecretEnv: expected the NAME of an environment variable (letters, digits and '_'), not its value",
    ]);
    expect(problems({ managedIdentity: false })).to.deep.equal([
      'backends.az.credentials.managedIdentity: expected true or a mapping, got false (a boolean)',
    ]);
    expect(problems({ managedIdentity: { clientId: 'c', objectId: 'o' } })).to.deep.equal([
      "backends.az.credentials.managedIdentity: give at most one of 'clientId', 'resourceId', 'objectId', got 'clientId', 'objectId'",
    ]);
    expect(problems({ managedIdentity: { resourceId: 'c0ffee' } })[0]).to.match(
      /^backends\.az\.credentials\.managedIdentity\.resourceId: expected an Azure resource id/,
    );
    expect(problems({ workloadIdentity: { token_file: '/t' } })).to.deep.equal([
      "backends.az.credentials.workloadIdentity.token_file: unknown key 'token_file' (did you mean 'tokenFile'?)",
    ]);
    expect(problems({ accountKeyEnv: 'K', managedIdentity: true })).to.deep.equal([
      "backends.az.credentials: give one kind of credentials, not several: 'accountKeyEnv', 'managedIdentity'",
    ]);
    expect(problems({ clientSecretEnv: 'X' })).to.deep.equal([
      "backends.az.credentials.clientSecretEnv: 'clientSecretEnv' goes inside 'servicePrincipal', e.g. credentials: { servicePrincipal: { clientSecretEnv: ... } }",
    ]);
  });

  it('Azure CLI maps to AzureCliCredential; without `az` (as here) a token request fails saying so', async function () {
    // The CLI flow itself cannot run here: there is no `az` and no signed-in account.
    const cred = azureTokenCredential(specOf({ azureCli: { tenantId: 'contoso.onmicrosoft.com' } }).credentials, what, {});
    expect(cred).to.be.instanceOf(AzureCliCredential);
    const err = await cred!.getToken('https://storage.azure.com/.default').then(
      () => undefined,
      (e: Error) => e,
    );
    expect(err, 'a token from an Azure CLI that is not installed').to.be.instanceOf(Error);
    expect(err!.name).to.equal('CredentialUnavailableError');
    expect(err!.message).to.match(/Azure CLI/i);
    // Through a backend: no token source is ServiceUnavailable, before anything is sent to the store.
    const be = createBackend(specOf({ azureCli: true }), { name: 'az', env: {} });
    const s3err = await expectS3Error(be.headBucket('some-container'), 'ServiceUnavailable');
    expect(s3err.message).to.equal('The Azure backend has no way to get an access token right now.');
  });

  it('loads @azure/identity only for token credentials', () => {
    const script = (creds: string) => `
      const { createBackend } = require(${JSON.stringify(path.resolve(__dirname, '../../src/backends/create'))});
      createBackend({ kind: 'azure', account: 'acct', credentials: ${creds} }, { name: 'az', env: { K: ${JSON.stringify(AZURITE_KEY)}, S: 's' } });
      process.stdout.write(String(Object.keys(require.cache).some((k) => k.includes('@azure/identity'))));`;
    const loaded = (creds: string) => execFileSync(process.execPath, ['-e', script(creds)], { encoding: 'utf8', timeout: 30_000 });
    expect(loaded("{ accountKey: { env: 'K' } }")).to.equal('false');
    expect(loaded("{ servicePrincipal: { tenantId: 't', clientId: 'c', clientSecret: { env: 'S' } } }")).to.equal('true');
  });

  describe('real token flows: s3mux serve → Entra ID double → Azurite over HTTPS with --oauth basic', () => {
    let double: EntraDouble;
    let store: SecureAzurite;
    let appService: ChildServer | undefined;
    let aks: ChildServer | undefined;
    let vm: ChildServer | undefined;
    let azLog: string;
    let container: ContainerClient;
    const CONTAINER = 'creds';
    const MI_CLIENT_ID = randomUUID();
    const MI_RESOURCE_ID =
      '/subscriptions/00000000-0000-0000-0000-000000000000/resourceGroups/rg/providers/Microsoft.ManagedIdentity/userAssignedIdentities/s3mux';
    const FEDERATED_TOKEN = `eyJhbGciOiJSUzI1NiJ9.${Buffer.from(JSON.stringify({ iss: 'https://oidc.aks.example/', sub: 'system:serviceaccount:s3mux:s3mux' })).toString('base64url')}.c2ln`;
    /** Route (virtual bucket) → how its backend gets tokens. */
    const WORKING = [
      'sp-secret',
      'sp-cert-file',
      'sp-cert-env',
      'mi-system',
      'mi-client',
      'mi-resource',
      'wi-table',
      'wi-env',
      'mi-imds',
      'mi-imds-client',
      'cli',
    ];
    const childOf = (route: string) => (route === 'wi-env' ? aks : route.startsWith('mi-imds') || route === 'cli' ? vm : appService);

    before(async function () {
      this.timeout(60_000);
      double = await startEntraDouble({ cert: tls.pem, key: fs.readFileSync(tls.key, 'utf8') });
      double.clients.set('sp-secret-app', { clientSecret: 'the-right-secret' });
      double.clients.set('sp-wrong-app', { clientSecret: 'the-right-secret' });
      double.clients.set('sp-cert-app', { certificate: spCert });
      double.clients.set('sp-cert-locked-app', { certificate: spCertLocked });
      double.clients.set('sp-vault-app', { clientSecret: 'vault-secret', audience: 'https://vault.azure.net' });
      double.clients.set('wi-app', { federatedToken: FEDERATED_TOKEN });
      double.managedIdentities.set('', 'mi-system-principal');
      double.managedIdentities.set(MI_CLIENT_ID, 'mi-user-principal');
      double.managedIdentities.set(MI_RESOURCE_ID, 'mi-user-principal');
      store = await startAzuriteWithOAuth({ certFile: tls.cert, keyFile: tls.key, ca: tls.pem });
      const admin = new BlobServiceClient(store.endpoint, new StorageSharedKeyCredential(store.account, store.accountKey), {
        tlsOptions: { ca: tls.pem },
      } as StoragePipelineOptions);
      container = admin.getContainerClient(CONTAINER);
      await container.create();

      fs.writeFileSync(path.join(dir, 'sp-cert.pem'), spCert);
      fs.writeFileSync(path.join(dir, 'federated-token'), FEDERATED_TOKEN);
      const authority = { authorityHost: double.authorityHost, disableInstanceDiscovery: true };
      const sp = (clientId: string, secret: Record<string, string>) => ({
        servicePrincipal: { tenantId: double.tenantId, clientId, ...secret, ...authority },
      });
      const backends: Record<string, unknown> = {
        spSecret: sp('sp-secret-app', { clientSecretEnv: 'AZ_TEST_SP_SECRET' }),
        spCertFile: sp('sp-cert-app', { certificateFile: './sp-cert.pem' }),
        spCertEnv: sp('sp-cert-locked-app', { certificateEnv: 'AZ_TEST_SP_CERT', certificatePasswordEnv: 'AZ_TEST_SP_CERT_PASSWORD' }),
        spWrong: sp('sp-wrong-app', { clientSecretEnv: 'AZ_TEST_SP_WRONG' }),
        spVault: sp('sp-vault-app', { clientSecretEnv: 'AZ_TEST_SP_VAULT' }),
        miSystem: { managedIdentity: true },
        miClient: { managedIdentity: { clientId: MI_CLIENT_ID } },
        miResource: { managedIdentity: { resourceId: MI_RESOURCE_ID } },
        wiTable: { workloadIdentity: { tenantId: double.tenantId, clientId: 'wi-app', tokenFile: './federated-token', ...authority } },
        wiEnv: { workloadIdentity: { disableInstanceDiscovery: true } },
        miImds: { managedIdentity: true },
        miImdsClient: { managedIdentity: { clientId: MI_CLIENT_ID } },
        cli: { azureCli: { tenantId: double.tenantId } },
      };
      const backendOf = (route: string) => route.replace(/-(\w)/g, (_, c: string) => c.toUpperCase());
      /** s3mux serve with a table serving `routes`, with `env` added to its environment. */
      const serve = async (name: string, routes: string[], env: Record<string, string>): Promise<ChildServer> => {
        const table = {
          backends: {
            disk: { type: 'fs', root: './data' },
            ...Object.fromEntries(
              routes.map((r) => [backendOf(r), { type: 'azure', endpoint: store.endpoint, credentials: backends[backendOf(r)] }]),
            ),
          },
          default: 'disk',
          routes: Object.fromEntries(routes.map((r) => [r, { backend: backendOf(r), target: `az://${CONTAINER}/${r}/` }])),
        };
        const configFile = path.join(dir, `${name}.json`);
        fs.writeFileSync(configFile, JSON.stringify(table, null, 2));
        // The child inherits process.env when it is spawned (synchronously, in the call): set, spawn, restore.
        const all: Record<string, string> = { NODE_EXTRA_CA_CERTS: tls.cert, ...env };
        const saved = Object.fromEntries(Object.keys(all).map((k) => [k, process.env[k]]));
        let starting: Promise<ChildServer>;
        Object.assign(process.env, all);
        try {
          starting = startChildServer(path.join(dir, 'data'), ['--config', configFile]);
        } finally {
          for (const [k, v] of Object.entries(saved)) {
            if (v === undefined) delete process.env[k];
            else process.env[k] = v;
          }
        }
        return starting;
      };
      // Like App Service: an App Service style managed identity endpoint; secrets for the service principals.
      appService = await serve(
        'app-service',
        ['sp-secret', 'sp-cert-file', 'sp-cert-env', 'sp-wrong', 'sp-vault', 'mi-system', 'mi-client', 'mi-resource', 'wi-table'],
        {
          AZ_TEST_SP_SECRET: 'the-right-secret',
          AZ_TEST_SP_WRONG: 'a-wrong-secret',
          AZ_TEST_SP_VAULT: 'vault-secret',
          AZ_TEST_SP_CERT: spCertLocked,
          AZ_TEST_SP_CERT_PASSWORD: SP_CERT_PASSWORD,
          IDENTITY_ENDPOINT: double.identityEndpoint,
          IDENTITY_HEADER: double.identityHeader,
        },
      );
      // Like an AKS pod with workload identity: what the webhook sets. (There, @azure/identity
      // also turns managedIdentity into the federated token exchange: not s3mux's doing.)
      aks = await serve('aks', ['wi-env'], {
        AZURE_TENANT_ID: double.tenantId,
        AZURE_CLIENT_ID: 'wi-app',
        AZURE_FEDERATED_TOKEN_FILE: path.join(dir, 'federated-token'),
        AZURE_AUTHORITY_HOST: double.authorityHost,
      });
      // Like a VM (IMDS) where someone ran `az login`: a fake `az` first on the PATH prints a
      // token the double minted, and logs how it was called.
      const bin = path.join(dir, 'bin');
      fs.mkdirSync(bin, { recursive: true });
      azLog = path.join(dir, 'az.log');
      const minted = double.mint('cli-user');
      fs.writeFileSync(
        path.join(bin, 'az'),
        [
          `#!${process.execPath}`,
          "const fs = require('node:fs');",
          'const args = process.argv.slice(2);',
          `fs.appendFileSync(${JSON.stringify(azLog)}, JSON.stringify(args) + '\\n');`,
          "if (args[0] !== 'account' || args[1] !== 'get-access-token') { process.stderr.write('ERROR: unknown command'); process.exit(2); }",
          `const exp = ${minted.exp};`,
          'process.stdout.write(JSON.stringify({',
          `  accessToken: ${JSON.stringify(minted.token)},`,
          "  expiresOn: new Date(exp * 1000).toISOString().replace('T', ' ').replace('Z', '000'),",
          '  expires_on: exp,',
          "  subscription: '00000000-0000-0000-0000-000000000000',",
          `  tenant: ${JSON.stringify(double.tenantId)},`,
          "  tokenType: 'Bearer',",
          '}));',
          '',
        ].join('\n'),
        { mode: 0o755 },
      );
      vm = await serve('vm', ['mi-imds', 'mi-imds-client', 'cli'], {
        AZURE_POD_IDENTITY_AUTHORITY_HOST: double.imdsHost,
        PATH: `${bin}${path.delimiter}${process.env.PATH ?? ''}`,
      });
    });

    after(async function () {
      this.timeout(30_000);
      await appService?.stop();
      await aks?.stop();
      await vm?.stop();
      await store?.stop();
      await double?.close();
    });

    for (const route of WORKING) {
      it(`${route}: a put, get and list through s3mux land in the container with a bearer token`, async () => {
        const s3 = childOf(route)!.client;
        const text = `hello from ${route}`;
        const put = await s3.send(new PutObjectCommand({ Bucket: route, Key: 'hello.txt', Body: text }));
        expect(put.ETag).to.equal(`"${md5(text)}"`);
        const got = await s3.send(new GetObjectCommand({ Bucket: route, Key: 'hello.txt' }));
        expect(await got.Body!.transformToString()).to.equal(text);
        const list = await s3.send(new ListObjectsV2Command({ Bucket: route }));
        expect((list.Contents ?? []).map((o) => o.Key)).to.deep.equal(['hello.txt']);
        // It is in the store, under the route's prefix.
        expect((await container.getBlockBlobClient(`${route}/hello.txt`).downloadToBuffer()).toString()).to.equal(text);
      });
    }

    it('each credential used its own flow with the identity platform', () => {
      const tokenRequests = (clientId: string) => double.requests.filter((r) => r.via === 'token-endpoint' && r.clientId === clientId);
      const ok = (rs: TokenRequestRecord[]) => rs.filter((r) => r.ok).map((r) => r.auth);
      expect(ok(tokenRequests('sp-secret-app'))).to.include('client_secret');
      expect(ok(tokenRequests('sp-cert-app'))[0]).to.match(/^certificate:(RS256|PS256)$/);
      expect(ok(tokenRequests('sp-cert-locked-app'))[0]).to.match(/^certificate:(RS256|PS256)$/);
      // wi-table and wi-env: one token each, by the federated token.
      expect(ok(tokenRequests('wi-app'))).to.deep.equal(['federated', 'federated']);
      for (const r of double.requests.filter((x) => x.via === 'token-endpoint' && x.ok)) {
        expect(r.tenant).to.equal(double.tenantId);
        expect(r.scopeOrResource.split(' ')).to.include(`${STORAGE_AUDIENCE}/.default`);
      }
      const mi = double.requests.filter((r) => r.via === 'managed-identity' && r.ok).map((r) => r.auth);
      expect(mi).to.include.members(['system-assigned', `client_id=${MI_CLIENT_ID}`, `mi_res_id=${MI_RESOURCE_ID}`]);
      const imds = double.requests.filter((r) => r.via === 'imds' && r.ok);
      expect(imds.map((r) => r.auth)).to.have.members(['system-assigned', `client_id=${MI_CLIENT_ID}`]);
      expect(imds.every((r) => r.scopeOrResource.replace(/\/$/, '') === STORAGE_AUDIENCE)).to.equal(true);
      // The CLI was asked once (the token is cached), for storage, in the table's tenant.
      const calls = fs
        .readFileSync(azLog, 'utf8')
        .trim()
        .split('\n')
        .map((l) => JSON.parse(l) as string[]);
      expect(calls).to.deep.equal([
        ['account', 'get-access-token', '--output', 'json', '--resource', STORAGE_AUDIENCE, '--tenant', double.tenantId],
      ]);
      // Tokens are cached: one per credential, not one per request.
      expect(ok(tokenRequests('sp-secret-app'))).to.have.length(1);
    });

    it('a wrong client secret, or a token the store refuses, is AccessDenied and writes nothing', async () => {
      const s3 = appService!.client;
      for (const route of ['sp-wrong', 'sp-vault']) {
        const err = await s3.send(new PutObjectCommand({ Bucket: route, Key: 'nope.txt', Body: 'x' })).then(
          () => undefined,
          (e: Error) => e,
        );
        expect(err, route).to.be.instanceOf(Error);
        expect(err!.name, `${route}: ${err!.message}`).to.equal('AccessDenied');
      }
      const wrong = double.requests.filter((r) => r.clientId === 'sp-wrong-app');
      expect(wrong.length).to.be.greaterThan(0);
      expect(wrong.every((r) => !r.ok && /AADSTS7000215/.test(r.error ?? ''))).to.equal(true);
      // The vault-audience client did get tokens: the store refused them.
      expect(double.requests.some((r) => r.clientId === 'sp-vault-app' && r.ok)).to.equal(true);
      expect(double.issued.some((c) => c.aud === 'https://vault.azure.net')).to.equal(true);
      const names: string[] = [];
      for await (const b of container.listBlobsFlat()) names.push(b.name);
      expect(names.filter((n) => /^sp-(wrong|vault)\//.test(n))).to.deep.equal([]);
    });
  });
});

// ------------------------------------------------------------------------------ a real S3 client

describe('s3mux → Azure (Azurite) with @aws-sdk/client-s3', function () {
  this.timeout(120_000);
  const ENV = 'S3MUX_TEST_AZURITE_KEY';
  let a: Azurite;
  let srv: TestServer;
  let container: ContainerClient;
  const Bucket = 'blobs';

  before(async () => {
    a = await sharedAzurite();
    process.env[ENV] = a.accountKey;
    const table = validateRoutingTable({
      backends: { az: { type: 'azure', account: a.account, endpoint: a.endpoint, credentials: { accountKeyEnv: ENV } } },
      routes: { blobs: { target: 'az://container/prefix/' } },
    });
    const router = Router.fromTable(table);
    container = serviceOn(a).getContainerClient('container');
    await container.createIfNotExists();
    srv = await startTestServer({ router });
  });

  after(async () => {
    await srv?.stop();
    delete process.env[ENV];
  });

  const text = async (r: { Body?: { transformToString(): Promise<string> } }) => r.Body!.transformToString();

  it("puts with metadata, gets, range-gets, lists, copies and deletes; ETags look like S3's", async () => {
    const data = 'hello from s3mux to azure';
    const put = await srv.s3.send(
      new PutObjectCommand({
        Bucket,
        Key: 'dir/hello.txt',
        Body: data,
        ContentType: 'text/plain',
        Metadata: { 'multi-word': 'yes', color: 'blue' },
        CacheControl: 'max-age=5',
      }),
    );
    expect(put.ETag).to.equal(`"${md5(data)}"`);
    const raw = await container.getBlobClient('prefix/dir/hello.txt').getProperties();
    expect(Buffer.from(raw.contentMD5!).toString('hex')).to.equal(md5(data));
    expect(raw.metadata).to.include({ s3muxm_multi_2dword: 'yes', color: 'blue' });
    expect(raw.cacheControl).to.equal('max-age=5');

    const head = await srv.s3.send(new HeadObjectCommand({ Bucket, Key: 'dir/hello.txt' }));
    expect(head.Metadata).to.deep.equal({ 'multi-word': 'yes', color: 'blue' });
    expect(head.ContentType).to.equal('text/plain');
    expect(head.ETag).to.equal(`"${md5(data)}"`);

    const get = await srv.s3.send(new GetObjectCommand({ Bucket, Key: 'dir/hello.txt' }));
    expect(await text(get)).to.equal(data);
    const range = await srv.s3.send(new GetObjectCommand({ Bucket, Key: 'dir/hello.txt', Range: 'bytes=6-9' }));
    expect(await text(range)).to.equal('from');
    expect(range.ContentRange).to.equal(`bytes 6-9/${data.length}`);

    await srv.s3.send(new PutObjectCommand({ Bucket, Key: 'top.txt', Body: 'top' }));
    const list = await srv.s3.send(new ListObjectsV2Command({ Bucket, Delimiter: '/' }));
    expect(list.Contents?.map((o) => [o.Key, o.ETag])).to.deep.equal([['top.txt', `"${md5('top')}"`]]);
    expect(list.CommonPrefixes?.map((p) => p.Prefix)).to.deep.equal(['dir/']);
    const flat = await srv.s3.send(new ListObjectsV2Command({ Bucket, MaxKeys: 1 }));
    expect(flat.Contents?.map((o) => o.Key)).to.deep.equal(['dir/hello.txt']);
    expect(flat.IsTruncated).to.equal(true);
    const rest = await srv.s3.send(new ListObjectsV2Command({ Bucket, ContinuationToken: flat.NextContinuationToken }));
    expect(rest.Contents?.map((o) => o.Key)).to.deep.equal(['top.txt']);

    const copy = await srv.s3.send(new CopyObjectCommand({ Bucket, Key: 'copy/of-hello.txt', CopySource: `${Bucket}/dir/hello.txt` }));
    expect(copy.CopyObjectResult?.ETag).to.equal(`"${md5(data)}"`);
    const copied = await srv.s3.send(new HeadObjectCommand({ Bucket, Key: 'copy/of-hello.txt' }));
    expect(copied.Metadata).to.deep.equal({ 'multi-word': 'yes', color: 'blue' });
    expect(await container.getBlobClient('prefix/copy/of-hello.txt').exists()).to.equal(true);

    await srv.s3.send(new DeleteObjectCommand({ Bucket, Key: 'copy/of-hello.txt' }));
    const gone = await errorOf(srv.s3.send(new HeadObjectCommand({ Bucket, Key: 'copy/of-hello.txt' })));
    expect(gone.$metadata.httpStatusCode).to.equal(404);
    const missing = await errorOf(srv.s3.send(new GetObjectCommand({ Bucket, Key: 'no/such/key' })));
    expect(missing.name).to.equal('NoSuchKey');
  });

  it('uploads 12 MiB with @aws-sdk/lib-storage as a native multipart upload', async () => {
    const data = randomBytes(12 * MiB);
    const up = new Upload({
      client: srv.s3,
      params: {
        Bucket,
        Key: 'big/twelve.bin',
        Body: Readable.from([data.subarray(0, 7 * MiB), data.subarray(7 * MiB)]),
        ContentType: 'application/x-twelve',
      },
      partSize: 5 * MiB,
      queueSize: 2,
    });
    const r = await up.done();
    const partMd5s = [data.subarray(0, 5 * MiB), data.subarray(5 * MiB, 10 * MiB), data.subarray(10 * MiB)].map((p) =>
      createHash('md5').update(p).digest(),
    );
    const expected = `${createHash('md5').update(Buffer.concat(partMd5s)).digest('hex')}-3`;
    expect(r.ETag).to.equal(`"${expected}"`);
    const head = await srv.s3.send(new HeadObjectCommand({ Bucket, Key: 'big/twelve.bin' }));
    expect(head.ETag).to.equal(`"${expected}"`);
    expect(head.ContentLength).to.equal(data.length);
    expect(head.ContentType).to.equal('application/x-twelve');
    const got = await srv.s3.send(new GetObjectCommand({ Bucket, Key: 'big/twelve.bin', PartNumber: 2 }));
    expect(got.ContentLength).to.equal(5 * MiB);
    expect(got.PartsCount).to.equal(3);
    // Read to its end: the SDK checks the part's bytes against the part's checksum (an unread body would be cut at the server's stop).
    expect(Buffer.from(await got.Body!.transformToByteArray()).equals(data.subarray(5 * MiB, 10 * MiB))).to.equal(true);
    const whole = Buffer.from(
      await (await srv.s3.send(new GetObjectCommand({ Bucket, Key: 'big/twelve.bin' }))).Body!.transformToByteArray(),
    );
    expect(md5(whole)).to.equal(md5(data));
    const blocks = await container.getBlockBlobClient('prefix/big/twelve.bin').getBlockList('committed');
    expect(blocks.committedBlocks!.length).to.equal(3);
    const listed = await srv.s3.send(new ListObjectsV2Command({ Bucket, Prefix: 'big/' }));
    expect(listed.Contents?.map((o) => o.ETag)).to.deep.equal([`"${expected}"`]);
  });
});
