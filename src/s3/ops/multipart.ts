/**
 * Multipart uploads: the S3 rules (part numbers, order, sizes, the md5-of-md5s ETag) are
 * checked here, once, for every backend; the backend's MultipartStore keeps the parts.
 */
import { aclForWrite, recordObjectAcl, uploadAcls } from '../access';
import { UploadStash } from '../upload-stash';
import type { ObjectLock } from '../../object-lock/lock';
import { multipartEtag } from '../../backends/multipart-etag';
import { isS3Error, S3Error } from '../../errors';
import type { ObjectAttributes, PartInfo } from '../../backends/types';
import type { Handler, S3Context } from '../context';
import type { BucketView } from '../../router/bucket-view';
import {
  CHECKSUM_ALGORITHMS,
  CHECKSUM_ELEMENT,
  DIGEST_LENGTH,
  checksumElements,
  checksumTypeElement,
  checksummed,
  isDigestBase64,
  type ChecksumAlgorithm,
} from '../checksums';
import {
  checkComplete,
  checkStatedObjectChecksum,
  objectChecksum,
  requestedUploadChecksum,
  statedObjectChecksum,
} from '../multipart-checksum';
import {
  createUploadRecord,
  describeUpload,
  describeUploads,
  dropUploadRecord,
  uploadChecksum,
  type UploadChecksum,
} from '../upload-record';
import { checkCopySourceConditions, unquote } from '../conditions';
import { attributesFromHeaders } from '../headers';
import { readXmlBody, requestBody } from '../payload';
import { slowXmlResponse, xmlResponse } from '../respond';
import { children, element, many, parseXml, text } from '../xml';
import { copySourceHeaders, openCopySource, parseCopySource } from './copy';
import { VersionedObjects } from '../../versioning/objects';
import { encoder, parseMaxKeys } from './listing';
import { lockFromHeaders, readConditions, writeConditions, writtenVersionHeader } from './objects';
import { applyBucketTier } from '../../bucket-config/tier';
import { expirationHeaders } from '../expiration';
import { objectLocation } from '../object-location';

/** The object lock CreateMultipartUpload asked for, applied by Complete. */
const uploadLocks = new UploadStash<ObjectLock>('object lock', 'lock/uploads');

export const MAX_PARTS = 10_000;
/** Every part but the last must be at least this large (S3's rule). */
export const MIN_PART_SIZE = 5 * 1024 * 1024;
export const MAX_PART_SIZE = 5 * 1024 * 1024 * 1024;

function partNumber(ctx: S3Context): number {
  const v = ctx.query.get('partNumber') ?? '';
  const n = /^\d+$/.test(v) ? Number(v) : NaN;
  if (!(n >= 1 && n <= MAX_PARTS)) {
    throw new S3Error('InvalidArgument', `Part number must be an integer between 1 and ${MAX_PARTS}, inclusive`, {
      ArgumentName: 'partNumber',
      ArgumentValue: v,
    });
  }
  return n;
}

function uploadId(ctx: S3Context): string {
  const id = ctx.query.get('uploadId');
  if (!id) throw new S3Error('NoSuchUpload');
  return id;
}

export const createMultipartUpload: Handler = async (ctx) => {
  const view = ctx.bucket();
  await view.exists();
  const attrs = attributesFromHeaders(ctx.headers);
  await applyBucketTier(view, attrs);
  const acl = await aclForWrite(ctx, view);
  // Checked now (a bucket without lock refuses it), applied when the upload completes.
  const lock = lockFromHeaders(ctx, await VersionedObjects.of(view));
  // An algorithm or a type S3 does not take is refused before anything is made, as S3 refuses it.
  const checksum = requestedUploadChecksum(ctx);
  const id = await view.createUpload(ctx.key, attrs);
  await uploadAcls.put(view, id, acl);
  await uploadLocks.put(view, id, lock);
  // A store without a reserved area keeps no upload's checksum (its objects get none: a declared gap) nor initiator.
  await createUploadRecord(ctx, view, id, checksum);
  return xmlResponse(
    'InitiateMultipartUploadResult',
    { Bucket: ctx.bucketName, Key: ctx.key, UploadId: id },
    200,
    checksum ? { 'x-amz-checksum-algorithm': checksum.algorithm.toUpperCase(), 'x-amz-checksum-type': checksum.type } : {},
  );
};

