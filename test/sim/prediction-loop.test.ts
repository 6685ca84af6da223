/**
 * The demand predictor in the twin's loop (sim/agent-loop.ts) and the trade-off study built on it
 * (sim/tradeoff.ts): the predictor is asked once per scaling cycle for every profile in one batch,
 * awaited at the boundary (so a slow, async predictor changes nothing simulated), recorded in
 * run.json; the pool headroom and the baselines' keep-alive are knobs of a run.
 */
import { existsSync, mkdtempSync, readdirSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { EwmaDemandPredictor, type DemandHistory, type DemandPredictor } from '../../predict/predictor.ts';
import type { PolicyName } from '../../sim/baselines.ts';
import { runSimulation, type RunInputs } from '../../sim/run.ts';
import { loadScenario, scenarioSchema, type Scenario } from '../../sim/scenario.ts';
import { presetTopology } from '../../sim/topologies.ts';
import { compare, formatTradeoff, runTradeoff, type TradeoffPoint } from '../../sim/tradeoff.ts';

const ROOT = mkdtempSync(join(tmpdir(), 'fgo-prediction-loop-'));
afterAll(() => rmSync(ROOT, { recursive: true, force: true }));
let n = 0;

const bundled = (name: string, duration: string): Scenario => scenarioSchema.parse({ ...loadScenario(name), duration });
const text = (dir: string, f: string) => readFileSync(join(dir, f), 'utf8');

async function run(s: Scenario, policy: PolicyName = 'engine', extra: Partial<RunInputs> = {}) {
  const dir = join(ROOT, `run-${n++}`);
  const r = await runSimulation({ scenario: s, topology: presetTopology(s.topology), policy, out: dir, ...extra });
  return { dir, metrics: r.metrics };
}

/** Wraps a predictor: records each batch, answers after a real delay. */
class Recording implements DemandPredictor {
  readonly calls: DemandHistory[][] = [];
  constructor(
    private readonly inner: DemandPredictor,
    private readonly delay_ms = 0,
  ) {}
  get name() {
    return `recorded-${this.inner.name}`;
  }
  get horizon_s() {
    return this.inner.horizon_s;
  }
  get history_len() {
    return this.inner.history_len;
  }
  async forecast(batch: readonly DemandHistory[]) {
    this.calls.push(batch.map((h) => ({ ...h, counts: [...h.counts] })));
    await new Promise((r) => setTimeout(r, this.delay_ms));
    return this.inner.forecast(batch);
  }
}

describe('the predictor in the twin loop', () => {
  it('is asked once per scaling cycle for all profiles in one batch; a slow async predictor changes nothing simulated', async () => {
    const s = bundled('default', '90s'); // scaling every 30 s: boundaries 0, 30, 60, 90 s
    const ref = await run(s);
    const slow = new Recording(new EwmaDemandPredictor(30, 0.5, 8), 5);
    const r = await run(s, 'engine', { predictor: slow });
    expect(slow.calls.map((b) => b.map((h) => [h.profile, h.end_s, h.counts.length]))).toEqual(
      [0, 30, 60, 90].map((t, k) => ['api', 'batch'].map((p) => [p, t, k])),
    );
    // Every arrival of a cycle is counted in it: the counts add up to the arrivals before 90 s.
    const last = slow.calls.at(-1) as DemandHistory[];
    expect(last.reduce((a, h) => a + h.counts.reduce((x, y) => x + y, 0), 0)).toBeLessThanOrEqual(
      r.metrics.requests.arrived,
    );
    expect(last.reduce((a, h) => a + h.counts.reduce((x, y) => x + y, 0), 0)).toBeGreaterThan(
      r.metrics.requests.arrived * 0.95,
    );
    // The same arithmetic as the default (EWMA α 0.5 over whole cycles): byte-identical runs.
    for (const f of ['decisions.jsonl', 'metrics.json', 'timeseries.csv'])
      expect(text(r.dir, f), f).toBe(text(ref.dir, f));
    expect(JSON.parse(text(ref.dir, 'run.json')).predictor).toEqual({ name: 'ewma', horizon_s: 30, headroom: 2 });
    expect(JSON.parse(text(r.dir, 'run.json')).predictor).toEqual({
      name: 'recorded-ewma',
      horizon_s: 30,
      headroom: 2,
    });
  });

  it('the engine sizes its pools from the forecast: covering more of the concurrency costs more idle warm memory for fewer cold starts', async () => {
    const s = bundled('default', '120s');
    const at = (cover: number) => scenarioSchema.parse({ ...s, engine: { ...s.engine, scaling: { cover } } });
    const lean = await run(at(0.9), 'engine');
    const ample = await run(at(0.9999), 'engine');
    expect(ample.metrics.warm_idle_gb_s).toBeGreaterThan(lean.metrics.warm_idle_gb_s);
    expect(ample.metrics.cold_start_ratio).toBeLessThanOrEqual(lean.metrics.cold_start_ratio);
    // The shell's headroom shapes only the recommendation a prediction carries (journalled), not the pools.
    const h1 = await run(s, 'engine', { headroom: 1 });
    const h4 = await run(s, 'engine', { headroom: 4 });
    expect(h4.metrics).toEqual(h1.metrics);
    expect(JSON.parse(text(h1.dir, 'run.json')).predictor).toMatchObject({ headroom: 1 });
  });

  it('a predictor that fails fails the run, leaving no run directory behind', async () => {
    const s = bundled('default', '60s');
    const broken: DemandPredictor = {
      name: 'broken',
      horizon_s: 30,
      history_len: 4,
      forecast: async (b) => (b[0]?.end_s ? Promise.reject(new Error('model exploded')) : []),
    };
    const out = join(ROOT, 'broken');
    await expect(
      runSimulation({ scenario: s, topology: presetTopology(s.topology), policy: 'engine', out, predictor: broken }),
    ).rejects.toThrow('model exploded');
    expect(existsSync(out)).toBe(false);
    expect(readdirSync(ROOT).filter((f) => f.includes('.tmp-'))).toEqual([]);
  });
});

describe("the baselines' keep-alive", () => {
  it('is 10 minutes unless the run sets another: 60 s stops an idle fragment at the first tick 60 s after its last use', async () => {
    // One request at t = 0: cold start 1 s, 1 s of CPU → idle and warm from t = 2 s; stopped at 62 s.
    const s = scenarioSchema.parse({
      name: 'keep',
      duration: '70s',
      topology: '1n-2c',
      profiles: { fn: { cold_start_ms: 1000, cpu_ms: { dist: 'const', mean: 1000 }, memory_mb: 256 } },
    });
    const workload: RunInputs['workload'] = {
      kind: 'request',
      rows: [{ t_ms: 0, profile: 'fn', cpu_ms: 1000, mem_mb: 16, priority: 1, io: false }],
    };
    const r = await run(s, 'least-loaded', { workload, keepAlive_ms: 60_000 });
    const warm = text(r.dir, 'timeseries.csv')
      .trim()
      .split('\n')
      .filter((l) => l.split(',')[1] === 'all')
      .map((l) => Number(l.split(',')[10]));
    expect(warm.slice(2, 62).every((w) => w === 1)).toBe(true);
    expect(warm.slice(62).every((w) => w === 0)).toBe(true);
    expect(r.metrics.warm_idle_gb_s).toBeCloseTo(0.25 * 60, 1);
    expect(JSON.parse(text(r.dir, 'run.json'))).toMatchObject({ policy: 'least-loaded', keep_alive_ms: 60_000 });
    expect(JSON.parse(text((await run(s, 'least-loaded', { workload })).dir, 'run.json')).keep_alive_ms).toBe(600_000);
  });
});

describe('the trade-off study', () => {
  const pt = (policy: PolicyName, value: number, cold: number, idle: number): TradeoffPoint => ({
    policy,
    knob: policy === 'engine' ? 'cover' : 'keep_alive_s',
    value,
    label: String(value),
    cold_start_ratio: cold,
    warm_idle_gb_s: idle,
    latency_p99_ms: 1,
    latency_p50_ms: 1,
    completed: 1,
    wall_s: 0,
  });

  it('compare: the cut in cold starts and the idle-memory ratio against the target (≥ 50 % at ≤ × 1)', () => {
    expect(compare(pt('engine', 2, 0.01, 90), pt('least-loaded', 600, 0.04, 100))).toMatchObject({
      cold_start_reduction_pct: 75,
      idle_memory_ratio: 0.9,
      met: true,
    });
    expect(compare(pt('engine', 2, 0.03, 90), pt('least-loaded', 600, 0.04, 100))).toMatchObject({
      cold_start_reduction_pct: 25,
      met: false,
    });
    expect(compare(pt('engine', 2, 0.01, 110), pt('least-loaded', 600, 0.04, 100))).toMatchObject({
      idle_memory_ratio: 1.1,
      met: false,
    });
  });

  it('runs the engine at each cover and the baseline at each keep-alive (adding the defaults), on identical arrivals', async () => {
    const s = bundled('default', '40s');
    const r = await runTradeoff(
      { scenario: s, topology: presetTopology(s.topology) },
      { covers: [0.9, 0.9999], keepAlives_s: [60], baseline: 'round-robin' },
    );
    expect(r.points.map((p) => [p.policy, p.knob, p.value])).toEqual([
      ['engine', 'cover', 0.9],
      ['engine', 'cover', 0.999],
      ['engine', 'cover', 0.9999],
      ['round-robin', 'keep_alive_s', 60],
      ['round-robin', 'keep_alive_s', 600],
    ]);
    expect(r.headline.engine.value).toBe(0.999);
    expect(r.headline.baseline.value).toBe(600);
    const alone = await runSimulation({ scenario: s, topology: presetTopology(s.topology), policy: 'round-robin' });
    expect(r.headline.baseline.cold_start_ratio).toBe(alone.metrics.cold_start_ratio);
    expect(r.headline.baseline.warm_idle_gb_s).toBe(alone.metrics.warm_idle_gb_s);
    expect(formatTradeoff(r)).toMatch(
      /headline: engine \(cover 0.999\) vs round-robin \(keep-alive 10m\): cold starts [−+]\d/,
    );
  });
});
