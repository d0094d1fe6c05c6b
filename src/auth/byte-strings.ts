/**
 * Header values as Node hands them over are byte strings: one character (U+0000 to U+00FF) per
 * byte received, so a UTF-8 value is its bytes, not its text. S3 signs bytes, so the signers
 * (SigV4, SigV2, the s3 backend's own) build their canonical forms in this shape, and trim and
 * fold only ASCII whitespace: in a byte string U+00A0 is the byte 0xA0, the last byte of a
 * UTF-8 'à', not a space.
 */

/** Text as a byte string (one character per UTF-8 byte), the form header values arrive in. */
export function byteString(text: string): string {
  return Buffer.from(text, 'utf8').toString('latin1');
}

/** Trimmed of ASCII whitespace only. */
export function asciiTrim(s: string): string {
  return s.replace(/^[\t\n\v\f\r ]+|[\t\n\v\f\r ]+$/g, '');
}

/** SigV4's form of one header value: trimmed, and each inner run of ASCII whitespace one space. */
export function foldedHeaderValue(s: string): string {
  return asciiTrim(s).replace(/[\t\n\v\f\r ]+/g, ' ');
}

/** `41 42 43`: the bytes S3 names in a SignatureDoesNotMatch (a string given is taken as UTF-8 text). */
export function bytesHex(s: string | Buffer): string {
  return (typeof s === 'string' ? Buffer.from(s, 'utf8') : s).toString('hex').replace(/(..)(?!$)/g, '$1 ');
}
