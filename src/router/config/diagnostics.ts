/**
 * Problems in a routing table, as `file:line:col: path: message`: positions from the YAML/JSON
 * text, zod issues turned into messages that say what was expected and what was found, and
 * "did you mean" for misspelt keys and names.
 */
import { isMap, isPair, isScalar, isSeq } from 'yaml';
import type { Document, LineCounter, Node as YamlNode, Pair } from 'yaml';
import { z } from 'zod';
import { innerObject, unknownKeyHints } from '../../backends/kit-schema';

export interface ConfigProblem {
  file: string;
  /** Dotted path inside the file ('' for the whole file), e.g. `routes.photos.prefix`. */
  path: string;
  message: string;
  line?: number;
  column?: number;
}

export function formatProblem(p: ConfigProblem): string {
  const where = p.line !== undefined ? `${p.file}:${p.line}:${p.column ?? 1}` : p.file;
  return p.path ? `${where}: ${p.path}: ${p.message}` : `${where}: ${p.message}`;
}

export class ConfigError extends Error {
  readonly problems: ConfigProblem[];
  constructor(problems: ConfigProblem[]) {
    super(problems.map(formatProblem).join('\n'));
    this.name = 'ConfigError';
    this.problems = problems;
  }
}

export type Seg = string;
/** Whether a problem points at a mapping's key (a missing or unknown key) or at its value. */
export type Anchor = 'key' | 'value';

export function isPlainObject(v: unknown): v is Record<string, unknown> {
  return typeof v === 'object' && v !== null && !Array.isArray(v) && !(v instanceof Uint8Array) && !(v instanceof Date);
}

function keyText(key: unknown): string | undefined {
  if (isScalar(key)) return String(key.value);
  return typeof key === 'string' ? key : undefined;
}

/** Positions of keys and values in the parsed text. */
export class Locator {
  constructor(
    private readonly doc: Document.Parsed,
    private readonly lines: LineCounter,
  ) {}

  /** Position of the key or value at `segs`, else of the nearest ancestor found. */
  find(segs: Seg[], anchor: Anchor): { line: number; column: number } | undefined {
    let node: unknown = this.doc.contents;
    let keyNode: unknown;
    for (const seg of segs) {
      if (isSeq(node)) {
        const item = node.items[Number(seg)];
        if (item === undefined) break;
        keyNode = undefined;
        node = item;
        continue;
      }
      if (!isMap(node)) break;
      // The last of equal keys: it is the one whose value toJS kept.
      const pair: Pair | undefined = [...node.items].reverse().find((p) => keyText(p.key) === seg);
      if (!pair) break;
      keyNode = pair.key;
      node = pair.value ?? pair.key;
    }
    const target = (anchor === 'key' && keyNode ? keyNode : node) as YamlNode | null | undefined;
    return this.pos(target);
  }

  pos(node: YamlNode | null | undefined): { line: number; column: number } | undefined {
    const start = node?.range?.[0];
    if (start === undefined) return undefined;
    const p = this.lines.linePos(start);
    return { line: p.line, column: p.col };
  }

  /** Duplicate keys in any mapping (YAML forbids them, JSON.parse would silently keep the last). */
  duplicateKeys(report: (segs: Seg[], message: string, pos?: { line: number; column: number }) => void): void {
    const walk = (node: unknown, segs: Seg[]): void => {
      if (isMap(node)) {
        const seen = new Map<string, unknown>();
        for (const pair of node.items) {
          const k = keyText(pair.key);
          if (k === undefined) continue;
          const first = seen.get(k);
          if (first !== undefined) {
            const firstPos = this.pos(first as YamlNode);
            const what =
              segs.length === 1 && segs[0] === 'routes' ? 'route' : segs.length === 1 && segs[0] === 'backends' ? 'backend' : 'key';
            report(
              [...segs, k],
              `duplicate ${what} '${k}'${firstPos ? ` (first defined at line ${firstPos.line})` : ''}`,
              this.pos(pair.key as YamlNode),
            );
          } else seen.set(k, pair.key);
          walk(pair.value, [...segs, k]);
        }
      } else if (isSeq(node)) {
        node.items.forEach((item, i) => walk(isPair(item) ? item.value : item, [...segs, String(i)]));
      }
    };
    walk(this.doc.contents, []);
  }
}

