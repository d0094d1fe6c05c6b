/**
 * The fs backend against the conformance suite, plus what only a filesystem can get wrong:
 * paths outside the root, temp files, restarts, files placed by hand, concurrent readers,
 * several instances on one root, descriptor leaks.
 */
import { expect } from 'chai';
import { spawnSync } from 'node:child_process';
import { createHash } from 'node:crypto';
import * as fs from 'node:fs';
import { promises as fsp } from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { S3Error } from '../../src/errors';
import { FsBackend } from '../../src/backends/fs/index';
import type { ObjectMeta } from '../../src/backends/types';
import { tempFiles } from '../helpers/fs-temps';
import { sha256Hex } from '../../src/auth/digests';
import {
  AWKWARD_KEYS,
  body,
  describeBackendConformance,
  expectS3Error,
  failingBody,
  getObject,
  listAll,
  md5,
  pattern,
  readAll,
  utf8Sort,
} from './conformance';

async function tmpParent(): Promise<string> {
  return fsp.mkdtemp(path.join(os.tmpdir(), 's3mux-fs-test-'));
}

describeBackendConformance('fs', async () => {
  const parent = await tmpParent();
  const backend = new FsBackend({ root: path.join(parent, 'data') });
  return { backend, cleanup: () => fsp.rm(parent, { recursive: true, force: true }) };
});

/** Every path below `dir` (relative, '/'-separated), without following links. */
async function walkTree(dir: string, rel = ''): Promise<string[]> {
  const out: string[] = [];
  for (const e of await fsp.readdir(path.join(dir, rel), { withFileTypes: true })) {
    const r = rel ? `${rel}/${e.name}` : e.name;
    out.push(r);
    if (e.isDirectory()) out.push(...(await walkTree(dir, r)));
  }
  return out;
}

function openFdCount(): number | undefined {
  try {
    return fs.readdirSync('/proc/self/fd').length;
  } catch {
    return undefined;
  }
}

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

