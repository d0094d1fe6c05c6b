/**
 * `s3mux migrate status|run|verify ROUTE --config FILE` and `s3mux repair ROUTE --config FILE`:
 * the migration copier and its progress, and the repair job of mirror routes, run from the
 * command line against the stores the routing table names (the checkpoint and queues live
 * there, so these see what every running s3mux replica does).
 */
import path from 'node:path';
import { parseArgs } from 'node:util';
import { loadRoutingTable } from '../router/config';
import { Router } from '../router/router';
import { BACKEND_KITS } from '../backends/registry';
import { MigrationBackend } from '../router/forms/migrate';
import { ReplicatedBackend } from '../router/forms/replicated';
import { MigrationCopier } from '../router/forms/migration-copier';
import { readCheckpoint, type MigrationCheckpoint } from '../router/forms/migration-state';
import { verifyMigration, type VerifyReport } from '../router/forms/migration-verify';
import { UsageError } from './usage-error';
import { parseBytes } from './values';

export const MIGRATE_HELP = `usage: s3mux migrate status|run|verify ROUTE --config FILE [options]

A migrate route (routes: NAME: { migrate: { from: URI, to: URI } }) reads from 'to' and falls
back to 'from' while a copier moves every key across; 's3mux serve' runs the copier (one
replica at a time), this command runs it or reports on it from anywhere.

  status   keys and bytes copied and remaining, rate, ETA, errors (from the checkpoint in 'to')
  run      copy now, in the foreground, until done (resumes from the checkpoint), then verify
  verify   compare both sides key by key: counts and checksums, every difference listed

options:
  --config FILE       the routing table (required)
  --rate RATE         bytes per second for run (50MiB, 10MB ...; default: the route's, else none)
  --concurrency N     keys copied at once for run (default: the route's, else 4)
  --quick             verify by size and ETag only (default: also a SHA-256 of both bodies)
  --json              print JSON`;

export const REPAIR_HELP = `usage: s3mux repair ROUTE --config FILE [--json]

Makes the copies of a mirror route equal again after an outage: replays the catch-up queues,
then compares every target with the first key by key and copies what one lacks or holds older.
For a failover route, replays the writes made on a later target back onto the earlier ones.`;

interface Parsed {
  route: string;
  config: string;
  rate?: number;
  concurrency?: number;
  quick: boolean;
  json: boolean;
}

function parse(command: string, args: string[]): Parsed {
  let values: Record<string, string | boolean | undefined>;
  let positionals: string[];
  try {
    ({ values, positionals } = parseArgs({
      args,
      strict: true,
      allowPositionals: true,
      options: {
        config: { type: 'string' },
        rate: { type: 'string' },
        concurrency: { type: 'string' },
        quick: { type: 'boolean' },
        json: { type: 'boolean' },
      },
    }));
  } catch (err) {
    throw new UsageError((err as Error).message.split('.')[0], command);
  }
  if (positionals.length !== 1) throw new UsageError(`${command} takes one ROUTE (a virtual bucket of the table)`, command);
  if (typeof values.config !== 'string') throw new UsageError('--config FILE is required', command);
  const concurrency = values.concurrency === undefined ? undefined : Number(values.concurrency);
  if (concurrency !== undefined && (!Number.isInteger(concurrency) || concurrency < 1 || concurrency > 64))
    throw new UsageError('--concurrency expects an integer from 1 to 64', command);
  let rate: number | undefined;
  try {
    rate = typeof values.rate === 'string' ? parseBytes(values.rate, '--rate') : undefined;
  } catch (err) {
    throw new UsageError((err as Error).message, command);
  }
  return { route: positionals[0], config: values.config, rate, concurrency, quick: values.quick === true, json: values.json === true };
}

function openRoute<T>(p: Parsed, want: new (...a: never[]) => T, what: string, command: string): { router: Router; form: T } {
  const table = loadRoutingTable(path.resolve(p.config));
  const router = Router.fromTable(table, { kits: BACKEND_KITS, forms: { drainIntervalMs: 0 } });
  const route = router.explicitRoutes().find((r) => r.name === p.route);
  if (!(route?.form instanceof want)) {
    void router.close();
    throw new UsageError(`'${p.route}' is not ${what} route of ${p.config}`, command);
  }
  return { router, form: route.form };
}

const MiB = 1024 * 1024;
const size = (n: number) => (n >= MiB ? `${(n / MiB).toFixed(1)} MiB` : `${n} B`);

