/**
 * Request ids, and the headers that name the answering server and the request on every s3mux
 * answer: dispatched ones (dispatch.ts) and those refused before dispatch (server/bare-error.ts).
 */
import { randomBytes } from 'node:crypto';

const randomPrefix = () => randomBytes(4).toString('hex').toUpperCase();
/** Random per process (and per 2^32 requests), so ids of two s3mux processes or restarts do not collide. */
let requestIdPrefix = randomPrefix();
let requestCounter = 0;

/** 16 hex digits as S3's: a random prefix and a counter (randomBytes per request cost a measurable share). */
export function newRequestId(): string {
  requestCounter = (requestCounter + 1) >>> 0;
  if (requestCounter === 0) requestIdPrefix = randomPrefix();
  return requestIdPrefix + requestCounter.toString(16).toUpperCase().padStart(8, '0');
}

/** Calls `set` with each header S3 names a request and its server by (x-amz-id-2 is the same id here: one host). */
export function setIdentityHeaders(requestId: string, set: (name: string, value: string) => unknown): void {
  set('x-amz-request-id', requestId);
  set('x-amz-id-2', requestId);
  set('Server', 's3mux');
}
