/**
 * Workload generators and trace replay (sim/workload.ts).
 *
 * The statistical checks use fixed seeds, so they are deterministic; each tolerance is five
 * standard deviations of the quantity under the model being tested (worked out in the comments),
 * so a correct generator would fail one for a different seed with probability below 1e-6.
 */
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { simProfileSchema, type SimProfile } from '../../sim/scenario.ts';
import {
  demandReplay,
  drawCpu_ms,
  drawPriority,
  drawWorkingSet_kb,
  generator,
  requestReplay,
  type Arrival,
  type ArrivalSource,
} from '../../sim/workload.ts';
import { exponential, makeRng, normal } from '../../sim/random.ts';

const H = 3600;
const S = 1e6; // µs per s
const profile = (p: unknown): SimProfile => simProfileSchema.parse(p);

function collect(src: ArrivalSource): Arrival[] {
  const out: Arrival[] = [];
  for (let a = src.next(); a; a = src.next()) out.push(a);
  return out;
}

/** Arrival times (µs) of a generator for one profile. */
const times = (p: SimProfile, end_s: number, seed: string | number = 1, name = 'p') =>
  collect(generator(name, p, seed, end_s * S)).map((a) => a.t_us);

/** How many of the sorted times fall in [from_s, to_s). */
function countIn(ts: readonly number[], from_s: number, to_s: number): number {
  let n = 0;
  for (const t of ts) if (t >= from_s * S && t < to_s * S) n++;
  return n;
}

const mean = (xs: readonly number[]) => xs.reduce((a, b) => a + b, 0) / xs.length;
const variance = (xs: readonly number[]) => {
  const m = mean(xs);
  return xs.reduce((a, x) => a + (x - m) ** 2, 0) / (xs.length - 1);
};

describe('random draws', () => {
  it('exponential: mean and P(X > mean) = 1/e', () => {
    const rng = makeRng(1, 'exp');
    const n = 200_000;
    const xs = Array.from({ length: n }, () => exponential(rng, 50));
    // sd of the sample mean = 50 / √200000 = 0.112 → ±5 sd = 0.56.
    expect(Math.abs(mean(xs) - 50)).toBeLessThan(0.56);
    // P(X > m) = e^-1 = 0.3679; sd √(0.3679 × 0.6321 / 200000) = 0.00108 → ±0.0054.
    expect(Math.abs(xs.filter((x) => x > 50).length / n - Math.exp(-1))).toBeLessThan(0.0054);
    expect(xs.every((x) => x >= 0 && Number.isFinite(x))).toBe(true);
  });

  it('normal (Box–Muller): mean 0, variance 1', () => {
    const rng = makeRng(1, 'normal');
    const n = 200_000;
    const xs = Array.from({ length: n }, () => normal(rng));
    // sd of the mean 1/√n = 0.00224 → ±0.0112; sd of the sample variance √(2/n) = 0.00316 → ±0.0158.
    expect(Math.abs(mean(xs))).toBeLessThan(0.0112);
    expect(Math.abs(variance(xs) - 1)).toBeLessThan(0.0158);
  });
});

