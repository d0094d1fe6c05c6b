/**
 * Decoder for `Content-Encoding: aws-chunked` request bodies (S3 streaming uploads).
 *
 *   <hex-size>[;chunk-signature=<sig>]\r\n <data> \r\n   ... repeated ...
 *   0[;chunk-signature=<sig>]\r\n
 *   [<name>:<value>\r\n ...]  [x-amz-trailer-signature:<sig>\r\n]  \r\n
 *
 * Data bytes are passed on as they arrive (never a whole chunk buffered) and hashed on
 * the way when signatures are checked; a chunk's signature can only be checked at its end,
 * so a bad chunk fails the stream after some of its bytes went downstream; the consumer
 * must discard a body whose stream errored, as for any other mid-body failure.
 * Only header/trailer lines are buffered, and those are bounded.
 */
import { createHash, Hash } from 'node:crypto';
import { Transform, TransformCallback } from 'node:stream';
import { S3Error } from '../errors';
import { ChunkSigningContext, EMPTY_SHA256, signaturesEqual } from '../auth/sigv4';

export interface AwsChunkedOptions {
  /** From authenticate(): check each chunk's signature, and the trailer's when signed. */
  signing?: ChunkSigningContext;
  /** Trailer names announced in x-amz-trailer (see parseTrailerHeader); others are refused. */
  expectTrailers?: string[];
  /** x-amz-decoded-content-length: the decoded body must have exactly this many bytes. */
  decodedLength?: number;
  /** Called with the trailers before the stream ends, so a VerifyingStream downstream can setExpected() in time. */
  onTrailers?: (trailers: Record<string, string>) => void;
  /** Longest chunk-header or trailer line accepted. */
  maxLineBytes?: number;
}

const MAX_TRAILERS = 16;
/**
 * Every chunk but the last must hold at least 8 KiB: S3 refuses a smaller one, signed or not
 * (STREAMING-UNSIGNED-PAYLOAD-TRAILER too: @aws-sdk/client-s3 users meet it when their stream
 * yields small pieces, aws-sdk-js-v3 issues 6949 and 7596).
 */
const MIN_CHUNK = 8192;
const TRAILER_SIGNATURE = 'x-amz-trailer-signature';

type State = 'header' | 'data' | 'data-cr' | 'data-lf' | 'trailer' | 'done';

/** x-amz-trailer: "x-amz-checksum-crc32, x-amz-checksum-sha256" → lower-case names. */
export function parseTrailerHeader(value: string | string[] | undefined): string[] {
  const all = value === undefined ? [] : Array.isArray(value) ? value : [value];
  return all
    .flatMap((v) => v.split(','))
    .map((s) => s.trim().toLowerCase())
    .filter((s) => s !== '');
}

/**
 * A body that stops short of (or runs past) what its framing promised. S3 says only that it
 * "terminated unexpectedly", without the byte counts of a short plain body; what went wrong
 * is kept as the cause, for logs.
 */
function terminated(detail: string): S3Error {
  const e = new S3Error('IncompleteBody', 'The request body terminated unexpectedly');
  Object.defineProperty(e, 'cause', { value: new Error(detail), enumerable: false });
  return e;
}

/**
 * A body whose chunks hold more or fewer bytes than x-amz-decoded-content-length: S3 names both
 * counts (swift's test_input_errors.py, against AWS: a chunk past the length, a final chunk short of it).
 */
function miscounted(expected: number, provided: number): S3Error {
  return new S3Error('IncompleteBody', 'You did not provide the number of bytes specified by the Content-Length HTTP header', {
    NumberBytesExpected: String(expected),
    NumberBytesProvided: String(provided),
  });
}

function malformed(detail: string): S3Error {
  return new S3Error('InvalidRequest', `Malformed aws-chunked body: ${detail}`);
}

export class AwsChunkedDecoder extends Transform {
  /** Trailers received (lower-case names, without x-amz-trailer-signature); complete after 'end'. */
  readonly trailers = Object.create(null) as Record<string, string>; // no prototype: names are client data

  private readonly signing?: ChunkSigningContext;
  private readonly expectTrailers?: Set<string>;
  private readonly decodedLength?: number;
  private readonly onTrailers?: (trailers: Record<string, string>) => void;
  private readonly maxLine: number;

  private state: State = 'header';
  private line: Buffer[] = [];
  private lineLength = 0;
  private remaining = 0; // data bytes left in the current chunk
  private total = 0; // decoded bytes so far
  private chunks = 0; // chunk headers read
  private lastSize = 0; // the previous chunk's size
  private hash?: Hash; // sha256 of the current chunk, when signed
  private chunkSig?: string; // signature announced in the current chunk header
  private prevSig = ''; // the chain: seed, then each verified chunk's signature
  private trailerText = ''; // "name:value\n" lines, the text the trailer signature covers
  private trailerSigned = false;
  private trailerLines = 0;

