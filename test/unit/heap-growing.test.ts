/**
 * s3mux serve sets V8's --heap-growing-percent at start-up, and again after each full
 * collection, unless node was given one; its other commands leave V8's own. Its effect on the server's memory and CPU is measured
 * by the bench (bench/RESULTS.md, issue 15, eighth and twenty-first passes); here: the rule,
 * the decision, and that this node's V8 knows the flag (an unknown one is reported on stderr
 * and ignored).
 */
import { execFile, spawn } from 'node:child_process';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { promisify } from 'node:util';
import { expect } from 'chai';
import {
  chooseHeapGrowing,
  DEFAULT_HEAP_GROWING_PERCENT,
  growingPercentFor,
  heapSizes,
  MAX_HEAP_GROWING_PERCENT,
} from '../../src/heap-growing';
import { startsServer } from '../../src/cli/command-line';
import { stopChild } from '../helpers/processes';

const MODULE = path.resolve(__dirname, '../../src/heap-growing.js');
const CLI = path.resolve(__dirname, '../../src/cli.js');
const MiB = 1024 * 1024;

describe('V8 heap growth of the s3mux command', () => {
  it('leaves room for three young generations under the limit, and at least 50 %', () => {
    // 17 MiB live with two 8 MiB semi-spaces: 50 % would leave 8.5 MiB, under the 16 MiB young generation.
    expect(growingPercentFor(17 * MiB, 16 * MiB)).to.equal(283);
    expect(17 * MiB * (growingPercentFor(17 * MiB, 16 * MiB) / 100)).to.be.at.least(3 * 16 * MiB);
    // A large heap is still held near its live set.
    expect(growingPercentFor(100 * MiB, 16 * MiB)).to.equal(DEFAULT_HEAP_GROWING_PERCENT);
    expect(growingPercentFor(60 * MiB, 16 * MiB)).to.equal(80);
    // Never past V8's own largest factor.
    expect(growingPercentFor(1 * MiB, 128 * MiB)).to.equal(MAX_HEAP_GROWING_PERCENT);
    expect(growingPercentFor(0, 16 * MiB)).to.equal(MAX_HEAP_GROWING_PERCENT);
  });

  it('reads the old generation and the young generation apart', () => {
    const space = (space_name: string, space_size: number, space_used_size: number) => ({
      space_name,
      space_size,
      space_used_size,
      space_available_size: 0,
      physical_space_size: 0,
    });
    expect(
      heapSizes([
        space('read_only_space', 0, 0),
        space('new_space', 16 * MiB, 3 * MiB),
        space('old_space', 20 * MiB, 12 * MiB),
        space('code_space', 2 * MiB, 1 * MiB),
        space('large_object_space', 4 * MiB, 4 * MiB),
        space('new_large_object_space', 0, 2 * MiB),
      ]),
    ).to.deep.equal({ oldBytes: 17 * MiB, youngBytes: 16 * MiB });
    const here = heapSizes();
    expect(here.oldBytes).to.be.above(0);
    expect(here.youngBytes).to.be.above(0);
  });

  it('sets the growth at start and after each full collection, only when it changes, unless node was started with one', () => {
    const set: string[] = [];
    let sizes = { oldBytes: 17 * MiB, youngBytes: 16 * MiB };
    let afterGc: (() => void) | undefined;
    const first = chooseHeapGrowing(
      [],
      undefined,
      (f) => set.push(f),
      () => sizes,
      (l) => (afterGc = l),
    );
    expect(first).to.equal('--heap-growing-percent=283');
    afterGc!(); // the same heap: nothing to set again
    sizes = { oldBytes: 100 * MiB, youngBytes: 16 * MiB };
    afterGc!();
    expect(set).to.deep.equal(['--heap-growing-percent=283', `--heap-growing-percent=${DEFAULT_HEAP_GROWING_PERCENT}`]);

    const none = (): never => {
      throw new Error('not to be called');
    };
    expect(chooseHeapGrowing(['--heap-growing-percent=300'], undefined, none, none, none)).to.equal(undefined);
    expect(chooseHeapGrowing(['--heap_growing_percent', '300'], undefined, none, none, none)).to.equal(undefined);
    expect(chooseHeapGrowing(['--enable-source-maps'], '--heap-growing-percent=300', none, none, none)).to.equal(undefined);
  });

  it('is a flag this node accepts when set after start-up, as src/cli.ts does, and after full collections', async () => {
    const { stderr } = await promisify(execFile)(
      process.execPath,
      ['--expose-gc', '-e', `require(${JSON.stringify(MODULE)}).installHeapGrowing(); gc(); setTimeout(() => gc(), 20)`],
      {
        env: { PATH: process.env.PATH },
      },
    );
    expect(stderr).to.equal('');
  });

  describe('only for s3mux serve', function () {
    this.timeout(30_000);
    let dir: string;
    let hook: string;
    before(() => {
      dir = mkdtempSync(path.join(os.tmpdir(), 's3mux-heap-'));
      // Preloaded into the command: each V8 flag it sets, on stderr.
      hook = path.join(dir, 'hook.js');
      writeFileSync(
        hook,
        `const v8 = require('node:v8'); const set = v8.setFlagsFromString;
         v8.setFlagsFromString = (f) => { process.stderr.write('FLAG ' + f + '\\n'); set(f); };`,
      );
    });
    after(() => rmSync(dir, { recursive: true, force: true }));

    /** The --heap-growing-percent flags `s3mux ARGS` set, up to its start-up banner or its exit. */
    async function flagsOf(args: string[]): Promise<string[]> {
      const child = spawn(process.execPath, ['-r', hook, CLI, ...args], { env: { PATH: process.env.PATH } });
      let out = '';
      let err = '';
      child.stdout.on('data', (d: Buffer) => (out += d.toString()));
      child.stderr.on('data', (d: Buffer) => (err += d.toString()));
      try {
        const end = Date.now() + 15_000;
        while (!/health: /.test(out) && Date.now() < end && child.exitCode === null) await new Promise((r) => setTimeout(r, 50));
        return err
          .split('\n')
          .filter((l) => l.startsWith('FLAG --heap-growing-percent'))
          .map((l) => l.slice(5));
      } finally {
        await stopChild(child);
      }
    }

    it('sets the growth when the command serves, named or implied', async () => {
      const data = path.join(dir, 'data');
      for (const args of [
        ['serve', '--address', '127.0.0.1:0', '--data-dir', data],
        ['--address', '127.0.0.1:0', '--data-dir', data],
      ])
        expect((await flagsOf(args))[0], args.join(' ')).to.match(/^--heap-growing-percent=\d+$/);
    });

    it('leaves V8 alone for the other commands and for help', async () => {
      for (const args of [['version'], ['--version'], ['--help'], ['serve', '--help'], ['routes', '--help'], ['cp', '--help']])
        expect(await flagsOf(args), args.join(' ')).to.deep.equal([]);
    });

    it('reads the command line as main does', () => {
      expect([[], ['serve'], ['--address', ':0'], ['serve', '--address', ':0']].map((a) => startsServer(a))).to.deep.equal([
        true,
        true,
        true,
        true,
      ]);
      expect(
        [
          ['--help'],
          ['-h'],
          ['--version'],
          ['-v'],
          ['serve', '--help'],
          ['--address', ':0', '-h'],
          ['version'],
          ['help'],
          ['check', 'f'],
          ['cp', 'a', 'b'],
        ].map((a) => startsServer(a)),
      ).to.deep.equal(Array(10).fill(false));
    });
  });

  it('works the growth out again when V8 has run a full collection', async () => {
    // The real observer: a forced mark-compact brings the second reading.
    const script = `
      const { chooseHeapGrowing } = require(${JSON.stringify(MODULE)});
      const set = [];
      let n = 0;
      chooseHeapGrowing([], undefined, (f) => set.push(f), () => ({ oldBytes: ++n === 1 ? 17 * 2 ** 20 : 100 * 2 ** 20, youngBytes: 16 * 2 ** 20 }));
      gc();
      setTimeout(() => console.log(JSON.stringify(set)), 50);
    `;
    const { stdout } = await promisify(execFile)(process.execPath, ['--expose-gc', '--heap-growing-percent=50', '-e', script], {
      env: { PATH: process.env.PATH },
    });
    expect(JSON.parse(stdout)).to.deep.equal(['--heap-growing-percent=283', `--heap-growing-percent=${DEFAULT_HEAP_GROWING_PERCENT}`]);
  });
});
