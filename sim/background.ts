/**
 * A neighbour that really contends: a host recording (a PSI trace as `fgo record` writes it)
 * replayed as the work of processes fgo does not manage. Unlike `--psi` (what the policy is shown),
 * the neighbour's work runs in the twin's execution model — its runnable tasks share a node's CPUs,
 * its blocked tasks load the I/O device, its memory fills the node — so pressure rises from the
 * twin's own PSI arithmetic and fgo's requests slow down exactly as much as the model says.
 *
 * From each sampling interval of the recording (row i−1 to row i) this module derives one step:
 *
 * - Runnable tasks. With `procs_running` (from /proc/stat; the recording process itself is one of
 *   them) the count is read directly: the mean of the interval's two samples, minus one. Without it
 *   the count is estimated from the busy share u (busy ÷ all jiffies) and the recorded CPU stall s
 *   (growth of `cpu_some_total_us` ÷ elapsed time): the neighbour is runnable for a share
 *   a = max(u, s) of the interval with k = C·(1 + s/a) tasks (capped at 2C) and idle the rest, C
 *   being the recording host's CPUs. On C CPUs that uses u·C CPUs and, by the kernel's rule
 *   (psi.ts cpuStall), stalls for exactly s of the interval: a neighbour that is sometimes idle and
 *   sometimes crowded, which is what stall below full load means (a steady u·C tasks could not
 *   stall at all). Where u ≥ s, as in CPU-bound phases, this is a steady C·(1 + s) tasks.
 * - Blocked tasks (device load and io pressure): blocked for the recorded io some share of the
 *   interval (from `io_some_total_us`), as many as `procs_blocked`'s mean needs, at least one;
 *   without io totals, `procs_blocked`'s mean as a share of the interval.
 * - Memory: how far `mem_available_kb` fell below its highest value in the recording.
 * - The neighbour's own memory stall (some, full) as recorded: thrashing inside its own memory
 *   cgroup, which node capacity cannot produce. It shows in the node's memory pressure (a policy
 *   sees it, as on a real host) but slows only the neighbour, not fgo's work.
 *
 * The recording host's CPU count comes from its jiffies (USER_HZ = 100 per CPU per second, as
 * /proc/stat counts them), or from the `cpus` the scenario gives.
 */
import { InputError } from '../formats/errors.ts';
import type { PsiRow } from '../formats/psi-trace.ts';
import type { PsiColumn } from '../formats/psi-columns.ts';

/** /proc/stat counts CPU time in USER_HZ ticks, 100 per second on every Linux architecture. */
const USER_HZ = 100;

/** One interval of the neighbour's activity. Counts are of the recording host's tasks. */
export interface BackgroundStep {
  /** Start, µs after the recording's first sample. */
  t_us: number;
  dt_us: number;
  /** Runnable tasks while on, and the share of the interval (from its start) they are on. */
  cpu_tasks: number;
  cpu_on: number;
  io_tasks: number;
  io_on: number;
  mem_kb: number;
  mem_some: number;
  mem_full: number;
}

export interface Background {
  steps: BackgroundStep[];
  /** From the first sample to the last: the replay loops with this period. */
  span_us: number;
  /** CPUs of the recording host. */
  host_cpus: number;
  tasks_from: 'procs_running' | 'busy share and cpu stall';
}

export interface BackgroundOptions {
  /** The recording host's CPUs, when its jiffies cannot tell. */
  cpus?: number;
}

type Num = (i: number) => number | undefined;

/** The replayed neighbour of a recording; every problem names the file and the sample. */
export function backgroundFromRecording(
  rows: readonly PsiRow[],
  file: string,
  opts: BackgroundOptions = {},
): Background {
  const system = rows.filter((r) => r.node === undefined);
  if (system.length < 2)
    throw new InputError([
      `${file}: a background recording needs at least two system-wide samples, got ${system.length}`,
    ]);
  const problems: string[] = [];
  const c = columnsOf(system, file, problems);
  const { busy, total, running, cpuSome } = c;

  const host_cpus = opts.cpus ?? (total ? cpusFromJiffies(system, total) : undefined);
  if (host_cpus === undefined)
    problems.push(
      `${file}: cannot tell the recording host's CPU count: no cpu_busy_jiffies with cpu_idle_jiffies or cpu_total_jiffies columns (give background.cpus)`,
    );
  if (!running && !(busy && total && cpuSome))
    problems.push(
      `${file}: cannot tell the neighbour's runnable tasks: needs procs_running, or cpu_busy_jiffies, cpu_idle_jiffies (or cpu_total_jiffies) and cpu_some_total_us`,
    );
  if (problems.length) throw new InputError(problems);
  const C = host_cpus as number;

  const steps = stepsOf(system, c, C);
  if (problems.length) throw new InputError(problems);
  if (steps.length === 0) throw new InputError([`${file}: every sample is at the same instant: nothing to replay`]);
  const t0_ms = (system[0] as PsiRow).t_ms;
  return {
    steps,
    span_us: Math.round(((system[system.length - 1] as PsiRow).t_ms - t0_ms) * 1000),
    host_cpus: C,
    tasks_from: running ? 'procs_running' : 'busy share and cpu stall',
  };
}

