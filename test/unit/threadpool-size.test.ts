/**
 * The s3mux command starts libuv's thread pool with DEFAULT_THREADPOOL_SIZE threads unless the
 * user set UV_THREADPOOL_SIZE. Checked in child processes (this one's pool has long started):
 * the variable each sees, and the threads a running server really has (Linux: /proc).
 */
import { execFile, spawn } from 'node:child_process';
import { existsSync, mkdtempSync, readdirSync, rmSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { promisify } from 'node:util';
import { expect } from 'chai';
import { stopChild } from '../helpers/processes';

const CLI = path.resolve(__dirname, '../../src/cli.js');
const MODULE = path.resolve(__dirname, '../../src/threadpool-size.js');

/** UV_THREADPOOL_SIZE as a process sees it after loading the module, started with `env`. */
async function sizeAfterLoading(env: NodeJS.ProcessEnv): Promise<string> {
  const script = `require(${JSON.stringify(MODULE)}); process.stdout.write(String(process.env.UV_THREADPOOL_SIZE))`;
  const { stdout } = await promisify(execFile)(process.execPath, ['-e', script], { env: { PATH: process.env.PATH, ...env } });
  return stdout;
}

/** The number of threads of a started `s3mux serve` (its fs backend has used the pool by then). */
async function serverThreads(env: NodeJS.ProcessEnv): Promise<number> {
  const dir = mkdtempSync(path.join(os.tmpdir(), 's3mux-pool-'));
  const child = spawn(process.execPath, [CLI, 'serve', '--address', '127.0.0.1:0', '--data-dir', path.join(dir, 'data')], {
    env: { PATH: process.env.PATH, ...env },
  });
  let out = '';
  child.stdout.on('data', (d: Buffer) => (out += d.toString()));
  child.stderr.on('data', (d: Buffer) => (out += d.toString()));
  try {
    const end = Date.now() + 15_000;
    while (!/health: /.test(out) && Date.now() < end && child.exitCode === null) await new Promise((r) => setTimeout(r, 50));
    expect(out).to.match(/s3mux listening on/);
    return readdirSync(`/proc/${child.pid}/task`).length;
  } finally {
    await stopChild(child);
    rmSync(dir, { recursive: true, force: true });
  }
}

describe('libuv thread pool size of the s3mux command', () => {
  it('is 32 unless the user set UV_THREADPOOL_SIZE; a value the user set (even an odd one) is left as it is', async () => {
    expect(await sizeAfterLoading({})).to.equal('32');
    expect(await sizeAfterLoading({ UV_THREADPOOL_SIZE: '' })).to.equal('32');
    expect(await sizeAfterLoading({ UV_THREADPOOL_SIZE: '6' })).to.equal('6');
    expect(await sizeAfterLoading({ UV_THREADPOOL_SIZE: '256' })).to.equal('256');
  });

  it('takes effect in the server: 32 pool threads by default, the user’s count when set', async function () {
    if (!existsSync('/proc/self/task')) this.skip(); // counting threads needs Linux's /proc
    const [ours, users] = await Promise.all([serverThreads({}), serverThreads({ UV_THREADPOOL_SIZE: '2' })]);
    // The same server but for the pool: the difference is the pool's.
    expect(ours - users).to.equal(30);
  });
});
