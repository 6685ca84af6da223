/**
 * `fgo scorecard`: every chosen scenario × policy on the twin, each scenario's policies on
 * identical arrivals, in parallel on worker threads (sim/scorecard.ts) — then the verdict, the
 * engine against the best baseline (sim/verdict.ts), as a table, DIR/scorecard.json and one
 * offline report. Bad flags exit 2 with every problem named, before any run; an output directory
 * that holds anything but an earlier scorecard is never touched.
 */
import { join } from 'node:path';
import type { Command } from 'commander';
import { POLICIES } from '../sim/baselines.ts';
import { parseDecisionLog } from '../sim/decision-log.ts';
import { bundledScenarios } from '../sim/scenario.ts';
import {
  mergeScorecardShards,
  outDirProblem,
  planScorecard,
  runScorecard,
  runScorecardShard,
  scorecardJobs,
  scorecardKeys,
  type ScorecardDoc,
  type ScorecardPlan,
} from '../sim/scorecard.ts';
import { parseShard, shardFile, type Shard } from '../sim/shards.ts';
import { VERDICT_RULE, verdictTable } from '../sim/verdict.ts';
import { readJson } from '../formats/jsonfile.ts';
import { InputError } from '../formats/errors.ts';
import { SCENARIO_FLAGS, takesList } from './flag-aliases.ts';
import { printShard } from './output-dir.ts';
import { poolProgress, progressBar } from './progress.ts';
import { durationFlag, workersFlag } from './run-flags.ts';

interface ScorecardFlags {
  scenarios: string;
  policies: string;
  duration: string;
  workers?: string;
  out: string;
  decisions: string;
  json?: boolean;
  force?: boolean;
  shard?: string;
}

const listFlag = (v: string, all: readonly string[]) =>
  v.trim() === 'all'
    ? [...all]
    : v
        .split(',')
        .map((x) => x.trim())
        .filter(Boolean);

/** Every problem with the flags at once (exit 2), or what to run. */
function check(f: ScorecardFlags): { plan: ScorecardPlan; workers: number; shard: Shard | undefined } {
  const problems: string[] = [];
  const attempt = <T>(fn: () => T): T | undefined => {
    try {
      return fn();
    } catch (e) {
      if (!(e instanceof InputError)) throw e;
      problems.push(...e.problems);
      return undefined;
    }
  };
  const duration_s = attempt(() => durationFlag('--duration', f.duration));
  const workers = attempt(() => workersFlag(f.workers));
  const shard = attempt(() => parseShard(f.shard));
  const out = outDirProblem(f.out, f.force === true);
  if (out) problems.push(out);
  // Scenarios are checked even when --duration is bad, with their own durations.
  const decisions = attempt(() => {
    try {
      return parseDecisionLog(f.decisions);
    } catch (e) {
      throw new InputError([`--decisions: ${(e as Error).message}`]);
    }
  });
  const plan = attempt(() =>
    planScorecard({
      scenarios: listFlag(f.scenarios, bundledScenarios()),
      policies: listFlag(f.policies, POLICIES),
      duration_s: duration_s ?? null,
      ...(decisions ? { decisions } : {}),
    }),
  );
  if (problems.length || !plan || workers === undefined) throw new InputError(problems, 2);
  return { plan, workers, shard };
}

/** Runs done of the total on a terminal; the bar and the time left weigh each run by its simulated time. */
function runProgress(label: string, plan: ScorecardPlan, shard?: Shard) {
  const length = new Map(plan.scenarios.map((s) => [s.arg, s.duration_s]));
  return poolProgress(label, scorecardJobs(plan, '', shard), (j) => length.get(j.scenario) ?? 0);
}

