/**
 * The engine's one configuration object. Every field has the design's seed default, so `{}` is a
 * valid config; unknown keys and out-of-range values are rejected with every problem listed
 * (zod collects them all instead of stopping at the first).
 */
import { z } from 'zod';
import { graphProblems } from './graph.ts';
import { formatIssues } from './schemas.ts';
import { RESOURCES } from './types.ts';

const fraction = z.number().min(0).max(1);
const positiveMs = z.number().int().positive();

const thresholds = (low: number, medium: number, high: number, critical: number) =>
  z
    .strictObject({
      low: fraction.default(low),
      medium: fraction.default(medium),
      high: fraction.default(high),
      critical: fraction.default(critical),
    })
    .prefault({});

const poolSize = z
  .strictObject({
    min: z.number().int().min(0).max(100_000).default(0),
    target: z.number().int().min(0).max(100_000).default(0),
    max: z.number().int().min(0).max(100_000).default(64),
  })
  .prefault({});

const shaping = z.strictObject({
  /** Sustained admissions per second. */
  rate_per_s: z.number().positive(),
  /** Bucket depth: admissions allowed back to back. */
  burst: z.number().int().positive(),
  /** Longest delay shaping may impose; a request that would wait longer is deferred. */
  max_delay_ms: positiveMs.default(5_000),
});

/** Profile names, wherever a config names one: 1–64 of A–Z a–z 0–9 _ . - */
const profileName = z.string().regex(/^[A-Za-z0-9_.-]{1,64}$/, 'profile names are 1–64 of A–Z a–z 0–9 _ . -');

/** One call a request of the profile makes to another profile (engine/graph.ts); scenarios' profiles declare theirs alike. */
export const callSchema = z.strictObject({
  profile: profileName,
  /** Calls per request (fractional: a call made by that share of requests). */
  per_request: z.number().min(0).max(1_000).default(1),
  /** sync: the caller waits for the answer; async: it does not. */
  mode: z.enum(['sync', 'async']).default('sync'),
  /** Bytes the call and its answer carry together. */
  bytes: z
    .number()
    .int()
    .min(0)
    .max(1 << 30)
    .default(0),
});

export const profileSchema = z.strictObject({
  cpus: z.number().positive().max(1024).default(1),
  memory_kb: z.number().int().min(0).default(262_144),
  io_intensive: z.boolean().default(false),
  cold_start_ms: z.number().min(0).default(500),
  warm_start_ms: z.number().min(0).default(5),
  latency_slo_ms: z.number().positive().default(1_000),
  /**
   * Execution time of a request on a warm, local, uncontended fragment, until the engine has
   * measured it (pools.ts): what expected latency (latency.ts) prices a node's work with.
   */
  service_ms: z.number().positive().default(100),
  /** Share of execution bound by memory accesses: how much a request slows when its data is on another node. */
  memory_intensity: fraction.default(0.5),
  pool: poolSize,
  preferred_nodes: z.array(z.number().int().min(0)).default([]),
  /** CPUs the profile's fragments are confined to (intersected with each node's CPUs). */
  cpu_affinity: z.array(z.number().int().min(0)).default([]),
  /** Whole CPUs each fragment (or adopted process) holds alone, unless a request says otherwise. */
  exclusive_cpus: z.number().int().min(0).max(1024).default(0),
  shaping: shaping.nullable().default(null),
  /** The profiles a request of this one calls (engine/graph.ts). */
  calls: z.array(callSchema).max(64).default([]),
});

