/**
 * SSE-S3 on the s3 backend: the store is asked to encrypt each write that requests it, and S3
 * answers such a write with `x-amz-server-side-encryption: AES256`. Some S3-compatible stores
 * take the header and say nothing (s3rver; stores without a KMS that do not refuse it): they kept
 * the bytes as they came. s3mux must then refuse the client's write (NotImplemented) instead of
 * answering a 200 that says the object is encrypted.
 *
 * So before the first SSE write to a bucket the store is asked once, with an empty object under
 * s3mux's own key range (`.s3mux/r/`, never a client key nor listed), deleted at once. A store
 * that refuses the probe is not judged: the write meets the same store and its refusal. Every
 * SSE write's answer is checked too, in case the store changed since.
 */
import { randomUUID } from 'node:crypto';
import { S3Error } from '../../errors';
import { RESERVED_DOCS_PREFIX } from '../reserved-objects';
import { discard, type S3Http } from './http';

const HEADER = 'x-amz-server-side-encryption';

/**
 * A write that asked for SSE-S3 was stored, and the store's answer did not say it encrypted it
 * (it changed since it was asked): the client must not be told it is encrypted.
 */
export function storedUnencrypted(store: string, key: string): S3Error {
  return new S3Error(
    'InternalError',
    `The storage backend '${store}' stored the object without the server-side encryption the request asked for (its answer carried no ${HEADER}): it is there unencrypted. Later requests for SSE-S3 on this route are refused with NotImplemented.`,
    { Key: key },
  );
}

export class StoreEncryption {
  /** Per bucket, what its store did with SSE-S3: said it encrypted (true) or answered without saying so (false). */
  private readonly honours = new Map<string, boolean>();
  private readonly probes = new Map<string, Promise<void>>();

  constructor(private readonly http: S3Http) {}

  /** Throws NotImplemented where the bucket's store is known to ignore SSE-S3; asks it first when not known. */
  async before(bucket: string): Promise<void> {
    if (!this.honours.has(bucket)) {
      let probe = this.probes.get(bucket);
      if (!probe) {
        probe = this.probe(bucket).finally(() => this.probes.delete(bucket));
        this.probes.set(bucket, probe);
      }
      await probe;
    }
    if (this.honours.get(bucket) === false) throw this.refusal();
  }

  /**
   * Whether the answer to a write that asked for SSE-S3 says the store encrypted it. When it does
   * not, the bucket's later SSE-S3 writes are refused (the caller undoes what it can).
   */
  confirmed(bucket: string, answer: Record<string, string>): boolean {
    const said = answer[HEADER] === 'AES256';
    if (!said) this.honours.set(bucket, false);
    return said;
  }

  /** NotImplemented, for an SSE-S3 request on a store that does not encrypt. */
  refusal(): S3Error {
    return new S3Error(
      'NotImplemented',
      `s3mux does not support server-side encryption on this route: its store '${this.http.name}' takes the request for SSE-S3 and does not encrypt (its answers carry no ${HEADER}) (${HEADER}).`,
      { Header: HEADER },
    );
  }

  private async probe(bucket: string): Promise<void> {
    const key = `${RESERVED_DOCS_PREFIX}sse-probe-${randomUUID()}`;
    let said: string | undefined;
    let version: string | undefined;
    try {
      const reply = await this.http.send({
        method: 'PUT',
        bucket,
        key,
        body: Buffer.alloc(0),
        contentLength: 0,
        headers: { [HEADER]: 'AES256' },
        notFound: 'NoSuchBucket',
      });
      discard(reply.body);
      said = reply.headers[HEADER];
      version = reply.headers['x-amz-version-id'];
    } catch {
      return; // refused or unreachable: the write itself gets the store's answer
    }
    this.honours.set(bucket, said === 'AES256');
    // In a versioned bucket the version itself goes, so no empty version is left behind.
    await this.http
      .send({
        method: 'DELETE',
        bucket,
        key,
        query: version && version !== 'null' ? { versionId: version } : undefined,
        notFound: 'NoSuchKey',
      })
      .then((r) => discard(r.body))
      .catch(() => {});
  }
}
