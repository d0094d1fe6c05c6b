/**
 * AWS Signature Version 2 for S3 ("Signing and authenticating REST requests"), the scheme
 * legacy clients still use (s3cmd with signature_v2, boto with signature_version='s3',
 * old SDKs and appliances):
 *
 *   Authorization: AWS <AKID>:base64(HMAC-SHA1(secret, StringToSign))
 *   or the query ?AWSAccessKeyId=<AKID>&Expires=<epoch seconds>&Signature=<base64>
 *
 *   StringToSign = Method \n Content-MD5 \n Content-Type \n Date \n
 *                  CanonicalizedAmzHeaders CanonicalizedResource
 *
 * Date is '' when x-amz-date is present (x-amz-date is then signed among the amz headers),
 * and the Expires value for query authentication. The payload is never signed in V2: the
 * result carries UNSIGNED-PAYLOAD, so the body is checked only against Content-MD5 and
 * x-amz-checksum-* (src/s3/payload.ts).
 *
 * As in sigv4.ts, what is signed is what the router acts on: the path as sent, and
 * sub-resource values decoded the way URLSearchParams decodes them ('+' a space).
 */
import { createHmac } from 'node:crypto';
import { S3Error } from '../errors';
import { UNSIGNED_PAYLOAD, signaturesEqual, type AuthRequest, type AuthResult, type CredentialLookup } from './sigv4';
import { asciiTrim, byteString, bytesHex } from './byte-strings';

const DEFAULT_MAX_SKEW_MS = 15 * 60 * 1000;

/**
 * Query parameters that are part of the CanonicalizedResource: S3's documented list, the
 * response-* overrides, and the further sub-resources the clients sign (botocore's and
 * s3cmd's lists), so a request for an unserved sub-resource is answered NotImplemented
 * rather than SignatureDoesNotMatch.
 */
export const V2_SIGNED_SUBRESOURCES: ReadonlySet<string> = new Set([
  'acl',
  'delete',
  'lifecycle',
  'location',
  'logging',
  'notification',
  'partNumber',
  'policy',
  'requestPayment',
  'tagging',
  'torrent',
  'uploadId',
  'uploads',
  'versionId',
  'versioning',
  'versions',
  'website',
  'response-content-type',
  'response-content-language',
  'response-expires',
  'response-cache-control',
  'response-content-disposition',
  'response-content-encoding',
  'accelerate',
  'analytics',
  'cors',
  'inventory',
  'metrics',
  'object-lock',
  'replication',
  'restore',
  'select',
  'select-type',
]);

export interface SigV2Request extends AuthRequest {
  /**
   * The bucket named by the Host header of a virtual-hosted-style request: the resource
   * is then `/bucket` + path. Undefined for path-style requests.
   */
  virtualHostBucket?: string;
}

export interface SigV2Options {
  /** Allowed clock difference for the Date / x-amz-date header; S3 uses 15 minutes. */
  maxSkewMs?: number;
  /** The region reported in the AuthResult (V2 has no region of its own). */
  region?: string;
}

// ---------------------------------------------------------------------------------------
// Small helpers

/**
 * base64(HMAC-SHA1(secret, text)): a V2 request signature (over a byte string: 'latin1'), and
 * a V2 POST policy signature (over its base64 text).
 */
export function hmacSha1Base64(secret: string, text: string, encoding: 'utf8' | 'latin1' = 'utf8'): string {
  return createHmac('sha1', secret).update(text, encoding).digest('base64');
}

function headerValues(req: AuthRequest, name: string): string[] | undefined {
  const v = req.headers[name];
  if (v === undefined) return undefined;
  return Array.isArray(v) ? v : [v];
}

function headerOf(req: AuthRequest, name: string): string | undefined {
  return headerValues(req, name)?.join(',');
}

/** Percent-decoding of a query component, '+' a space (as URLSearchParams reads it). */
function queryDecode(raw: string): string {
  try {
    return decodeURIComponent(raw.replace(/\+/g, ' '));
  } catch {
    // Not valid percent-encoded UTF-8: decode what can be decoded, byte-wise.
    return new URLSearchParams(`x=${raw}`).get('x') ?? raw;
  }
}

