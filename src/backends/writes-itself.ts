/**
 * A read stream that can also write its bytes into a destination itself, reusing its own
 * buffers. A stream handed to an arbitrary consumer must give every chunk a buffer of its own
 * (the consumer may keep it), so a 64 MiB fs GET allocated sixty-four 1 MiB buffers outside
 * the heap, and those allocations started full garbage collections (bench/RESULTS.md, issue 15,
 * eleventh pass). A writer that waits for each write's callback knows when the destination is
 * done with a buffer and can fill it again.
 *
 * The server's answer to a GET uses this only on the stream exactly as the adapter returned
 * it: a stream wrapped or piped elsewhere is read as a plain Readable. (The fs backend also
 * hashes a file placed by hand this way, into a hash that takes each chunk at once.)
 */
import type { Readable, Writable } from 'node:stream';

export const writeInto = Symbol('writeInto');

export interface WritesItself {
  /**
   * Writes every byte the stream would have produced into `dest` (without ending it) and
   * resolves once `dest` has taken the last of them. Rejects on a read or write failure. The
   * stream is not read as a Readable afterwards: the caller destroys it.
   */
  [writeInto](dest: Writable): Promise<void>;
}

export function writesItself(s: Readable): s is Readable & WritesItself {
  return typeof (s as Partial<WritesItself>)[writeInto] === 'function';
}
