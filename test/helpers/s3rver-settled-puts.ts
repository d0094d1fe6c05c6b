/**
 * Preloaded into the s3rver child (`node --require`): s3rver 3.7.1's FilesystemStore answers a
 * PutObject as soon as the body has passed its MD5 transform (a Buffer body: at once), while
 * its write stream may still be truncating and writing the file. A GET right after the 200
 * can then read an empty or half-written object. S3 is read-after-write consistent, and s3mux
 * reads back what it just wrote (a key's version index): on a loaded CI machine a DELETE read
 * its own index half written, answered 500, and boto3's retry made a second delete marker.
 * This putObject is s3rver's, resolved when the file is closed. Nothing else is changed.
 */
import { createHash } from 'node:crypto';
import { createWriteStream, promises as fsp } from 'node:fs';
import path from 'node:path';
import { Transform, type Readable } from 'node:stream';
import { pipeline } from 'node:stream/promises';

interface S3rverObject {
  bucket: string;
  key: string;
  content: Buffer | Readable;
  metadata: Record<string, string>;
}

interface FilesystemStore {
  getResourcePath(bucket: string, key: string, kind: string): string;
  putMetadata(bucket: string, key: string, metadata: Record<string, string>, md5: string): Promise<void>;
}

const Store = require('s3rver/lib/stores/filesystem') as { prototype: FilesystemStore & { putObject: unknown } };

Store.prototype.putObject = async function (this: FilesystemStore, object: S3rverObject) {
  const objectPath = this.getResourcePath(object.bucket, object.key, 'object');
  await fsp.mkdir(path.dirname(objectPath), { recursive: true });
  const md5 = createHash('md5');
  let size = 0;
  const counting = new Transform({
    transform(chunk: Buffer, _enc, done) {
      md5.update(chunk);
      size += chunk.length;
      done(null, chunk);
    },
  });
  const source = Buffer.isBuffer(object.content) ? [object.content] : object.content;
  await pipeline(source, counting, createWriteStream(objectPath));
  const digest = md5.digest('hex');
  await this.putMetadata(object.bucket, object.key, object.metadata, digest);
  return { size, md5: digest };
};
