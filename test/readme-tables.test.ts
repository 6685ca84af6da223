/**
 * The file tables people read match the layout: for every folder of the house plan, the table that
 * describes it (the folder's README.md, or the README.md section whose heading names the folder,
 * e.g. "## The digital twin (sim/)") lists every TypeScript file and every subfolder of it
 * (`tune/`), and nothing that is not there. A file moved, added or split without its table fails
 * here, naming it.
 */
import { existsSync, readdirSync, readFileSync, statSync } from 'node:fs';
import { join, resolve } from 'node:path';
import { describe, expect, it } from 'vitest';

const ROOT = resolve(new URL('../', import.meta.url).pathname);
const FOLDERS = ['engine', 'formats', 'predict', 'serve', 'sim', 'live', 'reports', 'cli'];

/** The table rows of a markdown text, or of the section of it whose heading names `folder/`. */
function tableOf(markdown: string, folder?: string): string[] {
  let lines = markdown.split('\n');
  if (folder !== undefined) {
    const start = lines.findIndex((l) => /^#+ /.test(l) && l.includes(`(${folder}/)`));
    if (start < 0) return [];
    const level = (/^#+/.exec(lines[start] as string) as RegExpExecArray)[0].length;
    const end = lines.findIndex((l, i) => i > start && new RegExp(`^#{1,${level}} `).test(l));
    lines = lines.slice(start + 1, end < 0 ? undefined : end);
  }
  return lines.filter((l) => l.startsWith('| `'));
}

/** The names a table's first column gives: `a.ts`, `b.ts` and `dir/`. */
function namesIn(rows: readonly string[]): Set<string> {
  const names = new Set<string>();
  for (const row of rows) for (const m of (row.split('|')[1] ?? '').matchAll(/`([^`]+)`/g)) names.add(m[1] as string);
  return names;
}

function layout(folder: string): Set<string> {
  const names = new Set<string>();
  for (const n of readdirSync(join(ROOT, folder))) {
    if (statSync(join(ROOT, folder, n)).isDirectory()) names.add(`${n}/`);
    else if (n.endsWith('.ts')) names.add(n);
  }
  return names;
}

function tableFor(folder: string): { where: string; names: Set<string> } {
  const own = join(ROOT, folder, 'README.md');
  if (existsSync(own)) {
    const rows = tableOf(readFileSync(own, 'utf8'));
    if (rows.length) return { where: `${folder}/README.md`, names: namesIn(rows) };
  }
  return {
    where: `README.md (${folder}/)`,
    names: namesIn(tableOf(readFileSync(join(ROOT, 'README.md'), 'utf8'), folder)),
  };
}

describe('file tables', () => {
  for (const folder of FOLDERS) {
    it(`${folder}/: its table lists exactly its files and subfolders`, () => {
      const { where, names } = tableFor(folder);
      const have = layout(folder);
      expect([...have].filter((n) => !names.has(n)).map((n) => `${where} does not list ${folder}/${n}`)).toEqual([]);
      expect(
        [...names].filter((n) => !have.has(n)).map((n) => `${where} lists ${folder}/${n}, which does not exist`),
      ).toEqual([]);
    });
  }

  it('reads a section and its first column (hand-made markdown)', () => {
    const md =
      '# x\n## The twin (sim/)\n| file | what |\n|---|---|\n| `a.ts`, `b/` | uses `c.ts` |\n### sub\n| `d.ts` | d |\n## next\n| `e.ts` | e |';
    expect([...namesIn(tableOf(md, 'sim'))]).toEqual(['a.ts', 'b/', 'd.ts']);
    expect(tableOf(md, 'live')).toEqual([]);
  });
});
