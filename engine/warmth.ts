/**
 * How much of a pool to keep warm, and for how long, from what the engine measures of it:
 *
 * - **How many, and where**: the pool covers the concurrency its demand brings with high
 *   probability, on each node for the requests whose data is there (so they start warm beside
 *   it), and anywhere for the requests without a memory home. By Little's law the mean number of
 *   requests in service is rate × time in service; arrivals that are close to Poisson make that
 *   number Poisson-distributed, so each part is sized to its `scaling.cover` percentile (99.9 %,
 *   `poissonQuantile`), the rate being the highest of the forecast and the rates measured over the
 *   last 10 minutes — the upper side of demand, so a pool grows ahead of a rise, is not cut by a
 *   forecast that lags one, and keeps what the last burst needed for the next.
 * - **How long** a fragment beyond that may sit idle before it is stopped (the hysteresis): long
 *   enough to cover how long idle fragments of this pool have waited before they were needed again
 *   (90th percentile of the recent reuse gaps, 30 s to 10 min); not at all when even the median
 *   gap is longer than 10 minutes (a fragment kept that long would mostly expire unused), and the
 *   full 10 minutes while fewer than five gaps are known.
 * - **A timer's next call**: arrivals that come at a steady period (the last gaps within 10 % of
 *   their mean) are expected again one period after the last; the pool is pre-warmed for it, and a
 *   timer whose period is long holds no idle fragment between calls.
 */

const HOLD_MIN_MS = 30_000;
const HOLD_MAX_MS = 600_000;
const GAPS = 64;
/** How long a pool stays sized for its highest recent rate and busiest moment. */
const PEAK_MS = 600_000;
const PERIOD_GAPS = 6;

/** The smallest k with P(N ≤ k) ≥ q for N ~ Poisson(mean). */
export function poissonQuantile(mean: number, q: number): number {
  if (!(mean > 0)) return 0;
  // Sum the pmf upward; for large means start near the mean (normal approximation) to stay O(√mean).
  let k = 0,
    p = Math.exp(-mean),
    cdf = p;
  if (mean > 50) {
    k = Math.max(0, Math.floor(mean - 8 * Math.sqrt(mean)));
    p = Math.exp(-mean + k * Math.log(mean) - logFactorial(k));
    cdf = 0;
    // The mass below k is under 1e-15 at 8 sd: taken as 0.
    cdf += p;
  }
  while (cdf < q && k < 1e7) {
    k++;
    p *= mean / k;
    cdf += p;
  }
  return k;
}

function logFactorial(n: number): number {
  // Stirling's series; exact enough (error < 1e-10) for the n > 0 used above.
  if (n < 2) return 0;
  return n * Math.log(n) - n + 0.5 * Math.log(2 * Math.PI * n) + 1 / (12 * n) - 1 / (360 * n ** 3);
}

/** A small ring of recent values (ms), for percentiles. */
class Recent {
  private readonly v: number[] = [];
  private next = 0;
  constructor(private readonly size: number) {}
  push(x: number): void {
    if (this.v.length < this.size) this.v.push(x);
    else this.v[this.next] = x;
    this.next = (this.next + 1) % this.size;
  }
  get length(): number {
    return this.v.length;
  }
  /** The q-quantile (nearest rank) of what is kept. */
  quantile(q: number): number {
    const s = [...this.v].sort((a, b) => a - b);
    return s[Math.min(s.length - 1, Math.max(0, Math.ceil(q * s.length) - 1))] as number;
  }
  /** The last n values in arrival order (fewer if fewer are kept). */
  last(n: number): number[] {
    const out: number[] = [];
    for (let i = Math.min(n, this.v.length); i >= 1; i--)
      out.push(this.v[(this.next - i + this.size * 2) % this.v.length] as number);
    return out;
  }
}

/** What the engine measures of one pool's demand. */
export class PoolDemand {
  private arrivals = 0;
  /** Arrivals of the window by the node holding their data (none: no memory home). */
  private readonly homed = new Map<number | undefined, number>();
  /** The last window's shares of arrivals by data node. */
  private shares = new Map<number | undefined, number>();
  private windowStart_ms: number | undefined;
  private measured_per_s = 0;
  /** Each closed window's end (ms), rate and most fragments busy at once, for the last PEAK_MS. */
  private readonly recent: Array<{ end_ms: number; rate: number; busy: number }> = [];
  /** The most fragments busy at once (serving or starting for a request) in the open window. */
  private busyMax = 0;
  private lastArrival_ms: number | undefined;
  private readonly gaps = new Recent(PERIOD_GAPS);
  private readonly reuse = new Recent(GAPS);

