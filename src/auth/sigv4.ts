/**
 * AWS Signature Version 4 verification, with S3's rules.
 *
 * S3 differs from the generic SigV4 description in ways that matter here:
 *  - the canonical URI is the path as sent, URI-encoded once: no `.`/`..`/`//` normalization
 *    and no double encoding (a key may legitimately be `a/../b` or `a//b`);
 *  - in the query a raw `+` is a space (form encoding: the Java SDK v1 sends spaces that way
 *    and S3 accepts it); a literal plus arrives as `%2B`;
 *  - the payload hash comes from x-amz-content-sha256; presigned URLs use UNSIGNED-PAYLOAD.
 * What the signature covers must be what the router acts on, or a signature for one key
 * or parameter could be replayed against another: the router decodes the path with
 * decodeURIComponent (`+` literal) and the query with URLSearchParams (`+` a space), and
 * the canonical forms below follow the same two rules. (AWS itself also reads a raw `+` in
 * the path as a space; switching to that needs the router and this file changed together.)
 */
import { timingSafeEqual } from 'node:crypto';
import { S3Error } from '../errors';
import { getSigningKey } from './signing-key-cache';
import { hmacHex, sha256Hex } from './digests';
import { byteString, bytesHex, foldedHeaderValue } from './byte-strings';

export const ALGORITHM = 'AWS4-HMAC-SHA256';
export const EMPTY_SHA256 = 'e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855';
export const UNSIGNED_PAYLOAD = 'UNSIGNED-PAYLOAD';
export const STREAMING_PAYLOAD = 'STREAMING-AWS4-HMAC-SHA256-PAYLOAD';
export const STREAMING_PAYLOAD_TRAILER = 'STREAMING-AWS4-HMAC-SHA256-PAYLOAD-TRAILER';
export const STREAMING_UNSIGNED_PAYLOAD_TRAILER = 'STREAMING-UNSIGNED-PAYLOAD-TRAILER';

const DEFAULT_MAX_SKEW_MS = 15 * 60 * 1000;
const MAX_PRESIGNED_EXPIRES = 7 * 24 * 3600;

export interface AuthRequest {
  method: string;
  /** The request path exactly as received, still percent-encoded, no query. */
  rawPath: string;
  /** The query string as received, without '?', '' when none. */
  rawQuery: string;
  /**
   * Lower-case header names. Prefer Node's `req.headersDistinct`: `req.headers` joins a
   * repeated header with ', ' where SigV4 joins with ',', so a repeated signed header
   * would not verify. Values are byte strings, as Node gives them: one character (U+0000 to
   * U+00FF) per byte received, so a UTF-8 value is its bytes, not its text. S3 signs the
   * bytes (botocore sends and signs a Content-Disposition naming a file in UTF-8 so).
   */
  headers: Record<string, string | string[] | undefined>;
}

export interface Identity {
  accessKeyId: string;
  secretAccessKey: string;
  sessionToken?: string;
}

export type CredentialLookup = (accessKeyId: string) => Identity | undefined;

/** What an aws-chunked decoder needs to check the signature chain of a streaming upload. */
export interface ChunkSigningContext {
  /** The request signature: the first chunk's signature chains from it. */
  readonly seedSignature: string;
  /** True for STREAMING-AWS4-HMAC-SHA256-PAYLOAD-TRAILER: a signed trailer must follow. */
  readonly trailer: boolean;
  /** Expected signature of a chunk, given the previous signature and sha256 hex of its data. */
  chunkSignature(previousSignature: string, chunkSha256Hex: string): string;
  /** Expected x-amz-trailer-signature, given the final chunk's signature and sha256 hex of the trailer text. */
  trailerSignature(previousSignature: string, trailerSha256Hex: string): string;
  /**
   * The SignatureDoesNotMatch S3 answers for a chunk or trailer signature that does not match:
   * the elements of a request signature's refusal, with the chunk's (or trailer's) string to sign.
   */
  mismatch(kind: 'chunk' | 'trailer', previousSignature: string, sha256Hex: string, provided: string): S3Error;
}

