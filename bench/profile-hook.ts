/**
 * Loaded into the profiled s3mux child with `node --require dist/bench/profile-hook.js` (the
 * bench's --profile): each SIGUSR2 toggles the V8 CPU profiler through node:inspector, so one
 * server process can be profiled cell by cell (only the measured requests, not start-up or
 * the data set's upload). The profile goes to $S3MUX_BENCH_PROFILE_DIR/profile-N.cpuprofile.
 */
import { writeFileSync } from 'node:fs';
import { Session } from 'node:inspector';
import path from 'node:path';

const dir = process.env.S3MUX_BENCH_PROFILE_DIR;
if (dir) {
  const session = new Session();
  session.connect();
  let running = false;
  let n = 0;
  const post = (method: string, params?: object): Promise<unknown> =>
    new Promise((resolve, reject) => {
      session.post(method, params ?? {}, (err, result) => (err ? reject(err) : resolve(result)));
    });
  void post('Profiler.enable').then(() => post('Profiler.setSamplingInterval', { interval: 200 }));
  process.on('SIGUSR2', () => {
    if (!running) {
      running = true;
      void post('Profiler.start').then(() => console.log('bench profile started'));
      return;
    }
    running = false;
    void post('Profiler.stop').then((r) => {
      const file = path.join(dir, `profile-${++n}.cpuprofile`);
      writeFileSync(file, JSON.stringify((r as { profile: unknown }).profile));
      console.log(`bench profile written ${file}`);
    });
  });
}
