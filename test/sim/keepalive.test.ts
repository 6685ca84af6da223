/**
 * The keep-alive policies (sim/keepalive.ts): the hybrid histogram's windows for idle-time (IT)
 * sequences worked out by hand — histogram branch, flat histograms, the out-of-bounds branch
 * with its AR(1) forecast — and how the policy applies them to fragments; the fixed keep-alive.
 */
import { describe, expect, it } from 'vitest';
import type { Fragment } from '../../engine/pools.ts';
import { BINS, FixedKeepAlive, HybridKeepAlive, IdleTimes, RANGE_MS } from '../../sim/keepalive.ts';

const MIN = 60_000;
const H = 60 * MIN;
const its = (...ms: number[]) => {
  const it = new IdleTimes();
  for (const x of ms) it.add(x);
  return it;
};
const frag = (id: string, profile: string, node: number, last_used_ms = 0) =>
  ({ id, profile, node, last_used_ms }) as Fragment;

describe('IdleTimes: the histogram branch', () => {
  it('ITs all in bin 19 (19–20 min): P = 19 min × 0.9 = 17.1 min, K = 20 min × 1.1 − 17.1 = 4.9 min', () => {
    const it = its(19.5 * MIN, 19.97 * MIN, 19 * MIN);
    // Counts: 3 in one bin, 0 in 239. mean m = 3/240; sample variance = (239²m² + 239m²)/239 =
    // 240m², so CV = √240 = 15.49 ≥ 2: representative (any number of ITs in one bin gives √240).
    expect(it.cv).toBeCloseTo(Math.sqrt(240), 10);
    const w = it.windows();
    expect(w.pattern).toBe('representative');
    expect(w.prewarm_ms).toBeCloseTo(17.1 * MIN, 6);
    expect(w.keepAlive_ms).toBeCloseTo(4.9 * MIN, 6);
  });

  it('CV by hand: two ITs in bin 3, one in bin 10', () => {
    // n = 3, Σc² = 2² + 1² = 5. Sample variance = (240·5 − 3²) / (240·239) = 1191 / 57360 =
    // 0.0207636; mean = 3/240 = 0.0125; CV = √0.0207636 / 0.0125 = 0.144096 / 0.0125 = 11.5277.
    const it = its(3 * MIN, 3.9 * MIN, 10.2 * MIN);
    expect(it.cv).toBeCloseTo(11.5277, 3);
    // 5th percentile: the first bin holding ≥ 5 % of 3 ITs (0.15) is bin 3 → P = 3 min × 0.9 = 2.7 min.
    // 99th: ≥ 2.97 ITs is reached at bin 10 → kept until 11 min × 1.1 = 12.1 min → K = 9.4 min.
    expect(it.windows()).toEqual({
      pattern: 'representative',
      prewarm_ms: expect.closeTo(2.7 * MIN, 6),
      keepAlive_ms: expect.closeTo(9.4 * MIN, 6),
    });
  });

  it('one IT in each of k bins: representative up to k = 48, not from k = 49', () => {
    // Counts: k ones, 240 − k zeros; CV² = 240(240 − k) / (239 k): CV < 2 ⇔ k > 48.16.
    // k = 48: √(240·192 / (239·48)) = √4.01674 = 2.00418; k = 49: √(240·191 / (239·49)) = 1.97845.
    const spread = (k: number) => its(...Array.from({ length: k }, (_, i) => (i + 0.5) * MIN));
    const k48 = spread(48),
      k49 = spread(49);
    expect(k48.cv).toBeCloseTo(2.00418, 4);
    expect(k49.cv).toBeCloseTo(1.97845, 4);
    // k = 48, bins 0–47: the 5th percentile (2.4 ITs) is reached at bin 2 → P = 2 × 0.9 = 1.8 min;
    // the 99th (47.52) at bin 47 → until 48 × 1.1 = 52.8 min → K = 51 min.
    expect(k48.windows()).toEqual({
      pattern: 'representative',
      prewarm_ms: expect.closeTo(1.8 * MIN, 6),
      keepAlive_ms: expect.closeTo(51 * MIN, 6),
    });
    // Not representative: the conservative standard keep-alive, no pre-warm, 4 h.
    expect(k49.windows()).toEqual({ pattern: 'not-representative', prewarm_ms: 0, keepAlive_ms: 4 * H });
  });

  it('a flat histogram (one IT in every bin) has CV 0: not representative, kept 4 h', () => {
    const it = its(...Array.from({ length: BINS }, (_, i) => i * MIN + 1000));
    expect(it.cv).toBe(0);
    expect(it.windows()).toEqual({ pattern: 'not-representative', prewarm_ms: 0, keepAlive_ms: RANGE_MS });
    expect(RANGE_MS).toBe(4 * H);
  });

  it('no IT yet: not representative, kept 4 h', () => {
    const it = new IdleTimes();
    expect(it.cv).toBeNaN();
    expect(it.windows()).toEqual({ pattern: 'not-representative', prewarm_ms: 0, keepAlive_ms: 4 * H });
    // One completion gives no IT: an IT needs a previous completion.
    it.completed(0, 2000);
    expect(it.windows().pattern).toBe('not-representative');
  });

  it('an IT runs from the previous completion to the next arrival; overlapping invocations give 0', () => {
    const it = new IdleTimes();
    it.completed(0, 2000); // arrived at 0, finished at 2 s
    it.completed(20 * MIN, 20 * MIN + 1005); // IT = 1200 s − 2 s = 1198 s: bin 19
    it.completed(20 * MIN + 500, 20 * MIN + 1600); // arrived before the previous finished: IT 0, bin 0
    // Bins 19 and 0 hold one IT each: 5th percentile bin 0 (P = 0), 99th bin 19 (until 22 min).
    expect(it.windows()).toEqual({
      pattern: 'representative',
      prewarm_ms: 0,
      keepAlive_ms: expect.closeTo(22 * MIN, 6),
    });
  });

  it('ITs beyond 4 h are out of bounds and stay out of the percentiles', () => {
    // 10 min, 20 min, 5 h: 1 of 3 out of bounds (< 0.5), so the histogram decides from bins 10
    // and 20: CV = √(240·(240·2 − 2²)/239) / 2 = 10.93; P = 10 × 0.9 = 9 min; until 21 × 1.1 =
    // 23.1 min → K = 14.1 min.
    const it = its(10 * MIN, 20 * MIN, 5 * H);
    expect(it.windows()).toEqual({
      pattern: 'representative',
      prewarm_ms: expect.closeTo(9 * MIN, 6),
      keepAlive_ms: expect.closeTo(14.1 * MIN, 6),
    });
    // An IT of exactly 4 h is beyond the last bin (240 min ≥ the range).
    expect(its(4 * H, 4 * H).windows().pattern).toBe('time-series');
  });
});

