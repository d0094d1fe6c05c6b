/**
 * The bulk-copy engine's contract: what `s3mux cp`/`sync` and a migration route's background
 * copier both drive. A transfer lists a source location, compares each key with the
 * destination, and copies what differs — through the Backend interface only, so any two kinds
 * of store can be paired.
 */
import type { Backend, ObjectSummary } from '../backends/types';

/** Where objects are: a backend, a real bucket on it, and a key prefix ('' or ending in '/'). */
export interface Location {
  backend: Backend;
  bucket: string;
  prefix: string;
  /** For messages and progress events (`s3://b/p/`, `route:photos/2024/`). */
  label?: string;
}

/** One object of the source, as listed; `key` is relative to the location's prefix. */
export type SourceEntry = ObjectSummary;

/** Why a key was or was not written. */
export type Action =
  /** Copied (streamed or server-side). */
  | 'copied'
  /** Equal on both sides (size and ETag or checksum). */
  | 'skipped'
  /** Refused by the `shouldCopy` hook or by a write condition: the destination holds a newer write. */
  | 'kept'
  /** Removed from the destination (sync with deleteExtraneous). */
  | 'deleted'
  /** Failed after every retry. */
  | 'failed';

/**
 * "Newer write wins": asked before a key is written, with what the destination holds then
 * (undefined: nothing). Answer false to leave the destination alone (a migration whose
 * clients wrote or deleted the key after the copy began). With `conditionalWrites`, the write
 * itself is also conditional on the destination still being what was seen here.
 */
export type ShouldCopy = (src: SourceEntry, dst: ObjectSummary | undefined) => boolean | Promise<boolean>;

export interface RetryPolicy {
  /** Attempts per object (or per part) in all, the first included. Default 5. */
  attempts: number;
  /** First backoff; doubles each retry, with full jitter. Default 200 ms. */
  baseDelayMs: number;
  /** Largest backoff. Default 10 s. */
  maxDelayMs: number;
}

/** What the engine keeps to resume a transfer after a crash or a failure. */
export interface Checkpoint {
  version: 1;
  /** The source and destination labels, so a checkpoint is not resumed against other locations. */
  source: string;
  destination: string;
  /** Every source key up to and including this one (relative, binary order) is settled. */
  settledThrough?: string;
  /** Keys at or before settledThrough that failed: retried on resume. */
  failed: string[];
  /** Totals so far (settled keys only). */
  objects: number;
  bytes: number;
  /** The source listing finished and every key settled: a resume has nothing to do but retry `failed`. */
  complete: boolean;
  updated: string;
}

/**
 * Where a checkpoint lives: a local file for the CLI (`--resume FILE`), the destination
 * store's reserved area for a migration route (so any replica can continue it).
 */
export interface CheckpointStore {
  load(): Promise<Checkpoint | undefined>;
  save(checkpoint: Checkpoint): Promise<void>;
}

export interface TransferCounts {
  /** Source objects seen (after filters). */
  objects: number;
  bytes: number;
  copied: number;
  copiedBytes: number;
  skipped: number;
  kept: number;
  deleted: number;
  failed: number;
}

/** A snapshot for a progress bar or a status endpoint. */
export interface ProgressSnapshot extends TransferCounts {
  /** Objects and bytes settled (copied, skipped, kept or failed). */
  doneObjects: number;
  doneBytes: number;
  /** Bytes per second over the last few seconds. */
  rate: number;
  /** Seconds left at that rate; undefined while the listing has not finished or nothing moved yet. */
  etaSeconds?: number;
  /** The source listing has finished (totals are final). */
  listed: boolean;
  elapsedMs: number;
}

export type TransferEvent =
  | {
      type: 'object';
      key: string;
      action: Action;
      size: number;
      how?: 'server-side' | 'stream' | 'multipart';
      error?: string;
      /** A copy's ETag on the destination, and the source's it was copied from (they differ where the copy could not keep it). */
      etag?: string;
      sourceEtag?: string;
      dryRun?: boolean;
    }
  | { type: 'retry'; key: string; attempt: number; delayMs: number; error: string }
  | { type: 'progress'; progress: ProgressSnapshot }
  | { type: 'done'; summary: TransferSummary };

export interface TransferSummary extends TransferCounts {
  elapsedMs: number;
  /** Average bytes per second of copied bytes. */
  rate: number;
  /** Every key that failed, with its last error. */
  errors: { key: string; error: string }[];
  dryRun: boolean;
  /** The transfer was stopped (signal) before it finished. */
  aborted: boolean;
}

export interface TransferOptions {
  source: Location;
  destination: Location;
  /** Decides which source keys (relative) take part; sync deletes only among keys it accepts. */
  filter?: (key: string) => boolean;
  /** Copy even when the destination already holds an equal object. Default false. */
  overwrite?: boolean;
  /** Delete destination keys the source lacks (sync --delete). Default false. */
  deleteExtraneous?: boolean;
  /** Decide and report, write nothing. */
  dryRun?: boolean;
  /** Objects in flight at once. Default 8. */
  concurrency?: number;
  /** Bytes per second across all objects (streamed copies only; server-side copies move no bytes here). */
  rateLimit?: number;
  retry?: Partial<RetryPolicy>;
  /** Objects at least this large go as multipart uploads. Default 64 MiB. */
  multipartThreshold?: number;
  /** Part size for multipart uploads. Default 16 MiB (at least 5 MiB; grows to keep under 10000 parts). */
  partSize?: number;
  /** Use the backend's copyObject when source and destination share a backend instance. Default true. */
  serverSide?: boolean;
  shouldCopy?: ShouldCopy;
  /**
   * Make each write conditional on the destination being what the comparison saw (If-None-Match
   * '*' when absent, If-Match its ETag): a client write in between wins and the key is `kept`.
   * Server-side copies carry no condition, so this turns them off. Default false.
   */
  conditionalWrites?: boolean;
  checkpoint?: CheckpointStore;
  /** Save the checkpoint at most this often. Default 2 s. */
  checkpointIntervalMs?: number;
  onEvent?: (event: TransferEvent) => void;
  /** How often a `progress` event is sent. Default 1 s. */
  progressIntervalMs?: number;
  signal?: AbortSignal;
}
