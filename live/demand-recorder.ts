/**
 * `DemandRecorder` (the agent's pool mode): arrivals per profile and interval as a demand trace
 * `t_s,profile,count` (docs/formats.md), written as a log — header first, then each row as it is
 * taken, written with writeSync and fdatasync'ed, so a crash keeps every row written so far.
 */
import {
  closeSync,
  fdatasyncSync,
  fstatSync,
  ftruncateSync,
  lstatSync,
  mkdirSync,
  openSync,
  readFileSync,
  truncateSync,
  writeSync,
} from 'node:fs';
import { dirname } from 'node:path';
import { InputError } from '../formats/errors.ts';
import { csvField } from '../formats/csv.ts';
import { DEMAND_COLUMNS } from '../formats/trace-header.ts';
import { readDemandTrace } from '../formats/workload-traces.ts';
import { roundTo } from '../engine/round.ts';

const byCodePoint = (a: string, b: string) => (a < b ? -1 : a > b ? 1 : 0);

export /** Append `text` to an open file and push it to the disk: the row survives a crash from here on. */
function appendDurable(fd: number, text: string): void {
  const buf = Buffer.from(text, 'utf8');
  let off = 0;
  while (off < buf.length) off += writeSync(fd, buf, off, buf.length - off);
  fdatasyncSync(fd);
}

/** Rows kept in memory while the disk refuses them; beyond this the oldest are dropped (and counted). */
export const MAX_UNWRITTEN_BYTES = 1024 * 1024;

export interface DemandRecorderOptions {
  /** Where the recorder says it cut a torn line, resumed a trace, or cannot write (default: stderr). */
  warn?: (message: string) => void;
}

/**
 * Arrivals per profile and interval, written as a demand trace `t_s,profile,count` (docs/formats.md):
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

  constructor(
    readonly path: string,
    interval_s: number,
    opts: DemandRecorderOptions = {},
  ) {
    if (!Number.isFinite(interval_s) || interval_s < 0.001)
      throw new RangeError(`DemandRecorder: interval_s must be at least 0.001 s, got ${interval_s}`);
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
      this.warn(
        `demand trace ${this.path}: cut off a torn last line ${JSON.stringify(torn.slice(0, 80))} (${text.length - end} bytes without a newline: a write cut short by a crash)`,
      );
    }
    return end > 0;
  }

  /**
   * An existing file: it must read as a demand trace (formats/workload-traces.ts's reader, every problem
   * located); its intervals up to the last t_s count as written. Its profiles are known again from
   * this run's first arrival on — not across the time the agent was down, whose arrivals nobody
   * counted.
   */
  private resume(): void {
    const trace = readDemandTrace(this.path);
    const last = trace.rows.at(-1);
    if (last) {
      this.nextK = Math.floor(last.t_s / this.interval_s + 1e-9) + 1;
      this.warn(
        `demand trace ${this.path}: continuing after t_s ${last.t_s}; this run's arrivals count from t_s ${roundTo(this.nextK * this.interval_s, 6)} on`,
      );
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
      } catch {
        /* cannot cut back: the next start cuts the torn line off */
      }
      if (this.failing !== code)
        this.warn(
          `demand trace ${this.path}: cannot write: ${code} (${(err as Error).message}); ${this.unwritten_rows} rows wait in memory, retrying at every flush`,
        );
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
      const header =
        this.size === 0 && this.unwritten.startsWith(DEMAND_COLUMNS.join(',')) ? this.unwritten.indexOf('\n') + 1 : 0;
      const cut = this.unwritten.indexOf('\n', header) + 1;
      this.unwritten = this.unwritten.slice(0, header) + this.unwritten.slice(cut);
      this.rowsLost++;
      this.unwritten_rows--;
    }
  }

  private k(t_ms: number): number {
    if (!Number.isFinite(t_ms) || t_ms < 0)
      throw new RangeError(`DemandRecorder: t_ms must be a finite non-negative number, got ${t_ms}`);
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
    if (!Number.isSafeInteger(n) || n < 0)
      throw new RangeError(`DemandRecorder: count must be a non-negative integer, got ${n}`);
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
      const t_s = roundTo(k * this.interval_s, 6);
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
    if (this.unwritten)
      this.warn(
        `demand trace ${this.path}: closing with ${this.unwritten_rows} rows never written (${this.failing}): they are lost`,
      );
    closeSync(this.fd);
    this.fd = undefined;
  }
}
