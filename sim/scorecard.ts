/**
 * A scorecard: every chosen scenario × policy run on the twin — each policy of a scenario on the
 * same arrivals (one scenario, one seed) — on the simulation pool (tune/pool.ts: worker threads,
 * results identical whatever their number), one run directory each, and the verdict of the
 * engine against the best baseline (verdict.ts). The output directory is built under a temporary
 * name and renamed into place, so a failed or interrupted scorecard never leaves half of one, and
 * it only ever replaces an empty directory or an earlier scorecard's (or anything, with --force).
 */
import { cpSync, writeFileSync } from 'node:fs';
import { MAX_JSON_BYTES, readInputText } from '../formats/inputs.ts';
import { dirname, join } from 'node:path';
import { InputError } from '../formats/errors.ts';
import { commitDir, discardTemp, makeTempDir, untrackTemp } from '../formats/files.ts';
import { markerText, OUTPUT_MARKER, outputDirProblem, SAFE_NAME } from '../formats/outputs.ts';
import { BASELINES, GRAPH_BLIND, hasCalls, POLICIES, type PolicyName } from './baselines.ts';
import type { MetricsSummary } from './metrics.ts';
import type { DecisionLog } from './decision-log.ts';
import { parseDuration_s } from '../formats/duration.ts';
import { checkShards, shardOf, SHARD_FILE, type Shard, type ShardDoc } from './shards.ts';
import { prepareScenario, sourceDigest, type Job } from './tune/evaluate.ts';
import { runJobs, type PoolOptions } from './tune/pool.ts';
import { TIE_TOLERANCE, VERDICT_METRICS, VERDICT_RULE, verdictFor, type ScenarioVerdict } from './verdict.ts';

export const SCORECARD_FORMAT = 'fgo-scorecard/1';
/** Files of the output directory a scenario's run directory must not shadow. */
const RESERVED = ['scorecard.json', 'report.html'];

import { FGO_VERSION } from '../formats/version.ts';

export interface PlannedScenario {
  /** As given: a bundled name or a scenario file. */
  arg: string;
  /** The scenario's own name: its directory in the output. */
  name: string;
  description: string;
  seed: string | number;
  /** Simulated seconds this scorecard runs it for. */
  duration_s: number;
  /** Some profile calls another: graph-blind runs on it (baselines.ts `policiesFor`). */
  calls: boolean;
}

/** The policies run on one scenario of the plan: graph-blind only where there are calls (on the others it is the engine). */
const policiesOn = (plan: ScorecardPlan, s: PlannedScenario): PolicyName[] =>
  plan.policies.filter((p) => p !== GRAPH_BLIND || s.calls);

/**
 * A scorecard keeps one decision in 100 by default: every metric comes from the run itself, and a
 * full compact journal of all bundled scenarios would take tens of GB (diurnal-8n's engine run
 * alone writes several GB in 24 simulated hours); the report scales the sample back up.
 */
export const DEFAULT_SCORECARD_DECISIONS: DecisionLog = { sample: 100 };

export interface ScorecardPlan {
  scenarios: PlannedScenario[];
  policies: PolicyName[];
  /** The cap on every run's simulated time; null: each scenario's own duration. */
  duration_s: number | null;
  /** How much of each run's decision stream its directory keeps (metrics never depend on it). */
  decisions: DecisionLog;
  versions: { fgo: string; node: string; source: string };
}

/**
 * Check the choice and load every scenario (its topology and traces too), so any problem is
 * found before a run starts: an InputError (exit 2) naming every problem.
 */