describe('drawCpu_ms', () => {
  const n = 200_000;

  it('const: exactly the mean, and it draws nothing from the stream', () => {
    const p = profile({ cpu_ms: { dist: 'const', mean: 123.5 } });
    const a = makeRng(7, 's'),
      b = makeRng(7, 's');
    for (let i = 0; i < 100; i++) expect(drawCpu_ms(p, a)).toBe(123.5);
    expect(a()).toBe(b()); // both streams still at their first value
  });

  it('exp: the configured mean', () => {
    const p = profile({ cpu_ms: { dist: 'exp', mean: 50 } });
    const rng = makeRng(2, 'cpu');
    const xs = Array.from({ length: n }, () => drawCpu_ms(p, rng));
    // sd of the mean 50/√200000 = 0.112 → ±0.56.
    expect(Math.abs(mean(xs) - 50)).toBeLessThan(0.56);
  });

  it('lognormal: the configured mean (not the median), μ = ln m − σ²/2, sd of ln X = σ', () => {
    const p = profile({ cpu_ms: { dist: 'lognormal', mean: 400, sigma: 0.4 } });
    const rng = makeRng(3, 'cpu');
    const xs = Array.from({ length: n }, () => drawCpu_ms(p, rng));
    // Var X = m²(e^σ² − 1) = 160000 × 0.17351 = 27762 → sd 166.6; sd of the mean 166.6/√n = 0.373 → ±1.86.
    expect(Math.abs(mean(xs) - 400)).toBeLessThan(1.86);
    // Median e^μ = 400 e^-0.08 = 369.25. Density there 1/(369.25 × 0.4 × √(2π)) = 0.002701, so the
    // sample median's sd is 1/(2 × 0.002701 × √n) = 0.414 → ±2.07.
    const sorted = [...xs].sort((a, b) => a - b);
    expect(Math.abs((sorted[n / 2] as number) - 369.25)).toBeLessThan(2.07);
    // ln X ~ N(5.9915 − 0.08, 0.4²): mean 5.9115 (sd 0.4/√n = 0.00089 → ±0.0045), sd 0.4 (sd √(0.16/(2n))·… ≈ 0.00063 → ±0.0032).
    const logs = xs.map(Math.log);
    expect(Math.abs(mean(logs) - (Math.log(400) - 0.08))).toBeLessThan(0.0045);
    expect(Math.abs(Math.sqrt(variance(logs)) - 0.4)).toBeLessThan(0.0032);
  });

  it('lognormal with σ = 0 is the mean itself', () => {
    const p = profile({ cpu_ms: { dist: 'lognormal', mean: 250, sigma: 0 } });
    const rng = makeRng(1, 'x');
    for (let i = 0; i < 10; i++) expect(drawCpu_ms(p, rng)).toBeCloseTo(250, 9);
  });
});

describe('drawPriority', () => {
  const draw = (mix: [number, number, number, number], n: number, seed = 1) => {
    const p = profile({ priority_mix: mix });
    const rng = makeRng(seed, 'prio');
    const c = [0, 0, 0, 0];
    for (let i = 0; i < n; i++) (c[drawPriority(p, rng)] as number)++;
    return c.map((k) => k / n);
  };

  it('follows the mix (default 0.1 / 0.7 / 0.2 / 0)', () => {
    const n = 100_000;
    const [p0, p1, p2, p3] = draw([0.1, 0.7, 0.2, 0], n);
    // sd √(p(1−p)/n): 0.1 → 0.00095 (±0.0047), 0.7 → 0.00145 (±0.0072), 0.2 → 0.00126 (±0.0063).
    expect(Math.abs((p0 as number) - 0.1)).toBeLessThan(0.0047);
    expect(Math.abs((p1 as number) - 0.7)).toBeLessThan(0.0072);
    expect(Math.abs((p2 as number) - 0.2)).toBeLessThan(0.0063);
    expect(p3).toBe(0); // weight 0 is never drawn
  });

  it('normalises weights that do not sum to 1, and a single weight always wins', () => {
    const [p0, p1, p2, p3] = draw([2, 0, 0, 2], 100_000);
    // 0.5 each: sd √(0.25/100000) = 0.00158 → ±0.0079.
    expect(Math.abs((p0 as number) - 0.5)).toBeLessThan(0.0079);
    expect(Math.abs((p3 as number) - 0.5)).toBeLessThan(0.0079);
    expect([p1, p2]).toEqual([0, 0]);
    expect(draw([0, 0, 5, 0], 1000)).toEqual([0, 0, 1, 0]);
  });
});

