/**
 * s3mux's launchers start node with the options of src/node-flags.ts (V8 sizes its young
 * generation only at start-up): the container image's ENTRYPOINT (which the Helm chart runs)
 * and `npm start`. This keeps the three in step, and checks that node accepts the options.
 */
import { execFile } from 'node:child_process';
import { readFileSync } from 'node:fs';
import path from 'node:path';
import { promisify } from 'node:util';
import { expect } from 'chai';
import { NODE_FLAGS } from '../../src/node-flags';

const ROOT = path.resolve(__dirname, '../../..');

describe('node options of the s3mux launchers', () => {
  it('the image ENTRYPOINT runs node with NODE_FLAGS before the command', () => {
    const line = readFileSync(path.join(ROOT, 'Dockerfile'), 'utf8')
      .split('\n')
      .find((l) => l.startsWith('ENTRYPOINT '));
    expect(JSON.parse(line!.slice('ENTRYPOINT '.length))).to.deep.equal(['node', ...NODE_FLAGS, '/app/dist/src/cli.js']);
  });

  it('npm start runs node with NODE_FLAGS', () => {
    const pkg = JSON.parse(readFileSync(path.join(ROOT, 'package.json'), 'utf8')) as { scripts: Record<string, string> };
    expect(pkg.scripts.start).to.equal(`tsc -p tsconfig.json && node ${NODE_FLAGS.join(' ')} dist/src/cli.js serve`);
  });

  it('node accepts them', async () => {
    const { stdout } = await promisify(execFile)(process.execPath, [...NODE_FLAGS, '-e', 'process.stdout.write("ok")']);
    expect(stdout).to.equal('ok');
  });
});
