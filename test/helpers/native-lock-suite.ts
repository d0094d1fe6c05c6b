/**
 * One suite for a store's native object lock under s3mux (test/backends/*-native-lock.test.ts):
 * s3mux in front of the store, a virtual bucket with object lock on a whole store bucket, and
 * what a client reaching the store directly sees of each locked version's bytes. Each store
 * says how to make its buckets and how to look at its objects (NativeLockStore).
 */
import { createHash } from 'node:crypto';
import { expect } from 'chai';
import {
  CompleteMultipartUploadCommand,
  CreateBucketCommand,
  CreateMultipartUploadCommand,
  UploadPartCommand,
  DeleteObjectCommand,
  GetObjectCommand,
  PutBucketVersioningCommand,
  PutObjectCommand,
  PutObjectLegalHoldCommand,
  PutObjectLockConfigurationCommand,
  PutObjectRetentionCommand,
  type S3Client,
} from '@aws-sdk/client-s3';
import { validateRoutingTable } from '../../src/router/config';
import { Router } from '../../src/router/router';
import { startTestServer, type TestServer } from './server';

const md5 = (s: string): string => createHash('md5').update(s).digest('base64');

export interface NativeLockStore {
  /** Starts the store (before all). */
  start(): Promise<void>;
  stop(): Promise<void>;
  /** Creates a store bucket, with the store's lock enabled or not. */
  createBucket(name: string, withLock: boolean): Promise<void>;
  /** The routing table's backends and the route of virtual bucket `vault` onto the whole store bucket. */
  table(storeBucket: string): Record<string, unknown>;
  /** Names of the store objects under the reserved area's `v/d/` (version bytes). */
  blobs(storeBucket: string): Promise<string[]>;
  /** The store's own lock on one object, in S3's terms. */
  lockOf(storeBucket: string, name: string): Promise<{ mode?: 'GOVERNANCE' | 'COMPLIANCE'; until?: Date; hold: boolean }>;
  /** A direct delete of the object, bypassing s3mux: 'deleted' or the store's refusal. */
  directDelete(storeBucket: string, name: string): Promise<string>;
  /** The store's refusal a protected object gets from directDelete. */
  refusal: string;
  /** How many calls changing the lock of an existing object the store has answered in this bucket (uploads not counted). */
  lockCalls(storeBucket: string): Promise<number>;
  /** Whether the store bucket has the store's own lock enabled. */
  lockEnabled(storeBucket: string): Promise<boolean>;
  /** Turns the store's lock on for an existing bucket, where the store allows that (absent: it does not). */
  enableLock?(storeBucket: string): Promise<void>;
}

/** A body big enough to take each store's multi-request upload (S3 multipart above 8 MiB, Azure blocks of 4 MiB). */
const BIG = Buffer.alloc(9 * 1024 * 1024, 'lock');
const md5Of = (b: Buffer): string => createHash('md5').update(b).digest('base64');

/** Runs `fn` with the clock `ms` ahead (both s3mux processes and their signatures see the same time). */
async function later<T>(ms: number, fn: () => Promise<T>): Promise<T> {
  const real = Date.now;
  Date.now = () => real() + ms;
  try {
    return await fn();
  } finally {
    Date.now = real;
  }
}

/** A retain-until date the store keeps exactly (Azure keeps whole seconds). */
const inAnHour = (extra = 0) => new Date(Math.ceil(Date.now() / 1000) * 1000 + 3600_000 + extra);

