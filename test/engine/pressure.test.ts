import { describe, expect, it } from 'vitest';
import { defaultConfig, type Config } from '../../engine/config.ts';
import { levelOf, PressureMonitor } from '../../engine/pressure.ts';
import { History } from '../../engine/pressure-history.ts';
import type { Level, Observation, PsiLine, PsiSet, Resource } from '../../engine/types.ts';

const cfg = defaultConfig();
const T = cfg.pressure.thresholds;

/** A `some` line; avg60/avg300 are irrelevant to the engine, so they mirror avg10. */
const line = (avg10: number, total_us?: number): PsiLine =>
  total_us === undefined ? { avg10, avg60: avg10, avg300: avg10 } : { avg10, avg60: avg10, avg300: avg10, total_us };

type Spec = { avg10?: number; total_us?: number };
const psi = (s: Partial<Record<Resource, Spec>> = {}): PsiSet => ({
  cpu: { some: line(s.cpu?.avg10 ?? 0, s.cpu?.total_us) },
  memory: { some: line(s.memory?.avg10 ?? 0, s.memory?.total_us) },
  io: { some: line(s.io?.avg10 ?? 0, s.io?.total_us) },
});

const pcfg = (over: Partial<Config['pressure']> = {}): Config['pressure'] => ({ ...defaultConfig().pressure, ...over });

/** Feed a monitor one cpu avg10 value per second (t = 0 s, 1 s, 2 s, …). */
function feedCpu(m: PressureMonitor, values: number[], t0_ms = 0): void {
  for (const [i, v] of values.entries()) m.observe({ t_ms: t0_ms + i * 1000, psi: psi({ cpu: { avg10: v } }) });
}

describe('default thresholds', () => {
  it('are the design seeds', () => {
    expect(T.cpu).toEqual({ low: 0.3, medium: 0.6, high: 0.8, critical: 0.9 });
    expect(T.memory).toEqual({ low: 0.2, medium: 0.5, high: 0.7, critical: 0.85 });
    expect(T.io).toEqual({ low: 0.4, medium: 0.6, high: 0.8, critical: 0.9 });
  });
});

describe('levelOf', () => {
  const eps = 1e-9;
  // For each resource: [value, expected level]. Boundaries are inclusive (value ≥ threshold).
  const table: Record<Resource, Array<[number, Level]>> = {
    cpu: [
      [0, 'none'],
      [0.3 - eps, 'none'], // just below low 0.3
      [0.3, 'low'], // = low
      [0.3 + eps, 'low'],
      [0.6 - eps, 'low'], // just below medium 0.6
      [0.6, 'medium'], // = medium
      [0.6 + eps, 'medium'],
      [0.8 - eps, 'medium'], // just below high 0.8
      [0.8, 'high'], // = high
      [0.8 + eps, 'high'],
      [0.9 - eps, 'high'], // just below critical 0.9
      [0.9, 'critical'], // = critical
      [0.9 + eps, 'critical'],
      [1, 'critical'],
    ],
    memory: [
      [0, 'none'],
      [0.2 - eps, 'none'], // just below low 0.2
      [0.2, 'low'],
      [0.2 + eps, 'low'],
      [0.5 - eps, 'low'], // just below medium 0.5
      [0.5, 'medium'],
      [0.5 + eps, 'medium'],
      [0.7 - eps, 'medium'], // just below high 0.7
      [0.7, 'high'],
      [0.7 + eps, 'high'],
      [0.85 - eps, 'high'], // just below critical 0.85
      [0.85, 'critical'],
      [0.85 + eps, 'critical'],
      [1, 'critical'],
    ],
    io: [
      [0, 'none'],
      [0.4 - eps, 'none'], // just below low 0.4
      [0.4, 'low'],
      [0.4 + eps, 'low'],
      [0.6 - eps, 'low'], // just below medium 0.6
      [0.6, 'medium'],
      [0.6 + eps, 'medium'],
      [0.8 - eps, 'medium'], // just below high 0.8
      [0.8, 'high'],
      [0.8 + eps, 'high'],
      [0.9 - eps, 'high'], // just below critical 0.9
      [0.9, 'critical'],
      [0.9 + eps, 'critical'],
      [1, 'critical'],
    ],
  };
  for (const r of ['cpu', 'memory', 'io'] as const) {
    for (const [v, want] of table[r]) {
      it(`${r} ${v} → ${want}`, () => {
        expect(levelOf(v, T[r])).toBe(want);
      });
    }
  }

  it('same value lands on different levels per resource', () => {
    // 0.5: cpu low (0.3 ≤ 0.5 < 0.6), memory medium (0.5 ≥ 0.5), io low (0.4 ≤ 0.5 < 0.6)
    expect(levelOf(0.5, T.cpu)).toBe('low');
    expect(levelOf(0.5, T.memory)).toBe('medium');
    expect(levelOf(0.5, T.io)).toBe('low');
    // 0.35: cpu low (≥ 0.3), memory low (≥ 0.2), io none (< 0.4)
    expect(levelOf(0.35, T.cpu)).toBe('low');
    expect(levelOf(0.35, T.memory)).toBe('low');
    expect(levelOf(0.35, T.io)).toBe('none');
  });
});

