/**
 * The ReservedStore behaviour suite (src/backends/reserved-store.ts): every adapter that has
 * `backend.reserved` runs it unchanged against its real local store:
 *
 *   describeReservedConformance('fs', async () => ({ backend, cleanup }));
 *
 * Besides the store's own contract it checks that documents stay out of the client's view: not
 * in listings or upload listings, not counted by DeleteBucket, not reachable by a client key
 * under `.s3mux/`, and gone with their bucket.
 */
import { expect } from 'chai';
import { createHash, randomBytes } from 'node:crypto';
import { Readable } from 'node:stream';
import type { Backend } from '../../src/backends/types';
import type { ReservedEntry, ReservedStore } from '../../src/backends/reserved-store';
import { body, expectS3Error, failingBody, getObject, pattern, readAll, type ConformanceFixture } from './conformance';

export interface ReservedConformanceOptions {
  /** What the store lacks; each entry skips only the checks that need it. */
  lacks?: {
    /** Conditional writes: the store ignores If-Match / If-None-Match (s3rver). */
    conditions?: boolean;
    /** Bucket administration: every bucket exists implicitly (the GCS emulator). */
    bucketAdmin?: boolean;
    /**
     * An etag that changes when the same bytes are written again: the store's etag is the
     * content's MD5 (any S3 store), so only a write of other bytes gets a new one. Compare-and-swap
     * stays exact on content: a rewrite of the same bytes cannot be told from no write.
     */
    etagPerWrite?: boolean;
    /**
     * Client keys under `.s3mux/` as ordinary objects: the store keeps keys as they are (s3), so
     * the documents' range `.s3mux/r/` is taken out of the client's keys, which are refused there.
     */
    clientKeysInArea?: boolean;
    /** A name that is also a folder of other names ('a' and 'a/b'): s3rver keeps keys as files. */
    nestedNames?: boolean;
    /** Pages cut in sorted order (s3rver pages in its directory-walk order): only whole listings are checked. */
    sortedPaging?: boolean;
  };
  /** Size of the streamed-body check (default 12 MiB). */
  largeBytes?: number;
}

/** A body that is produced as it is read (never one Buffer), `size` bytes of `pattern` blocks. */
function generatedBody(size: number, block: Buffer): Readable {
  let sent = 0;
  return new Readable({
    read() {
      if (sent >= size) return void this.push(null);
      const n = Math.min(block.length, size - sent);
      sent += n;
      this.push(block.subarray(0, n));
    },
  });
}

async function md5Of(stream: Readable): Promise<{ md5: string; size: number }> {
  const h = createHash('md5');
  let size = 0;
  for await (const c of stream) {
    h.update(c as Buffer);
    size += (c as Buffer).length;
  }
  return { md5: h.digest('hex'), size };
}

