/**
 * `fgo sim`: run the twin on a scenario (bundled or a file, with flags overriding its fields),
 * write its run directory, print its summary table (`fgo compare` is cli/compare-command.ts).
 * Invalid scenarios, topologies or traces exit 2 with the field or line named, before anything is
 * written.
 */
import { join } from 'node:path';
import type { Command } from 'commander';
import { InputError } from '../formats/errors.ts';
import { didYouMean } from '../formats/suggest.ts';
import type { DemandPredictor } from '../predict/predictor.ts';
import { POLICIES, type PolicyName } from '../sim/baselines.ts';
import { runSimulation, type RunInputs, type RunResult } from '../sim/run.ts';
import { checkOutDir } from './output-dir.ts';
import { predictorFor, prepare, warn, type SimFlags } from './prepare.ts';
import { progressBar } from './progress.ts';
import { table } from './run-table.ts';
import { simOptions } from './sim-options.ts';

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

/** `--serve ADDRESS` checked before the run is prepared: a usage error, exit 2. */
async function checkListen(address: string): Promise<void> {
  const { parseListen } = await import('../serve/listen.ts'); // loaded only with --serve, like the server
  try {
    parseListen(address);
  } catch (e) {
    throw new InputError([`--serve: ${(e as Error).message}`], 2);
  }
}

/** The dashboard server; an address that cannot be bound is one line and exit 1. */
async function serve(address: string, title: string, speed: number) {
  const [{ serveRun }, { ListenError }] = await Promise.all([import('../sim/serve.ts'), import('../serve/listen.ts')]);
  try {
    return await serveRun(address, title, speed);
  } catch (e) {
    if (e instanceof ListenError) throw new InputError([`--serve: ${e.message}`], 1);
    throw e;
  }
}

type SimCliFlags = SimFlags & { policy: string; serve?: string | true; speed: string };

/** `fgo sim`'s action: one run (watched on the dashboard with --serve) and its table. */
async function runSim(f: SimCliFlags): Promise<void> {
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
  else console.log(`${table([[f.policy, { metrics: r.metrics, wall_s: r.wall.wall_s }]])}\n\nrun directory: ${r.dir}`);
  if (served) {
    process.stderr.write(`run finished; the dashboard stays at ${served.url} until Ctrl-C\n`);
    await new Promise<void>((done) => process.once('SIGINT', done).once('SIGTERM', done));
    await served.close();
  }
}

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
    .action(runSim);
}
