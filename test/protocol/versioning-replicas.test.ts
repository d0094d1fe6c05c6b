/** Versions under concurrency and failure: two processes on one fs root, a server killed (-9) mid-write. */
import { createHash, randomBytes } from 'node:crypto';
import { readFileSync } from 'node:fs';
import http from 'node:http';
import path from 'node:path';
import { Readable } from 'node:stream';
import { expect } from 'chai';
import {
  CreateBucketCommand,
  GetObjectCommand,
  ListObjectVersionsCommand,
  PutBucketVersioningCommand,
  PutObjectCommand,
  type S3Client,
} from '@aws-sdk/client-s3';
import { Router } from '../../src/router/router';
import { BucketView } from '../../src/router/bucket-view';
import { VersionedObjects } from '../../src/versioning/objects';
import { dataName } from '../../src/versioning/names';
import { newVersionId } from '../../src/versioning/version-id';
import { childServersPerTest, CHILD_PASSWORD, CHILD_USER } from '../helpers/child-server';
import { signer } from '../helpers/sign';

const MiB = 1024 * 1024;
const sha = (b: Buffer) => createHash('sha256').update(b).digest('hex');

async function bytesOf(client: S3Client, Bucket: string, Key: string, VersionId?: string): Promise<Buffer> {
  const r = await client.send(new GetObjectCommand({ Bucket, Key, VersionId }));
  return Buffer.from(await r.Body!.transformToByteArray());
}

