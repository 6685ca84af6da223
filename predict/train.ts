/**
 * `fgo train`: one global model over every bundled series, trained on the first half of each, and
 * judged as `fgo predict-eval` judges (judge.ts: the second half, through the online guard).
 *
 * Pooling: examples of all series train together on the scale-free residual (examples.ts). Each
 * example weighs its scale over the mean of its trace's, so within a trace the absolute loss on
 * residuals is the trace's WAPE numerator, and a trace counts by its number of intervals.
 * Two GBTs are fitted on the same rows: the median (τ = 0.5, what minimises WAPE) and the 90th
 * percentile (τ = 0.9, the pool sizer's bound).
 *
 * Everything is a function of the traces' bytes, the options and the seed: the ONNX bytes and the
 * card (but for its wall-clock `inference` block, added by the command) are the same every run.
 */
import { InputError } from '../formats/errors.ts';
import { BASELINES, SINGLE_BASELINES, type Baseline } from './baselines.ts';
import { buildExamples, trainTargets, type Examples } from './examples.ts';
import { FEATURE_SETS, featureIndex, HISTORY_LEN, type FeatureName } from './features.ts';
import { GBT_DEFAULTS, trainGbt, type GbtParams } from './gbt.ts';
import { judge, judgedTargets, type Judged } from './judge.ts';
import { P90 } from './metrics.ts';
import { MODEL_FORMAT, predictArrivals, type DemandModel, type ModelMeta } from './model.ts';
import type { LoadedTrace } from './input.ts';
import { coarsened, type Series } from './series.ts';
import { roundTo } from '../engine/round.ts';

export type GbtChoice = Omit<GbtParams, 'seed' | 'quantile'>;

export interface TrainOptions {
  /** Duration in seconds, or undefined for one interval of each trace. */
  horizon_s?: number;
  /** How the horizon was given ("5m"), for the card; default "1 interval". */
  horizon_label?: string;
  seed: string;
  feature_set: keyof typeof FEATURE_SETS;
  gbt?: Partial<GbtChoice>;
}

export interface SeriesReport extends Judged {
  trace: string;
  /** The single baseline with the lowest WAPE on this series, and the model's WAPE ÷ its (1 when both are 0). */
  best_single: Baseline;
  vs_best_single: number;
  vs_ensemble: number;
}

const ratioOf = (a: number, b: number) => roundTo(b > 0 ? a / b : a > 5e-7 ? Infinity : 1, 6);

export function reportOf(trace: string, j: Judged): SeriesReport {
  const best = SINGLE_BASELINES.reduce((a, b) => (j.baselines[b].wape < j.baselines[a].wape ? b : a));
  return {
    trace,
    ...j,
    best_single: best,
    vs_best_single: ratioOf(j.wape, j.baselines[best].wape),
    vs_ensemble: ratioOf(j.wape, j.baselines.ensemble.wape),
  };
}

/** Coarser views added to training: every regular series of intervals ≤ 10 minutes, 6 × coarser. */
export const COARSE_FACTOR = 6;
const COARSE_MAX_INTERVAL_S = 600;

/** A trace's series and, for training, their coarser views (series.ts, coarsened). */
export function trainingViews(series: readonly Series[]): Series[] {
  return [
    ...series,
    ...series.filter((s) => s.regular && s.interval_s <= COARSE_MAX_INTERVAL_S).map((s) => coarsened(s, COARSE_FACTOR)),
  ];
}

/** The examples of each trace's first half (with its coarser views), for the model's feature columns. */
export function trainExamples(
  traces: readonly LoadedTrace[],
  opts: Pick<TrainOptions, 'horizon_s' | 'feature_set'>,
): Examples[] {
  const cols = featureIndex(FEATURE_SETS[opts.feature_set] as readonly FeatureName[]);
  return traces.map((t) => buildExamples(trainTargets(trainingViews(t.series), opts.horizon_s), cols));
}

/** The model's metadata for options. */
export function metaOf(opts: Pick<TrainOptions, 'horizon_label' | 'feature_set'>): ModelMeta {
  return {
    format: MODEL_FORMAT,
    features: [...(FEATURE_SETS[opts.feature_set] as readonly FeatureName[])],
    horizon: opts.horizon_label ?? '1 interval',
    history_len: HISTORY_LEN,
  };
}

