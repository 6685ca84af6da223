/** The latency CDF charts: one line per run, and a study's variants overlaid per policy. */
import { runColour, top, type ChartDef, type Run } from './chart-spec.ts';
import { OKABE_ITO, WIDTH } from './theme.ts';

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
