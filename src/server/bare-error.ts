/**
 * The answer to a request s3mux refuses before dispatch sees it: a connection beyond
 * --max-connections (connection-cap.ts), bytes Node's HTTP parser cannot read (http-wire.ts).
 * It is S3's error document with Code, Message and a RequestId (there is no resource to name
 * yet), with the x-amz-request-id / x-amz-id-2 headers every other s3mux answer carries, so a
 * client logging request ids can report it; the connection closes after it.
 */
import http from 'node:http';
import type { S3Error } from '../errors';
import { newRequestId, setIdentityHeaders } from '../s3/request-id';
import { toXml } from '../s3/xml';

export interface BareErrorAnswer {
  status: number;
  headers: Record<string, string>;
  body: string;
}

export function bareErrorAnswer(e: S3Error): BareErrorAnswer {
  const requestId = newRequestId();
  const body = toXml('Error', { Code: e.code, Message: e.message, RequestId: requestId }, null);
  const headers: Record<string, string> = { 'Content-Type': 'application/xml', 'Content-Length': String(Buffer.byteLength(body)) };
  setIdentityHeaders(requestId, (name, value) => (headers[name] = value));
  headers.Connection = 'close';
  return { status: e.status, headers, body };
}

/** The same answer as raw HTTP/1.1, for a socket no ServerResponse belongs to. */
export function bareErrorWire(e: S3Error): string {
  const a = bareErrorAnswer(e);
  const head = Object.entries(a.headers).map(([n, v]) => `${n}: ${v}\r\n`);
  return `HTTP/1.1 ${a.status} ${http.STATUS_CODES[a.status]}\r\n${head.join('')}\r\n${a.body}`;
}
