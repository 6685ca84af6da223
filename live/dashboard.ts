/**
 * The live dashboard: one page the agent serves on its own (loopback) address. It subscribes to
 * the WebSocket stream and updates Vega-Lite charts as pressure samples and decisions arrive.
 * vega and vega-lite are served from node_modules by the agent itself, so the page works on a
 * host with no network; the page's Content-Security-Policy allows nothing but this origin
 * ('unsafe-eval' because vega compiles its expressions with Function).
 */
import { readFileSync } from 'node:fs';

const modules = new URL('../node_modules/', import.meta.url);

/** Files the page loads, by URL path. Read once, on first request. */
const ASSET_FILES: Record<string, URL> = {
  '/assets/vega.min.js': new URL('vega/build/vega.min.js', modules),
  '/assets/vega-lite.min.js': new URL('vega-lite/build/vega-lite.min.js', modules),
};
const cache = new Map<string, string>();

export function dashboardAsset(path: string): string | undefined {
  if (path === '/assets/dashboard.js') return CLIENT_JS;
  const file = ASSET_FILES[path];
  if (!file) return undefined;
  let text = cache.get(path);
  if (text === undefined) cache.set(path, (text = readFileSync(file, 'utf8')));
  return text;
}

export const DASHBOARD_CSP = "default-src 'none'; script-src 'self' 'unsafe-eval'; style-src 'unsafe-inline'; connect-src 'self'; img-src 'self' data:";

export function dashboardHtml(title: string): string {
  const esc = title.replace(/[&<>"]/g, (c) => ({ '&': '&amp;', '<': '&lt;', '>': '&gt;', '"': '&quot;' })[c] as string);
  return `<!doctype html>
<html lang="en"><head><meta charset="utf-8"><title>${esc}</title>
<style>body{font:14px system-ui,sans-serif;margin:16px;color:#222}h1{font-size:18px}
.k{display:inline-block;margin-right:24px}#psi,#actions{margin:12px 0 24px}.k b{font-size:18px}table{border-collapse:collapse}td,th{padding:2px 8px;text-align:right}</style>
</head><body>
<h1>${esc}</h1>
<div><span class="k">stream: <b id="status">connecting</b></span><span class="k">samples: <b id="samples">0</b></span><span class="k">decisions: <b id="decisions">0</b></span></div>
<div id="psi"></div><div id="actions"></div>
<h2 style="font-size:15px">Pools</h2><table id="pools"><thead><tr><th>profile</th><th>size</th><th>warm</th><th>active</th><th>target</th></tr></thead><tbody></tbody></table>
<script src="/assets/vega.min.js"></script><script src="/assets/vega-lite.min.js"></script><script src="/assets/dashboard.js"></script>
</body></html>`;
}

/**
 * The page's script. Okabe–Ito colours (safe for the common colour-vision deficiencies); the
 * last ten minutes kept in the charts.
 */
const CLIENT_JS = `'use strict';
const OKABE_ITO = ['#E69F00', '#56B4E9', '#009E73', '#F0E442', '#0072B2', '#D55E00', '#CC79A7', '#000000'];
const KEEP_S = 600;
const psiSpec = {
  title: 'Pressure (PSI some, avg10)', width: 720, height: 200, data: { name: 'psi' }, mark: { type: 'line', interpolate: 'monotone' },
  encoding: {
    x: { field: 't_s', type: 'quantitative', title: 'time since the agent started (s)', axis: { titlePadding: 16 } },
    y: { field: 'value', type: 'quantitative', title: 'stalled time (%)', scale: { domain: [0, 100] } },
    color: { field: 'resource', type: 'nominal', title: 'resource', scale: { domain: ['cpu', 'memory', 'io'], range: OKABE_ITO.slice(0, 3) } },
  },
};
const actionSpec = {
  title: 'Decisions per 10 s', width: 720, height: 160, data: { name: 'decisions' }, mark: 'bar',
  encoding: {
    x: { field: 'bucket_s', type: 'ordinal', title: 'time since the agent started (s, 10 s buckets)', axis: { labelAngle: 0, titlePadding: 16 } },
    y: { field: 'count', aggregate: 'sum', type: 'quantitative', title: 'decisions' },
    color: { field: 'action', type: 'nominal', title: 'action', scale: { domain: ['place', 'defer', 'shed', 'reject'], range: [OKABE_ITO[2], OKABE_ITO[0], OKABE_ITO[5], OKABE_ITO[7]] } },
  },
};
async function mount(id, spec) {
  // Extra bottom padding: the x-axis title otherwise falls just outside the SVG's computed height.
  spec = Object.assign({ padding: { left: 5, top: 5, right: 5, bottom: 28 } }, spec);
  const view = new vega.View(vega.parse(vegaLite.compile(spec).spec), { renderer: 'svg', container: '#' + id, hover: true });
  await view.runAsync();
  return view;
}
(async () => {
  const psi = await mount('psi', psiSpec);
  const actions = await mount('actions', actionSpec);
  let samples = 0, decisions = 0, latest = 0;
  const setText = (id, v) => { document.getElementById(id).textContent = String(v); };
  // Messages are applied in batches, twice a second: a busy agent (or a simulation played fast)
  // sends hundreds of decisions a second, and redrawing per message would stall the page.
  let psiRows = [];
  const counts = new Map(); // "bucket|action" → decisions
  const flush = () => {
    if (psiRows.length) {
      const rows = psiRows;
      psiRows = [];
      psi.change('psi', vega.changeset().insert(rows).remove((d) => d.t_s < latest - KEEP_S)).run();
    }
    if (counts.dirty) {
      counts.dirty = false;
      for (const k of [...counts.keys()]) if (Number(k.split('|')[0]) < latest - KEEP_S) counts.delete(k);
      const rows = [...counts].map(([k, n]) => ({ bucket_s: Number(k.split('|')[0]), action: k.split('|')[1], count: n }));
      actions.change('decisions', vega.changeset().remove(() => true).insert(rows)).run();
    }
    setText('samples', samples);
    setText('decisions', decisions);
  };
  setInterval(flush, 500);
  const ws = new WebSocket((location.protocol === 'https:' ? 'wss://' : 'ws://') + location.host + '/v1/stream');
  ws.onopen = () => setText('status', 'live');
  ws.onclose = () => { setText('status', 'closed'); flush(); };
  ws.onmessage = (ev) => {
    const m = JSON.parse(ev.data);
    if (m.type === 'sample') {
      const t = m.t_ms / 1000;
      latest = Math.max(latest, t);
      for (const r of ['cpu', 'memory', 'io']) psiRows.push({ t_s: t, resource: r, value: 100 * m.psi[r].some.avg10 });
      samples++;
    } else if (m.type === 'decision') {
      const t = m.decision.t_ms / 1000;
      latest = Math.max(latest, t);
      const k = 10 * Math.floor(t / 10) + '|' + m.decision.action;
      counts.set(k, (counts.get(k) || 0) + 1);
      counts.dirty = true;
      decisions++;
    }
  };
  const pools = async () => {
    try {
      const s = await (await fetch('/v1/state')).json();
      const body = document.querySelector('#pools tbody');
      body.replaceChildren(...((s.engine && s.engine.pools) || []).map((p) => {
        const tr = document.createElement('tr');
        for (const v of [p.profile, p.size, p.warm, p.active, p.target]) { const td = document.createElement('td'); td.textContent = String(v); tr.append(td); }
        return tr;
      }));
    } catch { /* the agent is restarting; try again */ }
  };
  pools();
  setInterval(pools, 2000);
})();
`;