describe('History', () => {
  it('rejects a capacity below 2', () => {
    expect(() => new History(1)).toThrow(/capacity/);
    expect(() => new History(0)).toThrow(/capacity/);
    expect(() => new History(Number.NaN)).toThrow(/capacity/);
    expect(new History(2).capacity).toBe(2);
  });

  it('at(0) is the newest, at(length-1) the oldest; out of range throws', () => {
    const h = new History(5);
    expect(h.length).toBe(0);
    expect(() => h.at(0)).toThrow(/outside/);
    h.push(1, 10);
    h.push(2, 20);
    h.push(3, 30);
    expect(h.length).toBe(3);
    expect(h.at(0)).toEqual({ t_s: 3, v: 30 });
    expect(h.at(1)).toEqual({ t_s: 2, v: 20 });
    expect(h.at(2)).toEqual({ t_s: 1, v: 10 });
    expect(() => h.at(3)).toThrow(/outside/);
    expect(() => h.at(-1)).toThrow(/outside/);
  });

  it('histories sharing one store (time first, each its own column) read as separate ones', () => {
    const data = new Float64Array(3 * 3);
    const a = new History(3, { data, stride: 3, column: 1 });
    const b = new History(3, { data, stride: 3, column: 2 });
    // Pushed together, as a scope's resources are: (1, 10 | 5), (2, 20 | 5), (3, 30 | 8), (4, 40 | 2).
    for (const [t, x, y] of [
      [1, 10, 5],
      [2, 20, 5],
      [3, 30, 8],
      [4, 40, 2],
    ] as const) {
      a.push(t, x);
      b.push(t, y);
    }
    expect(a.at(0)).toEqual({ t_s: 4, v: 40 });
    expect(b.at(0)).toEqual({ t_s: 4, v: 2 });
    expect(b.at(2)).toEqual({ t_s: 2, v: 5 });
    // a: 20, 30, 40 at t 2, 3, 4 rise 10 per second. b: 5, 8, 2 around (3, 5): (−1·0 + 0·3 + 1·−3) ÷ 2 = −1.5.
    expect(a.slope(3)).toBe(10);
    expect(b.slope(3)).toBe(-1.5);
    expect(() => new History(4, { data, stride: 3, column: 1 })).toThrow(/too small/);
    expect(() => new History(3, { data, stride: 3, column: 3 })).toThrow(/too small/);
  });

  it('overwrites the oldest sample once full', () => {
    const h = new History(3);
    for (let t = 1; t <= 5; t++) h.push(t, t * 10); // (1,10) … (5,50)
    // capacity 3 keeps the newest three: t = 5, 4, 3; (1,10) and (2,20) were overwritten
    expect(h.length).toBe(3);
    expect(h.at(0)).toEqual({ t_s: 5, v: 50 });
    expect(h.at(1)).toEqual({ t_s: 4, v: 40 });
    expect(h.at(2)).toEqual({ t_s: 3, v: 30 });
    expect(() => h.at(3)).toThrow();
    // wrap once more: push t=6 evicts t=3
    h.push(6, 60);
    expect(h.at(0)).toEqual({ t_s: 6, v: 60 });
    expect(h.at(2)).toEqual({ t_s: 4, v: 40 });
  });

  it('slope of v = 0.1 + 0.02 t is 0.02 per second', () => {
    const h = new History(10);
    for (let t = 0; t <= 4; t++) h.push(t, 0.1 + 0.02 * t); // 0.10, 0.12, 0.14, 0.16, 0.18
    expect(h.slope(10)).toBeCloseTo(0.02, 12); // exact line → least squares gives its slope
    expect(h.slope(2)).toBeCloseTo(0.02, 12); // (0.18 − 0.16) / (4 − 3) = 0.02
  });

  it('slope of a falling line with uneven spacing', () => {
    const h = new History(10);
    for (const t of [0, 0.5, 2, 7]) h.push(t, 1 - 0.1 * t); // v = 1 − 0.1 t
    expect(h.slope(10)).toBeCloseTo(-0.1, 12);
  });

  it('slope uses only the newest `window` samples', () => {
    const h = new History(10);
    // t: 0 1 2 3 4, v: 0 0 0 1 2
    for (const [t, v] of [0, 0, 0, 1, 2].entries()) h.push(t, v);
    // window 3 → (2,0),(3,1),(4,2): a line of slope 1
    expect(h.slope(3)).toBeCloseTo(1, 12);
    // window 5: mean t = 2, mean v = 3/5 = 0.6
    // num = (−2)(−0.6) + (−1)(−0.6) + 0·(−0.6) + 1·0.4 + 2·1.4 = 1.2 + 0.6 + 0 + 0.4 + 2.8 = 5
    // den = 4 + 1 + 0 + 1 + 4 = 10 → 5 / 10 = 0.5
    expect(h.slope(5)).toBeCloseTo(0.5, 12);
    expect(h.slope(100)).toBeCloseTo(0.5, 12); // window larger than the count uses all 5
  });

  it('slope only sees samples that survived overwriting', () => {
    const h = new History(3);
    h.push(0, 5); // will be overwritten
    h.push(1, 0);
    h.push(2, 0.1);
    h.push(3, 0.2);
    // kept (1,0),(2,0.1),(3,0.2): slope 0.1; with (0,5) it would be strongly negative
    expect(h.slope(10)).toBeCloseTo(0.1, 12);
  });

  it('slope is 0 with fewer than 2 samples, and with no time spread', () => {
    const h = new History(4);
    expect(h.slope(10)).toBe(0); // empty
    h.push(1, 0.5);
    expect(h.slope(10)).toBe(0); // one sample
    h.push(2, 0.9);
    expect(h.slope(1)).toBe(0); // window 1 → n = 1 < 2
    expect(h.slope(2)).toBeCloseTo(0.4, 12); // (0.9 − 0.5) / (2 − 1)
    const same = new History(3);
    same.push(5, 0.1);
    same.push(5, 0.9);
    expect(same.slope(10)).toBe(0); // all t equal → den = 0 → 0
  });
});

