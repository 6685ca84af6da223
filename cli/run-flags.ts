/** The flags of the commands that run many simulations (compare, scorecard, tune, study): --workers and --duration. */
import { availableParallelism } from 'node:os';
import { parseDuration_s } from '../formats/duration.ts';
import { InputError } from '../formats/errors.ts';

/** A --duration-like flag: a positive duration in seconds, or null for 'full' (each scenario's own). */
export function durationFlag(flag: string, v: string): number | null {
  if (v === 'full') return null;
  try {
    const s = parseDuration_s(v);
    if (s <= 0) throw new Error(`'${v}' is not a positive duration`);
    return s;
  } catch (e) {
    throw new InputError([`${flag}: ${(e as Error).message} (or 'full' for the scenarios' own durations)`], 2);
  }
}

/** Most worker threads a command starts: each holds a simulation's memory. */
export const MAX_WORKERS = 64;

/** --workers: a whole number from 0 (every run in this thread) to MAX_WORKERS; default the CPUs available. */
export function workersFlag(v: string | undefined): number {
  if (v === undefined) return Math.min(MAX_WORKERS, availableParallelism());
  if (!/^\d{1,6}$/.test(v) || Number(v) > MAX_WORKERS)
    throw new InputError(
      [`--workers: '${v}' is not a whole number from 0 (every run in this thread) to ${MAX_WORKERS}`],
      2,
    );
  return Number(v);
}
