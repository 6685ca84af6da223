/**
 * Keep-alive policies of the baselines: how long an idle warm fragment is kept, and whether it is
 * unloaded and a replacement pre-warmed later. Two policies behind one interface the baselines
 * call when a fragment goes idle, comes up warm, or a request cold-starts, and on every tick:
 *
 * - `FixedKeepAlive`: stop a fragment idle for a fixed time (10 minutes by default), as public
 *   serverless platforms do.
 * - `HybridKeepAlive`: the hybrid histogram policy of Shahrad et al., "Serverless in the Wild:
 *   Characterizing and Optimizing the Serverless Workload at a Large Cloud Provider", USENIX ATC
 *   2020, per profile (the paper's application). Each profile's idle times feed a histogram whose
 *   head and tail give a pre-warm window and a keep-alive window; docs/baselines.md gives the
 *   parameters and where fgo departs from the paper.
 */
import type { Fragment } from '../engine/pools.ts';

/** A pre-warm due: start a warm fragment of `profile`, on `node` (where the unloaded one was) if it fits. */
export interface Prewarm {
  profile: string;
  node: number;
}

export interface KeepAlive {
  /** `f`'s request, arrived at `arrival_ms`, completed at `t_ms`: true keeps `f` warm, false unloads it now. */
  idle(f: Fragment, arrival_ms: number, t_ms: number): boolean;
  /** `f` came up warm with nothing to do (a pre-warm, or a supervisor's restart). */
  warmed(f: Fragment, t_ms: number): void;
  /** A request of `profile` cold-started. */
  coldStart(profile: string): void;
  /** Is the warm, idle `f` to be stopped now? */
  expired(f: Fragment, t_ms: number): boolean;
  /** Pre-warms due by `t_ms`, earliest first, taken off the schedule. */
  prewarmsDue(t_ms: number): Prewarm[];
}

const NONE: Prewarm[] = [];

/** A fixed keep-alive after last use; nothing is pre-warmed. */
export class FixedKeepAlive implements KeepAlive {
  constructor(readonly keepAlive_ms: number) {}
  idle(): boolean {
    return true;
  }
  warmed(): void {}
  coldStart(): void {}
  expired(f: Fragment, t_ms: number): boolean {
    return t_ms - f.last_used_ms >= this.keepAlive_ms;
  }
  prewarmsDue(): Prewarm[] {
    return NONE;
  }
}

const MINUTE_MS = 60_000;
/** The paper's histogram: 1-minute bins over 4 hours. */
export const BIN_MS = MINUTE_MS;
export const BINS = 240;
export const RANGE_MS = BINS * BIN_MS;
/** Percentiles (in %) whose bins bound the windows: the head for the pre-warm, the tail for the keep-alive. */
const HEAD_PCT = 5;
const TAIL_PCT = 99;
/** Below this coefficient of variation of the bin counts the histogram is too flat to predict from. */
const CV_THRESHOLD = 2;
/** At this share of idle times beyond the range, the histogram cannot see them: forecast instead. */
const OOB_THRESHOLD = 0.5;
/** Histogram windows are widened by 10 % on both sides, forecast windows by 15 %, as in the paper. */
const HISTOGRAM_MARGIN = 0.1;
const FORECAST_MARGIN = 0.15;
/** With fewer consecutive pairs of idle times than this (three ITs), the forecast is the last IT. */
const AR_MIN_PAIRS = 2;

export type Pattern = 'representative' | 'not-representative' | 'time-series';

/** Unload the idle instance now and pre-warm one `prewarm_ms` later (0: keep it), then keep it warm `keepAlive_ms`. */
export interface Windows {
  pattern: Pattern;
  prewarm_ms: number;
  keepAlive_ms: number;
}

/**
 * One profile's idle times (IT): the time from the end of one execution to the start of the next,
 * 0 when they overlap (Shahrad et al.; as in the dslab reproduction). Kept as the histogram and,
 * for the forecast, running AR(1) sums: O(1) memory whatever the length of the run.
 */
export class IdleTimes {
  private readonly bins: number[] = new Array<number>(BINS).fill(0);
  private inBounds = 0;
  private outOfBounds = 0;
  /** Σ count² over the bins, for their variance. */
  private sumSquares = 0;
  private lastFinish_ms: number | undefined;
  // The AR(1) fit: consecutive pairs (previous IT, next IT), their means and co-moments (Welford).
  private lastIt_ms: number | undefined;
  private pairs = 0;
  private meanPrev_ms = 0;
  private meanNext_ms = 0;
  private comPrevPrev = 0;
  private comPrevNext = 0;

  /** An invocation that arrived at `arrival_ms` finished at `finish_ms` (finishes come in time order). */
  completed(arrival_ms: number, finish_ms: number): void {
    if (this.lastFinish_ms !== undefined) this.add(Math.max(0, arrival_ms - this.lastFinish_ms));
    this.lastFinish_ms = finish_ms;
  }

  add(it_ms: number): void {
    const bin = Math.floor(it_ms / BIN_MS);
    if (bin < BINS) {
      this.sumSquares += 2 * (this.bins[bin] as number) + 1;
      this.bins[bin] = (this.bins[bin] as number) + 1;
      this.inBounds++;
    } else this.outOfBounds++;
    if (this.lastIt_ms !== undefined) {
      const n = ++this.pairs;
      const dPrev = this.lastIt_ms - this.meanPrev_ms;
      this.meanPrev_ms += dPrev / n;
      this.meanNext_ms += (it_ms - this.meanNext_ms) / n;
      this.comPrevPrev += dPrev * (this.lastIt_ms - this.meanPrev_ms);
      this.comPrevNext += dPrev * (it_ms - this.meanNext_ms);
    }
    this.lastIt_ms = it_ms;
  }

