/**
 * PSI for the twin: what /proc/pressure/{cpu,memory,io} would print for a simulated scope (a NUMA
 * node, or the whole host), given the stall fractions the execution model produces.
 *
 * Kernel semantics mirrored here (kernel/sched/psi.c, include/linux/sched/loadavg.h,
 * kernel/sched/loadavg.c, Documentation/accounting/psi.rst):
 *
 * - `total` is the cumulative stall time of a state; the kernel keeps it in ns (`group->total`)
 *   and psi_show() prints it in µs, truncated (`div_u64(total, NSEC_PER_USEC)`).
 * - The running averages are updated once per averaging period by update_averages(). The period
 *   is PSI_FREQ = 2*HZ+1 jiffies (2.004 s at HZ=250, 2.001 s at HZ=1000); the update clock is kept
 *   on a fixed grid (`avg_next_update` advances by whole periods, never from "now").
 *   For each state: `sample` = growth of total since the last update (a u32, capped at `period`,
 *   the excess staying in `total` for later periods), `pct = sample * 100 / period` (integer
 *   division) scaled by FIXED_1 = 2048, then avg = calc_load(avg, EXP, pct) with EXP_10s = 1677,
 *   EXP_60s = 1981, EXP_300s = 2034, where calc_load rounds up when the load rises:
 *   `(load*exp + active*(FIXED_1-exp) + (active >= load ? FIXED_1-1 : 0)) / FIXED_1`.
 * - When the host had no task activity the averaging worker is not re-armed (psi_avgs_work only
 *   reschedules when a CPU's non-idle time changed); the next task change re-arms it PSI_FREQ
 *   later, and update_averages() then folds the periods it missed in one step with
 *   calc_load_n(avg, EXP, 0, missed) (EXP raised to the power `missed` by fixed_power_int, with
 *   rounding) and uses `period = now - (avg_last_update + missed * psi_period)` for the sample.
 * - The printed value is LOAD_INT.LOAD_FRAC of the fixed-point percent: `avg >> 11`, then
 *   `((avg & 2047) * 100) >> 11` — two decimals, truncated, not rounded.
 *
 * Modelling choices (where the kernel depends on things a twin does not have):
 * - The worker fires exactly on its grid (the real one runs a jiffy or so late, or earlier when
 *   someone reads the pressure file); `period` is therefore exactly one period while the clock runs.
 * - A read (psi_show()) performs an update only if one is overdue. With the grid honoured exactly
 *   that happens only while the scope is idle and its clock stopped — as in the kernel, where
 *   polling the file during an idle stretch catches the averages up at the time of the read.
 * - Stall time is the exact integral of the piecewise-constant fractions (kept in integer ns with a
 *   sub-ns carry), so the result does not depend on how often advance() is called.
 */

/** The six stall states, in the order used for arrays here. */
export type PsiState = 'cpu_some' | 'cpu_full' | 'mem_some' | 'mem_full' | 'io_some' | 'io_full';
export const PSI_STATES: readonly PsiState[] = Object.freeze([
  'cpu_some',
  'cpu_full',
  'mem_some',
  'mem_full',
  'io_some',
  'io_full',
] as const);

/** One state's line as the kernel prints it: averages in percent (2 decimals, truncated), total in µs. */
export interface PsiReading {
  avg10: number;
  avg60: number;
  avg300: number;
  total_us: number;
}

/**
 * State i's line from a scope's printed averages and totals (ns). A module function rather than a
 * closure in read(), which runs per scope every simulated second: tsx's keepNames renames every
 * named closure as it is made.
 */
function reading(shown: Float64Array, total: Float64Array, i: number): PsiReading {
  return {
    avg10: shown[i * 3] as number,
    avg60: shown[i * 3 + 1] as number,
    avg300: shown[i * 3 + 2] as number,
    total_us: Math.floor((total[i] as number) / 1000),
  };
}

/** FIXED_1 of include/linux/sched/loadavg.h: 1.0 in 11-bit fixed point. */
export const FIXED_1 = 2048;
/** psi.c's decay factors per period for the 10-, 60- and 300-s averages (1/exp(2s/window) × 2048). */
export const EXP_10s = 1677;
export const EXP_60s = 1981;
export const EXP_300s = 2034;
const EXPS = [EXP_10s, EXP_60s, EXP_300s] as const;

/** The nominal averaging period (µs), "2 sec intervals" in psi.c; the default of PsiScope. */
export const PSI_PERIOD_US = 2_000_000;

