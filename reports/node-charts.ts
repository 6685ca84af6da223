/** The per-NUMA-node charts: CPU utilization per node as a heat map, and node-local memory access. */
import { runColour, span, t, top, xTime, type ChartDef, type Run, type TimeAxis } from './chart-spec.ts';
import { roundTo } from '../engine/round.ts';
import { WIDTH } from './theme.ts';

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
