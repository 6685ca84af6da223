/**
 * `fgo sim --serve`: the live dashboard on a simulated run, in real Chromium. The page follows the
 * run as it plays (samples and decisions arrive while the run is paced to the wall clock), and a
 * page opened only after the run finished still shows it: the server sends the history it kept,
 * /v1/state holds the engine's status (the pools table) and the fgo_* metrics reflect the run.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { existsSync, mkdirSync, mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';

const CHROMIUM = '/usr/bin/chromium';
const playwright = await import('playwright-core').catch(() => undefined);
const skip = !existsSync(CHROMIUM)
  ? `${CHROMIUM} missing (apt-get install chromium; .ci/run does)`
  : !playwright
    ? 'playwright-core not installed'
    : '';
if (skip) console.warn(`sim --serve browser test skipped: ${skip}`);

/** Start `fgo sim --serve` on a free port; `stderr()` is everything it wrote there so far. */
function serveSim(args: string[]): { child: ChildProcess; stderr: () => string } {
  const out = mkdtempSync(join(tmpdir(), 'fgo-serve-'));
  const child = spawn(
    process.execPath,
    ['bin/fgo.mjs', 'sim', ...args, '--serve', '127.0.0.1:0', '--out', join(out, 'run')],
    { stdio: ['ignore', 'pipe', 'pipe'] },
  );
  let err = '';
  child.stderr?.on('data', (b: Buffer) => (err += b.toString()));
  return { child, stderr: () => err };
}