export type AuthResult =
  | { type: 'anonymous' }
  | {
      /** SigV4 in the Authorization header or the query; 'v2' is SigV2 either way (auth/sigv2.ts). */
      type: 'header' | 'presigned' | 'v2';
      accessKeyId: string;
      region: string;
      service: string;
      /** x-amz-content-sha256 value: hex sha256, 'UNSIGNED-PAYLOAD', or a STREAMING-* marker */
      payloadHash: string;
      /** Present for STREAMING-AWS4-HMAC-SHA256-PAYLOAD(-TRAILER): what a chunk verifier needs */
      streaming?: ChunkSigningContext;
    };

export interface AuthOptions {
  /** Allowed clock difference; S3 uses 15 minutes. */
  maxSkewMs?: number;
  /** The region this endpoint serves: a signature scoped to another is refused, as S3 does. */
  region?: string;
}

/** The parts of a SigV4 signature, whichever way (header or query) they came. */
interface Parsed {
  presigned: boolean;
  accessKeyId: string;
  scopeDate: string;
  region: string;
  service: string;
  signedHeaders: string[];
  signature: string;
}

// ---------------------------------------------------------------------------------------
// URI encoding

/** AWS's UriEncode: unreserved bytes as is, every other byte %XX with upper-case hex. */
const ENCODED_BYTE: string[] = Array.from({ length: 256 }, (_, b) =>
  /[A-Za-z0-9\-_.~]/.test(String.fromCharCode(b)) ? String.fromCharCode(b) : '%' + b.toString(16).toUpperCase().padStart(2, '0'),
);

function uriEncodeBytes(bytes: Uint8Array): string {
  let out = '';
  for (const b of bytes) out += ENCODED_BYTE[b];
  return out;
}

/**
 * A raw URI component to bytes: %XX is a byte, anything else its UTF-8 bytes, and '+' a
 * space when plusIsSpace (query) or itself (path). A '%' not followed by two hex digits
 * stays a literal '%'. Working on bytes keeps names that are not valid UTF-8 signable.
 */
function uriDecodeBytes(raw: string, plusIsSpace: boolean): Buffer {
  const s = plusIsSpace ? raw.replace(/\+/g, ' ') : raw;
  if (!s.includes('%')) return Buffer.from(s, 'utf8');
  const parts: Buffer[] = [];
  let last = 0;
  for (const m of s.matchAll(/%[0-9A-Fa-f]{2}/g)) {
    parts.push(Buffer.from(s.slice(last, m.index), 'utf8'), Buffer.of(parseInt(m[0].slice(1), 16)));
    last = m.index + 3;
  }
  parts.push(Buffer.from(s.slice(last), 'utf8'));
  return Buffer.concat(parts);
}

function queryDecode(raw: string): string {
  return uriDecodeBytes(raw, true).toString('utf8');
}

const UNRESERVED_PATH = /^[A-Za-z0-9\-_.~/]*$/;
/** Unreserved characters and %XX escapes in upper-case hex (what SDKs send for every other byte). */
const ESCAPED_PATH = /^(?:[A-Za-z0-9\-_.~/]|%[0-9A-F]{2})*$/;
/** An escape of an unreserved byte (- . 0-9 A-Z _ a-z ~), which the canonical form writes as the character. */
const ESCAPED_UNRESERVED = /%(?:2[DE]|3\d|4[1-9A-F]|5[\dAF]|6[1-9A-F]|7[\dAE])/;

/** Canonical URI: each segment decoded then re-encoded, so %2F inside a segment stays %2F. */
function canonicalUri(rawPath: string): string {
  if (rawPath === '') return '/';
  // The usual path encodes to itself: unreserved characters only, or with upper-case escapes
  // of reserved bytes (a key with '/' sent as %2F, spaces, UTF-8).
  if (UNRESERVED_PATH.test(rawPath) || (ESCAPED_PATH.test(rawPath) && !ESCAPED_UNRESERVED.test(rawPath))) return rawPath;
  return rawPath
    .split('/')
    .map((seg) => uriEncodeBytes(uriDecodeBytes(seg, false)))
    .join('/');
}

/** The query as [rawName, rawValue] pairs; a bare `name` has the value ''. */
function splitQuery(rawQuery: string): Array<[string, string]> {
  const pairs: Array<[string, string]> = [];
  for (const part of rawQuery.split('&')) {
    if (part === '') continue;
    const eq = part.indexOf('=');
    pairs.push(eq < 0 ? [part, ''] : [part.slice(0, eq), part.slice(eq + 1)]);
  }
  return pairs;
}

