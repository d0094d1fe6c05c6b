/**
 * Header values on the wire. Node's writeHead throws on a value holding a control character
 * or a character above U+00FF, and a throw there used to end the process. Every value s3mux
 * sends passes through here: text is turned into bytes the way S3 sends it, and a value that
 * still cannot be sent is an S3 error, never an exception.
 *
 * Attribute strings inside s3mux are byte strings (one char per byte, as Node reads a header),
 * so a UTF-8 value a client sent goes back as the same bytes.
 */
import { S3Error } from '../errors';

const NOT_SENDABLE = /[^\t\x20-\x7e\x80-\xff]/;
// eslint-disable-next-line no-control-regex -- control characters are what this finds
const CONTROL = /[\x00-\x08\x0a-\x1f\x7f]/;
const NOT_ASCII_PRINTABLE = /[^\t\x20-\x7e]/;
/** Any UTF-16 unit above U+00FF (surrogates included): text no byte string can hold. */
const ABOVE_LATIN1 = /[\u0100-\uffff]/;
/** RFC 9110 token: what a header name may hold. */
const TOKEN = /^[!#$%&'*+.^_`|~0-9A-Za-z-]+$/;

export function isSendable(value: string): boolean {
  return !NOT_SENDABLE.test(value);
}

export function isHeaderName(name: string): boolean {
  return TOKEN.test(name);
}

export function hasControlCharacters(value: string): boolean {
  return CONTROL.test(value);
}

/** Text (a decoded query parameter, a store's Unicode field) as the UTF-8 bytes S3 sends. */
export function textAsHeaderBytes(value: string): string {
  // eslint-disable-next-line no-control-regex
  return /[^\u0000-\u007f]/.test(value) ? Buffer.from(value, 'utf8').toString('latin1') : value;
}

const STRICT_UTF8 = new TextDecoder('utf-8', { fatal: true });

/**
 * A request header's bytes (Node reads one char per byte) as the UTF-8 text they encode, for a
 * header that names text (a copy source's key, tags); undefined when they are not UTF-8.
 */
export function headerText(value: string): string | undefined {
  // eslint-disable-next-line no-control-regex
  if (!/[^\u0000-\u007f]/.test(value)) return value;
  if (ABOVE_LATIN1.test(value)) return undefined;
  try {
    return STRICT_UTF8.decode(Buffer.from(value, 'latin1'));
  } catch {
    return undefined;
  }
}

/** A byte string or text as bytes: chars above U+00FF can only be text, sent as UTF-8. */
function bytesOf(value: string): Buffer {
  return Buffer.from(value, ABOVE_LATIN1.test(value) ? 'utf8' : 'latin1');
}

/** RFC 2047 encoded-word, the "mail-safe" form S3 gives non-ASCII user metadata. */
export function encodedWord(value: string): string {
  return `=?UTF-8?B?${bytesOf(value).toString('base64')}?=`;
}

/**
 * A user metadata value as S3 returns it: as it is when plain ASCII, otherwise RFC 2047
 * encoded (S3: "encoded as per RFC 2047 to make them mail-safe before returning").
 */
export function metadataHeaderValue(value: string): string {
  return NOT_ASCII_PRINTABLE.test(value) ? encodedWord(value) : value;
}

/**
 * A stored content header (Content-Disposition, ...) for the answer: bytes as they are;
 * text above U+00FF as UTF-8; a value with control characters (only a foreign writer of the
 * store can leave one) RFC 2047 encoded, so it is still sent rather than failing the read.
 */
export function storedHeaderValue(value: string): string {
  if (hasControlCharacters(value)) return encodedWord(value);
  return ABOVE_LATIN1.test(value) ? Buffer.from(value, 'utf8').toString('latin1') : value;
}

/**
 * A request's header-like input that s3mux will store and later send (user metadata, content
 * headers, from headers or a POST form): refused at write time unless it can be sent back.
 */
export function checkStorableHeader(name: string, value: string): void {
  if (!isHeaderName(name)) {
    throw new S3Error('InvalidArgument', 'Header names must be HTTP tokens.', { ArgumentName: name });
  }
  if (hasControlCharacters(value) || ABOVE_LATIN1.test(value)) {
    throw new S3Error('InvalidArgument', `The value of ${name} holds characters that cannot be sent in an HTTP header.`, {
      ArgumentName: name,
    });
  }
}

/**
 * The last check before writeHead. Handlers build values through the functions above, so
 * reaching the throw is a bug; the dispatcher answers it with 500 InternalError.
 */
export function sendableHeaders(headers: Record<string, string>): Record<string, string> {
  for (const [name, value] of Object.entries(headers)) {
    if (!isHeaderName(name) || !isSendable(value)) {
      throw new Error(`unsendable header ${JSON.stringify(name)}: ${JSON.stringify(value)}`);
    }
  }
  return headers;
}
