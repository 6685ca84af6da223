/**
 * `fgo sim` and `fgo compare`: run the twin on a scenario (bundled or a file, with flags
 * overriding its fields), write run directories, print summary tables. Invalid scenarios,
 * topologies or traces exit 2 with the field or line named, before anything is written.
 */
import { readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import type { Command } from 'commander';
import { GRAPH_BLIND, POLICIES, policiesFor, type PolicyName } from '../sim/baselines.ts';
import { didYouMean } from '../formats/suggest.ts';
import { commitDir, discardTemp, makeTempDir } from '../formats/files.ts';
import { markerText, OUTPUT_MARKER, outputDirProblem } from '../formats/outputs.ts';
import type { DemandPredictor } from '../predict/predictor.ts';
import { runSimulation, type RunInputs, type RunResult } from '../sim/run.ts';
import type { MetricsSummary } from '../sim/metrics.ts';
import { bundledScenarios } from '../sim/scenario.ts';
import { PRESETS } from '../sim/topologies.ts';
import { wallFromFile } from '../formats/wall.ts';
import { parseShard, SHARD_FILE, type Shard } from '../sim/shards.ts';
import { verdictInWords, verdictTable } from '../sim/verdict.ts';
import { InputError } from '../formats/errors.ts';
import { SCENARIO_FLAGS, takesOne } from './flag-aliases.ts';
import {
  compareSpec,
  comparisonDoc,
  finishCompare,
  mergeCompareShards,
  runCompare,
  shardJson,
  type CompareSpec,
  type Comparison,
} from './compare.ts';
import type { CompareRun } from './compare-job.ts';
import { predictorFor, prepare, prepareVariant, warn, type SimFlags } from './prepare.ts';
import { workersFlag } from './tune.ts';
import { conflictingFlag, MAX_VARIANTS, parseVary, VARY_KEYS, varyTable, type Vary } from './vary.ts';
import { roundTo } from '../engine/round.ts';

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
  let shown = '',
    at = 0;
  return {
    update(f, note = '') {
      const pct = Math.floor(Math.min(1, Math.max(0, f)) * 100);
      const now = Date.now();
      // Redrawn when the percentage or the note changes, and each second for the time left.
      if (`${pct} ${note}` === shown && now - at < 1000) return;
      shown = `${pct} ${note}`;
      at = now;
      const eta = f > 0 && f < 1 ? Math.round((((now - start) / 1000) * (1 - f)) / f) : undefined;
      const width = 30,
        fill = Math.round((pct / 100) * width);
      process.stderr.write(
        `\r\x1b[K${label} [${'#'.repeat(fill)}${' '.repeat(width - fill)}] ${String(pct).padStart(3)}%${note ? `  ${note}` : ''}${eta === undefined ? '' : `  ETA ${Math.floor(eta / 60)}m${String(eta % 60).padStart(2, '0')}s`}`,
      );
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
interface TableRow {
  metrics: MetricsSummary;
  wall_s: number;
}

function table(results: ReadonlyArray<[string, TableRow]>): string {
  const faults = results.some(([, r]) => r.metrics.faults.injected > 0);
  const calls = results.some(([, r]) => r.metrics.calls > 0);
  const head = [
    'policy',
    'SLO miss',
    'p50 ms',
    'p99 ms',
    ...(calls ? ['e2e p99'] : []),
    'cold',
    'local',
    'util',
    'shed',
    ...(faults ? ['MTTD s', 'MTTR s', 'healed'] : []),
    'wall s',
  ];
  const rows = results.map(([name, r]) => {
    const m = r.metrics;
    return [
      name,
      m.slo_miss_ratio.toFixed(4),
      m.latency_ms.p50.toFixed(1),
      m.latency_ms.p99.toFixed(1),
      ...(calls ? [m.e2e_latency_ms.p99.toFixed(1)] : []),
      m.cold_start_ratio.toFixed(3),
      m.local_access_ratio.toFixed(3),
      m.utilization.mean.toFixed(3),
      String(m.requests.shed),
      ...(faults
        ? [
            m.mttd_s === null ? '-' : String(m.mttd_s),
            m.mttr_s === null ? '-' : String(m.mttr_s),
            `${m.faults.recovered}/${m.faults.injected}`,
          ]
        : []),
      r.wall_s.toFixed(1),
    ];
  });
  const all = [head, ...rows];
  const w = head.map((_, i) => Math.max(...all.map((r) => (r[i] ?? '').length)));
  return all
    .map((r) => r.map((c, i) => (i === 0 ? c.padEnd(w[i] as number) : c.padStart(w[i] as number))).join('  '))
    .join('\n');
}

/** One run with its progress bar; `note` says where it is in a series ("3/12 runs"). */
async function run(
  inputs: Omit<RunInputs, 'policy'>,
  policy: PolicyName,
  out: string | undefined,
  predictor: DemandPredictor | undefined,
  force = false,
  note?: string,
): Promise<RunResult> {
  const bar = progressBar(`${inputs.scenario.name} · ${policy}`);
  try {
    return await runSimulation({
      ...inputs,
      policy,
      out,
      force,
      progress: (f) => bar.update(f, note),
      warn,
      ...(predictor ? { predictor } : {}),
    });
  } finally {
    bar.done();
  }
}

const simOptions = (c: Command) =>
  takesOne(c, SCENARIO_FLAGS, 'fgo scorecard runs several (--scenarios A,B)')
    .option(
      '--scenario <name|file>',
      `a bundled scenario (${bundledScenarios().join(', ')}) or a scenario JSON file`,
      'default',
    )
    .option('--seed <n>', 'seed of every random stream (arrivals, faults, the engine)')
    .option('--duration <d>', 'simulated time, e.g. 90s, 30m, 24h')
    .option(
      '--config <file>',
      "engine config JSON laid over the scenario's key by key (or the result of fgo tune: its tuned config)",
    )
    .option(
      '--topology <preset|file|sysfs:DIR>',
      `a preset (${Object.keys(PRESETS).join(', ')}), a topology JSON file, or sysfs:DIR to read a machine dump`,
    )
    .option(
      '--workload <file>',
      'a demand (t_s,profile,count) or request (t_ms,profile,cpu_ms,mem_mb,priority,io) trace, told apart by its header',
    )
    .option('--psi <file>', 'a PSI trace shown to the policy (what it is shown; nothing runs)')
    .option(
      '--psi-mode <mode>',
      "overlay: added to the twin's own pressure; replace: the policy sees exactly the recording",
    )
    .option(
      '--background <file>',
      "a host recording (fgo record) replayed as a neighbour's work that really runs: it takes CPU, memory and device time, so pressure and slowdown follow from the model",
    )
    .option('--background-node <n>', 'put the --background neighbour on node N (default: spread over all nodes)')
    .option(
      '--decisions <level>',
      "how much of the decision stream decisions.jsonl keeps: all (every node's score; large), compact (the default: chosen node and runner-up), sample:N (one compact decision in N), none; metrics are the same whatever the level",
    )
    .option('--explain-full', 'the same as --decisions all')
    .option(
      '--model <file>',
      'ONNX demand model that sizes the pools (e.g. models/demand.onnx); default: EWMA of arrivals',
    )
    .option('--force', 'replace --out even if it exists and was not written by fgo (everything in it is deleted)')
    .option('--json', 'print one JSON object instead of tables');

/** `--serve ADDRESS` checked before the run is prepared: a usage error, exit 2. */
async function checkListen(address: string): Promise<void> {
  const { parseListen } = await import('../serve/api.ts'); // loaded only with --serve, like the server
  try {
    parseListen(address);
  } catch (e) {
    throw new InputError([`--serve: ${(e as Error).message}`], 2);
  }
}

/** The dashboard server; an address that cannot be bound is one line and exit 1. */
async function serve(address: string, title: string, speed: number) {
  const [{ serveRun }, { ListenError }] = await Promise.all([import('../sim/serve.ts'), import('../serve/api.ts')]);
  try {
    return await serveRun(address, title, speed);
  } catch (e) {
    if (e instanceof ListenError) throw new InputError([`--serve: ${e.message}`], 1);
    throw e;
  }
}

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

/** Where a shard of a comparison (or of a scorecard) went, on stdout. */
export function printShard(
  what: string,
  out: string,
  shard: Shard,
  keys: readonly string[],
  wall_s: number,
  json: boolean,
): void {
  if (json)
    return void console.log(
      JSON.stringify({
        dir: out,
        shard_file: join(out, SHARD_FILE),
        shard,
        runs: keys,
        wall_s: roundTo(wall_s, 1),
      }),
    );
  console.log(
    `${what} shard ${shard.index}/${shard.count}: ${keys.length} run${keys.length === 1 ? '' : 's'} in ${out}, metrics in ${join(out, SHARD_FILE)} (${wall_s.toFixed(1)} s); join the shards with \`${what} merge\``,
  );
}

/**
 * Build a command's output in a temporary directory beside `out` (fgo's marker in it) and rename
 * it into place only when complete, and only if `out` may still be replaced.
 */
export async function buildOutput<T>(out: string, force: boolean, build: (tmp: string) => Promise<T>): Promise<T> {
  const tmp = makeTempDir(out);
  try {
    const r = await build(tmp);
    checkOutDir(out, force); // again: something may have appeared there meanwhile
    commitDir(tmp, out);
    return r;
  } catch (e) {
    discardTemp(tmp);
    throw e;
  }
}

const compareMarker = (dir: string) => writeFileSync(join(dir, OUTPUT_MARKER), markerText('compare'));

export function registerSim(program: Command): void {
  simOptions(program.command('sim'))
    .description(
      'run the digital twin on a scenario and write a run directory (run.json, decisions.jsonl, metrics.json, timeseries.csv, wall.json)',
    )
    .option('--policy <name>', `who decides: ${POLICIES.join(', ')}`, 'engine')
    .option('--out <dir>', 'run directory (default out/sim/SCENARIO-POLICY)')
    .option(
      '--serve [host:port]',
      'serve the live dashboard on loopback while the run plays (default 127.0.0.1:9465); it stays up after the run until Ctrl-C',
    )
    .option('--speed <x>', 'with --serve: simulated seconds per wall-clock second', '20')
    .addHelpText(
      'after',
      '\nExamples:\n  $ fgo sim                                   # the default scenario with the engine\n  $ fgo sim --scenario faults-8n --duration 10m\n  $ fgo sim --scenario psi-replay-1n --psi-mode overlay\n  $ fgo sim --topology 1n-2c --background traces/psi/stress-2cpu-host.csv   # a real neighbour, replayed\n  $ fgo sim --topology sysfs:/ --workload traces/demand/nyc_taxi.csv\n  $ fgo sim --scenario burst-2n --serve        # watch it at http://127.0.0.1:9465/',
    )
    .action(async (f: SimFlags & { policy: string; serve?: string | true; speed: string }) => {
      if (!POLICIES.includes(f.policy as PolicyName))
        throw new InputError(
          [`--policy: '${f.policy}' is not one of ${POLICIES.join(', ')}${didYouMean(f.policy, POLICIES)}`],
          2,
        );
      if (typeof f.serve === 'string') await checkListen(f.serve);
      const inputs = prepare(f);
      const out = f.out ?? join('out', 'sim', `${inputs.scenario.name}-${f.policy}`);
      checkOutDir(out, f.force === true);
      const speed = Number(f.speed);
      if (!(speed > 0 && speed <= 1e6))
        throw new InputError([`--speed: '${f.speed}' is not a number above 0 and at most 1000000`], 2);
      const served =
        f.serve === undefined
          ? undefined
          : await serve(
              f.serve === true ? '127.0.0.1:9465' : f.serve,
              `fgo sim: ${inputs.scenario.name} (${f.policy})`,
              speed,
            );
      if (served) process.stderr.write(`dashboard: ${served.url} (the run plays at ${speed}× real time)\n`);
      const r = await run(
        { ...inputs, ...(served ? { watch: served.watch } : {}) },
        f.policy as PolicyName,
        out,
        await predictorFor(f, inputs),
        f.force === true,
      );
      if (f.json) console.log(JSON.stringify({ dir: r.dir, metrics: r.metrics, wall: r.wall }));
      else
        console.log(`${table([[f.policy, { metrics: r.metrics, wall_s: r.wall.wall_s }]])}\n\nrun directory: ${r.dir}`);
      if (served) {
        process.stderr.write(`run finished; the dashboard stays at ${served.url} until Ctrl-C\n`);
        await new Promise<void>((done) => process.once('SIGINT', done).once('SIGTERM', done));
        await served.close();
      }
    });

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
    .action(async (f: SimFlags & { policies?: string; vary?: string; workers?: string; shard?: string }) => {
      const started = performance.now();
      const given = f.policies
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
      if (shard) {
        const runs = await buildOutput(out, force, async (tmp) => {
          const r = await runCompare(spec, tmp, workers, shard);
          writeFileSync(join(tmp, SHARD_FILE), shardJson(spec, shard, r));
          compareMarker(tmp);
          return r;
        });
        return printShard(
          'fgo compare',
          out,
          shard,
          [...runs.keys()],
          (performance.now() - started) / 1000,
          f.json === true,
        );
      }
      const { runs, c } = await buildOutput(out, force, async (tmp) => {
        const r = await runCompare(spec, tmp, workers);
        const doc = comparisonDoc(spec, (k) => (r.get(k) as CompareRun).metrics);
        await finishCompare(tmp, spec, doc, compareMarker);
        return { runs: r, c: doc };
      });
      printCompare(out, spec, c, (k) => (runs.get(k) as CompareRun).wall_s, f.json === true);
    });

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
    .action(async (shards: string[], own: { out?: string; json?: boolean; force?: boolean }) => {
      // The root command hands options after the operands to `compare`, which keeps those it knows
      // (--out, --json, --force): merge takes them from there too.
      const o = { ...(compare.opts() as { out?: string; json?: boolean; force?: boolean }), ...own };
      if (o.out === undefined) throw new InputError(["error: required option '--out <dir>' not specified"], 2);
      const out = o.out;
      checkOutDir(out, o.force === true);
      const { spec, comparison } = await buildOutput(out, o.force === true, async (tmp) => {
        const m = mergeCompareShards(shards, tmp);
        await finishCompare(tmp, m.spec, m.comparison, compareMarker);
        return m;
      });
      printCompare(out, spec, comparison, (k) => wallOf(join(out, k)), o.json === true);
    });
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
