/**
 * Reading a routing table: a YAML or JSON file (by extension) or an object, checked against
 * the schema and the cross-checks; every problem is collected and thrown as one ConfigError.
 */
import * as fs from 'node:fs';
import * as path from 'node:path';
import { LineCounter, parseDocument } from 'yaml';
import type { Document } from 'yaml';
import { BACKEND_KITS } from '../../backends/registry';
import { COMMENT_KEY, resolvingPathsAgainst } from '../../backends/kit-schema';
import { ConfigError, describeValue, isPlainObject, Locator, Problems, type ConfigProblem } from './diagnostics';
import { CrossChecks } from './cross-checks';
import { tableSchema } from './schema';
import type { LoadOptions, RoutingTable } from './types';

const FORMATS: Record<string, 'yaml' | 'json'> = { '.yaml': 'yaml', '.yml': 'yaml', '.json': 'json' };

function formatOf(file: string): 'yaml' | 'json' {
  const format = FORMATS[path.extname(file).toLowerCase()];
  if (!format)
    throw new ConfigError([{ file, path: '', message: `unsupported file type '${path.extname(file)}': expected .yaml, .yml or .json` }]);
  return format;
}

/** Reads and validates a routing table file; throws ConfigError listing every problem. */
export function loadRoutingTable(file: string, opts: LoadOptions = {}): RoutingTable {
  formatOf(file);
  let text: string;
  try {
    text = fs.readFileSync(file, 'utf8');
  } catch (err) {
    throw new ConfigError([{ file, path: '', message: `cannot read the file: ${(err as Error).message}` }]);
  }
  return parseRoutingTable(text, file, opts);
}

/** Validates the text of a routing table; `file` names it in messages, picks the format and the base directory. */
export function parseRoutingTable(text: string, file: string, opts: LoadOptions = {}): RoutingTable {
  const format = formatOf(file);
  const lineCounter = new LineCounter();
  let raw: unknown;
  let doc: Document.Parsed | undefined;
  if (format === 'json') {
    try {
      raw = JSON.parse(text);
    } catch (err) {
      throw new ConfigError([jsonSyntaxProblem(file, text, err as Error)]);
    }
    // Parse again as YAML (a superset of JSON) only for node positions and duplicate keys.
    const d = parseDocument(text, { lineCounter, uniqueKeys: false });
    if (d.errors.length === 0) doc = d;
  } else {
    const d = parseDocument(text, { lineCounter, uniqueKeys: false, prettyErrors: false });
    if (d.errors.length > 0) {
      throw new ConfigError(
        d.errors.map((e) => {
          const pos = lineCounter.linePos(e.pos[0]);
          return { file, path: '', message: `YAML syntax: ${e.message.split('\n')[0]}`, line: pos.line, column: pos.col };
        }),
      );
    }
    doc = d;
    raw = d.toJS({ maxAliasCount: 1000 });
  }
  const locator = doc ? new Locator(doc, lineCounter) : undefined;
  const problems = new Problems(file, locator);
  locator?.duplicateKeys((segs, message, pos) => problems.report(segs, message, 'key', pos));
  return validate(raw, problems, { file, baseDir: path.dirname(path.resolve(file)), ...opts });
}

/** Validates an already-parsed table (an object as from JSON.parse). */
export function validateRoutingTable(raw: unknown, opts: LoadOptions & { file?: string; baseDir?: string } = {}): RoutingTable {
  return validate(raw, new Problems(opts.file ?? '<config>'), { ...opts, baseDir: path.resolve(opts.baseDir ?? process.cwd()) });
}

function validate(raw: unknown, problems: Problems, opts: LoadOptions & { file?: string; baseDir: string }): RoutingTable {
  const kits = opts.kits ?? BACKEND_KITS;
  const value = withoutComments(raw === null || raw === undefined ? {} : raw, [], problems);
  const table = resolvingPathsAgainst(opts.baseDir, () => {
    const schema = tableSchema(kits);
    const result = schema.safeParse(value);
    if (!result.success) problems.issues(result.error.issues, schema, value);
    return new CrossChecks(problems, { file: opts.file, baseDir: opts.baseDir, defaultDataDir: opts.defaultDataDir, kits }).table(value);
  });
  if (!table || problems.count > 0) throw new ConfigError(problems.sorted());
  return table;
}

/** A copy without the `$comment` keys any mapping may hold (JSON has no comments); one that is not a string is reported. */
function withoutComments(v: unknown, segs: string[], problems: Problems): unknown {
  if (Array.isArray(v)) return v.map((x, i) => withoutComments(x, [...segs, String(i)], problems));
  if (!isPlainObject(v)) return v;
  const out: Record<string, unknown> = {};
  for (const [k, x] of Object.entries(v)) {
    if (k !== COMMENT_KEY) out[k] = withoutComments(x, [...segs, k], problems);
    else if (typeof x !== 'string') problems.report([...segs, k], `expected a string, got ${describeValue(x)}`);
  }
  return out;
}

/** The table used when no config file is given: one fs backend `local` at dataDir, the default, no routes. */
export function defaultRoutingTable(dataDir: string): RoutingTable {
  const root = path.resolve(dataDir);
  return {
    baseDir: process.cwd(),
    backends: { local: { name: 'local', spec: { kind: 'fs', root }, implicit: true } },
    default: 'local',
    routes: [],
  };
}

function jsonSyntaxProblem(file: string, text: string, err: Error): ConfigProblem {
  const msg = err.message;
  let line: number | undefined;
  let column: number | undefined;
  const lc = /line (\d+) column (\d+)/.exec(msg);
  const at = /at position (\d+)/.exec(msg);
  if (lc) {
    line = Number(lc[1]);
    column = Number(lc[2]);
  } else if (at) {
    const before = text.slice(0, Number(at[1])).split('\n');
    line = before.length;
    column = before[before.length - 1].length + 1;
  } else if (/Unexpected end/.test(msg)) {
    const all = text.split('\n');
    line = all.length;
    column = all[all.length - 1].length + 1;
  }
  const clean = msg.replace(/\s*\(line \d+ column \d+\)/, '').replace(/\s*in JSON at position \d+/, '');
  return { file, path: '', message: `JSON syntax: ${clean}`, line, column };
}
