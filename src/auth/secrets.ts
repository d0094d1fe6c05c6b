/** Secrets named in a routing table by reference: an environment variable or a file. */
import { readFileSync } from 'node:fs';

export type SecretRef = { env: string } | { file: string };

export function resolveSecret(ref: SecretRef, what: string, env: NodeJS.ProcessEnv = process.env): string {
  if ('env' in ref) {
    const v = env[ref.env];
    if (v === undefined || v === '') throw new Error(`${what}: environment variable ${ref.env} is not set`);
    return v;
  }
  try {
    // A trailing newline is how editors and `echo` leave files; it is never part of a key.
    return readFileSync(ref.file, 'utf8').replace(/\r?\n$/, '');
  } catch (err) {
    throw new Error(`${what}: cannot read ${ref.file}: ${(err as Error).message}`);
  }
}
