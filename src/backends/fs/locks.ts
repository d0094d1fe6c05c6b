/*
 * One KeyedLock per root is shared by every FsBackend instance of the process that uses the
 * same root, so two instances on one root serialize their commits like one would. Other
 * processes are not covered: the layout tolerates them (atomic renames, identity-checked
 * sidecars); conditional writes are only exact within one process.
 */
import { KeyedLock } from '../keyed-lock';

/** Shared per-root state of the process. */
export interface RootState {
  locks: KeyedLock;
  /** Conversions file -> directory-form in progress, by data path. */
  converting: Map<string, Promise<void>>;
}

const roots = new Map<string, RootState>();

export function rootState(root: string): RootState {
  let s = roots.get(root);
  if (!s) {
    s = { locks: new KeyedLock(), converting: new Map() };
    roots.set(root, s);
  }
  return s;
}

export function lockKey(bucket: string, key: string): string {
  return `${bucket}\0${key}`;
}
