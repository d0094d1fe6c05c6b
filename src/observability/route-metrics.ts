/**
 * Metrics of migrate, mirror and failover routes, read when scraped from the live route forms
 * and copiers of this process: each target's breaker, catch-up queue lengths, and the
 * migration copiers' progress.
 */
import { Gauge, type Registry } from 'prom-client';
import { liveForms } from '../router/forms/composite';
import { liveCopiers } from '../router/forms/migration-copier';
import { ReplicatedBackend } from '../router/forms/replicated';

export function routeGauges(registers: Registry[]): void {
  new Gauge({
    name: 's3mux_route_target_up',
    help: 'Targets of migrate, mirror and failover routes: 1 while the circuit breaker is closed',
    labelNames: ['route', 'target', 'state'],
    registers,
    collect() {
      this.reset();
      for (const f of liveForms)
        for (const t of f.status().targets) this.set({ route: f.route, target: t.target, state: t.state }, t.up ? 1 : 0);
    },
  });
  new Gauge({
    name: 's3mux_route_target_breaker_opens',
    help: 'Times the circuit breaker of a route target opened since the route was loaded',
    labelNames: ['route', 'target'],
    registers,
    collect() {
      this.reset();
      for (const f of liveForms) for (const t of f.status().targets) this.set({ route: f.route, target: t.target }, t.opens);
    },
  });
  new Gauge({
    name: 's3mux_mirror_queue_entries',
    help: 'Changes waiting in the catch-up queues of a mirror or failover route',
    labelNames: ['route'],
    registers,
    async collect() {
      this.reset();
      for (const f of liveForms) if (f instanceof ReplicatedBackend) this.set({ route: f.route }, await f.queued());
    },
  });
  const progress = (
    name: string,
    help: string,
    pick: (cp: NonNullable<(typeof liveCopiers extends Set<infer C> ? C : never)['current']>) => number,
  ) =>
    new Gauge({
      name,
      help,
      labelNames: ['route'],
      registers,
      collect() {
        this.reset();
        for (const c of liveCopiers) if (c.current) this.set({ route: c.route.route }, pick(c.current));
      },
    });
  progress('s3mux_migration_keys_copied', 'Keys the migration copier copied', (cp) => cp.keysCopied);
  progress('s3mux_migration_bytes_copied', 'Bytes the migration copier copied', (cp) => cp.bytesCopied);
  progress('s3mux_migration_keys_remaining', 'Keys of the source the migration copier has not handled yet', (cp) =>
    Math.max(0, cp.keysTotal - cp.keysDone),
  );
  progress('s3mux_migration_bytes_remaining', 'Bytes of the source the migration copier has not handled yet', (cp) =>
    Math.max(0, cp.bytesTotal - cp.bytesDone),
  );
  progress('s3mux_migration_errors', 'Keys the migration copier failed to copy', (cp) => cp.errors);
  progress('s3mux_migration_rate_bytes_per_second', 'Bytes per second the migration copier moves', (cp) => cp.rate);
}
