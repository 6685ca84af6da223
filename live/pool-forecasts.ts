/**
 * Pool mode's demand forecasts: requests counted per profile and scaling interval, the predictor
 * asked once per interval (asynchronously: a turn never waits for it), its forecasts handed to the
 * engine as predictions at the next tick, so the journal holds them and `fgo replay` feeds the
 * engine exactly what it saw.
 */
import type { Prediction } from '../engine/types.ts';
import { loadDemandPredictor } from '../predict/onnx-predictor.ts';
import { DemandTracker, toPredictions, type DemandPredictor, type ProfileShape } from '../predict/predictor.ts';
import type { LiveConfig } from './config.ts';
import type { ModeHost } from './mode.ts';

/**
 * The demand predictor of a pool-mode agent: the ONNX model of `predictor.model` — or, when none
 * is set, or it is missing or cannot be loaded (one warning), the EWMA predictor (α 0.5 over
 * scaling intervals), so a pool agent always has forecasts.
 */
export function makePredictor(cfg: LiveConfig, warn: (message: string) => void): Promise<DemandPredictor> {
  return loadDemandPredictor(cfg.predictor.model, { horizon_s: cfg.engine.scaling.interval_ms / 1000, warn });
}

/** Confidence given with the predictions (the engine reports it with each scaling decision). */
const CONFIDENCE = 0.5;

/**
 * Requests in, the engine's predictions out. Arrivals are counted per profile in intervals of the
 * engine's scaling interval on the wall clock (epoch seconds, so a model's time-of-day features
 * see the real time; intervals start at whole multiples of the interval). A profile is forecast
 * from its first request on; until then its configured pool target holds. Forecasts reach the
 * engine's pools at the first scaling cycle after they arrive.
 */
export class PoolForecasts {
  predictor: DemandPredictor | undefined;
  private tracker: DemandTracker | undefined;
  private anchor_s = 0;
  private askedThrough = 0;
  private inFlight = false;
  private stopped = false;
  /** Predictions not yet handed to the engine. */
  private fresh: Prediction[] | undefined;
  /** The latest predictions and when they arrived (agent clock, ms). */
  last: { t_ms: number; predictions: Prediction[] } | undefined;
  /** Mean time a request keeps a worker busy, per profile (worker-reported latency + warm start), ms. */
  private readonly service_ms = new Map<string, number>();
  asked = 0;
  answered = 0;
  failed = 0;

  constructor(
    private readonly a: Pick<ModeHost, 'cfg' | 'now' | 'warn' | 'note'>,
    private readonly clock_s: () => number = () => Date.now() / 1000,
  ) {}

  get interval_s(): number {
    return this.a.cfg.engine.scaling.interval_ms / 1000;
  }

  /** Start with `p`; intervals are counted from now. */
  use(p: DemandPredictor): void {
    this.predictor = p;
    this.tracker = new DemandTracker(this.interval_s, p.history_len);
    this.anchor_s = Math.floor(this.clock_s() / this.interval_s) * this.interval_s;
    this.tracker.histories(this.anchor_s);
    this.a.note(
      this.a.now(),
      'info',
      `demand predictor: ${p.name}, horizon ${p.horizon_s} s, headroom ${this.a.cfg.predictor.headroom}`,
    );
  }

  arrival(profile: string): void {
    this.tracker?.arrival(profile, this.clock_s());
  }

  /** A request served in `latency_ms` by a worker of `profile`: the service-time estimate moves 20 % towards it. */
  served(profile: string, latency_ms: number): void {
    const warm = (this.a.cfg.engine.profiles[profile] ?? this.a.cfg.engine.default_profile).warm_start_ms;
    const x = latency_ms + warm;
    const s = this.service_ms.get(profile);
    this.service_ms.set(profile, s === undefined ? x : 0.8 * s + 0.2 * x);
  }

  /** Each turn: once an interval has closed, ask the predictor (never waited for). */
  poll(): void {
    const p = this.predictor,
      tracker = this.tracker;
    if (!p || !tracker || this.inFlight || this.stopped) return;
    const now_s = this.clock_s();
    const closed = Math.floor((now_s - this.anchor_s) / this.interval_s);
    if (closed <= this.askedThrough) return;
    this.askedThrough = closed;
    const batch = tracker.histories(now_s);
    if (batch.length === 0) return; // nothing asked for yet: the configured targets hold
    const shapes = new Map<string, ProfileShape>([...this.service_ms].map(([k, v]) => [k, { service_ms: v }]));
    this.inFlight = true;
    this.asked++;
    void p
      .forecast(batch)
      .then((f) => {
        if (this.stopped) return;
        const predictions = toPredictions(f, shapes, this.a.cfg.predictor.headroom, CONFIDENCE).sort((x, y) =>
          x.profile < y.profile ? -1 : x.profile > y.profile ? 1 : 0,
        );
        this.fresh = predictions;
        this.last = { t_ms: this.a.now(), predictions };
        this.answered++;
      })
      .catch((e: unknown) => {
        this.failed++;
        this.a.warn(
          `demand predictor ${p.name} failed: ${(e as Error)?.message ?? String(e)}; the pools keep the last predictions`,
        );
      })
      .finally(() => {
        this.inFlight = false;
      });
  }

  /** The predictions not yet handed to the engine, once (undefined: none arrived since). */
  handOver(): Prediction[] | undefined {
    const p = this.fresh;
    this.fresh = undefined;
    return p;
  }

  stop(): void {
    this.stopped = true;
  }

  state(): unknown {
    const p = this.predictor;
    return {
      name: p?.name ?? null,
      horizon_s: p?.horizon_s ?? null,
      model: this.a.cfg.predictor.model ?? null,
      headroom: this.a.cfg.predictor.headroom,
      interval_s: this.interval_s,
      asked: this.asked,
      answered: this.answered,
      failed: this.failed,
      last: this.last ?? null,
    };
  }
}
