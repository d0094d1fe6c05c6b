/** The root identity: from S3MUX_ROOT_*, else MINIO_ROOT_* (to stand in for MinIO), else a dev default. */
import type { Identity } from './auth/sigv4';

export const DEV_ROOT_USER = 's3muxadmin';
export const DEV_ROOT_PASSWORD = 's3muxadmin';

export interface RootIdentity { identity: Identity; source: 'S3MUX_ROOT' | 'MINIO_ROOT' | 'dev-default' }

export function rootIdentity(env: NodeJS.ProcessEnv = process.env): RootIdentity {
  if (env.S3MUX_ROOT_USER && env.S3MUX_ROOT_PASSWORD) {
    return { identity: { accessKeyId: env.S3MUX_ROOT_USER, secretAccessKey: env.S3MUX_ROOT_PASSWORD }, source: 'S3MUX_ROOT' };
  }
  if (env.MINIO_ROOT_USER && env.MINIO_ROOT_PASSWORD) {
    return { identity: { accessKeyId: env.MINIO_ROOT_USER, secretAccessKey: env.MINIO_ROOT_PASSWORD }, source: 'MINIO_ROOT' };
  }
  return { identity: { accessKeyId: DEV_ROOT_USER, secretAccessKey: DEV_ROOT_PASSWORD }, source: 'dev-default' };
}
