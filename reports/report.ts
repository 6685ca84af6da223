/**
 * `writeReport`: run directories in, one self-contained HTML report out (and, on request, every
 * chart as SVG and PNG). The entry point for `fgo report`, `fgo compare` and notebooks;
 * `writeSectionedReport` is the scorecard's: a verdict, then one collapsed section per scenario.
 *
 * Size is bounded by construction, not by the run: every run is cut into at most MAX_BINS time
 * bins and the per-node heat map into at most HEAT_CELLS cells over all runs, whatever the
 * duration or node count, so a 24-hour, 64-node run gives a report of a few MB that a browser
 * draws in seconds. A sectioned report has a smaller budget per section (SECTION_LIMITS), so
 * eleven scenarios of nine policies stay a file that opens quickly.
 */
import { statSync, writeFileSync } from 'node:fs';
import { join, resolve } from 'node:path';
import { commitDir, discardTemp, makeTempDir, writeFileAtomic } from '../formats/files.ts';
import { markerText, OUTPUT_MARKER } from '../formats/outputs.ts';
import type { ChartDef, Run, TimeAxis } from './chart-spec.ts';
import { buildCharts } from './charts.ts';
import { variantCdfChart } from './latency-charts.ts';
import type { ScenarioVerdict } from '../sim/verdict.ts';
import { esc, renderHtml, renderPage, scenarioVerdictHtml, verdictHtml, type Section } from './html.ts';
import { writeImages } from './images.ts';
import { timeAxisFor, type AggregatedRun, type Limits } from './axis.ts';
import { aggregateRun } from './aggregate.ts';
import { readRuns } from './load.ts';
import {
  groupRuns,
  isStudy,
  studyLeadHtml,
  studyVerdicts,
  studyRunDirs,
  type RunGroup,
  type StudyShape,
} from './study.ts';

export { HEAT_CELLS, MAX_BINS, timeAxisFor, type AggregatedRun, type Limits } from './axis.ts';

/**
 * Per section of a sectioned report: half the bins and about a quarter of the heat cells of a
 * plain report. Measured (docs/scorecard.md): 7 scenarios × 6 policies give 3.2 MB that opens in
 * 0.6 s, each section drawing in about a second; a section's size grows with its runs, not with
 * their length, so 11 × 9 stays under 10 MB.
 */
export const SECTION_LIMITS: Limits = { bins: 200, heatCells: 8000 };
export interface ReportModel {
  runs: Run[];
  axis: TimeAxis;
  charts: ChartDef[];
  title: string;
  /** The runs grouped by shared arrivals (a study's variants), each with its verdict when it has one. */
  groups: Array<RunGroup<Run>>;
  /** What a --vary compare varied, from its comparison.json. */
  shape?: StudyShape;
}

/**
 * Read, aggregate and lay out: everything but writing, for tests and other front ends. Runs that
 * fall into several groups sharing a policy (a --vary compare's variants) get the latency CDF
 * per variant first. A run in `aggregated` (by resolved directory) on the report's own bins is
 * not read again: the same fold, done earlier, gives the same series.
 */
export async function buildReport(
  runDirs: readonly string[],
  title?: string,
  limits?: Limits,
  aggregated?: ReadonlyMap<string, AggregatedRun>,
): Promise<ReportModel> {
  const study = studyRunDirs(runDirs);
  const metas = readRuns(study.dirs);
  const axis = timeAxisFor(metas, limits);
  const runs: Run[] = [];
  for (const m of metas) {
    const a = aggregated?.get(resolve(m.dir));
    const series =
      a && a.bin_s === axis.bin_s && a.heat_bin_s === axis.heat_bin_s
        ? a.series
        : await aggregateRun(m, axis.bin_s, axis.heat_bin_s);
    runs.push({ ...m, series });
  }
  const scenarios = [...new Set(runs.map((r) => r.run.scenario.name))];
  const groups = groupRuns(runs, study.shape);
  const variants = isStudy(groups, study.shape) ? [variantCdfChart(groups)] : [];
  return {
    runs,
    axis,
    charts: [...variants, ...buildCharts(runs, axis)],
    title: title ?? defaultTitle(scenarios, runs, study.shape),
    groups,
    ...(study.shape ? { shape: study.shape } : {}),
  };
}