/** Names and values encoded, sorted by name then value (byte order: they are ASCII now). */
function canonicalQuery(pairs: Array<[string, string]>, skipSignature: boolean): string {
  const encoded: Array<[string, string]> = [];
  for (const [n, v] of pairs) {
    const name = uriEncodeBytes(uriDecodeBytes(n, true));
    if (skipSignature && name === 'X-Amz-Signature') continue;
    encoded.push([name, uriEncodeBytes(uriDecodeBytes(v, true))]);
  }
  encoded.sort((a, b) => (a[0] < b[0] ? -1 : a[0] > b[0] ? 1 : a[1] < b[1] ? -1 : a[1] > b[1] ? 1 : 0));
  return encoded.map(([n, v]) => `${n}=${v}`).join('&');
}

// ---------------------------------------------------------------------------------------
// Small helpers

/** Constant-time string comparison (lengths are not secret). */
export function signaturesEqual(a: string, b: string): boolean {
  const x = Buffer.from(a, 'utf8');
  const y = Buffer.from(b, 'utf8');
  return x.length === y.length && timingSafeEqual(x, y);
}

function headerOf(req: AuthRequest, name: string): string | undefined {
  const v = req.headers[name];
  if (v === undefined) return undefined;
  return Array.isArray(v) ? v.join(',') : v;
}

/**
 * SigV4 header value: each value trimmed, inner whitespace runs folded, repeats joined by ','.
 * Only ASCII whitespace: header values are byte strings (see AuthRequest.headers), where
 * U+00A0 is the byte 0xA0, the last byte of a UTF-8 'à', not a space.
 */
function canonicalHeaderValue(v: string | string[] | undefined): string {
  const values = v === undefined ? [] : Array.isArray(v) ? v : [v];
  return values.map(foldedHeaderValue).join(',');
}

/** yyyyMMddTHHmmssZ, from the ISO form's fixed positions (every signed request needs one). */
function toAmzDate(d: Date): string {
  const iso = d.toISOString();
  // Years beyond 9999 have a longer, signed ISO form; no request time can parse into one.
  if (iso.length !== 24) return iso.replace(/[-:]/g, '').replace(/\.\d{3}/, '');
  return iso.slice(0, 4) + iso.slice(5, 7) + iso.slice(8, 13) + iso.slice(14, 16) + iso.slice(17, 19) + 'Z';
}

/** yyyyMMddTHHmmssZ; undefined unless it is a real instant (no 20150231). */
function parseAmzDate(s: string): Date | undefined {
  const m = /^(\d{4})(\d\d)(\d\d)T(\d\d)(\d\d)(\d\d)Z$/.exec(s);
  if (!m) return undefined;
  const d = new Date(Date.UTC(+m[1], +m[2] - 1, +m[3], +m[4], +m[5], +m[6]));
  return toAmzDate(d) === s ? d : undefined;
}

const CREDENTIAL_FORMAT = 'expecting "<YOUR-AKID>/YYYYMMDD/REGION/SERVICE/aws4_request".';

/** AKID/yyyymmdd/region/service/aws4_request; returns undefined when it is not that. */
function parseCredential(cred: string): Pick<Parsed, 'accessKeyId' | 'scopeDate' | 'region' | 'service'> | undefined {
  const p = cred.split('/');
  if (p.length !== 5 || p.some((x) => x === '') || !/^\d{8}$/.test(p[1]) || p[4] !== 'aws4_request') return undefined;
  return { accessKeyId: p[0], scopeDate: p[1], region: p[2], service: p[3] };
}

function parseSignedHeaders(s: string): string[] | undefined {
  const list = s.split(';');
  return list.some((h) => h === '') ? undefined : list;
}

// ---------------------------------------------------------------------------------------
// Parsing the two carriers of a signature

function headerMalformed(detail: string): S3Error {
  return new S3Error('AuthorizationHeaderMalformed', `The authorization header is malformed; ${detail}`);
}

