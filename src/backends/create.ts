/** Making a backend from its settings, through the kit of its kind. */
import type { BackendContext, BackendKit, BackendSpec } from './kit';
import { BACKEND_KITS } from './registry';
import type { Backend } from './types';

/** The kit for `kind`, or undefined when this build (or `kits`) has none. */
export function kitFor(kind: string, kits: readonly BackendKit[] = BACKEND_KITS): BackendKit | undefined {
  return kits.find((k) => k.kind === kind);
}

/** Makes the backend for `spec`; throws for a kind no kit serves. */
export function createBackend(
  spec: BackendSpec,
  context: Partial<BackendContext> & { name: string },
  kits: readonly BackendKit[] = BACKEND_KITS,
): Backend {
  const kit = kitFor(spec.kind, kits);
  if (!kit)
    throw new Error(
      `backend '${context.name}' has kind '${spec.kind}', which this build does not serve (known: ${kits.map((k) => k.kind).join(', ')})`,
    );
  return kit.create(spec, { env: process.env, ...context });
}
