/**
 * The layering the design promises, checked on the source: nothing under src/backends/ imports
 * from src/router/ or src/s3/, and no module imports itself through others (type-only imports
 * and lazy `require`s count: a cycle of types is still a cycle of meaning).
 */
import { expect } from 'chai';
import * as fs from 'node:fs';
import * as path from 'node:path';

// dist/test/unit -> the repository root
const SRC = path.resolve(__dirname, '..', '..', '..', 'src');

function sourceFiles(dir: string): string[] {
  return fs.readdirSync(dir, { withFileTypes: true }).flatMap((e) => {
    const full = path.join(dir, e.name);
    if (e.isDirectory()) return sourceFiles(full);
    return e.name.endsWith('.ts') && !e.name.endsWith('.d.ts') ? [full] : [];
  });
}

/** Every module specifier a file names: import/export ... from, import(), require(), import x = require(). */
function specifiers(text: string): string[] {
  const code = text.replace(/\/\*[\s\S]*?\*\//g, '').replace(/^\s*\/\/.*$/gm, '');
  const out: string[] = [];
  const patterns = [
    /\b(?:import|export)\b[^'";]*?\bfrom\s*['"]([^'"]+)['"]/g,
    /\bimport\s*['"]([^'"]+)['"]/g,
    /\b(?:import|require)\s*\(\s*['"]([^'"]+)['"]\s*\)/g,
  ];
  for (const re of patterns) for (const m of code.matchAll(re)) out.push(m[1]);
  return out;
}

function resolveLocal(from: string, spec: string): string | undefined {
  if (!spec.startsWith('.')) return undefined;
  const base = path.resolve(path.dirname(from), spec);
  for (const candidate of [`${base}.ts`, path.join(base, 'index.ts')]) if (fs.existsSync(candidate)) return candidate;
  throw new Error(`${path.relative(SRC, from)}: cannot resolve '${spec}'`);
}

/** Module → the modules it imports, for every file under src/. */
function importGraph(): Map<string, string[]> {
  const graph = new Map<string, string[]>();
  for (const file of sourceFiles(SRC)) {
    const deps = specifiers(fs.readFileSync(file, 'utf8'))
      .map((s) => resolveLocal(file, s))
      .filter((d): d is string => d !== undefined);
    graph.set(file, [...new Set(deps)]);
  }
  return graph;
}

/** Every strongly connected component with more than one module, or a module importing itself. */
function cycles(graph: Map<string, string[]>): string[][] {
  let index = 0;
  const idx = new Map<string, number>();
  const low = new Map<string, number>();
  const stack: string[] = [];
  const onStack = new Set<string>();
  const found: string[][] = [];
  const visit = (v: string): void => {
    idx.set(v, index);
    low.set(v, index++);
    stack.push(v);
    onStack.add(v);
    for (const w of graph.get(v) ?? []) {
      if (!idx.has(w)) {
        visit(w);
        low.set(v, Math.min(low.get(v)!, low.get(w)!));
      } else if (onStack.has(w)) low.set(v, Math.min(low.get(v)!, idx.get(w)!));
    }
    if (low.get(v) === idx.get(v)) {
      const scc: string[] = [];
      let w: string;
      do {
        w = stack.pop()!;
        onStack.delete(w);
        scc.push(w);
      } while (w !== v);
      if (scc.length > 1 || (graph.get(v) ?? []).includes(v)) found.push(scc.map((f) => path.relative(SRC, f)).sort());
    }
  };
  for (const v of graph.keys()) if (!idx.has(v)) visit(v);
  return found;
}

describe('import graph of src/', () => {
  const graph = importGraph();

  it('reads every kind of import', () => {
    const text =
      "import type { A } from './a';\nexport { B } from \"./b\";\nimport './c';\nconst d = require('./d') as typeof import('./e');\n// import x from './not-code';";
    expect(specifiers(text).sort()).to.deep.equal(['./a', './b', './c', './d', './e']);
    expect(graph.size).to.be.greaterThan(50);
  });

  it('nothing under backends/ imports from router/ or s3/', () => {
    const upward: string[] = [];
    for (const [file, deps] of graph) {
      if (!file.startsWith(path.join(SRC, 'backends') + path.sep)) continue;
      for (const d of deps) {
        if (d.startsWith(path.join(SRC, 'router') + path.sep) || d.startsWith(path.join(SRC, 's3') + path.sep)) {
          upward.push(`${path.relative(SRC, file)} -> ${path.relative(SRC, d)}`);
        }
      }
    }
    expect(upward).to.deep.equal([]);
  });

  it('has no import cycles, type-only imports included', () => {
    expect(cycles(graph)).to.deep.equal([]);
  });

  it('finds a cycle when there is one', () => {
    const g = new Map([
      ['/a', ['/b']],
      ['/b', ['/c']],
      ['/c', ['/a']],
      ['/d', ['/a']],
    ]);
    expect(cycles(g)).to.have.length(1);
  });
});