function parseAuthorizationHeader(value: string): Parsed {
  const sp = value.indexOf(' ');
  const algorithm = sp < 0 ? value : value.slice(0, sp);
  if (algorithm !== ALGORITHM) {
    throw new S3Error('InvalidArgument', 'Unsupported Authorization Type', { ArgumentName: 'Authorization', ArgumentValue: value });
  }
  // Clients differ in spacing ("a=1, b=2" from the SDKs, "a=1,b=2" from minio-go): split on
  // commas and trim, rather than matching one exact layout.
  const fields = new Map<string, string>();
  for (const part of (sp < 0 ? '' : value.slice(sp + 1)).split(',')) {
    const p = part.trim();
    if (p === '') continue;
    const eq = p.indexOf('=');
    if (eq < 0) throw headerMalformed(`the authorization component "${p}" is malformed.`);
    const k = p.slice(0, eq).trim();
    if (fields.has(k)) throw headerMalformed(`the authorization component "${k}" is repeated.`);
    fields.set(k, p.slice(eq + 1).trim());
  }
  const credential = fields.get('Credential');
  const signedHeaders = fields.get('SignedHeaders');
  const signature = fields.get('Signature');
  if (!credential || !signedHeaders || !signature) {
    throw headerMalformed('the authorization header requires three components: Credential, SignedHeaders, and Signature.');
  }
  const scope = parseCredential(credential);
  if (!scope) throw headerMalformed(`the Credential is mal-formed; ${CREDENTIAL_FORMAT}`);
  const headers = parseSignedHeaders(signedHeaders);
  if (!headers) throw headerMalformed('the SignedHeaders component is malformed.');
  return { presigned: false, ...scope, signedHeaders: headers, signature };
}

function queryError(message: string): S3Error {
  return new S3Error('AuthorizationQueryParametersError', message);
}

const AUTH_PARAM = /^X-Amz-(Algorithm|Credential|Signature|Date|SignedHeaders|Expires|Security-Token|Content-Sha256)$/i;
const REQUIRED_QUERY = ['X-Amz-Algorithm', 'X-Amz-Credential', 'X-Amz-Signature', 'X-Amz-Date', 'X-Amz-SignedHeaders', 'X-Amz-Expires'];

function parsePresigned(q: Map<string, string>): Parsed & { amzDate: string; expires: number } {
  if (REQUIRED_QUERY.some((k) => !q.has(k))) {
    throw queryError(
      'Query-string authentication version 4 requires the X-Amz-Algorithm, X-Amz-Credential, X-Amz-Signature, X-Amz-Date, X-Amz-SignedHeaders, and X-Amz-Expires parameters.',
    );
  }
  if (q.get('X-Amz-Algorithm') !== ALGORITHM) throw queryError(`X-Amz-Algorithm only supports "${ALGORITHM}"`);
  const scope = parseCredential(q.get('X-Amz-Credential')!);
  if (!scope) throw queryError(`Error parsing the X-Amz-Credential parameter; the Credential is mal-formed; ${CREDENTIAL_FORMAT}`);
  const headers = parseSignedHeaders(q.get('X-Amz-SignedHeaders')!);
  if (!headers) throw queryError('Error parsing the X-Amz-SignedHeaders parameter.');
  const expiresRaw = q.get('X-Amz-Expires')!;
  if (!/^-?\d+$/.test(expiresRaw)) throw queryError('X-Amz-Expires should be a number');
  const expires = Number(expiresRaw);
  // S3's words and status (403, src/errors.ts); 0 is valid and has expired by the time it arrives.
  if (expires < 0) throw queryError('X-Amz-Expires must be non-negative');
  if (expires > MAX_PRESIGNED_EXPIRES) {
    throw queryError(
      `X-Amz-Expires must be less than a week (in seconds); that is, the given X-Amz-Expires must be less than ${MAX_PRESIGNED_EXPIRES} seconds`,
    );
  }
  return {
    presigned: true,
    ...scope,
    signedHeaders: headers,
    signature: q.get('X-Amz-Signature')!,
    amzDate: q.get('X-Amz-Date')!,
    expires,
  };
}

// ---------------------------------------------------------------------------------------
// The verifier

/**
 * Authenticate a request: anonymous when it carries no signature, else the verified
 * signer. Throws S3Error with S3's code for every failure. `now` is injectable for tests.
 */
