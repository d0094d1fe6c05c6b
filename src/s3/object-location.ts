/**
 * The URL an answer gives for the object a request made (POST Object's Location, Complete's
 * <Location>): absolute, as S3 gives it, in the addressing style the request used, so a client
 * may fetch it as it stands.
 */
import type { TLSSocket } from 'node:tls';
import type { S3Context } from './context';

export function objectLocation(ctx: S3Context, bucket: string, key: string): string {
  // Behind a trusted proxy (--trust-forwarded), the scheme, host and path prefix the client used.
  const { client } = ctx;
  const proto = client.proto ?? ((ctx.req.socket as TLSSocket).encrypted ? 'https' : 'http');
  const host = client.host ?? 'localhost';
  const path = key.split('/').map(encodeURIComponent).join('/');
  const base = `${proto}://${host}${client.prefix}`;
  return ctx.target.style === 'virtual-host' ? `${base}/${path}` : `${base}/${encodeURIComponent(bucket)}/${path}`;
}
