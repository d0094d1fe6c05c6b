/** The bucket policy language: parsing (MalformedPolicy reasons) and evaluation, conditions included. */
import { expect } from 'chai';
import { S3Error } from '../../src/errors';
import { evaluateBucketPolicy, isPublicPolicy, parseBucketPolicy, type RequestFacts } from '../../src/access/bucket-policy';
import { callerOf } from '../../src/access/principals';

const ACCOUNT = '111122223333';
const bob = callerOf({ name: 'bob', admin: false, rules: [] }, ACCOUNT);
const anon = callerOf({ name: 'anonymous', admin: false, rules: [], anonymous: true }, ACCOUNT);
const pol = (...Statement: unknown[]) => parseBucketPolicy(JSON.stringify({ Version: '2012-10-17', Statement }), 'b');
const facts = (over: Partial<RequestFacts> & { k?: Record<string, string[]> } = {}): RequestFacts => ({
  caller: bob,
  action: 's3:GetObject',
  resource: 'arn:aws:s3:::b/k',
  keys: new Map(Object.entries(over.k ?? {}).map(([k, v]) => [k.toLowerCase(), v])),
  ...over,
});
const allow = (extra: Record<string, unknown> = {}) => ({
  Effect: 'Allow',
  Principal: '*',
  Action: 's3:GetObject',
  Resource: 'arn:aws:s3:::b/*',
  ...extra,
});

