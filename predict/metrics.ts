/**
 * The predictor's figures, defined once (DESIGN.md, "Metrics"): accuracy = 1 − WAPE with WAPE =
 * Σ|y − ŷ| ÷ Σy pooled over every held-out interval of every profile of a trace; MAPE over the
 * intervals with y > 0 (it is undefined at y = 0); the three baselines; and the ceiling Poisson
 * noise puts on accuracy at a trace's counts.
 */
import { ewma } from './predictor.ts';
import { DAY_S, seasonIntervals } from './features.ts';
import { labelAt, labelSpan, splitIndex, type Series } from './series.ts';

export interface Score {
  accuracy: number;
  wape: number;
  mape: number;
}

/** Accumulates |y − ŷ| and y for WAPE, and |y − ŷ| / y for MAPE. */
export class ErrorSum {
  abs = 0;
  sum = 0;
  ape = 0;
  nPositive = 0;
  n = 0;

  add(y: number, yhat: number): void {
    const e = Math.abs(y - yhat);
    this.abs += e;
    this.sum += y;
    this.n++;
    if (y > 0) {
      this.ape += e / y;
      this.nPositive++;
    }
  }

  score(): Score {
    const wape = this.sum > 0 ? this.abs / this.sum : this.abs > 0 ? Infinity : 0;
    return { accuracy: round6(1 - wape), wape: round6(wape), mape: round6(this.nPositive ? this.ape / this.nPositive : 0) };
  }
}

export const round6 = (x: number) => (Number.isFinite(x) ? Math.round(x * 1e6) / 1e6 : x);

/** ln(n!) — exact sum below 20, Stirling's series (error < 1e-12) above. */
function lnFactorial(n: number): number {
  if (n < 20) {
    let s = 0;
    for (let i = 2; i <= n; i++) s += Math.log(i);
    return s;
  }
  return n * Math.log(n) - n + 0.5 * Math.log(2 * Math.PI * n) + 1 / (12 * n) - 1 / (360 * n ** 3) + 1 / (1260 * n ** 5);
}

/**
 * E|N − λ| for N ~ Poisson(λ), exactly: the Poisson mean absolute deviation
 * 2 e^(−λ) λ^(⌊λ⌋+1) / ⌊λ⌋! (computed in logs).
 */
export function poissonMad(lambda: number): number {
  if (!(lambda > 0)) return 0;
  const k = Math.floor(lambda);
  return 2 * Math.exp(-lambda + (k + 1) * Math.log(lambda) - lnFactorial(k));
}

/**
 * Accumulates the Poisson ceiling: Σ E|N − λ| ÷ Σ λ, the WAPE a forecaster that knew each
 * interval's true rate λ exactly would still make if arrivals were Poisson. λ is unknown, so each
 * interval's observed label stands in for it (plug-in); for counts that are not arrivals (CPU
 * percentages) the figure is only a reference.
 */
export class PoissonCeiling {
  private mad = 0;
  private sum = 0;
  add(lambda: number): void {
    this.mad += poissonMad(lambda);
    this.sum += lambda;
  }
  /** Best reachable accuracy, 1 − expected WAPE. */
  accuracy(): number {
    return round6(this.sum > 0 ? 1 - this.mad / this.sum : 1);
  }
}

export const BASELINES = ['last_value', 'seasonal_naive', 'ewma'] as const;
export type Baseline = (typeof BASELINES)[number];
/** EwmaDemandPredictor's defaults (predict/predictor.ts): alpha 0.5 over the last 32 intervals. */
export const EWMA_ALPHA = 0.5;
export const EWMA_HISTORY = 32;

/**
 * The season of the seasonal-naive baseline, in intervals: one day when the series spans at least
 * two days (so every held-out interval has its yesterday), else one hour when it spans two hours,
 * else one interval (it is then last-value).
 */
export function seasonOf(s: Series): number {
  const span = s.counts.length * s.interval_s;
  for (const season_s of [DAY_S, 3600]) {
    const k = seasonIntervals(s.interval_s, season_s);
    if (k !== undefined && span >= 2 * season_s) return k;
  }
  return 1;
}

/** Sum of the `h` intervals starting at `k` (pro rata for a fractional last one) when they exist in counts[0..n). */
function windowSum(counts: readonly number[], k: number, h: number, n: number): number | undefined {
  return k >= 0 && k + labelSpan(h) <= n ? labelAt(counts, k, h) : undefined;
}

/** A baseline's forecast of the arrivals over the `h` intervals after counts[0..n). */
export function baselineForecast(b: Baseline, counts: readonly number[], n: number, h: number, season: number): number {
  if (n === 0) return 0;
  const last = (counts[n - 1] as number) * h;
  switch (b) {
    case 'last_value':
      return last;
    case 'seasonal_naive':
      return windowSum(counts, n - season, h, n) ?? last;
    case 'ewma':
      return ewma(counts.slice(Math.max(0, n - EWMA_HISTORY), n), EWMA_ALPHA) * h;
  }
}

/** One held-out target: series `s`, history counts[0..k), label over `h` intervals from k. */
export interface Target {
  s: Series;
  k: number;
  h: number;
  y: number;
}

/** Every target of the held-out second half of each series (the label must end inside the series). */
export function heldOutTargets(series: readonly Series[], horizon_s: number | undefined): Target[] {
  const out: Target[] = [];
  for (const s of series) {
    const h = horizon_s === undefined ? 1 : horizon_s / s.interval_s;
    for (let k = Math.max(1, splitIndex(s)); k + labelSpan(h) <= s.counts.length; k++) out.push({ s, k, h, y: labelAt(s.counts, k, h) as number });
  }
  return out;
}

export interface Evaluation {
  accuracy: number;
  wape: number;
  mape: number;
  baselines: Record<Baseline, Score>;
  poisson_ceiling: number;
  intervals: number;
}

/** Scores `forecasts` (one per target) beside the three baselines and the Poisson ceiling. */
export function evaluate(targets: readonly Target[], forecasts: ArrayLike<number>): Evaluation {
  const model = new ErrorSum();
  const base = Object.fromEntries(BASELINES.map((b) => [b, new ErrorSum()])) as Record<Baseline, ErrorSum>;
  const ceiling = new PoissonCeiling();
  const seasons = new Map<Series, number>();
  targets.forEach((t, i) => {
    model.add(t.y, forecasts[i] as number);
    let season = seasons.get(t.s);
    if (season === undefined) seasons.set(t.s, (season = seasonOf(t.s)));
    for (const b of BASELINES) base[b].add(t.y, baselineForecast(b, t.s.counts, t.k, t.h, season));
    ceiling.add(t.y);
  });
  const m = model.score();
  return {
    ...m,
    baselines: Object.fromEntries(BASELINES.map((b) => [b, base[b].score()])) as Record<Baseline, Score>,
    poisson_ceiling: ceiling.accuracy(),
    intervals: targets.length,
  };
}
