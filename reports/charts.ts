/**
 * The report's charts as Vega-Lite specs, one builder per chart. Every spec is self-contained:
 * its data inline (as top-level named `datasets`, so a dataset used by several panels is stored
 * once), its config (theme.ts) and its title, so the same spec renders identically in the HTML
 * page (vega-embed) and headless (images.ts). Builders only lay out data that load.ts has already
 * aggregated; subtitles say where each number comes from and what is derived or missing.
 */
import type { TopLevelSpec } from 'vega-lite';
import type { RunMeta, RunSeries } from './load.ts';
import { graphCharts } from './graph.ts';
import { CONFIG, LEVEL_COLOURS, LEVELS, OKABE_ITO, WIDTH } from './theme.ts';
import { roundTo } from '../engine/round.ts';

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

type Obj = Record<string, unknown>;

/** NaN (no value) as null, which Vega-Lite leaves out of a line. */
const num = (x: number) => (Number.isFinite(x) ? x : null);
/** A duration as a person says it: 2 s, 5 min, 1 h. */
export const span = (s: number) =>
  s < 60 ? `${s} s` : s < 3600 ? `${roundTo(s / 60, 2)} min` : `${roundTo(s / 3600, 2)} h`;

function top(title: string, subtitle: string[], body: Obj, datasets: Obj): TopLevelSpec {
  return { title: { text: title, subtitle }, datasets, config: CONFIG, ...body } as unknown as TopLevelSpec;
}

const xTime = (ax: TimeAxis, field = 't') => ({
  field,
  type: 'quantitative',
  title: `time (${ax.unit})`,
  scale: { nice: false, zero: true },
});
const runColour = (runs: Run[]) => ({
  field: 'run',
  type: 'nominal',
  title: 'run',
  scale: { domain: runs.map((r) => r.label), range: [...OKABE_ITO] },
});
const t = (ax: TimeAxis, t_s: number) => roundTo(t_s / ax.unit_s, 4);

/** System-wide PSI avg10 of every run, one panel per resource, over the engine's level bands. */
export function psiChart(runs: Run[], ax: TimeAxis): ChartDef {
  const th = runs[0]?.run.engine_config.pressure.thresholds;
  const same = runs.every((r) => JSON.stringify(r.run.engine_config.pressure.thresholds) === JSON.stringify(th));
  const values = runs.flatMap((r) =>
    r.series.bins.map((b) => ({
      run: r.label,
      t: t(ax, b.t_s),
      cpu_some: b.cpu_some,
      cpu_full: b.cpu_full,
      mem_some: b.mem_some,
      mem_full: b.mem_full,
      io_some: b.io_some,
      io_full: b.io_full,
    })),
  );
  const panel = (res: 'cpu' | 'memory' | 'io', key: 'cpu' | 'mem' | 'io') => {
    const tr = th?.[res] ?? { low: 0, medium: 0, high: 0, critical: 0 };
    const edges = [tr.low, tr.medium, tr.high, tr.critical, 1].map((x) => roundTo(x * 100, 2));
    const bands = LEVELS.map((level, i) => ({ level, y0: edges[i], y1: edges[i + 1] }));
    return {
      width: WIDTH,
      height: 130,
      title: { text: `${res} pressure`, fontSize: 13 },
      layer: [
        {
          data: { values: bands },
          mark: { type: 'rect', opacity: 0.35 },
          encoding: {
            y: { field: 'y0', type: 'quantitative', title: 'stall, avg10 (%)', scale: { domain: [0, 100] } },
            y2: { field: 'y1' },
            fill: {
              field: 'level',
              type: 'ordinal',
              title: 'engine level',
              scale: { domain: [...LEVELS], range: [...LEVEL_COLOURS] },
            },
            tooltip: [{ field: 'level' }, { field: 'y0', title: 'from %' }, { field: 'y1', title: 'to %' }],
          },
        },
        {
          data: { name: 'psi' },
          transform: [
            { fold: [`${key}_some`, `${key}_full`], as: ['col', 'v'] },
            { calculate: `indexof(datum.col, 'some') >= 0 ? 'some' : 'full'`, as: 'line' },
          ],
          mark: { type: 'line', interpolate: 'step-after' },
          encoding: {
            x: xTime(ax),
            y: { field: 'v', type: 'quantitative' },
            color: runColour(runs),
            strokeDash: {
              field: 'line',
              type: 'nominal',
              title: 'PSI line',
              scale: {
                domain: ['some', 'full'],
                range: [
                  [1, 0],
                  [5, 3],
                ],
              },
            },
            tooltip: [
              { field: 'run' },
              { field: 't', title: `time (${ax.unit})` },
              { field: 'line' },
              { field: 'v', title: 'avg10 %' },
            ],
          },
        },
      ],
    };
  };
  return {
    id: 'psi',
    title: 'Pressure stall (PSI) over time',
    renderer: 'svg',
    spec: top(
      'Pressure stall (PSI) over time, system-wide',
      [
        `Lines: timeseries.csv avg10 of the 'all' rows, the largest value in each ${span(ax.bin_s)} bin (solid: some, dashed: full).`,
        `Bands: the engine's low/medium/high/critical thresholds from run.json engine_config.pressure.thresholds${same ? '' : ` (of ${runs[0]?.label}; the runs differ)`}.`,
      ],
      {
        vconcat: [panel('cpu', 'cpu'), panel('memory', 'mem'), panel('io', 'io')],
        resolve: { scale: { x: 'shared' } },
      },
      { psi: values },
    ),
  };
}

