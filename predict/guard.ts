/**
 * The forecaster's online guard, one per series (profile): what keeps the learned model from
 * doing worse than a simple forecaster on a kind of traffic it was not trained on, and what keeps
 * its P90 an honest 90 % bound on that traffic.
 *
 * - **Fallback.** It keeps the absolute errors of the model, of every baseline and of the two
 *   seasonal-step forecasters (baselines.ts) over the last `GUARD_WINDOW` settled forecasts. Once
 *   it has `GUARD_MIN` of them, its P50 is their weighted mean, each forecaster weighing
 *   e^{−β (S − S_best) / S_best} for its recent error sum S (β = `GUARD_SHARPNESS`): the best
 *   weighs 1, one 10 % worse e^{−3}, so the guard follows whichever forecaster does best on this
 *   series — the model, or a baseline where the model was not trained for such traffic — and
 *   blends near-ties instead of flipping between them (a flip pays each one's misses). For the
 *   absolute loss the blend's error is at most the weighted mean of theirs (Jensen). The kind of
 *   series is detected by what it does, not by its name.
 * - **P90.** The bound issued is `P50 + m × width`, with `width` the model's own P90 − P50 (at
 *   least `MIN_WIDTH` of the level, so a flat series still gets a band) and `m` a multiplier
 *   adapted per series like adaptive conformal inference (Gibbs & Candès, 2021): after each
 *   settled forecast, m ← m·e^{γ·0.9} if the arrivals exceeded the bound, else m ← m·e^{−γ·0.1}.
 *   The drift is zero exactly when 10 % of intervals exceed the bound, so the long-run coverage
 *   of every series tends to 0.9 whatever the model's calibration on it.
 *
 * Forecasts are settled when the history has grown past their horizon; intervals are numbered
 * absolutely (`end`, the index one past the history's last interval) so a shell that keeps only
 * the recent history and an evaluation over a whole series drive the guard the same way.
 * Deterministic: the same forecasts and arrivals give the same outputs.
 */
import { BASELINES, STEP_FORECASTERS, type Baseline, type StepForecaster } from './baselines.ts';
import { P90 } from './metrics.ts';
import { labelAt, labelSpan } from './series.ts';

/** Settled forecasts the fallback compares over: one day of 5-minute intervals. */
export const GUARD_WINDOW = 288;
/** Settled forecasts needed before the guard may leave the model. */
export const GUARD_MIN = 48;
/** β of the fallback's weights: how fast a forecaster's weight falls with its relative excess error. */
export const GUARD_SHARPNESS = 30;
/** Error sums below this share of the window's arrivals count as exact (a flat series). */
const EXACT = 1e-6;
/** Step of the P90 multiplier's adaptation (γ). */
export const ACI_STEP = 0.05;
/** Least width of the P90 band, as a share of the recent level over the horizon. */
export const MIN_WIDTH = 0.02;
const M_MIN = 1 / 64;
const M_MAX = 64;

export type Source = 'model' | Baseline | StepForecaster;
const SOURCES: readonly Source[] = ['model', ...BASELINES, ...STEP_FORECASTERS];

export interface Guarded {
  p50: number;
  p90: number;
  /** The forecaster weighing most (the model until the guard has settled GUARD_MIN forecasts). */
  source: Source;
}

interface Pending {
  /** Absolute index of the first interval forecast. */
  k: number;
  /** Horizon in intervals. */
  h: number;
  forecasts: Float64Array;
  p90: number;
}

export class SeriesGuard {
  private readonly errors: Float64Array[] = SOURCES.map(() => new Float64Array(GUARD_WINDOW));
  private readonly sums = new Float64Array(SOURCES.length);
  /** Arrivals of the settled forecasts in the window, and their sum (the scale of "exact"). */
  private readonly actuals = new Float64Array(GUARD_WINDOW);
  private actualSum = 0;
  private settled = 0;
  private multiplier = 1;
  private readonly pending: Pending[] = [];

  /**
   * Settle every pending forecast whose horizon lies inside the history counts[0..n), whose
   * end (one past its last interval) has absolute index `end`.
   */
  settle(counts: readonly number[], n: number, end: number): void {
    while (this.pending.length) {
      const p = this.pending[0] as Pending;
      if (p.k + labelSpan(p.h) > end) return;
      this.pending.shift();
      const j = p.k - (end - n);
      if (j < 0) continue; // fell out of the history kept: nothing to learn from it
      this.record(p, labelAt(counts, j, p.h) as number);
    }
  }

  /**
   * The guarded forecast for the `h` intervals from absolute index `end`; `scale` is the recent
   * level times `h` (features.ts), what the model's ratios are multiplied by.
   */
  forecast(
    end: number,
    h: number,
    model_p50: number,
    model_p90: number,
    others: Readonly<Record<Exclude<Source, 'model'>, number>>,
    scale: number,
  ): Guarded {
    const forecasts = Float64Array.from(SOURCES, (s) => (s === 'model' ? model_p50 : others[s]));
    const { p50, pick } = this.blend(forecasts);
    const width = Math.max(model_p90 - model_p50, MIN_WIDTH * scale);
    const p90 = p50 + this.multiplier * width;
    // One pending forecast per interval: a shell asking twice within one interval is answered
    // alike but learns from it once.
    if (this.pending.at(-1)?.k !== end) this.pending.push({ k: end, h, forecasts, p90 });
    if (this.pending.length > GUARD_WINDOW) this.pending.shift();
    return { p50, p90, source: SOURCES[pick] as Source };
  }

  /** The weighted P50 of the forecasters, and the index into SOURCES of the heaviest. */
  private blend(forecasts: Float64Array): { p50: number; pick: number } {
    if (this.settled < GUARD_MIN) return { p50: forecasts[0] as number, pick: 0 };
    let best = 0;
    for (let i = 1; i < SOURCES.length; i++) if ((this.sums[i] as number) < (this.sums[best] as number)) best = i;
    const least = this.sums[best] as number;
    // Relative to the best error, or — when the best is (nearly) exact — to a millionth of the
    // arrivals, so a flat series follows its exact forecaster and nothing divides by 0.
    const scale = Math.max(least, EXACT * this.actualSum, Number.MIN_VALUE);
    let weights = 0,
      p50 = 0;
    for (let i = 0; i < SOURCES.length; i++) {
      const w = Math.exp((-GUARD_SHARPNESS * ((this.sums[i] as number) - least)) / scale);
      weights += w;
      p50 += w * (forecasts[i] as number);
    }
    return { p50: p50 / weights, pick: best };
  }

  private record(p: Pending, y: number): void {
    const slot = this.settled % GUARD_WINDOW;
    this.actualSum += y - (this.actuals[slot] as number);
    this.actuals[slot] = y;
    for (let i = 0; i < SOURCES.length; i++) {
      const ring = this.errors[i] as Float64Array;
      const e = Math.abs(y - (p.forecasts[i] as number));
      this.sums[i] = (this.sums[i] as number) - (ring[slot] as number) + e;
      ring[slot] = e;
    }
    this.settled++;
    // Recompute the sums now and then, so floating-point drift of the running sums stays bounded.
    if (this.settled % GUARD_WINDOW === 0) {
      for (let i = 0; i < SOURCES.length; i++)
        this.sums[i] = (this.errors[i] as Float64Array).reduce((a, x) => a + x, 0);
      this.actualSum = this.actuals.reduce((a, x) => a + x, 0);
    }
    const missed = y > p.p90;
    this.multiplier = Math.min(M_MAX, Math.max(M_MIN, this.multiplier * Math.exp(ACI_STEP * (missed ? P90 : P90 - 1))));
  }
}