describe('IdleTimes: the out-of-bounds (time-series) branch', () => {
  it('half the ITs out of bounds is enough; with fewer than 3 ITs the forecast is the last one', () => {
    // 10 min and 5 h: OOB share 1/2 ≥ 0.5. Forecast 5 h: P = 5 × 0.85 = 4.25 h, K = 5 × 0.15 × 2 = 1.5 h.
    const it = its(10 * MIN, 5 * H);
    expect(it.forecast_ms()).toBe(5 * H);
    expect(it.windows()).toEqual({
      pattern: 'time-series',
      prewarm_ms: expect.closeTo(4.25 * H, 6),
      keepAlive_ms: expect.closeTo(1.5 * H, 6),
    });
  });

  it('AR(1) by least squares: 5, 6, 8 h → pairs (5,6), (6,8) → φ = 2, c = −4 → next 12 h', () => {
    const it = its(5 * H, 6 * H, 8 * H);
    expect(it.forecast_ms()).toBeCloseTo(12 * H, 3);
    // P = 12 × 0.85 = 10.2 h; K = 12 × 0.15 × 2 = 3.6 h.
    expect(it.windows()).toEqual({
      pattern: 'time-series',
      prewarm_ms: expect.closeTo(10.2 * H, 3),
      keepAlive_ms: expect.closeTo(3.6 * H, 3),
    });
  });

  it('AR(1) with a negative slope: 5, 7, 6, 8 h → next 6 h', () => {
    // Pairs (5,7), (7,6), (6,8): mean x = 6, mean y = 7; Sxx = 1 + 1 + 0 = 2;
    // Sxy = (−1)(0) + (1)(−1) + (0)(1) = −1 → φ = −0.5, c = 7 + 0.5 × 6 = 10 → 10 − 0.5 × 8 = 6 h.
    expect(its(5 * H, 7 * H, 6 * H, 8 * H).forecast_ms()).toBeCloseTo(6 * H, 3);
  });

  it('earlier ITs all equal: no slope to fit, the forecast is the mean of the later ones', () => {
    // Pairs (5,5), (5,7): Sxx = 0 → mean of 5 and 7 = 6 h.
    expect(its(5 * H, 5 * H, 7 * H).forecast_ms()).toBe(6 * H);
  });

  it('a forecast below 0 is 0', () => {
    // Pairs (9,8), (8,5): φ = 3, c = −19 → −19 + 3 × 5 = −4 h → 0.
    expect(its(9 * H, 8 * H, 5 * H).forecast_ms()).toBe(0);
  });
});

