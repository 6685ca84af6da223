/**
 * The live dashboard: one page the agent serves on its own (loopback) address. It subscribes to
 * the WebSocket stream and updates Vega-Lite charts as pressure samples and decisions arrive, after
 * the recent past the server kept; the pools table follows GET /v1/state.
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

export const DASHBOARD_CSP =
  "default-src 'none'; script-src 'self' 'unsafe-eval'; style-src 'unsafe-inline'; connect-src 'self'; img-src 'self' data:";

export function dashboardHtml(title: string): string {
  const esc = title.replace(/[&<>"]/g, (c) => ({ '&': '&amp;', '<': '&lt;', '>': '&gt;', '"': '&quot;' })[c] as string);
  return `<!doctype html>
<html lang="en"><head><meta charset="utf-8"><title>${esc}</title>
<style>body{font:14px system-ui,sans-serif;margin:16px;color:#222}h1{font-size:18px}
.k{display:inline-block;margin-right:24px}#psi,#actions{margin:12px 0 24px}.k b{font-size:18px}table{border-collapse:collapse}td,th{padding:2px 8px;text-align:right}</style>
</head><body>
<h1>${esc}</h1>
<div><span class="k">stream: <b id="status">connecting</b></span><span class="k">samples: <b id="samples">0</b></span><span class="k">decisions: <b id="decisions">0</b></span><span class="k">time: <b id="clock">0:00:00</b></span></div>
<div id="psi"></div><div id="actions"></div>
<h2 style="font-size:15px">Pools</h2><table id="pools"><thead><tr><th>profile</th><th>size</th><th>starting</th><th>warm</th><th>active</th><th>draining</th><th>target</th></tr></thead><tbody></tbody></table>
<script src="/assets/vega.min.js"></script><script src="/assets/vega-lite.min.js"></script><script src="/assets/dashboard.js"></script>
</body></html>`;
}

/**
 * The page's script. Okabe–Ito colours (safe for the common colour-vision deficiencies); the
 * last ten minutes kept in the charts. A stream opens with a `history` message (the recent past
 * the server kept, serve/stream-history.ts), so a page opened late starts with it.
 */
