/** The side-by-side metrics table `fgo sim` and `fgo compare` print. */
import type { MetricsSummary } from '../sim/metrics.ts';

/**
 * The side-by-side table, narrow enough for a laptop's terminal: the SLO figures first, the fault
 * columns only when some run had faults, and the end-to-end p99 only when some run made calls.
 */
export interface TableRow {
  metrics: MetricsSummary;
  wall_s: number;
}

export function table(results: ReadonlyArray<[string, TableRow]>): string {
  const faults = results.some(([, r]) => r.metrics.faults.injected > 0);
  const calls = results.some(([, r]) => r.metrics.calls > 0);
  const head = [
    'policy',
    'SLO miss',
    'p50 ms',
    'p99 ms',
    ...(calls ? ['e2e p99'] : []),
    'cold',
    'local',
    'util',
    'shed',
    ...(faults ? ['MTTD s', 'MTTR s', 'healed'] : []),
    'wall s',
  ];
  const rows = results.map(([name, r]) => {
    const m = r.metrics;
    return [
      name,
      m.slo_miss_ratio.toFixed(4),
      m.latency_ms.p50.toFixed(1),
      m.latency_ms.p99.toFixed(1),
      ...(calls ? [m.e2e_latency_ms.p99.toFixed(1)] : []),
      m.cold_start_ratio.toFixed(3),
      m.local_access_ratio.toFixed(3),
      m.utilization.mean.toFixed(3),
      String(m.requests.shed),
      ...(faults
        ? [
            m.mttd_s === null ? '-' : String(m.mttd_s),
            m.mttr_s === null ? '-' : String(m.mttr_s),
            `${m.faults.recovered}/${m.faults.injected}`,
          ]
        : []),
      r.wall_s.toFixed(1),
    ];
  });
  const all = [head, ...rows];
  const w = head.map((_, i) => Math.max(...all.map((r) => (r[i] ?? '').length)));
  return all
    .map((r) => r.map((c, i) => (i === 0 ? c.padEnd(w[i] as number) : c.padStart(w[i] as number))).join('  '))
    .join('\n');
}
