/**
 * A tuning sweep: run trials (all, or one shard's slice), merge shards, and finalise — score every
 * trial against trial 0 (the design defaults), pick the best (ties to the lower trial), evaluate
 * it and the defaults on the held-out scenarios and write the report. Everything in a result is
 * simulated and keyed by trial, never by timing, so a sweep run in shards and merged gives the
 * same file, byte for byte, as the sweep run at once, whatever the worker counts.
 */
import { readJson } from '../../formats/jsonfile.ts';
import { InputError } from '../../formats/errors.ts';
import type { MetricsSummary } from '../metrics.ts';
import { loadScenario } from '../scenario.ts';
import { prepareScenario, scenarioDigest, sourceDigest, type Job } from './evaluate.ts';
import {
  compareRuns,
  FLOORS,
  missingMetrics,
  OBJECTIVE_METRICS,
  OBJECTIVE_VERSION,
  score,
  type ScenarioMetrics,
  type Weights,
} from './objective.ts';
import { runJobs, type PoolOptions } from './pool.ts';
import { engineOverrides, poolsFor, sampleParams, SPACE_VERSION, type TuneParams } from './space.ts';

export const RESULT_FORMAT = 'fgo-tune/1';
export const SHARD_FORMAT = 'fgo-tune-shard/1';

import { FGO_VERSION } from '../../formats/version.ts';
import { roundTo } from '../../engine/round.ts';

const currentVersions = () => ({
  fgo: FGO_VERSION,
  node: process.versions.node,
  space: SPACE_VERSION,
  objective: OBJECTIVE_VERSION,
  source: sourceDigest(),
});

export interface TrialRecord {
  trial: number;
  params: TuneParams;
  metrics: ScenarioMetrics;
}

export interface ShardDoc {
  format: typeof SHARD_FORMAT;
  sweep: SweepSpec;
  shard: { index: number; count: number };
  trials: TrialRecord[];
}

export interface SpecInput {
  seed: string;
  trials: number;
  scenarios: string[];
  holdout: string[];
  duration_s: number | null;
  holdout_duration_s: number | null;
  weights: Weights;
}

/** Everything that decides a sweep's results; shards merge only if theirs are identical. */
export interface SweepSpec extends SpecInput {
  scenario_digests: Record<string, string>;
  versions: { fgo: string; node: string; space: string; objective: string; source: string };
}

/** The sweep's spec; loads every scenario once, so a bad name or file fails here, before any work. */
export function makeSpec(i: SpecInput): SweepSpec {
  const problems: string[] = [];
  if (!Number.isInteger(i.trials) || i.trials < 1)
    problems.push(`--trials: ${i.trials}: need a whole number ≥ 1 (trial 0 is the defaults)`);
  if (i.scenarios.length === 0) problems.push('--scenarios: none given');
  const dup = (l: string[]) => l.filter((s, k) => l.indexOf(s) !== k);
  for (const s of dup(i.scenarios)) problems.push(`--scenarios: '${s}' twice`);
  for (const s of dup(i.holdout)) problems.push(`--holdout: '${s}' twice`);
  for (const s of i.holdout.filter((h) => i.scenarios.includes(h)))
    problems.push(`--holdout: '${s}' is also tuned on: a held-out scenario must be unseen`);
  if (problems.length) throw new InputError(problems, 2);
  const digests: Record<string, string> = {};
  for (const s of i.scenarios) prepareScenario(s, i.duration_s);
  for (const s of i.holdout) prepareScenario(s, i.holdout_duration_s);
  for (const s of [...i.scenarios, ...i.holdout].sort()) digests[s] = scenarioDigest(s);
  return {
    seed: i.seed,
    trials: i.trials,
    scenarios: i.scenarios,
    holdout: i.holdout,
    duration_s: i.duration_s,
    holdout_duration_s: i.holdout_duration_s,
    weights: { ...i.weights },
    scenario_digests: digests,
    versions: currentVersions(),
  };
}

/** Shard i of n takes trials k with k % n === i. */
export const shardTrials = (trials: number, index: number, count: number): number[] =>
  Array.from({ length: trials }, (_, k) => k).filter((k) => k % count === index);

