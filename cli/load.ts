/**
 * Loading the engine's inputs from files, shared by every command: configs, topologies (a file or
 * a preset name), observations and requests, each validated with every problem located.
 */
import { existsSync } from 'node:fs';
import type { z } from 'zod';
import { buildTopology, ConfigError, parseConfig, problemsOf, TopologyError, type Config, type Topology } from '../engine/index.ts';
import { HostRootsError, resolveRoots } from '../live/roots.ts';
import { readTopology } from '../live/topology.ts';
import { PRESETS } from '../sim/topologies.ts';
import { InputError, locate, readJson } from './jsonfile.ts';

export function loadConfig(file: string | undefined): Config {
  if (!file) return parseConfig({});
  const { value, text } = readJson(file);
  try {
    return parseConfig(value);
  } catch (e) {
    if (e instanceof ConfigError) throw new InputError(locate(file, text, e.problems));
    throw e;
  }
}

/**
 * A preset name (see `fgo decide --help`), `sysfs:DIR` (a host read live, DIR standing for /, as
 * `fgo topology --fs-root DIR` reads it) or a topology JSON file as `fgo topology --json` writes.
 */
export function loadTopology(arg: string): Topology {
  const preset = PRESETS[arg];
  if (preset) return buildTopology(preset());
  if (arg.startsWith('sysfs:')) {
    try {
      return buildTopology(readTopology(resolveRoots({ fsRoot: arg.slice('sysfs:'.length) || '/' })));
    } catch (e) {
      if (e instanceof HostRootsError || e instanceof TopologyError) throw new InputError(e.problems.map((p) => `${arg}: ${p}`));
      throw e;
    }
  }
  if (!existsSync(arg)) throw new InputError([`topology '${arg}': neither a preset (${Object.keys(PRESETS).join(', ')}), sysfs:DIR, nor a file`]);
  const { value, text } = readJson(arg);
  try {
    return buildTopology(value);
  } catch (e) {
    if (e instanceof TopologyError) throw new InputError(locate(arg, text, e.problems.map((p) => p.replace(/\[(\d+)\]/g, '.$1'))));
    throw e;
  }
}

export function loadValidated<T>(file: string, schema: z.ZodType<T>): T {
  const { value, text } = readJson(file);
  const problems = problemsOf(schema, value);
  if (problems.length) throw new InputError(locate(file, text, problems));
  return value as T;
}
