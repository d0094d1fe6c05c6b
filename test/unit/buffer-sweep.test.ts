/**
 * A serving s3mux asks V8 for a young-generation collection when the memory held outside V8's
 * heap (spent body chunks among it) has grown (src/buffer-sweep.ts). Its effect on the server's
 * peak memory is measured by the bench (bench/RESULTS.md, issue 15, fifteenth pass); here: when
 * it asks, that what it asks for frees dead buffers (in a child node, so no other test's
 * allocations interfere), and that `s3mux serve` asks while a large upload streams in.
 */
import { execFile } from 'node:child_process';
import path from 'node:path';
import { Readable } from 'node:stream';
import { promisify } from 'node:util';
import { CreateBucketCommand, PutObjectCommand } from '@aws-sdk/client-s3';
import { expect } from 'chai';
import { BufferSweep, QUIET_TICKS, RESTING_INTERVAL_MS, startBufferSweep, SWEEP_INTERVAL_MS } from '../../src/buffer-sweep';
import { childServersPerTest } from '../helpers/child-server';

const MODULE = path.resolve(__dirname, '../../src/buffer-sweep.js');
const MiB = 1024 * 1024;

/** Runs in a child node: 16 MiB of 64 KiB buffers (as Node's HTTP parser makes them), dropped; how much is freed within half a second. */
const CHILD = `
const vm = require('node:vm');
const { youngCollector } = require(${JSON.stringify(MODULE)});
// Node's own count of Buffers' memory, which counts a free at once (the sweep's reading counts it later).
const arrayBufferMemory = () => process.memoryUsage().arrayBuffers;
const collect = youngCollector();
const seen = { globalGc: typeof globalThis.gc, newContextGc: vm.runInNewContext('typeof gc') };
let held = Array.from({ length: 256 }, () => Buffer.allocUnsafeSlow(64 * 1024));
const before = arrayBufferMemory();
held = undefined;
if (process.argv[1] === 'collect') collect();
const deadline = Date.now() + 500;
(function poll() {
  const freed = before - arrayBufferMemory();
  if (freed >= 8 * ${MiB} || Date.now() > deadline) console.log(JSON.stringify({ ...seen, freedMiB: freed / ${MiB} }));
  else setTimeout(poll, 10);
})();
`;

async function child(mode: 'collect' | 'wait'): Promise<{ globalGc: string; newContextGc: string; freedMiB: number }> {
  const { stdout } = await promisify(execFile)(process.execPath, ['-e', CHILD, mode]);
  return JSON.parse(stdout) as { globalGc: string; newContextGc: string; freedMiB: number };
}