/** Run trials `ks` on every tuning scenario. */
export async function runTrials(spec: SweepSpec, ks: readonly number[], pool: PoolOptions): Promise<TrialRecord[]> {
  const jobs: Job[] = [];
  const params = new Map(ks.map((k) => [k, sampleParams(spec.seed, k)]));
  for (const k of ks)
    for (const s of spec.scenarios)
      jobs.push({
        key: `${k}/${s}`,
        label: `trial ${k} on ${s}`,
        scenario: s,
        params: params.get(k) as TuneParams,
        duration_s: spec.duration_s,
      });
  const res = await runJobs(jobs, pool);
  return ks.map((k) => ({
    trial: k,
    params: params.get(k) as TuneParams,
    metrics: Object.fromEntries(spec.scenarios.map((s) => [s, res.get(`${k}/${s}`) as MetricsSummary])),
  }));
}

export async function runShard(spec: SweepSpec, index: number, count: number, pool: PoolOptions): Promise<ShardDoc> {
  return {
    format: SHARD_FORMAT,
    sweep: spec,
    shard: { index, count },
    trials: await runTrials(spec, shardTrials(spec.trials, index, count), pool),
  };
}

/** The command that reruns the sweep in one process (shards merged give the same result). */
function commandOf(spec: SweepSpec): string {
  const d = (x: number | null) => (x === null ? 'full' : `${x}s`);
  const w = OBJECTIVE_METRICS.map((k) => `${k}=${spec.weights[k]}`).join(',');
  return `fgo tune --scenarios ${spec.scenarios.join(',')} --holdout ${spec.holdout.join(',') || 'none'} --trials ${spec.trials} --seed ${spec.seed} --duration ${d(spec.duration_s)} --holdout-duration ${d(spec.holdout_duration_s)} --weights ${w} --out FILE`;
}

const pct = (a: number, b: number) => (a === 0 ? null : Math.round(((b - a) / a) * 10000) / 100);

/** Held out: the defaults and the best on scenarios the sweep never saw (one run each if they are the same). */
function holdoutJobs(spec: SweepSpec, base: TrialRecord, best: TrialRecord): Job[] {
  const jobs: Job[] = [];
  const who =
    best.trial === 0
      ? ([['defaults', base.params]] as const)
      : ([
          ['defaults', base.params],
          ['tuned', best.params],
        ] as const);
  for (const [w, params] of who)
    for (const s of spec.holdout)
      jobs.push({
        key: `${w}/${s}`,
        label: `held-out ${w} (trial ${w === 'tuned' ? best.trial : 0}) on ${s}`,
        scenario: s,
        params,
        duration_s: spec.holdout_duration_s,
      });
  return jobs;
}

/** The tuned candidate against the defaults on the held-out scenarios: objective, its terms, each scenario. */
function holdoutSummary(spec: SweepSpec, hd: ScenarioMetrics, ht: ScenarioMetrics) {
  const d = score(hd, hd, spec.weights),
    t = score(ht, hd, spec.weights);
  return {
    objective: {
      defaults: roundTo(d.objective, 6),
      tuned: roundTo(t.objective, 6),
      change_pct: pct(d.objective, t.objective),
    },
    beats_defaults: t.objective < d.objective,
    /** Per objective metric, the mean over held-out scenarios of metric ÷ max(defaults' metric, floor): the objective's terms. */
    ratios: Object.fromEntries(
      Object.entries(t.ratios).map(([k, v]) => [
        k,
        { defaults: roundTo((d.ratios as Record<string, number>)[k] as number, 6), tuned: roundTo(v, 6) },
      ]),
    ),
    scenarios: Object.fromEntries(
      spec.holdout.map((s) => [s, compareRuns(hd[s] as MetricsSummary, ht[s] as MetricsSummary)]),
    ),
  };
}

