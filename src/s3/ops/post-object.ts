/**
 * POST Object: browser form uploads (`POST /bucket`, multipart/form-data).
 *
 * The form carries everything a signed request would: the key (which may hold
 * `${filename}`), a base64 JSON policy (src/s3/post-policy.ts) and its signature, read and
 * verified by src/auth/post-form.ts; a form with neither is anonymous, taken only where everyone
 * may write (S3's policy is optional). Content headers, x-amz-meta-*, tagging and
 * success_action_* are fields too. The `file` field comes last: S3 ignores whatever follows it.
 *
 * The fields before the file are small and read whole, within limits; the file's bytes
 * stream straight from the socket into the backend's putObject, never held whole. A
 * content-length-range is enforced on the bytes as they stream: a file out of range fails
 * the body stream, so the backend stores nothing.
 */
import { checkFormFeatures } from '../request-features';
import { Transform, pipeline, type TransformCallback } from 'node:stream';
import { S3Error } from '../../errors';
import type { Tag } from '../../backends/types';
import type { AuthResult, CredentialLookup } from '../../auth/sigv4';
import {
  formBoundary,
  MAX_POST_OBJECT_BYTES,
  MAX_TRAILING_BYTES,
  missingField,
  MultipartFormReader,
  readFieldsUntilFile,
  verifyFormSignature,
  type Fields,
} from '../../auth/post-form';
import type { FormRequest, S3Context, S3Response } from '../context';
import { applyBucketTier } from '../../bucket-config/tier';
import { aclForWrite, recordObjectAcl } from '../access';
import { attributesFromHeaders, validateTags } from '../headers';
import { GRANT_HEADERS } from '../../access/acl';
import { evaluatePostPolicy, parsePostPolicy, type PolicyOutcome } from '../post-policy';
import { many, parseXml, text, toXml } from '../xml';
import { VersionedObjects } from '../../versioning/objects';
import { requestedLock } from '../../object-lock/lock';
import { writtenVersionHeader } from './objects';
import { rawRequestBody, verifiedFormFile } from '../payload';
import { objectLocation } from '../object-location';

/** What dispatch gives the handler: the means to verify the form's signer, and to authorize it. */
export interface FormAuthority {
  credentials: CredentialLookup;
  /**
   * A context for the verified signer, authorized for the operation as dispatch authorizes
   * any other request (AccessDenied when its policy does not allow it).
   */
  signedBy(signer: AuthResult, form: FormRequest): Promise<S3Context>;
}

export type FormHandler = (ctx: S3Context, authority: FormAuthority) => Promise<S3Response>;

const HEADER_FIELDS = new Set([
  'content-type',
  'content-encoding',
  'content-disposition',
  'content-language',
  'cache-control',
  'expires',
  'x-amz-storage-class',
  'x-amz-server-side-encryption',
]);

function tagsFromXml(xml: string): Tag[] {
  const doc = parseXml(xml);
  const tagging = doc?.Tagging as Record<string, unknown> | undefined;
  if (!tagging || typeof tagging !== 'object') throw new S3Error('MalformedXML');
  const tagSet = tagging.TagSet as Record<string, unknown> | '' | undefined;
  const tags = many(tagSet === '' || tagSet === undefined ? undefined : tagSet.Tag).map((t) => {
    const node = t as Record<string, unknown>;
    const key = text(node?.Key);
    if (key === undefined) throw new S3Error('MalformedXML');
    return { key, value: text(node?.Value) ?? '' };
  });
  validateTags(tags);
  return tags;
}

function attributesFromFields(fields: Fields) {
  // As headers: a header value is its bytes read as latin1 (Node's reading), so a UTF-8
  // field value is stored exactly as the same bytes sent in a PutObject header would be.
  const headers: Record<string, string> = {};
  for (const [lower, f] of fields) {
    if (HEADER_FIELDS.has(lower) || lower.startsWith('x-amz-meta-')) headers[lower] = Buffer.from(f.value, 'utf8').toString('latin1');
  }
  const attrs = attributesFromHeaders(headers);
  const tagging = fields.get('tagging');
  if (tagging !== undefined && tagging.value.trim() !== '') attrs.tags = tagsFromXml(tagging.value);
  return attrs;
}

