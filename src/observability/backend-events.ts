/**
 * What happens in calls to stores, for metrics: failed calls (reported by the instrumented
 * backends, ./instrument-backend.ts) and retries (reported by an adapter's retry loop). It is
 * process-wide because adapters are made by the router, which knows nothing of metrics;
 * each metrics registry subscribes.
 */
export type BackendEvent = 'error' | 'retry';
export type BackendListener = (event: BackendEvent, backend: string, code: string) => void;

const listeners = new Set<BackendListener>();

export function reportBackendRetry(backend: string, code: string): void {
  for (const l of listeners) l('retry', backend, code);
}

export function reportBackendError(backend: string, code: string): void {
  for (const l of listeners) l('error', backend, code);
}

/** Returns the unsubscribe function. */
export function onBackendEvent(listener: BackendListener): () => void {
  listeners.add(listener);
  return () => {
    listeners.delete(listener);
  };
}