export const configSchema = z.strictObject({
  pressure: z
    .strictObject({
      thresholds: z
        .strictObject({
          cpu: thresholds(0.3, 0.6, 0.8, 0.9),
          memory: thresholds(0.2, 0.5, 0.7, 0.85),
          io: thresholds(0.4, 0.6, 0.8, 0.9),
        })
        .prefault({}),
      /** `total`: Δtotal/Δt over the last tick (fresh, what kernel triggers use), falling back to avg10. */
      signal: z.enum(['total', 'avg10']).default('total'),
      history_size: z.number().int().min(2).max(10_000).default(120),
      /** Samples in the least-squares fit behind velocity and trend. */
      trend_window: z.number().int().min(2).max(1_000).default(10),
      /** |velocity| below this (fraction per second) counts as steady. */
      trend_epsilon_per_s: z.number().min(0).default(0.005),
      horizon_s: z.number().min(0).max(3_600).default(10),
    })
    .prefault({}),
  admission: z
    .strictObject({
      retry_base_ms: positiveMs.default(1_000),
      retry_max_ms: positiveMs.default(30_000),
      /** Retry delays are multiplied by 1 ± this, from the seeded `retry` stream. */
      retry_jitter: z.number().min(0).max(0.9).default(0.2),
      /** Deferred requests held at most; a full queue also counts as overload. */
      queue_limit: z.number().int().min(1).max(1_000_000).default(10_000),
      insufficient_retry_ms: positiveMs.default(5_000),
      /**
       * Longest a request is held back for pressure, whatever its SLO leaves (which bounds it first):
       * past it, it is admitted despite the pressure. Deferral smooths a spike; unbounded deferral
       * under sustained load turns into a retry storm that keeps the pressure up by itself.
       */
      max_defer_ms: positiveMs.default(30_000),
    })
    .prefault({}),
  placement: z
    .strictObject({
      weights: z
        .strictObject({
          resource: fraction.default(0.4),
          locality: fraction.default(0.3),
          affinity: fraction.default(0.2),
          balance: fraction.default(0.1),
        })
        .prefault({}),
      cpu_share: fraction.default(0.6),
      pressure_penalty: fraction.default(0.3),
      /** Candidates within this score of the best are chosen among at random (avoids hot spots). */
      near_best_margin: z.number().min(0).max(1).default(0.02),
      /** false: always the best node (lowest id among exact ties), no random draw at all. */
      jitter: z.boolean().default(true),
      /** Shared CPU demand allowed per shared CPU. */
      cpu_overcommit: z.number().min(0.1).max(64).default(1),
      /**
       * CPUs per node never handed out exclusively, so warm and shared fragments keep somewhere to
       * run. 0 lets adopt mode pin one process per CPU on a node running no shared fragment.
       */
      min_shared_cpus: z.number().int().min(0).max(1024).default(1),
      /**
       * Re-placement of adopted processes (adopt mode, like numad): when the busiest node's load
       * exceeds the idlest's by more than `gap`, move one adopted process per `max_moves` from the
       * first to the second, and not the same process again within `cooldown_ms` (no ping-pong).
       */
      rebalance: z
        .strictObject({
          gap: fraction.default(0.25),
          max_moves: z.number().int().min(0).max(1_000).default(1),
          cooldown_ms: positiveMs.default(300_000),
        })
        .prefault({}),
    })
    .prefault({}),
  scaling: z
    .strictObject({
      interval_ms: positiveMs.default(30_000),
      /** The percentile of each pool's concurrency its warm fragments cover (engine/warmth.ts). */
      cover: z.number().min(0.5).max(0.999999).default(0.999),
    })
    .prefault({}),
  health: z
    .strictObject({
      interval_ms: positiveMs.default(5_000),
      unhealthy_below: fraction.default(0.5),
      heartbeat_interval_ms: positiveMs.default(5_000),
      heartbeat_timeout_ms: positiveMs.default(15_000),
      /** Error rate at which the error signal reaches zero. */
      error_rate_max: z.number().positive().max(1).default(0.5),
      /** RSS above profile memory × this counts as a leak. */
      leak_factor: z.number().min(1).default(1.5),
      recovery_timeout_ms: positiveMs.default(30_000),
      /** Failed attempts of one strategy before escalating to the next. */
      max_attempts: z.number().int().min(1).max(100).default(3),
      /** Completions remembered per fragment for error rate and latency. */
      window: z.number().int().min(1).max(10_000).default(20),
    })
    .prefault({}),
  default_profile: profileSchema.prefault({}),
  profiles: z.record(profileName, profileSchema).default({}),
  /**
   * The fragment graph's terms (engine/graph.ts): placement near callers and callees, callees
   * warmed before their callers' cold starts, demand flowing down the calls, callers failed fast
   * while a sync dependency is down. false: the engine ignores the calls (graph-blind).
   */
  graph: z.strictObject({ enabled: z.boolean().default(true) }).prefault({}),
  limits: z
    .strictObject({
      max_fragments: z.number().int().min(1).max(1_000_000).default(100_000),
    })
    .prefault({}),
});

export type Config = z.infer<typeof configSchema>;
export type Profile = z.infer<typeof profileSchema>;

export class ConfigError extends Error {
  constructor(readonly problems: string[]) {
    super(`invalid config:\n  ${problems.join('\n  ')}`);
    this.name = 'ConfigError';
  }
}

