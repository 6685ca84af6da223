/**
 * The search space of `fgo tune`: what a trial changes, how trial k's candidate is drawn, and how
 * a candidate is laid over a scenario. A candidate is a pure function of (seed, k) — never of what
 * other trials found — so any machine can run any slice of a sweep and get the same candidates.
 */
import seedrandom from 'seedrandom';
import { deepMerge } from '../../engine/config.ts';
import { defaultConfig, parseConfig, RESOURCES, type Config, type Resource } from '../../engine/index.ts';
import { scenarioSchema, type Scenario, type SimProfile } from '../scenario.ts';
import { roundTo } from '../../engine/round.ts';

/** Bumped whenever sampling or application changes: shards of different spaces must not merge. */
export const SPACE_VERSION = 'space/1';

export interface Thresholds {
  low: number;
  medium: number;
  high: number;
  critical: number;
}

export interface TuneParams {
  thresholds: Record<Resource, Thresholds>;
  weights: { resource: number; locality: number; affinity: number; balance: number };
  admission: { max_defer_ms: number };
  /**
   * Warm-pool floor as a multiple of each profile's mean concurrency (arrival rate × time in
   * service, Little's law): pool.min = round(pool_floor × concurrency). Why not pool.target: in the
   * twin the demand predictor sends a prediction every scaling cycle, and a prediction replaces the
   * configured target (engine/scaling.ts), so only min and max bound what pools do. Why a factor:
   * per-profile numbers would not transfer to held-out scenarios, whose profiles differ.
   */
  pool_floor: number;
}

/** The design's defaults (engine/config.ts) for every tuned knob; pool_floor 0 keeps each scenario's pools. */
export function defaultParams(): TuneParams {
  const c: Config = defaultConfig();
  const t = c.pressure.thresholds;
  return {
    thresholds: { cpu: { ...t.cpu }, memory: { ...t.memory }, io: { ...t.io } },
    weights: { ...c.placement.weights },
    admission: { max_defer_ms: c.admission.max_defer_ms },
    pool_floor: 0,
  };
}

/** Four levels within [0.05, 0.95] at 0.01 resolution, strictly rising (engine/config.ts checks it). */
function drawThresholds(rng: () => number): Thresholds {
  const v = [rng(), rng(), rng(), rng()].map((u) => roundTo(0.05 + 0.9 * u, 2)).sort((a, b) => a - b);
  for (let i = 1; i < 4; i++)
    if ((v[i] as number) <= (v[i - 1] as number)) v[i] = roundTo((v[i - 1] as number) + 0.01, 2);
  const [low, medium, high, critical] = v as [number, number, number, number];
  return { low, medium, high, critical };
}

/**
 * Weights normalised to sum 1 at 4 decimals: the first three rounded, the last 1 − their sum
 * (rounded too), so parseConfig's |sum − 1| ≤ 1e-6 check always passes.
 */
function drawWeights(rng: () => number): TuneParams['weights'] {
  const raw = [rng(), rng(), rng(), rng()].map((u) => 0.05 + 0.95 * u);
  const sum = raw.reduce((a, b) => a + b, 0);
  const [resource, locality, affinity] = raw.slice(0, 3).map((x) => roundTo(x / sum, 4)) as [number, number, number];
  return { resource, locality, affinity, balance: roundTo(1 - resource - locality - affinity, 4) };
}

/**
 * Trial k's candidate. Trial 0 is the design's defaults (the baseline every score is measured
 * against). Other trials change each group of knobs (each resource's thresholds, the weights,
 * max_defer_ms, the pool floor) with probability ½ and keep the default otherwise:
 * a few dozen trials of 18 independent uniform draws would land almost always far from anything
 * sensible in some dimension; sparse changes let one good change show instead of being drowned.
 */
export function sampleParams(seed: string, k: number): TuneParams {
  const p = defaultParams();
  if (k === 0) return p;
  const rng = seedrandom.alea(`${seed}/trial/${k}`);
  const change = () => rng() < 0.5;
  for (const r of RESOURCES) if (change()) p.thresholds[r] = drawThresholds(rng);
  if (change()) p.weights = drawWeights(rng);
  // Log-uniform over 250 ms … 60 s, in 50-ms steps: deferral matters on a log scale.
  if (change())
    p.admission.max_defer_ms = Math.max(250, Math.round(Math.exp(Math.log(250) + rng() * Math.log(240)) / 50) * 50);
  if (change()) p.pool_floor = roundTo(1.5 * rng(), 2);
  return p;
}

/** The engine config document of a candidate's knobs: what `fgo sim --config` or a scenario's `engine` takes. */
export function engineOverrides(p: TuneParams): Record<string, unknown> {
  return {
    pressure: { thresholds: p.thresholds },
    placement: { weights: p.weights },
    admission: { max_defer_ms: p.admission.max_defer_ms },
  };
}

/** Throws ConfigError if a candidate is not a valid engine config (the sampler must never produce one). */
export function checkParams(p: TuneParams): void {
  parseConfig(engineOverrides(p));
}

/** Mean arrivals per second of a generator (0 for `none`: trace-driven profiles get no floor). */
function meanRate(p: SimProfile): number {
  const a = p.arrival;
  if (a.kind === 'poisson' || a.kind === 'diurnal') return a.rate_per_s;
  if (a.kind === 'bursty')
    return (a.on_rate_per_s * a.mean_on_s + a.off_rate_per_s * a.mean_off_s) / (a.mean_on_s + a.mean_off_s);
  return 0;
}

/** Each profile's pool once the floor is applied (never below the scenario's own min, never above max). */
export function poolsFor(
  s: Scenario,
  pool_floor: number,
): Record<string, { min: number; target: number; max: number }> {
  const out: Record<string, { min: number; target: number; max: number }> = {};
  for (const [name, prof] of Object.entries(s.profiles).sort((a, b) => (a[0] < b[0] ? -1 : 1))) {
    const max = prof.pool.max ?? 256;
    const concurrency = meanRate(prof) * ((prof.cpu_ms.mean + prof.io_ms + prof.warm_start_ms) / 1000);
    const min = Math.min(max, Math.max(prof.pool.min ?? 0, Math.round(pool_floor * concurrency)));
    out[name] = { min, target: Math.min(max, Math.max(prof.pool.target ?? 0, min)), max };
  }
  return out;
}

/**
 * The scenario with a candidate laid over it: the knobs deep-merged into its engine overrides (so
 * e.g. its cpu_overcommit stays) and its profiles' pools floored. The baseline therefore replaces
 * a scenario's own tuned knobs too (diurnal-8n ships locality-leaning weights) with the design's.
 */
export function applyParams(s: Scenario, p: TuneParams): Scenario {
  const pools = poolsFor(s, p.pool_floor);
  const profiles = Object.fromEntries(Object.entries(s.profiles).map(([k, prof]) => [k, { ...prof, pool: pools[k] }]));
  return scenarioSchema.parse({ ...s, profiles, engine: deepMerge(s.engine, engineOverrides(p)) });
}
