/**
 * The memory backend against the conformance suite, plus unit tests of the shared backend
 * helpers every adapter uses (listing, write conditions, key and bucket name validation).
 */
import { expect } from 'chai';
import { S3Error } from '../../src/errors';
import { checkWriteConditions, unquoteEtag } from '../../src/backends/conditions';
import { bucketNameProblem, validateBucketName, validateKey } from '../../src/backends/keys';
import {
  compareKeys,
  listFromSource,
  seekIsPast,
  seekWants,
  withLookahead,
  type ListSeek,
  type ListSource,
} from '../../src/backends/listing';
import { MemoryBackend } from '../../src/backends/memory/index';
import type { ObjectMeta, ObjectSummary } from '../../src/backends/types';
import { describeBackendConformance, expectedPage, utf8Sort } from './conformance';

describeBackendConformance('memory', async () => ({
  backend: new MemoryBackend({ name: 'conformance' }),
  cleanup: async () => {},
}));

describe('MemoryBackend specifics', () => {
  it('keeps separate stores per instance', async () => {
    const a = new MemoryBackend({ name: 'a' });
    const b = new MemoryBackend({ name: 'b' });
    await a.createBucket('only-in-a');
    expect((await b.listBuckets()).length).to.equal(0);
    expect(a.name).to.equal('a');
  });
});

function code(fn: () => void): string | undefined {
  try {
    fn();
    return undefined;
  } catch (e) {
    expect(e).to.be.instanceOf(S3Error);
    return (e as S3Error).code;
  }
}

describe('shared helper: compareKeys', () => {
  it('orders like Buffer.compare of the UTF-8 bytes', () => {
    const samples = ['', 'a', 'a/', 'a-', 'aé', 'a😀', 'a\uE000', 'a\uFFFD', 'A', '\uFF21', '😀', '😁', '\u{10FFFF}', 'é', 'ab', 'a\u0000'];
    for (const x of samples) {
      for (const y of samples) {
        const want = Math.sign(Buffer.compare(Buffer.from(x), Buffer.from(y)));
        expect(Math.sign(compareKeys(x, y)), `${JSON.stringify(x)} vs ${JSON.stringify(y)}`).to.equal(want);
      }
    }
  });
});

describe('shared helper: validateKey / validateBucketName', () => {
  it('accepts 1..1024 UTF-8 bytes and refuses the rest', () => {
    expect(code(() => validateKey('a'))).to.equal(undefined);
    expect(code(() => validateKey('x'.repeat(1024)))).to.equal(undefined);
    expect(code(() => validateKey('é'.repeat(512)))).to.equal(undefined);
    expect(code(() => validateKey('é'.repeat(512) + 'x'))).to.equal('KeyTooLongError');
    expect(code(() => validateKey('😀'.repeat(257)))).to.equal('KeyTooLongError');
    expect(code(() => validateKey(''))).to.equal('InvalidArgument');
    expect(code(() => validateKey('a\0b'))).to.equal('InvalidArgument');
    expect(code(() => validateKey('lone \uD800 surrogate'))).to.equal('InvalidArgument');
    expect(code(() => validateKey('../../etc/passwd'))).to.equal(undefined);
  });

  it("follows S3's bucket naming rules", () => {
    for (const good of ['abc', 'my-bucket', 'my.bucket.1', '1bucket', 'a'.repeat(63), 'xn-a', 'a-s3alias-not-end']) {
      expect(bucketNameProblem(good), good).to.equal(undefined);
    }
    for (const bad of [
      'ab',
      'a'.repeat(64),
      'Abc',
      'a_b',
      '-ab',
      'ab-',
      '.ab',
      'ab.',
      'a..b',
      '192.168.5.4',
      'xn--abc',
      'sthree-abc',
      'amzn-s3-demo-x',
      'abc-s3alias',
      'abc--ol-s3',
      'abc.mrap',
      'abc--x-s3',
      'a b',
      'a/b',
      '',
    ]) {
      expect(
        code(() => validateBucketName(bad)),
        bad,
      ).to.equal('InvalidBucketName');
    }
  });
});

