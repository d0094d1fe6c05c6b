/**
 * A folder too big for the old per-entry cost of the listing cache: read once for all pages,
 * re-read after any write into it (by this or another instance on the root), summaries kept in
 * a bounded pool smaller than the folder, and listings still exact.
 */
import { expect } from 'chai';
import { createHash } from 'node:crypto';
import * as fs from 'node:fs';
import { promises as fsp } from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { Readable } from 'node:stream';
import { FsBackend } from '../../src/backends/fs/index';
import { SortedDirs } from '../../src/backends/fs/listed-folder';
import type { Backend, ListOptions } from '../../src/backends/types';

const KEYS = 3000;
/** The folder's entries take ~45 kB now; at the ~140 bytes an entry took before, 420 kB. */
const FOLDER_BYTES = 200_000;
/** Summaries of about 1,000 entries: fewer than the folder holds. */
const SUMMARY_BYTES = 45_000;

const name = (i: number) => `k-${String(i).padStart(5, '0')}`;
const bodyOf = (i: number) => `body ${i}`;
const md5 = (s: string) => createHash('md5').update(s).digest('hex');

async function listAllPages(be: Backend, opts: Omit<ListOptions, 'maxKeys'>, maxKeys = 400) {
  const keys: string[] = [];
  const etags: string[] = [];
  const prefixes: string[] = [];
  let startAfter = opts.startAfter;
  for (;;) {
    const page = await be.listObjects('bkt', { ...opts, maxKeys, startAfter });
    for (const o of page.objects) {
      keys.push(o.key);
      etags.push(o.etag);
    }
    prefixes.push(...page.commonPrefixes);
    if (!page.isTruncated) return { keys, etags, prefixes };
    startAfter = page.nextStartAfter;
  }
}

/** Moves the folder's mtime out of the racy window, as time passing would. */
async function settle(dir: string): Promise<void> {
  const past = new Date(Date.now() - 60_000);
  await fsp.utimes(dir, past, past);
}

describe('fs backend: a folder bigger than the listing cache held before', function () {
  this.timeout(120_000);
  let parent: string;
  let root: string;
  let dir: string;
  let sorted: SortedDirs;
  let be: FsBackend;

  before(async () => {
    parent = await fsp.mkdtemp(path.join(os.tmpdir(), 's3mux-big-folder-'));
    root = path.join(parent, 'data');
    sorted = new SortedDirs(FOLDER_BYTES, SUMMARY_BYTES);
    be = new FsBackend({ root, sortedDirs: sorted });
    await be.createBucket('bkt');
    dir = path.join(root, 'bkt', 'flat');
    fs.mkdirSync(dir);
    // Placed by hand (no sidecars): the first listing computes and writes them back.
    for (let i = 0; i < KEYS; i++) fs.writeFileSync(path.join(dir, name(i)), bodyOf(i));
    await settle(dir);
  });

  after(async () => {
    await be.close();
    await fsp.rm(parent, { recursive: true, force: true });
  });

  it('reads the folder once for every page of every listing while it is unchanged', async () => {
    const expected = Array.from({ length: KEYS }, (_, i) => `flat/${name(i)}`);
    const reads0 = sorted.reads;
    for (let pass = 0; pass < 3; pass++) {
      const { keys, etags } = await listAllPages(be, { prefix: 'flat/' });
      expect(keys).to.deep.equal(expected);
      expect(etags).to.deep.equal(Array.from({ length: KEYS }, (_, i) => md5(bodyOf(i))));
    }
    // Also from a start-after in the middle, with a narrower prefix and with a delimiter.
    const mid = await listAllPages(be, { prefix: 'flat/', startAfter: `flat/${name(1499)}` });
    expect(mid.keys).to.deep.equal(expected.slice(1500));
    const narrow = await listAllPages(be, { prefix: 'flat/k-02' });
    expect(narrow.keys).to.deep.equal(expected.slice(2000, 3000));
    const delim = await listAllPages(be, { prefix: 'flat/k-01', delimiter: '5' }, 50);
    const under = expected.filter((k) => k.startsWith('flat/k-01'));
    const cut = (k: string) => k.indexOf('5', 'flat/k-01'.length);
    expect(delim.keys).to.deep.equal(under.filter((k) => cut(k) < 0));
    expect(delim.prefixes).to.deep.equal([...new Set(under.filter((k) => cut(k) >= 0).map((k) => k.slice(0, cut(k) + 1)))]);
    // The first listing wrote sidecars back into .s3mux/meta, not into the data folder.
    expect(sorted.reads - reads0).to.equal(1);
  });

  it('sees writes by another instance on the same root in its next page', async () => {
    const other = new FsBackend({ root });
    try {
      const first = await be.listObjects('bkt', { prefix: 'flat/', maxKeys: 1000 });
      expect(first.objects.map((o) => o.key)).to.include(`flat/${name(500)}`);
      await other.putObject('bkt', `flat/${name(1500)}x`, Readable.from([Buffer.from('new')]), { userMetadata: {} });
      await other.deleteObject('bkt', `flat/${name(2500)}`);
      await other.putObject('bkt', `flat/${name(2600)}`, Readable.from([Buffer.from('changed')]), { userMetadata: {} });
      const rest = await listAllPages(be, { prefix: 'flat/', startAfter: first.nextStartAfter });
      expect(rest.keys).to.include(`flat/${name(1500)}x`);
      expect(rest.keys).to.not.include(`flat/${name(2500)}`);
      expect(rest.etags[rest.keys.indexOf(`flat/${name(2600)}`)]).to.equal(md5('changed'));
      expect(rest.etags[rest.keys.indexOf(`flat/${name(2601)}`)]).to.equal(md5(bodyOf(2601)));
      expect(rest.keys).to.have.length(KEYS - 1000);
    } finally {
      await other.close();
    }
    // Once the folder is out of the racy window it is again read once for all pages.
    await settle(dir);
    await listAllPages(be, { prefix: 'flat/' });
    const reads0 = sorted.reads;
    const again = await listAllPages(be, { prefix: 'flat/' });
    expect(again.keys).to.have.length(KEYS);
    expect(sorted.reads - reads0).to.equal(0);
  });

  it("sees this instance's own writes at once", async () => {
    await be.putObject('bkt', `flat/${name(10)}a`, Readable.from([Buffer.from('mine')]), { userMetadata: {} });
    const page = await be.listObjects('bkt', { prefix: `flat/${name(10)}`, maxKeys: 10 });
    expect(page.objects.map((o) => [o.key, o.etag])).to.deep.equal([
      [`flat/${name(10)}`, md5(bodyOf(10))],
      [`flat/${name(10)}a`, md5('mine')],
    ]);
  });
});
