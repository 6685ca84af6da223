/**
 * The pool task of `fgo compare` (sim/tune/pool.ts runs it in each worker thread): one policy on
 * the inputs fgo's flags describe, into its own run directory. Inputs are prepared once per
 * thread; the demand model is loaded afresh for each run, because the ONNX predictor keeps
 * per-profile state that one run must not hand to the next. With `report`, the job also folds
 * its run directory into the report's bins (reports/load.ts), so that reading, the largest part
 * of the report, runs in parallel with the other runs rather than after all of them.
 */
import { aggregateRun } from '../reports/aggregate.ts';
import { readRuns, type RunMeta } from '../reports/load.ts';
import type { AggregatedRun } from '../reports/axis.ts';
import type { PolicyName } from '../sim/baselines.ts';
import type { MetricsSummary } from '../sim/metrics.ts';
import { runSimulation, type RunInputs } from '../sim/run.ts';
import type { Scenario } from '../sim/scenario.ts';
import type { PoolJob } from '../sim/tune/pool.ts';
import { predictorFor, prepare, warn, type SimFlags } from './prepare.ts';

export interface CompareJob extends PoolJob {
  /** The input flags only (prepare.ts inputFlags). */
  flags: SimFlags;
  policy: PolicyName;
  out: string;
  /** An engine config in place of the scenario's own (a notebook's variant): plain data, so it crosses to a worker. */
  engine?: Scenario['engine'];
  /** The report's bins, when the run is to be folded for it here, in parallel, rather than read again in the main thread. */
  report?: { bin_s: number; heat_bin_s: number };
}

export interface CompareRun {
  metrics: MetricsSummary;
  wall_s: number;
  /** The run folded into the report's bins (job.report). */
  aggregated?: AggregatedRun;
}

const cache = new Map<string, Omit<RunInputs, 'policy'>>();

export async function runJob(job: CompareJob, progress: (fraction: number) => void): Promise<CompareRun> {
  const key = JSON.stringify(job.flags);
  const inputs = cache.get(key) ?? prepare(job.flags);
  cache.set(key, inputs);
  const predictor = await predictorFor(job.flags, inputs);
  const scenario = job.engine === undefined ? inputs.scenario : { ...inputs.scenario, engine: job.engine };
  const r = await runSimulation({
    ...inputs,
    scenario,
    policy: job.policy,
    out: job.out,
    progress,
    warn,
    ...(predictor ? { predictor } : {}),
  });
  if (!job.report) return { metrics: r.metrics, wall_s: r.wall.wall_s };
  const { bin_s, heat_bin_s } = job.report;
  const series = await aggregateRun(readRuns([job.out])[0] as RunMeta, bin_s, heat_bin_s);
  return { metrics: r.metrics, wall_s: r.wall.wall_s, aggregated: { bin_s, heat_bin_s, series } };
}