describe('shared helper: checkWriteConditions', () => {
  const cur: ObjectMeta = { key: 'k', size: 1, etag: 'abc', lastModified: new Date(), userMetadata: {} };
  it('If-Match: needs the object (NoSuchKey, as S3 answers) and a matching ETag, quoted or not', () => {
    expect(code(() => checkWriteConditions(cur, { ifMatch: 'abc' }))).to.equal(undefined);
    expect(code(() => checkWriteConditions(cur, { ifMatch: '"abc"' }))).to.equal(undefined);
    expect(code(() => checkWriteConditions(cur, { ifMatch: '"x", "abc"' }))).to.equal(undefined);
    expect(code(() => checkWriteConditions(cur, { ifMatch: '*' }))).to.equal(undefined);
    expect(code(() => checkWriteConditions(cur, { ifMatch: '"abd"' }))).to.equal('PreconditionFailed');
    expect(code(() => checkWriteConditions(undefined, { ifMatch: 'abc' }))).to.equal('NoSuchKey');
  });
  it('If-None-Match: * fails when the object exists', () => {
    expect(code(() => checkWriteConditions(undefined, { ifNoneMatch: '*' }))).to.equal(undefined);
    expect(code(() => checkWriteConditions(cur, { ifNoneMatch: '*' }))).to.equal('PreconditionFailed');
    expect(code(() => checkWriteConditions(cur, { ifNoneMatch: '"abc"' }))).to.equal('PreconditionFailed');
    expect(code(() => checkWriteConditions(cur, { ifNoneMatch: '"other"' }))).to.equal(undefined);
  });
  it('no conditions: always passes', () => {
    expect(code(() => checkWriteConditions(cur, undefined))).to.equal(undefined);
    expect(code(() => checkWriteConditions(undefined, {}))).to.equal(undefined);
    expect(unquoteEtag('W/"abc"')).to.equal('abc');
  });
});

