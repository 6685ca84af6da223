/**
 * `fgo sim --serve`: the live dashboard on a simulated run, in real Chromium. The page follows the
 * run as it plays (samples and decisions arrive while the run is paced to the wall clock).
 */
import { spawn } from 'node:child_process';
import { existsSync, mkdirSync, mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';

const CHROMIUM = '/usr/bin/chromium';
const playwright = await import('playwright-core').catch(() => undefined);
const skip = !existsSync(CHROMIUM) ? `${CHROMIUM} missing (apt-get install chromium; .ci/run does)` : !playwright ? 'playwright-core not installed' : '';
if (skip) console.warn(`sim --serve browser test skipped: ${skip}`);

describe.skipIf(skip !== '')('fgo sim --serve', () => {
  it('serves the dashboard while the run plays; the charts fill as it goes', async () => {
    const out = mkdtempSync(join(tmpdir(), 'fgo-serve-'));
    const child = spawn(process.execPath, ['bin/fgo.mjs', 'sim', '--scenario', 'default', '--duration', '10m', '--serve', '127.0.0.1:0', '--speed', '20', '--out', join(out, 'run')], { stdio: ['ignore', 'pipe', 'pipe'] });
    let err = '';
    child.stderr.on('data', (b: Buffer) => (err += b.toString()));
    const browser = await (playwright as typeof import('playwright-core')).chromium.launch({
      executablePath: CHROMIUM, headless: true,
      args: ['--no-sandbox', '--disable-gpu', '--disable-background-networking', '--disable-component-update', '--disable-sync', '--no-first-run', '--disable-quic'],
    });
    try {
      const deadline = Date.now() + 20_000;
      while (!/dashboard: (http:\S+)/.test(err) && Date.now() < deadline) await new Promise((r) => setTimeout(r, 100));
      const url = /dashboard: (http:\S+)/.exec(err)?.[1];
      expect(url, err).toBeDefined();
      const page = await browser.newPage();
      const errors: string[] = [];
      page.on('pageerror', (e) => errors.push(e.message));
      page.on('console', (m) => { if (m.type() === 'error') errors.push(m.text()); });
      await page.goto(url as string);
      // Page-side code as strings: this file is type-checked without the DOM library.
      await page.waitForFunction("Number(document.getElementById('samples')?.textContent) >= 5 && Number(document.getElementById('decisions')?.textContent) >= 50", undefined, { timeout: 30_000 });
      const first = Number(await page.textContent('#samples'));
      await page.waitForFunction(`Number(document.getElementById('samples')?.textContent) > ${first}`, undefined, { timeout: 10_000 });
      expect(await page.locator('#psi svg path').count()).toBeGreaterThan(0);
      mkdirSync('test-results', { recursive: true });
      await page.screenshot({ path: 'test-results/sim-serve.png', fullPage: true });
      expect(errors).toEqual([]);
    } finally {
      await browser.close();
      child.kill('SIGINT');
      await new Promise((r) => child.once('exit', r));
    }
  }, 90_000);
});