/** A run's CDF points (latency floored at 1 µs for the log scale): histograms.json's, else metrics.json's four. */
function cdfPoints(r: Run): Array<{ what: string; p: number; ms: number }> {
  if (r.cdf)
    return [
      ...r.cdf.overall.map((x) => ({ what: 'all requests', p: x.p, ms: Math.max(x.ms, 0.001) })),
      ...(r.cdf.e2e ?? []).map((x) => ({ what: 'end to end', p: x.p, ms: Math.max(x.ms, 0.001) })),
    ];
  const l = r.metrics.latency_ms;
  return [
    [0.5, l.p50],
    [0.95, l.p95],
    [0.99, l.p99],
    [1, l.max],
  ].map(([p, ms]) => ({ what: 'all requests', p: p as number, ms: Math.max(ms as number, 0.001) }));
}

/**
 * Latency CDF per run, drawn from the whole distribution histograms.json keeps (every percent and
 * the tail to the maximum; end to end dashed where the run made calls). A run directory from
 * before fgo kept histograms falls back to metrics.json's p50, p95, p99 and max, said so.
 */
export function latencyCdfChart(runs: Run[]): ChartDef {
  const values = runs.flatMap((r) => cdfPoints(r).map((x) => ({ run: r.label, ...x })));
  const old = runs.filter((r) => !r.cdf).map((r) => r.label);
  const e2e = runs.some((r) => r.cdf?.e2e);
  const enc = {
    x: {
      field: 'ms',
      type: 'quantitative',
      title: 'latency, arrival to completion (ms, log scale)',
      scale: { type: 'log' },
    },
    y: {
      field: 'p',
      type: 'quantitative',
      title: 'fraction of requests completed',
      scale: { domain: [0, 1] },
      axis: { format: '.0%' },
    },
    color: runColour(runs),
    strokeDash: {
      field: 'what',
      type: 'nominal',
      title: 'latency of',
      scale: {
        domain: ['all requests', 'end to end'],
        range: [
          [1, 0],
          [5, 3],
        ],
      },
    },
    tooltip: [
      { field: 'run' },
      { field: 'what' },
      { field: 'p', title: 'fraction', format: '.2%' },
      { field: 'ms', title: 'latency (ms)' },
    ],
  };
  return {
    id: 'latency-cdf',
    title: 'Latency CDF',
    renderer: 'svg',
    spec: top(
      'Latency CDF, one line per run',
      [
        "From histograms.json: each run's whole latency distribution (HdrHistogram, 3 significant digits), at every percent and the tail to the maximum.",
        ...(e2e ? ['Dashed: end to end (root requests, their calls included), for runs that made calls.'] : []),
        ...(old.length
          ? [
              `${old.join(', ')}: no histograms.json (an older run directory): only metrics.json's p50, p95, p99 and max, joined by straight lines.`,
            ]
          : []),
      ],
      {
        width: WIDTH,
        height: 300,
        data: { name: 'cdf' },
        mark: { type: 'line', interpolate: 'step-after' },
        encoding: enc,
      },
      { cdf: values },
    ),
  };
}

