/**
 * The report builder (reports/): every chart's Vega-Lite spec compiles and renders headless, and
 * the numbers in it are the run directory's — the summary table equals metrics.json, the CDF's
 * points are metrics.json's percentiles, the PSI peaks survive binning, arrivals equal
 * metrics.json's count, the replayed predictions equal what the twin's predictor said. A small
 * hand-written run directory pins the aggregation rules exactly; short real runs (a few simulated
 * minutes) check them against the twin's own output.
 */
import { spawnSync } from 'node:child_process';
import { cpSync, mkdtempSync, readFileSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { deflateSync } from 'node:zlib';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Resvg } from '@resvg/resvg-js';
import * as vega from 'vega';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { toPredictions, type DemandForecast, type DemandPredictor } from '../../predict/predictor.ts';
import { defaultPredictor, scalingCycle_us } from '../../sim/agent-loop.ts';
import { runSimulation } from '../../sim/run.ts';
import { loadScenario, scenarioSchema, type Scenario } from '../../sim/scenario.ts';
import { parseDuration_s } from '../../formats/duration.ts';
import { presetTopology } from '../../sim/topologies.ts';
import type { ChartDef } from '../../reports/chart-spec.ts';
import { flatten, MAX_TABLE_PROFILES, summaryRows } from '../../reports/html.ts';
import { chartSvg, compileChart, FONT_FILES, svgToPng } from '../../reports/images.ts';
import { InputError } from '../../formats/errors.ts';
import { aggregateRun } from '../../reports/aggregate.ts';
import { readRuns } from '../../reports/load.ts';
import { forEachLine } from '../../reports/run-files.ts';
import {
  buildReport,
  HEAT_CELLS,
  MAX_BINS,
  SECTION_LIMITS,
  timeAxisFor,
  writeReport,
  writeSectionedReport,
} from '../../reports/report.ts';
import { verdictFor } from '../../sim/verdict.ts';
import { handRun } from './hand-run.ts';

const ROOT = mkdtempSync(join(tmpdir(), 'fgo-report-test-'));
afterAll(() => rmSync(ROOT, { recursive: true, force: true }));
const json = (f: string) => JSON.parse(readFileSync(f, 'utf8'));
/** Datasets of a spec, by name. */
const data = (c: ChartDef) => (c.spec as { datasets: Record<string, Array<Record<string, unknown>>> }).datasets;
const chart = (charts: ChartDef[], id: string) => charts.find((c) => c.id === id) as ChartDef;

const bundled = (name: string, duration: string): Scenario => scenarioSchema.parse({ ...loadScenario(name), duration });

/** Wraps the twin's default predictor and keeps every forecast it gives, with its instant. */
function recording(scenario: Scenario): {
  predictor: DemandPredictor;
  said: Array<{ t_s: number; forecasts: DemandForecast[] }>;
} {
  const config = { scaling: { interval_ms: 30_000 } } as Parameters<typeof scalingCycle_us>[0];
  const cycle_us = scalingCycle_us(config, scenario.agent_interval_s * 1e6);
  const inner = defaultPredictor(cycle_us, parseDuration_s(scenario.duration) * 1e6);
  const said: Array<{ t_s: number; forecasts: DemandForecast[] }> = [];
  return {
    said,
    predictor: {
      name: inner.name,
      horizon_s: inner.horizon_s,
      history_len: inner.history_len,
      async forecast(batch) {
        const f = await inner.forecast(batch);
        said.push({ t_s: batch[0]?.end_s ?? 0, forecasts: f });
        return f;
      },
    },
  };
}

let faultsDir = '',
  cmpDir = '';
let said: Array<{ t_s: number; forecasts: DemandForecast[] }> = [];
let faultsScenario: Scenario;

