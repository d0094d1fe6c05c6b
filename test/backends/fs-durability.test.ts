/**
 * A PUT on the fs backend makes every file it renames into place durable first: the data file
 * and its sidecar (when it has one) are fsynced (on the thread pool), and only then renamed. Observed by wrapping
 * node:fs's fsync and promises.rename, which the backend calls through the module object.
 */
import { expect } from 'chai';
import fs from 'node:fs';
import { promises as fsp } from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { Readable } from 'node:stream';
import { FsBackend } from '../../src/backends/fs/index';

type Event = { kind: 'fsync' | 'renamed-from'; file: string };

describe('FsBackend durability of a PUT', () => {
  let parent: string;
  let backend: FsBackend;
  const realFsync = fs.fsync;
  const realRename = fsp.rename;
  let events: Event[];

  before(async () => {
    parent = await fsp.mkdtemp(path.join(os.tmpdir(), 's3mux-fs-durable-'));
    backend = new FsBackend({ root: path.join(parent, 'data') });
    await backend.whenReady();
    await backend.createBucket('bkt');
  });
  beforeEach(() => {
    events = [];
    (fs as { fsync: typeof fs.fsync }).fsync = ((fd: number, cb: (err: NodeJS.ErrnoException | null) => void) =>
      realFsync(fd, (err) => {
        // The path of the descriptor, while it is still open.
        events.push({ kind: 'fsync', file: fs.readlinkSync(`/proc/self/fd/${fd}`) });
        cb(err);
      })) as typeof fs.fsync;
    fsp.rename = async (from: fs.PathLike, to: fs.PathLike) => {
      events.push({ kind: 'renamed-from', file: String(from) });
      return realRename(from, to);
    };
  });
  afterEach(() => {
    (fs as { fsync: typeof fs.fsync }).fsync = realFsync;
    fsp.rename = realRename;
  });
  after(async () => {
    await fsp.rm(parent, { recursive: true, force: true });
  });

  for (const size of [4096, 256 * 1024]) {
    it(`fsyncs the data file and the sidecar before renaming either (${size} bytes)`, async function () {
      if (!fs.existsSync('/proc/self/fd')) this.skip();
      const body = Buffer.alloc(size, 7);
      await backend.putObject('bkt', 'k', Readable.from([body]), { userMetadata: { a: '1' } }, { size });
      // The data file, then its sidecar (a rename that meets a missing metadata folder is tried again).
      const renames = [...new Set(events.filter((e) => e.kind === 'renamed-from').map((e) => e.file))];
      expect(renames, JSON.stringify(events)).to.have.length(2);
      const firstRename = events.findIndex((e) => e.kind === 'renamed-from');
      const syncedBefore = events
        .slice(0, firstRename)
        .filter((e) => e.kind === 'fsync')
        .map((e) => e.file);
      for (const tmp of renames) expect(syncedBefore, `${tmp} fsynced before the first rename`).to.include(tmp);
      const h = await backend.headObject('bkt', 'k');
      expect(h.size).to.equal(size);
      expect(h.userMetadata).to.deep.equal({ a: '1' });
    });
  }

  it('fsyncs a bare object (no sidecar) before its one rename, and a sidecar that has to replace one', async function () {
    if (!fs.existsSync('/proc/self/fd')) this.skip();
    const size = 4096;
    await backend.putObject('bkt', 'plain', Readable.from([Buffer.alloc(size, 1)]), { userMetadata: {} }, { size });
    const renames = events.filter((e) => e.kind === 'renamed-from').map((e) => e.file);
    expect(renames, JSON.stringify(events)).to.have.length(1);
    const synced = events
      .slice(
        0,
        events.findIndex((e) => e.kind === 'renamed-from'),
      )
      .map((e) => e.file);
    expect(synced).to.include(renames[0]);
    expect((await backend.headObject('bkt', 'plain')).contentType).to.equal('binary/octet-stream');
    // Over an object with a sidecar: a new sidecar, durable before either rename, replaces it.
    await backend.putObject('bkt', 'k', Readable.from([Buffer.alloc(size, 2)]), { userMetadata: {} }, { size });
    const all = [...new Set(events.filter((e) => e.kind === 'renamed-from').map((e) => e.file))];
    expect(all, JSON.stringify(events)).to.have.length(3);
    const first = events.findIndex((e) => e.kind === 'renamed-from' && e.file === all[1]);
    const before = events.slice(0, first).map((e) => e.file);
    for (const tmp of all.slice(1)) expect(before, `${tmp} fsynced before the first rename`).to.include(tmp);
    expect((await backend.headObject('bkt', 'k')).userMetadata).to.deep.equal({});
  });
});
