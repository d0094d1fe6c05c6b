/** Object operations: PutObject, GetObject, HeadObject, DeleteObject. */
import { aclForWrite, collectObjectAcl, recordObjectAcl } from '../access';
import { S3Error } from '../../errors';
import type { ByteRange, DeleteConditions, ObjectMeta, WriteConditions } from '../../backends/types';
import type { Handler, S3Context, S3Response } from '../context';
import { failedCondition, notModified, parseDeleteConditions, parseRange, resolveRange, type ReadConditions } from '../conditions';
import { httpDate } from '../headers';
import { attributesFromHeaders, metaHeaders, RESPONSE_OVERRIDES } from '../headers';
import { isAwsChunked, requestBody } from '../payload';
import { hasControlCharacters, textAsHeaderBytes } from '../header-values';
import { VersionedObjects, type VersionedMeta } from '../../versioning/objects';
import { NULL_VERSION } from '../../versioning/version-id';
import { requestedLock, type ObjectLock } from '../../object-lock/lock';
import { visibleLockHeaders } from '../lock-headers';
import { bypassGovernance, refuseBypassWithoutLock } from '../bypass-governance';
import { requireIntegrityCheck } from '../payload';
import { applyBucketTier } from '../../bucket-config/tier';
import { expirationHeaders } from '../expiration';
import { checksumTypeOf, compositeChecksum, partChecksumsOf } from '../checksums';
import { multipartEtagParts } from '../../backends/multipart-etag';

/** S3's limit for one PutObject; larger objects go multipart. */
export const MAX_OBJECT_SIZE_SINGLE_PUT = 5 * 1024 ** 3;

export function readConditions(ctx: S3Context, prefix = ''): ReadConditions {
  return {
    ifMatch: ctx.header(`${prefix}if-match`),
    ifNoneMatch: ctx.header(`${prefix}if-none-match`),
    ifModifiedSince: ctx.header(`${prefix}if-modified-since`),
    ifUnmodifiedSince: ctx.header(`${prefix}if-unmodified-since`),
  };
}

/**
 * 412 as an error; 304 as a bodiless answer that still names the version the client has,
 * as S3 sends it.
 */
function conditionalAnswer(ctx: S3Context, meta: ObjectMeta): S3Response | undefined {
  const failed = failedCondition(meta, readConditions(ctx));
  if (failed === undefined) return undefined;
  if (!notModified(failed)) throw new S3Error('PreconditionFailed', undefined, { Condition: failed });
  return { status: 304, headers: { ETag: `"${meta.etag}"`, 'Last-Modified': httpDate(meta.lastModified) } };
}

/** S3's answer to a write condition's value it does not take (If-None-Match other than `*`, If-Match `*`). */
function refusedConditionValue(header: 'If-Match' | 'If-None-Match'): S3Error {
  return new S3Error('NotImplemented', 'A header you provided implies functionality that is not implemented', {
    Header: header,
    additionalMessage: `We don't accept the provided value of ${header} header for this API`,
  });
}

export function writeConditions(ctx: S3Context): WriteConditions | undefined {
  const ifMatch = ctx.header('if-match');
  const ifNoneMatch = ctx.header('if-none-match');
  if (ifNoneMatch !== undefined && ifNoneMatch.trim() !== '*') throw refusedConditionValue('If-None-Match');
  if (ifMatch?.trim() === '*') throw refusedConditionValue('If-Match');
  return ifMatch === undefined && ifNoneMatch === undefined ? undefined : { ifMatch, ifNoneMatch };
}

/**
 * DeleteObject's conditions on the current version: If-Match, x-amz-if-match-size and
 * x-amz-if-match-last-modified-time (checked in conditions.ts checkDeleteConditions).
 */
export function deleteConditions(ctx: S3Context): DeleteConditions | undefined {
  const header = { size: 'x-amz-if-match-size', lastModified: 'x-amz-if-match-last-modified-time' } as const;
  return parseDeleteConditions(
    ctx.header('if-match'),
    ctx.header(header.size),
    ctx.header(header.lastModified),
    (field, value) =>
      new S3Error('InvalidArgument', `Invalid ${header[field]}`, { ArgumentName: header[field], ArgumentValue: value.slice(0, 64) }),
  );
}

function checksumModeEnabled(ctx: S3Context): boolean {
  return (ctx.header('x-amz-checksum-mode') ?? '').toUpperCase() === 'ENABLED';
}

