/**
 * The shell-side demand predictor used until (and whenever) no ONNX model is loaded: an EWMA of
 * each profile's arrival rate per scaling cycle, turned into a pool size by Little's law
 * (concurrency = rate × time in service) with headroom for bursts. The engine only ever sees the
 * resulting predictions.
 */
import type { Prediction } from '../engine/index.ts';

export interface ProfileDemandShape {
  /** Mean time a request keeps a fragment busy, ms. */
  service_ms: number;
}

export class EwmaPredictor {
  private readonly counts = new Map<string, number>();
  private readonly rates = new Map<string, number>();
  private last_ms: number | undefined;

  /** alpha: weight of the newest interval; headroom: multiplier over the expected concurrency. */
  constructor(private readonly shapes: ReadonlyMap<string, ProfileDemandShape>, private readonly alpha = 0.5, private readonly headroom = 2) {}

  arrival(profile: string): void {
    this.counts.set(profile, (this.counts.get(profile) ?? 0) + 1);
  }

  /** Close the interval ending at t_ms and predict every known profile, sorted by name. */
  predict(t_ms: number): Prediction[] {
    const dt_s = this.last_ms === undefined ? 0 : (t_ms - this.last_ms) / 1000;
    this.last_ms = t_ms;
    const out: Prediction[] = [];
    const names = [...new Set([...this.shapes.keys(), ...this.counts.keys()])].sort();
    for (const name of names) {
      const seen = this.counts.get(name) ?? 0;
      if (dt_s > 0) {
        const r = seen / dt_s;
        const prev = this.rates.get(name);
        this.rates.set(name, prev === undefined ? r : this.alpha * r + (1 - this.alpha) * prev);
      }
      this.counts.set(name, 0);
      const rate = this.rates.get(name) ?? 0;
      const service_s = (this.shapes.get(name)?.service_ms ?? 100) / 1000;
      const concurrency = rate * service_s;
      out.push({
        profile: name,
        demand_per_s: Math.round(rate * 1000) / 1000,
        recommended_size: rate > 0 ? Math.ceil(concurrency * this.headroom) + 1 : 0,
        confidence: 0.5,
      });
    }
    return out;
  }
}
