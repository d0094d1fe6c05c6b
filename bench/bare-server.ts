/**
 * The ceiling the bench measures s3mux against: a bare in-memory Node HTTP server speaking
 * just enough S3 for the bench's cells, in its own process (`node dist/bench/bare-server.js`).
 *
 * No authentication (the signature the client sends is ignored, so the client does the same
 * work for both servers), no disk, no hashing (the ETag is a counter), no XML parser: PUT keeps
 * the body in a Map, GET/HEAD serve it, ListObjectsV2 walks a sorted key array (max-keys,
 * prefix, delimiter, continuation-token, start-after). What it costs is Node's HTTP stack and
 * little else: the figure a Node S3 server cannot beat on the same machine.
 *
 * Prints "bare listening on http://127.0.0.1:PORT" once it listens on an ephemeral port.
 */
import http from 'node:http';
import { bareTarget, fail } from './bare-http';

/** The body as received, chunk by chunk: no copy into one buffer (a 64 MiB concat per PUT would be the bare server's own cost). */
interface Stored {
  chunks: Buffer[];
  size: number;
  etag: string;
  modified: string;
}

class BareBucket {
  readonly objects = new Map<string, Stored>();
  /** Sorted keys, rebuilt on the first listing after a change (sorting per PUT would be O(n²)). */
  private sorted: string[] | undefined;

  put(key: string, value: Stored): void {
    if (!this.objects.has(key)) this.sorted = undefined;
    this.objects.set(key, value);
  }

  delete(key: string): void {
    if (this.objects.delete(key)) this.sorted = undefined;
  }

  keys(): string[] {
    return (this.sorted ??= [...this.objects.keys()].sort((a, b) => (a < b ? -1 : a > b ? 1 : 0)));
  }
}

const buckets = new Map<string, BareBucket>();
let etagCounter = 0;

