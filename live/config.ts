/**
 * The live agent's configuration (JSON): the engine config under `engine`, plus what only a host
 * needs — mode, tick, API address, state directory, journal limits, cgroup parent, PSI triggers,
 * adopt-mode selectors, pool-mode worker commands and its demand predictor. Every problem is
 * listed with its path (the CLI maps paths to file:line:col). Relative paths are resolved against
 * the config file's folder, so an example config starts as it is from any working directory.
 */
import { isAbsolute, resolve } from 'node:path';
import { z } from 'zod';
import {
  bestEffort,
  bestEffortConfig,
  ConfigError,
  configSchema,
  isObject,
  parseConfig,
  type Config,
} from '../engine/config.ts';
import { formatIssues } from '../engine/schemas.ts';
import { InputError } from '../formats/errors.ts';
import { validateGroupName } from './cpuset-group.ts';
import { validateTrigger, type TriggerSpec } from './trigger-spec.ts';
import { validateSpec } from './worker-spec.ts';

const profileName = z.string().regex(/^[A-Za-z0-9_.-]{1,64}$/, 'profile names are 1–64 of A–Z a–z 0–9 _ . -');

/** A uid: 0 … 2^32 - 2 (2^32 - 1 is the kernel's "no uid"). */
const uid = z.number().int().min(0).max(4_294_967_294);
const absolutePath = z
  .string()
  .min(2)
  .max(4096)
  .refine(
    (p) => p.startsWith('/') && !p.includes('\0') && !/(^|\/)\.\.?(\/|$)/.test(p),
    'must be an absolute path without NUL, "." or ".." segments',
  );

const rule = z.strictObject({
  profile: profileName,
  /** Exact PIDs. */
  pids: z.array(z.number().int().min(1).max(4_194_304)).max(10_000).optional(),
  /** Glob over the process's cgroup path(s) from /proc/PID/cgroup: `*` within a segment, `**` across. */
  cgroup: z.string().min(1).max(4096).optional(),
  /** Regular expression over the command line (arguments joined by spaces). Alone, spoofable by any user. */
  cmdline: z.string().min(1).max(4096).optional(),
  /** The process's real AND effective uid (/proc/PID/status) must be this one, or one of these. */
  uid: z.union([uid, z.array(uid).min(1).max(64)]).optional(),
  /** The resolved executable (/proc/PID/exe): this exact path, or any path under it when it ends with '/'. */
  exe: absolutePath.optional(),
});

const worker = z.strictObject({
  /** argv; run without a shell. The only programs the agent ever starts. */
  command: z.array(z.string().min(1).max(4096)).min(1).max(256),
  env: z
    .record(
      z
        .string()
        .regex(
          /^[A-Za-z_][A-Za-z0-9_]{0,255}$/,
          'environment names are [A-Za-z_][A-Za-z0-9_]*, at most 256 characters',
        ),
      z.string().max(65_536),
    )
    .refine((e) => Object.keys(e).length <= 256, 'at most 256 environment variables')
    .default({}),
  cwd: z.string().min(1).max(4096).optional(),
  ready_timeout_ms: z.number().int().min(100).max(600_000).default(10_000),
  stop_grace_ms: z.number().int().min(0).max(600_000).default(5_000),
});

const trigger = z.strictObject({
  resource: z.enum(['cpu', 'memory', 'io']),
  line: z.enum(['some', 'full']).default('some'),
  // the kernel's own bounds (window 0.5–10 s, stall ≤ window) are checked by validateTrigger
  stall_us: z.number().int().positive().max(10_000_000),
  window_us: z.number().int().positive().max(10_000_000),
});

/** Pool mode's start backoff and circuit breaker (live/start-guard.ts). */
const startBackoff = z.strictObject({
  /** Delay after the first failed start; doubles with each failure in a row. */
  initial_ms: z.number().int().min(10).max(60_000).default(500),
  /** Longest delay between two starts of a failing profile. */
  max_ms: z.number().int().min(100).max(3_600_000).default(30_000),
  /** Failures in a row that open the breaker (requests then get 503 + Retry-After at once). */
  open_after: z.number().int().min(1).max(100).default(5),
  /** A worker ready this long proves its command works: the failure count is forgotten. */
  stable_ms: z.number().int().min(0).max(3_600_000).default(10_000),
});