describe('PressureMonitor: the value signal', () => {
  it('total: Δtotal / Δt wins over avg10 once there is a previous sample', () => {
    const m = new PressureMonitor(cfg.pressure);
    m.observe({ t_ms: 0, psi: psi({ cpu: { avg10: 0.1, total_us: 1_000_000 } }) });
    // first sample: no previous total → fall back to avg10 = 0.1
    expect(m.value('cpu')).toBe(0.1);
    m.observe({ t_ms: 1000, psi: psi({ cpu: { avg10: 0.1, total_us: 1_500_000 } }) });
    // Δtotal = 1 500 000 − 1 000 000 = 500 000 µs; Δt = 1000 ms × 1000 = 1 000 000 µs → 0.5
    expect(m.value('cpu')).toBe(0.5);
    const v = m.systemView().cpu;
    expect(v.value).toBe(0.5);
    expect(v.level).toBe('low'); // 0.3 ≤ 0.5 < 0.6
  });

  it('total over a 2 s tick and a non-round Δ', () => {
    const m = new PressureMonitor(cfg.pressure);
    m.observe({ t_ms: 10_000, psi: psi({ memory: { avg10: 0.9, total_us: 42 } }) });
    m.observe({ t_ms: 12_000, psi: psi({ memory: { avg10: 0.9, total_us: 42 + 300_000 } }) });
    // 300 000 µs / (2000 ms × 1000) = 300 000 / 2 000 000 = 0.15
    expect(m.value('memory')).toBeCloseTo(0.15, 12);
    expect(m.systemView().memory.level).toBe('none'); // 0.15 < memory low 0.2
  });

  it('resources without total_us fall back to avg10', () => {
    const m = new PressureMonitor(cfg.pressure);
    m.observe({ t_ms: 0, psi: psi({ cpu: { avg10: 0.2, total_us: 0 }, io: { avg10: 0.45 } }) });
    m.observe({ t_ms: 1000, psi: psi({ cpu: { avg10: 0.2, total_us: 700_000 }, io: { avg10: 0.55 } }) });
    expect(m.value('cpu')).toBeCloseTo(0.7, 12); // 700 000 / 1 000 000
    expect(m.value('io')).toBe(0.55); // no totals → avg10
  });

  it('a total that went backwards (counter reset) falls back to avg10', () => {
    const m = new PressureMonitor(cfg.pressure);
    m.observe({ t_ms: 0, psi: psi({ cpu: { avg10: 0.1, total_us: 5_000_000 } }) });
    m.observe({ t_ms: 1000, psi: psi({ cpu: { avg10: 0.25, total_us: 100 } }) });
    expect(m.value('cpu')).toBe(0.25); // 100 < 5 000 000 → avg10
    m.observe({ t_ms: 2000, psi: psi({ cpu: { avg10: 0.25, total_us: 100 + 400_000 } }) });
    expect(m.value('cpu')).toBeCloseTo(0.4, 12); // the reset value is the new baseline: 400 000 / 1 000 000
  });

  it('signal "avg10" ignores totals', () => {
    const m = new PressureMonitor(pcfg({ signal: 'avg10' }));
    m.observe({ t_ms: 0, psi: psi({ cpu: { avg10: 0.1, total_us: 1_000_000 } }) });
    m.observe({ t_ms: 1000, psi: psi({ cpu: { avg10: 0.1, total_us: 1_500_000 } }) });
    expect(m.value('cpu')).toBe(0.1); // would be 0.5 with signal 'total'
    expect(m.systemView().cpu.value).toBe(0.1);
    expect(m.systemView().cpu.level).toBe('none'); // 0.1 < 0.3
  });

  it('clamps values to [0, 1]', () => {
    const m = new PressureMonitor(cfg.pressure);
    m.observe({ t_ms: 0, psi: psi({ cpu: { avg10: 1.5, total_us: 0 }, memory: { avg10: -0.2 }, io: { avg10: 0.3 } }) });
    expect(m.value('cpu')).toBe(1); // avg10 1.5 → 1
    expect(m.value('memory')).toBe(0); // −0.2 → 0
    expect(m.value('io')).toBe(0.3);
    m.observe({ t_ms: 1000, psi: psi({ cpu: { avg10: 0, total_us: 3_000_000 } }) });
    // 3 000 000 µs stalled in 1 000 000 µs → 3 → clamped to 1
    expect(m.value('cpu')).toBe(1);
    expect(m.systemView().cpu.level).toBe('critical');
    // the history stores the clamped value too
    expect(m.history('cpu')?.at(0)).toEqual({ t_s: 1, v: 1 });
  });

  it('records history in seconds', () => {
    const m = new PressureMonitor(cfg.pressure);
    m.observe({ t_ms: 2500, psi: psi({ io: { avg10: 0.42 } }) });
    expect(m.history('io')?.at(0)).toEqual({ t_s: 2.5, v: 0.42 }); // 2500 ms / 1000
    expect(m.history('io')?.length).toBe(1);
  });
});

