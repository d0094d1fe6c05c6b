import { expect } from 'chai';
import { mapBounded } from '../../src/bounded-map';

const tick = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));

describe('mapBounded', () => {
  it('keeps the items order whatever order the calls end in, with at most `limit` in flight', async () => {
    let inFlight = 0;
    let most = 0;
    const out = await mapBounded([5, 1, 4, 2, 3, 0], 3, async (n, i) => {
      most = Math.max(most, ++inFlight);
      await tick(n * 3);
      inFlight--;
      return `${i}:${n}`;
    });
    expect(out).to.deep.equal(['0:5', '1:1', '2:4', '3:2', '4:3', '5:0']);
    expect(most).to.equal(3);
  });

  it('answers [] for no items, and never starts more calls than items', async () => {
    expect(await mapBounded([], 4, async () => 1)).to.deep.equal([]);
    let calls = 0;
    await mapBounded([1], 16, async () => ++calls);
    expect(calls).to.equal(1);
  });

  it('rejects with the first failure and starts no call after it', async () => {
    const started: number[] = [];
    const failing = mapBounded([0, 1, 2, 3, 4, 5, 6, 7], 2, async (n) => {
      started.push(n);
      await tick(2);
      if (n === 1) throw new Error('boom');
      return n;
    });
    let caught: unknown;
    await failing.catch((err: unknown) => (caught = err));
    await tick(20);
    expect((caught as Error).message).to.equal('boom');
    // 0 and 1 ran together; when 1 failed, 0's worker had taken 2 at most.
    expect(started.length).to.be.at.most(3);
  });
});
