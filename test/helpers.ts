/**
 * Small helpers several test files share: temporary input files, the problems an InputError
 * lists, and the real 8-node SLIT used as expected data (kept here as a literal, read from hwloc's
 * dump, rather than imported from sim/topologies.ts, so tests check the preset against it).
 */
import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { InputError } from '../cli/jsonfile.ts';

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
