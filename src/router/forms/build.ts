/** Makes the Backend of a migrate, mirror or failover route from its table entry and the targets' backend instances. */
import type { Backend } from '../../backends/types';
import type { RouteComposite, TargetSpec } from '../config';
import type { CompositeBackend } from './composite';
import type { HealthOptions } from './health';
import { MigrationBackend } from './migrate';
import { ReplicatedBackend, type ReplicatedOptions } from './replicated';
import { Target } from './target';

export interface FormOptions extends ReplicatedOptions {
  health?: HealthOptions;
}

export function targetLabel(t: TargetSpec): string {
  return t.target ?? `${t.backend}:${t.bucket}/${t.prefix}`;
}

const BUILDERS: {
  [F in RouteComposite['form']]: (
    name: string,
    c: Extract<RouteComposite, { form: F }>,
    targets: Target[],
    opts: FormOptions,
  ) => CompositeBackend;
} = {
  migrate: (name, _c, [to, from]) => new MigrationBackend(name, to, from),
  mirror: (name, c, targets, opts) => new ReplicatedBackend(name, 'mirror', c.mode, targets, opts),
  failover: (name, _c, targets, opts) => new ReplicatedBackend(name, 'failover', 'failover', targets, opts),
};

export function buildRouteForm(
  name: string,
  composite: RouteComposite,
  backendOf: (t: TargetSpec) => Backend,
  opts: FormOptions = {},
): CompositeBackend {
  const targets = composite.targets.map((t) => new Target(targetLabel(t), backendOf(t), t.bucket, t.prefix, opts.health));
  const build = BUILDERS[composite.form] as (n: string, c: RouteComposite, t: Target[], o: FormOptions) => CompositeBackend;
  return build(name, composite, targets, opts);
}
