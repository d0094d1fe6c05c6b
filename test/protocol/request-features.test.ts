/**
 * Never silently drop: every header of src/s3/request-features.ts is honoured or refused with
 * S3's error, naming it, and a refused request stores nothing.
 */
import { expect } from 'chai';
import { createHash } from 'node:crypto';
import {
  CreateBucketCommand,
  GetObjectCommand,
  GetObjectLockConfigurationCommand,
  HeadBucketCommand,
  HeadObjectCommand,
  PutObjectCommand,
  CreateMultipartUploadCommand,
  CopyObjectCommand,
} from '@aws-sdk/client-s3';
import { startTestServer, ACCESS_KEY, SECRET_KEY, type TestServer } from '../helpers/server';
import { errorOf } from '../helpers/errors';
import { signedFetch } from '../helpers/sign';
import { REQUEST_FEATURES } from '../../src/s3/request-features';

const SSE_C_KEY = Buffer.alloc(32, 7);
const SSE_C_KEY_MD5 = createHash('md5').update(SSE_C_KEY).digest('base64');

/** A value for each header, and what s3mux answers to a PutObject carrying it (on fs, no encrypted-at-rest setting). */
const CASES: Array<[header: string, value: string, expected: string]> /* 'ok', 'ok unless fs', or the error code */ = [
  // Honoured where the store encrypts at rest: every backend but a plain fs folder, and s3rver, which
  // takes the header and does not encrypt (the s3 backend then refuses it: test/backends/s3.test.ts).
  ['x-amz-server-side-encryption', 'AES256', 'ok where the store encrypts'],
  ['x-amz-server-side-encryption', 'aws:kms', 'NotImplemented'],
  ['x-amz-server-side-encryption', 'rot13', 'InvalidArgument'],
  // Alone, each of these is a combination S3 refuses (test 'encryption headers S3 cannot take together' below).
  ['x-amz-server-side-encryption-aws-kms-key-id', 'key', 'InvalidArgument'],
  ['x-amz-server-side-encryption-context', 'e30=', 'InvalidArgument'],
  ['x-amz-server-side-encryption-bucket-key-enabled', 'false', 'ok'],
  ['x-amz-server-side-encryption-bucket-key-enabled', 'true', 'InvalidArgument'],
  ['x-amz-server-side-encryption-customer-algorithm', 'AES256', 'InvalidArgument'],
  ['x-amz-server-side-encryption-customer-key', SSE_C_KEY.toString('base64'), 'InvalidArgument'],
  ['x-amz-server-side-encryption-customer-key-md5', SSE_C_KEY_MD5, 'InvalidArgument'],
  ['x-amz-copy-source-server-side-encryption-customer-algorithm', 'AES256', 'NotImplemented'],
  ['x-amz-copy-source-server-side-encryption-customer-key', SSE_C_KEY.toString('base64'), 'NotImplemented'],
  ['x-amz-copy-source-server-side-encryption-customer-key-md5', 'AAAAAAAAAAAAAAAAAAAAAA==', 'NotImplemented'],
  ['x-amz-acl', 'private', 'ok'],
  ['x-amz-acl', 'bucket-owner-full-control', 'ok'],
  ['x-amz-acl', 'bucket-owner-read', 'ok'],
  // The bucket has s3mux's default ownership, BucketOwnerEnforced: ACLs that grant others are refused.
  ['x-amz-acl', 'public-read', 'AccessControlListNotSupported'],
  ['x-amz-acl', 'authenticated-read', 'AccessControlListNotSupported'],
  ['x-amz-acl', 'no-such-acl', 'InvalidArgument'],
  ['x-amz-grant-read', 'uri="http://acs.amazonaws.com/groups/global/AllUsers"', 'AccessControlListNotSupported'],
  ['x-amz-grant-write', 'id="x"', 'InvalidArgument'],
  ['x-amz-grant-read-acp', 'id="x"', 'InvalidArgument'],
  ['x-amz-grant-write-acp', 'id="x"', 'InvalidArgument'],
  ['x-amz-grant-full-control', 'id="x"', 'InvalidArgument'],
  ['x-amz-grant-full-control', 'emailAddress="nobody@example.com"', 'UnresolvableGrantByEmailAddress'],
  ['x-amz-object-ownership', 'BucketOwnerEnforced', 'ok'],
  ['x-amz-object-ownership', 'ObjectWriter', 'ok'],
  ['x-amz-bucket-object-lock-enabled', 'false', 'ok'],
  ['x-amz-bucket-object-lock-enabled', 'true', 'ok where s3mux keeps state'],
  ['x-amz-object-lock-mode', 'GOVERNANCE', 'InvalidRequest'],
  ['x-amz-object-lock-retain-until-date', '2030-01-01T00:00:00Z', 'InvalidRequest'],
  ['x-amz-object-lock-legal-hold', 'ON', 'InvalidRequest'],
  ['x-amz-bypass-governance-retention', 'true', 'ok'],
  ['x-amz-website-redirect-location', '/other', 'NotImplemented'],
  // A location without http://, https:// or / is S3's 400 whatever the server offers (aws-cli#1130 shows AWS's answer).
  ['x-amz-website-redirect-location', 'google.com', 'InvalidRedirectLocation'],
  ['x-amz-mfa', '123 456', 'NotImplemented'],
  ['x-amz-write-offset-bytes', '0', 'NotImplemented'],
  // Node removes the chunked framing and nothing else: gzip-coded bytes were stored still coded.
  ['transfer-encoding', 'chunked', 'ok'],
  ['transfer-encoding', 'gzip, chunked', 'NotImplemented'],
  ['x-amz-if-match-initiated-time', 'Mon, 07 Dec 2026 07:00:00 GMT', 'NotImplemented'],
  // s3mux's own header names a bucket's tier on CreateBucket (test/transfer/bucket-tier.test.ts), nothing on a PutObject.
  ['x-s3mux-tier', 'gold', 'InvalidArgument'],
  ['x-amz-request-payer', 'requester', 'ok'],
  ['x-amz-request-payer', 'someone', 'InvalidArgument'],
  ['x-amz-expected-bucket-owner', '111122223333', 'AccessDenied'],
  ['x-amz-source-expected-bucket-owner', '111122223333', 'AccessDenied'],
  // What is not an account id is S3's 400, before any owner is compared (LocalStack's S3 provider,
  // versitygw#1428: S3 answered 400 for such a value, 403 for another account's).
  ['x-amz-expected-bucket-owner', 'abc', 'InvalidBucketOwnerAWSAccountID'],
  ['x-amz-expected-bucket-owner', '1234567890123', 'InvalidBucketOwnerAWSAccountID'],
  ['x-amz-source-expected-bucket-owner', 'abc', 'InvalidBucketOwnerAWSAccountID'],
];

