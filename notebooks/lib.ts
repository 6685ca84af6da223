/**
 * What every notebook shares: the study contract `fgo study` calls (sim/study.ts: a module whose
 * default export is a `Study`), its runs on `fgo compare`'s simulation pool (cli/compare-job.ts,
 * which prepares inputs from fgo's flags and may fold a run for the report, so it stays above sim/),
 * run directories laid out under the study's output directory, and a plain-text table for the log.
 * Not a notebook itself (it has no default export, so `fgo study` refuses it).
 */
import { join } from 'node:path';
import { COMPARE_TASK } from '../cli/compare.ts';
import { poolProgress } from '../cli/progress.ts';
import type { CompareJob, CompareRun } from '../cli/compare-job.ts';
import type { SimFlags } from '../cli/prepare.ts';
import type { PolicyName } from '../sim/baselines.ts';
import type { MetricsSummary } from '../sim/metrics.ts';
import type { Scenario } from '../sim/scenario.ts';
import type { StudyContext } from '../sim/study.ts';
import { runJobs } from '../sim/tune/pool.ts';

export type { Study, StudyContext, StudyResult } from '../sim/study.ts';

/** Where a study keeps run `name`: OUT/runs/NAME (the report labels runs by that name). */
export const runDir = (out: string, name: string) => join(out, 'runs', name);

/** A run of a study: the inputs fgo's flags describe (cli/prepare.ts), one policy, optionally another engine config. */
export interface StudyRun {
  /** Its directory under OUT/runs (and its label in the report). */
  name: string;
  flags: SimFlags;
  policy: PolicyName;
  engine?: Scenario['engine'];
}

/**
 * Every run written to OUT/runs/NAME on the simulation pool (`fgo compare`'s task, ctx.workers
 * threads; the same results for any number), with a progress bar; each run's metrics and
 * directory, in the order given.
 */
export async function runAllInto(
  ctx: StudyContext,
  runs: readonly StudyRun[],
): Promise<Array<{ metrics: MetricsSummary; dir: string }>> {
  const jobs = runs.map(
    (r): CompareJob => ({
      key: r.name,
      label: `${r.policy} (${r.name})`,
      flags: r.flags,
      policy: r.policy,
      out: runDir(ctx.out, r.name),
      ...(r.engine === undefined ? {} : { engine: r.engine }),
    }),
  );
  const progress = poolProgress('study', jobs);
  const res = await runJobs<CompareJob, CompareRun>(
    jobs,
    { workers: ctx.workers ?? 0, onDone: progress.onDone, onProgress: progress.onProgress },
    COMPARE_TASK,
  ).finally(progress.finish);
  return runs.map((r) => ({ metrics: (res.get(r.name) as CompareRun).metrics, dir: runDir(ctx.out, r.name) }));
}

/** A file-name-safe slug: "least-loaded, keep-alive 10m" → "least-loaded-keep-alive-10m". */
export const slug = (s: string) =>
  s
    .toLowerCase()
    .replace(/[^a-z0-9.]+/g, '-')
    .replace(/^-+|-+$/g, '');

/** Rows under a header, first column left-aligned, the rest right-aligned. */
export function textTable(head: string[], rows: Array<Array<string | number>>): string {
  const all = [head, ...rows.map((r) => r.map(String))];
  const w = head.map((_, i) => Math.max(...all.map((r) => (r[i] ?? '').length)));
  return all
    .map((r) => r.map((c, i) => (i === 0 ? c.padEnd(w[i] as number) : c.padStart(w[i] as number))).join('  '))
    .join('\n');
}
