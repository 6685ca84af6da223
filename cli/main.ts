/**
 * The `fgo` command line: a thin layer that parses arguments, loads and validates files, calls the
 * library and prints. Exit codes: 0 success, 1 invalid input (every problem printed), 2 usage.
 * Whatever else goes wrong is one line on stderr and exit 1, never a stack trace (FGO_DEBUG=1
 * prints the stack); a closed stdout (`fgo … | head`) ends the command quietly with status 0.
 */
import { Command, CommanderError, Option } from 'commander';
import {
  ConfigError,
  Orchestrator,
  observationSchema,
  requestSchema,
  type Observation,
  type Request,
} from '../engine/index.ts';
import { PRESETS } from '../sim/topologies.ts';
import { checkConfigFile, CONFIG_KINDS, type ConfigKind } from './config-check.ts';
import { runDemo } from './demo.ts';
import { registerSim } from './sim.ts';
import { registerCompare } from './compare-command.ts';
import { reportUnexpected } from './fail.ts';
import { locate, readJson } from '../formats/jsonfile.ts';
import { InputError } from '../formats/errors.ts';
import { loadConfig, loadValidated } from './load.ts';
import { loadTopology } from '../sim/scenario-inputs.ts';
import { registerTraceCommands } from './trace.ts';
import { registerTopologyCommand } from './topology.ts';
import { registerLiveCommands } from './live.ts';
import { registerRecordCommand } from './record.ts';
import { registerPredictCommands } from './predict.ts';
import { registerReport } from './report.ts';
import { registerScorecard } from './scorecard.ts';
import { registerTradeoff } from './tradeoff.ts';
import { registerTune } from './tune.ts';
import { registerStudy } from './study.ts';

import { FGO_VERSION } from '../formats/version.ts';

/** `fgo version`. */
function registerVersion(program: Command): void {
  program
    .command('version')
    .description('print the fgo version (and the Node.js running it)')
    .option('--json', 'print one JSON object')
    .addHelpText(
      'after',
      '\nExamples:\n  $ fgo version\n  fgo 0.1.0 (node 20.20.2)\n  $ fgo version --json\n  {"fgo":"0.1.0","node":"20.20.2"}',
    )
    .action((o: { json?: boolean }) => {
      const v = { fgo: FGO_VERSION, node: process.versions.node };
      console.log(o.json ? JSON.stringify(v) : `fgo ${v.fgo} (node ${v.node})`);
    });
}

/** `fgo config check`: validate any of fgo's config files as the command that reads it would. */
function registerConfig(program: Command): void {
  const config = program
    .command('config')
    .description("work with fgo's configuration files: engine, live agent and scenario");
  config
    .command('check')
    .description(
      'validate a config (JSON) as the command that reads it would; prints every problem with its line, exits 1 if any',
    )
    .argument(
      '<file>',
      'an engine config ({} gives the design defaults) or fgo tune result, a live agent config, or a scenario',
    )
    .addOption(
      new Option(
        '--kind <kind>',
        'what the file is (default: told from its keys: `mode` → live, `name` with `profiles` → scenario, else engine)',
      ).choices([...CONFIG_KINDS]),
    )
    .option('--json', 'print {"ok":bool,"kind":…,"problems":[…]} instead of text')
    .option('--print', 'print the effective config, defaults filled in')
    .addHelpText(
      'after',
      '\nExamples:\n  $ fgo config check fgo.json\n  fgo.json:4:17: pressure.thresholds.cpu.high: Too big: expected number to be <=1\n  $ fgo config check live/examples/pool.json\n  live/examples/pool.json: ok (live config)\n  $ fgo config check sim/scenarios/graph-4n.json --print > effective.json',
    )
    .action((file: string, o: { kind?: ConfigKind; json?: boolean; print?: boolean }) => {
      try {
        const r = checkConfigFile(file, o.kind);
        if (o.json)
          console.log(
            JSON.stringify({ ok: true, kind: r.kind, problems: [], ...(o.print ? { config: r.config } : {}) }),
          );
        else console.log(o.print ? JSON.stringify(r.config, null, 2) : `${file}: ok (${r.kind} config)`);
      } catch (e) {
        if (!(e instanceof InputError) || !o.json) throw e;
        console.log(JSON.stringify({ ok: false, problems: e.problems }));
        process.exitCode = 1;
      }
    });
}

