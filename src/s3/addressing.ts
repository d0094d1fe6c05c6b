/**
 * Where a request points: service, bucket or object, in path-style
 * (`/bucket/key`) or virtual-hosted style (`bucket.<domain>/key`).
 */
import { S3Error } from '../errors';

export interface Target {
  bucket?: string;
  key?: string;
  /** The path as received, still percent-encoded (what SigV4 signs). */
  rawPath: string;
  rawQuery: string;
  style: 'path' | 'virtual-host';
}

function decode(part: string): string {
  try {
    return decodeURIComponent(part);
  } catch {
    throw new S3Error('InvalidURI');
  }
}

/** The host without its port; brackets of an IPv6 literal stay. */
function hostname(host: string): string {
  const h = host.trim().toLowerCase();
  if (h.startsWith('[')) return h.slice(0, h.indexOf(']') + 1);
  const colon = h.lastIndexOf(':');
  return colon === -1 ? h : h.slice(0, colon);
}

export function resolveTarget(url: string, host: string | undefined, domains: readonly string[]): Target {
  const q = url.indexOf('?');
  const rawPath = q === -1 ? url : url.slice(0, q);
  const rawQuery = q === -1 ? '' : url.slice(q + 1);
  if (!rawPath.startsWith('/')) throw new S3Error('InvalidURI');

  const name = host ? hostname(host) : '';
  for (const domain of domains) {
    if (name.endsWith('.' + domain)) {
      const bucket = name.slice(0, -(domain.length + 1));
      const key = rawPath.length > 1 ? decode(rawPath.slice(1)) : undefined;
      return { bucket, key, rawPath, rawQuery, style: 'virtual-host' };
    }
  }

  // Path style: the first segment is the bucket, the rest (even empty segments) is the key.
  const rest = rawPath.slice(1);
  if (rest === '') return { rawPath, rawQuery, style: 'path' };
  const slash = rest.indexOf('/');
  const bucket = decode(slash === -1 ? rest : rest.slice(0, slash));
  const keyPart = slash === -1 ? '' : rest.slice(slash + 1);
  return { bucket, key: keyPart === '' ? undefined : decode(keyPart), rawPath, rawQuery, style: 'path' };
}

/** Query parameters decoded the way S3 decodes them ('+' is a space). */
export function parseQuery(rawQuery: string): URLSearchParams {
  return new URLSearchParams(rawQuery);
}
