/**
 * The demand predictor's port, shared by the twin and the live agent. A shell counts arrivals per
 * profile per interval (`DemandTracker`), asks a `DemandPredictor` once per scaling cycle for all
 * profiles in one batch, and turns the forecasts into the engine's `Prediction`s by Little's law
 * (`toPredictions`). The engine only ever sees predictions; models stay in the shells.
 */
import type { Prediction } from '../engine/types.ts';
import { roundTo } from '../engine/round.ts';

/** Arrivals of one profile per interval, oldest first; the last entry is the interval just ended. */
export interface DemandHistory {
  profile: string;
  interval_s: number;
  /** End of the last interval, seconds on the shell's clock (for time-of-day features). */
  end_s: number;
  counts: readonly number[];
}

/** Expected arrivals of a profile over the next `horizon_s`. */
export interface DemandForecast {
  profile: string;
  horizon_s: number;
  /** The median forecast (P50). */
  arrivals: number;
  /** The 90th percentile, when the predictor gives one. */
  arrivals_p90?: number;
}

export interface DemandPredictor {
  /** 'onnx', 'ewma', …: what made the forecasts (reported in run.json and the agent's state). */
  readonly name: string;
  readonly horizon_s: number;
  /** Intervals of history the predictor reads (older ones may be dropped by the tracker). */
  readonly history_len: number;
  forecast(batch: readonly DemandHistory[]): Promise<DemandForecast[]>;
}

/** Counts arrivals per profile into fixed intervals, keeping the last `keep` closed ones of each. */
export class DemandTracker {
  private readonly closedCounts = new Map<string, number[]>();
  private readonly open = new Map<string, number>();
  private start_s: number | undefined;
  private closed = 0;

  constructor(
    readonly interval_s: number,
    private readonly keep: number,
  ) {
    if (!(interval_s > 0)) throw new RangeError(`interval_s must be > 0, got ${interval_s}`);
    if (!(Number.isInteger(keep) && keep > 0)) throw new RangeError(`keep must be a positive integer, got ${keep}`);
  }

  /** Register a profile so it is forecast even before its first arrival (its past reads as zeros). */
  profile(name: string): void {
    if (this.closedCounts.has(name)) return;
    this.closedCounts.set(name, new Array<number>(Math.min(this.closed, this.keep)).fill(0));
    this.open.set(name, 0);
  }

  arrival(name: string, t_s: number): void {
    this.advance(t_s);
    this.profile(name);
    this.open.set(name, (this.open.get(name) as number) + 1);
  }

  /** Close every interval ending at or before t_s; then every profile's closed counts, by name. */
  histories(t_s: number): DemandHistory[] {
    this.advance(t_s);
    const end_s = (this.start_s as number) + this.closed * this.interval_s;
    return [...this.closedCounts.keys()].sort().map((profile) => ({
      profile,
      interval_s: this.interval_s,
      end_s,
      counts: [...(this.closedCounts.get(profile) as number[])],
    }));
  }

  private advance(t_s: number): void {
    this.start_s ??= t_s;
    while (t_s >= this.start_s + (this.closed + 1) * this.interval_s) {
      this.closed++;
      for (const [name, counts] of this.closedCounts) {
        counts.push(this.open.get(name) as number);
        if (counts.length > this.keep) counts.shift();
        this.open.set(name, 0);
      }
    }
  }
}

export interface ProfileShape {
  /** Mean time a request keeps a fragment busy, ms. */
  service_ms: number;
}

/**
 * Forecast arrivals → the engine's predictions: rate = arrivals / horizon; pool size by Little's
 * law (concurrency = rate × service time), plus one, from the P90 rate when there is one (the
 * bound is the headroom) and otherwise from the median rate times `headroom` for bursts.
 */
export function toPredictions(
  forecasts: readonly DemandForecast[],
  shapes: ReadonlyMap<string, ProfileShape>,
  headroom: number,
  confidence: number,
): Prediction[] {
  return forecasts.map((f) => {
    const rate = Math.max(0, f.arrivals) / f.horizon_s;
    const rate90 = f.arrivals_p90 === undefined ? undefined : Math.max(rate, f.arrivals_p90 / f.horizon_s);
    const service_s = (shapes.get(f.profile)?.service_ms ?? 100) / 1000;
    const busy = rate90 === undefined ? rate * service_s * headroom : rate90 * service_s;
    return {
      profile: f.profile,
      demand_per_s: roundTo(rate, 3),
      ...(rate90 === undefined ? {} : { demand_p90_per_s: roundTo(rate90, 3) }),
      recommended_size: rate > 0 ? Math.ceil(busy) + 1 : 0,
      confidence,
    };
  });
}

/** The fallback (and baseline) predictor: an EWMA of each profile's arrivals per interval. */
export class EwmaDemandPredictor implements DemandPredictor {
  readonly name = 'ewma';
  readonly history_len: number;

  constructor(
    readonly horizon_s: number,
    private readonly alpha = 0.5,
    history_len = 32,
  ) {
    this.history_len = history_len;
  }

  forecast(batch: readonly DemandHistory[]): Promise<DemandForecast[]> {
    return Promise.resolve(
      batch.map((h) => ({
        profile: h.profile,
        horizon_s: this.horizon_s,
        arrivals: ewma(h.counts, this.alpha) * (this.horizon_s / h.interval_s),
      })),
    );
  }
}

/** EWMA of a series (oldest first); 0 for an empty one. */
export function ewma(xs: readonly number[], alpha: number): number {
  let v: number | undefined;
  for (const x of xs) v = v === undefined ? x : alpha * x + (1 - alpha) * v;
  return v ?? 0;
}
