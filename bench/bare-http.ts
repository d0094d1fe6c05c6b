/**
 * What the bench's bare servers (bare-server.ts, bare-durable-server.ts) share: the bucket and
 * key of a path-style request, and an S3 error answer. Just enough S3 for the bench's cells.
 */
import type http from 'node:http';

export interface BareTarget {
  bucket: string;
  /** '' for a bucket request. */
  key: string;
  /** The query string without '?', '' when none. */
  query: string;
}

/** The bucket and key of a path-style URL (`/bucket/key?query`). */
export function bareTarget(url: string): BareTarget {
  const q = url.indexOf('?');
  const pathPart = q >= 0 ? url.slice(0, q) : url;
  const slash = pathPart.indexOf('/', 1);
  return {
    bucket: decodeURIComponent(slash < 0 ? pathPart.slice(1) : pathPart.slice(1, slash)),
    key: slash < 0 ? '' : decodeURIComponent(pathPart.slice(slash + 1)),
    query: q >= 0 ? url.slice(q + 1) : '',
  };
}

export function fail(res: http.ServerResponse, status: number, code: string): void {
  const body = `<?xml version="1.0" encoding="UTF-8"?>\n<Error><Code>${code}</Code></Error>`;
  res.writeHead(status, { 'content-type': 'application/xml', 'content-length': Buffer.byteLength(body) });
  res.end(body);
}
