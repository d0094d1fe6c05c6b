/**
 * POST Object's form (browser uploads, multipart/form-data) as an authentication mechanism,
 * beside the header and query ones: the form reader (the fields before the file read whole
 * within limits, the file streamed) and the check of the policy's signature, V4
 * (x-amz-algorithm, x-amz-credential, x-amz-date, x-amz-signature = hex HMAC-SHA256 of the
 * policy with the SigV4 signing key) or V2 (AWSAccessKeyId, signature = base64 HMAC-SHA1 of
 * the policy). What the policy allows is checked by the handler (src/s3/post-policy.ts).
 */
import { Readable } from 'node:stream';
import { S3Error } from '../errors';
import { hmacSha1Base64 } from './sigv2';
import { ALGORITHM, UNSIGNED_PAYLOAD, signaturesEqual, type AuthResult, type CredentialLookup, type Identity } from './sigv4';
import { getSigningKey } from './signing-key-cache';
import { hmacHex } from './digests';

/** Limits on what precedes the file: each field's value, and all of it (headers and values). */
export const MAX_FIELD_BYTES = 20 * 1024;
export const MAX_FIELDS_TOTAL_BYTES = 64 * 1024;
/** Bytes read and discarded after the file part (S3 ignores fields that follow the file). */
export const MAX_TRAILING_BYTES = 64 * 1024;
/** S3's largest POST upload. */
export const MAX_POST_OBJECT_BYTES = 5 * 1024 ** 3;
const MAX_PART_HEADER_BYTES = 8 * 1024;

// ---------------------------------------------------------------------------------------
// multipart/form-data, streaming

/** The boundary of a multipart/form-data Content-Type; undefined when it is not one. */
export function formBoundary(contentType: string | undefined): string | undefined {
  if (contentType === undefined) return undefined;
  const [type, ...params] = splitParams(contentType);
  if (type.trim().toLowerCase() !== 'multipart/form-data') return undefined;
  const b = params.find(([n]) => n === 'boundary')?.[1];
  return b !== undefined && b.length >= 1 && b.length <= 200 ? b : undefined;
}

