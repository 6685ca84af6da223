/**
 * The house plan (docs/architecture.md, rules in test/house-plan.ts) holds for every import of
 * every source file, and docs/architecture.md's picture of the folder graph is the code's.
 */
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { breach, cycles, type Edge, importsOf, layerOf, mermaid, ROOT, sources } from './house-plan.ts';

describe('the house plan', () => {
  const edges = sources().flatMap((f) => importsOf(f, readFileSync(join(ROOT, f), 'utf8')));

  it('reads every folder of the plan and their imports', () => {
    expect(edges.length).toBeGreaterThan(500);
    for (const top of ['engine', 'formats', 'predict', 'sim', 'live', 'reports', 'cli'])
      expect(edges.some((e) => layerOf(e.from) === top)).toBe(true);
  });

  it('every import goes down a layer, or stays in its folder', () => {
    expect(edges.map(breach).filter((b) => b !== undefined)).toEqual([]);
  });

  it('no file import cycle, type-only imports included', () => {
    expect(cycles(edges)).toEqual([]);
  });

  it('docs/architecture.md draws the folder graph the code has', () => {
    const doc = readFileSync(join(ROOT, 'docs/architecture.md'), 'utf8');
    const drawn = /<!-- import-graph:begin -->\n([\s\S]*?)\n<!-- import-graph:end -->/.exec(doc)?.[1];
    expect(
      drawn,
      'paste the output of `node --import tsx test/house-plan.ts` between the import-graph markers of docs/architecture.md',
    ).toBe(mermaid(edges));
  });

  it('the checker finds each kind of breach (hand-made edges)', () => {
    const edge = (from: string, to: string, typeOnly = false): Edge => ({ from, to, line: 7, typeOnly });
    expect(breach(edge('sim/run.ts', 'cli/prepare.ts'))).toMatch(/^sim\/run\.ts:7: sim\/ may not import cli/);
    expect(breach(edge('sim/serve.ts', 'live/api.ts'))).toMatch(/may not import live/);
    expect(breach(edge('formats/csv.ts', 'sim/traces.ts'))).toMatch(/formats\/ may not import sim/);
    expect(breach(edge('formats/x.ts', 'engine/types.ts'))).toMatch(/engine's types only/);
    expect(breach(edge('formats/x.ts', 'engine/types.ts', true))).toBeUndefined();
    expect(breach(edge('engine/a.ts', 'engine/b.ts'))).toBeUndefined();
    expect(breach(edge('cli/sim.ts', 'sim/run.ts'))).toBeUndefined();
    expect(breach(edge('tools/x.ts', 'sim/run.ts'))).toMatch(/not in the house plan/);
    expect(
      cycles([edge('a/x.ts', 'a/y.ts'), edge('a/y.ts', 'a/z.ts'), edge('a/z.ts', 'a/x.ts'), edge('a/z.ts', 'b/w.ts')]),
    ).toEqual([['a/x.ts', 'a/y.ts', 'a/z.ts']]);
    expect(cycles([edge('a/x.ts', 'a/y.ts'), edge('a/x.ts', 'a/z.ts'), edge('a/y.ts', 'a/z.ts')])).toEqual([]);
    expect(
      importsOf(
        'sim/a.ts',
        "import type { X } from '../engine/types.ts';\nexport { y } from './b.ts';\nconst m = await import('../cli/c.ts');",
      ),
    ).toEqual([
      { from: 'sim/a.ts', to: 'engine/types.ts', line: 1, typeOnly: true },
      { from: 'sim/a.ts', to: 'sim/b.ts', line: 2, typeOnly: false },
      { from: 'sim/a.ts', to: 'cli/c.ts', line: 3, typeOnly: false },
    ]);
  });
});