/** One step per interval between consecutive system-wide samples: the neighbour's work in it. */
function stepsOf(system: readonly PsiRow[], c: Columns, C: number): BackgroundStep[] {
  const { busy, total, running, blocked, avail, cpuSome, ioSome, memSome, memFull } = c;
  let maxAvail = 0;
  if (avail) for (let i = 0; i < system.length; i++) maxAvail = Math.max(maxAvail, avail(i) ?? 0);
  const t0_ms = (system[0] as PsiRow).t_ms;
  const steps: BackgroundStep[] = [];
  for (let i = 1; i < system.length; i++) {
    const a = system[i - 1] as PsiRow,
      b = system[i] as PsiRow;
    const dt_us = Math.round((b.t_ms - a.t_ms) * 1000);
    if (dt_us <= 0) continue; // two samples at one instant: no interval between them
    const share = (n: Num | undefined) => (n ? clamp01(((n(i) ?? 0) - (n(i - 1) ?? 0)) / dt_us) : 0);
    const mid = (n: Num) => ((n(i) ?? 0) + (n(i - 1) ?? 0)) / 2;
    let cpu_tasks: number, cpu_on: number;
    if (running) {
      cpu_tasks = Math.max(0, mid(running) - 1);
      cpu_on = 1;
    } else {
      const dTotal = ((total as Num)(i) as number) - ((total as Num)(i - 1) as number);
      const u = dTotal > 0 ? clamp01((((busy as Num)(i) as number) - ((busy as Num)(i - 1) as number)) / dTotal) : 0;
      const s = share(cpuSome);
      cpu_on = Math.max(u, s);
      cpu_tasks = cpu_on > 0 ? Math.min(2 * C, C * (1 + s / cpu_on)) : 0;
    }
    // Blocked tasks: busy on the device for the recorded io some share of the interval, at least
    // one of them, as many as the mean blocked count needs (a D-state task is not always in
    // iowait: writers throttled by dirty-page limits count in procs_blocked and not in io pressure).
    const ioOn = ioSome ? share(ioSome) : blocked ? Math.min(1, mid(blocked)) : 0;
    const io = { io_tasks: ioOn > 0 ? Math.max(1, blocked ? mid(blocked) / ioOn : 1) : 0, io_on: ioOn };
    steps.push({
      t_us: Math.round((a.t_ms - t0_ms) * 1000),
      dt_us,
      cpu_tasks,
      cpu_on,
      ...io,
      mem_kb: avail ? Math.max(0, maxAvail - mid(avail)) : 0,
      mem_some: share(memSome),
      mem_full: share(memFull),
    });
  }
  return steps;
}

/** The recording's columns the replay reads, as accessors by sample (absent columns undefined). */
interface Columns {
  busy: Num | undefined;
  total: Num | undefined;
  running: Num | undefined;
  blocked: Num | undefined;
  avail: Num | undefined;
  cpuSome: Num | undefined;
  ioSome: Num | undefined;
  memSome: Num | undefined;
  memFull: Num | undefined;
}