const xmlEscape = (s: string): string => s.replace(/[&<>"']/g, (c) => `&#${c.charCodeAt(0)};`);

/** Index of the first key > marker (keys sorted by UTF-16 code unit, which for the bench's ASCII keys is byte order). */
function upperBound(keys: string[], marker: string): number {
  let lo = 0;
  let hi = keys.length;
  while (lo < hi) {
    const mid = (lo + hi) >>> 1;
    if (keys[mid] <= marker) lo = mid + 1;
    else hi = mid;
  }
  return lo;
}

function lowerBound(keys: string[], value: string): number {
  let lo = 0;
  let hi = keys.length;
  while (lo < hi) {
    const mid = (lo + hi) >>> 1;
    if (keys[mid] < value) lo = mid + 1;
    else hi = mid;
  }
  return lo;
}

function listV2(name: string, bucket: BareBucket, q: URLSearchParams): string {
  const prefix = q.get('prefix') ?? '';
  const delimiter = q.get('delimiter') ?? '';
  const maxKeys = Math.min(1000, Math.max(0, Number(q.get('max-keys') ?? 1000) || 0));
  const token = q.get('continuation-token');
  const marker = token ? Buffer.from(token, 'base64url').toString('utf8') : (q.get('start-after') ?? '');
  const keys = bucket.keys();
  let i = Math.max(lowerBound(keys, prefix), marker ? upperBound(keys, marker) : 0);
  const contents: string[] = [];
  const prefixes: string[] = [];
  // A token that is a common prefix resumes after every key under it.
  let lastPrefix = delimiter && marker.endsWith(delimiter) ? marker : '';
  let last = '';
  let truncated = false;
  for (; i < keys.length; i++) {
    const key = keys[i];
    if (!key.startsWith(prefix)) break;
    const at = delimiter ? key.indexOf(delimiter, prefix.length) : -1;
    if (at >= 0) {
      const cp = key.slice(0, at + delimiter.length);
      if (cp === lastPrefix) continue;
      if (contents.length + prefixes.length >= maxKeys) {
        truncated = true;
        break;
      }
      prefixes.push(cp);
      lastPrefix = cp;
      last = cp;
      continue;
    }
    if (contents.length + prefixes.length >= maxKeys) {
      truncated = true;
      break;
    }
    const o = bucket.objects.get(key)!;
    contents.push(
      `<Contents><Key>${xmlEscape(key)}</Key><LastModified>${o.modified}</LastModified><ETag>&quot;${o.etag}&quot;</ETag><Size>${o.size}</Size><StorageClass>STANDARD</StorageClass></Contents>`,
    );
    last = key;
  }
  return (
    '<?xml version="1.0" encoding="UTF-8"?>\n<ListBucketResult xmlns="http://s3.amazonaws.com/doc/2006-03-01/">' +
    `<Name>${xmlEscape(name)}</Name><Prefix>${xmlEscape(prefix)}</Prefix>${delimiter ? `<Delimiter>${xmlEscape(delimiter)}</Delimiter>` : ''}` +
    `<MaxKeys>${maxKeys}</MaxKeys><KeyCount>${contents.length + prefixes.length}</KeyCount><IsTruncated>${truncated}</IsTruncated>` +
    (token ? `<ContinuationToken>${xmlEscape(token)}</ContinuationToken>` : '') +
    (truncated ? `<NextContinuationToken>${Buffer.from(last).toString('base64url')}</NextContinuationToken>` : '') +
    contents.join('') +
    prefixes.map((p) => `<CommonPrefixes><Prefix>${xmlEscape(p)}</Prefix></CommonPrefixes>`).join('') +
    '</ListBucketResult>'
  );
}

const server = http.createServer((req, res) => {
  const { bucket: bucketName, key, query } = bareTarget(req.url ?? '/');
  const method = req.method ?? 'GET';
  const bucket = buckets.get(bucketName);

  if (!key) {
    if (method === 'PUT') {
      if (!bucket) buckets.set(bucketName, new BareBucket());
      req.resume();
      req.on('end', () => {
        res.writeHead(200, { 'content-length': 0 });
        res.end();
      });
      return;
    }
    if (!bucket) {
      req.resume();
      fail(res, 404, 'NoSuchBucket');
      return;
    }
    if (method === 'GET') {
      const body = listV2(bucketName, bucket, new URLSearchParams(query));
      res.writeHead(200, { 'content-type': 'application/xml', 'content-length': Buffer.byteLength(body) });
      res.end(body);
      return;
    }
    fail(res, 405, 'MethodNotAllowed');
    return;
  }
  if (!bucket) {
    req.resume();
    fail(res, 404, 'NoSuchBucket');
    return;
  }
  if (method === 'PUT') {
    const chunks: Buffer[] = [];
    let size = 0;
    req.on('data', (c: Buffer) => {
      chunks.push(c);
      size += c.length;
    });
    req.on('end', () => {
      const etag = (++etagCounter).toString(16).padStart(32, '0');
      bucket.put(key, { chunks, size, etag, modified: new Date().toISOString() });
      res.writeHead(200, { etag: `"${etag}"`, 'content-length': 0 });
      res.end();
    });
    return;
  }
  const o = bucket.objects.get(key);
  if (!o) {
    req.resume();
    fail(res, 404, 'NoSuchKey');
    return;
  }
  if (method === 'GET' || method === 'HEAD') {
    res.writeHead(200, {
      'content-length': o.size,
      etag: `"${o.etag}"`,
      'last-modified': new Date(o.modified).toUTCString(),
      'content-type': 'application/octet-stream',
    });
    if (method === 'HEAD' || o.size === 0) {
      res.end();
      return;
    }
    if (o.chunks.length === 1) {
      res.end(o.chunks[0]);
      return;
    }
    // Chunk by chunk, with backpressure, as any streaming server would send a large body.
    let i = 0;
    const more = (): void => {
      while (i < o.chunks.length) {
        const last = i === o.chunks.length - 1;
        const chunk = o.chunks[i++];
        if (last) {
          res.end(chunk);
          return;
        }
        if (!res.write(chunk)) {
          res.once('drain', more);
          return;
        }
      }
    };
    res.on('close', () => {
      i = o.chunks.length;
    });
    more();
    return;
  }
  if (method === 'DELETE') {
    bucket.delete(key);
    res.writeHead(204);
    res.end();
    return;
  }
  fail(res, 405, 'MethodNotAllowed');
});

server.keepAliveTimeout = 60_000;
server.listen(0, '127.0.0.1', () => {
  const a = server.address();
  if (a && typeof a === 'object') console.log(`bare listening on http://127.0.0.1:${a.port}`);
});
process.once('SIGTERM', () => process.exit(0));
process.once('SIGINT', () => process.exit(0));
