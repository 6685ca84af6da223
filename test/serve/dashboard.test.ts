/**
 * The live dashboard: served by the agent's API with its assets and a strict CSP, and — in a real
 * Chromium driven by playwright-core — it starts from the history the server kept and updates its
 * charts as the stream sends samples and decisions, loading nothing from anywhere but the agent.
 * The history itself (serve/stream-history.ts) is bounded by count.
 */
import { existsSync, mkdirSync } from 'node:fs';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { Decision, PsiSet } from '../../engine/types.ts';
import { startApi } from '../../serve/api.ts';
import type { AgentPort } from '../../serve/agent-port.ts';
import type { StreamMessage } from '../../serve/stream-message.ts';
import { API_LIMITS } from '../../serve/limits.ts';
import { AgentMetrics } from '../../serve/metrics.ts';
import { HISTORY_DECISION_BUCKETS, HISTORY_SAMPLES, StreamHistory } from '../../serve/stream-history.ts';

class StreamPort implements AgentPort {
  readonly mode = 'pool' as const;
  readonly metrics = new AgentMetrics();
  readonly listeners = new Set<(m: StreamMessage) => void>();
  /** What was published before the page opened. */
  readonly past = new StreamHistory();
  schedule() {
    return Promise.resolve({ status: 409, body: {} });
  }
  state() {
    return {
      engine: { pools: [{ profile: 'echo', size: 3, starting: 0, warm: 2, active: 1, draining: 0, target: 3 }] },
    };
  }
  subscribe(l: (m: StreamMessage) => void) {
    this.listeners.add(l);
    return () => this.listeners.delete(l);
  }
  history() {
    return this.past.message();
  }
  publish(m: StreamMessage) {
    this.past.record(m);
    for (const l of [...this.listeners]) l(m);
  }
}

const line = (v: number) => ({ avg10: v, avg60: v, avg300: v });
const psi = (cpu: number): PsiSet => ({
  cpu: { some: line(cpu) },
  memory: { some: line(0.01) },
  io: { some: line(0) },
});
const decision = (seq: number, action: Decision['action'], t_ms = 1000 * seq): Decision => ({
  seq,
  t_ms,
  request_id: `r${seq}`,
  profile: 'echo',
  action,
  reason: 'test',
  confidence: 1,
  pressure: {
    cpu: { value: 0, level: 'none', trend: 'steady', velocity_per_s: 0, predicted: 0 },
    memory: { value: 0, level: 'none', trend: 'steady', velocity_per_s: 0, predicted: 0 },
    io: { value: 0, level: 'none', trend: 'steady', velocity_per_s: 0, predicted: 0 },
  },
  scores: [],
  inputs_digest: 'x',
  commands: [],
});

let port: StreamPort;
let api: Awaited<ReturnType<typeof startApi>>;
let base = '';
beforeAll(async () => {
  port = new StreamPort();
  api = await startApi(port, { listen: '127.0.0.1:0', token: 'a'.repeat(64), title: 'test agent' });
  base = `http://127.0.0.1:${api.port}`;
});
afterAll(() => api.close());

describe('dashboard route', () => {
  it('serves the page with a CSP that allows only this origin, and the vega assets from node_modules', async () => {
    const r = await fetch(`${base}/dashboard`);
    expect(r.status).toBe(200);
    expect(r.headers.get('content-security-policy')).toBe(
      "default-src 'none'; script-src 'self' 'unsafe-eval'; style-src 'unsafe-inline'; connect-src 'self'; img-src 'self' data:",
    );
    const html = await r.text();
    expect(html).toContain('<title>test agent</title>');
    for (const src of ['/assets/vega.min.js', '/assets/vega-lite.min.js', '/assets/dashboard.js']) {
      expect(html).toContain(`src="${src}"`);
      const a = await fetch(`${base}${src}`);
      expect([src, a.status, a.headers.get('content-type')]).toEqual([src, 200, 'text/javascript; charset=utf-8']);
      expect((await a.text()).length).toBeGreaterThan(1000);
    }
    expect((await fetch(`${base}/assets/../package.json`)).status).toBe(404);
    expect((await fetch(`${base}/assets/nope.js`)).status).toBe(404);
  });
});

