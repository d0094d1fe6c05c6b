/**
 * /readyz: every backend instance the table uses answered a cheap probe recently. The probe is
 * HeadBucket on a real bucket a route names (a permission every route needs anyway), or
 * ListBuckets for a backend only the default uses. A store that answers "no such bucket" is
 * up. Answers are cached for a few seconds and concurrent checks share one probe, so frequent
 * health checks from several load balancers do not become load on the stores.
 */
import type { Backend } from '../backends/types';
import type { Router } from '../router/router';
import { isS3Error } from '../errors';
import { describeError } from '../observability/describe-error';
import type { RouteFormStatus } from '../router/forms/composite';

export interface BackendReadiness {
  backend: string;
  kind: string;
  ok: boolean;
  error?: string;
  ms: number;
}

export interface ReadinessReport {
  ok: boolean;
  backends: BackendReadiness[];
  /** Migrate, mirror and failover routes: each target's breaker, and whether the route can serve. */
  routes: RouteFormStatus[];
  checkedAt: Date;
}

interface Probe {
  name: string;
  backend: Backend;
  run: () => Promise<unknown>;
}

function probesOf(router: Router): Probe[] {
  const probes = new Map<Backend, Probe>();
  for (const r of router.explicitRoutes()) {
    // A route form's targets are judged by their breakers (probed below), not as one backend.
    if (r.form) continue;
    if (!probes.has(r.backend))
      probes.set(r.backend, { name: r.backendName, backend: r.backend, run: () => r.backend.headBucket(r.bucket) });
  }
  const d = router.defaultBackend;
  if (!probes.has(d)) probes.set(d, { name: router.defaultBackendName, backend: d, run: () => d.listBuckets() });
  return [...probes.values()];
}

function withTimeout<T>(p: Promise<T>, ms: number): Promise<T> {
  let timer: NodeJS.Timeout | undefined;
  const timeout = new Promise<never>((_, reject) => {
    timer = setTimeout(() => reject(new Error(`no answer within ${ms} ms`)), ms);
  });
  return Promise.race([p, timeout]).finally(() => clearTimeout(timer));
}

export class Readiness {
  private last = new WeakMap<Router, { at: number; report: Promise<ReadinessReport> }>();

  constructor(private readonly opts: { timeoutMs?: number; maxAgeMs?: number } = {}) {}

  check(router: Router): Promise<ReadinessReport> {
    const maxAge = this.opts.maxAgeMs ?? 5000;
    const cached = this.last.get(router);
    if (cached && Date.now() - cached.at < maxAge) return cached.report;
    const report = this.probe(router);
    this.last.set(router, { at: Date.now(), report });
    return report;
  }

  private async probe(router: Router): Promise<ReadinessReport> {
    const timeoutMs = this.opts.timeoutMs ?? 3000;
    const backends = await Promise.all(
      probesOf(router).map(async (p): Promise<BackendReadiness> => {
        const start = Date.now();
        try {
          await withTimeout(p.run(), timeoutMs);
          return { backend: p.name, kind: p.backend.kind, ok: true, ms: Date.now() - start };
        } catch (err) {
          if (isS3Error(err, 'NoSuchBucket')) return { backend: p.name, kind: p.backend.kind, ok: true, ms: Date.now() - start };
          return { backend: p.name, kind: p.backend.kind, ok: false, error: describeError(err), ms: Date.now() - start };
        }
      }),
    );
    const forms = router.explicitRoutes().flatMap((r) => (r.form ? [r.form] : []));
    // A probe gives an out target its trial call, so the breaker closes once the store is back.
    await Promise.all(forms.flatMap((f) => f.targets.map((t) => withTimeout(t.probe(), timeoutMs).catch(() => undefined))));
    const routes = forms.map((f) => f.status());
    return { ok: backends.every((b) => b.ok) && routes.every((r) => r.ready), backends, routes, checkedAt: new Date() };
  }
}