// ---------------------------------------------------------------------------------------
// Size limits on the streamed file

class SizeLimit extends Transform {
  private seen = 0;
  constructor(
    private readonly min: number,
    private readonly max: number,
    private readonly policyMax: boolean,
  ) {
    super();
  }

  override _transform(chunk: Buffer, _enc: BufferEncoding, cb: TransformCallback): void {
    this.seen += chunk.length;
    if (this.seen > this.max) {
      cb(
        new S3Error('EntityTooLarge', this.policyMax ? 'Your proposed upload exceeds the maximum allowed size' : undefined, {
          MaxSizeAllowed: String(this.max),
        }),
      );
      return;
    }
    cb(null, chunk);
  }

  override _flush(cb: TransformCallback): void {
    if (this.seen < this.min) {
      cb(
        new S3Error('EntityTooSmall', 'Your proposed upload is smaller than the minimum allowed size', {
          ProposedSize: String(this.seen),
          MinSizeAllowed: String(this.min),
        }),
      );
      return;
    }
    cb();
  }
}

// ---------------------------------------------------------------------------------------
// The handler

function fileBaseName(filename: string): string {
  // Old browsers sent the whole local path.
  return filename.slice(Math.max(filename.lastIndexOf('/'), filename.lastIndexOf('\\')) + 1);
}

function redirectTarget(url: string): string | undefined {
  try {
    const u = new URL(url);
    return u.protocol === 'http:' || u.protocol === 'https:' ? url : undefined;
  } catch {
    return undefined;
  }
}

