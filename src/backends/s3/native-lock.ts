/**
 * S3's own object lock on s3mux's version blobs: where the store bucket has object lock enabled
 * (GetObjectLockConfiguration), a new blob's PutObject or CreateMultipartUpload carries its
 * version's lock (`lockHeaders`; S3 wants Content-MD5 with them, which the adapter sends on
 * those bodies, each buffered part's own), and later changes take PutObjectRetention /
 * PutObjectLegalHold, so the store refuses to remove the bytes even to a client that reaches it
 * without s3mux. A shortened or removed GOVERNANCE retention is sent
 * with x-amz-bypass-governance-retention, which the store grants or refuses to s3mux's own
 * credentials.
 */
import { isS3Error } from '../../errors';
import { nativeLock, type NativeLock } from '../native-lock';
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

/** S3's object lock as the shared native lock's three calls (../native-lock.ts). */
export function s3NativeLock(be: LockAccess): NativeLock {
  const send = async (bucket: string, key: string, sub: string, xml: string, extra: Record<string, string> = {}): Promise<void> =>
    discard((await be.sendDocument('PUT', bucket, key, sub, xml, extra)).body);
  return nativeLock({
    async enabled(bucket) {
      try {
        const { doc } = await be.http.sendXml({ method: 'GET', bucket, query: { 'object-lock': '' }, notFound: 'NoSuchBucket' });
        return text(child(child(doc, 'ObjectLockConfiguration'), 'ObjectLockEnabled'))?.trim() === 'Enabled';
      } catch (err) {
        if (NO_LOCK.some((code) => isS3Error(err, code))) return false;
        throw err;
      }
    },
    // An empty Retention removes one (S3 allows it for GOVERNANCE with the bypass).
    retain: (bucket, name, r) =>
      send(
        bucket,
        name,
        'retention',
        `${XML_HEADER}<Retention xmlns="${S3_NS}">${r ? `<Mode>${r.mode}</Mode><RetainUntilDate>${escapeXml(r.until)}</RetainUntilDate>` : ''}</Retention>`,
        { 'x-amz-bypass-governance-retention': 'true' },
      ),
    hold: (bucket, name, on) =>
      send(bucket, name, 'legal-hold', `${XML_HEADER}<LegalHold xmlns="${S3_NS}"><Status>${on ? 'ON' : 'OFF'}</Status></LegalHold>`),
  });
}

/** The headers that give a new object its lock on PutObject / CreateMultipartUpload. */
export function lockHeaders(lock: StoreLock | undefined): Record<string, string> | undefined {
  if (!lock) return undefined;
  const h: Record<string, string> = {};
  if (lock.retention) {
    h['x-amz-object-lock-mode'] = lock.retention.mode;
    h['x-amz-object-lock-retain-until-date'] = new Date(lock.retention.until).toISOString();
  }
  if (lock.legalHold === 'ON') h['x-amz-object-lock-legal-hold'] = 'ON';
  return h;
}
