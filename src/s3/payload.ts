/**
 * The request body as the handlers see it: aws-chunked framing removed (chunk signatures
 * verified as they stream), and every digest the request promised — the signed payload
 * hash, Content-MD5, x-amz-checksum-* in headers or trailers — checked before the body
 * ends. A body that fails a check ends with an error, so no backend commits it.
 */
import type { Readable } from 'node:stream';
import { PassThrough, pipeline, type Duplex } from 'node:stream';
import { S3Error } from '../errors';
import type { ObjectAttributes } from '../backends/types';
import { AwsChunkedDecoder } from './aws-chunked';
import {
  CHECKSUM_ALGORITHMS,
  CHECKSUM_HEADER_ERRORS,
  DIGEST_LENGTH,
  VerifyingStream,
  isDigestBase64,
  type ChecksumAlgorithm,
} from './checksums';
import type { S3Context } from './context';

export interface RequestBody {
  stream: Readable;
  /** The decoded length, when the client announced one. */
  size?: number;
  /** The MD5 (hex) the client declared in Content-MD5: the stream fails before its end unless the bytes have it. */
  md5?: string;
}

const STREAMING = /^STREAMING-/;
const HEX_SHA256 = /^[0-9a-f]{64}$/i;

function declaredLength(value: string | undefined, name: string): number | undefined {
  if (value === undefined) return undefined;
  if (!/^\d+$/.test(value.trim())) throw new S3Error('InvalidArgument', `Invalid ${name}`, { ArgumentName: name, ArgumentValue: value });
  return Number(value);
}

/**
 * The body hash the signature covers (a presigned URL's, or the header's), or for an
 * unsigned request the one its header claims: the body must hash to it. SigV2 signs no hash,
 * but S3 still holds the body to the header's claim, a value that is no hash included (it
 * answers XAmzContentSHA256Mismatch, naming the value as sent).
 */
function signedPayloadHash(ctx: S3Context): string | undefined {
  const auth = ctx.auth;
  if (auth.type === 'v2') {
    const claimed = ctx.header('x-amz-content-sha256')?.trim();
    return claimed === undefined || claimed === 'UNSIGNED-PAYLOAD' || STREAMING.test(claimed) ? undefined : claimed;
  }
  const claimed = auth.type !== 'anonymous' ? auth.payloadHash : ctx.header('x-amz-content-sha256');
  return claimed !== undefined && HEX_SHA256.test(claimed) ? claimed : undefined;
}

/**
 * x-amz-trailer's names. S3 drops trailing commas and refuses an empty name between or before
 * them ("x-amz-checksum-crc32,," is one trailer; ", x-amz-checksum-crc32" is refused).
 */
function trailerNames(value: string | undefined): string[] {
  const names = (value ?? '').trim().replace(/,+$/, '');
  if (names === '') return [];
  return names.split(',').map((s) => s.trim().toLowerCase());
}

/**
 * The checksum algorithms a request names: by header value, by trailer, or by algorithm header
 * alone. `field` reads a header (or, for a POST form, a form field of the same name).
 * `streaming`: whether the body is aws-chunked, the only framing that carries trailers
 * (undefined for a form, which has none). The checks and their order are S3's, as swift's
 * test/s3api/test_input_errors.py records them against AWS: repeats come before a mismatch
 * with x-amz-sdk-checksum-algorithm, which comes before a trailer on a plain body.
 */
