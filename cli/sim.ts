/**
 * `fgo sim` and `fgo compare`: run the twin on a scenario (bundled or a file, with flags
 * overriding its fields), write run directories, print summary tables. Invalid scenarios,
 * topologies or traces exit 2 with the field or line named, before anything is written.
 */
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import type { Command } from 'commander';
import { ZodError } from 'zod';
import { ConfigError, TopologyError } from '../engine/index.ts';
import { GRAPH_BLIND, POLICIES, policiesFor, type PolicyName } from '../sim/baselines.ts';
import { didYouMean } from '../formats/suggest.ts';
import { FGO_VERSION } from '../formats/version.ts';
import { commitDir, discardTemp, makeTempDir } from '../formats/files.ts';
import { markerText, OUTPUT_MARKER, outputDirProblem } from '../formats/outputs.ts';
import { loadDemandPredictor } from '../predict/onnx-predictor.ts';
import type { DemandPredictor } from '../predict/predictor.ts';
import { engineConfigFor, parseDecisionLog, runSimulation, type DecisionLog, type RunInputs, type RunResult } from '../sim/run.ts';
import { bundledScenarios, loadScenario, parseDuration_s, scenarioSchema, type Scenario } from '../sim/scenario.ts';
import { verdictFor, verdictInWords, verdictTable } from '../sim/verdict.ts';
import { InputError } from './jsonfile.ts';
import { SCENARIO_FLAGS, takesOne } from './flag-aliases.ts';
import { loadConfig, readConfigDoc, scenarioInputs } from './load.ts';
import { deepMerge } from '../engine/config.ts';
import { summariseSeeds } from '../sim/vary.ts';
import { conflictingFlag, MAX_SEED, MAX_VARIANTS, parseVary, VARY_KEYS, variantFlags, varyTable, type Variant, type Vary, type VaryKey } from './vary.ts';


export interface SimFlags {
  scenario?: string;
  seed?: string;
  duration?: string;
  config?: string;
  topology?: string;
  workload?: string;
  psi?: string;
  psiMode?: 'overlay' | 'replace';
  background?: string;
  backgroundNode?: string;
  out?: string;
  json?: boolean;
  explainFull?: boolean;
  decisions?: string;
  /** ONNX demand model for the engine's pools (default: the EWMA predictor). */
  model?: string;
  /** Replace an existing --out that fgo did not write. */
  force?: boolean;
  /** No PSI trace, not even the scenario's (a --vary psi=none variant). */
  noPsi?: boolean;
}

/**
 * The scenario with every flag applied, and the inputs it names read and validated. Any problem
 * here is a bad run input: exit 2, before a run directory exists.
 */
export function prepare(f: SimFlags): Omit<RunInputs, 'policy'> {
  try {
    return prepareInputs(f);
  } catch (e) {
    if (e instanceof InputError) throw new InputError(e.problems, 2);
    if (e instanceof ConfigError || e instanceof TopologyError) throw new InputError(e.problems, 2);
    if (e instanceof ZodError) throw new InputError(e.issues.map((i) => `scenario: ${i.path.join('.')}: ${i.message}`), 2);
    throw e;
  }
}