describe('protocol: versions across processes', function () {
  this.timeout(120_000);
  const servers = childServersPerTest('s3mux-versions-');
  const start = () => servers.start();

  it('two processes writing one key keep every version, with distinct ids and exactly one latest', async () => {
    const [a, b] = [await start(), await start()];
    await a.client.send(new CreateBucketCommand({ Bucket: 'shared' }));
    await a.client.send(new PutBucketVersioningCommand({ Bucket: 'shared', VersioningConfiguration: { Status: 'Enabled' } }));
    // Let b's configuration cache (2 s) lapse, as a replica's would.
    await new Promise((r) => setTimeout(r, 2100));
    const bodies = new Map<string, string>();
    const writes: Array<Promise<void>> = [];
    for (const [name, s] of [
      ['a', a],
      ['b', b],
    ] as const) {
      writes.push(
        (async () => {
          for (let i = 0; i < 12; i++) {
            const body = randomBytes(1000 + i * 97);
            const r = await s.client.send(new PutObjectCommand({ Bucket: 'shared', Key: 'k', Body: body }));
            expect(r.VersionId, `${name} ${i}`).to.match(/^[0-9a-f]{32}$/);
            bodies.set(r.VersionId!, sha(body));
          }
        })(),
      );
    }
    await Promise.all(writes);
    expect(bodies.size).to.equal(24);
    const listed = await a.client.send(new ListObjectVersionsCommand({ Bucket: 'shared' }));
    const versions = listed.Versions ?? [];
    expect(versions.map((v) => v.VersionId).sort()).to.deep.equal([...bodies.keys()].sort());
    expect(versions.filter((v) => v.IsLatest)).to.have.length(1);
    for (const v of versions)
      expect(sha(await bytesOf(b.client, 'shared', 'k', v.VersionId)), v.VersionId).to.equal(bodies.get(v.VersionId!));
    const latest = versions.find((v) => v.IsLatest)!;
    expect(versions[0].VersionId).to.equal(latest.VersionId);
    expect(sha(await bytesOf(a.client, 'shared', 'k'))).to.equal(bodies.get(latest.VersionId!));
    // The folder shows the latest version at the key's own name.
    expect(sha(readFileSync(path.join(servers.dataDir(), 'shared', 'k')))).to.equal(bodies.get(latest.VersionId!));
  });

  it('a server killed (-9) in the middle of a versioned write leaves every committed version whole and none half-written', async () => {
    const first = await start();
    await first.client.send(new CreateBucketCommand({ Bucket: 'crash' }));
    await first.client.send(new PutBucketVersioningCommand({ Bucket: 'crash', VersioningConfiguration: { Status: 'Enabled' } }));
    const v1 = randomBytes(3000);
    const put1 = await first.client.send(new PutObjectCommand({ Bucket: 'crash', Key: 'k', Body: v1 }));
    const url = new URL(first.url);
    const signed = await signer(CHILD_USER, CHILD_PASSWORD).sign({
      method: 'PUT',
      protocol: 'http:',
      hostname: url.hostname,
      port: Number(url.port),
      path: '/crash/k',
      headers: { host: url.host, 'content-length': String(8 * MiB), 'x-amz-content-sha256': 'UNSIGNED-PAYLOAD' },
    });
    // Half the body is sent, then the server dies.
    await new Promise<void>((resolve) => {
      const req = http.request({ host: url.hostname, port: url.port, method: 'PUT', path: '/crash/k', headers: signed.headers });
      req.on('error', () => resolve());
      req.write(randomBytes(4 * MiB), () => {
        setTimeout(() => {
          void first.stop('SIGKILL').then(() => {
            req.destroy();
            resolve();
          });
        }, 200);
      });
    });
    const second = await start();
    const listed = await second.client.send(new ListObjectVersionsCommand({ Bucket: 'crash' }));
    expect((listed.Versions ?? []).map((v) => [v.VersionId, v.IsLatest])).to.deep.equal([[put1.VersionId, true]]);
    expect(sha(await bytesOf(second.client, 'crash', 'k'))).to.equal(sha(v1));
    expect(sha(await bytesOf(second.client, 'crash', 'k', put1.VersionId))).to.equal(sha(v1));
    // Writes go on after the crash.
    const v2 = randomBytes(10);
    const put2 = await second.client.send(new PutObjectCommand({ Bucket: 'crash', Key: 'k', Body: v2 }));
    expect(sha(await bytesOf(second.client, 'crash', 'k'))).to.equal(sha(v2));
    expect(sha(await bytesOf(second.client, 'crash', 'k', put1.VersionId))).to.equal(sha(v1));
    expect(put2.VersionId! > put1.VersionId!).to.equal(true);
  });

  it('bytes a write left without an index entry (it died in between) are collected once old; versions are untouched', async () => {
    const router = Router.defaultFor(servers.dataDir());
    try {
      const view = new BucketView(router.resolve('orphans'));
      await view.backend.createBucket('orphans');
      const area = view.reservedArea('test');
      await area.put('config/versioning', Buffer.from(JSON.stringify({ status: 'Enabled' })));
      const objects = await VersionedObjects.of(view);
      expect(objects.status).to.equal('Enabled');
      const kept = await objects.put('k', Readable.from([Buffer.from('kept')]), { userMetadata: {} });
      // What a write that died after its bytes and before its index update leaves behind.
      // (Ids from newVersionId never go back in time within a process: this one is made by hand.)
      const stale = (Date.now() - 2 * 3600_000).toString(16).padStart(12, '0') + '0000' + randomBytes(8).toString('hex');
      const young = newVersionId();
      await area.put(dataName('k', stale), Buffer.from('debris'));
      await area.put(dataName('k', young), Buffer.from('maybe still being written'));
      expect(await objects.collectOrphans('k')).to.equal(1);
      expect((await area.get(dataName('k', stale)))?.entry).to.equal(undefined);
      const youngDoc = await area.get(dataName('k', young));
      youngDoc?.body.destroy(); // closes the document's file now, not when collected
      expect(youngDoc?.entry.size).to.be.greaterThan(0);
      const handle = await objects.open('k', kept.versionId);
      const chunks: Buffer[] = [];
      for await (const c of handle.read()) chunks.push(c as Buffer);
      await handle.close();
      expect(Buffer.concat(chunks).toString()).to.equal('kept');
    } finally {
      await router.close();
    }
  });
});
