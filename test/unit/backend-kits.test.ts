/**
 * A backend kind is one kit: a toy kind defined here, added to this build's list the way a
 * new folder is added to src/backends/registry.ts, is loaded, checked, routed and served
 * with no other change.
 */
import { expect } from 'chai';
import { Readable } from 'node:stream';
import { z } from 'zod';
import { defineKit, UriError } from '../../src/backends/kit';
import { credentialGroup, nonEmptyString, settingsSchema } from '../../src/backends/kit-schema';
import { authorityAndPath, joinPrefix } from '../../src/backends/uri-parts';
import { BACKEND_KITS } from '../../src/backends/registry';
import { MemoryBackend } from '../../src/backends/memory/index';
import { ConfigError, parseRoutingTable, type ConfigProblem } from '../../src/router/config';
import { tableJsonSchema } from '../../src/router/config/schema';
import { parseBackendUri } from '../../src/router/uri';
import { Router } from '../../src/router/router';
import { BucketView } from '../../src/router/bucket-view';

const toySettings = settingsSchema('toy', {
  shelf: nonEmptyString.optional(),
  color: z.enum(['red', 'blue'], { error: "expected 'red' or 'blue'" }).optional(),
  credentials: credentialGroup('toy backends', {}, ['password']).optional(),
});

const made: z.output<typeof toySettings>[] = [];

/** `toy://shelf/bucket[/prefix]`: the shelf is a setting the URI names. */
const toyKit = defineKit({
  kind: 'toy',
  description: 'a toy store for this test',
  settings: toySettings,
  uris: [
    {
      scheme: 'toy',
      forms: 'toy://shelf/bucket[/prefix]',
      parse: (rest, uri) => {
        const { authority, segments } = authorityAndPath(rest, uri, 'toy://shelf/bucket[/prefix]');
        const [bucket, ...more] = segments;
        if (!bucket) throw new UriError(`'${uri}' names no bucket: expected toy://shelf/bucket[/prefix]`);
        return { bucket, prefix: joinPrefix(more), settings: { shelf: authority } };
      },
    },
  ],
  credentialKinds: ['password'],
  implicitName: (s) => `toy:${s.shelf}`,
  bucketNameProblem: (name) => (name.startsWith('toy-') ? undefined : "toy buckets begin with 'toy-'"),
  create: (settings) => {
    made.push(settings);
    return new MemoryBackend({ name: `toy-${settings.shelf ?? 'default'}` });
  },
});

/** This build's list with one more line. */
const KITS = [...BACKEND_KITS, toyKit];

function problems(text: string): ConfigProblem[] {
  try {
    parseRoutingTable(text, '/cfg/t.yaml', { kits: KITS });
  } catch (err) {
    expect(err).to.be.instanceOf(ConfigError);
    return (err as ConfigError).problems;
  }
  return expect.fail('the table validated');
}

describe('backend kits: a kind is one folder and one registry line', () => {
  const TABLE = [
    'backends:',
    '  play: { type: toy, shelf: top, color: red, credentials: { passwordEnv: TOY_PASSWORD } }',
    '  mem: { type: memory }',
    'default: mem',
    'routes:',
    '  games: toy://top/toy-box/games',
    '  chest: toy://top/toy-chest',
    '',
  ].join('\n');

  it('parses its URIs', () => {
    expect(parseBackendUri('toy://top/toy-box/a', { kits: KITS })).to.deep.include({
      kind: 'toy',
      bucket: 'toy-box',
      prefix: 'a/',
      settings: { shelf: 'top' },
    });
    expect(() => parseBackendUri('toy://top', { kits: KITS })).to.throw(UriError, 'names no bucket');
    expect(() => parseBackendUri('toy://top/b')).to.throw(UriError, "unknown URI scheme 'toy:'");
  });

  it('validates its settings, with positions, suggestions and secrets by reference', () => {
    const ps = problems('backends:\n  play: { type: toy, colour: red, password: hunter2 }\n');
    expect(ps.map((p) => `${p.line}:${p.path}: ${p.message}`)).to.deep.equal([
      "2:backends.play.colour: unknown key 'colour' (did you mean 'color'?)",
      "2:backends.play.password: a literal secret is not allowed in the config: use 'passwordEnv' (the name of an environment variable) or 'passwordFile' (the path of a file holding it) under 'credentials'",
    ]);
    expect(problems('backends:\n  play: { type: toy, color: green }\n')[0].message).to.equal("expected 'red' or 'blue', got 'green'");
    expect(problems('backends:\n  play: { type: tyo }\n')[0].message).to.equal(
      `expected a backend type, one of ${BACKEND_KITS.map((k) => k.kind).join(', ')}, toy (did you mean 'toy'?), got 'tyo'`,
    );
  });

  it('resolves routes onto declared and implicit backends, and the router serves them', async () => {
    const table = parseRoutingTable(TABLE, '/cfg/t.yaml', { kits: KITS });
    expect(table.backends.play.spec).to.deep.equal({
      kind: 'toy',
      shelf: 'top',
      color: 'red',
      credentials: { password: { env: 'TOY_PASSWORD' } },
    });
    expect(table.routes.map((r) => [r.name, r.backend, r.bucket, r.prefix])).to.deep.equal([
      ['games', 'play', 'toy-box', 'games/'],
      ['chest', 'play', 'toy-chest', ''],
    ]);
    // The one declared toy backend serves every toy target; a URI may not contradict it.
    expect(problems(TABLE.replace('toy://top/toy-chest', 'toy://bottom/toy-chest'))[0].message).to.equal(
      "'toy://bottom/toy-chest' names shelf 'bottom' but backend 'play' has shelf 'top'",
    );
    // Without one, a target gets an implicit backend named by the kit.
    const implicit = parseRoutingTable('backends:\n  mem: { type: memory }\nroutes:\n  chest: toy://bottom/toy-chest\n', '/cfg/t.yaml', {
      kits: KITS,
    });
    expect(implicit.backends['toy:bottom']).to.deep.equal({ name: 'toy:bottom', spec: { kind: 'toy', shelf: 'bottom' }, implicit: true });

    made.length = 0;
    const router = Router.fromTable(table, { kits: KITS });
    try {
      expect(made.map((s) => s.shelf)).to.deep.equal(['top']);
      const games = new BucketView(router.resolve('games'));
      await games.backend.createBucket(games.realBucket);
      await games.putObject('chess.txt', Readable.from([Buffer.from('e4')]), { userMetadata: {} });
      const page = await games.backend.listObjects('toy-box', { prefix: '', maxKeys: 10 });
      expect(page.objects.map((o) => o.key)).to.deep.equal(['games/chess.txt']);
    } finally {
      await router.close();
    }
  });

  it('is part of the published JSON Schema', () => {
    const schema = JSON.stringify(tableJsonSchema(KITS));
    expect(schema).to.contain('"const":"toy"').and.contain('"shelf"').and.contain('"passwordEnv"');
  });
});
