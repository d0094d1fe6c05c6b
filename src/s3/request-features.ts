/**
 * Never silently drop what a client asked for. Every request header that changes what S3
 * stores or how it protects it is listed here, once, with what s3mux does with it: honours
 * it (what the client asked for is true of the stored object), or refuses the request with
 * the error S3 gives for what it does not support, naming the header. A header not listed
 * here either does not change what is stored, or is handled where it is parsed (checksums and
 * Content-MD5 in payload.ts, storage class and tags in headers.ts, conditions in objects.ts).
 *
 * The README's table "What s3mux does with each request" is this table.
 */
import { S3Error } from '../errors';
import type { S3Context } from './context';
import type { Backend } from '../backends/types';
import { kitFor } from '../backends/create';
import { CANNED_ACLS, GRANT_HEADERS } from '../access/acl';
import { accountOf } from './access';
import { TIER_HEADER } from '../bucket-config/tier';
import { encryptionHeadersError } from './encryption-headers';

export type Outcome =
  /** What the client asked for holds; `echo` is what S3 answers with to say so. */
  { honoured: true; echo?: Record<string, string> } | { honoured: false; error: S3Error };

export interface RequestFeature {
  header: string;
  /** What s3mux does, for the README. */
  summary: string;
  /** The decision for one value of the header on one request. */
  decide(value: string, ctx: S3Context): Outcome;
}

const HONOURED: Outcome = { honoured: true };

/** An AWS account id: twelve digits. */
const ACCOUNT_ID = /^\d{12}$/;

function notImplemented(header: string, what: string): Outcome {
  return { honoured: false, error: new S3Error('NotImplemented', `s3mux does not support ${what} (${header}).`, { Header: header }) };
}

/**
 * Object lock needs s3mux's state in the bucket's store (its reserved area): where there is
 * none (s3 without stateInStore; github, on a route onto every release) no bucket can have a lock configuration, and S3's
 * answer for such a bucket is given. Elsewhere the handlers apply the headers (or refuse them
 * in a bucket without lock, src/object-lock).
 */
function lockPossible(header: string, ctx: S3Context): Outcome {
  if (ctx.target.bucket !== undefined && ctx.bucket().backend.reserved) return HONOURED;
  return {
    honoured: false,
    error: new S3Error(
      'InvalidRequest',
      `Bucket is missing Object Lock Configuration (${header}): this backend has no area for s3mux's state, so s3mux cannot keep object lock there.`,
      { Header: header },
    ),
  };
}

/**
 * What s3mux can promise of objects at rest, from the store's kit (`atRest`, src/backends/kit.ts):
 * 'every object' is SSE-S3 whether asked or not; 'when asked', the s3 backend asks the store for
 * each write that requests it and refuses the write where the store does not say it encrypted
 * (src/backends/s3/encryption.ts); 'none', plain files (an fs folder), and any store whose kit
 * says nothing.
 */
type AtRest = 'every object' | 'when asked' | 'none';
const STRENGTH: readonly AtRest[] = ['none', 'when asked', 'every object'];

/** A composite route promises what its weakest target does. */
function atRest(backend: Backend, fsEncryptedAtRest: boolean): AtRest {
  if (backend.storedOn) {
    const each = backend.storedOn.map((b) => STRENGTH.indexOf(atRest(b, fsEncryptedAtRest)));
    return STRENGTH[Math.min(...each)];
  }
  const declared = kitFor(backend.kind)?.atRest;
  if (declared === 'encrypted') return 'every object';
  if (declared === 'as the operator says') return fsEncryptedAtRest ? 'every object' : 'none';
  return declared === 'when asked' ? 'when asked' : 'none';
}

/** How the store the request's bucket lives on keeps objects at rest. */
export function storeEncryption(ctx: S3Context): AtRest {
  if (ctx.target.bucket === undefined) return 'none';
  return atRest(ctx.bucket().backend, ctx.services.fsEncryptedAtRest === true);
}

/**
 * Reads name no encryption: S3 answers 400 to GET and HEAD that send x-amz-server-side-encryption
 * (or its KMS companions), every object being encrypted by S3 itself; SSE-C's headers are
 * another matter (they carry the key a read needs).
 */
const READS: ReadonlySet<string> = new Set(['GetObject', 'HeadObject']);

