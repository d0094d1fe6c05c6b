/**
 * The floor of the PUT cells: a bare Node HTTP server that does for each PUT only what issue 15
 * requires of every s3mux write, in its own process (`node dist/bench/bare-durable-server.js`,
 * files under $S3MUX_BENCH_DATA_DIR). The body goes into a new temporary file while its MD5 and
 * SHA-256 are computed; the SHA-256 the client signed (x-amz-content-sha256) and any Content-MD5
 * must match; the file is fsynced and closed, then renamed over the key's file. The answer's ETag
 * is the MD5.
 *
 * Nothing else: no authentication, no routing, no sidecar, no locks, no key checks (the bench's
 * keys are plain), one flat folder per bucket. Small bodies are written with s3mux's own
 * small-file write (src/backends/fs/durable-file.ts: read whole, one synchronous write into a
 * file created on the thread pool, fsync there), larger ones through a file write stream that
 * fsyncs before it closes. What the PUT cells' durable writes and hashes cost on this machine,
 * beside the in-memory bare server: the ratio a server that keeps the issue's guarantees can
 * reach here.
 *
 * Only PUT (bucket and object): the bench measures nothing else against it.
 * Prints "bare listening on http://127.0.0.1:PORT" once it listens on an ephemeral port.
 */
import { createHash, type Hash } from 'node:crypto';
import { createWriteStream, mkdirSync, rename, rm } from 'node:fs';
import http from 'node:http';
import { bareTarget, fail } from './bare-http';
import path from 'node:path';
import { pipeline } from 'node:stream';
import { writeFileSyncing } from '../src/backends/fs/durable-file';

const root = process.env.S3MUX_BENCH_DATA_DIR;
if (!root) throw new Error('S3MUX_BENCH_DATA_DIR: the data directory is missing');
const tmpDir = path.join(root, '.tmp');
mkdirSync(tmpDir, { recursive: true });

/** Bodies up to this size are read whole (as s3mux's fs backend reads them: src/backends/fs/writer.ts). */
const SMALL_BODY = 64 * 1024;
const buckets = new Set<string>();
let tmpCounter = 0;

/** The signed digests must be the body's: the check s3mux makes of every upload. */
function digestsMatch(req: http.IncomingMessage, md5: Hash, sha: Hash): string | undefined {
  const md5Hex = md5.digest('hex');
  const signed = req.headers['x-amz-content-sha256'];
  if (typeof signed === 'string' && /^[0-9a-f]{64}$/.test(signed) && sha.digest('hex') !== signed) return undefined;
  const given = req.headers['content-md5'];
  if (typeof given === 'string' && Buffer.from(md5Hex, 'hex').toString('base64') !== given) return undefined;
  return md5Hex;
}

function putObject(req: http.IncomingMessage, res: http.ServerResponse, target: string): void {
  const tmp = path.join(tmpDir, `put-${process.pid}-${++tmpCounter}`);
  const md5 = createHash('md5');
  const sha = createHash('sha256');
  const commit = (err: Error | null) => {
    if (err) {
      rm(tmp, { force: true }, () => (res.headersSent ? res.destroy() : fail(res, 500, 'InternalError')));
      return;
    }
    const etag = digestsMatch(req, md5, sha);
    if (!etag) {
      rm(tmp, { force: true }, () => fail(res, 400, 'BadDigest'));
      return;
    }
    rename(tmp, target, (renameErr) => {
      if (renameErr) return fail(res, 500, 'InternalError');
      res.writeHead(200, { etag: `"${etag}"`, 'content-length': 0 });
      res.end();
    });
  };
  if (Number(req.headers['content-length'] ?? 0) <= SMALL_BODY) {
    const chunks: Buffer[] = [];
    req.on('data', (c: Buffer) => chunks.push(c));
    req.on('end', () => {
      const data = chunks.length === 1 ? chunks[0] : Buffer.concat(chunks);
      md5.update(data);
      sha.update(data);
      // s3mux's own small-file write: created on the thread pool, one synchronous write, fsync there.
      writeFileSyncing(tmp, data)
        .then((w) => w.synced)
        .then(
          () => commit(null),
          (err: Error) => commit(err),
        );
    });
    return;
  }
  req.on('data', (c: Buffer) => {
    md5.update(c);
    sha.update(c);
  });
  pipeline(req, createWriteStream(tmp, { flags: 'wx', flush: true }), (err) => commit(err ?? null));
}

const server = http.createServer((req, res) => {
  const { bucket, key } = bareTarget(req.url ?? '/');
  if (req.method !== 'PUT') {
    req.resume();
    fail(res, 501, 'NotImplemented');
    return;
  }
  if (!key) {
    mkdirSync(path.join(root, encodeURIComponent(bucket)), { recursive: true });
    buckets.add(bucket);
    req.resume();
    req.on('end', () => {
      res.writeHead(200, { 'content-length': 0 });
      res.end();
    });
    return;
  }
  if (!buckets.has(bucket)) {
    req.resume();
    fail(res, 404, 'NoSuchBucket');
    return;
  }
  putObject(req, res, path.join(root, encodeURIComponent(bucket), encodeURIComponent(key)));
});

server.keepAliveTimeout = 30_000;
server.listen(0, '127.0.0.1', () => {
  const a = server.address() as { port: number };
  console.log(`bare listening on http://127.0.0.1:${a.port}`);
});
