/**
 * Workload: where arrivals come from. Generators (Poisson, diurnal, bursty on/off, piecewise-linear
 * rate, periodic timers) and trace
 * replay (demand and request traces) all produce arrivals lazily, in time order, one at a time,
 * so a 24-hour run never holds its whole arrival list. Every draw comes from a seeded stream named
 * after its profile, so the same scenario and seed give the same arrivals whatever policy runs.
 */
import { exponential, makeRng, normal, type Rng } from './random.ts';
import type { SimProfile } from './scenario.ts';

/** One draw from a scenario distribution (constant, exponential, or lognormal with the given mean). */
export function draw(d: SimProfile['cpu_ms'], rng: Rng): number {
  if (d.dist === 'const') return d.mean;
  if (d.dist === 'exp') return exponential(rng, d.mean);
  // Lognormal with mean m: μ = ln m − σ²/2.
  return Math.exp(Math.log(d.mean) - (d.sigma * d.sigma) / 2 + d.sigma * normal(rng));
}

export const drawCpu_ms = (p: SimProfile, rng: Rng): number => draw(p.cpu_ms, rng);

export function drawPriority(p: SimProfile, rng: Rng): 0 | 1 | 2 | 3 {
  const mix = p.priority_mix;
  const total = mix[0] + mix[1] + mix[2] + mix[3];
  let u = rng() * total;
  for (let i = 0; i < 4; i++) {
    u -= mix[i] as number;
    if (u < 0) return i as 0 | 1 | 2 | 3;
  }
  return 1;
}

/** A workload trace as read and validated (formats/traces.ts): demand per second, or requests one by one. */
export type WorkloadTrace =
  | { kind: 'demand'; rows: Array<{ t_s: number; profile: string; count: number }> }
  | {
      kind: 'request';
      rows: Array<{
        t_ms: number;
        profile: string;
        cpu_ms: number;
        mem_mb: number;
        priority: 0 | 1 | 2 | 3;
        io: boolean;
      }>;
    };

/** One arrival; fields a trace row carries override the profile's draws. */
export interface Arrival {
  t_us: number;
  profile: string;
  cpu_ms?: number;
  mem_mb?: number;
  priority?: 0 | 1 | 2 | 3;
  io?: boolean;
}

export interface ArrivalSource {
  /** The next arrival, or undefined when the source is exhausted. */
  next(): Arrival | undefined;
}

const DAY_S = 86_400;
const WEEK_S = 7 * DAY_S;
/** Hourly noise factors are clamped to this, which bounds the thinning envelope. */
const NOISE_CAP = 3;

/** A generator for one profile's arrival process, from its scenario definition. */
export function generator(profile: string, p: SimProfile, seed: string | number, end_us: number): ArrivalSource {
  const rng = makeRng(seed, `arrivals:${profile}`);
  const a = p.arrival;
  let t_s = 0;
  const done = (): undefined => undefined;
  if (a.kind === 'none') return { next: done };
  if (a.kind === 'poisson') {
    if (a.rate_per_s <= 0) return { next: done };
    return {
      next() {
        t_s += exponential(rng, 1 / a.rate_per_s);
        return t_s * 1e6 < end_us ? { t_us: Math.round(t_s * 1e6), profile } : undefined;
      },
    };
  }
  if (a.kind === 'diurnal') {
    const noiseRng = makeRng(seed, `noise:${profile}`);
    const noise = new Map<number, number>();
    // One lognormal factor per hour, drawn in hour order so it never depends on arrival timing.
    let drawnHours = 0;
    const factor = (hour: number) => {
      while (drawnHours <= hour)
        noise.set(drawnHours++, Math.min(NOISE_CAP, Math.exp(a.noise * normal(noiseRng) - (a.noise * a.noise) / 2)));
      return noise.get(hour) as number;
    };
    const shape = (s: number) =>
      Math.max(
        0,
        1 +
          a.day_amplitude * Math.sin((2 * Math.PI * (s + a.phase_h * 3600)) / DAY_S) +
          a.week_amplitude * Math.sin((2 * Math.PI * s) / WEEK_S),
      );
    const lambdaMax = a.rate_per_s * (1 + a.day_amplitude + a.week_amplitude) * NOISE_CAP;
    if (lambdaMax <= 0) return { next: done };
    return {
      next() {
        // Thinning (Lewis & Shedler): candidates at λmax, each kept with probability λ(t)/λmax.
        for (;;) {
          t_s += exponential(rng, 1 / lambdaMax);
          if (t_s * 1e6 >= end_us) return undefined;
          const hour = Math.floor(t_s / 3600);
          if (noise.size > 48) noise.delete(hour - 48);
          const lambda = a.rate_per_s * shape(t_s) * factor(hour);
          if (rng() * lambdaMax < lambda) return { t_us: Math.round(t_s * 1e6), profile };
        }
      },
    };
  }
  if (a.kind === 'piecewise') return piecewise(a.points, rng, profile, end_us);
  if (a.kind === 'periodic') {
    // A timer: exactly on its period; its first firing drawn within the first period unless given.
    t_s = a.phase_s ?? rng() * a.period_s;
    let first = true;
    return {
      next() {
        if (!first) t_s += a.period_s;
        first = false;
        return t_s * 1e6 < end_us ? { t_us: Math.round(t_s * 1e6), profile } : undefined;
      },
    };
  }
  // Bursty: alternate exponential on and off periods, Poisson at each period's rate.
  let on = true;
  let switch_s = exponential(rng, a.mean_on_s);
  return {
    next() {
      for (;;) {
        const rate = on ? a.on_rate_per_s : a.off_rate_per_s;
        const cand = rate > 0 ? t_s + exponential(rng, 1 / rate) : Infinity;
        if (cand < switch_s) {
          t_s = cand;
          return t_s * 1e6 < end_us ? { t_us: Math.round(t_s * 1e6), profile } : undefined;
        }
        t_s = switch_s;
        if (t_s * 1e6 >= end_us) return undefined;
        on = !on;
        switch_s = t_s + exponential(rng, on ? a.mean_on_s : a.mean_off_s);
      }
    },
  };
}