/** Collects problems for one file, each with its position when the text is at hand. */
export class Problems {
  readonly list: ConfigProblem[] = [];

  constructor(
    readonly file: string,
    private readonly locator?: Locator,
  ) {}

  report(segs: Seg[], message: string, anchor: Anchor = 'value', pos?: { line: number; column: number }): void {
    const at = pos ?? this.locator?.find(segs, anchor);
    this.list.push({ file: this.file, path: formatPath(segs), message, line: at?.line, column: at?.column });
  }

  get count(): number {
    return this.list.length;
  }

  /** In file order; problems without a position keep their place after those before them. */
  sorted(): ConfigProblem[] {
    return this.list
      .map((p, i) => ({ p, i }))
      .sort((a, b) => (a.p.line ?? 0) - (b.p.line ?? 0) || (a.p.column ?? 0) - (b.p.column ?? 0) || a.i - b.i)
      .map(({ p }) => p);
  }

  /**
   * Reports zod's issues for `value` (found at `base` in the table) checked against `schema`:
   * what was expected and what was found (never echoing a value under a `…Env` key), unknown
   * keys with a suggestion, missing keys at their mapping, the branch of a union the value
   * took.
   */
  issues(issues: readonly z.core.$ZodIssue[], schema: z.ZodType, value: unknown, base: Seg[] = []): void {
    for (const issue of issues) {
      const rel = issue.path.map(String);
      const segs = [...base, ...rel];
      const here = valueAt(value, rel);
      if (issue.code === 'unrecognized_keys') {
        const object = innerObject(schemaAt(schema, rel, value));
        const known = object instanceof z.ZodObject ? Object.keys(object.shape) : [];
        const hint = unknownKeyHints.get(object)?.hint;
        for (const key of issue.keys) {
          const custom = hint?.(key);
          const guess = suggest(key, known);
          const message =
            custom ?? `unknown key '${key}' ${guess ? `(did you mean '${guess}'?)` : `(expected one of ${known.join(', ')})`}`;
          this.report([...segs, key], message, 'key');
        }
      } else if (issue.code === 'invalid_union' && issue.errors.length > 0 && isPlainObject(here)) {
        // The value is a mapping: report the problems of the branch that takes mappings.
        const rejectsShape = (errs: z.core.$ZodIssue[]) =>
          errs.some((e) => e.path.length === 0 && (e.code === 'invalid_type' || e.code === 'invalid_value'));
        const branch = issue.errors.find((errs) => !rejectsShape(errs)) ?? issue.errors[issue.errors.length - 1];
        const inner = schemaAt(schema, rel, value);
        this.issues(branch, inner, here, segs);
      } else if (issue.code === 'custom' && (issue.params as { anchor?: Anchor } | undefined)?.anchor) {
        // A rule about the mapping as a whole: the message says it all.
        this.report(segs, issue.message, (issue.params as { anchor: Anchor }).anchor);
      } else if (issue.code === 'invalid_type' && issue.expected === 'never') {
        // A key that must not be there (a literal secret): never echo its value.
        this.report(segs, issue.message, 'key');
      } else if (here === undefined && rel.length > 0) {
        this.report(segs.slice(0, -1), `missing required key '${rel[rel.length - 1]}'`, 'key');
      } else {
        const noEcho = segs.length > 0 && segs[segs.length - 1].endsWith('Env');
        this.report(segs, noEcho ? issue.message : `${issue.message}, got ${describeValue(here)}`);
      }
    }
  }
}

/** The value at a path inside a plain value. */
function valueAt(value: unknown, segs: readonly string[]): unknown {
  let v = value;
  for (const s of segs) {
    if (Array.isArray(v)) v = v[Number(s)];
    else if (isPlainObject(v)) v = v[s];
    else return undefined;
  }
  return v;
}

interface Def {
  type: string;
  innerType?: z.ZodType;
  in?: z.ZodType;
  options?: z.ZodType[];
  discriminator?: string;
  shape?: Record<string, z.ZodType>;
  catchall?: z.ZodType;
  valueType?: z.ZodType;
  element?: z.ZodType;
  values?: unknown[];
}

