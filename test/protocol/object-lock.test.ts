/** Object lock through the AWS SDK v3, aws-cli and boto3 (every protocol store with a reserved area). */
import { existsSync } from 'node:fs';
import { createHash } from 'node:crypto';
import { expect } from 'chai';
import {
  S3Client,
  PutBucketPolicyCommand,
  CompleteMultipartUploadCommand,
  CopyObjectCommand,
  CreateBucketCommand,
  CreateMultipartUploadCommand,
  DeleteObjectCommand,
  DeleteObjectsCommand,
  GetBucketVersioningCommand,
  GetObjectCommand,
  GetObjectLegalHoldCommand,
  GetObjectLockConfigurationCommand,
  GetObjectRetentionCommand,
  HeadObjectCommand,
  ListObjectVersionsCommand,
  PutBucketVersioningCommand,
  PutObjectCommand,
  PutObjectLegalHoldCommand,
  PutObjectLockConfigurationCommand,
  PutObjectRetentionCommand,
  UploadPartCommand,
} from '@aws-sdk/client-s3';
import { startTestServer, ACCESS_KEY, SECRET_KEY, type TestServer } from '../helpers/server';
import { signedFetch } from '../helpers/sign';
import { errorOf } from '../helpers/errors';
import { awsCliEnv, run } from '../helpers/processes';

const CREDS = { accessKeyId: ACCESS_KEY, secretAccessKey: SECRET_KEY };
const DAY = 24 * 3600_000;
const inDays = (d: number) => new Date(Date.now() + d * DAY);
const md5 = (s: string) => createHash('md5').update(s).digest('base64');