export const liveConfigSchema = z.strictObject({
  mode: z.enum(['adopt', 'pool']).default('adopt'),
  /** Seed of the engine's random streams (journalled, so a replay draws the same numbers). */
  seed: z.string().min(1).max(256).default('fgo'),
  /** Agent tick: sample, then the engine's periodic work. */
  interval_ms: z.number().int().min(100).max(600_000).default(1_000),
  listen: z.string().min(1).max(300).default('127.0.0.1:9464'),
  /**
   * A second, read-only listener serving GET /metrics only (serve/metrics-server.ts), for a
   * Prometheus that cannot reach the loopback API (the DaemonSet: "0.0.0.0:9466"). None by default.
   */
  metrics_listen: z.string().min(1).max(300).optional(),
  /** Journal, token, ownership record and demand trace live here (created 0700). */
  state_dir: z.string().min(1).max(4096).default('/var/lib/fgo'),
  /** Bearer token file for mutating endpoints; created with mode 0600 on first start. Default: state_dir/token. */
  token_file: z.string().min(1).max(4096).optional(),
  journal: z
    .strictObject({
      max_bytes: z
        .number()
        .int()
        .min(4_096)
        .max(2 ** 40)
        .default(64 * 1024 * 1024),
      keep: z.number().int().min(1).max(10_000).default(8),
    })
    .prefault({}),
  /** cpuset cgroup (relative to the cpuset hierarchy) under which each fragment gets its own group. */
  cgroup_parent: z.string().max(64).default('fgo'),
  /** PSI triggers that wake the agent between ticks; [] = sample only at interval_ms. */
  triggers: z
    .array(trigger)
    .max(16)
    .default([{ resource: 'cpu', line: 'some', stall_us: 150_000, window_us: 2_000_000 }]),
  /** Move a process's pages to its new node after a re-placement (migrate_pages). */
  migrate_memory: z.boolean().default(true),
  adopt: z
    .strictObject({
      scan_interval_ms: z.number().int().min(100).max(3_600_000).default(5_000),
      rules: z.array(rule).max(1_000).default([]),
    })
    .prefault({}),
  pool: z
    .strictObject({
      workers: z
        .record(profileName, worker)
        .refine((w) => Object.keys(w).length <= 64, 'at most 64 worker profiles')
        .default({}),
      start_backoff: startBackoff.prefault({}),
      /** Interval of the demand trace the agent records of the requests it served (seconds). */
      demand_interval_s: z.number().int().min(1).max(86_400).default(60),
    })
    .prefault({}),
  /**
   * Pool mode's demand predictor, asked once per scaling cycle; its forecasts size the warm pools
   * (live/pool-mode.ts `makePredictor`).
   */
  predictor: z
    .strictObject({
      /** An ONNX demand model (path, relative to this file); none: the EWMA predictor. */
      model: z.string().min(1).max(4096).optional(),
      /** Pool size over the Little's-law concurrency a forecast implies. */
      headroom: z.number().positive().max(100).default(2),
    })
    .prefault({}),
  engine: configSchema.prefault({}),
});

export type LiveConfig = z.infer<typeof liveConfigSchema> & { engine: Config };
export type AdoptRule = z.infer<typeof rule>;
export type WorkerConfig = z.infer<typeof worker>;

/** Problems of a live config by field path; cli/live.ts locates them in the file it read. */
export class LiveConfigError extends InputError {
  constructor(problems: string[]) {
    super(problems, 1, `invalid live config:\n  ${problems.join('\n  ')}`);
    this.name = 'LiveConfigError';
  }
}

/** Parse and cross-check a live config; `baseDir` resolves relative paths. Throws LiveConfigError. */
export function parseLiveConfig(doc: unknown, baseDir: string): LiveConfig {
  const r = liveConfigSchema.safeParse(doc);
  if (!r.success) {
    // Report the cross-field problems too, checked on what is usable, so one run lists them all.
    const problems = formatIssues(r.error.issues);
    const broken = new Set(problems.map((q) => q.split(':')[0]));
    for (const p of crossChecks(bestEffortLive(doc))) if (!broken.has(p.split(':')[0])) problems.push(p);
    throw new LiveConfigError(problems);
  }
  const c = r.data as LiveConfig;
  const problems = crossChecks(c);
  if (problems.length) throw new LiveConfigError(problems);
  const abs = (p: string) => (isAbsolute(p) ? p : resolve(baseDir, p));
  c.state_dir = abs(c.state_dir);
  c.token_file = abs(c.token_file ?? resolve(c.state_dir, 'token'));
  if (c.predictor.model !== undefined) c.predictor.model = abs(c.predictor.model);
  const workerProblems: string[] = [];
  for (const [name, w] of Object.entries(c.pool.workers)) {
    w.cwd = abs(w.cwd ?? '.');
    for (const p of validateSpec(w)) workerProblems.push(`pool.workers.${name}.command: ${p}`);
  }
  if (workerProblems.length) throw new LiveConfigError(workerProblems);
  return c;
}

/** The document's usable values over the defaults; rules and workers kept where they are objects. */
function bestEffortLive(doc: unknown): LiveConfig {
  const c = bestEffort(doc, liveConfigSchema.parse({})) as LiveConfig;
  const raw = isObject(doc) ? doc : {};
  c.engine = bestEffortConfig(raw.engine);
  const adopt = isObject(raw.adopt) ? raw.adopt : {};
  c.adopt.rules = (Array.isArray(adopt.rules) ? adopt.rules : []).filter(isObject) as AdoptRule[];
  const pool = isObject(raw.pool) ? raw.pool : {};
  c.pool.workers = Object.fromEntries(
    Object.entries(isObject(pool.workers) ? pool.workers : {}).filter(([, v]) => isObject(v)),
  ) as LiveConfig['pool']['workers'];
  return c;
}

