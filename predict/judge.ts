/**
 * How every figure of the demand model is made, for `fgo train`, its cross-validation and
 * `fgo predict-eval` alike: the model's P50 and P90 for each interval of a series, passed in
 * time order through the series' online guard (guard.ts), then scored on the second half only.
 *
 * The guard needs a history of settled forecasts before it may fall back, so it is run from
 * `GUARD_WINDOW` intervals before the second half: those warm-up forecasts are never scored (a
 * shell's guard, started cold, learns the same way from its first day).
 */
import { guardCandidates, seasonsFor } from './baselines.ts';
import { seasonalInterval } from './examples.ts';
import { GUARD_WINDOW, SeriesGuard, type Source } from './guard.ts';
import { evaluate, type Evaluation, type Target } from './metrics.ts';
import { labelAt, labelSpan, splitIndex, type Series } from './series.ts';
import { roundTo } from '../engine/round.ts';

export interface JudgedTargets {
  /** Warm-up and scored targets, series by series, in time order. */
  all: Target[];
  /** Whether all[i] is in the held-out second half. */
  scored: boolean[];
}

/** Every target from the guard's warm-up to the end of each series. */
export function judgedTargets(series: readonly Series[], horizon_s: number | undefined): JudgedTargets {
  const all: Target[] = [];
  const scored: boolean[] = [];
  for (const s of series) {
    const h = horizon_s === undefined ? 1 : horizon_s / s.interval_s;
    const split = Math.max(1, splitIndex(s));
    for (let k = Math.max(1, split - GUARD_WINDOW); k + labelSpan(h) <= s.counts.length; k++) {
      all.push({ s, k, h, y: labelAt(s.counts, k, h) as number });
      scored.push(k >= split);
    }
  }
  return { all, scored };
}

export interface Judged extends Evaluation {
  /** Share of scored intervals the guard forecast with each source. */
  sources: Partial<Record<Source, number>>;
}

/**
 * Guard the model's outputs (one per target of `t.all`, `scale` = level × horizon intervals) and
 * score the second half.
 */
export function judge(
  t: JudgedTargets,
  p50: ArrayLike<number>,
  p90: ArrayLike<number>,
  scale: ArrayLike<number>,
): Judged {
  const guards = new Map<Series, SeriesGuard>();
  const seasons = new Map<Series, ReturnType<typeof seasonsFor>>();
  const out = { targets: [] as Target[], p50: [] as number[], p90: [] as number[] };
  const used = new Map<Source, number>();
  t.all.forEach((x, i) => {
    let g = guards.get(x.s);
    if (!g) guards.set(x.s, (g = new SeriesGuard()));
    let season = seasons.get(x.s);
    // The guard's candidates are the baselines as a shell knows them (from the interval alone).
    if (!season) seasons.set(x.s, (season = seasonsFor(seasonalInterval(x.s))));
    g.settle(x.s.counts, x.k, x.k);
    const f = g.forecast(
      x.k,
      x.h,
      p50[i] as number,
      p90[i] as number,
      guardCandidates(x.s.counts, x.k, x.h, season),
      scale[i] as number,
    );
    if (!t.scored[i]) return;
    out.targets.push(x);
    out.p50.push(f.p50);
    out.p90.push(f.p90);
    used.set(f.source, (used.get(f.source) ?? 0) + 1);
  });
  const e = evaluate(out.targets, out.p50, out.p90);
  const n = Math.max(1, out.targets.length);
  return {
    ...e,
    sources: Object.fromEntries([...used].sort((a, b) => b[1] - a[1]).map(([k, v]) => [k, roundTo(v / n, 4)])),
  };
}
