/**
 * What every report chart shares: the run and time-axis types, the spec wrapper (inline named
 * datasets, theme.ts config, title) and the encodings and rounding the chart builders reuse. Every
 * spec is self-contained so the same spec renders identically in the HTML page (vega-embed) and
 * headless (images.ts).
 */
import type { TopLevelSpec } from 'vega-lite';
import { roundTo } from '../engine/round.ts';
import type { RunSeries } from './aggregate.ts';
import type { RunMeta } from './load.ts';
import { CONFIG, OKABE_ITO } from './theme.ts';

export interface Run extends RunMeta {
  series: RunSeries;
}

/** How the time axis is binned and labelled, shared by every chart of one report. */
export interface TimeAxis {
  bin_s: number;
  heat_bin_s: number;
  /** Seconds per display unit, and its name. */
  unit_s: number;
  unit: 's' | 'min' | 'h';
}

export interface ChartDef {
  id: string;
  title: string;
  /** Canvas for charts with thousands of marks (faster to draw), SVG otherwise. */
  renderer: 'svg' | 'canvas';
  spec: TopLevelSpec;
}

export type Obj = Record<string, unknown>;

/** NaN (no value) as null, which Vega-Lite leaves out of a line. */
export const num = (x: number) => (Number.isFinite(x) ? x : null);
/** A duration as a person says it: 2 s, 5 min, 1 h. */
export const span = (s: number) =>
  s < 60 ? `${s} s` : s < 3600 ? `${roundTo(s / 60, 2)} min` : `${roundTo(s / 3600, 2)} h`;

export function top(title: string, subtitle: string[], body: Obj, datasets: Obj): TopLevelSpec {
  return { title: { text: title, subtitle }, datasets, config: CONFIG, ...body } as unknown as TopLevelSpec;
}

export const xTime = (ax: TimeAxis, field = 't') => ({
  field,
  type: 'quantitative',
  title: `time (${ax.unit})`,
  scale: { nice: false, zero: true },
});
export const runColour = (runs: Run[]) => ({
  field: 'run',
  type: 'nominal',
  title: 'run',
  scale: { domain: runs.map((r) => r.label), range: [...OKABE_ITO] },
});
export const t = (ax: TimeAxis, t_s: number) => roundTo(t_s / ax.unit_s, 4);
