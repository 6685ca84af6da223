/**
 * Recorders: logs the live host writes as it goes, in the trace formats of docs/formats.md, so the twin can
 * replay what happened.
 *
 * - `recordPsiTrace` (behind `fgo record`): one row per sample of the host, every `interval_s`
 *   for `duration_s`, as a PSI trace — `t_ms`, the 24 PSI columns in formats/psi-columns.ts's canonical
 *   order (averages in percent with two decimals and `total` in µs, exactly as the kernel prints
 *   them; a line the kernel does not print, e.g. system cpu `full` before 5.13, is empty cells),
 *   then `cpu_busy_jiffies,cpu_total_jiffies,mem_available_kb,procs_running,procs_blocked` (the
 *   aggregate /proc/stat line — busy = total − idle − iowait, guest time not added twice — then
 *   /proc/meminfo MemAvailable, then /proc/stat's runnable and blocked task counts at the sample,
 *   the recorder itself among the runnable: what `--background` replays as a neighbour's tasks).
 *   `t_ms` is ms since the recording started on the monotonic clock; the k-th sample is due at
 *   start + k·interval (drift-free: a late sample does not push the later ones back; a slot missed
 *   altogether is skipped and counted). Samples run from t = 0 to t = duration inclusive.
 * - `DemandRecorder` (the agent's pool mode): arrivals per profile and interval as a demand trace
 *   `t_s,profile,count`.
 *
 * Both write the output file directly — never through a temporary name and a rename — header
 * first, then each row as it is taken (written with writeSync, so no row waits in a buffer of this
 * process, and fdatasync'ed): they are logs, and a crash or Ctrl-C must keep every row written so
 * far. Both files read back with formats/traces.ts's readers. The demand recorder is in
 * demand-recorder.ts (re-exported here).
 */
import { closeSync, mkdirSync, openSync, statSync } from 'node:fs';
import { InputError } from '../formats/errors.ts';
import { dirname, join } from 'node:path';
import { performance } from 'node:perf_hooks';
import type { PsiLine } from '../engine/types.ts';
import { PSI_COLUMNS, PSI_FIELDS, PSI_LINES, PSI_RESOURCES, psiFileColumn } from '../formats/psi-columns.ts';
import { readProcStat } from './proc-stat.ts';
import { parseMeminfo } from './meminfo.ts';
import { HostFileError, readHostFile } from './procread.ts';
import { appendDurable } from './demand-recorder.ts';
import { parsePsiText, readPressure } from './psi.ts';
import type { HostRoots } from '../formats/host/roots.ts';

// ---------------------------------------------------------------------------------------------
// PSI trace

/** The columns `fgo record` adds after the PSI columns. */
export const RECORDER_EXTRA_COLUMNS = [
  'cpu_busy_jiffies',
  'cpu_total_jiffies',
  'mem_available_kb',
  'procs_running',
  'procs_blocked',
] as const;
/** The header of a recorded PSI trace: averages in percent, as the kernel printed them (`_pct`). */
export const RECORDER_HEADER: readonly string[] = [
  't_ms',
  ...PSI_COLUMNS.map(psiFileColumn),
  ...RECORDER_EXTRA_COLUMNS,
];
/** Shortest sampling interval: the kernel's PSI averages move every 2 s, its totals continuously. */
export const MIN_INTERVAL_S = 0.1;

/** Trace prefix → pressure file name. */
const PRESSURE_FILE = { cpu: 'cpu', mem: 'memory', io: 'io' } as const;

/** A fraction parsed by live/psi.ts back to the percent the kernel printed: 0.0193 → "1.93". */
const percentText = (fraction: number) => (fraction * 100).toFixed(2);

function lineCells(line: PsiLine | undefined): string[] {
  if (!line) return ['', '', '', ''];
  return PSI_FIELDS.map((f) =>
    f === 'total_us' ? (line.total_us === undefined ? '' : String(line.total_us)) : percentText(line[f]),
  );
}

/**
 * One sample of the host as the fields of a recorded row (after `t_ms`): the three pressure files,
 * /proc/stat and /proc/meminfo, each read once. A file that cannot be read is a HostFileError.
 */
export function sampleHostRow(roots: HostRoots): string[] {
  const cells: string[] = [];
  for (const r of PSI_RESOURCES) {
    const file = join(roots.proc, 'pressure', PRESSURE_FILE[r]);
    const got = readHostFile(file);
    if (!got.ok) throw new HostFileError(file, `cannot read: ${got.code} (${got.message})`);
    const lines = parsePsiText(got.text, file);
    if (!lines.some) throw new HostFileError(file, 'no "some" line');
    for (const l of PSI_LINES) cells.push(...lineCells(lines[l]));
  }
  const stat = readProcStat(roots);
  const t = stat.total;
  // guest and guest_nice are already inside user and nice (live/proc-stat.ts), so they are not added.
  const total = t.user + t.nice + t.system + t.idle + t.iowait + t.irq + t.softirq + t.steal;
  cells.push(String(total - t.idle - t.iowait), String(total));
  const memFile = join(roots.proc, 'meminfo');
  const mem = readHostFile(memFile);
  if (!mem.ok) throw new HostFileError(memFile, `cannot read: ${mem.code} (${mem.message})`);
  const avail = parseMeminfo(mem.text, memFile).MemAvailable; // absent before Linux 3.14: empty cell
  cells.push(avail === undefined ? '' : String(avail));
  cells.push(
    stat.procs_running === undefined ? '' : String(stat.procs_running),
    stat.procs_blocked === undefined ? '' : String(stat.procs_blocked),
  );
  return cells;
}

