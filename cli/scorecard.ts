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
import { parseDecisionLog } from '../sim/run.ts';
import { bundledScenarios } from '../sim/scenario.ts';
import { outDirProblem, planScorecard, runScorecard, type ScorecardPlan } from '../sim/scorecard.ts';
import { VERDICT_RULE, verdictTable } from '../sim/verdict.ts';
import { InputError } from './jsonfile.ts';
import { SCENARIO_FLAGS, takesList } from './flag-aliases.ts';
import { progressBar } from './sim.ts';
import { durationFlag, workersFlag } from './tune.ts';

interface ScorecardFlags {
  scenarios: string;
  policies: string;
  duration: string;
  workers?: string;
  out: string;
  decisions: string;
  json?: boolean;
  force?: boolean;
}

const listFlag = (v: string, all: readonly string[]) => (v.trim() === 'all' ? [...all] : v.split(',').map((x) => x.trim()).filter(Boolean));

/** Every problem with the flags at once (exit 2), or what to run. */
function check(f: ScorecardFlags): { plan: ScorecardPlan; workers: number } {
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
  const plan = attempt(() => planScorecard({ scenarios: listFlag(f.scenarios, bundledScenarios()), policies: listFlag(f.policies, POLICIES), duration_s: duration_s ?? null, ...(decisions ? { decisions } : {}) }));
  if (problems.length || !plan || workers === undefined) throw new InputError(problems, 2);
  return { plan, workers };
}

/** Runs done out of the total on a terminal; the bar and the time left weigh each run by its simulated time. */
function runProgress(plan: ScorecardPlan) {
  const length = new Map(plan.scenarios.map((s) => [s.arg, s.duration_s]));
  const total_s = plan.scenarios.reduce((a, s) => a + s.duration_s, 0) * plan.policies.length;
  const bar = progressBar('scorecard');
  let done_s = 0;
  bar.update(0, `0/${length.size * plan.policies.length} runs`);
  return {
    onDone: (done: number, total: number, job: { scenario: string }) => {
      done_s += length.get(job.scenario) ?? 0;
      bar.update(done_s / total_s, `${done}/${total} runs`);
    },
    finish: () => bar.done(),
  };
}

export function registerScorecard(program: Command): void {
  takesList(program.command('scorecard'), SCENARIO_FLAGS)
    .description('run every chosen scenario × policy on identical arrivals, in parallel, and judge the engine against the best baseline: a verdict table, scorecard.json, a run directory per run and one offline report')
    .option('--scenarios <list|all>', `comma-separated bundled scenarios (${bundledScenarios().join(', ')}) or scenario files; all: every bundled one`, 'all')
    .option('--policies <list|all>', `comma-separated, engine among them (${POLICIES.join(', ')}); all: every one`, 'all')
    .option('--duration <d>', "simulated time per run at most, e.g. 10m ('full': each scenario's own)", 'full')
    .option('--workers <k>', 'worker threads (default: the CPUs available; 0: run in this thread); results are the same for any number')
    .option('--out <dir>', 'output directory: new, empty, or an earlier fgo output (which is replaced)', join('out', 'scorecard'))
    .option('--decisions <level>', 'how much of each run\'s decision stream its directory keeps: all, compact, sample:N (one in N) or none; metrics are the same whatever the level (default sample:100: a full journal of every scenario takes tens of GB)', 'sample:100')
    .option('--force', 'replace --out even if it holds something fgo did not write (everything in it is deleted)')
    .option('--json', 'print one JSON object (scorecard.json, the paths, the wall time) instead of the table')
    .addHelpText('after', `
Examples:
  $ fgo scorecard                                   # every bundled scenario × every policy, full length
  $ fgo scorecard --scenarios default,burst-2n --policies engine,least-loaded,numad --duration 60s --out /tmp/sc
  $ fgo scorecard --duration 10m --workers 4 --json > verdict.json

Verdict: ${VERDICT_RULE}. See docs/scorecard.md.`)
    .action(async (f: ScorecardFlags) => {
      const started = performance.now();
      const { plan, workers } = check(f);
      const progress = runProgress(plan);
      const doc = await runScorecard(plan, f.out, { workers, onDone: progress.onDone }, f.force === true).finally(progress.finish);
      // Loaded on use: vega and vega-lite add about a second to a command's start.
      const { writeSectionedReport } = await import('../reports/report.ts');
      const bar = progressBar('report');
      const report = await writeSectionedReport(
        plan.scenarios.map((s) => ({ verdict: doc.verdict.scenarios[s.name] as (typeof doc.verdict.scenarios)[string], description: s.description, runDirs: plan.policies.map((p) => join(f.out, s.name, p)) })),
        join(f.out, 'report.html'),
        `fgo scorecard: ${plan.scenarios.length} scenario${plan.scenarios.length === 1 ? '' : 's'} × ${plan.policies.length} policies`,
        (done, total) => bar.update(done / total, `${done}/${total} scenarios read`),
      ).finally(bar.done);
      const wall_s = Math.round((performance.now() - started) / 100) / 10;
      const paths = {
        dir: f.out, scorecard: join(f.out, 'scorecard.json'), report: report.path,
        runs: Object.fromEntries(plan.scenarios.map((s) => [s.name, Object.fromEntries(plan.policies.map((p) => [p, join(f.out, s.name, p)]))])),
      };
      if (f.json) return console.log(JSON.stringify({ ...doc, paths, report_bytes: report.bytes, workers, wall_s }));
      const v = doc.verdict;
      const lengths = plan.duration_s === null ? "each scenario's own length" : `≤ ${plan.duration_s} simulated s`;
      console.log([
        `fgo scorecard: ${plan.scenarios.length} scenarios × ${plan.policies.length} policies on identical arrivals, runs of ${lengths}`,
        '',
        verdictTable(plan.scenarios.map((s) => v.scenarios[s.name] as (typeof v.scenarios)[string])),
        '',
        `the engine wins ${v.engine_wins.length} of ${plan.scenarios.length} scenarios${v.engine_wins.length ? ` (${v.engine_wins.join(', ')})` : ''}${v.engine_loses.length ? `; loses ${v.engine_loses.join(', ')}` : ''}${v.undecided.length ? `; no verdict on ${v.undecided.join(', ')}` : ''}`,
        `run directories: ${f.out}/{${plan.scenarios.map((s) => s.name).join(',')}}/{${plan.policies.join(',')}}`,
        `scorecard: ${paths.scorecard}`,
        `report: ${report.path} (${(report.bytes / 1e6).toFixed(1)} MB; opens offline in a browser)`,
        `${plan.scenarios.length * plan.policies.length} runs on ${workers === 0 ? 'this thread' : `${workers} worker thread${workers === 1 ? '' : 's'}`} in ${wall_s} s`,
      ].join('\n'));
    });
}