/** Checks that need several fields at once; run once the shape is valid. */
function crossChecks(c: Config): string[] {
  const out: string[] = [];
  for (const r of RESOURCES) {
    const t = c.pressure.thresholds[r];
    if (!(t.low < t.medium && t.medium < t.high && t.high < t.critical)) {
      out.push(
        `pressure.thresholds.${r}: must rise strictly low < medium < high < critical (got ${t.low}, ${t.medium}, ${t.high}, ${t.critical})`,
      );
    }
  }
  const w = c.placement.weights;
  const sum = w.resource + w.locality + w.affinity + w.balance;
  if (Math.abs(sum - 1) > 1e-6) out.push(`placement.weights: must sum to 1 (got ${sum})`);
  if (c.admission.retry_base_ms > c.admission.retry_max_ms)
    out.push('admission.retry_base_ms: must not exceed admission.retry_max_ms');
  if (c.health.heartbeat_interval_ms >= c.health.heartbeat_timeout_ms)
    out.push('health.heartbeat_interval_ms: must be below health.heartbeat_timeout_ms');
  const pools: Array<[string, Profile]> = [
    ['default_profile', c.default_profile],
    ...Object.entries(c.profiles).map(([k, p]) => [`profiles.${k}`, p] as [string, Profile]),
  ];
  for (const [at, p] of pools) {
    if (!(p.pool.min <= p.pool.target && p.pool.target <= p.pool.max)) {
      out.push(`${at}.pool: must satisfy min ≤ target ≤ max (got ${p.pool.min}, ${p.pool.target}, ${p.pool.max})`);
    }
  }
  out.push(...graphProblems(c.profiles));
  if (c.default_profile.calls.length)
    out.push('default_profile.calls: only named profiles may call others (a call needs a caller the graph can name)');
  return out;
}

const isObject = (v: unknown): v is Record<string, unknown> => typeof v === 'object' && v !== null && !Array.isArray(v);

/**
 * The document's values laid over the defaults wherever they have the default's type. Lets the
 * cross-field checks run, and report, even when other fields are broken.
 */
function bestEffort(raw: unknown, dflt: unknown): unknown {
  if (!isObject(dflt)) return typeof raw === typeof dflt && Array.isArray(raw) === Array.isArray(dflt) ? raw : dflt;
  if (!isObject(raw)) return dflt;
  const out: Record<string, unknown> = {};
  for (const k of Object.keys(dflt)) out[k] = k in raw ? bestEffort(raw[k], dflt[k]) : dflt[k];
  return out;
}

/** Parse and validate a config document; throws ConfigError listing every problem. */
export function parseConfig(doc: unknown): Config {
  const r = configSchema.safeParse(doc ?? {});
  if (r.success) {
    const problems = crossChecks(r.data);
    if (problems.length) throw new ConfigError(problems);
    return r.data;
  }
  const problems = formatIssues(r.error.issues);
  for (const p of crossChecks(bestEffortConfig(doc)))
    if (!problems.some((q) => q.split(':')[0] === p.split(':')[0])) problems.push(p);
  throw new ConfigError(problems);
}

/** A config document that failed validation, its usable values laid over the defaults (for cross-checks). */
export function bestEffortConfig(doc: unknown): Config {
  const defaults = configSchema.parse({});
  const merged = bestEffort(doc, defaults) as Config;
  const rawProfiles = isObject(doc) && isObject(doc.profiles) ? doc.profiles : {};
  merged.profiles = Object.fromEntries(
    Object.entries(rawProfiles).map(([k, v]) => [k, bestEffort(v, defaults.default_profile) as Profile]),
  );
  return merged;
}

/**
 * `over` laid on `base` key by key, objects merged all the way down (arrays and other values
 * replace): how a config file overrides a scenario's engine settings, and a tuning trial the
 * defaults. `deepMerge({ pressure: { horizon_s: 5 } }, { pressure: { signal: 'avg10' } })` keeps both.
 */
function deepMerge(base: Record<string, unknown>, over: Record<string, unknown>): Record<string, unknown> {
  const out: Record<string, unknown> = { ...base };
  for (const [k, v] of Object.entries(over))
    out[k] = isObject(v) && isObject(out[k]) ? deepMerge(out[k] as Record<string, unknown>, v) : v;
  return out;
}

export { bestEffort, deepMerge, isObject };

export const defaultConfig = (): Config => parseConfig({});

export function profileOf(c: Config, name: string): Profile {
  return c.profiles[name] ?? c.default_profile;
}
