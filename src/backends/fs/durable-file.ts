/**
 * Small files written whole and made durable: the bytes with synchronous calls (microseconds
 * into the page cache, where each thread-pool round trip costs the main thread more), the
 * fsync on the thread pool (milliseconds on a real disk: on the event loop it would stall
 * every other request for as long). The caller renames the file into place only once
 * `synced` has resolved, so a crash never leaves an empty or partial file at a final name.
 */
import { closeSync, fstatSync, fsync, openSync, rmSync, writeSync, type Stats } from 'node:fs';

export interface WrittenFile {
  /** The file's stat after the write (identity, size, mtime: an fsync changes none of them). */
  stats?: Stats;
  /** Resolves once the file is fsynced and its descriptor closed; rejects with the fsync's error. */
  synced: Promise<void>;
}

/**
 * Creates `file` (`flag`, default 'wx': it must not exist), writes `data` and starts its
 * fsync. A failed open or write throws at once (the file is removed again); a failed fsync
 * rejects `synced` and leaves the file to the caller, who removes its temp files on any failure.
 */
export function writeFileSyncing(file: string, data: Buffer | string, opts: { flag?: string; stat?: boolean } = {}): WrittenFile {
  const bytes = typeof data === 'string' ? Buffer.from(data, 'utf8') : data;
  const fd = openSync(file, opts.flag ?? 'wx');
  let stats: Stats | undefined;
  try {
    for (let n = 0; n < bytes.length;) n += writeSync(fd, bytes, n, bytes.length - n);
    if (opts.stat) stats = fstatSync(fd);
  } catch (err) {
    closeSync(fd);
    rmSync(file, { force: true });
    throw err;
  }
  const synced = new Promise<void>((resolve, reject) =>
    fsync(fd, (err) => {
      // A failing close (EIO on a network filesystem) is this write's failure, never an uncaught exception.
      let failure: Error | null = err;
      try {
        closeSync(fd);
      } catch (closeErr) {
        failure ??= closeErr as Error;
      }
      if (failure) reject(failure);
      else resolve();
    }),
  );
  return { stats, synced };
}
