/** Bucket tagging and lifecycle configuration through the SDK: round trips and S3's errors. */
import { expect } from 'chai';
import {
  CompleteMultipartUploadCommand,
  CopyObjectCommand,
  CreateMultipartUploadCommand,
  UploadPartCommand,
  CreateBucketCommand,
  DeleteBucketLifecycleCommand,
  DeleteBucketTaggingCommand,
  GetObjectCommand,
  HeadObjectCommand,
  PutObjectCommand,
  GetBucketLifecycleConfigurationCommand,
  GetBucketTaggingCommand,
  PutBucketLifecycleConfigurationCommand,
  PutBucketTaggingCommand,
  PutBucketVersioningCommand,
  type LifecycleRule,
} from '@aws-sdk/client-s3';
import { startTestServer, type TestServer } from '../helpers/server';
import { errorOf } from '../helpers/errors';

describe('protocol: bucket tagging', () => {
  let srv: TestServer;
  const Bucket = 'tagged-bucket';
  before(async () => {
    srv = await startTestServer();
    await srv.s3.send(new CreateBucketCommand({ Bucket }));
  });
  after(async () => {
    await srv.stop();
  });

  it('answers NoSuchTagSet until tags are set, then round-trips them', async () => {
    const none = await errorOf(srv.s3.send(new GetBucketTaggingCommand({ Bucket })));
    expect(none.name).to.equal('NoSuchTagSet');
    expect(none.$metadata.httpStatusCode).to.equal(404);
    const TagSet = [
      { Key: 'team', Value: 'data' },
      { Key: 'cost-center', Value: '' },
    ];
    const put = await srv.s3.send(new PutBucketTaggingCommand({ Bucket, Tagging: { TagSet } }));
    expect(put.$metadata.httpStatusCode).to.equal(204);
    expect((await srv.s3.send(new GetBucketTaggingCommand({ Bucket }))).TagSet).to.deep.equal(TagSet);
    await srv.s3.send(new DeleteBucketTaggingCommand({ Bucket }));
    expect((await errorOf(srv.s3.send(new GetBucketTaggingCommand({ Bucket })))).name).to.equal('NoSuchTagSet');
  });

  it("refuses S3's invalid tag sets: InvalidTag, and BadRequest for more than 50", async () => {
    const bad = async (TagSet: Array<{ Key: string; Value: string }>) =>
      errorOf(srv.s3.send(new PutBucketTaggingCommand({ Bucket, Tagging: { TagSet } })));
    const fiftyOne = Array.from({ length: 51 }, (_, i) => ({ Key: `k${i}`, Value: 'v' }));
    // Too many is BadRequest, as for an object's tags (versitygw's and Scality's tests, run against AWS).
    const many = await bad(fiftyOne);
    expect([many.name, many.message]).to.deep.equal(['BadRequest', 'Bucket tag count cannot be greater than 50']);
    await srv.s3.send(new PutBucketTaggingCommand({ Bucket, Tagging: { TagSet: fiftyOne.slice(0, 50) } }));
    expect((await srv.s3.send(new GetBucketTaggingCommand({ Bucket }))).TagSet).to.have.length(50);
    expect((await bad([{ Key: 'a'.repeat(129), Value: '' }])).name).to.equal('InvalidTag');
    expect((await bad([{ Key: 'a', Value: 'v'.repeat(257) }])).name).to.equal('InvalidTag');
    expect(
      (
        await bad([
          { Key: 'a', Value: '1' },
          { Key: 'a', Value: '2' },
        ])
      ).name,
    ).to.equal('InvalidTag');
    expect((await bad([{ Key: 'aws:cloudformation:stack', Value: '1' }])).name).to.equal('InvalidTag');
  });

  it('answers NoSuchBucket for a bucket that does not exist', async () => {
    expect((await errorOf(srv.s3.send(new GetBucketTaggingCommand({ Bucket: 'no-such-bucket-here' })))).name).to.equal('NoSuchBucket');
  });
});

