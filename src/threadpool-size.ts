/**
 * The size of libuv's thread pool, set before anything uses it. Every fsync of the fs backend
 * runs there (durable-file.ts), and so do the renames, the streamed reads and writes of large
 * bodies, and DNS lookups. With the default 4 threads, at most 4 fsyncs are in flight: 16
 * clients' PUTs (two fsyncs each) queue behind one another, and each PUT's renames queue behind
 * other PUTs' fsyncs. ext4 and XFS commit the fsyncs that wait together in one journal commit,
 * so more fsyncs in flight cost the disk little more than one (bench/RESULTS.md, seventh pass).
 *
 * libuv reads UV_THREADPOOL_SIZE once, when the pool starts (its first request), so this module
 * is the first thing the s3mux command loads (src/cli.ts). A value the user set is left alone.
 */

/** The pool size s3mux asks for when the user has not chosen one. */
export const DEFAULT_THREADPOOL_SIZE = 32;

/**
 * Sets `env.UV_THREADPOOL_SIZE` to `size` unless it is set already (to anything: libuv itself
 * decides what a user's value means). Returns the value the pool will be started with.
 */
export function chooseThreadpoolSize(env: NodeJS.ProcessEnv, size = DEFAULT_THREADPOOL_SIZE): string {
  const own = env.UV_THREADPOOL_SIZE;
  if (own !== undefined && own !== '') return own;
  env.UV_THREADPOOL_SIZE = String(size);
  return env.UV_THREADPOOL_SIZE;
}

chooseThreadpoolSize(process.env);
