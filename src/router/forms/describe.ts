/**
 * What a migrate, mirror or failover route adds to its primary target, in words, for the
 * listings people read (`s3mux routes`, `s3mux check`, the start-up banner): they show a
 * route's primary as its place, and without this a migration's source, a mirror's other
 * copies and a failover's standby were nowhere to be seen.
 */
import type { RouteComposite, RouteSpec, TargetSpec } from '../config/types';

type Describe = (target: TargetSpec) => string;

const FORMS: { [F in RouteComposite['form']]: (c: Extract<RouteComposite, { form: F }>, describe: Describe) => string } = {
  migrate: (c, describe) => `migrating from ${describe(c.targets[1])}${c.copy ? '' : ', copier off'}`,
  mirror: (c, describe) => `mirror (${c.mode}), also on ${c.targets.slice(1).map(describe).join(', ')}`,
  failover: (c, describe) => `failover, then ${c.targets.slice(1).map(describe).join(', ')}`,
};

/** '' for a plain route; else its form and its targets besides the primary, each as `describe` words it. */
export function describeComposite(route: Pick<RouteSpec, 'composite'>, describe: Describe): string {
  const c = route.composite;
  if (!c) return '';
  return (FORMS[c.form] as (c: RouteComposite, d: Describe) => string)(c, describe);
}