function prepareInputs(f: SimFlags): Omit<RunInputs, 'policy'> {
  let s: Scenario = loadScenario(f.scenario ?? 'default');
  const set = (patch: Partial<Scenario>) => (s = scenarioSchema.parse({ ...s, ...patch }));
  if (f.seed !== undefined) {
    if (!/^\d{1,16}$/.test(f.seed) || Number(f.seed) > MAX_SEED) throw new InputError([`--seed: '${f.seed}' is not a whole number from 0 to ${MAX_SEED}`]);
    set({ seed: Number(f.seed) });
  }
  if (f.psiMode !== undefined && f.psiMode !== 'overlay' && f.psiMode !== 'replace') throw new InputError([`--psi-mode: '${f.psiMode}' is not overlay or replace`]);
  if (f.psiMode !== undefined && f.psi === undefined && !s.psi) throw new InputError([`--psi-mode: needs --psi FILE (or a scenario with a psi trace); scenario ${s.name} has none`]);
  if (f.duration !== undefined) {
    try {
      parseDuration_s(f.duration);
    } catch (e) {
      throw new InputError([`--duration: ${(e as Error).message}`]);
    }
    set({ duration: f.duration });
  }
  if (f.topology !== undefined) set({ topology: f.topology });
  if (f.workload !== undefined) set({ workload: f.workload });
  if (f.background !== undefined) set({ background: { file: f.background, copies: 1 } });
  if (f.backgroundNode !== undefined) {
    if (!/^\d+$/.test(f.backgroundNode)) throw new InputError([`--background-node: '${f.backgroundNode}' is not a node id`]);
    if (!s.background) throw new InputError(['--background-node: needs --background FILE (or a scenario with a background)']);
    set({ background: { ...s.background, node: Number(f.backgroundNode) } });
  }
  if (f.noPsi === true) set({ psi: undefined });
  else if (f.psi !== undefined) set({ psi: { file: f.psi, mode: f.psiMode ?? 'overlay' } });
  else if (f.psiMode !== undefined && s.psi) set({ psi: { ...s.psi, mode: f.psiMode } });
  if (f.config !== undefined) {
    loadConfig(f.config); // validate the file on its own, with its line numbers
    // Laid over the scenario's engine settings key by key, all the way down (a tune result's config too).
    set({ engine: deepMerge(s.engine, readConfigDoc(f.config).value) });
  }
  let decisions: DecisionLog = f.explainFull === true ? 'all' : 'compact';
  if (f.decisions !== undefined) {
    try {
      decisions = parseDecisionLog(f.decisions);
    } catch (e) {
      throw new InputError([`--decisions: ${(e as Error).message}`]);
    }
  }
  return { ...scenarioInputs(s), versions: { fgo: FGO_VERSION, node: process.versions.node }, decisions };
}

/** One --vary variant's inputs; a problem names the variant it is in. */
function prepareVariant(f: SimFlags, key: VaryKey, value: string): Omit<RunInputs, 'policy'> {
  try {
    return prepare(variantFlags(f, key, value));
  } catch (e) {
    if (e instanceof InputError) throw new InputError(e.problems.map((p) => `--vary ${key}=${value}: ${p}`), e.exitCode);
    throw e;
  }
}

/** Refuse an --out that exists and may not be replaced, before any work (exit 2, a bad run input). */
function checkOutDir(out: string, force: boolean): void {
  const problem = outputDirProblem('--out', out, force);
  if (problem) throw new InputError([problem], 2);
}

/**
 * A progress bar on stderr with the time left at the pace so far and an optional note ("3/22
 * runs"), for every long command; nothing when stderr is not a terminal, or in CI.
 */
export function progressBar(label: string): { update: (fraction: number, note?: string) => void; done: () => void } {
  if (!process.stderr.isTTY || process.env.CI) return { update: () => {}, done: () => {} };
  const start = Date.now();
  let shown = '', at = 0;
  return {
    update(f, note = '') {
      const pct = Math.floor(Math.min(1, Math.max(0, f)) * 100);
      const now = Date.now();
      // Redrawn when the percentage or the note changes, and each second for the time left.
      if (`${pct} ${note}` === shown && now - at < 1000) return;
      shown = `${pct} ${note}`;
      at = now;
      const eta = f > 0 && f < 1 ? Math.round((((now - start) / 1000) * (1 - f)) / f) : undefined;
      const width = 30, fill = Math.round((pct / 100) * width);
      process.stderr.write(`\r\x1b[K${label} [${'#'.repeat(fill)}${' '.repeat(width - fill)}] ${String(pct).padStart(3)}%${note ? `  ${note}` : ''}${eta === undefined ? '' : `  ETA ${Math.floor(eta / 60)}m${String(eta % 60).padStart(2, '0')}s`}`);
    },
    done() {
      process.stderr.write('\r\x1b[K');
    },
  };
}

/**
 * The side-by-side table, narrow enough for a laptop's terminal: the SLO figures first, the fault
 * columns only when some run had faults, and the end-to-end p99 only when some run made calls.
 */
