/**
 * A body of unknown length, written to a temporary file so it can be sent with the
 * Content-Length GitHub's uploads host requires. Bounded: more than `limit` bytes is
 * EntityTooLarge, and the file is removed whatever happens.
 */
import { createReadStream, createWriteStream } from 'node:fs';
import { mkdtemp, rm } from 'node:fs/promises';
import * as os from 'node:os';
import * as path from 'node:path';
import { Transform, type Readable } from 'node:stream';
import { pipeline } from 'node:stream/promises';
import { bodyFailure, S3Error } from '../../errors';

export interface Spooled {
  size: number;
  open(): Readable;
  remove(): Promise<void>;
}

export async function spool(body: Readable, limit: number, dir = os.tmpdir()): Promise<Spooled> {
  const folder = await mkdtemp(path.join(dir, 's3mux-gh-'));
  const file = path.join(folder, 'body');
  const remove = () => rm(folder, { recursive: true, force: true });
  let size = 0;
  const count = new Transform({
    transform(chunk: Buffer, _enc, done) {
      size += chunk.length;
      if (size > limit)
        done(new S3Error('EntityTooLarge', `A GitHub release asset holds at most ${limit} bytes.`, { MaxSizeAllowed: String(limit) }));
      else done(null, chunk);
    },
  });
  try {
    await pipeline(body, count, createWriteStream(file));
  } catch (err) {
    await remove();
    throw bodyFailure(err);
  }
  return { size, open: () => createReadStream(file), remove };
}