/** Mean CPU utilization per node over time, one heat-map panel per run. */
export function cpuHeatmapChart(runs: Run[], ax: TimeAxis): ChartDef {
  const values = runs.flatMap((r) =>
    r.series.heat.map((h) => ({ run: r.label, t: t(ax, h.t_s), node: h.node, util: roundTo(h.util, 4) })),
  );
  const nodes = Math.max(1, ...runs.map((r) => r.series.nodes.length));
  return {
    id: 'cpu-heatmap',
    title: 'Per-node CPU utilization',
    renderer: 'canvas',
    spec: top(
      'CPU utilization per NUMA node over time',
      [
        `Mean of timeseries.csv cpu_util per node in ${span(ax.heat_bin_s)} cells: 0 = idle, 1 = every online CPU of the node busy.`,
        'Colour: viridis (perceptually uniform, readable in greyscale and with any colour-vision deficiency).',
      ],
      {
        data: { name: 'heat' },
        // The cell's end is computed in the browser: one field less per cell in the file.
        transform: [{ calculate: `datum.t + ${t(ax, ax.heat_bin_s)}`, as: 't2' }],
        facet: {
          row: {
            field: 'run',
            type: 'nominal',
            title: null,
            sort: runs.map((r) => r.label),
            header: { labelAngle: 0, labelAlign: 'left', labelFontWeight: 'bold' },
          },
        },
        spec: {
          width: WIDTH,
          height: Math.max(64, Math.min(320, nodes * 10)),
          mark: { type: 'rect' },
          encoding: {
            x: xTime(ax),
            x2: { field: 't2' },
            y: { field: 'node', type: 'ordinal', title: 'NUMA node', axis: { labelOverlap: 'parity' } },
            color: {
              field: 'util',
              type: 'quantitative',
              title: 'CPU utilization',
              scale: { scheme: 'viridis', domain: [0, 1] },
              legend: { format: '.0%' },
            },
            tooltip: [
              { field: 'run' },
              { field: 'node' },
              { field: 't', title: `from (${ax.unit})` },
              { field: 'util', title: 'utilization', format: '.1%' },
            ],
          },
        },
        resolve: { scale: { x: 'shared' } },
      },
      { heat: values },
    ),
  };
}

/** Local memory access: over time when the timeseries has it, else each run's final ratio as a bar. */
export function localAccessChart(runs: Run[], ax: TimeAxis): ChartDef {
  const overTime = runs.length > 0 && runs.every((r) => r.series.hasLocalColumn);
  const bars = runs.map((r) => ({ run: r.label, ratio: r.metrics.local_access_ratio }));
  if (overTime) {
    const values = runs.flatMap((r) =>
      r.series.bins
        .filter((b) => b.local !== undefined)
        .map((b) => ({ run: r.label, t: t(ax, b.t_s), ratio: roundTo(b.local as number, 4) })),
    );
    return {
      id: 'local-access',
      title: 'Local memory access',
      renderer: 'svg',
      spec: top(
        'Local memory access ratio over time',
        [`timeseries.csv local_access_ratio of the 'all' rows, mean per ${span(ax.bin_s)} bin.`],
        {
          width: WIDTH,
          height: 220,
          data: { name: 'local' },
          mark: { type: 'line', interpolate: 'step-after' },
          encoding: {
            x: xTime(ax),
            y: {
              field: 'ratio',
              type: 'quantitative',
              title: 'node-local ÷ all memory accesses',
              scale: { domain: [0, 1] },
              axis: { format: '.0%' },
            },
            color: runColour(runs),
          },
        },
        { local: values },
      ),
    };
  }
  return {
    id: 'local-access',
    title: 'Local memory access',
    renderer: 'svg',
    spec: top(
      'Local memory access ratio, per run',
      [
        "Only the run's final figure exists (metrics.json local_access_ratio: CPU-time-weighted node-local ÷ all memory accesses);",
        'timeseries.csv has no per-interval locality column, so no curve over time is drawn. Dashed: the 0.95 target of README "Targets".',
      ],
      {
        width: { step: Math.max(40, Math.min(110, Math.floor(WIDTH / Math.max(1, runs.length)))) },
        height: 240,
        data: { name: 'local' },
        layer: [
          {
            mark: { type: 'bar' },
            encoding: {
              x: {
                field: 'run',
                type: 'nominal',
                title: 'run',
                sort: runs.map((r) => r.label),
                axis: { labelAngle: -30 },
              },
              y: {
                field: 'ratio',
                type: 'quantitative',
                title: 'node-local ÷ all memory accesses',
                scale: { domain: [0, 1] },
                axis: { format: '.0%' },
              },
              color: { ...runColour(runs), legend: null },
              tooltip: [{ field: 'run' }, { field: 'ratio', format: '.4f' }],
            },
          },
          {
            mark: { type: 'text', dy: -6, fontSize: 11 },
            encoding: {
              x: { field: 'run', type: 'nominal', sort: runs.map((r) => r.label) },
              y: { field: 'ratio', type: 'quantitative' },
              text: { field: 'ratio', type: 'quantitative', format: '.3f' },
            },
          },
          {
            data: { values: [{ target: 0.95 }] },
            mark: { type: 'rule', strokeDash: [4, 3], color: '#444' },
            encoding: { y: { field: 'target', type: 'quantitative' } },
          },
        ],
      },
      { local: bars },
    ),
  };
}