function table(results: ReadonlyArray<[string, RunResult]>): string {
  const faults = results.some(([, r]) => r.metrics.faults.injected > 0);
  const calls = results.some(([, r]) => r.metrics.calls > 0);
  const head = ['policy', 'SLO miss', 'p50 ms', 'p99 ms', ...(calls ? ['e2e p99'] : []), 'cold', 'local', 'util', 'shed', ...(faults ? ['MTTD s', 'MTTR s', 'healed'] : []), 'wall s'];
  const rows = results.map(([name, r]) => {
    const m = r.metrics;
    return [name, m.slo_miss_ratio.toFixed(4), m.latency_ms.p50.toFixed(1), m.latency_ms.p99.toFixed(1), ...(calls ? [m.e2e_latency_ms.p99.toFixed(1)] : []), m.cold_start_ratio.toFixed(3), m.local_access_ratio.toFixed(3), m.utilization.mean.toFixed(3),
      String(m.requests.shed), ...(faults ? [m.mttd_s === null ? '-' : String(m.mttd_s), m.mttr_s === null ? '-' : String(m.mttr_s), `${m.faults.recovered}/${m.faults.injected}`] : []), r.wall.wall_s.toFixed(1)];
  });
  const all = [head, ...rows];
  const w = head.map((_, i) => Math.max(...all.map((r) => (r[i] ?? '').length)));
  return all.map((r) => r.map((c, i) => (i === 0 ? c.padEnd(w[i] as number) : c.padStart(w[i] as number))).join('  ')).join('\n');
}

const warn = (m: string) => process.stderr.write(`warning: ${m}\n`);

/** The predictor `--model` names, asked once per scaling cycle; a bad model warns and falls back to EWMA. */
async function predictorFor(f: SimFlags, inputs: Omit<RunInputs, 'policy'>): Promise<DemandPredictor | undefined> {
  if (f.model === undefined) return undefined;
  return loadDemandPredictor(f.model, { horizon_s: engineConfigFor(inputs.scenario).scaling.interval_ms / 1000, warn });
}

/** One run with its progress bar; `note` says where it is in a series ("3/12 runs"). */
async function run(inputs: Omit<RunInputs, 'policy'>, policy: PolicyName, out: string | undefined, predictor: DemandPredictor | undefined, force = false, note?: string): Promise<RunResult> {
  const bar = progressBar(`${inputs.scenario.name} · ${policy}`);
  try {
    return await runSimulation({ ...inputs, policy, out, force, progress: (f) => bar.update(f, note), warn, ...(predictor ? { predictor } : {}) });
  } finally {
    bar.done();
  }
}

const simOptions = (c: Command) =>
  takesOne(c, SCENARIO_FLAGS, 'fgo scorecard runs several (--scenarios A,B)')
    .option('--scenario <name|file>', `a bundled scenario (${bundledScenarios().join(', ')}) or a scenario JSON file`, 'default')
    .option('--seed <n>', 'seed of every random stream (arrivals, faults, the engine)')
    .option('--duration <d>', 'simulated time, e.g. 90s, 30m, 24h')
    .option('--config <file>', 'engine config JSON laid over the scenario\'s key by key (or the result of fgo tune: its tuned config)')
    .option('--topology <preset|file|sysfs:DIR>', 'a preset (1n-2c, 2n-32c, 4n-64c, 8n-128c, 64n-256c), a topology JSON file, or sysfs:DIR to read a machine dump')
    .option('--workload <file>', 'a demand (t_s,profile,count) or request (t_ms,profile,cpu_ms,mem_mb,priority,io) trace, told apart by its header')
    .option('--psi <file>', 'a PSI trace shown to the policy (what it is shown; nothing runs)')
    .option('--psi-mode <mode>', 'overlay: added to the twin\'s own pressure; replace: the policy sees exactly the recording')
    .option('--background <file>', 'a host recording (fgo record) replayed as a neighbour\'s work that really runs: it takes CPU, memory and device time, so pressure and slowdown follow from the model')
    .option('--background-node <n>', 'put the --background neighbour on node N (default: spread over all nodes)')
    .option('--decisions <level>', 'how much of the decision stream decisions.jsonl keeps: all (every node\'s score; large), compact (the default: chosen node and runner-up), sample:N (one compact decision in N), none; metrics are the same whatever the level')
    .option('--explain-full', 'the same as --decisions all')
    .option('--model <file>', 'ONNX demand model that sizes the pools (e.g. models/demand.onnx); default: EWMA of arrivals')
    .option('--force', 'replace --out even if it exists and was not written by fgo (everything in it is deleted)')
    .option('--json', 'print one JSON object instead of tables');