export const uploadPart: Handler = async (ctx) => {
  const n = partNumber(ctx);
  const id = uploadId(ctx);
  const view = ctx.bucket();
  // A part of an upload with a checksum carries that algorithm's (payload.ts: computed when not sent, another refused).
  const mode = await uploadChecksum(view, id);
  // The checksums the part's request named land here once its body has been verified.
  const verified: ObjectAttributes = { userMetadata: {} };
  const body = requestBody(ctx, verified, { requireLength: true, maxSize: MAX_PART_SIZE, onlyAlgorithm: mode?.algorithm });
  const part = await view.uploadPart(ctx.key, id, n, body.stream, { size: body.size, verified, md5: body.md5 });
  const headers: Record<string, string> = { ETag: `"${part.etag}"` };
  for (const [alg, v] of Object.entries({ ...verified.checksums, ...part.checksums })) headers[`x-amz-checksum-${alg}`] = v;
  return { status: 200, headers };
};

/**
 * x-amz-copy-source-range: `bytes=a-b`, both ends required, inside the source. S3 answers a
 * range past the source's end with 400 InvalidArgument (not GetObject's 416 InvalidRange), and
 * one that starts past it with 400 InvalidRequest.
 */
function copySourceRange(value: string | undefined, size: number): { start: number; end: number } | undefined {
  if (value === undefined) return undefined;
  const m = /^bytes=(\d+)-(\d+)$/.exec(value.trim());
  if (!m || Number(m[2]) < Number(m[1]))
    throw new S3Error(
      'InvalidArgument',
      'The x-amz-copy-source-range value must be of the form bytes=first-last where first and last are the zero-based offsets of the first and last bytes to copy',
      { ArgumentName: 'x-amz-copy-source-range', ArgumentValue: value },
    );
  const start = Number(m[1]);
  const end = Number(m[2]);
  if (start >= size) throw new S3Error('InvalidRequest', 'The specified copy range is invalid for the source object size');
  if (end >= size)
    throw new S3Error('InvalidArgument', `Range specified is not valid for source object of size: ${size}`, {
      ArgumentName: 'x-amz-copy-source-range',
      ArgumentValue: value,
    });
  return { start, end };
}

export const uploadPartCopy: Handler = async (ctx) => {
  const n = partNumber(ctx);
  const id = uploadId(ctx);
  const source = parseCopySource(ctx.header('x-amz-copy-source') ?? '');
  const src = await ctx.sourceBucket(source.bucket, source.key, source.versionId);
  const dst = ctx.bucket();
  const handle = await openCopySource(await VersionedObjects.of(src), source);
  try {
    checkCopySourceConditions(handle.meta, readConditions(ctx, 'x-amz-copy-source-'));
    const range = copySourceRange(ctx.header('x-amz-copy-source-range'), handle.meta.size);
    const size = range ? range.end - range.start + 1 : handle.meta.size;
    if (size > MAX_PART_SIZE) throw new S3Error('EntityTooLarge');
    // A part of an upload with a checksum gets that algorithm's, computed from the bytes copied.
    const mode = await uploadChecksum(dst, id);
    const verified: ObjectAttributes = { userMetadata: {} };
    const bytes = mode
      ? checksummed(handle.read(range), mode.algorithm, (v) => (verified.checksums = { [mode.algorithm]: v }))
      : handle.read(range);
    const part = await dst.uploadPart(ctx.key, id, n, bytes, { size, verified });
    const checksums = { ...verified.checksums, ...part.checksums };
    return xmlResponse(
      'CopyPartResult',
      {
        LastModified: part.lastModified,
        ETag: `"${part.etag}"`,
        ...checksumElements(checksums),
      },
      200,
      copySourceHeaders(handle.meta),
    );
  } finally {
    await handle.close();
  }
};

async function allParts(ctx: S3Context, key: string, id: string): Promise<Map<number, PartInfo>> {
  const view = ctx.bucket();
  const parts = new Map<number, PartInfo>();
  let marker: number | undefined;
  for (;;) {
    const page = await view.listParts(key, id, { partNumberMarker: marker, maxParts: 1000 });
    for (const p of page.parts) parts.set(p.partNumber, p);
    if (!page.isTruncated || page.nextPartNumberMarker === undefined) return parts;
    marker = page.nextPartNumberMarker;
  }
}