/** Checksum headers echoed on a write: the ones the client sent or asked for. */
export function writtenChecksumHeaders(meta: ObjectMeta): Record<string, string> {
  const h: Record<string, string> = {};
  for (const [alg, v] of Object.entries(meta.checksums ?? {})) {
    h[`x-amz-checksum-${alg}`] = v;
    h['x-amz-checksum-type'] = checksumTypeOf(v);
  }
  return h;
}

/** The versionId a request names (undefined: the latest). */
export function requestedVersion(ctx: S3Context): string | undefined {
  return ctx.query.get('versionId') ?? undefined;
}

/** The object lock a write's x-amz-object-lock-* headers ask for in the bucket of `objects` (undefined: none). */
export function lockFromHeaders(ctx: S3Context, objects: VersionedObjects): ObjectLock | undefined {
  return requestedLock((name) => ctx.header(name), objects.lockConfig !== undefined);
}

/** x-amz-version-id, where S3 sends it (not in a bucket that was never versioned). */
export function versionHeader(meta: { versionId?: string }): Record<string, string> {
  return meta.versionId === undefined ? {} : { 'x-amz-version-id': meta.versionId };
}

/**
 * x-amz-version-id on the answer to a write (PutObject, POST Object, CopyObject, Complete). A
 * write in a versioning-Suspended bucket makes the null version, and S3 then names no version:
 * its PutObject examples answer a Suspended bucket's write without the header, as LocalStack's
 * AWS-validated tests record, while a GET or HEAD of that version says `null`.
 */
export function writtenVersionHeader(meta: { versionId?: string }): Record<string, string> {
  return meta.versionId === NULL_VERSION ? {} : versionHeader(meta);
}

export const putObject: Handler = async (ctx) => {
  const key = ctx.key;
  const view = ctx.bucket();
  view.assertWritable();
  const attrs = attributesFromHeaders(ctx.headers, isAwsChunked(ctx));
  await applyBucketTier(view, attrs);
  const conditions = writeConditions(ctx);
  const acl = await aclForWrite(ctx, view);
  const objects = await VersionedObjects.of(view);
  const lock = lockFromHeaders(ctx, objects);
  if (lock?.retention) requireIntegrityCheck(ctx, 'Put Object requests with Object Lock parameters');
  const body = requestBody(ctx, attrs, { requireLength: true, maxSize: MAX_OBJECT_SIZE_SINGLE_PUT, expectedDigestHex: true });
  const meta = await objects.put(key, body.stream, attrs, { size: body.size, conditions, lock, md5: body.md5 });
  await recordObjectAcl(view, key, acl, meta);
  const described = expirationHeaders(ctx, key, { ...meta, tags: meta.tags ?? attrs.tags });
  const expiration = described instanceof Promise ? await described : described;
  return {
    status: 200,
    headers: { ETag: `"${meta.etag}"`, ...writtenChecksumHeaders(meta), ...writtenVersionHeader(meta), ...expiration },
  };
};

/**
 * response-* parameters replace the answer's headers, with the text the client asked for
 * (sent as UTF-8, as S3 does). S3 refuses them on anonymous requests, so a public link
 * cannot be made to serve, say, another Content-Type.
 */
function applyOverrides(ctx: S3Context, headers: Record<string, string>): void {
  // Most GETs carry no query at all: nothing to look up six times.
  if (ctx.target.rawQuery === '') return;
  for (const [param, name] of Object.entries(RESPONSE_OVERRIDES)) {
    const v = ctx.query.get(param);
    if (v === null) continue;
    if (ctx.auth.type === 'anonymous') {
      throw new S3Error('InvalidRequest', 'Request specific response headers cannot be used for anonymous GET requests.');
    }
    if (hasControlCharacters(v)) {
      throw new S3Error('InvalidArgument', 'Header value cannot hold control characters.', { ArgumentName: param, ArgumentValue: v });
    }
    headers[name] = textAsHeaderBytes(v);
  }
}

/**
 * The part ?partNumber=N asks for (undefined: none), checked before the object is looked up, as
 * S3 checks it: a malformed number is InvalidArgument even for a key that does not exist.
 */
function requestedPart(ctx: S3Context): number | undefined {
  const partParam = ctx.query.get('partNumber');
  if (partParam === null) return undefined;
  if (ctx.header('range') !== undefined)
    throw new S3Error('InvalidRequest', 'Cannot specify both Range header and partNumber query parameter');
  const n = /^\d+$/.test(partParam) ? Number(partParam) : NaN;
  if (!(n >= 1 && n <= 10_000))
    throw new S3Error('InvalidArgument', 'Part number must be an integer between 1 and 10000, inclusive', {
      ArgumentName: 'partNumber',
      ArgumentValue: partParam,
    });
  return n;
}

