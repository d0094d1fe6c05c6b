/**
 * `npm run schema`: writes routing-config/schema.json, the JSON Schema editors check routing
 * tables against, from the same zod schema the loader validates with.
 */
import * as fs from 'node:fs';
import * as path from 'node:path';
import { BACKEND_KITS } from '../../backends/registry';
import { tableJsonSchema } from './schema';

/** The text of routing-config/schema.json for this build's kits. */
export function schemaText(): string {
  return `${JSON.stringify(tableJsonSchema(BACKEND_KITS), null, 2)}\n`;
}

if (require.main === module) {
  // dist/src/router/config -> the repository root
  const file = path.resolve(__dirname, '..', '..', '..', '..', 'routing-config', 'schema.json');
  fs.writeFileSync(file, schemaText());
  process.stdout.write(`wrote ${path.relative(process.cwd(), file)}\n`);
}
