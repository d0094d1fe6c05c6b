/**
 * The s3mux command sets V8's --heap-growing-percent at start-up unless node was given one.
 * Its effect on the server's memory is measured by the bench (bench/RESULTS.md, issue 15,
 * eighth pass); here: the decision, and that this node's V8 knows the flag (an unknown one is
 * reported on stderr and ignored).
 */
import { execFile } from 'node:child_process';
import path from 'node:path';
import { promisify } from 'node:util';
import { expect } from 'chai';
import { chooseHeapGrowing, DEFAULT_HEAP_GROWING_PERCENT } from '../../src/heap-growing';

const MODULE = path.resolve(__dirname, '../../src/heap-growing.js');

describe('V8 heap growth of the s3mux command', () => {
  it(`sets --heap-growing-percent=${DEFAULT_HEAP_GROWING_PERCENT} unless node was started with one`, () => {
    const set: string[] = [];
    expect(chooseHeapGrowing([], undefined, (f) => set.push(f))).to.equal(`--heap-growing-percent=${DEFAULT_HEAP_GROWING_PERCENT}`);
    expect(chooseHeapGrowing(['--enable-source-maps'], '--max-old-space-size=512', (f) => set.push(f))).to.be.a('string');
    expect(set).to.deep.equal([
      `--heap-growing-percent=${DEFAULT_HEAP_GROWING_PERCENT}`,
      `--heap-growing-percent=${DEFAULT_HEAP_GROWING_PERCENT}`,
    ]);
    expect(chooseHeapGrowing(['--heap-growing-percent=300'], undefined, (f) => set.push(f))).to.equal(undefined);
    expect(chooseHeapGrowing(['--heap_growing_percent', '300'], undefined, (f) => set.push(f))).to.equal(undefined);
    expect(chooseHeapGrowing([], '--heap-growing-percent=300', (f) => set.push(f))).to.equal(undefined);
    expect(set).to.have.length(2);
  });

  it('is a flag this node accepts when set after start-up, as src/cli.ts does', async () => {
    const { stderr } = await promisify(execFile)(process.execPath, ['-r', MODULE, '-e', ''], { env: { PATH: process.env.PATH } });
    expect(stderr).to.equal('');
  });
});