describe('FsBackend specifics', function () {
  this.timeout(120_000);
  let parent: string;
  let root: string;
  let be: FsBackend;

  beforeEach(async () => {
    parent = await tmpParent();
    root = path.join(parent, 'data');
    be = new FsBackend({ root });
    await be.whenReady();
    await be.createBucket('bkt');
  });

  afterEach(async () => {
    await be.close();
    await fsp.rm(parent, { recursive: true, force: true });
  });

  const put = (b: FsBackend, key: string, data: string | Buffer, attrs: object = {}) =>
    b.putObject('bkt', key, body(data), { userMetadata: {}, ...attrs });

  describe('layout', () => {
    it('stores objects at natural paths a developer can browse', async () => {
      await put(be, 'docs/readme.txt', 'read me', { contentType: 'text/plain', cacheControl: 'no-cache' });
      expect(await fsp.readFile(path.join(root, 'bkt/docs/readme.txt'), 'utf8')).to.equal('read me');
      const sidecar = JSON.parse(await fsp.readFile(path.join(root, '.s3mux/meta/bkt/docs/readme.txt.meta'), 'utf8'));
      expect(sidecar.key).to.equal('docs/readme.txt');
      expect(sidecar.etag).to.equal(md5('read me'));
      expect(sidecar.attrs.contentType).to.equal('text/plain');
      expect(sidecar.attrs.cacheControl).to.equal('no-cache');
    });

    it('keeps an object that is also a prefix in <dir>/.s3mux-self, and a marker key in <dir>/.s3mux~', async () => {
      await put(be, 'a', 'A');
      expect(fs.statSync(path.join(root, 'bkt/a')).isFile()).to.equal(true);
      await put(be, 'a/b', 'AB');
      expect(await fsp.readFile(path.join(root, 'bkt/a/.s3mux-self'), 'utf8')).to.equal('A');
      expect(await fsp.readFile(path.join(root, 'bkt/a/b'), 'utf8')).to.equal('AB');
      await put(be, 'a/', 'marker');
      expect(await fsp.readFile(path.join(root, 'bkt/a/.s3mux~'), 'utf8')).to.equal('marker');
      // deleting the child keeps the directory that still holds 'a' and 'a/'
      await be.deleteObject('bkt', 'a/b');
      expect((await getObject(be, 'bkt', 'a')).data.toString()).to.equal('A');
      await be.deleteObject('bkt', 'a/');
      await be.deleteObject('bkt', 'a');
      expect(fs.existsSync(path.join(root, 'bkt/a'))).to.equal(false);
      expect(fs.existsSync(path.join(root, 'bkt'))).to.equal(true);
    });

    it('escapes ., .., empty and .s3mux segments, and hashes segments over 255 bytes', async () => {
      await put(be, '../../etc/passwd', 'not really');
      expect(await fsp.readFile(path.join(root, 'bkt/.s3mux~../.s3mux~../etc/passwd'), 'utf8')).to.equal('not really');
      await put(be, 'x//y', 'double');
      expect(await fsp.readFile(path.join(root, 'bkt/x/.s3mux~/y'), 'utf8')).to.equal('double');
      await put(be, '.s3mux-self', 'tricky');
      expect(await fsp.readFile(path.join(root, 'bkt/.s3mux~.s3mux-self'), 'utf8')).to.equal('tricky');
      const long = 'é'.repeat(200); // 400 bytes
      await put(be, `long/${long}`, 'long');
      const hash = sha256Hex(long);
      expect(await fsp.readFile(path.join(root, `bkt/long/.s3mux#${hash}`), 'utf8')).to.equal('long');
      expect(await fsp.readFile(path.join(root, `.s3mux/names/${hash}`), 'utf8')).to.equal(long);
      expect((await listAll(be, 'bkt', { maxKeys: 1000 })).entries).to.deep.equal(
        utf8Sort(['../../etc/passwd', 'x//y', '.s3mux-self', `long/${long}`]),
      );
    });

    it('removes empty parent directories on delete, in data and metadata trees', async () => {
      await put(be, 'p/q/r/s', 'deep');
      await put(be, 'p/keep', 'keep');
      await be.deleteObject('bkt', 'p/q/r/s');
      expect(fs.existsSync(path.join(root, 'bkt/p/q'))).to.equal(false);
      expect(fs.existsSync(path.join(root, '.s3mux/meta/bkt/p/q'))).to.equal(false);
      expect(fs.existsSync(path.join(root, 'bkt/p/keep'))).to.equal(true);
    });

    it('never shows internal files in listings or bucket lists', async () => {
      await put(be, 'a', '1');
      await put(be, 'a/b', '2');
      await put(be, 'a/', '3');
      expect((await listAll(be, 'bkt', { maxKeys: 1000 })).entries).to.deep.equal(['a', 'a/', 'a/b']);
      expect((await be.listBuckets()).map((b) => b.name)).to.deep.equal(['bkt']);
      await expectS3Error(be.listObjects('.s3mux', { prefix: '', maxKeys: 10 }), 'NoSuchBucket');
      await expectS3Error(be.headBucket('..'), 'NoSuchBucket');
      await expectS3Error(be.putObject('..', 'x', body('x'), { userMetadata: {} }), 'NoSuchBucket');
      await expectS3Error(be.createBucket('.s3mux'), 'InvalidBucketName');
    });
  });

  describe('safety', () => {
    it('never creates anything outside the root', async () => {
      await fsp.mkdir(path.join(parent, 'outside'));
      const keys = [
        ...AWKWARD_KEYS,
        '../outside/x',
        '../../outside/y',
        '../data/bkt2/z',
        '/abs/path',
        '..',
        '../..',
        '../../../../../../../../tmp/s3mux-escape',
      ];
      for (const k of keys) await put(be, k, `c:${k}`);
      await be.copyObject('bkt', '../outside/x', 'bkt', '../../copy-escape', undefined);
      for (const k of keys) expect((await getObject(be, 'bkt', k)).data.toString()).to.equal(`c:${k}`);
      const top = await fsp.readdir(parent);
      expect(top.sort()).to.deep.equal(['data', 'outside']);
      expect(await fsp.readdir(path.join(parent, 'outside'))).to.deep.equal([]);
      expect((await fsp.readdir(root)).sort()).to.deep.equal(['.s3mux', 'bkt']);
      expect(fs.existsSync('/tmp/s3mux-escape')).to.equal(false);
      for (const p of await walkTree(root)) {
        for (const seg of p.split('/')) expect(seg, p).to.not.be.oneOf(['', '.', '..']);
      }
      for (const k of keys) await be.deleteObject('bkt', k);
      await be.deleteObject('bkt', '../../copy-escape');
      expect(await fsp.readdir(path.join(root, 'bkt'))).to.deep.equal([]);
    });

    it('cleans its temp files after a failed write, a failed condition and a short body', async () => {
      await put(be, 'k', 'old');
      await expectS3Error(be.putObject('bkt', 'k', failingBody(pattern(100_000), 50_000), { userMetadata: {} }), 'InternalError');
      expect(tempFiles(root)).to.deep.equal([]);
      await expectS3Error(
        be.putObject('bkt', 'k', body('new'), { userMetadata: {} }, { conditions: { ifNoneMatch: '*' } }),
        'PreconditionFailed',
      );
      expect(tempFiles(root)).to.deep.equal([]);
      await expectS3Error(be.putObject('bkt', 'k', body('new'), { userMetadata: {} }, { size: 99 }), 'IncompleteBody');
      expect(tempFiles(root)).to.deep.equal([]);
      await expectS3Error(be.putObject('nobucket', 'k', body('new'), { userMetadata: {} }), 'NoSuchBucket');
      expect(tempFiles(root)).to.deep.equal([]);
      expect((await getObject(be, 'bkt', 'k')).data.toString()).to.equal('old');
    });

    it('maps ENOSPC to ServiceUnavailable', async () => {
      const err = Object.assign(new Error('no space left on device'), { code: 'ENOSPC', errno: -28 });
      await expectS3Error(be.putObject('bkt', 'full', failingBody(Buffer.from('abc'), 2, err), { userMetadata: {} }), 'ServiceUnavailable');
      expect(tempFiles(root)).to.deep.equal([]);
    });

    it('removes stale loose temp files (the older layout) at start-up, keeps fresh ones', async () => {
      const tmp = path.join(root, '.s3mux/tmp');
      await fsp.writeFile(path.join(tmp, 'put-old'), 'old');
      const old = new Date(Date.now() - 2 * 3600 * 1000);
      await fsp.utimes(path.join(tmp, 'put-old'), old, old);
      await fsp.writeFile(path.join(tmp, 'put-fresh'), 'fresh');
      const again = new FsBackend({ root });
      await again.whenReady();
      expect(tempFiles(root)).to.deep.equal(['put-fresh']);
      await again.close();
    });

    it('removes the temp folders of dead owners (this host: by pid; other hosts: by heartbeat), never a live one', async () => {
      const tmp = path.join(root, '.s3mux/tmp');
      const nonce = (c: string) => c.repeat(16);
      const host = os.hostname().replace(/[^A-Za-z0-9.-]/g, '_');
      const folders = {
        deadPid: `${host}~${2 ** 22 + 17}~${nonce('1')}`, // beyond pid_max: no such process
        earlierRunOfOurPid: `${host}~${process.pid}~${nonce('2')}`,
        livePid: `${host}~1~${nonce('3')}`, // pid 1 is alive on every system
        otherHostFresh: `elsewhere~42~${nonce('4')}`,
        otherHostStale: `elsewhere~43~${nonce('5')}`,
      };
      for (const f of Object.values(folders)) {
        await fsp.mkdir(path.join(tmp, f));
        await fsp.writeFile(path.join(tmp, f, 'put-x'), 'x');
      }
      const old = new Date(Date.now() - 3600 * 1000);
      await fsp.utimes(path.join(tmp, folders.otherHostStale), old, old);
      const again = new FsBackend({ root });
      await again.whenReady();
      const left = await fsp.readdir(tmp);
      expect(left).to.include.members([folders.livePid, folders.otherHostFresh]);
      expect(left).to.not.include.members([folders.deadPid]);
      expect(left).to.not.include(folders.earlierRunOfOurPid);
      expect(left).to.not.include(folders.otherHostStale);
      await again.close();
      for (const f of [folders.livePid, folders.otherHostFresh]) await fsp.rm(path.join(tmp, f), { recursive: true });
    });

    it('leaves no temp file, empty or not, when the disk is full (a real 512 KiB tmpfs)', async function () {
      const mnt = fs.mkdtempSync(path.join(os.tmpdir(), 's3mux-full-'));
      const mounted = spawnSync('mount', ['-t', 'tmpfs', '-o', 'size=512k', 'tmpfs', mnt]).status === 0;
      if (!mounted) {
        fs.rmSync(mnt, { recursive: true, force: true });
        this.skip(); // mounting needs root (CI runs as root)
      }
      const small = new FsBackend({ root: mnt });
      try {
        await small.createBucket('full');
        // Fill the disk, then write objects small and large, with metadata, until nothing fits.
        await expectS3Error(small.putObject('full', 'filler', body(Buffer.alloc(1 << 20, 1)), { userMetadata: {} }), 'ServiceUnavailable');
        let i = 0;
        for (let free = 400 * 1024; free > 0; free = Math.floor(free / 2)) {
          await small.putObject('full', `fill-${i++}`, body(Buffer.alloc(free, 2)), { userMetadata: {} }).catch(() => {});
        }
        for (let n = 0; n < 20; n++) {
          await small
            .putObject('full', `meta-${n}`, body('m'), { userMetadata: { note: 'x'.repeat(1500) }, tags: [{ key: 'k', value: 'v' }] })
            .catch(() => {});
        }
        expect(tempFiles(mnt)).to.deep.equal([]);
      } finally {
        await small.close();
        spawnSync('umount', [mnt]);
        fs.rmSync(mnt, { recursive: true, force: true });
      }
    });

    it('finishes a conversion interrupted by a crash', async () => {
      const holder = path.join(root, '.s3mux/conv/123-dead');
      await fsp.mkdir(holder, { recursive: true });
      await fsp.writeFile(path.join(holder, '.s3mux-self'), 'survivor');
      await fsp.writeFile(`${holder}.json`, JSON.stringify({ target: 'bkt/crashed' }));
      await fsp.mkdir(path.join(root, 'bkt/crashed'));
      await fsp.writeFile(path.join(root, 'bkt/crashed/child'), 'child');
      const old = new Date(Date.now() - 5 * 60 * 1000);
      await fsp.utimes(`${holder}.json`, old, old);
      const again = new FsBackend({ root });
      expect((await getObject(again, 'bkt', 'crashed')).data.toString()).to.equal('survivor');
      expect((await getObject(again, 'bkt', 'crashed/child')).data.toString()).to.equal('child');
      expect(await fsp.readdir(path.join(root, '.s3mux/conv'))).to.deep.equal([]);
    });
  });

  describe('metadata', () => {
    it('survives a restart (a new backend on the same root)', async () => {
      const long = 'x'.repeat(400);
      const attrs = {
        contentType: 'text/csv',
        cacheControl: 'no-cache',
        userMetadata: { owner: 'me' },
        tags: [{ key: 't', value: 'v' }],
        checksums: { crc32: 'AAAAAA==' },
      };
      const m = await be.putObject('bkt', 'r/data.csv', body('a,b\n1,2\n'), attrs);
      await put(be, `r/${long}/z`, 'hashed dir');
      const again = new FsBackend({ root });
      const h = await again.headObject('bkt', 'r/data.csv');
      expect(h.etag).to.equal(m.etag);
      expect(h.contentType).to.equal('text/csv');
      expect(h.cacheControl).to.equal('no-cache');
      expect(h.userMetadata).to.deep.equal({ owner: 'me' });
      expect(h.tags).to.deep.equal([{ key: 't', value: 'v' }]);
      expect(h.checksums).to.deep.equal({ crc32: 'AAAAAA==' });
      expect(h.lastModified.getTime()).to.equal(m.lastModified.getTime());
      expect((await listAll(again, 'bkt', { maxKeys: 1000 })).entries).to.deep.equal(['r/data.csv', `r/${long}/z`]);
    });

    it('serves files placed in the bucket folder by hand, synthesizing and storing their metadata', async () => {
      const photos = path.join(root, 'photos');
      await fsp.mkdir(path.join(photos, '2024/summer'), { recursive: true });
      const jpg = pattern(100_000, 5); // over 64 KiB: its MD5 is worth storing
      await fsp.writeFile(path.join(photos, '2024/summer/beach.JPG'), jpg);
      await fsp.writeFile(path.join(photos, 'notes.txt'), 'hello');
      await fsp.writeFile(path.join(photos, 'noext'), 'x');
      expect((await be.listBuckets()).map((b) => b.name)).to.deep.equal(['bkt', 'photos']);
      expect((await be.headBucket('photos')).name).to.equal('photos');
      const listing = await be.listObjects('photos', { prefix: '', maxKeys: 1000 });
      expect(listing.objects.map((o) => o.key)).to.deep.equal(['2024/summer/beach.JPG', 'noext', 'notes.txt']);
      expect(listing.objects[0].etag).to.equal(md5(jpg));
      expect(listing.objects[0].size).to.equal(jpg.length);
      const h = await be.headObject('photos', '2024/summer/beach.JPG');
      expect(h.etag).to.equal(md5(jpg));
      expect(h.contentType).to.equal('image/jpeg');
      expect((await be.headObject('photos', 'notes.txt')).contentType).to.equal('text/plain');
      // S3's type for an object stored without one: an object PUT without a type reads the same without a sidecar.
      expect((await be.headObject('photos', 'noext')).contentType).to.equal('binary/octet-stream');
      expect(fs.existsSync(path.join(root, '.s3mux/meta/photos/2024/summer/beach.JPG.meta'))).to.equal(true);
      // A small file's metadata is derived again on every read (its ETag remembered by identity): nothing stored.
      expect((await be.headObject('photos', 'notes.txt')).etag).to.equal(md5('hello'));
      expect(fs.existsSync(path.join(root, '.s3mux/meta/photos/notes.txt.meta'))).to.equal(false);
      const got = await getObject(be, 'photos', '2024/summer/beach.JPG', { start: 10, end: 19 });
      expect(got.data.equals(jpg.subarray(10, 20))).to.equal(true);
      // a delimiter listing of the folder
      const top = await be.listObjects('photos', { prefix: '', delimiter: '/', maxKeys: 1000 });
      expect(top.commonPrefixes).to.deep.equal(['2024/']);
    });

    it('notices a file edited in place: new ETag, attributes kept', async () => {
      await put(be, 'edit.txt', 'version one', { contentType: 'text/x-mine', userMetadata: { keep: 'yes' } });
      await sleep(5);
      await fsp.writeFile(path.join(root, 'bkt/edit.txt'), 'version two, longer');
      const h = await be.headObject('bkt', 'edit.txt');
      expect(h.etag).to.equal(md5('version two, longer'));
      expect(h.size).to.equal(19);
      expect(h.contentType).to.equal('text/x-mine');
      expect(h.userMetadata).to.deep.equal({ keep: 'yes' });
      const listed = await be.listObjects('bkt', { prefix: 'edit', maxKeys: 10 });
      expect(listed.objects[0].etag).to.equal(md5('version two, longer'));
    });

    describe('bare objects (no sidecar)', () => {
      const metaFile = (key: string) => path.join(root, '.s3mux/meta/bkt', `${key}.meta`);
      const same = (a: ObjectMeta, b: ObjectMeta) => {
        expect({ ...a, lastModified: a.lastModified.getTime() }).to.deep.equal({ ...b, lastModified: b.lastModified.getTime() });
      };

      it('writes no sidecar when the attributes say nothing a read cannot derive, and reads the object back as the PUT answered', async () => {
        const plain = await put(be, 'bare/plain', 'plain bytes');
        const typed = await put(be, 'bare/notes.txt', 'some notes', { contentType: 'text/plain' });
        expect(plain.contentType).to.equal('binary/octet-stream');
        expect(fs.existsSync(metaFile('bare/plain'))).to.equal(false);
        expect(fs.existsSync(metaFile('bare/notes.txt'))).to.equal(false);
        for (const b of [be, new FsBackend({ root })]) {
          for (const [key, m, data] of [
            ['bare/plain', plain, 'plain bytes'],
            ['bare/notes.txt', typed, 'some notes'],
          ] as const) {
            same(await b.headObject('bkt', key), m);
            const got = await getObject(b, 'bkt', key);
            expect(got.data.toString()).to.equal(data);
            same(got.meta, m);
            expect(got.meta.etag).to.equal(md5(data));
          }
          const listed = await b.listObjects('bkt', { prefix: 'bare/', maxKeys: 10 });
          expect(listed.objects.map((o) => [o.key, o.etag, o.size])).to.deep.equal([
            ['bare/notes.txt', md5('some notes'), 10],
            ['bare/plain', md5('plain bytes'), 11],
          ]);
        }
        // Nothing was written back by the reads.
        expect(fs.existsSync(metaFile('bare/plain'))).to.equal(false);
      });

      it('writes a sidecar for anything a read would not derive', async () => {
        const cases: Array<[string, object]> = [
          ['typeless.txt', {}], // the extension says text/plain, the PUT binary/octet-stream
          ['other-type', { contentType: 'text/plain' }],
          ['meta', { userMetadata: { a: '1' } }],
          ['cache', { cacheControl: 'no-cache' }],
          ['tagged', { tags: [{ key: 't', value: 'v' }] }],
          ['summed', { checksums: { crc32: 'AAAAAA==' } }],
          ['classy', { storageClass: 'STANDARD_IA' }],
        ];
        for (const [key, attrs] of cases) {
          const m = await put(be, key, 'x', attrs);
          expect(fs.existsSync(metaFile(key)), key).to.equal(true);
          same(await new FsBackend({ root }).headObject('bkt', key), m);
        }
        const big = await put(be, 'big', pattern(64 * 1024 + 1));
        expect(fs.existsSync(metaFile('big'))).to.equal(true);
        same(await be.headObject('bkt', 'big'), big);
        const multi = await be.putObject('bkt', 'assembled', body('x'), { userMetadata: {} }, { etag: `${md5('x')}-1` });
        expect(fs.existsSync(metaFile('assembled'))).to.equal(true);
        expect((await new FsBackend({ root }).headObject('bkt', 'assembled')).etag).to.equal(multi.etag);
      });

      it('never lets a sidecar of the previous bytes describe a bare PUT (a data folder written before bare objects too)', async () => {
        await put(be, 'swap', 'one', { userMetadata: { old: 'yes' }, contentType: 'text/x-old' });
        const m = await put(be, 'swap', 'two'); // derivable, but a sidecar is there: it is replaced
        expect(fs.existsSync(metaFile('swap'))).to.equal(true);
        for (const b of [be, new FsBackend({ root })]) {
          same(await b.headObject('bkt', 'swap'), m);
          expect((await b.headObject('bkt', 'swap')).userMetadata).to.deep.equal({});
        }
        // What an older s3mux wrote for a plain PUT: a sidecar with derivable attributes. It reads as before.
        const old = await put(be, 'older', 'written before', { cacheControl: 'x' });
        const sc = JSON.parse(fs.readFileSync(metaFile('older'), 'utf8'));
        delete sc.attrs.cacheControl;
        fs.writeFileSync(metaFile('older'), JSON.stringify(sc));
        const expected = { ...old };
        delete expected.cacheControl;
        same(await new FsBackend({ root }).headObject('bkt', 'older'), expected);
      });

      it('lets a sidecar PUT over a bare object be seen whole by concurrent readers', async () => {
        for (let i = 0; i < 20; i++) {
          const key = `race-${i}`;
          await put(be, key, `bare ${i}`);
          const writing = put(be, key, `with metadata ${i}`, { userMetadata: { n: String(i) } });
          const seen: ObjectMeta[] = [];
          let done = false;
          void writing.finally(() => (done = true));
          while (!done) {
            seen.push(await be.headObject('bkt', key), (await getObject(be, 'bkt', key)).meta);
            const listed = (await be.listObjects('bkt', { prefix: key, maxKeys: 1 })).objects[0];
            expect([md5(`bare ${i}`), md5(`with metadata ${i}`)]).to.include(listed.etag);
          }
          await writing;
          seen.push(await be.headObject('bkt', key));
          for (const m of seen) {
            if (m.etag === md5(`bare ${i}`)) expect(m.userMetadata).to.deep.equal({});
            else {
              expect(m.etag).to.equal(md5(`with metadata ${i}`));
              expect(m.userMetadata).to.deep.equal({ n: String(i) });
            }
          }
        }
      });

      it('derives a new ETag for a bare object edited in place', async () => {
        await put(be, 'edited', 'version one');
        expect((await be.headObject('bkt', 'edited')).etag).to.equal(md5('version one'));
        await sleep(5);
        await fsp.writeFile(path.join(root, 'bkt/edited'), 'version two, longer');
        expect((await be.headObject('bkt', 'edited')).etag).to.equal(md5('version two, longer'));
        expect((await getObject(be, 'bkt', 'edited')).meta.etag).to.equal(md5('version two, longer'));
      });
    });

    it("never serves a small object's remembered bytes once its file changed (same size: edited in place, or replaced by another process)", async () => {
      const text = async () => (await getObject(be, 'bkt', 'small.txt')).data.toString();
      await put(be, 'small.txt', 'aaaa-version-1');
      expect(await text()).to.equal('aaaa-version-1');
      expect(await text()).to.equal('aaaa-version-1'); // the bytes read before
      await sleep(20);
      await fsp.writeFile(path.join(root, 'bkt/small.txt'), 'bbbb-version-2'); // same inode, same size
      const edited = await getObject(be, 'bkt', 'small.txt');
      expect(edited.data.toString()).to.equal('bbbb-version-2');
      expect(edited.meta.etag).to.equal(md5('bbbb-version-2'));
      expect(await text()).to.equal('bbbb-version-2');
      const other = new FsBackend({ root });
      await other.whenReady();
      await put(other, 'small.txt', 'cccc-version-3');
      await other.close();
      expect(await text()).to.equal('cccc-version-3');
    });

    it('ignores symbolic links, special names and names that are not UTF-8', async function () {
      const dir = path.join(root, 'bkt');
      await fsp.writeFile(path.join(parent, 'secret'), 'secret');
      await fsp.symlink(path.join(parent, 'secret'), path.join(dir, 'link'));
      await fsp.writeFile(path.join(dir, '.S3MUX-odd'), 'x');
      await fsp.writeFile(path.join(dir, '.s3mux~a'), 'x'); // not a form the encoder produces
      await fsp.writeFile(Buffer.concat([Buffer.from(dir + '/'), Buffer.from([0x66, 0xff, 0x66])]), 'x');
      await put(be, 'real', 'r');
      expect((await listAll(be, 'bkt', { maxKeys: 1000 })).entries).to.deep.equal(['real']);
      await expectS3Error(be.headObject('bkt', 'link'), 'NoSuchKey');
      await expectS3Error(be.deleteBucket('bkt'), 'BucketNotEmpty');
    });

    it('serves a read-only folder (metadata synthesized in memory), refusing writes with AccessDenied', async function () {
      if (process.getuid?.() === 0) this.skip(); // root ignores permissions
      const ro = path.join(parent, 'ro');
      await fsp.mkdir(path.join(ro, 'pics'), { recursive: true });
      await fsp.writeFile(path.join(ro, 'pics/a.png'), 'png bytes');
      await fsp.chmod(path.join(ro, 'pics'), 0o555);
      await fsp.chmod(ro, 0o555);
      try {
        const r = new FsBackend({ root: ro });
        expect((await r.headObject('pics', 'a.png')).etag).to.equal(md5('png bytes'));
        expect((await listAll(r, 'pics', { maxKeys: 10 })).entries).to.deep.equal(['a.png']);
        await expectS3Error(r.putObject('pics', 'b', body('x'), { userMetadata: {} }), 'AccessDenied');
      } finally {
        await fsp.chmod(ro, 0o755);
        await fsp.chmod(path.join(ro, 'pics'), 0o755);
      }
    });

    it('deletes a bucket whose folder only holds empty directories', async () => {
      await fsp.mkdir(path.join(root, 'bkt/empty/dirs'), { recursive: true });
      await be.deleteBucket('bkt');
      expect(fs.existsSync(path.join(root, 'bkt'))).to.equal(false);
    });

    it('serves a bucket that is a symbolic link to a folder elsewhere', async () => {
      const elsewhere = path.join(parent, 'elsewhere');
      await fsp.mkdir(path.join(elsewhere, 'sub'), { recursive: true });
      await fsp.writeFile(path.join(elsewhere, 'sub/file.txt'), 'linked');
      await fsp.symlink(elsewhere, path.join(root, 'linked'));
      expect((await be.listBuckets()).map((b) => b.name)).to.include('linked');
      expect((await getObject(be, 'linked', 'sub/file.txt')).data.toString()).to.equal('linked');
      await be.deleteObject('linked', 'sub/file.txt');
      await be.deleteBucket('linked');
      expect(fs.existsSync(elsewhere)).to.equal(true);
      expect(fs.existsSync(path.join(root, 'linked'))).to.equal(false);
    });
  });

  describe('concurrency', () => {
    it('a reader during overwrites sees the old or the new full content, never a mix', async () => {
      const A = Buffer.alloc(256 * 1024, 'A');
      const B = Buffer.alloc(200 * 1024, 'B');
      const etags = new Map([
        [md5(A), A],
        [md5(B), B],
      ]);
      await put(be, 'hot', A);
      let writing = true;
      const writer = (async () => {
        for (let i = 0; i < 150; i++) await put(be, 'hot', i % 2 ? A : B);
        writing = false;
      })();
      let reads = 0;
      const reader = async () => {
        while (writing && reads < 1000) {
          const { meta, data } = await getObject(be, 'bkt', 'hot');
          reads++;
          const expected = etags.get(meta.etag);
          expect(expected, 'etag of a known version').to.not.equal(undefined);
          expect(data.equals(expected!), 'bytes match the etag').to.equal(true);
          expect(meta.size).to.equal(data.length);
        }
      };
      await Promise.all([writer, reader(), reader(), reader()]);
      expect(reads).to.be.greaterThan(10);
    });

    it('converts files to directory form under concurrent writes of parent and child keys', async () => {
      const jobs: Promise<unknown>[] = [];
      for (let i = 0; i < 40; i++) {
        jobs.push(put(be, `c${i}`, `parent ${i}`));
        jobs.push(put(be, `c${i}/child`, `child ${i}`));
        jobs.push(put(be, `c${i}/child/grand`, `grand ${i}`));
      }
      await Promise.all(jobs);
      for (let i = 0; i < 40; i++) {
        expect((await getObject(be, 'bkt', `c${i}`)).data.toString()).to.equal(`parent ${i}`);
        expect((await getObject(be, 'bkt', `c${i}/child`)).data.toString()).to.equal(`child ${i}`);
        expect((await getObject(be, 'bkt', `c${i}/child/grand`)).data.toString()).to.equal(`grand ${i}`);
      }
      expect((await listAll(be, 'bkt', { maxKeys: 1000 })).entries.length).to.equal(120);
    });

    it('readers never miss a key while it is converted to directory form', async () => {
      for (let i = 0; i < 30; i++) {
        await put(be, `r${i}`, `v${i}`);
        const readers = Array.from({ length: 5 }, () => getObject(be, 'bkt', `r${i}`));
        const writer = put(be, `r${i}/x`, 'x');
        const results = await Promise.all([...readers, writer]);
        for (const r of results.slice(0, 5)) expect((r as { data: Buffer }).data.toString()).to.equal(`v${i}`);
      }
    });

    it("two instances on one root see each other's writes", async () => {
      const other = new FsBackend({ root });
      await put(be, 'shared/one', '1');
      expect((await getObject(other, 'bkt', 'shared/one')).data.toString()).to.equal('1');
      await other.putObject('bkt', 'shared/two', body('2'), { userMetadata: { by: 'other' } });
      expect((await be.headObject('bkt', 'shared/two')).userMetadata).to.deep.equal({ by: 'other' });
      expect((await listAll(be, 'bkt', { maxKeys: 1000 })).entries).to.deep.equal(['shared/one', 'shared/two']);
      await other.deleteObject('bkt', 'shared/one');
      await expectS3Error(be.headObject('bkt', 'shared/one'), 'NoSuchKey');
      await other.createBucket('made-by-other');
      expect((await be.listBuckets()).map((b) => b.name)).to.include('made-by-other');
      await expectS3Error(be.createBucket('made-by-other'), 'BucketAlreadyOwnedByYou');
    });
  });

  describe('descriptors', () => {
    it('closes the descriptor after close(), after a full read, after an error and after destroy', async function () {
      const before = openFdCount();
      if (before === undefined) this.skip();
      await put(be, 'fd', pattern(300_000));
      for (let i = 0; i < 30; i++) {
        const h = await be.openObject('bkt', 'fd');
        await h.close();
      }
      for (let i = 0; i < 30; i++) {
        const h = await be.openObject('bkt', 'fd');
        await readAll(h.read()); // no close(): the end of the stream closes it
      }
      for (let i = 0; i < 30; i++) {
        const h = await be.openObject('bkt', 'fd');
        const s = h.read({ start: 0, end: 299_999 });
        await new Promise<void>((resolve) => {
          s.once('data', () => s.destroy());
          s.once('close', () => resolve());
        });
      }
      for (let i = 0; i < 30; i++) {
        const h = await be.openObject('bkt', 'fd');
        const s = h.read();
        await h.close(); // close while a stream is active: the fd stays open until it ends
        expect((await readAll(s)).length).to.equal(300_000);
      }
      for (let i = 0; i < 30; i++) await be.headObject('bkt', 'fd');
      await sleep(20);
      expect(openFdCount()).to.equal(before);
    });

    it('refuses to read from a closed handle', async () => {
      await put(be, 'c', 'x');
      const h = await be.openObject('bkt', 'c');
      await h.close();
      expect(() => h.read()).to.throw(S3Error);
    });
  });

  describe('listing performance', () => {
    it('pages through a wide folder with a delimiter without rescanning it per prefix', async () => {
      const wide = path.join(root, 'wide');
      for (let i = 0; i < 3000; i++) {
        const d = path.join(wide, `d${String(i).padStart(5, '0')}`);
        fs.mkdirSync(d, { recursive: true });
        fs.writeFileSync(path.join(d, 'f'), 'x');
      }
      // Counted, not timed: how often the wide folder itself is read (readdir or opendir) while its 3 pages are listed.
      const { readdir, opendir } = fsp;
      let wideReads = 0;
      const wideBytes = Buffer.from(wide);
      const counting = <F extends (...a: never[]) => unknown>(f: F): F =>
        ((dir: fs.PathLike, ...rest: unknown[]) => {
          if (Buffer.isBuffer(dir) ? dir.equals(wideBytes) : path.resolve(String(dir)) === wide) wideReads++;
          return (f as unknown as (...a: unknown[]) => unknown)(dir, ...rest);
        }) as unknown as F;
      fsp.readdir = counting(readdir);
      fsp.opendir = counting(opendir);
      let all: Awaited<ReturnType<typeof listAll>>;
      try {
        all = await listAll(be, 'wide', { delimiter: '/', maxKeys: 1000 });
      } finally {
        fsp.readdir = readdir;
        fsp.opendir = opendir;
      }
      expect(all.prefixes.length).to.equal(3000);
      expect(all.pages).to.equal(3);
      expect(wideReads).to.be.within(1, 3);
    });

    it('keeps sorted folders and summaries across pages, and still sees every change at once', async () => {
      for (let i = 0; i < 40; i++) await put(be, `k${String(i).padStart(3, '0')}`, 'v1');
      // Move the bucket folder's mtime into the past, so its sorted contents may be kept.
      const dir = path.join(root, 'bkt');
      const past = new Date(Date.now() - 60_000);
      fs.utimesSync(dir, past, past);
      const keysOf = async () => (await listAll(be, 'bkt', { maxKeys: 1000 })).objects;
      const before = await keysOf();
      expect(before).to.include('k000');
      // A new key right after: the folder's mtime moved, so it is read again.
      await put(be, 'k0005', 'new');
      expect(await keysOf()).to.include('k0005');
      await be.deleteObject('bkt', 'k001');
      expect(await keysOf()).to.not.include('k001');
      // An overwrite is a new data file: its summary is read again (new ETag and size).
      await put(be, 'k002', 'version two');
      const page = await be.listObjects('bkt', { prefix: 'k002', maxKeys: 10 });
      expect(page.objects[0].size).to.equal('version two'.length);
      expect(page.objects[0].etag).to.equal(createHash('md5').update('version two').digest('hex'));
      // Many changes in a row, each listed at once (no tick-sized window where a change hides).
      for (let i = 0; i < 30; i++) {
        await put(be, `burst/${i}`, 'b');
        expect(await keysOf()).to.include(`burst/${i}`);
      }
    });
  });
});

describe('FsBackend streaming memory', function () {
  this.timeout(120_000);
  it('writes a large body without buffering it', async () => {
    const parent = await tmpParent();
    try {
      const be = new FsBackend({ root: path.join(parent, 'data') });
      await be.createBucket('big');
      const size = 256 * 1024 * 1024;
      const chunk = Buffer.alloc(1024 * 1024, 7);
      let sent = 0;
      const hash = createHash('md5');
      const { Readable } = await import('node:stream');
      const src = new Readable({
        read() {
          if (sent >= size) return this.push(null);
          sent += chunk.length;
          hash.update(chunk);
          this.push(chunk);
        },
      });
      global.gc?.();
      const rss0 = process.memoryUsage().rss;
      let peak = rss0;
      const timer = setInterval(() => (peak = Math.max(peak, process.memoryUsage().rss)), 5);
      const meta = await be.putObject('big', 'blob', src, { userMetadata: {} });
      clearInterval(timer);
      expect(meta.size).to.equal(size);
      expect(meta.etag).to.equal(hash.digest('hex'));
      expect(peak - rss0).to.be.below(128 * 1024 * 1024);
    } finally {
      await fsp.rm(parent, { recursive: true, force: true });
    }
  });
});
