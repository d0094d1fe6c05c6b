/**
 * Where `s3mux cp`/`sync` read and write: SRC and DST are backend URIs (s3://, gs://, az://,
 * oci://, file://, memory://) or `route:BUCKET[/prefix]`, a virtual bucket of the routing
 * table given with --config. URIs are resolved exactly as a route's `target:` would be in
 * that table (a declared backend of the URI's kind serves it, with its endpoint and
 * credentials), so the two sides share one backend instance whenever a table would, and a
 * copy within one store can be server-side.
 */
import { readFileSync } from 'node:fs';
import * as path from 'node:path';
import { parse as parseYaml } from 'yaml';
import { loadRoutingTable, validateRoutingTable } from '../router/config';
import { Router } from '../router/router';
import { parseBackendUri, UriError } from '../router/uri';
import type { Location } from '../transfer';
import { UsageError } from './usage-error';

export interface Endpoints {
  source: Location;
  destination: Location;
  router: Router;
}

const ROUTE_SCHEME = 'route:';
const SLOT = ['s3mux-cp-source', 's3mux-cp-destination'] as const;

/** `route:photos/2024/` → the virtual bucket and a key prefix ('' or ending in '/'). */
function parseRouteRef(ref: string, command: string): { bucket: string; prefix: string } {
  const rest = ref.slice(ROUTE_SCHEME.length).replace(/^\/+/, '');
  const slash = rest.indexOf('/');
  const bucket = slash < 0 ? rest : rest.slice(0, slash);
  const prefix = slash < 0 ? '' : rest.slice(slash + 1);
  if (!bucket) throw new UsageError(`'${ref}' names no bucket: expected route:BUCKET[/prefix]`, command);
  return { bucket, prefix: prefix === '' || prefix.endsWith('/') ? prefix : `${prefix}/` };
}

/** Builds the router for the table (or a scratch memory default without one) with the URI endpoints as routes. */
export function resolveEndpoints(src: string, dst: string, configFile: string | undefined, command: string): Endpoints {
  const refs = [src, dst];
  let raw: Record<string, unknown> = { backends: { scratch: { type: 'memory' } }, default: 'scratch' };
  let baseDir = process.cwd();
  if (configFile !== undefined) {
    const file = path.resolve(configFile);
    loadRoutingTable(file); // every problem of the table itself, with file positions
    const text = readFileSync(file, 'utf8');
    raw = (parseYaml(text) as Record<string, unknown> | null) ?? {};
    baseDir = path.dirname(file);
  } else if (refs.some((r) => r.startsWith(ROUTE_SCHEME))) {
    throw new UsageError(`route: endpoints need the routing table: give --config FILE`, command);
  }
  for (const ref of refs) {
    if (ref.startsWith(ROUTE_SCHEME)) continue;
    try {
      parseBackendUri(ref, { baseDir });
    } catch (err) {
      if (err instanceof UriError) throw new UsageError(err.message, command);
      throw err;
    }
  }
  const routes: Record<string, unknown> = { ...((raw.routes as Record<string, unknown> | undefined) ?? {}) };
  refs.forEach((ref, i) => {
    if (!ref.startsWith(ROUTE_SCHEME)) routes[SLOT[i]] = { target: ref };
  });
  const table = validateRoutingTable({ ...raw, routes }, { file: configFile ?? '<command line>', baseDir });
  const router = Router.fromTable(table);
  const locate = (ref: string, i: number): Location => {
    if (ref.startsWith(ROUTE_SCHEME)) {
      const { bucket, prefix } = parseRouteRef(ref, command);
      const r = router.resolve(bucket);
      return { backend: r.backend, bucket: r.bucket, prefix: r.prefix + prefix, label: ref };
    }
    const r = router.resolve(SLOT[i]);
    return { backend: r.backend, bucket: r.bucket, prefix: r.prefix, label: ref };
  };
  return { source: locate(src, 0), destination: locate(dst, 1), router };
}