/** Pool sizes against predicted and actual demand: per run, fragments above and requests/s below. */
export function poolChart(runs: Run[], ax: TimeAxis): ChartDef {
  const values = runs.flatMap((r) =>
    r.series.bins.map((b) => ({
      run: r.label,
      t: t(ax, b.t_s),
      active: roundTo(b.active, 2),
      warm: roundTo(b.warm, 2),
      pred_size: num(roundTo(b.pred_size, 2)),
      arr_rate: roundTo(b.arrivals / ax.bin_s, 4),
      pred_rate: num(roundTo(b.pred_rate, 4)),
    })),
  );
  const notes = [...new Set(runs.map((r) => r.series.predictor))];
  const predicted =
    notes.length === 1
      ? `Predicted: ${notes[0]}.`
      : `Predicted, per run: ${runs.map((r) => `${r.label}: ${r.series.predictor}`).join('; ')}.`;
  const names = {
    active: 'active (serving)',
    warm: 'warm (idle, ready)',
    pred_size: 'predicted pool size',
    arr_rate: 'actual arrivals',
    pred_rate: 'predicted demand',
  };
  const panel = (label: string, cols: Array<keyof typeof names>, yTitle: string, title: string) => ({
    width: WIDTH,
    height: 120,
    title: { text: title, fontSize: 12 },
    data: { name: 'pool' },
    transform: [
      { filter: { field: 'run', equal: label } },
      { fold: cols, as: ['col', 'v'] },
      { calculate: `${JSON.stringify(names)}[datum.col]`, as: 'series' },
    ],
    mark: { type: 'line', interpolate: 'step-after' },
    encoding: {
      x: xTime(ax),
      y: { field: 'v', type: 'quantitative', title: yTitle },
      color: {
        field: 'series',
        type: 'nominal',
        title: 'series',
        scale: {
          domain: Object.values(names),
          range: [OKABE_ITO[0], OKABE_ITO[2], OKABE_ITO[1], OKABE_ITO[6], OKABE_ITO[3]],
        },
      },
      strokeDash: {
        field: 'series',
        type: 'nominal',
        title: 'series',
        scale: {
          domain: Object.values(names),
          range: [
            [1, 0],
            [1, 0],
            [5, 3],
            [1, 0],
            [5, 3],
          ],
        },
      },
      tooltip: [{ field: 'series' }, { field: 't', title: `time (${ax.unit})` }, { field: 'v', title: 'value' }],
    },
  });
  return {
    id: 'pools',
    title: 'Pools and demand',
    renderer: 'svg',
    spec: top(
      'Fragment pools against predicted and actual demand',
      [
        `Fragments: timeseries.csv active and warm ('all' rows), mean per ${span(ax.bin_s)} bin. Actual arrivals: first decision per request id in decisions.jsonl, per second.`,
        predicted,
      ],
      {
        vconcat: runs.map((r) => ({
          vconcat: [
            panel(r.label, ['active', 'warm', 'pred_size'], 'fragments', `${r.label}: pool sizes`),
            panel(r.label, ['arr_rate', 'pred_rate'], 'requests/s', `${r.label}: demand`),
          ],
        })),
        resolve: { scale: { x: 'shared' } },
      },
      { pool: values },
    ),
  };
}

