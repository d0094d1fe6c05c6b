/**
 * Wraps the backend kits' factories so every failed call to a store is reported (by backend
 * name and S3 error code) without the adapters knowing: the router is given these kits.
 */
import type { Backend } from '../backends/types';
import type { BackendKit } from '../backends/kit';
import { reportBackendError } from './backend-events';

function codeOf(err: unknown): string {
  const code = (err as { code?: unknown })?.code;
  return typeof code === 'string' && code ? code : 'InternalError';
}

/** A view of `target` whose async methods report their rejections; nested objects (multipart, the reserved area) too. */
function instrument<T extends object>(target: T, backend: string): T {
  const wrapped = new Map<PropertyKey, unknown>();
  return new Proxy(target, {
    get(t, prop, receiver) {
      const value = Reflect.get(t, prop, receiver) as unknown;
      if (wrapped.has(prop)) return wrapped.get(prop);
      let out: unknown = value;
      if (typeof value === 'function') {
        out = function (this: unknown, ...args: unknown[]) {
          const result = (value as (...a: unknown[]) => unknown).apply(t, args);
          if (result instanceof Promise) {
            return result.catch((err: unknown) => {
              reportBackendError(backend, codeOf(err));
              throw err;
            });
          }
          return result;
        };
      } else if ((prop === 'multipart' || prop === 'reserved') && value && typeof value === 'object') {
        out = instrument(value, backend);
      } else {
        return value;
      }
      wrapped.set(prop, out);
      return out;
    },
  });
}

export function instrumentKits(kits: readonly BackendKit[]): BackendKit[] {
  return kits.map((kit) => ({ ...kit, create: (settings, context) => instrument<Backend>(kit.create(settings, context), context.name) }));
}