function namedAlgorithms(
  field: (name: string) => string | undefined,
  streaming?: boolean,
): {
  headerValues: Partial<Record<ChecksumAlgorithm, string>>;
  trailing: ChecksumAlgorithm[];
  computeOnly: ChecksumAlgorithm[];
} {
  const headerValues: Partial<Record<ChecksumAlgorithm, string>> = {};
  for (const alg of CHECKSUM_ALGORITHMS) {
    const v = field(`x-amz-checksum-${alg}`);
    if (v !== undefined) headerValues[alg] = v;
  }
  const trailing: ChecksumAlgorithm[] = [];
  for (const name of trailerNames(field('x-amz-trailer'))) {
    const alg = name.replace(/^x-amz-checksum-/, '') as ChecksumAlgorithm;
    if (!name.startsWith('x-amz-checksum-') || !CHECKSUM_ALGORITHMS.includes(alg)) {
      throw new S3Error('InvalidRequest', `The value specified in the x-amz-trailer header is not supported`);
    }
    trailing.push(alg);
  }
  // S3 judges the x-amz-checksum-* headers themselves first (one, and well formed; not also a
  // trailer), then whether the algorithm header agrees with the one sent: before any upload's algorithm.
  const inHeaders = Object.keys(headerValues) as ChecksumAlgorithm[];
  if (inHeaders.length > 1 || trailing.length > 1) throw CHECKSUM_HEADER_ERRORS.multiple();
  for (const alg of inHeaders) if (!isDigestBase64(headerValues[alg] ?? '', DIGEST_LENGTH[alg])) throw CHECKSUM_HEADER_ERRORS.invalid(alg);
  if (inHeaders.length && trailing.length) throw CHECKSUM_HEADER_ERRORS.headerAndTrailer();
  const sent = inHeaders[0] ?? trailing[0];
  const sdkAlgorithm = field('x-amz-sdk-checksum-algorithm');
  // A CRC32 value sent with x-amz-sdk-checksum-algorithm: SHA1 says two different things.
  if (sdkAlgorithm !== undefined && sent !== undefined && sdkAlgorithm.trim().toLowerCase() !== sent) {
    throw CHECKSUM_HEADER_ERRORS.sdkAlgorithmMismatch();
  }
  // Trailers ride only in an aws-chunked body: announced for a plain one, S3 finds them malformed.
  if (trailing.length && streaming === false) throw new S3Error('MalformedTrailerError');
  const computeOnly: ChecksumAlgorithm[] = [];
  const algHeader = sdkAlgorithm ?? field('x-amz-checksum-algorithm');
  if (algHeader !== undefined) {
    const alg = algHeader.trim().toLowerCase() as ChecksumAlgorithm;
    if (!CHECKSUM_ALGORITHMS.includes(alg)) throw new S3Error('InvalidRequest', 'Checksum algorithm provided is unsupported.');
    // A form's x-amz-checksum-algorithm field must name the checksum the form sends, too.
    if (sent !== undefined && alg !== sent) throw CHECKSUM_HEADER_ERRORS.sdkAlgorithmMismatch();
    // The SDK's header promises a checksum the request carries; without one S3 refuses it.
    if (sent === undefined && sdkAlgorithm !== undefined && streaming !== undefined)
      throw CHECKSUM_HEADER_ERRORS.sdkAlgorithmWithoutValue();
    if (sent === undefined) computeOnly.push(alg);
  }
  return { headerValues, trailing, computeOnly };
}

/** x-amz-checksum-* headers that name no algorithm but say something else about checksums. */
const CHECKSUM_HEADERS_NOT_VALUES = new Set(['x-amz-checksum-algorithm', 'x-amz-checksum-type', 'x-amz-checksum-mode']);

/** An x-amz-checksum-<name> header whose name is no algorithm S3 knows is InvalidRequest, as S3 answers. */
function refuseUnknownChecksumHeaders(headers: Req['headers']): void {
  for (const name of Object.keys(headers)) {
    const n = name.toLowerCase();
    if (!n.startsWith('x-amz-checksum-') || CHECKSUM_HEADERS_NOT_VALUES.has(n)) continue;
    if (!(CHECKSUM_ALGORITHMS as readonly string[]).includes(n.slice('x-amz-checksum-'.length))) {
      throw CHECKSUM_HEADER_ERRORS.unknownAlgorithm();
    }
  }
}

/**
 * Builds the verified body stream for a request. When `attrs` is given, the checksums the
 * request named are recorded into `attrs.checksums` as the body ends (trailers come last).
 */
