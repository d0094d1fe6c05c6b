/** The shared native lock layer (src/backends/native-lock.ts): the lock a write carries, and how long a bucket's "lock enabled" answer is kept. */
import { expect } from 'chai';
import { ANSWER_LIFETIME_MS, nativeLock } from '../../src/backends/native-lock';
import type { StoreLock } from '../../src/backends/reserved-store';

const LOCK: StoreLock = { retention: { mode: 'COMPLIANCE', until: '2030-01-01T00:00:00.000Z' } };

function fakeStore(answer: { enabled: boolean }) {
  const asked: string[] = [];
  const calls: string[] = [];
  let clock = 1_000_000;
  let failNext = false;
  const lock = nativeLock(
    {
      enabled: async (bucket) => {
        asked.push(bucket);
        return answer.enabled;
      },
      retain: async (_b, name) => {
        if (failNext) {
          failNext = false;
          throw new Error('the store refused the retention');
        }
        calls.push(`retain ${name}`);
      },
      hold: async (_b, name, on) => void calls.push(`hold ${name} ${on}`),
    },
    () => clock,
  );
  return { lock, asked, calls, tick: (ms: number) => (clock += ms), failOnce: () => (failNext = true) };
}

describe('native lock layer', () => {
  it('a write carries the lock only where the bucket has the store’s lock, and only a lock that asks for something', async () => {
    const on = fakeStore({ enabled: true });
    expect(await on.lock.forWrite('b', LOCK)).to.deep.equal(LOCK);
    expect(await on.lock.forWrite('b', { legalHold: 'OFF' })).to.equal(undefined);
    expect(await on.lock.forWrite('b', undefined)).to.equal(undefined);
    const off = fakeStore({ enabled: false });
    expect(await off.lock.forWrite('b', LOCK)).to.equal(undefined);
  });

  it('the bucket’s answer is kept for a minute, then asked again, so a lock turned on in the store applies without a restart', async () => {
    const answer = { enabled: false };
    const s = fakeStore(answer);
    expect(await s.lock.forWrite('b', LOCK)).to.equal(undefined);
    answer.enabled = true;
    s.tick(ANSWER_LIFETIME_MS - 1);
    expect(await s.lock.forWrite('b', LOCK)).to.equal(undefined);
    expect(s.asked).to.deep.equal(['b']);
    s.tick(1);
    expect(await s.lock.forWrite('b', LOCK)).to.deep.equal(LOCK);
    expect(s.asked).to.deep.equal(['b', 'b']);
    expect(ANSWER_LIFETIME_MS).to.equal(60_000);
  });

  it('a failed lock call (or `forget`) makes the next use ask the bucket again', async () => {
    const s = fakeStore({ enabled: true });
    s.failOnce();
    const failed = await s.lock.protect('b', 'n', LOCK).then(
      () => 'ok',
      (e: Error) => e.message,
    );
    expect(failed).to.equal('the store refused the retention');
    await s.lock.protect('b', 'n', LOCK);
    expect(s.asked).to.deep.equal(['b', 'b']);
    s.lock.forget('b');
    await s.lock.forWrite('b', LOCK);
    expect(s.asked).to.deep.equal(['b', 'b', 'b']);
    expect(s.calls).to.deep.equal(['retain n']);
  });
});
