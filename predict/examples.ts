/**
 * Training and evaluation examples: one per (series, interval), its features from the history
 * before the interval, its label the arrivals over the horizon from it, both divided by the level
 * (features.ts explains why). Time-ordered split: training targets lie wholly in the first half of
 * each series, held-out ones start in the second half (metrics.ts, heldOutTargets).
 */
import { ALL_FEATURES, computeFeatures } from './features.ts';
import { labelAt, labelSpan, splitIndex, type Series } from './series.ts';
import type { Target } from './metrics.ts';

export interface Examples {
  /** n × F float32, row-major, the columns `features` (indices into ALL_FEATURES). */
  X: Float32Array;
  /** Labels as ratios: arrivals over the horizon ÷ (level × horizon intervals). */
  ratio: Float64Array;
  /** Level × horizon intervals: what a ratio is multiplied by to give arrivals. */
  scale: Float64Array;
  n: number;
  F: number;
}

/**
 * The interval the seasonal features index by: an irregular series' rows are not evenly spaced,
 * so "one day back" is no fixed number of rows and its seasonal features stay neutral (NaN).
 */
export const seasonalInterval = (s: Series) => (s.regular ? s.interval_s : NaN);

/** Targets of the first half of each series (the label ends before the second half starts). */
export function trainTargets(series: readonly Series[], horizon_s: number | undefined): Target[] {
  const out: Target[] = [];
  for (const s of series) {
    const h = horizon_s === undefined ? 1 : horizon_s / s.interval_s;
    const end = splitIndex(s);
    for (let k = 1; k + labelSpan(h) <= end; k++) out.push({ s, k, h, y: labelAt(s.counts, k, h) as number });
  }
  return out;
}

/** Examples of `targets` with the feature columns `features` (indices into ALL_FEATURES). */
export function buildExamples(targets: readonly Target[], features: readonly number[]): Examples {
  const n = targets.length;
  const F = features.length;
  const X = new Float32Array(n * F);
  const ratio = new Float64Array(n);
  const scale = new Float64Array(n);
  const row = new Float64Array(ALL_FEATURES.length);
  targets.forEach((t, i) => {
    const level = computeFeatures(t.s.counts, t.k, seasonalInterval(t.s), t.s.t_s[t.k] as number, row);
    for (let j = 0; j < F; j++) X[i * F + j] = row[features[j] as number] as number;
    scale[i] = level * t.h;
    ratio[i] = t.y / scale[i];
  });
  return { X, ratio, scale, n, F };
}
