/**
 * Pool sizing from measured demand (engine/warmth.ts): the Poisson quantile against values worked
 * by hand, the hold (hysteresis) from reuse gaps, and a timer's period.
 */
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { poissonQuantile, PoolDemand } from '../../engine/warmth.ts';

describe('poissonQuantile', () => {
  it('matches the cumulative Poisson worked by hand', () => {
    expect(poissonQuantile(0, 0.999)).toBe(0);
    // mean 0.105: P(0) = e^-0.105 = 0.90032, P(≤1) = 0.90032 × 1.105 = 0.99485, P(≤2) = 0.99485 + 0.90032 × 0.105²/2 = 0.99981
    expect(poissonQuantile(0.105, 0.999)).toBe(2);
    expect(poissonQuantile(0.105, 0.99)).toBe(1);
    // mean 5.5: P(≤11) = 0.9890, P(≤12) = 0.9955, P(≤13) = 0.9983, P(≤14) = 0.99930
    expect(poissonQuantile(5.5, 0.999)).toBe(14);
    // mean 0.001: P(0) = 0.9990005 ≥ 0.999
    expect(poissonQuantile(0.001, 0.999)).toBe(0);
    expect(poissonQuantile(0.0011, 0.999)).toBe(1);
  });

  it('grows like mean + 3.09 sd for large means, and never below the mean (property)', () => {
    // Normal approximation: 10 000 + 3.09 × 100 ≈ 10 309 (the exact quantile is within a few).
    expect(Math.abs(poissonQuantile(10_000, 0.999) - 10_309)).toBeLessThan(5);
    fc.assert(
      fc.property(fc.double({ min: 0.01, max: 2000, noNaN: true }), (m) => {
        const k = poissonQuantile(m, 0.999);
        expect(k).toBeGreaterThanOrEqual(Math.floor(m));
        expect(poissonQuantile(m, 0.9)).toBeLessThanOrEqual(k);
      }),
      { numRuns: 200 },
    );
  });
});

describe('PoolDemand', () => {
  it('measures the rate over each window between scaling cycles, the first call only opening one', () => {
    const d = new PoolDemand();
    d.arrival(100);
    expect(d.measure(1000)).toBe(0); // opens the first window
    for (let t = 1000; t < 31_000; t += 100) d.arrival(t); // 300 arrivals
    expect(d.measure(31_000)).toBe(10); // 300 in 30 s
    expect(d.measure(61_000)).toBe(0);
  });

  it('holds idle fragments for the 90th percentile of reuse gaps, 30 s to 10 min; 10 min while under five are known', () => {
    const d = new PoolDemand();
    expect(d.hold_ms(false)).toBe(600_000);
    for (const gap of [1000, 2000, 3000, 4000]) d.reused(0, gap);
    expect(d.hold_ms(false)).toBe(600_000); // four gaps only
    d.reused(0, 100_000);
    // gaps 1, 2, 3, 4, 100 s: the 90th percentile by nearest rank is the 5th of 5, 100 s
    expect(d.hold_ms(false)).toBe(100_000);
    for (let i = 0; i < 20; i++) d.reused(0, 500); // mostly short gaps now: the 90th percentile is 4 s → at least 30 s
    expect(d.hold_ms(false)).toBe(30_000);
    // A timer pre-warmed before each call holds nothing between calls.
    expect(d.hold_ms(true)).toBe(0);
  });

  it('does not hold at all when even the median reuse gap is past 10 minutes', () => {
    const d = new PoolDemand();
    for (let i = 0; i < 5; i++) d.reused(0, 900_000);
    expect(d.hold_ms(false)).toBe(0);
  });

  it('knows a timer by its steady gaps and when it is due next; irregular gaps are no timer', () => {
    const d = new PoolDemand();
    for (let i = 0; i < 6; i++) d.arrival(i * 300_000 + (i % 2) * 1000); // 300 s apart, ±1 s
    expect(d.period_ms()).toBeCloseTo(300_000, -3);
    expect(d.nextDue_ms()).toBeCloseTo(5 * 300_000 + 1000 + 300_000, -3);
    const p = new PoolDemand();
    for (const t of [0, 100_000, 400_000, 450_000, 900_000, 1_000_000]) p.arrival(t);
    expect(p.period_ms()).toBeUndefined();
    expect(p.nextDue_ms()).toBeUndefined();
  });
});

describe('PoolDemand: the last 10 minutes', () => {
  it('keeps the highest rate and the busiest moment of windows that ended within 10 minutes', () => {
    const d = new PoolDemand();
    d.measure(0);
    for (let i = 0; i < 600; i++) d.arrival(i * 50); // a 30-s burst at 20/s
    d.busy(12);
    d.busy(7); // only the most counts
    d.measure(30_000);
    expect([d.peak_per_s, d.peakBusy]).toEqual([20, 12]);
    d.measure(60_000); // a quiet window: the peak stays
    expect([d.rate_per_s, d.peak_per_s, d.peakBusy]).toEqual([0, 20, 12]);
    d.measure(629_999); // the burst's window ended 599 999 ms ago: still within 10 minutes
    expect(d.peakBusy).toBe(12);
    d.measure(630_000); // now 600 000 ms: forgotten
    expect([d.peak_per_s, d.peakBusy]).toEqual([0, 0]);
  });
});
