/**
 * An independent SigV4 signer for the hostile-input test, written from the AWS
 * description (not from src/auth/sigv4.ts), that exposes every knob a mutation needs:
 * the date, each credential-scope field, the SignedHeaders list, the payload hash, and the
 * aws-chunked chunk / trailer signature chain. The test proves it right with control
 * requests that must succeed before trusting the SignatureDoesNotMatch cases built on it.
 */
import { createHash, createHmac } from 'node:crypto';

export const ALGORITHM = 'AWS4-HMAC-SHA256';
export const EMPTY_SHA256 = 'e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855';
export const UNSIGNED_PAYLOAD = 'UNSIGNED-PAYLOAD';
export const STREAMING_PAYLOAD = 'STREAMING-AWS4-HMAC-SHA256-PAYLOAD';
export const STREAMING_PAYLOAD_TRAILER = 'STREAMING-AWS4-HMAC-SHA256-PAYLOAD-TRAILER';
export const STREAMING_UNSIGNED_TRAILER = 'STREAMING-UNSIGNED-PAYLOAD-TRAILER';

export function sha256Hex(data: string | Buffer): string {
  return createHash('sha256').update(data).digest('hex');
}

export function hmac(key: string | Buffer, data: string): Buffer {
  return createHmac('sha256', key).update(data, 'utf8').digest();
}

/** yyyyMMddTHHmmssZ */
export function amzDate(d: Date): string {
  return d
    .toISOString()
    .replace(/[-:]/g, '')
    .replace(/\.\d{3}/, '');
}

export function signingKey(secret: string, date: string, region: string, service: string, terminator = 'aws4_request'): Buffer {
  return hmac(hmac(hmac(hmac('AWS4' + secret, date), region), service), terminator);
}

const UNRESERVED = /[A-Za-z0-9\-_.~]/;

function uriEncode(bytes: Buffer): string {
  let out = '';
  for (const b of bytes) {
    const c = String.fromCharCode(b);
    out += UNRESERVED.test(c) ? c : '%' + b.toString(16).toUpperCase().padStart(2, '0');
  }
  return out;
}

/** %XX is a byte; a '%' not followed by two hex digits is kept literally. */
function uriDecode(raw: string): Buffer {
  const parts: Buffer[] = [];
  let i = 0;
  let lit = '';
  while (i < raw.length) {
    if (raw[i] === '%' && /^[0-9A-Fa-f]{2}$/.test(raw.slice(i + 1, i + 3))) {
      parts.push(Buffer.from(lit, 'utf8'), Buffer.of(parseInt(raw.slice(i + 1, i + 3), 16)));
      lit = '';
      i += 3;
    } else {
      lit += raw[i];
      i++;
    }
  }
  parts.push(Buffer.from(lit, 'utf8'));
  return Buffer.concat(parts);
}

/** S3's canonical URI: the path as sent, each segment normalised to one UriEncode (no dot-segment removal). */
export function canonicalUri(rawPath: string): string {
  return rawPath === ''
    ? '/'
    : rawPath
        .split('/')
        .map((s) => uriEncode(uriDecode(s)))
        .join('/');
}

export function canonicalQuery(rawQuery: string, skipSignature = false): string {
  const pairs: Array<[string, string]> = [];
  for (const part of rawQuery.split('&')) {
    if (part === '') continue;
    const eq = part.indexOf('=');
    const n = uriEncode(uriDecode(eq < 0 ? part : part.slice(0, eq)));
    const v = uriEncode(uriDecode(eq < 0 ? '' : part.slice(eq + 1)));
    if (skipSignature && n === 'X-Amz-Signature') continue;
    pairs.push([n, v]);
  }
  pairs.sort((a, b) => (a[0] < b[0] ? -1 : a[0] > b[0] ? 1 : a[1] < b[1] ? -1 : a[1] > b[1] ? 1 : 0));
  return pairs.map(([n, v]) => `${n}=${v}`).join('&');
}

export type HeaderList = Array<[string, string]>;

export function canonicalHeaders(headers: HeaderList, signed: string[]): string {
  return signed
    .map((name) => {
      const values = headers.filter(([n]) => n.toLowerCase() === name.toLowerCase()).map(([, v]) => v.trim().replace(/\s+/g, ' '));
      return `${name}:${values.join(',')}\n`;
    })
    .join('');
}

/** The headers a well-behaved client signs: host, content-md5/type, every x-amz-*. */
export function defaultSignedHeaders(headers: HeaderList): string[] {
  const names = new Set<string>();
  for (const [n] of headers) {
    const l = n.toLowerCase();
    if (l === 'host' || l === 'content-md5' || l === 'content-type' || l === 'content-encoding' || l.startsWith('x-amz-')) names.add(l);
  }
  return [...names].sort();
}

export interface Scope {
  accessKeyId: string;
  secret: string;
  /** The request time as sent in x-amz-date (or X-Amz-Date). */
  amzDate: string;
  /** Scope fields; default: amzDate's day, us-east-1, s3, aws4_request. */
  scopeDate?: string;
  region?: string;
  service?: string;
  terminator?: string;
}

export interface SigningResult {
  signature: string;
  scope: string;
  key: Buffer;
  amzDate: string;
  signedHeaders: string[];
  canonicalRequest: string;
}

