/** The version in package.json, read at run time (dist/ sits beside it in every layout). */
import { readFileSync } from 'node:fs';
import path from 'node:path';

let cached: string | undefined;

export function version(): string {
  cached ??= (JSON.parse(readFileSync(path.resolve(__dirname, '../../../package.json'), 'utf8')) as { version: string }).version;
  return cached;
}