describe('bucket policy language', () => {
  it('answers MalformedPolicy with the reason', () => {
    for (const [text, reason] of [
      ['[1]', /first byte/],
      ['{"Statement":[]}', /empty/],
      ['{"Version":"2020-01-01","Statement":[]}', /version/],
      ['{"Statement":{"Effect":"Allow","Principal":"*","Action":"s3:*","Resource":"arn:aws:s3:::c/*"}}', /invalid resource/],
      ['{"Statement":{"Effect":"Allow","Principal":{"AWS":"bob"},"Action":"s3:*","Resource":"arn:aws:s3:::b/*"}}', /principal/],
      [
        '{"Statement":{"Effect":"Allow","Principal":"*","Action":"s3:*","NotAction":"s3:Get*","Resource":"arn:aws:s3:::b/*"}}',
        /exactly one/,
      ],
      [
        '{"Statement":{"Effect":"Allow","Principal":"*","Action":"s3:*","Resource":"arn:aws:s3:::b/*","Condition":{"IpAddress":{"aws:SourceIp":"nope"}}}}',
        /IP address/,
      ],
      [
        '{"Statement":{"Effect":"Allow","Principal":"*","Action":"s3:*","Resource":"arn:aws:s3:::b/*","Condition":{"StringEquals":{"foo":"x"}}}}',
        /condition key/,
      ],
      ['{"Statement":{"Effect":"Allow","Principal":"*","Action":"s3:*","Resource":"arn:aws:s3:::b/*","Bogus":1}}', /Unknown field/],
    ] as const) {
      let err: unknown;
      try {
        parseBucketPolicy(text, 'b');
      } catch (e) {
        err = e;
      }
      expect(err, text).to.be.instanceOf(S3Error);
      expect((err as S3Error).code).to.equal('MalformedPolicy');
      expect((err as S3Error).message, text).to.match(reason);
    }
  });

  it('explicit Deny wins; NotAction, NotResource, NotPrincipal', () => {
    const p = pol(allow(), { Effect: 'Deny', Principal: '*', Action: 's3:*', Resource: 'arn:aws:s3:::b/secret/*' });
    expect(evaluateBucketPolicy(p, facts())).to.equal('Allow');
    expect(evaluateBucketPolicy(p, facts({ resource: 'arn:aws:s3:::b/secret/x' }))).to.equal('Deny');
    const n = pol({
      Effect: 'Deny',
      NotPrincipal: { AWS: `arn:aws:iam::${ACCOUNT}:user/bob` },
      NotAction: 's3:List*',
      NotResource: 'arn:aws:s3:::b/open/*',
    });
    expect(evaluateBucketPolicy(n, facts())).to.equal(undefined);
    expect(evaluateBucketPolicy(n, facts({ caller: anon }))).to.equal('Deny');
    expect(evaluateBucketPolicy(n, facts({ caller: anon, action: 's3:ListBucket' }))).to.equal(undefined);
    expect(evaluateBucketPolicy(n, facts({ caller: anon, resource: 'arn:aws:s3:::b/open/x' }))).to.equal(undefined);
  });

  it('matches principals by ARN, account and canonical id; anonymous only by *', () => {
    expect(evaluateBucketPolicy(pol(allow({ Principal: { AWS: ACCOUNT } })), facts())).to.equal('Allow');
    expect(evaluateBucketPolicy(pol(allow({ Principal: { AWS: `arn:aws:iam::${ACCOUNT}:root` } })), facts())).to.equal('Allow');
    expect(evaluateBucketPolicy(pol(allow({ Principal: { AWS: ACCOUNT } })), facts({ caller: anon }))).to.equal(undefined);
    expect(evaluateBucketPolicy(pol(allow({ Principal: { CanonicalUser: bob.canonicalId } })), facts())).to.equal('Allow');
    expect(evaluateBucketPolicy(pol(allow({ Principal: { AWS: '*' } })), facts({ caller: anon }))).to.equal('Allow');
    expect(evaluateBucketPolicy(pol(allow({ Action: 'S3:get*' })), facts())).to.equal('Allow');
  });

  // s3:* on the bucket and its objects: every key below applies to some action of the statement, as S3 requires.
  const cond = (Condition: unknown, k: Record<string, string[]> = {}) =>
    evaluateBucketPolicy(pol(allow({ Condition, Action: 's3:*', Resource: ['arn:aws:s3:::b', 'arn:aws:s3:::b/*'] })), facts({ k }));
  it('evaluates the condition operators', () => {
    expect(cond({ StringEquals: { 's3:prefix': ['a/', 'b/'] } }, { 's3:prefix': ['b/'] })).to.equal('Allow');
    expect(cond({ StringNotEquals: { 's3:prefix': 'a/' } }, {})).to.equal('Allow');
    expect(cond({ StringEqualsIgnoreCase: { 'aws:UserAgent': 'TOOL' } }, { 'aws:UserAgent': ['tool'] })).to.equal('Allow');
    expect(cond({ StringLike: { 'aws:Referer': 'https://*.example.com/?' } }, { 'aws:Referer': ['https://a.example.com/x'] })).to.equal(
      'Allow',
    );
    expect(cond({ NumericLessThanEquals: { 's3:max-keys': '10' } }, { 's3:max-keys': ['11'] })).to.equal(undefined);
    expect(cond({ NumericGreaterThan: { 's3:max-keys': 5 } }, { 's3:max-keys': ['6'] })).to.equal('Allow');
    expect(cond({ DateLessThan: { 'aws:CurrentTime': '2030-01-01T00:00:00Z' } }, { 'aws:CurrentTime': ['2026-12-05T10:00:00Z'] })).to.equal(
      'Allow',
    );
    expect(cond({ DateGreaterThan: { 'aws:EpochTime': '2030-01-01T00:00:00Z' } }, { 'aws:EpochTime': ['1700000000'] })).to.equal(undefined);
    expect(cond({ Bool: { 'aws:SecureTransport': false } }, { 'aws:SecureTransport': ['false'] })).to.equal('Allow');
    expect(cond({ IpAddress: { 'aws:SourceIp': ['10.0.0.0/8', '127.0.0.1/32'] } }, { 'aws:SourceIp': ['127.0.0.1'] })).to.equal('Allow');
    expect(cond({ NotIpAddress: { 'aws:SourceIp': '127.0.0.0/8' } }, { 'aws:SourceIp': ['127.0.0.1'] })).to.equal(undefined);
    expect(cond({ IpAddress: { 'aws:SourceIp': '::1/128' } }, { 'aws:SourceIp': ['::1'] })).to.equal('Allow');
    expect(cond({ ArnLike: { 'aws:PrincipalArn': `arn:aws:iam::${ACCOUNT}:user/b*` } }, { 'aws:PrincipalArn': [bob.arn] })).to.equal(
      'Allow',
    );
    expect(cond({ ArnEquals: { 'aws:PrincipalArn': `arn:aws:iam::${ACCOUNT}:user/carol` } }, { 'aws:PrincipalArn': [bob.arn] })).to.equal(
      undefined,
    );
    expect(cond({ Null: { 's3:x-amz-server-side-encryption': 'true' } }, {})).to.equal('Allow');
    expect(cond({ Null: { 's3:x-amz-server-side-encryption': 'true' } }, { 's3:x-amz-server-side-encryption': ['AES256'] })).to.equal(
      undefined,
    );
    expect(cond({ StringEqualsIfExists: { 's3:x-amz-acl': 'private' } }, {})).to.equal('Allow');
    expect(cond({ StringEquals: { 's3:x-amz-acl': 'private' } }, {})).to.equal(undefined);
    expect(cond({ 'ForAllValues:StringEquals': { 's3:RequestObjectTagKeys': ['a', 'b'] } }, { 's3:RequestObjectTagKeys': ['a'] })).to.equal(
      'Allow',
    );
    expect(cond({ 'ForAllValues:StringEquals': { 's3:RequestObjectTagKeys': ['a'] } }, { 's3:RequestObjectTagKeys': ['a', 'c'] })).to.equal(
      undefined,
    );
    expect(cond({ 'ForAnyValue:StringEquals': { 's3:RequestObjectTagKeys': ['c'] } }, { 's3:RequestObjectTagKeys': ['a', 'c'] })).to.equal(
      'Allow',
    );
    expect(cond({ 'ForAnyValue:StringEquals': { 's3:RequestObjectTagKeys': ['c'] } }, {})).to.equal(undefined);
    expect(cond({ StringEquals: { 's3:ExistingObjectTag/team': 'blue' } }, { 's3:ExistingObjectTag/team': ['blue'] })).to.equal('Allow');
  });

  it('substitutes policy variables in resources', () => {
    const p = pol(allow({ Principal: { AWS: ACCOUNT }, Resource: 'arn:aws:s3:::b/home/${aws:username}/*' }));
    expect(evaluateBucketPolicy(p, facts({ resource: 'arn:aws:s3:::b/home/bob/x', k: { 'aws:username': ['bob'] } }))).to.equal('Allow');
    expect(evaluateBucketPolicy(p, facts({ resource: 'arn:aws:s3:::b/home/eve/x', k: { 'aws:username': ['bob'] } }))).to.equal(undefined);
    expect(evaluateBucketPolicy(p, facts({ resource: 'arn:aws:s3:::b/home//x' }))).to.equal(undefined);
  });

  it('calls a policy public when it allows everyone without narrowing', () => {
    expect(isPublicPolicy(pol(allow()))).to.equal(true);
    expect(isPublicPolicy(pol(allow({ Condition: { IpAddress: { 'aws:SourceIp': '10.0.0.0/8' } } })))).to.equal(false);
    expect(isPublicPolicy(pol(allow({ Principal: { AWS: ACCOUNT } })))).to.equal(false);
  });
});
