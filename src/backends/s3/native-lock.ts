/**
 * S3's own object lock on s3mux's version blobs: where the store bucket has object lock enabled
 * (GetObjectLockConfiguration, asked once per bucket), a version's retention and legal hold are
 * also set on its blob with PutObjectRetention / PutObjectLegalHold, so the store refuses to
 * remove the bytes even to a client that reaches it without s3mux. s3mux has already applied
 * S3's rules to the change (src/object-lock/lock.ts); a shortened GOVERNANCE retention is sent
 * with x-amz-bypass-governance-retention, which the store grants or refuses to s3mux's own
 * credentials.
 */
import { isS3Error } from '../../errors';
import type { StoreLock } from '../reserved-store';
import { discard, type S3Http, type S3Reply } from './http';
import { child, escapeXml, S3_NS, text, XML_HEADER } from './xml';

/** A store's answers meaning "this bucket has no object lock" (or the store has none at all). */
const NO_LOCK = ['ObjectLockConfigurationNotFoundError', 'NotImplemented', 'MethodNotAllowed', 'InvalidRequest'] as const;

/** What the lock needs of the s3 backend (its `sendDocument`: an XML body with Content-MD5 to an object's sub-resource). */
export interface LockAccess {
  readonly http: S3Http;
  sendDocument(method: 'PUT', bucket: string, key: string, sub: string, xml: string, extra?: Record<string, string>): Promise<S3Reply>;
}

export class NativeObjectLock {
  private readonly enabled = new Map<string, Promise<boolean>>();

  constructor(private readonly be: LockAccess) {}

  /** Whether the store bucket has object lock enabled (remembered; a failed question is asked again). */
  lockEnabled(bucket: string): Promise<boolean> {
    let known = this.enabled.get(bucket);
    if (!known) {
      known = this.ask(bucket);
      this.enabled.set(bucket, known);
      known.catch(() => this.enabled.delete(bucket));
    }
    return known;
  }

  private async ask(bucket: string): Promise<boolean> {
    try {
      const { doc } = await this.be.http.sendXml({ method: 'GET', bucket, query: { 'object-lock': '' }, notFound: 'NoSuchBucket' });
      return text(child(child(doc, 'ObjectLockConfiguration'), 'ObjectLockEnabled'))?.trim() === 'Enabled';
    } catch (err) {
      if (NO_LOCK.some((code) => isS3Error(err, code))) return false;
      throw err;
    }
  }

  /** Sets `lock` on the store object `name` (its current version: blob names are written once). */
  async protect(bucket: string, name: string, lock: StoreLock): Promise<void> {
    if (!(lock.retention || lock.legalHold) || !(await this.lockEnabled(bucket))) return;
    if (lock.retention) {
      const { mode, until } = lock.retention;
      const xml = `${XML_HEADER}<Retention xmlns="${S3_NS}"><Mode>${mode}</Mode><RetainUntilDate>${escapeXml(until)}</RetainUntilDate></Retention>`;
      await this.send(bucket, name, 'retention', xml, { 'x-amz-bypass-governance-retention': 'true' });
    }
    if (lock.legalHold) {
      const xml = `${XML_HEADER}<LegalHold xmlns="${S3_NS}"><Status>${lock.legalHold}</Status></LegalHold>`;
      await this.send(bucket, name, 'legal-hold', xml, {});
    }
  }

  private async send(bucket: string, key: string, sub: string, xml: string, extra: Record<string, string>): Promise<void> {
    discard((await this.be.sendDocument('PUT', bucket, key, sub, xml, extra)).body);
  }
}