/** The query as decoded [name, value | undefined] pairs, in order; `name` alone has no value. */
function queryPairs(rawQuery: string): Array<[string, string | undefined]> {
  const out: Array<[string, string | undefined]> = [];
  for (const part of rawQuery.split('&')) {
    if (part === '') continue;
    const eq = part.indexOf('=');
    out.push(eq < 0 ? [queryDecode(part), undefined] : [queryDecode(part.slice(0, eq)), queryDecode(part.slice(eq + 1))]);
  }
  return out;
}

/** RFC 1123 (the usual), or ISO 8601 basic / extended; undefined when not a date. */
function parseDate(s: string): Date | undefined {
  const v = s.trim();
  const basic = /^(\d{4})(\d\d)(\d\d)T(\d\d)(\d\d)(\d\d)Z$/.exec(v);
  const d = basic ? new Date(Date.UTC(+basic[1], +basic[2] - 1, +basic[3], +basic[4], +basic[5], +basic[6])) : new Date(v);
  return Number.isNaN(d.getTime()) ? undefined : d;
}

// ---------------------------------------------------------------------------------------
// Detection

/** Which V2 carrier a request uses, if any: the header `AWS AKID:sig`, or the query. */
export function sigV2Kind(req: AuthRequest): 'header' | 'query' | undefined {
  const authorization = headerOf(req, 'authorization');
  if (authorization !== undefined && /^AWS /.test(authorization)) return 'header';
  for (const [name] of queryPairs(req.rawQuery)) {
    if (name === 'AWSAccessKeyId' || name === 'Signature') return 'query';
  }
  return undefined;
}

// ---------------------------------------------------------------------------------------
// The string to sign

/** x-amz-* headers: lower-cased, sorted, values trimmed, repeats joined by ',', each `name:value\n`. */
export function canonicalizedAmzHeaders(headers: Record<string, string | string[] | undefined>): string {
  const amz = new Map<string, string>();
  for (const [name, v] of Object.entries(headers)) {
    const n = name.toLowerCase();
    if (v === undefined || !n.startsWith('x-amz-')) continue;
    // Folded lines (obsolete, but allowed) become one space, as S3 unfolds them.
    const values = (Array.isArray(v) ? v : [v]).map((x) => asciiTrim(x.replace(/\r?\n[ \t]+/g, ' ')));
    amz.set(n, amz.has(n) ? `${amz.get(n)},${values.join(',')}` : values.join(','));
  }
  return [...amz.keys()]
    .sort()
    .map((n) => `${n}:${amz.get(n)}\n`)
    .join('');
}

/** `/bucket/key` as sent (virtual-hosted: `/bucket` + path), then the signed sub-resources, sorted. */
export function canonicalizedResource(rawPath: string, rawQuery: string, virtualHostBucket?: string): string {
  const resource = virtualHostBucket !== undefined ? `/${virtualHostBucket}${rawPath === '' ? '/' : rawPath}` : rawPath || '/';
  const subs = signedSubresources(rawQuery);
  return subs ? `${resource}?${subs}` : resource;
}

/** The signed sub-resources of a query, `a&b=v` sorted by name; '' when none. */
function signedSubresources(rawQuery: string): string {
  const subs = queryPairs(rawQuery).filter(([n]) => V2_SIGNED_SUBRESOURCES.has(n));
  // A stable sort by name only: repeated names keep the order they came in.
  subs.sort((a, b) => (a[0] < b[0] ? -1 : a[0] > b[0] ? 1 : 0));
  return subs.map(([n, v]) => (v === undefined || v === '' ? n : `${n}=${byteString(v)}`)).join('&');
}

/**
 * The V2 StringToSign of a request. `dateLine` is the Date header ('' with x-amz-date) for
 * header authentication, the Expires value for query authentication. A byte string, as
 * header values arrive (AuthRequest.headers): values taken from the query (its x-amz-*
 * parameters, sub-resource values) enter as their UTF-8 bytes. S3 signs bytes.
 */