export function scopeOf(s: Scope): { scope: string; key: Buffer } {
  const day = s.scopeDate ?? s.amzDate.slice(0, 8);
  const region = s.region ?? 'us-east-1';
  const service = s.service ?? 's3';
  const term = s.terminator ?? 'aws4_request';
  return { scope: `${day}/${region}/${service}/${term}`, key: signingKey(s.secret, day, region, service, term) };
}

export function sign(
  req: { method: string; path: string; query: string; headers: HeaderList },
  payloadHash: string,
  s: Scope,
  signedHeaders: string[] = defaultSignedHeaders(req.headers),
  presigned = false,
): SigningResult {
  const canonicalRequest = [
    req.method,
    canonicalUri(req.path),
    canonicalQuery(req.query, presigned),
    canonicalHeaders(req.headers, signedHeaders),
    signedHeaders.join(';'),
    payloadHash,
  ].join('\n');
  const { scope, key } = scopeOf(s);
  // Header values are sent as latin1 strings (one char per byte): the bytes sent are what is signed, as S3 hashes them.
  const stringToSign = `${ALGORITHM}\n${s.amzDate}\n${scope}\n${sha256Hex(Buffer.from(canonicalRequest, 'latin1'))}`;
  return {
    signature: createHmac('sha256', key).update(stringToSign).digest('hex'),
    scope,
    key,
    amzDate: s.amzDate,
    signedHeaders,
    canonicalRequest,
  };
}

export function authorizationHeader(accessKeyId: string, r: SigningResult): string {
  return `${ALGORITHM} Credential=${accessKeyId}/${r.scope}, SignedHeaders=${r.signedHeaders.join(';')}, Signature=${r.signature}`;
}

/** aws-chunked chunk signature (AWS "Signature Calculations for ... Transferring Payload in Multiple Chunks"). */
export function chunkSignature(key: Buffer, amz: string, scope: string, prev: string, data: Buffer): string {
  return createHmac('sha256', key)
    .update(`AWS4-HMAC-SHA256-PAYLOAD\n${amz}\n${scope}\n${prev}\n${EMPTY_SHA256}\n${sha256Hex(data)}`)
    .digest('hex');
}

/** x-amz-trailer-signature over the trailer lines ("name:value\n" each). */
export function trailerSignature(key: Buffer, amz: string, scope: string, prev: string, trailerText: string): string {
  return createHmac('sha256', key)
    .update(`AWS4-HMAC-SHA256-TRAILER\n${amz}\n${scope}\n${prev}\n${sha256Hex(trailerText)}`)
    .digest('hex');
}

/** One piece of an aws-chunked body, editable by a mutation before serialisation. */
export interface ChunkSpec {
  /** The hex size as written. */
  sizeText: string;
  /** chunk-signature value, or undefined for none. */
  sig?: string;
  /** Extra text appended to the header line (";ext=..."). */
  ext?: string;
  data: Buffer;
  /** What follows the data ("\r\n"). */
  after: string;
}

export interface ChunkedBody {
  chunks: ChunkSpec[];
  /** Trailer lines (name, value) and, for a signed trailer, the signature line last. */
  trailers: HeaderList;
  /** What ends the body after the trailers ("\r\n"). */
  end: string;
}

/**
 * Frames `data` as aws-chunked. With `signing`, each chunk carries the chained signature
 * (seeded with the request signature); with trailers and signing, a trailer signature follows.
 */
export function frameChunked(
  data: Buffer,
  chunkSize: number,
  opts: { signing?: { key: Buffer; amzDate: string; scope: string; seed: string }; trailers?: HeaderList; signTrailer?: boolean } = {},
): ChunkedBody {
  const chunks: ChunkSpec[] = [];
  let prev = opts.signing?.seed ?? '';
  const pieces: Buffer[] = [];
  for (let off = 0; off < data.length; off += chunkSize) pieces.push(data.subarray(off, Math.min(data.length, off + chunkSize)));
  pieces.push(Buffer.alloc(0));
  for (const p of pieces) {
    let sig: string | undefined;
    if (opts.signing) {
      sig = chunkSignature(opts.signing.key, opts.signing.amzDate, opts.signing.scope, prev, p);
      prev = sig;
    }
    chunks.push({ sizeText: p.length.toString(16), sig, data: p, after: p.length ? '\r\n' : '' });
  }
  const trailers: HeaderList = [...(opts.trailers ?? [])];
  if (opts.signing && opts.signTrailer) {
    const text = trailers.map(([n, v]) => `${n}:${v}\n`).join('');
    trailers.push(['x-amz-trailer-signature', trailerSignature(opts.signing.key, opts.signing.amzDate, opts.signing.scope, prev, text)]);
  }
  return { chunks, trailers, end: '\r\n' };
}

export function serializeChunked(b: ChunkedBody): Buffer {
  const out: Buffer[] = [];
  for (const c of b.chunks) {
    out.push(
      Buffer.from(`${c.sizeText}${c.sig !== undefined ? ';chunk-signature=' + c.sig : ''}${c.ext ?? ''}\r\n`, 'latin1'),
      c.data,
      Buffer.from(c.after, 'latin1'),
    );
  }
  for (const [n, v] of b.trailers) out.push(Buffer.from(`${n}:${v}\r\n`, 'latin1'));
  out.push(Buffer.from(b.end, 'latin1'));
  return Buffer.concat(out);
}
