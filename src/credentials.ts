/**
 * The root identity: from S3MUX_ROOT_*, else MINIO_ROOT_* (to stand in for MinIO), else a dev
 * default. Each variable may instead name a file (S3MUX_ROOT_USER_FILE ..., as MinIO's image
 * and Docker/Kubernetes secrets do), read once at start and again on reload.
 */
import { readFileSync } from 'node:fs';
import type { Identity } from './auth/sigv4';

export const DEV_ROOT_USER = 's3muxadmin';
export const DEV_ROOT_PASSWORD = 's3muxadmin';

export type RootSource = 'S3MUX_ROOT' | 'MINIO_ROOT' | 'dev-default';
export interface RootIdentity {
  identity: Identity;
  source: RootSource;
  /** How the source was given, for the start-up banner. */ from: string;
}

function read(env: NodeJS.ProcessEnv, name: string): { value?: string; from?: string } {
  if (env[name]) return { value: env[name], from: name };
  const file = env[`${name}_FILE`];
  if (!file) return {};
  try {
    return { value: readFileSync(file, 'utf8').replace(/\r?\n$/, ''), from: `${name}_FILE (${file})` };
  } catch (err) {
    throw new Error(`${name}_FILE: cannot read ${file}: ${(err as Error).message}`);
  }
}

export function rootIdentity(env: NodeJS.ProcessEnv = process.env): RootIdentity {
  for (const source of ['S3MUX_ROOT', 'MINIO_ROOT'] as const) {
    const user = read(env, `${source}_USER`);
    const password = read(env, `${source}_PASSWORD`);
    if (user.value && password.value) {
      return { identity: { accessKeyId: user.value, secretAccessKey: password.value }, source, from: `${user.from} / ${password.from}` };
    }
    if (user.value || password.value)
      throw new Error(`${source}_USER and ${source}_PASSWORD go together (only ${user.value ? 'the user' : 'the password'} is set)`);
  }
  return {
    identity: { accessKeyId: DEV_ROOT_USER, secretAccessKey: DEV_ROOT_PASSWORD },
    source: 'dev-default',
    from: 'the development default',
  };
}

/** 127.0.0.0/8, ::1, localhost: addresses only this machine can reach. */
export function isLoopback(host: string): boolean {
  return host === 'localhost' || host === '::1' || /^127\.\d+\.\d+\.\d+$/.test(host) || /^::ffff:127\./i.test(host);
}