/** `fgo decide`: one scheduling decision from files, printed with its explanation. */
function registerDecide(program: Command): void {
  program
    .command('decide')
    .description('make one scheduling decision and print it, with its full explanation, as JSON')
    .requiredOption(
      '--topology <file|preset>',
      `topology JSON (as written by fgo topology --json) or a preset: ${Object.keys(PRESETS).join(', ')}`,
    )
    .requiredOption(
      '--observation <file>',
      'observation JSON: {"t_ms", "psi": {cpu, memory, io}, "nodes"?, "online_cpus"?}',
    )
    .requiredOption('--request <file>', 'request JSON: {"id", "profile", "cpus", "memory_kb", "priority", …}')
    .option('--config <file>', 'engine config JSON (default: the design defaults)')
    .option('--seed <seed>', "seed of the engine's random streams", 'fgo')
    .option('--json', 'accepted for scripts that pass it to every command: the output is always JSON')
    .addHelpText('after', '\nExample:\n  $ fgo decide --topology 2n-32c --observation obs.json --request req.json')
    .action((o: { topology: string; observation: string; request: string; config?: string; seed: string }) => {
      const cfg = loadConfig(o.config);
      const topology = loadTopology(o.topology);
      const obs = loadValidated(o.observation, observationSchema) as Observation;
      const req = loadValidated(o.request, requestSchema) as Request;
      const bad = [
        ...(req.memory_home !== undefined && !topology.byId.has(req.memory_home)
          ? [`memory_home: node ${req.memory_home} is not in the topology`]
          : []),
        ...(req.allowed_nodes ?? [])
          .filter((n) => !topology.byId.has(n))
          .map((n) => `allowed_nodes: node ${n} is not in the topology`),
      ];
      if (bad.length) throw new InputError(locate(o.request, readJson(o.request).text, bad));
      const engine = new Orchestrator({ config: cfg, topology, seed: o.seed });
      console.log(JSON.stringify(engine.schedule(req, obs), null, 2));
    });
}

/** `fgo demo`: the scripted tour of cli/demo.ts. */
function registerDemo(program: Command): void {
  program
    .command('demo')
    .description(
      'a scripted tour of the engine on a built-in two-node topology: placement, deferral, shedding, scaling, healing',
    )
    .option('--json', 'print the decisions and commands as JSON lines instead of a narrative')
    .option('--seed <seed>', "seed of the engine's random streams", 'demo')
    .addHelpText(
      'after',
      '\nExamples:\n  $ fgo demo                      # the tour as a narrative, one step per paragraph\n  $ fgo demo --json | head -3     # the same decisions and commands, one JSON object per line\n  $ fgo demo --seed other         # another seed: same story, other draws among equal nodes',
    )
    .action((o: { json?: boolean; seed: string }) => runDemo(o.seed, o.json === true, (line) => console.log(line)));
}

export function buildProgram(): Command {
  const program = new Command('fgo')
    .description(
      'Fragment Graph Orchestrator: places workloads ("fragments") on NUMA nodes, gates admission on ' +
        'Linux pressure stall information (PSI), pre-warms pools and heals unhealthy fragments. ' +
        'One deterministic engine runs against a digital twin and against the live host.',
    )
    .showHelpAfterError('(run with --help for usage)')
    .exitOverride();

  registerVersion(program);
  registerConfig(program);
  registerDecide(program);
  registerDemo(program);
  registerSim(program);
  registerCompare(program);
  registerScorecard(program);
  registerTraceCommands(program);
  registerTopologyCommand(program);
  registerLiveCommands(program, FGO_VERSION);
  registerRecordCommand(program);
  registerPredictCommands(program);
  registerReport(program);
  registerTradeoff(program);
  registerTune(program);
  registerStudy(program);

  return program;
}

/**
 * A reader that went away (`fgo … --json | head`): stop at once, as other Unix tools do when
 * SIGPIPE ends them, with status 0 — the output that was wanted has been read.
 */
function exitOnEpipe(stream: NodeJS.WriteStream): void {
  stream.on('error', (e: NodeJS.ErrnoException) => {
    if (e.code === 'EPIPE') process.exit(0);
    reportUnexpected(e);
  });
}

/** Errors after `main` returned (a command's detached work): reported alike, never a stack trace. */
function catchStragglers(): void {
  process.on('uncaughtException', (e) => {
    if ((e as NodeJS.ErrnoException).code === 'EPIPE') process.exit(0);
    reportUnexpected(e);
    process.exit(1);
  });
  process.on('unhandledRejection', (e) => {
    reportUnexpected(e);
    process.exit(1);
  });
}

export async function main(argv: string[]): Promise<void> {
  exitOnEpipe(process.stdout);
  catchStragglers();
  const program = buildProgram();
  try {
    await program.parseAsync(argv);
  } catch (e) {
    if (e instanceof CommanderError) {
      // help and version print and exit 0; usage errors already printed their message.
      process.exitCode = e.exitCode === 0 ? 0 : 2;
      return;
    }
    if (e instanceof InputError || e instanceof ConfigError) {
      for (const p of e.problems) console.error(p);
      process.exitCode = e instanceof InputError ? e.exitCode : 1;
      return;
    }
    reportUnexpected(e);
  }
}
