/**
 * The predictor's figures, defined once (docs/forecaster.md): accuracy = 1 − WAPE with WAPE =
 * Σ|y − ŷ| ÷ Σy pooled over every held-out interval of every profile of a trace; MAPE over the
 * intervals with y > 0 (it is undefined at y = 0); the P90's coverage and pinball loss; the
 * baselines (baselines.ts) scored alike; and the ceiling Poisson noise puts on accuracy at a
 * trace's counts.
 */
import { BASELINES, baselineForecasts, seasonsOf, type Baseline, type Seasons } from './baselines.ts';
import { labelAt, labelSpan, splitIndex, type Series } from './series.ts';
import { roundTo } from '../engine/round.ts';

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
    return {
      accuracy: roundTo(1 - wape, 6),
      wape: roundTo(wape, 6),
      mape: roundTo(this.nPositive ? this.ape / this.nPositive : 0, 6),
    };
  }
}

/** ln(n!) — exact sum below 20, Stirling's series (error < 1e-12) above. */
function lnFactorial(n: number): number {
  if (n < 20) {
    let s = 0;
    for (let i = 2; i <= n; i++) s += Math.log(i);
    return s;
  }
  return (
    n * Math.log(n) - n + 0.5 * Math.log(2 * Math.PI * n) + 1 / (12 * n) - 1 / (360 * n ** 3) + 1 / (1260 * n ** 5)
  );
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
    return roundTo(this.sum > 0 ? 1 - this.mad / this.sum : 1, 6);
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
    for (let k = Math.max(1, splitIndex(s)); k + labelSpan(h) <= s.counts.length; k++)
      out.push({ s, k, h, y: labelAt(s.counts, k, h) as number });
  }
  return out;
}

/** The upper quantile every shell sizes pools from. */
export const P90 = 0.9;

/** The pinball (quantile) loss ρ_τ(y − q); pooled like WAPE it is Σ ρ₀.₉(y − P90) ÷ Σ y. */
export function pinball(tau: number, y: number, q: number): number {
  return y >= q ? tau * (y - q) : (1 - tau) * (q - y);
}

export interface Evaluation {
  accuracy: number;
  wape: number;
  mape: number;
  /** Share of intervals whose arrivals were at or under the P90 forecast (when there is one). */
  coverage_p90?: number;
  /** Σ ρ₀.₉(y − P90) ÷ Σ y (pinball loss scaled like WAPE), when there is a P90. */
  pinball_p90?: number;
  baselines: Record<Baseline, Score>;
  poisson_ceiling: number;
  intervals: number;
}

/**
 * Scores `forecasts` (one per target; P90 ones optional) beside the baselines and the Poisson
 * ceiling.
 */
export function evaluate(
  targets: readonly Target[],
  forecasts: ArrayLike<number>,
  p90?: ArrayLike<number>,
): Evaluation {
  const model = new ErrorSum();
  const base = Object.fromEntries(BASELINES.map((b) => [b, new ErrorSum()])) as Record<Baseline, ErrorSum>;
  const ceiling = new PoissonCeiling();
  const seasons = new Map<Series, Seasons>();
  let covered = 0,
    loss = 0,
    sum = 0;
  targets.forEach((t, i) => {
    model.add(t.y, forecasts[i] as number);
    let season = seasons.get(t.s);
    if (season === undefined) seasons.set(t.s, (season = seasonsOf(t.s)));
    const f = baselineForecasts(t.s.counts, t.k, t.h, season);
    for (const b of BASELINES) base[b].add(t.y, f[b]);
    ceiling.add(t.y);
    if (p90) {
      const q = p90[i] as number;
      if (t.y <= q) covered++;
      loss += pinball(P90, t.y, q);
      sum += t.y;
    }
  });
  return {
    ...model.score(),
    ...(p90
      ? {
          coverage_p90: roundTo(targets.length ? covered / targets.length : 1, 6),
          pinball_p90: roundTo(sum > 0 ? loss / sum : loss > 0 ? Infinity : 0, 6),
        }
      : {}),
    baselines: Object.fromEntries(BASELINES.map((b) => [b, base[b].score()])) as Record<Baseline, Score>,
    poisson_ceiling: ceiling.accuracy(),
    intervals: targets.length,
  };
}
