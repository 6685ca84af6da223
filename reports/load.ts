/**
 * Reading run directories (docs/formats.md "The run directory") for the report: the small files
 * (run.json, metrics.json, faults.json, wall.json, histograms.json) read whole and checked, and
 * each run labelled. Run directories can be large — a 24-hour run's decisions.jsonl is hundreds of
 * MB — so the timeseries and the decision journal are not read here: aggregate.ts streams them
 * once into at most a few hundred bins per run, which keeps a 24-hour, 64-node report small and
 * quick to open.
 */
import { existsSync, readdirSync, statSync } from 'node:fs';
import { basename, dirname, join } from 'node:path';
import { InputError } from '../formats/errors.ts';
import { MAX_JSON_BYTES, readInputText } from '../formats/inputs.ts';
import { lineColAt, MAX_JSON_DEPTH, nestingTooDeep } from '../formats/json.ts';
import { wallFromFile } from '../formats/wall.ts';
import { z } from 'zod';
import { parseDuration_s } from '../formats/duration.ts';
import { cdfOf } from './histograms.ts';

const level = z.object({ low: z.number(), medium: z.number(), high: z.number(), critical: z.number() });
/** Only the parts of run.json the report uses; everything else passes through untouched. */
const runJsonSchema = z.looseObject({
  policy: z.string(),
  seed: z.union([z.string(), z.number()]).transform(String),
  scenario: z.looseObject({
    name: z.string(),
    duration: z.union([z.string(), z.number()]),
    profiles: z
      .record(
        z.string(),
        z.looseObject({
          cpu_ms: z.looseObject({ mean: z.number().optional() }).optional(),
          io_ms: z.number().optional(),
          warm_start_ms: z.number().optional(),
        }),
      )
      .default({}),
  }),
  engine_config: z.looseObject({
    pressure: z.looseObject({ thresholds: z.object({ cpu: level, memory: level, io: level }) }),
    scaling: z.looseObject({ interval_ms: z.number().positive() }),
  }),
  /** How much of the decision stream the run kept (sim/decision-log.ts DecisionLog); absent: compact. */
  decisions: z.union([z.string(), z.looseObject({ sample: z.number().int().positive() })]).optional(),
});
export type RunJson = z.infer<typeof runJsonSchema>;

const metricsSchema = z.looseObject({
  latency_ms: z.looseObject({ p50: z.number(), p95: z.number(), p99: z.number(), max: z.number() }),
  local_access_ratio: z.number(),
});
export type MetricsJson = z.infer<typeof metricsSchema> & Record<string, unknown>;

const faultSchema = z.array(
  z.object({
    kind: z.string(),
    target: z.string(),
    injected_s: z.number(),
    detected_s: z.number().nullable(),
    recovered_s: z.number().nullable(),
  }),
);
export type FaultRow = z.infer<typeof faultSchema>[number];

/** The small files of one run directory, validated. */
export interface RunMeta {
  dir: string;
  /** Unique display name: the policy when that tells runs apart, else more of the path. */
  label: string;
  run: RunJson;
  metrics: MetricsJson;
  faults: FaultRow[];
  wall?: Record<string, unknown>;
  duration_s: number;
  /** The latency CDF from histograms.json (overall, and end to end when the run made calls); absent in older run directories. */
  cdf?: { overall: Array<{ p: number; ms: number }>; e2e?: Array<{ p: number; ms: number }> };
}

/**
 * Run directories from what the user named: a run directory itself, or a directory of them (what
 * `fgo compare` writes), which stands for every run directory inside it, sorted by name.
 */
export function expandRunDirs(dirs: readonly string[]): string[] {
  const out: string[] = [];
  for (const d of dirs) {
    if (existsSync(join(d, 'run.json')) || !existsSync(d) || !statSync(d).isDirectory()) {
      out.push(d);
      continue;
    }
    const inner = readdirSync(d)
      .sort()
      .map((n) => join(d, n))
      .filter((p) => existsSync(join(p, 'run.json')));
    out.push(...(inner.length ? inner : [d]));
  }
  return out;
}

