/**
 * Upload ids s3mux makes itself (the staged multipart store's and the azure backend's; a store
 * with its own multipart gives its own): `bytes` random bytes, base64url.
 */
import { randomBytes } from 'node:crypto';

/**
 * Never one that begins with '-': one random id in 64 would, and command lines take it for an
 * option (aws s3api ... --upload-id ID answers "expected one argument", s3cmd abortmp
 * s3://b/k ID "no such option"), so that upload could not be listed, completed or aborted the
 * way its user types it. S3's own upload ids do not begin with one. The id stays random: the
 * byte that made the '-' is drawn again.
 */
export function newUploadId(bytes: number): string {
  for (;;) {
    const id = randomBytes(bytes).toString('base64url');
    if (id[0] !== '-') return id;
  }
}