export function authenticateV4(req: AuthRequest, lookup: CredentialLookup, now: Date = new Date(), opts: AuthOptions = {}): AuthResult {
  const maxSkewMs = opts.maxSkewMs ?? DEFAULT_MAX_SKEW_MS;
  const authorization = headerOf(req, 'authorization');
  const queryPairs = splitQuery(req.rawQuery);
  // Parameters by decoded name. A repeated auth parameter would leave it ambiguous which
  // value was meant, so it is refused.
  const query = new Map<string, string>();
  for (const [n, v] of queryPairs) {
    const name = queryDecode(n);
    if (AUTH_PARAM.test(name) && query.has(name)) throw queryError(`The ${name} parameter is repeated.`);
    query.set(name, queryDecode(v));
  }

  const queryAuth = query.has('X-Amz-Algorithm');
  if (authorization !== undefined && queryAuth) {
    throw new S3Error(
      'InvalidArgument',
      'Only one auth mechanism allowed; only the X-Amz-Algorithm query parameter, Signature query string parameter or the Authorization header should be specified',
      { ArgumentName: 'Authorization', ArgumentValue: authorization },
    );
  }
  // SigV2 (header "AWS AKID:sig" or query AWSAccessKeyId/Signature) is verified by
  // auth/sigv2.ts: auth/authenticate.ts hands such requests there and never here.
  if ((authorization !== undefined && /^AWS /.test(authorization)) || (query.has('AWSAccessKeyId') && query.has('Signature'))) {
    throw new S3Error('AccessDenied', 'SigV2 not supported');
  }
  if (authorization === undefined && !queryAuth) return { type: 'anonymous' };

  // --- signature parts and request time
  let parsed: Parsed;
  let amzDate: string;
  let requestTime: Date;
  if (queryAuth) {
    const p = parsePresigned(query);
    parsed = p;
    amzDate = p.amzDate;
    const t = parseAmzDate(amzDate);
    if (!t) throw queryError("X-Amz-Date must be in the ISO8601 Long Format \"yyyyMMdd'T'HHmmss'Z'\"");
    requestTime = t;
    if (p.scopeDate !== amzDate.slice(0, 8)) {
      throw queryError(`Invalid credential date "${p.scopeDate}". This date is not the same as X-Amz-Date: "${amzDate.slice(0, 8)}".`);
    }
    // A presigned URL is valid from its date (with the usual skew) until date + expires.
    if (requestTime.getTime() - now.getTime() > maxSkewMs) throw new S3Error('AccessDenied', 'Request is not valid yet');
    const expiresAt = new Date(requestTime.getTime() + p.expires * 1000);
    if (p.expires === 0 || now.getTime() > expiresAt.getTime()) {
      throw new S3Error('AccessDenied', 'Request has expired', {
        'X-Amz-Expires': String(p.expires),
        Expires: expiresAt.toISOString(),
        ServerTime: now.toISOString(),
      });
    }
  } else {
    parsed = parseAuthorizationHeader(authorization!);
    // x-amz-date wins; else the Date header, whose instant is signed in ISO basic form.
    const xAmzDate = headerOf(req, 'x-amz-date');
    const dateHeader = headerOf(req, 'date');
    const t = xAmzDate !== undefined ? parseAmzDate(xAmzDate.trim()) : dateHeader !== undefined ? new Date(dateHeader) : undefined;
    if (!t || Number.isNaN(t.getTime())) throw new S3Error('AccessDenied', 'AWS authentication requires a valid Date or x-amz-date header');
    requestTime = t;
    amzDate = toAmzDate(t);
    if (parsed.scopeDate !== amzDate.slice(0, 8)) {
      throw headerMalformed(
        `Invalid credential date "${parsed.scopeDate}". This date is not the same as X-Amz-Date: "${amzDate.slice(0, 8)}".`,
      );
    }
    if (Math.abs(requestTime.getTime() - now.getTime()) > maxSkewMs) {
      throw new S3Error('RequestTimeTooSkewed', undefined, {
        RequestTime: xAmzDate ?? dateHeader ?? '',
        ServerTime: now.toISOString(),
        MaxAllowedSkewMilliseconds: String(maxSkewMs),
      });
    }
  }

  // --- the region the signature is scoped to. S3 names the right one in the error, and SDKs
  // (s3fs, the AWS SDKs' region redirects) read it from there and sign again.
  if (opts.region !== undefined && parsed.region !== opts.region) {
    const detail = `the region '${parsed.region}' is wrong; expecting '${opts.region}'`;
    throw parsed.presigned
      ? new S3Error('AuthorizationQueryParametersError', `Error parsing the X-Amz-Credential parameter; ${detail}`, { Region: opts.region })
      : new S3Error('AuthorizationHeaderMalformed', `The authorization header is malformed; ${detail}`, { Region: opts.region });
  }

  // --- who signed
  const identity = lookup(parsed.accessKeyId);
  if (!identity) throw new S3Error('InvalidAccessKeyId', undefined, { AWSAccessKeyId: parsed.accessKeyId });
  const token = (parsed.presigned ? query.get('X-Amz-Security-Token') : undefined) ?? headerOf(req, 'x-amz-security-token');
  if (identity.sessionToken !== undefined ? token === undefined || !signaturesEqual(token, identity.sessionToken) : token !== undefined) {
    throw new S3Error('InvalidToken');
  }

  // --- payload hash. Header auth must name it in x-amz-content-sha256: S3 answers a request
  // without it 400 InvalidRequest (generic SigV4 would sign the body's hash, but S3 does not
  // guess it). Presigned: the X-Amz-Content-Sha256 parameter, else the header (MinIO), else
  // UNSIGNED-PAYLOAD.
  const contentSha256Header = headerOf(req, 'x-amz-content-sha256');
  let payloadHash: string;
  let payloadFromHeader = false;
  if (parsed.presigned) {
    const fromQuery = [...query].find(([k]) => k.toLowerCase() === 'x-amz-content-sha256')?.[1];
    payloadFromHeader = fromQuery === undefined && contentSha256Header !== undefined;
    payloadHash = fromQuery ?? contentSha256Header ?? UNSIGNED_PAYLOAD;
  } else {
    if (contentSha256Header === undefined)
      throw new S3Error('InvalidRequest', 'Missing required header for this request: x-amz-content-sha256');
    payloadFromHeader = true;
    payloadHash = contentSha256Header;
  }
  payloadHash = payloadHash.trim();
  if (
    !/^[0-9a-fA-F]{64}$/.test(payloadHash) &&
    ![UNSIGNED_PAYLOAD, STREAMING_PAYLOAD, STREAMING_PAYLOAD_TRAILER, STREAMING_UNSIGNED_PAYLOAD_TRAILER].includes(payloadHash)
  ) {
    throw new S3Error(
      'InvalidArgument',
      `x-amz-content-sha256 must be ${UNSIGNED_PAYLOAD}, ${STREAMING_UNSIGNED_PAYLOAD_TRAILER}, ${STREAMING_PAYLOAD}, ${STREAMING_PAYLOAD_TRAILER} or a valid sha256 value.`,
      { ArgumentName: 'x-amz-content-sha256', ArgumentValue: payloadHash },
    );
  }

  // --- headers that must be signed: host, and every x-amz-* header present (S3's rule; it
  // stops anyone holding a presigned URL from adding, say, x-amz-copy-source). Exempt are
  // those bound to the signature another way: the token (compared above), and x-amz-date /
  // x-amz-content-sha256 when they feed the string to sign / the canonical request.
  const signed = new Set(parsed.signedHeaders.map((h) => h.toLowerCase()));
  const exempt = new Set(['x-amz-security-token']);
  if (!parsed.presigned) exempt.add('x-amz-date');
  if (payloadFromHeader) exempt.add('x-amz-content-sha256');
  const notSigned = signed.has('host') ? [] : ['host'];
  for (const [name, v] of Object.entries(req.headers)) {
    const n = name.toLowerCase();
    if (v !== undefined && n.startsWith('x-amz-') && !signed.has(n) && !exempt.has(n)) notSigned.push(n);
  }
  if (notSigned.length > 0) {
    throw new S3Error('AccessDenied', 'There were headers present in the request which were not signed', {
      HeadersNotSigned: notSigned.join(', '),
    });
  }

  // --- the signature itself. A presigned URL may carry a signed x-amz-* header in its query
  // instead (the JS SDK v2 presigner signs x-amz-server-side-encryption so): S3 takes the
  // query's value when the request does not send the header. The canonical request is a
  // byte string: header values as received, a query's value as its UTF-8 bytes, the rest ASCII.
  const signedValue = (h: string) => {
    const lower = h.toLowerCase();
    const sent = req.headers[lower];
    if (sent !== undefined || !parsed.presigned || !lower.startsWith('x-amz-')) return sent;
    const fromQuery = [...query].find(([name]) => name.toLowerCase() === lower)?.[1];
    return fromQuery === undefined ? undefined : byteString(fromQuery);
  };
  const canonicalHeaders = parsed.signedHeaders.map((h) => `${h}:${canonicalHeaderValue(signedValue(h))}\n`).join('');
  const canonicalRequest = [
    req.method,
    canonicalUri(req.rawPath),
    canonicalQuery(queryPairs, parsed.presigned),
    canonicalHeaders,
    parsed.signedHeaders.join(';'),
    payloadHash,
  ].join('\n');
  const scope = `${parsed.scopeDate}/${parsed.region}/${parsed.service}/aws4_request`;
  const stringToSign = `${ALGORITHM}\n${amzDate}\n${scope}\n${sha256Hex(Buffer.from(canonicalRequest, 'latin1'))}`;
  const signingKey = getSigningKey(identity.secretAccessKey, parsed.scopeDate, parsed.region, parsed.service);
  const expected = hmacHex(signingKey, stringToSign);
  if (!signaturesEqual(expected, parsed.signature)) {
    throw signatureDoesNotMatch(parsed.accessKeyId, stringToSign, parsed.signature, canonicalRequest);
  }

  const streaming =
    payloadHash === STREAMING_PAYLOAD || payloadHash === STREAMING_PAYLOAD_TRAILER
      ? chunkSigningContext(signingKey, amzDate, scope, expected, payloadHash === STREAMING_PAYLOAD_TRAILER, {
          accessKeyId: parsed.accessKeyId,
          canonicalRequest,
        })
      : undefined;
  return {
    type: parsed.presigned ? 'presigned' : 'header',
    accessKeyId: parsed.accessKeyId,
    region: parsed.region,
    service: parsed.service,
    payloadHash,
    ...(streaming ? { streaming } : {}),
  };
}

