/**
 * The request as the client sent it, behind a reverse proxy that says what it changed. A proxy
 * that rewrites Host (nginx's `proxy_pass` default) or serves s3mux under a sub-path (`/s3/`,
 * stripped before s3mux sees it) breaks every SigV4 signature: the client signed the host and
 * path it used. X-Forwarded-Host (with -Port and -Proto) and X-Forwarded-Prefix say what they
 * were. Read only when the operator says a proxy sets them (`--trust-forwarded`): otherwise any
 * client could name another endpoint's host, and a request signed for that endpoint would pass.
 */
import type { IncomingHttpHeaders } from 'node:http';

export interface ClientView {
  /** The Host the client sent. */
  host: string | undefined;
  /** The path the proxy removed before s3mux's path ('' when none), e.g. `/s3`. */
  prefix: string;
  /** The scheme the client used (X-Forwarded-Proto), when a proxy said; else the socket's. */
  proto?: 'http' | 'https';
}

const DEFAULT_PORT: Readonly<Record<string, string>> = { http: '80', https: '443' };

/** A forwarded header's first value: a chain of proxies appends theirs after the client's. */
function first(headers: IncomingHttpHeaders, name: string): string | undefined {
  const raw = headers[name];
  const value = (Array.isArray(raw) ? raw[0] : raw)?.split(',')[0]?.trim();
  return value === undefined || value === '' ? undefined : value;
}

function hasPort(host: string): boolean {
  return host.startsWith('[') ? /\]:\d+$/.test(host) : host.includes(':');
}

/** The host and path prefix the client used, from the forwarded headers where a proxy set them. */
export function clientView(headers: IncomingHttpHeaders): ClientView {
  const forwardedHost = first(headers, 'x-forwarded-host');
  const port = first(headers, 'x-forwarded-port');
  const proto = first(headers, 'x-forwarded-proto')?.toLowerCase();
  // A port the client would not have written (the scheme's own) is not part of its Host.
  const withPort = (h: string) => (port && !hasPort(h) && DEFAULT_PORT[proto ?? 'http'] !== port ? `${h}:${port}` : h);
  const prefix = (first(headers, 'x-forwarded-prefix') ?? '').replace(/\/+$/, '');
  return {
    host: forwardedHost !== undefined ? withPort(forwardedHost) : headers.host,
    prefix: prefix === '' || prefix.startsWith('/') ? prefix : `/${prefix}`,
    proto: proto === 'http' || proto === 'https' ? proto : undefined,
  };
}