function sentToRead(header: string, ctx: S3Context): Outcome | undefined {
  if (ctx.operation === undefined || !READS.has(ctx.operation)) return undefined;
  return {
    honoured: false,
    error: new S3Error('InvalidArgument', `${header} header is not supported for this operation.`, { ArgumentName: header }),
  };
}

export const REQUEST_FEATURES: readonly RequestFeature[] = [
  {
    header: 'x-amz-server-side-encryption',
    summary:
      '`AES256` (SSE-S3) honoured and echoed where the store encrypts at rest (azure, gcs, oci, github, memory; fs only with `--fs-encrypted-at-rest`; a mirror, failover or migration route only where every target does); on the s3 backend forwarded to the store, and refused where the store does not say it encrypted; otherwise, and for `aws:kms` / `aws:kms:dsse`, 501 NotImplemented; on GET and HEAD 400 InvalidArgument, as in S3',
    decide(value, ctx) {
      const onRead = sentToRead('x-amz-server-side-encryption', ctx);
      if (onRead) return onRead;
      const v = value.trim();
      if (v === 'AES256') {
        return storeEncryption(ctx) !== 'none'
          ? { honoured: true, echo: { 'x-amz-server-side-encryption': 'AES256' } }
          : notImplemented(
              'x-amz-server-side-encryption',
              'server-side encryption on this route: a store it keeps objects on is an fs folder of plain files (start s3mux with --fs-encrypted-at-rest when the folder is on an encrypted volume)',
            );
      }
      if (v === 'aws:kms' || v === 'aws:kms:dsse') return notImplemented('x-amz-server-side-encryption', `SSE-KMS (${v})`);
      return {
        honoured: false,
        error: new S3Error('InvalidArgument', 'The encryption method specified is not supported', {
          ArgumentName: 'x-amz-server-side-encryption',
          ArgumentValue: v,
        }),
      };
    },
  },
  ...['x-amz-server-side-encryption-aws-kms-key-id', 'x-amz-server-side-encryption-context'].map((header): RequestFeature => ({
    header,
    summary:
      'with `x-amz-server-side-encryption: aws:kms` (or `aws:kms:dsse`) 501 NotImplemented (no SSE-KMS); without it 400 InvalidArgument, as in S3; on GET and HEAD 400 InvalidArgument, as in S3',
    decide: (_v, ctx) => sentToRead(header, ctx) ?? notImplemented(header, 'SSE-KMS'),
  })),
  {
    header: 'x-amz-server-side-encryption-bucket-key-enabled',
    summary:
      '`false` honoured; `true` with `x-amz-server-side-encryption: aws:kms` (or `aws:kms:dsse`) 501 NotImplemented (no SSE-KMS), without it 400 InvalidArgument, as in S3',
    decide: (v) =>
      v.trim().toLowerCase() === 'false'
        ? HONOURED
        : notImplemented('x-amz-server-side-encryption-bucket-key-enabled', 'S3 Bucket Keys (SSE-KMS)'),
  },
  ...['algorithm', 'key', 'key-MD5']
    .flatMap((part) => [`x-amz-server-side-encryption-customer-${part}`, `x-amz-copy-source-server-side-encryption-customer-${part}`])
    .map((header): RequestFeature => ({
      header: header.toLowerCase(),
      summary: header.startsWith('x-amz-copy-source')
        ? '501 NotImplemented (no SSE-C: the object would be stored in plaintext and readable without the key)'
        : "a complete SSE-C request (algorithm `AES256`, a 256-bit key, its MD5) 501 NotImplemented (no SSE-C: the object would be stored in plaintext and readable without the key); a header missing or wrong, or SSE-C with `x-amz-server-side-encryption`, S3's 400 (src/s3/encryption-headers.ts)",
      decide: () => notImplemented(header, 'server-side encryption with customer-provided keys (SSE-C)'),
    })),
  {
    header: 'x-amz-acl',
    summary:
      "honoured on CreateBucket, PutObject, CopyObject, CreateMultipartUpload, POST Object (`acl` field), PutBucketAcl and PutObjectAcl: every canned ACL, subject to the bucket's object ownership (BucketOwnerEnforced: only owner-only ACLs, else 400 AccessControlListNotSupported) and public access block; an unknown name 400 InvalidArgument",
    decide: (v) =>
      (CANNED_ACLS as readonly string[]).includes(v.trim())
        ? HONOURED
        : {
            honoured: false,
            error: new S3Error('InvalidArgument', undefined, { ArgumentName: 'x-amz-acl', ArgumentValue: v.trim().slice(0, 64) }),
          },
  },
  ...GRANT_HEADERS.map(([header]): RequestFeature => ({
    header,
    summary: 'honoured where x-amz-acl is (grants by id, emailAddress, uri); with x-amz-acl on one request 400 InvalidRequest',
    decide: () => HONOURED,
  })),
  {
    header: 'x-amz-object-ownership',
    summary: 'honoured on CreateBucket: BucketOwnerEnforced, BucketOwnerPreferred, ObjectWriter; another value 400 InvalidArgument',
    decide: () => HONOURED,
  },
  {
    header: 'x-amz-bucket-object-lock-enabled',
    summary:
      '`true` honoured (object lock and versioning on, kept by s3mux) on backends with a reserved area (all but s3 with `stateInStore: false` and a github route onto every release), 400 InvalidRequest elsewhere; `false` honoured',
    decide: (v, ctx) => (v.trim().toLowerCase() === 'true' ? lockPossible('x-amz-bucket-object-lock-enabled', ctx) : HONOURED),
  },
  ...['x-amz-object-lock-mode', 'x-amz-object-lock-retain-until-date', 'x-amz-object-lock-legal-hold'].map((header): RequestFeature => ({
    header,
    summary:
      'honoured in a bucket with object lock (enforced by s3mux); 400 InvalidRequest "Bucket is missing Object Lock Configuration" elsewhere, as S3 answers',
    decide: (_v, ctx) => lockPossible(header, ctx),
  })),
  {
    header: 'x-amz-bypass-governance-retention',
    summary:
      'honoured: GOVERNANCE retention is bypassed when the caller may (s3mux policies), on deletes and retention changes; on a delete in a bucket without object lock 400 InvalidArgument, as S3 answers',
    decide: () => HONOURED,
  },
  {
    header: 'x-amz-website-redirect-location',
    summary:
      '501 NotImplemented (no website hosting); a value not starting with `http://`, `https://` or `/` is 400 InvalidRedirectLocation first, as S3 answers',
    // A malformed location is the client's error whatever the server offers: S3 refuses it so.
    decide: (v) =>
      /^(https?:\/\/|\/)/.test(v.trim())
        ? notImplemented('x-amz-website-redirect-location', 'website redirects')
        : { honoured: false, error: new S3Error('InvalidRedirectLocation') },
  },
  {
    header: 'x-amz-mfa',
    summary: '501 NotImplemented (no MFA delete)',
    decide: () => notImplemented('x-amz-mfa', 'MFA delete'),
  },
  {
    // AbortMultipartUpload's condition (S3 takes it in directory buckets): aborting whatever the
    // time would end an upload the client meant to keep.
    header: 'x-amz-if-match-initiated-time',
    summary: '501 NotImplemented (no conditional aborts)',
    decide: () => notImplemented('x-amz-if-match-initiated-time', 'conditional aborts of multipart uploads'),
  },
  {
    // Node's HTTP parser removes only the chunked framing: the bytes of any other transfer
    // coding (gzip, deflate, compress) would be stored still encoded. S3 takes none of them.
    header: 'transfer-encoding',
    summary: '`chunked` honoured (the HTTP layer removes the framing); any other transfer coding (`gzip, chunked`) 501 NotImplemented',
    decide: (v) =>
      v
        .split(',')
        .map((c) => c.trim().toLowerCase())
        .every((c) => c === 'chunked')
        ? HONOURED
        : notImplemented('transfer-encoding', `the transfer coding ${JSON.stringify(v.slice(0, 64))}`),
  },
  {
    header: 'x-amz-write-offset-bytes',
    summary: '501 NotImplemented (no appends)',
    decide: () => notImplemented('x-amz-write-offset-bytes', 'appending to objects'),
  },
  {
    header: TIER_HEADER,
    summary:
      "s3mux's own: honoured on CreateBucket (the bucket's default tier, one of the routing table's `tiers`; 400 InvalidArgument for an unknown tier, 400 InvalidStorageClass for one with no class for the bucket's store); 400 InvalidArgument on any other request",
    decide: (v, ctx) =>
      ctx.operation === 'CreateBucket'
        ? HONOURED
        : {
            honoured: false,
            error: new S3Error(
              'InvalidArgument',
              `${TIER_HEADER} names a bucket's default tier on CreateBucket only; name an object's class with x-amz-storage-class.`,
              { ArgumentName: TIER_HEADER, ArgumentValue: v.slice(0, 64) },
            ),
          },
  },
  {
    header: 'x-amz-request-payer',
    summary: '`requester` honoured (s3mux charges no one, so the requester pays nothing)',
    decide: (v) =>
      v.trim().toLowerCase() === 'requester'
        ? HONOURED
        : {
            honoured: false,
            error: new S3Error('InvalidArgument', 'Invalid x-amz-request-payer value', {
              ArgumentName: 'x-amz-request-payer',
              ArgumentValue: v,
            }),
          },
  },
  ...['x-amz-expected-bucket-owner', 'x-amz-source-expected-bucket-owner'].map((header): RequestFeature => ({
    header,
    summary:
      "checked: a value that is not a 12-digit account id (or is empty) is 400 InvalidBucketOwnerAWSAccountID, as in S3; another account id than that of s3mux's identities (`accessControl.accountId`) is 403 AccessDenied",
    decide: (v, ctx) => {
      const value = v.trim();
      // What cannot be an account id is refused as such before any owner is compared, with S3's
      // wording (the value in brackets).
      if (!ACCOUNT_ID.test(value)) {
        return {
          honoured: false,
          error: new S3Error(
            'InvalidBucketOwnerAWSAccountID',
            `The value of the expected bucket owner parameter must be an AWS Account ID... [${value}]`,
          ),
        };
      }
      // S3's refusal says no more than Access Denied: it neither names the header nor confirms who owns the bucket.
      return value === accountOf(ctx) ? HONOURED : { honoured: false, error: new S3Error('AccessDenied') };
    },
  })),
];