describe('protocol: object lock', function () {
  this.timeout(60_000);
  let srv: TestServer;
  let n = 0;
  const name = () => `lock-${++n}-${Date.now().toString(36)}`;
  /** A bucket created with object lock enabled. */
  const locked = async (): Promise<string> => {
    const Bucket = name();
    await srv.s3.send(new CreateBucketCommand({ Bucket, ObjectLockEnabledForBucket: true }));
    return Bucket;
  };
  const put = (Bucket: string, Key: string, Body: string, extra: Record<string, unknown> = {}) =>
    srv.s3.send(new PutObjectCommand({ Bucket, Key, Body, ...extra }));
  const governance = (days = 1) => ({ ObjectLockMode: 'GOVERNANCE' as const, ObjectLockRetainUntilDate: inDays(days) });

  before(async () => {
    srv = await startTestServer();
  });
  after(async () => {
    await srv.stop();
  });

  describe('bucket configuration', () => {
    it('CreateBucket with object lock turns versioning on for good and answers an Enabled configuration', async () => {
      const Bucket = await locked();
      expect((await srv.s3.send(new GetBucketVersioningCommand({ Bucket }))).Status).to.equal('Enabled');
      const config = await srv.s3.send(new GetObjectLockConfigurationCommand({ Bucket }));
      expect(config.ObjectLockConfiguration).to.deep.equal({ ObjectLockEnabled: 'Enabled' });
      const suspend = await errorOf(
        srv.s3.send(new PutBucketVersioningCommand({ Bucket, VersioningConfiguration: { Status: 'Suspended' } })),
      );
      expect(suspend.name).to.equal('InvalidBucketState');
      expect(suspend.$metadata.httpStatusCode).to.equal(409);
      expect((await srv.s3.send(new GetBucketVersioningCommand({ Bucket }))).Status).to.equal('Enabled');
    });

    it('a bucket without lock: ObjectLockConfigurationNotFoundError, lock headers refused, enabling needs versioning', async () => {
      const Bucket = name();
      await srv.s3.send(new CreateBucketCommand({ Bucket }));
      const none = await errorOf(srv.s3.send(new GetObjectLockConfigurationCommand({ Bucket })));
      expect(none.name).to.equal('ObjectLockConfigurationNotFoundError');
      expect(none.$metadata.httpStatusCode).to.equal(404);
      // S3 names the bucket, as with its other bucket configurations' NotFound answers.
      expect((none as unknown as { BucketName?: string }).BucketName).to.equal(Bucket);
      const headers = await errorOf(put(Bucket, 'k', 'x', governance()));
      expect(headers.name).to.equal('InvalidRequest');
      expect(headers.message).to.match(/Bucket is missing Object Lock Configuration/);
      const hold = await errorOf(put(Bucket, 'k', 'x', { ObjectLockLegalHoldStatus: 'ON' }));
      expect(hold.name).to.equal('InvalidRequest');
      const retention = await errorOf(
        srv.s3.send(new PutObjectRetentionCommand({ Bucket, Key: 'k', Retention: { Mode: 'GOVERNANCE', RetainUntilDate: inDays(1) } })),
      );
      expect(retention.name).to.equal('InvalidRequest');
      const legalHold = await errorOf(srv.s3.send(new PutObjectLegalHoldCommand({ Bucket, Key: 'k', LegalHold: { Status: 'ON' } })));
      expect(legalHold.name).to.equal('InvalidRequest');
      // A legal hold request without its body is MalformedXML first, as S3 answers it (LocalStack's
      // AWS-validated test_put_object_legal_hold_exc, put-object-retention-empty).
      const noBody = await errorOf(srv.s3.send(new PutObjectLegalHoldCommand({ Bucket, Key: 'k' })));
      expect([noBody.name, noBody.$metadata.httpStatusCode]).to.deep.equal(['MalformedXML', 400]);
      // The bypass header, true or false, has no retention to bypass here: S3 refuses it on deletes.
      await put(Bucket, 'plain', 'x');
      for (const send of [
        () => srv.s3.send(new DeleteObjectCommand({ Bucket, Key: 'plain', BypassGovernanceRetention: true })),
        () => srv.s3.send(new DeleteObjectCommand({ Bucket, Key: 'plain', BypassGovernanceRetention: false })),
        () => srv.s3.send(new DeleteObjectsCommand({ Bucket, Delete: { Objects: [{ Key: 'plain' }] }, BypassGovernanceRetention: true })),
      ]) {
        const e = await errorOf(send());
        expect([e.name, e.message, e.$metadata.httpStatusCode]).to.deep.equal([
          'InvalidArgument',
          'x-amz-bypass-governance-retention is only applicable to Object Lock enabled buckets.',
          400,
        ]);
      }
      expect((await srv.s3.send(new HeadObjectCommand({ Bucket, Key: 'plain' }))).ContentLength).to.equal(1);
      const enable = { Bucket, ObjectLockConfiguration: { ObjectLockEnabled: 'Enabled' as const } };
      const unversioned = await errorOf(srv.s3.send(new PutObjectLockConfigurationCommand(enable)));
      expect(unversioned.name).to.equal('InvalidBucketState');
      // As S3 does now: an existing bucket with versioning Enabled can have lock turned on.
      await srv.s3.send(new PutBucketVersioningCommand({ Bucket, VersioningConfiguration: { Status: 'Enabled' } }));
      await srv.s3.send(new PutObjectLockConfigurationCommand(enable));
      const r = await put(Bucket, 'k', 'x', governance());
      expect((await srv.s3.send(new HeadObjectCommand({ Bucket, Key: 'k', VersionId: r.VersionId }))).ObjectLockMode).to.equal(
        'GOVERNANCE',
      );
    });

    it('default retention: kept and answered, applied to new versions; bad configurations refused as S3 does', async () => {
      const Bucket = await locked();
      await srv.s3.send(
        new PutObjectLockConfigurationCommand({
          Bucket,
          ObjectLockConfiguration: { ObjectLockEnabled: 'Enabled', Rule: { DefaultRetention: { Mode: 'COMPLIANCE', Days: 2 } } },
        }),
      );
      const got = await srv.s3.send(new GetObjectLockConfigurationCommand({ Bucket }));
      expect(got.ObjectLockConfiguration?.Rule?.DefaultRetention).to.deep.equal({ Mode: 'COMPLIANCE', Days: 2 });
      const before = Date.now();
      const v = await put(Bucket, 'd', 'defaulted');
      const head = await srv.s3.send(new HeadObjectCommand({ Bucket, Key: 'd' }));
      expect(head.ObjectLockMode).to.equal('COMPLIANCE');
      const until = head.ObjectLockRetainUntilDate!.getTime();
      expect(until).to.be.within(before + 2 * DAY - 1000, Date.now() + 2 * DAY + 1000);
      // An explicit retention wins over the default.
      await put(Bucket, 'e', 'explicit', governance(5));
      expect((await srv.s3.send(new HeadObjectCommand({ Bucket, Key: 'e' }))).ObjectLockMode).to.equal('GOVERNANCE');
      const denied = await errorOf(srv.s3.send(new DeleteObjectCommand({ Bucket, Key: 'd', VersionId: v.VersionId })));
      expect(denied.name).to.equal('AccessDenied');

      const send = (body: string, withMd5 = true) =>
        signedFetch(srv.url, CREDS, 'PUT', `/${Bucket}`, {
          query: { 'object-lock': '' },
          body,
          headers: withMd5 ? { 'content-md5': md5(body) } : {},
        });
      const rule = (inner: string) =>
        `<ObjectLockConfiguration><ObjectLockEnabled>Enabled</ObjectLockEnabled><Rule><DefaultRetention>${inner}</DefaultRetention></Rule></ObjectLockConfiguration>`;
      const cases: Array<[string, number, string]> = [
        [rule('<Mode>GOVERNANCE</Mode><Days>1</Days><Years>1</Years>'), 400, 'MalformedXML'],
        [rule('<Mode>GOVERNANCE</Mode>'), 400, 'MalformedXML'],
        [rule('<Mode>WORM</Mode><Days>1</Days>'), 400, 'MalformedXML'],
        [rule('<Mode>GOVERNANCE</Mode><Days>0</Days>'), 400, 'InvalidArgument'],
        ['<ObjectLockConfiguration><ObjectLockEnabled>Disabled</ObjectLockEnabled></ObjectLockConfiguration>', 400, 'MalformedXML'],
      ];
      for (const [body, status, code] of cases) {
        const r = await send(body);
        expect([r.status, /<Code>([^<]*)/.exec(r.text)?.[1]], body).to.deep.equal([status, code]);
      }
      const noMd5 = await send(rule('<Mode>GOVERNANCE</Mode><Days>1</Days>'), false);
      expect(noMd5.status).to.equal(400);
      expect(noMd5.text).to.match(/<Code>InvalidRequest<\/Code>[\s\S]*Content-MD5/);
      // The refusals changed nothing.
      const still = await srv.s3.send(new GetObjectLockConfigurationCommand({ Bucket }));
      expect(still.ObjectLockConfiguration?.Rule?.DefaultRetention).to.deep.equal({ Mode: 'COMPLIANCE', Days: 2 });
    });
  });

  describe('lock headers on writes', () => {
    it('mode and date come together; a past date, an unknown mode or legal hold value is InvalidArgument', async () => {
      const Bucket = await locked();
      const modeOnly = await errorOf(put(Bucket, 'k', 'x', { ObjectLockMode: 'GOVERNANCE' }));
      expect(modeOnly.name).to.equal('InvalidArgument');
      const dateOnly = await errorOf(put(Bucket, 'k', 'x', { ObjectLockRetainUntilDate: inDays(1) }));
      expect(dateOnly.name).to.equal('InvalidArgument');
      const past = await errorOf(put(Bucket, 'k', 'x', { ObjectLockMode: 'GOVERNANCE', ObjectLockRetainUntilDate: inDays(-1) }));
      expect(past.name).to.equal('InvalidArgument');
      const mode = await errorOf(put(Bucket, 'k', 'x', { ObjectLockMode: 'FOREVER', ObjectLockRetainUntilDate: inDays(1) }));
      expect(mode.name).to.equal('InvalidArgument');
      const hold = await errorOf(put(Bucket, 'k', 'x', { ObjectLockLegalHoldStatus: 'MAYBE' }));
      expect(hold.name).to.equal('InvalidArgument');
      // Nothing was written by the refused requests.
      expect((await srv.s3.send(new ListObjectVersionsCommand({ Bucket }))).Versions ?? []).to.have.length(0);
    });

    it('a PutObject with a retention needs Content-MD5 or a checksum', async () => {
      const Bucket = await locked();
      const headers = { 'x-amz-object-lock-mode': 'GOVERNANCE', 'x-amz-object-lock-retain-until-date': inDays(1).toISOString() };
      const bare = await signedFetch(srv.url, CREDS, 'PUT', `/${Bucket}/m`, { body: 'data', headers });
      expect(bare.status).to.equal(400);
      expect(bare.text).to.match(/<Code>InvalidRequest<\/Code>[\s\S]*Content-MD5/);
      const ok = await signedFetch(srv.url, CREDS, 'PUT', `/${Bucket}/m`, {
        body: 'data',
        headers: { ...headers, 'content-md5': md5('data') },
      });
      expect(ok.status).to.equal(200);
      expect(ok.headers['x-amz-version-id']).to.be.a('string');
    });

    it('GET and HEAD answer the lock of the version they read; ListObjectVersions lists locked versions as any other', async () => {
      const Bucket = await locked();
      const until = inDays(3);
      until.setMilliseconds(0);
      const v1 = await put(Bucket, 'k', 'one', {
        ObjectLockMode: 'COMPLIANCE',
        ObjectLockRetainUntilDate: until,
        ObjectLockLegalHoldStatus: 'ON',
      });
      const v2 = await put(Bucket, 'k', 'two');
      expect(v2.VersionId).to.not.equal(v1.VersionId);
      const got = await srv.s3.send(new GetObjectCommand({ Bucket, Key: 'k', VersionId: v1.VersionId }));
      expect(await got.Body!.transformToString()).to.equal('one');
      expect([got.ObjectLockMode, got.ObjectLockRetainUntilDate?.toISOString(), got.ObjectLockLegalHoldStatus]).to.deep.equal([
        'COMPLIANCE',
        until.toISOString(),
        'ON',
      ]);
      const latest = await srv.s3.send(new HeadObjectCommand({ Bucket, Key: 'k' }));
      expect([latest.ObjectLockMode, latest.ObjectLockLegalHoldStatus]).to.deep.equal([undefined, undefined]);
      const listed = await srv.s3.send(new ListObjectVersionsCommand({ Bucket }));
      expect(listed.Versions!.map((v) => [v.VersionId, v.IsLatest])).to.deep.equal([
        [v2.VersionId, true],
        [v1.VersionId, false],
      ]);
    });

    it('CopyObject and CreateMultipartUpload take the lock headers; the copy does not inherit the source lock', async () => {
      const Bucket = await locked();
      await put(Bucket, 'src', 'source', { ObjectLockLegalHoldStatus: 'ON' });
      const copy = await srv.s3.send(
        new CopyObjectCommand({
          Bucket,
          Key: 'copy',
          CopySource: `${Bucket}/src`,
          ObjectLockMode: 'GOVERNANCE',
          ObjectLockRetainUntilDate: inDays(1),
        }),
      );
      const ch = await srv.s3.send(new HeadObjectCommand({ Bucket, Key: 'copy', VersionId: copy.VersionId }));
      expect([ch.ObjectLockMode, ch.ObjectLockLegalHoldStatus]).to.deep.equal(['GOVERNANCE', undefined]);

      const up = await srv.s3.send(new CreateMultipartUploadCommand({ Bucket, Key: 'mp', ObjectLockLegalHoldStatus: 'ON' }));
      const part = await srv.s3.send(new UploadPartCommand({ Bucket, Key: 'mp', UploadId: up.UploadId, PartNumber: 1, Body: 'part one' }));
      const done = await srv.s3.send(
        new CompleteMultipartUploadCommand({
          Bucket,
          Key: 'mp',
          UploadId: up.UploadId,
          MultipartUpload: { Parts: [{ PartNumber: 1, ETag: part.ETag }] },
        }),
      );
      const mh = await srv.s3.send(new HeadObjectCommand({ Bucket, Key: 'mp', VersionId: done.VersionId }));
      expect(mh.ObjectLockLegalHoldStatus).to.equal('ON');
      const denied = await errorOf(srv.s3.send(new DeleteObjectCommand({ Bucket, Key: 'mp', VersionId: done.VersionId })));
      expect(denied.name).to.equal('AccessDenied');

      const plain = name();
      await srv.s3.send(new CreateBucketCommand({ Bucket: plain }));
      const refused = await errorOf(
        srv.s3.send(new CreateMultipartUploadCommand({ Bucket: plain, Key: 'mp', ObjectLockLegalHoldStatus: 'ON' })),
      );
      expect(refused.name).to.equal('InvalidRequest');
      const copyRefused = await errorOf(
        srv.s3.send(new CopyObjectCommand({ Bucket: plain, Key: 'c', CopySource: `${Bucket}/src`, ObjectLockLegalHoldStatus: 'ON' })),
      );
      expect(copyRefused.name).to.equal('InvalidRequest');
    });
    it('a CopyObject naming no lock gives the copy none, whatever the source holds (S3 copies no retention nor legal hold)', async () => {
      const Bucket = await locked();
      await put(Bucket, 'held', '{"key": "value"}', {
        ...governance(),
        ObjectLockLegalHoldStatus: 'ON',
        ContentMD5: md5('{"key": "value"}'),
      });
      const source = await srv.s3.send(new HeadObjectCommand({ Bucket, Key: 'held' }));
      expect([source.ObjectLockMode, source.ObjectLockLegalHoldStatus]).to.deep.equal(['GOVERNANCE', 'ON']);
      const copy = await srv.s3.send(new CopyObjectCommand({ Bucket, Key: 'dest-key', CopySource: `${Bucket}/held` }));
      expect(copy.CopySourceVersionId).to.equal(source.VersionId);
      const head = await srv.s3.send(new HeadObjectCommand({ Bucket, Key: 'dest-key' }));
      expect([head.VersionId, head.ObjectLockMode, head.ObjectLockRetainUntilDate, head.ObjectLockLegalHoldStatus]).to.deep.equal([
        copy.VersionId,
        undefined,
        undefined,
        undefined,
      ]);
      // Nothing protects it: its version goes without a bypass.
      await srv.s3.send(new DeleteObjectCommand({ Bucket, Key: 'dest-key', VersionId: copy.VersionId }));
      await srv.s3.send(new PutObjectLegalHoldCommand({ Bucket, Key: 'held', VersionId: source.VersionId, LegalHold: { Status: 'OFF' } }));
    });
  });

  describe('retention', () => {
    it('GOVERNANCE: the version cannot be deleted or its retention shortened without the bypass; a DELETE without id adds a marker', async () => {
      const Bucket = await locked();
      const v = await put(Bucket, 'g', 'governed', governance(2));
      const noRetention = await put(Bucket, 'free', 'x');
      const none = await errorOf(srv.s3.send(new GetObjectRetentionCommand({ Bucket, Key: 'free', VersionId: noRetention.VersionId })));
      expect(none.name).to.equal('NoSuchObjectLockConfiguration');
      const r = await srv.s3.send(new GetObjectRetentionCommand({ Bucket, Key: 'g', VersionId: v.VersionId }));
      expect(r.Retention?.Mode).to.equal('GOVERNANCE');

      const denied = await errorOf(srv.s3.send(new DeleteObjectCommand({ Bucket, Key: 'g', VersionId: v.VersionId })));
      // S3's plain AccessDenied, its message too (LocalStack's AWS-validated test_s3_object_retention).
      expect([denied.name, denied.$metadata.httpStatusCode, denied.message]).to.deep.equal(['AccessDenied', 403, 'Access Denied']);
      const marker = await srv.s3.send(new DeleteObjectCommand({ Bucket, Key: 'g' }));
      expect(marker.DeleteMarker).to.equal(true);
      // Overwriting makes another version; the locked one stays.
      await put(Bucket, 'g', 'newer');

      // A Mode outside S3's schema in the body is MalformedXML, lower case included, as S3 answers.
      for (const Mode of ['governance', 'FOREVER']) {
        const unknown = await errorOf(
          srv.s3.send(
            new PutObjectRetentionCommand({
              Bucket,
              Key: 'g',
              VersionId: v.VersionId,
              Retention: { Mode: Mode as 'GOVERNANCE', RetainUntilDate: inDays(3) },
            }),
          ),
        );
        expect([unknown.name, unknown.$metadata.httpStatusCode]).to.deep.equal(['MalformedXML', 400]);
      }

      const shorter = { Mode: 'GOVERNANCE' as const, RetainUntilDate: inDays(1) };
      const shorten = await errorOf(
        srv.s3.send(new PutObjectRetentionCommand({ Bucket, Key: 'g', VersionId: v.VersionId, Retention: shorter })),
      );
      expect(shorten.name).to.equal('AccessDenied');
      const toCompliance = await errorOf(
        srv.s3.send(
          new PutObjectRetentionCommand({
            Bucket,
            Key: 'g',
            VersionId: v.VersionId,
            Retention: { Mode: 'COMPLIANCE', RetainUntilDate: inDays(1) },
          }),
        ),
      );
      expect(toCompliance.name).to.equal('AccessDenied');
      const longer = inDays(4);
      await srv.s3.send(
        new PutObjectRetentionCommand({
          Bucket,
          Key: 'g',
          VersionId: v.VersionId,
          Retention: { Mode: 'GOVERNANCE', RetainUntilDate: longer },
        }),
      );
      const extended = await srv.s3.send(new GetObjectRetentionCommand({ Bucket, Key: 'g', VersionId: v.VersionId }));
      expect(extended.Retention?.RetainUntilDate?.getTime()).to.equal(
        Math.floor(longer.getTime() / 1000) * 1000 + (longer.getTime() % 1000),
      );
      await srv.s3.send(
        new PutObjectRetentionCommand({ Bucket, Key: 'g', VersionId: v.VersionId, Retention: shorter, BypassGovernanceRetention: true }),
      );
      expect(
        (
          await srv.s3.send(new GetObjectRetentionCommand({ Bucket, Key: 'g', VersionId: v.VersionId }))
        ).Retention?.RetainUntilDate?.getTime(),
      ).to.equal(shorter.RetainUntilDate.getTime());

      await srv.s3.send(new DeleteObjectCommand({ Bucket, Key: 'g', VersionId: v.VersionId, BypassGovernanceRetention: true }));
      const gone = await errorOf(srv.s3.send(new GetObjectCommand({ Bucket, Key: 'g', VersionId: v.VersionId })));
      expect(gone.name).to.equal('NoSuchVersion');
    });

    it('COMPLIANCE: nobody can delete the version, shorten or remove its retention, bypass or not; extending is allowed', async () => {
      const Bucket = await locked();
      const v = await put(Bucket, 'c', 'compliant', { ObjectLockMode: 'COMPLIANCE', ObjectLockRetainUntilDate: inDays(2) });
      const del = await errorOf(
        srv.s3.send(new DeleteObjectCommand({ Bucket, Key: 'c', VersionId: v.VersionId, BypassGovernanceRetention: true })),
      );
      expect(del.name).to.equal('AccessDenied');
      const shorten = await errorOf(
        srv.s3.send(
          new PutObjectRetentionCommand({
            Bucket,
            Key: 'c',
            VersionId: v.VersionId,
            Retention: { Mode: 'COMPLIANCE', RetainUntilDate: inDays(1) },
            BypassGovernanceRetention: true,
          }),
        ),
      );
      expect(shorten.name).to.equal('AccessDenied');
      const toGovernance = await errorOf(
        srv.s3.send(
          new PutObjectRetentionCommand({
            Bucket,
            Key: 'c',
            VersionId: v.VersionId,
            Retention: { Mode: 'GOVERNANCE', RetainUntilDate: inDays(9) },
            BypassGovernanceRetention: true,
          }),
        ),
      );
      expect(toGovernance.name).to.equal('AccessDenied');
      // An empty Retention removes it: refused.
      const body = '<Retention xmlns="http://s3.amazonaws.com/doc/2006-03-01/"></Retention>';
      const removed = await signedFetch(srv.url, CREDS, 'PUT', `/${Bucket}/c`, {
        query: { retention: '', versionId: v.VersionId! },
        body,
        headers: { 'content-md5': md5(body), 'x-amz-bypass-governance-retention': 'true' },
      });
      expect(removed.status).to.equal(403);
      await srv.s3.send(
        new PutObjectRetentionCommand({
          Bucket,
          Key: 'c',
          VersionId: v.VersionId,
          Retention: { Mode: 'COMPLIANCE', RetainUntilDate: inDays(3) },
        }),
      );
      const batch = await srv.s3.send(
        new DeleteObjectsCommand({
          Bucket,
          Delete: { Objects: [{ Key: 'c', VersionId: v.VersionId }, { Key: 'c' }] },
          BypassGovernanceRetention: true,
        }),
      );
      expect(batch.Errors?.map((e) => [e.Key, e.VersionId, e.Code, e.Message])).to.deep.equal([
        ['c', v.VersionId, 'AccessDenied', 'Access Denied'],
      ]);
      expect(batch.Deleted?.map((d) => [d.Key, d.DeleteMarker])).to.deep.equal([['c', true]]);
      expect((await srv.s3.send(new GetObjectCommand({ Bucket, Key: 'c', VersionId: v.VersionId }))).VersionId).to.equal(v.VersionId);
    });

    it('DeleteObjects removes GOVERNANCE versions only with the bypass header', async () => {
      const Bucket = await locked();
      const a = await put(Bucket, 'a', 'a', governance());
      const b = await put(Bucket, 'b', 'b');
      const first = await srv.s3.send(
        new DeleteObjectsCommand({
          Bucket,
          Delete: {
            Objects: [
              { Key: 'a', VersionId: a.VersionId },
              { Key: 'b', VersionId: b.VersionId },
            ],
          },
        }),
      );
      expect(first.Errors?.map((e) => [e.Key, e.Code])).to.deep.equal([['a', 'AccessDenied']]);
      expect(first.Deleted?.map((d) => d.Key)).to.deep.equal(['b']);
      const second = await srv.s3.send(
        new DeleteObjectsCommand({ Bucket, Delete: { Objects: [{ Key: 'a', VersionId: a.VersionId }] }, BypassGovernanceRetention: true }),
      );
      expect(second.Errors ?? []).to.deep.equal([]);
      expect((await srv.s3.send(new ListObjectVersionsCommand({ Bucket }))).Versions ?? []).to.have.length(0);
    });

    it('a retention that has run out no longer protects the version', async () => {
      const Bucket = await locked();
      const v = await put(Bucket, 'soon', 'x', { ObjectLockMode: 'COMPLIANCE', ObjectLockRetainUntilDate: new Date(Date.now() + 1500) });
      expect((await errorOf(srv.s3.send(new DeleteObjectCommand({ Bucket, Key: 'soon', VersionId: v.VersionId })))).name).to.equal(
        'AccessDenied',
      );
      await new Promise((r) => setTimeout(r, 1700));
      await srv.s3.send(new DeleteObjectCommand({ Bucket, Key: 'soon', VersionId: v.VersionId }));
    });
  });

  describe('legal hold', () => {
    it('ON protects a version whatever its retention, until it is OFF; set and read by version id', async () => {
      const Bucket = await locked();
      const v1 = await put(Bucket, 'h', 'held');
      await put(Bucket, 'h', 'newer');
      const unset = await errorOf(srv.s3.send(new GetObjectLegalHoldCommand({ Bucket, Key: 'h', VersionId: v1.VersionId })));
      expect(unset.name).to.equal('NoSuchObjectLockConfiguration');
      await srv.s3.send(new PutObjectLegalHoldCommand({ Bucket, Key: 'h', VersionId: v1.VersionId, LegalHold: { Status: 'ON' } }));
      expect((await srv.s3.send(new GetObjectLegalHoldCommand({ Bucket, Key: 'h', VersionId: v1.VersionId }))).LegalHold?.Status).to.equal(
        'ON',
      );
      // The latest version has none.
      expect((await errorOf(srv.s3.send(new GetObjectLegalHoldCommand({ Bucket, Key: 'h' })))).name).to.equal(
        'NoSuchObjectLockConfiguration',
      );
      const denied = await errorOf(
        srv.s3.send(new DeleteObjectCommand({ Bucket, Key: 'h', VersionId: v1.VersionId, BypassGovernanceRetention: true })),
      );
      expect(denied.name).to.equal('AccessDenied');
      const bad = '<LegalHold><Status>MAYBE</Status></LegalHold>';
      const refused = await signedFetch(srv.url, CREDS, 'PUT', `/${Bucket}/h`, {
        query: { 'legal-hold': '', versionId: v1.VersionId! },
        body: bad,
        headers: { 'content-md5': md5(bad) },
      });
      expect(refused.status).to.equal(400);
      // A status outside S3's schema in the body is MalformedXML (the header's InvalidArgument is for the header).
      expect(refused.text).to.contain('<Code>MalformedXML</Code>');
      const lower = await errorOf(
        srv.s3.send(new PutObjectLegalHoldCommand({ Bucket, Key: 'h', VersionId: v1.VersionId, LegalHold: { Status: 'on' as 'ON' } })),
      );
      expect([lower.name, lower.$metadata.httpStatusCode]).to.deep.equal(['MalformedXML', 400]);
      const noMd5 = await signedFetch(srv.url, CREDS, 'PUT', `/${Bucket}/h`, {
        query: { 'legal-hold': '', versionId: v1.VersionId! },
        body: '<LegalHold><Status>OFF</Status></LegalHold>',
      });
      expect(noMd5.status).to.equal(400);
      await srv.s3.send(new PutObjectLegalHoldCommand({ Bucket, Key: 'h', VersionId: v1.VersionId, LegalHold: { Status: 'OFF' } }));
      expect((await srv.s3.send(new HeadObjectCommand({ Bucket, Key: 'h', VersionId: v1.VersionId }))).ObjectLockLegalHoldStatus).to.equal(
        'OFF',
      );
      await srv.s3.send(new DeleteObjectCommand({ Bucket, Key: 'h', VersionId: v1.VersionId }));
      const missing = await errorOf(srv.s3.send(new GetObjectLegalHoldCommand({ Bucket, Key: 'h', VersionId: 'f'.repeat(32) })));
      expect(missing.name).to.equal('NoSuchVersion');
    });

    it('a legal hold or retention put on a key whose latest version is a delete marker is 405, its read 404, as S3 answers', async () => {
      // As PutObjectAcl: S3 refuses the change on the marker with 405 MethodNotAllowed, where the
      // reads answer NoSuchKey (LocalStack's provider, CloudServer's putObjectLegalHold / putRetention tests).
      const Bucket = await locked();
      await put(Bucket, 'm', 'x');
      await srv.s3.send(new DeleteObjectCommand({ Bucket, Key: 'm' }));
      const hold = await errorOf(srv.s3.send(new PutObjectLegalHoldCommand({ Bucket, Key: 'm', LegalHold: { Status: 'ON' } })));
      expect([hold.name, hold.$metadata.httpStatusCode]).to.deep.equal(['MethodNotAllowed', 405]);
      const retention = await errorOf(
        srv.s3.send(new PutObjectRetentionCommand({ Bucket, Key: 'm', Retention: { Mode: 'GOVERNANCE', RetainUntilDate: inDays(1) } })),
      );
      expect([retention.name, retention.$metadata.httpStatusCode]).to.deep.equal(['MethodNotAllowed', 405]);
      const raw = await signedFetch(srv.url, CREDS, 'PUT', `/${Bucket}/m`, {
        query: { 'legal-hold': '' },
        body: '<LegalHold><Status>ON</Status></LegalHold>',
        headers: { 'content-md5': md5('<LegalHold><Status>ON</Status></LegalHold>') },
      });
      expect([raw.status, raw.headers['x-amz-delete-marker'], raw.headers.allow]).to.deep.equal([405, 'true', 'DELETE']);
      expect(raw.text).to.contain('<Method>PUT</Method><ResourceType>DeleteMarker</ResourceType>');
      expect((await errorOf(srv.s3.send(new GetObjectLegalHoldCommand({ Bucket, Key: 'm' })))).name).to.equal('NoSuchKey');
      expect((await errorOf(srv.s3.send(new GetObjectRetentionCommand({ Bucket, Key: 'm' })))).name).to.equal('NoSuchKey');
    });
  });

  describe('who may bypass GOVERNANCE', () => {
    let guarded: TestServer;
    const users = [
      { key: 'LOCKWRITER', rules: ['read', 'write', 'list'] },
      { key: 'LOCKDELETER', rules: ['read', 'write', 'list', 'delete'] },
    ] as const;
    const client = (key: string) =>
      new S3Client({
        endpoint: guarded.url,
        region: 'us-east-1',
        forcePathStyle: true,
        credentials: { accessKeyId: key, secretAccessKey: `${key}-secret` },
      });
    before(async () => {
      guarded = await startTestServer({
        users: users.map((u) => ({
          identity: { accessKeyId: u.key, secretAccessKey: `${u.key}-secret` },
          principal: { name: u.key.toLowerCase(), admin: false, rules: [{ buckets: ['guarded-*'], allow: [...u.rules] }] },
        })),
      });
    });
    after(async () => {
      await guarded.stop();
    });

    it('the bypass header counts only for a caller with the permission (deleting in the bucket)', async () => {
      const Bucket = `guarded-${Date.now().toString(36)}`;
      await guarded.s3.send(new CreateBucketCommand({ Bucket, ObjectLockEnabledForBucket: true }));
      const v = await guarded.s3.send(new PutObjectCommand({ Bucket, Key: 'g', Body: 'x', ...governance(3) }));
      const shorter = { Mode: 'GOVERNANCE' as const, RetainUntilDate: inDays(1) };
      const writer = client('LOCKWRITER');
      const deleter = client('LOCKDELETER');
      try {
        const refused = await errorOf(
          writer.send(
            new PutObjectRetentionCommand({
              Bucket,
              Key: 'g',
              VersionId: v.VersionId,
              Retention: shorter,
              BypassGovernanceRetention: true,
            }),
          ),
        );
        expect(refused.name).to.equal('AccessDenied');
        const kept = await guarded.s3.send(new GetObjectRetentionCommand({ Bucket, Key: 'g', VersionId: v.VersionId }));
        expect(kept.Retention?.RetainUntilDate?.getTime()).to.be.greaterThan(inDays(2).getTime());
        await deleter.send(
          new PutObjectRetentionCommand({ Bucket, Key: 'g', VersionId: v.VersionId, Retention: shorter, BypassGovernanceRetention: true }),
        );
        await deleter.send(new DeleteObjectCommand({ Bucket, Key: 'g', VersionId: v.VersionId, BypassGovernanceRetention: true }));
      } finally {
        writer.destroy();
        deleter.destroy();
      }
    });

    it('a bucket policy denying s3:BypassGovernanceRetention takes the bypass away, from the owner too', async () => {
      const Bucket = `guarded-deny-${Date.now().toString(36)}`;
      await guarded.s3.send(new CreateBucketCommand({ Bucket, ObjectLockEnabledForBucket: true }));
      const v = await guarded.s3.send(new PutObjectCommand({ Bucket, Key: 'g', Body: 'x', ...governance(3) }));
      const free = await guarded.s3.send(new PutObjectCommand({ Bucket, Key: 'free', Body: 'x' }));
      const Policy = JSON.stringify({
        Version: '2012-10-17',
        Statement: [{ Effect: 'Deny', Principal: '*', Action: 's3:BypassGovernanceRetention', Resource: `arn:aws:s3:::${Bucket}/*` }],
      });
      await guarded.s3.send(new PutBucketPolicyCommand({ Bucket, Policy }));
      const deleter = client('LOCKDELETER');
      try {
        for (const c of [guarded.s3, deleter]) {
          const e = await errorOf(
            c.send(new DeleteObjectCommand({ Bucket, Key: 'g', VersionId: v.VersionId, BypassGovernanceRetention: true })),
          );
          expect(e.name).to.equal('AccessDenied');
        }
        // Deleting what no lock protects is still allowed.
        await deleter.send(new DeleteObjectCommand({ Bucket, Key: 'free', VersionId: free.VersionId, BypassGovernanceRetention: true }));
      } finally {
        deleter.destroy();
      }
    });
  });

  describe('who sees the lock on GET and HEAD', () => {
    it('lock headers only with s3:GetObjectRetention / s3:GetObjectLegalHold; s3:GetObject alone reads the object without them', async () => {
      const guarded = await startTestServer({
        users: [
          {
            identity: { accessKeyId: 'LOCKREADER', secretAccessKey: 'LOCKREADER-secret' },
            // Nothing on this bucket from the table: only what its bucket policy grants.
            principal: { name: 'lockreader', admin: false, rules: [{ buckets: ['elsewhere-*'], allow: ['read'] }] },
          },
        ],
      });
      const reader = new S3Client({
        endpoint: guarded.url,
        region: 'us-east-1',
        forcePathStyle: true,
        credentials: { accessKeyId: 'LOCKREADER', secretAccessKey: 'LOCKREADER-secret' },
      });
      try {
        const Bucket = `seen-${Date.now().toString(36)}`;
        await guarded.s3.send(new CreateBucketCommand({ Bucket, ObjectLockEnabledForBucket: true }));
        await guarded.s3.send(new PutObjectCommand({ Bucket, Key: 'k', Body: 'x', ...governance(2), ObjectLockLegalHoldStatus: 'ON' }));
        const allow = (actions: string[]) =>
          guarded.s3.send(
            new PutBucketPolicyCommand({
              Bucket,
              Policy: JSON.stringify({
                Version: '2012-10-17',
                Statement: [
                  {
                    Effect: 'Allow',
                    Principal: { AWS: 'arn:aws:iam::000000000000:user/lockreader' },
                    Action: actions,
                    Resource: `arn:aws:s3:::${Bucket}/*`,
                  },
                ],
              }),
            }),
          );
        const seen = async () => {
          const got = await reader.send(new GetObjectCommand({ Bucket, Key: 'k' }));
          expect(await got.Body!.transformToString()).to.equal('x');
          const head = await reader.send(new HeadObjectCommand({ Bucket, Key: 'k' }));
          const of = (h: typeof head | typeof got) => ({
            mode: h.ObjectLockMode,
            until: h.ObjectLockRetainUntilDate !== undefined,
            hold: h.ObjectLockLegalHoldStatus,
          });
          expect(of(got)).to.deep.equal(of(head));
          return of(head);
        };
        await allow(['s3:GetObject']);
        expect(await seen()).to.deep.equal({ mode: undefined, until: false, hold: undefined });
        await allow(['s3:GetObject', 's3:GetObjectRetention']);
        expect(await seen()).to.deep.equal({ mode: 'GOVERNANCE', until: true, hold: undefined });
        await allow(['s3:GetObject', 's3:GetObjectLegalHold']);
        expect(await seen()).to.deep.equal({ mode: undefined, until: false, hold: 'ON' });
        // The owner holds both.
        const own = await guarded.s3.send(new HeadObjectCommand({ Bucket, Key: 'k' }));
        expect([own.ObjectLockMode, own.ObjectLockLegalHoldStatus]).to.deep.equal(['GOVERNANCE', 'ON']);
      } finally {
        reader.destroy();
        await guarded.stop();
      }
    });
  });

  describe('aws-cli and boto3', () => {
    const awsEnv = () => awsCliEnv(ACCESS_KEY, SECRET_KEY);
    const aws = (...args: string[]) => run('/usr/bin/aws', ['--endpoint-url', srv.url, 's3api', ...args, '--output', 'json'], '', awsEnv());
    const ok = async (...args: string[]) => {
      const r = await aws(...args);
      expect(r.status, r.stderr).to.equal(0);
      return (r.stdout.trim() ? JSON.parse(r.stdout) : {}) as Record<string, Record<string, unknown>>;
    };

    it('aws s3api create-bucket --object-lock-enabled-for-bucket, lock configuration, retention, legal hold, refused delete', async function () {
      if (!existsSync('/usr/bin/aws')) this.skip(); // skipped: /usr/bin/aws is not installed here
      // Each aws-cli start takes seconds on a loaded machine; eleven of them.
      this.timeout(180_000);
      const Bucket = name();
      await ok('create-bucket', '--bucket', Bucket, '--object-lock-enabled-for-bucket');
      await ok(
        'put-object-lock-configuration',
        '--bucket',
        Bucket,
        '--object-lock-configuration',
        '{"ObjectLockEnabled":"Enabled","Rule":{"DefaultRetention":{"Mode":"GOVERNANCE","Days":1}}}',
      );
      const config = await ok('get-object-lock-configuration', '--bucket', Bucket);
      expect(config.ObjectLockConfiguration).to.deep.equal({
        ObjectLockEnabled: 'Enabled',
        Rule: { DefaultRetention: { Mode: 'GOVERNANCE', Days: 1 } },
      });
      const until = inDays(2).toISOString();
      const v = await ok(
        'put-object',
        '--bucket',
        Bucket,
        '--key',
        'cli',
        '--object-lock-mode',
        'COMPLIANCE',
        '--object-lock-retain-until-date',
        until,
        '--content-md5',
        md5(''),
      );
      const versionId = v.VersionId as unknown as string;
      const retention = await ok('get-object-retention', '--bucket', Bucket, '--key', 'cli', '--version-id', versionId);
      expect(retention.Retention.Mode).to.equal('COMPLIANCE');
      await ok('put-object-legal-hold', '--bucket', Bucket, '--key', 'cli', '--version-id', versionId, '--legal-hold', 'Status=ON');
      expect((await ok('get-object-legal-hold', '--bucket', Bucket, '--key', 'cli', '--version-id', versionId)).LegalHold).to.deep.equal({
        Status: 'ON',
      });
      const refused = await aws(
        'delete-object',
        '--bucket',
        Bucket,
        '--key',
        'cli',
        '--version-id',
        versionId,
        '--bypass-governance-retention',
      );
      expect(refused.status).to.not.equal(0);
      expect(refused.stderr).to.match(/AccessDenied/);
      const suspend = await aws('put-bucket-versioning', '--bucket', Bucket, '--versioning-configuration', 'Status=Suspended');
      expect(suspend.stderr).to.match(/InvalidBucketState/);
    });

    it('boto3: lock on create, put_object with lock, retention with bypass, legal hold, POST form with lock fields', async function () {
      if (!existsSync('/usr/bin/python3')) this.skip(); // skipped: /usr/bin/python3 is not installed here
      const script = `
import json, sys, datetime, boto3, requests
from botocore.config import Config
from botocore.exceptions import ClientError
a = json.load(sys.stdin)
s3 = boto3.client('s3', endpoint_url=a['url'], aws_access_key_id=a['ak'], aws_secret_access_key=a['sk'], region_name='us-east-1',
                  config=Config(s3={'addressing_style': 'path'}))
b = a['bucket']
def code(f):
    try:
        f()
        return 'ok'
    except ClientError as e:
        return e.response['Error']['Code']
s3.create_bucket(Bucket=b, ObjectLockEnabledForBucket=True)
until = datetime.datetime.now(datetime.timezone.utc) + datetime.timedelta(days=1)
v = s3.put_object(Bucket=b, Key='g', Body=b'governed', ObjectLockMode='GOVERNANCE', ObjectLockRetainUntilDate=until,
                  ContentMD5='${md5('governed')}')['VersionId']
head = s3.head_object(Bucket=b, Key='g', VersionId=v)
out = {'mode': head.get('ObjectLockMode'), 'versioning': s3.get_bucket_versioning(Bucket=b).get('Status')}
out['delete'] = code(lambda: s3.delete_object(Bucket=b, Key='g', VersionId=v))
out['shorten'] = code(lambda: s3.put_object_retention(Bucket=b, Key='g', VersionId=v,
                      Retention={'Mode': 'GOVERNANCE', 'RetainUntilDate': until - datetime.timedelta(hours=1)}))
out['shortenBypass'] = code(lambda: s3.put_object_retention(Bucket=b, Key='g', VersionId=v, BypassGovernanceRetention=True,
                      Retention={'Mode': 'GOVERNANCE', 'RetainUntilDate': until - datetime.timedelta(hours=1)}))
out['hold'] = code(lambda: s3.put_object_legal_hold(Bucket=b, Key='g', VersionId=v, LegalHold={'Status': 'ON'}))
out['deleteHeld'] = code(lambda: s3.delete_object(Bucket=b, Key='g', VersionId=v, BypassGovernanceRetention=True))
s3.put_object_legal_hold(Bucket=b, Key='g', VersionId=v, LegalHold={'Status': 'OFF'})
out['deleteBypass'] = code(lambda: s3.delete_object(Bucket=b, Key='g', VersionId=v, BypassGovernanceRetention=True))
post = s3.generate_presigned_post(b, 'posted', Fields={'x-amz-object-lock-legal-hold': 'ON'},
                                  Conditions=[{'x-amz-object-lock-legal-hold': 'ON'}])
r = requests.post(post['url'], data=post['fields'], files={'file': ('f.txt', b'posted')})
out['post'] = r.status_code
out['postHold'] = s3.get_object_legal_hold(Bucket=b, Key='posted')['LegalHold']['Status']
print(json.dumps(out))
`;
      const r = await run(
        '/usr/bin/python3',
        ['-c', script],
        JSON.stringify({ url: srv.url, ak: ACCESS_KEY, sk: SECRET_KEY, bucket: name() }),
      );
      if (r.status !== 0 && /No module named '(boto3|requests)'/.test(r.stderr)) this.skip(); // skipped: boto3/requests not importable by /usr/bin/python3
      expect(r.status, r.stderr).to.equal(0);
      expect(JSON.parse(r.stdout)).to.deep.equal({
        mode: 'GOVERNANCE',
        versioning: 'Enabled',
        delete: 'AccessDenied',
        shorten: 'AccessDenied',
        shortenBypass: 'ok',
        hold: 'ok',
        deleteHeld: 'AccessDenied',
        deleteBypass: 'ok',
        post: 204,
        postHold: 'ON',
      });
    });
  });
});
