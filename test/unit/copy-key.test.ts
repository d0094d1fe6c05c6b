/**
 * A migration copy taken back because the key was deleted through s3mux meanwhile: only the copy
 * goes, never a client's write that landed after it.
 */
import { createHash } from 'node:crypto';
import { Readable } from 'node:stream';
import { expect } from 'chai';
import { MemoryBackend } from '../../src/backends/memory';
import type { Backend, ObjectMeta } from '../../src/backends/types';
import { takeBackIfDeleted } from '../../src/router/forms/copy-key';
import { Target } from '../../src/router/forms/target';
import type { Tombstones } from '../../src/router/forms/tombstones';

const md5 = (s: string) => createHash('md5').update(s).digest('hex');
const deleted = { has: async () => true } as unknown as Tombstones;

describe('migration: taking back a copy of a deleted key', () => {
  it("removes the copy, and keeps a client's write that lands between a look at the key and the delete", async () => {
    const store = new MemoryBackend({ name: 'dst' });
    await store.createBucket('bkt');
    const put = (data: string) =>
      store.putObject('bkt', 'k', Readable.from([Buffer.from(data)]), { userMetadata: {} }, { size: data.length });
    // The client's write lands during the take-back, at the first call it makes to the store:
    // after a HEAD has answered, or before a delete.
    let clientWrites = 0;
    const clientWrite = async () => {
      if (clientWrites++ === 0) await put('the client wrote this after the delete');
    };
    const racing: Backend = Object.create(store, {
      headObject: {
        value: async (bucket: string, key: string): Promise<ObjectMeta> => {
          const meta = await store.headObject(bucket, key);
          await clientWrite();
          return meta;
        },
      },
      deleteObject: {
        value: async (bucket: string, key: string) => {
          await clientWrite();
          return store.deleteObject(bucket, key);
        },
      },
      deleteObjectIfMatch: {
        value: async (bucket: string, key: string, etag: string) => {
          await clientWrite();
          return store.deleteObjectIfMatch(bucket, key, etag);
        },
      },
    });
    const copied = await put('the old copy');
    const to = new Target('dst', racing, 'bkt', '');
    expect(await takeBackIfDeleted(to, 'k', copied.etag, deleted)).to.equal(true);
    const now = await store.headObject('bkt', 'k').catch(() => undefined);
    expect(now?.etag, 'the client write survives').to.equal(md5('the client wrote this after the delete'));

    // Without a write meanwhile the copy is removed.
    clientWrites = 1;
    const copy = await put('another copy');
    expect(await takeBackIfDeleted(to, 'k', copy.etag, deleted)).to.equal(true);
    expect(await store.headObject('bkt', 'k').catch(() => undefined)).to.equal(undefined);
  });
});