/**
 * Non-homogeneous Poisson with a rate that follows straight lines between points (held at the
 * last point's rate after it, and at the first's before it), by thinning against the highest rate.
 */
function piecewise(
  points: ReadonlyArray<readonly [number, number]>,
  rng: Rng,
  profile: string,
  end_us: number,
): ArrivalSource {
  const lambdaMax = Math.max(...points.map((p) => p[1]));
  if (!(lambdaMax > 0)) return { next: () => undefined };
  let seg = 0;
  const rateAt = (t: number) => {
    while (seg + 1 < points.length && (points[seg + 1] as readonly [number, number])[0] <= t) seg++;
    const [t0, r0] = points[seg] as readonly [number, number];
    const nxt = points[seg + 1];
    if (!nxt || t <= t0) return r0;
    return r0 + ((nxt[1] - r0) * (t - t0)) / (nxt[0] - t0);
  };
  let t_s = 0;
  return {
    next() {
      for (;;) {
        t_s += exponential(rng, 1 / lambdaMax);
        if (t_s * 1e6 >= end_us) return undefined;
        if (rng() * lambdaMax < rateAt(t_s)) return { t_us: Math.round(t_s * 1e6), profile };
      }
    },
  };
}

/** The memory a request really touches (kB): its profile's working-set draw, or what it declared. */
export function drawWorkingSet_kb(p: SimProfile, declared_mb: number, rng: Rng): number {
  return Math.round((p.working_set_mb ? draw(p.working_set_mb, rng) : declared_mb) * 1024);
}

/**
 * Demand trace replay: each row's `count` arrivals fall uniformly at random inside its interval
 * (the gap to the profile's next row; the last row reuses the previous gap, or 60 s).
 */
export function demandReplay(
  rows: ReadonlyArray<{ t_s: number; profile: string; count: number }>,
  seed: string | number,
  end_us: number,
  stream = 'demand-trace',
): ArrivalSource {
  const rng = makeRng(seed, stream);
  const byProfile = new Map<string, number[]>();
  for (const r of rows) {
    let l = byProfile.get(r.profile);
    if (!l) byProfile.set(r.profile, (l = []));
    l.push(r.t_s);
  }
  const lastGap_s = new Map<string, number>();
  const pending: Arrival[] = [];
  let i = 0;
  const gapOf = (r: { t_s: number; profile: string }) => {
    const ts = byProfile.get(r.profile) as number[];
    const k = ts.indexOf(r.t_s);
    const gap_s = k + 1 < ts.length ? (ts[k + 1] as number) - r.t_s : (lastGap_s.get(r.profile) ?? 60);
    lastGap_s.set(r.profile, gap_s);
    return gap_s;
  };
  return {
    next() {
      // Rows are in time order. Load every row that starts before the earliest pending arrival,
      // so arrivals of overlapping intervals (of different profiles) come out in time order.
      while (
        i < rows.length &&
        (pending.length === 0 ||
          (rows[i] as { t_s: number }).t_s * 1e6 <= (pending[pending.length - 1] as Arrival).t_us)
      ) {
        const t0_s = (rows[i] as { t_s: number }).t_s;
        while (i < rows.length && (rows[i] as { t_s: number }).t_s === t0_s) {
          const r = rows[i++] as { t_s: number; profile: string; count: number };
          const gap_s = gapOf(r);
          for (let k = 0; k < r.count; k++)
            pending.push({ t_us: Math.round((r.t_s + rng() * gap_s) * 1e6), profile: r.profile });
        }
        pending.sort((x, y) => y.t_us - x.t_us || (x.profile < y.profile ? 1 : -1));
      }
      const a = pending.pop();
      return a && a.t_us < end_us ? a : undefined;
    },
  };
}

/** Request trace replay: one arrival per row, carrying the row's own CPU time and memory. */
export function requestReplay(
  rows: ReadonlyArray<{
    t_ms: number;
    profile: string;
    cpu_ms: number;
    mem_mb: number;
    priority: 0 | 1 | 2 | 3;
    io: boolean;
  }>,
  end_us: number,
): ArrivalSource {
  let i = 0;
  return {
    next() {
      const r = rows[i++];
      if (!r || r.t_ms * 1000 >= end_us) return undefined;
      return {
        t_us: Math.round(r.t_ms * 1000),
        profile: r.profile,
        cpu_ms: r.cpu_ms,
        mem_mb: r.mem_mb,
        priority: r.priority,
        io: r.io,
      };
    },
  };
}
