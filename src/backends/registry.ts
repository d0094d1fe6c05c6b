/**
 * Backend kind → factory. The routing table (src/router/config.ts) knows every kind in
 * BACKEND_KINDS; this table holds the ones this build can actually serve. Adding an adapter is
 * one import and one line here.
 */
import type { Backend } from './types';
import type { BackendKind, BackendSpec, BackendSpecOf } from '../router/config';
import { FsBackend } from './fs/index';
import { MemoryBackend } from './memory/index';
import { createS3Backend } from './s3/index';

export interface BackendContext {
  /** The backend's name in the routing table (declared or implicit), for messages and metrics. */
  name: string;
  /** Where SecretRef { env } values are looked up; default process.env. */
  env: NodeJS.ProcessEnv;
}

export type BackendFactory<K extends BackendKind = BackendKind> = (settings: BackendSpecOf<K>, context: BackendContext) => Backend;

export type BackendFactoryTable = { [K in BackendKind]?: BackendFactory<K> };

export const BACKEND_FACTORIES: BackendFactoryTable = {
  fs: (settings) => new FsBackend({ root: settings.root }),
  memory: (settings) => new MemoryBackend({ name: settings.store }),
  // Loaded on first use: the Azure and Google SDKs add ~0.5 s each to every start.
  azure: (settings, context) => (require('./azure/index') as typeof import('./azure/index')).azureBackendFromSpec(settings, context),
  s3: (settings, context) => createS3Backend(settings, context),
  gcs: (settings, context) => (require('./gcs/index') as typeof import('./gcs/index')).gcsBackendFromSpec(settings, context),
  github: (settings, context) => (require('./github/index') as typeof import('./github/index')).githubBackendFromSpec(settings, context),
};

export class BackendUnavailableError extends Error {
  readonly kind: string;
  constructor(kind: string, detail?: string) {
    super(`backend kind '${kind}' is not available in this build yet${detail ? ` (${detail})` : ''}`);
    this.name = 'BackendUnavailableError';
    this.kind = kind;
  }
}

export function isBackendAvailable(kind: string, table: BackendFactoryTable = BACKEND_FACTORIES): boolean {
  return Object.prototype.hasOwnProperty.call(table, kind) && table[kind as BackendKind] !== undefined;
}

/** Makes the backend for `settings`; throws BackendUnavailableError for a kind this build lacks. */
export function createBackend(
  settings: BackendSpec,
  context: Partial<BackendContext> & { name: string },
  table: BackendFactoryTable = BACKEND_FACTORIES,
): Backend {
  if (!isBackendAvailable(settings.kind, table)) throw new BackendUnavailableError(settings.kind, `backend '${context.name}'`);
  const factory = table[settings.kind] as BackendFactory;
  return factory(settings as never, { env: process.env, ...context });
}