describe('shared helper: listFromSource', () => {
  const keys = utf8Sort(['a', 'a/1', 'a/2', 'a/3/x', 'a/4', 'b', 'c/1', 'c/2', 'c/3', 'd', 'd/e', 'e-f', 'e-g']);
  const summary = (key: string): ObjectSummary => ({ key, size: 1, etag: 'e', lastModified: new Date(0) });

  /** A source over `keys`, counting calls and yielded items; seekable or not. */
  function makeSource(seekable: boolean) {
    const stats = { calls: 0, yielded: 0, loads: 0, seeks: [] as ListSeek[] };
    const source: ListSource = (seek) => {
      stats.calls++;
      stats.seeks.push(seek);
      return (async function* () {
        for (const k of keys) {
          if (seekable && !seekWants(k, seek) && !seekIsPast(k, seek)) continue;
          stats.yielded++;
          yield {
            key: k,
            load: async () => {
              stats.loads++;
              return summary(k);
            },
          };
        }
      })();
    };
    return { source, stats };
  }

  async function pageThrough(source: ListSource, opts: { prefix: string; delimiter?: string; maxKeys: number }, canSeek: boolean) {
    const out: string[] = [];
    let after: string | undefined;
    for (let i = 0; i < 100; i++) {
      const page = await listFromSource(source, { ...opts, startAfter: after }, { canSeek });
      out.push(...utf8Sort([...page.objects.map((o) => o.key), ...page.commonPrefixes]));
      if (!page.isTruncated) return out;
      after = page.nextStartAfter;
    }
    throw new Error('no end');
  }

  for (const canSeek of [true, false]) {
    it(`matches the reference model (canSeek ${canSeek})`, async () => {
      for (const prefix of ['', 'a', 'a/', 'c', 'd/', 'e', 'zz']) {
        for (const delimiter of [undefined, '/', '-', '/2']) {
          for (const maxKeys of [1, 2, 5, 1000]) {
            const { source } = makeSource(canSeek);
            const got = await pageThrough(source, { prefix, delimiter, maxKeys }, canSeek);
            expect(got, `${prefix} ${delimiter} ${maxKeys}`).to.deep.equal(expectedPage(keys, prefix, delimiter).entries);
          }
        }
      }
    });
  }

  it('re-seeks past a common prefix instead of iterating its keys', async () => {
    const { source, stats } = makeSource(true);
    const page = await listFromSource(source, { prefix: '', delimiter: '/', maxKeys: 1000 });
    expect(page.commonPrefixes).to.deep.equal(['a/', 'c/', 'd/']);
    expect(stats.seeks.filter((s) => s.skipSubtree).map((s) => s.after)).to.deep.equal(['a/', 'c/', 'd/']);
    // a, a/1 (opens group a/), b, c/1 (opens c/), d, d/e (opens d/), e-f, e-g
    expect(stats.yielded).to.equal(8);
    // summaries are loaded only for returned objects
    expect(stats.loads).to.equal(page.objects.length);
  });

  it('treats a start position that is a common prefix as "skip the whole group"', async () => {
    const { source } = makeSource(true);
    const page = await listFromSource(source, { prefix: '', delimiter: '/', startAfter: 'a/', maxKeys: 1000 });
    expect(page.commonPrefixes).to.deep.equal(['c/', 'd/']);
    expect(page.objects.map((o) => o.key)).to.deep.equal(['b', 'd', 'e-f', 'e-g']);
    const noDelim = await listFromSource(source, { prefix: '', startAfter: 'a/', maxKeys: 1000 });
    expect(noDelim.objects.map((o) => o.key)[0]).to.equal('a/1');
  });

  it('reports truncation only when an entry really follows', async () => {
    const { source } = makeSource(true);
    const exact = await listFromSource(source, { prefix: 'c/', maxKeys: 3 });
    expect(exact.objects.length).to.equal(3);
    expect(exact.isTruncated).to.equal(false);
    expect(exact.nextStartAfter).to.equal(undefined);
    const cut = await listFromSource(source, { prefix: 'c/', maxKeys: 2 });
    expect(cut.isTruncated).to.equal(true);
    expect(cut.nextStartAfter).to.equal('c/2');
    const zero = await listFromSource(source, { prefix: '', maxKeys: 0 });
    expect(zero.objects).to.deep.equal([]);
    expect(zero.isTruncated).to.equal(false);
  });

  it('skips entries whose load finds them gone, and closes the source early', async () => {
    let returned = 0;
    const source: ListSource = () => {
      const it = (async function* () {
        for (const k of ['a', 'b', 'c', 'd', 'e']) yield { key: k, load: async () => (k === 'b' ? undefined : summary(k)) };
      })();
      const orig = it.return.bind(it);
      it.return = (v) => {
        returned++;
        return orig(v);
      };
      return it;
    };
    const page = await listFromSource(source, { prefix: '', maxKeys: 2 });
    expect(page.objects.map((o) => o.key)).to.deep.equal(['a', 'c']);
    expect(page.isTruncated).to.equal(true);
    expect(returned).to.equal(1);
  });

  it('refuses a source that is out of order', async () => {
    const source: ListSource = () =>
      (async function* () {
        yield summary('b');
        yield summary('a');
      })();
    let err: unknown;
    try {
      await listFromSource(source, { prefix: '', maxKeys: 10 });
    } catch (e) {
      err = e;
    }
    expect(String(err)).to.match(/out of order/);
  });

  describe('withLookahead', () => {
    it('lists what the source lists, loading each summary once', async () => {
      for (const delimiter of [undefined, '/']) {
        for (const maxKeys of [1, 2, 5, 1000]) {
          const { source, stats } = makeSource(true);
          const got = await pageThrough(withLookahead(source, 3), { prefix: '', delimiter, maxKeys }, true);
          expect(got, `${delimiter} ${maxKeys}`).to.deep.equal(expectedPage(keys, '', delimiter).entries);
          // every load is of a distinct entry: none twice, at most a window's worth past each page
          expect(stats.loads).to.be.at.most(stats.yielded);
        }
      }
    });

    it('starts the next entries loading once a summary is asked for, and not before', async () => {
      const started: string[] = [];
      const release: Array<() => void> = [];
      const source: ListSource = () =>
        (async function* () {
          for (const k of ['a', 'b', 'c', 'd', 'e', 'f', 'g']) {
            yield {
              key: k,
              load: () => {
                started.push(k);
                return new Promise<ObjectSummary>((resolve) => release.push(() => resolve(summary(k))));
              },
            };
          }
        })();
      const it = withLookahead(source, 3)({ prefix: '' })[Symbol.asyncIterator]();
      const first = (await it.next()).value as { key: string; load(): Promise<ObjectSummary | undefined> };
      await new Promise((r) => setImmediate(r));
      expect(started).to.deep.equal([]);
      const loading = first.load();
      for (let i = 0; i < 5; i++) await new Promise((r) => setImmediate(r));
      expect(started).to.deep.equal(['a', 'b', 'c', 'd']);
      // taking the next entries keeps the window full: each one taken brings one more in
      for (const k of ['b', 'c']) {
        const e = (await it.next()).value as { key: string; load(): Promise<ObjectSummary | undefined> };
        expect(e.key).to.equal(k);
        void e.load();
        for (let i = 0; i < 5; i++) await new Promise((r) => setImmediate(r));
      }
      expect(started).to.deep.equal(['a', 'b', 'c', 'd', 'e', 'f']);
      for (const r of release) r();
      expect((await loading)?.key).to.equal('a');
      await it.return?.();
    });
  });
});
