/**
 * The s3 adapter keeps client keys as they are (any key is a valid S3 key), so s3mux's own
 * documents (`.s3mux/r/`, reserved-objects.ts) take their names out of the client's key space:
 * a client key there is refused, and listings leave the area out.
 */
import { S3Error } from '../../errors';
import { RESERVED_DOCS_PREFIX } from '../reserved-objects';

/** Throws unless `key` lies outside s3mux's documents (BucketView has checked S3's key rules). */
export function checkClientKey(key: string): void {
  if (key.startsWith(RESERVED_DOCS_PREFIX)) {
    throw new S3Error('AccessDenied', `Keys under ${RESERVED_DOCS_PREFIX} hold s3mux's own state in this store.`, { Key: key });
  }
}

/** Whether a store key (or a common prefix) lies wholly in s3mux's documents. */
export function isDocumentKey(key: string): boolean {
  return key.startsWith(RESERVED_DOCS_PREFIX);
}

/** A common prefix that holds s3mux's documents besides (maybe) client keys: '.', '.s3mux/', ... */
export function coversDocuments(prefix: string): boolean {
  return RESERVED_DOCS_PREFIX.startsWith(prefix) && prefix !== RESERVED_DOCS_PREFIX;
}

/**
 * A start-after past every document name (they are ASCII), so a listing can jump over the
 * area instead of paging through it.
 */
export const PAST_DOCUMENTS = RESERVED_DOCS_PREFIX + '\u{10FFFF}'.repeat(4);
