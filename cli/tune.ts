/**
 * `fgo tune` and `fgo tune merge`: search the engine's PSI thresholds, placement weights,
 * admission limits and warm-pool floor on the twin, in parallel on worker threads, and report the
 * best candidate against the design defaults on held-out scenarios (sim/tune/). `--shard i/n`
 * runs one slice of a sweep (one Kubernetes Indexed Job pod); `merge` joins the slices. Bad flags
 * or scenarios exit 2; bad shard files exit 1, each problem naming its file.
 */
import type { Command } from 'commander';
import { writeFileAtomic } from '../formats/files.ts';
import { assertOutputFile } from '../formats/outputs.ts';
import type { Job } from '../sim/tune/evaluate.ts';
import { OBJECTIVE_METRICS, parseWeights, type MetricDelta } from '../sim/tune/objective.ts';
import type { PoolOptions } from '../sim/tune/pool.ts';
import { parseShard, type Shard } from '../sim/shards.ts';
import { canonicalJson, makeSpec, mergeShards, runShard, runSweep, type ResultDoc } from '../sim/tune/sweep.ts';
import { InputError } from '../formats/errors.ts';
import { SCENARIO_FLAGS, takesList } from './flag-aliases.ts';
import { progressBar } from './progress.ts';
import { durationFlag, workersFlag } from './run-flags.ts';

const DEFAULT_SCENARIOS = 'default,burst-2n';
const DEFAULT_HOLDOUT = 'numa-stress-4n,diurnal-8n,faults-8n,psi-replay-1n';

interface TuneFlags {
  scenarios: string;
  holdout: string;
  trials: string;
  workers?: string;
  seed: string;
  duration: string;
  holdoutDuration?: string;
  weights?: string;
  shard?: string;
  out?: string;
  json?: boolean;
  force?: boolean;
}

const list = (s: string) =>
  s === 'none'
    ? []
    : s
        .split(',')
        .map((x) => x.trim())
        .filter(Boolean);

/** Most trials a sweep may ask for: each is a run per tuning scenario. */
export const MAX_TRIALS = 10_000;

/**
 * Progress on a terminal (cli/progress.ts's bar): trials finished out of the total — a trial is
 * finished when all its scenarios are — then the held-out runs, counted as runs.
 */
function trialProgress(
  label: string,
  trials: number,
  perTrial: number,
): { onDone: NonNullable<PoolOptions['onDone']>; finish: () => void } {
  const bar = progressBar(`${label}: trials`);
  // Made when the held-out runs start (after the last trial), so its time left counts from then.
  let held = trials === 0 ? progressBar('held-out runs') : undefined;
  const runs = new Map<string, number>();
  let finished = 0;
  const onDone = (done: number, total: number, job: Job) => {
    const unit = job.key.slice(0, job.key.indexOf('/'));
    if (!/^\d+$/.test(unit)) return held?.update(done / total, `${done}/${total}`);
    const n = (runs.get(unit) ?? 0) + 1;
    runs.set(unit, n);
    if (n === perTrial) finished++;
    bar.update(finished / trials, `${finished}/${trials}`);
    if (finished === trials) {
      bar.done();
      held = progressBar('held-out runs');
    }
  };
  return {
    onDone,
    finish: () => {
      bar.done();
      held?.done();
    },
  };
}

const fmt = (x: number) => (Math.abs(x) >= 100 ? x.toFixed(0) : Math.abs(x) >= 1 ? x.toFixed(2) : x.toFixed(4));

function deltaTable(scenarios: Record<string, Record<string, MetricDelta>>): string {
  const rows: string[][] = [['scenario', 'metric', 'defaults', 'tuned', 'change']];
  for (const [s, m] of Object.entries(scenarios)) {
    for (const [k, d] of Object.entries(m))
      rows.push([
        s,
        k,
        fmt(d.defaults),
        fmt(d.tuned),
        d.change_pct === null
          ? d.change === 0
            ? '0'
            : `${d.change > 0 ? '+' : ''}${fmt(d.change)}`
          : `${d.change_pct > 0 ? '+' : ''}${d.change_pct.toFixed(1)} %`,
      ]);
  }
  const w = (rows[0] as string[]).map((_, i) => Math.max(...rows.map((r) => (r[i] as string).length)));
  return rows
    .map((r) => r.map((c, i) => (i < 2 ? c.padEnd(w[i] as number) : c.padStart(w[i] as number))).join('  '))
    .join('\n');
}