describe('protocol: request headers are honoured or refused, never dropped', () => {
  let srv: TestServer;
  const Bucket = 'features';
  before(async () => {
    srv = await startTestServer();
    await srv.s3.send(new CreateBucketCommand({ Bucket }));
  });
  after(async () => {
    await srv.stop();
  });
  const raw = (method: string, path: string, headers: Record<string, string>, body?: string) =>
    signedFetch(srv.url, { accessKeyId: ACCESS_KEY, secretAccessKey: SECRET_KEY }, method, path, { headers, body });

  it('covers every header of the table', () => {
    expect([...new Set(CASES.map(([h]) => h))].sort()).to.deep.equal(REQUEST_FEATURES.map((f) => f.header).sort());
  });

  for (const [header, value, given] of CASES) {
    let expected = given;
    it(`${header}: ${value} -> ${given === 'ok' ? 'honoured' : given}`, async () => {
      if (expected === 'ok where the store encrypts')
        expected = srv.router.defaultBackend.kind === 'fs' || process.env.S3MUX_TEST_BACKEND === 's3rver' ? 'NotImplemented' : 'ok';
      // Object lock needs the store's reserved area (src/object-lock); on a PutObject the header means nothing.
      if (expected === 'ok where s3mux keeps state') expected = srv.router.defaultBackend.reserved ? 'ok' : 'InvalidRequest';
      const key = `f/${header}/${value.replace(/\W/g, '')}`;
      const r = await raw('PUT', `/${Bucket}/${key}`, { [header]: value }, 'content');
      if (expected === 'ok') {
        expect(r.status, r.text).to.equal(200);
        expect((await srv.s3.send(new HeadObjectCommand({ Bucket, Key: key }))).ContentLength).to.equal(7);
        return;
      }
      expect(r.text).to.contain(`<Code>${expected}</Code>`);
      expect(r.status).to.be.oneOf(expected === 'NotImplemented' ? [501] : expected === 'AccessDenied' ? [403] : [400]);
      // S3's own wording for these names no header.
      if (!['AccessDenied', 'InvalidArgument', 'InvalidRedirectLocation', 'InvalidBucketOwnerAWSAccountID'].includes(expected))
        expect(r.text).to.contain(header);
      // S3 quotes the value that is not an account id.
      if (expected === 'InvalidBucketOwnerAWSAccountID') {
        expect(r.text).to.contain(
          `<Message>The value of the expected bucket owner parameter must be an AWS Account ID... [${value}]</Message>`,
        );
      }
      // A bucket owner that is not the one expected: S3 says Access Denied and nothing more (nor which header).
      if (expected === 'AccessDenied') expect(r.text).to.contain('<Message>Access Denied</Message>');
      expect((await errorOf(srv.s3.send(new HeadObjectCommand({ Bucket, Key: key })))).$metadata.httpStatusCode).to.equal(404);
    });
  }

  it('every object answer says SSE-S3 where the store encrypts every object, asked or not, and nothing where it does not', async () => {
    const kind = srv.router.defaultBackend.kind;
    // A plain fs folder is not encrypted; an s3 store says only what a write asked it for.
    const everyObject = kind !== 'fs' && kind !== 's3';
    const put = await srv.s3.send(new PutObjectCommand({ Bucket, Key: 'sse/plain', Body: 'plain' }));
    const head = await srv.s3.send(new HeadObjectCommand({ Bucket, Key: 'sse/plain' }));
    const get = await srv.s3.send(new GetObjectCommand({ Bucket, Key: 'sse/plain', Range: 'bytes=0-1' }));
    await get.Body?.transformToString();
    const copy = await srv.s3.send(new CopyObjectCommand({ Bucket, Key: 'sse/copy', CopySource: `${Bucket}/sse/plain` }));
    const said = [put, head, get, copy].map((r) => r.ServerSideEncryption);
    if (kind === 's3') {
      // Writes say what they asked the store for; GET and HEAD say what the store says of the object.
      expect([said[0], said[3]]).to.deep.equal([undefined, undefined]);
      expect(said[1]).to.equal(said[2]);
    } else {
      expect(said).to.deep.equal(everyObject ? ['AES256', 'AES256', 'AES256', 'AES256'] : [undefined, undefined, undefined, undefined]);
    }
    // Listings and bucket answers carry no such header.
    const list = await raw('GET', `/${Bucket}`, {});
    expect(list.headers['x-amz-server-side-encryption']).to.equal(undefined);
  });

  it('GET and HEAD that send x-amz-server-side-encryption (or a KMS key id) are 400 InvalidArgument, as in S3, on every store', async () => {
    await srv.s3.send(new PutObjectCommand({ Bucket, Key: 'sse/read', Body: 'read me' }));
    for (const headers of [
      { 'x-amz-server-side-encryption': 'AES256' } as Record<string, string>,
      { 'x-amz-server-side-encryption': 'aws:kms' },
      { 'x-amz-server-side-encryption-aws-kms-key-id': 'key' },
    ]) {
      for (const method of ['GET', 'HEAD']) {
        const r = await raw(method, `/${Bucket}/sse/read`, headers);
        expect(r.status, `${method} ${JSON.stringify(headers)}`).to.equal(400);
        if (method === 'GET') expect(r.text).to.contain('<Code>InvalidArgument</Code>');
      }
    }
  });

  describe('encryption headers S3 cannot take together: its 400, not 501, and nothing stored', () => {
    const ssec = {
      'x-amz-server-side-encryption-customer-algorithm': 'AES256',
      'x-amz-server-side-encryption-customer-key': SSE_C_KEY.toString('base64'),
      'x-amz-server-side-encryption-customer-key-md5': SSE_C_KEY_MD5,
    };
    const without = (name: string) => Object.fromEntries(Object.entries(ssec).filter(([h]) => h !== name));
    const noAlgorithm = 'Requests specifying Server Side Encryption with Customer provided keys must provide a valid encryption algorithm.';
    const noKey = 'Requests specifying Server Side Encryption with Customer provided keys must provide an appropriate secret key.';
    const requiresKms = 'Server Side Encryption with AWS KMS managed key requires HTTP header x-amz-server-side-encryption : aws:kms';
    const short = Buffer.alloc(16, 7);
    const CASES: Array<[what: string, headers: Record<string, string>, code: string, message: string, value: string]> = [
      [
        'SSE-C key and MD5 without the algorithm',
        without('x-amz-server-side-encryption-customer-algorithm'),
        'InvalidArgument',
        noAlgorithm,
        'null',
      ],
      ['SSE-C algorithm and MD5 without the key', without('x-amz-server-side-encryption-customer-key'), 'InvalidArgument', noKey, 'null'],
      [
        'SSE-C with algorithm AES128',
        { ...ssec, 'x-amz-server-side-encryption-customer-algorithm': 'AES128' },
        'InvalidEncryptionAlgorithmError',
        'The Encryption request you specified is not valid. Supported value: AES256.',
        'AES128',
      ],
      [
        'an SSE-C key of 128 bits',
        {
          ...ssec,
          'x-amz-server-side-encryption-customer-key': short.toString('base64'),
          'x-amz-server-side-encryption-customer-key-md5': createHash('md5').update(short).digest('base64'),
        },
        'InvalidArgument',
        'The secret key was invalid for the specified algorithm.',
        'null',
      ],
      [
        "an SSE-C key MD5 that is not the key's",
        { ...ssec, 'x-amz-server-side-encryption-customer-key-md5': createHash('md5').update('other').digest('base64') },
        'InvalidArgument',
        'The calculated MD5 hash of the key did not match the hash that was provided.',
        'null',
      ],
      [
        'SSE-C with x-amz-server-side-encryption',
        { ...ssec, 'x-amz-server-side-encryption': 'AES256' },
        'InvalidArgument',
        'Server Side Encryption with Customer provided key is incompatible with the encryption method specified',
        'AES256',
      ],
      [
        'a KMS key id with AES256',
        { 'x-amz-server-side-encryption': 'AES256', 'x-amz-server-side-encryption-aws-kms-key-id': 'key' },
        'InvalidArgument',
        requiresKms,
        'null',
      ],
      [
        'a KMS context without x-amz-server-side-encryption',
        { 'x-amz-server-side-encryption-context': 'e30=' },
        'InvalidArgument',
        requiresKms,
        'null',
      ],
      [
        'an S3 Bucket Key without aws:kms',
        { 'x-amz-server-side-encryption-bucket-key-enabled': 'true' },
        'InvalidArgument',
        requiresKms,
        'null',
      ],
      [
        'an unknown x-amz-server-side-encryption',
        { 'x-amz-server-side-encryption': 'rot13' },
        'InvalidArgument',
        'The encryption method specified is not supported',
        'rot13',
      ],
    ];
    for (const [what, headers, code, message, value] of CASES) {
      it(`${what}: 400 ${code}`, async () => {
        const key = `combo/${what.replace(/\W/g, '')}`;
        const r = await raw('PUT', `/${Bucket}/${key}`, headers, 'content');
        expect(r.status, r.text).to.equal(400);
        expect(r.text).to.contain(`<Code>${code}</Code><Message>${message}</Message>`);
        expect(r.text).to.contain(`<ArgumentName>x-amz-server-side-encryption</ArgumentName><ArgumentValue>${value}</ArgumentValue>`);
        expect((await errorOf(srv.s3.send(new HeadObjectCommand({ Bucket, Key: key })))).$metadata.httpStatusCode).to.equal(404);
      });
    }

    it('a valid SSE-C or SSE-KMS request stays refused with 501, s3mux keeping neither', async () => {
      for (const headers of [
        ssec as Record<string, string>,
        {
          'x-amz-server-side-encryption': 'aws:kms',
          'x-amz-server-side-encryption-aws-kms-key-id': 'key',
          'x-amz-server-side-encryption-bucket-key-enabled': 'true',
        },
        { 'x-amz-server-side-encryption': 'aws:kms:dsse', 'x-amz-server-side-encryption-context': 'e30=' },
      ]) {
        const r = await raw('PUT', `/${Bucket}/combo/valid`, headers, 'content');
        expect(r.status, JSON.stringify(headers)).to.equal(501);
        expect(r.text).to.contain('<Code>NotImplemented</Code>');
      }
      expect((await errorOf(srv.s3.send(new HeadObjectCommand({ Bucket, Key: 'combo/valid' })))).$metadata.httpStatusCode).to.equal(404);
    });
  });

  describe('as clients send them', () => {
    it('SSE-C on PutObject is refused: nothing stored in plaintext', async () => {
      const e = await errorOf(
        srv.s3.send(
          new PutObjectCommand({
            Bucket,
            Key: 'ssec',
            Body: 'secret',
            SSECustomerAlgorithm: 'AES256',
            SSECustomerKey: SSE_C_KEY.toString('base64'),
          }),
        ),
      );
      expect(e.$metadata.httpStatusCode).to.equal(501);
      expect(e.name).to.equal('NotImplemented');
      expect((await errorOf(srv.s3.send(new GetObjectCommand({ Bucket, Key: 'ssec' })))).name).to.equal('NoSuchKey');
    });

    it('a public-read ACL on PutObject and CreateMultipartUpload is refused where ACLs are disabled; private is honoured', async () => {
      expect((await errorOf(srv.s3.send(new PutObjectCommand({ Bucket, Key: 'acl', Body: 'x', ACL: 'public-read' })))).name).to.equal(
        'AccessControlListNotSupported',
      );
      expect(
        (await errorOf(srv.s3.send(new CreateMultipartUploadCommand({ Bucket, Key: 'acl', ACL: 'public-read-write' })))).name,
      ).to.equal('AccessControlListNotSupported');
      await srv.s3.send(new PutObjectCommand({ Bucket, Key: 'acl', Body: 'x', ACL: 'private' }));
      await srv.s3.send(new CopyObjectCommand({ Bucket, Key: 'acl-copy', CopySource: `${Bucket}/acl`, ACL: 'bucket-owner-full-control' }));
    });

    it('CreateBucket with object lock enabled is honoured where s3mux keeps its state in the store, refused elsewhere', async () => {
      const create = srv.s3.send(new CreateBucketCommand({ Bucket: 'locked-bucket', ObjectLockEnabledForBucket: true }));
      if (srv.router.defaultBackend.reserved) {
        await create;
        const config = await srv.s3.send(new GetObjectLockConfigurationCommand({ Bucket: 'locked-bucket' }));
        expect(config.ObjectLockConfiguration?.ObjectLockEnabled).to.equal('Enabled');
      } else {
        const e = await errorOf(create);
        expect(e.name).to.equal('InvalidRequest');
        expect(e.message).to.match(/Bucket is missing Object Lock Configuration/);
        expect((await errorOf(srv.s3.send(new HeadBucketCommand({ Bucket: 'locked-bucket' })))).$metadata.httpStatusCode).to.equal(404);
      }
      await srv.s3.send(new CreateBucketCommand({ Bucket: 'acl-private-bucket', ACL: 'private', ObjectOwnership: 'BucketOwnerEnforced' }));
    });

    it('a refused CreateBucket creates no bucket', async () => {
      await errorOf(srv.s3.send(new CreateBucketCommand({ Bucket: 'refused-bucket-2', ACL: 'public-read' })));
      expect((await errorOf(srv.s3.send(new HeadBucketCommand({ Bucket: 'refused-bucket-2' })))).$metadata.httpStatusCode).to.equal(404);
    });

    it('object lock headers on PutObject in a bucket without object lock: InvalidRequest, as S3 answers', async () => {
      const e = await errorOf(
        srv.s3.send(
          new PutObjectCommand({
            Bucket,
            Key: 'lock',
            Body: 'x',
            ObjectLockMode: 'COMPLIANCE',
            ObjectLockRetainUntilDate: new Date('2030-01-01'),
          }),
        ),
      );
      expect(e.name).to.equal('InvalidRequest');
    });
  });
});