/** `--serve ADDRESS` checked before the run is prepared: a usage error, exit 2. */
async function checkListen(address: string): Promise<void> {
  const { parseListen } = await import('../live/api.ts'); // loaded only with --serve, like the server
  try {
    parseListen(address);
  } catch (e) {
    throw new InputError([`--serve: ${(e as Error).message}`], 2);
  }
}

/** The dashboard server; an address that cannot be bound is one line and exit 1. */
async function serve(address: string, title: string, speed: number) {
  const [{ serveRun }, { ListenError }] = await Promise.all([import('../sim/serve.ts'), import('../live/api.ts')]);
  try {
    return await serveRun(address, title, speed);
  } catch (e) {
    if (e instanceof ListenError) throw new InputError([`--serve: ${e.message}`], 1);
    throw e;
  }
}

/** Every policy's run into DIR/POLICY; the engine against the best baseline (sim/verdict.ts) when both ran. */
async function runPolicies(dir: string, name: string, inputs: Omit<RunInputs, 'policy'>, policies: PolicyName[], predictor: DemandPredictor | undefined, counter: { done: number; total: number }) {
  const results: Record<string, RunResult> = {};
  for (const p of policies) results[p] = await run(inputs, p, join(dir, p), predictor, false, `${++counter.done}/${counter.total} runs`);
  const metrics = Object.fromEntries(Object.entries(results).map(([k, r]) => [k, r.metrics]));
  const verdict = policies.includes('engine') && policies.length > 1 ? verdictFor(name, metrics) : undefined;
  return { results, metrics, verdict };
}

/** comparison.json, report.html (reports/report.ts reads the comparison back) and fgo's marker, written into `dir`. */
async function finishCompare(dir: string, scenario: string, comparison: object): Promise<void> {
  writeFileSync(join(dir, 'comparison.json'), JSON.stringify(comparison, null, 2) + '\n');
  const { writeReport } = await import('../reports/report.ts');
  await writeReport([dir], join(dir, 'report.html'), { title: `fgo compare: ${scenario}` });
  writeFileSync(join(dir, OUTPUT_MARKER), markerText('compare'));
}

/** Every policy's run, comparison.json, report.html and fgo's marker, written into `dir`. */
async function compareInto(dir: string, inputs: Omit<RunInputs, 'policy'>, policies: PolicyName[], predictor: DemandPredictor | undefined) {
  const { results, metrics, verdict } = await runPolicies(dir, inputs.scenario.name, inputs, policies, predictor, { done: 0, total: policies.length });
  const comparison = { scenario: inputs.scenario.name, seed: inputs.scenario.seed, duration: inputs.scenario.duration, policies: metrics, ...(verdict ? { verdict } : {}) };
  await finishCompare(dir, inputs.scenario.name, comparison);
  return { results, comparison, verdict };
}

/**
 * A --vary study: every policy on each variant into DIR/VARIANT/POLICY, and one comparison.json
 * with each variant's metrics and verdict; for seeds also the mean and range over them, the
 * verdict on the means and the seeds the engine won (sim/vary.ts).
 */
async function compareVaryInto(dir: string, vary: Vary, prepared: Array<Omit<RunInputs, 'policy'>>, policies: PolicyName[], f: SimFlags) {
  const counter = { done: 0, total: prepared.length * policies.length };
  const scenario = (prepared[0] as Omit<RunInputs, 'policy'>).scenario;
  const variants = [];
  for (const [i, inputs] of prepared.entries()) {
    const v = vary.variants[i] as Variant;
    const { metrics, verdict } = await runPolicies(join(dir, v.label), `${scenario.name}/${v.label}`, inputs, policies, await predictorFor(f, inputs), counter);
    variants.push({ label: v.label, value: v.value, seed: inputs.scenario.seed, topology: inputs.scenario.topology, policies: metrics, ...(verdict ? { verdict } : {}) });
  }
  const seeds = vary.key === 'seed' ? { spread: 'min-max', ...summariseSeeds(scenario.name, variants.map((v) => v.policies)) } : undefined;
  const comparison = { scenario: scenario.name, duration: scenario.duration, vary: { key: vary.key, values: vary.variants.map((v) => v.value) }, policies, variants, ...(seeds ? { over_seeds: seeds } : {}) };
  await finishCompare(dir, scenario.name, comparison);
  return { comparison, variants, seeds };
}

