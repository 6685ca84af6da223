/**
 * Small helpers several test files share: temporary input files, the problems an InputError
 * lists, and the real 8-node SLIT used as expected data (kept here as a literal, read from hwloc's
 * dump, rather than imported from sim/topologies.ts, so tests check the preset against it).
 */
import { spawnSync } from 'node:child_process';
import { mkdirSync, mkdtempSync, readdirSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { InputError } from '../formats/errors.ts';
import { LiveConfigError, parseLiveConfig } from '../live/config.ts';
import { ConfigError, parseConfig } from '../engine/config.ts';

/** Write `text` to a new file `name` in a fresh temporary directory; returns its path. */
export function tmpFile(name: string, text: string): string {
  const f = join(mkdtempSync(join(tmpdir(), 'fgo-test-')), name);
  writeFileSync(f, text);
  return f;
}

/** The problems of the InputError `fn` throws (fails the test if it throws nothing or something else). */
export function inputProblems(fn: () => unknown): string[] {
  try {
    fn();
  } catch (e) {
    if (e instanceof InputError) return e.problems;
    throw e;
  }
  throw new Error('expected an InputError');
}

/** The bundled hwloc dumps (test/fixtures/hwloc, BSD-3 as hwloc). */
export const HWLOC_DUMPS = new URL('./fixtures/hwloc/', import.meta.url).pathname;

/**
 * Unpack hwloc dump `name` into `work`/`name` and return its root, the directory standing for /.
 * Each tarball holds one top directory, not always named like the tarball (32amd64-4s2n4c-cgroup/).
 */
export function unpackHwlocDump(name: string, work: string): string {
  const dir = join(work, name);
  mkdirSync(dir);
  const r = spawnSync('tar', ['-xjf', join(HWLOC_DUMPS, `${name}.tar.bz2`), '-C', dir], { encoding: 'utf8' });
  if (r.status !== 0) throw new Error(`tar ${name}: ${r.stderr}`);
  const [top, ...rest] = readdirSync(dir);
  if (top === undefined || rest.length) throw new Error(`${name}: expected one top directory`);
  return join(dir, top);
}

/** hwloc's 64amd64-4s2n4ca2co (4-socket AMD Opteron 6276): its real 8-node SLIT (the node distance files). */
export const OPTERON_SLIT: number[][] = [
  [10, 16, 16, 22, 16, 22, 16, 22],
  [16, 10, 22, 16, 16, 22, 22, 16],
  [16, 22, 10, 16, 16, 16, 16, 16],
  [22, 16, 16, 10, 16, 16, 22, 22],
  [16, 16, 16, 16, 10, 16, 16, 22],
  [22, 22, 16, 16, 16, 10, 22, 16],
  [16, 22, 16, 22, 16, 22, 10, 16],
  [22, 16, 16, 22, 22, 16, 16, 10],
];

/** Every problem `parseLiveConfig` finds in `doc` (relative paths resolved against /etc/fgo); none: []. */
export function liveConfigProblems(doc: unknown): string[] {
  try {
    parseLiveConfig(doc, '/etc/fgo');
    return [];
  } catch (e) {
    if (e instanceof LiveConfigError) return e.problems;
    throw e;
  }
}

/** The problems an engine config document is rejected with (throws when it is accepted). */
export function configProblems(doc: unknown): string[] {
  try {
    parseConfig(doc);
  } catch (e) {
    if (e instanceof ConfigError) return e.problems;
    throw e;
  }
  throw new Error('expected parseConfig to reject the document');
}