/** The report, then the verdict table (or one JSON object): what a whole scorecard and a merged one print. */
async function report(
  plan: ScorecardPlan,
  doc: ScorecardDoc,
  out: string,
  started: number,
  json: boolean,
  ran: { text: string; json: Record<string, number> },
) {
  // Loaded on use: vega and vega-lite add about a second to a command's start.
  const { writeSectionedReport } = await import('../reports/report.ts');
  const bar = progressBar('report');
  const rep = await writeSectionedReport(
    plan.scenarios.map((s) => ({
      verdict: doc.verdict.scenarios[s.name] as (typeof doc.verdict.scenarios)[string],
      description: s.description,
      runDirs: plan.policies.map((p) => join(out, s.name, p)),
    })),
    join(out, 'report.html'),
    `fgo scorecard: ${plan.scenarios.length} scenario${plan.scenarios.length === 1 ? '' : 's'} × ${plan.policies.length} policies`,
    (done, total) => bar.update(done / total, `${done}/${total} scenarios read`),
  ).finally(bar.done);
  const wall_s = Math.round((performance.now() - started) / 100) / 10;
  const paths = {
    dir: out,
    scorecard: join(out, 'scorecard.json'),
    report: rep.path,
    runs: Object.fromEntries(
      plan.scenarios.map((s) => [s.name, Object.fromEntries(plan.policies.map((p) => [p, join(out, s.name, p)]))]),
    ),
  };
  if (json) return console.log(JSON.stringify({ ...doc, paths, report_bytes: rep.bytes, ...ran.json, wall_s }));
  const v = doc.verdict;
  const lengths = plan.duration_s === null ? "each scenario's own length" : `≤ ${plan.duration_s} simulated s`;
  console.log(
    [
      `fgo scorecard: ${plan.scenarios.length} scenarios × ${plan.policies.length} policies on identical arrivals, runs of ${lengths}`,
      '',
      verdictTable(plan.scenarios.map((s) => v.scenarios[s.name] as (typeof v.scenarios)[string])),
      '',
      `the engine wins ${v.engine_wins.length} of ${plan.scenarios.length} scenarios${v.engine_wins.length ? ` (${v.engine_wins.join(', ')})` : ''}${v.engine_loses.length ? `; loses ${v.engine_loses.join(', ')}` : ''}${v.undecided.length ? `; no verdict on ${v.undecided.join(', ')}` : ''}`,
      `run directories: ${out}/{${plan.scenarios.map((s) => s.name).join(',')}}/{${plan.policies.join(',')}}`,
      `scorecard: ${paths.scorecard}`,
      `report: ${rep.path} (${(rep.bytes / 1e6).toFixed(1)} MB; opens offline in a browser)`,
      `${ran.text} in ${wall_s} s`,
    ].join('\n'),
  );
}

/** `fgo scorecard`'s action: every run (or one shard of them), then the verdict and the report. */
async function runScorecardCommand(f: ScorecardFlags): Promise<void> {
  const started = performance.now();
  const { plan, workers, shard } = check(f);
  const threads = workers === 0 ? 'this thread' : `${workers} worker thread${workers === 1 ? '' : 's'}`;
  if (shard) {
    const progress = runProgress(`scorecard shard ${shard.index}/${shard.count}`, plan, shard);
    const keys = await runScorecardShard(
      plan,
      shard,
      f.out,
      { workers, onDone: progress.onDone, onProgress: progress.onProgress },
      f.force === true,
    ).finally(progress.finish);
    return printShard('fgo scorecard', f.out, shard, keys, (performance.now() - started) / 1000, f.json === true);
  }
  const progress = runProgress('scorecard', plan);
  const doc = await runScorecard(
    plan,
    f.out,
    { workers, onDone: progress.onDone, onProgress: progress.onProgress },
    f.force === true,
  ).finally(progress.finish);
  await report(plan, doc, f.out, started, f.json === true, {
    text: `${scorecardKeys(plan).length} runs on ${threads}`,
    json: { workers },
  });
}

type MergeFlags = { out?: string; json?: boolean; force?: boolean };

