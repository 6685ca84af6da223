/**
 * One unit of work of the simulation pool (pool.ts): a policy on one scenario, run through the
 * twin with the scenario's own seed — a tuning candidate (`fgo tune`) or a scorecard run, which
 * also writes its run directory (`fgo scorecard`). Shared by the worker threads and the in-process
 * path (`--workers 0`), so both compute exactly the same thing. Scenario inputs (topology,
 * traces) are read once per thread.
 */
import { createHash } from 'node:crypto';
import { existsSync, readdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { scenarioInputs } from '../scenario-inputs.ts';
import { MAX_CSV_BYTES, readInputBytes } from '../../formats/inputs.ts';
import type { PolicyName } from '../baselines.ts';
import type { MetricsSummary } from '../metrics.ts';
import type { DecisionLog } from '../decision-log.ts';
import { runSimulation, type RunInputs } from '../run.ts';
import { loadScenario, resolvePath, scenarioSchema } from '../scenario.ts';
import { parseDuration_s } from '../../formats/duration.ts';
import { applyParams, type TuneParams } from './space.ts';

export interface Job {
  /** Unique within a pool's jobs; results are keyed by it, never by completion order. */
  key: string;
  /** For messages: "trial 7 on burst-2n". */
  label: string;
  scenario: string;
  /** A tuning candidate laid over the scenario's engine config; none: the scenario as it is. */
  params?: TuneParams;
  /** Who decides (default: the engine). */
  policy?: PolicyName;
  /** Simulated seconds at most (the scenario's own duration if shorter); null: the scenario's. */
  duration_s: number | null;
  /** A run directory to write (sim/run.ts), with these versions in its run.json; none: metrics only. */
  out?: string;
  /** How much of the decision stream the run directory keeps (default compact). */
  decisions?: DecisionLog;
  versions?: Record<string, string>;
}

type BaseInputs = Omit<RunInputs, 'policy'>;
const cache = new Map<string, BaseInputs>();

/**
 * A scenario's run inputs as `fgo sim --scenario NAME` reads them, its duration capped: both read
 * what the scenario names through sim/scenario-inputs.ts.
 */
export function prepareScenario(name: string, duration_s: number | null): BaseInputs {
  const key = `${name}\u0000${duration_s}`;
  const hit = cache.get(key);
  if (hit) return hit;
  let s = loadScenario(name);
  if (duration_s !== null)
    s = scenarioSchema.parse({ ...s, duration: Math.min(parseDuration_s(s.duration), duration_s) });
  const inputs: BaseInputs = scenarioInputs(s);
  cache.set(key, inputs);
  return inputs;
}

/** What a scenario is, for provenance and for merge to tell sweeps apart: its parsed document and the traces it names. */
export function scenarioDigest(name: string): string {
  const s = loadScenario(name);
  const h = createHash('sha256').update(JSON.stringify(s));
  for (const f of [s.workload, s.psi?.file, s.background?.file, ...s.replay.map((r) => r.file)])
    if (f) h.update(readInputBytes(resolvePath(f), MAX_CSV_BYTES, 'CSV input'));
  return h.digest('hex').slice(0, 16);
}

const ROOT = new URL('../../', import.meta.url).pathname;

/**
 * A digest of every source file a run's figures depend on (engine/, sim/, predict/, models/):
 * "fgo 0.1.0" does not change with each edit, and shards built from different code must not merge.
 */
export function sourceDigest(): string {
  const files: string[] = [];
  const walk = (dir: string) => {
    if (!existsSync(join(ROOT, dir))) return;
    for (const e of readdirSync(join(ROOT, dir), { withFileTypes: true })) {
      const rel = `${dir}/${e.name}`;
      if (e.isDirectory()) walk(rel);
      else if (/\.(ts|json|onnx)$/.test(e.name)) files.push(rel);
    }
  };
  for (const d of ['engine', 'sim', 'predict', 'models']) walk(d);
  const h = createHash('sha256');
  for (const f of files.sort())
    h.update(`${f}\u0000`)
      .update(readFileSync(join(ROOT, f)))
      .update('\u0000');
  return h.digest('hex').slice(0, 16);
}

/** Run one job (the pool's default task: pool.ts TaskModule). */
export async function runJob(job: Job, progress?: (fraction: number) => void): Promise<MetricsSummary> {
  const base = prepareScenario(job.scenario, job.duration_s);
  const scenario = job.params ? applyParams(base.scenario, job.params) : base.scenario;
  const r = await runSimulation({
    ...base,
    scenario,
    policy: job.policy ?? 'engine',
    ...(progress ? { progress } : {}),
    ...(job.out === undefined
      ? {}
      : { out: job.out, versions: job.versions ?? {}, decisions: job.decisions ?? 'compact' }),
  });
  return r.metrics;
}
