/**
 * Scenario files: everything one simulated run needs — topology, profile catalogue, workload,
 * recorded PSI, faults, duration, seed and engine config — as one validated JSON document.
 * Bundled scenarios live in sim/scenarios/NAME.json; `fgo sim` flags override their fields.
 */
import { existsSync } from 'node:fs';
import { z } from 'zod';
import { problemsOf } from '../engine/index.ts';
import { callSchema } from '../engine/config.ts';
import { graphProblems } from '../engine/graph.ts';
import { locate, readJson } from '../formats/jsonfile.ts';
import { InputError } from '../formats/errors.ts';
import { durationSeconds, MAX_DURATION_S, parseDuration_s } from '../formats/duration.ts';
import { SAFE_NAME } from '../formats/outputs.ts';
import { didYouMean } from '../formats/suggest.ts';
import { expandPopulation, populationSchema } from './population.ts';
import {
  MAX_FAULTS,
  MAX_POOL,
  MAX_PROFILES,
  MAX_RATE_PER_S,
  MIN_PERIOD_S,
  scenarioWorkProblems,
} from './scenario-limits.ts';

const duration = z.union([
  z.number().min(0).max(MAX_DURATION_S),
  z
    .string()
    .regex(/^\d+(\.\d+)?(ms|s|m|h|d)?$/, 'a duration such as 90s, 30m or 24h')
    .refine((v) => (durationSeconds(v) ?? 0) <= MAX_DURATION_S, `at most ${MAX_DURATION_S / 86_400} days`),
]);
/** An arrival rate: 0 or more, at most MAX_RATE_PER_S (a higher one is a typo, and its run would never end). */
const rate = z.number().min(0).max(MAX_RATE_PER_S);
/** A mean period of a random process: at least MIN_PERIOD_S, so simulated time always moves on. */
const period = z.number().min(MIN_PERIOD_S);

const cpuDist = z.discriminatedUnion('dist', [
  z.strictObject({ dist: z.literal('const'), mean: z.number().positive() }),
  z.strictObject({ dist: z.literal('exp'), mean: z.number().positive() }),
  /** Lognormal with the given mean and the sigma of the underlying normal. */
  z.strictObject({ dist: z.literal('lognormal'), mean: z.number().positive(), sigma: z.number().min(0).max(4) }),
]);

const arrival = z.discriminatedUnion('kind', [
  z.strictObject({ kind: z.literal('poisson'), rate_per_s: rate }),
  /**
   * Non-homogeneous Poisson: rate × (1 + day·sin(2π(t + phase_h)/day) + week·sin(2πt/week)) ×
   * hourly lognormal noise. The daily peak is at 6 h − phase_h (phase_h moves it earlier).
   */
  z.strictObject({
    kind: z.literal('diurnal'),
    rate_per_s: rate,
    day_amplitude: z.number().min(0).max(1).default(0.5),
    week_amplitude: z.number().min(0).max(1).default(0.1),
    noise: z.number().min(0).max(2).default(0.1),
    phase_h: z.number().default(0),
  }),
  /** On/off (two-state Markov-modulated Poisson): exponential on and off periods. */
  z.strictObject({
    kind: z.literal('bursty'),
    on_rate_per_s: rate,
    off_rate_per_s: rate,
    mean_on_s: period,
    mean_off_s: period,
  }),
  /** Non-homogeneous Poisson whose rate follows straight lines between [t_s, rate_per_s] points (held after the last). */
  z.strictObject({
    kind: z.literal('piecewise'),
    points: z
      .array(z.tuple([z.number().min(0).max(MAX_DURATION_S), rate]))
      .min(1)
      .max(10_000)
      .refine(
        (ps) => ps.every((p, i) => i === 0 || p[0] > (ps[i - 1] as [number, number])[0]),
        'points must be in increasing t_s order',
      ),
  }),
  /** A timer: one arrival every period_s, the first at phase_s (drawn within the first period when absent). */
  z.strictObject({
    kind: z.literal('periodic'),
    period_s: period,
    phase_s: z.number().min(0).max(MAX_DURATION_S).optional(),
  }),
  z.strictObject({ kind: z.literal('none') }),
]);