export const completeMultipartUpload: Handler = async (ctx) => {
  const id = uploadId(ctx);
  const view = ctx.bucket();
  const stated = statedObjectChecksum(ctx);
  // Its x-amz-checksum-* headers state the object's checksum, checked below, not the XML's.
  const root = element(parseXml(await readXmlBody(ctx, 4 * 1024 * 1024, { checksumHeadersNotOfBody: true })), 'CompleteMultipartUpload', [
    'Part',
  ]);
  if (!root) {
    // No body at all: S3 looks the upload up first (NoSuchUpload), then asks for parts.
    await ctx.bucket().listParts(ctx.key, id, { maxParts: 1 });
    throw new S3Error('InvalidRequest', 'You must specify at least one part');
  }
  const requested = many(root.Part).map((p) => {
    const node = children(p, ['PartNumber', 'ETag', ...PART_CHECKSUM_ELEMENTS.map(([el]) => el)]);
    const numText = text(node.PartNumber)?.trim() ?? '';
    const num = Number(numText);
    const etag = text(node.ETag);
    // An empty or non-numeric PartNumber is not the schema's integer; a negative one is, and S3 refuses it below.
    if (!/^[-+]?\d+$/.test(numText) || !Number.isInteger(num) || etag === undefined) throw new S3Error('MalformedXML');
    if (num < 1) throw new S3Error('InvalidArgument', 'PartNumber must be >= 1');
    const checksums: Partial<Record<ChecksumAlgorithm, string>> = {};
    for (const [el, alg] of PART_CHECKSUM_ELEMENTS) {
      const v = text(node[el])?.trim();
      if (v === undefined) continue;
      // A part is one checksum, of its upload's algorithm: S3 refuses a second as it refuses bad base64.
      if (!isDigestBase64(v, DIGEST_LENGTH[alg]) || Object.keys(checksums).length > 0)
        throw new S3Error('InvalidArgument', 'Invalid Base64 or multiple checksums present in request');
      checksums[alg] = v;
    }
    return { partNumber: num, etag: unquote(etag), checksums };
  });
  if (requested.length === 0)
    throw new S3Error(
      'MalformedXML',
      'The XML you provided was not well-formed or did not validate against our published schema: a CompleteMultipartUpload needs at least one Part.',
    );
  for (let i = 1; i < requested.length; i++) {
    if (requested[i].partNumber <= requested[i - 1].partNumber) throw new S3Error('InvalidPartOrder', undefined, { UploadId: id });
  }
  const mode = await uploadChecksum(view, id);
  checkComplete(ctx, mode, requested);
  const etag = multipartEtag(requested.map((r) => r.etag));
  let stored: Map<number, PartInfo>;
  try {
    stored = await allParts(ctx, ctx.key, id);
  } catch (err) {
    const done = completeResult(ctx, { etag: await repeatedComplete(ctx, err, etag) });
    return xmlResponse(done.root, done.body);
  }
  const missing = requested.find((r) => stored.get(r.partNumber)?.etag !== r.etag);
  if (missing) {
    const err = new S3Error('InvalidPart', undefined, { UploadId: id, PartNumber: String(missing.partNumber), ETag: missing.etag });
    const done = completeResult(ctx, { etag: await settledUpload(ctx, id, err, etag, stored) });
    return xmlResponse(done.root, done.body);
  }
  // An upload known to have been created without an algorithm (its store keeps upload records)
  // has no part checksums to name: S3 takes a part named with one as a part it does not have.
  const withoutAlgorithm = mode === undefined && view.backend.reserved !== undefined;
  const chosen = requested.map((r) => {
    const p = stored.get(r.partNumber)!;
    const notThisPart = () => new S3Error('InvalidPart', undefined, { UploadId: id, PartNumber: String(r.partNumber), ETag: r.etag });
    // A checksum the client names for a part must be the one the part was uploaded with: of the
    // upload's algorithm, another value names no part uploaded (InvalidPart, as the ETag would).
    // A part the store keeps checksums of, but none of the named algorithm, does not match it
    // either (BadDigest, as in S3); where the store keeps none, nothing can be compared.
    for (const [alg, v] of Object.entries(r.checksums)) {
      if (withoutAlgorithm) throw notThisPart();
      const kept = p.checksums?.[alg];
      if (alg === mode?.algorithm && kept !== undefined && kept !== v) throw notThisPart();
      const keepsSome = Object.keys(p.checksums ?? {}).length > 0;
      if (kept !== undefined ? kept !== v : keepsSome)
        throw new S3Error('BadDigest', `The ${alg} you specified for part ${r.partNumber} did not match what we received.`);
    }
    return p;
  });
  chosen.forEach((p, i) => {
    if (i < chosen.length - 1 && p.size < MIN_PART_SIZE) {
      throw new S3Error('EntityTooSmall', undefined, {
        ProposedSize: String(p.size),
        MinSizeAllowed: String(MIN_PART_SIZE),
        PartNumber: String(p.partNumber),
        ETag: p.etag,
      });
    }
  });
  // x-amz-mp-object-size: the size the client expects the object to have. S3 refuses a
  // mismatch with InvalidRequest, before anything is assembled.
  const expectedSize = ctx.header('x-amz-mp-object-size');
  if (expectedSize !== undefined) {
    const total = chosen.reduce((n, p) => n + p.size, 0);
    if (expectedSize.trim() !== String(total))
      throw new S3Error(
        'InvalidRequest',
        `The provided x-amz-mp-object-size (${expectedSize.slice(0, 32)}) does not match the object's size (${total}).`,
      );
  }
  const checksum = mode && objectChecksum(mode, chosen, requested);
  checkStatedObjectChecksum(stated, mode, checksum);
  // A composite checksum's parts are listed by GetObjectAttributes, each with its own.
  const partChecksums =
    mode?.type === 'COMPOSITE' && checksum
      ? chosen.map((p, i) => p.checksums?.[mode.algorithm] ?? requested[i].checksums[mode.algorithm]!)
      : undefined;
  const conditions = writeConditions(ctx);
  // Assembly can take a while for large objects: answer as S3 does, keeping the line busy.
  // In a versioned bucket the object at the name is about to be replaced: keep it as a version first.
  const objects = await VersionedObjects.of(view);
  const lock = await uploadLocks.get(view, id);
  await objects.adopt(ctx.key);
  const work = view
    .completeUpload(
      ctx.key,
      id,
      chosen.map((p) => p.partNumber),
      etag,
      {
        conditions,
        ...(mode && checksum ? { checksums: { [mode.algorithm]: checksum } } : {}),
        ...(partChecksums ? { partChecksums } : {}),
      },
    )
    .then(
      async (meta): Promise<Completed> => {
        const captured = await objects.capture(ctx.key, meta, lock);
        // The ACL CreateMultipartUpload asked for (none: the default) becomes the object's.
        await recordObjectAcl(view, ctx.key, await uploadAcls.get(view, id), captured);
        await uploadAcls.drop(view, id).catch(() => undefined);
        await uploadLocks.drop(view, id).catch(() => undefined);
        await dropUploadRecord(view, id).catch(() => undefined);
        // What the store recorded, not what was asked: a store that keeps no checksum answers none.
        return { ...captured, checksums: meta.checksums, expiration: await expirationHeaders(ctx, ctx.key, captured) };
      },
      // Another replica (or a retry racing this one) completed it first, or it was aborted.
      async (err): Promise<Completed> => ({ etag: await settledUpload(ctx, id, err, etag, stored) }),
    )
    .then((done) => completeResult(ctx, done));
  return slowXmlResponse(work, ctx, ctx.services.keepAliveMs);
};

