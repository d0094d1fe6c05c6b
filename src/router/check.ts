/**
 * `s3mux check FILE`: validate a routing table and say what it means, or list every problem
 * as `FILE:LINE:COL: path: message`, one per line (the form editors and CI annotate).
 */
import { kitFor } from '../backends/create';
import { ConfigError, formatProblem, loadRoutingTable, type BackendSpec, type LoadOptions, type RoutingTable } from './config';
import type { SecretRef } from '../auth/secrets';
import { describeComposite } from './forms/describe';

export interface CheckResult {
  ok: boolean;
  text: string;
}

export function checkConfigFile(file: string, opts: LoadOptions = {}): CheckResult {
  let table: RoutingTable;
  try {
    table = loadRoutingTable(file, opts);
  } catch (err) {
    if (err instanceof ConfigError) return { ok: false, text: err.problems.map(formatProblem).join('\n') };
    throw err;
  }
  return { ok: true, text: summarize(table, file) };
}

/** A short human summary of a valid table. */
export function summarize(table: RoutingTable, file = table.file ?? '<config>'): string {
  const lines: string[] = [];
  const entries = Object.values(table.backends);
  const routes = table.routes;
  lines.push(`${file}: OK — ${plural(entries.length, 'backend')}, ${plural(routes.length, 'route')}, default '${table.default}'`);

  lines.push('backends:');
  const nameWidth = Math.max(...entries.map((e) => e.name.length));
  for (const e of entries) {
    const flags = [e.name === table.default ? 'default' : '', e.implicit ? 'implicit' : ''].filter(Boolean);
    lines.push(
      `  ${e.name.padEnd(nameWidth)}  ${e.spec.kind.padEnd(6)}  ${describeSpec(e.spec)}${flags.length ? `  [${flags.join(', ')}]` : ''}`,
    );
  }

  if (routes.length > 0) {
    lines.push('routes:');
    const w = Math.max(...routes.map((r) => r.name.length));
    for (const r of routes) {
      const flags = [
        r.readOnly ? 'read-only' : 'read-write',
        r.publicRead ? 'public-read' : '',
        describeComposite(
          r,
          (t) =>
            `${t.backend}${describeSpecDelta(table, t.backend, t.spec)} bucket '${t.bucket}'${t.prefix ? ` prefix '${t.prefix}'` : ''}`,
        ),
      ].filter(Boolean);
      const extra = describeSpecDelta(table, r.backend, r.spec);
      lines.push(
        `  ${r.name.padEnd(w)} -> ${r.backend}${extra} bucket '${r.bucket}'${r.prefix ? ` prefix '${r.prefix}'` : ''}  [${flags.join(', ')}]`,
      );
    }
  } else {
    lines.push('routes: none (every bucket lives on the default backend)');
  }
  lines.push(`unrouted buckets -> ${table.default}, same name, read-write`);
  for (const i of table.identities ?? []) {
    const what = i.admin ? 'everything' : i.rules.map((r) => `${r.allow.join('+')} on ${r.buckets.join(', ')}`).join('; ') || 'nothing';
    lines.push(`identity ${i.name}: key ${i.accessKeyId}, secret ${secret(i.secret)}, may ${what}`);
  }

  return lines.join('\n');
}

function plural(n: number, word: string): string {
  return `${n} ${word}${n === 1 ? '' : 's'}`;
}

function secret(ref: SecretRef): string {
  return 'env' in ref ? `$${ref.env}` : `file ${ref.file}`;
}

function isSecretRef(v: unknown): v is SecretRef {
  const r = v as Record<string, unknown> | null;
  return typeof r === 'object' && r !== null && Object.keys(r).length === 1 && (typeof r.env === 'string' || typeof r.file === 'string');
}

/** Settings, credentials shown by reference only. */
function describeSpec(spec: BackendSpec): string {
  const parts: string[] = [];
  for (const [k, v] of Object.entries(spec)) {
    if (k === 'kind' || k === 'credentials' || v === undefined) continue;
    parts.push(`${k}=${typeof v === 'string' ? v : JSON.stringify(v)}`);
  }
  const creds = (spec as { credentials?: Record<string, unknown> }).credentials;
  if (creds) {
    // A secret shows where it comes from; a nested kind (servicePrincipal: {...}) its settings, secrets by reference too.
    const c = Object.entries(creds).map(([k, v]) =>
      isSecretRef(v) ? `${k} from ${secret(v)}` : typeof v === 'object' && v !== null ? `${k}=${JSON.stringify(v)}` : `${k}=${String(v)}`,
    );
    parts.push(`credentials: ${c.join(', ')}`);
  } else if (kitFor(spec.kind)?.credentialKinds.some((k) => /default/.test(k))) {
    parts.push('credentials: default chain');
  }
  return parts.join(' ');
}

/** What a route's effective settings add to its named backend's (an azure account ...). */
function describeSpecDelta(table: RoutingTable, name: string, spec: BackendSpec): string {
  const base = table.backends[name]?.spec as unknown as Record<string, unknown> | undefined;
  const added = Object.entries(spec).filter(([k, v]) => k !== 'credentials' && base?.[k] === undefined && v !== undefined);
  return added.length ? ` (${added.map(([k, v]) => `${k}=${String(v)}`).join(' ')})` : '';
}
