/**
 * The boosted trees on data small enough to split by hand, and the metrics (WAPE, MAPE, the
 * baselines, the Poisson ceiling, the warm-pool label) against hand-worked or brute-force values.
 */
import { describe, expect, it } from 'vitest';
import { warmPoolLabel, erlangB } from '../../predict/dataset.ts';
import { binCuts, predictGbt, trainGbt, weightedMedian, type GbtParams } from '../../predict/gbt.ts';
import { baselineForecast, ErrorSum, evaluate, heldOutTargets, poissonMad, seasonOf } from '../../predict/metrics.ts';
import type { Series } from '../../predict/series.ts';

const params = (p: Partial<GbtParams>): GbtParams => ({ trees: 1, depth: 1, learning_rate: 1, min_leaf: 1, bins: 64, subsample: 1, colsample: 1, seed: 't', ...p });
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
    expect(m.trees[0]).toEqual({ feature: [0, -1, -1], threshold: [4, 0, 0], left: [1, 0, 0], right: [2, 0, 0], value: [0, 0, 10] });
    expect(Array.from(predictGbt(m, X8))).toEqual(Y8);
  });

  it('shrinkage: two trees at learning rate 0.5 reach 5, then 7.5', () => {
    const m = trainGbt(X8, Y8, W8, params({ trees: 2, learning_rate: 0.5 }));
    expect(m.trees.map((t) => t.value)).toEqual([[0, 0, 5], [0, 0, 2.5]]);
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

  it('weightedMedian and binCuts', () => {
    expect(weightedMedian([1, 2, 3], [1, 1, 5], [0, 1, 2])).toBe(3);
    expect(weightedMedian([3, 1, 2], [1, 1, 1], [0, 1, 2])).toBe(2);
    expect(weightedMedian([1, 2], [1, 1], [0, 1])).toBe(1); // lower middle
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

  const hourly = (n: number): Series => ({ profile: 'p', interval_s: 3600, regular: true, t_s: Array.from({ length: n }, (_, i) => i * 3600), counts: Array.from({ length: n }, (_, i) => i + 1) });

  it('baselines: last value, yesterday, EWMA (alpha 0.5 over the last 32)', () => {
    const s = hourly(50); // counts 1..50
    expect(seasonOf(s)).toBe(24); // spans 50 h ≥ two days
    expect(baselineForecast('last_value', s.counts, 30, 1, 24)).toBe(30);
    expect(baselineForecast('seasonal_naive', s.counts, 30, 1, 24)).toBe(7); // counts[30 − 24]
    expect(baselineForecast('seasonal_naive', s.counts, 30, 2, 24)).toBe(7 + 8);
    expect(baselineForecast('seasonal_naive', s.counts, 10, 1, 24)).toBe(10); // no yesterday yet: last value
    expect(baselineForecast('ewma', [2, 4], 2, 1, 1)).toBe(3);
    expect(baselineForecast('last_value', s.counts, 30, 0.5, 24)).toBe(15); // half an interval
    expect(seasonOf({ ...hourly(1), interval_s: 60, counts: new Array(230).fill(5) })).toBe(60); // 230 min: one hour
    expect(seasonOf({ ...hourly(1), interval_s: 60, counts: new Array(100).fill(5) })).toBe(1);
  });

  it('held-out targets are the second half; a perfect forecast scores 1', () => {
    const s = hourly(10);
    const t = heldOutTargets([s], undefined);
    expect(t.map((x) => x.k)).toEqual([5, 6, 7, 8, 9]);
    expect(t.map((x) => x.y)).toEqual([6, 7, 8, 9, 10]);
    const e = evaluate(t, t.map((x) => x.y));
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