export interface BodyOptions {
  /** Object and part uploads: a length must be announced (S3 answers 411 otherwise). */
  requireLength?: boolean;
  /** The largest body accepted, checked against the announced length before reading. */
  maxSize?: number;
  /**
   * The one checksum algorithm the body may name (a part of an upload created with it): another
   * is InvalidRequest, as S3 answers, and when the request names none it is computed and kept.
   */
  onlyAlgorithm?: ChecksumAlgorithm;
  /**
   * The x-amz-checksum-<alg> headers state the checksum of an object the request makes from
   * other bytes (CompleteMultipartUpload), not of this body: the caller checks them.
   */
  checksumHeadersNotOfBody?: boolean;
  /** A BadDigest names the Content-MD5 in hex (PutObject's body), not base64 (see VerifyOptions). */
  expectedDigestHex?: boolean;
}

type Req = S3Context['req'];

/**
 * The request body as handlers read it: the request is piped into the first stage of the
 * body (the aws-chunked decoder, or the verifier itself), so that s3mux can fail that stage
 * (a stalled or cut-short body) while the socket stays open for the S3 error answer.
 * Destroying the request itself would take the socket with it. No PassThrough in between and
 * no `pipeline` for a plain body: per 64 KiB of a large PUT each stage cost a turn of the
 * stream machinery, and `pipeline` builds an AbortController and a DOMException per call
 * (bench/RESULTS.md, issue 15, eighth pass); the failures reach the reader as before.
 */
const bodies = new WeakMap<Req, Duplex>();
/** Failures that arrived before the handler began reading the body. */
const earlyFailures = new WeakMap<Req, S3Error>();

/**
 * Feeds the request into `first`. A request whose body was taken before (a second
 * requestBody of one request) goes on from where that one stopped, through `pipeline`.
 */
function guardedBody(req: Req, first: Duplex): void {
  const existing = bodies.get(req);
  if (existing) {
    pipeline(existing, first, () => {});
    return;
  }
  bodies.set(req, first);
  req.pipe(first);
  req.once('error', (err) => first.destroy(err));
  req.once('aborted', () => first.destroy(new S3Error('IncompleteBody')));
  first.once('close', () => req.unpipe(first));
  const early = earlyFailures.get(req);
  // A body the client stops sending is failed by the server's idle timer (server/idle-timeout.ts).
  if (early) process.nextTick(() => first.destroy(early));
}

/**
 * The request body as sent (a POST form's, which its reader parses itself), fed as the other
 * bodies are, so that a stalled one fails with RequestTimeout and can still be answered.
 */
export function rawRequestBody(req: Req): Readable {
  const first = new PassThrough();
  guardedBody(req, first);
  return first;
}

/** After an early answer: what is left of the body goes nowhere (dispatch drains it). */
export function releaseRequestBody(req: Req): void {
  const body = bodies.get(req);
  if (body) req.unpipe(body);
}

/** Fails a request's body (if it is still being read), leaving the connection able to answer. */
export function failRequestBody(req: Req, err: S3Error): void {
  if (req.complete) return;
  const body = bodies.get(req);
  if (!body) earlyFailures.set(req, err);
  else if (!body.destroyed) body.destroy(err);
}

/**
 * Whether the request's body is aws-chunked framed. The framing is announced by the STREAMING-*
 * payload hash, or by Content-Encoding: aws-chunked with a decoded length; the word alone is a
 * plain body (whose stored Content-Encoding keeps it, as S3 keeps it).
 */
export function isAwsChunked(ctx: S3Context): boolean {
  const contentSha = ctx.header('x-amz-content-sha256');
  if (contentSha !== undefined && STREAMING.test(contentSha)) return true;
  if (ctx.header('x-amz-decoded-content-length') === undefined) return false;
  return (ctx.header('content-encoding') ?? '')
    .toLowerCase()
    .split(',')
    .map((s) => s.trim())
    .includes('aws-chunked');
}

