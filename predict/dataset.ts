/**
 * `fgo dataset`: the predictor's examples as a CSV a person (or another tool) can read — one row
 * per profile and interval of each trace, its features (features.ts), the optional recent PSI,
 * and two labels:
 *
 * - `label_arrivals`: arrivals over the horizon from the interval (series.ts, labelAt);
 * - `label_warm_pool`: the smallest warm pool that would have kept cold starts at or under
 *   `cold_target` for those arrivals. Only counts per interval are known, not arrival times, so
 *   arrivals are taken as Poisson at the horizon's rate λ = arrivals ÷ horizon_s, each holding a
 *   fragment for the profile's service time S. A request finding all c warm fragments busy
 *   cold-starts, and a cold-started fragment is not kept: an M/G/c/c loss system, whose share of
 *   cold starts is Erlang's B(c, λS) whatever the service-time distribution. The label is the
 *   smallest c with B(c, λS) ≤ cold_target (0 when nothing arrives). Replaying the interval
 *   through a seeded simulation of the same queue would estimate this same B with noise; the
 *   formula is its exact expectation.
 *
 * Header: trace,profile,t_s,interval_s,split,level,<features…>[,psi_…_ratio],horizon_s,label_arrivals,label_warm_pool
 * where t_s is the end of the history (the start of the labelled horizon) and split is `train`
 * (label wholly in the first half of the series), `test` (starts in the second) or `gap` (between).
 */
import { csvField } from '../formats/csv.ts';
import { readPsiTrace, type PsiRow } from '../formats/psi-trace.ts';
import type { PsiColumn } from '../formats/psi-columns.ts';
import { ALL_FEATURES, computeFeatures } from './features.ts';
import { seasonalInterval } from './examples.ts';
import type { LoadedTrace } from './input.ts';
import { labelAt, labelSpan, splitIndex } from './series.ts';

/** The PSI columns a dataset carries (as fractions 0–1, hence `psi_…_ratio`), from the latest system-wide sample at or before t_s. */
export const PSI_FEATURES: readonly PsiColumn[] = [
  'cpu_some_avg10',
  'cpu_full_avg10',
  'mem_some_avg10',
  'mem_full_avg10',
  'io_some_avg10',
  'io_full_avg10',
];

export interface DatasetOptions {
  horizon_s?: number;
  /** Service time per profile, ms; `default` for the others (100 ms, as toPredictions assumes). */
  service_ms: ReadonlyMap<string, number>;
  default_service_ms: number;
  /** Largest share of cold starts the warm-pool label allows. */
  cold_target: number;
  psi?: string;
}

export function datasetHeader(psi: boolean): string[] {
  return [
    'trace',
    'profile',
    't_s',
    'interval_s',
    'split',
    'level',
    ...ALL_FEATURES,
    ...(psi ? PSI_FEATURES.map((c) => `psi_${c}_ratio`) : []),
    'horizon_s',
    'label_arrivals',
    'label_warm_pool',
  ];
}

/** Erlang's B(c, a): the share of arrivals an M/G/c/c system with offered load a turns away. */
export function erlangB(c: number, a: number): number {
  let b = 1;
  for (let k = 1; k <= c; k++) b = (a * b) / (k + a * b);
  return b;
}

/** Smallest c with B(c, λS) ≤ target; 0 for no arrivals. */
export function warmPoolLabel(arrivals: number, horizon_s: number, service_s: number, target: number): number {
  const a = (arrivals / horizon_s) * service_s;
  if (!(a > 0)) return 0;
  let b = 1;
  for (let c = 1; ; c++) {
    b = (a * b) / (c + a * b);
    if (b <= target) return c;
  }
}

/** Latest system-wide PSI sample at or before t (ms), by binary search over rows sorted by time. */
function psiAt(rows: readonly PsiRow[], t_ms: number): PsiRow | undefined {
  let lo = 0,
    hi = rows.length;
  while (lo < hi) {
    const mid = (lo + hi) >> 1;
    if ((rows[mid] as PsiRow).t_ms <= t_ms) lo = mid + 1;
    else hi = mid;
  }
  return lo > 0 ? rows[lo - 1] : undefined;
}

const num = (v: number) => (Number.isInteger(v) ? String(v) : String(Number(Math.fround(v).toPrecision(7))));

/** The dataset's CSV text (header and rows). */
export function datasetCsv(traces: readonly LoadedTrace[], opts: DatasetOptions): { text: string; rows: number } {
  const psiRows = opts.psi ? readPsiTrace(opts.psi).rows.filter((r) => r.node === undefined) : undefined;
  const lines = [datasetHeader(psiRows !== undefined).join(',')];
  const row = new Float64Array(ALL_FEATURES.length);
  for (const t of traces) {
    for (const s of t.series) {
      const h = opts.horizon_s === undefined ? 1 : opts.horizon_s / s.interval_s;
      const horizon_s = h * s.interval_s;
      const half = splitIndex(s);
      const service_s = (opts.service_ms.get(s.profile) ?? opts.default_service_ms) / 1000;
      for (let k = 1; k + labelSpan(h) <= s.counts.length; k++) {
        const y = labelAt(s.counts, k, h) as number;
        const t_s = s.t_s[k] as number;
        const level = computeFeatures(s.counts, k, seasonalInterval(s), t_s, row);
        const split = k + labelSpan(h) <= half ? 'train' : k >= half ? 'test' : 'gap';
        const fields = [
          csvField(t.name),
          csvField(s.profile),
          num(t_s),
          num(s.interval_s),
          split,
          num(level),
          ...Array.from(row, num),
        ];
        if (psiRows) {
          const p = psiAt(psiRows, t_s * 1000);
          for (const c of PSI_FEATURES)
            fields.push(p?.values[c] === undefined ? '' : num((p.values[c] as number) / 100));
        }
        fields.push(num(horizon_s), num(y), String(warmPoolLabel(y, horizon_s, service_s, opts.cold_target)));
        lines.push(fields.join(','));
      }
    }
  }
  return { text: `${lines.join('\n')}\n`, rows: lines.length - 1 };
}