export function nativeLockSuite(title: string, store: NativeLockStore): void {
  describe(title, function () {
    this.timeout(90_000);
    let front: TestServer | undefined;

    before(() => store.start());
    after(async () => {
      await front?.stop();
      await store.stop();
    });

    async function startFront(storeBucket: string): Promise<S3Client> {
      await front?.stop();
      front = await startTestServer({ router: Router.fromTable(validateRoutingTable(store.table(storeBucket))) });
      return front.s3;
    }

    async function vault(storeBucket: string, withLock: boolean): Promise<S3Client> {
      await store.createBucket(storeBucket, withLock);
      const s3 = await startFront(storeBucket);
      await s3.send(new PutBucketVersioningCommand({ Bucket: 'vault', VersioningConfiguration: { Status: 'Enabled' } }));
      await s3.send(new PutObjectLockConfigurationCommand({ Bucket: 'vault', ObjectLockConfiguration: { ObjectLockEnabled: 'Enabled' } }));
      return s3;
    }

    const putLocked = (s3: S3Client, Key: string, Body: string, lock: Partial<PutObjectCommand['input']>) =>
      s3.send(new PutObjectCommand({ Bucket: 'vault', Key, Body, ContentMD5: md5(Body), ...lock }));

    it('a COMPLIANCE version: the store locks its bytes, a direct delete is refused; legal hold and extension follow', async () => {
      const s3 = await vault('locked-store', true);
      const until = inAnHour();
      await putLocked(s3, 'ledger.txt', 'entry one', { ObjectLockMode: 'COMPLIANCE', ObjectLockRetainUntilDate: until });
      const [blob] = await store.blobs('locked-store');
      expect(blob).to.be.a('string');
      expect(await store.lockOf('locked-store', blob)).to.deep.equal({ mode: 'COMPLIANCE', until, hold: false });

      // A client of the store that bypasses s3mux cannot remove the bytes.
      expect(await store.directDelete('locked-store', blob)).to.equal(store.refusal);

      // A legal hold through s3mux is the store's; released, it is gone again.
      await s3.send(new PutObjectLegalHoldCommand({ Bucket: 'vault', Key: 'ledger.txt', LegalHold: { Status: 'ON' } }));
      expect((await store.lockOf('locked-store', blob)).hold).to.equal(true);
      await s3.send(new PutObjectLegalHoldCommand({ Bucket: 'vault', Key: 'ledger.txt', LegalHold: { Status: 'OFF' } }));
      expect((await store.lockOf('locked-store', blob)).hold).to.equal(false);

      // Extending the retention through s3mux extends it in the store.
      const later = inAnHour(3600_000);
      await s3.send(
        new PutObjectRetentionCommand({ Bucket: 'vault', Key: 'ledger.txt', Retention: { Mode: 'COMPLIANCE', RetainUntilDate: later } }),
      );
      expect((await store.lockOf('locked-store', blob)).until?.getTime()).to.equal(later.getTime());

      const got = await s3.send(new GetObjectCommand({ Bucket: 'vault', Key: 'ledger.txt' }));
      expect(got.ObjectLockMode).to.equal('COMPLIANCE');
      expect(await got.Body!.transformToString()).to.equal('entry one');
    });

    it('a GOVERNANCE version deleted with the bypass: s3mux lifts the store’s retention and the bytes go', async () => {
      const s3 = await vault('governed-store', true);
      const put = await putLocked(s3, 'draft', 'v1', { ObjectLockMode: 'GOVERNANCE', ObjectLockRetainUntilDate: inAnHour() });
      const [blob] = await store.blobs('governed-store');
      expect((await store.lockOf('governed-store', blob)).mode).to.equal('GOVERNANCE');
      expect(await store.directDelete('governed-store', blob)).to.equal(store.refusal);
      await s3.send(new DeleteObjectCommand({ Bucket: 'vault', Key: 'draft', VersionId: put.VersionId, BypassGovernanceRetention: true }));
      expect(await store.blobs('governed-store')).to.deep.equal([]);
    });

    it('a write refused after its bytes were locked (If-None-Match on a taken key): the store lifts the lock and the bytes go', async () => {
      const s3 = await vault('refused-store', true);
      await s3.send(new PutObjectCommand({ Bucket: 'vault', Key: 'taken', Body: 'first' }));
      const before = await store.blobs('refused-store');
      expect(before).to.have.length(1);
      const lock = {
        ObjectLockMode: 'GOVERNANCE' as const,
        ObjectLockRetainUntilDate: inAnHour(),
        ObjectLockLegalHoldStatus: 'ON' as const,
      };
      const refused = await putLocked(s3, 'taken', 'second', { ...lock, IfNoneMatch: '*' }).then(
        () => 'written',
        (e: Error) => e.name,
      );
      expect(refused).to.equal('PreconditionFailed');
      expect(await store.blobs('refused-store')).to.deep.equal(before);
    });

    it('the lock comes with the write: no separate lock call, the bytes locked from their first moment (one-request, multi-request and multipart uploads)', async () => {
      const s3 = await vault('onwrite-store', true);
      const until = inAnHour();
      const lock = { ObjectLockMode: 'COMPLIANCE' as const, ObjectLockRetainUntilDate: until, ObjectLockLegalHoldStatus: 'ON' as const };
      await putLocked(s3, 'small', 'a few bytes', lock);
      await s3.send(new PutObjectCommand({ Bucket: 'vault', Key: 'big', Body: BIG, ContentMD5: md5Of(BIG), ...lock }));
      // A multipart upload's lock is applied by Complete, as its bytes become a version.
      const { UploadId } = await s3.send(new CreateMultipartUploadCommand({ Bucket: 'vault', Key: 'parts', ...lock }));
      const part = await s3.send(new UploadPartCommand({ Bucket: 'vault', Key: 'parts', UploadId, PartNumber: 1, Body: 'one part' }));
      await s3.send(
        new CompleteMultipartUploadCommand({
          Bucket: 'vault',
          Key: 'parts',
          UploadId,
          MultipartUpload: { Parts: [{ PartNumber: 1, ETag: part.ETag }] },
        }),
      );
      const blobs = await store.blobs('onwrite-store');
      expect(blobs).to.have.length(3);
      for (const blob of blobs) expect(await store.lockOf('onwrite-store', blob)).to.deep.equal({ mode: 'COMPLIANCE', until, hold: true });
      expect(await store.lockCalls('onwrite-store')).to.equal(0);
      const got = await s3.send(new GetObjectCommand({ Bucket: 'vault', Key: 'big' }));
      expect(Buffer.from(await got.Body!.transformToByteArray()).equals(BIG)).to.equal(true);
    });

    it('a COMPLIANCE write refused before its commit leaves no locked bytes: If-None-Match on a taken key, a body failing its digest', async () => {
      const s3 = await vault('failed-store', true);
      await s3.send(new PutObjectCommand({ Bucket: 'vault', Key: 'taken', Body: 'first' }));
      const before = await store.blobs('failed-store');
      const compliance = { ObjectLockMode: 'COMPLIANCE' as const, ObjectLockRetainUntilDate: inAnHour() };
      const taken = await putLocked(s3, 'taken', 'second', { ...compliance, IfNoneMatch: '*' }).then(
        () => 'written',
        (e: Error) => e.name,
      );
      expect(taken).to.equal('PreconditionFailed');
      const wrongDigest = md5Of(Buffer.from('not the body'));
      const corrupt = await s3
        .send(new PutObjectCommand({ Bucket: 'vault', Key: 'fresh', Body: BIG, ContentMD5: wrongDigest, ...compliance }))
        .then(
          () => 'written',
          (e: Error) => e.name,
        );
      expect(corrupt).to.equal('BadDigest');
      expect(await store.blobs('failed-store')).to.deep.equal(before);
    });

    it('CreateBucket with object lock through s3mux creates the store bucket with the store’s lock on', async () => {
      const s3 = await startFront('created-store');
      await s3.send(new CreateBucketCommand({ Bucket: 'vault', ObjectLockEnabledForBucket: true }));
      expect(await store.lockEnabled('created-store')).to.equal(true);
      const until = inAnHour();
      await putLocked(s3, 'k', 'kept', { ObjectLockMode: 'COMPLIANCE', ObjectLockRetainUntilDate: until });
      const [blob] = await store.blobs('created-store');
      expect(await store.lockOf('created-store', blob)).to.deep.equal({ mode: 'COMPLIANCE', until, hold: false });
      expect(await store.directDelete('created-store', blob)).to.equal(store.refusal);
    });

    if (store.enableLock) {
      const enableLock = store.enableLock.bind(store);
      it('the store’s lock turned on later applies once the kept answer is a minute old, without a restart', async () => {
        const s3 = await vault('later-store', false);
        const lock = { ObjectLockMode: 'GOVERNANCE' as const, ObjectLockRetainUntilDate: inAnHour() };
        await putLocked(s3, 'before', 'b', lock);
        await enableLock('later-store');
        await putLocked(s3, 'kept', 'k', lock); // the answer asked a moment ago is kept
        const modes = async () =>
          (await Promise.all((await store.blobs('later-store')).map(async (n) => (await store.lockOf('later-store', n)).mode))).sort();
        expect(await modes()).to.deep.equal([undefined, undefined]);
        await later(61_000, () => putLocked(s3, 'after', 'a', lock));
        expect(await modes()).to.deep.equal(['GOVERNANCE', undefined, undefined]);
      });
    }

    it('a store bucket without its lock enabled: the lock is s3mux’s only', async () => {
      const s3 = await vault('plain-store', false);
      const put = await putLocked(s3, 'k', 'x', {
        ObjectLockMode: 'COMPLIANCE',
        ObjectLockRetainUntilDate: inAnHour(),
        ObjectLockLegalHoldStatus: 'ON',
      });
      const [blob] = await store.blobs('plain-store');
      expect(await store.lockOf('plain-store', blob)).to.deep.equal({ mode: undefined, until: undefined, hold: false });
      const refused = await s3.send(new DeleteObjectCommand({ Bucket: 'vault', Key: 'k', VersionId: put.VersionId })).then(
        () => 'deleted',
        (e: Error) => e.name,
      );
      expect(refused).to.equal('AccessDenied');
    });
  });
}
