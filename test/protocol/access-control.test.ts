/**
 * Access control through real requests: AWS SDK v3 clients signed as root and as identities of
 * the routing table, anonymous fetch, presigned URLs. A table of (principal, action, resource,
 * condition) cases against buckets set up with bucket policies, ACLs, ownership controls and a
 * public access block; and the negative sweep: no header lets an identity in where nothing allows it.
 */
import { expect } from 'chai';
import {
  CopyObjectCommand,
  CreateBucketCommand,
  DeleteBucketPolicyCommand,
  DeleteObjectCommand,
  DeleteObjectsCommand,
  GetBucketAclCommand,
  GetBucketOwnershipControlsCommand,
  GetBucketPolicyCommand,
  GetBucketPolicyStatusCommand,
  GetObjectAclCommand,
  GetObjectAttributesCommand,
  GetObjectCommand,
  GetObjectTaggingCommand,
  GetPublicAccessBlockCommand,
  HeadObjectCommand,
  ListObjectsCommand,
  ListObjectsV2Command,
  ListObjectVersionsCommand,
  PutBucketAclCommand,
  PutBucketOwnershipControlsCommand,
  PutBucketPolicyCommand,
  PutBucketVersioningCommand,
  PutObjectAclCommand,
  PutObjectCommand,
  PutObjectTaggingCommand,
  PutPublicAccessBlockCommand,
  S3Client,
} from '@aws-sdk/client-s3';
import { getSignedUrl } from '@aws-sdk/s3-request-presigner';
import { validateRoutingTable } from '../../src/router/config';
import { Router } from '../../src/router/router';
import { BucketView } from '../../src/router/bucket-view';
import { reservedSegment } from '../../src/backends/reserved-store';
import { canonicalIdOf } from '../../src/access/principals';
import { startTestServer, ACCESS_KEY, SECRET_KEY, type TestServer } from '../helpers/server';
import { signedFetch } from '../helpers/sign';
import { errorOf } from '../helpers/errors';
import { S3Error } from '../../src/errors';

const ACCOUNT = '111122223333';
const arn = (name: string) => `arn:aws:iam::${ACCOUNT}:user/${name}`;

type Who = 'root' | 'alice' | 'bob' | 'carol' | 'anon';
type Act = 'get' | 'head' | 'list' | 'put' | 'delete' | 'getAcl' | 'putAcl' | 'presignedGet' | 'presignedPut';

interface Case {
  who: Who;
  act: Act;
  bucket: string;
  key?: string;
  /** Request extras: a User-Agent, a Referer, a prefix, an ACL header. */
  extra?: { userAgent?: string; referer?: string; prefix?: string; acl?: string; tagging?: string };
  allowed: boolean;
  why: string;
}

