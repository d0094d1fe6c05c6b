/**
 * What handing a small durable write to other threads costs the event loop, without a server:
 * `node dist/bench/handoff.js MODE [PUTS] [IN_FLIGHT] [WORKERS]` writes PUTS 4 KiB files over
 * 1,024 names (so most replace a file, as the ceiling's PUT cells do), IN_FLIGHT at a time, each
 * as s3mux's fs backend writes a small object: a new temp file, the bytes, fsync, close, rename.
 *
 * MODE:
 * - `pool`: open, fsync and rename on libuv's thread pool (as s3mux), the write and the close
 *   synchronous; prints how long each call held the main thread (the hand-off itself);
 * - `sync-rename`: the same, with the rename synchronous on the main thread;
 * - `worker`: the whole sequence synchronous in one of WORKERS worker threads (default 4), one
 *   message each way per write.
 *
 * Prints writes/s, the process's CPU per write and, on Node ≥ 23.9 (process.threadCpuUsage), the
 * main thread's. bench/RESULTS.md, fourteenth pass.
 */
import { closeSync, fsync, fsyncSync, mkdtempSync, open, openSync, rename, renameSync, rmSync, writeSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { isMainThread, parentPort, Worker } from 'node:worker_threads';

const NAMES = 1024;
const WARMUP = 200;

interface Job {
  id: number;
  tmp: string;
  final: string;
  data: Buffer;
}

/** In a worker: each job written, synced, closed and renamed, then answered. */
function serveJobs(): void {
  parentPort!.on('message', ({ id, tmp, final, data }: Job) => {
    try {
      const fd = openSync(tmp, 'wx', 0o666);
      writeSync(fd, data);
      fsyncSync(fd);
      closeSync(fd);
      renameSync(tmp, final);
      parentPort!.postMessage({ id });
    } catch (err) {
      parentPort!.postMessage({ id, error: String(err) });
    }
  });
}

const hrMicros = (from: bigint): number => Number(process.hrtime.bigint() - from) / 1e3;

async function main(): Promise<void> {
  const mode = process.argv[2] ?? 'pool';
  if (!['pool', 'sync-rename', 'worker'].includes(mode))
    throw new Error('usage: handoff.js pool|sync-rename|worker [PUTS] [IN_FLIGHT] [WORKERS]');
  const total = Number(process.argv[3] ?? 4000);
  const inFlight = Number(process.argv[4] ?? 16);
  const workerCount = Number(process.argv[5] ?? 4);
  const dir = mkdtempSync(path.join(os.tmpdir(), 's3mux-handoff-'));
  const data = Buffer.alloc(4096, 1);
  const held = { open: 0, fsync: 0, rename: 0 };
  let tmpCounter = 0;
  const names = (n: number) => ({ tmp: path.join(dir, `tmp-${++tmpCounter}`), final: path.join(dir, `k-${n % NAMES}`) });

  const viaPool = (n: number): Promise<void> =>
    new Promise((resolve, reject) => {
      const { tmp, final } = names(n);
      const t = process.hrtime.bigint();
      open(tmp, 'wx', 0o666, (openErr, fd) => {
        if (openErr) return reject(openErr);
        writeSync(fd, data);
        const s = process.hrtime.bigint();
        fsync(fd, (syncErr) => {
          if (syncErr) return reject(syncErr);
          closeSync(fd);
          if (mode === 'sync-rename') {
            const r = process.hrtime.bigint();
            renameSync(tmp, final);
            held.rename += hrMicros(r);
            return resolve();
          }
          const r = process.hrtime.bigint();
          rename(tmp, final, (renameErr) => (renameErr ? reject(renameErr) : resolve()));
          held.rename += hrMicros(r);
        });
        held.fsync += hrMicros(s);
      });
      held.open += hrMicros(t);
    });

  const workers = mode === 'worker' ? Array.from({ length: workerCount }, () => new Worker(__filename)) : [];
  const pending = new Map<number, { resolve: () => void; reject: (e: Error) => void }>();
  let nextId = 0;
  for (const w of workers) {
    w.on('message', ({ id, error }: { id: number; error?: string }) => {
      const p = pending.get(id);
      pending.delete(id);
      if (error !== undefined) p?.reject(new Error(error));
      else p?.resolve();
    });
  }
  const viaWorker = (n: number): Promise<void> =>
    new Promise((resolve, reject) => {
      const id = nextId++;
      pending.set(id, { resolve, reject });
      workers[id % workers.length].postMessage({ id, ...names(n), data } satisfies Job);
    });

  const write = mode === 'worker' ? viaWorker : viaPool;
  try {
    for (let n = 0; n < WARMUP; n++) await write(n);
    held.open = held.fsync = held.rename = 0;
    const threadCpu = (process as unknown as { threadCpuUsage?: (prev?: NodeJS.CpuUsage) => NodeJS.CpuUsage }).threadCpuUsage;
    const main0 = threadCpu?.();
    const cpu0 = process.cpuUsage();
    const start = process.hrtime.bigint();
    let next = 0;
    await Promise.all(
      Array.from({ length: inFlight }, async () => {
        while (next < total) await write(next++);
      }),
    );
    const seconds = hrMicros(start) / 1e6;
    const cpu = process.cpuUsage(cpu0);
    const per = (us: number) => (us / total).toFixed(0);
    const mainLine =
      main0 && threadCpu
        ? (() => {
            const m = threadCpu(main0);
            return `main thread µs/write user ${per(m.user)} system ${per(m.system)}`;
          })()
        : 'main thread: n/a (Node < 23.9)';
    const heldLine =
      mode === 'worker'
        ? ''
        : ` | main thread held µs/write: open ${(held.open / total).toFixed(1)} fsync ${(held.fsync / total).toFixed(1)} rename ${(held.rename / total).toFixed(1)}`;
    console.log(
      `${mode}${mode === 'worker' ? ` ×${workerCount}` : ''}: ${(total / seconds).toFixed(0)} writes/s | ${mainLine} | process µs/write user ${per(cpu.user)} system ${per(cpu.system)}${heldLine}`,
    );
  } finally {
    await Promise.all(workers.map((w) => w.terminate()));
    rmSync(dir, { recursive: true, force: true });
  }
}

if (isMainThread) {
  main().catch((err: unknown) => {
    console.error(err);
    process.exit(1);
  });
} else {
  serveJobs();
}
