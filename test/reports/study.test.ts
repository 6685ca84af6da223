/**
 * The report's lead (reports/study.ts): the verdict first whenever the runs allow one — recomputed
 * from each run's metrics.json, for a compare directory or any run directories sharing scenario,
 * seed, duration and topology — and for a what-if study the deltas between variants, in the order
 * comparison.json gives, or a seed study's mean and range. Hand-written run directories
 * (hand-run.ts) with figures chosen so every number is checked by hand.
 */
import { mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { buildReport, writeReport } from '../../reports/report.ts';
import { verdictFor } from '../../sim/verdict.ts';
import { handRun } from './hand-run.ts';

const ROOT = mkdtempSync(join(tmpdir(), 'fgo-report-study-'));
afterAll(() => rmSync(ROOT, { recursive: true, force: true }));

const metrics = (slo: number, p99: number, p50 = 10) => ({
  slo_miss_ratio: slo,
  latency_ms: { p50, p95: p99, p99, max: p99 * 2 },
  local_access_ratio: 0.75,
  cold_start_ratio: 0.1,
  utilization: { mean: 0.5 },
});
const page = async (dirs: string[], name: string) => {
  const out = join(ROOT, `${name}.html`);
  const r = await writeReport(dirs, out);
  return { html: readFileSync(out, 'utf8'), r };
};

describe('the verdict leads the report', () => {
  it('a compare directory: the verdict before the raw figures and the first chart, the same as verdictFor says', async () => {
    const dir = join(ROOT, 'cmp');
    handRun(join(dir, 'engine'), { metrics: metrics(0.1, 100) });
    handRun(join(dir, 'numad'), { policy: 'numad', metrics: metrics(0.2, 150) });
    writeFileSync(
      join(dir, 'comparison.json'),
      JSON.stringify({ scenario: 'hand', policies: { engine: {}, numad: {} } }),
    );
    const { html, r } = await page([dir], 'cmp');
    const v = verdictFor('hand', { engine: metrics(0.1, 100), numad: metrics(0.2, 150) });
    expect(r.verdicts).toEqual([v]);
    expect(v.summary).toBe(
      "the engine wins: SLO miss ratio 0.1 against numad's 0.2 (win); p99 latency 100.0 ms against numad's 150.0 ms (win)",
    );
    expect(html.indexOf('<section id="verdict">')).toBeGreaterThan(0);
    expect(html.indexOf('<section id="verdict">')).toBeLessThan(html.indexOf('<details class="raw">'));
    expect(html.indexOf('<details class="raw">')).toBeLessThan(html.indexOf('id="chart-latency-cdf"'));
    expect(html).toContain(`<span class="win">${v.summary.replace(/'/g, '&#39;')}</span>`);
    expect(html).not.toContain('id="delta"'); // one group: nothing varied
  });

  it("a compare directory: baselines with the same figure break the tie in the compare's order, not the directories'", async () => {
    const dir = join(ROOT, 'tie');
    handRun(join(dir, 'engine'), { metrics: metrics(0.1, 100) });
    for (const p of ['random', 'numad']) handRun(join(dir, p), { policy: p, metrics: metrics(0.2, 150) });
    writeFileSync(
      join(dir, 'comparison.json'),
      JSON.stringify({ scenario: 'hand', policies: { engine: {}, random: {}, numad: {} } }),
    );
    const { r } = await page([dir], 'tie');
    // Five figures the hand runs have (no goodput, no idle warm memory), each won by the first baseline given.
    expect(r.verdicts[0]!.metrics.filter((m) => m.best).map((m) => m.best!.policy)).toEqual(Array(5).fill('random'));
    expect(r.verdicts[0]!.summary).toBe(
      "the engine wins: SLO miss ratio 0.1 against random's 0.2 (win); p99 latency 100.0 ms against random's 150.0 ms (win)",
    );
  });

  it('arbitrary run directories: a verdict per scenario, seed, duration and topology with the engine and a baseline', async () => {
    const a = join(ROOT, 'loose');
    handRun(join(a, 'e7'), { metrics: metrics(0.3, 100) });
    handRun(join(a, 'n7'), { policy: 'numad', metrics: metrics(0.2, 150) });
    handRun(join(a, 'e8'), { seed: '8', metrics: metrics(0.2, 100) });
    handRun(join(a, 'n8'), { policy: 'numad', seed: '8', metrics: metrics(0.2, 50) });
    handRun(join(a, 'lone'), { policy: 'random', seed: '9', metrics: metrics(0, 1) }); // no engine beside it: no verdict
    const { html, r } = await page(
      ['e7', 'n7', 'e8', 'n8', 'lone'].map((d) => join(a, d)),
      'loose',
    );
    expect(r.verdicts.map((v) => [v.scenario, v.engine_wins])).toEqual([
      ['hand · seed 7', false],
      ['hand · seed 8', false],
    ]);
    expect(r.verdicts[1]!.metrics.slice(0, 2).map((m) => m.outcome)).toEqual(['tie', 'loss']);
    // The same scenario on several seeds sharing policies: the deltas against the first group.
    expect(html).toContain('<tr data-policy="engine" data-variant="hand · seed 8">');
    expect(html).toContain('id="chart-variant-cdf"');
  });

  it('runs of different scenarios are not variants: verdicts, but no deltas', async () => {
    const d = join(ROOT, 'two');
    handRun(join(d, 'engine'), { metrics: metrics(0.1, 100) });
    handRun(join(d, 'numad'), { policy: 'numad', metrics: metrics(0.2, 150) });
    const run = JSON.parse(readFileSync(join(d, 'numad', 'run.json'), 'utf8'));
    mkdirSync(join(d, 'other'));
    handRun(join(d, 'other', 'engine'), { metrics: metrics(0.1, 100) });
    writeFileSync(
      join(d, 'other', 'engine', 'run.json'),
      JSON.stringify({ ...run, policy: 'engine', scenario: { ...run.scenario, name: 'other' } }),
    );
    const m = await buildReport([join(d, 'engine'), join(d, 'numad'), join(d, 'other', 'engine')]);
    expect(m.groups.map((g) => [g.name, g.runs.length, g.verdict?.engine_wins])).toEqual([
      ['hand', 2, true],
      ['other', 1, undefined],
    ]);
    expect(m.charts[0]?.id).toBe('latency-cdf');
  });
});

describe('a --vary study', () => {
  /** DIR/VARIANT/POLICY as fgo compare --vary writes it, with its comparison.json. */
  function study(
    name: string,
    key: string,
    variants: Array<[string, Record<string, ReturnType<typeof metrics>>, string?]>,
  ): string {
    const dir = join(ROOT, name);
    for (const [label, byPolicy, seed] of variants)
      for (const [p, m] of Object.entries(byPolicy))
        handRun(join(dir, label, p), { policy: p, metrics: m, ...(seed ? { seed } : {}) });
    writeFileSync(
      join(dir, 'comparison.json'),
      JSON.stringify({
        scenario: 'hand',
        vary: { key, values: [] },
        policies: ['engine', 'numad'],
        variants: variants.map(([label]) => ({ label })),
      }),
    );
    return dir;
  }

  it('deltas against the first variant in the order given, absolute and %, shaded by the better direction', async () => {
    // config-b first although it sorts after config-a: the first variant given is the base.
    const dir = study('cfg', 'config', [
      ['config-b', { engine: metrics(0.1, 200, 20), numad: metrics(0.2, 100) }],
      ['config-a', { engine: metrics(0.05, 250, 20), numad: metrics(0.2, 100) }],
    ]);
    const m = await buildReport([dir]);
    expect(m.runs.map((r) => r.label)).toEqual([
      'config-b/engine',
      'config-b/numad',
      'config-a/engine',
      'config-a/numad',
    ]);
    expect(m.charts[0]?.id).toBe('variant-cdf');
    const { html, r } = await page([dir], 'cfg');
    expect(r.verdicts.map((v) => [v.scenario, v.engine_wins])).toEqual([
      ['hand/config-b', false],
      ['hand/config-a', false],
    ]);
    const row = html.slice(html.indexOf('<tr data-policy="engine" data-variant="config-a">'));
    const cells = row.slice(0, row.indexOf('</tr>'));
    // SLO miss 0.1 → 0.05: −0.0500 (−50.0 %), better; p50 20 → 20: no change; p99 200 → 250: +50 (+25.0 %), worse.
    expect(cells).toContain(
      '<td class="win" data-value="0.05" data-delta="-0.05">0.0500<br><small>−0.0500 (−50.0 %)</small></td>',
    );
    expect(cells).toContain('<td class="tie" data-value="20" data-delta="0">20.00<br><small>±0 (±0.0 %)</small></td>');
    expect(cells).toContain(
      '<td class="loss" data-value="250" data-delta="50">250.0<br><small>+50.00 (+25.0 %)</small></td>',
    );
    expect(html.indexOf('id="verdict"')).toBeLessThan(html.indexOf('id="delta"'));
    expect(html.indexOf('id="delta"')).toBeLessThan(html.indexOf('<details class="raw">'));
  });

  it('over seeds: the verdict on the means first, then mean and range per policy', async () => {
    const dir = study('seeds', 'seed', [
      ['seed-1', { engine: metrics(0.1, 100), numad: metrics(0.2, 90) }, '1'],
      ['seed-2', { engine: metrics(0.3, 50), numad: metrics(0.2, 70) }, '2'],
    ]);
    const { html, r } = await page([dir], 'seeds');
    expect(r.verdicts.map((v) => [v.scenario, v.engine_wins])).toEqual([
      ['hand (mean of 2 seeds)', true],
      ['hand/seed-1', false],
      ['hand/seed-2', false],
    ]);
    expect(html).toContain('<td data-mean="75" data-min="50" data-max="100">75.00<br><small>50.00–100.0</small></td>');
    expect(html).toContain('the engine won 0 of 2 seeds on its own');
  });

  it('a comparison.json naming a variant that is not there, or malformed, is a named problem', async () => {
    const dir = study('broken', 'seed', [['seed-1', { engine: metrics(0, 1) }]]);
    writeFileSync(
      join(dir, 'comparison.json'),
      JSON.stringify({ vary: { key: 'seed' }, variants: [{ label: 'seed-1' }, { label: 'seed-9' }] }),
    );
    await expect(buildReport([dir])).rejects.toThrow(
      `${join(dir, 'seed-9')}: missing (comparison.json names variant seed-9)`,
    );
    writeFileSync(
      join(dir, 'comparison.json'),
      JSON.stringify({ vary: { key: 'seed' }, variants: [{ label: '../x' }] }),
    );
    await expect(buildReport([dir])).rejects.toThrow(`${join(dir, 'comparison.json')}: variants.0.label:`);
  });
});
