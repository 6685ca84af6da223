/**
 * The house plan (docs/architecture.md) as code: which folder may import which, every import of
 * every source file, and the checks test/layering.test.ts runs on them:
 *
 * 1. Layers import only downwards. Each folder names the folders it may import; a folder not
 *    named is out of bounds, so a shell importing cli/, formats importing a shell, or the two
 *    shells importing each other is found with the file and the line.
 * 2. formats/ may use the engine's types, never its code (`import type` only).
 * 3. No file import cycle anywhere, type-only imports included: a cycle is two concepts that
 *    cannot be understood, tested or replaced one without the other.
 *
 * `node --import tsx test/house-plan.ts` prints the folder graph as the Mermaid block
 * docs/architecture.md carries (the test fails when the two differ).
 */
import { existsSync, readdirSync, readFileSync, statSync } from 'node:fs';
import { dirname, join, relative, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';

export const ROOT = resolve(new URL('../', import.meta.url).pathname);

/** What each folder may import besides itself, lowest layer first. */
export const MAY_IMPORT: Readonly<Record<string, readonly string[]>> = {
  engine: [],
  formats: ['engine'],
  predict: ['formats', 'engine'],
  serve: ['formats', 'engine'],
  sim: ['serve', 'predict', 'formats', 'engine'],
  live: ['serve', 'predict', 'formats', 'engine'],
  reports: ['sim', 'predict', 'formats', 'engine'],
  cli: ['reports', 'sim', 'live', 'serve', 'predict', 'formats', 'engine'],
  notebooks: ['cli', 'reports', 'sim', 'predict', 'formats', 'engine'],
  examples: ['index.ts'],
  bench: ['cli', 'reports', 'sim', 'live', 'serve', 'predict', 'formats', 'engine'],
  'index.ts': ['reports', 'sim', 'live', 'serve', 'predict', 'formats', 'engine'],
};

export interface Edge {
  from: string;
  to: string;
  line: number;
  typeOnly: boolean;
}

/** Every relative import, re-export and dynamic import of a source text, with its line. */
export function importsOf(file: string, text: string): Edge[] {
  const out: Edge[] = [];
  // Comments out (newlines kept, for line numbers): a doc comment's example is not an import.
  text = text.replace(/\/\*[\s\S]*?\*\/|\/\/[^\n]*/g, (c) => c.replace(/[^\n]/g, ' '));
  const re =
    /\b(import|export)\s+(type\s+)?(?:[^'";]*?\sfrom\s+)?['"](\.{1,2}\/[^'"]+)['"]|\bimport\(\s*['"](\.{1,2}\/[^'"]+)['"]\s*\)/g;
  for (const m of text.matchAll(re)) {
    const spec = (m[3] ?? m[4]) as string;
    const line = text.slice(0, m.index).split('\n').length;
    out.push({
      from: file,
      to: relative(ROOT, resolve(dirname(join(ROOT, file)), spec)),
      line,
      typeOnly: m[2] !== undefined,
    });
  }
  return out;
}

/** The layer a repository path belongs to: its top folder, or the file itself at the top. */
export const layerOf = (path: string): string => (path.includes('/') ? (path.split('/')[0] as string) : path);

/** Why an edge breaks rule 1 or 2, or undefined when it keeps them. */
export function breach(e: Edge): string | undefined {
  const from = layerOf(e.from),
    to = layerOf(e.to);
  if (from === to) return undefined;
  const may = MAY_IMPORT[from];
  if (!may) return `${e.from}:${e.line}: ${from}/ is not in the house plan`;
  if (!may.includes(to))
    return `${e.from}:${e.line}: ${from}/ may not import ${to} (${e.to}); it may import ${may.join(', ') || 'nothing outside itself'}`;
  if (from === 'formats' && to === 'engine' && !e.typeOnly)
    return `${e.from}:${e.line}: formats/ may use the engine's types only (import type), not ${e.to}`;
  return undefined;
}

/** Strongly connected components of more than one file (Tarjan), each sorted. */
export function cycles(edges: readonly Edge[]): string[][] {
  const next = new Map<string, string[]>();
  for (const e of edges) next.set(e.from, [...(next.get(e.from) ?? []), e.to]);
  const index = new Map<string, number>(),
    low = new Map<string, number>();
  const stack: string[] = [],
    onStack = new Set<string>(),
    found: string[][] = [];
  let n = 0;
  const visit = (v: string): void => {
    index.set(v, n);
    low.set(v, n++);
    stack.push(v);
    onStack.add(v);
    for (const w of next.get(v) ?? []) {
      if (!index.has(w)) {
        visit(w);
        low.set(v, Math.min(low.get(v) as number, low.get(w) as number));
      } else if (onStack.has(w)) low.set(v, Math.min(low.get(v) as number, index.get(w) as number));
    }
    if (low.get(v) !== index.get(v)) return;
    const c: string[] = [];
    for (let w = ''; w !== v; ) {
      w = stack.pop() as string;
      onStack.delete(w);
      c.push(w);
    }
    if (c.length > 1) found.push(c.sort());
  };
  for (const v of next.keys()) if (!index.has(v)) visit(v);
  return found;
}

/** The folder graph as a Mermaid flowchart, one line per pair of folders with an import. */
export function mermaid(edges: readonly Edge[]): string {
  const pairs = new Set<string>();
  for (const e of edges) {
    const from = layerOf(e.from).replace('.ts', ''),
      to = layerOf(e.to).replace('.ts', '');
    if (from !== to) pairs.add(`  ${from} --> ${to}`);
  }
  return ['```mermaid', 'flowchart TD', ...[...pairs].sort(), '```'].join('\n');
}

/** Every source file of the plan's folders, as repository paths. */
export function sources(): string[] {
  const out: string[] = ['index.ts'];
  const walk = (dir: string): void => {
    for (const name of readdirSync(join(ROOT, dir))) {
      const p = `${dir}/${name}`;
      if (statSync(join(ROOT, p)).isDirectory()) walk(p);
      else if (p.endsWith('.ts')) out.push(p);
    }
  };
  for (const top of Object.keys(MAY_IMPORT)) if (top !== 'index.ts' && existsSync(join(ROOT, top))) walk(top);
  return out;
}

if (process.argv[1] === fileURLToPath(import.meta.url)) {
  console.log(mermaid(sources().flatMap((f) => importsOf(f, readFileSync(join(ROOT, f), 'utf8')))));
}
