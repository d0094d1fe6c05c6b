/**
 * Small files written whole and made durable. Creating the file and its fsync run on the thread
 * pool: both wait on the filesystem's journal, which concurrent fsyncs keep busy (a new inode
 * needs a journal handle, and while a commit is locked that waits for it: 0.3–1.2 ms on average
 * and up to 16 ms here with 16 PUTs in flight, bench/RESULTS.md, seventh pass), and on the event
 * loop that wait would stall every other request. The bytes are written synchronously into the
 * open file (microseconds into the page cache, less than another thread-pool round trip costs
 * the main thread). The caller renames the file into place only once `synced` has resolved, so
 * a crash never leaves an empty or partial file at a final name.
 */
import { close, closeSync, fstatSync, fsync, futimesSync, open, rm, writeSync, type Stats } from 'node:fs';

export interface WrittenFile {
  /** The file's stat after the write (identity, size, mtime: an fsync changes none of them). */
  stats?: Stats;
  /** Resolves once the file is fsynced and its descriptor closed; rejects with the fsync's error. */
  synced: Promise<void>;
}

/**
 * Creates `file` (`flag`, default 'wx': it must not exist), writes `data` and starts its
 * fsync; resolves once the bytes are written. A failed open or write rejects (the file is
 * removed again); a failed fsync rejects `synced` and leaves the file to the caller, who
 * removes its temp files on any failure. `mtime`: the file's modification time, set before its
 * stat and fsync.
 */
export function writeFileSyncing(
  file: string,
  data: Buffer | string,
  opts: { flag?: string; stat?: boolean; mtime?: Date } = {},
): Promise<WrittenFile> {
  const bytes = typeof data === 'string' ? Buffer.from(data, 'utf8') : data;
  return new Promise<WrittenFile>((resolve, reject) =>
    open(file, opts.flag ?? 'wx', 0o666, (openErr, fd) => {
      if (openErr) return reject(openErr);
      let stats: Stats | undefined;
      try {
        for (let n = 0; n < bytes.length;) n += writeSync(fd, bytes, n, bytes.length - n);
        if (opts.mtime) futimesSync(fd, opts.mtime, opts.mtime);
        if (opts.stat) stats = fstatSync(fd);
      } catch (err) {
        const failure = err instanceof Error ? err : new Error(String(err));
        close(fd, () => rm(file, { force: true }, () => reject(failure)));
        return;
      }
      const synced = new Promise<void>((done, fail) =>
        fsync(fd, (err) => {
          // A failing close (EIO on a network filesystem) is this write's failure, never an uncaught exception.
          let failure: Error | null = err;
          try {
            closeSync(fd);
          } catch (closeErr) {
            failure ??= closeErr as Error;
          }
          if (failure) fail(failure);
          else done();
        }),
      );
      resolve({ stats, synced });
    }),
  );
}