export function requestBody(ctx: S3Context, attrs?: ObjectAttributes, opts: BodyOptions = {}): RequestBody {
  const auth = ctx.auth;
  const contentLength = declaredLength(ctx.header('content-length'), 'Content-Length');
  // A decoded length that is no number is, to S3, no decoded length (411 below).
  const decodedText = ctx.header('x-amz-decoded-content-length')?.trim();
  const decodedLength = decodedText !== undefined && /^\d+$/.test(decodedText) ? Number(decodedText) : undefined;
  const streaming = isAwsChunked(ctx);
  // S3 says "Content-Length" even when it is x-amz-decoded-content-length that is missing.
  if (streaming && decodedLength === undefined) throw new S3Error('MissingContentLength');
  const chunkedTransfer = (ctx.header('transfer-encoding') ?? '').toLowerCase().includes('chunked');
  if (opts.requireLength && contentLength === undefined && !chunkedTransfer) throw new S3Error('MissingContentLength');
  const size = streaming ? decodedLength : contentLength;
  if (opts.maxSize !== undefined && size !== undefined && size > opts.maxSize) {
    throw new S3Error('EntityTooLarge', undefined, { ProposedSize: String(size), MaxSizeAllowed: String(opts.maxSize) });
  }
  if (!opts.checksumHeadersNotOfBody) refuseUnknownChecksumHeaders(ctx.req.headers);
  const { headerValues, trailing, computeOnly } = namedAlgorithms(
    (name) => (opts.checksumHeadersNotOfBody && /^x-amz-checksum-(?!algorithm$)/.test(name) ? undefined : ctx.header(name)),
    // A Complete's checksum headers are not of its body: nothing there to hold them to.
    opts.checksumHeadersNotOfBody ? undefined : streaming,
  );
  const only = opts.onlyAlgorithm;
  if (only) {
    const other = [...(Object.keys(headerValues) as ChecksumAlgorithm[]), ...trailing, ...computeOnly].find((alg) => alg !== only);
    if (other) {
      throw new S3Error(
        'InvalidRequest',
        `Checksum Type mismatch occurred, expected checksum Type: ${only}, actual checksum Type: ${other}`,
      );
    }
    if (headerValues[only] === undefined && !trailing.includes(only) && !computeOnly.includes(only)) computeOnly.push(only);
  }
  const contentMd5 = ctx.header('content-md5');
  const verifier = new VerifyingStream({
    md5: contentMd5,
    expectedDigestHex: opts.expectedDigestHex,
    sha256Hex: signedPayloadHash(ctx),
    checksums: headerValues,
    computeAlso: [...trailing, ...computeOnly],
  });

  let stream: Readable;
  if (streaming) {
    const decoder = new AwsChunkedDecoder({
      signing: auth.type !== 'anonymous' ? auth.streaming : undefined,
      expectTrailers: trailing.map((a) => `x-amz-checksum-${a}`),
      decodedLength,
      onTrailers: (trailers: Record<string, string>) => {
        for (const alg of trailing) {
          const v = trailers[`x-amz-checksum-${alg}`];
          if (v !== undefined) verifier.setExpected(alg, v, true);
        }
      },
    });
    guardedBody(ctx.req, decoder);
    stream = pipeline(decoder, verifier, () => {});
  } else {
    guardedBody(ctx.req, verifier);
    // pipeline listened for the verifier's errors: a body failed before its reader starts
    // (a client gone while the handler awaits something) must not be an uncaught 'error'.
    verifier.on('error', () => {});
    stream = verifier;
  }
  if (attrs) keepChecksums(verifier, attrs, headerValues, [...trailing, ...computeOnly]);
  // The verifier refused a Content-MD5 that is not 16 bytes in base64 as it was built.
  return { stream, size, ...(contentMd5 !== undefined ? { md5: Buffer.from(contentMd5.trim(), 'base64').toString('hex') } : {}) };
}

/** Records into `attrs.checksums` the checksums a request named, once its body has been verified. */
function keepChecksums(
  verifier: VerifyingStream,
  attrs: ObjectAttributes,
  headerValues: Partial<Record<ChecksumAlgorithm, string>>,
  computed: ChecksumAlgorithm[],
): void {
  // Header checksums are known (and well-formed) before the body: a store that sends its
  // metadata ahead of the bytes (the s3 backend) can keep them; the body still has to match.
  if (Object.keys(headerValues).length) attrs.checksums = { ...headerValues };
  verifier.once('end', () => {
    const digests = verifier.digests();
    const named = [...Object.keys(headerValues), ...computed] as ChecksumAlgorithm[];
    if (named.length) attrs.checksums = Object.fromEntries(named.map((a) => [a, digests[a] as string]));
  });
}

