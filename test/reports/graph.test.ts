/**
 * The fragment graph in the report (reports/graph.ts): the layout worked by hand, and the two
 * charts from real graph-4n runs — compiled by vega-lite without warnings, drawn headless, and
 * holding metrics.json's figures.
 */
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import * as vega from 'vega';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { layout } from '../../reports/graph.ts';
import { chartSvg, compileChart } from '../../reports/images.ts';
import { buildReport } from '../../reports/report.ts';
import { runSimulation } from '../../sim/run.ts';
import { loadScenario, scenarioSchema } from '../../sim/scenario.ts';
import { presetTopology } from '../../sim/topologies.ts';

const ROOT = mkdtempSync(join(tmpdir(), 'fgo-graph-report-'));
afterAll(() => rmSync(ROOT, { recursive: true, force: true }));

beforeAll(async () => {
  const s = scenarioSchema.parse({ ...loadScenario('graph-4n'), duration: '40s' });
  for (const policy of ['engine', 'graph-blind'] as const)
    await runSimulation({ scenario: s, topology: presetTopology(s.topology), policy, out: join(ROOT, policy) });
}, 120_000);

describe('layout', () => {
  it('columns are the longest chain of calls from a root; rows by name within a column', () => {
    const c = (profile: string) => ({ profile });
    // front → a → b, front → b: b is two calls deep (the longer chain), not one.
    const pos = layout({ front: [c('a'), c('b')], a: [c('b')], b: [], lone: [] });
    expect(Object.fromEntries(pos)).toEqual({
      a: { col: 1, row: 0 },
      b: { col: 2, row: 0 },
      front: { col: 0, row: 0 },
      lone: { col: 0, row: 1 },
    });
  });

  it('an async call back up does not loop', () => {
    const pos = layout({ a: [{ profile: 'b' }], b: [{ profile: 'a', mode: 'async' }] });
    expect(Object.fromEntries(pos)).toEqual({ a: { col: 0, row: 0 }, b: { col: 1, row: 0 } });
  });
});

describe('the graph charts from real runs', () => {
  it('appear beside the others, compile without warnings and draw headless', async () => {
    const m = await buildReport([ROOT]);
    expect(m.charts.map((c) => c.id)).toEqual([
      'latency-cdf',
      'psi',
      'graph',
      'e2e-latency',
      'cpu-heatmap',
      'local-access',
      'pools',
      'timeline',
    ]);
    for (const id of ['graph', 'e2e-latency']) {
      const c = m.charts.find((x) => x.id === id)!;
      const { vega: v, warnings } = compileChart(c);
      expect(warnings, id).toEqual([]);
      expect(() => vega.parse(v), id).not.toThrow();
      expect(await chartSvg(c), id).toMatch(/^<svg/);
    }
  }, 60_000);

  it("edges carry metrics.json's call figures; the e2e panel its e2e percentiles", async () => {
    const m = await buildReport([join(ROOT, 'engine')]);
    const run = m.runs[0]!;
    const spec = m.charts.find((c) => c.id === 'graph')!.spec as unknown as {
      vconcat: Array<{ layer: Array<{ data: { values: Array<Record<string, unknown>> } }> }>;
    };
    const edges = spec.vconcat[0]!.layer[0]!.data.values;
    const figures = run.metrics.call_edges as Array<{
      from: string;
      to: string;
      calls: number;
      cross_node_ratio: number;
    }>;
    expect(figures.length).toBeGreaterThan(0);
    for (const f of figures) {
      const e = edges.find((x) => x.from === f.from && x.to === f.to)!;
      expect(e.cross_node).toBe(f.cross_node_ratio);
      expect(e.calls_per_s).toBeCloseTo(f.calls / run.duration_s, 3);
    }
    const e2e = m.charts.find((c) => c.id === 'e2e-latency')!.spec as unknown as {
      vconcat: Array<{ data: { values: Array<{ what: string; q: string; ms: number }> } }>;
    };
    const rows = e2e.vconcat[0]!.data.values.filter((r) => r.what === 'end to end');
    expect(rows.map((r) => r.ms)).toEqual(
      [0, 1, 2].map((i) => (run.metrics.e2e_latency_ms as Record<string, number>)[['p50', 'p95', 'p99'][i]!]),
    );
  });
});
