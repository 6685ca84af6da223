/**
 * The demand model as trained: a regressor of the scale-free ratio (GBT or MLP) over named
 * features, and how its outputs become arrivals — exactly what the ONNX graph computes
 * (onnx.ts): `arrivals = Relu(ratio(features) × level)`, where `level` is the recent level
 * (features.ts) times the horizon in intervals. The TypeScript evaluation here is the reference
 * the ONNX model is tested against, in float32 like onnxruntime.
 */
import { predictGbt, type GbtModel } from './gbt.ts';
import { predictMlp, type MlpModel } from './mlp.ts';
import type { FeatureName } from './features.ts';

export const MODEL_FORMAT = 'fgo-demand/1';

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

export type Regressor = GbtModel | MlpModel;

export interface DemandModel {
  meta: ModelMeta;
  regressor: Regressor;
}

const f32 = Math.fround;

/** The regressor's ratios for rows of X (n × F float32). */
export function predictRatios(r: Regressor, X: Float32Array): Float32Array {
  return r.kind === 'gbt' ? predictGbt(r, X) : predictMlp(r, X);
}

/** Arrivals as the graph computes them: Relu(ratio × level) in float32 (`level` already float32). */
export function predictArrivals(m: DemandModel, X: Float32Array, level: Float32Array): Float32Array {
  const ratio = predictRatios(m.regressor, X);
  return ratio.map((r, i) => Math.max(0, f32(r * (level[i] as number))));
}
