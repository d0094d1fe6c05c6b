/**
 * README.md says what the command line and the routing tables take: its options table, its
 * command list and its routing-table snippets are held here to what the code takes, so a flag,
 * a variable, a default, a command or a table key cannot change under the README unnoticed.
 */
import { execFileSync } from 'node:child_process';
import { expect } from 'chai';
import * as fs from 'node:fs';
import * as path from 'node:path';
import { envName, SERVE_OPTIONS } from '../../src/cli/serve-options';
import { ConfigError, formatProblem, parseRoutingTable } from '../../src/router/config';

const README = fs.readFileSync(path.resolve(__dirname, '..', '..', '..', 'README.md'), 'utf8');

/** The section under a `## heading`, up to the next one. */
function section(heading: string): string {
  const start = README.indexOf(`\n## ${heading}\n`);
  expect(start, `README has no section '${heading}'`).to.be.greaterThan(-1);
  const end = README.indexOf('\n## ', start + 1);
  return README.slice(start, end < 0 ? undefined : end);
}

/** Each fenced block of the given language ('' for none): its text (dedented) and the line it starts on. */
function fencedBlocks(lang: string): { text: string; line: number }[] {
  const out: { text: string; line: number }[] = [];
  const lines = README.split('\n');
  for (let i = 0; i < lines.length; i++) {
    const open = /^(\s*)```(\S*)\s*$/.exec(lines[i]);
    if (!open) continue;
    const body: string[] = [];
    let j = i + 1;
    for (; j < lines.length && !/^\s*```\s*$/.test(lines[j]); j++) body.push(lines[j].slice(open[1].length));
    if (open[2] === lang) out.push({ text: body.join('\n'), line: i + 1 });
    i = j;
  }
  return out;
}

describe('README.md', () => {
  describe('Options', () => {
    const rows = section('Options')
      .split('\n')
      .filter((l) => l.startsWith('| `--'))
      .map((l) => l.split(' | ').map((c) => c.replace(/^\|\s*/, '')));

    it('has a row for every serve option, naming its variable and its default', () => {
      for (const o of SERVE_OPTIONS) {
        const row = rows.find((r) => r[0].split(', ').some((f) => f.startsWith(`\`--${o.flag}\``) || f.startsWith(`\`--${o.flag} `)));
        expect(row, `README's options table has no row for --${o.flag}`).to.not.equal(undefined);
        expect(row?.[1], `--${o.flag}'s variable`).to.contain(`\`${envName(o.flag)}\``);
        if (o.default !== undefined) expect(row?.[2], `--${o.flag}'s default`).to.equal(`\`${o.default}\``);
        else expect(row?.[2], `--${o.flag}'s default`).to.match(/^(none|off|`[^`]+`)$/);
      }
    });

    it('names no option serve does not take', () => {
      const flags = new Set(SERVE_OPTIONS.map((o) => o.flag));
      for (const r of rows)
        for (const f of r[0].matchAll(/`--([a-z-]+)/g))
          expect(flags.has(f[1]), `README names --${f[1]}, which serve does not take`).to.equal(true);
    });

    it('lists every command of s3mux --help', () => {
      const usage = fencedBlocks('').find((b) => b.text.startsWith('s3mux [serve]'));
      expect(usage, "README's command list").to.not.equal(undefined);
      // The first word after 's3mux' on each line: 'serve' of '[serve]', both of 'cp|sync'.
      const named = new Set(
        (usage?.text ?? '')
          .split('\n')
          .map((l) => /^s3mux \[?([a-z|]+)/.exec(l)?.[1] ?? '')
          .flatMap((w) => w.split('|')),
      );
      const help = execFileSync(process.execPath, [path.resolve(__dirname, '../../src/cli.js'), '--help'], { encoding: 'utf8' });
      const commands = help
        .slice(help.indexOf('commands:'))
        .split('\n')
        .slice(1)
        .map((l) => /^ {2}([a-z]+) /.exec(l)?.[1])
        .filter((c): c is string => c !== undefined);
      expect(commands).to.include.members(['serve', 'check', 'migrate', 'version']);
      for (const c of commands) expect(named.has(c), `README's command list names ${c}`).to.equal(true);
    });
  });

  describe('routing-table snippets', () => {
    // A snippet declaring no backend is a fragment of a table: it is read with the default fs backend serve adds.
    const tables = fencedBlocks('yaml').filter((b) => /^(backends|routes|identities|tiers):/m.test(b.text));

    it('finds the snippets', () => {
      expect(tables.length).to.be.at.least(10);
    });

    for (const t of tables) {
      it(`the snippet at README.md:${t.line} (${t.text.split('\n')[0]} ...) is a valid table`, () => {
        try {
          parseRoutingTable(t.text, `/etc/s3mux/readme-${t.line}.yaml`, { defaultDataDir: '/var/lib/s3mux/data' });
        } catch (err) {
          if (err instanceof ConfigError) expect.fail(err.problems.map(formatProblem).join('\n'));
          throw err;
        }
      });
    }
  });
});
