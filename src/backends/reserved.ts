/**
 * s3mux's own state in a store (metadata, multipart uploads, escaped keys) lives under one
 * reserved name, written once here: a directory `.s3mux` in the fs backend, the key prefix
 * `.s3mux/` in object stores.
 */

/** The name every piece of s3mux's state starts with. */
export const RESERVED_NAME = '.s3mux';
/** The reserved area of a store with flat names: every key under it is s3mux's. */
export const RESERVED_PREFIX = `${RESERVED_NAME}/`;
