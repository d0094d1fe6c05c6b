/** The ETag S3 gives an object assembled from parts, shared by the S3 layer and the copier. */
import { createHash } from 'node:crypto';

/** `"<md5 of the concatenated binary part MD5s>-<count>"`, as S3 computes it. */
export function multipartEtag(partEtags: string[]): string {
  const h = createHash('md5');
  for (const e of partEtags) h.update(Buffer.from(e, 'hex'));
  return `${h.digest('hex')}-${partEtags.length}`;
}

/** The part count a multipart ETag ends in ("-N"), or undefined for an ETag of one body. */
export function multipartEtagParts(etag: string): number | undefined {
  const m = /-(\d+)$/.exec(etag);
  return m ? Number(m[1]) : undefined;
}
