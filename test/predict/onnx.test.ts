/**
 * The exported ONNX model against the TypeScript model it came from, through the real
 * onnxruntime-node, on the held-out halves of the bundled traces; byte-for-byte reproducible
 * training; and the shell-facing predictor (one run per batch, same numbers as evaluation).
 * Models here are small (few trees, few epochs) to keep the suite fast; the committed model is
 * checked in predict-cli.test.ts.
 */
import { readdirSync } from 'node:fs';
import { join } from 'node:path';
import * as ort from 'onnxruntime-node';
import { beforeAll, describe, expect, it } from 'vitest';
import { buildExamples } from '../../predict/examples.ts';
import { featureIndex, HISTORY_LEN } from '../../predict/features.ts';
import { loadTrace, type LoadedTrace } from '../../predict/input.ts';
import { heldOutTargets } from '../../predict/metrics.ts';
import { predictArrivals, type DemandModel } from '../../predict/model.ts';
import { readOnnxMeta } from '../../predict/onnx.ts';
import { openModel, OnnxDemandPredictor } from '../../predict/onnx-predictor.ts';
import { trainDemandModel, type TrainOptions } from '../../predict/train.ts';

const ROOT = new URL('../../', import.meta.url).pathname;
const DEMAND = join(ROOT, 'traces/demand');
const ALL = () => readdirSync(DEMAND).filter((f) => f.endsWith('.csv')).sort().map((f) => loadTrace(join(DEMAND, f)));

/** Every held-out row of every trace: the model's inputs and the TypeScript outputs. */
function heldOut(model: DemandModel, traces: readonly LoadedTrace[]) {
  const cols = featureIndex(model.meta.features);
  return traces.map((t) => {
    const ex = buildExamples(heldOutTargets(t.series, undefined), cols);
    const level = Float32Array.from(ex.scale);
    return { trace: t.name, X: ex.X, level, ts: predictArrivals(model, ex.X, level) };
  });
}

async function ortOutputs(bytes: Uint8Array, X: Float32Array, level: Float32Array): Promise<Float32Array> {
  const s = await ort.InferenceSession.create(bytes, { intraOpNumThreads: 1 });
  const n = level.length;
  const r = await s.run({ features: new ort.Tensor('float32', X, [n, X.length / n]), level: new ort.Tensor('float32', level, [n, 1]) });
  await s.release();
  return r.arrivals?.data as Float32Array;
}

/**
 * Largest |onnx − ts| / max(1, level): outputs are arrivals = ratio × level, up to ~30,000 on
 * nyc_taxi, so the difference is taken on the model's own scale-free output (the ratio) — an
 * absolute 1e-5 there. (Relative to the arrivals it would blow up where the ratio is near 0.)
 */
function worst(a: Float32Array, b: Float32Array, level: Float32Array): number {
  let w = 0;
  for (let i = 0; i < a.length; i++) w = Math.max(w, Math.abs((a[i] as number) - (b[i] as number)) / Math.max(1, level[i] as number));
  return w;
}

describe('ONNX export', () => {
  let traces: LoadedTrace[];
  beforeAll(() => {
    traces = ALL();
  });

  it('trees: onnxruntime gives the TypeScript outputs (within 1e-5; in fact bit for bit) on every held-out row', async () => {
    const { model, onnx, card } = trainDemandModel(traces, { seed: 'parity', kind: 'gbt', feature_set: 'no_clock', gbt: { trees: 40 } });
    expect(card.kind).toBe('gbt');
    let rows = 0;
    for (const h of heldOut(model, traces)) {
      const onnxOut = await ortOutputs(onnx, h.X, h.level);
      expect(onnxOut.length).toBe(h.ts.length);
      expect(worst(onnxOut, h.ts, h.level), h.trace).toBeLessThanOrEqual(1e-5);
      expect(Array.from(onnxOut), h.trace).toEqual(Array.from(h.ts)); // same float32 sums in the same order
      rows += h.ts.length;
    }
    expect(rows).toBeGreaterThan(20_000);
  }, 120_000);

  it('MLP: onnxruntime within 1e-5 (of the level) of the TypeScript outputs on every held-out row', async () => {
    const small = traces.filter((t) => /nyc_taxi|azure|ec2/.test(t.name));
    const { model, onnx } = trainDemandModel(small, { seed: 'parity', kind: 'mlp', feature_set: 'no_clock', mlp: { epochs: 2 } });
    expect(model.regressor.kind).toBe('mlp');
    for (const h of heldOut(model, small)) expect(worst(await ortOutputs(onnx, h.X, h.level), h.ts, h.level), h.trace).toBeLessThanOrEqual(1e-5);
  }, 120_000);

  it('same data and seed give the same bytes; another seed other bytes', () => {
    const some = traces.filter((t) => /nyc_taxi|azure|alibaba/.test(t.name));
    const opts: TrainOptions = { seed: 'bytes', kind: 'gbt', feature_set: 'no_clock', gbt: { trees: 15 } };
    const a = trainDemandModel(some, opts);
    const b = trainDemandModel(some, opts);
    expect(Buffer.from(b.onnx).equals(Buffer.from(a.onnx))).toBe(true);
    expect(JSON.stringify(b.card)).toBe(JSON.stringify(a.card));
    const c = trainDemandModel(some, { ...opts, seed: 'other' });
    expect(Buffer.from(c.onnx).equals(Buffer.from(a.onnx))).toBe(false);
    expect(readOnnxMeta(a.onnx)).toEqual({ format: 'fgo-demand/1', features: a.model.meta.features, horizon: '1 interval', history_len: HISTORY_LEN });
  }, 120_000);

  it('the predictor: one run per batch for all profiles, the numbers evaluation gets', async () => {
    const taxi = traces.find((t) => t.name === 'nyc_taxi') as LoadedTrace;
    const { model, onnx } = trainDemandModel([taxi], { seed: 'p', kind: 'gbt', feature_set: 'no_clock', gbt: { trees: 10 } });
    const { session, meta } = await openModel(onnx);
    const horizon_s = 3600; // two 30-minute intervals
    const p = new OnnxDemandPredictor(session, meta, horizon_s, () => undefined);
    let runs = 0;
    const run = session.run.bind(session);
    (session as unknown as { run: typeof run }).run = ((...args: Parameters<typeof run>) => (runs++, run(...args))) as typeof run;
    const s = taxi.series[0] as LoadedTrace['series'][number];
    const ks = [6000, 7000, 8000, 9000, 10_000];
    const batch = ks.map((k, i) => ({ profile: `p${i}`, interval_s: s.interval_s, end_s: s.t_s[k] as number, counts: s.counts.slice(0, k) }));
    const got = await p.forecast(batch);
    expect(runs).toBe(1);
    expect(got.map((f) => [f.profile, f.horizon_s])).toEqual(ks.map((_, i) => [`p${i}`, 3600]));
    // The evaluation path for the same intervals, at a horizon of two intervals.
    const targets = heldOutTargets([s], horizon_s).filter((t) => ks.includes(t.k));
    const ex = buildExamples(targets, featureIndex(meta.features));
    const want = predictArrivals(model, ex.X, Float32Array.from(ex.scale));
    expect(got.map((f) => f.arrivals)).toEqual(Array.from(want));
    expect(await p.forecast([])).toEqual([]);
    expect(runs).toBe(1);
  }, 60_000);
});