/** `type; a=1; b="q \"x\""` -> ['type', ['a','1'], ['b','q "x"']]; parameter names lower-cased. */
function splitParams(value: string): [string, ...Array<[string, string]>] {
  const semi = value.indexOf(';');
  const head = semi < 0 ? value : value.slice(0, semi);
  const params: Array<[string, string]> = [];
  const re = /;\s*([^\s=;]+)\s*=\s*(?:"((?:[^"\\]|\\.)*)"|([^;]*))/g;
  for (const m of (semi < 0 ? '' : value.slice(semi)).matchAll(re)) {
    const v = m[2] !== undefined ? m[2].replace(/\\(["\\])/g, '$1') : m[3].trim();
    params.push([m[1].toLowerCase(), v]);
  }
  return [head, ...params];
}

export interface FormPart {
  /** The field name, as sent. */
  name: string;
  /** The filename the browser gave (filename* preferred), when the part is a file. */
  filename?: string;
  contentType?: string;
}

function malformed(detail: string): S3Error {
  return new S3Error('MalformedPOSTRequest', `The body of your POST request is not well-formed multipart/form-data: ${detail}`);
}

const STRICT_UTF8 = new TextDecoder('utf-8', { fatal: true });

/**
 * A part's header block or a field's value as UTF-8. Bytes that are not UTF-8 make the form
 * malformed: read leniently they became U+FFFD, and a key (or a ${filename}) named another
 * key than the one sent, the same for every such name.
 */
function utf8(bytes: Buffer, what: string): string {
  try {
    return STRICT_UTF8.decode(bytes);
  } catch {
    throw malformed(`${what} is not UTF-8.`);
  }
}

function parsePartHeaders(block: Buffer): FormPart {
  let disposition: string | undefined;
  let contentType: string | undefined;
  for (const line of utf8(block, 'a part header').split('\r\n')) {
    if (line === '') continue;
    const colon = line.indexOf(':');
    if (colon <= 0) throw malformed('a part header line has no name.');
    const name = line.slice(0, colon).trim().toLowerCase();
    const value = line.slice(colon + 1).trim();
    if (name === 'content-disposition') disposition = value;
    else if (name === 'content-type') contentType = value;
  }
  if (disposition === undefined) throw malformed('a part has no Content-Disposition.');
  const [type, ...params] = splitParams(disposition);
  if (type.trim().toLowerCase() !== 'form-data') throw malformed('a part is not form-data.');
  const p = new Map(params);
  const name = p.get('name');
  if (name === undefined || name === '') throw malformed('a part has no field name.');
  let filename = p.get('filename');
  const extended = p.get('filename*'); // RFC 5987: charset'lang'percent-encoded
  if (extended !== undefined) {
    const m = /^([^']*)'[^']*'(.*)$/.exec(extended);
    if (m) {
      try {
        filename = m[1].toLowerCase() === 'utf-8' ? decodeURIComponent(m[2]) : unescape(m[2]);
      } catch {
        // keep the plain filename
      }
    }
  }
  return { name, ...(filename !== undefined ? { filename } : {}), ...(contentType !== undefined ? { contentType } : {}) };
}

const CRLF = Buffer.from('\r\n');
const CRLFCRLF = Buffer.from('\r\n\r\n');

/**
 * Reads a multipart/form-data body part by part, pulling from the source only as fast as
 * the consumer takes data: a part's body is handed on in pieces as it arrives, keeping back
 * only the few bytes that might begin the next delimiter.
 */
export class MultipartFormReader {
  private readonly source: AsyncIterator<Buffer | string>;
  private readonly delimiter: Buffer;
  /** Unconsumed bytes. Starts with CRLF so the first boundary line looks like any delimiter. */
  private buf: Buffer = CRLF;
  /** The current part's body has been read up to (and past) its delimiter. */
  private atDelimiter = false;
  private finished = false;
  /** Bytes taken from the source so far. */
  private bytesRead = 0;

  constructor(source: AsyncIterable<Buffer | string>, boundary: string) {
    this.source = source[Symbol.asyncIterator]();
    this.delimiter = Buffer.from(`\r\n--${boundary}`, 'latin1');
  }

  /** Bytes of the body consumed so far (read from the source and handed on or parsed). */
  get position(): number {
    return this.bytesRead + CRLF.length - this.buf.length;
  }

  private async fill(): Promise<boolean> {
    const r = await this.source.next();
    if (r.done) return false;
    const chunk = typeof r.value === 'string' ? Buffer.from(r.value) : r.value;
    this.bytesRead += chunk.length;
    this.buf = this.buf.length ? Buffer.concat([this.buf, chunk]) : chunk;
    return true;
  }

  private async ensure(n: number): Promise<void> {
    while (this.buf.length < n)
      if (!(await this.fill())) throw new S3Error('IncompleteBody', 'The POST body ended before its closing boundary.');
  }

  /** The next piece of the current part's body; null once its delimiter is reached. */
  async readBodyChunk(): Promise<Buffer | null> {
    if (this.atDelimiter || this.finished) return null;
    for (;;) {
      const i = this.buf.indexOf(this.delimiter);
      if (i >= 0) {
        const piece = this.buf.subarray(0, i);
        this.buf = this.buf.subarray(i + this.delimiter.length);
        this.atDelimiter = true;
        return piece.length ? piece : null;
      }
      // Everything but a possible start of the delimiter can go.
      const safe = this.buf.length - (this.delimiter.length - 1);
      if (safe > 0) {
        const piece = this.buf.subarray(0, safe);
        this.buf = this.buf.subarray(safe);
        return piece;
      }
      if (!(await this.fill())) throw new S3Error('IncompleteBody', 'The POST body ended before its closing boundary.');
    }
  }

  /** Reads the rest of the current part's body, at most `limit` bytes, else `onTooLarge()`. */
  async readValue(limit: number, onTooLarge: () => S3Error): Promise<Buffer> {
    const pieces: Buffer[] = [];
    let total = 0;
    for (let p = await this.readBodyChunk(); p !== null; p = await this.readBodyChunk()) {
      total += p.length;
      if (total > limit) throw onTooLarge();
      pieces.push(p);
    }
    return Buffer.concat(pieces);
  }

  /** The rest of the current part's body as a stream, with backpressure. */
  stream(): Readable {
    const self = this;
    return Readable.from(
      (async function* () {
        for (let p = await self.readBodyChunk(); p !== null; p = await self.readBodyChunk()) yield p;
      })(),
      { objectMode: false },
    );
  }

  /**
   * Moves to the next part and returns its headers; undefined after the closing delimiter.
   * Whatever is left of the current part's body (the preamble, at first) is skipped, up to
   * `skipLimit` bytes.
   */
  async next(skipLimit = MAX_FIELDS_TOTAL_BYTES): Promise<FormPart | undefined> {
    if (this.finished) return undefined;
    await this.readValue(skipLimit, () => new S3Error('MaxPostPreDataLengthExceededError'));
    this.atDelimiter = false;
    await this.ensure(2);
    if (this.buf[0] === 0x2d && this.buf[1] === 0x2d) {
      this.finished = true;
      return undefined;
    }
    // Transport padding (spaces, tabs) may follow a boundary before its CRLF.
    let pad = 0;
    for (;;) {
      await this.ensure(pad + 2);
      if (this.buf[pad] === 0x20 || this.buf[pad] === 0x09) {
        if (++pad > 64) throw malformed('a boundary line is too long.');
        continue;
      }
      break;
    }
    this.buf = this.buf.subarray(pad);
    if (!this.buf.subarray(0, 2).equals(CRLF)) throw malformed('a boundary is not followed by CRLF.');
    // The boundary line's CRLF, the header lines, an empty line: an empty header block is CRLFCRLF at 0.
    let end: number;
    while ((end = this.buf.indexOf(CRLFCRLF)) < 0) {
      if (this.buf.length > MAX_PART_HEADER_BYTES) throw malformed('part headers are too long.');
      if (!(await this.fill())) throw new S3Error('IncompleteBody', 'The POST body ended inside part headers.');
    }
    if (end > MAX_PART_HEADER_BYTES) throw malformed('part headers are too long.');
    const block = this.buf.subarray(2, Math.max(2, end));
    this.buf = this.buf.subarray(end + 4);
    return parsePartHeaders(end === 0 ? Buffer.alloc(0) : block);
  }

  /**
   * Reads and discards the rest of the body, up to `limit` bytes; false when more remained
   * or it was not well-formed (the connection should then be closed rather than reused).
   */
  async drain(limit: number): Promise<boolean> {
    const start = this.position;
    try {
      while (!this.finished) {
        if ((await this.next(limit)) === undefined) break;
        if (this.position - start > limit) return false;
      }
      // After the closing delimiter: an epilogue, normally nothing or a CRLF.
      this.buf = Buffer.alloc(0);
      while (await this.fill()) {
        this.buf = Buffer.alloc(0);
        if (this.position - start > limit) return false;
      }
      return true;
    } catch {
      return false;
    }
  }
}

// ---------------------------------------------------------------------------------------
// The form's fields and signature

export interface Field {
  name: string;
  value: string;
}

/** Fields by lower-case name (S3 reads form field names case-insensitively). */
export type Fields = Map<string, Field>;

export async function readFieldsUntilFile(reader: MultipartFormReader): Promise<{ fields: Fields; file?: FormPart }> {
  const fields: Fields = new Map();
  const tooLarge = () => new S3Error('MaxPostPreDataLengthExceededError');
  for (;;) {
    const part = await reader.next(MAX_FIELDS_TOTAL_BYTES - reader.position);
    if (reader.position > MAX_FIELDS_TOTAL_BYTES) throw tooLarge();
    if (part === undefined) return { fields };
    const lower = part.name.toLowerCase();
    if (lower === 'file') return { fields, file: part };
    const limit = Math.min(MAX_FIELD_BYTES, MAX_FIELDS_TOTAL_BYTES - reader.position);
    const value = utf8(await reader.readValue(limit, tooLarge), `the value of ${part.name}`);
    if (fields.has(lower) && !lower.startsWith('x-ignore-')) {
      throw new S3Error('InvalidArgument', `POST form fields may not be repeated: ${part.name}`, {
        ArgumentName: part.name,
        ArgumentValue: value,
      });
    }
    fields.set(lower, { name: part.name, value });
  }
}

export function missingField(name: string): S3Error {
  return new S3Error(
    'InvalidArgument',
    `Bucket POST must contain a field named '${name}'.  If it is specified, please check the order of the fields.`,
    {
      ArgumentName: name,
      ArgumentValue: '',
    },
  );
}

/** A field the form must hold, named in S3's spelling when missing (X-Amz-Signature, Signature, AWSAccessKeyId). */
function required(fields: Fields, name: string): string {
  const f = fields.get(name.toLowerCase());
  if (f === undefined || f.value === '') throw missingField(name);
  return f.value;
}

function checkToken(identity: Identity, token: string | undefined): void {
  if (identity.sessionToken !== undefined ? token === undefined || !signaturesEqual(token, identity.sessionToken) : token !== undefined) {
    throw new S3Error('AccessDenied', 'The provided token is malformed or otherwise invalid.');
  }
}

export interface FormSignature {
  signer: AuthResult;
  /** The signed policy; none for an anonymous form, which no one signed. */
  policy?: string;
  /** Fields that need no condition: the signature's own (besides file, policy and x-ignore-*). */
  exempt: ReadonlySet<string>;
  /** The form holds a policy but no signature: the caller authorizes it as anonymous, then refuses it. */
  unsignedPolicy?: true;
}

/**
 * Verifies the policy's signature (V4 or V2); throws S3's errors. A form with neither a
 * signature nor a policy is anonymous, as in S3 (the policy is optional): only a bucket that
 * lets everyone write takes it, which the caller's authorization decides.
 */
export function verifyFormSignature(fields: Fields, lookup: CredentialLookup, expectedRegion: string): FormSignature {
  const token = fields.get('x-amz-security-token')?.value;
  if (fields.has('x-amz-algorithm') || fields.has('x-amz-signature') || fields.has('x-amz-credential')) {
    const algorithm = required(fields, 'X-Amz-Algorithm');
    if (algorithm !== ALGORITHM) {
      throw new S3Error('InvalidArgument', `Unsupported x-amz-algorithm: only ${ALGORITHM} is supported.`, {
        ArgumentName: 'x-amz-algorithm',
        ArgumentValue: algorithm,
      });
    }
    const credential = required(fields, 'X-Amz-Credential');
    const amzDate = required(fields, 'X-Amz-Date');
    const signature = required(fields, 'X-Amz-Signature');
    const policy = required(fields, 'policy');
    const scope = credential.split('/');
    if (scope.length !== 5 || scope.some((s) => s === '') || !/^\d{8}$/.test(scope[1]) || scope[4] !== 'aws4_request') {
      throw new S3Error('InvalidArgument', 'Invalid credential: expecting "<YOUR-AKID>/YYYYMMDD/REGION/SERVICE/aws4_request".', {
        ArgumentName: 'x-amz-credential',
        ArgumentValue: credential,
      });
    }
    if (!/^\d{8}T\d{6}Z$/.test(amzDate)) {
      throw new S3Error('InvalidArgument', "x-amz-date must be in the ISO8601 Long Format \"yyyyMMdd'T'HHmmss'Z'\"", {
        ArgumentName: 'x-amz-date',
        ArgumentValue: amzDate,
      });
    }
    const [accessKeyId, day, region, service] = scope;
    if (region !== expectedRegion) {
      throw new S3Error(
        'AuthorizationQueryParametersError',
        `Error parsing the X-Amz-Credential parameter; the region '${region}' is wrong; expecting '${expectedRegion}'`,
        { Region: expectedRegion },
      );
    }
    const identity = lookup(accessKeyId);
    if (!identity) throw new S3Error('InvalidAccessKeyId', undefined, { AWSAccessKeyId: accessKeyId });
    checkToken(identity, token);
    const expected = hmacHex(getSigningKey(identity.secretAccessKey, day, region, service), policy);
    if (!signaturesEqual(expected, signature.toLowerCase())) {
      throw new S3Error('SignatureDoesNotMatch', undefined, {
        AWSAccessKeyId: accessKeyId,
        StringToSign: policy,
        SignatureProvided: signature,
      });
    }
    return {
      signer: { type: 'presigned', accessKeyId, region, service, payloadHash: UNSIGNED_PAYLOAD },
      policy,
      exempt: new Set(['x-amz-signature']),
    };
  }
  if (fields.has('awsaccesskeyid') || fields.has('signature')) {
    const accessKeyId = required(fields, 'AWSAccessKeyId');
    const signature = required(fields, 'Signature');
    const policy = required(fields, 'policy');
    const identity = lookup(accessKeyId);
    if (!identity) throw new S3Error('InvalidAccessKeyId', undefined, { AWSAccessKeyId: accessKeyId });
    checkToken(identity, token);
    if (!signaturesEqual(hmacSha1Base64(identity.secretAccessKey, policy), signature)) {
      throw new S3Error('SignatureDoesNotMatch', undefined, {
        AWSAccessKeyId: accessKeyId,
        StringToSign: policy,
        SignatureProvided: signature,
      });
    }
    return {
      signer: { type: 'v2', accessKeyId, region: 'us-east-1', service: 's3', payloadHash: UNSIGNED_PAYLOAD },
      policy,
      exempt: new Set(['awsaccesskeyid', 'signature']),
    };
  }
  // A policy no one signed cannot be trusted: S3 answers such a form AccessDenied where anonymous
  // writes are refused, and the caller asks for the signer where they are not.
  if (fields.has('policy')) return { signer: { type: 'anonymous' }, exempt: new Set(), unsignedPolicy: true };
  return { signer: { type: 'anonymous' }, exempt: new Set() };
}

// ---------------------------------------------------------------------------------------
// Attributes of the stored object

/** Fields stored like the PutObject header of the same name. */
