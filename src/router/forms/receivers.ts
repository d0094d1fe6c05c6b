/**
 * Which targets of a composite route a write may reach: every target of a mirror (all get each
 * write) or of a failover route (a write goes to whichever is up); a migration's `to` only
 * (targets are [to, from]; `from` is only read). A route holds the storage classes all of them
 * can (storage-classes.ts `heldByAll`); the routing table and the route's backend both ask here.
 */
import type { RouteComposite } from '../config/types';

export function receivingTargets<T>(form: RouteComposite['form'], targets: readonly T[]): T[] {
  return form === 'migrate' ? targets.slice(0, 1) : [...targets];
}