describe('generator: Poisson', () => {
  it('rate 50/s for 2000 s: 100000 ± 5 sd (sd √100000 = 316), exponential gaps', () => {
    const p = profile({ arrival: { kind: 'poisson', rate_per_s: 50 } });
    const ts = times(p, 2000);
    expect(Math.abs(ts.length - 100_000)).toBeLessThan(5 * 316);
    const gaps = ts.slice(1).map((t, i) => (t - (ts[i] as number)) / S);
    // Mean gap 1/50 = 0.02 s; sd of the mean 0.02/√100000 = 6.3e-5 → ±3.2e-4.
    expect(Math.abs(mean(gaps) - 0.02)).toBeLessThan(3.2e-4);
    // Memoryless: P(gap > mean) = 1/e; sd √(0.2325/100000) = 0.00152 → ±0.0076.
    expect(Math.abs(gaps.filter((g) => g > 0.02).length / gaps.length - Math.exp(-1))).toBeLessThan(0.0076);
  });

  it('rate 0 and kind none give nothing', () => {
    expect(times(profile({ arrival: { kind: 'poisson', rate_per_s: 0 } }), 1000)).toEqual([]);
    expect(times(profile({ arrival: { kind: 'none' } }), 1000)).toEqual([]);
    expect(times(profile({}), 1000)).toEqual([]); // the default arrival is none
  });
});

