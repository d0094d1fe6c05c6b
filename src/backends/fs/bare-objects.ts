/**
 * Bare objects: small data files without a sidecar, whose metadata is all derived from the file
 * (ETag = MD5 of the bytes, size and Last-Modified from its stat, Content-Type from the key's
 * extension). A PUT whose attributes say nothing more writes no sidecar: one created, fsynced
 * and renamed file per PUT instead of two (bench/RESULTS.md, issue 15, ninth pass).
 *
 * Why it is as safe as the sidecar it replaces: a PUT goes bare only while no sidecar exists for
 * the key (checked under the key's lock), so no stale sidecar can lend its attributes to the new
 * bytes, and the one rename is the whole commit: a crash leaves the old file or the new one,
 * either read correctly. A file placed by hand reads the same way. An older s3mux reads a bare
 * object as such a file: the same ETag, size and date, and the type from the extension, but
 * application/octet-stream (its default for unknown extensions then) for one PUT without a type.
 */
import { lstatSync } from 'node:fs';
import type { ObjectAttributes } from '../types';
import { guessContentType } from './content-type';

/** The largest bare object: a reader derives the ETag by hashing it (once; then by identity). */
export const BARE_MAX = 64 * 1024;

/** What a data file without a sidecar reads as. */
export function derivedAttributes(key: string): ObjectAttributes {
  return { userMetadata: {}, contentType: guessContentType(key) };
}

/** True when stored attributes say nothing a reader would not derive for `key` (any other field, set or new, says something). */
export function isDerivable(key: string, stored: ObjectAttributes): boolean {
  for (const field of Object.keys(stored)) {
    if (field === 'userMetadata') {
      for (const _ in stored.userMetadata) return false;
    } else if (field !== 'contentType') {
      return false;
    }
  }
  return stored.contentType === guessContentType(key);
}

/** Whether anything is at a sidecar's path (an error other than "not there" counts as something: the caller writes a sidecar). */
export function sidecarPresent(file: string): boolean {
  try {
    return lstatSync(file, { throwIfNoEntry: false }) !== undefined;
  } catch {
    return true;
  }
}