const PART_CHECKSUM_ELEMENTS = CHECKSUM_ALGORITHMS.map((alg) => [CHECKSUM_ELEMENT[alg], alg] as const);

interface Completed {
  etag: string;
  versionId?: string;
  checksums?: Record<string, string>;
  /** x-amz-expiration, when a lifecycle rule will expire the object (not known to a repeated Complete). */
  expiration?: Record<string, string>;
}

function completeResult(ctx: S3Context, { etag, versionId, checksums, expiration }: Completed) {
  return {
    root: 'CompleteMultipartUploadResult',
    headers: { ...writtenVersionHeader({ versionId }), ...expiration },
    body: {
      Location: objectLocation(ctx, ctx.bucketName, ctx.key),
      Bucket: ctx.bucketName,
      Key: ctx.key,
      ETag: `"${etag}"`,
      ...checksumElements(checksums),
      ...checksumTypeElement(checksums),
    },
  };
}

/**
 * A Complete repeated after the upload completed (the client lost the first answer and
 * retries): S3 answers it again with the object's ETag. The upload is gone from the store,
 * so the object itself is the record: when it carries the ETag these very parts make, this
 * request's upload is what produced it — on any replica, after any restart, on every backend.
 */
async function repeatedComplete(ctx: S3Context, err: unknown, etag: string): Promise<string> {
  if (!isS3Error(err, 'NoSuchUpload')) throw err;
  const meta = await ctx
    .bucket()
    .headObject(ctx.key)
    .catch(() => undefined);
  if (meta?.etag !== etag) throw err;
  return meta.etag;
}

