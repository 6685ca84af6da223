/**
 * What the prediction buys: the cold-start / idle-memory trade-off of predictive warm pools (the
 * engine, at several `scaling.cover` percentiles of the concurrency its pools cover) against a
 * fixed keep-alive (a baseline, at several keep-alives), all on identical arrivals. Each point is
 * one twin run; the headline compares the engine at its default cover with the baseline at the usual 10 minutes:
 * cold starts cut by at least 50 % at no more idle warm memory (docs/metrics.md's cold_start_ratio and
 * warm_idle_gb_s).
 */
import { defaultConfig } from '../engine/index.ts';
import { DEFAULT_KEEP_ALIVE_MS, type PolicyName } from './baselines.ts';
import { runSimulation, type RunInputs, type RunResult } from './run.ts';
import { roundTo } from '../engine/round.ts';

export interface TradeoffOptions {
  /** Engine runs, one per `scaling.cover` (the percentile of concurrency its pools cover). */
  covers: readonly number[];
  /** Baseline runs, one per keep-alive (seconds). */
  keepAlives_s: readonly number[];
  baseline: Exclude<PolicyName, 'engine'>;
  /** Called before each run with its label and index (of `total`). */
  onRun?: (label: string, i: number, total: number) => void;
  /** Per-run progress (fraction of simulated time). */
  progress?: (fraction: number) => void;
}

export interface TradeoffPoint {
  policy: PolicyName;
  knob: 'cover' | 'keep_alive_s';
  value: number;
  label: string;
  cold_start_ratio: number;
  warm_idle_gb_s: number;
  latency_p99_ms: number;
  latency_p50_ms: number;
  completed: number;
  wall_s: number;
}

export interface TradeoffHeadline {
  engine: TradeoffPoint;
  baseline: TradeoffPoint;
  /** (1 − engine cold ÷ baseline cold) × 100. */
  cold_start_reduction_pct: number;
  /** engine idle warm GB·s ÷ baseline idle warm GB·s. */
  idle_memory_ratio: number;
  target: { cold_start_reduction_pct: number; idle_memory_ratio: number };
  met: boolean;
}

export interface TradeoffResult {
  scenario: string;
  seed: string | number;
  duration: string | number;
  baseline: string;
  points: TradeoffPoint[];
  headline: TradeoffHeadline;
  /** The engine point with the largest cut in cold starts within the baseline's 10-minute idle memory, if any. */
  best_within_memory: TradeoffPoint | null;
}

export const TARGET = { cold_start_reduction_pct: 50, idle_memory_ratio: 1 } as const;
export const DEFAULT_KEEP_ALIVE_S = DEFAULT_KEEP_ALIVE_MS / 1000;
/** The engine's default `scaling.cover`. */
export const DEFAULT_COVER = defaultConfig().scaling.cover;

/** "10m", "90s", "2h" for a keep-alive in seconds. */
export function formatSeconds(s: number): string {
  if (s >= 3600 && s % 3600 === 0) return `${s / 3600}h`;
  if (s >= 60 && s % 60 === 0) return `${s / 60}m`;
  return `${s}s`;
}

function point(policy: PolicyName, knob: TradeoffPoint['knob'], value: number, r: RunResult): TradeoffPoint {
  const m = r.metrics;
  return {
    policy,
    knob,
    value,
    label: knob === 'cover' ? `cover ${value}` : `keep-alive ${formatSeconds(value)}`,
    cold_start_ratio: m.cold_start_ratio,
    warm_idle_gb_s: m.warm_idle_gb_s,
    latency_p99_ms: m.latency_ms.p99,
    latency_p50_ms: m.latency_ms.p50,
    completed: m.requests.completed,
    wall_s: r.wall.wall_s,
  };
}

/** The headline numbers of an engine point against a baseline point. */
export function compare(engine: TradeoffPoint, baseline: TradeoffPoint): TradeoffHeadline {
  const cut =
    baseline.cold_start_ratio > 0
      ? (1 - engine.cold_start_ratio / baseline.cold_start_ratio) * 100
      : engine.cold_start_ratio > 0
        ? -Infinity
        : 0;
  const ratio =
    baseline.warm_idle_gb_s > 0
      ? engine.warm_idle_gb_s / baseline.warm_idle_gb_s
      : engine.warm_idle_gb_s > 0
        ? Infinity
        : 1;
  return {
    engine,
    baseline,
    cold_start_reduction_pct: roundTo(cut, 2),
    idle_memory_ratio: roundTo(ratio, 3),
    target: { ...TARGET },
    met: cut >= TARGET.cold_start_reduction_pct && ratio <= TARGET.idle_memory_ratio,
  };
}

/**
 * Run the engine at every cover and the baseline at every keep-alive (the defaults — cover 0.999,
 * 10 minutes — are added when missing, for the headline), in that order, on the same scenario. A
 * cover is laid over the scenario's engine config (`scaling.cover`), its other settings kept.
 */