/** Score every trial, pick the best, evaluate it and the defaults on held-out scenarios: the result document. */
export async function finalize(spec: SweepSpec, records: readonly TrialRecord[], pool: PoolOptions) {
  const trials = [...records].sort((a, b) => a.trial - b.trial);
  const base = trials[0];
  if (base?.trial !== 0 || trials.length !== spec.trials)
    throw new Error('finalize: every trial 0…N−1 is needed, once');
  const missing = missingMetrics(spec.weights, base.metrics);
  if (OBJECTIVE_METRICS.every((k) => spec.weights[k] === 0 || missing.includes(k)))
    throw new InputError([`objective: no weighted metric is in the runs' metrics (missing: ${missing.join(', ')})`], 2);
  const scored = trials.map((t) => ({ t, s: score(t.metrics, base.metrics, spec.weights) }));
  let best = scored[0] as (typeof scored)[number];
  for (const x of scored) if (x.s.objective < best.s.objective) best = x; // strict: ties keep the lower trial

  const res = await runJobs(holdoutJobs(spec, base, best.t), pool);
  const held = (w: string): ScenarioMetrics =>
    Object.fromEntries(
      spec.holdout.map((s) => [s, res.get(`${w}/${s}`) ?? (res.get(`defaults/${s}`) as MetricsSummary)]),
    );
  const hd = held('defaults'),
    ht = held('tuned');
  const holdout = spec.holdout.length === 0 ? null : holdoutSummary(spec, hd, ht);
  const pools = (p: TuneParams) =>
    Object.fromEntries(
      [...spec.scenarios, ...spec.holdout].sort().map((s) => [s, poolsFor(loadScenario(s), p.pool_floor)]),
    );
  return {
    format: RESULT_FORMAT,
    sweep: spec,
    command: commandOf(spec),
    objective: {
      weights: spec.weights,
      missing,
      floors: FLOORS,
      definition:
        "mean over scenarios of Σ weight·metric ÷ max(defaults' metric on that scenario, floor), ÷ Σ weights; defaults ≈ 1, lower is better",
    },
    baseline: {
      trial: 0,
      objective: roundTo(scored[0]?.s.objective as number, 6),
      params: base.params,
      engine_config: engineOverrides(base.params),
    },
    tuned: {
      trial: best.t.trial,
      objective: roundTo(best.s.objective, 6),
      params: best.t.params,
      engine_config: engineOverrides(best.t.params),
      pools: pools(best.t.params),
    },
    tuning: {
      objective: {
        defaults: roundTo(scored[0]?.s.objective as number, 6),
        tuned: roundTo(best.s.objective, 6),
        change_pct: pct(scored[0]?.s.objective as number, best.s.objective),
      },
      scenarios: Object.fromEntries(
        spec.scenarios.map((s) => [
          s,
          compareRuns(base.metrics[s] as MetricsSummary, best.t.metrics[s] as MetricsSummary),
        ]),
      ),
    },
    holdout,
    ranking: [...scored]
      .sort((a, b) => a.s.objective - b.s.objective || a.t.trial - b.t.trial)
      .slice(0, 10)
      .map((x) => x.t.trial),
    trials: scored.map(({ t, s }) => ({
      trial: t.trial,
      objective: roundTo(s.objective, 6),
      ratios: Object.fromEntries(Object.entries(s.ratios).map(([k, v]) => [k, roundTo(v, 6)])),
      params: t.params,
    })),
  };
}

export type ResultDoc = Awaited<ReturnType<typeof finalize>>;

/** The whole sweep in one process: every trial, then finalize. */
export async function runSweep(spec: SweepSpec, pool: PoolOptions): Promise<ResultDoc> {
  return finalize(spec, await runTrials(spec, shardTrials(spec.trials, 0, 1), pool), pool);
}

/** JSON with every object's keys sorted: the same data always gives the same bytes. */
export function canonicalJson(v: unknown): string {
  const sort = (x: unknown): unknown => {
    if (Array.isArray(x)) return x.map(sort);
    if (x && typeof x === 'object')
      return Object.fromEntries(
        Object.keys(x)
          .sort()
          .map((k) => [k, sort((x as Record<string, unknown>)[k])]),
      );
    return x;
  };
  return `${JSON.stringify(sort(v), null, 2)}\n`;
}

/**
 * Shard outputs checked to be one sweep and to cover every trial exactly once; every problem is
 * named by its file (exit 1). Each trial's candidate is re-drawn and compared, so a shard from a
 * build that samples differently is caught even if it claims the same versions.
 */