/**
 * A part that went missing while this Complete ran (its list was read, or its parts were being
 * joined, as an Abort or another Complete of the upload removed them): S3 answers for the
 * upload, NoSuchUpload or the object the other Complete made, not InvalidPart. A part that was
 * never uploaded, in an upload that is still there, stays InvalidPart.
 *
 * Some stores remove an upload's parts before its record (gcs, github: a record left without
 * parts is found and swept, parts left without a record are not), so for a moment an aborted
 * upload is still there with fewer parts. While its parts are vanishing (fewer than `seen`, or
 * none), its end is waited for, up to about 3 s; parts that stay put answer InvalidPart at once.
 */
async function settledUpload(ctx: S3Context, id: string, err: unknown, etag: string, seen: Map<number, PartInfo>): Promise<string> {
  if (!isS3Error(err, 'InvalidPart')) return repeatedComplete(ctx, err, etag);
  for (let wait = 25; ; wait *= 2) {
    let now: Map<number, PartInfo>;
    try {
      now = await allParts(ctx, ctx.key, id);
    } catch (gone) {
      return repeatedComplete(ctx, gone, etag);
    }
    const vanishing = now.size === 0 || now.size < seen.size;
    if (!vanishing || wait > 1600) throw err;
    seen = now;
    await new Promise((resolve) => setTimeout(resolve, wait));
  }
}

/**
 * S3 names a missing bucket before a missing upload; a store asked for an upload in a bucket
 * that is gone may only say the upload is not there. Asked only then, so nothing costs more.
 */
async function uploadInBucket<T>(view: BucketView, work: Promise<T>): Promise<T> {
  try {
    return await work;
  } catch (err) {
    if (isS3Error(err, 'NoSuchUpload')) await view.exists();
    throw err;
  }
}

export const abortMultipartUpload: Handler = async (ctx) => {
  const view = ctx.bucket();
  await uploadInBucket(view, view.abortUpload(ctx.key, uploadId(ctx)));
  // A pending ACL left behind names an upload that is gone: garbage, never read again.
  await uploadAcls.drop(view, uploadId(ctx)).catch(() => undefined);
  await uploadLocks.drop(view, uploadId(ctx)).catch(() => undefined);
  await dropUploadRecord(view, uploadId(ctx)).catch(() => undefined);
  return { status: 204 };
};

/** An upload's checksum as ListParts and ListMultipartUploads name it. */
const checksumOfUpload = (mode: UploadChecksum | undefined) =>
  mode ? { ChecksumAlgorithm: mode.algorithm.toUpperCase(), ChecksumType: mode.type } : {};

