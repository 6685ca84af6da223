/**
 * The run's metrics, each defined once (DESIGN.md "Metrics"): latency percentiles from a
 * bounded-memory HdrHistogram, request and fault counts, cold starts, local memory access,
 * utilisation balance and idle warm memory. Everything here is simulated, hence identical for the
 * same scenario and seed; wall-clock figures are kept apart in `WallClock`.
 */
import * as hdr from 'hdr-histogram-js';

/** Latencies are recorded in µs up to one hour (3 significant digits: 0.1 % resolution). */
const histogram = () => hdr.build({ lowestDiscernibleValue: 1, highestTrackableValue: 3_600_000_000, numberOfSignificantValueDigits: 3, useWebAssembly: false });

const r3 = (x: number) => Math.round(x * 1000) / 1000;
const r6 = (x: number) => Math.round(x * 1e6) / 1e6;

export interface FaultRecord {
  kind: string;
  target: string;
  injected_us: number;
  detected_us?: number;
  recovered_us?: number;
}

export class Metrics {
  private readonly latency = histogram();
  arrived = 0;
  completed = 0;
  deferred = 0;
  shed = 0;
  failed = 0;
  scheduled = 0;
  cold = 0;
  alerts = 0;
  /** Memory accesses weighted by CPU time: local and all. */
  private local_ms = 0;
  private access_ms = 0;
  warm_idle_kb_us = 0;
  readonly faults: FaultRecord[] = [];

  recordLatency(us: number): void {
    this.completed++;
    this.latency.recordValue(Math.max(1, Math.min(3_600_000_000, Math.round(us))));
  }

  recordAccess(cpu_ms: number, local: boolean): void {
    this.access_ms += cpu_ms;
    if (local) this.local_ms += cpu_ms;
  }

  /** metrics.json: `busy_us[i]` and `capacity_us[i]` are node i's integrals of busy and online CPU time. */
  summary(events: number, busy_us: readonly number[], capacity_us: readonly number[]) {
    const utils = busy_us.map((b, i) => ((capacity_us[i] as number) > 0 ? b / (capacity_us[i] as number) : 0)).filter((_, i) => (capacity_us[i] as number) > 0);
    const mean = utils.length ? utils.reduce((a, b) => a + b, 0) / utils.length : 0;
    const sd = utils.length ? Math.sqrt(utils.reduce((a, u) => a + (u - mean) ** 2, 0) / utils.length) : 0;
    const detected = this.faults.filter((f) => f.detected_us !== undefined);
    const recovered = this.faults.filter((f) => f.recovered_us !== undefined);
    const ms = (us: number) => r3(us / 1000);
    const has = this.latency.totalCount > 0;
    // A percentile is the top of its bucket (up to 0.1 % above the samples in it); maxValue is the
    // exact largest sample, so without the clamp p99 could exceed max.
    const at = (p: number) => Math.min(this.latency.getValueAtPercentile(p), this.latency.maxValue);
    return {
      latency_ms: {
        p50: has ? ms(at(50)) : 0,
        p95: has ? ms(at(95)) : 0,
        p99: has ? ms(at(99)) : 0,
        max: has ? ms(this.latency.maxValue) : 0,
      },
      cold_start_ratio: this.scheduled ? r6(this.cold / this.scheduled) : 0,
      local_access_ratio: this.access_ms ? r6(this.local_ms / this.access_ms) : 1,
      utilization: { mean: r6(mean), cv: mean > 0 ? r6(sd / mean) : 0 },
      requests: { arrived: this.arrived, completed: this.completed, deferred: this.deferred, shed: this.shed, failed: this.failed },
      faults: { injected: this.faults.length, detected: detected.length, recovered: recovered.length },
      mttd_s: detected.length ? r3(detected.reduce((a, f) => a + ((f.detected_us as number) - f.injected_us), 0) / detected.length / 1e6) : null,
      mttr_s: recovered.length ? r3(recovered.reduce((a, f) => a + ((f.recovered_us as number) - (f.detected_us ?? f.injected_us)), 0) / recovered.length / 1e6) : null,
      warm_idle_gb_s: r3(this.warm_idle_kb_us / 1024 / 1024 / 1e6),
      alerts: this.alerts,
      sim: { events },
    };
  }
}

export type MetricsSummary = ReturnType<Metrics['summary']>;

/** Wall-clock figures: real, hence different every run; written apart from metrics.json. */
export class WallClock {
  private readonly decisions = histogram();
  private readonly start = process.hrtime.bigint();

  recordDecision_ns(ns: bigint): void {
    this.decisions.recordValue(Math.max(1, Number(ns / 1000n)));
  }

  summary(events: number) {
    const s = Number(process.hrtime.bigint() - this.start) / 1e9;
    const has = this.decisions.totalCount > 0;
    return {
      s: r3(s),
      events_per_s: s > 0 ? Math.round(events / s) : 0,
      decision_latency_us: { p50: has ? this.decisions.getValueAtPercentile(50) : 0, p99: has ? this.decisions.getValueAtPercentile(99) : 0 },
      peak_rss_mb: Math.round(process.resourceUsage().maxRSS / 1024),
    };
  }
}