/** Most faults drawn per run; more would not be legible, and the summary table has the counts. */
export const MAX_FAULTS = 2000;
const DECISION_LANES = ['defer', 'shed', 'reject', 're-placed', 'pool grew', 'pool shrank'] as const;

/** Decisions per bin and each fault from injection to detection to recovery, one panel per run. */
export function timelineChart(runs: Run[], ax: TimeAxis): ChartDef {
  const events: Obj[] = [],
    segs: Obj[] = [],
    marks: Obj[] = [];
  let truncated = false;
  for (const r of runs) {
    let prev = 0;
    for (const b of r.series.bins) {
      const lanes: Array<[string, number]> = [
        ['defer', b.defer],
        ['shed', b.shed],
        ['reject', b.reject],
        ['re-placed', b.replaced],
      ];
      if (!Number.isNaN(b.pool_end)) {
        const d = b.pool_end - prev;
        lanes.push(d > 0 ? ['pool grew', d] : ['pool shrank', -d]);
        prev = b.pool_end;
      }
      for (const [lane, n] of lanes) if (n > 0) events.push({ run: r.label, t: t(ax, b.t_s + ax.bin_s / 2), lane, n });
    }
    const faults = [...r.faults].sort((a, b) => a.injected_s - b.injected_s);
    truncated ||= faults.length > MAX_FAULTS;
    for (const f of faults.slice(0, MAX_FAULTS)) {
      const lane = `fault: ${f.kind}`,
        base = { run: r.label, lane, target: f.target };
      const det = f.detected_s ?? r.duration_s;
      segs.push({
        ...base,
        stage: f.detected_s === null ? 'never detected' : 'injected → detected',
        t0: t(ax, f.injected_s),
        t1: t(ax, det),
      });
      if (f.detected_s !== null)
        segs.push({
          ...base,
          stage: f.recovered_s === null ? 'never recovered' : 'detected → recovered',
          t0: t(ax, det),
          t1: t(ax, f.recovered_s ?? r.duration_s),
        });
      marks.push({ ...base, what: 'injected', t: t(ax, f.injected_s) });
      if (f.detected_s !== null) marks.push({ ...base, what: 'detected', t: t(ax, f.detected_s) });
      if (f.recovered_s !== null) marks.push({ ...base, what: 'recovered', t: t(ax, f.recovered_s) });
    }
  }
  const faultLanes = [...new Set(segs.map((s) => s.lane as string))].sort();
  const lanes = [...DECISION_LANES.filter((l) => events.some((e) => e.lane === l)), ...faultLanes];
  const y = { field: 'lane', type: 'nominal', title: null, scale: { domain: lanes } };
  const stages = ['injected → detected', 'detected → recovered', 'never detected', 'never recovered'];
  const hasEvents = events.length > 0,
    hasFaults = segs.length > 0;
  const panel = (label: string) => ({
    width: WIDTH,
    height: { step: 22 },
    title: { text: label, fontSize: 12 },
    // Layers without data anywhere are left out, so no legend describes marks that cannot appear.
    layer: [
      ...(!hasEvents
        ? []
        : [
            {
              data: { name: 'events' },
              transform: [{ filter: { field: 'run', equal: label } }],
              mark: { type: 'circle', color: '#444', opacity: 0.7 },
              encoding: {
                x: xTime(ax),
                y,
                size: {
                  field: 'n',
                  type: 'quantitative',
                  title: 'count per bin',
                  scale: { type: 'sqrt', range: [6, 260] },
                },
                tooltip: [
                  { field: 'lane' },
                  { field: 't', title: `bin middle (${ax.unit})` },
                  { field: 'n', title: 'count' },
                ],
              },
            },
          ]),
      ...(!hasFaults
        ? []
        : [
            {
              data: { name: 'segs' },
              transform: [{ filter: { field: 'run', equal: label } }],
              mark: { type: 'rule', strokeWidth: 5, opacity: 0.8 },
              encoding: {
                x: xTime(ax, 't0'),
                x2: { field: 't1' },
                y,
                color: {
                  field: 'stage',
                  type: 'nominal',
                  title: 'fault stage',
                  scale: { domain: stages, range: [OKABE_ITO[1], OKABE_ITO[0], OKABE_ITO[3], OKABE_ITO[4]] },
                },
                tooltip: [
                  { field: 'lane' },
                  { field: 'target' },
                  { field: 'stage' },
                  { field: 't0', title: `from (${ax.unit})` },
                  { field: 't1', title: `to (${ax.unit})` },
                ],
              },
            },
            {
              data: { name: 'marks' },
              transform: [{ filter: { field: 'run', equal: label } }],
              mark: { type: 'point', filled: true, size: 30, color: '#000' },
              encoding: {
                x: xTime(ax),
                y,
                shape: {
                  field: 'what',
                  type: 'nominal',
                  title: 'fault event',
                  scale: {
                    domain: ['injected', 'detected', 'recovered'],
                    range: ['triangle-right', 'diamond', 'square'],
                  },
                },
                tooltip: [{ field: 'target' }, { field: 'what' }, { field: 't', title: `time (${ax.unit})` }],
              },
            },
          ]),
    ],
  });
  return {
    id: 'timeline',
    title: 'Decisions and faults',
    renderer: 'svg',
    spec: top(
      'Timeline of decisions and faults',
      [
        `defer, shed, reject, re-placed: decisions.jsonl counts per ${span(ax.bin_s)} bin (re-placed: a request placed again — its fragment failed or was restarted by recovery).`,
        'pool grew/shrank: net change of active + warm fragments in timeseries.csv per bin (scaling is not journaled). Faults: faults.json,',
        `injection → detection → recovery${truncated ? `; only the first ${MAX_FAULTS} faults of a run are drawn` : ''}.`,
      ],
      lanes.length
        ? { vconcat: runs.map((r) => panel(r.label)), resolve: { scale: { x: 'shared' } } }
        : {
            width: WIDTH,
            height: 40,
            mark: { type: 'text', text: 'no defer, shed, reject, re-placement, pool change or fault in these runs' },
            data: { values: [{}] },
          },
      { events, segs, marks },
    ),
  };
}

