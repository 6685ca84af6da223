/**
 * `fgo compare`'s runs on the simulation pool (sim/tune/pool.ts with cli/compare-job.ts: every
 * policy, on every --vary variant, in parallel, each into its own run directory), its
 * comparison.json, and its shards: `--shard i/n` runs a slice of the runs and writes shard.json
 * beside them; `fgo compare merge` joins shards into what the whole command writes. Results are
 * keyed by run, never by timing, so comparison.json is the same bytes whatever the worker count
 * or the sharding.
 */
import { createHash } from 'node:crypto';
import { cpSync, writeFileSync } from 'node:fs';
import { parseDuration_s } from '../formats/duration.ts';
import { dirname, join, resolve } from 'node:path';
import { timeAxisOf, type AggregatedRun } from '../reports/axis.ts';
import type { PolicyName } from '../sim/baselines.ts';
import type { MetricsSummary } from '../sim/metrics.ts';
import type { RunInputs } from '../sim/run.ts';
import type { Scenario } from '../sim/scenario.ts';
import { checkShards, shardFile, shardOf, SHARD_FILE, type Shard, type ShardDoc } from '../sim/shards.ts';
import { sourceDigest } from '../sim/tune/evaluate.ts';
import { runJobs } from '../sim/tune/pool.ts';
import { summariseSeeds } from '../sim/vary.ts';
import { verdictFor } from '../sim/verdict.ts';
import { FGO_VERSION } from '../formats/version.ts';
import type { CompareJob, CompareRun } from './compare-job.ts';
import { readJson } from '../formats/jsonfile.ts';
import { inputFlags, type SimFlags } from './prepare.ts';
import { poolProgress } from './progress.ts';
import { variantFlags, type Vary, type VaryKey } from './vary.ts';

export const COMPARE_SHARD_FORMAT = 'fgo-compare-shard/1';
export const COMPARE_TASK = new URL('./compare-job.ts', import.meta.url).href;

/** Everything that decides a comparison's results: its shards merge only if theirs are identical. */
export interface CompareSpec {
  flags: SimFlags;
  policies: PolicyName[];
  vary: { key: VaryKey; values: string[] } | null;
  scenario: { name: string; description: string; seed: Scenario['seed']; duration: Scenario['duration'] };
  /** --vary only: each variant's directory, value and the seed and topology it ran with. */
  variants: Array<{ label: string; value: string; seed: Scenario['seed']; topology: Scenario['topology'] }>;
  /** The prepared inputs (scenario, topology, traces read): shards from machines whose files differ must not merge. */
  inputs_digest: string;
  versions: { fgo: string; node: string; source: string };
}

type Prepared = Omit<RunInputs, 'policy'>;

export function compareSpec(
  f: SimFlags,
  vary: Vary | undefined,
  prepared: readonly Prepared[],
  policies: PolicyName[],
): CompareSpec {
  const first = prepared[0] as Prepared;
  const h = createHash('sha256');
  for (const p of prepared) h.update(JSON.stringify(p)).update('\u0000');
  return {
    flags: inputFlags(f),
    policies,
    vary: vary ? { key: vary.key, values: vary.variants.map((v) => v.value) } : null,
    scenario: {
      name: first.scenario.name,
      description: first.scenario.description,
      seed: first.scenario.seed,
      duration: first.scenario.duration,
    },
    variants: vary
      ? vary.variants.map((v, i) => ({
          label: v.label,
          value: v.value,
          seed: (prepared[i] as Prepared).scenario.seed,
          topology: (prepared[i] as Prepared).scenario.topology,
        }))
      : [],
    inputs_digest: h.digest('hex').slice(0, 16),
    versions: { fgo: FGO_VERSION, node: process.versions.node, source: sourceDigest() },
  };
}

/** Every run in the fixed order shards are cut from: each variant's policies (or just the policies), into DIR/[VARIANT/]POLICY. */
export function compareJobs(spec: CompareSpec, dir: string): CompareJob[] {
  const vary = spec.vary;
  const units = vary
    ? spec.variants.map((v) => ({
        prefix: `${v.label}/`,
        flags: variantFlags(spec.flags, vary.key, v.value),
        on: `${spec.scenario.name} (${vary.key}=${v.value})`,
      }))
    : [{ prefix: '', flags: spec.flags, on: spec.scenario.name }];
  return units.flatMap((u) =>
    spec.policies.map(
      (p): CompareJob => ({
        key: `${u.prefix}${p}`,
        label: `${p} on ${u.on}`,
        flags: u.flags,
        policy: p,
        out: join(dir, `${u.prefix}${p}`),
      }),
    ),
  );
}

/**
 * The report's bins for a comparison's runs, known from their inputs before they run (each
 * variant's inputs once per policy, as compareJobs orders them), so each job can fold its own run.
 */
export function reportBins(
  prepared: readonly Prepared[],
  policies: readonly PolicyName[],
): { bin_s: number; heat_bin_s: number } {
  const runs = prepared.flatMap((p) => {
    const run = {
      duration_s: parseDuration_s(p.scenario.duration),
      interval_s: Number(p.scenario.timeseries_interval_s ?? 1),
      nodes: Math.max(1, p.topology.json.nodes.length),
    };
    return policies.map(() => run);
  });
  const { bin_s, heat_bin_s } = timeAxisOf(runs);
  return { bin_s, heat_bin_s };
}

