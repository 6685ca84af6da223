/**
 * `fgo config check`: every kind of config fgo reads, checked as the command that reads it would —
 * an engine config (or an `fgo tune` result), a live agent config, a scenario — the kind named
 * with `--kind` or told from the document: `mode` makes it a live config, `name` with `profiles`,
 * `duration` or `topology` a scenario, anything else an engine config.
 */
import { ConfigError } from '../engine/config.ts';
import { engineConfigFor } from '../sim/run.ts';
import { loadScenario } from '../sim/scenario.ts';
import { locate, readJson } from '../formats/jsonfile.ts';
import { InputError } from '../formats/errors.ts';
import { loadLiveConfig } from './live.ts';
import { loadConfig } from './load.ts';

export const CONFIG_KINDS = ['engine', 'live', 'scenario'] as const;
export type ConfigKind = (typeof CONFIG_KINDS)[number];

/** The kind a parsed document looks like. */
export function detectKind(doc: unknown): ConfigKind {
  if (doc === null || typeof doc !== 'object' || Array.isArray(doc)) return 'engine';
  const o = doc as Record<string, unknown>;
  if ('mode' in o) return 'live';
  if ('name' in o && ('profiles' in o || 'duration' in o || 'topology' in o)) return 'scenario';
  return 'engine';
}

/** Check `file` as `kind` (detected when absent); the effective config, or an InputError listing every problem located. */
export function checkConfigFile(file: string, kind?: ConfigKind): { kind: ConfigKind; config: unknown } {
  const k = kind ?? detectKind(readJson(file).value);
  if (k === 'engine') return { kind: k, config: loadConfig(file) };
  if (k === 'live') return { kind: k, config: loadLiveConfig(file) };
  const s = loadScenario(file);
  try {
    return { kind: k, config: { ...s, engine: engineConfigFor(s) } };
  } catch (e) {
    // The scenario's engine section, laid over its catalogue: located under "engine".
    if (e instanceof ConfigError)
      throw new InputError(
        locate(
          file,
          readJson(file).text,
          e.problems.map((p) => `engine.${p}`),
        ),
      );
    throw e;
  }
}
