/** Tier policies in the routing table and storage classes through the S3 API (AWS SDK v3 against s3mux). */
import { mkdtempSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import {
  CopyObjectCommand,
  CreateBucketCommand,
  CreateMultipartUploadCommand,
  HeadObjectCommand,
  ListObjectsV2Command,
  PutObjectCommand,
} from '@aws-sdk/client-s3';
import { expect } from 'chai';
import { ConfigError, validateRoutingTable } from '../../src/router/config';
import { Router } from '../../src/router/router';
import { canHold, nativeClass, s3Class } from '../../src/backends/storage-classes';
import { startTestServer, type TestServer } from '../helpers/server';

const TIERS = {
  gold: { s3: 'STANDARD', azure: 'Hot', gcs: 'STANDARD', oci: 'Standard', fs: 'STANDARD', memory: 'STANDARD' },
  silver: { s3: 'STANDARD_IA', azure: 'Cool', gcs: 'NEARLINE', oci: 'InfrequentAccess', fs: 'STANDARD_IA', memory: 'STANDARD_IA' },
  bronze: { s3: 'GLACIER', azure: 'Archive', gcs: 'ARCHIVE', oci: 'Archive', fs: 'GLACIER' },
};

describe('storage classes and tiers', () => {
  it('each kit declares its classes: S3 names map to the store’s and back', () => {
    expect(nativeClass('azure', 'STANDARD_IA')).to.equal('Cool');
    expect(nativeClass('gcs', 'STANDARD_IA')).to.equal('NEARLINE');
    expect(nativeClass('oci', 'STANDARD_IA')).to.equal('InfrequentAccess');
    expect(nativeClass('azure', 'DEEP_ARCHIVE')).to.equal('Archive');
    expect(nativeClass('gcs', 'GLACIER')).to.equal('ARCHIVE');
    expect(s3Class('azure', 'Cool')).to.equal('STANDARD_IA');
    expect(s3Class('gcs', 'COLDLINE')).to.equal('GLACIER_IR');
    expect(canHold('fs', 'DEEP_ARCHIVE')).to.equal(true);
    expect(canHold('github', 'STANDARD_IA')).to.equal(false);
    expect(() => nativeClass('azure', 'REDUCED_REDUNDANCY')).to.throw(/azure backend has no storage class for REDUCED_REDUNDANCY/);
  });

  it('the routing table checks tiers: known kinds, real classes, a tier for every route that names one', () => {
    const table = validateRoutingTable({
      backends: { local: { type: 'memory', tier: 'silver' } },
      tiers: { ...TIERS, bronze: { ...TIERS.bronze, memory: 'DEEP_ARCHIVE' } },
      routes: { cold: { bucket: 'c', tier: 'bronze' }, warm: { bucket: 'w' } },
    });
    expect(table.routes.find((r) => r.name === 'cold')?.storageClass).to.equal('DEEP_ARCHIVE');
    expect(table.routes.find((r) => r.name === 'warm')?.storageClass).to.equal('STANDARD_IA');
    const bad = () =>
      validateRoutingTable({
        backends: { local: { type: 'memory' } },
        tiers: { gold: { azure: 'Lukewarm', nosuch: 'X' } },
        routes: { a: { bucket: 'a', tier: 'platinum' }, b: { bucket: 'b', tier: 'gold' } },
      });
    expect(bad).to.throw(ConfigError);
    try {
      bad();
    } catch (err) {
      const m = (err as Error).message;
      expect(m).to.match(/azure has no storage class 'Lukewarm'/);
      expect(m).to.match(/unknown backend kind 'nosuch'/);
      expect(m).to.match(/unknown tier 'platinum'/);
      expect(m).to.match(/tier 'gold' names no storage class for memory stores/);
    }
  });

  describe('through the S3 API', () => {
    let server: TestServer;
    before(async () => {
      const root = mkdtempSync(path.join(os.tmpdir(), 'tiers-'));
      const table = validateRoutingTable(
        {
          backends: { disk: { type: 'fs', root }, gh: { type: 'memory', store: `tiers${Date.now()}` } },
          default: 'disk',
          tiers: TIERS,
          routes: { archive: { bucket: 'archive', tier: 'bronze' }, plain: { bucket: 'plain' } },
        },
        { baseDir: root },
      );
      server = await startTestServer({ router: Router.fromTable(table) });
      for (const b of ['archive', 'plain']) await server.router.resolve(b).backend.createBucket(b);
    });
    after(async () => server?.stop());

    it('a class on PUT is kept and reported by HEAD and listings; a route tier applies to writes naming none; STANDARD stays STANDARD', async () => {
      const s3 = server.s3;
      await s3.send(new PutObjectCommand({ Bucket: 'plain', Key: 'ia', Body: 'x', StorageClass: 'STANDARD_IA' }));
      expect((await s3.send(new HeadObjectCommand({ Bucket: 'plain', Key: 'ia' }))).StorageClass).to.equal('STANDARD_IA');
      await s3.send(new PutObjectCommand({ Bucket: 'archive', Key: 'a', Body: 'x' }));
      expect((await s3.send(new HeadObjectCommand({ Bucket: 'archive', Key: 'a' }))).StorageClass).to.equal('GLACIER');
      await s3.send(new PutObjectCommand({ Bucket: 'archive', Key: 's', Body: 'x', StorageClass: 'STANDARD' }));
      expect((await s3.send(new HeadObjectCommand({ Bucket: 'archive', Key: 's' }))).StorageClass).to.equal(undefined);
      const listed = await s3.send(new ListObjectsV2Command({ Bucket: 'archive' }));
      expect(listed.Contents?.map((o) => [o.Key, o.StorageClass])).to.deep.equal([
        ['a', 'GLACIER'],
        ['s', 'STANDARD'],
      ]);
      await s3.send(new CopyObjectCommand({ Bucket: 'plain', Key: 'copied', CopySource: 'plain/ia', StorageClass: 'DEEP_ARCHIVE' }));
      expect((await s3.send(new HeadObjectCommand({ Bucket: 'plain', Key: 'copied' }))).StorageClass).to.equal('DEEP_ARCHIVE');
      const up = await s3.send(new CreateMultipartUploadCommand({ Bucket: 'plain', Key: 'mp', StorageClass: 'GLACIER_IR' }));
      expect(up.UploadId).to.be.a('string');
    });

    it('an unknown class is InvalidStorageClass', async () => {
      const err = await server.s3
        .send(new PutObjectCommand({ Bucket: 'plain', Key: 'x', Body: 'x', StorageClass: 'PLATINUM' as never }))
        .catch((e: Error) => e);
      expect((err as Error).name).to.equal('InvalidStorageClass');
    });
  });

  it('CreateBucket onto a cloud backend checks that store’s naming rules and says which one failed', async () => {
    // The rule is checked before the store is asked: nothing needs to listen at the endpoint.
    const table = validateRoutingTable({
      backends: { az: { type: 'azure', account: 'devstoreaccount1', endpoint: 'http://127.0.0.1:9/devstoreaccount1' } },
    });
    const server = await startTestServer({ router: Router.fromTable(table) });
    try {
      const err = await server.s3.send(new CreateBucketCommand({ Bucket: 'my.dotted.bucket' })).catch((e: Error) => e);
      expect((err as Error).name).to.equal('InvalidBucketName');
      expect((err as Error).message).to.match(
        /azure backend cannot hold this bucket: Azure container names may contain only lowercase letters, digits and '-'/,
      );
      const s3Invalid = await server.s3.send(new CreateBucketCommand({ Bucket: 'ab' })).catch((e: Error) => e);
      expect((s3Invalid as Error).name).to.equal('InvalidBucketName');
    } finally {
      await server.stop();
    }
  });
});