/** Fit the P50 and P90 trees on the pooled examples. */
export function fitModel(parts: readonly Examples[], meta: ModelMeta, params: GbtChoice, seed: string): DemandModel {
  const n = parts.reduce((a, e) => a + e.n, 0);
  if (n === 0) throw new InputError(['no training examples: every series is too short for a first half with a label']);
  const F = meta.features.length;
  const X = new Float32Array(n * F);
  const y = new Float64Array(n);
  const w = new Float64Array(n);
  let o = 0;
  for (const e of parts) {
    X.set(e.X, o * F);
    y.set(e.residual, o);
    let m = 0;
    for (let i = 0; i < e.n; i++) m += (e.scale[i] as number) / e.n;
    for (let i = 0; i < e.n; i++) w[o + i] = (e.scale[i] as number) / (m || 1);
    o += e.n;
  }
  return {
    meta,
    p50: trainGbt(X, y, w, { ...params, quantile: 0.5, seed }),
    p90: trainGbt(X, y, w, { ...params, quantile: P90, seed: `${seed}/p90` }),
  };
}

/** The model judged on one trace's second half, through the guard (as predict-eval does, in TypeScript). */
export function judgeModel(model: DemandModel, trace: LoadedTrace, horizon_s: number | undefined): SeriesReport {
  const t = judgedTargets(trace.series, horizon_s);
  const ex = buildExamples(t.all, featureIndex(model.meta.features));
  const out = predictArrivals(model, ex.X, Float32Array.from(ex.scale), Float32Array.from(ex.anchor));
  return reportOf(trace.name, judge(t, out.p50, out.p90, ex.scale));
}

const mean = (xs: readonly number[]) => roundTo(xs.reduce((a, x) => a + x, 0) / Math.max(1, xs.length), 6);

/** The targets' figures over a set of series reports. */
export function summarize(reports: readonly SeriesReport[]) {
  const finite = (x: number) => (Number.isFinite(x) ? x : 1);
  const meanWape = (f: (r: SeriesReport) => number) => mean(reports.map(f));
  const baselineMeans = Object.fromEntries(BASELINES.map((b) => [b, meanWape((r) => r.baselines[b].wape)])) as Record<
    Baseline,
    number
  >;
  const bestSingle = Math.min(...SINGLE_BASELINES.map((b) => baselineMeans[b]));
  const coverage = reports.map((r) => r.coverage_p90 ?? 0);
  return {
    series: reports.length,
    mean_wape: meanWape((r) => r.wape),
    mean_wape_of_baselines: baselineMeans,
    mean_wape_vs_best_single_baseline: ratioOf(
      meanWape((r) => r.wape),
      bestSingle,
    ),
    mean_of_ratios_vs_best_single: mean(reports.map((r) => finite(r.vs_best_single))),
    worst_vs_best_single: roundTo(Math.max(...reports.map((r) => r.vs_best_single)), 6),
    series_within_2pct_of_best_single: reports.filter((r) => r.vs_best_single <= 1.02).length,
    mean_coverage_p90: mean(coverage),
    min_coverage_p90: roundTo(Math.min(...coverage), 6),
    mean_pinball_p90: mean(reports.map((r) => r.pinball_p90 ?? 0)),
  };
}

export interface TrainResult {
  model: DemandModel;
  card: Record<string, unknown>;
}

/** Train on every trace's first half with `params` and describe the model in a card. */
export function trainDemandModel(traces: readonly LoadedTrace[], opts: TrainOptions): TrainResult {
  if (traces.length === 0) throw new InputError(['no traces to train on']);
  const params: GbtChoice = { ...GBT_DEFAULTS, ...opts.gbt };
  const meta = metaOf(opts);
  const parts = trainExamples(traces, opts);
  const model = fitModel(parts, meta, params, opts.seed);
  const reports = traces.map((t) => judgeModel(model, t, opts.horizon_s));
  const card = {
    model: 'fgo demand predictor',
    format: MODEL_FORMAT,
    kind: 'gbt (P50 and P90)',
    params,
    features: meta.features,
    feature_set: opts.feature_set,
    history_len: HISTORY_LEN,
    horizon: meta.horizon,
    target:
      "arrivals over the horizon = anchor + r × level × horizon intervals; r learnt with the pinball loss at τ = 0.5 and τ = 0.9, weight level ÷ the trace's mean level; anchor = the baselines' ensemble",
    data: traces.map((t, i) => ({
      trace: t.name,
      file: t.file,
      format: t.format,
      sha256_16: t.sha256,
      rows: t.rows,
      profiles: t.series.length,
      interval_s: t.series[0]?.interval_s,
      regular: t.series[0]?.regular,
      train_examples: parts[i]?.n,
    })),
    split:
      'time-ordered: train on targets wholly in the first half of every series; the figures below are on every target starting in the second half, through the online guard',
    seed: opts.seed,
    time_split: {
      note: 'second halves of series whose first halves trained the model: not a generalisation figure (see cross_validation)',
      results: Object.fromEntries(reports.map((r) => [r.trace, r])),
      summary: summarize(reports),
    },
  };
  return { model, card };
}