describe('PressureMonitor: trend, velocity and prediction', () => {
  // defaults: trend_window 10, trend_epsilon_per_s 0.005, horizon_s 10
  it('uses the seeded defaults', () => {
    expect(cfg.pressure.trend_window).toBe(10);
    expect(cfg.pressure.trend_epsilon_per_s).toBe(0.005);
    expect(cfg.pressure.horizon_s).toBe(10);
    expect(cfg.pressure.signal).toBe('total');
  });

  it('rising: 0.10, 0.12, 0.14 one second apart', () => {
    const m = new PressureMonitor(cfg.pressure);
    feedCpu(m, [0.1, 0.12, 0.14]);
    const v = m.systemView().cpu;
    expect(v.value).toBe(0.14);
    expect(v.velocity_per_s).toBe(0.02); // (0.14 − 0.10) / 2 s, rounded to 6 places
    expect(v.trend).toBe('rising'); // 0.02 > 0.005
    expect(v.predicted).toBe(0.34); // 0.14 + 0.02 × 10 = 0.34
  });

  it('falling: 0.5, 0.45, 0.4; prediction clamps at 0', () => {
    const m = new PressureMonitor(cfg.pressure);
    feedCpu(m, [0.5, 0.45, 0.4]);
    const v = m.systemView().cpu;
    expect(v.velocity_per_s).toBe(-0.05); // (0.4 − 0.5) / 2 s
    expect(v.trend).toBe('falling'); // −0.05 < −0.005
    expect(v.predicted).toBe(0); // 0.4 − 0.05 × 10 = −0.1 → clamp 0
  });

  it('falling but staying positive: 0.8, 0.79, 0.78', () => {
    const m = new PressureMonitor(cfg.pressure);
    feedCpu(m, [0.8, 0.79, 0.78]);
    const v = m.systemView().cpu;
    expect(v.velocity_per_s).toBe(-0.01); // (0.78 − 0.8) / 2
    expect(v.trend).toBe('falling'); // −0.01 < −0.005
    expect(v.predicted).toBe(0.68); // 0.78 − 0.01 × 10
    expect(v.level).toBe('medium'); // 0.6 ≤ 0.78 < 0.8
  });

  it('steady: 0.3, 0.302, 0.304 (slope 0.002 < 0.005)', () => {
    const m = new PressureMonitor(cfg.pressure);
    feedCpu(m, [0.3, 0.302, 0.304]);
    const v = m.systemView().cpu;
    expect(v.velocity_per_s).toBe(0.002); // 0.004 / 2 s
    expect(v.trend).toBe('steady');
    expect(v.predicted).toBe(0.324); // 0.304 + 0.002 × 10
  });

  it('rising prediction clamps at 1', () => {
    const m = new PressureMonitor(cfg.pressure);
    feedCpu(m, [0.8, 0.9]);
    const v = m.systemView().cpu;
    expect(v.velocity_per_s).toBe(0.1); // 0.1 / 1 s
    expect(v.predicted).toBe(1); // 0.9 + 0.1 × 10 = 1.9 → clamp 1
  });

  it('|velocity| exactly at epsilon counts as steady (strict comparison)', () => {
    const c = pcfg({ trend_epsilon_per_s: 0.25 });
    const up = new PressureMonitor(c);
    feedCpu(up, [0, 0.25, 0.5]); // slope = 0.5 / 2 = 0.25 exactly
    expect(up.systemView().cpu.velocity_per_s).toBe(0.25);
    expect(up.systemView().cpu.trend).toBe('steady');
    const down = new PressureMonitor(c);
    feedCpu(down, [0.5, 0.25, 0]); // slope −0.25
    expect(down.systemView().cpu.trend).toBe('steady');
    const more = new PressureMonitor(c);
    feedCpu(more, [0, 0.5]); // slope 0.5 > 0.25
    expect(more.systemView().cpu.trend).toBe('rising');
  });

  it('a single sample is steady with zero velocity; prediction = value', () => {
    const m = new PressureMonitor(cfg.pressure);
    feedCpu(m, [0.42]);
    const v = m.systemView().cpu;
    expect(v.velocity_per_s).toBe(0);
    expect(v.trend).toBe('steady');
    expect(v.predicted).toBe(0.42); // 0.42 + 0 × 10
  });

  it('horizon 0 predicts the current value; a custom horizon scales the extrapolation', () => {
    const zero = new PressureMonitor(pcfg({ horizon_s: 0 }));
    feedCpu(zero, [0.1, 0.2]);
    expect(zero.systemView().cpu.predicted).toBe(0.2); // 0.2 + 0.1 × 0
    const three = new PressureMonitor(pcfg({ horizon_s: 3 }));
    feedCpu(three, [0.1, 0.2]);
    expect(three.systemView().cpu.predicted).toBe(0.5); // 0.2 + 0.1 × 3
  });

  it('trend_window limits the fit to the newest samples', () => {
    // Samples 2 s apart: an unchanged reading counts as a new sample only after a kernel period.
    const feed = (m: PressureMonitor) => {
      for (const [i, v] of [0, 0.5, 0.5].entries()) m.observe({ t_ms: i * 2000, psi: psi({ cpu: { avg10: v } }) });
    };
    const m = new PressureMonitor(pcfg({ trend_window: 2 }));
    feed(m); // all three: slope 0.125/s; newest two: (0.5 − 0.5)/2 = 0
    expect(m.systemView().cpu.velocity_per_s).toBe(0);
    expect(m.systemView().cpu.trend).toBe('steady');
    const wide = new PressureMonitor(cfg.pressure);
    feed(wide);
    // t = 0, 2, 4 s; mean t = 2, mean v = 1/3; num = (−2)(−1/3) + 0 + (2)(1/6) = 1; den = 8 → 0.125
    expect(wide.systemView().cpu.velocity_per_s).toBe(0.125);
  });

  it('a reading passed on again within a kernel period is not a new sample', () => {
    const m = new PressureMonitor(cfg.pressure);
    const reading = psi({ cpu: { avg10: 0.2, total_us: 1_000_000 } });
    m.observe({ t_ms: 0, psi: reading });
    m.observe({ t_ms: 1000, psi: psi({ cpu: { avg10: 0.3, total_us: 1_500_000 } }) });
    // 0.5 s stalled in 1 s → 0.5
    expect(m.value('cpu')).toBe(0.5);
    // The shell asks again at 1.5 s with the same numbers: not a zero-stall interval.
    m.observe({ t_ms: 1500, psi: psi({ cpu: { avg10: 0.3, total_us: 1_500_000 } }) });
    expect(m.value('cpu')).toBe(0.5);
    expect(m.history('cpu')?.length).toBe(2);
    // After 2 s unchanged it is a real, steady sample: recorded with the same value.
    m.observe({ t_ms: 3000, psi: psi({ cpu: { avg10: 0.3, total_us: 1_500_000 } }) });
    expect(m.history('cpu')?.length).toBe(3);
    expect(m.value('cpu')).toBe(0.5);
    // The next change is measured from when the last distinct reading arrived (t = 1 s):
    // (2_500_000 − 1_500_000) / (4 s − 1 s) = 1/3.
    m.observe({ t_ms: 4000, psi: psi({ cpu: { avg10: 0.4, total_us: 2_500_000 } }) });
    expect(m.value('cpu')).toBeCloseTo(1 / 3, 12);
  });

  it('the view follows new observations (no stale cache)', () => {
    const m = new PressureMonitor(cfg.pressure);
    feedCpu(m, [0.1]);
    expect(m.systemView().cpu.value).toBe(0.1);
    m.observe({ t_ms: 1000, psi: psi({ cpu: { avg10: 0.7 } }) });
    expect(m.systemView().cpu.value).toBe(0.7);
    expect(m.systemView().cpu.level).toBe('medium'); // 0.6 ≤ 0.7 < 0.8
  });
});