describe('generator: diurnal', () => {
  // Rate r(1 + a sin(2πt/day) + w sin(2πt/week)) × hourly noise. sin(2πt/day) peaks at 6 h and has
  // its trough at 18 h. Over a window of width L centred on the peak, the mean of sin is
  // sin(πL/P)/(πL/P) for period P.
  const avgSin = (L: number, P: number) => Math.sin((Math.PI * L) / P) / ((Math.PI * L) / P);

  it('day term: the peak (6 h) beats the trough (18 h) by about (1 + a)/(1 − a)', () => {
    const a = 0.5,
      r = 2;
    const ts = times(
      profile({ arrival: { kind: 'diurnal', rate_per_s: r, day_amplitude: a, week_amplitude: 0, noise: 0 } }),
      24 * H,
    );
    // Whole day: the sine integrates to 0 → r × 86400 = 172800, sd 416 → ±2080.
    expect(Math.abs(ts.length - 172_800)).toBeLessThan(5 * 416);
    // 6-h windows [3 h, 9 h) and [15 h, 21 h): mean sin ±2√2/π = ±0.90032, so
    // peak 2 × 21600 × (1 + 0.45016) = 62647 (sd 250), trough 43200 × 0.54984 = 23753 (sd 154).
    const m6 = avgSin(6 * H, 24 * H);
    expect(m6).toBeCloseTo((2 * Math.SQRT2) / Math.PI, 9);
    const peak = countIn(ts, 3 * H, 9 * H),
      trough = countIn(ts, 15 * H, 21 * H);
    expect(Math.abs(peak - r * 6 * H * (1 + a * m6))).toBeLessThan(5 * 250);
    expect(Math.abs(trough - r * 6 * H * (1 - a * m6))).toBeLessThan(5 * 154);
    // One hour around each extreme: mean sin 0.99715, rates 1.4986 r vs 0.5014 r, ratio 2.989 —
    // the instantaneous (1 + a)/(1 − a) = 3. Counts 10790 and 3610: the ratio's relative sd is
    // √(1/10790 + 1/3610) = 1.9 %, so ±5 sd is 2.70–3.27.
    const ratio = countIn(ts, 5.5 * H, 6.5 * H) / countIn(ts, 17.5 * H, 18.5 * H);
    expect(ratio).toBeGreaterThan(2.7);
    expect(ratio).toBeLessThan(3.3);
  });

  it('phase_h = 12 swaps the peak and the trough', () => {
    const ts = times(
      profile({
        arrival: { kind: 'diurnal', rate_per_s: 2, day_amplitude: 0.5, week_amplitude: 0, noise: 0, phase_h: 12 },
      }),
      24 * H,
    );
    const m6 = avgSin(6 * H, 24 * H);
    expect(Math.abs(countIn(ts, 15 * H, 21 * H) - 2 * 6 * H * (1 + 0.5 * m6))).toBeLessThan(5 * 250);
    expect(Math.abs(countIn(ts, 3 * H, 9 * H) - 2 * 6 * H * (1 - 0.5 * m6))).toBeLessThan(5 * 154);
  });

  it('week term: day 2 (peak at 42 h) beats day 6 (trough at 126 h)', () => {
    const w = 0.5,
      r = 0.5;
    const ts = times(
      profile({ arrival: { kind: 'diurnal', rate_per_s: r, day_amplitude: 0, week_amplitude: w, noise: 0 } }),
      138 * H,
    );
    // 24-h windows centred on 42 h and 126 h: mean sin ±sin(π/7)/(π/7) = ±0.96677, so
    // peak 0.5 × 86400 × (1 + 0.48338) = 64082 (sd 253), trough 43200 × 0.51662 = 22318 (sd 149).
    const m = avgSin(24 * H, 168 * H);
    expect(m).toBeCloseTo(0.96677, 4);
    expect(Math.abs(countIn(ts, 30 * H, 54 * H) - r * 24 * H * (1 + w * m))).toBeLessThan(5 * 253);
    expect(Math.abs(countIn(ts, 114 * H, 138 * H) - r * 24 * H * (1 - w * m))).toBeLessThan(5 * 149);
  });

  it('hourly noise: mean-one lognormal factors widen hourly counts far past Poisson', () => {
    const hourly = (noise: number) => {
      const ts = times(
        profile({ arrival: { kind: 'diurnal', rate_per_s: 1, day_amplitude: 0, week_amplitude: 0, noise } }),
        200 * H,
      );
      const c = new Array<number>(200).fill(0);
      for (const t of ts) (c[Math.floor(t / S / H)] as number)++;
      return c;
    };
    // noise σ = 0.3: F = exp(σZ − σ²/2) has mean 1 (the clamp at 3 is 3.8 sd away: negligible) and
    // Var F = e^0.09 − 1 = 0.09417. Hourly counts: mean 3600, Var = 3600 + 3600² × 0.09417 = 1.224e6
    // (sd 1106, CV 0.307). Over 200 hours the mean's sd is 1106/√200 = 78 → ±391; the sample CV's
    // relative sd is √((κ − 1)/(4 × 200)) with the lognormal's kurtosis κ = 4.65 → 6.8 %, ±34 %.
    const noisy = hourly(0.3);
    expect(Math.abs(mean(noisy) - 3600)).toBeLessThan(391);
    const cv = Math.sqrt(variance(noisy)) / mean(noisy);
    expect(cv).toBeGreaterThan(0.307 * 0.66);
    expect(cv).toBeLessThan(0.307 * 1.34);
    // Without noise the hourly counts are Poisson(3600): CV 1/60 = 0.0167 (sd of the sample CV 0.0008).
    const flat = hourly(0);
    expect(Math.sqrt(variance(flat)) / mean(flat)).toBeLessThan(0.0167 + 5 * 0.0008);
  });
});

