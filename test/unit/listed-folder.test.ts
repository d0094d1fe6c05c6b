/** The fs listing's compact folder: sorted ranges, names on disk, summaries checked by file identity and kept across re-reads. */
import { expect } from 'chai';
import { DIR, FILE, FolderBuilder, SELF, type EntryKind, type ListedFolder } from '../../src/backends/fs/listed-folder';

/** A folder of these entries (parallel arrays; `names` by index where the name on disk is not the segment), sorted. */
function sortedFolder(ranges: string[], kinds: EntryKind[], names: Map<number, string>): ListedFolder {
  const b = new FolderBuilder();
  for (let i = 0; i < ranges.length; i++) {
    const r = kinds[i] === DIR ? ranges[i].slice(0, -1) : ranges[i];
    b.add(Buffer.from(r, 'utf8'), kinds[i], names.get(i));
  }
  return b.build();
}

const rangesOf = (f: ListedFolder): string[] => Array.from({ length: f.length }, (_, i) => f.range(i));

const md5 = 'd41d8cd98f00b204e9800998ecf8427e';

describe('ListedFolder', () => {
  it('sorts by UTF-8 order and gives each entry its name on disk', () => {
    const ranges = ['b', 'a/', 'a', 'a-x', '\u{1F600}', '\uFFFD', '.s3mux~.hidden'];
    const kinds: EntryKind[] = [FILE, DIR, SELF, FILE, FILE, FILE, FILE];
    const f = sortedFolder(ranges, kinds, new Map([[6, '.s3mux~.s3mux~.hidden']]));
    expect(rangesOf(f)).to.deep.equal(['.s3mux~.hidden', 'a', 'a-x', 'a/', 'b', '\uFFFD', '\u{1F600}']);
    expect([...f.kinds]).to.deep.equal([FILE, SELF, FILE, DIR, FILE, FILE, FILE]);
    expect(f.name(0)).to.equal('.s3mux~.s3mux~.hidden');
    expect(f.name(1)).to.equal('a');
    expect(f.name(3)).to.equal('a');
  });

  it('keeps a summary only while the data file has the identity it was read from', () => {
    const f = sortedFolder(['k1', 'k2', 'k3'], [FILE, FILE, FILE], new Map());
    const id = { ino: 42, size: 3, mtimeMs: 1_700_000_000_123.5 };
    expect(f.summary(0, id)).to.equal(undefined);
    f.remember(0, id, { etag: md5 });
    f.remember(1, { ...id, ino: 43 }, { etag: `${md5}-3` });
    f.remember(2, { ...id, ino: 44 }, { etag: md5, storageClass: 'GLACIER' });
    expect(f.summary(0, id)).to.deep.equal({ etag: md5 });
    expect(f.summary(0, { ...id, ino: 41 })).to.equal(undefined);
    expect(f.summary(0, { ...id, size: 4 })).to.equal(undefined);
    expect(f.summary(0, { ...id, mtimeMs: id.mtimeMs + 0.5 })).to.equal(undefined);
    expect(f.summary(1, { ...id, ino: 43 })).to.deep.equal({ etag: `${md5}-3` });
    expect(f.summary(2, { ...id, ino: 44 })).to.deep.equal({ etag: md5, storageClass: 'GLACIER' });
    // A later plain summary replaces an odd one.
    f.remember(1, { ...id, ino: 45 }, { etag: md5 });
    expect(f.summary(1, { ...id, ino: 45 })).to.deep.equal({ etag: md5 });
  });

  it('a re-read folder adopts the summaries of entries that are still the same', () => {
    const old = sortedFolder(['a', 'b', 'c', 'd/', 'd'], [FILE, FILE, FILE, DIR, SELF], new Map());
    const id = (ino: number) => ({ ino, size: 1, mtimeMs: 5 });
    old.remember(0, id(1), { etag: md5 });
    old.remember(1, id(2), { etag: `${md5}-2` });
    old.remember(2, id(3), { etag: md5 });
    expect(rangesOf(old)).to.deep.equal(['a', 'b', 'c', 'd', 'd/']);
    old.remember(3, id(5), { etag: md5 });
    // 'b' deleted, 'bb' added, 'c' is now a folder's directory-form object, 'd' unchanged.
    const now = sortedFolder(['a', 'bb', 'c', 'c/', 'd', 'd/'], [FILE, FILE, SELF, DIR, SELF, DIR], new Map());
    now.adopt(old);
    expect(now.summary(0, id(1))).to.deep.equal({ etag: md5 });
    expect(now.summary(1, id(2))).to.equal(undefined);
    expect(now.summary(2, id(3))).to.equal(undefined);
    expect(now.summary(4, id(5))).to.deep.equal({ etag: md5 });
  });

  it('keeps the algorithm and type of an object\u2019s checksum in its slot, across a re-read too', () => {
    const f = sortedFolder(['a', 'b', 'c', 'd', 'e'], [FILE, FILE, FILE, FILE, FILE], new Map());
    const id = (ino: number) => ({ ino, size: 1, mtimeMs: 5 });
    const kept = [
      { etag: md5, checksumAlgorithm: 'crc32', checksumType: 'FULL_OBJECT' },
      { etag: md5, checksumAlgorithm: 'sha256', checksumType: 'FULL_OBJECT' },
      { etag: md5, checksumAlgorithm: 'crc64nvme', checksumType: 'COMPOSITE' },
      { etag: md5 },
      // Odd summaries (a multipart ETag) keep theirs beside the others' fields.
      { etag: `${md5}-2`, checksumAlgorithm: 'crc32c', checksumType: 'COMPOSITE' },
    ] as const;
    kept.forEach((k, i) => f.remember(i, id(i + 1), { ...k }));
    kept.forEach((k, i) => expect(f.summary(i, id(i + 1)), k.etag).to.deep.equal(k));
    // A plain summary without a checksum replaces one with a checksum.
    f.remember(0, id(9), { etag: md5 });
    expect(f.summary(0, id(9))).to.deep.equal({ etag: md5 });
    const now = sortedFolder(['a', 'b', 'c', 'd', 'e'], [FILE, FILE, FILE, FILE, FILE], new Map());
    now.adopt(f);
    kept.forEach((k, i) => i > 0 && expect(now.summary(i, id(i + 1)), k.etag).to.deep.equal(k));
  });
});
