/**
 * The twin's PSI model (sim/psi.ts): the kernel's fixed-point arithmetic step by step, the
 * averaging clock (grid, idle stop, catch-up with calc_load_n, reads), the stall rules, and a
 * replay of a real recording (traces/psi/stress-2cpu-host.csv, bundled from ../shared/data/psi).
 *
 * Expected fixed-point values were computed by hand for the first steps (shown in the comments)
 * and, for longer sequences, with an independent re-implementation of calc_load / fixed_power_int
 * written in Python from include/linux/sched/loadavg.h and kernel/sched/loadavg.c.
 */
import fc from 'fast-check';
import { readFileSync } from 'node:fs';
import { describe, expect, it } from 'vitest';
import { aggregate, cpuStall } from '../../sim/psi-stall.ts';
import {
  calcLoad,
  calcLoadN,
  EXP_10s,
  EXP_300s,
  EXP_60s,
  FIXED_1,
  PSI_PERIOD_US,
  PSI_STATES,
  PsiScope,
  psiPeriod_us,
  type PsiReading,
  type PsiState,
} from '../../sim/psi.ts';

const S = 1_000_000; // µs per second
const ZERO: Record<PsiState, number> = { cpu_some: 0, cpu_full: 0, mem_some: 0, mem_full: 0, io_some: 0, io_full: 0 };
const only = (k: PsiState, v: number): Record<PsiState, number> => ({ ...ZERO, [k]: v });
const cpu = (some: number) => only('cpu_some', some);

describe('kernel fixed-point arithmetic (calc_load, calc_load_n)', () => {
  it('reproduces calc_load step by step', () => {
    // 100 % in fixed point is 100 × 2048 = 204800; 1 − EXP_10s = 2048 − 1677 = 371.
    // From 0: 204800 × 371 = 75_980_800, + 2047 (active ≥ load rounds up) = 75_982_847, / 2048 = 37100.99 → 37100.
    expect(calcLoad(0, EXP_10s, 204800)).toBe(37100);
    // Next: 37100 × 1677 = 62_216_700; + 75_980_800 + 2047 = 138_199_547; / 2048 = 67480.25 → 67480.
    expect(calcLoad(37100, EXP_10s, 204800)).toBe(67480);
    // 60-s and 300-s windows from 0: 204800 × 67 / 2048 = 6700 and 204800 × 14 / 2048 = 1400 (+2047 does not carry).
    expect(calcLoad(0, EXP_60s, 204800)).toBe(6700);
    expect(calcLoad(0, EXP_300s, 204800)).toBe(1400);
    // Falling: no round-up, 204800 × 1677 / 2048 = 167700 exactly.
    expect(calcLoad(204800, EXP_10s, 0)).toBe(167700);
    // 37100 toward 50 % (102400): 62_216_700 + 102400 × 371 = 100_207_100, + 2047, / 2048 = 48930.2 → 48930.
    expect(calcLoad(37100, EXP_10s, 102400)).toBe(48930);
  });

  it('rounds up when rising, truncates when falling, holds a steady value', () => {
    expect(calcLoad(0, EXP_10s, 1)).toBe(1); // 371 + 2047 = 2418 → 1: a tiny sample still lifts a zero average
    expect(calcLoad(1, EXP_10s, 0)).toBe(0); // 1677 / 2048 → 0: decays all the way to 0
    for (const x of [204800, 102400, 12345, 0])
      for (const e of [EXP_10s, EXP_60s, EXP_300s]) expect(calcLoad(x, e, x)).toBe(x);
  });

  it('calc_load_n raises EXP to the n-th power with fixed_power_int rounding', () => {
    // calcLoadN(FIXED_1, exp, 0, n) = FIXED_1 × exp^n / FIXED_1 = exp^n in fixed point.
    const pow10 = Array.from({ length: 11 }, (_, n) => calcLoadN(FIXED_1, EXP_10s, 0, n));
    expect(pow10).toEqual([2048, 1677, 1373, 1124, 920, 753, 617, 505, 413, 338, 277]);
    expect(calcLoadN(FIXED_1, EXP_60s, 0, 9)).toBe(1519);
    expect(calcLoadN(FIXED_1, EXP_300s, 0, 9)).toBe(1925);
    expect(calcLoadN(123456, EXP_10s, 0, 1)).toBe(calcLoad(123456, EXP_10s, 0));
    // Not the same as nine single steps (each of which truncates): the kernel's catch-up is its own rounding.
    const iter = (x: number, e: number) => {
      for (let i = 0; i < 9; i++) x = calcLoad(x, e, 0);
      return x;
    };
    expect([iter(105963, EXP_10s), iter(30353, EXP_60s), iter(6859, EXP_300s)]).toEqual([17536, 22497, 6445]);
    expect([
      calcLoadN(105963, EXP_10s, 0, 9),
      calcLoadN(30353, EXP_60s, 0, 9),
      calcLoadN(6859, EXP_300s, 0, 9),
    ]).toEqual([17488, 22512, 6447]);
  });
});