/**
 * S3's SignatureDoesNotMatch for a SigV4 request, chunk or trailer signature. The canonical
 * request is a byte string (header values as received): it is shown as the UTF-8 text those
 * bytes spell, and CanonicalRequestBytes are the bytes themselves, not their UTF-8 re-encoding.
 * The string to sign is ASCII.
 */
function signatureDoesNotMatch(accessKeyId: string, stringToSign: string, provided: string, canonicalRequest: string): S3Error {
  const bytes = Buffer.from(canonicalRequest, 'latin1');
  return new S3Error('SignatureDoesNotMatch', undefined, {
    AWSAccessKeyId: accessKeyId,
    StringToSign: stringToSign,
    SignatureProvided: provided,
    StringToSignBytes: bytesHex(stringToSign),
    CanonicalRequest: bytes.toString('utf8'),
    CanonicalRequestBytes: bytesHex(bytes),
  });
}

/** The chunk/trailer signers of a streaming upload, sharing the request's key and scope. */
export function chunkSigningContext(
  signingKey: Buffer,
  amzDate: string,
  scope: string,
  seedSignature: string,
  trailer: boolean,
  request: { accessKeyId: string; canonicalRequest: string } = { accessKeyId: '', canonicalRequest: '' },
): ChunkSigningContext {
  const chunkStringToSign = (prev: string, dataHash: string) =>
    `AWS4-HMAC-SHA256-PAYLOAD\n${amzDate}\n${scope}\n${prev}\n${EMPTY_SHA256}\n${dataHash}`;
  const trailerStringToSign = (prev: string, trailerHash: string) =>
    `AWS4-HMAC-SHA256-TRAILER\n${amzDate}\n${scope}\n${prev}\n${trailerHash}`;
  return {
    seedSignature,
    trailer,
    chunkSignature: (prev, dataHash) => hmacHex(signingKey, chunkStringToSign(prev, dataHash)),
    trailerSignature: (prev, trailerHash) => hmacHex(signingKey, trailerStringToSign(prev, trailerHash)),
    // As S3 answers (swift's test_input_errors.py, against AWS): the request's canonical request, the chunk's string to sign.
    mismatch: (kind, prev, hash, provided) => {
      const stringToSign = kind === 'chunk' ? chunkStringToSign(prev, hash) : trailerStringToSign(prev, hash);
      return signatureDoesNotMatch(request.accessKeyId, stringToSign, provided, request.canonicalRequest);
    },
  };
}
