/**
 * The fs backend's registry of long key segments (.s3mux/names): a churn of long keys must not
 * grow it without bound, and a sweep must never take a name an object still needs, even while
 * writes record and reuse names.
 */
import { expect } from 'chai';
import { promises as fsp } from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { FsBackend } from '../../src/backends/fs/index';
import type { NameRegistry } from '../../src/backends/fs/names';
import type { NameSweepOptions } from '../../src/backends/fs/names';
import { body, getObject, listAll, utf8Sort } from './conformance';

/** A segment over 255 bytes, so its name is hashed. */
const long = (tag: string) => `${tag}-${'x'.repeat(300)}`;

describe('fs backend: the registry of long segments', () => {
  let parent: string;
  let root: string;
  let be: FsBackend;
  const registry = (b: FsBackend) => (b as unknown as { names: NameRegistry }).names;
  const nameFiles = async () => (await fsp.readdir(path.join(root, '.s3mux/names'))).length;
  const put = (key: string, data = 'v') => be.putObject('bkt', key, body(data), { userMetadata: {} });
  /** An instance on the root (the first one makes the bucket). */
  const open = async (names: NameSweepOptions, first = true) => {
    be = new FsBackend({ root, names });
    if (first) await be.createBucket('bkt');
  };

  beforeEach(async () => {
    parent = await fsp.mkdtemp(path.join(os.tmpdir(), 's3mux-fs-names-'));
    root = path.join(parent, 'data');
  });
  afterEach(async () => {
    await registry(be).settled();
    await fsp.rm(parent, { recursive: true, force: true });
  });

  it('removes the names of deleted keys after enough new ones, keeping every name still used', async () => {
    await open({ graceMs: 0, minNewNames: 20 });
    const live = [`live/${long('a')}`, `live/${long('b')}`, `dir/${long('c')}/inner`, `${long('top')}`];
    for (const k of live) await put(k, k.slice(0, 8));
    // A put/delete churn of 300 distinct long keys: before, 300 more name files stayed behind.
    for (let i = 0; i < 300; i++) {
      const k = `churn/${long(String(i))}`;
      await put(k);
      await be.deleteObject('bkt', k);
    }
    await registry(be).settled();
    expect(await nameFiles()).to.be.below(60);
    await registry(be).sweep();
    expect(await nameFiles()).to.equal(live.length);
    // A fresh instance (no cached names) still lists and reads every live key.
    await open({}, false);
    expect((await listAll(be, 'bkt', { maxKeys: 1000 })).entries).to.deep.equal(utf8Sort(live));
    for (const k of live) expect((await getObject(be, 'bkt', k)).data.toString()).to.equal(k.slice(0, 8));
  });

  it('keeps an unused name recorded within the grace period', async () => {
    await open({ graceMs: 60_000, minNewNames: 1_000_000 });
    const k = `g/${long('grace')}`;
    await put(k);
    await be.deleteObject('bkt', k);
    // Unused, but recorded a moment ago: a write may be about to place it.
    expect((await registry(be).sweep()).removed).to.equal(0);
    expect(await nameFiles()).to.equal(1);
  });

  it('never loses a name that a live key uses while writes and sweeps run together', async function () {
    this.timeout(60_000);
    // A short grace and a sweep after every new name: segments fall out of use (their names are
    // removed) and come back (written again) while other writes use them and sweeps run.
    await open({ graceMs: 300, minNewNames: 1 });
    const segments = Array.from({ length: 4 }, (_, i) => long(`s${i}`));
    const alive = new Set<string>();
    const until = Date.now() + 5000;
    const writer = async (w: number) => {
      for (let round = 0; Date.now() < until; round++) {
        const seg = segments[(round + w) % segments.length];
        const keys = [0, 1, 2].map((i) => `w${w}/${seg}/${i}`);
        for (const k of keys) {
          await put(k);
          alive.add(k);
        }
        // The last round leaves its keys; the others remove theirs, and their names may go.
        if (Date.now() >= until) break;
        for (const k of keys) {
          await be.deleteObject('bkt', k);
          alive.delete(k);
        }
        await new Promise((r) => setTimeout(r, (round * 137 + w * 211) % 500));
      }
    };
    let sweeps = 0;
    let removed = 0;
    const sweeper = async () => {
      while (Date.now() < until) {
        removed += (await registry(be).sweep()).removed;
        sweeps++;
        await new Promise((r) => setTimeout(r, 15));
      }
    };
    await Promise.all([writer(1), writer(2), writer(3), sweeper()]);
    await registry(be).settled();
    await registry(be).sweep();
    expect(sweeps).to.be.above(10);
    expect(removed).to.be.above(0);
    await open({}, false);
    expect((await listAll(be, 'bkt', { maxKeys: 1000 })).entries).to.deep.equal(utf8Sort([...alive]));
  });
});