describe('protocol: access control (ACLs, bucket policies, ownership, public access block)', function () {
  this.timeout(120_000);
  let srv: TestServer;
  let router: Router;
  const clients = new Map<Who, S3Client>();
  /** Presigned PUT URLs come from these: checksums only where required (helpers/server.ts `presigner` says why). */
  const presigners = new Map<Who, S3Client>();

  const policy = (bucket: string, statements: unknown[]) => JSON.stringify({ Version: '2012-10-17', Statement: statements });
  const fixedPolicy = {
    Version: '2012-10-17',
    Statement: [
      {
        Effect: 'Allow',
        Principal: '*',
        Action: ['s3:GetObject', 's3:ListBucket'],
        Resource: ['arn:aws:s3:::dataset', 'arn:aws:s3:::dataset/*'],
      },
    ],
  };

  before(async () => {
    const table = validateRoutingTable({
      backends: { mem: { type: 'memory', store: `access-control-${process.pid}` } },
      default: 'mem',
      accessControl: { accountId: ACCOUNT, objectOwnership: 'ObjectWriter' },
      routes: {
        dataset: { bucket: 'dataset', policy: fixedPolicy, publicAccessBlock: { BlockPublicAcls: true } },
        site: { bucket: 'site', publicRead: true },
      },
      identities: {
        alice: {
          accessKeyId: 'ALICE',
          secretAccessKeyEnv: 'X',
          email: 'alice@example.com',
          policy: [{ buckets: 'alice-*', allow: ['read', 'write', 'list', 'delete', 'createBucket'] }],
        },
        bob: { accessKeyId: 'BOB', secretAccessKeyEnv: 'X', email: 'bob@example.com' },
        carol: { accessKeyId: 'CAROL', secretAccessKeyEnv: 'X' },
      },
    });
    const users = table.identities!.map((i) => ({
      identity: { accessKeyId: i.accessKeyId, secretAccessKey: `${i.name}-secret` },
      principal: { name: i.name, admin: i.admin, rules: i.rules, ...(i.email ? { email: i.email } : {}) },
    }));
    router = Router.fromTable(table);
    srv = await startTestServer({ router, users });
    const mk = (accessKeyId: string, secretAccessKey: string, presign = false) =>
      new S3Client({
        endpoint: srv.url,
        region: 'us-east-1',
        forcePathStyle: true,
        credentials: { accessKeyId, secretAccessKey },
        ...(presign ? { requestChecksumCalculation: 'WHEN_REQUIRED' as const } : {}),
      });
    clients.set('root', srv.s3);
    clients.set('alice', mk('ALICE', 'alice-secret'));
    clients.set('bob', mk('BOB', 'bob-secret'));
    clients.set('carol', mk('CAROL', 'carol-secret'));
    presigners.set('root', srv.presigner);
    presigners.set('alice', mk('ALICE', 'alice-secret', true));
    presigners.set('bob', mk('BOB', 'bob-secret', true));
    presigners.set('carol', mk('CAROL', 'carol-secret', true));
    const root = srv.s3;

    // pol: a bucket policy with users, anonymous reads under public/, conditions.
    await root.send(new CreateBucketCommand({ Bucket: 'pol' }));
    // Written before the policy that denies everyone secret/*.
    for (const k of [
      'a.txt',
      'secret/s.txt',
      'public/p.txt',
      'carol/c.txt',
      'web/w.txt',
      'local/l.txt',
      'home/bob/b.txt',
      'home/carol/c.txt',
      'inbox/i.txt',
    ]) {
      await root.send(new PutObjectCommand({ Bucket: 'pol', Key: k, Body: k }));
    }
    await root.send(
      new PutBucketPolicyCommand({
        Bucket: 'pol',
        Policy: policy('pol', [
          {
            Sid: 'BobReads',
            Effect: 'Allow',
            Principal: { AWS: arn('bob') },
            Action: ['s3:GetObject', 's3:ListBucket'],
            Resource: ['arn:aws:s3:::pol', 'arn:aws:s3:::pol/*'],
          },
          {
            Sid: 'BobWritesInbox',
            Effect: 'Allow',
            Principal: { AWS: [arn('bob')] },
            Action: 's3:PutObject',
            Resource: 'arn:aws:s3:::pol/inbox/*',
          },
          { Sid: 'NoSecrets', Effect: 'Deny', Principal: '*', Action: 's3:*', Resource: 'arn:aws:s3:::pol/secret/*' },
          { Sid: 'PublicDir', Effect: 'Allow', Principal: '*', Action: 's3:GetObject', Resource: 'arn:aws:s3:::pol/public/*' },
          {
            Sid: 'CarolPrefix',
            Effect: 'Allow',
            Principal: { AWS: arn('carol') },
            Action: 's3:ListBucket',
            Resource: 'arn:aws:s3:::pol',
            Condition: { StringLike: { 's3:prefix': ['carol/*'] } },
          },
          {
            Sid: 'CarolAgent',
            Effect: 'Allow',
            Principal: { AWS: arn('carol') },
            Action: 's3:GetObject',
            Resource: 'arn:aws:s3:::pol/*',
            Condition: { StringEquals: { 'aws:UserAgent': 'carol-tool' } },
          },
          {
            Sid: 'Referer',
            Effect: 'Allow',
            Principal: '*',
            Action: 's3:GetObject',
            Resource: 'arn:aws:s3:::pol/web/*',
            Condition: { StringLike: { 'aws:Referer': 'https://example.com/*' } },
          },
          {
            Sid: 'OnlyLocal',
            Effect: 'Deny',
            Principal: '*',
            Action: 's3:GetObject',
            Resource: 'arn:aws:s3:::pol/local/*',
            Condition: { NotIpAddress: { 'aws:SourceIp': '10.0.0.0/8' } },
          },
          {
            Sid: 'HomeDirs',
            Effect: 'Allow',
            Principal: { AWS: ACCOUNT },
            Action: ['s3:GetObject', 's3:PutObject', 's3:DeleteObject'],
            Resource: 'arn:aws:s3:::pol/home/${aws:username}/*',
          },
          {
            Sid: 'NoPublicAclWrites',
            Effect: 'Deny',
            Principal: '*',
            Action: 's3:PutObject',
            Resource: 'arn:aws:s3:::pol/*',
            Condition: { StringEquals: { 's3:x-amz-acl': 'public-read' } },
          },
          {
            Sid: 'Tagged',
            Effect: 'Allow',
            Principal: { AWS: arn('carol') },
            Action: 's3:PutObject',
            Resource: 'arn:aws:s3:::pol/tagged/*',
            Condition: { StringEquals: { 's3:RequestObjectTag/team': 'blue' } },
          },
        ]),
      }),
    );

    // acl: ACLs enabled (ObjectWriter, the table's default here); bucket ACL grants bob READ and carol (by e-mail) nothing.
    await root.send(
      new CreateBucketCommand({
        Bucket: 'acl',
        GrantRead: `id="${canonicalIdOf(ACCOUNT, 'bob')}"`,
        GrantWrite: `emailAddress="alice@example.com"`,
      }),
    );
    await root.send(new PutObjectCommand({ Bucket: 'acl', Key: 'private.txt', Body: 'p' }));
    await root.send(new PutObjectCommand({ Bucket: 'acl', Key: 'public.txt', Body: 'pub', ACL: 'public-read' }));
    await root.send(new PutObjectCommand({ Bucket: 'acl', Key: 'authed.txt', Body: 'a', ACL: 'authenticated-read' }));
    await root.send(
      new PutObjectCommand({ Bucket: 'acl', Key: 'carol.txt', Body: 'c', GrantRead: `id="${canonicalIdOf(ACCOUNT, 'carol')}"` }),
    );

    // enforced: ACLs disabled, objects owned by the bucket owner.
    await root.send(new CreateBucketCommand({ Bucket: 'enforced', ObjectOwnership: 'BucketOwnerEnforced' }));
    await root.send(new PutObjectCommand({ Bucket: 'enforced', Key: 'o.txt', Body: 'o' }));

    // blocked: public ACLs ignored and refused; a public policy refused.
    await root.send(new CreateBucketCommand({ Bucket: 'blocked' }));
    await root.send(new PutObjectCommand({ Bucket: 'blocked', Key: 'was-public.txt', Body: 'x', ACL: 'public-read' }));
    await root.send(
      new PutPublicAccessBlockCommand({
        Bucket: 'blocked',
        PublicAccessBlockConfiguration: {
          BlockPublicAcls: true,
          IgnorePublicAcls: true,
          BlockPublicPolicy: true,
          RestrictPublicBuckets: true,
        },
      }),
    );

    // closed: nothing allows bob, carol or anonymous anything.
    await root.send(new CreateBucketCommand({ Bucket: 'closed' }));
    await root.send(new PutObjectCommand({ Bucket: 'closed', Key: 'x.txt', Body: 'x' }));
    await root.send(new CreateBucketCommand({ Bucket: 'dataset' })).catch(() => undefined);
    await root.send(new PutObjectCommand({ Bucket: 'dataset', Key: 'd.csv', Body: 'd' }));
    await root.send(new CreateBucketCommand({ Bucket: 'site' })).catch(() => undefined);
    await root.send(new PutObjectCommand({ Bucket: 'site', Key: 'index.html', Body: 'hi' }));
    await clients.get('alice')!.send(new CreateBucketCommand({ Bucket: 'alice-own' }));
    await clients.get('alice')!.send(new PutObjectCommand({ Bucket: 'alice-own', Key: 'mine.txt', Body: 'm' }));
  });

  after(async () => {
    for (const [w, c] of clients) if (w !== 'root') c.destroy();
    for (const [w, c] of presigners) if (w !== 'root') c.destroy();
    await srv.stop();
  });

  /** Does one request, as `who`; true when it succeeded, false on AccessDenied (anything else fails the test). */
  async function attempt(c: Case): Promise<boolean> {
    const key = c.key ?? 'a.txt';
    if (c.who === 'anon') {
      const url = `${srv.url}/${c.bucket}/${c.act === 'list' ? `?list-type=2${c.extra?.prefix ? `&prefix=${encodeURIComponent(c.extra.prefix)}` : ''}` : encodeURI(key)}${c.act === 'getAcl' ? '?acl' : ''}`;
      const method = { get: 'GET', head: 'HEAD', list: 'GET', put: 'PUT', delete: 'DELETE' }[c.act as 'get'] ?? 'GET';
      const headers: Record<string, string> = {};
      if (c.extra?.referer) headers.referer = c.extra.referer;
      if (c.extra?.userAgent) headers['user-agent'] = c.extra.userAgent;
      const res = await fetch(url, { method, headers, body: method === 'PUT' ? 'anon' : undefined });
      await res.arrayBuffer();
      if (res.status === 403) return false;
      expect(res.status, `${c.why}: ${res.status}`).to.be.lessThan(300);
      return true;
    }
    const client = clients.get(c.who)!;
    if (c.act === 'presignedGet' || c.act === 'presignedPut') {
      const cmd =
        c.act === 'presignedGet'
          ? new GetObjectCommand({ Bucket: c.bucket, Key: key })
          : new PutObjectCommand({ Bucket: c.bucket, Key: key });
      const url = await getSignedUrl(presigners.get(c.who)!, cmd, { expiresIn: 300 });
      const headers: Record<string, string> = c.extra?.userAgent ? { 'user-agent': c.extra.userAgent } : {};
      const res = await fetch(url, {
        method: c.act === 'presignedGet' ? 'GET' : 'PUT',
        headers,
        body: c.act === 'presignedPut' ? 'presigned' : undefined,
      });
      await res.arrayBuffer();
      if (res.status === 403) return false;
      expect(res.status, c.why).to.be.lessThan(300);
      return true;
    }
    try {
      const B = c.bucket;
      const commands = {
        get: () => new GetObjectCommand({ Bucket: B, Key: key }),
        head: () => new HeadObjectCommand({ Bucket: B, Key: key }),
        list: () => new ListObjectsV2Command({ Bucket: B, Prefix: c.extra?.prefix }),
        put: () =>
          new PutObjectCommand({
            Bucket: B,
            Key: key,
            Body: 'written',
            ACL: c.extra?.acl as 'private' | undefined,
            Tagging: c.extra?.tagging,
          }),
        delete: () => new DeleteObjectCommand({ Bucket: B, Key: key }),
        getAcl: () => new GetObjectAclCommand({ Bucket: B, Key: key }),
        putAcl: () => new PutObjectAclCommand({ Bucket: B, Key: key, ACL: 'private' }),
      } as const;
      await client.send(commands[c.act]() as GetObjectCommand).then(async (r) => {
        const body = (r as { Body?: { transformToString(): Promise<string> } }).Body;
        if (body) await body.transformToString();
      });
      return true;
    } catch (err) {
      const e = err as { name?: string };
      if (e.name === 'AccessDenied' || (err as { $metadata?: { httpStatusCode?: number } }).$metadata?.httpStatusCode === 403) return false;
      throw err;
    }
  }

  const users: Who[] = ['root', 'alice', 'bob', 'carol', 'anon'];
  const cases: Case[] = [
    // pol: bucket policy for identities without rules
    { who: 'bob', act: 'get', bucket: 'pol', key: 'a.txt', allowed: true, why: 'policy allows bob s3:GetObject' },
    { who: 'bob', act: 'head', bucket: 'pol', key: 'a.txt', allowed: true, why: 'HeadObject is s3:GetObject' },
    { who: 'bob', act: 'list', bucket: 'pol', allowed: true, why: 'policy allows bob s3:ListBucket' },
    { who: 'bob', act: 'put', bucket: 'pol', key: 'a.txt', allowed: false, why: 'bob may write only under inbox/' },
    { who: 'bob', act: 'put', bucket: 'pol', key: 'inbox/new.txt', allowed: true, why: 'policy allows bob s3:PutObject on inbox/*' },
    { who: 'bob', act: 'delete', bucket: 'pol', key: 'inbox/i.txt', allowed: false, why: 'no s3:DeleteObject for bob' },
    { who: 'bob', act: 'get', bucket: 'pol', key: 'secret/s.txt', allowed: false, why: 'explicit Deny on secret/* beats the Allow' },
    { who: 'root', act: 'get', bucket: 'pol', key: 'secret/s.txt', allowed: false, why: 'explicit Deny applies to root too' },
    { who: 'alice', act: 'get', bucket: 'pol', key: 'secret/s.txt', allowed: false, why: 'Deny with Principal *' },
    { who: 'anon', act: 'get', bucket: 'pol', key: 'secret/s.txt', allowed: false, why: 'Deny for anonymous too' },
    { who: 'anon', act: 'get', bucket: 'pol', key: 'public/p.txt', allowed: true, why: 'Principal * allows anonymous reads of public/*' },
    { who: 'anon', act: 'head', bucket: 'pol', key: 'public/p.txt', allowed: true, why: 'HEAD is GetObject' },
    { who: 'anon', act: 'get', bucket: 'pol', key: 'a.txt', allowed: false, why: 'anonymous outside public/' },
    { who: 'anon', act: 'list', bucket: 'pol', allowed: false, why: 'no anonymous ListBucket' },
    { who: 'anon', act: 'put', bucket: 'pol', key: 'public/x.txt', allowed: false, why: 'no anonymous PutObject' },
    { who: 'anon', act: 'delete', bucket: 'pol', key: 'public/p.txt', allowed: false, why: 'no anonymous DeleteObject' },
    { who: 'carol', act: 'get', bucket: 'pol', key: 'public/p.txt', allowed: true, why: 'Principal * includes signed callers' },
    { who: 'carol', act: 'list', bucket: 'pol', extra: { prefix: 'carol/' }, allowed: true, why: 's3:prefix StringLike carol/*' },
    { who: 'carol', act: 'list', bucket: 'pol', extra: { prefix: 'bob/' }, allowed: false, why: 's3:prefix does not match' },
    { who: 'carol', act: 'list', bucket: 'pol', allowed: false, why: 'no s3:prefix at all: StringLike is false' },
    {
      who: 'carol',
      act: 'presignedGet',
      bucket: 'pol',
      key: 'a.txt',
      extra: { userAgent: 'carol-tool' },
      allowed: true,
      why: 'aws:UserAgent equals',
    },
    {
      who: 'carol',
      act: 'presignedGet',
      bucket: 'pol',
      key: 'a.txt',
      extra: { userAgent: 'carol-tool/2' },
      allowed: false,
      why: 'aws:UserAgent differs',
    },
    { who: 'carol', act: 'get', bucket: 'pol', key: 'a.txt', allowed: false, why: 'aws:UserAgent differs' },
    {
      who: 'anon',
      act: 'get',
      bucket: 'pol',
      key: 'web/w.txt',
      extra: { referer: 'https://example.com/page' },
      allowed: true,
      why: 'aws:Referer StringLike',
    },
    {
      who: 'anon',
      act: 'get',
      bucket: 'pol',
      key: 'web/w.txt',
      extra: { referer: 'https://evil.example/' },
      allowed: false,
      why: 'aws:Referer does not match',
    },
    { who: 'anon', act: 'get', bucket: 'pol', key: 'web/w.txt', allowed: false, why: 'no Referer' },
    { who: 'bob', act: 'get', bucket: 'pol', key: 'local/l.txt', allowed: false, why: 'NotIpAddress 10/8: 127.0.0.1 is denied' },
    { who: 'root', act: 'get', bucket: 'pol', key: 'local/l.txt', allowed: false, why: 'the same Deny for root' },
    { who: 'bob', act: 'get', bucket: 'pol', key: 'home/bob/b.txt', allowed: true, why: '${aws:username} resource' },
    { who: 'carol', act: 'get', bucket: 'pol', key: 'home/carol/c.txt', allowed: true, why: '${aws:username} for carol' },
    { who: 'carol', act: 'get', bucket: 'pol', key: 'home/bob/b.txt', allowed: false, why: "carol is not bob: another user's home" },
    { who: 'carol', act: 'put', bucket: 'pol', key: 'home/carol/new.txt', allowed: true, why: 'account principal may write its home' },
    { who: 'carol', act: 'delete', bucket: 'pol', key: 'home/carol/new.txt', allowed: true, why: 'and delete there' },
    { who: 'carol', act: 'put', bucket: 'pol', key: 'home/bob/evil.txt', allowed: false, why: 'not in another home' },
    { who: 'anon', act: 'get', bucket: 'pol', key: 'home/bob/b.txt', allowed: false, why: 'account principal is not anonymous' },
    {
      who: 'bob',
      act: 'put',
      bucket: 'pol',
      key: 'inbox/acl.txt',
      extra: { acl: 'public-read' },
      allowed: false,
      why: 's3:x-amz-acl Deny',
    },
    {
      who: 'root',
      act: 'put',
      bucket: 'pol',
      key: 'x.txt',
      extra: { acl: 'public-read' },
      allowed: false,
      why: 's3:x-amz-acl Deny for root',
    },
    {
      who: 'carol',
      act: 'put',
      bucket: 'pol',
      key: 'tagged/t.txt',
      extra: { tagging: 'team=blue' },
      allowed: true,
      why: 's3:RequestObjectTag/team',
    },
    {
      who: 'carol',
      act: 'put',
      bucket: 'pol',
      key: 'tagged/u.txt',
      extra: { tagging: 'team=red' },
      allowed: false,
      why: 'tag value differs',
    },
    { who: 'carol', act: 'put', bucket: 'pol', key: 'tagged/v.txt', allowed: false, why: 'no tag' },
    { who: 'bob', act: 'presignedGet', bucket: 'pol', key: 'a.txt', allowed: true, why: 'presigned GET signed by bob' },
    { who: 'bob', act: 'presignedGet', bucket: 'pol', key: 'secret/s.txt', allowed: false, why: 'presigned GET still denied' },
    { who: 'bob', act: 'presignedPut', bucket: 'pol', key: 'inbox/p.txt', allowed: true, why: 'presigned PUT in inbox' },
    { who: 'bob', act: 'presignedPut', bucket: 'pol', key: 'p.txt', allowed: false, why: 'presigned PUT outside inbox' },
    { who: 'carol', act: 'presignedGet', bucket: 'pol', key: 'a.txt', allowed: false, why: 'presigned GET without the agent' },
    { who: 'alice', act: 'get', bucket: 'pol', key: 'a.txt', allowed: false, why: 'alice: no rule, no policy statement' },
    { who: 'alice', act: 'getAcl', bucket: 'pol', key: 'a.txt', allowed: false, why: 'no s3:GetObjectAcl' },
    { who: 'root', act: 'get', bucket: 'pol', key: 'a.txt', allowed: true, why: 'root' },
    { who: 'root', act: 'getAcl', bucket: 'pol', key: 'a.txt', allowed: true, why: 'root reads ACLs' },

    // acl: bucket and object ACLs
    { who: 'bob', act: 'list', bucket: 'acl', allowed: true, why: 'bucket ACL READ by id' },
    { who: 'carol', act: 'list', bucket: 'acl', allowed: false, why: 'no bucket grant for carol' },
    { who: 'anon', act: 'list', bucket: 'acl', allowed: false, why: 'bucket is not public' },
    { who: 'alice', act: 'put', bucket: 'acl', key: 'from-alice.txt', allowed: true, why: 'bucket ACL WRITE by e-mail' },
    { who: 'alice', act: 'delete', bucket: 'acl', key: 'from-alice.txt', allowed: true, why: 'WRITE covers deletes' },
    { who: 'bob', act: 'put', bucket: 'acl', key: 'from-bob.txt', allowed: false, why: 'READ does not write' },
    { who: 'alice', act: 'list', bucket: 'acl', allowed: false, why: 'WRITE does not list' },
    { who: 'anon', act: 'get', bucket: 'acl', key: 'public.txt', allowed: true, why: 'object public-read' },
    { who: 'anon', act: 'head', bucket: 'acl', key: 'public.txt', allowed: true, why: 'object public-read (HEAD)' },
    { who: 'anon', act: 'get', bucket: 'acl', key: 'private.txt', allowed: false, why: 'object private' },
    { who: 'anon', act: 'get', bucket: 'acl', key: 'authed.txt', allowed: false, why: 'authenticated-read excludes anonymous' },
    { who: 'carol', act: 'get', bucket: 'acl', key: 'authed.txt', allowed: true, why: 'authenticated-read' },
    { who: 'bob', act: 'get', bucket: 'acl', key: 'authed.txt', allowed: true, why: 'authenticated-read (bob)' },
    { who: 'carol', act: 'get', bucket: 'acl', key: 'carol.txt', allowed: true, why: 'object grant READ to carol by id' },
    { who: 'bob', act: 'get', bucket: 'acl', key: 'carol.txt', allowed: false, why: 'bucket READ does not read objects' },
    { who: 'carol', act: 'getAcl', bucket: 'acl', key: 'carol.txt', allowed: false, why: 'READ is not READ_ACP' },
    { who: 'carol', act: 'get', bucket: 'acl', key: 'private.txt', allowed: false, why: 'private object' },
    { who: 'anon', act: 'put', bucket: 'acl', key: 'anon.txt', allowed: false, why: 'no public WRITE' },
    { who: 'anon', act: 'delete', bucket: 'acl', key: 'public.txt', allowed: false, why: 'public-read is not WRITE' },
    { who: 'root', act: 'getAcl', bucket: 'acl', key: 'public.txt', allowed: true, why: 'owner reads its ACL' },
    { who: 'carol', act: 'presignedGet', bucket: 'acl', key: 'carol.txt', allowed: true, why: 'presigned by carol, object grant' },
    { who: 'bob', act: 'presignedGet', bucket: 'acl', key: 'private.txt', allowed: false, why: 'presigned by bob, private object' },

    // enforced: ACLs disabled
    { who: 'bob', act: 'get', bucket: 'enforced', key: 'o.txt', allowed: false, why: 'ACLs do not grant here' },
    { who: 'anon', act: 'get', bucket: 'enforced', key: 'o.txt', allowed: false, why: 'nothing public' },
    {
      who: 'root',
      act: 'put',
      bucket: 'enforced',
      key: 'n.txt',
      extra: { acl: 'bucket-owner-full-control' },
      allowed: true,
      why: 'bucket-owner-full-control is accepted',
    },

    // blocked: IgnorePublicAcls
    { who: 'anon', act: 'get', bucket: 'blocked', key: 'was-public.txt', allowed: false, why: 'IgnorePublicAcls' },
    {
      who: 'carol',
      act: 'get',
      bucket: 'blocked',
      key: 'was-public.txt',
      allowed: false,
      why: 'public grant ignored for signed callers too',
    },
    { who: 'root', act: 'get', bucket: 'blocked', key: 'was-public.txt', allowed: true, why: 'owner' },

    // dataset: a policy the routing table fixes
    { who: 'anon', act: 'get', bucket: 'dataset', key: 'd.csv', allowed: true, why: 'fixed policy allows public reads' },
    { who: 'anon', act: 'list', bucket: 'dataset', allowed: true, why: 'fixed policy allows public listing' },
    { who: 'anon', act: 'put', bucket: 'dataset', key: 'x', allowed: false, why: 'fixed policy allows no writes' },
    { who: 'bob', act: 'get', bucket: 'dataset', key: 'd.csv', allowed: true, why: 'Principal * for bob too' },
    { who: 'bob', act: 'delete', bucket: 'dataset', key: 'd.csv', allowed: false, why: 'no deletes' },

    // site: a publicRead route
    { who: 'anon', act: 'get', bucket: 'site', key: 'index.html', allowed: true, why: 'publicRead route' },
    { who: 'anon', act: 'list', bucket: 'site', allowed: true, why: 'publicRead route lists' },
    { who: 'anon', act: 'put', bucket: 'site', key: 'x', allowed: false, why: 'publicRead is read only' },
    { who: 'anon', act: 'getAcl', bucket: 'site', key: 'index.html', allowed: false, why: 'publicRead is not READ_ACP' },
    {
      who: 'carol',
      act: 'get',
      bucket: 'site',
      key: 'index.html',
      allowed: false,
      why: 'publicRead is for anonymous callers; carol has no rule',
    },

    // alice's own bucket: routing-table rules, and she owns it
    { who: 'alice', act: 'get', bucket: 'alice-own', key: 'mine.txt', allowed: true, why: 'rule' },
    { who: 'alice', act: 'getAcl', bucket: 'alice-own', key: 'mine.txt', allowed: true, why: 'read rule covers GetObjectAcl' },
    { who: 'bob', act: 'get', bucket: 'alice-own', key: 'mine.txt', allowed: false, why: 'nothing allows bob' },
    { who: 'root', act: 'get', bucket: 'alice-own', key: 'mine.txt', allowed: true, why: 'root' },
  ];
  // closed: every user but root, every action: denied.
  for (const who of users.filter((w) => w !== 'root')) {
    for (const act of ['get', 'head', 'list', 'put', 'delete'] as Act[]) {
      cases.push({ who, act, bucket: 'closed', key: 'x.txt', allowed: false, why: 'nothing allows it' });
    }
    if (who !== 'anon') {
      for (const act of ['getAcl', 'putAcl', 'presignedGet', 'presignedPut'] as Act[]) {
        cases.push({ who, act, bucket: 'closed', key: 'x.txt', allowed: false, why: 'nothing allows it' });
      }
    }
  }
  for (const act of ['get', 'head', 'list', 'getAcl', 'putAcl', 'presignedGet'] as Act[]) {
    cases.push({ who: 'root', act, bucket: 'closed', key: 'x.txt', allowed: true, why: 'root may' });
  }

  it(`has at least 100 cases (${cases.length})`, () => {
    expect(cases.length).to.be.at.least(100);
  });

  for (const c of cases) {
    it(`${c.who} ${c.act} ${c.bucket}/${c.act === 'list' ? `?prefix=${c.extra?.prefix ?? ''}` : (c.key ?? '')}: ${c.allowed ? 'allowed' : 'denied'} (${c.why})`, async () => {
      expect(await attempt(c)).to.equal(c.allowed);
    });
  }

  it('keeps the closed bucket as it was: nothing was written or deleted by the refused attempts', async () => {
    const list = await srv.s3.send(new ListObjectsV2Command({ Bucket: 'closed' }));
    expect(list.Contents?.map((o) => o.Key)).to.deep.equal(['x.txt']);
  });

  it('no header lets bob read, list, write or delete in a bucket nothing allows him: copy sources, DeleteObjects and ACL headers included', async () => {
    const bob = clients.get('bob')!;
    const attempts = [
      bob.send(new CopyObjectCommand({ Bucket: 'pol', Key: 'inbox/stolen', CopySource: 'closed/x.txt' })),
      bob.send(new GetObjectCommand({ Bucket: 'closed', Key: 'x.txt', ExpectedBucketOwner: ACCOUNT })),
      bob.send(new PutObjectCommand({ Bucket: 'closed', Key: 'y', Body: 'y', ACL: 'bucket-owner-full-control' })),
      bob.send(new PutObjectCommand({ Bucket: 'closed', Key: 'y', Body: 'y', GrantFullControl: `id="${canonicalIdOf(ACCOUNT, 'bob')}"` })),
      bob.send(new PutBucketAclCommand({ Bucket: 'closed', ACL: 'public-read-write' })),
      bob.send(
        new PutBucketPolicyCommand({
          Bucket: 'closed',
          Policy: policy('closed', [{ Effect: 'Allow', Principal: '*', Action: 's3:*', Resource: 'arn:aws:s3:::closed/*' }]),
        }),
      ),
      bob.send(new PutObjectAclCommand({ Bucket: 'closed', Key: 'x.txt', ACL: 'public-read' })),
      bob.send(new GetBucketPolicyCommand({ Bucket: 'closed' })),
      bob.send(new GetBucketAclCommand({ Bucket: 'closed' })),
    ];
    for (const a of attempts) expect((await errorOf(a)).name).to.equal('AccessDenied');
    const del = await bob.send(new DeleteObjectsCommand({ Bucket: 'closed', Delete: { Objects: [{ Key: 'x.txt' }] } }));
    expect(del.Errors?.[0]?.Code).to.equal('AccessDenied');
    const headers = {
      'x-amz-acl': 'public-read-write',
      'x-amz-grant-full-control': 'uri="http://acs.amazonaws.com/groups/global/AllUsers"',
      'x-amz-expected-bucket-owner': ACCOUNT,
    };
    for (const [method, path] of [
      ['GET', '/closed/x.txt'],
      ['GET', '/closed?list-type=2'],
      ['PUT', '/closed/z'],
      ['DELETE', '/closed/x.txt'],
      ['PUT', '/closed?acl'],
      ['PUT', '/closed?policy'],
    ]) {
      const res = await fetch(srv.url + path, { method, headers, body: method === 'PUT' ? '{}' : undefined });
      await res.arrayBuffer();
      expect(res.status, `${method} ${path}`).to.equal(403);
    }
    expect((await srv.s3.send(new ListObjectsV2Command({ Bucket: 'closed' }))).Contents?.map((o) => o.Key)).to.deep.equal(['x.txt']);
  });

  it('round-trips a bucket policy, its status, and answers MalformedPolicy with the reason', async () => {
    const text = (await srv.s3.send(new GetBucketPolicyCommand({ Bucket: 'pol' }))).Policy!;
    expect(JSON.parse(text).Statement).to.have.length(11);
    expect((await srv.s3.send(new GetBucketPolicyStatusCommand({ Bucket: 'pol' }))).PolicyStatus?.IsPublic).to.equal(true);
    for (const [bad, reason] of [
      ['not json', /first byte/],
      ['{"Statement":[{"Effect":"Allow","Principal":"*","Action":"s3:GetObject","Resource":"arn:aws:s3:::other/*"}]}', /invalid resource/],
      ['{"Statement":[{"Effect":"Allow","Principal":"*","Action":"ec2:Run","Resource":"arn:aws:s3:::closed/*"}]}', /invalid action/],
      ['{"Statement":[{"Effect":"Maybe","Principal":"*","Action":"s3:*","Resource":"arn:aws:s3:::closed/*"}]}', /effect/],
      [
        '{"Statement":[{"Effect":"Allow","Principal":"*","Action":"s3:*","Resource":"arn:aws:s3:::closed/*","Condition":{"StringWeird":{"aws:Referer":"x"}}}]}',
        /Condition type/,
      ],
      ['{"Statement":[{"Effect":"Allow","Action":"s3:*","Resource":"arn:aws:s3:::closed/*"}]}', /Principal/],
    ] as const) {
      const e = await errorOf(srv.s3.send(new PutBucketPolicyCommand({ Bucket: 'closed', Policy: bad })));
      expect(e.name, bad).to.equal('MalformedPolicy');
      expect(e.message).to.match(reason);
    }
    // Bytes that are not UTF-8 are not JSON: not stored as U+FFFD (another policy than the one sent).
    const notUtf8 = Buffer.concat([
      Buffer.from('{"Statement":[{"Effect":"Deny","Principal":"*","Action":"s3:GetObject","Resource":"arn:aws:s3:::closed/x'),
      Buffer.from([0xff]),
      Buffer.from('"}]}'),
    ]);
    const r = await signedFetch(srv.url, { accessKeyId: ACCESS_KEY, secretAccessKey: SECRET_KEY }, 'PUT', '/closed', {
      query: { policy: '' },
      body: notUtf8,
    });
    expect(r.status, r.text).to.equal(400);
    expect(r.text).to.include('<Code>MalformedPolicy</Code>');
    expect((await errorOf(srv.s3.send(new GetBucketPolicyCommand({ Bucket: 'closed' })))).name).to.equal('NoSuchBucketPolicy');
    await srv.s3.send(
      new PutBucketPolicyCommand({
        Bucket: 'closed',
        Policy: policy('closed', [
          { Effect: 'Allow', Principal: { AWS: arn('carol') }, Action: 's3:GetObject', Resource: 'arn:aws:s3:::closed/*' },
        ]),
      }),
    );
    expect((await srv.s3.send(new GetBucketPolicyStatusCommand({ Bucket: 'closed' }))).PolicyStatus?.IsPublic).to.equal(false);
    const carol = clients.get('carol')!;
    expect(await (await carol.send(new GetObjectCommand({ Bucket: 'closed', Key: 'x.txt' }))).Body!.transformToString()).to.equal('x');
    await srv.s3.send(new DeleteBucketPolicyCommand({ Bucket: 'closed' }));
    expect((await errorOf(carol.send(new GetObjectCommand({ Bucket: 'closed', Key: 'x.txt' })))).name).to.equal('AccessDenied');
  });

  it('the routing table owns a fixed policy and public access block: the S3 API cannot change them', async () => {
    for (const a of [
      srv.s3.send(
        new PutBucketPolicyCommand({
          Bucket: 'dataset',
          Policy: policy('dataset', [{ Effect: 'Deny', Principal: '*', Action: 's3:*', Resource: 'arn:aws:s3:::dataset/*' }]),
        }),
      ),
      srv.s3.send(new DeleteBucketPolicyCommand({ Bucket: 'dataset' })),
      srv.s3.send(new PutPublicAccessBlockCommand({ Bucket: 'dataset', PublicAccessBlockConfiguration: { BlockPublicAcls: false } })),
    ]) {
      const e = await errorOf(a);
      expect(e.name).to.equal('AccessDenied');
      expect(e.message).to.match(/routing table owns/);
    }
    expect(JSON.parse((await srv.s3.send(new GetBucketPolicyCommand({ Bucket: 'dataset' }))).Policy!)).to.deep.equal(fixedPolicy);
    expect(
      (await srv.s3.send(new GetPublicAccessBlockCommand({ Bucket: 'dataset' }))).PublicAccessBlockConfiguration?.BlockPublicAcls,
    ).to.equal(true);
    // BlockPublicAcls: a public ACL on an upload is refused.
    expect(
      (await errorOf(srv.s3.send(new PutObjectCommand({ Bucket: 'dataset', Key: 'p', Body: 'p', ACL: 'public-read' })))).name,
    ).to.equal('AccessDenied');
  });

  it('public access block: BlockPublicAcls and BlockPublicPolicy refuse, IgnorePublicAcls ignores', async () => {
    expect(
      (await errorOf(srv.s3.send(new PutObjectAclCommand({ Bucket: 'blocked', Key: 'was-public.txt', ACL: 'public-read' })))).name,
    ).to.equal('AccessDenied');
    expect((await errorOf(srv.s3.send(new PutBucketAclCommand({ Bucket: 'blocked', ACL: 'public-read' })))).name).to.equal('AccessDenied');
    const publicPolicy = policy('blocked', [
      { Effect: 'Allow', Principal: '*', Action: 's3:GetObject', Resource: 'arn:aws:s3:::blocked/*' },
    ]);
    expect((await errorOf(srv.s3.send(new PutBucketPolicyCommand({ Bucket: 'blocked', Policy: publicPolicy })))).name).to.equal(
      'AccessDenied',
    );
    const pab = (await srv.s3.send(new GetPublicAccessBlockCommand({ Bucket: 'blocked' }))).PublicAccessBlockConfiguration;
    expect(pab).to.deep.include({ BlockPublicAcls: true, IgnorePublicAcls: true, BlockPublicPolicy: true, RestrictPublicBuckets: true });
    // The object's ACL still says public-read: it is ignored, not rewritten.
    const acl = await srv.s3.send(new GetObjectAclCommand({ Bucket: 'blocked', Key: 'was-public.txt' }));
    expect(acl.Grants?.some((g) => g.Grantee?.URI === 'http://acs.amazonaws.com/groups/global/AllUsers')).to.equal(true);
  });

  it('CreateBucket refuses an x-amz-object-ownership S3 does not define, quoting it as S3 does', async () => {
    for (const value of ['RandomValue', '']) {
      const r = await signedFetch(srv.url, { accessKeyId: ACCESS_KEY, secretAccessKey: SECRET_KEY }, 'PUT', '/bad-ownership', {
        headers: { 'x-amz-object-ownership': value },
      });
      expect(r.status, value).to.equal(400);
      expect(r.text, value).to.contain(
        `<Code>InvalidArgument</Code><Message>Invalid x-amz-object-ownership header: ${value}</Message><ArgumentName>x-amz-object-ownership</ArgumentName><Resource>`,
      );
    }
  });

  it('ownership controls: BucketOwnerEnforced refuses ACLs with AccessControlListNotSupported; ObjectWriter accepts them; both defaults', async () => {
    expect(
      (await srv.s3.send(new GetBucketOwnershipControlsCommand({ Bucket: 'enforced' }))).OwnershipControls?.Rules?.[0].ObjectOwnership,
    ).to.equal('BucketOwnerEnforced');
    // This table's default is ObjectWriter.
    expect(
      (await srv.s3.send(new GetBucketOwnershipControlsCommand({ Bucket: 'acl' }))).OwnershipControls?.Rules?.[0].ObjectOwnership,
    ).to.equal('ObjectWriter');
    for (const a of [
      srv.s3.send(new PutObjectCommand({ Bucket: 'enforced', Key: 'p', Body: 'p', ACL: 'public-read' })),
      srv.s3.send(new PutObjectAclCommand({ Bucket: 'enforced', Key: 'o.txt', ACL: 'authenticated-read' })),
      srv.s3.send(new PutBucketAclCommand({ Bucket: 'enforced', GrantRead: `id="${canonicalIdOf(ACCOUNT, 'bob')}"` })),
    ]) {
      const e = await errorOf(a);
      expect(e.name).to.equal('AccessControlListNotSupported');
      expect(e.$metadata.httpStatusCode).to.equal(400);
    }
    // A bucket whose ACL grants others cannot turn ACLs off.
    const e = await errorOf(
      srv.s3.send(
        new PutBucketOwnershipControlsCommand({
          Bucket: 'acl',
          OwnershipControls: { Rules: [{ ObjectOwnership: 'BucketOwnerEnforced' }] },
        }),
      ),
    );
    expect(e.name).to.equal('InvalidBucketAclWithObjectOwnership');
    // ObjectWriter: the writer owns its object; BucketOwnerPreferred with bucket-owner-full-control: the bucket owner does.
    await srv.s3
      .send(
        new PutBucketOwnershipControlsCommand({ Bucket: 'alice-own', OwnershipControls: { Rules: [{ ObjectOwnership: 'ObjectWriter' }] } }),
      )
      .catch(() => undefined);
    const alice = clients.get('alice')!;
    await alice.send(
      new PutBucketOwnershipControlsCommand({
        Bucket: 'alice-own',
        OwnershipControls: { Rules: [{ ObjectOwnership: 'BucketOwnerPreferred' }] },
      }),
    );
    await alice.send(new PutBucketAclCommand({ Bucket: 'alice-own', GrantWrite: `id="${canonicalIdOf(ACCOUNT, 'bob')}"` }));
    const bob = clients.get('bob')!;
    await bob.send(new PutObjectCommand({ Bucket: 'alice-own', Key: 'by-bob', Body: 'b' }));
    await bob.send(new PutObjectCommand({ Bucket: 'alice-own', Key: 'by-bob-bofc', Body: 'b', ACL: 'bucket-owner-full-control' }));
    const owners = async (Key: string) =>
      (await alice.send(new GetObjectAclCommand({ Bucket: 'alice-own', Key })).catch(() => undefined))?.Owner?.ID;
    expect(await owners('by-bob-bofc')).to.equal(canonicalIdOf(ACCOUNT, 'alice'));
    // by-bob belongs to bob (alice's routing-table rule lets her read its ACL, as an identity policy would).
    expect(await owners('by-bob')).to.equal(canonicalIdOf(ACCOUNT, 'bob'));
    expect((await bob.send(new GetObjectAclCommand({ Bucket: 'alice-own', Key: 'by-bob' }))).Owner?.ID).to.equal(
      canonicalIdOf(ACCOUNT, 'bob'),
    );
    // Listings name each object's owner, not the caller's: ListObjects (v1), V2 with fetch-owner, ListObjectVersions.
    const listedOwners = (contents: Array<{ Key?: string; Owner?: { ID?: string } }> | undefined) =>
      Object.fromEntries((contents ?? []).filter((c) => c.Key?.startsWith('by-bob')).map((c) => [c.Key, c.Owner?.ID]));
    const expected = { 'by-bob': canonicalIdOf(ACCOUNT, 'bob'), 'by-bob-bofc': canonicalIdOf(ACCOUNT, 'alice') };
    expect(listedOwners((await alice.send(new ListObjectsCommand({ Bucket: 'alice-own' }))).Contents)).to.deep.equal(expected);
    expect(listedOwners((await alice.send(new ListObjectsV2Command({ Bucket: 'alice-own', FetchOwner: true }))).Contents)).to.deep.equal(
      expected,
    );
    expect(listedOwners((await alice.send(new ListObjectVersionsCommand({ Bucket: 'alice-own' }))).Versions)).to.deep.equal(expected);
    // Another caller allowed to list (bob may READ bucket acl) sees root's objects as root's.
    const ofAcl = (await bob.send(new ListObjectsCommand({ Bucket: 'acl' }))).Contents ?? [];
    expect(ofAcl.length).to.be.above(0);
    expect([...new Set(ofAcl.map((c) => c.Owner?.ID))]).to.deep.equal([canonicalIdOf(ACCOUNT, 'root')]);
  });

  it('GetBucketAcl and GetObjectAcl answer the grants as set, with owners and e-mail grants resolved to canonical ids', async () => {
    const acl = await srv.s3.send(new GetBucketAclCommand({ Bucket: 'acl' }));
    expect(acl.Owner?.ID).to.equal(canonicalIdOf(ACCOUNT, 'root'));
    const grants = acl.Grants?.map((g) => [g.Grantee?.ID ?? g.Grantee?.URI, g.Permission]);
    expect(grants).to.deep.include([canonicalIdOf(ACCOUNT, 'bob'), 'READ']);
    expect(grants).to.deep.include([canonicalIdOf(ACCOUNT, 'alice'), 'WRITE']);
    const obj = await srv.s3.send(new GetObjectAclCommand({ Bucket: 'acl', Key: 'public.txt' }));
    expect(obj.Grants?.map((g) => [g.Grantee?.Type, g.Permission])).to.deep.include(['Group', 'READ']);
    // An overwrite replaces the ACL: public.txt becomes private.
    await srv.s3.send(new PutObjectCommand({ Bucket: 'acl', Key: 'public.txt', Body: 'now private' }));
    expect((await fetch(`${srv.url}/acl/public.txt`)).status).to.equal(403);
  });
  it('a missing object is NoSuchKey to a caller who may list the bucket, AccessDenied to others; a missing bucket is NoSuchBucket to anonymous callers', async () => {
    const code = async (who: Who, Bucket: string, Key: string) =>
      (await errorOf(clients.get(who)!.send(new GetObjectCommand({ Bucket, Key })))).name;
    // acl: bob may list (bucket READ), carol may not.
    expect(await code('bob', 'acl', 'never-written.txt')).to.equal('NoSuchKey');
    expect(await code('carol', 'acl', 'never-written.txt')).to.equal('AccessDenied');
    expect((await fetch(`${srv.url}/acl/never-written.txt`)).status).to.equal(403);
    // pol: bob may list, but a Deny statement covers secret/: refused whether or not the key exists.
    expect(await code('bob', 'pol', 'never-written.txt')).to.equal('NoSuchKey');
    expect(await code('bob', 'pol', 'secret/never-written.txt')).to.equal('AccessDenied');
    // A public-read bucket: anyone may list, so anyone learns the object is missing, as from S3.
    await srv.s3.send(new CreateBucketCommand({ Bucket: 'listable', ACL: 'public-read' }));
    const anonGet = await fetch(`${srv.url}/listable/gone.txt`);
    expect(anonGet.status).to.equal(404);
    expect(await anonGet.text())
      .to.include('<Code>NoSuchKey</Code>')
      .and.include('<Key>gone.txt</Key>');
    expect((await fetch(`${srv.url}/listable/gone.txt`, { method: 'HEAD' })).status).to.equal(404);
    // Bucket names are global in S3: one that does not exist is 404 whoever asks.
    for (const method of ['GET', 'DELETE', 'PUT']) {
      const r = await fetch(`${srv.url}/no-such-bucket-here/k.txt`, { method, ...(method === 'PUT' ? { body: 'x' } : {}) });
      expect(r.status, method).to.equal(404);
      expect(await r.text(), method).to.include('<Code>NoSuchBucket</Code>');
    }
    expect(await code('carol', 'no-such-bucket-here', 'k.txt')).to.equal('AccessDenied');
    // Creating a bucket is not a read of one: anonymous CreateBucket stays AccessDenied.
    expect((await fetch(`${srv.url}/no-such-bucket-here`, { method: 'PUT' })).status).to.equal(403);
  });

  it('an allowed read of a missing object is AccessDenied too unless the caller may list: a GetObject grant alone does not tell which keys exist', async () => {
    const root = srv.s3;
    const carol = clients.get('carol')!;
    await root.send(new CreateBucketCommand({ Bucket: 'reads-only' }));
    await root.send(new PutObjectCommand({ Bucket: 'reads-only', Key: 'pub/there.txt', Body: 'x' }));
    const grant = (actions: string[], extra: unknown[] = []) =>
      root.send(
        new PutBucketPolicyCommand({
          Bucket: 'reads-only',
          Policy: policy('reads-only', [
            { Effect: 'Allow', Principal: { AWS: arn('carol') }, Action: actions, Resource: 'arn:aws:s3:::reads-only/pub/*' },
            ...extra,
          ]),
        }),
      );
    await grant(['s3:GetObject', 's3:GetObjectAttributes']);
    const missing = async () =>
      Promise.all([
        errorOf(carol.send(new GetObjectCommand({ Bucket: 'reads-only', Key: 'pub/missing.txt' }))),
        errorOf(carol.send(new HeadObjectCommand({ Bucket: 'reads-only', Key: 'pub/missing.txt' }))),
        errorOf(carol.send(new GetObjectAttributesCommand({ Bucket: 'reads-only', Key: 'pub/missing.txt', ObjectAttributes: ['ETag'] }))),
      ]).then((errs) => errs.map((e) => e.$metadata.httpStatusCode));
    expect(await missing()).to.deep.equal([403, 403, 403]);
    // The object that exists is read as granted.
    expect(
      await (await carol.send(new GetObjectCommand({ Bucket: 'reads-only', Key: 'pub/there.txt' }))).Body!.transformToString(),
    ).to.equal('x');
    // With s3:ListBucket as well, the same reads learn the key is missing, as a listing would tell.
    await grant(
      ['s3:GetObject', 's3:GetObjectAttributes'],
      [{ Effect: 'Allow', Principal: { AWS: arn('carol') }, Action: 's3:ListBucket', Resource: 'arn:aws:s3:::reads-only' }],
    );
    expect(await missing()).to.deep.equal([404, 404, 404]);
    expect((await errorOf(srv.s3.send(new GetObjectCommand({ Bucket: 'reads-only', Key: 'pub/missing.txt' })))).name).to.equal('NoSuchKey');
  });

  it('a versionId turns the action into its *Version form: s3:GetObjectVersion, s3:DeleteObjectVersion', async () => {
    const root = srv.s3;
    const bob = clients.get('bob')!;
    await root.send(new CreateBucketCommand({ Bucket: 'vers' }));
    await root.send(new PutBucketVersioningCommand({ Bucket: 'vers', VersioningConfiguration: { Status: 'Enabled' } }));
    const v1 = (await root.send(new PutObjectCommand({ Bucket: 'vers', Key: 'a.txt', Body: 'one' }))).VersionId!;
    await root.send(new PutObjectCommand({ Bucket: 'vers', Key: 'a.txt', Body: 'two' }));
    const w1 = (await root.send(new PutObjectCommand({ Bucket: 'vers', Key: 'old/b.txt', Body: 'b1' }))).VersionId!;
    await root.send(
      new PutBucketPolicyCommand({
        Bucket: 'vers',
        Policy: policy('vers', [
          { Effect: 'Allow', Principal: { AWS: arn('bob') }, Action: ['s3:GetObject', 's3:DeleteObject'], Resource: 'arn:aws:s3:::vers/*' },
          { Effect: 'Allow', Principal: { AWS: arn('bob') }, Action: 's3:GetObjectVersion', Resource: 'arn:aws:s3:::vers/old/*' },
        ]),
      }),
    );
    const body = async (Key: string, VersionId?: string) =>
      (await bob.send(new GetObjectCommand({ Bucket: 'vers', Key, VersionId }))).Body!.transformToString();
    expect(await body('a.txt')).to.equal('two');
    expect((await errorOf(body('a.txt', v1))).name).to.equal('AccessDenied');
    expect(await body('old/b.txt', w1)).to.equal('b1');
    // s3:DeleteObject does not delete a version: that is s3:DeleteObjectVersion.
    expect((await errorOf(bob.send(new DeleteObjectCommand({ Bucket: 'vers', Key: 'a.txt', VersionId: v1 })))).name).to.equal(
      'AccessDenied',
    );
    const batch = await bob.send(new DeleteObjectsCommand({ Bucket: 'vers', Delete: { Objects: [{ Key: 'a.txt', VersionId: v1 }] } }));
    expect(batch.Errors?.map((e) => e.Code)).to.deep.equal(['AccessDenied']);
    expect(
      await (await root.send(new GetObjectCommand({ Bucket: 'vers', Key: 'a.txt', VersionId: v1 }))).Body!.transformToString(),
    ).to.equal('one');
    // Without a versionId it is a plain delete: a delete marker.
    expect((await bob.send(new DeleteObjectCommand({ Bucket: 'vers', Key: 'a.txt' }))).DeleteMarker).to.equal(true);
  });

  it('PutObjectTagging: a bucket policy tests the tag set of its body as s3:RequestObjectTag/<key> and s3:RequestObjectTagKeys, as S3 does', async () => {
    const root = srv.s3;
    const carol = clients.get('carol')!;
    await root.send(new CreateBucketCommand({ Bucket: 'tagpol' }));
    await root.send(new PutObjectCommand({ Bucket: 'tagpol', Key: 'o.txt', Body: 'o' }));
    await root.send(
      new PutBucketPolicyCommand({
        Bucket: 'tagpol',
        Policy: policy('tagpol', [
          {
            Effect: 'Allow',
            Principal: { AWS: arn('carol') },
            Action: 's3:PutObjectTagging',
            Resource: 'arn:aws:s3:::tagpol/*',
            Condition: { StringEquals: { 's3:RequestObjectTag/team': 'blue' } },
          },
          {
            Effect: 'Deny',
            Principal: '*',
            Action: 's3:PutObjectTagging',
            Resource: 'arn:aws:s3:::tagpol/*',
            Condition: { 'ForAnyValue:StringEquals': { 's3:RequestObjectTagKeys': 'secret' } },
          },
        ]),
      }),
    );
    const tag = (who: S3Client, tags: Record<string, string>) =>
      who.send(
        new PutObjectTaggingCommand({
          Bucket: 'tagpol',
          Key: 'o.txt',
          Tagging: { TagSet: Object.entries(tags).map(([Key, Value]) => ({ Key, Value })) },
        }),
      );
    expect((await tag(carol, { team: 'blue' })).$metadata.httpStatusCode).to.equal(200);
    expect((await errorOf(tag(carol, { team: 'red' }))).name).to.equal('AccessDenied');
    // The Deny is on the tag keys asked for: root is refused them too, and allowed others.
    expect((await errorOf(tag(root, { secret: 'x' }))).name).to.equal('AccessDenied');
    expect((await tag(root, { team: 'green' })).$metadata.httpStatusCode).to.equal(200);
    expect((await root.send(new GetObjectTaggingCommand({ Bucket: 'tagpol', Key: 'o.txt' }))).TagSet).to.deep.equal([
      { Key: 'team', Value: 'green' },
    ]);
  });

  it('an object ACL belongs to the write that set it: an overwrite without one (same bytes too) is private, and the stale document is collected', async () => {
    const root = srv.s3;
    const anonStatus = async (path: string) => (await fetch(`${srv.url}${path}`)).status;
    const aclDocs = async (key: string) =>
      (await new BucketView(router.resolve('acl')).reservedArea('object ACLs').list('object-acl/')).filter((e) =>
        e.name.startsWith(`object-acl/${reservedSegment(key)}/`),
      );
    await root.send(new PutObjectCommand({ Bucket: 'acl', Key: 'again.txt', Body: 'same', ACL: 'public-read' }));
    expect(await anonStatus('/acl/again.txt')).to.equal(200);
    expect(await aclDocs('again.txt')).to.have.length(1);
    // The same bytes again (the same ETag), but another write, without an ACL.
    await new Promise((r) => setTimeout(r, 5));
    await root.send(new PutObjectCommand({ Bucket: 'acl', Key: 'again.txt', Body: 'same' }));
    expect(await anonStatus('/acl/again.txt')).to.equal(403);
    const grants = (await root.send(new GetObjectAclCommand({ Bucket: 'acl', Key: 'again.txt' }))).Grants;
    expect(grants?.map((g) => [g.Grantee?.ID, g.Permission])).to.deep.equal([[canonicalIdOf(ACCOUNT, 'root'), 'FULL_CONTROL']]);
    expect(await aclDocs('again.txt')).to.have.length(0);

    // A delete leaves nothing behind either, and the key written again is private.
    await root.send(new PutObjectCommand({ Bucket: 'acl', Key: 'gone.txt', Body: 'g', ACL: 'public-read' }));
    expect(await aclDocs('gone.txt')).to.have.length(1);
    await root.send(new DeleteObjectCommand({ Bucket: 'acl', Key: 'gone.txt' }));
    expect(await aclDocs('gone.txt')).to.have.length(0);
    await root.send(new PutObjectCommand({ Bucket: 'acl', Key: 'gone.txt', Body: 'g' }));
    expect(await anonStatus('/acl/gone.txt')).to.equal(403);
  });

  it('each version keeps its own ACL: overwrites, PutObjectAcl with a versionId, and a removed delete marker', async () => {
    const root = srv.s3;
    const anon = async (query = '') => {
      const res = await fetch(`${srv.url}/vacl/k${query}`);
      return res.status === 200 ? await res.text() : res.status;
    };
    await root.send(new CreateBucketCommand({ Bucket: 'vacl' }));
    await root.send(new PutBucketVersioningCommand({ Bucket: 'vacl', VersioningConfiguration: { Status: 'Enabled' } }));
    const v1 = (await root.send(new PutObjectCommand({ Bucket: 'vacl', Key: 'k', Body: 'one', ACL: 'public-read' }))).VersionId!;
    expect(await anon()).to.equal('one');
    const v2 = (await root.send(new PutObjectCommand({ Bucket: 'vacl', Key: 'k', Body: 'two' }))).VersionId!;
    expect(await anon()).to.equal(403);
    expect(await anon(`?versionId=${v1}`)).to.equal('one');
    await root.send(new PutObjectAclCommand({ Bucket: 'vacl', Key: 'k', VersionId: v2, ACL: 'public-read' }));
    expect(await anon()).to.equal('two');
    await root.send(new PutObjectAclCommand({ Bucket: 'vacl', Key: 'k', VersionId: v1, ACL: 'private' }));
    expect(await anon(`?versionId=${v1}`)).to.equal(403);
    expect(
      (await root.send(new GetObjectAclCommand({ Bucket: 'vacl', Key: 'k', VersionId: v2 }))).Grants?.map((g) => g.Grantee?.URI),
    ).to.include('http://acs.amazonaws.com/groups/global/AllUsers');
    // Hidden behind a delete marker and back: v2 is public-read again, as in S3.
    const marker = (await root.send(new DeleteObjectCommand({ Bucket: 'vacl', Key: 'k' }))).VersionId!;
    expect(await anon()).to.equal(403);
    await root.send(new DeleteObjectCommand({ Bucket: 'vacl', Key: 'k', VersionId: marker }));
    expect(await anon()).to.equal('two');

    // An object written before versioning was enabled keeps its ACL as the null version.
    await root.send(new CreateBucketCommand({ Bucket: 'vlater' }));
    await root.send(new PutObjectCommand({ Bucket: 'vlater', Key: 'k', Body: 'before', ACL: 'public-read' }));
    await root.send(new PutBucketVersioningCommand({ Bucket: 'vlater', VersioningConfiguration: { Status: 'Enabled' } }));
    const later = async (query = '') => {
      const res = await fetch(`${srv.url}/vlater/k${query}`);
      return res.status === 200 ? await res.text() : res.status;
    };
    expect(await later()).to.equal('before');
    await root.send(new PutObjectCommand({ Bucket: 'vlater', Key: 'k', Body: 'after' }));
    expect(await later()).to.equal(403);
    expect(await later('?versionId=null')).to.equal('before');
  });

  it('a write whose ACL cannot be stored fails, and the new object is private: never the old ACL, never more open than asked', async () => {
    const root = srv.s3;
    await root.send(new PutObjectCommand({ Bucket: 'acl', Key: 'fails.txt', Body: 'old', ACL: 'public-read' }));
    expect((await fetch(`${srv.url}/acl/fails.txt`)).status).to.equal(200);
    const reserved = new BucketView(router.resolve('acl')).backend.reserved!;
    const put = reserved.put.bind(reserved);
    reserved.put = (bucket, name, body, cond) =>
      name.includes('object-acl/') ? Promise.reject(new S3Error('ServiceUnavailable', 'the store is out')) : put(bucket, name, body, cond);
    try {
      const err = await errorOf(
        root.send(new PutObjectCommand({ Bucket: 'acl', Key: 'fails.txt', Body: 'new', ACL: 'public-read-write' })),
      );
      expect(err.$metadata.httpStatusCode).to.equal(503);
    } finally {
      reserved.put = put;
    }
    expect(await (await root.send(new GetObjectCommand({ Bucket: 'acl', Key: 'fails.txt' }))).Body!.transformToString()).to.equal('new');
    expect((await fetch(`${srv.url}/acl/fails.txt`)).status).to.equal(403);
  });
});
