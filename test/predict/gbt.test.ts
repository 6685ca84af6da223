/**
 * The boosted trees on data small enough to split by hand, and the metrics (WAPE, MAPE, the
 * baselines, the Poisson ceiling, the warm-pool label) against hand-worked or brute-force values.
 */
import { describe, expect, it } from 'vitest';
import { warmPoolLabel, erlangB } from '../../predict/dataset.ts';
import { baselineForecasts, seasonsFor, seasonsOf, stepForecasts } from '../../predict/baselines.ts';
import { binCuts, predictGbt, trainGbt, weightedQuantile, type GbtParams } from '../../predict/gbt.ts';
import { ErrorSum, evaluate, heldOutTargets, pinball, poissonMad } from '../../predict/metrics.ts';
import type { Series } from '../../predict/series.ts';

const params = (p: Partial<GbtParams>): GbtParams => ({
  trees: 1,
  depth: 1,
  learning_rate: 1,
  min_leaf: 1,
  bins: 64,
  subsample: 1,
  colsample: 1,
  quantile: 0.5,
  seed: 't',
  ...p,
});
const X8 = Float32Array.from([1, 2, 3, 4, 5, 6, 7, 8]);
const Y8 = [0, 0, 0, 0, 10, 10, 10, 10];
const W8 = Y8.map(() => 1);

describe('gradient-boosted trees', () => {
  it('one stump finds the split by hand: x ≤ 4 → 0, else 10', () => {
    // base: weighted median of y (lower middle) = 0. Residual signs 0,0,0,0,1,1,1,1: G = 4, W = 8.
    // Split x ≤ 4: gain 0²/4 + 4²/4 − 4²/8 = 2, the largest (x ≤ 5: 1/5 + 9/3 − 2 = 1.2).
    // Leaves: median residual 0 on the left, 10 on the right.
    const m = trainGbt(X8, Y8, W8, params({}));
    expect(m.base).toBe(0);
    expect(m.trees[0]).toEqual({
      feature: [0, -1, -1],
      threshold: [4, 0, 0],
      left: [1, 0, 0],
      right: [2, 0, 0],
      value: [0, 0, 10],
    });
    expect(Array.from(predictGbt(m, X8))).toEqual(Y8);
  });

  it('shrinkage: two trees at learning rate 0.5 reach 5, then 7.5', () => {
    const m = trainGbt(X8, Y8, W8, params({ trees: 2, learning_rate: 0.5 }));
    expect(m.trees.map((t) => t.value)).toEqual([
      [0, 0, 5],
      [0, 0, 2.5],
    ]);
    expect(Array.from(predictGbt(m, X8))).toEqual([0, 0, 0, 0, 7.5, 7.5, 7.5, 7.5]);
  });

  it('min_leaf stops a split that would leave fewer rows in a leaf', () => {
    const m = trainGbt(X8, Y8, W8, params({ min_leaf: 5 }));
    expect(m.trees[0]?.feature).toEqual([-1]);
    expect(Array.from(predictGbt(m, X8))).toEqual(Y8.map(() => 0));
  });

  it('weights move the median and the split', () => {
    // Weight 10 on the two largest rows: the weighted median of y is 10.
    const w = [1, 1, 1, 1, 1, 1, 10, 10];
    const m = trainGbt(X8, Y8, w, params({}));
    expect(m.base).toBe(10);
    expect(Array.from(predictGbt(m, X8))).toEqual(Y8);
  });

  it('picks the informative feature of two', () => {
    // Feature 0 is noise-free (y = 10 when it is above 4); feature 1 alternates.
    const X = new Float32Array(16);
    for (let i = 0; i < 8; i++) {
      X[2 * i] = i + 1;
      X[2 * i + 1] = i % 2;
    }
    const m = trainGbt(X, Y8, W8, params({}));
    expect(m.trees[0]?.feature[0]).toBe(0);
  });

  it('the 90th percentile: a stump on x ≤ 4 whose leaves are the τ-quantiles of the residuals', () => {
    // y = x·10 − 5 on each side, so each leaf holds 4 distinct residuals. τ = 0.9: base =
    // weighted 0.9-quantile of 5, 15, …, 75 = the 8th (weight 7.2 ≤ 8) = 75.
    const y = [5, 15, 25, 35, 45, 55, 65, 75];
    const m = trainGbt(X8, y, W8, params({ quantile: 0.9 }));
    expect(m.base).toBe(75);
    // Residuals −70, −60, …, −10, 0: gradient −2(1 − τ) = −0.2 on seven rows, 0 on the last
    // (G = −1.4, W = 8). Splitting off the zero, x ≤ 7, gains 1.4²/7 − 1.4²/8 = 0.035; x ≤ 4 only
    // 0.8²/4 + 0.6²/4 − 1.4²/8 = 0.005. Leaves: the 0.9-quantile of −70 … −10 (weight 6.3 of 7:
    // the 7th) = −10, and 0.
    expect(m.trees[0]?.threshold[0]).toBe(7);
    expect(m.trees[0]?.value).toEqual([0, -10, 0]);
    expect(Array.from(predictGbt(m, X8))).toEqual([65, 65, 65, 65, 65, 65, 65, 75]);
  });

  it('weightedQuantile and binCuts', () => {
    expect(weightedQuantile([1, 2, 3], [1, 1, 5], [0, 1, 2], 0.5)).toBe(3);
    expect(weightedQuantile([3, 1, 2], [1, 1, 1], [0, 1, 2], 0.5)).toBe(2);
    expect(weightedQuantile([3, 1, 2, 4], [1, 1, 1, 1], [0, 1, 2, 3], 0.9)).toBe(4);
    expect(weightedQuantile([3, 1, 2, 4], [1, 1, 1, 1], [0, 1, 2, 3], 0.25)).toBe(1);
    expect(weightedQuantile([1, 2], [1, 1], [0, 1], 0.5)).toBe(1); // lower middle
    // ≤ bins distinct values: every value but the largest is a cut.
    expect(Array.from(binCuts(Float32Array.from([3, 1, 2, 2]), 4, 1, 64)[0] as Float32Array)).toEqual([1, 2]);
    // More distinct values than bins: row quantiles (1000 rows 0..999, 4 bins → 250, 500, 750).
    const col = Float32Array.from({ length: 1000 }, (_, i) => i);
    expect(Array.from(binCuts(col, 1000, 1, 4)[0] as Float32Array)).toEqual([250, 500, 750]);
  });

  it('the same seed gives the same trees; subsampling makes another seed differ', () => {
    const X = Float32Array.from({ length: 400 }, (_, i) => (i * 37) % 101);
    const y = Array.from(X, (x) => (x > 50 ? 3 : 1) + (x % 7) / 10);
    const w = y.map(() => 1);
    const p = params({ trees: 5, depth: 3, learning_rate: 0.3, min_leaf: 5, subsample: 0.6 });
    expect(trainGbt(X, y, w, p)).toEqual(trainGbt(X, y, w, p));
    expect(trainGbt(X, y, w, { ...p, seed: 'other' })).not.toEqual(trainGbt(X, y, w, p));
  });
});

