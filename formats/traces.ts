/**
 * Any of the three trace formats of docs/formats.md ("Traces"), its kind told by its header:
 * demand and request traces (workload-traces.ts), PSI traces (psi-trace.ts), the header checks
 * they share (trace-header.ts) and their row validation (trace-rows.ts). Here: reading a file of
 * whichever kind it is, and a summary of a trace, for `fgo trace check` and the importers.
 */
import { readPsiTrace, type PsiTrace } from './psi-trace.ts';
import { traceKind, type TraceKind } from './trace-header.ts';
import type { ReadOptions } from './trace-rows.ts';
import { readDemandTrace, readRequestTrace, type DemandTrace, type RequestTrace } from './workload-traces.ts';

export type Trace = DemandTrace | RequestTrace | PsiTrace;

/** Any trace, its kind decided by the header. */
export function readTrace(file: string, opts: ReadOptions = {}): Trace {
  const kind = traceKind(file);
  return kind === 'demand'
    ? readDemandTrace(file, opts)
    : kind === 'request'
      ? readRequestTrace(file, opts)
      : readPsiTrace(file, opts);
}

export interface TraceSummary {
  kind: TraceKind;
  rows: number;
  skipped: number;
  /** Distinct profiles (demand, request). */
  profiles?: number;
  /** First and last time, in the trace's own unit (`t_s` or `t_ms`); absent for an empty trace. */
  t_first?: number;
  t_last?: number;
  unit: 's' | 'ms';
  span_s: number;
  /** Sum of `count` (demand). */
  total_count?: number;
  /** Sum of `cpu_ms` (request). */
  total_cpu_ms?: number;
  /** Nodes of a PSI trace; 'all' for system-wide rows. */
  nodes?: (number | 'all')[];
  psi_columns?: number;
  extra_columns?: string[];
}

export function summarizeTrace(t: Trace): TraceSummary {
  const times = t.kind === 'demand' ? t.rows.map((r) => r.t_s) : t.rows.map((r) => r.t_ms);
  const unit = t.kind === 'demand' ? 's' : 'ms';
  const first = times[0];
  const last = times.at(-1);
  const s: TraceSummary = { kind: t.kind, rows: t.rows.length, skipped: t.skipped.length, unit, span_s: 0 };
  if (first !== undefined && last !== undefined) {
    s.t_first = first;
    s.t_last = last;
    s.span_s = unit === 's' ? last - first : (last - first) / 1000;
  }
  if (t.kind === 'demand') {
    s.profiles = new Set(t.rows.map((r) => r.profile)).size;
    s.total_count = t.rows.reduce((a, r) => a + r.count, 0);
  } else if (t.kind === 'request') {
    s.profiles = new Set(t.rows.map((r) => r.profile)).size;
    s.total_cpu_ms = Math.round(t.rows.reduce((a, r) => a + r.cpu_ms, 0) * 1000) / 1000;
  } else {
    s.nodes = [...new Set(t.rows.map((r) => r.node ?? ('all' as const)))];
    s.psi_columns = t.columns.length;
    s.extra_columns = t.extraColumns;
  }
  return s;
}
