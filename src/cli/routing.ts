/**
 * The routing state `serve` runs on, built from its options: the routing table (or the data
 * directory), the backends (instrumented for metrics), the root identity and the table's
 * users with their secrets. Called at start and on every reload.
 */
import path from 'node:path';
import { Router } from '../router/router';
import { defaultRoutingTable, loadRoutingTable, type RoutingTable } from '../router/config';
import { BACKEND_KITS } from '../backends/registry';
import { resolveSecret } from '../auth/secrets';
import { rootIdentity, type RootIdentity } from '../credentials';
import { instrumentKits } from '../observability/instrument-backend';
import { routingState, type RoutingState } from '../server/routing-slot';
import type { ServeOptions } from './serve-options';

export interface BuiltRouting {
  table: RoutingTable;
  root: RootIdentity;
  state: RoutingState;
}

const KITS = instrumentKits(BACKEND_KITS);

export function buildRouting(opts: Pick<ServeOptions, 'config' | 'dataDir'>, env: NodeJS.ProcessEnv = process.env): BuiltRouting {
  const dataDir = path.resolve(opts.dataDir);
  const table = opts.config ? loadRoutingTable(path.resolve(opts.config), { defaultDataDir: dataDir }) : defaultRoutingTable(dataDir);
  const root = rootIdentity(env);
  // Secrets first: a table whose secrets cannot be read never gets as far as making backends.
  const users = (table.identities ?? []).map((i) => ({
    identity: { accessKeyId: i.accessKeyId, secretAccessKey: resolveSecret(i.secret, `identity '${i.name}'`, env) },
    principal: { name: i.name, admin: i.admin, rules: i.rules, ...(i.email !== undefined ? { email: i.email } : {}) },
  }));
  const router = Router.fromTable(table, { kits: KITS, env });
  return { table, root, state: routingState(router, [root.identity], users) };
}
