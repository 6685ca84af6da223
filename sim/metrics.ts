/**
 * The run's metrics, each defined once (docs/metrics.md): latency percentiles from a
 * bounded-memory HdrHistogram, request and fault counts, cold starts, local memory access,
 * utilization balance, idle warm memory, and the SLO figures — misses, goodput, and per profile and
 * per priority the arrivals, completions, sheds, misses and latency percentiles. Everything here is
 * simulated, hence identical for the same scenario and seed; wall-clock figures are kept apart in
 * `WallClock`.
 *
 * An SLO miss is a request completed later than its profile's `slo_ms`, shed, failed, or — at the
 * end of the run — still unfinished although already older than its SLO (it can only finish late;
 * without this a policy that holds requests back until the run ends would look punctual).
 */
import * as hdr from 'hdr-histogram-js';
import type { WallJson } from '../formats/wall.ts';
import { roundTo } from '../engine/round.ts';

/** Latencies are recorded in µs up to one hour (3 significant digits: 0.1 % resolution). */
const histogram = () =>
  hdr.build({
    lowestDiscernibleValue: 1,
    highestTrackableValue: 3_600_000_000,
    numberOfSignificantValueDigits: 3,
    useWebAssembly: false,
  });

/** Priority levels by name, as metrics.json keys them (engine/types.ts PRIORITY). */
export const PRIORITY_NAMES = ['low', 'normal', 'high', 'critical'] as const;

/** What the SLO figures need to know of a request (a SimRequest has it). */
export interface RequestOutcomeKey {
  readonly req: { readonly profile: string; readonly priority: number };
  readonly profile: { readonly slo_ms: number };
  /** Set for a call of the fragment graph (sim/calls.ts): not a root request. */
  readonly call?: unknown;
}

/** One group's SLO record (a profile, a priority level, or everything). */
class SloGroup {
  readonly latency = histogram();
  arrived = 0;
  completed = 0;
  on_time = 0;
  shed = 0;
  failed = 0;
  /** Unfinished at the end of the run and already past their SLO. */
  overdue = 0;

  get missed(): number {
    return this.completed - this.on_time + this.shed + this.failed + this.overdue;
  }

  summary() {
    const has = this.latency.totalCount > 0;
    const at = (p: number) =>
      has ? roundTo(Math.min(this.latency.getValueAtPercentile(p), this.latency.maxValue) / 1000, 3) : 0;
    return {
      arrived: this.arrived,
      completed: this.completed,
      shed: this.shed,
      failed: this.failed,
      slo_miss_ratio: this.arrived ? roundTo(this.missed / this.arrived, 6) : 0,
      latency_ms: { p50: at(50), p95: at(95), p99: at(99) },
    };
  }
}

export interface FaultRecord {
  kind: string;
  target: string;
  injected_us: number;
  detected_us?: number;
  recovered_us?: number;
}

export class Metrics {
  private readonly latency = histogram();
  /** Root requests (not calls): their latency is from arrival to the end of everything they waited on. */
  private readonly roots = new SloGroup();
  /** Calls that began on a fragment, and those whose fragment was on another node than their caller's. */
  private calls = 0;
  private crossCalls = 0;
  /** The same per call edge, keyed `caller→callee`. */
  private readonly edges = new Map<string, { from: string; to: string; calls: number; cross: number }>();
  arrived = 0;
  completed = 0;
  deferred = 0;
  shed = 0;
  failed = 0;
  /** Completed within their SLO. */
  private on_time = 0;
  private overdue = 0;
  private readonly byProfile = new Map<string, SloGroup>();
  private readonly byPriority = new Map<number, SloGroup>();
  scheduled = 0;
  cold = 0;
  alerts = 0;
  /** Memory accesses weighted by CPU time: local and all. */
  private local_ms = 0;
  private access_ms = 0;
  warm_idle_kb_us = 0;
  readonly faults: FaultRecord[] = [];

