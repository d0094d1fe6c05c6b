/**
 * S3's own object lock on s3mux's version blobs: where the store bucket has object lock enabled
 * (GetObjectLockConfiguration), a version's retention and legal hold are also set on its blob
 * with PutObjectRetention / PutObjectLegalHold, so the store refuses to remove the bytes even to
 * a client that reaches it without s3mux. A shortened or removed GOVERNANCE retention is sent
 * with x-amz-bypass-governance-retention, which the store grants or refuses to s3mux's own
 * credentials.
 */
import { isS3Error } from '../../errors';
import { nativeLock, type NativeProtect } from '../native-lock';
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
export function s3NativeLock(be: LockAccess): NativeProtect {
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
