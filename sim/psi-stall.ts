/**
 * Stall fractions for the PSI model (psi.ts): a scope's CPU stall from its runnable tasks, and the
 * system-wide fractions from per-scope ones, both as kernel/sched/psi.c derives them.
 */
import type { PsiState } from './psi.ts';

/** Stall fractions of one scope, and what that scope weighs in a system-wide aggregate. */
export interface CpuStall {
  /** Share of the scope's (non-idle) CPU time in which a runnable task waited for a CPU. */
  some: number;
  /** Share in which runnable tasks waited and none of the scope's tasks ran: 0 here (see cpuStall). */
  full: number;
  /** Non-idle CPU time per unit of time (CPUs with a task), the scope's weight in aggregate(). */
  nonidle: number;
}

/**
 * CPU stall of `runnable` CPU-bound tasks on `cpus` CPUs, with the scheduler balancing them.
 *
 * psi.c tracks, per CPU, the time in which `nr_running > oncpu` (some task is runnable but not on
 * the CPU) and weights each CPU by its non-idle time. With k tasks balanced over c CPUs, k − c
 * CPUs (all of them once k ≥ 2c) hold a waiting task and min(k, c) CPUs are non-idle, so
 * some = clamp((k − c) / c, 0, 1) — the same as psi.c's header formula
 * min(nr_delayed / min(nr_nonidle, nr_cpus), 1): 1 task on 2 CPUs 0 %, 3 on 2 50 %, 4+ on 2 100 %,
 * 257 on 256 about 0.4 %. Fractional k is accepted as an average.
 *
 * full is 0: within one scope a runnable task can only wait while another of its tasks runs.
 * At the system level CPU full is undefined; since 5.13 the kernel prints the line anyway with
 * zeros (psi_show(): "CPU FULL is undefined at the system level", psi.rst: "set to zero for
 * backward compatibility") — the real recording in ../shared/data/psi shows 0.00 and total 0
 * throughout. (In cgroups it is non-zero when the group's tasks wait on CPUs used by others or on
 * cpu.max throttling, which this model does not simulate.)
 *
 * A scope without CPUs (a CPU-less memory node) has no runqueue of its own: all zeros.
 */
export function cpuStall(runnable: number, cpus: number): CpuStall {
  if (!(cpus > 0) || !(runnable > 0)) return { some: 0, full: 0, nonidle: 0 };
  return { some: Math.min(1, Math.max(0, (runnable - cpus) / cpus)), full: 0, nonidle: Math.min(runnable, cpus) };
}

/**
 * System-wide fractions from per-scope ones, the way psi.c combines its per-CPU states.
 *
 * collect_percpu_times() weights each CPU's stall times by that CPU's non-idle time in the sampling
 * period (tNONIDLE, in jiffies there) and divides by the sum of those weights:
 * tSOME = Σ tSOME[cpu] × tNONIDLE[cpu] / Σ tNONIDLE[cpu] (likewise for every state), so idle CPUs
 * do not dilute the pressure. A scope's `weight` is therefore its non-idle CPU time per unit of
 * time (CPUs with any task running, waiting or stalled; cpuStall().nonidle for CPU-bound work);
 * when a scope's fractions are themselves such weighted means over its CPUs, weighting scopes by
 * the sum of their CPUs' non-idle time gives exactly the per-CPU result. Applied to instantaneous
 * fractions this equals psi.c's per-period aggregation whenever weights are constant over the
 * period. No non-idle scope at all gives zeros (the kernel divides by max(nonidle, 1)).
 *
 * `out`, if given, is filled and returned instead of a new object.
 */
export function aggregate(
  scopes: ReadonlyArray<{ readonly fractions: Readonly<Record<PsiState, number>>; readonly weight: number }>,
  out?: Record<PsiState, number>,
): Record<PsiState, number> {
  const r = out ?? { cpu_some: 0, cpu_full: 0, mem_some: 0, mem_full: 0, io_some: 0, io_full: 0 };
  let cs = 0,
    cf = 0,
    ms = 0,
    mf = 0,
    is = 0,
    iff = 0,
    w = 0;
  for (const s of scopes) {
    const sw = s.weight;
    if (!(sw >= 0) || !Number.isFinite(sw))
      throw new RangeError(`aggregate: weight must be a finite number ≥ 0, got ${sw}`);
    if (sw === 0) continue;
    const f = s.fractions;
    cs += f.cpu_some * sw;
    cf += f.cpu_full * sw;
    ms += f.mem_some * sw;
    mf += f.mem_full * sw;
    is += f.io_some * sw;
    iff += f.io_full * sw;
    w += sw;
  }
  const d = w > 0 ? w : 1;
  r.cpu_some = cs / d;
  r.cpu_full = cf / d;
  r.mem_some = ms / d;
  r.mem_full = mf / d;
  r.io_some = is / d;
  r.io_full = iff / d;
  return r;
}