/** Poll until `fn` returns something; generous deadlines, since both CPUs may be busy. */
async function until<T>(fn: () => T | undefined, ms: number, what: string): Promise<T> {
  for (const end = Date.now() + ms; ; ) {
    const v = fn();
    if (v !== undefined) return v;
    if (Date.now() > end) throw new Error(`timed out after ${ms} ms waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 100));
  }
}

async function launch() {
  return (playwright as typeof import('playwright-core')).chromium.launch({
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
  });
}

async function stop(child: ChildProcess): Promise<void> {
  if (child.exitCode !== null) return;
  child.kill('SIGINT');
  await new Promise((r) => child.once('exit', r));
}

/**
 * One sample's value from Prometheus text: the metric whose name starts with `prefix` and whose
 * labels are exactly `labels` (the prefix, not the whole name, so a unit suffix does not matter).
 */
function sample(text: string, prefix: string, labels = ''): number | undefined {
  const re = new RegExp(`^${prefix}\\w*${labels.replace(/[{}]/g, '\\$&')} `);
  const line = text.split('\n').find((l) => re.test(l));
  return line === undefined ? undefined : Number(line.split(' ').pop());
}

describe.skipIf(skip !== '')('fgo sim --serve', () => {
  it('serves the dashboard while the run plays; the charts fill as it goes', async () => {
    const { child, stderr } = serveSim(['--scenario', 'default', '--duration', '10m', '--speed', '20']);
    const browser = await launch();
    try {
      const url = await until(
        () => /dashboard: (http:\S+)/.exec(stderr())?.[1],
        20_000,
        `the dashboard's address; stderr: ${stderr()}`,
      );
      const page = await browser.newPage();
      const errors: string[] = [];
      page.on('pageerror', (e) => errors.push(e.message));
      page.on('console', (m) => {
        if (m.type() === 'error') errors.push(m.text());
      });
      await page.goto(url);
      // Page-side code as strings: this file is type-checked without the DOM library.
      await page.waitForFunction(
        "Number(document.getElementById('samples')?.textContent) >= 5 && Number(document.getElementById('decisions')?.textContent) >= 50",
        undefined,
        { timeout: 30_000 },
      );
      const first = Number(await page.textContent('#samples'));
      await page.waitForFunction(`Number(document.getElementById('samples')?.textContent) > ${first}`, undefined, {
        timeout: 10_000,
      });
      expect(await page.locator('#psi svg path').count()).toBeGreaterThan(0);
      mkdirSync('test-results', { recursive: true });
      await page.screenshot({ path: 'test-results/sim-serve.png', fullPage: true });
      expect(errors).toEqual([]);
    } finally {
      await browser.close();
      await stop(child);
    }
  }, 90_000);

  it('opened after the run finished, shows the run: history in the charts, the pools, the decisions; /v1/state and /metrics hold the run', async () => {
    // burst-2n has two profiles (ingest, thumb); 10 simulated minutes at 200× play in about 3 s.
    const { child, stderr } = serveSim(['--scenario', 'burst-2n', '--duration', '10m', '--speed', '200']);
    const browser = await launch();
    try {
      await until(
        () => (/run finished/.test(stderr()) ? true : undefined),
        90_000,
        `the run to finish; stderr: ${stderr()}`,
      );
      const url = (/dashboard: (http:\S+)/.exec(stderr()) as RegExpExecArray)[1] as string;

      // The fields of the state this test reads.
      const state = (await (await fetch(`${url}v1/state`)).json()) as {
        t_ms: number;
        engine: { pools: Array<{ profile: string; warm: number }>; nodes: Array<{ id: number }> };
        decisions: Record<'total' | 'place' | 'defer' | 'shed' | 'reject', number>;
      };
      expect(state.t_ms).toBe(600_000);
      expect(state.engine.pools.map((p) => p.profile)).toEqual(['ingest', 'thumb']);
      expect(state.engine.nodes.map((n) => n.id)).toEqual([0, 1]);
      const d = state.decisions;
      expect(d.total).toBeGreaterThan(0);
      expect(d.place + d.defer + d.shed + d.reject).toBe(d.total);

      const metrics = await (await fetch(`${url}metrics`)).text();
      const byAction = ['place', 'defer', 'shed', 'reject'].map(
        (a) => sample(metrics, 'fgo_decisions_total', `{action="${a}"}`) ?? 0,
      );
      expect(byAction).toEqual([d.place, d.defer, d.shed, d.reject]);
      expect(sample(metrics, 'fgo_cold_starts_total')).toBeGreaterThan(0);
      const warm = state.engine.pools[0]?.warm;
      expect(warm).toBeGreaterThan(0);
      expect(sample(metrics, 'fgo_pool_fragments', '{profile="ingest",state="warm"}')).toBe(warm);
      expect(sample(metrics, 'fgo_node_cpu_utilization_ratio', '{node="0"}')).toBeGreaterThan(0);

      const page = await browser.newPage();
      const errors: string[] = [];
      page.on('pageerror', (e) => errors.push(e.message));
      page.on('console', (m) => {
        if (m.type() === 'error') errors.push(m.text());
      });
      await page.goto(url);
      // Everything below came in the history: the run sends nothing more. One sample per agent tick
      // (1 s), t = 0 … 600 s: 601 in all, of which the history kept the last 600 (HISTORY_SAMPLES).
      await page.waitForFunction(
        `document.getElementById('decisions')?.textContent === '${d.total}' && document.getElementById('samples')?.textContent === '601'`,
        undefined,
        { timeout: 30_000 },
      );
      await page.waitForFunction("document.querySelectorAll('#pools tbody tr').length === 2", undefined, {
        timeout: 30_000,
      });
      expect(await page.textContent('#clock')).toBe('0:10:00');
      expect(await page.locator('#pools tbody tr td:first-child').allTextContents()).toEqual(['ingest', 'thumb']);
      // Three PSI lines; a bar for each action in each 10-s bucket that has one (60 buckets, every one with placements).
      expect(await page.locator('#psi svg g.mark-line path').count()).toBe(3);
      expect(await page.locator('#actions svg g.mark-rect path').count()).toBeGreaterThanOrEqual(60);
      // No two axis labels of a chart overlap (the decisions chart once labelled every bucket).
      const overlaps = await page.evaluate(`[...document.querySelectorAll('#psi svg, #actions svg')].flatMap((svg) => {
        const boxes = [...svg.querySelectorAll('.role-axis-label text')].filter((t) => t.textContent).map((t) => t.getBoundingClientRect());
        return boxes.flatMap((a, i) => boxes.slice(i + 1).filter((b) => a.left < b.right && b.left < a.right && a.top < b.bottom && b.top < a.bottom).map(() => 1));
      }).length`);
      expect(overlaps).toBe(0);
      expect(await page.locator('#actions svg .role-axis-label text').count()).toBeGreaterThan(4);
      mkdirSync('test-results', { recursive: true });
      await page.screenshot({ path: 'test-results/sim-serve-late-join.png', fullPage: true });
      expect(errors).toEqual([]);
    } finally {
      await browser.close();
      await stop(child);
    }
  }, 180_000);
});