/**
 * The kernel's exact averaging period in µs for a given CONFIG_HZ: psi_period =
 * jiffies_to_nsecs(2*HZ+1) = (2*HZ+1) × (NSEC_PER_SEC / HZ). psiPeriod_us(250) = 2_004_000.
 */
export function psiPeriod_us(hz: number): number {
  if (!Number.isInteger(hz) || hz <= 0) throw new RangeError(`psiPeriod_us: HZ must be a positive integer, got ${hz}`);
  return ((2 * hz + 1) * Math.floor(1e9 / hz)) / 1000;
}

/**
 * calc_load() of include/linux/sched/loadavg.h on fixed-point integers:
 * `newload = load*exp + active*(FIXED_1-exp)`, plus FIXED_1-1 when `active >= load` (so a rising
 * average rounds up and can reach its target), then integer division by FIXED_1.
 */
export function calcLoad(load: number, exp: number, active: number): number {
  let newload = load * exp + active * (FIXED_1 - exp);
  if (active >= load) newload += FIXED_1 - 1;
  return Math.floor(newload / FIXED_1);
}

/** fixed_power_int(x, FSHIFT, n) of kernel/sched/loadavg.c: x^n in 11-bit fixed point, rounding each product. */
function fixedPowerInt(x: number, n: number): number {
  let result = FIXED_1;
  while (n > 0) {
    if (n & 1) result = Math.floor((result * x + FIXED_1 / 2) / FIXED_1);
    n = Math.floor(n / 2);
    if (n === 0) break;
    x = Math.floor((x * x + FIXED_1 / 2) / FIXED_1);
  }
  return result;
}

/** calc_load_n() of kernel/sched/loadavg.c: n periods of `active` in one step, calc_load(load, exp^n, active). */
export function calcLoadN(load: number, exp: number, active: number, n: number): number {
  return calcLoad(load, fixedPowerInt(exp, n), active);
}

/** LOAD_INT.LOAD_FRAC of a fixed-point percent, as the number seq_printf("%lu.%02lu") shows. */
function printed(avg: number): number {
  const int = Math.floor(avg / FIXED_1);
  const frac = Math.floor(((avg % FIXED_1) * 100) / FIXED_1);
  return (int * 100 + frac) / 100;
}

/** A fixed-point average that prints as `percent` (the middle of the values that do; 100 % exactly for 100.00). */
function fromPrinted(percent: number): number {
  const cents = Math.round(percent * 100);
  const int = Math.floor(cents / 100),
    frac = cents % 100;
  const lo = Math.ceil((frac * FIXED_1) / 100),
    hi = Math.ceil(((frac + 1) * FIXED_1) / 100) - 1;
  return Math.min(100 * FIXED_1, int * FIXED_1 + Math.floor((lo + hi) / 2));
}

const N = 6;
const U32 = 2 ** 32;
/**
 * Times are kept in integer ns, exact in a double up to 2^53 ns (about 104 days) from 0: ample for
 * a run's own clock (24 h is 8.64e13 ns), not for epoch timestamps — rebase those to the start.
 */
const MAX_NS = Number.MAX_SAFE_INTEGER;

export interface PsiScopeOptions {
  /**
   * Averaging period in µs. Default PSI_PERIOD_US (2 s, the nominal value); pass psiPeriod_us(hz)
   * for a particular kernel's exact 2*HZ+1 jiffies (the recording in ../shared/data/psi fits HZ=250).
   * The update grid is anchored at `start_us` (the kernel's group_init: first update one period
   * after the group is created).
   */
  period_us?: number;
  /**
   * Start from an observed state, e.g. a host's /proc/pressure reading, so a twin continues where
   * a real host stands. Averages are taken as printed (the fixed-point value in the middle of those
   * that print so); totals as cumulative µs. Missing fields start at 0.
   */
  initial?: Partial<Record<PsiState, Partial<PsiReading>>>;
}

/**
 * Stall accounting for one scope (a node, or the whole system).
 *
 * Feed it the current stall fractions with set() whenever they change; call advance() before
 * read(). How often advance() is called does not matter: every averaging period that ends is run
 * at its own grid time with the stall that fell into it (only while a scope is idle do reads make
 * a difference, as on a real host — see read()). The scope starts non-idle with the averaging
 * clock running and all fractions 0. set() and advance() allocate nothing.
 */