function report(doc: ResultDoc, out: string, wall_s: number, json: boolean): void {
  const sw = doc.sweep;
  if (json) {
    console.log(
      JSON.stringify({
        out,
        tuned_trial: doc.tuned.trial,
        trials: sw.trials,
        seed: sw.seed,
        scenarios: sw.scenarios,
        holdout: sw.holdout,
        objective_missing: doc.objective.missing,
        tuning: doc.tuning.objective,
        holdout_objective: doc.holdout?.objective ?? null,
        beats_defaults: doc.holdout?.beats_defaults ?? null,
        holdout_scenarios: doc.holdout?.scenarios ?? {},
        engine_config: doc.tuned.engine_config,
        pool_floor: doc.tuned.params.pool_floor,
        wall_s,
        use: `fgo sim --config ${out}`,
      }),
    );
    return;
  }
  const o = doc.tuning.objective;
  const lines = [
    `best: trial ${doc.tuned.trial} of ${sw.trials} (seed ${sw.seed}); objective on ${sw.scenarios.join(', ')}: ${o.tuned} against the defaults' ${o.defaults}${o.change_pct === null ? '' : ` (${o.change_pct > 0 ? '+' : ''}${o.change_pct} %)`}`,
  ];
  if (doc.objective.missing.length) lines.push(`not scored (not in metrics.json): ${doc.objective.missing.join(', ')}`);
  if (doc.holdout) {
    const h = doc.holdout.objective;
    lines.push(
      `held out (${sw.holdout.join(', ')}): objective ${h.tuned} against ${h.defaults}${h.change_pct === null ? '' : ` (${h.change_pct > 0 ? '+' : ''}${h.change_pct} %)`}: ${doc.holdout.beats_defaults ? 'the tuned config beats the defaults' : 'the tuned config does NOT beat the defaults'}`,
      '',
      deltaTable(doc.holdout.scenarios),
    );
  } else lines.push('no held-out scenarios (--holdout none): nothing to report beyond the tuning scenarios');
  lines.push(
    '',
    `written: ${out}  (${wall_s.toFixed(1)} s)`,
    `use it: fgo sim --config ${out} (its tuned config, laid over the scenario's key by key), or fgo decide --config ${out}`,
  );
  console.log(lines.join('\n'));
}

/** The sweep (or shard of it) `fgo tune` asked for, every flag checked: a bad one is a usage error (exit 2). */
function tuneInputs(f: TuneFlags): { spec: ReturnType<typeof makeSpec>; shard: Shard | undefined } {
  let weights: ReturnType<typeof parseWeights>;
  try {
    weights = parseWeights(f.weights);
  } catch (e) {
    throw new InputError([`--weights: ${(e as Error).message}`], 2);
  }
  if (!/^\d{1,6}$/.test(f.trials) || Number(f.trials) > MAX_TRIALS)
    throw new InputError([`--trials: '${f.trials}' is not a whole number from 0 to ${MAX_TRIALS}`], 2);
  const shard = parseShard(f.shard);
  const duration_s = durationFlag('--duration', f.duration);
  try {
    const spec = makeSpec({
      seed: f.seed,
      trials: Number(f.trials),
      scenarios: list(f.scenarios),
      holdout: list(f.holdout),
      duration_s,
      holdout_duration_s:
        f.holdoutDuration === undefined ? duration_s : durationFlag('--holdout-duration', f.holdoutDuration),
      weights,
    });
    return { spec, shard };
  } catch (e) {
    if (e instanceof InputError) throw new InputError(e.problems, 2);
    throw e;
  }
}

/** `fgo tune`'s action: the whole sweep and its held-out report, or one shard of its trials. */
async function runTune(f: TuneFlags): Promise<void> {
  const started = Date.now();
  if (!f.out) throw new InputError(["error: required option '--out <file>' not specified"], 2);
  const out = f.out;
  assertOutputFile('--out', out, f.force === true, 2);
  const { spec, shard } = tuneInputs(f);
  const workers = workersFlag(f.workers);
  if (shard) {
    const ks = Math.ceil((spec.trials - shard.index) / shard.count);
    const bar = trialProgress(`shard ${shard.index}/${shard.count}`, ks, spec.scenarios.length);
    const doc = await runShard(spec, shard.index, shard.count, { workers, onDone: bar.onDone }).finally(bar.finish);
    writeFileAtomic(out, canonicalJson(doc));
    const wall_s = (Date.now() - started) / 1000;
    if (f.json) console.log(JSON.stringify({ out: out, shard, trials: doc.trials.map((t) => t.trial), wall_s }));
    else
      console.log(
        `shard ${shard.index}/${shard.count}: ${doc.trials.length} trials written to ${out} (${wall_s.toFixed(1)} s); join the shards with \`fgo tune merge\``,
      );
    return;
  }
  const bar = trialProgress('tune', spec.trials, spec.scenarios.length);
  const doc = await runSweep(spec, { workers, onDone: bar.onDone }).finally(bar.finish);
  writeFileAtomic(out, canonicalJson(doc));
  report(doc, out, (Date.now() - started) / 1000, f.json === true);
}

