/**
 * The exported ONNX model against the TypeScript model it came from, through the real
 * onnxruntime-node, on the held-out halves of the bundled traces; byte-for-byte reproducible
 * training; and the shell-facing predictor (one run per batch, same numbers as evaluation).
 * Models here are small (few trees) to keep the suite fast; the committed model is checked in
 * cli.test.ts.
 */
import { readdirSync } from 'node:fs';
import { join } from 'node:path';
import * as ort from 'onnxruntime-node';
import { beforeAll, describe, expect, it } from 'vitest';
import { buildExamples } from '../../predict/examples.ts';
import { featureIndex, HISTORY_LEN } from '../../predict/features.ts';
import { loadTrace, type LoadedTrace } from '../../predict/input.ts';
import { MIN_WIDTH } from '../../predict/guard.ts';
import { heldOutTargets } from '../../predict/metrics.ts';
import { predictArrivals, type DemandModel } from '../../predict/model.ts';
import { modelToOnnx, readOnnxMeta } from '../../predict/onnx.ts';
import { openModel, OnnxDemandPredictor } from '../../predict/onnx-predictor.ts';
import { trainDemandModel, type TrainOptions } from '../../predict/train.ts';

const ROOT = new URL('../../', import.meta.url).pathname;
const DEMAND = join(ROOT, 'traces/demand');
const ALL = () =>
  readdirSync(DEMAND)
    .filter((f) => f.endsWith('.csv'))
    .sort()
    .map((f) => loadTrace(join(DEMAND, f)));

/** Every held-out row of every trace: the model's inputs and the TypeScript outputs. */
function heldOut(model: DemandModel, traces: readonly LoadedTrace[]) {
  const cols = featureIndex(model.meta.features);
  return traces.map((t) => {
    const ex = buildExamples(heldOutTargets(t.series, undefined), cols);
    const level = Float32Array.from(ex.scale);
    const anchor = Float32Array.from(ex.anchor);
    return { trace: t.name, X: ex.X, level, anchor, ts: predictArrivals(model, ex.X, level, anchor) };
  });
}

async function ortOutputs(
  bytes: Uint8Array,
  X: Float32Array,
  level: Float32Array,
  anchor: Float32Array,
): Promise<{ p50: Float32Array; p90: Float32Array }> {
  const s = await ort.InferenceSession.create(bytes, { intraOpNumThreads: 1 });
  const n = level.length;
  const r = await s.run({
    features: new ort.Tensor('float32', X, [n, X.length / n]),
    level: new ort.Tensor('float32', level, [n, 1]),
    anchor: new ort.Tensor('float32', anchor, [n, 1]),
  });
  await s.release();
  return { p50: r.arrivals?.data as Float32Array, p90: r.arrivals_p90?.data as Float32Array };
}

describe('ONNX export', () => {
  let traces: LoadedTrace[];
  beforeAll(() => {
    traces = ALL();
  });

  it('onnxruntime gives the TypeScript outputs bit for bit, P50 and P90, on every held-out row', async () => {
    const { model } = trainDemandModel(traces, { seed: 'parity', feature_set: 'no_clock', gbt: { trees: 40 } });
    const onnx = modelToOnnx(model);
    let rows = 0;
    for (const h of heldOut(model, traces)) {
      const out = await ortOutputs(onnx, h.X, h.level, h.anchor);
      // Same float32 sums in the same order, then the same Mul, Add and Relu.
      expect(Array.from(out.p50), h.trace).toEqual(Array.from(h.ts.p50));
      expect(Array.from(out.p90), h.trace).toEqual(Array.from(h.ts.p90));
      rows += h.ts.p50.length;
    }
    expect(rows).toBeGreaterThan(20_000);
  }, 120_000);

  it('same data and seed give the same bytes; another seed other bytes', () => {
    const some = traces.filter((t) => /nyc_taxi|azure|alibaba/.test(t.name));
    const opts: TrainOptions = { seed: 'bytes', feature_set: 'no_clock', gbt: { trees: 15 } };
    const a = trainDemandModel(some, opts);
    const b = trainDemandModel(some, opts);
    const bytes = modelToOnnx(a.model);
    expect(Buffer.from(modelToOnnx(b.model)).equals(Buffer.from(bytes))).toBe(true);
    expect(JSON.stringify(b.card)).toBe(JSON.stringify(a.card));
    const c = trainDemandModel(some, { ...opts, seed: 'other' });
    expect(Buffer.from(modelToOnnx(c.model)).equals(Buffer.from(bytes))).toBe(false);
    expect(readOnnxMeta(bytes)).toEqual({
      format: 'fgo-demand/2',
      features: a.model.meta.features,
      horizon: '1 interval',
      history_len: HISTORY_LEN,
    });
  }, 120_000);

  it('the predictor: one run per batch for all profiles, the numbers evaluation gets', async () => {
    const taxi = traces.find((t) => t.name === 'nyc_taxi') as LoadedTrace;
    const { model } = trainDemandModel([taxi], { seed: 'p', feature_set: 'no_clock', gbt: { trees: 10 } });
    const { session, meta } = await openModel(modelToOnnx(model));
    const horizon_s = 3600; // two 30-minute intervals
    const p = new OnnxDemandPredictor(session, meta, horizon_s, () => undefined);
    let runs = 0;
    const run = session.run.bind(session);
    (session as unknown as { run: typeof run }).run = ((...args: Parameters<typeof run>) => {
      runs++;
      return run(...args);
    }) as typeof run;
    const s = taxi.series[0] as LoadedTrace['series'][number];
    const ks = [6000, 7000, 8000, 9000, 10_000];
    const batch = ks.map((k, i) => ({
      profile: `p${i}`,
      interval_s: s.interval_s,
      end_s: s.t_s[k] as number,
      counts: s.counts.slice(0, k),
    }));
    const got = await p.forecast(batch);
    expect(runs).toBe(1);
    expect(got.map((f) => [f.profile, f.horizon_s])).toEqual(ks.map((_, i) => [`p${i}`, 3600]));
    // The evaluation path for the same intervals, at a horizon of two intervals.
    const targets = heldOutTargets([s], horizon_s).filter((t) => ks.includes(t.k));
    const ex = buildExamples(targets, featureIndex(meta.features));
    const want = predictArrivals(model, ex.X, Float32Array.from(ex.scale), Float32Array.from(ex.anchor));
    // A fresh guard forecasts with the model: its P50, and P90 = P50 + the model's band (at least
    // MIN_WIDTH of the scale).
    expect(got.map((f) => f.arrivals)).toEqual(Array.from(want.p50));
    got.forEach((f, i) => {
      expect(f.arrivals_p90).toBeCloseTo(
        (want.p50[i] as number) +
          Math.max((want.p90[i] as number) - (want.p50[i] as number), MIN_WIDTH * (ex.scale[i] as number)),
        2,
      );
    });
    expect(await p.forecast([])).toEqual([]);
    expect(runs).toBe(1);
  }, 60_000);
});
