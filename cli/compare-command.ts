/**
 * `fgo compare` and `fgo compare merge`: several policies (and with --vary, several variants) on
 * identical arrivals, one run directory each, comparison.json, the report and a table; or one
 * shard of the runs, joined later by merge. The runs themselves are cli/compare.ts's.
 */
import { readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import type { Command } from 'commander';
import { InputError } from '../formats/errors.ts';
import { markerText, OUTPUT_MARKER } from '../formats/outputs.ts';
import { didYouMean } from '../formats/suggest.ts';
import { wallFromFile } from '../formats/wall.ts';
import { GRAPH_BLIND, POLICIES, policiesFor, type PolicyName } from '../sim/baselines.ts';
import type { MetricsSummary } from '../sim/metrics.ts';
import type { RunInputs } from '../sim/run.ts';
import { parseShard, SHARD_FILE, type Shard } from '../sim/shards.ts';
import { verdictInWords, verdictTable } from '../sim/verdict.ts';
import {
  compareSpec,
  comparisonDoc,
  finishCompare,
  mergeCompareShards,
  reportBins,
  runCompare,
  shardJson,
  type CompareSpec,
  type Comparison,
} from './compare.ts';
import type { CompareRun } from './compare-job.ts';
import { buildOutput, checkOutDir, printShard } from './output-dir.ts';
import { predictorFor, prepare, prepareVariant, type SimFlags } from './prepare.ts';
import { workersFlag } from './run-flags.ts';
import { table, type TableRow } from './run-table.ts';
import { simOptions } from './sim-options.ts';
import { conflictingFlag, MAX_VARIANTS, parseVary, VARY_KEYS, varyTable, type Vary } from './vary.ts';

const compareMarker = (dir: string) => writeFileSync(join(dir, OUTPUT_MARKER), markerText('compare'));

/** A comparison's output on stdout: the verdicts first, then the figures, then where everything is. */
function printCompare(
  out: string,
  spec: CompareSpec,
  c: Comparison,
  wall_s: (key: string) => number,
  json: boolean,
): void {
  const report = join(out, 'report.html');
  if (json) return void console.log(JSON.stringify({ dir: out, report, ...c.comparison }));
  const { name, description } = spec.scenario;
  const vary = spec.vary;
  if (!vary) {
    const { verdict } = c;
    const metrics = (c.comparison as { policies: Record<string, MetricsSummary> }).policies;
    const rows = spec.policies.map((p): [string, TableRow] => [
      p,
      { metrics: metrics[p] as MetricsSummary, wall_s: wall_s(p) },
    ]);
    // The verdict first, then the figures, then where everything is, then the verdict's table, and
    // last the verdict in one plain sentence: what a person reads when the command returns.
    return void console.log(
      `${name}: ${description}\n${verdict ? `\nverdict: ${verdict.summary}\n` : ''}\n${table(rows)}\n\nrun directories: ${out}/{${spec.policies.join(',')}}\ncomparison: ${join(out, 'comparison.json')}\nreport: ${report} (open it in a browser; it needs no network)${verdict ? `\n\n${verdictTable([verdict])}\n\n${verdictInWords(verdict, metrics)}` : ''}`,
    );
  }
  const variants = c.variants ?? [];
  const lines = variants.map(
    (v) => `${v.label}: ${v.verdict ? v.verdict.summary : 'no verdict (the engine and a baseline must both run)'}`,
  );
  const s = c.seeds;
  if (s?.verdict)
    lines.push(
      `mean of ${variants.length} seeds (the verdict decided on the means): ${s.verdict.summary}; the engine won ${s.engine_won?.seeds} of ${s.engine_won?.of} seeds`,
    );
  const v = { key: vary.key, variants: spec.variants.map((x) => ({ label: x.label, value: x.value })) } as Vary;
  console.log(
    `${name}: ${description}\nvarying ${vary.key}: ${vary.values.join(', ')}\n\n${lines.join('\n')}\n\n${varyTable(
      v,
      variants.map((x) => x.policies),
      s,
    )}${s ? '\n(mean, min, max: over the seeds; the spread is the range)' : ''}\n\nrun directories: ${out}/VARIANT/POLICY\ncomparison: ${join(out, 'comparison.json')}\nreport: ${report} (open it in a browser; it needs no network)`,
  );
}

/** --policies as given (undefined: the default set), each checked: an unknown one is a usage error. */
function givenPolicies(policies: string | undefined): string[] | undefined {
  const given = policies
    ?.split(',')
    .map((p) => p.trim())
    .filter(Boolean);
  const bad = (given ?? []).filter((p) => !POLICIES.includes(p as PolicyName));
  if (bad.length || given?.length === 0)
    throw new InputError(
      [
        `--policies: unknown ${bad.map((b) => `${b}${didYouMean(b, POLICIES)}`).join(', ') || '(none given)'}; choose from ${POLICIES.join(', ')}`,
      ],
      2,
    );
  return given;
}

/** One shard of the comparison's runs, into `out` with its shard.json. */
async function compareShard(
  spec: CompareSpec,
  out: string,
  force: boolean,
  workers: number,
  shard: Shard,
  started: number,
  json: boolean,
): Promise<void> {
  const runs = await buildOutput(out, force, async (tmp) => {
    const r = await runCompare(spec, tmp, workers, shard);
    writeFileSync(join(tmp, SHARD_FILE), shardJson(spec, shard, r));
    compareMarker(tmp);
    return r;
  });
  return printShard('fgo compare', out, shard, [...runs.keys()], (performance.now() - started) / 1000, json);
}

/** Every run of the comparison, then comparison.json, the report and the tables. */
async function compareAll(
  spec: CompareSpec,
  prepared: readonly Omit<RunInputs, 'policy'>[],
  policies: PolicyName[],
  out: string,
  force: boolean,
  workers: number,
  json: boolean,
): Promise<void> {
  // The report's modules load while the runs go, on a main thread otherwise idle, not after them
  // (finishCompare's own import of them reports any error).
  void import('../reports/report.ts').catch(() => undefined);
  const { runs, c } = await buildOutput(out, force, async (tmp) => {
    const r = await runCompare(spec, tmp, workers, undefined, reportBins(prepared, policies));
    const doc = comparisonDoc(spec, (k) => (r.get(k) as CompareRun).metrics);
    await finishCompare(tmp, spec, doc, compareMarker, r);
    return { runs: r, c: doc };
  });
  printCompare(out, spec, c, (k) => (runs.get(k) as CompareRun).wall_s, json);
}

type CompareFlags = SimFlags & { policies?: string; vary?: string; workers?: string; shard?: string };

/** `fgo compare`'s action: every input checked before the first run, then the runs. */
async function runCompareCommand(f: CompareFlags): Promise<void> {
  const started = performance.now();
  const given = givenPolicies(f.policies);
  const vary = f.vary === undefined ? undefined : parseVary(f.vary);
  const conflict = vary && conflictingFlag(vary.key, f as Record<string, unknown>);
  if (conflict) throw new InputError([conflict], 2);
  const workers = workersFlag(f.workers);
  const shard = parseShard(f.shard);
  // Every variant's inputs read and checked before the first run.
  const prepared = vary ? vary.variants.map((v) => prepareVariant(f, vary.key, v.value)) : [prepare(f)];
  const inputs = prepared[0] as Omit<RunInputs, 'policy'>;
  const policies = (given ?? policiesFor(inputs.scenario.profiles)) as PolicyName[];
  const out = f.out ?? join('out', 'compare', inputs.scenario.name);
  checkOutDir(out, f.force === true);
  // A bad --model warns (and falls back to EWMA) here, once, not in every run.
  await predictorFor(f, inputs);
  const spec = compareSpec(f, vary, prepared, policies);
  const force = f.force === true;
  if (shard) return compareShard(spec, out, force, workers, shard, started, f.json === true);
  await compareAll(spec, prepared, policies, out, force, workers, f.json === true);
}

type MergeFlags = { out?: string; json?: boolean; force?: boolean };

/** `fgo compare merge`'s action: the shards joined into the directory the whole comparison writes. */
async function runCompareMerge(compare: Command, shards: string[], own: MergeFlags): Promise<void> {
  // The root command hands options after the operands to `compare`, which keeps those it knows
  // (--out, --json, --force): merge takes them from there too.
  const o = { ...(compare.opts() as MergeFlags), ...own };
  if (o.out === undefined) throw new InputError(["error: required option '--out <dir>' not specified"], 2);
  const out = o.out;
  checkOutDir(out, o.force === true);
  const { spec, comparison } = await buildOutput(out, o.force === true, async (tmp) => {
    const m = mergeCompareShards(shards, tmp);
    await finishCompare(tmp, m.spec, m.comparison, compareMarker);
    return m;
  });
  printCompare(out, spec, comparison, (k) => wallOf(join(out, k)), o.json === true);
}

export function registerCompare(program: Command): void {
  const compare = simOptions(program.command('compare'))
    .description('run several policies on identical arrivals; one run directory each, plus comparison.json and a table')
    .option(
      '--policies <list>',
      `comma-separated policies (default: ${POLICIES.filter((p) => p !== GRAPH_BLIND).join(',')}, and ${GRAPH_BLIND} where some profile calls another)`,
    )
    .option('--out <dir>', 'directory for the runs (default out/compare/SCENARIO)')
    .option(
      '--workers <k>',
      'worker threads running the policies in parallel (default: the CPUs available; 0: run in this thread); results are the same for any number',
    )
    .option(
      '--shard <i/n>',
      "run only the runs at positions k with k % n = i (policies, each variant's in turn) and write them with OUT/shard.json, for `fgo compare merge`",
    )
    .option(
      '--vary <key=values>',
      `a what-if study: every policy on each variant, into OUT/VARIANT/POLICY; KEY is one of ${VARY_KEYS.join(', ')} (files or presets, comma-separated; config=none and psi=none: the scenario's own config, no PSI trace; seed: a list or a range FROM..TO). One --vary per compare, at most ${MAX_VARIANTS} variants`,
    )
    .addHelpText(
      'after',
      "\nExamples:\n  $ fgo compare --scenario diurnal-8n --policies engine,least-loaded,numad --duration 6h\n  $ fgo compare --scenario burst-2n --vary topology=2n-32c,4n-64c      # the same load on 2 or 4 nodes\n  $ fgo compare --scenario burst-2n --vary config=none,tuned.json     # the scenario's thresholds or mine\n  $ fgo compare --scenario default --vary seed=1..5   # mean and min–max over 5 seeds; verdict on the means",
    )
    .action(runCompareCommand);

  compare
    .command('merge')
    .description(
      'join the shards of one `fgo compare --shard i/n` (every run once) into the directory the whole comparison writes: run directories, comparison.json, report.html',
    )
    .argument('<shards...>', 'shard directories written by `fgo compare --shard i/n` (or their shard.json)')
    .option('--out <dir>', "the merged comparison's directory (required)")
    .option('--json', 'print one JSON object instead of tables')
    .option('--force', 'replace --out even if it exists and was not written by fgo (everything in it is deleted)')
    .addHelpText(
      'after',
      '\nExample:\n  $ fgo compare --scenario diurnal-8n --shard 0/2 --out /results/shard-0   # and 1/2 elsewhere, then:\n  $ fgo compare merge /results/shard-* --out out/compare/diurnal-8n',
    )
    .action((shards: string[], own: MergeFlags) => runCompareMerge(compare, shards, own));
}

/** A run directory's wall time (wall.json), for the table a merge prints; 0 if unreadable. */
function wallOf(dir: string): number {
  try {
    return (
      (
        wallFromFile(JSON.parse(readFileSync(join(dir, 'wall.json'), 'utf8')) as Record<string, unknown>) as {
          wall_s?: number;
        }
      ).wall_s ?? 0
    );
  } catch {
    return 0;
  }
}