export function planScorecard(i: {
  scenarios: readonly string[];
  policies: readonly string[];
  duration_s: number | null;
  decisions?: DecisionLog;
}): ScorecardPlan {
  const problems: string[] = [];
  const twice = (l: readonly string[]) => [...new Set(l.filter((x, k) => l.indexOf(x) !== k))];
  for (const p of i.policies.filter((p) => !POLICIES.includes(p as PolicyName)))
    problems.push(`--policies: '${p}' is not one of ${POLICIES.join(', ')}`);
  for (const p of twice(i.policies)) problems.push(`--policies: '${p}' twice`);
  if (!i.policies.includes('engine'))
    problems.push('--policies: must include engine: the verdict compares the engine with the best baseline');
  if (!i.policies.some((p) => p !== 'engine'))
    problems.push(`--policies: needs at least one baseline beside the engine (${BASELINES.join(', ')})`);
  if (i.scenarios.length === 0) problems.push('--scenarios: none given');
  for (const s of twice(i.scenarios)) problems.push(`--scenarios: '${s}' twice`);
  const scenarios: PlannedScenario[] = [];
  for (const arg of new Set(i.scenarios)) {
    try {
      const s = prepareScenario(arg, i.duration_s).scenario;
      if (!SAFE_NAME.test(s.name) || RESERVED.includes(s.name))
        problems.push(`scenario '${arg}': its name '${s.name}' cannot name a directory of the output`);
      else if (scenarios.some((x) => x.name === s.name))
        problems.push(`scenario '${arg}': named '${s.name}', as ${scenarios.find((x) => x.name === s.name)?.arg} is`);
      else
        scenarios.push({
          arg,
          name: s.name,
          description: s.description,
          seed: s.seed,
          duration_s: parseDuration_s(s.duration),
          calls: hasCalls(s.profiles),
        });
    } catch (e) {
      if (!(e instanceof InputError)) throw e;
      problems.push(...e.problems);
    }
  }
  if (problems.length) throw new InputError(problems, 2);
  return {
    scenarios,
    policies: [...i.policies] as PolicyName[],
    duration_s: i.duration_s,
    decisions: i.decisions ?? DEFAULT_SCORECARD_DECISIONS,
    versions: { fgo: FGO_VERSION, node: process.versions.node, source: sourceDigest() },
  };
}

/**
 * Why `dir` cannot take a scorecard, if it cannot: it holds something other than an earlier fgo
 * output (a scorecard written before the marker file existed counts, by its scorecard.json).
 */
export function outDirProblem(dir: string, force = false): string | undefined {
  return outputDirProblem('--out', dir, force, isScorecard);
}

function isScorecard(dir: string): boolean {
  try {
    // Read bounded, as every input: a FIFO or a huge file named scorecard.json is simply not one.
    return (
      (JSON.parse(readInputText(join(dir, 'scorecard.json'), MAX_JSON_BYTES, 'JSON input')) as { format?: unknown })
        .format === SCORECARD_FORMAT
    );
  } catch {
    return false;
  }
}

/** Every run's key (SCENARIO/POLICY, its directory) in the fixed order shards are cut from. */
export const scorecardKeys = (plan: ScorecardPlan): string[] =>
  plan.scenarios.flatMap((s) => policiesOn(plan, s).map((p) => `${s.name}/${p}`));

/**
 * The jobs: every scenario × policy (or one shard's share of them), longest runs first (a long
 * run started last would leave the other workers idle at the end).
 */
export function scorecardJobs(plan: ScorecardPlan, dir: string, shard?: Shard): Job[] {
  const all = plan.scenarios.flatMap((s) =>
    policiesOn(plan, s).map(
      (p): Job => ({
        key: `${s.name}/${p}`,
        label: `${p} on ${s.name}`,
        scenario: s.arg,
        policy: p,
        duration_s: plan.duration_s,
        out: join(dir, s.name, p),
        decisions: plan.decisions,
        versions: { fgo: plan.versions.fgo, node: plan.versions.node },
      }),
    ),
  );
  const length = new Map(plan.scenarios.map((s) => [s.arg, s.duration_s]));
  return (shard ? shardOf(all, shard) : all).sort(
    (a, b) => (length.get(b.scenario) as number) - (length.get(a.scenario) as number),
  );
}

export type ScorecardDoc = ReturnType<typeof scorecardDoc>;

/** scorecard.json: simulated figures and inputs only, so the same plan gives the same bytes. */
export function scorecardDoc(plan: ScorecardPlan, metrics: ReadonlyMap<string, MetricsSummary>) {
  const byScenario = Object.fromEntries(
    plan.scenarios.map((s) => [
      s.name,
      Object.fromEntries(policiesOn(plan, s).map((p) => [p, metrics.get(`${s.name}/${p}`) as MetricsSummary])),
    ]),
  );
  const verdicts: ScenarioVerdict[] = plan.scenarios.map((s) =>
    verdictFor(s.name, byScenario[s.name] as Record<string, MetricsSummary>),
  );
  const which = (w: boolean | null) => verdicts.filter((v) => v.engine_wins === w).map((v) => v.scenario);
  return {
    format: SCORECARD_FORMAT,
    inputs: {
      scenarios: plan.scenarios.map((s) => s.name),
      policies: plan.policies,
      duration_s: plan.duration_s,
      runs: Object.fromEntries(
        plan.scenarios.map((s) => [
          s.name,
          {
            scenario: s.arg,
            seed: s.seed,
            duration_s: s.duration_s,
            description: s.description,
            dirs: Object.fromEntries(policiesOn(plan, s).map((p) => [p, `${s.name}/${p}`])),
          },
        ]),
      ),
      versions: plan.versions,
    },
    verdict: {
      rule: VERDICT_RULE,
      tie_tolerance: TIE_TOLERANCE,
      metrics: VERDICT_METRICS.map((m) => ({ metric: m.key, better: m.better, decisive: m.decisive })),
      engine_wins: which(true),
      engine_loses: which(false),
      undecided: which(null),
      scenarios: Object.fromEntries(verdicts.map((v) => [v.scenario, v])),
    },
    metrics: byScenario,
  };
}

