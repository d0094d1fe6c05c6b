/**
 * Where a small PUT's CPU goes, thread by thread: `node dist/bench/thread-cpu.js [s3mux|durable]
 * [PUTS] [CLIENTS] [KEYS]` starts s3mux (or the bare durable writer, bench/bare-durable-server.ts)
 * as the ceiling bench does, sends PUTS 4 KiB PUTs from CLIENTS connections over KEYS keys (1,024
 * as in the ceiling's PUT cells, so most PUTs replace an object; 0: every PUT a new key), and prints, per PUT, the
 * user and system CPU of the server's main thread and of its other threads (libuv's pool, V8's
 * helpers) and their context switches, read from /proc/PID/task before and after (Linux only).
 *
 * The ceiling bench gives one CPU figure per request; this tells the event loop's own work from
 * the file system's and from the cost of handing work between threads, which on a 2-core VM is
 * not small (bench/RESULTS.md, thirteenth pass).
 */
import { readdirSync, readFileSync } from 'node:fs';
import { makeBlock, patternSha256, smallBody } from './body';
import { RawS3 } from './raw-client';
import { startServerProcess } from './server-process';

const CREDS = { accessKeyId: 'benchkey', secretAccessKey: 'benchsecret123' };
const BODY_SIZE = 4096;
const WARMUP_PUTS = 3000;
/** Kernel clock ticks per second (USER_HZ): /proc reports CPU time in these. */
const TICKS_PER_S = 100;

interface ThreadUse {
  userTicks: number;
  sysTicks: number;
  switches: number;
}

/** The CPU and context switches of each thread of `pid`, the main thread as 'main', the others summed as 'other threads'. */
function threadUse(pid: number): Map<string, ThreadUse> {
  const out = new Map<string, ThreadUse>();
  for (const tid of readdirSync(`/proc/${pid}/task`)) {
    let stat: string;
    let status: string;
    try {
      stat = readFileSync(`/proc/${pid}/task/${tid}/stat`, 'utf8');
      status = readFileSync(`/proc/${pid}/task/${tid}/status`, 'utf8');
    } catch {
      continue; // the thread ended between the listing and the read
    }
    // Fields after the command name (which may hold spaces): utime and stime are the 12th and 13th.
    const fields = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
    const count = (name: string) => Number(new RegExp(`^${name}:\\s+(\\d+)`, 'm').exec(status)?.[1] ?? 0);
    const name = tid === String(pid) ? 'main' : 'other threads';
    const cur = out.get(name) ?? { userTicks: 0, sysTicks: 0, switches: 0 };
    cur.userTicks += Number(fields[11]);
    cur.sysTicks += Number(fields[12]);
    cur.switches += count('voluntary_ctxt_switches') + count('nonvoluntary_ctxt_switches');
    out.set(name, cur);
  }
  return out;
}

async function main(): Promise<void> {
  const which = process.argv[2] ?? 's3mux';
  if (which !== 's3mux' && which !== 'durable') throw new Error(`usage: thread-cpu.js [s3mux|durable] [PUTS] [CLIENTS] [KEYS]`);
  const puts = Number(process.argv[3] ?? 20_000);
  const clients = Number(process.argv[4] ?? 16);
  const keys = Number(process.argv[5] ?? 1024);
  const server = await startServerProcess(CREDS, { durable: which === 'durable' });
  const client = new RawS3('127.0.0.1', server.port, CREDS, clients);
  try {
    await client.createBucket('bench');
    const block = makeBlock();
    const body = smallBody(block, BODY_SIZE);
    const sha = patternSha256(block, BODY_SIZE);
    let sent = 0;
    const run = async (n: number) => {
      const end = sent + n;
      await Promise.all(
        Array.from({ length: clients }, async () => {
          while (sent < end) {
            const k = sent++;
            await client.put('bench', `put/k-${keys > 0 ? k % keys : k}`, body, BODY_SIZE, sha);
          }
        }),
      );
    };
    await run(WARMUP_PUTS);
    const before = threadUse(server.pid);
    const started = process.hrtime.bigint();
    await run(puts);
    const ms = Number(process.hrtime.bigint() - started) / 1e6;
    const after = threadUse(server.pid);
    const perPut = (ticks: number) => ((ticks / TICKS_PER_S) * 1e6) / puts;
    console.log(
      `${which}: ${puts} PUTs of 4 KiB from ${clients} clients over ${keys > 0 ? `${keys} keys` : 'new keys'} in ${ms.toFixed(0)} ms (${((puts / ms) * 1000).toFixed(0)}/s)`,
    );
    for (const [name, a] of after) {
      const b = before.get(name) ?? { userTicks: 0, sysTicks: 0, switches: 0 };
      console.log(
        `  ${name.padEnd(14)} user ${perPut(a.userTicks - b.userTicks)
          .toFixed(0)
          .padStart(4)} µs/PUT, system ${perPut(a.sysTicks - b.sysTicks)
          .toFixed(0)
          .padStart(4)} µs/PUT, ${((a.switches - b.switches) / puts).toFixed(1)} context switches/PUT`,
      );
    }
  } finally {
    client.close();
    await server.stop();
  }
}

main().catch((err: unknown) => {
  console.error(err);
  process.exit(1);
});