const BY_HEADER = new Map(REQUEST_FEATURES.map((f) => [f.header, f]));

/**
 * Checks every listed header the request carries; throws the refusal of the first one s3mux
 * cannot honour. Returns the headers S3 answers with to confirm what was honoured.
 */
export function checkRequestFeatures(ctx: S3Context): Record<string, string> {
  // Only the headers the table lists are collected (most requests send none of them).
  const values: Array<[string, string]> = [];
  const headers = ctx.headers;
  for (const name in headers) {
    if (!BY_HEADER.has(name)) continue;
    const raw = headers[name];
    if (raw !== undefined) values.push([name, Array.isArray(raw) ? raw.join(',') : raw]);
  }
  return checkFeatures(values, ctx);
}

/**
 * The same for the fields of a POST Object form, which stand for the headers of a PUT
 * (`acl` for x-amz-acl). `ctx` is the form signer's.
 */
export function checkFormFeatures(fields: Iterable<[lowerName: string, value: string]>, ctx: S3Context): Record<string, string> {
  return checkFeatures(
    [...fields].map(([name, v]) => [name === 'acl' ? 'x-amz-acl' : name, v]),
    ctx,
  );
}

/** The operations whose answers say how the object is stored encrypted (x-amz-server-side-encryption), as S3's do. */
const REPORTS_ENCRYPTION: ReadonlySet<string> = new Set([
  'PutObject',
  'PostObject',
  'CopyObject',
  'GetObject',
  'HeadObject',
  'CreateMultipartUpload',
  'UploadPart',
  'UploadPartCopy',
  'CompleteMultipartUpload',
]);

function checkFeatures(values: Array<[string, string]>, ctx: S3Context): Record<string, string> {
  const combination = encryptionHeadersError(values);
  if (combination) throw combination;
  const echo: Record<string, string> = {};
  for (const [name, value] of values) {
    const feature = BY_HEADER.get(name);
    if (!feature) continue;
    const outcome = feature.decide(value, ctx);
    if (!outcome.honoured) throw outcome.error;
    Object.assign(echo, outcome.echo);
  }
  // Where the store encrypts every object, each object is SSE-S3 whether or not its request
  // asked, and S3 says so on every object answer (an s3 store says only what it was asked).
  if (ctx.operation !== undefined && REPORTS_ENCRYPTION.has(ctx.operation) && storeEncryption(ctx) === 'every object') {
    echo['x-amz-server-side-encryption'] = 'AES256';
  }
  return echo;
}