export const scorecardJson = (doc: ScorecardDoc) => `${JSON.stringify(doc, null, 2)}\n`;

/**
 * Fill a temporary directory beside `dir` and put it in place only once complete — and only if
 * `dir` is still absent, empty or an earlier fgo output (or `force`).
 */
async function buildInto<T>(dir: string, force: boolean, what: string, fill: (tmp: string) => Promise<T>): Promise<T> {
  const tmp = makeTempDir(dir);
  let r: T;
  try {
    r = await fill(tmp);
  } catch (e) {
    discardTemp(tmp);
    throw e;
  }
  const problem = outDirProblem(dir, force);
  if (problem) {
    untrackTemp(tmp); // hours of runs: kept for the user to move into place
    throw new InputError([`${problem} (the ${what} is complete in ${tmp})`], 2);
  }
  commitDir(tmp, dir);
  return r;
}

/** scorecard.json and fgo's marker, written into `dir`. */
function finish(plan: ScorecardPlan, dir: string, metrics: ReadonlyMap<string, MetricsSummary>): ScorecardDoc {
  const doc = scorecardDoc(plan, metrics);
  writeFileSync(join(dir, 'scorecard.json'), scorecardJson(doc));
  writeFileSync(join(dir, OUTPUT_MARKER), markerText('scorecard'));
  return doc;
}

/** Run the plan into `dir`: DIR/SCENARIO/POLICY run directories and DIR/scorecard.json. */
export async function runScorecard(
  plan: ScorecardPlan,
  dir: string,
  pool: PoolOptions,
  force = false,
): Promise<ScorecardDoc> {
  return buildInto(dir, force, 'scorecard', async (tmp) =>
    finish(plan, tmp, await runJobs(scorecardJobs(plan, tmp), pool)),
  );
}

export const SCORECARD_SHARD_FORMAT = 'fgo-scorecard-shard/1';

/** Run one shard's share of the plan into `dir`: its run directories and DIR/shard.json (the plan, its runs' metrics) for `fgo scorecard merge`. */
export async function runScorecardShard(
  plan: ScorecardPlan,
  shard: Shard,
  dir: string,
  pool: PoolOptions,
  force = false,
): Promise<string[]> {
  return buildInto(dir, force, 'shard', async (tmp) => {
    const metrics = await runJobs(scorecardJobs(plan, tmp, shard), pool);
    // Keyed in the plan's order, so a retried shard writes the same bytes.
    const runs = Object.fromEntries(
      scorecardKeys(plan)
        .filter((k) => metrics.has(k))
        .map((k) => [k, metrics.get(k) as MetricsSummary]),
    );
    const doc: ShardDoc<ScorecardPlan> = { format: SCORECARD_SHARD_FORMAT, study: plan, shard, runs };
    writeFileSync(join(tmp, SHARD_FILE), `${JSON.stringify(doc, null, 2)}\n`);
    writeFileSync(join(tmp, OUTPUT_MARKER), markerText('scorecard-shard'));
    return Object.keys(runs);
  });
}

/**
 * `fgo scorecard merge`: shards (read by the caller) checked to be one plan and to hold every run
 * once (each problem naming its file, exit 1), their run directories copied into `dir` and the
 * scorecard.json the whole scorecard writes, byte for byte.
 */
export async function mergeScorecardShards(
  shards: ReadonlyArray<{ file: string; doc: unknown }>,
  dir: string,
  force = false,
): Promise<{ plan: ScorecardPlan; doc: ScorecardDoc }> {
  const {
    study: plan,
    runs,
    fileOf,
  } = checkShards<ScorecardPlan>(shards, SCORECARD_SHARD_FORMAT, 'fgo scorecard', scorecardKeys);
  return buildInto(dir, force, 'scorecard', async (tmp) => {
    for (const [key, file] of fileOf) cpSync(join(dirname(file), key), join(tmp, key), { recursive: true });
    return { plan, doc: finish(plan, tmp, runs) };
  });
}
