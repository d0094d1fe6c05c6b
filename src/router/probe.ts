/**
 * `s3mux check --probe FILE`: after the table validates, contact each backend with its
 * credentials and say, per backend and target, whether it authenticated and can list there.
 * Read-only calls only: HeadBucket and a listing of at most one key for each route's target
 * (ListBuckets for the default backend when no route targets it), each bounded in time.
 * Each line names the auth type the backend's settings select (the kit's `authType`).
 */
import { createBackend, kitFor } from '../backends/create';
import type { Backend } from '../backends/types';
import { describeError } from '../observability/describe-error';
import { backendSpecKey, loadRoutingTable, type BackendSpec, type LoadOptions, type RoutingTable } from './config';
import { checkConfigFile, type CheckResult } from './check';

/** A store that has not answered by then counts as failed. */
const PROBE_TIMEOUT_MS = 15_000;

export interface ProbeOptions extends LoadOptions {
  env?: NodeJS.ProcessEnv;
  timeoutMs?: number;
}

interface Target {
  backend: string;
  spec: BackendSpec;
  /** undefined: no route targets this backend; probe with ListBuckets. */
  route?: { name: string; bucket: string; prefix: string };
}

function withTimeout<T>(p: Promise<T>, ms: number): Promise<T> {
  let timer: NodeJS.Timeout | undefined;
  const timeout = new Promise<never>((_, reject) => {
    timer = setTimeout(() => reject(new Error(`no answer within ${ms / 1000} s`)), ms);
  });
  return Promise.race([p, timeout]).finally(() => clearTimeout(timer));
}

function targetsOf(table: RoutingTable): Target[] {
  const targets: Target[] = table.routes.map((r) => ({
    backend: r.backend,
    spec: r.spec,
    route: { name: r.name, bucket: r.bucket, prefix: r.prefix },
  }));
  const served = new Set(targets.map((t) => t.backend));
  for (const e of Object.values(table.backends)) if (!served.has(e.name)) targets.push({ backend: e.name, spec: e.spec });
  return targets;
}

async function probeOne(b: Backend, t: Target, ms: number): Promise<string> {
  if (!t.route) {
    const buckets = await withTimeout(b.listBuckets(), ms);
    return `authenticated, ListBuckets saw ${buckets.length} bucket${buckets.length === 1 ? '' : 's'}`;
  }
  await withTimeout(b.headBucket(t.route.bucket), ms);
  const page = await withTimeout(b.listObjects(t.route.bucket, { prefix: t.route.prefix, maxKeys: 1 }), ms);
  const seen = page.objects.length + page.commonPrefixes.length;
  return `authenticated, listed ${seen === 0 ? 'no keys (empty)' : 'a key'}`;
}

/** The check's summary followed by one line per probed target; ok only when every probe passed. */
export async function probeConfigFile(file: string, opts: ProbeOptions = {}): Promise<CheckResult> {
  const checked = checkConfigFile(file, opts);
  if (!checked.ok) return checked;
  const table = loadRoutingTable(file, opts);
  const env = opts.env ?? process.env;
  const ms = opts.timeoutMs ?? PROBE_TIMEOUT_MS;
  const made = new Map<string, Backend | Error>();
  const lines = [checked.text, 'probe:'];
  let ok = true;
  try {
    for (const t of targetsOf(table)) {
      const key = backendSpecKey(t.spec);
      if (!made.has(key)) {
        try {
          made.set(key, createBackend(t.spec, { name: t.backend, env }));
        } catch (err) {
          made.set(key, err as Error);
        }
      }
      const b = made.get(key) as Backend | Error;
      const where = t.route ? `route '${t.route.name}' -> ${t.route.bucket}/${t.route.prefix}` : 'no route (ListBuckets)';
      let verdict: string;
      if (b instanceof Error) {
        verdict = `FAILED: cannot be made: ${b.message}`;
        ok = false;
      } else {
        try {
          verdict = `OK: ${await probeOne(b, t, ms)}`;
        } catch (err) {
          verdict = `FAILED: ${describeError(err)}`;
          ok = false;
        }
      }
      const auth = kitFor(t.spec.kind)?.authType?.(t.spec);
      lines.push(`  ${t.backend} (${t.spec.kind}${auth ? `, auth: ${auth}` : ''}) ${where}: ${verdict}`);
    }
  } finally {
    await Promise.allSettled([...made.values()].map(async (b) => (b instanceof Error ? undefined : b.close?.())));
  }
  lines.push(ok ? 'probe: every backend answered' : 'probe: some backends failed');
  return { ok, text: lines.join('\n') };
}