/** Constant stall fraction on cpu_some from 0; the reading after `secs` seconds. */
function constant(fraction: number, secs: number, period_us = PSI_PERIOD_US): PsiReading {
  const s = new PsiScope(0, { period_us });
  s.set(0, cpu(fraction));
  s.advance(secs * S);
  return s.read().cpu_some;
}

describe('PsiScope: running averages and totals', () => {
  it('a constant 100 % stall from 0, period by period', () => {
    // Before the first 2-s period ends nothing is averaged, but total grows.
    expect(constant(1, 1.999)).toEqual({ avg10: 0, avg60: 0, avg300: 0, total_us: 1_999_000 });
    // One period: 37100 / 2048 = 18.115 → "18.11"; 6700 → 3.271 → "3.27"; 1400 → 0.683 → "0.68".
    expect(constant(1, 2)).toEqual({ avg10: 18.11, avg60: 3.27, avg300: 0.68, total_us: 2_000_000 });
    // Two: 67480 / 2048 = 32.949 → printed truncated, "32.94" (not 32.95).
    expect(constant(1, 4)).toEqual({ avg10: 32.94, avg60: 6.43, avg300: 1.36, total_us: 4_000_000 });
    // Five periods (10 s): 129406, 31380, 6907.
    expect(constant(1, 10)).toEqual({ avg10: 63.18, avg60: 15.32, avg300: 3.37, total_us: 10_000_000 });
    // Fifteen (30 s): 194585 → 95.01 ≥ 95 (100 × (1 − (1677/2048)^15) = 95.01 in real numbers).
    const r30 = constant(1, 30);
    expect(r30).toEqual({ avg10: 95.01, avg60: 39.28, avg300: 9.78, total_us: 30_000_000 });
    expect(r30.avg10).toBeGreaterThanOrEqual(95);
    // Thanks to the round-up rule avg10 reaches exactly 100.00 (at the 56th period).
    expect(constant(1, 110).avg10).toBeLessThan(100);
    expect(constant(1, 112).avg10).toBe(100);
  });

  it('k CPU-bound tasks on 2 CPUs for 30 s from idle: 0 % for k ≤ 2, 47.50 % for k = 3, 95.01 % for k ≥ 4', () => {
    // For k = 3 the fraction is exactly 0.5 → pct 50 → 102400 each period; after 15 periods the
    // average is 97293 → "47.50", i.e. 50 × (1 − (1677/2048)^15) = 47.50 (still 2.5 points below 50:
    // the 10-s average has not converged after 30 s); it prints exactly 50.00 from the 52nd period.
    const expected = [0, 0, 0, 47.5, 95.01, 95.01, 95.01];
    for (let k = 0; k <= 6; k++) expect(constant(cpuStall(k, 2).some, 30).avg10, `k = ${k}`).toBe(expected[k]);
    expect(constant(0.5, 30)).toEqual({ avg10: 47.5, avg60: 19.64, avg300: 4.89, total_us: 15_000_000 });
    expect(constant(0.5, 102).avg10).toBeLessThan(50);
    expect(constant(0.5, 104).avg10).toBe(50);
    expect(Math.abs(50 * (1 - (EXP_10s / FIXED_1) ** 15) - 47.5)).toBeLessThan(0.01);
  });

  it('keeps totals as exact integrals in µs', () => {
    const s = new PsiScope(0);
    s.set(0, { cpu_some: 0.25, cpu_full: 0, mem_some: 0.5, mem_full: 0.375, io_some: 1, io_full: 0 });
    s.set(3 * S, { ...ZERO, cpu_some: 1 / 3 });
    s.advance(6 * S);
    const r = s.read();
    expect(r.mem_some.total_us).toBe(1_500_000);
    expect(r.mem_full.total_us).toBe(1_125_000);
    expect(r.io_some.total_us).toBe(3_000_000);
    expect(Math.abs(r.cpu_some.total_us - 1_750_000)).toBeLessThanOrEqual(1);
    expect(r.cpu_full.total_us).toBe(0);
  });

  it('caps a period at 100 % and carries the excess into the next one (psi.c update_averages)', () => {
    const s = new PsiScope(0);
    s.set(0, cpu(1.5)); // a replayed recording can overshoot; 3 s of stall in a 2-s period
    s.set(2 * S, ZERO);
    expect(s.read().cpu_some).toEqual({ avg10: 18.11, avg60: 3.27, avg300: 0.68, total_us: 3_000_000 });
    s.advance(4 * S); // the remaining 1 s shows in the next period: 50 % → 48930 → "23.89"
    expect(s.read().cpu_some).toEqual({ avg10: 23.89, avg60: 4.8, avg300: 1.02, total_us: 3_000_000 });
  });

  it('takes the sample as a u32 like psi.c (an overshoot past 2^32 ns wraps)', () => {
    const s = new PsiScope(0);
    s.set(0, cpu(3)); // 6e9 ns in one period: (6e9 mod 2^32) = 1_705_032_704 ns → 85 % → 31535 → "15.39"
    s.advance(2 * S);
    expect(s.read().cpu_some.avg10).toBe(15.39);
  });

  it('gives the same result whatever the cadence of advance()', () => {
    const values = [0, 0.25, 0.5, 1, 1 / 3, 0.7];
    const seg = fc.record({
      dt_ms: fc.integer({ min: 1, max: 7000 }),
      idle: fc.boolean(),
      f: fc.array(fc.constantFrom(...values), { minLength: 6, maxLength: 6 }),
    });
    fc.assert(
      fc.property(
        fc.array(seg, { minLength: 1, maxLength: 25 }),
        fc.integer({ min: 1, max: 3000 }),
        (segs, step_ms) => {
          const a = new PsiScope(0),
            b = new PsiScope(0);
          let t = 0;
          for (const g of segs) {
            const fr = Object.fromEntries(PSI_STATES.map((k, i) => [k, g.idle ? 0 : (g.f[i] as number)])) as Record<
              PsiState,
              number
            >;
            a.set(t * 1000, fr, g.idle);
            b.set(t * 1000, fr, g.idle);
            for (let u = t + step_ms; u < t + g.dt_ms; u += step_ms) b.advance(u * 1000);
            t += g.dt_ms;
          }
          a.advance(t * 1000);
          b.advance(t * 1000);
          expect(b.read()).toEqual(a.read());
        },
      ),
      { numRuns: 200, seed: 42 },
    );
  });

  it('stops the clock when idle and catches up with calc_load_n, as psi.c does', () => {
    // 100 % for 10 s (updates at 2..10 s: 129406 = 63.18), idle from 10 s. The update at 12 s still
    // runs (there was non-idle time before it) and takes 0 % → 105963 (51.73); then the worker is
    // not re-armed. A task at 30 s re-arms it for 32 s: missed = (32 − 14) / 2 = 9 periods, folded
    // with calc_load_n(·, 0, 9) → 17488, then the 2-s sample (period = 32 − (12 + 9 × 2) = 2 s) at 100 %.
    const a = new PsiScope(0);
    a.set(0, cpu(1));
    a.set(10 * S, ZERO, true);
    a.set(30 * S, cpu(1));
    a.advance(32 * S);
    expect(a.read().cpu_some).toEqual({ avg10: 25.1, avg60: 13.9, avg300: 3.81, total_us: 12_000_000 });

    // Polled every second (like the live agent does), the pressure file catches up at each read
    // (psi_show() updates when overdue): every period gets its own 0 % step → 25.12, not 25.10.
    const b = new PsiScope(0);
    b.set(0, cpu(1));
    b.set(10 * S, ZERO, true);
    for (let t = 11; t <= 30; t++) {
      b.advance(t * S);
      b.read();
    }
    b.set(30 * S, cpu(1));
    b.advance(32 * S);
    expect(b.read().cpu_some.avg10).toBe(25.12);
    // The same as a scope that never went idle (zero stall, clock running).
    const c = new PsiScope(0);
    c.set(0, cpu(1));
    c.set(10 * S, ZERO);
    c.set(30 * S, cpu(1));
    c.advance(32 * S);
    expect(c.read().cpu_some).toEqual(b.read().cpu_some);

    // A wake-up off the grid (31 s) runs the worker one period later (33 s): period = 33 − (12 + 18)
    // = 3 s, sample 2 s → pct = 2e9 × 100 / 3e9 = 66 → "18.94"; then back on the grid at 34 s
    // (14 + 10 × 2) with a 1-s period of full stall → "33.63".
    const d = new PsiScope(0);
    d.set(0, cpu(1));
    d.set(10 * S, ZERO, true);
    d.set(31 * S, cpu(1));
    d.advance(33 * S);
    expect(d.read().cpu_some.avg10).toBe(18.94);
    d.advance(34 * S);
    expect(d.read().cpu_some.avg10).toBe(33.63);
  });

  it('starts from an observed reading, printing back exactly what it was given', () => {
    for (let cents = 0; cents <= 10000; cents++) {
      const p = cents / 100;
      const r = new PsiScope(0, { initial: { io_full: { avg10: p, avg60: p, avg300: p, total_us: cents * 7 } } }).read()
        .io_full;
      if (r.avg10 !== p || r.avg60 !== p || r.avg300 !== p || r.total_us !== cents * 7)
        expect(r).toEqual({ avg10: p, avg60: p, avg300: p, total_us: cents * 7 });
    }
  });

  it('uses the kernel period for a given HZ and rejects bad input', () => {
    expect(psiPeriod_us(250)).toBe(2_004_000);
    expect(psiPeriod_us(1000)).toBe(2_001_000);
    expect(psiPeriod_us(100)).toBe(2_010_000);
    expect(psiPeriod_us(300)).toBeCloseTo(2_003_333.133, 6); // 601 × 3_333_333 ns
    const s = new PsiScope(5 * S);
    expect(() => s.advance(4 * S)).toThrow(RangeError);
    expect(() => s.set(6 * S, cpu(-0.1))).toThrow(RangeError);
    expect(() => s.set(6 * S, cpu(Number.NaN))).toThrow(RangeError);
    expect(() => s.set(6 * S, cpu(0.5), true)).toThrow(RangeError);
    expect(() => new PsiScope(Date.now() * 1000)).toThrow(RangeError); // epoch µs: not exact in ns
  });
});

