/** The bulk-copy engine: `s3mux cp`/`sync` and the migration copier both run it. */
export * from './types';
export { runTransfer, Transfer, locationLabel } from './engine';
export { FileCheckpointStore, ReservedCheckpointStore } from './checkpoint';
export { listLocation, pairListings, sameListing, type Pair } from './listing';
export { conditionsFor, copyOne, planParts, type CopyContext, type CopyResult } from './object-copy';
export { ChecksumMismatch, isRetryable } from './retry';
export { SourceVerifier, type Verification } from './verify';