export const listParts: Handler = async (ctx) => {
  const id = uploadId(ctx);
  const maxParts = parseMaxKeys(ctx.query.get('max-parts'), 'max-parts');
  const markerText = ctx.query.get('part-number-marker');
  const marker = markerText ? Number(markerText) : undefined;
  if (markerText && !/^\d{1,5}$/.test(markerText)) {
    throw new S3Error('InvalidArgument', 'Invalid part-number-marker', {
      ArgumentName: 'part-number-marker',
      ArgumentValue: markerText ?? '',
    });
  }
  const view = ctx.bucket();
  const page = await uploadInBucket(view, view.listParts(ctx.key, id, { partNumberMarker: marker, maxParts }));
  const { checksum: mode, initiator } = await describeUpload(ctx, view, id);
  return xmlResponse('ListPartsResult', {
    Bucket: ctx.bucketName,
    Key: ctx.key,
    UploadId: id,
    Initiator: initiator,
    Owner: initiator,
    StorageClass: page.upload.attrs.storageClass ?? 'STANDARD',
    PartNumberMarker: marker ?? 0,
    NextPartNumberMarker: page.nextPartNumberMarker ?? page.parts.at(-1)?.partNumber ?? 0,
    MaxParts: maxParts,
    IsTruncated: page.isTruncated,
    ...checksumOfUpload(mode),
    Part: page.parts.map((p) => ({
      PartNumber: p.partNumber,
      LastModified: p.lastModified,
      ETag: `"${p.etag}"`,
      Size: p.size,
      ...checksumElements(p.checksums),
    })),
  });
};

export const listMultipartUploads: Handler = async (ctx) => {
  const enc = encoder(ctx);
  const view = ctx.bucket();
  await view.exists();
  const maxUploads = parseMaxKeys(ctx.query.get('max-uploads'), 'max-uploads');
  const prefix = ctx.query.get('prefix') ?? '';
  const delimiter = ctx.query.get('delimiter') || undefined;
  const keyMarker = ctx.query.get('key-marker') || undefined;
  const uploadIdMarker = ctx.query.get('upload-id-marker') || undefined;
  // With a key marker, the upload-id marker must be an upload of that key: S3 answers 400
  // InvalidArgument for another key's (or an unknown) upload id rather than guess a position.
  if (keyMarker !== undefined && uploadIdMarker !== undefined && maxUploads !== 0) {
    await view.listParts(keyMarker, uploadIdMarker, { maxParts: 1 }).catch((err: unknown) => {
      if (!isS3Error(err, 'NoSuchUpload')) throw err;
      throw new S3Error('InvalidArgument', 'Invalid uploadId marker', {
        ArgumentName: 'upload-id-marker',
        ArgumentValue: uploadIdMarker,
      });
    });
  }
  const page =
    maxUploads === 0
      ? { uploads: [], commonPrefixes: [], isTruncated: false }
      : await view.listUploads({ prefix, delimiter, keyMarker, uploadIdMarker, maxUploads });
  const described = await describeUploads(
    ctx,
    view,
    page.uploads.map((u) => u.uploadId),
  );
  // S3 names the last upload listed as the next markers, on the last page too (a page of
  // prefixes alone names none).
  const last = page.isTruncated ? undefined : page.uploads.at(-1);
  return xmlResponse('ListMultipartUploadsResult', {
    Bucket: ctx.bucketName,
    KeyMarker: enc(keyMarker ?? ''),
    // Without a key marker S3 ignores upload-id-marker, and echoes it empty.
    UploadIdMarker: keyMarker === undefined ? '' : (uploadIdMarker ?? ''),
    NextKeyMarker: enc(page.nextKeyMarker ?? last?.key ?? ''),
    NextUploadIdMarker: page.nextUploadIdMarker ?? last?.uploadId ?? '',
    // Only when the request names one, as S3 answers.
    Prefix: ctx.query.has('prefix') ? enc(prefix) : undefined,
    Delimiter: delimiter === undefined ? undefined : enc(delimiter),
    MaxUploads: maxUploads,
    IsTruncated: page.isTruncated,
    EncodingType: ctx.query.get('encoding-type') ?? undefined,
    Upload: page.uploads.map((u, i) => ({
      Key: enc(u.key),
      UploadId: u.uploadId,
      Initiator: described[i].initiator,
      Owner: described[i].initiator,
      StorageClass: u.attrs.storageClass ?? 'STANDARD',
      Initiated: u.initiated,
      ...checksumOfUpload(described[i].checksum),
    })),
    CommonPrefixes: page.commonPrefixes.map((p) => ({ Prefix: enc(p) })),
  });
};
