/** The flags `fgo sim` and `fgo compare` share: the run's inputs (cli/prepare.ts reads them) and output. */
import type { Command } from 'commander';
import { bundledScenarios } from '../sim/scenario.ts';
import { PRESETS } from '../sim/topologies.ts';
import { SCENARIO_FLAGS, takesOne } from './flag-aliases.ts';

export const simOptions = (c: Command) =>
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