export function stringToSignV2(
  req: SigV2Request,
  dateLine: string,
  extraAmzHeaders: Record<string, string> = {},
  resource: string = canonicalizedResource(req.rawPath, req.rawQuery, req.virtualHostBucket),
): string {
  const contentMd5 = asciiTrim(headerOf(req, 'content-md5') ?? '');
  const contentType = asciiTrim(headerOf(req, 'content-type') ?? '');
  const fromQuery = Object.fromEntries(Object.entries(extraAmzHeaders).map(([n, v]) => [n, byteString(v)]));
  const amz = canonicalizedAmzHeaders({ ...fromQuery, ...req.headers });
  return `${req.method}\n${contentMd5}\n${contentType}\n${dateLine}\n${amz}${resource}`;
}

/**
 * Further resources botocore's HmacV1Auth signs for the same request. botocore signs the
 * path of its operation's URI template, query included, then appends the sub-resources
 * again (boto/boto3#4433, boto/botocore#3537): PutObjectTagging is signed as
 * `/b/k?tagging?tagging`, ListObjectsV2 as `/b?list-type=2`, bucket operations without a
 * template query as `/b/`. Each variant is built from the request's own path and query, so
 * it names the same bucket, key and sub-resources: accepting it lets no signature be
 * replayed against another operation.
 */
function botocoreResources(req: SigV2Request): string[] {
  const full = req.virtualHostBucket !== undefined ? `/${req.virtualHostBucket}${req.rawPath || '/'}` : req.rawPath;
  const bucketLevel = /^\/[^/]+\/?$/.test(full);
  const bare = bucketLevel ? full.replace(/\/$/, '') : full;
  const subs = signedSubresources(req.rawQuery);
  const withSubs = (path: string) => (subs ? `${path}?${subs}` : path);
  const out = new Set<string>();
  if (bucketLevel) out.add(withSubs(bare + '/'));
  const parts = req.rawQuery.split('&');
  for (let n = 1; n <= Math.min(2, parts.length); n++) {
    const name = queryDecode(parts[0].split('=')[0]);
    if (!V2_SIGNED_SUBRESOURCES.has(name) && !TEMPLATE_QUERY.has(name)) break;
    const template = parts.slice(0, n).join('&');
    out.add(subs ? `${bare}?${template}?${subs}` : `${bare}?${template}`);
  }
  out.delete(canonicalizedResource(req.rawPath, req.rawQuery, req.virtualHostBucket));
  return [...out];
}

/** Query parameters of S3 URI templates that are not signed sub-resources. */
const TEMPLATE_QUERY = new Set([
  'list-type',
  'attributes',
  'encryption',
  'intelligent-tiering',
  'legal-hold',
  'ownershipControls',
  'policyStatus',
  'publicAccessBlock',
  'retention',
  'x-id',
]);

// ---------------------------------------------------------------------------------------
// The verifier

function invalidAuthHeader(value: string): S3Error {
  return new S3Error('InvalidArgument', 'AWS authorization header is invalid.  Expected AwsAccessKeyId:signature', {
    ArgumentName: 'Authorization',
    ArgumentValue: value,
  });
}

/**
 * Verifies a SigV2 request (header or query). Throws S3Error with S3's code for every
 * failure; the caller (auth/authenticate.ts) has already refused requests that carry more
 * than one authentication mechanism. `now` is injectable for tests.
 */
