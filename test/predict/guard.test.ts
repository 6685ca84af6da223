/**
 * The online guard (predict/guard.ts) on hand-made series: when it leaves the model and for which
 * baseline, and the P90 multiplier's long-run coverage, which adaptive conformal inference bounds
 * exactly: log m_T − log m_0 = γ Σ (miss_t − 0.1), so while m stays inside its clamp the miss
 * rate is 0.1 ± ln(64) ÷ (γ T).
 */
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { guardCandidates, seasonsFor } from '../../predict/baselines.ts';
import { ACI_STEP, GUARD_MIN, GUARD_SHARPNESS, SeriesGuard } from '../../predict/guard.ts';

/** Drive a guard over counts as a shell would (one interval ahead), with model(k) the model's P50 and P90. */
function drive(counts: number[], model: (k: number) => [number, number], from = 1) {
  const g = new SeriesGuard();
  const out: { k: number; p50: number; p90: number; source: string }[] = [];
  for (let k = from; k < counts.length; k++) {
    g.settle(counts, k, k);
    const [p50, p90] = model(k);
    out.push({ k, ...g.forecast(k, 1, p50, p90, guardCandidates(counts, k, 1, seasonsFor(300)), 10) });
  }
  return out;
}

describe('SeriesGuard: fallback', () => {
  it('keeps the model until GUARD_MIN forecasts have settled, then follows the forecasters that did better', () => {
    // A ramp 0, 1, 2, …: last value (and both seasonal steps, which have no season yet) miss by
    // 1 each time, the ensemble (median of last value and EWMA) by 1.5, the EWMA by 2; the model
    // always says 50. Weights e^{−30 (S − S_best)/S_best}: 1 for the three exact-by-one, e^{−15}
    // for the ensemble, e^{−30} for the EWMA, ~0 for the model — the forecast is the last value.
    // (250 five-minute intervals: less than a day, so no seasonal step has its season.)
    const counts = Array.from({ length: 250 }, (_, i) => i);
    const out = drive(counts, () => [50, 60]);
    // Forecasts made at k = 1 … GUARD_MIN are from the model (the first settles at k = 2).
    expect(out.slice(0, GUARD_MIN).every((o) => o.source === 'model' && o.p50 === 50)).toBe(true);
    const last = out.at(-1) as (typeof out)[number];
    expect(last.source).toBe('last_value');
    expect(last.p50).toBeCloseTo(248, 4);
    expect(GUARD_SHARPNESS).toBe(30);
  });

  it('a flat series follows its exact forecasters; a model that does best keeps the forecast', () => {
    // Constant 100: last value, EWMA, ensemble and steps exact (error 0); the model off by 1. The
    // best error is 0, so the scale is a millionth of the arrivals and the model weighs e^{−30·10⁴}.
    const flat = new Array(120).fill(100);
    expect(drive(flat, () => [101, 110]).at(-1)).toMatchObject({ p50: 100, source: 'last_value' });
    // Alternating 100, 110: last value misses by 10 each time, the model (105) by 5, the EWMA by
    // about 6.7: the model weighs 1, the EWMA e^{−30·0.33} ≈ 5e-5 — the forecast stays ≈ 105.
    const alt = Array.from({ length: 120 }, (_, i) => (i % 2 ? 110 : 100));
    const out = drive(alt, () => [105, 112]);
    expect(out.every((o) => o.source === 'model')).toBe(true);
    expect(out.at(-1)?.p50).toBeCloseTo(105, 2);
  });
});

describe('SeriesGuard: P90', () => {
  it('the band is P50 + m × (model P90 − P50); m grows after a miss by e^{0.9γ}', () => {
    const counts = [10, 10, 30, 10];
    const g = new SeriesGuard();
    const f1 = g.forecast(1, 1, 10, 12, guardCandidates(counts, 1, 1, seasonsFor(300)), 10);
    expect(f1).toEqual({ p50: 10, p90: 12, source: 'model' });
    g.settle(counts, 2, 2); // arrivals 10 ≤ 12: covered, m = e^{−0.1γ}
    const f2 = g.forecast(2, 1, 10, 12, guardCandidates(counts, 2, 1, seasonsFor(300)), 10);
    expect(f2.p90).toBeCloseTo(10 + 2 * Math.exp(-0.1 * ACI_STEP), 12);
    g.settle(counts, 3, 3); // arrivals 30 > bound: missed, m = e^{−0.1γ} · e^{0.9γ}
    const f3 = g.forecast(3, 1, 10, 12, guardCandidates(counts, 3, 1, seasonsFor(300)), 10);
    expect(f3.p90).toBeCloseTo(10 + 2 * Math.exp(0.8 * ACI_STEP), 12);
  });

  it('a flat band still gets a width: 2 % of the scale', () => {
    const g = new SeriesGuard();
    expect(g.forecast(1, 1, 10, 10, guardCandidates([10, 10], 1, 1, seasonsFor(300)), 50).p90).toBeCloseTo(11, 12);
  });

  it('long-run coverage of every series is 0.9 within ln 64 ÷ (γ T), whatever the model', () => {
    fc.assert(
      fc.property(
        fc.integer({ min: 1, max: 2 ** 31 - 2 }),
        fc.double({ min: 0.5, max: 5, noNaN: true }),
        (seed, spread) => {
          // A seeded noisy series around 100 and a model whose band is `spread` times too wide or narrow.
          // (Lehmer's generator needs a seed in [1, 2³¹ − 2]: 2³¹ − 1 itself sticks at 0.)
          let x = seed;
          const rand = () => (x = (x * 48271) % 2147483647) / 2147483647;
          const T = 4000;
          const counts = Array.from({ length: T + 1 }, () => Math.round(100 + 40 * (rand() - 0.5) * 2));
          const out = drive(counts, () => [100, 100 + 10 * spread]);
          const misses = out.filter((o) => (counts[o.k] as number) > o.p90).length;
          expect(Math.abs(misses / out.length - 0.1)).toBeLessThanOrEqual(
            Math.log(64) / (ACI_STEP * out.length) + 1 / out.length,
          );
        },
      ),
      { numRuns: 20 },
    );
  });
});

describe('SeriesGuard: settling', () => {
  it('a history that keeps only its last intervals settles by absolute index', () => {
    // The same ramp, but each call sees only the last 5 intervals (absolute end = k).
    const counts = Array.from({ length: 200 }, (_, i) => i);
    const g = new SeriesGuard();
    let last = '';
    for (let k = 5; k < 200; k++) {
      const window = counts.slice(k - 5, k);
      g.settle(window, 5, k);
      last = g.forecast(k, 1, 50, 60, guardCandidates(window, 5, 1, seasonsFor(300)), 10).source;
    }
    expect(last).toBe('last_value');
  });
});