  private groups(k: RequestOutcomeKey): SloGroup[] {
    let p = this.byProfile.get(k.req.profile);
    if (!p) this.byProfile.set(k.req.profile, (p = new SloGroup()));
    let q = this.byPriority.get(k.req.priority);
    if (!q) this.byPriority.set(k.req.priority, (q = new SloGroup()));
    return k.call === undefined ? [p, q, this.roots] : [p, q];
  }

  arrival(k: RequestOutcomeKey): void {
    this.arrived++;
    for (const g of this.groups(k)) g.arrived++;
  }

  /** A request completed `us` after it arrived (for a root request, an end-to-end latency). */
  completion(k: RequestOutcomeKey, us: number): void {
    const v = Math.max(1, Math.min(3_600_000_000, Math.round(us)));
    const onTime = us <= k.profile.slo_ms * 1000;
    this.completed++;
    if (onTime) this.on_time++;
    this.latency.recordValue(v);
    for (const g of this.groups(k)) {
      g.completed++;
      if (onTime) g.on_time++;
      g.latency.recordValue(v);
    }
  }

  /** A request dropped by the policy: shed (told to come back later) or failed (rejected). */
  dropped(k: RequestOutcomeKey, how: 'shed' | 'failed'): void {
    this[how]++;
    for (const g of this.groups(k)) g[how]++;
  }

  /** At the end of the run: a request still unfinished that has been waiting `age_us`. */
  unfinished(k: RequestOutcomeKey, age_us: number): void {
    if (age_us <= k.profile.slo_ms * 1000) return;
    this.overdue++;
    for (const g of this.groups(k)) g.overdue++;
  }

  /** A call from `from` to `to` began on a fragment; `cross`: on another node than its caller's. */
  call(from: string, to: string, cross: boolean): void {
    this.calls++;
    const key = `${from}→${to}`;
    let e = this.edges.get(key);
    if (!e) this.edges.set(key, (e = { from, to, calls: 0, cross: 0 }));
    e.calls++;
    if (cross) {
      this.crossCalls++;
      e.cross++;
    }
  }

  recordAccess(cpu_ms: number, local: boolean): void {
    this.access_ms += cpu_ms;
    if (local) this.local_ms += cpu_ms;
  }

  /**
   * histograms.json: the whole latency distributions, not four percentiles — overall, end to end
   * (root requests) and per profile — each an HdrHistogram in its compressed base64 encoding
   * (µs, 3 significant digits; `hdr.decodeFromCompressedBase64` reads it back). What the report's
   * CDF is drawn from.
   */
  histograms() {
    const enc = (h: hdr.Histogram) => hdr.encodeIntoCompressedBase64(h);
    return {
      format: 'fgo-histograms/1',
      unit: 'us',
      encoding: 'HdrHistogram compressed base64',
      overall: enc(this.latency),
      e2e: enc(this.roots.latency),
      by_profile: Object.fromEntries(
        [...this.byProfile]
          .sort((a, b) => (a[0] < b[0] ? -1 : a[0] > b[0] ? 1 : 0))
          .map(([k, g]) => [k, enc(g.latency)]),
      ),
    };
  }

