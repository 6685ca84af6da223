/**
 * The dashboard of the real `fgo live` agent in pool mode (echo workers), in real Chromium: the
 * decisions count is the number of decisions the agent made — those made before the page was
 * opened (sent in the stream's history) and those after, as /v1/state's `decisions` — and the
 * pools table shows the pool.
 */
import { existsSync, mkdirSync } from 'node:fs';
import { describe, expect, it } from 'vitest';
import { eachHarness, http, startAgent, state, until, writePoolConfig, type Harness } from './pool-helpers.ts';

const CHROMIUM = '/usr/bin/chromium';
const playwright = await import('playwright-core').catch(() => undefined);
const skip = !existsSync(CHROMIUM)
  ? `${CHROMIUM} missing (apt-get install chromium; .ci/run does)`
  : !playwright
    ? 'playwright-core not installed'
    : '';
if (skip) console.warn(`agent dashboard browser test skipped: ${skip}`);

let h: Harness;
eachHarness((x) => (h = x));

describe.skipIf(skip !== '')('fgo live dashboard, pool mode', () => {
  it('counts the decisions made before the page opened and after', async () => {
    writePoolConfig(h);
    const a = await startAgent(h);
    await until(
      async () =>
        (await state(h, a)).pool.workers.filter((w: { state: string }) => w.state === 'ready').length >= 2
          ? true
          : undefined,
      30_000,
      '2 ready workers',
    );
    const serve = async (x: number) => {
      const r = await http(a.url, 'POST', '/v1/schedule', {
        token: a.token,
        body: { profile: 'echo', payload: { x }, wait: true },
      });
      expect(r.status, r.text).toBe(200);
      expect(r.body?.action).toBe('place');
    };
    for (let i = 0; i < 3; i++) await serve(i);

    const browser = await (playwright as typeof import('playwright-core')).chromium.launch({
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
    try {
      const page = await browser.newPage();
      const errors: string[] = [];
      page.on('pageerror', (e) => errors.push(e.message));
      page.on('console', (m) => {
        if (m.type() === 'error') errors.push(m.text());
      });
      await page.goto(a.url);
      // Page-side code as strings: this file is type-checked without the DOM library.
      await page.waitForFunction("document.getElementById('decisions')?.textContent === '3'", undefined, {
        timeout: 30_000,
      });
      for (let i = 3; i < 5; i++) await serve(i);
      await page.waitForFunction("document.getElementById('decisions')?.textContent === '5'", undefined, {
        timeout: 30_000,
      });
      expect((await state(h, a)).decisions).toEqual({ total: 5, place: 5, defer: 0, shed: 0, reject: 0 });
      await page.waitForFunction("document.querySelector('#pools tbody tr td')?.textContent === 'echo'", undefined, {
        timeout: 30_000,
      });
      expect(Number(await page.textContent('#samples'))).toBeGreaterThan(0);
      mkdirSync('test-results', { recursive: true });
      await page.screenshot({ path: 'test-results/dashboard-agent.png', fullPage: true });
      expect(errors).toEqual([]);
    } finally {
      await browser.close();
    }
  }, 90_000);
});
