/** S3's policy vocabulary (src/access/s3-actions.ts): actions, their wildcards, resource types and condition keys. */
import { expect } from 'chai';
import { isConditionKey, matchingActions, S3_ACTIONS } from '../../src/access/s3-actions';
import { OPERATIONS } from '../../src/s3/operations';

const names = (pattern: string) => matchingActions(pattern).map((a) => a.name);

describe('S3 actions table', () => {
  it('holds every action of the Service Authorization Reference, served by s3mux or not', () => {
    expect(S3_ACTIONS.size).to.be.greaterThanOrEqual(180);
    for (const a of ['s3:GetObject', 's3:ListAllMyBuckets', 's3:CreateJob', 's3:PutStorageLensConfiguration', 's3:GetAccessPoint'])
      expect(S3_ACTIONS.has(a.toLowerCase()), a).to.equal(true);
    expect(S3_ACTIONS.get('s3:getobject')!.resourceTypes).to.deep.equal(['accesspointobject', 'object']);
    expect(S3_ACTIONS.get('s3:listbucket')!.resourceTypes).to.deep.equal(['accesspoint', 'bucket']);
    expect(S3_ACTIONS.get('s3:listallmybuckets')!.resourceTypes).to.deep.equal([]);
    expect(S3_ACTIONS.get('s3:describejob')!.resourceTypes).to.deep.equal(['job']);
  });

  it('names every action an operation authorizes, on the resource type the operation addresses', () => {
    for (const op of OPERATIONS) {
      for (const name of [op.s3Action, op.s3VersionAction]) {
        if (!name) continue;
        const a = S3_ACTIONS.get(name.toLowerCase());
        expect(a, `${op.name}: ${name}`).to.not.equal(undefined);
        if (op.level === 'object') expect(a!.resourceTypes, `${op.name}: ${name}`).to.include('object');
      }
    }
  });

  it('matches wildcards case-insensitively, * for any run and ? for one character', () => {
    expect(names('s3:GetObject')).to.deep.equal(['s3:GetObject']);
    expect(names('S3:getobject')).to.deep.equal(['s3:GetObject']);
    expect(names('*')).to.have.length(S3_ACTIONS.size);
    expect(names('s3:*')).to.have.length(S3_ACTIONS.size);
    expect(names('s3:GetObjec?')).to.deep.equal(['s3:GetObject']);
    expect(names('s3:???Object')).to.have.members(['s3:GetObject', 's3:PutObject']);
    expect(names('s3:Abort*')).to.deep.equal(['s3:AbortMultipartUpload']);
    expect(names('s3:*MultipartUpload*')).to.have.members([
      's3:AbortMultipartUpload',
      's3:ListBucketMultipartUploads',
      's3:ListMultipartUploadParts',
    ]);
    expect(names('s3:Get*')).to.include.members(['s3:GetObject', 's3:GetBucketAcl', 's3:GetObjectVersion']);
    expect(names('s3:list*')).to.include.members(['s3:ListBucket', 's3:ListAllMyBuckets', 's3:ListMultipartUploadParts']);
    // What S3 refuses as "Policy has invalid action": a misspelling, or a wildcard that matches nothing.
    for (const bad of ['s3:GetObjec', 's3:????', 's3:Abort?', 's3:*Obj??ect*', 's3:Get.*', 's3:', 'iam:GetUser'])
      expect(names(bad), bad).to.deep.equal([]);
  });

  it('knows the condition keys IAM and S3 define, case-insensitively, tag keys by their prefix', () => {
    for (const k of [
      'aws:SourceIp',
      'aws:sourceip',
      'aws:SecureTransport',
      'aws:Referer',
      'aws:PrincipalOrgID',
      'aws:PrincipalTag/team',
      'aws:ResourceTag/Cost Center',
      's3:prefix',
      's3:max-keys',
      's3:x-amz-acl',
      's3:x-amz-grant-read',
      's3:VersionId',
      's3:ExistingObjectTag/team',
      's3:RequestObjectTag/a/b',
      's3:RequestObjectTagKeys',
      's3:BucketTag/env',
      's3:signatureversion',
      's3:authType',
      's3:TlsVersion',
    ])
      expect(isConditionKey(k), k).to.equal(true);
    for (const k of [
      's3:FakeKey',
      'aws:NotARealGlobalKey',
      's3:ExistingObjectTag',
      'aws:PrincipalTag/',
      's3:prefix/x',
      'ec2:Region',
      'SourceIp',
    ])
      expect(isConditionKey(k), k).to.equal(false);
  });
});
