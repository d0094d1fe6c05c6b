/**
 * The resolved routing table as people read it: each virtual bucket, the backend serving it,
 * the real place its objects live, its mode and who may do what there. Built from the table
 * alone (no store is contacted), for `s3mux routes` and the start-up banner.
 */
import type { BackendSpec, RoutingTable } from '../router/config';
import type { BackendKit } from '../backends/kit';
import { BACKEND_KITS } from '../backends/registry';
import { ACTIONS, isAllowed, ROOT, type Action, type Principal } from '../auth/policy';
import { describeComposite } from '../router/forms/describe';

const WRITE_ACTIONS: readonly Action[] = ['write', 'delete', 'createBucket', 'deleteBucket'];

/** The actions of the operations S3's public read grants anonymous callers (the operation table says which). */
function publicReadActions(): Action[] {
  const { OPERATIONS } = require('../s3/operations') as typeof import('../s3/operations');
  const actions = new Set(OPERATIONS.filter((o) => o.publicRead && o.action).map((o) => o.action as Action));
  return ACTIONS.filter((a) => actions.has(a));
}

/** Where a (bucket, prefix) of a backend is, as its kit describes it. */
export function location(spec: BackendSpec, bucket: string, prefix: string, kits: readonly BackendKit[] = BACKEND_KITS): string {
  const where = `${bucket}/${prefix}`;
  const kit = kits.find((k) => k.kind === spec.kind);
  if (!kit) return `${spec.kind}://${where}`;
  return kit.location ? kit.location(spec, where) : `${kit.uris[0]?.scheme ?? spec.kind}://${where}`;
}

export interface ResolvedRoute {
  bucket: string;
  backend: string;
  kind: string;
  location: string;
  mode: string;
  /** principal name -> actions it may take there. */
  access: Array<{ who: string; actions: Action[] }>;
}

function principals(table: RoutingTable): Principal[] {
  return [ROOT, ...(table.identities ?? []).map((i) => ({ name: i.name, admin: i.admin, rules: i.rules }))];
}

function accessOn(table: RoutingTable, bucket: string, readOnly: boolean, publicRead: boolean): ResolvedRoute['access'] {
  const effective = (actions: readonly Action[]) => actions.filter((a) => !(readOnly && WRITE_ACTIONS.includes(a)));
  const out = principals(table)
    .map((p) => ({ who: p.name, actions: effective(ACTIONS.filter((a) => isAllowed(p, a, bucket))) }))
    .filter((a) => a.actions.length > 0);
  if (publicRead) out.push({ who: 'anonymous', actions: effective(publicReadActions()) });
  return out;
}

export function resolveRoutes(table: RoutingTable): ResolvedRoute[] {
  const rows: ResolvedRoute[] = table.routes.map((r) => ({
    bucket: r.name,
    backend: r.backend,
    kind: r.spec.kind,
    location: location(r.spec, r.bucket, r.prefix),
    mode: [
      r.readOnly ? 'read-only' : 'read-write',
      r.publicRead ? 'public-read' : '',
      describeComposite(r, (t) => `${t.backend} (${t.spec.kind}) ${location(t.spec, t.bucket, t.prefix)}`),
    ]
      .filter(Boolean)
      .join(', '),
    access: accessOn(table, r.name, r.readOnly, r.publicRead),
  }));
  const d = table.backends[table.default];
  if (d) {
    rows.push({
      bucket: '*',
      backend: d.name,
      kind: d.spec.kind,
      location: location(d.spec, '<same name>', ''),
      mode: 'read-write',
      access: accessOn(table, '*', false, false),
    });
  }
  return rows;
}

/**
 * One line per route: `photos -> disk (fs) file:///srv/photos/2024/ [read-only]`; a migrate, mirror
 * or failover route shows its primary and, in the brackets, its form and other targets.
 */
export function routeLines(table: RoutingTable): string[] {
  const rows = resolveRoutes(table);
  const w = Math.max(...rows.map((r) => r.bucket.length));
  return rows.map((r) => `${(r.bucket === '*' ? '*' : r.bucket).padEnd(w)} -> ${r.backend} (${r.kind}) ${r.location} [${r.mode}]`);
}

/** `s3mux routes FILE`: the lines above, each followed by who may do what there. */
export function formatRoutes(table: RoutingTable): string {
  const rows = resolveRoutes(table);
  const lines: string[] = [`${table.file ?? '<config>'}: ${rows.length - 1} route(s); '*' is every other bucket, on the default backend`];
  const heads = routeLines(table);
  rows.forEach((r, i) => {
    lines.push(heads[i]);
    for (const a of r.access) lines.push(`    ${a.who}: ${a.actions.join(', ')}`);
  });
  return lines.join('\n');
}