/**
 * The comparison's runs (all, or one shard's) on `workers` threads, into `dir`; with `report`
 * (reportBins), each job also folds its run for the report.
 */
export async function runCompare(
  spec: CompareSpec,
  dir: string,
  workers: number,
  shard?: Shard,
  report?: CompareJob['report'],
): Promise<Map<string, CompareRun>> {
  const all = compareJobs(spec, dir).map((j) => (report ? { ...j, report } : j));
  const jobs = shard ? shardOf(all, shard) : all;
  const progress = poolProgress(
    shard ? `compare shard ${shard.index}/${shard.count}` : `compare ${spec.scenario.name}`,
    jobs,
  );
  return runJobs<CompareJob, CompareRun>(
    jobs,
    { workers, onDone: progress.onDone, onProgress: progress.onProgress },
    COMPARE_TASK,
  ).finally(progress.finish);
}

/** A shard's shard.json: its runs' metrics by key (no wall times, so a retried shard writes the same file). */
export function shardJson(spec: CompareSpec, shard: Shard, runs: ReadonlyMap<string, CompareRun>): string {
  const doc: ShardDoc<CompareSpec> = {
    format: COMPARE_SHARD_FORMAT,
    study: spec,
    shard,
    runs: Object.fromEntries([...runs].map(([k, r]) => [k, r.metrics])),
  };
  return `${JSON.stringify(doc, null, 2)}\n`;
}

/** comparison.json's document (and the verdicts), from every run's metrics. */
export function comparisonDoc(spec: CompareSpec, metricsOf: (key: string) => MetricsSummary) {
  const policyMetrics = (prefix: string) =>
    Object.fromEntries(spec.policies.map((p) => [p, metricsOf(`${prefix}${p}`)]));
  const verdictOn = (name: string, m: Record<string, MetricsSummary>) =>
    spec.policies.includes('engine') && spec.policies.length > 1 ? verdictFor(name, m) : undefined;
  const { name, seed, duration } = spec.scenario;
  if (!spec.vary) {
    const m = policyMetrics('');
    const verdict = verdictOn(name, m);
    return {
      comparison: { scenario: name, seed, duration, policies: m, ...(verdict ? { verdict } : {}) },
      verdict,
      variants: undefined,
      seeds: undefined,
    };
  }
  const variants = spec.variants.map((v) => {
    const m = policyMetrics(`${v.label}/`);
    const verdict = verdictOn(`${name}/${v.label}`, m);
    return {
      label: v.label,
      value: v.value,
      seed: v.seed,
      topology: v.topology,
      policies: m,
      ...(verdict ? { verdict } : {}),
    };
  });
  const seeds =
    spec.vary.key === 'seed'
      ? {
          spread: 'min-max',
          ...summariseSeeds(
            name,
            variants.map((v) => v.policies),
          ),
        }
      : undefined;
  return {
    comparison: {
      scenario: name,
      duration,
      vary: spec.vary,
      policies: spec.policies,
      variants,
      ...(seeds ? { over_seeds: seeds } : {}),
    },
    verdict: undefined,
    variants,
    seeds,
  };
}

export type Comparison = ReturnType<typeof comparisonDoc>;

/**
 * comparison.json, report.html (reports/report.ts reads the comparison back) and fgo's marker,
 * written into `dir`; `runs`' series folded by their jobs are used, not read again.
 */
export async function finishCompare(
  dir: string,
  spec: CompareSpec,
  c: Comparison,
  marker: (dir: string) => void,
  runs?: ReadonlyMap<string, CompareRun>,
): Promise<void> {
  writeFileSync(join(dir, 'comparison.json'), `${JSON.stringify(c.comparison, null, 2)}\n`);
  const { writeReport } = await import('../reports/report.ts');
  const aggregated = new Map<string, AggregatedRun>();
  for (const [key, r] of runs ?? []) if (r.aggregated) aggregated.set(resolve(dir, key), r.aggregated);
  await writeReport([dir], join(dir, 'report.html'), { title: `fgo compare: ${spec.scenario.name}`, aggregated });
  marker(dir);
}

/** `fgo compare merge`: the shards checked (every problem naming its file, exit 1), every run directory copied into `dir`. */
export function mergeCompareShards(
  args: readonly string[],
  dir: string,
): { spec: CompareSpec; comparison: Comparison } {
  const docs = args.map(shardFile).map((file) => ({ file, doc: readJson(file).value }));
  const {
    study: spec,
    runs,
    fileOf,
  } = checkShards<CompareSpec>(docs, COMPARE_SHARD_FORMAT, 'fgo compare', (s) => compareJobs(s, '').map((j) => j.key));
  for (const [key, file] of fileOf) cpSync(join(dirname(file), key), join(dir, key), { recursive: true });
  return { spec, comparison: comparisonDoc(spec, (k) => runs.get(k) as MetricsSummary) };
}

export { SHARD_FILE };