  constructor(opts: AwsChunkedOptions = {}) {
    super();
    this.signing = opts.signing;
    this.expectTrailers = opts.expectTrailers ? new Set(opts.expectTrailers.map((t) => t.toLowerCase())) : undefined;
    this.decodedLength = opts.decodedLength;
    this.onTrailers = opts.onTrailers;
    this.maxLine = opts.maxLineBytes ?? 4096;
    if (this.signing) this.prevSig = this.signing.seedSignature;
  }

  override _transform(chunk: Buffer, _enc: BufferEncoding, cb: TransformCallback): void {
    try {
      this.consume(chunk);
      cb();
    } catch (err) {
      cb(err as Error);
    }
  }

  override _flush(cb: TransformCallback): void {
    try {
      // Some clients end the body right after the last trailer line, without the blank
      // line; everything that matters has been read by then, so accept it.
      if (this.state === 'trailer' && this.lineLength === 0) {
        if (this.signing?.trailer && !this.trailerSigned)
          throw terminated('The aws-chunked body ended before its x-amz-trailer-signature.');
        this.finish();
      }
      if (this.state !== 'done') throw terminated('The aws-chunked body ended before its final chunk.');
      this.onTrailers?.(this.trailers);
      cb();
    } catch (err) {
      cb(err as Error);
    }
  }

  private consume(buf: Buffer): void {
    let i = 0;
    while (i < buf.length) {
      switch (this.state) {
        case 'header':
        case 'trailer': {
          const nl = buf.indexOf(0x0a, i);
          const end = nl < 0 ? buf.length : nl + 1;
          const last = this.line.at(-1);
          const beforeLf = nl > i ? buf[nl - 1] : last?.[last.length - 1];
          this.lineLength += end - i;
          if (this.lineLength > this.maxLine + 2) throw malformed(`a ${this.state} line is longer than ${this.maxLine} bytes.`);
          this.line.push(buf.subarray(i, end));
          i = end;
          if (nl < 0) return;
          // A line ends at CRLF only, as S3 reads it: a bare LF is part of the line (a body whose
          // lines end in LF alone never ends one: IncompleteBody). minio-go's trailer line
          // "name:value\n" followed by CRLF is such a line, its value trimmed as any other.
          if (beforeLf !== 0x0d) break;
          const text = Buffer.concat(this.line).toString('latin1').slice(0, -2);
          this.line = [];
          this.lineLength = 0;
          if (this.state === 'header') this.onChunkHeader(text);
          else this.onTrailerLine(text);
          break;
        }
        case 'data': {
          const n = Math.min(this.remaining, buf.length - i);
          const piece = buf.subarray(i, i + n);
          this.hash?.update(piece);
          this.push(piece);
          this.remaining -= n;
          i += n;
          if (this.remaining === 0) {
            if (this.hash) this.verifyChunk(this.hash.digest('hex'));
            this.state = 'data-cr';
          }
          break;
        }
        case 'data-cr':
        case 'data-lf': {
          const want = this.state === 'data-cr' ? 0x0d : 0x0a;
          // S3 finds such a body incomplete (swift's test_input_errors.py, against AWS: a chunk's data run into the next header).
          if (buf[i] !== want) throw terminated('Chunk data is not followed by CRLF.');
          i++;
          this.state = this.state === 'data-cr' ? 'data-lf' : 'header';
          break;
        }
        case 'done':
          // S3 ignores whatever follows the trailer section's blank line (swift's
          // test_input_errors.py, recorded against AWS): dropped, never kept.
          return;
      }
    }
  }