/** The columns of the system-wide samples; a bad value is added to `problems` as it is read. */
function columnsOf(system: readonly PsiRow[], file: string, problems: string[]): Columns {
  const extra = (name: string): Num | undefined => {
    if (!system.some((r) => r.extra?.[name] !== undefined && r.extra[name] !== '')) return undefined;
    return (i) => {
      const r = system[i] as PsiRow;
      const text = r.extra?.[name] ?? '';
      const v = Number(text);
      if (text === '' || !Number.isFinite(v) || v < 0) {
        if (problems.length < 20)
          problems.push(`${file}: sample at t_ms ${r.t_ms}: column ${name}: must be a number ≥ 0, got "${text}"`);
        return undefined;
      }
      return v;
    };
  };
  const psi = (col: PsiColumn): Num | undefined =>
    system.some((r) => r.values[col] !== undefined) ? (i) => (system[i] as PsiRow).values[col] : undefined;

  const busy = extra('cpu_busy_jiffies');
  const idle = extra('cpu_idle_jiffies');
  const totalJ = extra('cpu_total_jiffies');
  const total: Num | undefined = totalJ ?? (busy && idle ? (i) => add(busy(i), idle(i)) : undefined);
  const running = extra('procs_running');
  const blocked = extra('procs_blocked');
  const avail = extra('mem_available_kb');
  const cpuSome = psi('cpu_some_total_us');
  const ioSome = psi('io_some_total_us');
  const memSome = psi('mem_some_total_us');
  const memFull = psi('mem_full_total_us');

  return { busy, total, running, blocked, avail, cpuSome, ioSome, memSome, memFull };
}

// Comparisons, not Math.min/max, which would turn -0 into 0 (simulated results stay byte-identical).
function clamp01(x: number): number {
  if (x < 0) return 0;
  if (x > 1) return 1;
  return x;
}
const add = (a: number | undefined, b: number | undefined) => (a === undefined || b === undefined ? undefined : a + b);

/** CPUs from jiffies per second (the median over intervals, so one late sample does not skew it). */
function cpusFromJiffies(rows: readonly PsiRow[], total: Num): number | undefined {
  const perS: number[] = [];
  for (let i = 1; i < rows.length; i++) {
    const dt_s = ((rows[i] as PsiRow).t_ms - (rows[i - 1] as PsiRow).t_ms) / 1000;
    const a = total(i - 1),
      b = total(i);
    if (dt_s > 0 && a !== undefined && b !== undefined) perS.push((b - a) / dt_s / USER_HZ);
  }
  if (perS.length === 0) return undefined;
  perS.sort((x, y) => x - y);
  const c = Math.round(perS[perS.length >> 1] as number);
  return c >= 1 ? c : undefined;
}

/** What a neighbour puts on one node at one instant (already scaled for copies and spreading). */
export interface NeighbourLoad {
  cpu: number;
  io: number;
  mem_kb: number;
  mem_some: number;
  mem_full: number;
}

/**
 * Play the background on a clock: `set(load)` at every change, from t = 0 to `end_us`, looping
 * when the recording is shorter than the run. `at(t_us, fn)` schedules on the twin's event queue.
 * The load is the recording's, times `scale` (copies of the neighbour ÷ nodes it is spread over).
 */
export function playBackground(
  bg: Background,
  scale: number,
  end_us: number,
  at: (t_us: number, fn: () => void) => void,
  set: (load: NeighbourLoad) => void,
): void {
  const span_us = Math.max(bg.span_us, 1);
  let loop = 0;
  let k = 0;
  const next = () => {
    const step = bg.steps[k] as BackgroundStep;
    const start_us = loop * span_us + step.t_us;
    if (start_us >= end_us) return;
    at(start_us, () => {
      // Within the interval the neighbour first computes (runnable for its cpu_on share), and its
      // blocked share comes last: a task waits on the device after it ran, so the two overlap only
      // as far as they must — which is also what lets io be "full" while nothing runs.
      const cpuOff_us = start_us + Math.round(step.cpu_on * step.dt_us);
      const ioOn_us = start_us + Math.round((1 - step.io_on) * step.dt_us);
      const load = (t: number): NeighbourLoad => ({
        cpu: t < cpuOff_us ? step.cpu_tasks * scale : 0,
        io: t >= ioOn_us ? step.io_tasks * scale : 0,
        mem_kb: step.mem_kb * scale,
        mem_some: step.mem_some,
        mem_full: step.mem_full,
      });
      set(load(start_us));
      for (const t of [...new Set([cpuOff_us, ioOn_us])].sort((x, y) => x - y))
        if (t > start_us && t < start_us + step.dt_us) at(t, () => set(load(t)));
      next();
    });
    k++;
    if (k >= bg.steps.length) {
      k = 0;
      loop++;
    }
  };
  next();
}