describe('generator: bursty on/off', () => {
  it('long-run rate (on·mean_on + off·mean_off)/(mean_on + mean_off), over-dispersed', () => {
    const on = 20,
      off = 2,
      mOn = 1,
      mOff = 3,
      T = 50_000;
    const ts = times(
      profile({
        arrival: { kind: 'bursty', on_rate_per_s: on, off_rate_per_s: off, mean_on_s: mOn, mean_off_s: mOff },
      }),
      T,
    );
    // λ̄ = (20 × 1 + 2 × 3)/4 = 6.5/s → 325000 expected.
    // A two-state Markov-modulated Poisson process has Var N_T ≈ T(λ̄ + 2Δλ²·π_on·π_off/(α + β)) with
    // α + β = 1/1 + 1/3: 2 × 18² × 0.25 × 0.75 / (4/3) = 91.1, so Var = 50000 × 97.6 = 4.88e6, sd 2209 → ±11046.
    const lambda = (on * mOn + off * mOff) / (mOn + mOff);
    expect(lambda).toBe(6.5);
    expect(Math.abs(ts.length - lambda * T)).toBeLessThan(5 * 2209);
    // In 10-s bins: Var = 10λ̄ + 91.1 × (10 − (1 − e^{−13.3}) × 0.75) = 65 + 843 = 908, an index of
    // dispersion of ~14 where a Poisson process has 1.
    const bins = new Array<number>(T / 10).fill(0);
    for (const t of ts) (bins[Math.floor(t / S / 10)] as number)++;
    expect(variance(bins) / mean(bins)).toBeGreaterThan(5);
  });

  it('off rate 0: nothing arrives in off periods, but bursts still come', () => {
    const ts = times(
      profile({ arrival: { kind: 'bursty', on_rate_per_s: 10, off_rate_per_s: 0, mean_on_s: 5, mean_off_s: 15 } }),
      20_000,
    );
    // λ̄ = 10 × 5/20 = 2.5/s → 50000; Var/T = 2.5 + 2 × 100 × (0.25 × 0.75)/(0.2 + 0.0667) = 143 → sd √(2.86e6) = 1691.
    expect(Math.abs(ts.length - 50_000)).toBeLessThan(5 * 1691);
  });
});

describe('generators: order, end and streams', () => {
  const arrivals = [
    { kind: 'poisson', rate_per_s: 30 },
    { kind: 'diurnal', rate_per_s: 5, day_amplitude: 0.9, week_amplitude: 0.3, noise: 0.5, phase_h: 3 },
    { kind: 'bursty', on_rate_per_s: 80, off_rate_per_s: 1, mean_on_s: 2, mean_off_s: 5 },
  ];

  it('arrivals come in non-decreasing time order, all before end_us, named after the profile', () => {
    fc.assert(
      fc.property(
        fc.integer({ min: 0, max: 1e6 }),
        fc.constantFrom(...arrivals),
        fc.integer({ min: 1, max: 300 }),
        (seed, arrival, end_s) => {
          const as = collect(generator('svc', profile({ arrival }), seed, end_s * S));
          // Plain checks in the loop (expect() per arrival would dominate the run time).
          const bad = as.findIndex(
            (a, i) =>
              a.profile !== 'svc' ||
              !Number.isInteger(a.t_us) ||
              a.t_us < (i ? (as[i - 1] as Arrival).t_us : 0) ||
              a.t_us >= end_s * S,
          );
          expect(bad, `arrival ${bad}: ${JSON.stringify(as[bad])} after ${JSON.stringify(as[bad - 1])}`).toBe(-1);
        },
      ),
      { numRuns: 60 },
    );
  });

  it('the same seed and name replay identically; the source stays exhausted', () => {
    for (const arrival of arrivals) {
      const p = profile({ arrival });
      expect(times(p, 500, 'abc', 'x')).toEqual(times(p, 500, 'abc', 'x'));
      expect(times(p, 500, 'abc', 'x')).not.toEqual(times(p, 500, 'abd', 'x'));
      const src = generator('x', p, 1, 10 * S);
      collect(src);
      expect(src.next()).toBeUndefined();
    }
  });

  it('different profile names draw from independent streams', () => {
    const p = profile({ arrival: { kind: 'poisson', rate_per_s: 40 } });
    const a = times(p, 500, 1, 'a'),
      b = times(p, 500, 1, 'b');
    expect(a).not.toEqual(b);
    // Correlation of the first 15000 gaps of each: |r| < 5/√15000 = 0.041 if independent.
    const n = 15_000;
    const ga = a.slice(1, n + 1).map((t, i) => t - (a[i] as number)),
      gb = b.slice(1, n + 1).map((t, i) => t - (b[i] as number));
    const ma = mean(ga),
      mb = mean(gb);
    let sab = 0,
      saa = 0,
      sbb = 0;
    for (let i = 0; i < n; i++) {
      const x = (ga[i] as number) - ma,
        y = (gb[i] as number) - mb;
      sab += x * y;
      saa += x * x;
      sbb += y * y;
    }
    expect(Math.abs(sab / Math.sqrt(saa * sbb))).toBeLessThan(5 / Math.sqrt(n));
    // A profile's arrivals do not depend on which other profiles exist: its stream is its own.
    expect(times(p, 500, 1, 'a')).toEqual(a);
  });
});