function crossChecks(c: LiveConfig): string[] {
  const out: string[] = [];
  // The engine's own cross-field checks (weights summing to 1, …): `fgo replay` re-parses the
  // journalled config with them, so an agent must not start on a config a replay would refuse.
  try {
    parseConfig(c.engine);
  } catch (e) {
    if (!(e instanceof ConfigError)) throw e;
    out.push(...e.problems.map((p) => `engine.${p}`));
  }
  out.push(...engineBounds(c.engine, 'engine'));
  const known = new Set(Object.keys(c.engine.profiles));
  // The bind would fail with "address in use" as if another process held it; say why instead (port 0: two free ports).
  if (c.metrics_listen !== undefined && c.metrics_listen === c.listen && !c.listen.endsWith(':0'))
    out.push(
      `metrics_listen: "${c.metrics_listen}" is the API's own address (listen); the metrics listener needs a port of its own`,
    );
  const sb = c.pool.start_backoff;
  if (sb.initial_ms > sb.max_ms)
    out.push(`pool.start_backoff: initial_ms ${sb.initial_ms} is above max_ms ${sb.max_ms}`);
  try {
    validateGroupName(c.cgroup_parent);
  } catch (e) {
    out.push(`cgroup_parent: ${(e as Error).message}`);
  }
  c.triggers.forEach((t, i) => {
    try {
      validateTrigger(t as TriggerSpec);
    } catch (e) {
      out.push(`triggers.${i}: ${(e as Error).message}`);
    }
  });
  if (c.mode === 'adopt') {
    if (c.adopt.rules.length === 0)
      out.push(
        'adopt.rules: adopt mode needs at least one rule (pids, uid, exe, cgroup or cmdline) naming what to manage',
      );
    // Adopt mode never launches processes, so pools that would have to grow are a contradiction.
    for (const [name, p] of Object.entries(c.engine.profiles)) {
      if (p.pool.min > 0 || p.pool.target > 0)
        out.push(`engine.profiles.${name}.pool: adopt mode launches nothing, so pool.min and pool.target must be 0`);
    }
  }
  c.adopt.rules.forEach((r, i) => {
    if (
      r.pids === undefined &&
      r.cgroup === undefined &&
      r.cmdline === undefined &&
      r.uid === undefined &&
      r.exe === undefined
    )
      out.push(`adopt.rules.${i}: needs at least one selector: pids, uid, exe, cgroup or cmdline`);
    if (!known.has(r.profile)) out.push(`adopt.rules.${i}.profile: "${r.profile}" is not in engine.profiles`);
    if (typeof r.cmdline === 'string') {
      try {
        new RegExp(r.cmdline);
      } catch (e) {
        out.push(`adopt.rules.${i}.cmdline: not a regular expression: ${(e as Error).message}`);
      }
    }
  });
  if (c.mode === 'pool') {
    const names = Object.keys(c.pool.workers);
    if (names.length === 0) out.push('pool.workers: pool mode needs at least one worker profile with its command');
    for (const n of names) if (!known.has(n)) out.push(`pool.workers.${n}: "${n}" is not in engine.profiles`);
    for (const n of known)
      if (!c.pool.workers[n])
        out.push(`engine.profiles.${n}: pool mode needs pool.workers.${n} (the command its fragments run)`);
  }
  return out;
}

/**
 * Bounds for the engine section's numbers, by unit (the engine's schema checks their sense, not
 * their size): a live agent must not accept a 10^300 ms interval or a petabyte profile. Key suffix
 * → largest value; anything else (counts, CPUs, factors) at most 1,000,000.
 */
const ENGINE_LIMITS: readonly [suffix: string, max: number, unit: string][] = [
  ['_ms', 86_400_000, 'ms (one day)'],
  ['_kb', 2 ** 40, 'KiB (1 PiB)'],
  ['_per_s', 1_000_000, 'per second'],
  ['_s', 86_400, 's (one day)'],
];
const OTHER_MAX = 1_000_000;

/** Every number under `v` that is not finite or exceeds its unit's bound, by path. */
export function engineBounds(v: unknown, path: string): string[] {
  if (typeof v === 'number') {
    const key = path.slice(path.lastIndexOf('.') + 1);
    const [, max, unit] = ENGINE_LIMITS.find(([suffix]) => key.endsWith(suffix)) ?? ['', OTHER_MAX, ''];
    if (!Number.isFinite(v) || Math.abs(v) > max)
      return [`${path}: ${v} is out of range: at most ${max}${unit ? ` ${unit}` : ''}`];
    return [];
  }
  if (Array.isArray(v)) return v.flatMap((x, i) => engineBounds(x, `${path}.${i}`));
  if (typeof v === 'object' && v !== null)
    return Object.entries(v).flatMap(([k, x]) => engineBounds(x, `${path}.${k}`));
  return [];
}