/** Throws an InputError (exit 1) saying why when the host under `roots` has no PSI to record. */
export function assertPsiAvailable(roots: HostRoots): void {
  let isDir = false;
  try {
    isDir = statSync(roots.proc).isDirectory();
  } catch {
    isDir = false;
  }
  if (!isDir)
    throw new InputError([
      `${roots.proc}: procfs root is not a directory (give --fs-root DIR holding proc/, or --procfs-root)`,
    ]);
  const p = readPressure(roots);
  if (!p.available) throw new InputError([`cannot record a PSI trace: ${p.reason}`]);
}

export interface RecordOptions {
  roots: HostRoots;
  /** The trace to write (created; its directory is created). */
  out: string;
  /** Truncate `out` if it exists (`--force`); otherwise a file that exists is never touched. */
  replace?: boolean;
  duration_s: number;
  /** Default 1 s; at least MIN_INTERVAL_S. */
  interval_s?: number;
  /** Ends the recording early, cleanly (the summary says `stopped: 'signal'`). */
  signal?: AbortSignal;
  /** Called after each row is written: its index (0-based), its t_ms and its fields after t_ms. */
  onRow?: (row: { index: number; t_ms: number; cells: readonly string[] }) => void;
  /** Monotonic clock in ms (default performance.now); for tests. */
  now?: () => number;
}

export interface RecordSummary {
  file: string;
  rows: number;
  /** t_ms of the last row ÷ 1000: the time the rows span. */
  duration_s: number;
  interval_s: number;
  /** 'duration': ran to its end; 'signal': stopped early through `signal`. */
  stopped: 'duration' | 'signal';
  /** Sample slots skipped because the process could not run in time (event loop or host stalled). */
  missed: number;
}

/** Throws an InputError listing what is wrong with a recording's duration and interval (seconds). */
export function checkRecordTimes(duration_s: number, interval_s: number): void {
  const problems: string[] = [];
  if (!Number.isFinite(duration_s) || duration_s <= 0) problems.push(`duration must be above 0 s, got ${duration_s}`);
  if (!Number.isFinite(interval_s) || interval_s < MIN_INTERVAL_S)
    problems.push(
      `interval must be at least ${MIN_INTERVAL_S * 1000} ms, got ${Number.isFinite(interval_s) ? `${Math.round(interval_s * 1e6) / 1e3} ms` : interval_s}`,
    );
  if (problems.length) throw new InputError(problems);
}

/** Resolves after `ms` or as soon as `signal` aborts. */
function sleep(ms: number, signal: AbortSignal | undefined): Promise<void> {
  return new Promise((resolve) => {
    if (signal?.aborted) return resolve();
    const done = () => {
      clearTimeout(timer);
      signal?.removeEventListener('abort', done);
      resolve();
    };
    const timer = setTimeout(done, Math.max(0, ms));
    signal?.addEventListener('abort', done, { once: true });
  });
}

/**
 * Record a PSI trace of the host (see the file comment). Throws an InputError before creating the
 * file when the times are invalid or the host has no PSI; a HostFileError if a file becomes
 * unreadable mid-recording (the rows taken so far stay in the file).
 */
export async function recordPsiTrace(opts: RecordOptions): Promise<RecordSummary> {
  const interval_s = opts.interval_s ?? 1;
  checkRecordTimes(opts.duration_s, interval_s);
  assertPsiAvailable(opts.roots);
  const now = opts.now ?? (() => performance.now());
  const interval_ms = interval_s * 1000;
  const duration_ms = opts.duration_s * 1000;
  // Slot k is due at k·interval; the last slot is the last one not after the duration (a 1e-6
  // tolerance so 2.5 s at 0.5 s has its slot at 2500 despite floating point).
  const lastSlot = Math.floor(duration_ms / interval_ms + 1e-6);
  mkdirSync(dirname(opts.out), { recursive: true });
  // Exclusive create unless told to replace: a file that appeared after the command checked its
  // output is still not overwritten.
  let fd: number;
  try {
    fd = openSync(opts.out, opts.replace ? 'w' : 'wx');
  } catch (e) {
    if ((e as NodeJS.ErrnoException).code === 'EEXIST')
      throw new InputError([
        `${opts.out}: exists; fgo does not replace a file it cannot prove it wrote (--force replaces it)`,
      ]);
    throw e;
  }
  let rows = 0;
  let missed = 0;
  let lastT = -1;
  try {
    appendDurable(fd, `${RECORDER_HEADER.join(',')}\n`);
    const start = now();
    for (let k = 0; k <= lastSlot && !opts.signal?.aborted; ) {
      const due = start + k * interval_ms;
      // setTimeout may wake a little early (its clock is the loop's cached ms): sleep again.
      while (now() < due && !opts.signal?.aborted) await sleep(due - now(), opts.signal);
      if (opts.signal?.aborted) break;
      // The values belong to the moment just before the files are read.
      const t_ms = Math.max(lastT + 1, Math.round(now() - start));
      const cells = sampleHostRow(opts.roots);
      appendDurable(fd, `${t_ms},${cells.join(',')}\n`);
      opts.onRow?.({ index: rows, t_ms, cells });
      rows++;
      lastT = t_ms;
      // Next slot: the first one still in the future; slots that already passed are skipped.
      const behind = Math.floor((now() - start) / interval_ms) + 1;
      const next = Math.max(k + 1, behind);
      missed += Math.min(next, lastSlot + 1) - (k + 1);
      k = next;
    }
  } finally {
    closeSync(fd);
  }
  return {
    file: opts.out,
    rows,
    duration_s: rows ? lastT / 1000 : 0,
    interval_s,
    stopped: opts.signal?.aborted ? 'signal' : 'duration',
    missed,
  };
}

export { DemandRecorder, MAX_UNWRITTEN_BYTES, type DemandRecorderOptions } from './demand-recorder.ts';