describe('stall rules', () => {
  it('cpuStall: clamp((k − c) / c, 0, 1), full 0, non-idle CPUs min(k, c)', () => {
    expect(cpuStall(1, 2)).toEqual({ some: 0, full: 0, nonidle: 1 });
    expect(cpuStall(2, 2)).toEqual({ some: 0, full: 0, nonidle: 2 });
    expect(cpuStall(3, 2)).toEqual({ some: 0.5, full: 0, nonidle: 2 });
    expect(cpuStall(4, 2)).toEqual({ some: 1, full: 0, nonidle: 2 });
    expect(cpuStall(6, 2)).toEqual({ some: 1, full: 0, nonidle: 2 });
    expect(cpuStall(5, 4).some).toBe(0.25);
    expect(cpuStall(257, 256).some).toBeCloseTo(1 / 256, 12); // psi.c's own example: about 0.4 %
    expect(cpuStall(0, 2)).toEqual({ some: 0, full: 0, nonidle: 0 });
    expect(cpuStall(3, 0)).toEqual({ some: 0, full: 0, nonidle: 0 });
  });

  it('aggregate weights each scope by its non-idle time, like per-CPU aggregation in psi.c', () => {
    // Node A: 3 tasks on 2 CPUs (CPU a0 has 2 tasks, a1 has 1); node B: 1 task on 2 CPUs (b1 idle).
    const A = cpuStall(3, 2),
      B = cpuStall(1, 2);
    const sys = aggregate([
      { fractions: { ...ZERO, cpu_some: A.some }, weight: A.nonidle },
      { fractions: { ...ZERO, cpu_some: B.some }, weight: B.nonidle },
    ]);
    // Per CPU: tSOME = (1·1 + 0·1 + 0·1 + 0·0) / (1 + 1 + 1 + 0) = 1/3.
    expect(sys.cpu_some).toBeCloseTo(1 / 3, 12);
    expect(sys.cpu_full).toBe(0);
    // An idle scope does not dilute; no busy scope at all gives zeros.
    const io = aggregate([
      { fractions: only('io_some', 0.6), weight: 1 },
      { fractions: ZERO, weight: 0 },
    ]);
    expect(io.io_some).toBeCloseTo(0.6, 12);
    expect(aggregate([{ fractions: only('mem_some', 1), weight: 0 }])).toEqual(ZERO);
    const out = { ...ZERO };
    expect(aggregate([{ fractions: only('mem_full', 0.2), weight: 3 }], out)).toBe(out);
    expect(out.mem_full).toBeCloseTo(0.2, 12);
    expect(() => aggregate([{ fractions: ZERO, weight: -1 }])).toThrow(RangeError);
  });
});

