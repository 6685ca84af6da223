/** The pool chart: warm and active fragments against predicted and actual demand, per run. */
import { num, span, t, top, xTime, type ChartDef, type Run, type TimeAxis } from './chart-spec.ts';
import { roundTo } from '../engine/round.ts';
import { OKABE_ITO, WIDTH } from './theme.ts';

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