export class PsiScope {
  private readonly period_ns: number;
  private now_ns: number; // stall integrated up to here
  private lastUpdate_ns: number; // avg_last_update
  private expires_ns: number; // avg_next_update
  private nextRun_ns: number; // when the averaging worker runs next; Infinity when it is not armed
  private busy = true;
  private busySinceRun = false;
  private readonly frac = new Float64Array(N);
  // Stall integral: since the fractions were last set (at segStart), total = segBase +
  // floor(segCarry + frac × (t − segStart)). Computing it from the segment's start, not in steps,
  // makes it independent of how often advance() is called.
  private segStart_ns: number;
  private readonly segBase = new Float64Array(N); // integer ns at segStart
  private readonly segCarry = new Float64Array(N); // sub-ns remainder at segStart, [0, 1)
  private readonly total = new Float64Array(N); // integer ns at `now`
  private readonly avgTotal = new Float64Array(N); // integer ns already fed to the averages
  private readonly avg = new Float64Array(N * 3); // fixed-point percent, [state*3 + window]
  private readonly shown = new Float64Array(N * 3); // avg as printed, refreshed at each update
  private readonly next = new Float64Array(N); // scratch for set()

  constructor(start_us: number, options: PsiScopeOptions = {}) {
    const period_us = options.period_us ?? PSI_PERIOD_US;
    if (!(period_us > 0) || !Number.isFinite(period_us))
      throw new RangeError(`PsiScope: period_us must be positive, got ${period_us}`);
    if (!(Math.abs(start_us * 1000) <= MAX_NS))
      throw new RangeError(
        `PsiScope: start_us must be finite and within ±${MAX_NS / 1000} µs (exact ns arithmetic), got ${start_us}`,
      );
    this.period_ns = Math.round(period_us * 1000);
    this.now_ns = Math.round(start_us * 1000);
    this.segStart_ns = this.now_ns;
    this.lastUpdate_ns = this.now_ns;
    this.expires_ns = this.now_ns + this.period_ns;
    this.nextRun_ns = this.expires_ns;
    const init = options.initial;
    if (init) {
      for (let i = 0; i < N; i++) {
        const r = init[PSI_STATES[i] as PsiState];
        if (!r) continue;
        const avgs = [r.avg10 ?? 0, r.avg60 ?? 0, r.avg300 ?? 0];
        for (let w = 0; w < 3; w++) {
          const p = avgs[w] as number;
          if (!(p >= 0 && p <= 100))
            throw new RangeError(`PsiScope: initial ${PSI_STATES[i]} average must be 0–100, got ${p}`);
          this.avg[i * 3 + w] = fromPrinted(p);
          this.shown[i * 3 + w] = printed(this.avg[i * 3 + w] as number);
        }
        const t = r.total_us ?? 0;
        if (!(t >= 0) || !Number.isFinite(t))
          throw new RangeError(`PsiScope: initial ${PSI_STATES[i]} total_us must be ≥ 0, got ${t}`);
        this.total[i] = this.segBase[i] = this.avgTotal[i] = Math.round(t) * 1000;
      }
    }
  }

  /**
   * Set the current stall fractions (0–1, the share of the scope's time each state holds from now
   * on); integrates the previous ones up to now_us first (running any averaging period that ended
   * on the way). Values above 1 are accepted (a replayed recording can overshoot by sampling
   * jitter); as in the kernel, a period's sample is capped at the period and the excess is carried
   * into later periods.
   *
   * `idle` says the scope has no task at all from now on (then every fraction must be 0). Like the
   * kernel, an idle scope stops its averaging clock after one more period; the first non-idle
   * set() re-arms it one period later, and the missed periods are folded in with calc_load_n.
   */
  set(now_us: number, fractions: Readonly<Record<PsiState, number>>, idle = false): void {
    const next = this.next;
    next[0] = fractions.cpu_some;
    next[1] = fractions.cpu_full;
    next[2] = fractions.mem_some;
    next[3] = fractions.mem_full;
    next[4] = fractions.io_some;
    next[5] = fractions.io_full;
    for (let i = 0; i < N; i++) {
      const f = next[i] as number;
      if (!(f >= 0 && f < Infinity))
        throw new RangeError(`PsiScope.set: ${PSI_STATES[i]} must be a finite fraction ≥ 0, got ${f}`);
      if (idle && f !== 0) throw new RangeError(`PsiScope.set: an idle scope cannot stall (${PSI_STATES[i]} = ${f})`);
    }
    const t = this.toNs(now_us);
    this.advanceTo(t);
    const dt = t - this.segStart_ns;
    for (let i = 0; i < N; i++) {
      const x = (this.segCarry[i] as number) + (this.frac[i] as number) * dt;
      const whole = Math.floor(x);
      this.segBase[i] = (this.segBase[i] as number) + whole;
      this.segCarry[i] = x - whole;
      this.frac[i] = next[i] as number;
    }
    this.segStart_ns = t;
    this.busy = !idle;
    // psi_group_change(): a task change re-arms a stopped averaging worker PSI_FREQ later.
    if (this.busy && this.nextRun_ns === Infinity) this.nextRun_ns = t + this.period_ns;
  }

