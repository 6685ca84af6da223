/**
 * fgo's version, read once from package.json: run.json, tune results, scorecards, `fgo version`
 * and the agent's fgo_build_info all name the same one.
 */
import { readFileSync } from 'node:fs';

export const FGO_VERSION = (
  JSON.parse(readFileSync(new URL('../package.json', import.meta.url), 'utf8')) as { version: string }
).version;