export function authenticateV2(req: SigV2Request, lookup: CredentialLookup, now: Date = new Date(), opts: SigV2Options = {}): AuthResult {
  const maxSkewMs = opts.maxSkewMs ?? DEFAULT_MAX_SKEW_MS;
  const kind = sigV2Kind(req);
  if (kind === undefined) throw new Error('authenticateV2 called on a request without a V2 signature');

  let accessKeyId: string;
  let signature: string;
  let dateLine: string;
  let token: string | undefined = headerOf(req, 'x-amz-security-token');
  const queryAmz: Record<string, string> = {};

  if (kind === 'header') {
    const value = headerOf(req, 'authorization')!;
    const cred = value.slice(4).trim();
    const colon = cred.lastIndexOf(':');
    if (colon <= 0 || colon === cred.length - 1 || /\s/.test(cred)) throw invalidAuthHeader(value);
    accessKeyId = cred.slice(0, colon);
    signature = cred.slice(colon + 1);

    // x-amz-date wins over Date (and is then signed among the amz headers, Date line empty).
    const xAmzDate = headerOf(req, 'x-amz-date');
    const dateHeader = headerOf(req, 'date');
    const t = xAmzDate !== undefined ? parseDate(xAmzDate) : dateHeader !== undefined ? parseDate(dateHeader) : undefined;
    // A date before the epoch is no valid date to S3 (AccessDenied, not a skew).
    if (!t || t.getTime() < 0) throw new S3Error('AccessDenied', 'AWS authentication requires a valid Date or x-amz-date header');
    if (Math.abs(t.getTime() - now.getTime()) > maxSkewMs) {
      throw new S3Error('RequestTimeTooSkewed', undefined, {
        RequestTime: xAmzDate ?? dateHeader ?? '',
        ServerTime: now.toISOString(),
        MaxAllowedSkewMilliseconds: String(maxSkewMs),
      });
    }
    dateLine = xAmzDate !== undefined ? '' : (dateHeader ?? '');
  } else {
    const params = new Map<string, string>();
    for (const [name, v] of queryPairs(req.rawQuery)) {
      if (name === 'AWSAccessKeyId' || name === 'Signature' || name === 'Expires') {
        if (params.has(name))
          throw new S3Error('InvalidArgument', `The ${name} parameter is repeated.`, { ArgumentName: name, ArgumentValue: v ?? '' });
        params.set(name, v ?? '');
      } else if (name.toLowerCase().startsWith('x-amz-') && v !== undefined) {
        // Presigners (botocore) move the x-amz-* headers they signed into the query.
        const n = name.toLowerCase();
        queryAmz[n] = n in queryAmz ? `${queryAmz[n]},${v}` : v;
      }
    }
    if (!params.get('AWSAccessKeyId') || !params.get('Signature') || !params.has('Expires')) {
      throw new S3Error('AccessDenied', 'Query-string authentication requires the Signature, Expires and AWSAccessKeyId parameters');
    }
    accessKeyId = params.get('AWSAccessKeyId')!;
    // Base64 never holds a space: one here is a '+' the client left unencoded.
    signature = params.get('Signature')!.replace(/ /g, '+');
    const expires = params.get('Expires')!;
    if (!/^\d+$/.test(expires)) throw new S3Error('AccessDenied', `Invalid date (should be seconds since epoch): ${expires}`);
    const expiresAt = new Date(Number(expires) * 1000);
    if (now.getTime() > expiresAt.getTime()) {
      throw new S3Error('AccessDenied', 'Request has expired', { Expires: expiresAt.toISOString(), ServerTime: now.toISOString() });
    }
    dateLine = expires;
    token ??= queryAmz['x-amz-security-token'];
  }

  // --- who signed
  const identity = lookup(accessKeyId);
  if (!identity) throw new S3Error('InvalidAccessKeyId', undefined, { AWSAccessKeyId: accessKeyId });
  if (identity.sessionToken !== undefined ? token === undefined || !signaturesEqual(token, identity.sessionToken) : token !== undefined) {
    throw new S3Error('InvalidToken');
  }

  // --- the signature. Headers win over x-amz-* query parameters of the same name.
  const stringToSign = stringToSignV2(req, dateLine, queryAmz);
  const ok =
    signaturesEqual(hmacSha1Base64(identity.secretAccessKey, stringToSign, 'latin1'), signature) ||
    botocoreResources(req).some((resource) =>
      signaturesEqual(hmacSha1Base64(identity.secretAccessKey, stringToSignV2(req, dateLine, queryAmz, resource), 'latin1'), signature),
    );
  if (!ok) {
    throw new S3Error('SignatureDoesNotMatch', undefined, {
      AWSAccessKeyId: accessKeyId,
      StringToSign: Buffer.from(stringToSign, 'latin1').toString('utf8'),
      SignatureProvided: signature,
      StringToSignBytes: bytesHex(Buffer.from(stringToSign, 'latin1')),
    });
  }
  return { type: 'v2', accessKeyId, region: opts.region ?? 'us-east-1', service: 's3', payloadHash: UNSIGNED_PAYLOAD };
}
