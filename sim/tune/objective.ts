/**
 * The objective `fgo tune` minimises, and the per-metric comparison it reports. Each metric of a
 * run is divided by the baseline's (the design defaults') value on the same scenario, so a
 * scenario with 10-second latencies weighs no more than one with 100-ms latencies; the objective
 * is the weighted mean of those ratios, averaged over scenarios. The baseline scores 1 (less where
 * its value is below a metric's floor), a candidate below 1 is better.
 */
import type { MetricsSummary } from '../metrics.ts';
import { roundTo } from '../../engine/round.ts';

export const OBJECTIVE_VERSION = 'objective/1';

/**
 * p99: latency p99 (ms). slo_miss: share of requests that finished (or, at the run's end, were still
 * waiting) past their profile's SLO, `requests.slo_missed` ÷ arrived — sheds are the next term's, so
 * they are not counted twice; metrics from before `slo_missed` existed drop the term and the output
 * says so. shed: (shed + failed) ÷ arrived, requests never served. deferred: deferred ÷
 * arrived. cold: cold_start_ratio. warm_idle: warm_idle_gb_s, memory held by idle warm fragments.
 */
export const OBJECTIVE_METRICS = ['p99', 'slo_miss', 'shed', 'deferred', 'cold', 'warm_idle'] as const;
export type ObjectiveMetric = (typeof OBJECTIVE_METRICS)[number];
export type Weights = Record<ObjectiveMetric, number>;

export const DEFAULT_WEIGHTS: Weights = {
  p99: 0.35,
  slo_miss: 0.2,
  shed: 0.15,
  deferred: 0.1,
  cold: 0.1,
  warm_idle: 0.1,
};

/**
 * The divisor is max(baseline, floor): a baseline of 0 shed requests must not turn one shed
 * request into an infinite ratio; at the floor (0.1 % of requests, 1 ms, 1 GB·s) a change is
 * worth counting but no longer dominates.
 */
export const FLOORS: Weights = { p99: 1, slo_miss: 0.001, shed: 0.001, deferred: 0.001, cold: 0.001, warm_idle: 1 };

/** Shown beside the objective's metrics in comparisons; not scored. */
const INFO = ['p50', 'p95', 'local_access', 'util_cv', 'completed'] as const;
export type ReportMetric = ObjectiveMetric | (typeof INFO)[number];

export function metricValue(m: MetricsSummary, name: ReportMetric): number | undefined {
  const r = m.requests as MetricsSummary['requests'] & { slo_missed?: number };
  const share = (x: number) => (r.arrived > 0 ? x / r.arrived : 0);
  switch (name) {
    case 'p99':
      return m.latency_ms.p99;
    case 'slo_miss':
      return typeof r.slo_missed === 'number' ? share(r.slo_missed) : undefined;
    case 'shed':
      return share(r.shed + r.failed);
    case 'deferred':
      return share(r.deferred);
    case 'cold':
      return m.cold_start_ratio;
    case 'warm_idle':
      return m.warm_idle_gb_s;
    case 'p50':
      return m.latency_ms.p50;
    case 'p95':
      return m.latency_ms.p95;
    case 'local_access':
      return m.local_access_ratio;
    case 'util_cv':
      return m.utilization.cv;
    case 'completed':
      return r.completed;
  }
}

/** `p99=0.4,shed=0.2`: named weights replace the defaults, the rest keep theirs (0 drops a metric). */
export function parseWeights(text: string | undefined): Weights {
  const w: Weights = { ...DEFAULT_WEIGHTS };
  if (!text) return w;
  for (const part of text
    .split(',')
    .map((s) => s.trim())
    .filter(Boolean)) {
    const m = /^([a-z_0-9]+)=(\d+(?:\.\d+)?)$/.exec(part);
    if (!m || !(OBJECTIVE_METRICS as readonly string[]).includes(m[1] as string))
      throw new Error(`'${part}' is not METRIC=WEIGHT with METRIC one of ${OBJECTIVE_METRICS.join(', ')}`);
    w[m[1] as ObjectiveMetric] = Number(m[2]);
  }
  if (OBJECTIVE_METRICS.every((k) => w[k] === 0)) throw new Error('every weight is 0');
  return w;
}

export type ScenarioMetrics = Record<string, MetricsSummary>;

/** Metrics with a weight that no baseline run carries: reported, and left out of every score. */
export function missingMetrics(weights: Weights, baseline: ScenarioMetrics): ObjectiveMetric[] {
  const runs = Object.values(baseline);
  return OBJECTIVE_METRICS.filter((k) => weights[k] > 0 && runs.some((m) => metricValue(m, k) === undefined));
}

export interface Score {
  objective: number;
  /** Each metric's ratio to the baseline, averaged over scenarios. */
  ratios: Partial<Record<ObjectiveMetric, number>>;
}

/** The objective of one candidate's runs against the baseline's runs on the same scenarios. */
export function score(runs: ScenarioMetrics, baseline: ScenarioMetrics, weights: Weights): Score {
  const names = Object.keys(baseline).sort();
  const used = OBJECTIVE_METRICS.filter((k) => weights[k] > 0 && !missingMetrics(weights, baseline).includes(k));
  const total = used.reduce((a, k) => a + weights[k], 0);
  const ratios: Partial<Record<ObjectiveMetric, number>> = {};
  let objective = 0;
  for (const k of used) {
    let sum = 0;
    for (const s of names) {
      const run = runs[s],
        base = baseline[s];
      if (!run || !base) throw new Error(`no run of scenario '${s}' to score`);
      sum += (metricValue(run, k) as number) / Math.max(metricValue(base, k) as number, FLOORS[k]);
    }
    ratios[k] = sum / names.length;
    objective += (weights[k] / total) * (sum / names.length);
  }
  return { objective, ratios };
}

export interface MetricDelta {
  defaults: number;
  tuned: number;
  change: number;
  /** (tuned − defaults) ÷ defaults in percent; null when defaults is 0. */
  change_pct: number | null;
}

/** Tuned against defaults on one scenario, metric by metric (every objective metric the runs carry, then the informative ones). */
export function compareRuns(defaults: MetricsSummary, tuned: MetricsSummary): Record<string, MetricDelta> {
  const out: Record<string, MetricDelta> = {};
  for (const k of [...OBJECTIVE_METRICS, ...INFO]) {
    const d = metricValue(defaults, k),
      t = metricValue(tuned, k);
    if (d === undefined || t === undefined) continue;
    out[k] = {
      defaults: roundTo(d, 6),
      tuned: roundTo(t, 6),
      change: roundTo(t - d, 6),
      change_pct: d === 0 ? null : roundTo(((t - d) / d) * 100, 2),
    };
  }
  return out;
}