describe('PressureMonitor: time', () => {
  it('ignores a repeated observation at the same instant', () => {
    const m = new PressureMonitor(cfg.pressure);
    m.observe({ t_ms: 1000, psi: psi({ cpu: { avg10: 0.2, total_us: 0 } }) });
    m.observe({ t_ms: 1000, psi: psi({ cpu: { avg10: 0.9, total_us: 999_999 } }) });
    expect(m.value('cpu')).toBe(0.2);
    expect(m.history('cpu')?.length).toBe(1);
    // the baseline total is still the first one: 500 000 / 1 000 000 = 0.5
    m.observe({ t_ms: 2000, psi: psi({ cpu: { avg10: 0.2, total_us: 500_000 } }) });
    expect(m.value('cpu')).toBe(0.5);
  });

  it('throws when time goes backwards, and keeps its state', () => {
    const m = new PressureMonitor(cfg.pressure);
    m.observe({ t_ms: 5000, psi: psi({ cpu: { avg10: 0.3 } }) });
    expect(() => m.observe({ t_ms: 4999, psi: psi({ cpu: { avg10: 0.9 } }) })).toThrow(/backwards/);
    expect(m.value('cpu')).toBe(0.3);
    expect(m.history('cpu')?.length).toBe(1);
  });

  it('accepts t = 0 as the first observation', () => {
    const m = new PressureMonitor(cfg.pressure);
    m.observe({ t_ms: 0, psi: psi({ memory: { avg10: 0.6 } }) });
    expect(m.value('memory')).toBe(0.6);
    expect(m.systemView().memory.level).toBe('medium'); // 0.5 ≤ 0.6 < 0.7
  });
});

