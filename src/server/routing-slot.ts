/**
 * The routing state requests use — router, credentials and policies — swappable at run time
 * (hot reload). A request takes a lease on the state current when it arrived and keeps it to
 * its end; a replaced state's backends are closed once its last lease is returned.
 */
import type { Router } from '../router/router';
import type { CredentialLookup, Identity } from '../auth/sigv4';
import type { Principal } from '../auth/policy';

export interface UserEntry {
  identity: Identity;
  principal: Principal;
}

export interface RoutingState {
  router: Router;
  credentials: CredentialLookup;
  principals: ReadonlyMap<string, Principal>;
}

export function routingState(router: Router, roots: Identity[], users: UserEntry[] = []): RoutingState {
  const byKey = new Map(roots.map((i) => [i.accessKeyId, i]));
  const principals = new Map<string, Principal>();
  for (const u of users) {
    byKey.set(u.identity.accessKeyId, u.identity);
    principals.set(u.identity.accessKeyId, u.principal);
  }
  return { router, credentials: (id) => byKey.get(id), principals };
}

interface Entry {
  state: RoutingState;
  leases: number;
  retired: boolean;
}

export class RoutingSlot {
  private entry: Entry;

  constructor(
    state: RoutingState,
    private readonly onRetired: (state: RoutingState) => void,
  ) {
    this.entry = { state, leases: 0, retired: false };
  }

  get current(): RoutingState {
    return this.entry.state;
  }

  /** The current state and the function that gives it back (call it exactly once). */
  lease(): { state: RoutingState; release: () => void } {
    const e = this.entry;
    e.leases++;
    let released = false;
    return {
      state: e.state,
      release: () => {
        if (released) return;
        released = true;
        e.leases--;
        if (e.retired && e.leases === 0) this.onRetired(e.state);
      },
    };
  }

  /** New requests get `next`; the old state is retired when its requests are done. */
  swap(next: RoutingState): void {
    const old = this.entry;
    this.entry = { state: next, leases: 0, retired: false };
    old.retired = true;
    if (old.leases === 0) this.onRetired(old.state);
  }
}