export const postObject: FormHandler = async (ctx, authority) => {
  // Everything a form upload says is in its fields: S3 refuses a POST to the bucket whose URL
  // carries a query parameter (an upload widget's cache-busting `?t=...`, a presigned URL's
  // X-Amz-*) before reading the form, naming the parameter; its answer gives the value as "null".
  const queryParam = ctx.query.keys().next();
  if (!queryParam.done) {
    throw new S3Error('InvalidArgument', 'Query String Parameters not allowed on POST requests.', {
      ArgumentName: queryParam.value,
      ArgumentValue: 'null',
    });
  }
  const boundary = formBoundary(ctx.header('content-type'));
  if (boundary === undefined) {
    throw new S3Error('PreconditionFailed', 'At least one of the pre-conditions you specified did not hold', {
      Condition: 'Bucket POST must be of the enclosure-type multipart/form-data',
    });
  }
  const bucket = ctx.bucketName;
  const reader = new MultipartFormReader(rawRequestBody(ctx.req), boundary);
  const { fields, file } = await readFieldsUntilFile(reader);

  // Who signed, and may they write here.
  const { signer, policy: policyText, exempt, unsignedPolicy } = verifyFormSignature(fields, authority.credentials, ctx.services.region);
  if (!file) throw new S3Error('IncorrectNumberOfFilesInPostRequest', undefined, { ArgumentName: 'file', ArgumentValue: '0' });

  const bucketField = fields.get('bucket');
  if (bucketField !== undefined && bucketField.value !== bucket) {
    throw new S3Error('InvalidArgument', 'The bucket field does not name the bucket addressed.', {
      ArgumentName: 'bucket',
      ArgumentValue: bucketField.value,
    });
  }
  const keyTemplate = fields.get('key')?.value;
  if (keyTemplate === undefined) throw missingField('key');
  const key = keyTemplate.split('${filename}').join(fileBaseName(file.filename ?? ''));
  const formHeader = (name: string) => fields.get(name === 'x-amz-acl' ? 'acl' : name)?.value;
  const conditionKeys = Object.fromEntries(
    ['x-amz-acl', ...GRANT_HEADERS.map(([h]) => h), 'x-amz-server-side-encryption', 'x-amz-storage-class'].map((h) => {
      const v = formHeader(h);
      return [`s3:${h}`, v === undefined ? undefined : [v]];
    }),
  );
  const signed = await authority.signedBy(signer, { key, conditionKeys });
  // Authorized as anonymous (else AccessDenied, as S3), a policy nobody signed still says nothing.
  if (unsignedPolicy) throw missingField('AWSAccessKeyId');

  // The policy: its conditions see the bucket addressed and the key after substitution. An
  // anonymous form has none, and only a bucket everyone may write to took it (signedBy).
  let contentLength: PolicyOutcome['contentLength'];
  if (policyText !== undefined) {
    const policy = parsePostPolicy(policyText);
    const values = new Map([...fields].map(([lower, f]) => [lower, f.value]));
    values.set('bucket', bucket);
    values.set('key', key);
    const fieldsToCover = [...fields.entries()]
      .filter(([lower]) => lower !== 'policy' && !lower.startsWith('x-ignore-') && !exempt.has(lower))
      .map(([, f]) => f.name);
    const templates = keyTemplate.includes('${filename}') ? new Map([['key', keyTemplate]]) : undefined;
    ({ contentLength } = evaluatePostPolicy(policy, { values, fieldsToCover, templates }));
  }

  const attrs = attributesFromFields(fields);
  const honoured = checkFormFeatures(
    [...fields].map(([lower, f]) => [lower, f.value]),
    signed,
  );
  const view = signed.bucket();
  view.assertWritable();
  await applyBucketTier(view, attrs);
  const acl = await aclForWrite(signed, view, formHeader);
  const objects = await VersionedObjects.of(view);
  const lock = requestedLock((name) => fields.get(name)?.value, objects.lockConfig !== undefined);

  const limit = new SizeLimit(
    contentLength?.min ?? 0,
    Math.min(contentLength?.max ?? MAX_POST_OBJECT_BYTES, MAX_POST_OBJECT_BYTES),
    contentLength !== undefined,
  );
  const fileStream = reader.stream();
  const body = verifiedFormFile(
    pipeline(fileStream, limit, () => {}),
    (name) => fields.get(name)?.value,
    attrs,
  );
  let meta;
  try {
    meta = await objects.put(key, body, attrs, { lock });
  } finally {
    body.destroy();
    fileStream.destroy();
  }
  await recordObjectAcl(view, key, acl, meta);
  // Fields after the file are ignored, but read, so the connection can serve the next request.
  const drained = await reader.drain(MAX_TRAILING_BYTES);

  const etag = `"${meta.etag}"`;
  const location = objectLocation(ctx, bucket, key);
  const headers: Record<string, string> = { ...honoured, ETag: etag, Location: location, ...writtenVersionHeader(meta) };
  if (!drained) headers.Connection = 'close';

  const redirect = fields.get('success_action_redirect')?.value ?? fields.get('redirect')?.value;
  const redirectUrl = redirect !== undefined ? redirectTarget(redirect) : undefined;
  if (redirectUrl !== undefined) {
    const q = `bucket=${encodeURIComponent(bucket)}&key=${encodeURIComponent(key)}&etag=${encodeURIComponent(etag)}`;
    return { status: 303, headers: { ...headers, Location: redirectUrl + (redirectUrl.includes('?') ? '&' : '?') + q } };
  }
  const status = fields.get('success_action_status')?.value;
  if (status === '201') {
    const body201 = toXml('PostResponse', { Location: location, Bucket: bucket, Key: key, ETag: etag }, null);
    return { status: 201, headers: { ...headers, 'Content-Type': 'application/xml' }, body: body201 };
  }
  if (status === '200') return { status: 200, headers };
  return { status: 204, headers };
};