export async function runTradeoff(
  inputs: Omit<RunInputs, 'policy' | 'keepAlive_ms' | 'out'>,
  o: TradeoffOptions,
): Promise<TradeoffResult> {
  const uniq = (xs: readonly number[], must: number) => [...new Set([...xs, must])].sort((a, b) => a - b);
  const covers = uniq(o.covers, DEFAULT_COVER);
  const keepAlives = uniq(o.keepAlives_s, DEFAULT_KEEP_ALIVE_S);
  for (const c of covers) if (!(c >= 0.5 && c < 1)) throw new RangeError(`cover must be in [0.5, 1), got ${c}`);
  for (const k of keepAlives) if (!(k >= 0)) throw new RangeError(`keep-alive must be ≥ 0 s, got ${k}`);
  const total = covers.length + keepAlives.length;
  const points: TradeoffPoint[] = [];
  let i = 0;
  const s = inputs.scenario;
  for (const c of covers) {
    o.onRun?.(`engine, cover ${c}`, i++, total);
    const engine = s.engine as { scaling?: Record<string, unknown> };
    const scenario = { ...s, engine: { ...s.engine, scaling: { ...engine.scaling, cover: c } } };
    points.push(
      point(
        'engine',
        'cover',
        c,
        await runSimulation({ ...inputs, scenario, policy: 'engine', ...(o.progress ? { progress: o.progress } : {}) }),
      ),
    );
  }
  for (const k of keepAlives) {
    o.onRun?.(`${o.baseline}, keep-alive ${formatSeconds(k)}`, i++, total);
    points.push(
      point(
        o.baseline,
        'keep_alive_s',
        k,
        await runSimulation({
          ...inputs,
          policy: o.baseline,
          keepAlive_ms: k * 1000,
          ...(o.progress ? { progress: o.progress } : {}),
        }),
      ),
    );
  }
  const engine = points.find((p) => p.policy === 'engine' && p.value === DEFAULT_COVER) as TradeoffPoint;
  const base = points.find((p) => p.policy !== 'engine' && p.value === DEFAULT_KEEP_ALIVE_S) as TradeoffPoint;
  const within = points
    .filter((p) => p.policy === 'engine' && p.warm_idle_gb_s <= base.warm_idle_gb_s)
    .sort((a, b) => a.cold_start_ratio - b.cold_start_ratio);
  return {
    scenario: s.name,
    seed: s.seed,
    duration: s.duration,
    baseline: o.baseline,
    points,
    headline: compare(engine, base),
    best_within_memory: within[0] ?? null,
  };
}

/** A cut in cold starts as a change: −75.0 % (fewer), +20.0 % (more). */
const change = (cut_pct: number) => `${cut_pct >= 0 ? '−' : '+'}${Math.abs(cut_pct).toFixed(1)} %`;

/** The curve and the headline as a text table. */
export function formatTradeoff(r: TradeoffResult): string {
  const head = ['policy', 'knob', 'cold_start_ratio', 'warm_idle_gb_s', 'p99 ms', 'p50 ms', 'completed'];
  const rows = r.points.map((p) => [
    p.policy,
    p.label,
    p.cold_start_ratio.toFixed(6),
    p.warm_idle_gb_s.toFixed(1),
    p.latency_p99_ms.toFixed(1),
    p.latency_p50_ms.toFixed(1),
    String(p.completed),
  ]);
  const all = [head, ...rows];
  const w = head.map((_, i) => Math.max(...all.map((x) => (x[i] ?? '').length)));
  const table = all
    .map((x) => x.map((c, i) => (i < 2 ? c.padEnd(w[i] as number) : c.padStart(w[i] as number))).join('  '))
    .join('\n');
  const h = r.headline;
  const lines = [
    `${r.scenario} (seed ${r.seed}, ${r.duration}): engine covers vs ${r.baseline} keep-alives`,
    '',
    table,
    '',
    `headline: engine (${h.engine.label}) vs ${r.baseline} (${h.baseline.label}): cold starts ${change(h.cold_start_reduction_pct)} ` +
      `(${h.engine.cold_start_ratio.toFixed(6)} vs ${h.baseline.cold_start_ratio.toFixed(6)}), idle warm memory × ${h.idle_memory_ratio.toFixed(3)} ` +
      `(${h.engine.warm_idle_gb_s.toFixed(1)} vs ${h.baseline.warm_idle_gb_s.toFixed(1)} GB·s) — target ≥ ${h.target.cold_start_reduction_pct} % at ≤ × ${h.target.idle_memory_ratio}: ${h.met ? 'met' : 'MISSED'}`,
  ];
  const b = r.best_within_memory;
  if (b && b !== h.engine) {
    const c = compare(b, h.baseline);
    lines.push(
      `best engine point within the baseline's idle memory: ${b.label}: cold starts ${change(c.cold_start_reduction_pct)}, idle memory × ${c.idle_memory_ratio.toFixed(3)}`,
    );
  } else if (!b)
    lines.push(`no engine point stays within the baseline's ${formatSeconds(DEFAULT_KEEP_ALIVE_S)} idle memory`);
  return lines.join('\n');
}
