/**
 * Recorders: logs the live host writes as it goes, in DESIGN.md's trace formats, so the twin can
 * replay what happened.
 *
 * - `recordPsiTrace` (behind `fgo record`): one row per sample of the host, every `interval_s`
 *   for `duration_s`, as a PSI trace — `t_ms`, the 24 PSI columns in sim/traces.ts's canonical
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
 * far. Both files read back with sim/traces.ts's readers.
 */
import { closeSync, fdatasyncSync, fstatSync, ftruncateSync, lstatSync, mkdirSync, openSync, readFileSync, statSync, truncateSync, writeSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { performance } from 'node:perf_hooks';
import { InputError } from '../cli/jsonfile.ts';
import type { PsiLine } from '../engine/types.ts';
import { csvField } from '../sim/csv.ts';
import { DEMAND_COLUMNS, PSI_COLUMNS, PSI_FIELDS, PSI_LINES, PSI_RESOURCES, readDemandTrace } from '../sim/traces.ts';
import { parseMeminfo, readProcStat } from './procfs.ts';
import { HostFileError, readHostFile } from './procread.ts';
import { parsePsiText, readPressure } from './psi.ts';
import type { HostRoots } from './roots.ts';

// ---------------------------------------------------------------------------------------------
// PSI trace

const byCodePoint = (a: string, b: string) => (a < b ? -1 : a > b ? 1 : 0);

/** The columns `fgo record` adds after the PSI columns. */
export const RECORDER_EXTRA_COLUMNS = ['cpu_busy_jiffies', 'cpu_total_jiffies', 'mem_available_kb', 'procs_running', 'procs_blocked'] as const;
/** The header of a recorded PSI trace. */
export const RECORDER_HEADER: readonly string[] = ['t_ms', ...PSI_COLUMNS, ...RECORDER_EXTRA_COLUMNS];
/** Shortest sampling interval: the kernel's PSI averages move every 2 s, its totals continuously. */
export const MIN_INTERVAL_S = 0.1;

/** Trace prefix → pressure file name. */
const PRESSURE_FILE = { cpu: 'cpu', mem: 'memory', io: 'io' } as const;

/** A fraction parsed by live/psi.ts back to the percent the kernel printed: 0.0193 → "1.93". */
const percentText = (fraction: number) => (fraction * 100).toFixed(2);

function lineCells(line: PsiLine | undefined): string[] {
  if (!line) return ['', '', '', ''];
  return PSI_FIELDS.map((f) => (f === 'total_us' ? (line.total_us === undefined ? '' : String(line.total_us)) : percentText(line[f])));
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
  // guest and guest_nice are already inside user and nice (live/procfs.ts), so they are not added.
  const total = t.user + t.nice + t.system + t.idle + t.iowait + t.irq + t.softirq + t.steal;
  cells.push(String(total - t.idle - t.iowait), String(total));
  const memFile = join(roots.proc, 'meminfo');
  const mem = readHostFile(memFile);
  if (!mem.ok) throw new HostFileError(memFile, `cannot read: ${mem.code} (${mem.message})`);
  const avail = parseMeminfo(mem.text, memFile).MemAvailable; // absent before Linux 3.14: empty cell
  cells.push(avail === undefined ? '' : String(avail));
  cells.push(stat.procs_running === undefined ? '' : String(stat.procs_running), stat.procs_blocked === undefined ? '' : String(stat.procs_blocked));
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
  if (!isDir) throw new InputError([`${roots.proc}: procfs root is not a directory (give --fs-root DIR holding proc/, or --procfs-root)`]);
  const p = readPressure(roots);
  if (!p.available) throw new InputError([`cannot record a PSI trace: ${p.reason}`]);
}

export interface RecordOptions {
  roots: HostRoots;
  /** The trace to write (created or truncated; its directory is created). */
  out: string;
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
  if (!Number.isFinite(interval_s) || interval_s < MIN_INTERVAL_S) problems.push(`interval must be at least ${MIN_INTERVAL_S * 1000} ms, got ${Number.isFinite(interval_s) ? `${Math.round(interval_s * 1e6) / 1e3} ms` : interval_s}`);
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

/** Append `text` to an open file and push it to the disk: the row survives a crash from here on. */
function appendDurable(fd: number, text: string): void {
  const buf = Buffer.from(text, 'utf8');
  let off = 0;
  while (off < buf.length) off += writeSync(fd, buf, off, buf.length - off);
  fdatasyncSync(fd);
}

/**
 * Record a PSI trace of the host (see the file comment). Throws an InputError before creating the
 * file when the times are invalid or the host has no PSI; a HostFileError if a file becomes
 * unreadable mid-recording (the rows taken so far stay in the file).
 */
export async function recordPsiTrace(o: RecordOptions): Promise<RecordSummary> {
  const interval_s = o.interval_s ?? 1;
  checkRecordTimes(o.duration_s, interval_s);
  assertPsiAvailable(o.roots);
  const now = o.now ?? (() => performance.now());
  const interval_ms = interval_s * 1000;
  const duration_ms = o.duration_s * 1000;
  // Slot k is due at k·interval; the last slot is the last one not after the duration (a 1e-6
  // tolerance so 2.5 s at 0.5 s has its slot at 2500 despite floating point).
  const lastSlot = Math.floor(duration_ms / interval_ms + 1e-6);
  mkdirSync(dirname(o.out), { recursive: true });
  const fd = openSync(o.out, 'w');
  let rows = 0;
  let missed = 0;
  let lastT = -1;
  try {
    appendDurable(fd, `${RECORDER_HEADER.join(',')}\n`);
    const start = now();
    for (let k = 0; k <= lastSlot && !o.signal?.aborted; ) {
      const due = start + k * interval_ms;
      // setTimeout may wake a little early (its clock is the loop's cached ms): sleep again.
      while (now() < due && !o.signal?.aborted) await sleep(due - now(), o.signal);
      if (o.signal?.aborted) break;
      // The values belong to the moment just before the files are read.
      const t_ms = Math.max(lastT + 1, Math.round(now() - start));
      const cells = sampleHostRow(o.roots);
      appendDurable(fd, `${t_ms},${cells.join(',')}\n`);
      o.onRow?.({ index: rows, t_ms, cells });
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
  return { file: o.out, rows, duration_s: rows ? lastT / 1000 : 0, interval_s, stopped: o.signal?.aborted ? 'signal' : 'duration', missed };
}

// ---------------------------------------------------------------------------------------------
// Demand trace

/** Rows kept in memory while the disk refuses them; beyond this the oldest are dropped (and counted). */
export const MAX_UNWRITTEN_BYTES = 1024 * 1024;

export interface DemandRecorderOptions {
  /** Where the recorder says it cut a torn line, resumed a trace, or cannot write (default: stderr). */
  warn?: (message: string) => void;
}

/**
 * Arrivals per profile and interval, written as a demand trace `t_s,profile,count` (DESIGN.md):
 * `count` arrivals of `profile` in the interval [t_s, t_s + interval_s). The caller's clock `t_ms`
 * is ms since its run started (the agent's monotonic clock); interval k starts at k·interval_s.
 *
 * - `count(profile, t_ms)` adds an arrival to the interval holding `t_ms`.
 * - `flush(t_ms)` writes every interval that has ended by `t_ms` (its end ≤ t_ms), in time order:
 *   one row per profile seen so far — a profile seen before with no arrivals in an interval gets a
 *   0 row, so the twin sees the gap instead of interpolating over it. Intervals before the first
 *   arrival have no profiles, hence no rows. Profiles are written in code-point order.
 * - `close(t_ms)` flushes, then writes the interval still open at `t_ms` (when it has arrivals or
 *   time has passed in it) and closes the file.
 *
 * The header is written once, when the file is new (absent or empty). An existing file is appended
 * to, and its time carries on: this run's t_ms 0 is the end of the file's last interval, so a
 * restarted agent (whose clock starts again at 0) continues the trace in order instead of piling
 * every arrival into one interval. The time the agent was down is left out — not written as zeros
 * nobody counted — so t_s is "recorded time", the series the predictor trains on, not wall time.
 * An unterminated last line is a write cut short by a crash: it is cut off, with a warning (it was
 * never a whole row). Any other bad line is refused with its file:line (InputError): the file is
 * not one this recorder can continue. An arrival in an interval already written (a clock going
 * backwards) is counted in the first interval not yet written, and tallied in `late`.
 *
 * A write that fails (disk full, I/O error) does not throw: the file is cut back to its last whole
 * row, the rows wait in memory (up to MAX_UNWRITTEN_BYTES, then the oldest are dropped and counted
 * in `rowsLost`) and the next flush tries again.
 */
export class DemandRecorder {
  readonly interval_s: number;
  /** Arrivals counted into a later interval than theirs (see the class comment). */
  late = 0;
  /** Rows written by this recorder (on the disk). */
  rowsWritten = 0;
  /** Rows dropped because the disk refused them for too long. */
  rowsLost = 0;
  private readonly interval_ms: number;
  /** Where this run's t_ms 0 falls on the file's time axis, ms (0 for a new file). */
  private readonly offset_ms: number = 0;
  private fd: number | undefined;
  /** Bytes of the file known written: a failed write is cut back to this. */
  private size = 0;
  /** Rows (and maybe the header) made but not yet written, as text. */
  private unwritten = '';
  private unwritten_rows = 0;
  /** errno of the failing write, while writes fail. */
  private failing: string | undefined;
  private readonly warn: (message: string) => void;
  /** First interval not yet written. */
  private nextK = 0;
  /** Interval → profile → arrivals, for intervals ≥ nextK with arrivals. */
  private readonly pending = new Map<number, Map<string, number>>();
  /** Every profile of an interval written so far: each gets a row (maybe 0) in every later interval. */
  private readonly written = new Set<string>();
  /** Profiles of the file appended to: they get 0 rows again from this run's first arrival on. */
  private readonly resumed = new Set<string>();

  constructor(readonly path: string, interval_s: number, opts: DemandRecorderOptions = {}) {
    if (!Number.isFinite(interval_s) || interval_s < 0.001) throw new RangeError(`DemandRecorder: interval_s must be at least 0.001 s, got ${interval_s}`);
    this.interval_s = interval_s;
    this.interval_ms = interval_s * 1000;
    this.warn = opts.warn ?? ((m) => process.stderr.write(`${m}\n`));
    mkdirSync(dirname(path), { recursive: true });
    const existing = this.cutTornTail();
    if (existing) {
      this.resume();
      this.offset_ms = this.nextK * this.interval_ms;
    }
    this.fd = openSync(path, 'a');
    this.size = fstatSync(this.fd).size;
    if (this.size === 0) this.unwritten = `${DEMAND_COLUMNS.join(',')}\n`;
    this.write();
  }

  /**
   * Cut an unterminated last line (a crash mid-write) off an existing file. Returns whether the
   * file has any whole line left to continue from. Only a regular file is touched.
   */
  private cutTornTail(): boolean {
    const st = lstatSync(this.path, { throwIfNoEntry: false });
    if (!st) return false;
    if (!st.isFile()) throw new InputError([`${this.path}: not a regular file; the demand trace must be one`]);
    if (st.size === 0) return false;
    const text = readFileSync(this.path);
    const end = text.lastIndexOf(0x0a) + 1;
    if (end < text.length) {
      const torn = text.subarray(end).toString('utf8');
      truncateSync(this.path, end);
      this.warn(`demand trace ${this.path}: cut off a torn last line ${JSON.stringify(torn.slice(0, 80))} (${text.length - end} bytes without a newline: a write cut short by a crash)`);
    }
    return end > 0;
  }

  /**
   * An existing file: it must read as a demand trace (sim/traces.ts's reader, every problem
   * located); its intervals up to the last t_s count as written. Its profiles are known again from
   * this run's first arrival on — not across the time the agent was down, whose arrivals nobody
   * counted.
   */
  private resume(): void {
    const trace = readDemandTrace(this.path);
    const last = trace.rows.at(-1);
    if (last) {
      this.nextK = Math.floor(last.t_s / this.interval_s + 1e-9) + 1;
      this.warn(`demand trace ${this.path}: continuing after t_s ${last.t_s}; this run's arrivals count from t_s ${Math.round(this.nextK * this.interval_s * 1e6) / 1e6} on`);
    }
    for (const r of trace.rows) this.resumed.add(r.profile);
  }

  /** Write what is waiting; on failure cut the file back to its last whole row and keep the text. */
  private write(): void {
    if (!this.unwritten || this.fd === undefined) return;
    const bytes = Buffer.byteLength(this.unwritten);
    try {
      appendDurable(this.fd, this.unwritten);
    } catch (err) {
      const code = (err as NodeJS.ErrnoException)?.code ?? 'ERROR';
      try {
        ftruncateSync(this.fd, this.size);
      } catch { /* cannot cut back: the next start cuts the torn line off */ }
      if (this.failing !== code) this.warn(`demand trace ${this.path}: cannot write: ${code} (${(err as Error).message}); ${this.unwritten_rows} rows wait in memory, retrying at every flush`);
      this.failing = code;
      this.bound();
      return;
    }
    if (this.failing) this.warn(`demand trace ${this.path}: writing again (${this.failing} is over)`);
    this.failing = undefined;
    this.size += bytes;
    this.unwritten = '';
    this.rowsWritten += this.unwritten_rows;
    this.unwritten_rows = 0;
  }

  /** Keep at most MAX_UNWRITTEN_BYTES of rows waiting, dropping whole rows from the oldest (after a header). */
  private bound(): void {
    while (Buffer.byteLength(this.unwritten) > MAX_UNWRITTEN_BYTES) {
      const header = this.size === 0 && this.unwritten.startsWith(DEMAND_COLUMNS.join(',')) ? this.unwritten.indexOf('\n') + 1 : 0;
      const cut = this.unwritten.indexOf('\n', header) + 1;
      this.unwritten = this.unwritten.slice(0, header) + this.unwritten.slice(cut);
      this.rowsLost++;
      this.unwritten_rows--;
    }
  }

  private k(t_ms: number): number {
    if (!Number.isFinite(t_ms) || t_ms < 0) throw new RangeError(`DemandRecorder: t_ms must be a finite non-negative number, got ${t_ms}`);
    return Math.floor((t_ms + this.offset_ms) / this.interval_ms + 1e-9);
  }

  private open(): number {
    if (this.fd === undefined) throw new Error(`DemandRecorder ${this.path}: closed`);
    return this.fd;
  }

  /** Count `n` (default 1) arrivals of `profile` at `t_ms`. */
  count(profile: string, t_ms: number, n = 1): void {
    this.open();
    if (profile === '') throw new RangeError('DemandRecorder: empty profile name');
    if (!Number.isSafeInteger(n) || n < 0) throw new RangeError(`DemandRecorder: count must be a non-negative integer, got ${n}`);
    let k = this.k(t_ms);
    if (k < this.nextK) {
      this.late += n;
      k = this.nextK;
    }
    let m = this.pending.get(k);
    if (!m) this.pending.set(k, (m = new Map()));
    m.set(profile, (m.get(profile) ?? 0) + n);
  }

  /**
   * Write intervals nextK … upTo − 1: per interval, every profile seen so far (0 when it had no
   * arrivals). Before the first arrival nothing is known, so those intervals are skipped at once
   * (with a Date.now() clock, interval numbers start in the billions).
   */
  private writeUpTo(upTo: number): void {
    this.open();
    const out: string[] = [];
    let k = this.nextK;
    if (this.written.size === 0) k = Math.max(k, Math.min(upTo, ...[...this.pending.keys()].filter((x) => x < upTo)));
    for (; k < upTo; k++) {
      const m = this.pending.get(k);
      if (m) {
        if (this.written.size === 0) for (const p of this.resumed) this.written.add(p);
        for (const p of m.keys()) this.written.add(p);
      }
      const t_s = Math.round(k * this.interval_s * 1e6) / 1e6;
      for (const p of [...this.written].sort(byCodePoint)) out.push(`${t_s},${csvField(p)},${m?.get(p) ?? 0}`);
      this.pending.delete(k);
    }
    if (upTo > this.nextK) this.nextK = upTo;
    if (out.length) {
      this.unwritten += `${out.join('\n')}\n`;
      this.unwritten_rows += out.length;
    }
    this.write();
  }

  /** Write every interval that has ended by `t_ms`. */
  flush(t_ms: number): void {
    this.open();
    this.writeUpTo(this.k(t_ms));
  }

  /** Flush, write the interval open at `t_ms` if it has arrivals or time in it, and close the file. */
  close(t_ms: number): void {
    if (this.fd === undefined) return;
    const k = this.k(t_ms);
    const partial = t_ms + this.offset_ms > k * this.interval_ms || this.pending.has(k);
    this.writeUpTo(partial ? k + 1 : k);
    // Arrivals counted ahead of t_ms (a caller's clock running ahead) are written too, not lost.
    const ahead = [...this.pending.keys()];
    if (ahead.length) this.writeUpTo(Math.max(...ahead) + 1);
    if (this.unwritten) this.warn(`demand trace ${this.path}: closing with ${this.unwritten_rows} rows never written (${this.failing}): they are lost`);
    closeSync(this.fd);
    this.fd = undefined;
  }
}
