/** Multipart state lives in the store: other processes, restarts and kills lose nothing. */
import { createHash, randomBytes } from 'node:crypto';
import { readdirSync } from 'node:fs';
import http from 'node:http';
import path from 'node:path';
import { expect } from 'chai';
import {
  CompleteMultipartUploadCommand,
  CreateBucketCommand,
  CreateMultipartUploadCommand,
  GetObjectCommand,
  ListPartsCommand,
  UploadPartCommand,
} from '@aws-sdk/client-s3';
import { FsBackend } from '../../src/backends/fs';
import { sweepOnce } from '../../src/server/upload-sweeper';
import { childServersPerTest, CHILD_PASSWORD, CHILD_USER } from '../helpers/child-server';
import { signer } from '../helpers/sign';
import { tempFiles } from '../helpers/fs-temps';

const MiB = 1024 * 1024;
const sha = (b: Buffer) => createHash('sha256').update(b).digest('hex');

describe('protocol: multipart across processes', function () {
  this.timeout(120_000);
  const servers = childServersPerTest('s3mux-replicas-');
  const start = () => servers.start();

  it('two processes on one data directory take alternate parts; either completes', async () => {
    const [a, b] = [await start(), await start()];
    await a.client.send(new CreateBucketCommand({ Bucket: 'shared' }));
    const parts = [randomBytes(5 * MiB), randomBytes(5 * MiB), randomBytes(5 * MiB), randomBytes(100)];
    const { UploadId } = await a.client.send(new CreateMultipartUploadCommand({ Bucket: 'shared', Key: 'k' }));
    const etags: string[] = [];
    for (let i = 0; i < parts.length; i++) {
      const who = i % 2 === 0 ? b : a;
      etags.push(
        (await who.client.send(new UploadPartCommand({ Bucket: 'shared', Key: 'k', UploadId, PartNumber: i + 1, Body: parts[i] }))).ETag!,
      );
    }
    const listed = await a.client.send(new ListPartsCommand({ Bucket: 'shared', Key: 'k', UploadId }));
    expect(listed.Parts?.map((p) => p.ETag)).to.deep.equal(etags);
    await b.client.send(
      new CompleteMultipartUploadCommand({
        Bucket: 'shared',
        Key: 'k',
        UploadId,
        MultipartUpload: { Parts: etags.map((ETag, i) => ({ ETag, PartNumber: i + 1 })) },
      }),
    );
    const got = await a.client.send(new GetObjectCommand({ Bucket: 'shared', Key: 'k' }));
    expect(sha(Buffer.from(await got.Body!.transformToByteArray()))).to.equal(sha(Buffer.concat(parts)));
  });

  it('a Complete repeated on another replica, and after a restart, answers 200 with the same ETag', async () => {
    const [a, b] = [await start(), await start()];
    await a.client.send(new CreateBucketCommand({ Bucket: 'retry' }));
    const parts = [randomBytes(5 * MiB), randomBytes(77)];
    const { UploadId } = await a.client.send(new CreateMultipartUploadCommand({ Bucket: 'retry', Key: 'k' }));
    const Parts = [];
    for (let i = 0; i < parts.length; i++) {
      Parts.push({
        PartNumber: i + 1,
        ETag: (await a.client.send(new UploadPartCommand({ Bucket: 'retry', Key: 'k', UploadId, PartNumber: i + 1, Body: parts[i] })))
          .ETag!,
      });
    }
    const done = await a.client.send(
      new CompleteMultipartUploadCommand({ Bucket: 'retry', Key: 'k', UploadId, MultipartUpload: { Parts } }),
    );
    const onB = await b.client.send(
      new CompleteMultipartUploadCommand({ Bucket: 'retry', Key: 'k', UploadId, MultipartUpload: { Parts } }),
    );
    expect(onB.ETag).to.equal(done.ETag);
    await a.stop('SIGKILL');
    const c = await start();
    const afterRestart = await c.client.send(
      new CompleteMultipartUploadCommand({ Bucket: 'retry', Key: 'k', UploadId, MultipartUpload: { Parts } }),
    );
    expect(afterRestart.ETag).to.equal(done.ETag);
  });

  it('an upload survives its server being killed (-9) and replaced between parts', async () => {
    const first = await start();
    await first.client.send(new CreateBucketCommand({ Bucket: 'restart' }));
    const p1 = randomBytes(5 * MiB);
    const p2 = randomBytes(321);
    const { UploadId } = await first.client.send(
      new CreateMultipartUploadCommand({ Bucket: 'restart', Key: 'k', Metadata: { kept: 'yes' } }),
    );
    const e1 = (await first.client.send(new UploadPartCommand({ Bucket: 'restart', Key: 'k', UploadId, PartNumber: 1, Body: p1 }))).ETag!;
    await first.stop('SIGKILL');
    const second = await start();
    const e2 = (await second.client.send(new UploadPartCommand({ Bucket: 'restart', Key: 'k', UploadId, PartNumber: 2, Body: p2 }))).ETag!;
    await second.client.send(
      new CompleteMultipartUploadCommand({
        Bucket: 'restart',
        Key: 'k',
        UploadId,
        MultipartUpload: {
          Parts: [
            { ETag: e1, PartNumber: 1 },
            { ETag: e2, PartNumber: 2 },
          ],
        },
      }),
    );
    const got = await second.client.send(new GetObjectCommand({ Bucket: 'restart', Key: 'k' }));
    expect(got.Metadata).to.deep.equal({ kept: 'yes' });
    expect(sha(Buffer.from(await got.Body!.transformToByteArray()))).to.equal(sha(Buffer.concat([p1, p2])));
  });

  it('a client that disconnects mid-part leaves the upload usable and no partial part', async () => {
    const s = await start();
    await s.client.send(new CreateBucketCommand({ Bucket: 'drop' }));
    const { UploadId } = await s.client.send(new CreateMultipartUploadCommand({ Bucket: 'drop', Key: 'k' }));
    const url = new URL(s.url);
    const pathAndQuery = `/drop/k?partNumber=1&uploadId=${UploadId}`;
    const signed = await signer(CHILD_USER, CHILD_PASSWORD).sign({
      method: 'PUT',
      protocol: 'http:',
      hostname: url.hostname,
      port: Number(url.port),
      path: '/drop/k',
      query: { partNumber: '1', uploadId: UploadId! },
      headers: { host: url.host, 'content-length': String(8 * MiB), 'x-amz-content-sha256': 'UNSIGNED-PAYLOAD' },
    });
    await new Promise<void>((resolve) => {
      const req = http.request({ host: url.hostname, port: url.port, method: 'PUT', path: pathAndQuery, headers: signed.headers });
      req.on('error', () => resolve());
      req.write(randomBytes(2 * MiB), () =>
        setTimeout(() => {
          req.destroy();
          resolve();
        }, 100),
      );
    });
    await new Promise((r) => setTimeout(r, 300));
    const listed = await s.client.send(new ListPartsCommand({ Bucket: 'drop', Key: 'k', UploadId }));
    expect(listed.Parts ?? []).to.deep.equal([]);
    const part = randomBytes(1000);
    const e = (await s.client.send(new UploadPartCommand({ Bucket: 'drop', Key: 'k', UploadId, PartNumber: 1, Body: part }))).ETag!;
    await s.client.send(
      new CompleteMultipartUploadCommand({ Bucket: 'drop', Key: 'k', UploadId, MultipartUpload: { Parts: [{ ETag: e, PartNumber: 1 }] } }),
    );
    const got = await s.client.send(new GetObjectCommand({ Bucket: 'drop', Key: 'k' }));
    expect(Buffer.from(await got.Body!.transformToByteArray()).equals(part)).to.equal(true);
    expect(tempFiles(servers.dataDir())).to.deep.equal([]);
  });

  it('the sweep removes uploads older than the limit and keeps newer ones', async () => {
    const backend = new FsBackend({ root: servers.dataDir() });
    await backend.createBucket('sweep');
    const old = await backend.multipart.createUpload('sweep', 'old', { userMetadata: {} });
    const { Readable } = await import('node:stream');
    await backend.multipart.uploadPart('sweep', 'old', old, 1, Readable.from([Buffer.from('x')]));
    const targets = [{ backend, backendName: 'local', prefix: '' }];
    // Everything begun before "now + 1 h - 2 h" = an hour ago: nothing yet.
    expect((await sweepOnce(targets, 2 * 3600_000, Date.now() + 3600_000)).removed).to.equal(0);
    // Two replicas sweeping at once, a day later: the upload goes exactly once.
    const counts = await Promise.all([
      sweepOnce(targets, 3600_000, Date.now() + 86_400_000),
      sweepOnce(targets, 3600_000, Date.now() + 86_400_000),
    ]);
    expect(counts[0].removed + counts[1].removed).to.be.at.least(1);
    expect(counts[0].failed || counts[1].failed).to.equal(false);
    const page = await backend.multipart.listUploads('sweep', { prefix: '', maxUploads: 1000 });
    expect(page.uploads).to.deep.equal([]);
    expect(readdirSync(path.join(servers.dataDir(), '.s3mux', 'uploads', 'sweep'))).to.deep.equal([]);
    await backend.close?.();
  });
});
