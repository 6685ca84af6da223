/**
 * The report in a real browser: Debian's chromium, driven headless by playwright-core (which
 * downloads no browser of its own), opens a generated report from a file:// URL and must draw
 * every chart (an SVG or canvas in each figure) with no console error and without a single
 * network request — every request the page makes is recorded, and the only one allowed is the
 * report file itself. A compare's report must open on its verdict, above the first chart, with
 * the latency CDF drawn from the whole histogram (a hundred-odd steps per line, not four points);
 * a `fgo compare --vary` study's report must draw its deltas and its CDF per variant. The
 * scorecard's report must show its verdict at load and draw a scenario's charts when its section
 * is opened. Screenshots are kept in test-results/reports/ (gitignored) for a person to look at;
 * the compare's first screen, compare-verdict-cdf.png, is docs/img/report-verdict.png (refreshed
 * with FGO_UPDATE_DOCS_IMG=1). Without /usr/bin/chromium the suite is skipped, saying so (CI
 * installs it).
 */
import { copyFileSync, existsSync, mkdirSync, mkdtempSync, rmSync, statSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { pathToFileURL } from 'node:url';
import { chromium, type BrowserContext } from 'playwright-core';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { runSimulation } from '../../sim/run.ts';
import { loadScenario, scenarioSchema } from '../../sim/scenario.ts';
import { presetTopology } from '../../sim/topologies.ts';
import { writeReport, writeSectionedReport } from '../../reports/report.ts';
import { planScorecard, runScorecard } from '../../sim/scorecard.ts';
import { CDF_FRACTIONS } from '../../reports/histograms.ts';
import { fgoSync } from '../cli/fgo.ts';

const CHROMIUM = '/usr/bin/chromium';
const HAVE_CHROMIUM = existsSync(CHROMIUM);
if (!HAVE_CHROMIUM)
  console.warn(`test/reports/browser.test.ts: skipped — ${CHROMIUM} is missing (apt-get install -y chromium)`);

const ARTIFACTS = new URL('../../test-results/reports/', import.meta.url).pathname;
const ROOT = mkdtempSync(join(tmpdir(), 'fgo-report-browser-'));
const CHARTS = ['latency-cdf', 'psi', 'cpu-heatmap', 'local-access', 'pools', 'timeline'];

let context: BrowserContext | undefined;
let profile = '';

beforeAll(async () => {
  if (!HAVE_CHROMIUM) return;
  mkdirSync(ARTIFACTS, { recursive: true });
  profile = mkdtempSync(join(tmpdir(), 'fgo-chromium-profile-')); // a fresh --user-data-dir
  context = await chromium.launchPersistentContext(profile, {
    executablePath: CHROMIUM,
    headless: true,
    args: [
      '--no-sandbox',
      '--disable-gpu',
      '--disable-background-networking',
      '--disable-component-update',
      '--disable-sync',
      '--no-first-run',
      '--disable-quic',
    ],
    viewport: { width: 1280, height: 900 },
  });
}, 60_000);

afterAll(async () => {
  await context?.close();
  if (profile) rmSync(profile, { recursive: true, force: true });
  rmSync(ROOT, { recursive: true, force: true });
});

/** Open `file` and wait until the page says every chart has settled; what it requested and logged. */
async function open(file: string, name: string) {
  const page = await (context as BrowserContext).newPage();
  const requests: string[] = [];
  const errors: string[] = [];
  page.on('request', (r) => requests.push(r.url()));
  page.on('console', (m) => {
    if (m.type() === 'error') errors.push(m.text());
  });
  page.on('pageerror', (e) => errors.push(String(e)));
  const t0 = performance.now();
  await page.goto(pathToFileURL(file).href);
  await page.waitForSelector('body[data-rendered]', { timeout: 30_000 });
  const ms = Math.round(performance.now() - t0);
  // Runs in the page (a string: this project's TypeScript has no DOM types).
  const state = (await page.evaluate(`({
    rendered: document.body.dataset.rendered,
    failed: document.body.dataset.failed,
    figures: [...document.querySelectorAll('figure[data-chart]')].map((f) => ({ id: f.dataset.chart, svg: f.querySelectorAll('svg.marks').length, canvas: f.querySelectorAll('canvas').length })),
    tableCells: document.querySelectorAll('#summary td').length,
  })`)) as {
    rendered: string;
    failed: string;
    figures: Array<{ id: string; svg: number; canvas: number }>;
    tableCells: number;
  };
  await page.screenshot({ path: join(ARTIFACTS, `${name}.png`), fullPage: true });
  for (const f of state.figures)
    await page.locator(`#chart-${f.id}`).screenshot({ path: join(ARTIFACTS, `${name}-${f.id}.png`) });
  await page.close();
  return { requests, errors, state, ms };
}

describe.skipIf(!HAVE_CHROMIUM)('the report in chromium (headless, offline)', () => {
  it('renders every chart from file://, with no console error and no network request', async () => {
    const faults = scenarioSchema.parse({ ...loadScenario('faults-8n'), duration: '4m' });
    const def = scenarioSchema.parse({ ...loadScenario('default'), duration: '60s' });
    await runSimulation({
      scenario: faults,
      topology: presetTopology(faults.topology),
      policy: 'engine',
      out: join(ROOT, 'faults'),
    });
    for (const policy of ['engine', 'numad'] as const)
      await runSimulation({
        scenario: def,
        topology: presetTopology(def.topology),
        policy,
        out: join(ROOT, 'cmp', policy),
      });

    for (const [name, dirs] of [
      ['faults-8n', [join(ROOT, 'faults')]],
      ['compare-default', [join(ROOT, 'cmp')]],
    ] as const) {
      const file = join(ROOT, `${name}.html`);
      const r = await writeReport([...dirs], file);
      const { requests, errors, state, ms } = await open(file, name);
      console.log(`${name}: ${(statSync(file).size / 1e6).toFixed(2)} MB, all charts drawn in ${ms} ms`);
      expect(errors).toEqual([]);
      expect(requests).toEqual([pathToFileURL(file).href]);
      expect(state.failed).toBe('0');
      expect(state.rendered).toBe(String(r.charts));
      expect(state.figures.map((f) => f.id)).toEqual(CHARTS);
      for (const f of state.figures) expect(f.svg + f.canvas, f.id).toBeGreaterThan(0);
      expect(state.tableCells).toBeGreaterThan(20);
    }
  }, 180_000);

  it('a compare opens on its verdict, above the first chart; the latency CDF is the whole histogram', async () => {
    // The runs of the first test: engine and numad on the same arrivals, so the page has a verdict.
    const file = join(ROOT, 'compare-default.html');
    const page = await (context as BrowserContext).newPage();
    const errors: string[] = [];
    page.on('pageerror', (e) => errors.push(String(e)));
    await page.goto(pathToFileURL(file).href);
    await page.waitForSelector('body[data-rendered]', { timeout: 30_000 });
    // Runs in the page (a string: this project's TypeScript has no DOM types).
    const at = (await page.evaluate(`(() => {
      const top = (q) => document.querySelector(q).getBoundingClientRect().top;
      const cdf = document.querySelector('#chart-latency-cdf');
      return { verdict: top('#verdict'), firstChart: top('figure[data-chart]'), firstId: document.querySelector('figure[data-chart]').dataset.chart,
        viewport: window.innerHeight, word: document.querySelector('#verdict table.verdict + p.note span').className,
        cdfBottom: cdf.getBoundingClientRect().bottom,
        steps: [...cdf.querySelectorAll('svg.marks .mark-line path')].map((p) => (p.getAttribute('d').match(/[MLHV]/g) || []).length),
        points: JSON.parse(document.getElementById('fgo-specs').textContent).find((c) => c.el === 'chart-latency-cdf').spec.datasets.cdf.length };
    })()`)) as {
      verdict: number;
      firstChart: number;
      firstId: string;
      viewport: number;
      word: string;
      cdfBottom: number;
      steps: number[];
      points: number;
    };
    expect(await page.locator('#verdict').isVisible()).toBe(true);
    expect(at.verdict).toBeLessThan(at.viewport); // on the first screen, without scrolling
    expect(at.verdict).toBeLessThan(at.firstChart);
    expect(at.firstId).toBe('latency-cdf');
    expect(['win', 'loss']).toContain(at.word);
    // Two runs × every fraction of histograms.json's CDF; each line a step per point.
    expect(at.points).toBe(2 * CDF_FRACTIONS.length);
    expect(at.steps).toHaveLength(2);
    for (const n of at.steps) expect(n).toBeGreaterThan(CDF_FRACTIONS.length);
    await page.screenshot({
      path: join(ARTIFACTS, 'compare-verdict-cdf.png'),
      clip: { x: 0, y: 0, width: 1280, height: Math.ceil(at.cdfBottom) + 8 },
    });
    // The README's picture, refreshed on request only: a test run leaves the tree as it found it.
    if (process.env.FGO_UPDATE_DOCS_IMG === '1')
      copyFileSync(
        join(ARTIFACTS, 'compare-verdict-cdf.png'),
        new URL('../../docs/img/report-verdict.png', import.meta.url).pathname,
      );
    await page.close();
    expect(errors).toEqual([]);
  }, 120_000);

  it('a --vary study: verdict per variant, the delta table and a latency CDF per variant', async () => {
    const dir = join(ROOT, 'vary');
    const r = fgoSync([
      'compare',
      '--scenario',
      'burst-2n',
      '--duration',
      '30s',
      '--policies',
      'engine,least-loaded',
      '--vary',
      'topology=1n-2c,2n-32c',
      '--out',
      dir,
    ]);
    expect(r.code, r.err).toBe(0);
    const file = join(dir, 'report.html');
    const { requests, errors, state } = await open(file, 'vary');
    expect(errors).toEqual([]);
    expect(requests).toEqual([pathToFileURL(file).href]);
    expect(state.failed).toBe('0');
    expect(state.figures.map((f) => f.id)).toEqual(['variant-cdf', ...CHARTS]);
    const page = await (context as BrowserContext).newPage();
    await page.goto(pathToFileURL(file).href);
    await page.waitForSelector('body[data-rendered]', { timeout: 30_000 });
    const v = (await page.evaluate(`({
      grid: [...document.querySelectorAll('#verdict-grid tbody tr')].map((tr) => tr.dataset.scenario),
      delta: [...document.querySelectorAll('#delta tbody tr')].map((tr) => [tr.dataset.variant, tr.dataset.policy, tr.querySelectorAll('td[data-delta]').length]),
      lines: [...document.querySelectorAll('#chart-variant-cdf svg.marks .mark-line path')].map((p) => (p.getAttribute('d').match(/[MLHV]/g) || []).length),
      deltaAboveCharts: document.querySelector('#delta').getBoundingClientRect().top < document.querySelector('figure[data-chart]').getBoundingClientRect().top,
    })`)) as { grid: string[]; delta: Array<[string, string, number]>; lines: number[]; deltaAboveCharts: boolean };
    await page.screenshot({ path: join(ARTIFACTS, 'vary-first-screen.png') });
    await page.close();
    expect(v.grid).toEqual(['burst-2n/topology-1n-2c', 'burst-2n/topology-2n-32c']);
    // Per policy: the first variant is the base (no delta), the second has one per figure.
    expect(v.delta).toEqual([
      ['topology-1n-2c', 'engine', 0],
      ['topology-2n-32c', 'engine', 6],
      ['topology-1n-2c', 'least-loaded', 0],
      ['topology-2n-32c', 'least-loaded', 6],
    ]);
    expect(v.deltaAboveCharts).toBe(true);
    // Two policies × two variants, each the whole CDF.
    expect(v.lines).toHaveLength(4);
    for (const n of v.lines) expect(n).toBeGreaterThan(CDF_FRACTIONS.length);
  }, 180_000);

  it("the scorecard report: the verdict at load, each scenario's charts drawn when its section is opened", async () => {
    const plan = planScorecard({
      scenarios: ['default', 'psi-replay-1n'],
      policies: ['engine', 'least-loaded', 'numad'],
      duration_s: 30,
    });
    const dir = join(ROOT, 'scorecard');
    const doc = await runScorecard(plan, dir, { workers: 0 });
    const file = join(dir, 'report.html');
    const r = await writeSectionedReport(
      plan.scenarios.map((x) => ({
        verdict: doc.verdict.scenarios[x.name]!,
        description: x.description,
        runDirs: plan.policies.map((p) => join(dir, x.name, p)),
      })),
      file,
      'scorecard',
    );
    const page = await (context as BrowserContext).newPage();
    const requests: string[] = [];
    const errors: string[] = [];
    page.on('request', (q) => requests.push(q.url()));
    page.on('console', (m) => void (m.type() === 'error' && errors.push(m.text())));
    page.on('pageerror', (e) => errors.push(String(e)));
    await page.goto(pathToFileURL(file).href);
    await page.waitForSelector('body[data-rendered]', { timeout: 30_000 });
    // Runs in the page (a string: this project's TypeScript has no DOM types).
    const grid = (await page.evaluate(
      `[...document.querySelectorAll('#verdict-grid tbody tr')].map((tr) => [...tr.children].map((c) => [c.textContent, c.className]))`,
    )) as Array<Array<[string, string]>>;
    expect(grid.map((row) => row[0]?.[0])).toEqual(['default', 'psi-replay-1n']);
    for (const [i, row] of grid.entries()) {
      const v = doc.verdict.scenarios[plan.scenarios[i]!.name]!;
      expect(row[1]).toEqual([
        v.engine_wins ? 'engine wins' : 'engine loses',
        `outcome ${v.engine_wins ? 'win' : 'loss'}`,
      ]);
      expect(row.slice(2).map(([text, cls]) => [text.split(' ')[0], cls])).toEqual(
        v.metrics.map((m) => [m.outcome, `outcome ${m.outcome}`]),
      );
    }
    // Nothing drawn until a section is opened.
    expect(await page.evaluate(`document.querySelectorAll('svg.marks, canvas').length`)).toBe(0);
    await page.screenshot({ path: join(ARTIFACTS, 'scorecard.png'), fullPage: true });
    await page.click('details[data-section="psi-replay-1n"] > summary');
    await page.waitForSelector('details[data-section="psi-replay-1n"][data-rendered]', { timeout: 30_000 });
    const section =
      (await page.evaluate(`(() => { const d = document.querySelector('details[data-section="psi-replay-1n"]');
      return { rendered: d.dataset.rendered, failed: d.dataset.failed, drawn: [...d.querySelectorAll('figure[data-chart]')].map((f) => f.querySelectorAll('svg.marks, canvas').length > 0),
        verdictRows: d.querySelectorAll('table.verdict tbody tr').length, tableCells: d.querySelectorAll('#summary-psi-replay-1n td').length,
        other: document.querySelectorAll('details[data-section="default"] svg.marks, details[data-section="default"] canvas').length }; })()`)) as {
        rendered: string;
        failed: string;
        drawn: boolean[];
        verdictRows: number;
        tableCells: number;
        other: number;
      };
    await page.screenshot({ path: join(ARTIFACTS, 'scorecard-open.png'), fullPage: true });
    await page.close();
    console.log(
      `scorecard report: ${(r.bytes / 1e6).toFixed(2)} MB, ${r.charts} charts in ${plan.scenarios.length} sections`,
    );
    expect(section).toEqual({
      rendered: String(CHARTS.length),
      failed: '0',
      drawn: CHARTS.map(() => true),
      verdictRows: 7,
      tableCells: expect.any(Number),
      other: 0,
    });
    expect(section.tableCells).toBeGreaterThan(40);
    expect(errors).toEqual([]);
    expect(requests).toEqual([pathToFileURL(file).href]);
  }, 180_000);
});