describe('protocol: bucket lifecycle configuration', () => {
  let srv: TestServer;
  const Bucket = 'lifecycle-bucket';
  before(async () => {
    srv = await startTestServer();
    await srv.s3.send(new CreateBucketCommand({ Bucket }));
  });
  after(async () => {
    await srv.stop();
  });

  const RULES: LifecycleRule[] = [
    {
      ID: 'logs',
      Filter: { And: { Prefix: 'logs/', Tags: [{ Key: 'class', Value: 'tmp' }], ObjectSizeGreaterThan: 0 } },
      Status: 'Enabled',
      Expiration: { Days: 30 },
      NoncurrentVersionExpiration: { NoncurrentDays: 7, NewerNoncurrentVersions: 2 },
    },
    { ID: 'uploads', Filter: { Prefix: 'up/' }, Status: 'Enabled', AbortIncompleteMultipartUpload: { DaysAfterInitiation: 3 } },
    { ID: 'dated', Filter: { ObjectSizeLessThan: 1024 }, Status: 'Disabled', Expiration: { Date: new Date('2031-06-01T00:00:00Z') } },
    { ID: 'markers', Filter: { Prefix: '' }, Status: 'Enabled', Expiration: { ExpiredObjectDeleteMarker: true } },
  ];

  it('answers NoSuchLifecycleConfiguration until rules are set, then round-trips them', async () => {
    const none = await errorOf(srv.s3.send(new GetBucketLifecycleConfigurationCommand({ Bucket })));
    expect(none.name).to.equal('NoSuchLifecycleConfiguration');
    await srv.s3.send(new PutBucketLifecycleConfigurationCommand({ Bucket, LifecycleConfiguration: { Rules: RULES } }));
    const got = await srv.s3.send(new GetBucketLifecycleConfigurationCommand({ Bucket }));
    expect(got.Rules).to.deep.equal(RULES);
    await srv.s3.send(new DeleteBucketLifecycleCommand({ Bucket }));
    expect((await errorOf(srv.s3.send(new GetBucketLifecycleConfigurationCommand({ Bucket })))).name).to.equal(
      'NoSuchLifecycleConfiguration',
    );
  });

  it('gives a filter back as it was written: an empty Filter empty, a Filter with an empty Prefix with it, an And of tags without a Prefix', async () => {
    const rules: LifecycleRule[] = [
      { ID: 'all', Filter: {}, Status: 'Enabled', Expiration: { Days: 3 }, NoncurrentVersionExpiration: { NoncurrentDays: 1 } },
      { ID: 'empty-prefix', Filter: { Prefix: '' }, Status: 'Enabled', Expiration: { Days: 7 } },
      {
        ID: 'tags',
        Filter: {
          And: {
            Tags: [
              { Key: 'testlifecycle', Value: 'positive' },
              { Key: 'testlifecycletwo', Value: 'positive-two' },
            ],
          },
        },
        Status: 'Enabled',
        Expiration: { Days: 7 },
      },
    ];
    await srv.s3.send(new PutBucketLifecycleConfigurationCommand({ Bucket, LifecycleConfiguration: { Rules: rules } }));
    const got = await srv.s3.send(new GetBucketLifecycleConfigurationCommand({ Bucket }));
    expect(got.Rules).to.deep.equal(rules);
    await srv.s3.send(new DeleteBucketLifecycleCommand({ Bucket }));
  });

  it('refuses a rule that names neither a Filter nor a Prefix: MalformedXML, as S3 does', async () => {
    const noFilter = await errorOf(
      srv.s3.send(
        new PutBucketLifecycleConfigurationCommand({
          Bucket,
          LifecycleConfiguration: { Rules: [{ ID: 'wholebucket', Status: 'Enabled', Expiration: { Days: 7 } }] },
        }),
      ),
    );
    expect(noFilter.name).to.equal('MalformedXML');
    expect((await errorOf(srv.s3.send(new GetBucketLifecycleConfigurationCommand({ Bucket })))).name).to.equal(
      'NoSuchLifecycleConfiguration',
    );
  });

  it('names a rule sent without an ID, as S3 does, and keeps the name on every read', async () => {
    await srv.s3.send(
      new PutBucketLifecycleConfigurationCommand({
        Bucket,
        LifecycleConfiguration: {
          Rules: [
            { Filter: { Prefix: 'a/' }, Status: 'Enabled', Expiration: { Days: 31 } },
            { ID: 'named', Filter: { Prefix: 'b/' }, Status: 'Enabled', Expiration: { Days: 120 } },
            { Filter: { Prefix: 'c/' }, Status: 'Enabled', Expiration: { Days: 7 } },
          ],
        },
      }),
    );
    const read = async () => (await srv.s3.send(new GetBucketLifecycleConfigurationCommand({ Bucket }))).Rules!.map((r) => r.ID);
    const ids = await read();
    expect(ids[1]).to.equal('named');
    for (const id of [ids[0], ids[2]]) expect(id).to.be.a('string').with.length.within(1, 255);
    expect(new Set(ids).size).to.equal(3);
    expect(await read()).to.deep.equal(ids);
    await srv.s3.send(new DeleteBucketLifecycleCommand({ Bucket }));
  });

  it('answers x-amz-expiration on PUT, GET and HEAD of an object a rule will expire: midnight UTC after its days, and the rule', async () => {
    await srv.s3.send(
      new PutBucketLifecycleConfigurationCommand({
        Bucket,
        LifecycleConfiguration: {
          Rules: [
            { ID: 'two days', Filter: { Prefix: 'exp/' }, Status: 'Enabled', Expiration: { Days: 2 } },
            { ID: 'off', Filter: { Prefix: 'exp/' }, Status: 'Disabled', Expiration: { Days: 1 } },
            { ID: 'later', Filter: { Prefix: '' }, Status: 'Enabled', Expiration: { Days: 30 } },
            { ID: 'markers', Filter: { Prefix: 'keep/' }, Status: 'Enabled', Expiration: { ExpiredObjectDeleteMarker: true } },
          ],
        },
      }),
    );
    const put = await srv.s3.send(new PutObjectCommand({ Bucket, Key: 'exp/a.txt', Body: 'a' }));
    const head = await srv.s3.send(new HeadObjectCommand({ Bucket, Key: 'exp/a.txt' }));
    const got = await srv.s3.send(new GetObjectCommand({ Bucket, Key: 'exp/a.txt' }));
    await got.Body?.transformToString();
    const m = /^expiry-date="([^"]+)", rule-id="([^"]+)"$/.exec(head.Expiration ?? '');
    expect(m, head.Expiration).to.not.equal(null);
    const due = new Date(m![1]);
    // The earliest enabled rule that covers the key names it (URL-encoded); its date is a midnight UTC.
    expect(m![2]).to.equal('two%20days');
    expect(due.getTime() % 86_400_000).to.equal(0);
    const days = (due.getTime() - head.LastModified!.getTime()) / 86_400_000;
    expect(days).to.be.greaterThan(2).and.at.most(3);
    expect(put.Expiration).to.equal(head.Expiration);
    expect(got.Expiration).to.equal(head.Expiration);
    // Only the 30-day rule covers other keys; a rule that expires only delete markers gives no date.
    await srv.s3.send(new PutObjectCommand({ Bucket, Key: 'other.txt', Body: 'o' }));
    expect((await srv.s3.send(new HeadObjectCommand({ Bucket, Key: 'other.txt' }))).Expiration).to.match(/rule-id="later"$/);
    await srv.s3.send(new DeleteBucketLifecycleCommand({ Bucket }));
    expect((await srv.s3.send(new HeadObjectCommand({ Bucket, Key: 'exp/a.txt' }))).Expiration).to.equal(undefined);
  });

  it('answers no x-amz-expiration to a GET or HEAD that names a version, current or not, as S3 does', async () => {
    const Versioned = 'lifecycle-versioned';
    await srv.s3.send(new CreateBucketCommand({ Bucket: Versioned }));
    await srv.s3.send(new PutBucketVersioningCommand({ Bucket: Versioned, VersioningConfiguration: { Status: 'Enabled' } }));
    await srv.s3.send(
      new PutBucketLifecycleConfigurationCommand({
        Bucket: Versioned,
        LifecycleConfiguration: {
          Rules: [
            { ID: 'rule2', Filter: {}, Status: 'Enabled', Expiration: { Days: 3 }, NoncurrentVersionExpiration: { NoncurrentDays: 1 } },
          ],
        },
      }),
    );
    const first = await srv.s3.send(new PutObjectCommand({ Bucket: Versioned, Key: 'k', Body: 'test' }));
    const second = await srv.s3.send(new PutObjectCommand({ Bucket: Versioned, Key: 'k', Body: 'test' }));
    for (const VersionId of [first.VersionId, second.VersionId]) {
      expect((await srv.s3.send(new HeadObjectCommand({ Bucket: Versioned, Key: 'k', VersionId }))).Expiration, VersionId).to.equal(
        undefined,
      );
      const got = await srv.s3.send(new GetObjectCommand({ Bucket: Versioned, Key: 'k', VersionId }));
      await got.Body?.transformToString();
      expect(got.Expiration, VersionId).to.equal(undefined);
    }
    const current = await srv.s3.send(new HeadObjectCommand({ Bucket: Versioned, Key: 'k' }));
    expect(current.VersionId).to.equal(second.VersionId);
    expect(current.Expiration).to.match(/rule-id="rule2"$/);
  });

  it('answers x-amz-expiration on CopyObject and CompleteMultipartUpload too, for the object they make', async () => {
    await srv.s3.send(
      new PutBucketLifecycleConfigurationCommand({
        Bucket,
        LifecycleConfiguration: { Rules: [{ ID: 'two days', Filter: { Prefix: 'exp/' }, Status: 'Enabled', Expiration: { Days: 2 } }] },
      }),
    );
    try {
      await srv.s3.send(new PutObjectCommand({ Bucket, Key: 'exp/a.txt', Body: 'a' }));
      const copy = await srv.s3.send(new CopyObjectCommand({ Bucket, Key: 'exp/copy.txt', CopySource: `${Bucket}/exp/a.txt` }));
      expect(copy.Expiration).to.match(/rule-id="two%20days"$/);
      const { UploadId } = await srv.s3.send(new CreateMultipartUploadCommand({ Bucket, Key: 'exp/mpu.bin' }));
      const part = await srv.s3.send(new UploadPartCommand({ Bucket, Key: 'exp/mpu.bin', UploadId, PartNumber: 1, Body: 'p' }));
      const done = await srv.s3.send(
        new CompleteMultipartUploadCommand({
          Bucket,
          Key: 'exp/mpu.bin',
          UploadId,
          MultipartUpload: { Parts: [{ PartNumber: 1, ETag: part.ETag }] },
        }),
      );
      expect(done.Expiration).to.match(/rule-id="two%20days"$/);
    } finally {
      await srv.s3.send(new DeleteBucketLifecycleCommand({ Bucket }));
    }
  });

  it("refuses invalid rules with S3's errors, and transitions with the reason", async () => {
    const bad = async (rule: LifecycleRule) =>
      errorOf(srv.s3.send(new PutBucketLifecycleConfigurationCommand({ Bucket, LifecycleConfiguration: { Rules: [rule] } })));
    const zero = await bad({ Filter: { Prefix: '' }, Status: 'Enabled', Expiration: { Days: 0 } });
    expect(zero.name).to.equal('InvalidArgument');
    expect(zero.message).to.equal("'Days' for Expiration action must be a positive integer");
    expect(
      (await bad({ Filter: { Prefix: '' }, Status: 'Enabled', Expiration: { Date: new Date('2031-01-01T12:00:00Z') } })).name,
    ).to.equal('InvalidArgument');
    expect((await bad({ Filter: { Prefix: '' }, Status: 'Enabled' })).name).to.equal('InvalidRequest');
    const transition = await bad({
      Filter: { Prefix: '' },
      Status: 'Enabled',
      Transitions: [{ Days: 30, StorageClass: 'STANDARD' as never }],
    });
    expect(transition.name).to.equal('InvalidStorageClass');
    expect(transition.message).to.contain('cannot move objects to STANDARD');
    const early = await bad({ Filter: { Prefix: '' }, Status: 'Enabled', Transitions: [{ Days: 10, StorageClass: 'STANDARD_IA' }] });
    expect(early.name).to.equal('InvalidArgument');
    expect(early.message).to.contain('greater than or equal to 30');
    // A class named twice, and dates mixed with day counts, are InvalidRequest (Scality's
    // putBucketLifecycle, run against AWS too); an Expiration Date with Transition Days was taken.
    const twice = await bad({
      Prefix: '',
      Status: 'Enabled',
      Transitions: [
        { Days: 1, StorageClass: 'GLACIER' },
        { Days: 2, StorageClass: 'GLACIER' },
      ],
    });
    expect([twice.name, twice.message]).to.deep.equal([
      'InvalidRequest',
      "'StorageClass' must be different for 'Transition' actions in same 'Rule' with prefix ''",
    ]);
    const mixed = await bad({
      Prefix: '',
      Status: 'Enabled',
      Transitions: [{ Days: 1, StorageClass: 'GLACIER' }],
      Expiration: { Date: new Date('2016-01-01T00:00:00.000Z') },
    });
    expect([mixed.name, mixed.message]).to.deep.equal([
      'InvalidRequest',
      "Found mixed 'Date' and 'Days' based Expiration and Transition actions in lifecycle rule for prefix ''",
    ]);
    const mixedTransitions = await bad({
      Filter: { Prefix: 'logs/' },
      Status: 'Enabled',
      Transitions: [
        { Date: new Date('2016-01-01T00:00:00.000Z'), StorageClass: 'GLACIER' },
        { Days: 1, StorageClass: 'DEEP_ARCHIVE' },
      ],
    });
    expect([mixedTransitions.name, mixedTransitions.message]).to.deep.equal([
      'InvalidRequest',
      "Found mixed 'Date' and 'Days' based Transition actions in lifecycle rule for filter '(prefix=logs/)'",
    ]);
    const dup = await errorOf(
      srv.s3.send(
        new PutBucketLifecycleConfigurationCommand({
          Bucket,
          LifecycleConfiguration: { Rules: [RULES[1], { ...RULES[1], Filter: { Prefix: 'other/' } }] },
        }),
      ),
    );
    expect(dup.name).to.equal('InvalidArgument');
    // Nothing was stored by the refused requests.
    expect((await errorOf(srv.s3.send(new GetBucketLifecycleConfigurationCommand({ Bucket })))).name).to.equal(
      'NoSuchLifecycleConfiguration',
    );
  });
});
