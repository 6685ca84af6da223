/**
 * The fragment graph in the report: the profiles as a call graph (nodes sized by their request
 * rate, edges as wide as their call rate, coloured by the share of calls served on another NUMA
 * node than their caller's), and end-to-end latency beside each profile's own. Both only for runs
 * whose scenario has calls; `graphCharts` returns nothing otherwise.
 *
 * Layout: a profile's column is its depth (the longest chain of calls from a profile nobody
 * calls), its row its rank in that column by name — deterministic, so the same run draws the same
 * picture.
 */
import type { ChartDef, Run } from './chart-spec.ts';
import { CONFIG, OKABE_ITO, WIDTH } from './theme.ts';
import { roundTo } from '../engine/round.ts';

type Obj = Record<string, unknown>;

interface CallDecl {
  profile: string;
  per_request?: number;
  mode?: string;
}
interface EdgeFigure {
  from: string;
  to: string;
  calls: number;
  cross_node_ratio: number;
}

const callsOf = (r: Run): Record<string, CallDecl[]> =>
  Object.fromEntries(
    Object.entries(r.run.scenario.profiles).map(([k, v]) => [k, (v as { calls?: CallDecl[] }).calls ?? []]),
  );
const hasGraph = (r: Run) => Object.values(callsOf(r)).some((c) => c.length > 0);

/** Column (depth) and row of every profile; cycles (async calls back up) are cut where met. */
export function layout(
  calls: Readonly<Record<string, readonly CallDecl[]>>,
): Map<string, { col: number; row: number }> {
  const names = Object.keys(calls).sort();
  const called = new Set(names.flatMap((n) => (calls[n] ?? []).map((c) => c.profile)));
  const depth = new Map<string, number>();
  const visit = (p: string, d: number, path: Set<string>) => {
    if (path.has(p) || (depth.get(p) ?? -1) >= d) return;
    depth.set(p, d);
    path.add(p);
    for (const c of calls[p] ?? []) visit(c.profile, d + 1, path);
    path.delete(p);
  };
  for (const n of names) if (!called.has(n)) visit(n, 0, new Set());
  for (const n of names) if (!depth.has(n)) visit(n, 0, new Set());
  const out = new Map<string, { col: number; row: number }>();
  const rows = new Map<number, number>();
  for (const n of names) {
    const col = depth.get(n) as number;
    const row = rows.get(col) ?? 0;
    rows.set(col, row + 1);
    out.set(n, { col, row });
  }
  return out;
}

/** The call graph of one run, as a Vega-Lite layer of edges, nodes and labels. */
function graphPanel(r: Run): Obj {
  const pos = layout(callsOf(r));
  const byProfile = (r.metrics.by_profile ?? {}) as Record<string, { arrived?: number }>;
  const nodes = [...pos].map(([p, { col, row }]) => ({
    profile: p,
    x: col,
    y: row,
    rate: roundTo((byProfile[p]?.arrived ?? 0) / Math.max(1, r.duration_s), 3),
  }));
  const figures = (r.metrics.call_edges ?? []) as EdgeFigure[];
  const edges = Object.entries(callsOf(r)).flatMap(([from, cs]) =>
    cs.map((c) => {
      const a = pos.get(from),
        b = pos.get(c.profile);
      const f = figures.find((e) => e.from === from && e.to === c.profile);
      return {
        from,
        to: c.profile,
        mode: c.mode ?? 'sync',
        x: a?.col,
        y: a?.row,
        x2: b?.col,
        y2: b?.row,
        calls_per_s: roundTo((f?.calls ?? 0) / Math.max(1, r.duration_s), 3),
        cross_node: f ? f.cross_node_ratio : null,
      };
    }),
  );
  const x = {
    field: 'x',
    type: 'quantitative',
    axis: null,
    scale: { domain: [-0.5, Math.max(...nodes.map((n) => n.x)) + 0.5] },
  };
  const y = {
    field: 'y',
    type: 'quantitative',
    axis: null,
    scale: { reverse: true, domain: [-0.8, Math.max(...nodes.map((n) => n.y)) + 0.5] },
  };
  return {
    width: WIDTH,
    height: 60 + 36 * Math.max(...nodes.map((n) => n.y + 1)),
    title: { text: r.label, fontSize: 13 },
    layer: [
      {
        data: { values: edges },
        mark: { type: 'rule', opacity: 0.8 },
        encoding: {
          x,
          y,
          x2: { field: 'x2' },
          y2: { field: 'y2' },
          strokeWidth: { field: 'calls_per_s', type: 'quantitative', title: 'calls/s', scale: { range: [1, 10] } },
          color: {
            field: 'cross_node',
            type: 'quantitative',
            title: 'cross-node share',
            scale: { domain: [0, 1], range: ['#9a9a9a', '#d55e00'] },
          },
          strokeDash: {
            field: 'mode',
            type: 'nominal',
            title: 'call',
            scale: {
              domain: ['sync', 'async'],
              range: [
                [1, 0],
                [4, 3],
              ],
            },
          },
          tooltip: [
            { field: 'from', title: 'caller' },
            { field: 'to', title: 'callee' },
            { field: 'mode' },
            { field: 'calls_per_s', title: 'calls/s' },
            { field: 'cross_node', title: 'cross-node share', format: '.1%' },
          ],
        },
      },
      {
        data: { values: nodes },
        mark: { type: 'circle', color: OKABE_ITO[0], opacity: 0.9 },
        encoding: {
          x,
          y,
          size: { field: 'rate', type: 'quantitative', title: 'requests/s', scale: { range: [40, 900] } },
          tooltip: [{ field: 'profile' }, { field: 'rate', title: 'requests/s' }],
        },
      },
      {
        data: { values: nodes },
        mark: { type: 'text', dy: -16, fontSize: 10 },
        encoding: { x, y, text: { field: 'profile' } },
      },
    ],
  };
}

