/**
 * A lock that holds across processes on one root: a file created with O_EXCL, naming its
 * holder. It is held only for a check and a rename (milliseconds), so a lock file that stays is
 * a crashed holder's: on this host one whose process is gone is broken at once, one of another
 * host (a replica on a shared folder) once it is older than FILE_LOCK_STALE_MS.
 *
 * Breaking renames the lock file to a name of the breaker's own and reads it back: if it is
 * not the stale holder's file any more (another breaker was quicker and a new holder took the
 * lock), it is linked back in place. A third process can only slip in within that one
 * rename-and-link, and only after a holder died.
 */
import { randomBytes } from 'node:crypto';
import { promises as fsp } from 'node:fs';
import { hostname } from 'node:os';
import { S3Error } from '../../errors';
import { isErrno, processAlive } from './layout';

export const FILE_LOCK_STALE_MS = 30_000;
/** How long a caller waits for a lock before answering SlowDown (a bit over the stale age). */
const WAIT_MS = FILE_LOCK_STALE_MS + 15_000;
const HOST = hostname();

const sleep = (ms: number): Promise<void> => new Promise((r) => setTimeout(r, ms));

interface Holder {
  host: string;
  pid: number;
}

function parseHolder(text: string): Holder | undefined {
  try {
    const v = JSON.parse(text) as Partial<Holder>;
    return typeof v.host === 'string' && typeof v.pid === 'number' ? { host: v.host, pid: v.pid } : undefined;
  } catch {
    return undefined;
  }
}

/** The lock file's content when its holder is gone (or it is unreadable and old), else undefined. */
async function staleContent(lockPath: string): Promise<string | undefined> {
  let text: string;
  let mtimeMs: number;
  try {
    const st = await fsp.stat(lockPath);
    mtimeMs = st.mtimeMs;
    text = await fsp.readFile(lockPath, 'utf8');
  } catch (err) {
    if (isErrno(err, 'ENOENT')) return undefined;
    throw err;
  }
  const holder = parseHolder(text);
  const old = Date.now() - mtimeMs > FILE_LOCK_STALE_MS;
  // A holder writes its content right after creating the file: empty and young is a holder at work.
  if (!holder) return old ? text : undefined;
  if (holder.host === HOST && holder.pid !== process.pid) return processAlive(holder.pid) ? undefined : text;
  return old ? text : undefined;
}

async function breakStale(lockPath: string, content: string): Promise<void> {
  const mine = `${lockPath}.broken-${randomBytes(8).toString('hex')}`;
  try {
    await fsp.rename(lockPath, mine);
  } catch (err) {
    if (isErrno(err, 'ENOENT')) return;
    throw err;
  }
  try {
    const now = await fsp.readFile(mine, 'utf8');
    if (now !== content) await fsp.link(mine, lockPath).catch(() => {}); // a live holder's: put it back
  } finally {
    await fsp.rm(mine, { force: true }).catch(() => {});
  }
}

/** Runs `fn` holding the lock file at `lockPath` (its folder must exist). */
export async function withFileLock<T>(lockPath: string, fn: () => Promise<T>): Promise<T> {
  const content = JSON.stringify({ host: HOST, pid: process.pid, nonce: randomBytes(8).toString('hex') });
  const deadline = Date.now() + WAIT_MS;
  for (let attempt = 0; ; attempt++) {
    try {
      await fsp.writeFile(lockPath, content, { flag: 'wx' });
      break;
    } catch (err) {
      if (!isErrno(err, 'EEXIST')) throw err;
    }
    const stale = await staleContent(lockPath);
    if (stale !== undefined) {
      await breakStale(lockPath, stale);
      continue;
    }
    if (Date.now() > deadline) throw new S3Error('SlowDown', 'A reserved document stayed locked; retry.');
    await sleep(Math.min(1 + attempt, 20) * (0.5 + Math.random()));
  }
  try {
    return await fn();
  } finally {
    // Only our own file: if it was broken as stale meanwhile (we were slower than the stale age), leave the new holder's.
    const now = await fsp.readFile(lockPath, 'utf8').catch(() => undefined);
    if (now === content) await fsp.rm(lockPath, { force: true });
  }
}