describe('metrics', () => {
  it('WAPE, accuracy and MAPE (MAPE over y > 0)', () => {
    const e = new ErrorSum();
    e.add(10, 8);
    e.add(0, 1);
    e.add(5, 5);
    // Σ|y − ŷ| = 3, Σy = 15; MAPE (2/10 + 0/5) / 2
    expect(e.score()).toEqual({ accuracy: 0.8, wape: 0.2, mape: 0.1 });
  });

  it('Poisson mean absolute deviation: the closed form equals the brute-force sum', () => {
    const brute = (l: number) => {
      let s = 0;
      let logp = -l; // log P(N = 0)
      for (let k = 0; k < l + 40 * Math.sqrt(l) + 40; k++) {
        if (k > 0) logp += Math.log(l) - Math.log(k);
        s += Math.abs(k - l) * Math.exp(logp);
      }
      return s;
    };
    for (const l of [0.5, 1, 3, 3.7, 19.5, 50, 1000]) expect(poissonMad(l)).toBeCloseTo(brute(l), 8);
    expect(poissonMad(0)).toBe(0);
    expect(poissonMad(1e6) / Math.sqrt((2 * 1e6) / Math.PI)).toBeCloseTo(1, 5); // normal limit
  });

  const hourly = (n: number): Series => ({
    profile: 'p',
    interval_s: 3600,
    regular: true,
    t_s: Array.from({ length: n }, (_, i) => i * 3600),
    counts: Array.from({ length: n }, (_, i) => i + 1),
  });

  it('baselines: last value, yesterday, last week, EWMA (alpha 0.5 over the last 32), their median', () => {
    const s = hourly(50); // counts 1..50
    expect(seasonsOf(s)).toEqual({ day: 24, week: 24 }); // spans 50 h ≥ two days, < two weeks
    const at30 = baselineForecasts(s.counts, 30, 1, { day: 24, week: 24 });
    // last 30; yesterday counts[6] = 7; week = day; EWMA of counts[0..30) = 1..30 from 1 at 0.5:
    // 30 − (1 − 0.5^29)… ≈ 29.000000002; ensemble = median(last, EWMA, day) = 29.0…
    expect(at30.last_value).toBe(30);
    expect(at30.seasonal_day).toBe(7);
    expect(at30.seasonal_week).toBe(7);
    expect(at30.ewma).toBeCloseTo(29, 6);
    expect(at30.ensemble).toBe(at30.ewma);
    expect(baselineForecasts(s.counts, 30, 2, { day: 24, week: 24 }).seasonal_day).toBe(7 + 8);
    const at10 = baselineForecasts(s.counts, 10, 1, { day: 24, week: 24 });
    expect([at10.seasonal_day, at10.ensemble]).toEqual([10, (10 + at10.ewma) / 2]); // no yesterday yet: last value, and no vote
    expect(baselineForecasts([2, 4], 2, 1, { day: 1, week: 1 }).ewma).toBe(3);
    expect(baselineForecasts(s.counts, 30, 0.5, { day: 24, week: 24 }).last_value).toBe(15); // half an interval
    // A week back: 5-minute intervals, counts i: at n = 2100, week (2016 intervals) back is counts[84] = 84.
    const five = Array.from({ length: 2200 }, (_, i) => i);
    const w = baselineForecasts(five, 2100, 1, seasonsFor(300));
    expect([w.seasonal_day, w.seasonal_week]).toEqual([2100 - 288, 84]);
    // median of last 2099, EWMA ≈ 2098 (a ramp lags by (1 − α)/α = 1), day 1812, week 84: the middle two
    expect(w.ensemble).toBeCloseTo((1812 + 2098) / 2, 6);
    expect(seasonsOf({ ...hourly(1), interval_s: 60, counts: new Array(230).fill(5) })).toEqual({ day: 60, week: 60 }); // 230 min: one hour
    expect(seasonsOf({ ...hourly(1), interval_s: 60, counts: new Array(100).fill(5) })).toEqual({ day: 1, week: 1 });
  });

  it('seasonal steps: the last value plus the step taken one season earlier', () => {
    // Hourly, day = 24: counts i + 1, but index 6 is 100. At n = 31: last 31; a day back the step
    // into index 7 from index 6 was 8 − 100 = −92 → 31 − 92 < 0 → 0 (clamped); at n = 30 the step
    // into index 6 was 100 − 6 = 94 → 30 + 94 = 124.
    const s = hourly(50);
    s.counts[6] = 100;
    expect(stepForecasts(s.counts, 30, 1, { day: 24, week: 24 })).toEqual({ day_step: 124, week_step: 30 }); // no week: last value
    expect(stepForecasts(s.counts, 31, 1, { day: 24, week: 24 }).day_step).toBe(0);
    // Two intervals ahead: 2 × (30 − 6) + (100 + 8) = 156.
    expect(stepForecasts(s.counts, 30, 2, { day: 24, week: 24 }).day_step).toBe(156);
    expect(stepForecasts(s.counts, 10, 1, { day: 24, week: 24 }).day_step).toBe(10); // no day back yet
  });

  it('pinball loss at 0.9: under-forecasts cost 9 times over-forecasts', () => {
    expect(pinball(0.9, 10, 8)).toBeCloseTo(1.8, 12);
    expect(pinball(0.9, 8, 10)).toBeCloseTo(0.2, 12);
    const t = heldOutTargets([hourly(10)], undefined); // y = 6..10
    const e = evaluate(
      t,
      t.map((x) => x.y),
      t.map((x) => x.y + (x.y === 10 ? -1 : 0)),
    );
    expect(e.coverage_p90).toBe(0.8); // 10 > 9: one of five above the bound
    expect(e.pinball_p90).toBeCloseTo(0.9 / 40, 6);
  });

  it('held-out targets are the second half; a perfect forecast scores 1', () => {
    const s = hourly(10);
    const t = heldOutTargets([s], undefined);
    expect(t.map((x) => x.k)).toEqual([5, 6, 7, 8, 9]);
    expect(t.map((x) => x.y)).toEqual([6, 7, 8, 9, 10]);
    const e = evaluate(
      t,
      t.map((x) => x.y),
    );
    expect(e).toMatchObject({ accuracy: 1, wape: 0, intervals: 5 });
    expect(e.baselines.last_value.wape).toBeCloseTo(5 / 40, 6); // off by one each time
    expect(heldOutTargets([s], 7200).map((x) => x.y)).toEqual([13, 15, 17, 19]); // two intervals
  });

  it('warm-pool label: Erlang B', () => {
    expect(erlangB(0, 3)).toBe(1);
    expect(erlangB(1, 1)).toBe(0.5);
    expect(erlangB(2, 1)).toBeCloseTo(0.2, 12);
    // λS = 1: B(3) = 0.0625, B(4) = 0.01538…: 4 fragments keep cold starts ≤ 5 %.
    expect(warmPoolLabel(3600, 3600, 1, 0.05)).toBe(4);
    expect(warmPoolLabel(3600, 3600, 1, 0.1)).toBe(3);
    expect(warmPoolLabel(0, 300, 0.1, 0.05)).toBe(0);
    // More load never needs fewer fragments.
    let prev = 0;
    for (let a = 10; a <= 10_000; a *= 1.5) {
      const c = warmPoolLabel(a, 300, 0.1, 0.05);
      expect(c).toBeGreaterThanOrEqual(prev);
      prev = c;
    }
  });
});