/** The scenarios and the runs; for a --vary study what varied, since its runs' labels would fill lines. */
function defaultTitle(scenarios: string[], runs: Run[], shape: StudyShape | undefined): string {
  if (shape?.key && shape.variants)
    return `fgo report: ${scenarios.join(', ')}, varying ${shape.key} (${shape.variants.length} variants, ${runs.length} runs)`;
  return `fgo report: ${scenarios.join(', ')} (${runs.map((r) => r.label).join(', ')})`;
}

const now = () => new Date().toISOString().replace(/\.\d+Z$/, 'Z');

/** Write `html` to `out` atomically (formats/files.ts). */
function writeHtml(out: string, html: string): { path: string; bytes: number } {
  writeFileAtomic(out, html);
  return { path: out, bytes: statSync(out).size };
}

/**
 * Every chart as SVG and PNG in `dir`, built in a temporary directory (with fgo's marker) renamed
 * into place; the caller has checked that `dir` may be replaced (formats/outputs.ts).
 */
async function writeImageDir(charts: ChartDef[], dir: string): Promise<void> {
  const tmp = makeTempDir(dir);
  try {
    await writeImages(charts, tmp);
    writeFileSync(join(tmp, OUTPUT_MARKER), markerText('report-images'));
    commitDir(tmp, dir);
  } catch (e) {
    discardTemp(tmp);
    throw e;
  }
}

/**
 * Write the report of `runDirs` (run directories, or directories of them as `fgo compare` writes)
 * to `out`, through a temporary file renamed into place; with `images`, also ID.svg and ID.png per
 * chart in that directory. The verdict leads whenever the runs allow one, then a study's deltas
 * (reports/study.ts). `aggregated`: runs already binned where they were produced, by resolved
 * directory (buildReport). Throws an InputError listing every unusable file.
 */
export async function writeReport(
  runDirs: string[],
  out: string,
  opts: { images?: string; title?: string; aggregated?: ReadonlyMap<string, AggregatedRun> } = {},
): Promise<{ path: string; bytes: number; charts: number; verdicts: ScenarioVerdict[] }> {
  const model = await buildReport(runDirs, opts.title, undefined, opts.aggregated);
  const lead = studyLeadHtml(model.groups, model.shape);
  const written = writeHtml(out, renderHtml(model.title, model.runs, model.charts, now(), lead || undefined));
  if (opts.images) await writeImageDir(model.charts, opts.images);
  return { ...written, charts: model.charts.length, verdicts: studyVerdicts(model.groups, model.shape).verdicts };
}

/**
 * The scorecard's report: the verdict grid, then per scenario a collapsed section — its verdict
 * metric by metric, its runs side by side and charted as `fgo report` charts them (on its own
 * time axis, within SECTION_LIMITS), drawn when opened. `onSection` follows progress: reading
 * long runs' journals takes minutes.
 */
export async function writeSectionedReport(
  sections: ReadonlyArray<{ verdict: ScenarioVerdict; description: string; runDirs: string[] }>,
  out: string,
  title: string,
  onSection?: (done: number, total: number) => void,
): Promise<{ path: string; bytes: number; charts: number }> {
  const parts: Section[] = [];
  for (const s of sections) {
    onSection?.(parts.length, sections.length);
    const v = s.verdict;
    const model = await buildReport(s.runDirs, undefined, SECTION_LIMITS);
    const word =
      v.engine_wins === null
        ? ['none', 'no verdict']
        : v.engine_wins
          ? ['win', 'engine wins']
          : ['loss', 'engine loses'];
    parts.push({
      key: v.scenario,
      runs: model.runs,
      charts: model.charts,
      collapsed: `${esc(v.scenario)}: <span class="${word[0]}">${word[1]}</span> <small>(${model.runs.length} runs; charts drawn when opened)</small>`,
      intro: `<p class="note">${esc(s.description)}</p>${scenarioVerdictHtml(v)}`,
    });
  }
  const html = renderPage({
    title,
    generated: now(),
    lead: verdictHtml(
      sections.map((s) => s.verdict),
      false,
    ),
    sections: parts,
  });
  return { ...writeHtml(out, html), charts: parts.reduce((a, p) => a + p.charts.length, 0) };
}