export const simProfileSchema = z.strictObject({
  cpu_ms: cpuDist.default({ dist: 'exp', mean: 50 }),
  /** CPU cores a request uses while it runs (1 for single-threaded work). */
  cpus: z.number().positive().max(64).default(1),
  /** Memory a fragment holds, warm or active. */
  memory_mb: z.number().min(0).default(256),
  /** Working memory a request declares — what schedulers book for it while it runs. */
  request_mb: z.number().min(0).default(32),
  /**
   * What a request really touches, when it differs from what it declares (requests against usage,
   * as in Kubernetes): drawn per request; absent, the declared request_mb.
   */
  working_set_mb: cpuDist.optional(),
  cold_start_ms: z.number().min(0).default(800),
  warm_start_ms: z.number().min(0).default(5),
  /** Device time per request (0: no I/O). */
  io_ms: z.number().min(0).default(0),
  /** Share of execution bound by memory accesses: scales the remote-memory slowdown. */
  memory_intensity: z.number().min(0).max(1).default(0.5),
  priority_mix: z
    .tuple([z.number().min(0), z.number().min(0), z.number().min(0), z.number().min(0)])
    .default([0.1, 0.7, 0.2, 0]),
  /** Where a request's data lives: nowhere in particular, a random node per request, or one node. */
  home: z.union([z.enum(['none', 'random']), z.number().int().min(0)]).default('random'),
  slo_ms: z.number().positive().default(1000),
  pool: z
    .strictObject({
      min: z.number().int().min(0).max(MAX_POOL),
      target: z.number().int().min(0).max(MAX_POOL),
      max: z.number().int().min(0).max(MAX_POOL),
    })
    .partial()
    .default({}),
  arrival: arrival.default({ kind: 'none' }),
  /** The profiles a request of this one calls when its own work is done (sim/calls.ts, engine/graph.ts). */
  calls: z.array(callSchema).max(64).default([]),
});

const fault = z.strictObject({
  /** outage: every fragment of `profile` dies, and each that starts within `duration` dies as it comes up. */
  kind: z.enum(['crash', 'hang', 'slow', 'cpu_offline', 'leak', 'outage']),
  /** Scheduled instant, or… */
  at: duration.optional(),
  /** …a rate (Poisson) over the run. */
  rate_per_h: z
    .number()
    .positive()
    .max(MAX_RATE_PER_S * 3600)
    .optional(),
  /** Target: a profile's fragment (crash, hang, slow, leak) or a node (cpu_offline). */
  profile: z.string().optional(),
  node: z.number().int().min(0).optional(),
  /** cpu_offline: back online after this long (default: stays off); outage: how long it lasts (default 1 minute). */
  duration: duration.optional(),
  /** slow: work multiplier; leak: MB per second. */
  factor: z.number().positive().optional(),
});

export const scenarioSchema = z
  .strictObject({
    /** Names the run's default output directory: a safe path component. */
    name: z
      .string()
      .regex(SAFE_NAME, "1 to 64 letters, digits, '_', '.' or '-' (not '.' or '..'): it names the output directory"),
    description: z.string().default(''),
    seed: z.union([z.number().int(), z.string().min(1)]).default(1),
    duration: duration.default('1h'),
    topology: z.string().default('2n-32c'),
    profiles: z
      .record(z.string().regex(SAFE_NAME), simProfileSchema)
      .refine((p) => Object.keys(p).length <= MAX_PROFILES, `at most ${MAX_PROFILES} profiles`)
      .default({}),
    /** A demand (`t_s,profile,count`) or request trace replacing the generators. */
    workload: z.string().optional(),
    /**
     * Traces replayed beside the generators (a demand or request trace each); a profile they name
     * that the catalogue lacks takes `profile` (default: the catalogue's defaults).
     */
    replay: z
      .array(z.strictObject({ file: z.string(), profile: simProfileSchema.optional() }))
      .max(64)
      .default([]),
    /** A population of generated functions added to the catalogue (sim/population.ts). */
    functions: populationSchema.optional(),
    /** A recorded PSI trace shown to the policy (overlay: added to the twin's own; replace: instead of it). */
    psi: z.strictObject({ file: z.string(), mode: z.enum(['overlay', 'replace']).default('overlay') }).optional(),
    /**
     * A host recording replayed as a neighbour's work that really runs (sim/background.ts): on
     * `node`, or spread evenly over the nodes with CPUs; `copies` neighbours like it; `cpus` of the
     * recording host when its jiffies cannot tell.
     */
    background: z
      .strictObject({
        file: z.string(),
        node: z.number().int().min(0).optional(),
        copies: z.number().int().min(1).max(1000).default(1),
        cpus: z.number().int().min(1).max(4096).optional(),
      })
      .optional(),
    faults: z.array(fault).max(MAX_FAULTS).default([]),
    /** Engine config overrides (engine/config.ts); profile entries merge over the catalogue's. */
    engine: z.record(z.string(), z.unknown()).default({}),
    /** Memory used on every node by everything that is not a fragment. */
    background_mem_mb: z.number().min(0).default(0),
    /** I/O requests the device serves at once. */
    io_parallelism: z.number().int().min(1).max(4096).default(4),
    timeseries_interval_s: z.number().int().min(1).max(86_400).default(1),
    /** How often the shell samples the host and ticks the policy (the live agent's interval). */
    agent_interval_s: z.number().int().min(1).max(60).default(1),
  })
  .superRefine((s, ctx) => {
    // Work the run would take, bounded before it starts (sim/scenario-limits.ts).
    for (const p of scenarioWorkProblems(s)) ctx.addIssue({ code: 'custom', path: p.path, message: p.message });
    // The calls form one valid graph: known targets, no cycle of sync calls.
    for (const p of graphProblems(s.profiles)) {
      const at = p.indexOf(': ');
      ctx.addIssue({
        code: 'custom',
        path: p
          .slice(0, at)
          .split('.')
          .map((k) => (/^\d+$/.test(k) ? Number(k) : k)),
        message: p.slice(at + 2),
      });
    }
    s.faults.forEach((f, i) => {
      if (f.kind === 'outage' && (f.profile === undefined || !(f.profile in s.profiles)))
        ctx.addIssue({
          code: 'custom',
          path: ['faults', i, 'profile'],
          message: 'an outage needs the profile that goes down, one of the catalogue',
        });
    });
  })
  .transform((s) => {
    // A function population joins the catalogue as ordinary profiles (named profiles win), so every
    // consumer of a scenario sees one catalogue. Expanding again gives the same profiles.
    if (!s.functions) return s;
    const drawn = expandPopulation(s.functions, s.seed).profiles;
    const profiles: Record<string, z.infer<typeof simProfileSchema>> = {};
    for (const [name, p] of Object.entries(drawn)) profiles[name] = simProfileSchema.parse(p);
    return { ...s, profiles: { ...profiles, ...s.profiles } };
  });

