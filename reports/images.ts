/**
 * Charts as files, without a browser: each Vega-Lite spec is compiled to Vega, run in a headless
 * vega View (renderer 'none') that writes SVG, and the SVG is rasterised to PNG by resvg
 * (@resvg/resvg-js, a maintained Rust SVG renderer shipped as a prebuilt binary in its npm package).
 *
 * Text must be readable on a fresh machine, so resvg is given the DejaVu Sans files shipped in
 * reports/fonts/ and told not to look at system fonts at all: the PNG is the same wherever it is
 * made. (Without node-canvas, vega estimates text widths; the estimate errs wide, so labels get a
 * little extra room rather than overlap.)
 */
import { mkdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { Resvg } from '@resvg/resvg-js';
import * as vega from 'vega';
import { compile } from 'vega-lite';
import type { ChartDef } from './chart-spec.ts';

export const FONT_FILES = ['DejaVuSans.ttf', 'DejaVuSans-Bold.ttf'].map((f) =>
  fileURLToPath(new URL(`./fonts/${f}`, import.meta.url)),
);

/** Compile one chart's Vega-Lite spec; warnings are collected rather than printed. */
export function compileChart(c: ChartDef): { vega: vega.Spec; warnings: string[] } {
  const warnings: string[] = [];
  const logger = {
    level: () => logger, // vega-lite's LoggerInterface: chainable
    warn: (...a: unknown[]) => {
      warnings.push(a.map(String).join(' '));
      return logger;
    },
    info: () => logger,
    debug: () => logger,
    error: (...a: unknown[]) => {
      throw new Error(`${c.id}: ${a.map(String).join(' ')}`);
    },
  };
  const out = compile(c.spec, { logger: logger as never });
  return { vega: out.spec as vega.Spec, warnings };
}

/** One chart as an SVG document, rendered by vega with no browser. */
export async function chartSvg(c: ChartDef): Promise<string> {
  const view = new vega.View(vega.parse(compileChart(c).vega), { renderer: 'none', logLevel: vega.Error });
  try {
    return await view.toSVG();
  } finally {
    view.finalize();
  }
}

/** SVG to PNG at `scale` × (2: sharp on high-density screens and in print), fonts from reports/fonts only. */
export function svgToPng(svg: string, scale = 2): Buffer {
  const r = new Resvg(svg, {
    background: 'white',
    fitTo: { mode: 'zoom', value: scale },
    font: {
      fontFiles: FONT_FILES,
      loadSystemFonts: false,
      defaultFontFamily: 'DejaVu Sans',
      sansSerifFamily: 'DejaVu Sans',
    },
  });
  return r.render().asPng();
}

/** Write `ID.svg` and `ID.png` for every chart into `dir`; returns the files written. */
export async function writeImages(charts: ChartDef[], dir: string): Promise<string[]> {
  mkdirSync(dir, { recursive: true });
  const files: string[] = [];
  for (const c of charts) {
    const svg = await chartSvg(c);
    const svgFile = join(dir, `${c.id}.svg`),
      pngFile = join(dir, `${c.id}.png`);
    writeFileSync(svgFile, svg);
    writeFileSync(pngFile, svgToPng(svg));
    files.push(svgFile, pngFile);
  }
  return files;
}
