/**
 * Loading the engine's inputs from files, shared by every command: configs (a file or a tune
 * result), observations and requests, each validated with every problem located. Topologies and
 * what a scenario names are read by sim/scenario-inputs.ts, which the simulator's workers share.
 */
import type { z } from 'zod';
import { ConfigError, parseConfig, problemsOf, type Config } from '../engine/index.ts';
import { InputError } from '../formats/errors.ts';
import { locate, readJson } from '../formats/jsonfile.ts';
import { RESULT_FORMAT as TUNE_RESULT_FORMAT } from '../sim/tune/sweep.ts';

/**
 * An engine config document from a file: the file itself, or — for a result of `fgo tune` — the
 * config it found (`tuned.engine_config`), so a tuning's output is used as it is written. `at`
 * is where the config sits in the file, for locating problems.
 */
export function readConfigDoc(file: string): { value: Record<string, unknown>; text: string; at: string } {
  const { value, text } = readJson(file);
  // The engine takes a missing config as the defaults; a file must hold an object ({} for them).
  if (value === null || typeof value !== 'object' || Array.isArray(value))
    throw new InputError([
      `${file}:1:1: (top level): expected an object (use {} for the design defaults), got ${value === null ? 'null' : Array.isArray(value) ? 'an array' : typeof value}`,
    ]);
  const doc = value as Record<string, unknown>;
  if (doc.format !== TUNE_RESULT_FORMAT) return { value: doc, text, at: '' };
  const tuned = (doc.tuned as { engine_config?: unknown } | undefined)?.engine_config;
  if (tuned === null || typeof tuned !== 'object' || Array.isArray(tuned))
    throw new InputError([`${file}: an fgo tune result without tuned.engine_config`]);
  return { value: tuned as Record<string, unknown>, text, at: 'tuned.engine_config.' };
}

export function loadConfig(file: string | undefined): Config {
  if (!file) return parseConfig({});
  const { value, text, at } = readConfigDoc(file);
  try {
    return parseConfig(value);
  } catch (e) {
    if (!(e instanceof ConfigError)) throw e;
    const stale =
      at && e.problems.some((p) => p.endsWith('unknown key'))
        ? [
            `${file}: written by an fgo whose engine config had keys this one does not; run fgo tune again (its command is in the file's "command")`,
          ]
        : [];
    throw new InputError([
      ...locate(
        file,
        text,
        e.problems.map((p) => at + p),
      ),
      ...stale,
    ]);
  }
}

export function loadValidated<T>(file: string, schema: z.ZodType<T>): T {
  const { value, text } = readJson(file);
  const problems = problemsOf(schema, value);
  if (problems.length) throw new InputError(locate(file, text, problems));
  return value as T;
}
