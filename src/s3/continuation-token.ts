/** Continuation tokens (ListObjectsV2, ListBuckets): the name to go on after, opaque to clients. */
import { S3Error } from '../errors';

export function encodeToken(key: string): string {
  return Buffer.from('v1:' + key, 'utf8').toString('base64url');
}

export function decodeToken(token: string): string {
  const text = /^[A-Za-z0-9_-]*$/.test(token) ? Buffer.from(token, 'base64url').toString('utf8') : '';
  if (!text.startsWith('v1:'))
    throw new S3Error('InvalidArgument', 'The continuation token provided is incorrect', { ArgumentName: 'continuation-token' });
  return text.slice(3);
}
