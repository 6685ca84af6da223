/**
 * The report's charts in page order. Each chart has its own builder file (pressure-chart.ts,
 * latency-charts.ts, node-charts.ts, pool-chart.ts, timeline-chart.ts, graph.ts); what they share
 * is in chart-spec.ts. Builders only lay out data that load.ts has already aggregated; subtitles
 * say where each number comes from and what is derived or missing.
 */
import type { ChartDef, Run, TimeAxis } from './chart-spec.ts';
import { graphCharts } from './graph.ts';
import { latencyCdfChart } from './latency-charts.ts';
import { cpuHeatmapChart, localAccessChart } from './node-charts.ts';
import { poolChart } from './pool-chart.ts';
import { psiChart } from './pressure-chart.ts';
import { timelineChart } from './timeline-chart.ts';

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
