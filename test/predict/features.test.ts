/**
 * Features, series and labels on hand-made series, every expected value worked out by hand in the
 * comments beside it.
 */
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import {
  ALL_FEATURES,
  computeFeatures,
  featureIndex,
  HISTORY_LEN,
  LEVEL_FLOOR,
  levelOf,
  seasonIntervals,
} from '../../predict/features.ts';
import { labelAt, seriesOfRows } from '../../predict/series.ts';

const feats = (counts: number[], interval_s = 300, end_s = 0, n = counts.length) => {
  const out = new Float64Array(ALL_FEATURES.length);
  const level = computeFeatures(counts, n, interval_s, end_s, out);
  const named = Object.fromEntries(ALL_FEATURES.map((f, i) => [f, out[i] as number])) as Record<
    (typeof ALL_FEATURES)[number],
    number
  >;
  return { level, ...named };
};

describe('features', () => {
  // 12 intervals 1..12: level = mean(1..12) + LEVEL_FLOOR = 6.5 + 0.001.
  const L = 6.5 + LEVEL_FLOOR;
  const ramp = Array.from({ length: 12 }, (_, i) => i + 1);

  it('level, lags and rolling means, divided by the level', () => {
    const f = feats(ramp);
    expect(f.level).toBe(L);
    expect(L).toBe(6.501);
    expect(f.log_level).toBeCloseTo(Math.log(L), 12);
    expect(f.lag_1).toBeCloseTo(12 / L, 12); // the interval just ended
    expect(f.lag_2).toBeCloseTo(11 / L, 12);
    expect(f.lag_6).toBeCloseTo(7 / L, 12);
    expect(f.lag_12).toBeCloseTo(1 / L, 12);
    expect(f.mean_3).toBeCloseTo(11 / L, 12); // (10 + 11 + 12) / 3
    expect(f.mean_6).toBeCloseTo(9.5 / L, 12); // (7 + … + 12) / 6
    expect(f.mean_24).toBeCloseTo(6.5 / L, 12); // only 12 intervals: their mean
    expect(f.med_5).toBeCloseTo(10 / L, 12); // median of 8..12
    expect(f.med_15).toBeCloseTo(6 / L, 12); // 1..12: lower middle of an even count
    expect(f.min_12).toBeCloseTo(1 / L, 12);
    expect(f.max_12).toBeCloseTo(12 / L, 12);
    // sd of 1..12 (population) = sqrt((12² − 1) / 12) = sqrt(143 / 12)
    expect(f.sd_12).toBeCloseTo(Math.sqrt(143 / 12) / L, 12);
  });

  it('EWMAs start at the oldest value of the window', () => {
    // 4, 8 with alpha 0.5: 4 → 0.5·8 + 0.5·4 = 6; level (4 + 8) / 2 + 0.001 = 6.001.
    const f = feats([4, 8]);
    expect(f['ewma_0.5']).toBeCloseTo(6 / 6.001, 12);
    expect(f['ewma_0.2']).toBeCloseTo((0.2 * 8 + 0.8 * 4) / 6.001, 12); // 4.8
    expect(f['ewma_0.05']).toBeCloseTo((0.05 * 8 + 0.95 * 4) / 6.001, 12); // 4.2
  });

  it('recent one-step errors of last-value and the smoothers', () => {
    // 2, 4, 2, 4: from index 1 on, last-value misses by 2 each time: 3 misses, sum 6, mean 2;
    // level 3.001. Error sums are padded by 1 % of the level per interval: 0.01 × 3.001 × 3.
    const f = feats([2, 4, 2, 4]);
    const pad = 0.01 * 3.001 * 3;
    expect(f.err_last).toBeCloseTo(2 / 3.001, 12);
    // EWMA 0.5 from 2: forecasts 2, 3, 2.5 for 4, 2, 4 → errors 2, 1, 1.5 = 4.5
    expect(f.ewma_vs_last).toBeCloseTo((4.5 + pad) / (6 + pad), 12);
    // 12-mean of what came before: 2, 3, 8/3 → errors 2, 1, 4/3 = 13/3
    expect(f.mean_vs_last).toBeCloseTo((13 / 3 + pad) / (6 + pad), 12);
    // 5-median (lower middle) of what came before: 2, 2, 2 → errors 2, 0, 2 = 4
    expect(f.med_vs_last).toBeCloseTo((4 + pad) / (6 + pad), 12);
  });

  it('seasonal features look one day back at the interval being forecast', () => {
    // Hourly intervals: a day is 24 of them. 40 intervals of 10, except index 40 − 24 = 16 (the
    // forecast interval one day back) = 30 and its neighbours 15, 17 = 20.
    const c = Array.from({ length: 40 }, () => 10);
    c[15] = 20;
    c[16] = 30;
    c[17] = 20;
    const f = feats(c, 3600);
    const L = 10.001; // the last 12 are all 10
    expect(f.level).toBe(L);
    expect(f.has_day).toBe(1);
    expect(f.day_next).toBeCloseTo(30 / L, 12);
    expect(f.day_next3).toBeCloseTo(70 / 3 / L, 12);
    // that day's level: indices 4..15 → eleven 10s and one 20: 130 / 12; both padded by 1 % of L
    expect(f.day_delta).toBeCloseTo((70 / 3 + 0.01 * L) / (130 / 12 + 0.01 * L), 12);
    expect(f.day_step).toBeCloseTo((30 - 20) / L, 12); // into index 16 from index 15, one day back
    expect(f.has_week).toBe(0); // a week back is not in the history
    expect(f.week_step).toBe(0);
    expect(f.week_next).toBeCloseTo(10 / L, 12); // neutral: the level window's mean
    expect(f.week_delta).toBe(1);
  });

  it('time of day and day of week on a circle', () => {
    const f = feats([1], 300, 6 * 3600); // 06:00 on day 0
    expect(f.tod_sin).toBeCloseTo(1, 12); // a quarter of the day
    expect(f.tod_cos).toBeCloseTo(0, 12);
    expect(f.dow_sin).toBeCloseTo(Math.sin((2 * Math.PI) / 28), 12); // 6 h of a 168 h week
    expect(feats([1], 300, 86_400 * 7 + 6 * 3600).dow_sin).toBeCloseTo(f.dow_sin, 9);
  });

  it('an empty history is neutral, not NaN', () => {
    const f = feats([]);
    expect(f.level).toBe(LEVEL_FLOOR);
    expect(Object.values(f).every(Number.isFinite)).toBe(true);
    expect(f.lag_1).toBe(0); // (level − LEVEL_FLOOR) / level
  });

  it('reads no further back than HISTORY_LEN', () => {
    // Two histories that differ only before the last HISTORY_LEN intervals give the same features.
    const n = HISTORY_LEN + 50;
    const a = Array.from({ length: n }, (_, i) => (i * 7) % 13);
    const b = a.map((x, i) => (i < n - HISTORY_LEN ? x + 100 : x));
    expect(feats(a, 60)).toEqual(feats(b, 60));
  });

  it('scale-free: multiplying a series by 1000 barely moves the ratios (only the floor of the level)', () => {
    fc.assert(
      fc.property(fc.array(fc.integer({ min: 1, max: 50 }), { minLength: 20, maxLength: 80 }), (xs) => {
        const a = feats(xs.map((x) => x * 1000));
        const b = feats(xs.map((x) => x * 100_000));
        expect(a.lag_1 / b.lag_1).toBeCloseTo(1, 2);
        expect(a['ewma_0.2'] / b['ewma_0.2']).toBeCloseTo(1, 2);
      }),
      { numRuns: 50 },
    );
  });

  it('levelOf, seasonIntervals, featureIndex', () => {
    expect(levelOf([5, 5, 5], 3)).toBe(5.001);
    expect(levelOf([100, 1, 2], 1)).toBe(100.001); // only counts[0..n)
    expect(seasonIntervals(300, 86_400)).toBe(288);
    expect(seasonIntervals(1800, 7 * 86_400)).toBe(336);
    expect(seasonIntervals(7, 86_400)).toBe(12_343); // 86,401 s: within 1 %
    expect(seasonIntervals(50_000, 86_400)).toBeUndefined();
    expect(seasonIntervals(NaN, 86_400)).toBeUndefined(); // irregular series: no season
    expect(featureIndex(['lag_1', 'log_level'])).toEqual([1, 0]);
    expect(() => featureIndex(['nope'])).toThrow(/unknown feature nope/);
  });
});

