/**
 * Versioning, object lock and bucket configuration on the github backend, through s3mux with
 * @aws-sdk/client-s3, on the GitHub REST API double: the state lives on the repository's
 * state branch (src/backends/github/reserved.ts), the latest version at its asset name. The
 * protocol suite's versioning and object-lock files run on github too, in CI's store run
 * (`npm run test:protocol:backends -- --backend github`).
 */
import { existsSync, mkdirSync, mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { expect } from 'chai';
import {
  DeleteObjectCommand,
  GetBucketCorsCommand,
  GetBucketTaggingCommand,
  GetBucketVersioningCommand,
  GetObjectCommand,
  GetObjectRetentionCommand,
  HeadObjectCommand,
  ListObjectVersionsCommand,
  PutBucketCorsCommand,
  PutBucketTaggingCommand,
  PutBucketVersioningCommand,
  PutObjectCommand,
  PutObjectLockConfigurationCommand,
  PutObjectRetentionCommand,
  PutObjectTaggingCommand,
  type S3ServiceException,
} from '@aws-sdk/client-s3';
import { validateRoutingTable } from '../../src/router/config';
import { Router } from '../../src/router/router';
import { startTestServer, type TestServer } from '../helpers/server';
import { GithubDouble } from '../helpers/github-double';

const TOKEN = 'ghp_versioning0123456789abcdefghijklmnop';

async function failure(p: Promise<unknown>): Promise<S3ServiceException> {
  return p.then(
    () => {
      throw new Error('expected an error');
    },
    (e: S3ServiceException) => e,
  );
}

describe('s3mux → GitHub (double): versioning, object lock and bucket configuration with @aws-sdk/client-s3', function () {
  this.timeout(60_000);
  let d: GithubDouble;
  let srv: TestServer;
  let dir: string;

  before(async () => {
    dir = mkdtempSync(join(tmpdir(), 's3mux-gh-mirror-'));
    mkdirSync(join(dir, 'mirrored'));
    mkdirSync(join(dir, 'plain'));
    d = new GithubDouble({ tokens: [TOKEN] });
    await d.start();
    d.addRelease('v1', { 'before.txt': 'written before versioning' });
    d.addRelease('locked');
    d.addRelease('mirrored');
    d.addRelease('plain');
    const table = validateRoutingTable({
      backends: { gh: { type: 'github', baseUrl: d.apiUrl, readOnly: false, credentials: { tokenEnv: 'GH_TEST_TOKEN' } } },
      routes: {
        rel: { backend: 'gh', target: `github://${d.owner}/${d.repo}/releases/v1` },
        lkd: { backend: 'gh', target: `github://${d.owner}/${d.repo}/releases/locked` },
        every: { backend: 'gh', target: `github://${d.owner}/${d.repo}/releases` },
        both: { mirror: [`file://${dir}/mirrored`, { backend: 'gh', target: `github://${d.owner}/${d.repo}/releases/mirrored` }] },
        plain: { mirror: [`file://${dir}/plain`, { backend: 'gh', target: `github://${d.owner}/${d.repo}/releases/plain` }] },
      },
    });
    srv = await startTestServer({ router: Router.fromTable(table, { env: { GH_TEST_TOKEN: TOKEN } }) });
  });

  after(async () => {
    await srv?.stop();
    await d?.stop();
    if (dir) rmSync(dir, { recursive: true, force: true });
  });

  const text = async (r: { Body?: { transformToString(): Promise<string> } }) => r.Body!.transformToString();

  it('keeps versions: ids on PUT, ListObjectVersions newest first, GET by id, delete markers; the latest stays the asset', async () => {
    const s3 = srv.s3;
    await s3.send(new PutBucketVersioningCommand({ Bucket: 'rel', VersioningConfiguration: { Status: 'Enabled' } }));
    expect((await s3.send(new GetBucketVersioningCommand({ Bucket: 'rel' }))).Status).to.equal('Enabled');
    const one = await s3.send(new PutObjectCommand({ Bucket: 'rel', Key: 'app.txt', Body: 'one' }));
    const two = await s3.send(new PutObjectCommand({ Bucket: 'rel', Key: 'app.txt', Body: 'two!' }));
    expect(one.VersionId).to.be.a('string').and.not.equal('null');
    expect(two.VersionId).to.be.a('string').and.not.equal(one.VersionId);
    await s3.send(new PutObjectCommand({ Bucket: 'rel', Key: 'before.txt', Body: 'after' }));

    const listed = await s3.send(new ListObjectVersionsCommand({ Bucket: 'rel' }));
    expect(listed.Versions?.map((v) => [v.Key, v.VersionId, v.IsLatest, v.Size])).to.deep.equal([
      ['app.txt', two.VersionId, true, 4],
      ['app.txt', one.VersionId, false, 3],
      ['before.txt', listed.Versions![2].VersionId, true, 5],
      ['before.txt', 'null', false, 25],
    ]);
    expect(await text(await s3.send(new GetObjectCommand({ Bucket: 'rel', Key: 'app.txt', VersionId: one.VersionId })))).to.equal('one');
    expect(await text(await s3.send(new GetObjectCommand({ Bucket: 'rel', Key: 'before.txt', VersionId: 'null' })))).to.equal(
      'written before versioning',
    );
    // The release shows the current object under its own name.
    const rel = d.releases.find((r) => r.tag === 'v1')!;
    expect(rel.assets.find((a) => a.name === 'app.txt')?.data.toString()).to.equal('two!');

    const marker = await s3.send(new DeleteObjectCommand({ Bucket: 'rel', Key: 'app.txt' }));
    expect(marker.DeleteMarker).to.equal(true);
    const gone = await failure(s3.send(new GetObjectCommand({ Bucket: 'rel', Key: 'app.txt' })));
    expect(gone.$metadata.httpStatusCode).to.equal(404);
    expect(gone.$response?.headers['x-amz-delete-marker']).to.equal('true');
    expect(
      rel.assets.some((a) => a.name === 'app.txt'),
      'the asset goes with the marker',
    ).to.equal(false);
    const markers = (await s3.send(new ListObjectVersionsCommand({ Bucket: 'rel', Prefix: 'app' }))).DeleteMarkers;
    expect(markers?.map((m) => [m.VersionId, m.IsLatest])).to.deep.equal([[marker.VersionId, true]]);
    // Removing the marker brings the latest back at its name.
    await s3.send(new DeleteObjectCommand({ Bucket: 'rel', Key: 'app.txt', VersionId: marker.VersionId }));
    expect(await text(await s3.send(new GetObjectCommand({ Bucket: 'rel', Key: 'app.txt' })))).to.equal('two!');

    // The state is on the branch, under the release's id.
    const files = [...d.git.filesOf('s3mux-state')!.keys()].filter((p) => p.startsWith(`.s3mux/${rel.id}/`));
    expect(files.some((p) => p.endsWith('/versioning@'))).to.equal(true);
    expect(files.some((p) => p.includes('/v/k/'))).to.equal(true);
  });

  it('refuses what an asset cannot hold before it keeps a version', async () => {
    const s3 = srv.s3;
    const before = (await s3.send(new ListObjectVersionsCommand({ Bucket: 'rel', Prefix: 'meta' }))).Versions ?? [];
    const err = await failure(s3.send(new PutObjectCommand({ Bucket: 'rel', Key: 'meta.txt', Body: 'x', Metadata: { a: 'b' } })));
    expect(err.name).to.equal('NotImplemented');
    const after = (await s3.send(new ListObjectVersionsCommand({ Bucket: 'rel', Prefix: 'meta' }))).Versions ?? [];
    expect(after).to.deep.equal(before);
  });

  it('a mirror route onto github refuses what an asset cannot hold before it keeps a version', async () => {
    const s3 = srv.s3;
    await s3.send(new PutBucketVersioningCommand({ Bucket: 'both', VersioningConfiguration: { Status: 'Enabled' } }));
    const kept = await s3.send(new PutObjectCommand({ Bucket: 'both', Key: 'plain.txt', Body: 'x' }));
    expect(kept.VersionId).to.be.a('string').and.not.equal('null');
    const err = await failure(s3.send(new PutObjectCommand({ Bucket: 'both', Key: 'meta.txt', Body: 'x', Metadata: { a: 'b' } })));
    expect(err.name).to.equal('NotImplemented');
    const versions = (await s3.send(new ListObjectVersionsCommand({ Bucket: 'both' }))).Versions ?? [];
    expect(versions.map((v) => v.Key)).to.deep.equal(['plain.txt']);
  });

  it('an unversioned mirror onto github refuses metadata and tags at once (no copy is written that a replay would fail on)', async () => {
    const s3 = srv.s3;
    const err = await failure(s3.send(new PutObjectCommand({ Bucket: 'plain', Key: 'meta.txt', Body: 'x', Metadata: { a: 'b' } })));
    expect(err.name).to.equal('NotImplemented');
    expect(existsSync(join(dir, 'plain', 'meta.txt'))).to.equal(false);
    await s3.send(new PutObjectCommand({ Bucket: 'plain', Key: 'tagged.txt', Body: 'x' }));
    const tags = await failure(
      s3.send(new PutObjectTaggingCommand({ Bucket: 'plain', Key: 'tagged.txt', Tagging: { TagSet: [{ Key: 'k', Value: 'v' }] } })),
    );
    expect(tags.name).to.equal('NotImplemented');
  });

  it('object lock: configuration, default retention, and a retained version refuses to be deleted', async () => {
    const s3 = srv.s3;
    await s3.send(new PutBucketVersioningCommand({ Bucket: 'lkd', VersioningConfiguration: { Status: 'Enabled' } }));
    await s3.send(
      new PutObjectLockConfigurationCommand({
        Bucket: 'lkd',
        ObjectLockConfiguration: { ObjectLockEnabled: 'Enabled', Rule: { DefaultRetention: { Mode: 'GOVERNANCE', Days: 1 } } },
      }),
    );
    const put = await s3.send(new PutObjectCommand({ Bucket: 'lkd', Key: 'kept.bin', Body: 'keep me' }));
    const head = await s3.send(new HeadObjectCommand({ Bucket: 'lkd', Key: 'kept.bin' }));
    expect(head.ObjectLockMode).to.equal('GOVERNANCE');
    const refused = await failure(s3.send(new DeleteObjectCommand({ Bucket: 'lkd', Key: 'kept.bin', VersionId: put.VersionId })));
    expect(refused.name).to.equal('AccessDenied');
    expect(await text(await s3.send(new GetObjectCommand({ Bucket: 'lkd', Key: 'kept.bin', VersionId: put.VersionId })))).to.equal(
      'keep me',
    );
    // GOVERNANCE becomes COMPLIANCE (with the bypass), which nobody can shorten.
    const until = new Date(Date.now() + 2 * 86_400_000);
    await s3.send(
      new PutObjectRetentionCommand({
        Bucket: 'lkd',
        Key: 'kept.bin',
        VersionId: put.VersionId,
        BypassGovernanceRetention: true,
        Retention: { Mode: 'COMPLIANCE', RetainUntilDate: until },
      }),
    );
    const shorter = await failure(
      s3.send(
        new PutObjectRetentionCommand({
          Bucket: 'lkd',
          Key: 'kept.bin',
          VersionId: put.VersionId,
          BypassGovernanceRetention: true,
          Retention: { Mode: 'COMPLIANCE', RetainUntilDate: new Date(Date.now() + 86_400_000) },
        }),
      ),
    );
    expect(shorter.name).to.equal('AccessDenied');
    const r = await s3.send(new GetObjectRetentionCommand({ Bucket: 'lkd', Key: 'kept.bin', VersionId: put.VersionId }));
    expect(r.Retention?.Mode).to.equal('COMPLIANCE');
    const bypass = await failure(
      s3.send(new DeleteObjectCommand({ Bucket: 'lkd', Key: 'kept.bin', VersionId: put.VersionId, BypassGovernanceRetention: true })),
    );
    expect(bypass.name).to.equal('AccessDenied');
  });

  it('keeps bucket configuration (CORS, tags) per release; a route onto every release has none', async () => {
    const s3 = srv.s3;
    await s3.send(
      new PutBucketCorsCommand({
        Bucket: 'rel',
        CORSConfiguration: { CORSRules: [{ AllowedMethods: ['GET'], AllowedOrigins: ['https://example.com'] }] },
      }),
    );
    expect((await s3.send(new GetBucketCorsCommand({ Bucket: 'rel' }))).CORSRules?.[0].AllowedOrigins).to.deep.equal([
      'https://example.com',
    ]);
    const none = await failure(s3.send(new GetBucketCorsCommand({ Bucket: 'lkd' })));
    expect(none.name).to.equal('NoSuchCORSConfiguration');
    await s3.send(new PutBucketTaggingCommand({ Bucket: 'rel', Tagging: { TagSet: [{ Key: 'team', Value: 'tools' }] } }));
    expect((await s3.send(new GetBucketTaggingCommand({ Bucket: 'rel' }))).TagSet).to.deep.equal([{ Key: 'team', Value: 'tools' }]);
    // A route onto every release keeps no state: never versioned, plain writes pass, configuration is refused.
    const all = await failure(s3.send(new PutBucketVersioningCommand({ Bucket: 'every', VersioningConfiguration: { Status: 'Enabled' } })));
    expect(all.name).to.equal('NotImplemented');
    expect((await s3.send(new GetBucketVersioningCommand({ Bucket: 'every' }))).Status).to.equal(undefined);
    const plain = await s3.send(new PutObjectCommand({ Bucket: 'every', Key: 'v1/plain.txt', Body: 'plain' }));
    expect(plain.VersionId).to.equal(undefined);
    expect(await text(await s3.send(new GetObjectCommand({ Bucket: 'every', Key: 'v1/plain.txt' })))).to.equal('plain');
    const locked = await failure(
      s3.send(
        new PutObjectCommand({
          Bucket: 'every',
          Key: 'v1/l.txt',
          Body: 'l',
          ObjectLockLegalHoldStatus: 'ON',
          ContentMD5: 'LblejhqSZ7ehGIVWsgE7Mw==',
        }),
      ),
    );
    expect(locked.name).to.equal('InvalidRequest');
  });
});