describe('stream history', () => {
  it('full, fits well within what a stream client may have queued (the history goes out as one message)', () => {
    const h = new StreamHistory();
    // Every PSI figure with full precision, both lines: the largest a sample can be.
    const wide = { avg10: 0.123456789012345, avg60: 0.123456789012345, avg300: 0.123456789012345 };
    const set: PsiSet = {
      cpu: { some: wide, full: wide },
      memory: { some: wide, full: wide },
      io: { some: wide, full: wide },
    };
    for (let i = 0; i < HISTORY_SAMPLES; i++) h.record({ type: 'sample', t_ms: 86_400_000 + 1000 * i, psi: set });
    for (let b = 0; b < HISTORY_DECISION_BUCKETS; b++) {
      for (const action of ['place', 'defer', 'shed', 'reject'] as const)
        h.record({ type: 'decision', decision: decision(b, action, 86_400_000 + 10_000 * b) });
    }
    expect(JSON.stringify(h.message()).length).toBeLessThan(API_LIMITS.stream_max_buffered_bytes / 2);
  });

  it('keeps the last HISTORY_SAMPLES samples and HISTORY_DECISION_BUCKETS 10-s buckets of decision counts; totals count everything', () => {
    const h = new StreamHistory();
    expect(h.message()).toEqual({
      type: 'history',
      samples: [],
      decisions: [],
      samples_total: 0,
      decisions_total: 0,
      limits: { samples: 600, decision_buckets: 360, bucket_s: 10 },
    });
    for (let i = 0; i < HISTORY_SAMPLES + 5; i++) h.record({ type: 'sample', t_ms: 1000 * i, psi: psi(0) });
    // One decision in each of 365 buckets (t = 0, 10, ..., 3640 s), a second place in the last one.
    for (let b = 0; b < HISTORY_DECISION_BUCKETS + 5; b++)
      h.record({ type: 'decision', decision: decision(b, b % 2 ? 'defer' : 'place', 10_000 * b + 1) });
    h.record({ type: 'decision', decision: decision(999, 'place', 3_649_999) });
    h.record({ type: 'event', t_ms: 0, level: 'info', text: 'not kept' });
    const m = h.message();
    expect([m.samples.length, m.samples[0]?.t_ms, m.samples.at(-1)?.t_ms, m.samples_total]).toEqual([
      600, 5000, 604_000, 605,
    ]);
    expect(m.decisions_total).toBe(366);
    expect(h.decisions()).toEqual({ total: 366, place: 184, defer: 182, shed: 0, reject: 0 });
    expect(m.decisions.length).toBe(360);
    expect(m.decisions[0]).toEqual({ bucket_s: 50, action: 'defer', count: 1 });
    expect(m.decisions.at(-1)).toEqual({ bucket_s: 3640, action: 'place', count: 2 });
  });
});

const CHROMIUM = '/usr/bin/chromium';
const playwright = await import('playwright-core').catch(() => undefined);
const browserSkip = !existsSync(CHROMIUM)
  ? `${CHROMIUM} missing (apt-get install chromium; .ci/run does)`
  : !playwright
    ? 'playwright-core not installed'
    : '';
if (browserSkip) console.warn(`dashboard browser test skipped: ${browserSkip}`);

describe.skipIf(browserSkip !== '')('dashboard in Chromium', () => {
  it('shows stream updates: samples and decisions reach the charts; nothing is fetched from elsewhere', async () => {
    const pw = playwright as typeof import('playwright-core');
    const browser = await pw.chromium.launch({
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
      ], // launch() gives every browser a fresh temporary profile
    });
    try {
      const page = await browser.newPage();
      const errors: string[] = [];
      const requests: string[] = [];
      page.on('console', (m) => {
        if (m.type() === 'error') errors.push(m.text());
      });
      page.on('pageerror', (e) => errors.push(e.message));
      page.on('request', (r) => requests.push(r.url()));
      // Published before the page opened: the page starts from them (the history), then follows the stream.
      for (let i = 1; i <= 3; i++) port.publish({ type: 'sample', t_ms: 1000 * i, psi: psi(0.1 * i) });
      port.publish({ type: 'decision', decision: decision(1, 'place') });
      await page.goto(`${base}/dashboard`);
      // Page-side code as strings: this file is type-checked without the DOM library.
      await page.waitForFunction("document.getElementById('status')?.textContent === 'live'");
      await page.waitForFunction(
        "document.getElementById('samples')?.textContent === '3' && document.getElementById('decisions')?.textContent === '1'",
      );
      for (let i = 4; i <= 5; i++) port.publish({ type: 'sample', t_ms: 1000 * i, psi: psi(0.1 * i) });
      port.publish({ type: 'decision', decision: decision(2, 'defer') });
      port.publish({ type: 'decision', decision: decision(15, 'place') });
      await page.waitForFunction(
        "document.getElementById('samples')?.textContent === '5' && document.getElementById('decisions')?.textContent === '3'",
      );
      // The PSI chart drew three lines (cpu, memory, io) through the samples; the bar chart three
      // bars: place and defer in the 0–10 s bucket, place in the 10–20 s one.
      expect(await page.locator('#psi svg g.mark-line path').count()).toBe(3);
      expect(await page.locator('#actions svg g.mark-rect path').count()).toBe(3);
      expect(await page.textContent('#clock')).toBe('0:00:15');
      await page.waitForFunction("document.querySelectorAll('#pools tbody tr').length === 1");
      mkdirSync('test-results', { recursive: true });
      await page.screenshot({ path: 'test-results/dashboard.png', fullPage: true });
      expect(errors).toEqual([]);
      expect(requests.filter((u) => !u.startsWith(base))).toEqual([]);
    } finally {
      await browser.close();
    }
  }, 60_000);
});