function duration(seconds: number): string {
  if (!Number.isFinite(seconds)) return 'unknown';
  const s = Math.round(seconds);
  return s >= 3600 ? `${Math.floor(s / 3600)}h${Math.floor((s % 3600) / 60)}m` : s >= 60 ? `${Math.floor(s / 60)}m${s % 60}s` : `${s}s`;
}

/** The figures `status` prints and the metrics show. */
export function progressOf(cp: MigrationCheckpoint) {
  const keysRemaining = Math.max(0, cp.keysTotal - cp.keysDone);
  const bytesRemaining = Math.max(0, cp.bytesTotal - cp.bytesDone);
  const etaSeconds = cp.state === 'done' ? 0 : cp.rate > 0 ? bytesRemaining / cp.rate : Infinity;
  return { keysRemaining, bytesRemaining, etaSeconds };
}

export function formatStatus(route: string, cp: MigrationCheckpoint | undefined): string {
  if (!cp) return `${route}: not started (no checkpoint in the destination yet)`;
  const p = progressOf(cp);
  return [
    `${route}: ${cp.state}  ${cp.from} -> ${cp.to}`,
    `  keys:   ${cp.keysDone}/${cp.keysTotal} done (${cp.keysCopied} copied, ${cp.keysNewer} newer in destination, ${cp.keysDeleted} deleted), ${p.keysRemaining} remaining`,
    `  bytes:  ${size(cp.bytesCopied)} copied, ${size(p.bytesRemaining)} remaining`,
    `  rate:   ${size(cp.rate)}/s   ETA: ${duration(p.etaSeconds)}`,
    `  errors: ${cp.errors}${cp.lastErrors.length ? `\n    ${cp.lastErrors.join('\n    ')}` : ''}`,
    `  started ${cp.startedAt}, updated ${cp.updatedAt}${cp.finishedAt ? `, finished ${cp.finishedAt}` : ''}`,
  ].join('\n');
}

export function formatVerify(r: VerifyReport): string {
  const lines = [
    `${r.route}: verification ${r.ok ? 'passed' : 'FAILED'}`,
    `  from: ${r.keysFrom} keys, ${size(r.bytesFrom)}; to: ${r.keysTo} keys, ${size(r.bytesTo)}`,
    `  equal: ${r.matched}; deleted through s3mux: ${r.deleted}; newer in to: ${r.newer.length}; only in to: ${r.onlyInTo}`,
  ];
  for (const d of r.differences) lines.push(`  ${d.kind}: ${d.key} (${d.detail})`);
  return lines.join('\n');
}

export async function runMigrate(args: string[]): Promise<number> {
  const [action, ...rest] = args;
  if (!['status', 'run', 'verify'].includes(action ?? '')) throw new UsageError('expected status, run or verify', 'migrate');
  const p = parse(`migrate ${action}`, rest);
  const { router, form } = openRoute(p, MigrationBackend, 'a migrate', 'migrate');
  const out = (json: unknown, text: string) => console.log(p.json ? JSON.stringify(json) : text);
  try {
    if (action === 'status') {
      const area = form.stateArea;
      const cp = area && (await readCheckpoint(area))?.checkpoint;
      out(cp ? { ...cp, ...progressOf(cp) } : { route: p.route, state: 'not started' }, formatStatus(p.route, cp));
      return 0;
    }
    if (action === 'run') {
      const spec = router.table.routes.find((r) => r.name === p.route)?.composite;
      const migrate = spec?.form === 'migrate' ? spec : undefined;
      const copier = new MigrationCopier(form, { concurrency: p.concurrency ?? migrate?.concurrency, rate: p.rate ?? migrate?.rate });
      const stop = () => void copier.stop();
      process.once('SIGINT', stop);
      const cp = await copier.run();
      process.off('SIGINT', stop);
      if (!cp) return 1;
      if (!p.json) console.log(formatStatus(p.route, cp));
    }
    const report = await verifyMigration(form, { deep: !p.quick });
    out(report, formatVerify(report));
    return report.ok ? 0 : 1;
  } finally {
    await router.close();
  }
}

export async function runRepair(args: string[]): Promise<number> {
  const p = parse('repair', args);
  const { router, form } = openRoute(p, ReplicatedBackend, 'a mirror or failover', 'repair');
  try {
    const r = await form.repair();
    console.log(
      p.json
        ? JSON.stringify(r)
        : `${r.route}: ${r.replayed} queued change(s) replayed, ${r.compared} key(s) compared, ${r.copied} copied, ${r.deleted} deleted, ${r.errors.length} error(s)${r.errors.map((e) => `\n  ${e}`).join('')}`,
    );
    return r.errors.length ? 1 : 0;
  } finally {
    await router.close();
  }
}
