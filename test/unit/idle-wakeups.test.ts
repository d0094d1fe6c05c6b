/**
 * An idle `s3mux serve` lets the machine sleep: no timer of its own wakes it more than a few
 * times a second (a developer's laptop runs it all day). Counted as the main thread's voluntary
 * context switches (each time it blocks waiting for the next event), from /proc.
 */
import { readFileSync } from 'node:fs';
import { expect } from 'chai';
import { CreateBucketCommand, PutObjectCommand } from '@aws-sdk/client-s3';
import { childServersPerTest } from '../helpers/child-server';

function waits(pid: number): number {
  const status = readFileSync(`/proc/${pid}/task/${pid}/status`, 'utf8');
  return Number(/^voluntary_ctxt_switches:\s+(\d+)/m.exec(status)![1]);
}

describe('an idle s3mux serve', () => {
  const servers = childServersPerTest('s3mux-idle-');

  it('wakes its main thread at most 20 times a second once its requests are done', async function () {
    this.timeout(60_000);
    const srv = await servers.start();
    await srv.client.send(new CreateBucketCommand({ Bucket: 'idle' }));
    await srv.client.send(new PutObjectCommand({ Bucket: 'idle', Key: 'k', Body: Buffer.alloc(1024 * 1024, 1) }));
    srv.client.destroy(); // no keep-alive socket left to the server
    // The buffer sweep rests after a second without movement; then count for two seconds.
    await new Promise((resolve) => setTimeout(resolve, 2_000));
    const pid = srv.process.pid!;
    const before = waits(pid);
    await new Promise((resolve) => setTimeout(resolve, 2_000));
    const perSecond = (waits(pid) - before) / 2;
    expect(perSecond, `${perSecond} wake-ups a second`).to.be.below(20);
  });
});
