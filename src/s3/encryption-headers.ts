/**
 * S3's checks of a request's encryption headers taken together, before each is honoured or
 * refused on its own (request-features.ts). A combination S3 cannot take is its 400 whatever
 * s3mux supports: SSE-C's three headers with one missing or wrong, SSE-C with
 * x-amz-server-side-encryption, a KMS companion without aws:kms. A combination S3 takes goes on
 * to the table, which honours it or refuses what s3mux cannot keep (SSE-C, SSE-KMS: 501).
 *
 * Codes, messages, ArgumentName and ArgumentValue are those recorded from S3 by LocalStack's
 * parity tests (validate_sse_c): SSE-C's errors all name x-amz-server-side-encryption, with the
 * value `null` where the value is not that header's.
 */
import { createHash } from 'node:crypto';
import { S3Error } from '../errors';

const SSE = 'x-amz-server-side-encryption';
const ALGORITHM = `${SSE}-customer-algorithm`;
const KEY = `${SSE}-customer-key`;
const KEY_MD5 = `${SSE}-customer-key-md5`;

/** The values of x-amz-server-side-encryption its KMS companions belong with. */
const KMS_METHODS: ReadonlySet<string> = new Set(['aws:kms', 'aws:kms:dsse']);

type Headers = ReadonlyMap<string, string>;

const sseC = (h: Headers) => h.has(ALGORITHM) || h.has(KEY) || h.has(KEY_MD5);
const customerKey = (h: Headers) => Buffer.from(h.get(KEY) ?? '', 'base64');
/** A KMS key id or context names a KMS key; an S3 Bucket Key only when enabled. */
const namesKms = (h: Headers) =>
  h.has(`${SSE}-aws-kms-key-id`) || h.has(`${SSE}-context`) || h.get(`${SSE}-bucket-key-enabled`)?.toLowerCase() === 'true';

function invalid(message: string, value = 'null'): S3Error {
  return new S3Error('InvalidArgument', message, { ArgumentName: SSE, ArgumentValue: value });
}

/** In S3's order: the first rule a request breaks is its answer. */
const RULES: ReadonlyArray<{ broken: (h: Headers) => boolean; error: (h: Headers) => S3Error }> = [
  {
    broken: (h) => sseC(h) && h.has(SSE),
    error: (h) =>
      invalid('Server Side Encryption with Customer provided key is incompatible with the encryption method specified', h.get(SSE)),
  },
  {
    broken: (h) => sseC(h) && !h.has(ALGORITHM),
    error: () =>
      invalid('Requests specifying Server Side Encryption with Customer provided keys must provide a valid encryption algorithm.'),
  },
  {
    broken: (h) => h.has(ALGORITHM) && !h.has(KEY),
    error: () => invalid('Requests specifying Server Side Encryption with Customer provided keys must provide an appropriate secret key.'),
  },
  {
    broken: (h) => h.has(ALGORITHM) && h.get(ALGORITHM) !== 'AES256',
    error: (h) =>
      new S3Error('InvalidEncryptionAlgorithmError', 'The Encryption request you specified is not valid. Supported value: AES256.', {
        ArgumentName: SSE,
        ArgumentValue: h.get(ALGORITHM) ?? '',
      }),
  },
  {
    broken: (h) => h.has(KEY) && customerKey(h).length !== 32,
    error: () => invalid('The secret key was invalid for the specified algorithm.'),
  },
  {
    // A missing MD5 matches no key.
    broken: (h) => h.has(KEY) && createHash('md5').update(customerKey(h)).digest('base64') !== h.get(KEY_MD5),
    error: () => invalid('The calculated MD5 hash of the key did not match the hash that was provided.'),
  },
  {
    broken: (h) => namesKms(h) && !KMS_METHODS.has(h.get(SSE) ?? ''),
    error: () => invalid('Server Side Encryption with AWS KMS managed key requires HTTP header x-amz-server-side-encryption : aws:kms'),
  },
];

/** S3's error for the request's encryption headers (lower-case names) taken together, if they break a rule. */
export function encryptionHeadersError(values: ReadonlyArray<[lowerName: string, value: string]>): S3Error | undefined {
  const h: Headers = new Map(values.filter(([name]) => name.startsWith(SSE)).map(([name, v]) => [name, v.trim()]));
  if (h.size === 0) return undefined;
  return RULES.find((r) => r.broken(h))?.error(h);
}