describe('series and labels', () => {
  it('a regular trace is gridded; a missing interval counts 0 arrivals', () => {
    const s = seriesOfRows([
      { t_s: 0, profile: 'b', count: 1 },
      { t_s: 60, profile: 'b', count: 2 },
      { t_s: 180, profile: 'b', count: 4 },
      { t_s: 0, profile: 'a', count: 9 },
      { t_s: 60, profile: 'a', count: 9 },
      { t_s: 120, profile: 'a', count: 9 },
      { t_s: 180, profile: 'a', count: 9 },
      { t_s: 240, profile: 'a', count: 9 },
      { t_s: 300, profile: 'a', count: 9 },
      { t_s: 360, profile: 'a', count: 9 },
      { t_s: 420, profile: 'a', count: 9 },
      { t_s: 480, profile: 'a', count: 9 },
      { t_s: 540, profile: 'a', count: 9 },
      { t_s: 600, profile: 'a', count: 9 },
    ]);
    // 11 of 12 gaps are 60 s (≥ 90 %): regular, sorted by profile.
    expect(s.map((x) => [x.profile, x.interval_s, x.regular])).toEqual([
      ['a', 60, true],
      ['b', 60, true],
    ]);
    expect(s[1]?.counts).toEqual([1, 2, 0, 4]);
    expect(s[1]?.t_s).toEqual([0, 60, 120, 180]);
  });

  it('an irregular trace keeps its rows in order, interval = the median gap', () => {
    const s = seriesOfRows([10, 20, 40, 50, 80, 90].map((t_s, i) => ({ t_s, profile: 'm', count: i })));
    expect(s[0]).toMatchObject({
      regular: false,
      interval_s: 10,
      counts: [0, 1, 2, 3, 4, 5],
      t_s: [10, 20, 40, 50, 80, 90],
    });
  });

  it('labels: whole intervals, and a fractional last one pro rata', () => {
    const c = [1, 2, 3, 4];
    expect(labelAt(c, 1, 1)).toBe(2);
    expect(labelAt(c, 1, 2)).toBe(5);
    expect(labelAt(c, 1, 1 / 6)).toBeCloseTo(2 / 6, 12); // 5 min of a 30-min interval
    expect(labelAt(c, 2, 1.5)).toBeCloseTo(3 + 2, 12);
    expect(labelAt(c, 3, 2)).toBeUndefined(); // past the end
  });
});
