/**
 * A population of serverless functions drawn from the published characterisation of Azure
 * Functions (Shahrad et al., "Serverless in the Wild", USENIX ATC 2020, section 3), expanded into
 * ordinary scenario profiles, so a scenario can hold hundreds of functions in a few lines.
 *
 * The figures used, and how:
 * - Invocation rates: 45 % of applications are invoked once per hour or less on average, 81 % once
 *   per minute or less, over 8 orders of magnitude. A lognormal through those two points:
 *   log10(rate per s) ~ N(−3.333, 1.772²) (Φ⁻¹(0.45) = −0.126, Φ⁻¹(0.81) = 0.878), clipped to
 *   [min_rate_per_s, max_rate_per_s] — one host carries a slice of a region's functions, and its
 *   busiest functions are scaled out elsewhere.
 * - Triggers (share of functions): HTTP 55 %, queue 15 %, event 2 %, timer 16 %, orchestration 7 %,
 *   other 5 %. HTTP, orchestration and other arrive as Poisson processes; queue and event
 *   functions in bursts (on a quarter of the time at 4 × their mean rate, on/off periods of 120
 *   and 360 s on average — the paper gives no burst shape, so this is ours); timers fire on a
 *   fixed period, their rate's period snapped to the nearest
 *   of 1, 5, 10, 15, 30 minutes, 1 hour and 1 day.
 * - Execution time: the average execution time per function is lognormal with μ = −0.38 and
 *   σ = 2.36 (natural log of seconds; median 0.68 s), capped at max_exec_ms; each invocation
 *   draws around its function's mean (lognormal, σ 0.5). Here all of it is CPU time.
 * - Memory: half of the applications allocate at most 170 MB, 90 % at most 400 MB: lognormal with
 *   median 170 MB and σ = ln(400/170)/1.2816 = 0.667.
 * Not in the characterisation, so stated here: cold starts lognormal with median 1 s and σ 0.5;
 * an SLO of twice the function's mean execution time plus 100 ms (a cold start breaks it for
 * short functions, not for long ones); priorities 10 % low, 80 % normal, 10 % high.
 */
import { z } from 'zod';
import { makeRng, normal, type Rng } from './random.ts';

export const populationSchema = z.strictObject({
  count: z.number().int().min(1).max(5_000),
  /** Profile names are PREFIX-000, PREFIX-001, … */
  prefix: z
    .string()
    .regex(/^[A-Za-z0-9_.-]{1,32}$/)
    .default('fn'),
  min_rate_per_s: z.number().positive().default(1e-5),
  max_rate_per_s: z.number().positive().default(1),
  max_exec_ms: z.number().positive().default(5_000),
  /** Where each invocation's data lives (as a profile's `home`). */
  home: z.union([z.enum(['none', 'random']), z.number().int().min(0)]).default('none'),
});
export type Population = z.infer<typeof populationSchema>;

const LOG10_RATE = { mean: -3.333, sd: 1.772 };
const EXEC_S = { mu: -0.38, sigma: 2.36 };
const MEMORY_MB = { median: 170, sigma: 0.667 };
const COLD_MS = { median: 1000, sigma: 0.5 };
const TRIGGERS = [
  ['http', 0.55],
  ['queue', 0.15],
  ['event', 0.02],
  ['timer', 0.16],
  ['orchestration', 0.07],
  ['other', 0.05],
] as const;
const TIMER_PERIODS_S = [60, 300, 600, 900, 1800, 3600, 86_400];
const BURST = { share: 0.25, mean_on_s: 120, mean_off_s: 360 };

export type Trigger = (typeof TRIGGERS)[number][0];

function pick(rng: Rng): Trigger {
  let u = rng();
  for (const [t, share] of TRIGGERS) {
    u -= share;
    if (u < 0) return t;
  }
  return 'other';
}

/** The arrival process a trigger implies at a mean rate (a profile's `arrival`). */
function arrivalFor(trigger: Trigger, rate_per_s: number): Record<string, unknown> {
  if (trigger === 'timer') {
    // The period nearest the rate's on a log scale: timers run on round schedules.
    const want = Math.log(1 / rate_per_s);
    const period_s = TIMER_PERIODS_S.reduce((a, b) =>
      Math.abs(Math.log(b) - want) < Math.abs(Math.log(a) - want) ? b : a,
    );
    return { kind: 'periodic', period_s };
  }
  if (trigger === 'queue' || trigger === 'event') {
    return {
      kind: 'bursty',
      on_rate_per_s: rate_per_s / BURST.share,
      off_rate_per_s: 0,
      mean_on_s: BURST.mean_on_s,
      mean_off_s: BURST.mean_off_s,
    };
  }
  return { kind: 'poisson', rate_per_s };
}

const round = (x: number, digits: number) => Number(x.toPrecision(digits));

/**
 * The population's profiles (plain objects, validated by the scenario schema), named
 * PREFIX-NNN, each with a `trigger` note in the map returned beside them. Drawn from one seeded
 * stream: the same spec and seed always give the same functions.
 */
export function expandPopulation(
  p: Population,
  seed: string | number,
): { profiles: Record<string, Record<string, unknown>>; triggers: Record<string, Trigger> } {
  const rng = makeRng(seed, `population:${p.prefix}`);
  const width = String(p.count - 1).length;
  const profiles: Record<string, Record<string, unknown>> = {};
  const triggers: Record<string, Trigger> = {};
  for (let i = 0; i < p.count; i++) {
    const name = `${p.prefix}-${String(i).padStart(Math.max(3, width), '0')}`;
    // Every draw in a fixed order per function, so adding functions never changes earlier ones.
    const rate = Math.min(
      p.max_rate_per_s,
      Math.max(p.min_rate_per_s, 10 ** (LOG10_RATE.mean + LOG10_RATE.sd * normal(rng))),
    );
    const exec_ms = Math.min(p.max_exec_ms, 1000 * Math.exp(EXEC_S.mu + EXEC_S.sigma * normal(rng)));
    const memory_mb = MEMORY_MB.median * Math.exp(MEMORY_MB.sigma * normal(rng));
    const cold_ms = COLD_MS.median * Math.exp(COLD_MS.sigma * normal(rng));
    const trigger = pick(rng);
    triggers[name] = trigger;
    profiles[name] = {
      cpu_ms: { dist: 'lognormal', mean: round(exec_ms, 4), sigma: 0.5 },
      memory_mb: round(memory_mb, 4),
      request_mb: 0,
      cold_start_ms: Math.round(cold_ms),
      warm_start_ms: 5,
      memory_intensity: 0.3,
      priority_mix: [0.1, 0.8, 0.1, 0],
      home: p.home,
      slo_ms: Math.round(2 * exec_ms + 100),
      arrival: arrivalFor(trigger, rate),
    };
  }
  return { profiles, triggers };
}