beforeAll(async () => {
  faultsScenario = bundled('faults-8n', '3m');
  const rec = recording(faultsScenario);
  said = rec.said;
  faultsDir = join(ROOT, 'faults');
  await runSimulation({
    scenario: faultsScenario,
    topology: presetTopology(faultsScenario.topology),
    policy: 'engine',
    out: faultsDir,
    predictor: rec.predictor,
  });
  cmpDir = join(ROOT, 'cmp');
  const d = bundled('default', '90s');
  for (const policy of ['engine', 'random'] as const)
    await runSimulation({ scenario: d, topology: presetTopology(d.topology), policy, out: join(cmpDir, policy) });
}, 120_000);

describe('charts from real runs', () => {
  it('every chart compiles with vega-lite without warnings and renders headless to SVG', async () => {
    const m = await buildReport([faultsDir, join(cmpDir, 'engine'), join(cmpDir, 'random')]);
    expect(m.charts.map((c) => c.id)).toEqual([
      'latency-cdf',
      'psi',
      'cpu-heatmap',
      'local-access',
      'pools',
      'timeline',
    ]);
    for (const c of m.charts) {
      const { vega: v, warnings } = compileChart(c);
      expect(warnings, c.id).toEqual([]);
      expect(() => vega.parse(v), c.id).not.toThrow();
      const svg = await chartSvg(c);
      expect(svg, c.id).toMatch(/^<svg/);
      const title = (c.spec as { title: { text: string } }).title.text;
      expect(svg, c.id).toContain(title.replace(/&/g, '&amp;'));
      expect(svg, c.id).toContain('DejaVu Sans');
    }
  }, 60_000); // seconds on a loaded 2-CPU machine

  it('the summary table holds metrics.json exactly, for every run side by side', async () => {
    const m = await buildReport([cmpDir]); // a compare directory stands for its runs
    expect(m.runs.map((r) => r.label)).toEqual(['engine', 'random']);
    const rows = summaryRows(m.runs);
    m.runs.forEach((r, i) => {
      const metrics = flatten(json(join(r.dir, 'metrics.json')));
      expect(metrics.length).toBeGreaterThan(15);
      for (const [key, value] of metrics)
        expect(rows.find((x) => x.group === 'metrics' && x.key === key)?.values[i], key).toEqual(value);
    });
    expect(rows.find((x) => x.key === 'latency_ms.p99')?.values).toEqual(
      m.runs.map((r) => json(join(r.dir, 'metrics.json')).latency_ms.p99),
    );
  });

  it("the CDF is the whole distribution from histograms.json, and agrees with metrics.json's percentiles", async () => {
    const m = await buildReport([cmpDir]);
    const cdf = data(chart(m.charts, 'latency-cdf')).cdf as Array<{ run: string; what: string; p: number; ms: number }>;
    for (const r of m.runs) {
      const l = json(join(r.dir, 'metrics.json')).latency_ms;
      const pts = cdf.filter((x) => x.run === r.label && x.what === 'all requests');
      expect(pts.length).toBe(104); // every percent, then 99.5 %, 99.9 %, 99.95 %, 99.99 % and the maximum
      const at = (p: number) => pts.find((x) => x.p === p)!.ms;
      expect([at(0.5), at(0.95), at(0.99)]).toEqual([l.p50, l.p95, l.p99]);
      // The encoding keeps buckets, not samples: the maximum is its bucket's top, within HdrHistogram's 0.1 %.
      expect(Math.abs(at(1) - l.max)).toBeLessThanOrEqual(0.001 * l.max);
      for (let i = 1; i < pts.length; i++) expect(pts[i]!.ms).toBeGreaterThanOrEqual(pts[i - 1]!.ms);
      // No calls in `default`: no end-to-end line beside it.
      expect(cdf.some((x) => x.run === r.label && x.what === 'end to end')).toBe(false);
    }
  });

  it('a forged histogram header is refused before anything is built from it, naming the file', () => {
    const dir = join(ROOT, 'forged');
    cpSync(join(cmpDir, 'engine'), dir, { recursive: true });
    // A compressed HdrHistogram whose header asks for 5 significant digits up to 2^62.
    const header = Buffer.alloc(40);
    header.writeInt32BE(0x1c849313, 0);
    header.writeInt32BE(0, 4);
    header.writeInt32BE(5, 12);
    header.writeBigInt64BE(1n, 16);
    header.writeBigInt64BE(2n ** 62n, 24);
    const z = deflateSync(header);
    const enc = Buffer.concat([Buffer.from([0x1c, 0x84, 0x93, 0x14]), Buffer.alloc(4), z]);
    enc.writeInt32BE(z.length, 4);
    const h = json(join(dir, 'histograms.json'));
    writeFileSync(join(dir, 'histograms.json'), JSON.stringify({ ...h, overall: enc.toString('base64') }));
    expect(() => readRuns([dir])).toThrow(
      /histograms\.json: overall: a histogram fgo does not write \(5 digits, 1–4611686018427387904\)/,
    );
  });

  it('arrivals, deferrals and PSI peaks survive aggregation', async () => {
    const m = await buildReport([faultsDir]);
    const r = m.runs[0]!;
    const metrics = json(join(faultsDir, 'metrics.json'));
    expect(r.series.bins.reduce((a, b) => a + b.arrivals, 0)).toBe(metrics.requests.arrived);
    const decisions = readFileSync(join(faultsDir, 'decisions.jsonl'), 'utf8')
      .trim()
      .split('\n')
      .map((l) => JSON.parse(l));
    expect(r.series.decisions.total).toBe(decisions.length);
    expect(r.series.bins.reduce((a, b) => a + b.defer, 0)).toBe(decisions.filter((d) => d.action === 'defer').length);
    const all = readFileSync(join(faultsDir, 'timeseries.csv'), 'utf8')
      .trim()
      .split('\n')
      .slice(1)
      .map((l) => l.split(','))
      .filter((f) => f[1] === 'all');
    const psi = data(chart(m.charts, 'psi')).psi as Array<{ cpu_some: number; io_some: number }>;
    expect(Math.max(...psi.map((p) => p.cpu_some))).toBe(Math.max(...all.map((f) => Number(f[3]))));
    // The heat map's cells average to the per-node rows' mean.
    const nodeRows = readFileSync(join(faultsDir, 'timeseries.csv'), 'utf8')
      .trim()
      .split('\n')
      .slice(1)
      .map((l) => l.split(','))
      .filter((f) => f[1] !== 'all');
    const heat = data(chart(m.charts, 'cpu-heatmap')).heat as Array<{ util: number }>;
    const mean = (xs: number[]) => xs.reduce((a, b) => a + b, 0) / xs.length;
    expect(mean(heat.map((h) => h.util))).toBeCloseTo(mean(nodeRows.map((f) => Number(f[2]))), 3);
  });

  it("the predicted series is what the twin's predictor said at each scaling cycle", async () => {
    const [meta] = readRuns([faultsDir]);
    const s = await aggregateRun(meta!, 30, 30);
    const shapes = new Map(
      Object.entries(faultsScenario.profiles).map(([k, p]) => [
        k,
        { service_ms: p.cpu_ms.mean + p.io_ms + p.warm_start_ms },
      ]),
    );
    expect(said.length).toBeGreaterThanOrEqual(6);
    // The forecast at the run's last instant (t = 180 s) starts no bin: every other one does.
    for (const { t_s, forecasts } of said.filter((x) => x.t_s < 180)) {
      const preds = toPredictions(forecasts, shapes, 2, 0.5);
      const b = s.bins[Math.floor(t_s / 30)]!;
      expect(b.pred_size, `t=${t_s}`).toBe(preds.reduce((a, p) => a + p.recommended_size, 0));
      expect(b.pred_rate, `t=${t_s}`).toBeCloseTo(
        preds.reduce((a, p) => a + p.demand_per_s, 0),
        9,
      );
    }
    expect(s.predictor).toContain("the 'ewma' predictor's forecasts, as forecasts.csv recorded them");
  });

  it("a run folded earlier (aggregated) is used when on the report's bins, and read again when not", async () => {
    const dir = join(cmpDir, 'engine');
    const plain = await buildReport([cmpDir]);
    const { bin_s, heat_bin_s } = plain.axis;
    const series = plain.runs[0]!.series;
    const same = await buildReport([cmpDir], undefined, undefined, new Map([[dir, { bin_s, heat_bin_s, series }]]));
    expect(same.runs[0]!.series).toBe(series);
    const wrong = { ...series, nodes: [] };
    const other = await buildReport(
      [cmpDir],
      undefined,
      undefined,
      new Map([[dir, { bin_s: bin_s * 2, heat_bin_s, series: wrong }]]),
    );
    expect(other.runs[0]!.series).toEqual(series);
    expect(other.charts).toEqual(plain.charts);
  });

  it('faults.json appears on the timeline from injection to detection to recovery', async () => {
    const m = await buildReport([faultsDir]);
    const faults = json(join(faultsDir, 'faults.json')) as Array<{
      kind: string;
      injected_s: number;
      detected_s: number | null;
      recovered_s: number | null;
    }>;
    expect(faults.length).toBeGreaterThan(0);
    const d = data(chart(m.charts, 'timeline'));
    expect(d.marks!.filter((x) => x.what === 'injected').length).toBe(faults.length);
    expect(d.marks!.filter((x) => x.what === 'recovered').length).toBe(
      faults.filter((f) => f.recovered_s !== null).length,
    );
    expect(d.segs!.map((x) => x.t0)).toEqual(
      expect.arrayContaining(faults.map((f) => Math.round(f.injected_s * 1e4) / 1e4)),
    );
  });
});