describe('buffer sweep of a serving s3mux', () => {
  const servers = childServersPerTest('s3mux-sweep-');

  it('asks for a collection only when the reading has grown past the threshold since its low point', () => {
    const readings = [10, 12, 10 + 4, 9, 9 + 4, 9 + 4.5, 3, 7.5, 8, 8];
    let i = 0;
    const asked: number[] = [];
    const sweep = new BufferSweep(
      () => readings[i++] * MiB,
      () => asked.push(i),
      4 * MiB,
    );
    // 10 (low), 12, 14 (growth 4: not past), 9 (new low), 13 (4), 13.5: past, so a collection; read again: 3 (low);
    // 7.5 (4.5): past again; read again: 8, the new low (what a collection leaves is the live memory to grow from).
    for (let t = 0; t < 7; t++) sweep.tick();
    expect(asked).to.deep.equal([6, 8]);
    expect(sweep.collections).to.equal(2);
  });

  it('a reading that throws stops the sweep and is reported, and the process goes on', async () => {
    let readings = 0;
    const errors: unknown[] = [];
    const failing = new BufferSweep(
      () => {
        readings++;
        throw new Error('no reading');
      },
      () => undefined,
    );
    const { stop } = startBufferSweep((err) => errors.push(err), failing);
    await new Promise((resolve) => setTimeout(resolve, SWEEP_INTERVAL_MS * 5));
    stop();
    expect(readings).to.equal(1);
    expect(errors.map((e) => (e as Error).message)).to.deep.equal(['no reading']);
  });

  it('rests while the reading does not move (a reading a second), and a request or a moving reading wakes it', async function () {
    this.timeout(20_000);
    const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));
    let held = 100 * MiB;
    let reads = 0;
    const sweep = new BufferSweep(
      () => {
        reads++;
        return held;
      },
      () => undefined,
    );
    const { stop, wake } = startBufferSweep(() => undefined, sweep);
    // Awake, 5 readings take 100 ms; resting, they would take 5 s. Waiting for them up to 2.5 s
    // (not a fixed 300 ms) tells the two apart on a machine whose timers run late under load.
    const readsWithin = async (from: number, n: number): Promise<number> => {
      const deadline = Date.now() + RESTING_INTERVAL_MS * 2.5;
      while (reads - from < n && Date.now() < deadline) await sleep(SWEEP_INTERVAL_MS);
      return reads - from;
    };
    try {
      // Awake: a reading every SWEEP_INTERVAL_MS until QUIET_TICKS of them were the same.
      await sleep(SWEEP_INTERVAL_MS * (QUIET_TICKS + 25));
      expect(reads).to.be.within(QUIET_TICKS / 2, QUIET_TICKS + 2);
      expect(sweep.quiet).to.equal(true);
      // Resting: one reading a second at most.
      let before = reads;
      await sleep(RESTING_INTERVAL_MS * 1.5);
      expect(reads - before).to.be.within(1, 2);
      // A request wakes it at once.
      before = reads;
      wake();
      expect(await readsWithin(before, 5)).to.be.at.least(5);
      // Resting again, a body that starts streaming (no new request) is seen by the next resting reading.
      await sleep(SWEEP_INTERVAL_MS * (QUIET_TICKS + 25));
      expect(sweep.quiet).to.equal(true);
      const streaming = setInterval(() => (held += 64 * 1024), 5);
      try {
        await sleep(RESTING_INTERVAL_MS * 1.3);
        before = reads;
        expect(await readsWithin(before, 5)).to.be.at.least(5);
      } finally {
        clearInterval(streaming);
      }
    } finally {
      stop();
    }
    const after = reads;
    await sleep(RESTING_INTERVAL_MS * 1.2);
    expect(reads).to.equal(after);
  });

  it("the collection it asks for frees dead buffers at once, and s3mux's own scope gets no gc function", async () => {
    const collected = await child('collect');
    expect(collected.freedMiB).to.be.at.least(8);
    expect(collected.globalGc).to.equal('undefined');
    expect(collected.newContextGc).to.equal('undefined');
    // Without it, V8 leaves them: the memory a large upload's chunks hold until V8 gets round to them.
    const waited = await child('wait');
    expect(waited.freedMiB).to.be.below(8);
  });

  it('s3mux serve asks for collections while a large upload streams in, also after it rested', async function () {
    this.timeout(60_000);
    // V8 prints each collection and its reason: one asked for through gc() says "testing".
    const srv = await servers.start([], ['--trace-gc']);
    await srv.client.send(new CreateBucketCommand({ Bucket: 'sweep' }));
    // Idle long enough for the sweep to rest: the upload must wake it.
    await new Promise((resolve) => setTimeout(resolve, SWEEP_INTERVAL_MS * QUIET_TICKS + 500));
    // Four at once, as a sync tool sends them: their chunks outrun V8's own collections.
    const chunk = Buffer.alloc(MiB, 7);
    const body = () =>
      Readable.from(
        (function* () {
          for (let i = 0; i < 64; i++) yield chunk;
        })(),
      );
    await Promise.all(
      [1, 2, 3, 4].map((n) =>
        srv.client.send(new PutObjectCommand({ Bucket: 'sweep', Key: `big-${n}`, Body: body(), ContentLength: 64 * MiB })),
      ),
    );
    expect(srv.log()).to.match(/Scavenge[^\n]*testing/);
  });
});
