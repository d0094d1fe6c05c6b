/** CORS, lifecycle and bucket tags round-trip through aws-cli and boto3 (Debian's packages). */
import { execFile } from 'node:child_process';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { promisify } from 'node:util';
import { expect } from 'chai';
import { CreateBucketCommand } from '@aws-sdk/client-s3';
import { ACCESS_KEY, SECRET_KEY, startTestServer, type TestServer } from '../helpers/server';
import { awsCliEnv } from '../helpers/processes';

const run = promisify(execFile);

describe('protocol: bucket settings through aws-cli and boto3', function () {
  // aws-cli takes seconds to start, a dozen times.
  this.timeout(240_000);
  let srv: TestServer;
  let tmp: string;
  const env = () => awsCliEnv(ACCESS_KEY, SECRET_KEY);
  const aws = async (...args: string[]) => {
    const { stdout } = await run('/usr/bin/aws', ['--endpoint-url', srv.url, 's3api', ...args], { env: env() });
    return stdout.trim() === '' ? undefined : (JSON.parse(stdout) as Record<string, unknown>);
  };

  before(async () => {
    tmp = mkdtempSync(path.join(os.tmpdir(), 's3mux-settings-cli-'));
    srv = await startTestServer();
    await srv.s3.send(new CreateBucketCommand({ Bucket: 'cli-settings' }));
    await srv.s3.send(new CreateBucketCommand({ Bucket: 'boto-settings' }));
  });
  after(async () => {
    await srv.stop();
    rmSync(tmp, { recursive: true, force: true });
  });

  it('aws-cli: put/get/delete-bucket-cors, -lifecycle-configuration and -tagging', async () => {
    const Bucket = 'cli-settings';
    const cors = {
      CORSRules: [
        { AllowedOrigins: ['https://*.example.com'], AllowedMethods: ['GET', 'PUT'], ExposeHeaders: ['ETag'], MaxAgeSeconds: 300 },
      ],
    };
    await aws('put-bucket-cors', '--bucket', Bucket, '--cors-configuration', JSON.stringify(cors));
    expect(await aws('get-bucket-cors', '--bucket', Bucket)).to.deep.equal(cors);
    await aws('delete-bucket-cors', '--bucket', Bucket);
    const noCors = await aws('get-bucket-cors', '--bucket', Bucket).catch((e: Error) => e.message);
    expect(noCors).to.contain('NoSuchCORSConfiguration');

    const lifecycle = {
      Rules: [
        { ID: 'tmp', Filter: { Prefix: 'tmp/' }, Status: 'Enabled', Expiration: { Days: 7 } },
        { ID: 'mpu', Filter: { Prefix: '' }, Status: 'Enabled', AbortIncompleteMultipartUpload: { DaysAfterInitiation: 2 } },
      ],
    };
    const file = path.join(tmp, 'lifecycle.json');
    writeFileSync(file, JSON.stringify(lifecycle));
    await aws('put-bucket-lifecycle-configuration', '--bucket', Bucket, '--lifecycle-configuration', `file://${file}`);
    expect(await aws('get-bucket-lifecycle-configuration', '--bucket', Bucket)).to.deep.include({ Rules: lifecycle.Rules });
    await aws('delete-bucket-lifecycle', '--bucket', Bucket);
    const glacier = {
      Rules: [{ ID: 'g', Filter: { Prefix: '' }, Status: 'Enabled', Transitions: [{ Days: 30, StorageClass: 'GLACIER' }] }],
    };
    // A transition holds only where the route's store can change an object's class in place
    // (Azure tiers, s3 classes, fs labels); elsewhere it is refused with the reason, never dropped.
    const put = await aws(
      'put-bucket-lifecycle-configuration',
      '--bucket',
      Bucket,
      '--lifecycle-configuration',
      JSON.stringify(glacier),
    ).then(
      () => undefined,
      (e: Error) => e.message,
    );
    if (put === undefined)
      expect(await aws('get-bucket-lifecycle-configuration', '--bucket', Bucket)).to.deep.include({ Rules: glacier.Rules });
    else expect(put).to.contain('InvalidStorageClass');

    const tagging = { TagSet: [{ Key: 'team', Value: 'web' }] };
    await aws('put-bucket-tagging', '--bucket', Bucket, '--tagging', JSON.stringify(tagging));
    expect(await aws('get-bucket-tagging', '--bucket', Bucket)).to.deep.equal(tagging);
    await aws('delete-bucket-tagging', '--bucket', Bucket);
    expect(await aws('get-bucket-tagging', '--bucket', Bucket).catch((e: Error) => e.message)).to.contain('NoSuchTagSet');
  });

  it('boto3: the same round trips', async () => {
    const script = `
import json, sys, boto3
from botocore.exceptions import ClientError
s3 = boto3.client('s3', endpoint_url=sys.argv[1], region_name='us-east-1')
b = 'boto-settings'
out = {}
s3.put_bucket_cors(Bucket=b, CORSConfiguration={'CORSRules': [{'ID': 'r', 'AllowedOrigins': ['*'], 'AllowedMethods': ['GET'], 'AllowedHeaders': ['*']}]})
out['cors'] = s3.get_bucket_cors(Bucket=b)['CORSRules']
s3.put_bucket_lifecycle_configuration(Bucket=b, LifecycleConfiguration={'Rules': [{'ID': 'x', 'Filter': {'And': {'Prefix': 'a/', 'Tags': [{'Key': 'k', 'Value': 'v'}]}}, 'Status': 'Enabled', 'Expiration': {'Days': 3}}]})
out['lifecycle'] = s3.get_bucket_lifecycle_configuration(Bucket=b)['Rules']
s3.put_bucket_tagging(Bucket=b, Tagging={'TagSet': [{'Key': 'a', 'Value': '1'}, {'Key': 'b', 'Value': '2'}]})
out['tags'] = s3.get_bucket_tagging(Bucket=b)['TagSet']
s3.delete_bucket_cors(Bucket=b)
s3.delete_bucket_lifecycle(Bucket=b)
s3.delete_bucket_tagging(Bucket=b)
errors = []
for call in (lambda: s3.get_bucket_cors(Bucket=b), lambda: s3.get_bucket_lifecycle_configuration(Bucket=b), lambda: s3.get_bucket_tagging(Bucket=b)):
    try:
        call()
    except ClientError as e:
        errors.append(e.response['Error']['Code'])
out['errors'] = errors
print(json.dumps(out))
`;
    const { stdout } = await run('/usr/bin/python3', ['-c', script, srv.url], { env: env() });
    const out = JSON.parse(stdout) as Record<string, unknown>;
    expect(out.cors).to.deep.equal([{ ID: 'r', AllowedOrigins: ['*'], AllowedMethods: ['GET'], AllowedHeaders: ['*'] }]);
    expect(out.lifecycle).to.deep.equal([
      { ID: 'x', Filter: { And: { Prefix: 'a/', Tags: [{ Key: 'k', Value: 'v' }] } }, Status: 'Enabled', Expiration: { Days: 3 } },
    ]);
    expect(out.tags).to.deep.equal([
      { Key: 'a', Value: '1' },
      { Key: 'b', Value: '2' },
    ]);
    expect(out.errors).to.deep.equal(['NoSuchCORSConfiguration', 'NoSuchLifecycleConfiguration', 'NoSuchTagSet']);
  });

  it("boto3 and aws-cli: every configuration Terraform's aws_s3_bucket reads answers as for a bucket that never had it", async () => {
    const script = `
import json, sys, boto3
from botocore.exceptions import ClientError
s3 = boto3.client('s3', endpoint_url=sys.argv[1], region_name='us-east-1')
b = 'boto-settings'
out = {}
for name in ('policy', 'acl', 'cors', 'website', 'versioning', 'accelerate_configuration', 'request_payment', 'logging',
             'lifecycle_configuration', 'replication', 'encryption', 'tagging'):
    try:
        r = getattr(s3, 'get_bucket_' + name)(Bucket=b)
        r.pop('ResponseMetadata')
        out[name] = r
    except ClientError as e:
        out[name] = e.response['Error']['Code']
try:
    s3.put_bucket_logging(Bucket=b, BucketLoggingStatus={'LoggingEnabled': {'TargetBucket': b, 'TargetPrefix': 'log/'}})
    out['put_logging'] = 'accepted'
except ClientError as e:
    out['put_logging'] = e.response['Error']['Code']
print(json.dumps(out))
`;
    const { stdout } = await run('/usr/bin/python3', ['-c', script, srv.url], { env: env() });
    const out = JSON.parse(stdout) as Record<string, unknown>;
    const encrypted = !['fs', 's3'].includes(srv.router.defaultBackend.kind);
    expect(out).to.deep.include({
      policy: 'NoSuchBucketPolicy',
      cors: 'NoSuchCORSConfiguration',
      website: 'NoSuchWebsiteConfiguration',
      versioning: {},
      accelerate_configuration: {},
      request_payment: { Payer: 'BucketOwner' },
      logging: {},
      lifecycle_configuration: 'NoSuchLifecycleConfiguration',
      replication: 'ReplicationConfigurationNotFoundError',
      encryption: encrypted
        ? {
            ServerSideEncryptionConfiguration: {
              Rules: [{ ApplyServerSideEncryptionByDefault: { SSEAlgorithm: 'AES256' }, BucketKeyEnabled: false }],
            },
          }
        : 'ServerSideEncryptionConfigurationNotFoundError',
      tagging: 'NoSuchTagSet',
      put_logging: 'NotImplemented',
    });
    expect(out.acl).to.have.property('Owner');

    await aws('put-bucket-request-payment', '--bucket', 'cli-settings', '--request-payment-configuration', 'Payer=BucketOwner');
    expect(await aws('get-bucket-request-payment', '--bucket', 'cli-settings')).to.deep.equal({ Payer: 'BucketOwner' });
    const requester = await aws(
      'put-bucket-request-payment',
      '--bucket',
      'cli-settings',
      '--request-payment-configuration',
      'Payer=Requester',
    ).catch((e: Error) => e.message);
    expect(requester).to.contain('NotImplemented');
  });
});
