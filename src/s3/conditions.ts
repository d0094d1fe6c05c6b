/**
 * Conditional requests and byte ranges, evaluated on an object's metadata with the
 * precedence S3 follows (RFC 7232 section 6): If-Match before If-Unmodified-Since,
 * If-None-Match before If-Modified-Since.
 */
import { S3Error } from '../errors';
import type { ByteRange, DeleteConditions, ObjectMeta } from '../backends/types';

export interface ReadConditions {
  ifMatch?: string;
  ifNoneMatch?: string;
  ifModifiedSince?: string;
  ifUnmodifiedSince?: string;
}

export function unquote(etag: string): string {
  const t = etag.trim().replace(/^W\//, '');
  return t.length >= 2 && t.startsWith('"') && t.endsWith('"') ? t.slice(1, -1) : t;
}

function etagListMatches(header: string, etag: string): boolean {
  return header.split(',').some((t) => {
    const v = t.trim();
    return v === '*' || unquote(v) === etag;
  });
}

function parseDate(value: string | undefined): number | undefined {
  if (!value) return undefined;
  const t = Date.parse(value);
  return Number.isNaN(t) ? undefined : t;
}

/** Last-Modified travels with second precision, so comparisons happen in whole seconds. */
function seconds(ms: number): number {
  return Math.floor(ms / 1000);
}

/** The condition of a delete whose value is not of its type. */
export type DeleteConditionField = 'size' | 'lastModified';

/**
 * A delete's conditions from their texts (DeleteObject's headers, DeleteObjects' XML); each
 * caller names a bad value in its own error: InvalidArgument for a header, MalformedXML for XML.
 */
export function parseDeleteConditions(
  ifMatch: string | undefined,
  sizeText: string | undefined,
  timeText: string | undefined,
  invalid: (field: DeleteConditionField, value: string) => S3Error,
): DeleteConditions | undefined {
  if (ifMatch === undefined && sizeText === undefined && timeText === undefined) return undefined;
  const size = sizeText?.trim();
  if (size !== undefined && !/^\d{1,15}$/.test(size)) throw invalid('size', sizeText!);
  const lastModified = timeText === undefined ? undefined : new Date(timeText.trim());
  if (lastModified !== undefined && Number.isNaN(lastModified.getTime())) throw invalid('lastModified', timeText!);
  return { ifMatch, size: size === undefined ? undefined : Number(size), lastModified };
}

/** The read conditions, named as S3 names them in a PreconditionFailed's <Condition>. */
export type ConditionName = 'If-Match' | 'If-Unmodified-Since' | 'If-None-Match' | 'If-Modified-Since';

/**
 * The first condition that does not hold, in S3's order, or undefined when all hold. An
 * If-Modified-Since later than now is no valid date (RFC 7232 section 3.3) and is ignored,
 * as S3 ignores it.
 */
export function failedCondition(meta: ObjectMeta, c: ReadConditions, now = Date.now()): ConditionName | undefined {
  const modified = seconds(meta.lastModified.getTime());
  if (c.ifMatch !== undefined) {
    if (!etagListMatches(c.ifMatch, meta.etag)) return 'If-Match';
  } else {
    const since = parseDate(c.ifUnmodifiedSince);
    if (since !== undefined && modified > seconds(since)) return 'If-Unmodified-Since';
  }
  if (c.ifNoneMatch !== undefined) {
    if (etagListMatches(c.ifNoneMatch, meta.etag)) return 'If-None-Match';
  } else {
    const since = parseDate(c.ifModifiedSince);
    if (since !== undefined && since <= now && modified <= seconds(since)) return 'If-Modified-Since';
  }
  return undefined;
}

/** GET and HEAD answer a failed If-None-Match or If-Modified-Since with 304, the others with 412. */
export function notModified(failed: ConditionName): boolean {
  return failed === 'If-None-Match' || failed === 'If-Modified-Since';
}

/** x-amz-copy-source-if-*: every failure is a 412 naming the copy-source condition. */
export function checkCopySourceConditions(meta: ObjectMeta, c: ReadConditions): void {
  const failed = failedCondition(meta, c);
  if (failed) throw new S3Error('PreconditionFailed', undefined, { Condition: `x-amz-copy-source-${failed}` });
}

export interface RangeRequest {
  start?: number;
  end?: number;
  suffix?: number;
}

/**
 * `bytes=a-b`, `bytes=a-`, `bytes=-n`. Anything else (several ranges, other units, garbage)
 * is ignored and the whole object is served, as S3 does.
 */
export function parseRange(header: string | undefined): RangeRequest | undefined {
  if (!header) return undefined;
  // No space inside the range: S3 serves the whole object to 'bytes= -1' or 'bytes=0 -1', as to
  // any Range it cannot read (HTTP trims only the value's ends).
  const m = /^bytes=(\d*)-(\d*)$/i.exec(header.trim());
  if (!m || (m[1] === '' && m[2] === '')) return undefined;
  if (m[1] === '') return { suffix: Number(m[2]) };
  const start = Number(m[1]);
  const end = m[2] === '' ? undefined : Number(m[2]);
  if (end !== undefined && end < start) return undefined;
  return { start, end };
}

/**
 * Resolves a range against the size; an unsatisfiable one is InvalidRange (416). A suffix of
 * one byte or more asks for the end of any object, so on an empty one it is the whole (empty)
 * object, a 200 without Content-Range (undefined), as S3 answers and RFC 9110 §14.1.1 says:
 * readers that fetch a file's last bytes first (Parquet footers) get the empty file, not a 416.
 */
export function resolveRange(r: RangeRequest, size: number): ByteRange | undefined {
  const unsatisfiable = () => new S3Error('InvalidRange', undefined, { RangeRequested: describe(r), ActualObjectSize: String(size) });
  if (r.suffix !== undefined) {
    if (r.suffix === 0) throw unsatisfiable();
    if (size === 0) return undefined;
    return { start: Math.max(0, size - r.suffix), end: size - 1 };
  }
  const start = r.start ?? 0;
  if (start >= size) throw unsatisfiable();
  return { start, end: Math.min(r.end ?? size - 1, size - 1) };
}

function describe(r: RangeRequest): string {
  return r.suffix !== undefined ? `bytes=-${r.suffix}` : `bytes=${r.start ?? ''}-${r.end ?? ''}`;
}
