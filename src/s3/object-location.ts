/**
 * The URL an answer gives for the object a request made (POST Object's Location, Complete's
 * <Location>): absolute, as S3 gives it, in the addressing style the request used, so a client
 * may fetch it as it stands.
 */
import type { TLSSocket } from 'node:tls';
import type { S3Context } from './context';

export function objectLocation(ctx: S3Context, bucket: string, key: string): string {
  const proto = (ctx.req.socket as TLSSocket).encrypted ? 'https' : 'http';
  const host = ctx.header('host') ?? 'localhost';
  const path = key.split('/').map(encodeURIComponent).join('/');
  return ctx.target.style === 'virtual-host' ? `${proto}://${host}/${path}` : `${proto}://${host}/${encodeURIComponent(bucket)}/${path}`;
}
