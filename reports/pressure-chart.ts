/** The PSI chart: every run's system-wide pressure stall over time, against the engine's level bands. */
import { runColour, span, t, top, xTime, type ChartDef, type Run, type TimeAxis } from './chart-spec.ts';
import { roundTo } from '../engine/round.ts';
import { LEVEL_COLOURS, LEVELS, WIDTH } from './theme.ts';

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