  private onChunkHeader(line: string): void {
    const [sizeText, ...extensions] = line.split(';');
    const sizeHex = sizeText.trim();
    if (!/^[0-9a-fA-F]{1,16}$/.test(sizeHex)) throw malformed(`invalid chunk size "${sizeHex.slice(0, 32)}".`);
    const size = parseInt(sizeHex, 16);
    if (!Number.isSafeInteger(size)) throw malformed('chunk size too large.');
    this.chunks++;
    // Known once the next chunk is not the final one. S3 names this chunk's number and the small one's size.
    if (size > 0 && this.chunks > 1 && this.lastSize < MIN_CHUNK) {
      throw new S3Error('InvalidChunkSizeError', undefined, { Chunk: String(this.chunks), BadChunkSize: String(this.lastSize) });
    }
    this.lastSize = size;
    if (this.decodedLength !== undefined && this.total + size > this.decodedLength) throw miscounted(this.decodedLength, this.total + size);
    this.total += size;

    this.chunkSig = undefined;
    if (this.signing) {
      // As S3 reads a signed chunk's header (swift's test_input_errors.py, against AWS): no
      // chunk-signature, an empty one, or another extension after it is a broken body
      // (IncompleteBody); another extension before it makes the signature all of the text
      // after the size (SignatureDoesNotMatch). Spaces around the name and value are allowed.
      const at = extensions.findIndex((ext) => ext.split('=')[0].trim() === 'chunk-signature');
      const value = at < 0 ? '' : extensions[at].slice(extensions[at].indexOf('=') + 1).trim();
      if (value === '') throw terminated('A chunk of a signed aws-chunked body has no chunk-signature.');
      if (at < extensions.length - 1) throw terminated('A chunk header has an extension after its chunk-signature.');
      this.chunkSig = at === 0 ? value : extensions.join(';');
    }

    if (size === 0) {
      this.verifyChunk(EMPTY_SHA256);
      // Short of the decoded length at the final chunk. A signed trailer section is read (and its
      // signature checked) first: S3 answers a short body without it as merely incomplete.
      if (!this.signing?.trailer && this.decodedLength !== undefined && this.total !== this.decodedLength)
        throw miscounted(this.decodedLength, this.total);
      this.state = 'trailer';
    } else {
      this.remaining = size;
      this.hash = this.signing ? createHash('sha256') : undefined;
      this.state = 'data';
    }
  }

  /** Check the chunk just read against the chain; its signature becomes the next link. */
  private verifyChunk(dataSha256Hex: string): void {
    if (!this.signing) return;
    const expected = this.signing.chunkSignature(this.prevSig, dataSha256Hex);
    if (!signaturesEqual(expected, this.chunkSig!)) throw this.signing.mismatch('chunk', this.prevSig, dataSha256Hex, this.chunkSig!);
    this.prevSig = expected;
  }

  private onTrailerLine(line: string): void {
    const signedTrailer = this.signing?.trailer === true;
    if (line === '') {
      if (signedTrailer && !this.trailerSigned) throw terminated('The trailer section ended before its x-amz-trailer-signature.');
      this.finish();
      return;
    }
    const colon = line.indexOf(':');
    if (colon <= 0) throw malformed('a trailer line has no "name:value" form.');
    const name = line.slice(0, colon).trim().toLowerCase();
    const value = line.slice(colon + 1).trim();
    if (this.trailerSigned) throw malformed('trailer after x-amz-trailer-signature.');

    if (name === TRAILER_SIGNATURE) {
      if (!this.signing) return; // unsigned payload: nothing to check it against
      if (!signedTrailer) throw malformed('a trailer signature in a body that announced no trailer.');
      // A signed trailer section with no trailer in it: S3 finds the body incomplete.
      if (this.trailerLines === 0) throw terminated('A signed trailer section without a trailer.');
      const trailerHash = createHash('sha256').update(this.trailerText, 'latin1').digest('hex');
      if (!signaturesEqual(this.signing.trailerSignature(this.prevSig, trailerHash), value)) {
        throw this.signing.mismatch('trailer', this.prevSig, trailerHash, value);
      }
      this.trailerSigned = true;
      return;
    }
    // Trailers in a signed body without a signed trailer would be unauthenticated data.
    if (this.signing && !signedTrailer) throw malformed('trailers in a body whose x-amz-content-sha256 announced none.');
    // A trailer x-amz-trailer did not announce (another checksum, any other name): S3 finds the trailer section malformed.
    if (this.expectTrailers && !this.expectTrailers.has(name)) throw new S3Error('MalformedTrailerError');
    // A repeated trailer: S3 holds the body to the last value sent.
    if (++this.trailerLines > MAX_TRAILERS) throw malformed('too many trailers.');
    this.trailers[name] = value;
    this.trailerText += `${name}:${value}\n`;
  }

  /** End of the body (a signed trailer's signature has been checked by now): everything announced must have arrived. */
  private finish(): void {
    for (const name of this.expectTrailers ?? []) {
      // S3 finds a body without the trailer it announced malformed, not short.
      if (!Object.hasOwn(this.trailers, name)) throw new S3Error('MalformedTrailerError');
    }
    if (this.decodedLength !== undefined && this.total !== this.decodedLength) throw miscounted(this.decodedLength, this.total);
    this.state = 'done';
  }
}
