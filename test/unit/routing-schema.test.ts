/** routing-config/schema.json is generated from the loader's own schema (`npm run schema`) and kept current. */
import { expect } from 'chai';
import * as fs from 'node:fs';
import * as path from 'node:path';
import { schemaText } from '../../src/router/config/write-schema';

// dist/test/unit -> the repository root
const EXAMPLES = path.resolve(__dirname, '..', '..', '..', 'routing-config');

describe('routing-config/schema.json', () => {
  it('is what `npm run schema` writes now', () => {
    const committed = fs.readFileSync(path.join(EXAMPLES, 'schema.json'), 'utf8');
    expect(committed === schemaText(), 'routing-config/schema.json is stale: run `npm run schema` and commit it').to.equal(true);
  });

  it('describes every kind, secrets by reference only', () => {
    const schema = JSON.parse(schemaText()) as {
      properties: { backends: { additionalProperties: { oneOf: { properties: Record<string, { const?: string }> }[] } } };
    };
    const kinds = schema.properties.backends.additionalProperties.oneOf.map((o) => o.properties.type.const);
    expect(kinds).to.deep.equal(['fs', 'memory', 's3', 'gcs', 'azure', 'oci', 'github']);
    const text = schemaText();
    expect(text).to.contain('"secretAccessKeyEnv"').and.contain('"secretAccessKeyFile"');
  });

  it('is referenced by every example table', () => {
    for (const f of fs.readdirSync(EXAMPLES).filter((n) => /\.(ya?ml|json)$/.test(n) && n !== 'schema.json')) {
      const text = fs.readFileSync(path.join(EXAMPLES, f), 'utf8');
      const ref = f.endsWith('.json') ? /"\$schema":\s*"\.\/schema\.json"/ : /^# yaml-language-server: \$schema=\.\/schema\.json$/m;
      expect(text, f).to.match(ref);
    }
  });
});