describe('demandReplay', () => {
  // Rows in time order. Intervals: a [0,100) then (last row, previous gap) [100,200);
  // b [0,10) then [10,20); c is alone → 60 s: [50,110). a's and c's overlap b's and each other.
  const rows = [
    { t_s: 0, profile: 'a', count: 5 },
    { t_s: 0, profile: 'b', count: 4 },
    { t_s: 10, profile: 'b', count: 6 },
    { t_s: 50, profile: 'c', count: 2 },
    { t_s: 100, profile: 'a', count: 3 },
    { t_s: 120, profile: 'b', count: 0 },
  ];
  const intervals: Array<[string, number, number, number]> = [
    ['a', 0, 100, 5],
    ['b', 0, 10, 4],
    ['b', 10, 120, 6],
    ['c', 50, 110, 2],
    ['a', 100, 200, 3],
    ['b', 120, 230, 0],
  ];

  it('exactly count arrivals per row, inside [t_s, t_s + gap), sorted although intervals overlap', () => {
    fc.assert(
      fc.property(fc.integer({ min: 0, max: 1e9 }), (seed) => {
        const as = collect(demandReplay(rows, seed, Infinity));
        expect(as.length).toBe(20);
        expect(as.findIndex((a, i) => i > 0 && a.t_us < (as[i - 1] as Arrival).t_us)).toBe(-1);
        for (const [p, from, to, count] of intervals) {
          const inside = as.filter((x) => x.profile === p && x.t_us >= from * S && x.t_us <= to * S);
          expect(inside.length).toBe(count);
        }
        // Every arrival is in one of its profile's intervals (none lost, none outside).
        expect(
          as.every((x) => intervals.some(([p, from, to]) => p === x.profile && x.t_us >= from * S && x.t_us <= to * S)),
        ).toBe(true);
      }),
      { numRuns: 200 },
    );
  });

  it('arrivals are uniform inside their interval', () => {
    const as = collect(
      demandReplay(
        [
          { t_s: 1000, profile: 'u', count: 10_000 },
          { t_s: 1100, profile: 'u', count: 0 },
        ],
        5,
        Infinity,
      ),
    );
    const offs = as.map((a) => a.t_us / S - 1000);
    // U(0, 100): mean 50, sd 100/√12 = 28.87; sd of the mean 0.289 → ±1.44; a quarter in each quarter (±5 × 0.0043).
    expect(Math.abs(mean(offs) - 50)).toBeLessThan(1.44);
    expect(Math.abs(offs.filter((o) => o < 25).length / 10_000 - 0.25)).toBeLessThan(0.0217);
    expect(Math.min(...offs)).toBeGreaterThanOrEqual(0);
    expect(Math.max(...offs)).toBeLessThanOrEqual(100);
  });

  it('stops at end_us; same seed, same arrivals; another seed, other instants', () => {
    const end = collect(demandReplay(rows, 1, 60 * S));
    expect(end.length).toBeGreaterThan(0);
    expect(end.every((a) => a.t_us < 60 * S)).toBe(true);
    expect(end).toEqual(collect(demandReplay(rows, 1, Infinity)).filter((a) => a.t_us < 60 * S));
    expect(collect(demandReplay(rows, 1, Infinity))).toEqual(collect(demandReplay(rows, 1, Infinity)));
    expect(collect(demandReplay(rows, 1, Infinity))).not.toEqual(collect(demandReplay(rows, 2, Infinity)));
  });
});