  /**
   * metrics.json: `busy_us[i]` and `capacity_us[i]` are node i's integrals of busy and online CPU
   * time; `duration_s` the simulated time (for goodput).
   */
  summary(events: number, busy_us: readonly number[], capacity_us: readonly number[], duration_s: number) {
    const utils = busy_us
      .map((b, i) => ((capacity_us[i] as number) > 0 ? b / (capacity_us[i] as number) : 0))
      .filter((_, i) => (capacity_us[i] as number) > 0);
    const mean = utils.length ? utils.reduce((a, b) => a + b, 0) / utils.length : 0;
    const sd = utils.length ? Math.sqrt(utils.reduce((a, u) => a + (u - mean) ** 2, 0) / utils.length) : 0;
    const detected = this.faults.filter((f) => f.detected_us !== undefined);
    const recovered = this.faults.filter((f) => f.recovered_us !== undefined);
    const ms = (us: number) => roundTo(us / 1000, 3);
    const has = this.latency.totalCount > 0;
    // A percentile is the top of its bucket (up to 0.1 % above the samples in it); maxValue is the
    // exact largest sample, so without the clamp p99 could exceed max.
    const at = (p: number) => Math.min(this.latency.getValueAtPercentile(p), this.latency.maxValue);
    const root = this.roots.summary();
    return {
      latency_ms: {
        p50: has ? ms(at(50)) : 0,
        p95: has ? ms(at(95)) : 0,
        p99: has ? ms(at(99)) : 0,
        max: has ? ms(this.latency.maxValue) : 0,
      },
      /** Root requests only (a call's time is inside its caller's): what a user of the service sees. */
      e2e_latency_ms: root.latency_ms,
      /** Root requests missing their SLO (late, shed, failed — a failed call fails its caller — or overdue) ÷ root requests. */
      e2e_slo_miss_ratio: root.slo_miss_ratio,
      calls: this.calls,
      /** Share of calls served on another node than their caller's; null when nothing called anything. */
      cross_node_call_ratio: this.calls ? roundTo(this.crossCalls / this.calls, 6) : null,
      /** Per call edge, caller then callee by name: calls begun and the share of them across nodes. */
      call_edges: [...this.edges.values()]
        .sort((a, b) => (a.from < b.from ? -1 : a.from > b.from ? 1 : a.to < b.to ? -1 : a.to > b.to ? 1 : 0))
        .map((e) => ({ from: e.from, to: e.to, calls: e.calls, cross_node_ratio: roundTo(e.cross / e.calls, 6) })),
      cold_start_ratio: this.scheduled ? roundTo(this.cold / this.scheduled, 6) : 0,
      local_access_ratio: this.access_ms ? roundTo(this.local_ms / this.access_ms, 6) : 1,
      utilization: { mean: roundTo(mean, 6), cv: mean > 0 ? roundTo(sd / mean, 6) : 0 },
      requests: {
        arrived: this.arrived,
        completed: this.completed,
        deferred: this.deferred,
        shed: this.shed,
        failed: this.failed,
        slo_missed: this.completed - this.on_time + this.overdue,
        unfinished: this.arrived - this.completed - this.shed - this.failed,
      },
      slo_miss_ratio: this.arrived
        ? roundTo((this.completed - this.on_time + this.overdue + this.shed + this.failed) / this.arrived, 6)
        : 0,
      goodput_per_s: duration_s > 0 ? roundTo(this.on_time / duration_s, 3) : 0,
      by_profile: Object.fromEntries(
        [...this.byProfile].sort((a, b) => (a[0] < b[0] ? -1 : a[0] > b[0] ? 1 : 0)).map(([k, g]) => [k, g.summary()]),
      ),
      by_priority: Object.fromEntries(
        [...this.byPriority].sort((a, b) => a[0] - b[0]).map(([k, g]) => [PRIORITY_NAMES[k] ?? String(k), g.summary()]),
      ),
      faults: { injected: this.faults.length, detected: detected.length, recovered: recovered.length },
      mttd_s: detected.length
        ? roundTo(
            detected.reduce((a, f) => a + ((f.detected_us as number) - f.injected_us), 0) / detected.length / 1e6,
            3,
          )
        : null,
      mttr_s: recovered.length
        ? roundTo(
            recovered.reduce((a, f) => a + ((f.recovered_us as number) - (f.detected_us ?? f.injected_us)), 0) /
              recovered.length /
              1e6,
            3,
          )
        : null,
      warm_idle_gb_s: roundTo(this.warm_idle_kb_us / 1024 / 1024 / 1e6, 3),
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

  summary(events: number): WallJson {
    const wall_s = Number(process.hrtime.bigint() - this.start) / 1e9;
    const has = this.decisions.totalCount > 0;
    return {
      wall_s: roundTo(wall_s, 3),
      events_per_s: wall_s > 0 ? Math.round(events / wall_s) : 0,
      decision_latency_us: {
        p50: has ? this.decisions.getValueAtPercentile(50) : 0,
        p99: has ? this.decisions.getValueAtPercentile(99) : 0,
      },
      peak_rss_mb: Math.round(process.resourceUsage().maxRSS / 1024),
    };
  }
}
