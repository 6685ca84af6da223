/**
 * A run's inputs from fgo's flags (`fgo sim`, `fgo compare`, the notebooks): the scenario with
 * every flag applied and the files it names read and validated. Invalid scenarios, topologies or
 * traces are an InputError (exit 2) naming the field or line, before anything is written.
 */
import { ZodError } from 'zod';
import { ConfigError, TopologyError } from '../engine/index.ts';
import { deepMerge } from '../engine/config.ts';
import { FGO_VERSION } from '../formats/version.ts';
import { loadDemandPredictor } from '../predict/onnx-predictor.ts';
import type { DemandPredictor } from '../predict/predictor.ts';
import { parseDecisionLog, type DecisionLog } from '../sim/decision-log.ts';
import { engineConfigFor, type RunInputs } from '../sim/run.ts';
import { loadScenario, scenarioSchema, type Scenario } from '../sim/scenario.ts';
import { parseDuration_s } from '../formats/duration.ts';
import { InputError } from '../formats/errors.ts';
import { loadConfig, readConfigDoc } from './load.ts';
import { scenarioInputs } from '../sim/scenario-inputs.ts';
import { MAX_SEED, variantFlags, type VaryKey } from './vary.ts';

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
    if (e instanceof ZodError)
      throw new InputError(
        e.issues.map((i) => `scenario: ${i.path.join('.')}: ${i.message}`),
        2,
      );
    throw e;
  }
}

function prepareInputs(f: SimFlags): Omit<RunInputs, 'policy'> {
  let s: Scenario = loadScenario(f.scenario ?? 'default');
  const set = (patch: Partial<Scenario>) => (s = scenarioSchema.parse({ ...s, ...patch }));
  if (f.seed !== undefined) {
    if (!/^\d{1,16}$/.test(f.seed) || Number(f.seed) > MAX_SEED)
      throw new InputError([`--seed: '${f.seed}' is not a whole number from 0 to ${MAX_SEED}`]);
    set({ seed: Number(f.seed) });
  }
  if (f.psiMode !== undefined && f.psiMode !== 'overlay' && f.psiMode !== 'replace')
    throw new InputError([`--psi-mode: '${f.psiMode}' is not overlay or replace`]);
  if (f.psiMode !== undefined && f.psi === undefined && !s.psi)
    throw new InputError([
      `--psi-mode: needs --psi FILE (or a scenario with a psi trace); scenario ${s.name} has none`,
    ]);
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
    if (!/^\d+$/.test(f.backgroundNode))
      throw new InputError([`--background-node: '${f.backgroundNode}' is not a node id`]);
    if (!s.background)
      throw new InputError(['--background-node: needs --background FILE (or a scenario with a background)']);
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
export function prepareVariant(f: SimFlags, key: VaryKey, value: string): Omit<RunInputs, 'policy'> {
  try {
    return prepare(variantFlags(f, key, value));
  } catch (e) {
    if (e instanceof InputError)
      throw new InputError(
        e.problems.map((p) => `--vary ${key}=${value}: ${p}`),
        e.exitCode,
      );
    throw e;
  }
}

export const warn = (m: string) => process.stderr.write(`warning: ${m}\n`);

/** The predictor `--model` names, asked once per scaling cycle; a bad model warns and falls back to EWMA. */
export async function predictorFor(
  f: SimFlags,
  inputs: Omit<RunInputs, 'policy'>,
): Promise<DemandPredictor | undefined> {
  if (f.model === undefined) return undefined;
  return loadDemandPredictor(f.model, { horizon_s: engineConfigFor(inputs.scenario).scaling.interval_ms / 1000, warn });
}

/** The flags that decide a run's inputs (the rest say where output goes and how it is shown). */
const INPUT_FLAGS = [
  'scenario',
  'seed',
  'duration',
  'config',
  'topology',
  'workload',
  'psi',
  'psiMode',
  'background',
  'backgroundNode',
  'explainFull',
  'decisions',
  'model',
  'noPsi',
] as const satisfies ReadonlyArray<keyof SimFlags>;

/** Only the input flags, in a fixed order: what a worker needs to prepare the same inputs, and what a shard records. */
export function inputFlags(f: SimFlags): SimFlags {
  const out: Record<string, unknown> = {};
  for (const k of INPUT_FLAGS) if (f[k] !== undefined) out[k] = f[k];
  return out as SimFlags;
}