// ---- The real recording ----------------------------------------------------------------------

interface Row extends Record<string, number | string> {
  t_ms: number;
  phase: string;
}
const CSV = new URL('../../traces/psi/stress-2cpu-host.csv', import.meta.url).pathname;
const lines = readFileSync(CSV, 'utf8').trim().split('\n');
const header = (lines[0] as string).split(',');
const rows: Row[] = lines.slice(1).map((l) => {
  const c = l.split(',');
  return Object.fromEntries(header.map((h, i) => [h, h === 'phase' ? (c[i] as string) : Number(c[i])])) as Row;
});
const num = (i: number, k: string) => (rows[i] as Row)[k] as number;
const T0 = rows[0]!.t_ms;
const t_ms = (i: number) => rows[i]!.t_ms - T0; // rebased: epoch µs are too large for exact ns
const phaseRows = (p: string) => rows.flatMap((r, i) => (r.phase === p ? [i] : []));
const AVG_COLUMNS = header.filter((h) => h.includes('_avg'));
/** Sampling interval i (from row i−1 to row i) contains an averaging update iff any average changed. */
const updated = rows.map((r, i) => i > 0 && AVG_COLUMNS.some((k) => r[k] !== rows[i - 1]![k]));

/** Grid phases (ms after the first sample, 0.5-ms steps) for which every update falls where one was seen. */
function consistentPhases(period_us: number): number[] {
  const P = period_us / 1000,
    ok: number[] = [];
  for (let phi = 0; phi < P; phi += 0.5) {
    let bad = false;
    for (let i = 1; i < rows.length && !bad; i++) {
      const a = t_ms(i - 1),
        b = t_ms(i);
      const next = phi + (Math.floor((a - phi) / P) + 1) * P; // first grid point after a
      bad = next <= b !== updated[i];
    }
    if (!bad) ok.push(phi);
  }
  return ok;
}