const CLIENT_JS = `'use strict';
const OKABE_ITO = ['#E69F00', '#56B4E9', '#009E73', '#F0E442', '#0072B2', '#D55E00', '#CC79A7', '#000000'];
const KEEP_S = 600;
// Time since the start as h:mm:ss (with days past 24 h), on a time scale whose ticks fall on whole
// seconds and minutes (at least 1 s apart: none between seconds in a run's first seconds): a few
// readable labels however long the run, none overlapping.
const timeAxis = (title) => ({
  title, titlePadding: 12, tickCount: 6, tickMinStep: 1000, labelOverlap: 'greedy', labelFlush: true,
  labelExpr: "(datum.value >= 86400000 ? floor(datum.value / 86400000) + 'd ' : '') + utcFormat(datum.value, '%-H:%M:%S')",
});
const psiSpec = {
  title: 'Pressure (PSI some, avg10)', width: 720, height: 200, data: { name: 'psi' }, mark: { type: 'line', interpolate: 'monotone' },
  encoding: {
    x: { field: 't_ms', type: 'temporal', scale: { type: 'utc' }, axis: timeAxis('time since the start (h:mm:ss)') },
    y: { field: 'value', type: 'quantitative', title: 'stalled time (%)', scale: { domain: [0, 100] } },
    color: { field: 'resource', type: 'nominal', title: 'resource', scale: { domain: ['cpu', 'memory', 'io'], range: OKABE_ITO.slice(0, 3) } },
  },
};
const actionSpec = {
  title: 'Decisions per 10 s', width: 720, height: 160, data: { name: 'decisions' }, mark: 'bar',
  encoding: {
    x: { field: 'from_ms', type: 'temporal', scale: { type: 'utc' }, axis: timeAxis('time since the start (h:mm:ss, 10 s bars)') },
    x2: { field: 'to_ms' },
    y: { field: 'count', aggregate: 'sum', type: 'quantitative', title: 'decisions', axis: { tickMinStep: 1, format: 'd' } },
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
const clock = (s) => {
  const t = Math.floor(s), h = Math.floor(t / 3600), m = Math.floor(t / 60) % 60, sec = t % 60;
  return h + ':' + String(m).padStart(2, '0') + ':' + String(sec).padStart(2, '0');
};
(async () => {
  const psi = await mount('psi', psiSpec);
  const actions = await mount('actions', actionSpec);
  let samples = 0, decisions = 0, latest = 0;
  const setText = (id, v) => { document.getElementById(id).textContent = String(v); };
  // Messages are applied in batches, twice a second: a busy agent (or a simulation played fast)
  // sends hundreds of decisions a second, and redrawing per message would stall the page.
  let psiRows = [];
  const counts = new Map(); // "bucket|action" → decisions
  const count = (bucket_s, action, n) => {
    const k = bucket_s + '|' + action;
    counts.set(k, (counts.get(k) || 0) + n);
    counts.dirty = true;
  };
  const addSample = (t_ms, set) => {
    latest = Math.max(latest, t_ms / 1000);
    for (const r of ['cpu', 'memory', 'io']) psiRows.push({ t_ms, resource: r, value: 100 * set[r].some.avg10 });
  };
  const flush = () => {
    if (psiRows.length) {
      const rows = psiRows;
      psiRows = [];
      psi.change('psi', vega.changeset().insert(rows).remove((d) => d.t_ms / 1000 < latest - KEEP_S)).run();
    }
    if (counts.dirty) {
      counts.dirty = false;
      for (const k of [...counts.keys()]) if (Number(k.split('|')[0]) < latest - KEEP_S) counts.delete(k);
      const rows = [...counts].map(([k, n]) => {
        const b = Number(k.split('|')[0]);
        return { from_ms: 1000 * b, to_ms: 1000 * (b + 10), action: k.split('|')[1], count: n };
      });
      actions.change('decisions', vega.changeset().remove(() => true).insert(rows)).run();
    }
    setText('samples', samples);
    setText('decisions', decisions);
    setText('clock', clock(latest));
  };
  setInterval(flush, 500);
  const ws = new WebSocket((location.protocol === 'https:' ? 'wss://' : 'ws://') + location.host + '/v1/stream');
  ws.onopen = () => setText('status', 'live');
  ws.onclose = () => { setText('status', 'closed'); flush(); };
  ws.onmessage = (ev) => {
    const m = JSON.parse(ev.data);
    if (m.type === 'history') {
      for (const s of m.samples) addSample(s.t_ms, s.psi);
      for (const b of m.decisions) {
        latest = Math.max(latest, b.bucket_s);
        count(b.bucket_s, b.action, b.count);
      }
      samples = m.samples_total;
      decisions = m.decisions_total;
      flush();
    } else if (m.type === 'sample') {
      addSample(m.t_ms, m.psi);
      samples++;
    } else if (m.type === 'decision') {
      const t = m.decision.t_ms / 1000;
      latest = Math.max(latest, t);
      count(10 * Math.floor(t / 10), m.decision.action, 1);
      decisions++;
    }
  };
  const pools = async () => {
    try {
      const s = await (await fetch('/v1/state')).json();
      const body = document.querySelector('#pools tbody');
      body.replaceChildren(...((s.engine && s.engine.pools) || []).map((p) => {
        const tr = document.createElement('tr');
        for (const v of [p.profile, p.size, p.starting, p.warm, p.active, p.draining, p.target]) { const td = document.createElement('td'); td.textContent = String(v); tr.append(td); }
        return tr;
      }));
    } catch { /* the agent is restarting; try again */ }
  };
  pools();
  setInterval(pools, 2000);
})();
`;
