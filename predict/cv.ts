/**
 * Cross-validation grouped by series: the only figures that say how the model does on traffic it
 * never saw. Every trace (file) is one group; groups are dealt to `k` folds in name order
 * (round-robin), and each fold's model is trained on the first halves of the other folds' traces
 * only, then judged on the second halves of its own (judge.ts) — so no scored series ever shaped
 * the model that scores it, and no training label is later than any scored one of the same
 * series. With k = the number of traces this is leave-one-series-out.
 *
 * Regularisation is chosen here, not on training scores: each candidate of `CANDIDATES` is
 * cross-validated, and the one with the lowest mean WAPE relative to each series' best single
 * baseline wins (ties keep the earlier, smaller one).
 */
import { GBT_DEFAULTS } from './gbt.ts';
import type { LoadedTrace } from './input.ts';
import {
  fitModel,
  judgeModel,
  metaOf,
  summarize,
  trainExamples,
  type GbtChoice,
  type SeriesReport,
  type TrainOptions,
} from './train.ts';

/**
 * The regularisation candidates, most regularised first (a tie keeps the earlier). The last is
 * GBT_DEFAULTS, because cross-validation chose it (models/README.md), so `fgo train` without
 * `--cv` trains the committed model.
 */
export const CANDIDATES: readonly GbtChoice[] = [
  { ...GBT_DEFAULTS, trees: 120, depth: 3, learning_rate: 0.1, min_leaf: 200 },
  { ...GBT_DEFAULTS, trees: 120, depth: 4, learning_rate: 0.1, min_leaf: 100 },
  GBT_DEFAULTS,
];

export const DEFAULT_FOLDS = 7;

export interface CvCandidate {
  params: GbtChoice;
  summary: ReturnType<typeof summarize>;
  results: SeriesReport[];
}

export interface CvResult {
  folds: number;
  /** trace name → fold. */
  assignment: Record<string, number>;
  candidates: CvCandidate[];
  chosen: number;
}

/** Fold of each trace: sorted by name, dealt round-robin. */
export function foldsOf(names: readonly string[], k: number): number[] {
  const order = names.map((n, i) => [n, i] as const).sort((a, b) => (a[0] < b[0] ? -1 : a[0] > b[0] ? 1 : a[1] - b[1]));
  const fold = new Array<number>(names.length).fill(0);
  order.forEach(([, i], j) => {
    fold[i] = j % k;
  });
  return fold;
}

/** Cross-validate every candidate; `progress` hears each fold as it ends. */
export function crossValidate(
  traces: readonly LoadedTrace[],
  opts: TrainOptions,
  k: number,
  candidates: readonly GbtChoice[] = CANDIDATES,
  progress: (done: number, total: number) => void = () => undefined,
): CvResult {
  const folds = Math.max(2, Math.min(k, traces.length));
  const fold = foldsOf(
    traces.map((t) => t.name),
    folds,
  );
  const parts = trainExamples(traces, opts);
  const meta = metaOf(opts);
  let done = 0;
  const out: CvCandidate[] = candidates.map((params) => {
    const results = new Array<SeriesReport>(traces.length);
    for (let f = 0; f < folds; f++) {
      const model = fitModel(
        parts.filter((_, i) => fold[i] !== f),
        meta,
        params,
        opts.seed,
      );
      traces.forEach((t, i) => {
        if (fold[i] === f) results[i] = judgeModel(model, t, opts.horizon_s);
      });
      progress(++done, candidates.length * folds);
    }
    return { params, summary: summarize(results), results };
  });
  const chosen = out.reduce(
    (best, c, i) =>
      c.summary.mean_of_ratios_vs_best_single < (out[best] as CvCandidate).summary.mean_of_ratios_vs_best_single
        ? i
        : best,
    0,
  );
  return {
    folds,
    assignment: Object.fromEntries(traces.map((t, i) => [t.name, fold[i] as number])),
    candidates: out,
    chosen,
  };
}

const f3 = (x: number) => (Number.isFinite(x) ? x.toFixed(3) : '∞');

/** The chosen candidate's results as a Markdown table (the model card's and README's). */
export function cvTable(cv: CvResult): string {
  const c = cv.candidates[cv.chosen] as CvCandidate;
  const lines = [
    '| series | fgo WAPE | last value | day | week | EWMA | ensemble | ÷ best single | coverage P90 | pinball P90 | heaviest forecaster (share of intervals) |',
    '|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|---|',
  ];
  for (const r of c.results) {
    const b = r.baselines;
    const used = Object.entries(r.sources)
      .filter(([, v]) => (v as number) >= 0.01)
      .map(([k, v]) => `${k} ${Math.round((v as number) * 100)} %`)
      .join(', ');
    lines.push(
      `| ${r.trace} | **${f3(r.wape)}** | ${f3(b.last_value.wape)} | ${f3(b.seasonal_day.wape)} | ${f3(b.seasonal_week.wape)} | ${f3(b.ewma.wape)} | ${f3(b.ensemble.wape)} | ${f3(r.vs_best_single)} | ${f3(r.coverage_p90 ?? NaN)} | ${f3(r.pinball_p90 ?? NaN)} | ${used} |`,
    );
  }
  const s = c.summary;
  const m = s.mean_wape_of_baselines;
  lines.push(
    `| **mean** | **${f3(s.mean_wape)}** | ${f3(m.last_value)} | ${f3(m.seasonal_day)} | ${f3(m.seasonal_week)} | ${f3(m.ewma)} | ${f3(m.ensemble)} | ${f3(s.mean_of_ratios_vs_best_single)} | ${f3(s.mean_coverage_p90)} | ${f3(s.mean_pinball_p90)} | |`,
  );
  return lines.join('\n');
}
