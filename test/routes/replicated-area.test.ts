/**
 * A mirror's state area on its own, over two memory stores (one of which can be made to fail):
 * compare-and-swap across the targets, reads while the first is out, a follower that missed a
 * write kept from readers until it has caught up.
 */
import { expect } from 'chai';
import { Readable } from 'node:stream';
import { MemoryBackend } from '../../src/backends/memory';
import { readReservedBody, type ReservedStore } from '../../src/backends/reserved-store';
import { S3Error } from '../../src/errors';
import { Target } from '../../src/router/forms/target';
import { ReplicatedArea } from '../../src/router/forms/replicated-area';

/** A memory store whose reserved area answers 503 while `down`. */
function flaky(name: string): { backend: MemoryBackend; set(down: boolean): void } {
  const backend = new MemoryBackend({ name });
  const inner = backend.reserved as ReservedStore;
  let down = false;
  const guard = <A extends unknown[], R>(fn: (...a: A) => Promise<R>) =>
    ((...a: A) => (down ? Promise.reject(new S3Error('ServiceUnavailable', `${name} is out`)) : fn(...a))) as (...a: A) => Promise<R>;
  const wrapped: ReservedStore = {
    get: guard((b: string, n: string) => inner.get(b, n)),
    put: guard((b: string, n: string, body: Buffer | Readable, c?: Parameters<ReservedStore['put']>[3]) => inner.put(b, n, body, c)),
    delete: guard((b: string, n: string, c?: Parameters<ReservedStore['delete']>[2]) => inner.delete(b, n, c)),
    list: guard((b: string, p: string, o?: Parameters<ReservedStore['list']>[2]) => inner.list(b, p, o)),
  };
  Object.defineProperty(backend, 'reserved', { value: wrapped });
  return { backend, set: (d) => (down = d) };
}

async function text(area: { get(n: string): Promise<{ body: Readable; entry: { size: number } } | undefined> }, name: string) {
  const doc = await area.get(name);
  return doc && (await readReservedBody(doc as never)).toString('utf8');
}

describe('a mirror route state area (replicated-area.ts)', () => {
  let a: ReturnType<typeof flaky>;
  let b: ReturnType<typeof flaky>;
  let ta: Target;
  let tb: Target;
  let area: ReplicatedArea;

  beforeEach(async () => {
    a = flaky('a');
    b = flaky('b');
    await a.backend.createBucket('xxx');
    await b.backend.createBucket('yyy');
    ta = new Target('a', a.backend, 'xxx', '', { threshold: 1, cooldownMs: 60_000 });
    tb = new Target('b', b.backend, 'yyy', 'p/', { threshold: 1, cooldownMs: 60_000 });
    area = new ReplicatedArea('r', [ta, tb]);
  });

  it('of two writers with the same expected etag exactly one wins, and both targets hold its document', async () => {
    const first = await area.put('config/cors', Buffer.from('v0'), { ifNoneMatch: '*' });
    const results = await Promise.allSettled(
      ['one', 'two', 'three'].map((v) => area.put('config/cors', Buffer.from(v), { ifMatch: first.etag })),
    );
    const won = results.flatMap((r, i) => (r.status === 'fulfilled' ? [['one', 'two', 'three'][i]] : []));
    expect(won).to.have.length(1);
    for (const r of results) if (r.status === 'rejected') expect((r.reason as S3Error).code).to.equal('PreconditionFailed');
    expect(await text(ta.area()!, 'config/cors')).to.equal(won[0]);
    expect(await text(tb.area()!, 'config/cors')).to.equal(won[0]);
  });

  it('reads from the follower while the first target is out, and refuses writes (503) without changing anything', async () => {
    await area.put('config/tagging', Buffer.from('t1'));
    await area.catchUp();
    a.set(true);
    expect(await text(area, 'config/tagging')).to.equal('t1');
    expect((await area.list('config/')).map((e) => e.name)).to.deep.equal(['config/tagging']);
    const err = await area.put('config/tagging', Buffer.from('t2')).catch((e: S3Error) => e);
    expect((err as S3Error).code).to.equal('ServiceUnavailable');
    a.set(false);
    expect(await text(tb.area()!, 'config/tagging')).to.equal('t1');
  });

  it('a follower never compared with the first is not read; catchUp brings it level (deletes too) and marks it', async () => {
    // State written while the route had only its first target.
    await ta.area()!.put('config/versioning', Buffer.from('{"status":"Enabled"}'));
    await tb.area()!.put('config/stale', Buffer.from('old'));
    a.set(true);
    const err = await area.get('config/versioning').catch((e: S3Error) => e);
    expect((err as S3Error).code).to.equal('ServiceUnavailable');
    a.set(false);
    ta.health.succeeded();
    expect(area.needsCatchUp).to.equal(true);
    expect(await area.catchUp()).to.equal(2);
    expect(area.needsCatchUp).to.equal(false);
    expect(await text(tb.area()!, 'config/versioning')).to.equal('{"status":"Enabled"}');
    expect(await tb.area()!.get('config/stale')).to.equal(undefined);
    // A fresh area (another process) trusts the marker.
    const again = new ReplicatedArea('r', [ta, tb]);
    a.set(true);
    expect(await text(again, 'config/versioning')).to.equal('{"status":"Enabled"}');
  });

  it('a follower that fails under a write answers 503, is not read until catchUp, and then holds the write', async () => {
    await area.put('v/k/00.i', Buffer.from('i1'));
    await area.catchUp();
    b.set(true);
    tb.health.succeeded();
    const err = await area.put('v/k/00.i', Buffer.from('i2')).catch((e: S3Error) => e);
    expect((err as S3Error).code).to.equal('ServiceUnavailable');
    b.set(false);
    tb.health.succeeded();
    expect(area.needsCatchUp).to.equal(true);
    a.set(true);
    ta.health.failed(new Error('out'));
    expect(((await area.get('v/k/00.i').catch((e: S3Error) => e)) as S3Error).code).to.equal('ServiceUnavailable');
    a.set(false);
    ta.health.succeeded();
    await area.catchUp();
    expect(await text(tb.area()!, 'v/k/00.i')).to.equal('i2');
  });

  it("streams a version's bytes to every target and compares them by name and size", async () => {
    const big = Buffer.alloc(3 * 1024 * 1024, 7);
    await area.put('v/d/a2V5/0001', Readable.from([big.subarray(0, 1024 * 1024), big.subarray(1024 * 1024)]), { ifNoneMatch: '*' });
    const copy = await tb.area()!.get('v/d/a2V5/0001');
    expect((await readReservedBody(copy!, 8 * 1024 * 1024)).equals(big)).to.equal(true);
    expect(await area.catchUp()).to.equal(0);
  });
});