describe('HybridKeepAlive on fragments', () => {
  it('P = 0: the idle fragment stays warm K; P > 0: it is unloaded and a replacement pre-warmed P later, warm K', () => {
    const h = new HybridKeepAlive();
    const f = frag('fn-0', 'fn', 1);
    // First completion (arrived 0, done 2 s): no IT, not representative → kept 4 h.
    expect(h.idle(f, 0, 2000)).toBe(true);
    expect(h.expired(f, 2000 + 4 * H - 1)).toBe(false);
    // Used again at 20 min, done 20 min + 1.005 s: IT 1198 s (bin 19) → P = 17.1 min, K = 4.9 min.
    expect(h.idle(f, 20 * MIN, 20 * MIN + 1005)).toBe(false);
    const due = 20 * MIN + 1005 + 17.1 * MIN;
    expect(h.prewarmsDue(due - 1)).toEqual([]);
    expect(h.prewarmsDue(due)).toEqual([{ profile: 'fn', node: 1 }]);
    expect(h.prewarmsDue(10 * H)).toEqual([]); // taken off the schedule
    // The replacement comes up warm at 38 min: stopped 4.9 min later unless used.
    const g = frag('fn-1', 'fn', 1);
    h.warmed(g, 38 * MIN);
    expect(h.expired(g, 38 * MIN + 4.9 * MIN - 1)).toBe(false);
    expect(h.expired(g, 38 * MIN + 4.9 * MIN)).toBe(true);
  });

  it("a cold start takes the place of the profile's earliest pending pre-warm", () => {
    const h = new HybridKeepAlive();
    // Both profiles have seen three ITs in bin 19: P = 17.1 min.
    for (const p of ['a', 'b']) for (let i = 0; i < 3; i++) h.idleTimes(p).add(19.5 * MIN);
    expect(h.idle(frag('a-1', 'a', 0), 40 * MIN, 40 * MIN)).toBe(false); // a due at 57.1 min
    expect(h.idle(frag('b-1', 'b', 1), 41 * MIN, 41 * MIN)).toBe(false); // b due at 58.1 min
    // a's next IT: 59.5 − 40 = 19.5 min, bin 19 again → a due at 59.5 + 17.1 = 76.6 min.
    expect(h.idle(frag('a-2', 'a', 1), 59.5 * MIN, 59.5 * MIN)).toBe(false);
    h.coldStart('a');
    expect(h.prewarmsDue(10 * H)).toEqual([
      { profile: 'b', node: 1 },
      { profile: 'a', node: 1 },
    ]);
  });
});

describe('FixedKeepAlive', () => {
  it('stops a fragment idle for the keep-alive since its last use, and never pre-warms', () => {
    const k = new FixedKeepAlive(10 * MIN);
    const f = frag('fn-0', 'fn', 0, 2000);
    expect(k.idle()).toBe(true);
    expect(k.expired(f, 2000 + 10 * MIN - 1)).toBe(false);
    expect(k.expired(f, 2000 + 10 * MIN)).toBe(true);
    expect(k.prewarmsDue()).toEqual([]);
  });
});