const defOf = (s: z.ZodType): Def => (s as unknown as { def: Def }).def;

/** The schema that checks the value at `segs`: through wrappers, the union branch the value takes, mappings and lists. */
function schemaAt(schema: z.ZodType, segs: readonly string[], value: unknown): z.ZodType {
  let s = schema;
  let v = value;
  let i = 0;
  for (let guard = 0; guard < 100; guard++) {
    const def = defOf(s);
    if (def.type === 'optional' || def.type === 'default' || def.type === 'nullable') s = def.innerType as z.ZodType;
    else if (def.type === 'pipe') s = def.in as z.ZodType;
    else if (def.type === 'union') {
      const options = def.options ?? [];
      const disc = def.discriminator;
      const pick =
        disc && isPlainObject(v)
          ? options.find((o) => {
              const tag = defOf(innerObject(o)).shape?.[disc];
              return tag !== undefined && defOf(tag).values?.includes((v as Record<string, unknown>)[disc]);
            })
          : options.find((o) => (isPlainObject(v) ? innerObject(o) instanceof z.ZodObject : !(innerObject(o) instanceof z.ZodObject)));
      if (!pick) return s;
      s = pick;
    } else if (i < segs.length && def.type === 'object') {
      const next: z.ZodType | undefined = def.shape?.[segs[i]] ?? def.catchall;
      if (!next) return s;
      s = next;
      v = valueAt(v, [segs[i++]]);
    } else if (i < segs.length && def.type === 'record') {
      s = def.valueType as z.ZodType;
      v = valueAt(v, [segs[i++]]);
    } else if (i < segs.length && def.type === 'array') {
      s = def.element as z.ZodType;
      v = valueAt(v, [segs[i++]]);
    } else return s;
  }
  return s;
}

function formatPath(segs: Seg[]): string {
  let out = '';
  for (const s of segs) out += /^[A-Za-z_][A-Za-z0-9_-]*$/.test(s) ? (out ? `.${s}` : s) : `[${JSON.stringify(s)}]`;
  return out;
}

export function describeValue(v: unknown): string {
  if (v === null || v === undefined) return 'nothing';
  if (typeof v === 'string') return JSON.stringify(v).length > 60 ? `a string of ${v.length} characters` : `'${v}'`;
  if (typeof v === 'number') return `${v} (a number)`;
  if (typeof v === 'boolean') return `${v} (a boolean)`;
  if (Array.isArray(v)) return 'a list';
  if (isPlainObject(v)) return 'a mapping';
  return typeof v;
}

function editDistance(a: string, b: string): number {
  const d: number[][] = Array.from({ length: a.length + 1 }, (_, i) => [i, ...Array<number>(b.length).fill(0)]);
  for (let j = 1; j <= b.length; j++) d[0][j] = j;
  for (let i = 1; i <= a.length; i++) {
    for (let j = 1; j <= b.length; j++) {
      const cost = a[i - 1] === b[j - 1] ? 0 : 1;
      d[i][j] = Math.min(d[i - 1][j] + 1, d[i][j - 1] + 1, d[i - 1][j - 1] + cost);
      if (i > 1 && j > 1 && a[i - 1] === b[j - 2] && a[i - 2] === b[j - 1]) d[i][j] = Math.min(d[i][j], d[i - 2][j - 2] + 1);
    }
  }
  return d[a.length][b.length];
}

/** The candidate `word` was most likely meant to be, if any is close. */
export function suggest(word: string, candidates: Iterable<string>): string | undefined {
  let best: string | undefined;
  let bestScore = Infinity;
  for (const c of candidates) {
    if (c.toLowerCase() === word.toLowerCase()) return c;
    const score = editDistance(word.toLowerCase(), c.toLowerCase());
    if (score < bestScore) {
      best = c;
      bestScore = score;
    }
  }
  const allowed = word.length <= 2 ? 0 : Math.max(1, Math.floor(word.length / 3));
  return best !== undefined && bestScore <= allowed ? best : undefined;
}
