/**
 * What-if studies (`fgo compare --vary KEY=V1,V2,…`): the pure arithmetic over variants. Each
 * variant runs every policy on otherwise identical inputs; here, from their metrics, come the
 * deltas against the first variant and, when the seed is what varies, each figure's mean and
 * spread over the seeds. The spread is the range, min–max: with a handful of seeds a standard
 * deviation says little a range does not, and a range is what a reader can check by eye.
 * Pure — metrics in, numbers out — shared by `fgo compare` and the report (docs/compare.md).
 */
import { figure, fmtFigure, VERDICT_METRICS, verdictFor, type MetricsLike, type ScenarioVerdict } from './verdict.ts';

/**
 * A figure the delta view and the variant table show, with the direction that is better; none for
 * utilisation, which rises with load served and falls with machines added, neither of them good or bad.
 */
export interface VaryMetric {
  /** Dotted path into metrics.json. */
  key: string;
  label: string;
  unit: string;
  better: 'lower' | 'higher' | 'none';
}

/** In column order: the verdict's two deciding figures, then where the time went. */
export const VARY_METRICS: readonly VaryMetric[] = [
  { key: 'slo_miss_ratio', label: 'SLO miss', unit: '', better: 'lower' },
  { key: 'latency_ms.p50', label: 'p50', unit: 'ms', better: 'lower' },
  { key: 'latency_ms.p99', label: 'p99', unit: 'ms', better: 'lower' },
  { key: 'cold_start_ratio', label: 'cold', unit: '', better: 'lower' },
  { key: 'local_access_ratio', label: 'local', unit: '', better: 'higher' },
  { key: 'utilization.mean', label: 'util', unit: '', better: 'none' },
];

export interface Delta {
  /** variant − first variant, in the figure's unit. */
  abs: number;
  /** The same as a percentage of the first variant's figure; null when that is 0 and this is not. */
  pct: number | null;
}

/** `x` against `base`: the difference and the difference as a percentage of `base`. */
export function deltaOf(base: number, x: number): Delta {
  return { abs: x - base, pct: base === 0 ? (x === 0 ? 0 : null) : ((x - base) / Math.abs(base)) * 100 };
}

/** Mean and range of one figure over seeds; n counts the seeds that had it. */
export interface Spread {
  mean: number;
  min: number;
  max: number;
  n: number;
}

export function spreadOf(xs: readonly number[]): Spread | null {
  if (xs.length === 0) return null;
  return { mean: xs.reduce((a, x) => a + x, 0) / xs.length, min: Math.min(...xs), max: Math.max(...xs), n: xs.length };
}

/** Every figure the variant table or the verdict reads: their union, each once. */
const KEYS = [...new Set([...VARY_METRICS.map((m) => m.key), ...VERDICT_METRICS.map((m) => m.key)])];

/** Set `value` at a dotted path of `obj`, creating the objects on the way. */
function setAt(obj: Record<string, unknown>, path: string, value: unknown): void {
  const ks = path.split('.');
  let o = obj;
  for (const k of ks.slice(0, -1)) o = (o[k] ??= {}) as Record<string, unknown>;
  o[ks[ks.length - 1] as string] = value;
}

export interface SeedSummary {
  /** Per policy, per dotted metric key: mean and range over the seeds. */
  policies: Record<string, Record<string, Spread>>;
  /** The verdict decided on the means (the same rule as one seed's, sim/verdict.ts). */
  verdict?: ScenarioVerdict;
  /** Seeds whose own verdict the engine won, of those with a verdict. */
  engine_won?: { seeds: number; of: number };
}

/**
 * Mean and range over seeds of each policy's figures (`bySeed`: one { policy: metrics } per seed),
 * the verdict on the means, and how many seeds' own verdicts the engine won.
 */
export function summariseSeeds(
  scenario: string,
  bySeed: ReadonlyArray<Readonly<Record<string, MetricsLike>>>,
): SeedSummary {
  const policies = [...new Set(bySeed.flatMap((s) => Object.keys(s)))];
  const out: SeedSummary = { policies: {} };
  const means: Record<string, Record<string, unknown>> = {};
  for (const p of policies) {
    const row: Record<string, Spread> = {};
    means[p] = {};
    for (const k of KEYS) {
      const s = spreadOf(bySeed.map((b) => figure(b[p], k)).filter((x): x is number => x !== null));
      if (s) {
        row[k] = s;
        setAt(means[p], k, s.mean);
      }
    }
    out.policies[p] = row;
  }
  if (policies.includes('engine') && policies.length > 1) {
    out.verdict = verdictFor(`${scenario} (mean of ${bySeed.length} seeds)`, means);
    const decided = bySeed.map((b) => verdictFor(scenario, b).engine_wins).filter((w) => w !== null);
    out.engine_won = { seeds: decided.filter((w) => w).length, of: decided.length };
  }
  return out;
}

/** A variant's figure as the delta table and the report print it: SLO misses to 4 places, latencies as figures, the rest to 3; '–' where it is missing. */
export const fmtVaryFigure = (x: number | null, key: string): string =>
  x === null
    ? '–'
    : key === 'slo_miss_ratio'
      ? x.toFixed(4)
      : key.startsWith('latency_ms')
        ? fmtFigure(x)
        : x.toFixed(3);
