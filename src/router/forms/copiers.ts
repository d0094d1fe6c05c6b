/**
 * The migration copiers `s3mux serve` runs: one per migrate route with `copy` on (the
 * default). Every replica starts them; the lease in the destination lets one copy at a time.
 * A reload stops the old table's copiers and starts the new table's, which resume from the
 * checkpoint.
 */
import { describeError } from '../../observability/describe-error';
import type { Router } from '../router';
import { MigrationBackend } from './migrate';
import { MigrationCopier } from './migration-copier';

export interface CopierLog {
  info(fields: Record<string, unknown>, msg: string): void;
  error(fields: Record<string, unknown>, msg: string): void;
}

export interface RunningCopiers {
  readonly copiers: MigrationCopier[];
  stop(): Promise<void>;
}

export function startCopiers(router: Router, log: CopierLog): RunningCopiers {
  const copiers: MigrationCopier[] = [];
  for (const spec of router.table.routes) {
    const c = spec.composite;
    const form = router.explicitRoutes().find((r) => r.name === spec.name)?.form;
    if (c?.form !== 'migrate' || !c.copy || !(form instanceof MigrationBackend) || !form.stateArea) continue;
    const copier = new MigrationCopier(form, {
      concurrency: c.concurrency,
      rate: c.rate,
      log: (msg, fields) => log.info({ ...fields }, msg),
    });
    copiers.push(copier);
    copier.run().then(
      (cp) =>
        cp &&
        log.info({ route: spec.name, keysCopied: cp.keysCopied, bytesCopied: cp.bytesCopied, errors: cp.errors }, 'migration copy done'),
      (err: unknown) => log.error({ route: spec.name, error: describeError(err) }, 'migration copier stopped on an error'),
    );
  }
  return { copiers, stop: async () => void (await Promise.all(copiers.map((c) => c.stop()))) };
}
