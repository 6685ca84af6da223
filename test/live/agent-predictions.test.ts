/**
 * Demand predictions in the live agent's loop (pool mode): the requests asked for are counted per
 * scaling interval, the predictor is asked once an interval closes (never waited for), and its
 * predictions reach the engine as the next tick call's argument — so they are in the journal and
 * `replay` feeds the engine exactly what it saw. Also `makePredictor`'s documented fallback: no
 * usable model → one warning and the EWMA predictor.
 *
 * PoolForecasts is tested on a stand-in agent and clock (exact numbers); the end-to-end test runs
 * a real in-process Agent in dry run (no enforcement) with echo workers.
 */
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import type { Prediction } from '../../engine/types.ts';
import { Agent } from '../../live/agent.ts';
import { parseLiveConfig, type LiveConfig } from '../../live/config.ts';
import { readJournal } from '../../live/journal.ts';
import { makePredictor, PoolForecasts, type PoolMode } from '../../live/pool-mode.ts';
import type { JournalEntry } from '../../live/port.ts';
import { replay } from '../../live/replay.ts';
import { resolveRoots } from '../../formats/host/roots.ts';
import { ECHO_WORKER, until } from './pool-helpers.ts';

const dirs: string[] = [];
const tempDir = () => {
  const d = mkdtempSync(join(tmpdir(), 'fgo-predict-test-'));
  dirs.push(d);
  return d;
};
let agent: Agent | undefined;
afterEach(async () => {
  await agent?.stop();
  agent = undefined;
  for (const d of dirs.splice(0)) rmSync(d, { recursive: true, force: true });
});

function poolConfig(
  dir: string,
  over: { scaling_ms?: number; predictor?: Record<string, unknown>; interval_ms?: number } = {},
): LiveConfig {
  return parseLiveConfig(
    {
      mode: 'pool',
      interval_ms: over.interval_ms ?? 100,
      state_dir: join(dir, 'state'),
      cgroup_parent: `fgo-predict-test-${process.pid}`,
      triggers: [],
      pool: {
        workers: { echo: { command: [process.execPath, ECHO_WORKER], ready_timeout_ms: 10_000, stop_grace_ms: 1_000 } },
      },
      ...(over.predictor ? { predictor: over.predictor } : {}),
      engine: {
        pressure: { signal: 'avg10', thresholds: { cpu: { low: 0.8, medium: 0.9, high: 0.95, critical: 0.99 } } },
        scaling: { interval_ms: over.scaling_ms ?? 10_000 },
        profiles: { echo: { cpus: 0.5, memory_kb: 65_536, warm_start_ms: 5, pool: { min: 0, target: 1, max: 4 } } },
      },
    },
    dir,
  );
}

describe('makePredictor', () => {
  it('without a model: the EWMA predictor, forecasting one scaling interval ahead, no warning', async () => {
    const warnings: string[] = [];
    const p = await makePredictor(poolConfig(tempDir()), (m) => warnings.push(m));
    expect(p).toMatchObject({ name: 'ewma', horizon_s: 10 });
    expect(warnings).toEqual([]);
  });

  it('a model path that does not exist: one warning, then the EWMA predictor (the path resolved against the config file)', async () => {
    const dir = tempDir();
    const cfg = poolConfig(dir, { predictor: { model: 'models/missing.onnx', headroom: 3 } });
    expect(cfg.predictor).toEqual({ model: join(dir, 'models/missing.onnx'), headroom: 3 });
    const warnings: string[] = [];
    const p = await makePredictor(cfg, (m) => warnings.push(m));
    expect(p.name).toBe('ewma');
    expect(warnings).toEqual([
      `demand model ${join(dir, 'models/missing.onnx')}: no such file; forecasting with EWMA (alpha 0.5) instead`,
    ]);
  });

  it('the committed ONNX model loads and forecasts through onnxruntime, without a warning', async () => {
    const cfg = poolConfig(tempDir(), { predictor: { model: join(process.cwd(), 'models/demand.onnx') } });
    const warnings: string[] = [];
    const p = await makePredictor(cfg, (m) => warnings.push(m));
    expect([p.name, warnings]).toEqual(['onnx', []]);
    // Intervals of the scaling interval, as the agent's tracker counts them.
    const [f] = await p.forecast([
      { profile: 'echo', interval_s: p.horizon_s, end_s: 3_600, counts: new Array(24).fill(10) },
    ]);
    expect(f?.profile).toBe('echo');
    expect(f?.arrivals).toBeGreaterThan(8); // a flat 10 per interval forecasts near 10 (the model's median: 9.65)
    expect(f?.arrivals).toBeLessThan(20);
  });
});