/** `fgo scorecard merge`'s action: the shards joined into one scorecard directory and reported. */
async function runMerge(scorecard: Command, shards: string[], own: MergeFlags): Promise<void> {
  // The root command hands options after the operands to `scorecard`, which keeps those it
  // knows (--out, --json, --force): merge takes them from there too.
  const o = { ...(scorecard.opts() as MergeFlags), ...own };
  const started = performance.now();
  // scorecard's --out has a default: merge wants it said (given on the command line, not defaulted).
  if (own.out === undefined && scorecard.getOptionValueSource('out') !== 'cli')
    throw new InputError(["error: required option '--out <dir>' not specified"], 2);
  const out = o.out as string;
  const problem = outDirProblem(out, o.force === true);
  if (problem) throw new InputError([problem], 2);
  // readJson names the file, and the line and column of a JSON error.
  const docs = shards.map(shardFile).map((file) => ({ file, doc: readJson(file).value }));
  const { plan, doc } = await mergeScorecardShards(docs, out, o.force === true);
  await report(plan, doc, out, started, o.json === true, {
    text: `${shards.length} shards merged`,
    json: { shards: shards.length },
  });
}

export function registerScorecard(program: Command): void {
  const scorecard = takesList(program.command('scorecard'), SCENARIO_FLAGS)
    .description(
      'run every chosen scenario × policy on identical arrivals, in parallel, and judge the engine against the best baseline: a verdict table, scorecard.json, a run directory per run and one offline report',
    )
    .option(
      '--scenarios <list|all>',
      `comma-separated bundled scenarios (${bundledScenarios().join(', ')}) or scenario files; all: every bundled one`,
      'all',
    )
    .option(
      '--policies <list|all>',
      `comma-separated, engine among them (${POLICIES.join(', ')}); all: every one`,
      'all',
    )
    .option('--duration <d>', "simulated time per run at most, e.g. 10m ('full': each scenario's own)", 'full')
    .option(
      '--workers <k>',
      'worker threads (default: the CPUs available; 0: run in this thread); results are the same for any number',
    )
    .option(
      '--out <dir>',
      'output directory: new, empty, or an earlier fgo output (which is replaced)',
      join('out', 'scorecard'),
    )
    .option(
      '--decisions <level>',
      "how much of each run's decision stream its directory keeps: all, compact, sample:N (one in N) or none; metrics are the same whatever the level (default sample:100: a full journal of every scenario takes tens of GB)",
      'sample:100',
    )
    .option(
      '--shard <i/n>',
      "run only the runs at positions k with k % n = i (scenarios in order, each one's policies in turn) and write them with OUT/shard.json, for `fgo scorecard merge`",
    )
    .option('--force', 'replace --out even if it holds something fgo did not write (everything in it is deleted)')
    .option('--json', 'print one JSON object (scorecard.json, the paths, the wall time) instead of the table')
    .addHelpText(
      'after',
      `
Examples:
  $ fgo scorecard                                   # every bundled scenario × every policy, full length
  $ fgo scorecard --scenarios default,burst-2n --policies engine,least-loaded,numad --duration 60s --out /tmp/sc
  $ fgo scorecard --duration 10m --workers 4 --json > verdict.json
  $ fgo scorecard --shard 0/8 --out /results/shard-0     # … through 7/8, then: fgo scorecard merge /results/shard-* --out out/scorecard

Verdict: ${VERDICT_RULE}. See docs/scorecard.md.`,
    )
    .action(runScorecardCommand);

  scorecard
    .command('merge')
    .description(
      'join the shards of one `fgo scorecard --shard i/n` (every run once) into the directory the whole scorecard writes: run directories, scorecard.json, report.html',
    )
    .argument('<shards...>', 'shard directories written by `fgo scorecard --shard i/n` (or their shard.json)')
    .option('--out <dir>', "the merged scorecard's directory (required)")
    .option('--force', 'replace --out even if it holds something fgo did not write (everything in it is deleted)')
    .option('--json', 'print one JSON object instead of the table')
    .addHelpText('after', '\nExample:\n  $ fgo scorecard merge /results/shard-* --out out/scorecard')
    .action((shards: string[], own: MergeFlags) => runMerge(scorecard, shards, own));
}
