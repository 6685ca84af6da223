/**
 * Training and evaluation examples: one per (series, interval), its features from the history
 * before the interval, its label the arrivals over the horizon from it.
 *
 * The model does not predict arrivals from nothing: it corrects an *anchor*, the baselines'
 * ensemble (baselines.ts, anchorOf), by a residual in units of the recent level:
 * `arrivals = anchor + r × scale` with `scale = level × horizon intervals` (features.ts). Trees
 * approximate "the same as the anchor" exactly (r = 0), where fgo/1's ratio-to-level target had to
 * approximate the identity from histogram bins and lost to last-value on smooth series it had
 * not seen. Residual labels are clipped to ±`R_CLIP` so a burst after a silence (a residual of
 * thousands of levels) cannot pull the trees; the quantile losses hardly notice.
 *
 * Time-ordered split: training targets lie wholly in the first half of each series, held-out
 * ones start in the second half (metrics.ts, heldOutTargets).
 */
import { anchorOf } from './baselines.ts';
import { ALL_FEATURES, computeFeatures } from './features.ts';
import { labelAt, labelSpan, splitIndex, type Series } from './series.ts';
import type { Target } from './metrics.ts';

/** Largest residual label, in levels. */
export const R_CLIP = 20;

export interface Examples {
  /** n × F float32, row-major, the columns `features` (indices into ALL_FEATURES). */
  X: Float32Array;
  /** Labels: (arrivals − anchor) ÷ scale, clipped to ±R_CLIP. */
  residual: Float64Array;
  /** Level × horizon intervals: what a residual is multiplied by. */
  scale: Float64Array;
  /** The ensemble forecast the residual is added to, arrivals. */
  anchor: Float64Array;
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

/**
 * One model input row of the history counts[0..n) into X at row i (columns `features`), for the
 * `h` intervals after it; returns its scale and anchor (`anchor` when the caller has it already:
 * the predictor computes the baselines once for the model and its guard). The same function for
 * training, evaluation and the shells' predictor.
 */
export function modelRow(
  counts: readonly number[],
  n: number,
  interval_s: number,
  end_s: number,
  h: number,
  features: readonly number[],
  X: Float32Array,
  i: number,
  row: Float64Array,
  anchor = anchorOf(counts, n, h, interval_s),
): { scale: number; anchor: number } {
  const level = computeFeatures(counts, n, interval_s, end_s, row);
  const F = features.length;
  for (let j = 0; j < F; j++) X[i * F + j] = row[features[j] as number] as number;
  return { scale: level * h, anchor };
}

/** Examples of `targets` with the feature columns `features` (indices into ALL_FEATURES). */
export function buildExamples(targets: readonly Target[], features: readonly number[]): Examples {
  const n = targets.length;
  const F = features.length;
  const X = new Float32Array(n * F);
  const residual = new Float64Array(n);
  const scale = new Float64Array(n);
  const anchor = new Float64Array(n);
  const row = new Float64Array(ALL_FEATURES.length);
  targets.forEach((t, i) => {
    const r = modelRow(t.s.counts, t.k, seasonalInterval(t.s), t.s.t_s[t.k] as number, t.h, features, X, i, row);
    scale[i] = r.scale;
    anchor[i] = r.anchor;
    residual[i] = Math.max(-R_CLIP, Math.min(R_CLIP, (t.y - r.anchor) / r.scale));
  });
  return { X, residual, scale, anchor, n, F };
}