export function checkShards(files: ReadonlyArray<{ file: string; doc: unknown }>): {
  spec: SweepSpec;
  records: TrialRecord[];
} {
  const problems: string[] = [];
  const shards: Array<{ file: string; doc: ShardDoc }> = [];
  for (const { file, doc } of files) {
    const d = doc as Partial<ShardDoc> | null;
    if (!d || typeof d !== 'object' || d.format !== SHARD_FORMAT || !d.sweep || !d.shard || !Array.isArray(d.trials))
      problems.push(`${file}: not a shard of \`fgo tune --shard\` (format ${SHARD_FORMAT})`);
    else shards.push({ file, doc: d as ShardDoc });
  }
  const first = shards[0];
  if (!first) throw new InputError(problems.length ? problems : ['no shard files given']);
  const spec = first.doc.sweep,
    n = first.doc.shard.count;
  const byIndex = new Map<number, string>();
  const seen = new Map<number, string>();
  const records: TrialRecord[] = [];
  for (const { file, doc } of shards) {
    const differ = Object.keys({ ...spec, ...doc.sweep }).filter(
      (k) =>
        canonicalJson((spec as unknown as Record<string, unknown>)[k]) !==
        canonicalJson((doc.sweep as unknown as Record<string, unknown>)[k]),
    );
    if (differ.length) {
      problems.push(
        `${file}: not the same sweep as ${first.file}: ${differ.map((k) => `sweep.${k}`).join(', ')} differ`,
      );
      continue;
    }
    const { index, count } = doc.shard;
    if (count !== n) problems.push(`${file}: shard ${index}/${count}, but ${first.file} is one of ${n}`);
    else if (byIndex.has(index)) problems.push(`${file}: shard ${index}/${count} again (also ${byIndex.get(index)})`);
    byIndex.set(index, file);
    for (const t of doc.trials) {
      if (t.trial % count !== index || t.trial >= spec.trials)
        problems.push(`${file}: trial ${t.trial} does not belong to shard ${index}/${count} of ${spec.trials} trials`);
      else if (seen.has(t.trial)) problems.push(`${file}: trial ${t.trial} again (also in ${seen.get(t.trial)})`);
      else if (canonicalJson(t.params) !== canonicalJson(sampleParams(spec.seed, t.trial)))
        problems.push(`${file}: trial ${t.trial}'s candidate is not the one seed '${spec.seed}' draws here`);
      else if (spec.scenarios.some((s) => !t.metrics?.[s]))
        problems.push(`${file}: trial ${t.trial} lacks the metrics of some of ${spec.scenarios.join(', ')}`);
      else {
        seen.set(t.trial, file);
        records.push(t);
      }
    }
  }
  const lost = Array.from({ length: spec.trials }, (_, k) => k).filter((k) => !seen.has(k));
  if (lost.length && !problems.length) {
    const shardsLost = [...new Set(lost.map((k) => k % n))].sort((a, b) => a - b);
    problems.push(
      `missing trials ${lost.slice(0, 20).join(', ')}${lost.length > 20 ? ', …' : ''} (shard${shardsLost.length > 1 ? 's' : ''} ${shardsLost.map((i) => `${i}/${n}`).join(', ')})`,
    );
  }
  if (problems.length) throw new InputError(problems);
  return { spec, records };
}

/** `fgo tune merge`: read shard files, check them, finalize. */
export async function mergeShards(files: readonly string[], pool: PoolOptions): Promise<ResultDoc> {
  // readJson names the file, and the line and column of a JSON error.
  const docs = files.map((file) => ({ file, doc: readJson(file).value }));
  const { spec, records } = checkShards(docs);
  const here = currentVersions();
  const other = (Object.keys(here) as Array<keyof typeof here>).filter((k) => spec.versions[k] !== here[k]);
  if (other.length)
    throw new InputError([
      `${files[0]}: made by ${other.map((k) => `${k} ${spec.versions[k]}`).join(', ')}; this is ${other.map((k) => `${k} ${here[k]}`).join(', ')}: held-out runs here would not match`,
    ]);
  for (const s of [...spec.scenarios, ...spec.holdout]) {
    if (scenarioDigest(s) !== spec.scenario_digests[s])
      throw new InputError([
        `scenario '${s}' here is not the one the shards ran (digest ${scenarioDigest(s)}, shards ${spec.scenario_digests[s]})`,
      ]);
  }
  return finalize(spec, records, pool);
}