/** End-to-end latency (root requests) beside each profile's own, p50/p95/p99, one panel per run. */
function latencyPanel(r: Run): Obj {
  const pct = ['p50', 'p95', 'p99'] as const;
  const e2e = (r.metrics.e2e_latency_ms ?? {}) as Record<string, number>;
  const byProfile = (r.metrics.by_profile ?? {}) as Record<string, { latency_ms?: Record<string, number> }>;
  const rows = [
    ...pct.map((q) => ({ what: 'end to end', q, ms: e2e[q] ?? 0 })),
    ...Object.entries(byProfile).flatMap(([p, g]) => pct.map((q) => ({ what: p, q, ms: g.latency_ms?.[q] ?? 0 }))),
  ].filter((x) => x.ms > 0); // a log axis has no 0: a profile that completed nothing has no tick
  return {
    width: WIDTH,
    height: 14 * (1 + Object.keys(byProfile).length) * 1.2,
    title: { text: r.label, fontSize: 13 },
    data: { values: rows },
    mark: { type: 'tick', thickness: 2 },
    encoding: {
      y: { field: 'what', type: 'nominal', title: null, sort: null },
      x: {
        field: 'ms',
        type: 'quantitative',
        title: 'latency (ms, log scale)',
        scale: { type: 'log' },
        axis: { tickCount: 6 },
      },
      color: {
        field: 'q',
        type: 'nominal',
        title: 'percentile',
        scale: { domain: [...pct], range: [OKABE_ITO[1], OKABE_ITO[2], OKABE_ITO[5]] },
      },
      tooltip: [{ field: 'what' }, { field: 'q' }, { field: 'ms', title: 'ms' }],
    },
  };
}

/** The graph's two charts, for the runs that have calls; none when no run has any. */
export function graphCharts(runs: Run[]): ChartDef[] {
  const g = runs.filter(hasGraph);
  if (g.length === 0) return [];
  const spec = (title: string, subtitle: string[], panels: Obj[]) =>
    ({ title: { text: title, subtitle }, config: CONFIG, vconcat: panels }) as unknown as ChartDef['spec'];
  return [
    {
      id: 'graph',
      title: 'Fragment graph',
      renderer: 'svg',
      spec: spec(
        'The fragment graph: who calls whom',
        [
          'Profiles from run.json scenario.profiles[].calls, callers left of callees; circles sized by requests/s (metrics.json by_profile arrived ÷ duration);',
          'edges as wide as calls/s and coloured by the share served on another NUMA node than the caller (metrics.json call_edges); dashed: async.',
        ],
        g.map(graphPanel),
      ),
    },
    {
      id: 'e2e-latency',
      title: 'End-to-end latency',
      renderer: 'svg',
      spec: spec(
        "End-to-end latency beside each profile's",
        [
          "metrics.json e2e_latency_ms (root requests, arrival to the end of every sync call they waited on) and by_profile[].latency_ms (each profile's own requests).",
        ],
        g.map(latencyPanel),
      ),
    },
  ];
}