describe('PoolForecasts (stand-in agent and clock)', () => {
  function setup() {
    const cfg = poolConfig(tempDir());
    const notes: string[] = [],
      warnings: string[] = [];
    const fake = {
      cfg,
      now: () => 1234,
      warn: (m: string) => warnings.push(m),
      note: (_t: number, _l: string, text: string) => notes.push(text),
    };
    const clock = { s: 1_000_003 }; // 3 s into a 10-s interval of the wall clock
    const f = new PoolForecasts(fake, () => clock.s);
    return { f, cfg, clock, notes, warnings };
  }
  const settle = () => new Promise((r) => setImmediate(r));

  it('asks once per closed interval, after the first request; hands each forecast to one tick', async () => {
    const { f, cfg, clock, notes } = setup();
    f.use(await makePredictor(cfg, () => {}));
    expect(notes).toEqual(['demand predictor: ewma, horizon 10 s, headroom 2']);
    f.poll();
    expect(f.asked).toBe(0); // no interval closed yet
    for (let i = 0; i < 40; i++) f.arrival('echo'); // 40 requests in [1,000,000, 1,000,010)
    f.served('echo', 245); // + warm start 5 → 250 ms of service
    clock.s = 1_000_010.5;
    f.poll();
    f.poll(); // the same interval: not asked again
    expect(f.asked).toBe(1);
    expect(f.handOver()).toBeUndefined(); // the forecast is not in yet: the turn does not wait
    await settle();
    // EWMA of [40] per 10 s → 4/s; 4/s × 0.25 s × headroom 2 = 2 → 2 + 1.
    const expected: Prediction[] = [{ profile: 'echo', demand_per_s: 4, recommended_size: 3, confidence: 0.5 }];
    expect(f.handOver()).toEqual(expected);
    expect(f.handOver()).toBeUndefined(); // handed over once; the engine keeps it
    expect(f.state()).toMatchObject({
      name: 'ewma',
      horizon_s: 10,
      headroom: 2,
      interval_s: 10,
      asked: 1,
      answered: 1,
      failed: 0,
      last: { t_ms: 1234, predictions: expected },
    });

    clock.s = 1_000_020; // next interval closed with no requests: EWMA 0.5 × 0 + 0.5 × 40 = 20 → 2/s
    f.poll();
    await settle();
    // 2/s × 0.25 s × 2 = 1 → 1 + 1.
    expect(f.handOver()).toEqual([{ profile: 'echo', demand_per_s: 2, recommended_size: 2, confidence: 0.5 }]);
  });

  it('before any request nothing is forecast (the configured pool targets hold); a failing predictor warns and keeps the last', async () => {
    const { f, clock, warnings } = setup();
    f.use({
      name: 'broken',
      horizon_s: 10,
      history_len: 4,
      forecast: () => Promise.reject(new Error('model exploded')),
    });
    clock.s += 30;
    f.poll();
    expect(f.asked).toBe(0);
    f.arrival('echo');
    clock.s += 10;
    f.poll();
    await settle();
    expect(f.asked).toBe(1);
    expect(f.failed).toBe(1);
    expect(f.handOver()).toBeUndefined();
    expect(warnings).toEqual(['demand predictor broken failed: model exploded; the pools keep the last predictions']);
  });
});

describe('the live agent in pool mode (in process, dry run)', () => {
  it('predictions reach the engine as tick arguments, are journalled, replay exactly and show in the state', async () => {
    const dir = tempDir();
    const cfg = poolConfig(dir, { scaling_ms: 1_000 });
    agent = new Agent({ config: cfg, roots: resolveRoots(), enforce: false, version: 'test', log: () => {} });
    agent.start();
    const a = agent;
    // The predictor fields this test reads (PoolForecasts.state()).
    type PredictorState = { name: string | null; asked: number; answered: number; last: { predictions: unknown } };
    const pool = () => (a.state() as { pool: ReturnType<PoolMode['state']> & { predictor: PredictorState } }).pool;
    await until(() => pool().predictor.name === 'ewma', 5_000, 'the predictor');

    const replies = await Promise.all(
      Array.from({ length: 8 }, (_, i) => a.schedule({ profile: 'echo', priority: 1, payload: { i }, wait: true })),
    );
    for (const r of replies) expect(r.status).toBe(200);

    const journal = join(cfg.state_dir, 'journal');
    type Call = Extract<JournalEntry, { type: 'call' }>;
    const ticks = () =>
      (readJournal(journal).entries as JournalEntry[]).filter((e): e is Call => e.type === 'call' && e.op === 'tick');
    const withPredictions = () => ticks().filter((c) => c.args.length === 1);
    await until(() => withPredictions().length >= 1, 10_000, 'a tick call carrying predictions');
    // One more scaling cycle, so the engine has sized the pool from them.
    await until(
      () => a.engine.engine.lastScaling.some((d) => d.profile === 'echo' && /^predicted /.test(d.reason)),
      10_000,
      'a scaling decision from the predictions',
    );
    const state = pool().predictor;
    await a.stop();
    agent = undefined;

    const carried = withPredictions();
    const first = carried[0]?.args[0] as Prediction[];
    expect(first).toEqual([
      { profile: 'echo', demand_per_s: expect.any(Number), recommended_size: expect.any(Number), confidence: 0.5 },
    ]);
    expect(first[0]?.demand_per_s).toBeGreaterThan(0);
    // Every other tick carries nothing: each forecast is handed over once.
    expect(ticks().length).toBeGreaterThan(carried.length);
    for (const c of ticks()) expect(c.args.length === 0 || c.args.length === 1).toBe(true);
    // GET /v1/state shows the predictor and the latest predictions — the last ones journalled (or newer, if one was still on its way).
    expect(state).toMatchObject({ name: 'ewma', horizon_s: 1, model: null, headroom: 2, interval_s: 1 });
    expect(state.asked).toBeGreaterThanOrEqual(carried.length);
    // (A forecast answered after the last journalled tick is newer than every carried one.)
    const journaled = carried.map((c) => JSON.stringify(c.args[0]));
    if (!journaled.includes(JSON.stringify(state.last.predictions)))
      expect(state.answered).toBeGreaterThan(carried.length);

    const report = replay(readJournal(journal).entries);
    expect(report.differences).toEqual([]);
    expect(report.problems).toEqual([]);
    expect(report.calls).toBeGreaterThan(ticks().length);
  }, 40_000);
});
