import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { wallFromFile } from '../../formats/wall.ts';
import { summaryRows } from '../../reports/html.ts';
import { readRuns } from '../../reports/load.ts';
import { runSimulation } from '../../sim/run.ts';
import { loadScenario, scenarioSchema } from '../../sim/scenario.ts';
import { presetTopology } from '../../sim/topologies.ts';

const ROOT = mkdtempSync(join(tmpdir(), 'fgo-wall-test-'));
afterAll(() => rmSync(ROOT, { recursive: true, force: true }));

describe('wall.json: wall_s, and the old key s', () => {
  it("today's file is read as written", () => {
    const raw = { wall_s: 2.5, events_per_s: 100, decision_latency_us: { p50: 7, p99: 42 }, peak_rss_mb: 240 };
    expect(wallFromFile(raw)).toEqual(raw);
  });

  it("an old file's s becomes wall_s, in the same place among the keys", () => {
    const got = wallFromFile({
      s: 2.892,
      events_per_s: 105333,
      decision_latency_us: { p50: 7, p99: 42 },
      peak_rss_mb: 240,
    });
    expect(Object.keys(got)).toEqual(['wall_s', 'events_per_s', 'decision_latency_us', 'peak_rss_mb']);
    expect(got.wall_s).toBe(2.892);
  });

  it('a run writes wall_s; a report on an old run directory (s) shows it as wall_s', async () => {
    const scenario = scenarioSchema.parse({ ...loadScenario('default'), duration: '20s' });
    const dir = join(ROOT, 'run');
    await runSimulation({ scenario, topology: presetTopology(scenario.topology), policy: 'engine', out: dir });
    const written = JSON.parse(readFileSync(join(dir, 'wall.json'), 'utf8'));
    expect(Object.keys(written)).toEqual(['wall_s', 'events_per_s', 'decision_latency_us', 'peak_rss_mb']);
    expect(written.wall_s).toBeGreaterThan(0);

    writeFileSync(
      join(dir, 'wall.json'),
      JSON.stringify({ s: 1.25, events_per_s: 8, decision_latency_us: { p50: 1, p99: 2 }, peak_rss_mb: 3 }),
    );
    const run = readRuns([dir])[0]!;
    expect(run.wall).toEqual({
      wall_s: 1.25,
      events_per_s: 8,
      decision_latency_us: { p50: 1, p99: 2 },
      peak_rss_mb: 3,
    });
    const rows = summaryRows([{ ...run, series: { decisions: { total: 0 } } } as never]).filter(
      (r) => r.group === 'wall',
    );
    expect(rows.map((r) => [r.key, r.values[0]])).toEqual([
      ['wall_s', 1.25],
      ['events_per_s', 8],
      ['decision_latency_us.p50', 1],
      ['decision_latency_us.p99', 2],
      ['peak_rss_mb', 3],
    ]);
  });
});