describe('requestReplay', () => {
  it('one arrival per row carrying the row fields; stops at end_us', () => {
    const rows = [
      { t_ms: 0, profile: 'api', cpu_ms: 12.5, mem_mb: 64, priority: 2 as const, io: false },
      { t_ms: 1500.4, profile: 'etl', cpu_ms: 900, mem_mb: 512, priority: 0 as const, io: true },
      { t_ms: 1500.4, profile: 'api', cpu_ms: 3, mem_mb: 1, priority: 3 as const, io: false },
      { t_ms: 9000, profile: 'api', cpu_ms: 1, mem_mb: 1, priority: 1 as const, io: false },
    ];
    expect(collect(requestReplay(rows, 9 * S))).toEqual([
      { t_us: 0, profile: 'api', cpu_ms: 12.5, mem_mb: 64, priority: 2, io: false },
      { t_us: 1_500_400, profile: 'etl', cpu_ms: 900, mem_mb: 512, priority: 0, io: true },
      { t_us: 1_500_400, profile: 'api', cpu_ms: 3, mem_mb: 1, priority: 3, io: false },
    ]); // the row at exactly 9 s is past the end
    expect(collect(requestReplay(rows, Infinity)).length).toBe(4);
  });
});

describe('generator: piecewise rate and periodic timers', () => {
  it('a ramp 0 → 10/s over 100 s, then held: ∫ = 500 arrivals in the ramp, 1000 in the next 100 s (± 4 sd)', () => {
    const ts = times(
      profile({
        arrival: {
          kind: 'piecewise',
          points: [
            [0, 0],
            [100, 10],
          ],
        },
      }),
      200,
    );
    expect(Math.abs(countIn(ts, 0, 100) - 500)).toBeLessThan(4 * Math.sqrt(500));
    expect(Math.abs(countIn(ts, 100, 200) - 1000)).toBeLessThan(4 * Math.sqrt(1000));
    // The first half of the ramp holds a quarter of its arrivals (∫₀⁵⁰ 0.1t dt = 125).
    expect(Math.abs(countIn(ts, 0, 50) - 125)).toBeLessThan(4 * Math.sqrt(125));
  });

  it('points out of order are refused; an all-zero ramp gives nothing', () => {
    expect(() =>
      profile({
        arrival: {
          kind: 'piecewise',
          points: [
            [10, 1],
            [5, 2],
          ],
        },
      }),
    ).toThrow(/increasing t_s/);
    expect(times(profile({ arrival: { kind: 'piecewise', points: [[0, 0]] } }), 100)).toEqual([]);
  });

  it('a timer fires exactly on its period from its phase; without a phase, within its first period', () => {
    expect(times(profile({ arrival: { kind: 'periodic', period_s: 60, phase_s: 5 } }), 200)).toEqual(
      [5, 65, 125, 185].map((s) => s * S),
    );
    const ts = times(profile({ arrival: { kind: 'periodic', period_s: 60 } }), 600);
    expect(ts.length).toBe(10);
    expect(ts[0]!).toBeLessThan(60 * S);
    for (let i = 1; i < ts.length; i++) expect(ts[i]! - ts[i - 1]!).toBe(60 * S);
  });
});

describe('drawWorkingSet_kb', () => {
  it('is what the request declared unless the profile has a working set; its draws have the given mean', () => {
    const rng = makeRng(1, 'ws');
    expect(drawWorkingSet_kb(profile({ request_mb: 100 }), 100, rng)).toBe(102_400);
    const p = profile({ request_mb: 100, working_set_mb: { dist: 'lognormal', mean: 150, sigma: 0.4 } });
    const xs = Array.from({ length: 20_000 }, () => drawWorkingSet_kb(p, 100, rng) / 1024);
    // Lognormal sd = mean × √(e^σ² − 1) = 150 × 0.417 = 62.6; sd of the mean 0.44 → ± 2.
    expect(Math.abs(mean(xs) - 150)).toBeLessThan(2);
  });
});