describe('protocol: SSE-S3 on an fs backend that is encrypted at rest', () => {
  let srv: TestServer;
  before(async () => {
    srv = await startTestServer({ fsEncryptedAtRest: true });
    await srv.s3.send(new CreateBucketCommand({ Bucket: 'sse' }));
  });
  after(async () => {
    await srv.stop();
  });

  it('honours AES256 and says so; SSE-KMS stays refused', async () => {
    if (process.env.S3MUX_TEST_BACKEND === 's3rver') {
      // s3rver takes the header and does not encrypt: refused, whatever s3mux's own folders are.
      const refused = srv.s3.send(new PutObjectCommand({ Bucket: 'sse', Key: 'k', Body: 'x', ServerSideEncryption: 'AES256' }));
      expect((await errorOf(refused)).name).to.equal('NotImplemented');
      return;
    }
    const put = await srv.s3.send(new PutObjectCommand({ Bucket: 'sse', Key: 'k', Body: 'x', ServerSideEncryption: 'AES256' }));
    expect(put.ServerSideEncryption).to.equal('AES256');
    if (srv.router.defaultBackend.kind !== 's3') {
      // Every file of the folder is on the encrypted volume: asked or not, each object is SSE-S3.
      const unasked = await srv.s3.send(new PutObjectCommand({ Bucket: 'sse', Key: 'k3', Body: 'x' }));
      expect(unasked.ServerSideEncryption).to.equal('AES256');
      expect((await srv.s3.send(new HeadObjectCommand({ Bucket: 'sse', Key: 'k' }))).ServerSideEncryption).to.equal('AES256');
    }
    expect(
      (await errorOf(srv.s3.send(new PutObjectCommand({ Bucket: 'sse', Key: 'k2', Body: 'x', ServerSideEncryption: 'aws:kms' })))).name,
    ).to.equal('NotImplemented');
  });
});
