/**
 * `writeReport`: run directories in, one self-contained HTML report out (and, on request, every
 * chart as SVG and PNG). The entry point for `fgo report`, `fgo compare` and notebooks.
 *
 * Size is bounded by construction, not by the run: every run is cut into at most MAX_BINS time
 * bins and the per-node heat map into at most HEAT_CELLS cells over all runs, whatever the
 * duration or node count, so a 24-hour, 64-node run gives a report of a few MB that a browser
 * draws in seconds.
 */
import { renameSync, statSync, writeFileSync, mkdirSync } from 'node:fs';
import { dirname } from 'node:path';
import { buildCharts, type ChartDef, type Run, type TimeAxis } from './charts.ts';
import { renderHtml } from './html.ts';
import { writeImages } from './images.ts';
import { aggregateRun, expandRunDirs, readRuns, type RunMeta } from './load.ts';

/** Time bins per run on the line charts: enough for the eye, few enough to stay small. */
export const MAX_BINS = 400;
/** Heat-map cells over all runs (nodes × time cells). */
export const HEAT_CELLS = 30_000;
/** Bin widths a person reads easily, s. */
const NICE_S = [1, 2, 5, 10, 15, 30, 60, 120, 300, 600, 900, 1800, 3600, 7200, 10800, 21600, 43200, 86400];

const nice = (min_s: number) => NICE_S.find((n) => n >= min_s) ?? Math.ceil(min_s / 86400) * 86400;

/** The bins and the display unit for a set of runs: the longest run decides, so all share one axis. */
export function timeAxisFor(runs: readonly RunMeta[]): TimeAxis {
  const D = Math.max(1, ...runs.map((r) => r.duration_s));
  // A bin is never finer than the coarsest timeseries interval (it would hold no row).
  const rowEvery = Math.max(1, ...runs.map((r) => Number((r.run.scenario as { timeseries_interval_s?: number }).timeseries_interval_s ?? 1)));
  const bin_s = nice(Math.max(rowEvery, D / MAX_BINS));
  const nodes = runs.reduce((a, r) => a + Math.max(1, ((r.run as { topology?: { nodes?: unknown[] } }).topology?.nodes ?? []).length), 0);
  const heat_bin_s = nice(Math.max(bin_s, (D * nodes) / HEAT_CELLS));
  const [unit_s, unit] = D <= 1800 ? [1, 's' as const] : D <= 12 * 3600 ? [60, 'min' as const] : [3600, 'h' as const];
  return { bin_s, heat_bin_s, unit_s, unit };
}

export interface ReportModel {
  runs: Run[];
  axis: TimeAxis;
  charts: ChartDef[];
  title: string;
}

/** Read, aggregate and lay out: everything but writing, for tests and other front ends. */
export async function buildReport(runDirs: readonly string[], title?: string): Promise<ReportModel> {
  const metas = readRuns(expandRunDirs(runDirs));
  const axis = timeAxisFor(metas);
  const runs: Run[] = [];
  for (const m of metas) runs.push({ ...m, series: await aggregateRun(m, axis.bin_s, axis.heat_bin_s) });
  const scenarios = [...new Set(runs.map((r) => r.run.scenario.name))];
  return { runs, axis, charts: buildCharts(runs, axis), title: title ?? `fgo report: ${scenarios.join(', ')} (${runs.map((r) => r.label).join(', ')})` };
}

/**
 * Write the report of `runDirs` (run directories, or directories of them as `fgo compare` writes)
 * to `out`, through a temporary file renamed into place; with `images`, also ID.svg and ID.png per
 * chart in that directory. Throws ReportInputError listing every unusable file.
 */
export async function writeReport(runDirs: string[], out: string, opts: { images?: string; title?: string } = {}): Promise<{ path: string; bytes: number; charts: number }> {
  const model = await buildReport(runDirs, opts.title);
  const html = renderHtml(model.title, model.runs, model.charts, new Date().toISOString().replace(/\.\d+Z$/, 'Z'));
  mkdirSync(dirname(out), { recursive: true });
  const tmp = `${out}.tmp-${process.pid}`;
  writeFileSync(tmp, html);
  renameSync(tmp, out);
  if (opts.images) await writeImages(model.charts, opts.images);
  return { path: out, bytes: statSync(out).size, charts: model.charts.length };
}