export type Scenario = z.infer<typeof scenarioSchema>;
export type SimProfile = z.infer<typeof simProfileSchema>;
export type FaultSpec = z.infer<typeof fault>;

const BUNDLED = new URL('./scenarios/', import.meta.url);

export function bundledScenarios(): string[] {
  return [
    'default',
    'diurnal-8n',
    'burst-2n',
    'numa-stress-4n',
    'psi-replay-1n',
    'faults-8n',
    'scale-64n',
    'noisy-neighbor-2n',
    'overload-2n',
    'memory-thrash-4n',
    'faas-azure',
    'graph-4n',
  ];
}

/** A bundled name or a file; every problem located by file:line:col. */
export function loadScenario(nameOrFile: string): Scenario {
  const bundled = new URL(`${nameOrFile}.json`, BUNDLED).pathname;
  const file = /^[A-Za-z0-9_.-]+$/.test(nameOrFile) && existsSync(bundled) ? bundled : nameOrFile;
  // A name that is neither is a usage error (exit 2), like every bad argument; a typo gets a suggestion.
  if (!existsSync(file))
    throw new InputError(
      [
        `scenario '${nameOrFile}': neither a bundled scenario (${bundledScenarios().join(', ')}) nor a file${didYouMean(nameOrFile, bundledScenarios())}`,
      ],
      2,
    );
  const { value, text } = readJson(file);
  const problems = problemsOf(scenarioSchema, value);
  if (problems.length) throw new InputError(locate(file, text, problems));
  const s = scenarioSchema.parse(value);
  const late = faultsAfterEnd(s);
  if (late.length) throw new InputError(locate(file, text, late));
  return s;
}

/**
 * Faults a scenario schedules after its own end: never injected, so a mistake. (A run shortened
 * by --duration or a scorecard's cap legitimately ends before some; that is not checked here.)
 */
function faultsAfterEnd(s: Scenario): string[] {
  const end_s = parseDuration_s(s.duration);
  return s.faults.flatMap((f, i) =>
    f.at !== undefined && parseDuration_s(f.at) >= end_s
      ? [
          `faults.${i}.at: ${f.at} is not before the end of the run (duration ${s.duration}); the fault would never be injected`,
        ]
      : [],
  );
}

const ROOT = new URL('../', import.meta.url).pathname;

/** A path named in a scenario: as given if it exists from here, else from the project root (bundled files). */
export function resolvePath(p: string): string {
  if (p.startsWith('/') || existsSync(p)) return p;
  return `${ROOT}${p}`;
}

export function parseScenario(value: unknown): Scenario {
  const problems = problemsOf(scenarioSchema, value);
  if (problems.length) throw new InputError(problems.map((p) => `scenario: ${p}`));
  return scenarioSchema.parse(value);
}