describe('PressureMonitor: per-node views', () => {
  it('exist only for nodes that reported psi', () => {
    const m = new PressureMonitor(cfg.pressure);
    const obs: Observation = {
      t_ms: 0,
      psi: psi({ cpu: { avg10: 0.1 } }),
      nodes: [
        { id: 0, psi: psi({ cpu: { avg10: 0.85 } }) },
        { id: 1, cpu_util: 0.5 },
      ],
    };
    m.observe(obs);
    expect(m.nodeView(0)?.cpu.value).toBe(0.85);
    expect(m.nodeView(0)?.cpu.level).toBe('high'); // 0.8 ≤ 0.85 < 0.9
    expect(m.nodeValues(0)).toEqual({ cpu: 0.85, memory: 0, io: 0 });
    expect(m.nodeView(1)).toBeUndefined();
    expect(m.nodeValues(1)).toBeUndefined();
    expect(m.history('cpu', 1)).toBeUndefined();
    expect(m.nodeView(7)).toBeUndefined();
    // the system scope is independent of the nodes
    expect(m.systemView().cpu.value).toBe(0.1);
    expect(m.history('cpu')?.at(0).v).toBe(0.1);
    expect(m.history('cpu', 0)?.at(0).v).toBe(0.85);
  });

  it('no nodes at all → no node views', () => {
    const m = new PressureMonitor(cfg.pressure);
    m.observe({ t_ms: 0, psi: psi() });
    expect(m.nodeView(0)).toBeUndefined();
  });

  it('a node computes the total signal from its own previous sample', () => {
    const m = new PressureMonitor(cfg.pressure);
    m.observe({ t_ms: 0, psi: psi(), nodes: [{ id: 0, psi: psi({ io: { avg10: 0.1, total_us: 0 } }) }] });
    // t = 1000: node 0 does not report psi
    m.observe({ t_ms: 1000, psi: psi(), nodes: [{ id: 0 }] });
    expect(m.nodeValues(0)?.io).toBe(0.1);
    m.observe({ t_ms: 2000, psi: psi(), nodes: [{ id: 0, psi: psi({ io: { avg10: 0.1, total_us: 1_000_000 } }) }] });
    // Δtotal 1 000 000 µs over its own Δt = 2000 ms × 1000 = 2 000 000 µs → 0.5
    expect(m.nodeValues(0)?.io).toBe(0.5);
    expect(m.nodeView(0)?.io.level).toBe('low'); // 0.4 ≤ 0.5 < 0.6
    expect(m.history('io', 0)?.length).toBe(2);
  });

  it('a node that starts reporting later uses avg10 for its first sample', () => {
    const m = new PressureMonitor(cfg.pressure);
    m.observe({ t_ms: 0, psi: psi({ cpu: { avg10: 0, total_us: 0 } }) });
    m.observe({
      t_ms: 1000,
      psi: psi({ cpu: { avg10: 0, total_us: 0 } }),
      nodes: [{ id: 3, psi: psi({ cpu: { avg10: 0.33, total_us: 9_000_000 } }) }],
    });
    expect(m.nodeValues(3)?.cpu).toBe(0.33); // first node sample: avg10, not 9 000 000 / anything
    expect(m.nodeView(3)?.cpu.trend).toBe('steady');
  });
});

