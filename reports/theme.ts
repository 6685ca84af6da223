/**
 * The look every report chart shares: fonts, colours and sizes, in one Vega-Lite `config`.
 *
 * Colours are chosen for readers with colour-vision deficiencies:
 * - Categories (runs, policies, series) use the Okabe–Ito palette (Okabe & Ito, "Color Universal
 *   Design", 2008), designed to stay distinguishable under protanopia, deuteranopia and tritanopia.
 *   Vega's default `tableau10` is not: its red/green and blue/purple pairs collapse. The yellow is
 *   moved last because it is hard to see on white.
 * - Ordered values (PSI levels, utilization) use sequential ramps whose lightness changes
 *   monotonically (ColorBrewer YlOrRd, viridis), so order survives greyscale and any CVD.
 * - Where two series could still be confused, a second channel (dash pattern, shape) carries the
 *   same information.
 */
import type { Config } from 'vega-lite';

/** Okabe–Ito, in the order categories are assigned. */
export const OKABE_ITO = [
  '#0072B2',
  '#E69F00',
  '#009E73',
  '#D55E00',
  '#CC79A7',
  '#56B4E9',
  '#000000',
  '#F0E442',
] as const;

/** PSI severity bands low → critical: ColorBrewer YlOrRd (4 classes), drawn translucent. */
export const LEVEL_COLOURS = ['#ffffb2', '#fecc5c', '#fd8d3c', '#e31a1c'] as const;
export const LEVELS = ['low', 'medium', 'high', 'critical'] as const;

/**
 * Font stack: DejaVu Sans first because it is the font shipped in reports/fonts/ and the one the
 * headless PNG renderer loads (no system fonts are consulted there); browsers fall back to theirs.
 */
export const FONT = 'DejaVu Sans, Verdana, Helvetica, Arial, sans-serif';

export const WIDTH = 760;

export const CONFIG: Config = {
  font: FONT,
  background: 'white',
  padding: 8,
  view: { stroke: '#bbb' },
  range: {
    category: [...OKABE_ITO],
    ordinal: { scheme: 'viridis' },
    heatmap: { scheme: 'viridis' },
    ramp: { scheme: 'viridis' },
  },
  title: { fontSize: 15, anchor: 'start', subtitleFontSize: 11, subtitleColor: '#444', offset: 10 },
  axis: { labelFontSize: 11, titleFontSize: 12, gridColor: '#e4e4e4' },
  legend: { labelFontSize: 11, titleFontSize: 12, orient: 'right', labelLimit: 320 },
  header: { labelFontSize: 12, titleFontSize: 12 },
  line: { strokeWidth: 1.6 },
};