  /** A request of the pool arrived (its first scheduling), its data on `home` if it says. */
  arrival(t_ms: number, home?: number): void {
    this.arrivals++;
    this.homed.set(home, (this.homed.get(home) ?? 0) + 1);
    if (this.lastArrival_ms !== undefined) this.gaps.push(t_ms - this.lastArrival_ms);
    this.lastArrival_ms = t_ms;
  }

  /** A warm fragment idle since `idle_since_ms` was taken for a request at t_ms. */
  reused(idle_since_ms: number, t_ms: number): void {
    this.reuse.push(Math.max(0, t_ms - idle_since_ms));
  }

  /**
   * Close the measuring window at t_ms (once per scaling cycle) and return the rate over it. The
   * first call only opens the first window: a rate from the few arrivals before it, over however
   * short a time, would be noise.
   */
  measure(t_ms: number): number {
    if (this.windowStart_ms !== undefined && t_ms > this.windowStart_ms) {
      this.measured_per_s = (this.arrivals * 1000) / (t_ms - this.windowStart_ms);
      if (this.arrivals > 0) this.shares = new Map([...this.homed].map(([k, n]) => [k, n / this.arrivals]));
      this.recent.push({ end_ms: t_ms, rate: this.measured_per_s, busy: this.busyMax });
    }
    // Windows that ended more than PEAK_MS ago are forgotten.
    while (this.recent.length && (this.recent[0] as { end_ms: number }).end_ms <= t_ms - PEAK_MS) this.recent.shift();
    this.busyMax = 0;
    this.windowStart_ms = t_ms;
    this.arrivals = 0;
    this.homed.clear();
    return this.measured_per_s;
  }

  /**
   * How the pool's demand splits over the nodes that hold its data (key undefined: requests with
   * no memory home), from the last window with arrivals; all of it unhomed before any.
   */
  homeShares(): ReadonlyMap<number | undefined, number> {
    return this.shares.size ? this.shares : new Map([[undefined, 1]]);
  }

  get rate_per_s(): number {
    return this.measured_per_s;
  }

  /** `n` fragments of the pool are busy now (called as it changes). */
  busy(n: number): void {
    if (n > this.busyMax) this.busyMax = n;
  }

  /**
   * The most fragments busy at once over the last PEAK_MS (10 minutes): what a burst really
   * needed, slowed by the contention it brought — which rate × a service time measured mostly
   * between bursts underestimates.
   */
  get peakBusy(): number {
    return this.recent.reduce((a, w) => Math.max(a, w.busy), this.busyMax);
  }

  /**
   * The highest rate of the measuring windows of the last PEAK_MS (10 minutes): the
   * upper side of what demand has just done. A pool sized for it keeps the fragments the last
   * burst needed until the next one, where the last window's rate alone would have stopped them.
   */
  get peak_per_s(): number {
    return this.recent.reduce((a, w) => Math.max(a, w.rate), 0);
  }

  /** The steady period of the arrivals (ms), if the last gaps are within 10 % of their mean. */
  period_ms(): number | undefined {
    const g = this.gaps.last(PERIOD_GAPS - 1);
    if (g.length < PERIOD_GAPS - 1) return undefined;
    const mean = g.reduce((a, b) => a + b, 0) / g.length;
    if (!(mean > 0) || g.some((x) => Math.abs(x - mean) > 0.1 * mean)) return undefined;
    return mean;
  }

  /** When the next call of a timer is due (ms), or undefined for arrivals without a steady period. */
  nextDue_ms(): number | undefined {
    const p = this.period_ms();
    return p === undefined || this.lastArrival_ms === undefined ? undefined : this.lastArrival_ms + p;
  }

  /**
   * How long a fragment beyond the covered concurrency may sit idle before it is stopped (ms).
   * `prewarmable`: a timer whose next call will be pre-warmed holds nothing between calls.
   */
  hold_ms(prewarmable: boolean): number {
    if (prewarmable) return 0;
    if (this.reuse.length < 5) return HOLD_MAX_MS;
    if (this.reuse.quantile(0.5) > HOLD_MAX_MS) return 0;
    return Math.min(HOLD_MAX_MS, Math.max(HOLD_MIN_MS, this.reuse.quantile(0.9)));
  }
}