/** Stall fractions over sampling interval i, from the recording's own growth of total. */
function fractions(i: number): Record<PsiState, number> {
  const dt_us = (t_ms(i) - t_ms(i - 1)) * 1000;
  return Object.fromEntries(
    PSI_STATES.map((s) => [s, Math.max(0, (num(i, `${s}_total_us`) - num(i - 1, `${s}_total_us`)) / dt_us)]),
  ) as Record<PsiState, number>;
}

/** A scope whose grid has its update at `phi_ms` after the first sample, primed with the first row. */
function primedScope(period_us: number, phi_ms: number, at = 0): PsiScope {
  const initial = Object.fromEntries(
    PSI_STATES.map((s) => [
      s,
      {
        avg10: num(at, `${s}_avg10`),
        avg60: num(at, `${s}_avg60`),
        avg300: num(at, `${s}_avg300`),
        total_us: num(at, `${s}_total_us`),
      },
    ]),
  );
  // The last update before row `at` was at the grid point just before it.
  const P = period_us / 1000;
  const start_ms = phi_ms + Math.floor((t_ms(at) - phi_ms) / P) * P;
  return new PsiScope(start_ms * 1000, { period_us, initial });
}

/** Replay the recording's stall growth; per phase, the absolute error of every printed average. */
function replay(period_us: number, phi_ms: number) {
  const s = primedScope(period_us, phi_ms);
  const err: Record<string, Record<string, number[]>> = {};
  const totals: number[] = [];
  const t0 = s.read();
  for (let i = 1; i < rows.length; i++) {
    // Between two samples, the stall that the recording's totals grew by, spread evenly.
    s.set(Math.max(t_ms(i - 1), 0) * 1000, fractions(i));
    s.advance(t_ms(i) * 1000);
    const r = s.read();
    const ph = rows[i]!.phase;
    for (const st of PSI_STATES) {
      for (const w of ['avg10', 'avg60', 'avg300'] as const)
        ((err[ph] ??= {})[`${st}.${w}`] ??= []).push(Math.abs(r[st][w] - num(i, `${st}_${w}`)));
      totals.push(r[st].total_us - t0[st].total_us - (num(i, `${st}_total_us`) - num(0, `${st}_total_us`)));
    }
  }
  return { err, totals };
}
const mean = (a: number[]) => a.reduce((x, y) => x + y, 0) / a.length;