export function describeReservedConformance(
  name: string,
  factory: () => Promise<ConformanceFixture>,
  options: ReservedConformanceOptions = {},
): void {
  const lacks = options.lacks ?? {};
  describe(`ReservedStore conformance: ${name}`, function () {
    this.timeout(120_000);
    let fx: ConformanceFixture;
    let b: Backend;
    let r: ReservedStore;
    const runId = randomBytes(3).toString('hex');
    let counter = 0;
    const created = new Set<string>();

    async function newBucket(): Promise<string> {
      const bucket = `s3mux-rs-${runId}-${++counter}`;
      if (!lacks.bucketAdmin) await b.createBucket(bucket);
      created.add(bucket);
      return bucket;
    }

    async function text(bucket: string, docName: string): Promise<string | undefined> {
      const doc = await r.get(bucket, docName);
      return doc && (await readAll(doc.body)).toString('utf8');
    }

    /** A document's entry (its body is not read, so it is destroyed). */
    async function entryOf(bucket: string, docName: string): Promise<ReservedEntry> {
      const doc = await r.get(bucket, docName);
      if (!doc) throw new Error(`no document ${docName}`);
      doc.body.destroy();
      return doc.entry;
    }

    async function names(bucket: string, prefix: string, max?: number): Promise<string[]> {
      const out: string[] = [];
      let startAfter: string | undefined;
      for (let pages = 0; pages < 1000; pages++) {
        const page = await r.list(bucket, prefix, { startAfter, max });
        if (max !== undefined) expect(page.length).to.be.at.most(max);
        out.push(...page.map((e) => e.name));
        if (page.length === 0 || (max === undefined && page.length < 1000) || (max !== undefined && page.length < max)) return out;
        startAfter = page[page.length - 1].name;
      }
      throw new Error('listing does not end');
    }

    before(async function () {
      fx = await factory();
      b = fx.backend;
      if (!b.reserved) throw new Error(`${name} has no reserved store`);
      r = b.reserved;
    });

    after(async () => {
      for (const bucket of created) {
        try {
          for (const e of await r.list(bucket, '')) await r.delete(bucket, e.name);
          for (const o of (await b.listObjects(bucket, { prefix: '', maxKeys: 1000 })).objects) await b.deleteObject(bucket, o.key);
          if (!lacks.bucketAdmin) await b.deleteBucket(bucket);
        } catch {
          // already gone
        }
      }
      await b?.close?.();
      await fx?.cleanup();
    });

    it('puts, gets and describes a document; a missing one is undefined', async () => {
      const bucket = await newBucket();
      expect(await r.get(bucket, 'config/acl')).to.equal(undefined);
      const before = Date.now();
      const e = await r.put(bucket, 'config/acl', Buffer.from('{"owner":"me"}'));
      expect(e.name).to.equal('config/acl');
      expect(e.size).to.equal(14);
      expect(e.etag).to.be.a('string').and.not.equal('');
      expect(e.lastModified).to.be.instanceOf(Date);
      expect(e.lastModified.getTime()).to.be.within(before - 5000, Date.now() + 5000);
      const doc = await r.get(bucket, 'config/acl');
      expect(doc?.entry.etag).to.equal(e.etag);
      expect(doc?.entry.size).to.equal(14);
      expect(doc?.entry.name).to.equal('config/acl');
      expect((await readAll(doc!.body)).toString()).to.equal('{"owner":"me"}');
      // A stream body and an empty one.
      await r.put(bucket, 'empty', Buffer.alloc(0));
      expect(await text(bucket, 'empty')).to.equal('');
      await r.put(bucket, 'streamed', body('from a stream', 4));
      expect(await text(bucket, 'streamed')).to.equal('from a stream');
      expect((await r.list(bucket, 'streamed'))[0].etag).to.equal((await entryOf(bucket, 'streamed')).etag);
    });

    it('lists in binary name order under a prefix, paging with startAfter and max', async () => {
      const bucket = await newBucket();
      const every = [
        'b',
        'a',
        'a-b',
        'a/c',
        'a/b',
        'a.x',
        'A',
        'Z~',
        'a/b/c',
        'config/cors',
        'config/acl',
        'v/~f00',
        'v/_x',
        'v/-1',
        'v/9',
      ];
      const all = lacks.nestedNames ? every.filter((n) => !every.some((m) => m.startsWith(n + '/'))) : every;
      for (const n of all) await r.put(bucket, n, Buffer.from(n));
      const sorted = [...all].sort((x, y) => Buffer.compare(Buffer.from(x), Buffer.from(y)));
      expect(await names(bucket, '')).to.deep.equal(sorted);
      const paging = !lacks.sortedPaging;
      if (paging) for (const max of [1, 2, 3, 1000]) expect(await names(bucket, '', max), `max ${max}`).to.deep.equal(sorted);
      for (const prefix of ['a', 'a/', 'a/b', 'config/', 'con', 'v/', 'nothing/']) {
        const want = sorted.filter((n) => n.startsWith(prefix));
        expect(await names(bucket, prefix), prefix).to.deep.equal(want);
        if (paging) expect(await names(bucket, prefix, 2), `${prefix} by 2`).to.deep.equal(want);
      }
      if (!paging) return;
      const page = await r.list(bucket, 'a', { startAfter: 'a-b', max: 2 });
      expect(page.map((e) => e.name)).to.deep.equal(sorted.filter((n) => n.startsWith('a') && n > 'a-b').slice(0, 2));
      // startAfter need not be a stored name.
      expect((await r.list(bucket, '', { startAfter: 'a/bb' })).map((e) => e.name)).to.deep.equal(sorted.filter((n) => n > 'a/bb'));
      const entry = (await r.list(bucket, 'config/acl'))[0];
      expect(entry.size).to.equal('config/acl'.length);
      expect(entry.lastModified).to.be.instanceOf(Date);
    });

    it('deletes: absent is fine, ifMatch deletes only that version', async () => {
      const bucket = await newBucket();
      await r.delete(bucket, 'never-written');
      const e1 = await r.put(bucket, 'doc', Buffer.from('one'));
      const e2 = await r.put(bucket, 'doc', Buffer.from('two'));
      if (!lacks.conditions) {
        await expectS3Error(r.delete(bucket, 'doc', { ifMatch: e1.etag }), 'PreconditionFailed');
        expect(await text(bucket, 'doc')).to.equal('two');
      }
      await r.delete(bucket, 'doc', { ifMatch: e2.etag });
      expect(await r.get(bucket, 'doc')).to.equal(undefined);
      if (!lacks.conditions) await expectS3Error(r.delete(bucket, 'doc', { ifMatch: e2.etag }), 'PreconditionFailed');
      await r.put(bucket, 'doc2', Buffer.from('x'));
      await r.delete(bucket, 'doc2');
      expect(await r.get(bucket, 'doc2')).to.equal(undefined);
      expect(await names(bucket, '')).to.deep.equal([]);
    });

    describe('compare-and-swap', () => {
      before(function () {
        if (lacks.conditions) this.skip();
      });

      it('ifNoneMatch * creates only; ifMatch replaces only the version read', async () => {
        const bucket = await newBucket();
        const e1 = await r.put(bucket, 'cas', Buffer.from('v1'), { ifNoneMatch: '*' });
        await expectS3Error(r.put(bucket, 'cas', Buffer.from('v1b'), { ifNoneMatch: '*' }), 'PreconditionFailed');
        const e2 = await r.put(bucket, 'cas', Buffer.from('v2'), { ifMatch: e1.etag });
        expect(e2.etag).to.not.equal(e1.etag);
        await expectS3Error(r.put(bucket, 'cas', Buffer.from('v3'), { ifMatch: e1.etag }), 'PreconditionFailed');
        expect(await text(bucket, 'cas')).to.equal('v2');
        expect((await entryOf(bucket, 'cas')).etag).to.equal(e2.etag);
        await expectS3Error(r.put(bucket, 'absent', Buffer.from('x'), { ifMatch: e2.etag }), 'PreconditionFailed');
        expect(await r.get(bucket, 'absent')).to.equal(undefined);
        // Streamed bodies honour the conditions too.
        await expectS3Error(r.put(bucket, 'cas', body('v4'), { ifMatch: e1.etag }), 'PreconditionFailed');
        await r.put(bucket, 'cas', body('v4'), { ifMatch: e2.etag });
        expect(await text(bucket, 'cas')).to.equal('v4');
      });

      it('of concurrent writers from one version exactly one wins', async () => {
        const bucket = await newBucket();
        const e = await r.put(bucket, 'race', Buffer.from('start'));
        const results = await Promise.allSettled(
          [1, 2, 3, 4, 5].map((i) => r.put(bucket, 'race', Buffer.from(`writer ${i}`), { ifMatch: e.etag })),
        );
        const ok = results.filter((x): x is PromiseFulfilledResult<ReservedEntry> => x.status === 'fulfilled');
        expect(ok.length).to.equal(1);
        for (const x of results) if (x.status === 'rejected') expect((x.reason as { code?: string }).code).to.equal('PreconditionFailed');
        expect((await entryOf(bucket, 'race')).etag).to.equal(ok[0].value.etag);
        const creators = await Promise.allSettled(
          [1, 2, 3, 4].map((i) => r.put(bucket, 'born', Buffer.from(`c${i}`), { ifNoneMatch: '*' })),
        );
        expect(creators.filter((x) => x.status === 'fulfilled').length).to.equal(1);
      });

      it('a counter incremented by concurrent read-modify-write loops ends exact', async () => {
        const bucket = await newBucket();
        await r.put(bucket, 'counter', Buffer.from('0'));
        const increment = async (): Promise<void> => {
          for (let attempt = 0; attempt < 100; attempt++) {
            const doc = (await r.get(bucket, 'counter'))!;
            const n = Number((await readAll(doc.body)).toString());
            try {
              await r.put(bucket, 'counter', Buffer.from(String(n + 1)), { ifMatch: doc.entry.etag });
              return;
            } catch (err) {
              if ((err as { code?: string }).code !== 'PreconditionFailed') throw err;
            }
          }
          throw new Error('no progress');
        };
        await Promise.all(
          [0, 1, 2].map(async () => {
            for (let i = 0; i < 5; i++) await increment();
          }),
        );
        expect(await text(bucket, 'counter')).to.equal('15');
      });
    });

    it('gives every write a new etag', async () => {
      const bucket = await newBucket();
      const e1 = await r.put(bucket, 'etag', Buffer.from('one'));
      const e2 = await r.put(bucket, 'etag', Buffer.from('two'));
      expect(e2.etag).to.not.equal(e1.etag);
      const e3 = await r.put(bucket, 'etag', Buffer.from('two'));
      if (!lacks.etagPerWrite) expect(e3.etag, 'the same bytes again').to.not.equal(e2.etag);
      await r.delete(bucket, 'etag');
      const e4 = await r.put(bucket, 'etag', Buffer.from('one'));
      if (!lacks.etagPerWrite) expect(e4.etag, 'recreated').to.not.equal(e1.etag);
      expect((await r.list(bucket, 'etag'))[0].etag).to.equal(e4.etag);
    });

    it('streams a large body in and out', async () => {
      const bucket = await newBucket();
      const size = options.largeBytes ?? 12 * 1024 * 1024 + 7;
      const block = pattern(256 * 1024, 9);
      const want = await md5Of(generatedBody(size, block));
      const e = await r.put(bucket, 'versions/big', generatedBody(size, block));
      expect(e.size).to.equal(size);
      const doc = (await r.get(bucket, 'versions/big'))!;
      expect(doc.entry.size).to.equal(size);
      expect(await md5Of(doc.body)).to.deep.equal(want);
      expect((await r.list(bucket, 'versions/'))[0].size).to.equal(size);
    });

    it('keeps the old document when a body fails half-way', async () => {
      const bucket = await newBucket();
      const e = await r.put(bucket, 'atomic', Buffer.from('kept'));
      let failed = false;
      try {
        await r.put(bucket, 'atomic', failingBody(pattern(256 * 1024), 100 * 1024));
      } catch {
        failed = true;
      }
      expect(failed, 'the put fails').to.equal(true);
      const doc = (await r.get(bucket, 'atomic'))!;
      expect((await readAll(doc.body)).toString()).to.equal('kept');
      expect(doc.entry.etag).to.equal(e.etag);
      await r.put(bucket, 'never', failingBody(pattern(64 * 1024), 1000)).catch(() => undefined);
      expect(await r.get(bucket, 'never')).to.equal(undefined);
      expect(await names(bucket, '')).to.deep.equal(['atomic']);
    });

    it('answers NoSuchBucket for a missing bucket', async function () {
      if (lacks.bucketAdmin) this.skip();
      const missing = `s3mux-rs-${runId}-missing`;
      await expectS3Error(r.get(missing, 'x'), 'NoSuchBucket');
      await expectS3Error(r.put(missing, 'x', Buffer.from('x')), 'NoSuchBucket');
      await expectS3Error(r.put(missing, 'x', body('streamed')), 'NoSuchBucket');
      await expectS3Error(r.list(missing, ''), 'NoSuchBucket');
      await expectS3Error(r.delete(missing, 'x'), 'NoSuchBucket');
      await expectS3Error(b.headBucket(missing), 'NoSuchBucket');
    });

    it('refuses names that are not plain segments', async () => {
      const bucket = await newBucket();
      const bad = [
        '',
        '.',
        '..',
        '../x',
        'a/../b',
        '.s3mux',
        '.hidden',
        'a//b',
        '/a',
        'a/',
        'x y',
        'é',
        'a\\b',
        'a\0',
        'x'.repeat(201),
        'a/'.repeat(450) + 'a',
      ];
      for (const n of bad) {
        await expectS3Error(r.put(bucket, n, Buffer.from('x')), 'InternalError');
        await expectS3Error(r.get(bucket, n), 'InternalError');
        await expectS3Error(r.delete(bucket, n), 'InternalError');
      }
      await expectS3Error(r.list(bucket, '../'), 'InternalError');
      await expectS3Error(r.list(bucket, 'a//'), 'InternalError');
      expect(await names(bucket, '')).to.deep.equal([]);
      expect((await b.listObjects(bucket, { prefix: '', maxKeys: 1000 })).objects).to.deep.equal([]);
    });

    it('is invisible to listings and to client keys under .s3mux/', async () => {
      const bucket = await newBucket();
      await r.put(bucket, 'config/acl', Buffer.from('secret'));
      await r.put(bucket, 'x', Buffer.from('reserved x'));
      for (const prefix of ['', '.', '.s3mux', '.s3mux/', '.s3mux/r/', '.s3mux/reserved/']) {
        for (const delimiter of [undefined, '/']) {
          const page = await b.listObjects(bucket, { prefix, delimiter, maxKeys: 1000 });
          expect(page.objects, `objects under '${prefix}' ${delimiter}`).to.deep.equal([]);
          expect(page.commonPrefixes, `prefixes under '${prefix}' ${delimiter}`).to.deep.equal([]);
        }
      }
      if (b.multipart) {
        const ups = await b.multipart.listUploads(bucket, { prefix: '', maxUploads: 1000 }).catch((e: { code?: string }) => {
          if (e.code === 'NotImplemented') return undefined;
          throw e;
        });
        if (ups) expect(ups.uploads.length + ups.commonPrefixes.length).to.equal(0);
      }
      // A client's own keys under .s3mux/ are ordinary objects, never the documents (or refused where the documents are).
      const inArea = ['.s3mux/r/x', '.s3mux/r/config/acl'];
      if (lacks.clientKeysInArea) {
        for (const key of inArea) {
          await expectS3Error(b.headObject(bucket, key), 'AccessDenied');
          await expectS3Error(b.openObject(bucket, key), 'AccessDenied');
          await expectS3Error(b.putObject(bucket, key, body('client'), { userMetadata: {} }, { size: 6 }), 'AccessDenied');
          await expectS3Error(b.deleteObject(bucket, key), 'AccessDenied');
          await expectS3Error(b.copyObject!(bucket, key, bucket, 'copied', undefined), 'AccessDenied');
          if (b.multipart) await expectS3Error(b.multipart.createUpload(bucket, key, { userMetadata: {} }), 'AccessDenied');
        }
      }
      const clientKeys = ['.s3mux/reserved/x', `.s3mux/reserved/${bucket}/x`, '.s3mux/rx', ...(lacks.clientKeysInArea ? [] : inArea)];
      for (const key of clientKeys) {
        await expectS3Error(b.headObject(bucket, key), 'NoSuchKey');
        await b.putObject(bucket, key, body('client'), { userMetadata: {} }, { size: 6 });
        expect((await getObject(b, bucket, key)).data.toString()).to.equal('client');
      }
      expect(await text(bucket, 'x')).to.equal('reserved x');
      expect(await text(bucket, 'config/acl')).to.equal('secret');
      expect(await names(bucket, '')).to.deep.equal(['config/acl', 'x']);
      const keys = (await b.listObjects(bucket, { prefix: '', maxKeys: 1000 })).objects.map((o) => o.key);
      expect(keys.sort()).to.deep.equal([...clientKeys].sort());
      // Grouped, the client's keys show as the common prefix '.s3mux/' (and '.s3mux/r/' where they can be there), documents never.
      const top = await b.listObjects(bucket, { prefix: '', delimiter: '/', maxKeys: 1000 });
      expect(top.commonPrefixes).to.deep.equal(['.s3mux/']);
      const inner = await b.listObjects(bucket, { prefix: '.s3mux/', delimiter: '/', maxKeys: 1000 });
      expect(inner.commonPrefixes).to.deep.equal(lacks.clientKeysInArea ? ['.s3mux/reserved/'] : ['.s3mux/r/', '.s3mux/reserved/']);
      expect(inner.objects.map((o) => o.key)).to.deep.equal(['.s3mux/rx']);
      for (const key of keys) await b.deleteObject(bucket, key);
      expect(await text(bucket, 'x')).to.equal('reserved x');
    });

    it('does not make a bucket non-empty, and goes with the bucket', async function () {
      if (lacks.bucketAdmin) this.skip();
      const bucket = await newBucket();
      await r.put(bucket, 'config/versioning', Buffer.from('{"status":"Enabled"}'));
      await r.put(bucket, 'versions/a/1', body('old bytes'));
      await b.putObject(bucket, 'obj', body('o'), { userMetadata: {} }, { size: 1 });
      await expectS3Error(b.deleteBucket(bucket), 'BucketNotEmpty');
      expect(await names(bucket, '')).to.deep.equal(['config/versioning', 'versions/a/1']);
      await b.deleteObject(bucket, 'obj');
      await b.deleteBucket(bucket);
      await expectS3Error(b.headBucket(bucket), 'NoSuchBucket');
      await b.createBucket(bucket);
      expect(await names(bucket, '')).to.deep.equal([]);
      expect(await r.get(bucket, 'config/versioning')).to.equal(undefined);
      expect((await b.listObjects(bucket, { prefix: '', maxKeys: 1000 })).objects).to.deep.equal([]);
    });
  });
}
