/** Bucket policies and ACLs round-trip through aws-cli and boto3 against a running s3mux. */
import { expect } from 'chai';
import { execFile } from 'node:child_process';
import { promisify } from 'node:util';
import { validateRoutingTable } from '../../src/router/config';
import { Router } from '../../src/router/router';
import { ACCESS_KEY, SECRET_KEY, startTestServer, type TestServer } from '../helpers/server';
import { awsCliEnv } from '../helpers/processes';

const run = promisify(execFile);

describe('protocol: access control through aws-cli and boto3', function () {
  this.timeout(120_000);
  let srv: TestServer;
  let env: NodeJS.ProcessEnv;
  before(async () => {
    const table = validateRoutingTable({
      backends: { mem: { type: 'memory', store: `acl-clients-${process.pid}` } },
      accessControl: { objectOwnership: 'ObjectWriter' },
    });
    srv = await startTestServer({ router: Router.fromTable(table) });
    env = awsCliEnv(ACCESS_KEY, SECRET_KEY);
  });
  after(() => srv.stop());

  const aws = async (...args: string[]) => (await run('/usr/bin/aws', ['--endpoint-url', srv.url, 's3api', ...args], { env })).stdout;

  it('aws s3api put-bucket-policy / put-bucket-acl / put-object-acl, and boto3 reads them back', async () => {
    await aws('create-bucket', '--bucket', 'cli');
    await aws('put-object', '--bucket', 'cli', '--key', 'o.txt', '--body', '/etc/hostname');
    const policy = JSON.stringify({
      Version: '2012-10-17',
      Statement: [{ Effect: 'Allow', Principal: '*', Action: 's3:GetObject', Resource: 'arn:aws:s3:::cli/pub/*' }],
    });
    await aws('put-bucket-policy', '--bucket', 'cli', '--policy', policy);
    expect(JSON.parse(JSON.parse(await aws('get-bucket-policy', '--bucket', 'cli')).Policy as string)).to.deep.equal(JSON.parse(policy));
    await aws('put-bucket-acl', '--bucket', 'cli', '--acl', 'public-read');
    await aws('put-object-acl', '--bucket', 'cli', '--key', 'o.txt', '--acl', 'public-read');
    expect((await fetch(`${srv.url}/cli/o.txt`)).status).to.equal(200);
    expect((await fetch(`${srv.url}/cli?list-type=2`)).status).to.equal(200);
    const script = `
import boto3, json, sys
s3 = boto3.client('s3', endpoint_url=sys.argv[1], region_name='us-east-1')
acl = s3.get_object_acl(Bucket='cli', Key='o.txt')
print(json.dumps({
  'object': sorted(g['Permission'] + ':' + g['Grantee'].get('URI', g['Grantee'].get('ID', '')) for g in acl['Grants']),
  'bucket': sorted(g['Permission'] + ':' + g['Grantee'].get('URI', g['Grantee'].get('ID', '')) for g in s3.get_bucket_acl(Bucket='cli')['Grants']),
  'public': s3.get_bucket_policy_status(Bucket='cli')['PolicyStatus']['IsPublic'],
}))
s3.put_object_acl(Bucket='cli', Key='o.txt', ACL='private')
s3.delete_bucket_policy(Bucket='cli')
s3.put_public_access_block(Bucket='cli', PublicAccessBlockConfiguration={'BlockPublicAcls': True, 'IgnorePublicAcls': True, 'BlockPublicPolicy': True, 'RestrictPublicBuckets': True})
print(json.dumps(s3.get_public_access_block(Bucket='cli')['PublicAccessBlockConfiguration']))
`;
    const out = (await run('/usr/bin/python3', ['-c', script, srv.url], { env })).stdout.trim().split('\n');
    const first = JSON.parse(out[0]) as { object: string[]; bucket: string[]; public: boolean };
    expect(first.object).to.include('READ:http://acs.amazonaws.com/groups/global/AllUsers');
    expect(first.bucket).to.include('READ:http://acs.amazonaws.com/groups/global/AllUsers');
    expect(first.public).to.equal(true);
    expect(JSON.parse(out[1])).to.deep.equal({
      BlockPublicAcls: true,
      IgnorePublicAcls: true,
      BlockPublicPolicy: true,
      RestrictPublicBuckets: true,
    });
    expect((await fetch(`${srv.url}/cli/o.txt`)).status).to.equal(403);
    expect((await fetch(`${srv.url}/cli?list-type=2`)).status).to.equal(403);
    const err = await aws('get-bucket-policy', '--bucket', 'cli').catch((e: { stderr: string }) => e.stderr);
    expect(err).to.match(/NoSuchBucketPolicy/);
  });
});