describe('against the real recording (2-CPU host, 1-s samples)', () => {
  const hz250 = consistentPhases(psiPeriod_us(250));
  const phi = ((hz250[0] ?? 0) + (hz250[hz250.length - 1] ?? 0)) / 2;

  it('shows the kernel grid: updates every 2.004 s (PSI_FREQ = 2*HZ+1 jiffies at HZ=250)', () => {
    // 166 of 319 sampling intervals see an update. A grid of 2.004 s fits every one of them for
    // phases 1342.5–1355 ms after the first sample; 2 s flat and the other common HZ values do not.
    expect(updated.filter(Boolean).length).toBe(166);
    expect(hz250.length).toBeGreaterThan(0);
    expect(hz250[hz250.length - 1]! - hz250[0]!).toBeLessThan(20);
    for (const p of [PSI_PERIOD_US, psiPeriod_us(100), psiPeriod_us(300), psiPeriod_us(1000)])
      expect(consistentPhases(p), `period ${p} µs`).toEqual([]);
  });

  it('tracks the recorded averages when fed the recorded stall growth', () => {
    // Measured (HZ=250 grid at its fitted phase): mean absolute error of avg10 ≤ 0.37 points in every
    // phase and state (largest single error 1.83, at the cpu6 step), avg60 ≤ 0.10, avg300 ≤ 0.03.
    // The residue comes from the inputs, not the arithmetic: each 1-s interval's stall is spread
    // evenly although steps happen inside it, and the real worker runs a jiffy or more after its
    // grid point. Tolerances: 0.5 / 0.2 / 0.1 points on the means, 2.5 on any single avg10.
    const { err, totals } = replay(psiPeriod_us(250), phi);
    for (const [phase, byKey] of Object.entries(err)) {
      for (const [key, e] of Object.entries(byKey)) {
        const tol = key.endsWith('avg10') ? 0.5 : key.endsWith('avg60') ? 0.2 : 0.1;
        expect(mean(e), `${phase} ${key} mean abs error`).toBeLessThanOrEqual(tol);
        if (key.endsWith('avg10')) expect(Math.max(...e), `${phase} ${key} max abs error`).toBeLessThanOrEqual(2.5);
      }
    }
    // Totals are the exact integral of the fed stall: within 1 µs of the recording at every sample.
    for (const d of totals) expect(Math.abs(d)).toBeLessThanOrEqual(1);
    // The nominal 2-s period drifts against the kernel's 2.004 s: clearly worse (measured: mean
    // errors up to 1.1 points, single errors up to 6.3).
    const flat = replay(PSI_PERIOD_US, phi).err;
    expect(Math.max(...Object.values(flat).map((m) => mean(m['cpu_some.avg10'] as number[])))).toBeGreaterThan(0.5);
  });

  /** Mean stall rate (percent) of cpu_some over rows a..b, from the recorded totals. */
  const rate = (a: number, b: number) =>
    ((num(b, 'cpu_some_total_us') - num(a, 'cpu_some_total_us')) / ((t_ms(b) - t_ms(a)) * 1000)) * 100;
  /** The recorded cpu_some avg10 at row b, and what the ideal rule predicts there from the state at row a. */
  function ideal(a: number, b: number, fraction: number) {
    const s = primedScope(psiPeriod_us(250), phi, a);
    s.set(t_ms(a) * 1000, cpu(fraction));
    s.advance(t_ms(b) * 1000);
    return { recorded: num(b, 'cpu_some_avg10'), model: s.read().cpu_some.avg10 };
  }

  it('cpu3 (3 CPU-bound tasks on 2 CPUs) levels off near 50 %, cpu6 near 100 %', () => {
    const c3 = phaseRows('cpu3'),
      c6 = phaseRows('cpu6');
    // Steady parts (load starts one sample into the phase and stops a few samples before its end).
    expect(Math.abs(rate(c3[1]!, c3[c3.length - 3]!) - 100 * cpuStall(3, 2).some)).toBeLessThan(3); // measured 51.9 %
    expect(Math.abs(rate(c6[1]!, c6[c6.length - 4]!) - 100 * cpuStall(6, 2).some)).toBeLessThan(3); // measured 99.9 %
    // avg10 at the end of the load, recorded vs the ideal rule run from the recorded state at the
    // load's start (38 and 39 s later): cpu3 51.01 vs 48.92, cpu6 97.86 vs 98.36.
    const e3 = ideal(c3[1]!, c3[c3.length - 2]!, cpuStall(3, 2).some);
    expect(e3.recorded).toBe(51.01);
    expect(Math.abs(e3.recorded - e3.model)).toBeLessThan(3);
    const e6 = ideal(c6[1]!, c6[c6.length - 3]!, cpuStall(6, 2).some);
    expect(e6.recorded).toBe(97.86);
    expect(Math.abs(e6.recorded - e6.model)).toBeLessThan(3);
  });

  it('records the cpu2 deviation: 2 tasks on 2 CPUs showed ~57 % where the rule says 0 %', () => {
    // Not a model error to fit away. The rule (and psi.c) give 0 % for 2 CPU-bound tasks on 2 CPUs;
    // the host showed a steady 57 % in the phase's first 27 s and avg10 up to 55.86. The idle2 phase
    // after it explains it: one CPU stayed busy (52 % of 2 CPUs, against 0.8 % in the first idle
    // phase) with no CPU stall — one CPU-bound task outlived its phase, so cpu2 most likely ran 3
    // CPU-bound tasks on 2 CPUs, for which the rule gives 50 % (cpu3 measured 51.9 %); the last
    // ~5 points are background load. In the phase's last 12 s io some rose to 22 % and cpu some
    // fell to 40 %.
    const c2 = phaseRows('cpu2'),
      i2 = phaseRows('idle2'),
      i1 = phaseRows('idle');
    expect(cpuStall(2, 2).some).toBe(0);
    const early = rate(c2[1]!, c2[27]!);
    expect(early).toBeGreaterThan(50);
    expect(early).toBeLessThan(60);
    expect(Math.max(...c2.map((i) => num(i, 'cpu_some_avg10')))).toBe(55.86);
    const busy = (idx: number[]) => {
      const a = idx[0]! - 1 < 0 ? idx[0]! : idx[0]! - 1,
        b = idx[idx.length - 1]!;
      const db = num(b, 'cpu_busy_jiffies') - num(a, 'cpu_busy_jiffies'),
        di = num(b, 'cpu_idle_jiffies') - num(a, 'cpu_idle_jiffies');
      return db / (db + di);
    };
    expect(busy(i1)).toBeLessThan(0.02);
    expect(Math.abs(busy(i2) - 0.5)).toBeLessThan(0.05);
    expect(rate(i2[5]!, i2[i2.length - 1]!)).toBeLessThan(3);
  });
});