describe('aggregation rules, on a hand-written run directory', () => {
  it('counts arrivals once, tells retries from re-placements, and draws the forecasts recorded', async () => {
    const dir = join(ROOT, 'hand');
    handRun(dir);
    const m = await buildReport([dir]);
    expect(m.axis).toEqual({ bin_s: 1, heat_bin_s: 1, unit_s: 1, unit: 's' });
    const b = m.runs[0]!.series.bins;
    const sum = (k: 'arrivals' | 'defer' | 'shed' | 'replaced') => b.reduce((a, x) => a + x[k], 0);
    expect([sum('arrivals'), sum('defer'), sum('shed'), sum('replaced')]).toEqual([4, 1, 1, 1]);
    expect(b[40]!.replaced).toBe(1);
    expect(b[33]!.cpu_some).toBe(87.5);
    // forecasts.csv, summed over profiles, held until the next cycle: 0 until 10 s, then 0.2 + 0.1 = 0.3/s and 2 + 1 = 3 fragments.
    expect([b[5]!.pred_rate, b[5]!.pred_size]).toEqual([0, 0]);
    expect([b[10]!.pred_rate, b[10]!.pred_size]).toEqual([0.30000000000000004, 3]);
    expect([b[25]!.pred_rate, b[25]!.pred_size]).toEqual([0.5, 3]);
    // The pool shrank by 2 warm fragments at 40 s: a 'pool shrank' event of size 2 there.
    const events = data(chart(m.charts, 'timeline')).events!;
    expect(events.filter((e) => e.lane === 'pool shrank')).toEqual([
      { run: 'engine', t: 40.5, lane: 'pool shrank', n: 2 },
    ]);
    const segs = data(chart(m.charts, 'timeline')).segs!;
    expect(segs.filter((x) => x.target === 'api-2')).toEqual([
      { run: 'engine', lane: 'fault: hang', target: 'api-2', stage: 'never detected', t0: 20, t1: 60 },
    ]);
    const heat = data(chart(m.charts, 'cpu-heatmap')).heat!;
    expect(heat.filter((h) => h.node === 1).every((h) => h.util === 0.75)).toBe(true);
  });

  it('the local-access chart: bars of the final ratio, or a curve when the timeseries has the column', async () => {
    const a = join(ROOT, 'hand-bars'),
      b = join(ROOT, 'hand-local');
    handRun(a);
    handRun(b, { localColumn: true });
    const bars = chart((await buildReport([a])).charts, 'local-access');
    expect(data(bars).local).toEqual([{ run: 'engine', ratio: 0.75 }]);
    expect(JSON.stringify((bars.spec as { title: unknown }).title)).toContain("Only the run's final figure exists");
    const curve = chart((await buildReport([b])).charts, 'local-access');
    expect((data(curve).local as Array<{ ratio: number }>).map((x) => x.ratio).slice(28, 32)).toEqual([0.5, 0.5, 1, 1]);
    expect(compileChart(curve).warnings).toEqual([]);
  });

  it("any predictor's forecasts are drawn, an ONNX model's too; a run directory without forecasts.csv is said so, not guessed", async () => {
    const onnx = join(ROOT, 'hand-onnx'),
      old = join(ROOT, 'hand-old');
    handRun(onnx, { predictor: 'onnx' });
    handRun(old, { forecasts: false });
    const m = await buildReport([onnx]);
    expect(m.runs[0]!.series.predictor).toMatch(/'onnx' predictor's forecasts, as forecasts.csv recorded them/);
    expect(data(chart(m.charts, 'pools')).pool!.some((p) => p.pred_size === 3)).toBe(true);
    const o = await buildReport([old]);
    expect(o.runs[0]!.series.predictor).toMatch(/no forecasts\.csv in the run directory/);
    expect(data(chart(o.charts, 'pools')).pool!.every((p) => p.pred_size === null)).toBe(true);
  });

  it('names every unusable file, for every run', () => {
    const bad = join(ROOT, 'bad');
    handRun(bad);
    rmSync(join(bad, 'metrics.json'));
    writeFileSync(join(bad, 'faults.json'), '{');
    try {
      readRuns([bad, join(ROOT, 'nowhere')]);
      expect.unreachable();
    } catch (e) {
      expect(e).toBeInstanceOf(InputError);
      const p = (e as InputError).problems.join('\n');
      expect(p).toContain(`${join(bad, 'metrics.json')}: missing`);
      expect(p).toContain(`${join(bad, 'faults.json')}: not JSON`);
      expect(p).toContain(`${join(ROOT, 'nowhere')}: not a directory`);
    }
  });

  it('bounds what it reads: JSON nested too deep is named at its line and column, a FIFO is refused without waiting', async () => {
    const dir = join(ROOT, 'hostile');
    handRun(dir);
    // 70 nested arrays: the 65th bracket, at column 65 of line 2, is one level too deep.
    writeFileSync(join(dir, 'faults.json'), `\n${'['.repeat(70)}${']'.repeat(70)}\n`);
    expect(() => readRuns([dir])).toThrow(`${join(dir, 'faults.json')}:2:65: nested deeper than 64 levels`);
    handRun(dir);
    rmSync(join(dir, 'decisions.jsonl'));
    spawnSync('mkfifo', [join(dir, 'decisions.jsonl')]);
    await expect(buildReport([dir])).rejects.toThrow(`${join(dir, 'decisions.jsonl')}: a FIFO, not a regular file`);
  });

  it('a broken journal line is named by file and line', async () => {
    const dir = join(ROOT, 'hand-broken');
    handRun(dir);
    writeFileSync(join(dir, 'decisions.jsonl'), '{"t_ms":1,"action":"place","request_id":"r0"}\n{"t_ms":2,"act\n');
    await expect(buildReport([dir])).rejects.toThrow(`${join(dir, 'decisions.jsonl')}:2: not JSON`);
  });

  it('streams lines of any length, the last one without a newline too', () => {
    const f = join(ROOT, 'lines.txt');
    const long = `{"t_ms":5,"action":"place","x":"${'y'.repeat(9 << 20)}"}`; // longer than the 4-MB read buffer
    writeFileSync(f, ['a', long, '', 'b'.repeat(1000), 'last'].join('\n'));
    const seen: Array<[number, number]> = [];
    forEachLine(f, (head, full) => seen.push([head.length, full().length]));
    expect(seen).toEqual([
      [1, 1],
      [400, long.length],
      [400, 1000],
      [4, 4],
    ]);
  });

  it('the side-by-side table keeps the 8 profiles with the most arrivals and says how many it leaves out', async () => {
    const dirs = ['hand-faas-a', 'hand-faas-b'].map((n) => join(ROOT, n));
    // 300 profiles; p-k has k arrivals in run a and 300 − k in run b, except the top ten of run a
    // (p-290…p-299), which get 1000 more in b: they lead the sum over both runs, ties by name.
    dirs.forEach((dir, i) => {
      handRun(dir);
      const m = json(join(dir, 'metrics.json'));
      m.by_profile = Object.fromEntries(
        Array.from({ length: 300 }, (_, k) => [
          `p-${k}`,
          {
            arrived: i === 0 ? k : 300 - k + (k >= 290 ? 1000 : 0),
            completed: 1,
            shed: 0,
            failed: 0,
            slo_miss_ratio: 0,
            latency_ms: { p50: 1, p95: 2, p99: 3 },
          },
        ]),
      );
      m.by_priority = { normal: { arrived: 1 } };
      writeFileSync(join(dir, 'metrics.json'), JSON.stringify(m));
    });
    const m = await buildReport(dirs);
    const rows = summaryRows(m.runs).filter((r) => r.key.startsWith('by_profile.'));
    expect(MAX_TABLE_PROFILES).toBe(8);
    expect([...new Set(rows.map((r) => r.key.split('.')[1]))]).toEqual([
      'p-290',
      'p-291',
      'p-292',
      'p-293',
      'p-294',
      'p-295',
      'p-296',
      'p-297',
      '…',
    ]);
    expect(rows.length).toBe(8 * 8 + 1); // 8 figures per profile, one note
    expect(rows.at(-1)?.values).toEqual(
      Array(2).fill('292 more profiles left out (the 8 with the most arrivals are shown); see metrics.json'),
    );
    expect(summaryRows(m.runs).find((r) => r.key === 'by_priority.normal.arrived')?.values).toEqual([1, 1]);
  });

  it('a sectioned report: the verdict first, then one collapsed section per scenario with its own ids', async () => {
    const out = join(ROOT, 'sectioned.html');
    const verdict = verdictFor('hand', {
      engine: { slo_miss_ratio: 0, latency_ms: { p99: 1 } },
      numad: { slo_miss_ratio: 0.5, latency_ms: { p99: 2 } },
    });
    const r = await writeSectionedReport(
      [
        { verdict, description: 'a hand-written run', runDirs: [join(ROOT, 'hand')] },
        { verdict: { ...verdict, scenario: 'hand-b' }, description: '', runDirs: [join(ROOT, 'hand-bars')] },
      ],
      out,
      'two sections',
    );
    expect(r.charts).toBe(12);
    const html = readFileSync(out, 'utf8');
    expect(html.indexOf('id="verdict-grid"')).toBeLessThan(html.indexOf('<details'));
    expect(html).toContain(
      '<tr data-scenario="hand"><th scope="row">hand</th><td class="outcome win" title="the engine wins: SLO miss ratio 0 against numad&#39;s 0.5 (win); p99 latency 1.00 ms against numad&#39;s 2.00 ms (win)">engine wins</td>',
    );
    for (const key of ['hand', 'hand-b']) {
      expect(html).toContain(`<details class="section" data-section="${key}" data-lazy>`);
      expect(html).toContain(`id="summary-${key}"`);
      expect(html).toContain(`id="chart-psi-${key}"`);
      expect(html).toContain(`<script type="application/json" id="fgo-specs-${key}">`);
    }
    expect(html).toContain('<table class="verdict" data-verdict="hand">');
  });

  it('bins stay bounded for long, wide runs: 24 h on 64 nodes', () => {
    const meta = {
      run: { scenario: { timeseries_interval_s: 60 }, topology: { nodes: new Array(64).fill({}) } },
      duration_s: 86_400,
    } as never;
    const ax = timeAxisFor([meta]);
    expect(86_400 / ax.bin_s).toBeLessThanOrEqual(MAX_BINS);
    expect((86_400 / ax.heat_bin_s) * 64).toBeLessThanOrEqual(HEAT_CELLS);
    expect(ax.unit).toBe('h');
    const small = timeAxisFor([meta], SECTION_LIMITS);
    expect(86_400 / small.bin_s).toBeLessThanOrEqual(SECTION_LIMITS.bins);
    expect((86_400 / small.heat_bin_s) * 64).toBeLessThanOrEqual(SECTION_LIMITS.heatCells);
  });
});

describe('files', () => {
  it('writeReport: one self-contained HTML file, and SVG + PNG per chart with readable text', async () => {
    const out = join(ROOT, 'out', 'report.html'),
      images = join(ROOT, 'img');
    const r = await writeReport([faultsDir], out, { images, title: 'A & B <test>' });
    expect(r).toEqual({ path: out, bytes: statSync(out).size, charts: 6, verdicts: [] }); // one engine run: no verdict
    const html = readFileSync(out, 'utf8');
    expect(html).toContain('<title>A &#38; B &#60;test&#62;</title>');
    expect(html).not.toMatch(/<script[^>]+src=|<link\b|<iframe|@import/i);
    expect(html).toContain("default-src 'none'");
    for (const lib of ['vega', 'vega-lite', 'vega-embed']) expect(html).toContain(`<script data-lib="${lib}">`);
    for (const id of ['latency-cdf', 'psi', 'cpu-heatmap', 'local-access', 'pools', 'timeline']) {
      expect(readFileSync(join(images, `${id}.svg`), 'utf8')).toMatch(/^<svg/);
      const png = readFileSync(join(images, `${id}.png`));
      expect(png.subarray(1, 4).toString()).toBe('PNG');
    }
  }, 60_000);

  it('text in PNGs comes from the shipped font, never from system fonts', () => {
    const svg =
      '<svg xmlns="http://www.w3.org/2000/svg" width="120" height="30"><text x="5" y="22" font-family="DejaVu Sans, sans-serif" font-size="18">fgo 42</text></svg>';
    expect(svgToPng(svg).subarray(1, 4).toString()).toBe('PNG');
    const ink = (fonts: string[]) => {
      const px = new Resvg(svg, {
        background: 'white',
        font: { fontFiles: fonts, loadSystemFonts: false, defaultFontFamily: 'DejaVu Sans' },
      }).render().pixels;
      let n = 0;
      for (let i = 0; i < px.length; i += 4) if ((px[i] as number) < 128) n++;
      return n;
    };
    expect(FONT_FILES.every((f) => statSync(f).size > 100_000)).toBe(true);
    expect(ink(FONT_FILES)).toBeGreaterThan(50); // glyphs drawn
    expect(ink([])).toBe(0); // without the shipped font nothing would be: no silent system fallback
  });

  it('fgo report: the command writes the file; unusable input exits 1 naming the file', () => {
    const bin = new URL('../../bin/fgo.mjs', import.meta.url).pathname;
    const out = join(ROOT, 'cli.html');
    const ok = spawnSync(process.execPath, [bin, 'report', join(cmpDir, 'engine'), '--out', out, '--json'], {
      encoding: 'utf8',
    });
    expect(ok.status, ok.stderr).toBe(0);
    const r = JSON.parse(ok.stdout);
    expect(r).toMatchObject({ path: out, charts: 6, bytes: statSync(out).size });
    const bad = spawnSync(process.execPath, [bin, 'report', join(ROOT, 'missing-run'), '--out', join(ROOT, 'x.html')], {
      encoding: 'utf8',
    });
    expect(bad.status).toBe(1);
    expect(bad.stderr).toContain(`${join(ROOT, 'missing-run')}: not a directory`);
  }, 60_000);
});
