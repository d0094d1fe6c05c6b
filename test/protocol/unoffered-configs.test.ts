/**
 * Bucket configurations s3mux does not offer, through the SDK: each reads as S3 reads a bucket
 * that never had one, writing that unset state is accepted, and asking for more is 501.
 */
import { expect } from 'chai';
import {
  CreateBucketCommand,
  DeleteBucketAnalyticsConfigurationCommand,
  DeleteBucketEncryptionCommand,
  DeleteBucketIntelligentTieringConfigurationCommand,
  DeleteBucketInventoryConfigurationCommand,
  DeleteBucketMetricsConfigurationCommand,
  DeleteBucketReplicationCommand,
  DeleteBucketWebsiteCommand,
  GetBucketAccelerateConfigurationCommand,
  GetBucketAnalyticsConfigurationCommand,
  GetBucketEncryptionCommand,
  GetBucketIntelligentTieringConfigurationCommand,
  GetBucketInventoryConfigurationCommand,
  GetBucketLoggingCommand,
  GetBucketMetricsConfigurationCommand,
  GetBucketNotificationConfigurationCommand,
  GetBucketReplicationCommand,
  GetBucketRequestPaymentCommand,
  GetBucketWebsiteCommand,
  ListBucketAnalyticsConfigurationsCommand,
  ListBucketIntelligentTieringConfigurationsCommand,
  ListBucketInventoryConfigurationsCommand,
  ListBucketMetricsConfigurationsCommand,
  PutBucketAccelerateConfigurationCommand,
  PutBucketEncryptionCommand,
  PutBucketLoggingCommand,
  PutBucketMetricsConfigurationCommand,
  PutBucketNotificationConfigurationCommand,
  PutBucketReplicationCommand,
  PutBucketRequestPaymentCommand,
  PutBucketWebsiteCommand,
  type S3Client,
} from '@aws-sdk/client-s3';
import { ACCESS_KEY, SECRET_KEY, startTestServer, type TestServer } from '../helpers/server';
import { expectSdkError } from '../helpers/errors';
import { signedFetch } from '../helpers/sign';

const CREDS = { accessKeyId: ACCESS_KEY, secretAccessKey: SECRET_KEY };

const sse = (SSEAlgorithm: 'AES256' | 'aws:kms', more: Record<string, unknown> = {}) => ({
  Rules: [{ ApplyServerSideEncryptionByDefault: { SSEAlgorithm, ...more } }],
});