/** `fgo compare --vary`: the study built in a temporary directory renamed into place, then printed. */
async function varyCommand(out: string, vary: Vary, prepared: Array<Omit<RunInputs, 'policy'>>, policies: PolicyName[], f: SimFlags): Promise<void> {
  const tmp = makeTempDir(out);
  let study;
  try {
    study = await compareVaryInto(tmp, vary, prepared, policies, f);
    checkOutDir(out, f.force === true);
    commitDir(tmp, out);
  } catch (e) {
    discardTemp(tmp);
    throw e;
  }
  const report = join(out, 'report.html');
  if (f.json) return void console.log(JSON.stringify({ dir: out, report, ...study.comparison }));
  const { scenario } = prepared[0] as Omit<RunInputs, 'policy'>;
  // The verdicts first, one line per variant (and the seeds' mean), then the figures, then where everything is.
  const lines = study.variants.map((v) => `${v.label}: ${v.verdict ? v.verdict.summary : 'no verdict (the engine and a baseline must both run)'}`);
  const s = study.seeds;
  if (s?.verdict) lines.push(`mean of ${study.variants.length} seeds (the verdict decided on the means): ${s.verdict.summary}; the engine won ${s.engine_won?.seeds} of ${s.engine_won?.of} seeds`);
  console.log(`${scenario.name}: ${scenario.description}\nvarying ${vary.key}: ${vary.variants.map((v) => v.value).join(', ')}\n\n${lines.join('\n')}\n\n${varyTable(vary, study.variants.map((v) => v.policies), s)}${s ? '\n(mean, min, max: over the seeds; the spread is the range)' : ''}\n\nrun directories: ${out}/VARIANT/POLICY\ncomparison: ${join(out, 'comparison.json')}\nreport: ${report} (open it in a browser; it needs no network)`);
}