/**
 * A POST form's file, checked as a PutObject body is: the form's Content-MD5 and
 * x-amz-checksum-* fields are verified as the file streams (the stream fails before its end
 * when one does not hold, so nothing is stored), and the checksums named, or asked for with
 * x-amz-checksum-algorithm, are kept in `attrs`. A form has no trailers.
 */
export function verifiedFormFile(file: Readable, field: (name: string) => string | undefined, attrs: ObjectAttributes): Readable {
  const formField = (name: string) => (name === 'x-amz-trailer' ? undefined : field(name));
  const { headerValues, computeOnly } = namedAlgorithms(formField);
  const verifier = new VerifyingStream({ md5: formField('content-md5'), checksums: headerValues, computeAlso: computeOnly });
  keepChecksums(verifier, attrs, headerValues, computeOnly);
  return pipeline(file, verifier, () => {});
}

/** A small body (an XML document) read whole, within `limit` bytes, verified like any other. */
export async function readSmallBody(ctx: S3Context, limit: number, opts: BodyOptions = {}): Promise<Buffer> {
  const { stream, size } = requestBody(ctx, undefined, opts);
  if (size !== undefined && size > limit) {
    stream.destroy();
    throw new S3Error('EntityTooLarge', 'The request body is too large.');
  }
  const chunks: Buffer[] = [];
  let total = 0;
  for await (const chunk of stream) {
    total += (chunk as Buffer).length;
    if (total > limit) {
      stream.destroy();
      throw new S3Error('EntityTooLarge', 'The request body is too large.');
    }
    chunks.push(chunk as Buffer);
  }
  return Buffer.concat(chunks);
}

const STRICT_UTF8 = new TextDecoder('utf-8', { fatal: true });

/**
 * A small XML request body as text. Bytes that are not UTF-8 make it MalformedXML, as an XML
 * parser must refuse them: decoded leniently they would become U+FFFD, and a DeleteObjects
 * key (or a tag, a lifecycle filter) would name another key than the one sent.
 */
export async function readXmlBody(ctx: S3Context, limit: number, opts: BodyOptions = {}): Promise<string> {
  return readUtf8Body(ctx, limit, () => new S3Error('MalformedXML'), opts);
}

/** A small text body (XML, a JSON policy) as UTF-8; bytes that are not UTF-8 are the document's `malformed` error. */
export async function readUtf8Body(ctx: S3Context, limit: number, malformed: () => S3Error, opts: BodyOptions = {}): Promise<string> {
  const body = await readSmallBody(ctx, limit, opts);
  try {
    return STRICT_UTF8.decode(body);
  } catch {
    throw malformed();
  }
}

/**
 * S3 requires an integrity check on some bodies (object lock settings, a write with a
 * retention): Content-MD5 or an x-amz-checksum-* value, in a header or announced as a trailer.
 * Throws InvalidRequest, as S3 does, when the request carries neither.
 */
export function requireIntegrityCheck(ctx: S3Context, what: string): void {
  if (!hasIntegrityCheck(ctx)) throw new S3Error('InvalidRequest', `Content-MD5 OR x-amz-checksum- HTTP header is required for ${what}`);
}

/** Does the request carry Content-MD5 or an x-amz-checksum-* value (in a header or announced as a trailer)? */
export function hasIntegrityCheck(ctx: S3Context): boolean {
  if (ctx.header('content-md5') !== undefined) return true;
  if (CHECKSUM_ALGORITHMS.some((alg) => ctx.header(`x-amz-checksum-${alg}`) !== undefined)) return true;
  return (ctx.header('x-amz-trailer') ?? '').toLowerCase().includes('x-amz-checksum-');
}