type MergeFlags = { out?: string; workers?: string; json?: boolean; force?: boolean };

/** `fgo tune merge`'s action: the shards joined, the best config evaluated on the held-out scenarios. */
async function runTuneMerge(tune: Command, files: string[], own: MergeFlags): Promise<void> {
  // The root command hands options after the operands to `tune`, which keeps those it knows
  // (--out, --workers, --json): merge takes them from there too.
  const f = { ...(tune.opts() as MergeFlags), ...own };
  if (!f.out) throw new InputError(["error: required option '--out <file>' not specified"], 2);
  assertOutputFile('--out', f.out, f.force === true, 2);
  const started = Date.now();
  const workers = workersFlag(f.workers);
  const bar = trialProgress('merge', 0, 1);
  const doc = await mergeShards(files, { workers, onDone: bar.onDone }).finally(bar.finish);
  writeFileAtomic(f.out, canonicalJson(doc));
  report(doc, f.out, (Date.now() - started) / 1000, f.json === true);
}

export function registerTune(program: Command): void {
  const tune = takesList(program.command('tune'), SCENARIO_FLAGS)
    .description(
      'search PSI thresholds, placement weights, admission limits and pool floors on the twin; report the best config against the design defaults on held-out scenarios',
    )
    .option('--scenarios <list>', 'scenarios to tune on (bundled names or files)', DEFAULT_SCENARIOS)
    .option('--holdout <list>', "scenarios to report on, never tuned on ('none': no held-out report)", DEFAULT_HOLDOUT)
    .option('--trials <n>', 'candidates, trial 0 being the design defaults', '48')
    .option('--workers <k>', 'worker threads (default: the CPUs available; 0: run in this thread)')
    .option('--seed <s>', 'seed of the candidates (each scenario keeps its own seed)', '1')
    .option('--duration <d>', "simulated time per run at most, e.g. 10m ('full': the scenarios' own)", '10m')
    .option('--holdout-duration <d>', 'the same for the held-out runs (default: --duration)')
    .option(
      '--weights <list>',
      `objective weights METRIC=W over the defaults, metrics: ${OBJECTIVE_METRICS.join(', ')}`,
    )
    .option('--shard <i/n>', 'run only trials k with k % n = i and write a shard file for `fgo tune merge`')
    // Not requiredOption: commander checks a parent's mandatory options for its subcommands too (merge).
    .option('--out <file>', 'the result (or shard) JSON file (required)')
    .option('--force', 'replace --out if it exists (fgo never replaces a file it cannot prove it wrote)')
    .option('--json', 'print a one-object JSON summary on stdout')
    .addHelpText(
      'after',
      '\nExamples:\n  $ fgo tune --trials 48 --workers 2 --duration 10m --out tuning/tuned.json\n  $ fgo tune --trials 48 --shard 0/4 --out shard-0.json    # … through 3/4, then:\n  $ fgo tune merge shard-*.json --out tuning/tuned.json',
    )
    .action(runTune);

  tune
    .command('merge')
    .description(
      'join the shard files of one sweep (every trial once), then evaluate the best config on the held-out scenarios and write the result',
    )
    .argument('<shards...>', 'files written by `fgo tune --shard i/n`')
    .option('--out <file>', 'the result JSON file (required)')
    .option('--workers <k>', 'worker threads for the held-out runs (default: the CPUs available)')
    .option('--force', 'replace --out if it exists')
    .option('--json', 'print a one-object JSON summary on stdout')
    .addHelpText('after', '\nExample:\n  $ fgo tune merge /results/shard-*.json --out tuning/tuned.json')
    .action((files: string[], own: MergeFlags) => runTuneMerge(tune, files, own));
}