/**
 * The byte range a request asks for: a Range header, or part `n` (one part of a multipart
 * object; part 1 of any other object is the whole object).
 */
function requestedRange(ctx: S3Context, meta: ObjectMeta, n: number | undefined): { range?: ByteRange; partsCount?: number } {
  if (n === undefined) {
    const rangeReq = parseRange(ctx.header('range'));
    return { range: rangeReq ? resolveRange(rangeReq, meta.size) : undefined };
  }
  const sizes = meta.partSizes ?? [meta.size];
  if (n > sizes.length) throw invalidPartNumber(n, sizes.length);
  const start = sizes.slice(0, n - 1).reduce((a, b) => a + b, 0);
  const partsCount = meta.partSizes ? sizes.length : undefined;
  if (sizes[n - 1] === 0) return { partsCount };
  return { range: { start, end: start + sizes[n - 1] - 1 }, partsCount };
}

const invalidPartNumber = (n: number, count: number) =>
  new S3Error('InvalidPartNumber', undefined, { PartNumberRequested: String(n), ActualPartCount: String(count) });

/**
 * Part `n` of a multipart object whose part layout its store keeps (its meta has no partSizes:
 * the s3 backend's): the store says where the part lies (BucketView.partRange). A store that
 * cannot say leaves the object one part, as requestedRange has it.
 */
async function storedPartRange(
  ctx: S3Context,
  key: string,
  meta: ObjectMeta,
  n: number,
): Promise<{ range?: ByteRange; partsCount?: number }> {
  const count = multipartEtagParts(meta.etag) ?? 1;
  if (count < 2) return requestedRange(ctx, meta, n);
  if (n > count) throw invalidPartNumber(n, count);
  const part = await ctx.bucket().partRange(key, n, meta.etag);
  if (!part || part.end >= meta.size) return requestedRange(ctx, meta, n);
  return { range: { start: part.start, end: part.end }, partsCount: part.partsCount };
}

/** The range of a GET or HEAD: a part's place is asked of the store only where the object's meta cannot say. */
function rangeOf(ctx: S3Context, key: string, meta: ObjectMeta, n: number | undefined) {
  return n !== undefined && !meta.partSizes ? storedPartRange(ctx, key, meta, n) : requestedRange(ctx, meta, n);
}

/**
 * The checksum a GET or HEAD of part `n` answers with x-amz-checksum-mode: ENABLED when the
 * object's checksum is COMPOSITE: the part's own, which is what the part's bytes can be checked
 * against (LocalStack's GetObject, recorded against AWS, localstack#12842). Undefined: the
 * object's checksum when the part is the whole object, else none (a FULL_OBJECT CRC's parts
 * have none of their own).
 */
function partChecksumHeaders(meta: ObjectMeta, n: number | undefined): Record<string, string> | undefined {
  const value = n === undefined ? undefined : partChecksumsOf(meta)?.[n - 1];
  if (value === undefined) return undefined;
  return { [`x-amz-checksum-${compositeChecksum(meta.checksums)![0]}`]: value, 'x-amz-checksum-type': 'COMPOSITE' };
}

const NO_READ_CHECKSUMS: { whole: boolean; part?: Record<string, string> } = Object.freeze({ whole: false });

/** The checksum headers GET and HEAD give (x-amz-checksum-mode: ENABLED): a part's own, or the object's when the whole object is answered. */
function readChecksums(ctx: S3Context, meta: ObjectMeta, n: number | undefined, range: ByteRange | undefined) {
  if (!checksumModeEnabled(ctx)) return NO_READ_CHECKSUMS;
  const part = partChecksumHeaders(meta, n);
  if (part) return { whole: false, part };
  return { whole: range === undefined || (range.start === 0 && range.end === meta.size - 1) };
}

/**
 * The headers GET and HEAD describe a version with, filled into one object (no spread copies
 * per request). No lock, nothing to authorize: no promise to wait for (every GET and HEAD asks).
 */
function objectHeaders(
  ctx: S3Context,
  key: string,
  meta: VersionedMeta,
  checksums: boolean,
): Record<string, string> | Promise<Record<string, string>> {
  const headers = metaHeaders(meta, { checksums });
  if (meta.versionId !== undefined) headers['x-amz-version-id'] = meta.versionId;
  if (!meta.lock) {
    headers['Accept-Ranges'] = 'bytes';
    return headers;
  }
  return visibleLockHeaders(ctx, key, meta.lock).then((lock) => {
    Object.assign(headers, lock);
    headers['Accept-Ranges'] = 'bytes';
    return headers;
  });
}

