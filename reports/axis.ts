/**
 * A report's time axis — how wide its bins are, for the line charts and the per-node heat map —
 * from what decides it (each run's duration, timeseries interval and node count), so that a
 * caller knowing its runs before they exist (fgo compare) can have each run folded where it is
 * produced (AggregatedRun) on the bins the report will use.
 */
import type { TimeAxis } from './chart-spec.ts';
import type { RunSeries } from './aggregate.ts';
import type { RunMeta } from './load.ts';

/** Time bins per run on the line charts: enough for the eye, few enough to stay small. */
export const MAX_BINS = 400;
/** Heat-map cells over all runs (nodes × time cells). */
export const HEAT_CELLS = 30_000;
/** How finely runs are drawn: time bins per run, heat-map cells over all runs of a report (or a section). */
export interface Limits {
  bins: number;
  heatCells: number;
}
/** Bin widths a person reads easily, s. */
const NICE_S = [1, 2, 5, 10, 15, 30, 60, 120, 300, 600, 900, 1800, 3600, 7200, 10800, 21600, 43200, 86400];

const nice = (min_s: number) => NICE_S.find((n) => n >= min_s) ?? Math.ceil(min_s / 86400) * 86400;

/** What a run's time axis depends on: known from run.json, or before the run from its inputs. */
export interface AxisRun {
  duration_s: number;
  /** The scenario's timeseries_interval_s (default 1). */
  interval_s: number;
  /** The topology's node count (at least 1). */
  nodes: number;
}

/** A read run's AxisRun, from its run.json. */
export function axisRunOf(r: RunMeta): AxisRun {
  const interval_s = Number((r.run.scenario as { timeseries_interval_s?: number }).timeseries_interval_s ?? 1);
  return {
    duration_s: r.duration_s,
    interval_s,
    nodes: Math.max(1, ((r.run as { topology?: { nodes?: unknown[] } }).topology?.nodes ?? []).length),
  };
}

/** The bins and the display unit for a set of runs: the longest run decides, so all share one axis. */
export function timeAxisFor(runs: readonly RunMeta[], limits?: Limits): TimeAxis {
  return timeAxisOf(runs.map(axisRunOf), limits);
}

/** timeAxisFor from what decides it, so a caller that knows the runs before they exist (fgo compare) can ask it. */
export function timeAxisOf(
  runs: readonly AxisRun[],
  limits: Limits = { bins: MAX_BINS, heatCells: HEAT_CELLS },
): TimeAxis {
  const D = Math.max(1, ...runs.map((r) => r.duration_s));
  // A bin is never finer than the coarsest timeseries interval (it would hold no row).
  const rowEvery = Math.max(1, ...runs.map((r) => r.interval_s));
  const bin_s = nice(Math.max(rowEvery, D / limits.bins));
  const nodes = runs.reduce((a, r) => a + r.nodes, 0);
  const heat_bin_s = nice(Math.max(bin_s, (D * nodes) / limits.heatCells));
  const [unit_s, unit] = D <= 1800 ? [1, 's' as const] : D <= 12 * 3600 ? [60, 'min' as const] : [3600, 'h' as const];
  return { bin_s, heat_bin_s, unit_s, unit };
}

/**
 * A run already folded into bins (aggregateRun) where it was produced, e.g. in the pool worker
 * that ran it, so the report only assembles; used only when its bins are the report's.
 */
export interface AggregatedRun {
  bin_s: number;
  heat_bin_s: number;
  series: RunSeries;
}
