/** S3 error documents. */
import { S3Error } from '../errors';
import { toXml } from './xml';
import type { S3Response } from './context';

export function errorResponse(err: S3Error, resource: string, requestId: string, method: string): S3Response {
  const headers: Record<string, string> = { 'Content-Type': 'application/xml' };
  // 304 and HEAD answers carry no body, as in S3 (the SDKs read the code from the status).
  if (err.status === 304 || method === 'HEAD') return { status: err.status, headers: err.status === 304 ? {} : { 'x-amz-error-code': err.code } };
  const body = toXml('Error', {
    Code: err.code,
    Message: err.message,
    ...err.extra,
    Resource: resource,
    RequestId: requestId,
  }, null);
  return { status: err.status, headers, body };
}

export function xmlResponse(root: string, body: Parameters<typeof toXml>[1], status = 200, extraHeaders: Record<string, string> = {}): S3Response {
  return { status, headers: { 'Content-Type': 'application/xml', ...extraHeaders }, body: toXml(root, body) };
}
