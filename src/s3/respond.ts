/** S3 error documents and XML answers. */
import { Readable } from 'node:stream';
import { S3Error, toS3Error } from '../errors';
import { toXml } from './xml';
import type { S3Response } from './context';

/**
 * S3's MethodNotAllowed on a resource (a delete marker) names the request's method, which the
 * layer that refuses it does not know.
 */
function methodOf(err: S3Error, method: string): Record<string, string> {
  return err.code === 'MethodNotAllowed' && err.extra.ResourceType !== undefined && err.extra.Method === undefined
    ? { Method: method }
    : {};
}

export function errorResponse(err: S3Error, resource: string, requestId: string, method: string): S3Response {
  const extraHeaders: Record<string, string> = {
    ...(err.retryAfterSeconds !== undefined ? { 'Retry-After': String(err.retryAfterSeconds) } : {}),
    ...err.headers,
  };
  const headers: Record<string, string> = { 'Content-Type': 'application/xml', ...extraHeaders };
  // 304 and HEAD answers carry no body, as in S3 (the SDKs read the code from the status).
  if (err.status === 304 || method === 'HEAD')
    return { status: err.status, headers: err.status === 304 ? {} : { 'x-amz-error-code': err.code, ...extraHeaders } };
  const body = toXml(
    'Error',
    {
      Code: err.code,
      Message: err.message,
      ...methodOf(err, method),
      ...err.extra,
      Resource: resource,
      RequestId: requestId,
    },
    null,
  );
  return { status: err.status, headers, body };
}

export function xmlResponse(
  root: string,
  body: Parameters<typeof toXml>[1],
  status = 200,
  extraHeaders: Record<string, string> = {},
): S3Response {
  return { status, headers: { 'Content-Type': 'application/xml', ...extraHeaders }, body: toXml(root, body) };
}

const XML_DECLARATION = '<?xml version="1.0" encoding="UTF-8"?>\n';

/**
 * The answer to work that may outlast a client's read timeout (assembling a large multipart
 * object). Work that ends within `keepAliveMs` gets an ordinary answer, errors with their own
 * status. Longer work is answered as S3 does: 200 and the XML declaration at once, a space
 * every `keepAliveMs` while it runs, then the result, or an <Error> document if it failed
 * (SDKs look for an Error inside a 200 answer to CompleteMultipartUpload).
 */
export async function slowXmlResponse(
  work: Promise<{ root: string; body: Parameters<typeof toXml>[1]; headers?: Record<string, string> }>,
  ctx: { resource: string; requestId: string },
  keepAliveMs = 5000,
): Promise<S3Response> {
  let timer: NodeJS.Timeout | undefined;
  const slow = new Promise<'slow'>((resolve) => {
    timer = setTimeout(() => resolve('slow'), keepAliveMs);
  });
  const first = await Promise.race([work, slow]).finally(() => clearTimeout(timer));
  // Headers go out only with an answer that waited for the work.
  if (first !== 'slow') return xmlResponse(first.root, first.body, 200, first.headers);
  return keepAliveResponse(work, ctx, keepAliveMs);
}

function keepAliveResponse(
  work: Promise<{ root: string; body: Parameters<typeof toXml>[1] }>,
  ctx: { resource: string; requestId: string },
  keepAliveMs: number,
): S3Response {
  const stream = new Readable({ read() {} });
  stream.push(XML_DECLARATION);
  const timer = setInterval(() => stream.push(' '), keepAliveMs);
  void work
    .then(
      ({ root, body }) => toXml(root, body).slice(XML_DECLARATION.length),
      (err: unknown) => {
        const e = toS3Error(err);
        return toXml(
          'Error',
          { Code: e.code, Message: e.message, ...e.extra, Resource: ctx.resource, RequestId: ctx.requestId },
          null,
        ).slice(XML_DECLARATION.length);
      },
    )
    .then((tail) => {
      clearInterval(timer);
      stream.push(tail);
      stream.push(null);
    });
  // If the client goes away, stop the keep-alive; the work itself runs to completion.
  stream.once('close', () => clearInterval(timer));
  return { status: 200, headers: { 'Content-Type': 'application/xml' }, body: stream };
}
