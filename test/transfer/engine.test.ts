/** The transfer engine between real stores (memory, fs): decisions, attributes carried, verification, multipart, resume. */
import { mkdtempSync, rmSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { Readable } from 'node:stream';
import { expect } from 'chai';
import { FsBackend } from '../../src/backends/fs';
import { MemoryBackend } from '../../src/backends/memory';
import type { Backend } from '../../src/backends/types';
import { FileCheckpointStore, runTransfer, type Location, type TransferEvent } from '../../src/transfer';

const put = (b: Backend, bucket: string, key: string, body: string | Buffer, attrs = {}) =>
  b.putObject(bucket, key, Readable.from([Buffer.from(body)]), { userMetadata: {}, ...attrs });

async function read(b: Backend, bucket: string, key: string): Promise<Buffer> {
  const h = await b.openObject(bucket, key);
  const chunks: Buffer[] = [];
  for await (const c of h.read()) chunks.push(c as Buffer);
  await h.close();
  return Buffer.concat(chunks);
}

describe('transfer engine', () => {
  let dir: string;
  let fsb: FsBackend;
  let mem: MemoryBackend;
  const src = (): Location => ({ backend: mem, bucket: 'src', prefix: 'in/' });
  const dst = (): Location => ({ backend: fsb, bucket: 'dst', prefix: 'out/' });

  beforeEach(async () => {
    dir = mkdtempSync(path.join(os.tmpdir(), 'transfer-'));
    fsb = new FsBackend({ root: dir });
    mem = new MemoryBackend({ name: `t${Math.random()}` });
    await mem.createBucket('src');
    await fsb.createBucket('dst');
  });
  afterEach(() => rmSync(dir, { recursive: true, force: true }));

  it('copies what differs, skips what is equal, carries attributes and tags, and reports each key', async () => {
    await put(mem, 'src', 'in/a.txt', 'alpha', {
      contentType: 'text/plain',
      cacheControl: 'max-age=60',
      userMetadata: { owner: 'ann' },
      tags: [{ key: 't', value: '1' }],
    });
    await put(mem, 'src', 'in/sub/b.bin', 'beta');
    await put(mem, 'src', 'other/c', 'not under the prefix');
    await put(fsb, 'dst', 'out/sub/b.bin', 'beta');
    const events: TransferEvent[] = [];
    const summary = await runTransfer({ source: src(), destination: dst(), onEvent: (e) => events.push(e) });
    expect(summary).to.include({ objects: 2, copied: 1, skipped: 1, failed: 0 });
    const objects = events.filter((e) => e.type === 'object');
    expect(objects.map((e) => [e.key, e.action])).to.have.deep.members([
      ['a.txt', 'copied'],
      ['sub/b.bin', 'skipped'],
    ]);
    const meta = await fsb.headObject('dst', 'out/a.txt');
    expect(meta).to.include({ contentType: 'text/plain', cacheControl: 'max-age=60', size: 5 });
    expect(meta.userMetadata).to.deep.equal({ owner: 'ann' });
    expect(meta.tags).to.deep.equal([{ key: 't', value: '1' }]);
    expect((await read(fsb, 'dst', 'out/a.txt')).toString()).to.equal('alpha');
    expect(events.at(-1)?.type).to.equal('done');
  });

  it('sync with deleteExtraneous removes destination keys the source lacks; a dry run writes nothing', async () => {
    await put(mem, 'src', 'in/keep', 'k');
    await put(fsb, 'dst', 'out/extra', 'x');
    const dry = await runTransfer({ source: src(), destination: dst(), deleteExtraneous: true, dryRun: true });
    expect(dry).to.include({ copied: 1, deleted: 1, dryRun: true });
    await fsb.headObject('dst', 'out/extra');
    const page = await fsb.listObjects('dst', { prefix: '', maxKeys: 10 });
    expect(page.objects.map((o) => o.key)).to.deep.equal(['out/extra']);
    const real = await runTransfer({ source: src(), destination: dst(), deleteExtraneous: true });
    expect(real).to.include({ copied: 1, deleted: 1 });
    const after = await fsb.listObjects('dst', { prefix: '', maxKeys: 10 });
    expect(after.objects.map((o) => o.key)).to.deep.equal(['out/keep']);
  });

  it('large objects go multipart and keep a verifiable multipart ETag', async () => {
    const big = Buffer.alloc(12 * 1024 * 1024 + 5, 7);
    big.write('head');
    await put(mem, 'src', 'in/big', big);
    const events: TransferEvent[] = [];
    const summary = await runTransfer({
      source: src(),
      destination: dst(),
      multipartThreshold: 6 * 1024 * 1024,
      partSize: 5 * 1024 * 1024,
      onEvent: (e) => events.push(e),
    });
    expect(summary).to.include({ copied: 1, failed: 0 });
    expect(events.find((e) => e.type === 'object')).to.include({ how: 'multipart' });
    const meta = await fsb.headObject('dst', 'out/big');
    expect(meta.etag).to.match(/-3$/);
    expect((await read(fsb, 'dst', 'out/big')).equals(big)).to.equal(true);
    // Copying it on again keeps its part layout, so the ETag survives.
    const second = await runTransfer({
      source: dst(),
      destination: { backend: mem, bucket: 'src', prefix: 'copy/' },
      retry: { attempts: 1 },
    });
    expect(second.errors).to.deep.equal([]);
    expect(second).to.include({ copied: 1, failed: 0 });
    expect((await mem.headObject('src', 'copy/big')).etag).to.equal(meta.etag);
  });

  it('server-side copy within one backend', async () => {
    await put(mem, 'src', 'in/x', 'xyz');
    await mem.createBucket('other');
    const events: TransferEvent[] = [];
    await runTransfer({ source: src(), destination: { backend: mem, bucket: 'other', prefix: '' }, onEvent: (e) => events.push(e) });
    expect(events.find((e) => e.type === 'object')).to.include({ how: 'server-side', action: 'copied' });
    expect((await read(mem, 'other', 'x')).toString()).to.equal('xyz');
  });

  it('shouldCopy and conditional writes let a newer destination write win', async () => {
    await put(mem, 'src', 'in/a', 'old-a');
    await put(mem, 'src', 'in/b', 'old-b');
    await put(mem, 'src', 'in/c', 'old-c');
    await put(fsb, 'dst', 'out/b', 'client wrote this');
    const summary = await runTransfer({
      source: src(),
      destination: dst(),
      conditionalWrites: true,
      shouldCopy: async (s, d) => {
        // A client writes `a` after the comparison and before the copy commits.
        if (s.key === 'a') await put(fsb, 'dst', 'out/a', 'client raced');
        return d === undefined;
      },
    });
    expect(summary).to.include({ copied: 1, kept: 2, failed: 0 });
    expect((await read(fsb, 'dst', 'out/a')).toString()).to.equal('client raced');
    expect((await read(fsb, 'dst', 'out/b')).toString()).to.equal('client wrote this');
    expect((await read(fsb, 'dst', 'out/c')).toString()).to.equal('old-c');
  });

  it('resumes from a checkpoint file: settled keys are not listed again, failures are retried first', async () => {
    for (let i = 0; i < 20; i++) await put(mem, 'src', `in/k${String(i).padStart(2, '0')}`, `v${i}`);
    const file = path.join(dir, 'cp.json');
    const checkpoint = new FileCheckpointStore(file);
    const ac = new AbortController();
    let copied = 0;
    const first = await runTransfer({
      source: src(),
      destination: dst(),
      concurrency: 1,
      checkpoint,
      checkpointIntervalMs: 0,
      signal: ac.signal,
      onEvent: (e) => {
        if (e.type === 'object' && ++copied === 8) ac.abort();
      },
    });
    expect(first.aborted).to.equal(true);
    const saved = await checkpoint.load();
    expect(saved?.complete).to.equal(false);
    expect(saved?.settledThrough).to.equal('k07');
    const keys: string[] = [];
    const second = await runTransfer({
      source: src(),
      destination: dst(),
      checkpoint,
      onEvent: (e) => e.type === 'object' && keys.push(e.key),
    });
    expect(second).to.include({ failed: 0, objects: 20 });
    expect(keys).to.not.include('k00');
    expect(keys).to.include('k19');
    const all = await fsb.listObjects('dst', { prefix: 'out/', maxKeys: 100 });
    expect(all.objects).to.have.length(20);
  });
});