function readJsonFile<T>(file: string, schema: z.ZodType<T>, problems: string[]): T | undefined {
  if (!existsSync(file)) {
    problems.push(`${file}: missing`);
    return undefined;
  }
  let value: unknown;
  try {
    const text = readInputText(file, MAX_JSON_BYTES, 'run files');
    const deep = nestingTooDeep(text, MAX_JSON_DEPTH);
    if (deep) {
      const at = lineColAt(text, deep.offset);
      problems.push(`${file}:${at.line}:${at.col}: nested deeper than ${MAX_JSON_DEPTH} levels`);
      return undefined;
    }
    value = JSON.parse(text);
  } catch (e) {
    problems.push(...(e instanceof InputError ? e.problems : [`${file}: not JSON: ${(e as Error).message}`]));
    return undefined;
  }
  const r = schema.safeParse(value);
  if (!r.success) {
    for (const i of r.error.issues) problems.push(`${file}: ${i.path.join('.') || '(top)'}: ${i.message}`);
    return undefined;
  }
  return r.data;
}

/** Read and validate the small files of every run; all problems of all runs in one error. */
export function readRuns(dirs: readonly string[]): RunMeta[] {
  const problems: string[] = [];
  const runs: RunMeta[] = [];
  if (dirs.length === 0) problems.push('no run directory given');
  for (const dir of dirs) {
    if (!existsSync(dir) || !statSync(dir).isDirectory()) {
      problems.push(`${dir}: not a directory`);
      continue;
    }
    const run = readJsonFile(join(dir, 'run.json'), runJsonSchema, problems);
    const metrics = readJsonFile(join(dir, 'metrics.json'), metricsSchema, problems) as MetricsJson | undefined;
    const faults = existsSync(join(dir, 'faults.json'))
      ? readJsonFile(join(dir, 'faults.json'), faultSchema, problems)
      : [];
    const wallRaw = existsSync(join(dir, 'wall.json'))
      ? readJsonFile(join(dir, 'wall.json'), z.record(z.string(), z.unknown()), problems)
      : undefined;
    const wall = wallRaw && wallFromFile(wallRaw);
    if (!existsSync(join(dir, 'timeseries.csv'))) problems.push(`${join(dir, 'timeseries.csv')}: missing`);
    if (!run || !metrics || !faults) continue;
    let duration_s = NaN;
    try {
      duration_s = parseDuration_s(run.scenario.duration);
    } catch (e) {
      problems.push(`${join(dir, 'run.json')}: scenario.duration: ${(e as Error).message}`);
    }
    const cdf = readCdf(dir, problems);
    runs.push({ dir, label: '', run, metrics, faults, ...(wall ? { wall } : {}), duration_s, ...(cdf ? { cdf } : {}) });
  }
  if (problems.length) throw new InputError(problems);
  labelRuns(runs);
  return runs;
}

const histogramsSchema = z.looseObject({
  format: z.literal('fgo-histograms/1'),
  unit: z.literal('us'),
  overall: z.string(),
  e2e: z.string().optional(),
});

/** The CDFs of histograms.json, when the run directory has one (each problem named by file). */
function readCdf(dir: string, problems: string[]): RunMeta['cdf'] {
  const file = join(dir, 'histograms.json');
  if (!existsSync(file)) return undefined;
  const h = readJsonFile(file, histogramsSchema, problems);
  if (!h) return undefined;
  const overall = cdfOf(h.overall);
  const e2e = h.e2e === undefined ? undefined : cdfOf(h.e2e);
  for (const [k, r] of [
    ['overall', overall],
    ['e2e', e2e],
  ] as const)
    if (r && 'problem' in r) problems.push(`${file}: ${k}: ${r.problem}`);
  if ('problem' in overall || (e2e && 'problem' in e2e)) return undefined;
  return { overall: overall.points, ...(e2e && 'points' in e2e && h.e2e !== h.overall ? { e2e: e2e.points } : {}) };
}

/**
 * Policy names when they are unique; otherwise scenario/policy, then the enclosing directory and
 * the policy (a --vary compare's VARIANT/POLICY), then the directory name, then a number.
 */
function labelRuns(runs: RunMeta[]): void {
  const unique = (f: (r: RunMeta) => string) => new Set(runs.map(f)).size === runs.length;
  const pick = [
    (r: RunMeta) => r.run.policy,
    (r: RunMeta) => `${r.run.scenario.name}/${r.run.policy}`,
    (r: RunMeta) => `${basename(dirname(r.dir))}/${r.run.policy}`,
    (r: RunMeta) => basename(r.dir),
  ].find(unique);
  for (const [i, r] of runs.entries()) r.label = pick ? pick(r) : `${i + 1}: ${basename(r.dir)}`;
}
