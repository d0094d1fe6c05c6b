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
import { buildRouteForm, type FormOptions } from './forms/build';
import type { CompositeBackend } from './forms/composite';
import type { CorsRule } from '../bucket-config/cors';

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
  /** CORS rules the routing table fixes for this bucket; S3 clients cannot change them. */
  cors?: readonly CorsRule[];
  /** True for a route in the table, false for a name that fell through to the default backend. */
  explicit: boolean;
  /** A migrate, mirror or failover route: `backend` is this, over the route's targets. */
  form?: CompositeBackend;
  /** The S3 storage class writes get when they name none (the route's or its backend's tier). */
  storageClass?: string;
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
  /** Breakers and catch-up queues of mirror and failover routes. */
  forms?: FormOptions;
}

export class Router {
  readonly defaultBackend: Backend;
  readonly defaultBackendName: string;
  /** The default backend's tier class, for unrouted buckets. */
  private readonly defaultStorageClass?: string;
  /** The table the router was built from. */
  readonly table: RoutingTable;

  private readonly routes = new Map<string, Route>();
  private readonly instances: Backend[];
  private closing?: Promise<void>;

  private constructor(table: RoutingTable, defaultBackend: Backend, routes: Route[], instances: Backend[]) {
    this.table = table;
    this.defaultBackend = defaultBackend;
    this.defaultBackendName = table.default;
    this.defaultStorageClass = table.backends[table.default]?.storageClass;
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
    for (const r of table.routes) for (const t of r.composite?.targets ?? []) want(t.spec, t.backend, `route '${r.name}'`);

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

    const forms = new Map<string, CompositeBackend>();
    for (const r of table.routes) {
      if (r.composite)
        forms.set(
          r.name,
          buildRouteForm(r.name, r.composite, (t) => made.get(backendSpecKey(t.spec)) as Backend, opts.forms),
        );
    }
    const routes = table.routes.map((r, i): Route =>
      Object.freeze({
        name: r.name,
        backend: forms.get(r.name) ?? (made.get(routeKeys[i]) as Backend),
        backendName: r.backend,
        bucket: r.bucket,
        prefix: r.prefix,
        readOnly: r.readOnly,
        publicRead: r.publicRead,
        ...(r.fixed ? { fixed: r.fixed } : {}),
        ...(r.cors ? { cors: r.cors } : {}),
        explicit: true,
        ...(forms.has(r.name) ? { form: forms.get(r.name) } : {}),
        // A composite route's tier was checked against every target its writes reach (cross-checks compositeClass).
        ...(r.storageClass ? { storageClass: r.storageClass } : {}),
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
      ...(this.defaultStorageClass ? { storageClass: this.defaultStorageClass } : {}),
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
      // Route forms first: their background work uses the backends below.
      await Promise.allSettled(this.explicitRoutes().map(async (r) => r.form?.close()));
      const results = await Promise.allSettled(this.instances.map(async (b) => b.close?.()));
      const failed = results.find((r): r is PromiseRejectedResult => r.status === 'rejected');
      if (failed) throw failed.reason;
    })();
    return this.closing;
  }
}