describe('PressureMonitor: node histories of a repeated node list', () => {
  const times = (m: PressureMonitor, node: number) => {
    const h = m.history('cpu', node);
    return h ? Array.from({ length: h.length }, (_, i) => h.at(h.length - 1 - i).t_s) : [];
  };

  it('record a repeat once a kernel period has passed, as fresh copies of the list would', () => {
    const list = [
      { id: 0, psi: psi({ cpu: { avg10: 0.4 } }) },
      { id: 1, psi: psi({ cpu: { avg10: 0.1 } }) },
    ];
    const system = psi();
    const same = new PressureMonitor(cfg.pressure);
    const copies = new PressureMonitor(cfg.pressure);
    for (const t_ms of [0, 1000, 2000, 3000, 4500, 5000, 6500]) {
      same.observe({ t_ms, psi: system, nodes: list });
      copies.observe({
        t_ms,
        psi: system,
        nodes: list.map((n) => ({ ...n, psi: psi({ cpu: { avg10: n.psi.cpu.some.avg10 } }) })),
      });
    }
    // 0 (first), 2 (2 s after 0), 4.5 (2.5 s after 2), 6.5 (2 s after 4.5); 1, 3, 5 fall inside a period.
    expect(times(same, 0)).toEqual([0, 2, 4.5, 6.5]);
    expect(times(same, 1)).toEqual([0, 2, 4.5, 6.5]);
    expect(times(copies, 0)).toEqual([0, 2, 4.5, 6.5]);
    expect(same.nodeView(0)).toEqual(copies.nodeView(0));
  });

  it('stay exact across a full repeat log and a change of list', () => {
    const list = [{ id: 0, psi: psi({ cpu: { avg10: 0.4 } }) }];
    const m = new PressureMonitor(cfg.pressure);
    // 300 repeats 2 s apart: more than the monitor logs before bringing scopes up to date.
    for (let i = 0; i <= 300; i++) m.observe({ t_ms: i * 2000, psi: psi(), nodes: list });
    expect(m.history('cpu', 0)?.length).toBe(120); // history_size: the newest 120 of 301
    expect(m.history('cpu', 0)?.at(0)).toEqual({ t_s: 600, v: 0.4 });
    // A new list with a new reading: the old repeats first, then the reading.
    m.observe({ t_ms: 602_000, psi: psi(), nodes: [{ id: 0, psi: psi({ cpu: { avg10: 0.6 } }) }] });
    expect(times(m, 0).slice(-3)).toEqual([598, 600, 602]);
    expect(m.history('cpu', 0)?.at(0).v).toBe(0.6);
  });
});