/**
 * x-amz-expiration on GET and HEAD: S3 tells it only when the object is asked for by its key;
 * a request naming a version (noncurrent or even the current one) gets none.
 */
function readExpiration(ctx: S3Context, key: string, meta: ObjectMeta): ReturnType<typeof expirationHeaders> {
  return requestedVersion(ctx) !== undefined ? {} : expirationHeaders(ctx, key, meta);
}

export const getObject: Handler = async (ctx) => {
  const key = ctx.key;
  const part = requestedPart(ctx);
  const handle = await (await VersionedObjects.of(ctx.bucket())).open(key, requestedVersion(ctx));
  try {
    const meta = handle.meta;
    const answer = conditionalAnswer(ctx, meta);
    if (answer) {
      await handle.close();
      return answer;
    }
    const ranged = rangeOf(ctx, key, meta, part);
    const { range, partsCount } = ranged instanceof Promise ? await ranged : ranged;
    const checksums = readChecksums(ctx, meta, part, range);
    const described = objectHeaders(ctx, key, meta, checksums.whole);
    const headers = described instanceof Promise ? await described : described;
    if (checksums.part) Object.assign(headers, checksums.part);
    const expiration = readExpiration(ctx, key, meta);
    Object.assign(headers, expiration instanceof Promise ? await expiration : expiration);
    if (partsCount !== undefined) headers['x-amz-mp-parts-count'] = String(partsCount);
    applyOverrides(ctx, headers);
    let status = 200;
    if (range) {
      status = 206;
      headers['Content-Range'] = `bytes ${range.start}-${range.end}/${meta.size}`;
      headers['Content-Length'] = String(range.end - range.start + 1);
    } else {
      headers['Content-Length'] = String(meta.size);
    }
    if (meta.size === 0) return { status, headers, cleanup: () => handle.close() };
    const bytes = handle.bytes?.(range);
    // Bytes in memory hold nothing to release (ObjectHandle.bytes): closed now, no clean-up
    // to wait for once the answer is written.
    if (bytes !== undefined) {
      void handle.close();
      return { status, headers, body: bytes };
    }
    return { status, headers, body: handle.read(range), cleanup: () => handle.close() };
  } catch (err) {
    await handle.close();
    throw err;
  }
};

export const headObject: Handler = async (ctx): Promise<S3Response> => {
  const key = ctx.key;
  const part = requestedPart(ctx);
  const meta: VersionedMeta = await (await VersionedObjects.of(ctx.bucket())).head(key, requestedVersion(ctx));
  const answer = conditionalAnswer(ctx, meta);
  if (answer) return answer;
  const ranged = rangeOf(ctx, key, meta, part);
  const { range, partsCount } = ranged instanceof Promise ? await ranged : ranged;
  // The object's checksum describes the whole object, not one part of it: as on GET.
  const checksums = readChecksums(ctx, meta, part, range);
  const described = objectHeaders(ctx, key, meta, checksums.whole);
  const headers = described instanceof Promise ? await described : described;
  if (checksums.part) Object.assign(headers, checksums.part);
  const expiration = readExpiration(ctx, key, meta);
  Object.assign(headers, expiration instanceof Promise ? await expiration : expiration);
  if (partsCount !== undefined) headers['x-amz-mp-parts-count'] = String(partsCount);
  // HEAD describes the answer GET would give, response-* overrides included.
  applyOverrides(ctx, headers);
  if (range) {
    headers['Content-Range'] = `bytes ${range.start}-${range.end}/${meta.size}`;
    headers['Content-Length'] = String(range.end - range.start + 1);
    return { status: 206, headers };
  }
  headers['Content-Length'] = String(meta.size);
  return { status: 200, headers };
};

export const deleteObject: Handler = async (ctx) => {
  const key = ctx.key;
  const view = ctx.bucket();
  await view.exists();
  const versionId = requestedVersion(ctx);
  const objects = await VersionedObjects.of(view);
  refuseBypassWithoutLock(ctx, objects.lockConfig !== undefined);
  const bypass = versionId !== undefined && (await bypassGovernance(ctx, key));
  const removed = await objects.remove(key, versionId, { bypass, conditions: deleteConditions(ctx) });
  // An ACL document of the removed version no longer matches anything: garbage, collected if cheap.
  if (!removed.deleteMarker) await collectObjectAcl(view, key, versionId);
  const headers: Record<string, string> = versionHeader(removed);
  if (removed.deleteMarker) headers['x-amz-delete-marker'] = 'true';
  return { status: 204, headers };
};