export function registerSim(program: Command): void {
  simOptions(program.command('sim'))
    .description('run the digital twin on a scenario and write a run directory (run.json, decisions.jsonl, metrics.json, timeseries.csv, wall.json)')
    .option('--policy <name>', `who decides: ${POLICIES.join(', ')}`, 'engine')
    .option('--out <dir>', 'run directory (default out/sim/SCENARIO-POLICY)')
    .option('--serve [host:port]', 'serve the live dashboard on loopback while the run plays (default 127.0.0.1:9465); it stays up after the run until Ctrl-C')
    .option('--speed <x>', 'with --serve: simulated seconds per wall-clock second', '20')
    .addHelpText('after', '\nExamples:\n  $ fgo sim                                   # the default scenario with the engine\n  $ fgo sim --scenario faults-8n --duration 10m\n  $ fgo sim --scenario psi-replay-1n --psi-mode overlay\n  $ fgo sim --topology 1n-2c --background traces/psi/stress-2cpu-host.csv   # a real neighbour, replayed\n  $ fgo sim --topology sysfs:/ --workload traces/demand/nyc_taxi.csv\n  $ fgo sim --scenario burst-2n --serve        # watch it at http://127.0.0.1:9465/')
    .action(async (f: SimFlags & { policy: string; serve?: string | true; speed: string }) => {
      if (!POLICIES.includes(f.policy as PolicyName)) throw new InputError([`--policy: '${f.policy}' is not one of ${POLICIES.join(', ')}${didYouMean(f.policy, POLICIES)}`], 2);
      if (typeof f.serve === 'string') await checkListen(f.serve);
      const inputs = prepare(f);
      const out = f.out ?? join('out', 'sim', `${inputs.scenario.name}-${f.policy}`);
      checkOutDir(out, f.force === true);
      const speed = Number(f.speed);
      if (!(speed > 0 && speed <= 1e6)) throw new InputError([`--speed: '${f.speed}' is not a number above 0 and at most 1000000`], 2);
      const served = f.serve === undefined ? undefined : await serve(f.serve === true ? '127.0.0.1:9465' : f.serve, `fgo sim: ${inputs.scenario.name} (${f.policy})`, speed);
      if (served) process.stderr.write(`dashboard: ${served.url} (the run plays at ${speed}× real time)\n`);
      const r = await run({ ...inputs, ...(served ? { watch: served.watch } : {}) }, f.policy as PolicyName, out, await predictorFor(f, inputs), f.force === true);
      if (f.json) console.log(JSON.stringify({ dir: r.dir, metrics: r.metrics, wall: r.wall }));
      else console.log(`${table([[f.policy, r]])}\n\nrun directory: ${r.dir}`);
      if (served) {
        process.stderr.write(`run finished; the dashboard stays at ${served.url} until Ctrl-C\n`);
        await new Promise<void>((done) => process.once('SIGINT', done).once('SIGTERM', done));
        await served.close();
      }
    });

  simOptions(program.command('compare'))
    .description('run several policies on identical arrivals; one run directory each, plus comparison.json and a table')
    .option('--policies <list>', `comma-separated policies (default: ${POLICIES.filter((p) => p !== GRAPH_BLIND).join(',')}, and ${GRAPH_BLIND} where some profile calls another)`)
    .option('--out <dir>', 'directory for the runs (default out/compare/SCENARIO)')
    .option('--vary <key=values>', `a what-if study: every policy on each variant, into OUT/VARIANT/POLICY; KEY is one of ${VARY_KEYS.join(', ')} (files or presets, comma-separated; config=none and psi=none: the scenario's own config, no PSI trace; seed: a list or a range FROM..TO). One --vary per compare, at most ${MAX_VARIANTS} variants`)
    .addHelpText('after', '\nExamples:\n  $ fgo compare --scenario diurnal-8n --policies engine,least-loaded,numad --duration 6h\n  $ fgo compare --scenario burst-2n --vary topology=2n-32c,4n-64c      # the same load on 2 or 4 nodes\n  $ fgo compare --scenario burst-2n --vary config=none,tuned.json     # the scenario\'s thresholds or mine\n  $ fgo compare --scenario default --vary seed=1..5   # mean and min–max over 5 seeds; verdict on the means')
    .action(async (f: SimFlags & { policies?: string; vary?: string }) => {
      const given = f.policies?.split(',').map((p) => p.trim()).filter(Boolean);
      const bad = (given ?? []).filter((p) => !POLICIES.includes(p as PolicyName));
      if (bad.length || given?.length === 0) throw new InputError([`--policies: unknown ${bad.map((b) => `${b}${didYouMean(b, POLICIES)}`).join(', ') || '(none given)'}; choose from ${POLICIES.join(', ')}`], 2);
      const vary = f.vary === undefined ? undefined : parseVary(f.vary);
      const conflict = vary && conflictingFlag(vary.key, f as Record<string, unknown>);
      if (conflict) throw new InputError([conflict], 2);
      // Every variant's inputs read and checked before the first run.
      const prepared = vary ? vary.variants.map((v) => prepareVariant(f, vary.key, v.value)) : [prepare(f)];
      const inputs = prepared[0] as Omit<RunInputs, 'policy'>;
      const policies: string[] = given ?? policiesFor(inputs.scenario.profiles);
      const out = f.out ?? join('out', 'compare', inputs.scenario.name);
      checkOutDir(out, f.force === true);
      if (vary) return await varyCommand(out, vary, prepared, policies as PolicyName[], f);
      const predictor = await predictorFor(f, inputs);
      // Built whole in a temporary directory (fgo's marker in it), then renamed into place.
      const tmp = makeTempDir(out);
      let results: Record<string, RunResult>, comparison, verdict;
      try {
        ({ results, comparison, verdict } = await compareInto(tmp, inputs, policies as PolicyName[], predictor));
        checkOutDir(out, f.force === true); // again: something may have appeared there meanwhile
        commitDir(tmp, out);
      } catch (e) {
        discardTemp(tmp);
        throw e;
      }
      const report = { path: join(out, 'report.html') };
      if (f.json) console.log(JSON.stringify({ dir: out, report: report.path, ...comparison }));
      // The verdict first, then the figures, then where everything is, then the verdict's table, and
      // last the verdict in one plain sentence: what a person reads when the command returns.
      else console.log(`${inputs.scenario.name}: ${inputs.scenario.description}\n${verdict ? `\nverdict: ${verdict.summary}\n` : ''}\n${table(Object.entries(results))}\n\nrun directories: ${out}/{${policies.join(',')}}\ncomparison: ${join(out, 'comparison.json')}\nreport: ${report.path} (open it in a browser; it needs no network)${verdict ? `\n\n${verdictTable([verdict])}\n\n${verdictInWords(verdict, comparison.policies)}` : ''}`);
    });
}
