/** GetObjectAttributes: what S3 knows about an object, without its body. */
import { S3Error } from '../../errors';
import type { ObjectMeta } from '../../backends/types';
import type { Handler } from '../context';
import {
  CHECKSUM_ELEMENT,
  checksumElements,
  checksumTypeElement,
  compositeChecksum,
  parseChecksumAlgorithm,
  partChecksumsOf,
} from '../checksums';
import { httpDate } from '../headers';
import { xmlResponse } from '../respond';
import type { XmlObject } from '../xml';
import { parseMaxKeys } from './listing';
import { VersionedObjects } from '../../versioning/objects';
import { requestedVersion, versionHeader } from './objects';

const ATTRIBUTES = ['ETag', 'Checksum', 'ObjectParts', 'StorageClass', 'ObjectSize'] as const;
type Attribute = (typeof ATTRIBUTES)[number];

function requestedAttributes(value: string | undefined): Set<Attribute> {
  const names = (value ?? '')
    .split(',')
    .map((s) => s.trim())
    .filter(Boolean);
  // No name at all is S3's InvalidRequest; a name S3 does not know, its InvalidArgument below.
  if (names.length === 0)
    throw new S3Error(
      'InvalidRequest',
      'The x-amz-object-attributes header specifying the attributes to be retrieved is either missing or empty',
    );
  for (const n of names) {
    if (!(ATTRIBUTES as readonly string[]).includes(n))
      throw new S3Error('InvalidArgument', 'Invalid attribute name specified.', {
        ArgumentName: 'x-amz-object-attributes',
        ArgumentValue: n,
      });
  }
  return new Set(names as Attribute[]);
}

/**
 * A COMPOSITE checksum without its -N part count: S3 answers it so here (the count is
 * ObjectParts' PartsCount), while HEAD, GET and Complete give it with the suffix.
 */
function withoutPartCount(checksums: ObjectMeta['checksums']): ObjectMeta['checksums'] {
  if (!checksums) return checksums;
  return Object.fromEntries(Object.entries(checksums).map(([alg, v]) => [alg, v.replace(/-\d+$/, '')]));
}

function checksumOf(meta: ObjectMeta) {
  const elements = checksumElements(withoutPartCount(meta.checksums));
  return Object.keys(elements).length === 0 ? undefined : { ...elements, ...checksumTypeElement(meta.checksums) };
}

/**
 * The parts of a multipart object, paged as ListParts pages (x-amz-max-parts, x-amz-part-number-marker),
 * each with its checksum. S3 lists them only for an object whose checksum is COMPOSITE (made of
 * the parts'); of others (none, or a FULL_OBJECT CRC) it gives the count alone (LocalStack's
 * GetObjectAttributes, recorded against AWS).
 */
function partsOf(meta: ObjectMeta, maxParts: number, marker: number) {
  const sizes = meta.partSizes;
  if (!sizes) return undefined;
  const composite = compositeChecksum(meta.checksums);
  if (!composite) return { PartsCount: sizes.length };
  const [alg] = composite;
  // Kept for every part, or the parts are listed without them.
  const kept = partChecksumsOf(meta);
  const element = CHECKSUM_ELEMENT[parseChecksumAlgorithm(alg)];
  const page = sizes
    .map((size, i) => ({ PartNumber: i + 1, Size: size, ...(kept ? { [element]: kept[i] } : {}) }))
    .filter((p) => p.PartNumber > marker)
    .slice(0, maxParts);
  const truncated = marker + page.length < sizes.length && page.length > 0;
  return {
    PartsCount: sizes.length,
    PartNumberMarker: marker,
    NextPartNumberMarker: page.at(-1)?.PartNumber ?? marker,
    MaxParts: maxParts,
    IsTruncated: truncated,
    Part: page,
  };
}

export const getObjectAttributes: Handler = async (ctx) => {
  const wanted = requestedAttributes(ctx.header('x-amz-object-attributes'));
  const maxParts = parseMaxKeys(ctx.header('x-amz-max-parts') ?? null, 'x-amz-max-parts');
  const markerText = ctx.header('x-amz-part-number-marker');
  if (markerText !== undefined && !/^\d{1,5}$/.test(markerText)) {
    throw new S3Error('InvalidArgument', 'Invalid part-number-marker', {
      ArgumentName: 'x-amz-part-number-marker',
      ArgumentValue: markerText,
    });
  }
  const meta = await (await VersionedObjects.of(ctx.bucket())).head(ctx.key, requestedVersion(ctx));
  const body: XmlObject = {};
  // Elements in the order of S3's schema; each only when asked for (and known).
  if (wanted.has('ETag')) body.ETag = meta.etag;
  if (wanted.has('Checksum')) body.Checksum = checksumOf(meta);
  if (wanted.has('ObjectParts')) body.ObjectParts = partsOf(meta, maxParts, Number(markerText ?? 0));
  if (wanted.has('StorageClass')) body.StorageClass = meta.storageClass ?? 'STANDARD';
  if (wanted.has('ObjectSize')) body.ObjectSize = meta.size;
  return xmlResponse('GetObjectAttributesResponse', body, 200, { 'Last-Modified': httpDate(meta.lastModified), ...versionHeader(meta) });
};
