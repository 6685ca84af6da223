/**
 * The demand model as trained: two regressors of the scale-free ratio over named features — the
 * median (P50) and the 90th percentile (P90) — and how their outputs become arrivals, exactly
 * as the ONNX graph computes them (onnx.ts): `arrivals = Relu(anchor + p50(features) × level)`,
 * `arrivals_p90 = Relu(anchor + p90(features) × level)`, where `level` is the recent level
 * (features.ts) times the horizon in intervals and `anchor` the baselines' ensemble
 * (examples.ts). The TypeScript evaluation here is the reference the ONNX model
 * is tested against, in float32 like onnxruntime. The online guard (guard.ts) runs after it.
 */
import { predictGbt, type GbtModel } from './gbt.ts';
import type { FeatureName } from './features.ts';

export const MODEL_FORMAT = 'fgo-demand/2';

/** What the ONNX file carries besides the graph (metadata_props key `fgo.demand`, JSON). */
export interface ModelMeta {
  format: typeof MODEL_FORMAT;
  /** Columns of the `features` input, in order (names from features.ts). */
  features: FeatureName[];
  /** Horizon the model was trained for: "1 interval" or a duration such as "5m". */
  horizon: string;
  /** Intervals of history the features read (the predictor's history_len). */
  history_len: number;
}

export interface DemandModel {
  meta: ModelMeta;
  p50: GbtModel;
  p90: GbtModel;
}

const f32 = Math.fround;

/** Arrivals as the graph computes them: Relu(anchor + r × level) in float32 (inputs already float32). */
function scaled(r: Float32Array, level: Float32Array, anchor: Float32Array): Float32Array {
  return r.map((x, i) => Math.max(0, f32(f32(x * (level[i] as number)) + (anchor[i] as number))));
}

/** The model's P50 and P90 arrivals for rows of X (n × F float32). */
export function predictArrivals(
  m: DemandModel,
  X: Float32Array,
  level: Float32Array,
  anchor: Float32Array,
): { p50: Float32Array; p90: Float32Array } {
  return { p50: scaled(predictGbt(m.p50, X), level, anchor), p90: scaled(predictGbt(m.p90, X), level, anchor) };
}
