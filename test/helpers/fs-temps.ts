/** What an fs backend root holds in its temp space: every file under `.s3mux/tmp`, in any owner folder. */
import { readdirSync } from 'node:fs';
import path from 'node:path';

export function tempFiles(root: string): string[] {
  const tmp = path.join(root, '.s3mux', 'tmp');
  const out: string[] = [];
  const walk = (dir: string, rel: string) => {
    for (const e of readdirSync(dir, { withFileTypes: true })) {
      const r = rel ? path.join(rel, e.name) : e.name;
      if (e.isDirectory()) walk(path.join(dir, e.name), r);
      else out.push(r);
    }
  };
  walk(tmp, '');
  return out.sort();
}