/**
 * The latency CDF of each variant of a study overlaid, one panel per policy: how the whole
 * distribution moved, not only its p50 and p99 (histograms.json, as in latencyCdfChart).
 */
export function variantCdfChart(groups: ReadonlyArray<{ name: string; runs: readonly Run[] }>): ChartDef {
  const values = groups.flatMap((g) =>
    g.runs.flatMap((r) =>
      cdfPoints(r)
        .filter((x) => x.what === 'all requests')
        .map((x) => ({ variant: g.name, policy: r.run.policy, p: x.p, ms: x.ms })),
    ),
  );
  const policies = [...new Set(values.map((v) => v.policy as string))];
  const names = groups.map((g) => g.name);
  return {
    id: 'variant-cdf',
    title: 'Latency CDF per variant',
    renderer: 'svg',
    spec: top(
      'Latency CDF per variant, one panel per policy',
      [
        'From histograms.json, as the latency CDF below: every percent and the tail to the maximum, one line per variant.',
      ],
      {
        data: { name: 'vcdf' },
        facet: {
          row: {
            field: 'policy',
            type: 'nominal',
            title: null,
            sort: policies,
            header: { labelAngle: 0, labelAlign: 'left', labelFontWeight: 'bold' },
          },
        },
        spec: {
          width: WIDTH,
          height: 200,
          mark: { type: 'line', interpolate: 'step-after' },
          encoding: {
            x: {
              field: 'ms',
              type: 'quantitative',
              title: 'latency, arrival to completion (ms, log scale)',
              scale: { type: 'log' },
            },
            y: {
              field: 'p',
              type: 'quantitative',
              title: 'fraction completed',
              scale: { domain: [0, 1] },
              axis: { format: '.0%' },
            },
            color: {
              field: 'variant',
              type: 'nominal',
              title: 'variant',
              scale: { domain: names, range: [...OKABE_ITO] },
            },
            tooltip: [
              { field: 'variant' },
              { field: 'policy' },
              { field: 'p', title: 'fraction', format: '.2%' },
              { field: 'ms', title: 'latency (ms)' },
            ],
          },
        },
      },
      { vcdf: values },
    ),
  };
}

/** Every chart of the report, in page order (the fragment graph's, reports/graph.ts, where runs have calls). */
export function buildCharts(runs: Run[], ax: TimeAxis): ChartDef[] {
  return [
    latencyCdfChart(runs),
    psiChart(runs, ax),
    ...graphCharts(runs),
    cpuHeatmapChart(runs, ax),
    localAccessChart(runs, ax),
    poolChart(runs, ax),
    timelineChart(runs, ax),
  ];
}
