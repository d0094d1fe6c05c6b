/**
 * Bodies of unknown length: how much of one to read before deciding how to send it.
 */
import { PassThrough, type Readable } from 'node:stream';
import { bodyFailure } from '../../errors';

/**
 * Reads `source` until it ends or more than `limit` bytes have come. Returns those bytes and
 * whether the source ended; when it did not, the source continues after them.
 */
export async function readUpTo(source: Readable, limit: number): Promise<{ head: Buffer; ended: boolean }> {
  const chunks: Buffer[] = [];
  let n = 0;
  for (;;) {
    const chunk = source.read() as Buffer | null;
    if (chunk !== null) {
      chunks.push(chunk);
      n += chunk.length;
      if (n > limit) return { head: Buffer.concat(chunks), ended: false };
      continue;
    }
    if (source.readableEnded) return { head: Buffer.concat(chunks), ended: true };
    // A body that failed before this read began (a form's size limit fails it at its end) sends no further events.
    if (source.errored) throw bodyFailure(source.errored);
    if (source.destroyed) throw bodyFailure(new Error('the body closed before it ended'));
    const outcome = await new Promise<'readable' | 'end'>((resolve, reject) => {
      const onReadable = () => done('readable');
      const onEnd = () => done('end');
      const onError = (err: Error) => {
        cleanup();
        reject(bodyFailure(err));
      };
      const onClose = () => {
        if (!source.readableEnded) onError(new Error('the body closed before it ended'));
      };
      const done = (v: 'readable' | 'end') => {
        cleanup();
        resolve(v);
      };
      const cleanup = () => {
        source.off('readable', onReadable).off('end', onEnd).off('error', onError).off('close', onClose);
      };
      source.on('readable', onReadable).on('end', onEnd).on('error', onError).on('close', onClose);
    });
    if (outcome === 'end') return { head: Buffer.concat(chunks), ended: true };
  }
}

/** A response body passed on with its errors mapped; destroying the copy releases the response. */
export function relayBody(source: Readable, mapError: (err: unknown) => Error, out = new PassThrough()): PassThrough {
  source.on('error', (err) => out.destroy(mapError(err)));
  out.on('close', () => {
    if (!source.destroyed) source.destroy();
  });
  source.pipe(out);
  return out;
}
