/**
 * The report page: one HTML file that needs nothing but itself. vega, vega-lite and vega-embed are
 * copied in from node_modules (their minified browser builds), the chart specs and their data are
 * embedded as JSON, and a Content-Security-Policy with `default-src 'none'` makes the browser
 * refuse any fetch the page might attempt — so it opens offline, from a file:// URL or an e-mail
 * attachment, and cannot leak anything. The metrics table is plain HTML, readable without script.
 */
import { readFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import { dirname, join } from 'node:path';
import {
  fmtFigure,
  fmtRatio,
  labelOf,
  TIE_TOLERANCE,
  VERDICT_METRICS,
  VERDICT_RULE,
  type ScenarioVerdict,
  type VerdictMetric,
} from '../sim/verdict.ts';
import type { ChartDef, Run } from './chart-spec.ts';
import { FONT } from './theme.ts';

const require = createRequire(import.meta.url);

/** The minified browser build of a package, found next to its resolved entry point. */
function browserBuild(pkg: string, file: string): string {
  return readFileSync(join(dirname(require.resolve(pkg)), file), 'utf8');
}

/** The three libraries the page needs, in load order (vega-embed expects globals vega and vegaLite). */
export function inlineLibraries(): Array<{ name: string; code: string }> {
  return [
    { name: 'vega', code: browserBuild('vega', 'vega.min.js') },
    { name: 'vega-lite', code: browserBuild('vega-lite', 'vega-lite.min.js') },
    { name: 'vega-embed', code: browserBuild('vega-embed', 'vega-embed.min.js') },
  ];
}

export const esc = (s: string) => s.replace(/[&<>"']/g, (c) => `&#${c.charCodeAt(0)};`);
/** JSON safe inside <script>: no `</script>`, no `<!--`, no line separators that end a JS string. */
const scriptJson = (v: unknown) =>
  JSON.stringify(v)
    .replace(/</g, '\\u003c')
    .replace(/\u2028/g, '\\u2028')
    .replace(/\u2029/g, '\\u2029');
/** Library code safe inside <script>: only a literal `</script` could end the element early. */
const scriptCode = (s: string) => s.replace(/<\/script/gi, '<\\/script');

/** metrics.json flattened to dotted paths, in the file's own order; nested objects become rows. */
export function flatten(v: unknown, prefix = '', out: Array<[string, unknown]> = []): Array<[string, unknown]> {
  if (v !== null && typeof v === 'object' && !Array.isArray(v)) {
    for (const [k, x] of Object.entries(v)) flatten(x, prefix ? `${prefix}.${k}` : k, out);
  } else out.push([prefix, v]);
  return out;
}

export interface SummaryRow {
  key: string;
  /** One value per run, in the report's run order; undefined where a run lacks the key. */
  values: unknown[];
  group: 'run' | 'metrics' | 'wall';
}

/**
 * Profiles of metrics.json `by_profile` shown in the side-by-side table: a FaaS trace has
 * hundreds, which would make it thousands of rows. The ones with the most arrivals (over all
 * runs) are kept; a row says how many are left out (every run's metrics.json has them all).
 */
export const MAX_TABLE_PROFILES = 8;

function capProfiles(runs: Run[]): (m: unknown) => unknown {
  const arrivals = new Map<string, number>();
  for (const r of runs) {
    for (const [k, v] of Object.entries(
      (r.metrics as { by_profile?: Record<string, { arrived?: number }> }).by_profile ?? {},
    ))
      arrivals.set(k, (arrivals.get(k) ?? 0) + (v.arrived ?? 0));
  }
  if (arrivals.size <= MAX_TABLE_PROFILES) return (m) => m;
  const kept = new Set(
    [...arrivals]
      .sort((a, b) => b[1] - a[1] || (a[0] < b[0] ? -1 : 1))
      .slice(0, MAX_TABLE_PROFILES)
      .map(([k]) => k),
  );
  const note = `${arrivals.size - MAX_TABLE_PROFILES} more profiles left out (the ${MAX_TABLE_PROFILES} with the most arrivals are shown); see metrics.json`;
  return (m) => {
    const bp = (m as { by_profile?: Record<string, unknown> }).by_profile ?? {};
    return {
      ...(m as object),
      by_profile: { ...Object.fromEntries(Object.entries(bp).filter(([k]) => kept.has(k))), '…': note },
    };
  };
}

/**
 * The side-by-side table: what each run is (from run.json), every metrics.json figure exactly as
 * written (the union of keys over runs, first-seen order; by_profile capped at
 * MAX_TABLE_PROFILES), and wall.json's figures, set apart because they vary from machine to
 * machine.
 */
export function summaryRows(runs: Run[]): SummaryRow[] {
  const rows: SummaryRow[] = [
    { key: 'directory', values: runs.map((r) => r.dir), group: 'run' },
    { key: 'scenario', values: runs.map((r) => r.run.scenario.name), group: 'run' },
    { key: 'policy', values: runs.map((r) => r.run.policy), group: 'run' },
    { key: 'seed', values: runs.map((r) => r.run.seed), group: 'run' },
    { key: 'duration', values: runs.map((r) => r.run.scenario.duration), group: 'run' },
    { key: 'topology', values: runs.map((r) => (r.run.scenario as { topology?: unknown }).topology), group: 'run' },
    { key: 'decisions', values: runs.map((r) => r.series.decisions.total), group: 'run' },
  ];
  const cap = capProfiles(runs);
  for (const [group, pick] of [
    ['metrics', (r: Run) => cap(r.metrics)],
    ['wall', (r: Run) => r.wall],
  ] as const) {
    const flat = runs.map((r) => new Map(flatten(pick(r) ?? {})));
    const keys = [...new Set(flat.flatMap((m) => [...m.keys()]))];
    for (const key of keys) rows.push({ key, values: flat.map((m) => m.get(key)), group });
  }
  return rows;
}

/** A list (metrics.json call_edges) is summarised: its entries have their own chart. */
const cell = (v: unknown) =>
  v === undefined
    ? ''
    : v === null
      ? '–'
      : typeof v === 'number'
        ? v.toLocaleString('en-US', { maximumFractionDigits: 6 })
        : Array.isArray(v)
          ? `${v.length} entries (metrics.json)`
          : String(v);

function table(runs: Run[], id: string): string {
  const rows = summaryRows(runs);
  const head = `<tr><th scope="col">figure</th>${runs.map((r) => `<th scope="col">${esc(r.label)}</th>`).join('')}</tr>`;
  const group = (g: SummaryRow['group'], title: string) => {
    const rs = rows.filter((r) => r.group === g);
    if (!rs.length) return '';
    return `<tbody><tr class="group"><th colspan="${runs.length + 1}" scope="colgroup">${title}</th></tr>${rs
      .map(
        (r) =>
          `<tr data-key="${esc(r.key)}"><th scope="row">${esc(r.key)}</th>${r.values.map((v) => `<td data-value="${esc(JSON.stringify(v ?? null))}">${esc(cell(v))}</td>`).join('')}</tr>`,
      )
      .join('')}</tbody>`;
  };
  return `<table id="${esc(id)}" class="summary"><thead>${head}</thead>${group('run', 'run (run.json)')}${group('metrics', 'metrics.json (simulated: identical for the same scenario and seed)')}${group('wall', 'wall.json (wall clock: varies by machine)')}</table>`;
}

const CSS = `body{font-family:${FONT};margin:24px auto;max-width:1100px;padding:0 16px;color:#222}
h1{font-size:22px;margin-bottom:4px}h2{font-size:17px;margin:32px 0 6px}p.meta{color:#555;margin-top:0}
table{border-collapse:collapse;font-size:13px}th,td{border:1px solid #ddd;padding:3px 8px}td{text-align:right;font-variant-numeric:tabular-nums}
th[scope=row]{text-align:left;font-weight:normal;font-family:monospace}tr.group th{background:#f2f2f2;text-align:left}
figure{margin:0 0 12px}.error{color:#b00;font-weight:bold}.chart{overflow-x:auto}
details.raw{margin:18px 0}details.raw>summary{cursor:pointer;font-size:15px;font-weight:bold;padding:4px 0}
details.section{border-top:1px solid #ccc;padding:6px 0}details.section>summary{cursor:pointer;font-size:17px;font-weight:bold;padding:6px 0}
.win{background:#d4efe4}.loss{background:#fadccc}.tie{background:#ececec}.none{color:#777}td.outcome,th.outcome{text-align:center;font-weight:bold}
table.verdict td{white-space:nowrap}#verdict-grid thead th{font-size:12px;min-width:64px}#verdict-grid tbody th{white-space:nowrap}.scroll{overflow-x:auto}p.note{color:#444;font-size:13px;max-width:900px}table.verdict{margin:6px 0}`;

/** One part of the page: a set of runs with their side-by-side table and charts. */
export interface Section {
  /** Unique in the page ([A-Za-z0-9_.-]); '' for the only section of a plain report, whose element ids stay `summary` and `chart-ID`. */
  key: string;
  /**
   * Collapsed into a <details> whose summary line is this (HTML), its charts drawn the first
   * time it is opened: a page of many sections opens at once and holds only what is looked at.
   */
  collapsed?: string;
  /** HTML before the table (a scenario's verdict, say). */
  intro?: string;
  runs: Run[];
  charts: ChartDef[];
}

const idOf = (key: string, id: string) => (key ? `${id}-${key}` : id);

function sectionHtml(s: Section): string {
  const figures = s.charts
    .map(
      (c) =>
        `<section><h2>${esc(c.title)}</h2><figure class="chart" id="${esc(idOf(s.key, `chart-${c.id}`))}" data-chart="${esc(c.id)}"></figure></section>`,
    )
    .join('\n');
  // Every figure is there, collapsed under one line: the verdict and the charts come first.
  const rows = summaryRows(s.runs).length;
  const body = `${s.intro ?? ''}<details class="raw"><summary>Every figure side by side: run.json, metrics.json, wall.json (${rows} rows × ${s.runs.length} run${s.runs.length === 1 ? '' : 's'})</summary>${table(s.runs, idOf(s.key, 'summary'))}</details>\n${figures}`;
  const specs = s.charts.map((c) => ({
    el: idOf(s.key, `chart-${c.id}`),
    name: idOf(s.key, c.id),
    renderer: c.renderer,
    spec: c.spec,
  }));
  const data = `<script type="application/json" id="${esc(idOf(s.key, 'fgo-specs'))}">${scriptJson(specs)}</script>`;
  return s.collapsed === undefined
    ? `<div data-section="${esc(s.key)}">${body}</div>${data}`
    : `<details class="section" data-section="${esc(s.key)}" data-lazy><summary>${s.collapsed}</summary>${body}</details>${data}`;
}

/**
 * Draws the charts: the sections shown at load at once, each collapsed one when first opened.
 * When every chart of the page's open sections has settled, body gets data-rendered (charts
 * drawn) and data-failed; a collapsed section gets the same attributes once its charts settle.
 */
const BOOT = `(function(){
function draw(el,done){var specs=JSON.parse(document.getElementById(el.dataset.section?'fgo-specs-'+el.dataset.section:'fgo-specs').textContent);var ok=0,failed=0;
function fin(){if(ok+failed===specs.length)done(ok,failed);}
specs.forEach(function(c){var f=document.getElementById(c.el);
vegaEmbed(f,c.spec,{mode:'vega-lite',renderer:c.renderer,actions:{export:true,source:false,compiled:false,editor:false},downloadFileName:c.name})
.then(function(){ok++;fin();},function(e){failed++;console.error('chart '+c.el+': '+e);f.innerHTML='<p class="error">chart failed to render: '+String(e).replace(/[<&]/g,'')+'</p>';fin();});});
if(!specs.length)fin();}
var eager=document.querySelectorAll('[data-section]:not([data-lazy])'),n=eager.length,ok=0,failed=0;
function mark(el,a,b){el.setAttribute('data-rendered',String(a));el.setAttribute('data-failed',String(b));}
eager.forEach(function(el){draw(el,function(a,b){ok+=a;failed+=b;if(--n===0)mark(document.body,ok,failed);});});
if(!eager.length)mark(document.body,0,0);
document.querySelectorAll('details[data-lazy]').forEach(function(d){d.addEventListener('toggle',function(){
if(!d.open||d.dataset.drawing)return;d.dataset.drawing='1';draw(d,function(a,b){mark(d,a,b);});});});})();`;

/**
 * The whole page: the title, `lead` (HTML: a verdict, say), then the sections. `generated` is
 * printed as given, so tests can pin it.
 */
export function renderPage(p: { title: string; generated: string; lead?: string; sections: Section[] }): string {
  const runs = p.sections.reduce((a, s) => a + s.runs.length, 0);
  return `<!doctype html>
<html lang="en"><head><meta charset="utf-8">
<meta http-equiv="Content-Security-Policy" content="default-src 'none'; script-src 'unsafe-inline' 'unsafe-eval'; style-src 'unsafe-inline'; img-src data: blob:; font-src data:">
<meta name="viewport" content="width=device-width, initial-scale=1">
<title>${esc(p.title)}</title><style>${CSS}</style></head>
<body>
<h1>${esc(p.title)}</h1>
<p class="meta">${runs} run${runs === 1 ? '' : 's'} · generated ${esc(p.generated)} by <code>fgo</code> · opens offline: every library and all data are in this file</p>
${p.lead ?? ''}
${p.sections.map(sectionHtml).join('\n')}
${inlineLibraries()
  .map((l) => `<script data-lib="${l.name}">${scriptCode(l.code)}</script>`)
  .join('\n')}
<script>${BOOT}</script>
</body></html>
`;
}

/** A plain report: one section of runs, open. */
export function renderHtml(title: string, runs: Run[], charts: ChartDef[], generated: string, lead?: string): string {
  return renderPage({ title, generated, ...(lead ? { lead } : {}), sections: [{ key: '', runs, charts }] });
}

const label = (key: string) => labelOf(VERDICT_METRICS.find((m) => m.key === key) as VerdictMetric);
const outcomeCell = (o: string | null, text: string, title = '') =>
  `<td class="outcome ${o ?? 'none'}"${title ? ` title="${esc(title)}"` : ''}>${esc(text)}</td>`;
const verdictWord = (v: ScenarioVerdict) =>
  v.engine_wins === null ? 'no verdict' : v.engine_wins ? 'engine wins' : 'engine loses';
const verdictClass = (v: ScenarioVerdict) => (v.engine_wins === null ? 'none' : v.engine_wins ? 'win' : 'loss');

/** One scenario's verdict metric by metric: the best baseline and its figure, the engine's, the ratio, the outcome. */
export function scenarioVerdictHtml(v: ScenarioVerdict): string {
  const rows = v.metrics.map(
    (m) =>
      `<tr><th scope="row">${esc(label(m.metric))}${m.decisive ? ' *' : ''}</th><td>${esc(m.better)}</td><td style="text-align:left">${esc(m.best?.policy ?? '–')}</td><td>${m.best ? esc(fmtFigure(m.best.value)) : '–'}</td><td>${m.engine === null ? '–' : esc(fmtFigure(m.engine))}</td><td>${esc(fmtRatio(m.ratio))}</td>${outcomeCell(m.outcome, m.outcome ?? '–')}</tr>`,
  );
  return `<table class="verdict" data-verdict="${esc(v.scenario)}"><thead><tr><th scope="col">metric</th><th scope="col">better</th><th scope="col">best baseline</th><th scope="col">its figure</th><th scope="col">engine</th><th scope="col">engine ÷ best</th><th scope="col" class="outcome">outcome</th></tr></thead><tbody>${rows.join('')}</tbody></table>
<p class="note"><span class="${verdictClass(v)}">${esc(v.summary)}</span>. * decides the verdict.</p>`;
}

/**
 * The verdicts as a grid: one row per scenario (or variant), one column per metric, each cell the
 * outcome and engine ÷ best baseline (the figures on hover). Colour repeats the words, never
 * replaces them.
 */
export function verdictGridHtml(verdicts: readonly ScenarioVerdict[]): string {
  const head = `<tr><th scope="col">scenario</th><th scope="col" class="outcome">verdict</th>${VERDICT_METRICS.map((m) => `<th scope="col">${esc(labelOf(m))}${m.decisive ? ' *' : ''}<br><small>${m.better} is better</small></th>`).join('')}</tr>`;
  const rows = verdicts.map(
    (v) =>
      `<tr data-scenario="${esc(v.scenario)}"><th scope="row">${esc(v.scenario)}</th>${outcomeCell(verdictClass(v) === 'none' ? null : verdictClass(v), verdictWord(v), v.summary)}${v.metrics.map((m) => outcomeCell(m.outcome, m.outcome === null ? '–' : `${m.outcome} ${fmtRatio(m.ratio)}`, m.best && m.engine !== null ? `engine ${fmtFigure(m.engine)} against ${m.best.policy}'s ${fmtFigure(m.best.value)}` : 'a figure is missing')).join('')}</tr>`,
  );
  return `<div class="scroll"><table class="verdict" id="verdict-grid"><thead>${head}</thead><tbody>${rows.join('')}</tbody></table></div>`;
}

/**
 * The verdict section that leads a page: the grid of verdictGridHtml (`noun` names its rows:
 * scenario, or variant in a --vary study); `detailed` adds each one's metric-by-metric table.
 * `heading` replaces the count in the title (a seed study's "on the mean of 3 seeds").
 */
export function verdictHtml(
  verdicts: readonly ScenarioVerdict[],
  detailed: boolean,
  noun = 'scenario',
  heading?: string,
): string {
  const wins = verdicts.filter((v) => v.engine_wins === true).length;
  // One scenario's detailed table says all its grid row would.
  const grid = detailed && verdicts.length === 1 ? '' : verdictGridHtml(verdicts);
  return `<section id="verdict"><h2>Verdict: the engine against the best baseline ${esc(heading ?? `(${wins} of ${verdicts.length} ${noun}${verdicts.length === 1 ? '' : 's'} won)`)}</h2>
<p class="note">Rule (docs/scorecard.md): ${esc(VERDICT_RULE)}. The best baseline is chosen per metric, so the engine may face a different opponent in each column. A cell reads outcome and engine ÷ best baseline; a tie is within ${TIE_TOLERANCE * 100} % of each other. * decides the verdict.</p>
${grid}
${detailed ? verdicts.map(scenarioVerdictHtml).join('\n') : ''}</section>`;
}
