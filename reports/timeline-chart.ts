/** The timeline chart: scheduling decisions per bin and each fault from injection to recovery. */
import { span, t, top, xTime, type ChartDef, type Obj, type Run, type TimeAxis } from './chart-spec.ts';
import { OKABE_ITO, WIDTH } from './theme.ts';

/** Most faults drawn per run; more would not be legible, and the summary table has the counts. */
export const MAX_FAULTS = 2000;
const DECISION_LANES = ['defer', 'shed', 'reject', 're-placed', 'pool grew', 'pool shrank'] as const;

/** One run's decision counts per bin, in the lanes the chart draws them in. */
function decisionEvents(r: Run, ax: TimeAxis): Obj[] {
  const events: Obj[] = [];
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
  return events;
}

/** One run's first MAX_FAULTS faults as stage segments and event marks; truncated when it had more. */
function faultStages(r: Run, ax: TimeAxis): { segs: Obj[]; marks: Obj[]; truncated: boolean } {
  const segs: Obj[] = [],
    marks: Obj[] = [];
  const faults = [...r.faults].sort((a, b) => a.injected_s - b.injected_s);
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
  return { segs, marks, truncated: faults.length > MAX_FAULTS };
}

const STAGES = ['injected → detected', 'detected → recovered', 'never detected', 'never recovered'];

/** The decision-count layer of one run's panel: a circle per lane and bin, sized by the count. */
const eventLayer = (label: string, ax: TimeAxis, y: Obj) => ({
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
    tooltip: [{ field: 'lane' }, { field: 't', title: `bin middle (${ax.unit})` }, { field: 'n', title: 'count' }],
  },
});

/** The fault layers of one run's panel: each stage as a bar, each event as a mark. */
const faultLayers = (label: string, ax: TimeAxis, y: Obj) => [
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
        scale: { domain: STAGES, range: [OKABE_ITO[1], OKABE_ITO[0], OKABE_ITO[3], OKABE_ITO[4]] },
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
];

/** Decisions per bin and each fault from injection to detection to recovery, one panel per run. */
export function timelineChart(runs: Run[], ax: TimeAxis): ChartDef {
  const events = runs.flatMap((r) => decisionEvents(r, ax));
  const stages = runs.map((r) => faultStages(r, ax));
  const segs = stages.flatMap((s) => s.segs),
    marks = stages.flatMap((s) => s.marks);
  const truncated = stages.some((s) => s.truncated);
  const faultLanes = [...new Set(segs.map((s) => s.lane as string))].sort();
  const lanes = [...DECISION_LANES.filter((l) => events.some((e) => e.lane === l)), ...faultLanes];
  const y = { field: 'lane', type: 'nominal', title: null, scale: { domain: lanes } };
  const hasEvents = events.length > 0,
    hasFaults = segs.length > 0;
  const panel = (label: string) => ({
    width: WIDTH,
    height: { step: 22 },
    title: { text: label, fontSize: 12 },
    // Layers without data anywhere are left out, so no legend describes marks that cannot appear.
    layer: [...(hasEvents ? [eventLayer(label, ax, y)] : []), ...(hasFaults ? faultLayers(label, ax, y) : [])],
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