  /**
   * Advance to now_us, running every averaging period that ended on the way (each at its own grid
   * time, with the stall that fell into it), so it may be called at any cadence.
   */
  advance(now_us: number): void {
    this.advanceTo(this.toNs(now_us));
  }

  /**
   * What /proc/pressure/{cpu,memory,io} would print now (as of the last set()/advance()): averages
   * in percent with 2 decimals, truncated as the kernel's seq_printf does, and totals in µs.
   *
   * Like psi_show(), reading performs an overdue update first. That only happens while the scope
   * is idle and its averaging clock stopped: a read then folds in the missed periods at the time
   * of the read, as on a real host whose pressure file is polled (so, as there, idle-time averages
   * depend on when they are read). While the clock runs nothing is ever overdue, and reads change
   * nothing.
   */
  read(): Record<PsiState, PsiReading> {
    if (this.now_ns >= this.expires_ns) this.expires_ns = this.updateAverages(this.now_ns);
    const s = this.shown,
      t = this.total;
    return {
      cpu_some: reading(s, t, 0),
      cpu_full: reading(s, t, 1),
      mem_some: reading(s, t, 2),
      mem_full: reading(s, t, 3),
      io_some: reading(s, t, 4),
      io_full: reading(s, t, 5),
    };
  }

  private toNs(us: number): number {
    const t = Math.round(us * 1000);
    if (!(t >= this.now_ns))
      throw new RangeError(`PsiScope: time went backwards or is not a number (${us} µs < ${this.now_ns / 1000} µs)`);
    if (t > MAX_NS)
      throw new RangeError(
        `PsiScope: ${us} µs is too far from 0 for exact ns arithmetic; use times relative to the run's start`,
      );
    return t;
  }

  private advanceTo(t: number): void {
    while (this.nextRun_ns <= t) {
      const at = this.nextRun_ns;
      this.integrate(at);
      this.run(at);
    }
    this.integrate(t);
  }

  /** Bring the totals to t (the stall of the current segment up to t). */
  private integrate(t: number): void {
    if (t <= this.now_ns) return;
    const dt = t - this.segStart_ns;
    for (let i = 0; i < N; i++) {
      const f = this.frac[i] as number;
      this.total[i] =
        f === 0
          ? (this.segBase[i] as number)
          : (this.segBase[i] as number) + Math.floor((this.segCarry[i] as number) + f * dt);
    }
    if (this.busy) this.busySinceRun = true;
    this.now_ns = t;
  }

  /** psi_avgs_work(): update if due, re-arm only if the scope was non-idle since the last run. */
  private run(at: number): void {
    if (at >= this.expires_ns) this.expires_ns = this.updateAverages(at);
    this.nextRun_ns = this.busy || this.busySinceRun ? this.expires_ns : Infinity;
    this.busySinceRun = false;
  }

  /** update_averages() and calc_avgs() of psi.c; returns the next avg_next_update. */
  private updateAverages(now: number): number {
    const P = this.period_ns;
    const missed = now - this.expires_ns >= P ? Math.floor((now - this.expires_ns) / P) : 0;
    const next = this.expires_ns + (1 + missed) * P;
    const period = now - (this.lastUpdate_ns + missed * P);
    this.lastUpdate_ns = now;
    for (let i = 0; i < N; i++) {
      let sample = ((this.total[i] as number) - (this.avgTotal[i] as number)) % U32; // u32 in psi.c
      if (sample > period) sample = period;
      this.avgTotal[i] = (this.avgTotal[i] as number) + sample;
      const pct = Math.floor((sample * 100) / period) * FIXED_1;
      for (let w = 0; w < 3; w++) {
        const k = i * 3 + w;
        const exp = EXPS[w] as number;
        let a = this.avg[k] as number;
        if (missed > 0) a = calcLoadN(a, exp, 0, missed);
        this.avg[k] = a = calcLoad(a, exp, pct);
        this.shown[k] = printed(a);
      }
    }
    return next;
  }
}