describe('protocol: bucket configurations s3mux does not offer', () => {
  let srv: TestServer;
  let s3: S3Client;
  const Bucket = 'unoffered';
  before(async () => {
    srv = await startTestServer();
    s3 = srv.s3;
    await s3.send(new CreateBucketCommand({ Bucket }));
  });
  after(async () => {
    await srv.stop();
  });

  it("default encryption is the store's own: SSE-S3 where it encrypts every object, not found on a plain fs folder or an s3 store", async () => {
    // An s3 store encrypts only the writes that ask (they are forwarded): s3mux cannot vouch for its default.
    const encrypted = !['fs', 's3'].includes(srv.router.defaultBackend.kind);
    if (encrypted) {
      const got = await s3.send(new GetBucketEncryptionCommand({ Bucket }));
      expect(got.ServerSideEncryptionConfiguration?.Rules).to.deep.equal([
        { ApplyServerSideEncryptionByDefault: { SSEAlgorithm: 'AES256' }, BucketKeyEnabled: false },
      ]);
      const put = await s3.send(new PutBucketEncryptionCommand({ Bucket, ServerSideEncryptionConfiguration: sse('AES256') }));
      expect(put.$metadata.httpStatusCode).to.equal(200);
    } else {
      await expectSdkError(s3.send(new GetBucketEncryptionCommand({ Bucket })), 'ServerSideEncryptionConfigurationNotFoundError', 404);
      // The files are stored as they are: a default of SSE-S3 would be a claim s3mux cannot keep.
      await expectSdkError(
        s3.send(new PutBucketEncryptionCommand({ Bucket, ServerSideEncryptionConfiguration: sse('AES256') })),
        'NotImplemented',
        501,
      );
    }
    await expectSdkError(
      s3.send(new PutBucketEncryptionCommand({ Bucket, ServerSideEncryptionConfiguration: sse('aws:kms', { KMSMasterKeyID: 'k' }) })),
      'NotImplemented',
      501,
    );
    const bucketKey = { Rules: [{ ApplyServerSideEncryptionByDefault: { SSEAlgorithm: 'AES256' as const }, BucketKeyEnabled: true }] };
    await expectSdkError(
      s3.send(new PutBucketEncryptionCommand({ Bucket, ServerSideEncryptionConfiguration: bucketKey })),
      'NotImplemented',
      501,
    );
    await expectSdkError(
      s3.send(new PutBucketEncryptionCommand({ Bucket, ServerSideEncryptionConfiguration: sse('AES256', { KMSMasterKeyID: 'k' }) })),
      'InvalidArgument',
      400,
    );
    expect((await s3.send(new DeleteBucketEncryptionCommand({ Bucket }))).$metadata.httpStatusCode).to.equal(204);
  });

  it('default encryption on an fs folder said to be on an encrypted volume is SSE-S3 (the flag says nothing of an s3 store)', async () => {
    const enc = await startTestServer({ fsEncryptedAtRest: true });
    try {
      await enc.s3.send(new CreateBucketCommand({ Bucket }));
      if (enc.router.defaultBackend.kind === 's3') {
        await expectSdkError(
          enc.s3.send(new GetBucketEncryptionCommand({ Bucket })),
          'ServerSideEncryptionConfigurationNotFoundError',
          404,
        );
        return;
      }
      const got = await enc.s3.send(new GetBucketEncryptionCommand({ Bucket }));
      expect(got.ServerSideEncryptionConfiguration?.Rules?.[0]?.ApplyServerSideEncryptionByDefault?.SSEAlgorithm).to.equal('AES256');
      const put = await enc.s3.send(new PutBucketEncryptionCommand({ Bucket, ServerSideEncryptionConfiguration: sse('AES256') }));
      expect(put.$metadata.httpStatusCode).to.equal(200);
    } finally {
      await enc.stop();
    }
  });

  it('access logging, requester pays and notifications are off; turning them off is accepted, on is 501', async () => {
    const logging = await s3.send(new GetBucketLoggingCommand({ Bucket }));
    expect(logging.$metadata.httpStatusCode).to.equal(200);
    expect(logging.LoggingEnabled).to.equal(undefined);
    await s3.send(new PutBucketLoggingCommand({ Bucket, BucketLoggingStatus: {} }));
    await expectSdkError(
      s3.send(
        new PutBucketLoggingCommand({ Bucket, BucketLoggingStatus: { LoggingEnabled: { TargetBucket: Bucket, TargetPrefix: 'logs/' } } }),
      ),
      'NotImplemented',
      501,
    );

    expect((await s3.send(new GetBucketRequestPaymentCommand({ Bucket }))).Payer).to.equal('BucketOwner');
    await s3.send(new PutBucketRequestPaymentCommand({ Bucket, RequestPaymentConfiguration: { Payer: 'BucketOwner' } }));
    await expectSdkError(
      s3.send(new PutBucketRequestPaymentCommand({ Bucket, RequestPaymentConfiguration: { Payer: 'Requester' } })),
      'NotImplemented',
      501,
    );

    const notes = await s3.send(new GetBucketNotificationConfigurationCommand({ Bucket }));
    expect(notes.$metadata.httpStatusCode).to.equal(200);
    expect([
      notes.TopicConfigurations,
      notes.QueueConfigurations,
      notes.LambdaFunctionConfigurations,
      notes.EventBridgeConfiguration,
    ]).to.deep.equal([undefined, undefined, undefined, undefined]);
    await s3.send(new PutBucketNotificationConfigurationCommand({ Bucket, NotificationConfiguration: {} }));
    await expectSdkError(
      s3.send(
        new PutBucketNotificationConfigurationCommand({
          Bucket,
          NotificationConfiguration: { QueueConfigurations: [{ QueueArn: 'arn:aws:sqs:us-east-1:1:q', Events: ['s3:ObjectCreated:*'] }] },
        }),
      ),
      'NotImplemented',
      501,
    );
  });

  it('transfer acceleration is never on: Suspended is accepted and read back, Enabled is 501', async () => {
    expect((await s3.send(new GetBucketAccelerateConfigurationCommand({ Bucket }))).Status).to.equal(undefined);
    await expectSdkError(
      s3.send(new PutBucketAccelerateConfigurationCommand({ Bucket, AccelerateConfiguration: { Status: 'Enabled' } })),
      'NotImplemented',
      501,
    );
    await s3.send(new PutBucketAccelerateConfigurationCommand({ Bucket, AccelerateConfiguration: { Status: 'Suspended' } }));
    expect((await s3.send(new GetBucketAccelerateConfigurationCommand({ Bucket }))).Status).to.equal('Suspended');
  });

  it('website and replication are not found, deleting them is a no-op, and setting them is 501', async () => {
    await expectSdkError(s3.send(new GetBucketWebsiteCommand({ Bucket })), 'NoSuchWebsiteConfiguration', 404);
    await expectSdkError(
      s3.send(new PutBucketWebsiteCommand({ Bucket, WebsiteConfiguration: { IndexDocument: { Suffix: 'index.html' } } })),
      'NotImplemented',
      501,
    );
    expect((await s3.send(new DeleteBucketWebsiteCommand({ Bucket }))).$metadata.httpStatusCode).to.equal(204);

    await expectSdkError(s3.send(new GetBucketReplicationCommand({ Bucket })), 'ReplicationConfigurationNotFoundError', 404);
    await expectSdkError(
      s3.send(
        new PutBucketReplicationCommand({
          Bucket,
          ReplicationConfiguration: {
            Role: 'arn:aws:iam::1:role/r',
            Rules: [{ Status: 'Enabled', Destination: { Bucket: 'arn:aws:s3:::other' }, Prefix: '' }],
          },
        }),
      ),
      'NotImplemented',
      501,
    );
    expect((await s3.send(new DeleteBucketReplicationCommand({ Bucket }))).$metadata.httpStatusCode).to.equal(204);
  });

  it('analytics, metrics, inventory and Intelligent-Tiering: none listed, none found by id, none made', async () => {
    const Id = 'whole-bucket';
    const lists = [
      s3.send(new ListBucketAnalyticsConfigurationsCommand({ Bucket })),
      s3.send(new ListBucketMetricsConfigurationsCommand({ Bucket })),
      s3.send(new ListBucketInventoryConfigurationsCommand({ Bucket })),
      s3.send(new ListBucketIntelligentTieringConfigurationsCommand({ Bucket })),
    ];
    for (const list of await Promise.all(lists)) {
      expect(list.IsTruncated).to.equal(false);
      const { $metadata: _, IsTruncated: __, ...rest } = list;
      expect(rest).to.deep.equal({});
    }
    await expectSdkError(s3.send(new GetBucketAnalyticsConfigurationCommand({ Bucket, Id })), 'NoSuchConfiguration', 404);
    await expectSdkError(s3.send(new GetBucketMetricsConfigurationCommand({ Bucket, Id })), 'NoSuchConfiguration', 404);
    await expectSdkError(s3.send(new GetBucketInventoryConfigurationCommand({ Bucket, Id })), 'NoSuchConfiguration', 404);
    await expectSdkError(s3.send(new GetBucketIntelligentTieringConfigurationCommand({ Bucket, Id })), 'NoSuchConfiguration', 404);
    await expectSdkError(
      s3.send(new PutBucketMetricsConfigurationCommand({ Bucket, Id, MetricsConfiguration: { Id } })),
      'NotImplemented',
      501,
    );
    await expectSdkError(s3.send(new DeleteBucketAnalyticsConfigurationCommand({ Bucket, Id })), 'NoSuchConfiguration', 404);
    await expectSdkError(s3.send(new DeleteBucketMetricsConfigurationCommand({ Bucket, Id })), 'NoSuchConfiguration', 404);
    await expectSdkError(s3.send(new DeleteBucketInventoryConfigurationCommand({ Bucket, Id })), 'NoSuchConfiguration', 404);
    await expectSdkError(s3.send(new DeleteBucketIntelligentTieringConfigurationCommand({ Bucket, Id })), 'NoSuchConfiguration', 404);
    // S3's error holds its Code and Message, no BucketName (LocalStack's AWS-validated test_s3_analytics_configurations).
    for (const sub of ['analytics', 'metrics', 'inventory', 'intelligent-tiering']) {
      const r = await signedFetch(srv.url, CREDS, 'GET', `/${Bucket}`, { query: { [sub]: '', id: Id } });
      expect(r.status, sub).to.equal(404);
      expect(r.text, sub)
        .to.contain('<Code>NoSuchConfiguration</Code>')
        .and.contain('<Message>The specified configuration does not exist.</Message>');
      expect(r.text, sub).to.not.contain('<BucketName>');
    }
  });

  it('unoffered configurations answer NoSuchBucket for a bucket that does not exist', async () => {
    const Missing = 'no-such-unoffered';
    await expectSdkError(s3.send(new GetBucketLoggingCommand({ Bucket: Missing })), 'NoSuchBucket', 404);
    await expectSdkError(s3.send(new GetBucketWebsiteCommand({ Bucket: Missing })), 'NoSuchBucket', 404);
    await expectSdkError(s3.send(new ListBucketMetricsConfigurationsCommand({ Bucket: Missing })), 'NoSuchBucket', 404);
    await expectSdkError(s3.send(new PutBucketLoggingCommand({ Bucket: Missing, BucketLoggingStatus: {} })), 'NoSuchBucket', 404);
    await expectSdkError(s3.send(new PutBucketWebsiteCommand({ Bucket: Missing, WebsiteConfiguration: {} })), 'NoSuchBucket', 404);
  });

  it('answers MalformedXML for a body that is not the document', async () => {
    for (const [sub, body] of [
      ['logging', '<Other/>'],
      ['requestPayment', '<RequestPaymentConfiguration><Payer>Nobody</Payer></RequestPaymentConfiguration>'],
      ['accelerate', '<AccelerateConfiguration><Status>On</Status></AccelerateConfiguration>'],
      ['notification', '<NotificationConfiguration><Unknown/></NotificationConfiguration>'],
      ['encryption', '<ServerSideEncryptionConfiguration/>'],
      ['logging', '<BucketLoggingStatus>'],
    ] as const) {
      const r = await signedFetch(srv.url, CREDS, 'PUT', `/${Bucket}`, { query: { [sub]: '' }, body });
      expect(r.status, `${sub}: ${body}`).to.equal(400);
      expect(r.text).to.contain('<Code>MalformedXML</Code>');
    }
  });
});
