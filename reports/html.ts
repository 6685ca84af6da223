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
import type { ChartDef, Run } from './charts.ts';
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
const scriptJson = (v: unknown) => JSON.stringify(v).replace(/</g, '\\u003c').replace(/\u2028/g, '\\u2028').replace(/\u2029/g, '\\u2029');
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
 * The side-by-side table: what each run is (from run.json), every metrics.json figure exactly as
 * written (the union of keys over runs, first-seen order), and wall.json's figures, set apart
 * because they vary from machine to machine.
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
  for (const [group, pick] of [['metrics', (r: Run) => r.metrics], ['wall', (r: Run) => r.wall]] as const) {
    const flat = runs.map((r) => new Map(flatten(pick(r) ?? {})));
    const keys = [...new Set(flat.flatMap((m) => [...m.keys()]))];
    for (const key of keys) rows.push({ key, values: flat.map((m) => m.get(key)), group });
  }
  return rows;
}

const cell = (v: unknown) => (v === undefined ? '' : v === null ? '–' : typeof v === 'number' ? v.toLocaleString('en-US', { maximumFractionDigits: 6 }) : String(v));

function table(runs: Run[]): string {
  const rows = summaryRows(runs);
  const head = `<tr><th scope="col">figure</th>${runs.map((r) => `<th scope="col">${esc(r.label)}</th>`).join('')}</tr>`;
  const group = (g: SummaryRow['group'], title: string) => {
    const rs = rows.filter((r) => r.group === g);
    if (!rs.length) return '';
    return `<tbody><tr class="group"><th colspan="${runs.length + 1}" scope="colgroup">${title}</th></tr>${rs
      .map((r) => `<tr data-key="${esc(r.key)}"><th scope="row">${esc(r.key)}</th>${r.values.map((v) => `<td data-value="${esc(JSON.stringify(v ?? null))}">${esc(cell(v))}</td>`).join('')}</tr>`)
      .join('')}</tbody>`;
  };
  return `<table id="summary"><thead>${head}</thead>${group('run', 'run (run.json)')}${group('metrics', 'metrics.json (simulated: identical for the same scenario and seed)')}${group('wall', 'wall.json (wall clock: varies by machine)')}</table>`;
}

const CSS = `body{font-family:${FONT};margin:24px auto;max-width:1100px;padding:0 16px;color:#222}
h1{font-size:22px;margin-bottom:4px}h2{font-size:17px;margin:32px 0 6px}p.meta{color:#555;margin-top:0}
table{border-collapse:collapse;font-size:13px}th,td{border:1px solid #ddd;padding:3px 8px}td{text-align:right;font-variant-numeric:tabular-nums}
th[scope=row]{text-align:left;font-weight:normal;font-family:monospace}tr.group th{background:#f2f2f2;text-align:left}
figure{margin:0 0 12px}.error{color:#b00;font-weight:bold}.chart{overflow-x:auto}`;

/** The whole page. `generated` is printed as given, so tests can pin it. */
export function renderHtml(title: string, runs: Run[], charts: ChartDef[], generated: string): string {
  const libs = inlineLibraries();
  const specs = charts.map((c) => ({ id: c.id, renderer: c.renderer, spec: c.spec }));
  const figures = charts.map((c) => `<section><h2>${esc(c.title)}</h2><figure class="chart" id="chart-${esc(c.id)}" data-chart="${esc(c.id)}"></figure></section>`).join('\n');
  const boot = `(function(){
var specs=JSON.parse(document.getElementById('fgo-specs').textContent);var done=0,failed=0;
function finish(){if(done+failed===specs.length){document.body.setAttribute('data-rendered',String(done));document.body.setAttribute('data-failed',String(failed));}}
specs.forEach(function(c){var el=document.getElementById('chart-'+c.id);
vegaEmbed(el,c.spec,{mode:'vega-lite',renderer:c.renderer,actions:{export:true,source:false,compiled:false,editor:false},downloadFileName:c.id})
.then(function(){done++;finish();},function(e){failed++;console.error('chart '+c.id+': '+e);el.innerHTML='<p class="error">chart failed to render: '+String(e).replace(/[<&]/g,'')+'</p>';finish();});});
if(!specs.length)finish();})();`;
  return `<!doctype html>
<html lang="en"><head><meta charset="utf-8">
<meta http-equiv="Content-Security-Policy" content="default-src 'none'; script-src 'unsafe-inline' 'unsafe-eval'; style-src 'unsafe-inline'; img-src data: blob:; font-src data:">
<meta name="viewport" content="width=device-width, initial-scale=1">
<title>${esc(title)}</title><style>${CSS}</style></head>
<body>
<h1>${esc(title)}</h1>
<p class="meta">${runs.length} run${runs.length === 1 ? '' : 's'} · generated ${esc(generated)} by <code>fgo report</code> · opens offline: every library and all data are in this file</p>
<section><h2>Summary: metrics.json side by side</h2>${table(runs)}</section>
${figures}
${libs.map((l) => `<script data-lib="${l.name}">${scriptCode(l.code)}</script>`).join('\n')}
<script type="application/json" id="fgo-specs">${scriptJson(specs)}</script>
<script>${boot}</script>
</body></html>
`;
}
