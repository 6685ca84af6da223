/**
 * Inference latency of a demand model as a shell sees it: one `forecast()` call — features for
 * every profile of the batch and one onnxruntime run — timed many times after a warm-up; and the
 * run alone. Shared by `fgo train` (the card) and bench/predict.ts. Wall-clock figures: they vary
 * from run to run and machine to machine, and are kept apart from the deterministic ones.
 */
import { modelRow } from './examples.ts';
import { ALL_FEATURES, featureIndex, HISTORY_LEN } from './features.ts';
import type { LoadedTrace } from './input.ts';
import { openModel, OnnxDemandPredictor } from './onnx-predictor.ts';
import type { DemandHistory } from './predictor.ts';
import { roundTo } from '../engine/round.ts';

export const BENCH_PROFILES = 10;

export interface Latency {
  batch_profiles: number;
  runs: number;
  /** forecast(): features for the batch + one onnxruntime run, µs. */
  batch_us: { p50: number; p99: number };
  /** The onnxruntime run alone, µs. */
  run_us: { p50: number; p99: number };
}

/** `size` histories, round-robin over the traces' series, each ending at a different interval. */
export function benchBatch(traces: readonly LoadedTrace[], size = BENCH_PROFILES): DemandHistory[] {
  const series = traces.flatMap((t) => t.series).filter((s) => s.counts.length > 1);
  if (!series.length) throw new Error('no series to benchmark with');
  return Array.from({ length: size }, (_, i) => {
    const s = series[i % series.length] as (typeof series)[number];
    const k = s.counts.length - 1 - Math.floor(i / series.length);
    return {
      profile: `p${i}`,
      interval_s: s.interval_s,
      end_s: s.t_s[k] as number,
      counts: s.counts.slice(Math.max(0, k - HISTORY_LEN), k),
    };
  });
}

const pct = (sorted: Float64Array, q: number) =>
  roundTo(sorted[Math.min(sorted.length - 1, Math.floor(q * sorted.length))] as number, 1);

export async function measureLatency(
  onnx: Uint8Array,
  traces: readonly LoadedTrace[],
  runs = 2000,
  warmup = 200,
): Promise<Latency> {
  const { session, meta } = await openModel(onnx);
  const p = new OnnxDemandPredictor(session, meta, 300, () => undefined);
  const batch = benchBatch(traces);
  const F = meta.features.length;
  const X = new Float32Array(batch.length * F);
  const level = new Float32Array(batch.length);
  const anchor = new Float32Array(batch.length);
  const row = new Float64Array(ALL_FEATURES.length);
  batch.forEach((h, i) => {
    const r = modelRow(
      h.counts,
      h.counts.length,
      h.interval_s,
      h.end_s,
      300 / h.interval_s,
      featureIndex(meta.features),
      X,
      i,
      row,
    );
    level[i] = r.scale;
    anchor[i] = r.anchor;
  });
  const time = async (f: () => Promise<unknown>) => {
    for (let i = 0; i < warmup; i++) await f();
    const t = new Float64Array(runs);
    for (let i = 0; i < runs; i++) {
      const a = process.hrtime.bigint();
      await f();
      t[i] = Number(process.hrtime.bigint() - a) / 1000;
    }
    t.sort();
    return { p50: pct(t, 0.5), p99: pct(t, 0.99) };
  };
  const batch_us = await time(() => p.forecast(batch));
  const run_us = await time(() => p.run(X, level, anchor));
  await session.release();
  return { batch_profiles: batch.length, runs, batch_us, run_us };
}
