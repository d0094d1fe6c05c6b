/**
 * The router: virtual bucket → (backend instance, real bucket, key prefix, mode).
 *
 * Built from a validated RoutingTable. Backends are instantiated once per distinct settings
 * (backendSpecKey): two routes onto the same fs root, or a route onto the default backend's
 * root, share one instance. Only the backends the table uses (the default and the routes'
 * ones) are made, and every kind is checked before any is made, so a hand-built table naming
 * a kind no kit serves fails whole, before any backend exists.
 */
import type { Backend } from '../backends/types';
import type { BackendKit } from '../backends/kit';
import { BACKEND_KITS } from '../backends/registry';
import { createBackend, kitFor } from '../backends/create';
import type { FixedAccess } from '../access/fixed';
import { backendSpecKey, defaultRoutingTable, type BackendSpec, type RoutingTable } from './config';

export interface Route {
  /** The virtual bucket. */
  name: string;
  backend: Backend;
  backendName: string;
  /** The real bucket on the backend. */
  bucket: string;
  /** '' or ending in '/': prepended to every key on the way in, stripped on the way out. */
  prefix: string;
  readOnly: boolean;
  publicRead: boolean;
  /** What the table fixes of the bucket's access control. */
  fixed?: FixedAccess;
  /** True for a route in the table, false for a name that fell through to the default backend. */
  explicit: boolean;
}

export interface RouterOptions {
  /** Kits to use instead of this build's (tests, embedding). */
  kits?: readonly BackendKit[];
  /** Where SecretRef { env } values are read; default process.env. */
  env?: NodeJS.ProcessEnv;
  /**
   * An fs data dir to serve as the default backend (named 'local') when the table has none,
   * as a hand-built table may. Tables from loadRoutingTable always have a default: to let a
   * config file without backends fall back on a data dir, pass `{ defaultDataDir }` to it.
   */
  dataDir?: string;
}

export class Router {
  readonly defaultBackend: Backend;
  readonly defaultBackendName: string;
  /** The table the router was built from. */
  readonly table: RoutingTable;

  private readonly routes = new Map<string, Route>();
  private readonly instances: Backend[];
  private closing?: Promise<void>;

  private constructor(table: RoutingTable, defaultBackend: Backend, routes: Route[], instances: Backend[]) {
    this.table = table;
    this.defaultBackend = defaultBackend;
    this.defaultBackendName = table.default;
    for (const r of routes) this.routes.set(r.name, r);
    this.instances = instances;
  }

  static fromTable(table: RoutingTable, opts: RouterOptions = {}): Router {
    const kits = opts.kits ?? BACKEND_KITS;
    if (!table.backends[table.default] && opts.dataDir !== undefined) {
      const fallback = defaultRoutingTable(opts.dataDir);
      table = { ...table, backends: { ...table.backends, ...fallback.backends }, default: fallback.default };
    }
    const defaultEntry = table.backends[table.default];
    if (!defaultEntry) throw new Error(`routing table names default backend '${table.default}', which it does not declare`);

    // Every distinct settings the table uses, with the first name that used them.
    const wanted = new Map<string, { spec: BackendSpec; name: string; usedBy: string[] }>();
    const want = (spec: BackendSpec, name: string, usedBy: string) => {
      const key = backendSpecKey(spec);
      const w = wanted.get(key) ?? { spec, name, usedBy: [] };
      w.usedBy.push(usedBy);
      wanted.set(key, w);
      return key;
    };
    const defaultKey = want(defaultEntry.spec, table.default, 'the default');
    const routeKeys = table.routes.map((r) => want(r.spec, r.backend, `route '${r.name}'`));

    for (const w of wanted.values()) {
      if (!kitFor(w.spec.kind, kits)) {
        throw new Error(`backend kind '${w.spec.kind}' is not served by this build (backend '${w.name}', used by ${w.usedBy.join(', ')})`);
      }
    }

    const made = new Map<string, Backend>();
    try {
      for (const [key, w] of wanted) made.set(key, createBackend(w.spec, { name: w.name, env: opts.env ?? process.env }, kits));
    } catch (err) {
      void Promise.allSettled([...made.values()].map(async (b) => b.close?.()));
      throw err;
    }

    const routes = table.routes.map((r, i): Route =>
      Object.freeze({
        name: r.name,
        backend: made.get(routeKeys[i]) as Backend,
        backendName: r.backend,
        bucket: r.bucket,
        prefix: r.prefix,
        readOnly: r.readOnly,
        publicRead: r.publicRead,
        ...(r.fixed ? { fixed: r.fixed } : {}),
        explicit: true,
      }),
    );
    return new Router(table, made.get(defaultKey) as Backend, routes, [...made.values()]);
  }

  /** One fs backend at dataDir, the default; no routes. */
  static defaultFor(dataDir: string, opts: RouterOptions = {}): Router {
    return Router.fromTable(defaultRoutingTable(dataDir), opts);
  }

  /** The explicit route for the name, else the default backend with bucket = name, no prefix, writable. */
  resolve(virtualBucket: string): Route {
    const r = this.routes.get(virtualBucket);
    if (r) return r;
    return {
      name: virtualBucket,
      backend: this.defaultBackend,
      backendName: this.defaultBackendName,
      bucket: virtualBucket,
      prefix: '',
      readOnly: false,
      publicRead: false,
      explicit: false,
    };
  }

  isExplicit(virtualBucket: string): boolean {
    return this.routes.has(virtualBucket);
  }

  /** In table order. */
  explicitRoutes(): Route[] {
    return [...this.routes.values()];
  }

  /** Every distinct backend instance (each once). */
  backends(): Backend[] {
    return [...this.instances];
  }

  /** Closes every backend once; later calls return the same promise. Rejects with the first failure after all have been tried. */
  close(): Promise<void> {
    this.closing ??= (async () => {
      const results = await Promise.allSettled(this.instances.map(async (b) => b.close?.()));
      const failed = results.find((r): r is PromiseRejectedResult => r.status === 'rejected');
      if (failed) throw failed.reason;
    })();
    return this.closing;
  }
}