  /** Coefficient of variation of the 240 bin counts (sample standard deviation ÷ mean); NaN with no IT in range. */
  get cv(): number {
    const n = this.inBounds;
    if (n === 0) return NaN;
    // var = (BINS·Σc² − n²) ÷ (BINS·(BINS − 1)) and mean = n ÷ BINS, in integers until the root.
    return Math.sqrt((BINS * (BINS * this.sumSquares - n * n)) / (BINS - 1)) / n;
  }

  get pattern(): Pattern {
    const all = this.inBounds + this.outOfBounds;
    if (all > 0 && this.outOfBounds / all >= OOB_THRESHOLD) return 'time-series';
    return this.inBounds > 0 && this.cv >= CV_THRESHOLD ? 'representative' : 'not-representative';
  }

  /** The first bin whose cumulative count reaches `pct` % of the in-range idle times. */
  private percentileBin(pct: number): number {
    let prefix = 0;
    for (let i = 0; i < BINS; i++) {
      prefix += this.bins[i] as number;
      if (prefix * 100 >= pct * this.inBounds) return i;
    }
    return BINS - 1;
  }

  /**
   * The next IT by an AR(1) fitted by least squares (x_t = c + φ·x_{t−1}) on the IT series; the
   * last IT with fewer than three, the mean when the earlier ITs do not vary. Never below 0.
   */
  forecast_ms(): number {
    const last = this.lastIt_ms ?? 0;
    if (this.pairs < AR_MIN_PAIRS) return last;
    if (this.comPrevPrev === 0) return this.meanNext_ms;
    const phi = this.comPrevNext / this.comPrevPrev;
    return Math.max(0, this.meanNext_ms - phi * this.meanPrev_ms + phi * last);
  }

  windows(): Windows {
    const pattern = this.pattern;
    if (pattern === 'time-series') {
      const f = this.forecast_ms();
      return { pattern, prewarm_ms: f * (1 - FORECAST_MARGIN), keepAlive_ms: f * FORECAST_MARGIN * 2 };
    }
    if (pattern === 'not-representative') return { pattern, prewarm_ms: 0, keepAlive_ms: RANGE_MS };
    const prewarm_ms = this.percentileBin(HEAD_PCT) * BIN_MS * (1 - HISTOGRAM_MARGIN);
    const until_ms = (this.percentileBin(TAIL_PCT) + 1) * BIN_MS * (1 + HISTOGRAM_MARGIN);
    return { pattern, prewarm_ms, keepAlive_ms: until_ms - prewarm_ms };
  }
}

/**
 * The hybrid histogram policy on pools. The paper keeps one instance per application; a pool has
 * many, so the windows apply per fragment when it goes idle: with a pre-warm window P > 0 it is
 * unloaded at once and a replacement started P later, warm for K unless used; with P = 0 it stays
 * warm K. A request that cold-starts while a pre-warm is pending takes that pre-warm's place (in
 * the paper it is the application's instance, whose windows restart when it goes idle).
 */
export class HybridKeepAlive implements KeepAlive {
  private readonly its = new Map<string, IdleTimes>();
  /** When each idle warm fragment is stopped. */
  private readonly until_ms = new Map<string, number>();
  private readonly pending: Array<Prewarm & { due_ms: number }> = [];

  idleTimes(profile: string): IdleTimes {
    let it = this.its.get(profile);
    if (!it) this.its.set(profile, (it = new IdleTimes()));
    return it;
  }

  idle(f: Fragment, arrival_ms: number, t_ms: number): boolean {
    const it = this.idleTimes(f.profile);
    it.completed(arrival_ms, t_ms);
    const w = it.windows();
    if (w.prewarm_ms > 0) {
      this.until_ms.delete(f.id);
      const due_ms = t_ms + w.prewarm_ms;
      // Kept in due order; equal instants in the order they were scheduled.
      let i = this.pending.length;
      while (i > 0 && (this.pending[i - 1] as { due_ms: number }).due_ms > due_ms) i--;
      this.pending.splice(i, 0, { profile: f.profile, node: f.node, due_ms });
      return false;
    }
    this.until_ms.set(f.id, t_ms + w.keepAlive_ms);
    return true;
  }

  warmed(f: Fragment, t_ms: number): void {
    this.until_ms.set(f.id, t_ms + this.idleTimes(f.profile).windows().keepAlive_ms);
  }

  coldStart(profile: string): void {
    const i = this.pending.findIndex((p) => p.profile === profile);
    if (i >= 0) this.pending.splice(i, 1);
  }

  expired(f: Fragment, t_ms: number): boolean {
    const until = this.until_ms.get(f.id);
    if (until === undefined) throw new Error(`hybrid keep-alive: warm fragment ${f.id} has no keep-alive`);
    if (t_ms < until) return false;
    this.until_ms.delete(f.id);
    return true;
  }

  prewarmsDue(t_ms: number): Prewarm[] {
    let k = 0;
    while (k < this.pending.length && (this.pending[k] as { due_ms: number }).due_ms <= t_ms) k++;
    return this.pending.splice(0, k).map(({ profile, node }) => ({ profile, node }));
  }
}
