/**
 * `fgo train`: one model for all bundled traces, trained on the first half of every series and
 * judged on the second (held out), beside the three baselines and the Poisson ceiling.
 *
 * Pooling: examples of all traces train together on the scale-free ratio (features.ts). Each
 * example weighs its level × horizon over the mean of its trace's, so within a trace the absolute
 * loss on ratios is the trace's WAPE numerator, and a trace counts by its number of intervals.
 *
 * Model choice (`kind: 'auto'`): both the trees and the MLP are trained, and the one with the
 * lower mean held-out WAPE relative to each trace's best baseline is kept; the card lists both.
 * Everything is a function of the traces' bytes, the options and the seed: the ONNX bytes and the
 * card (but for its wall-clock `inference` block, added by the command) are the same every run.
 */
import { InputError } from '../cli/jsonfile.ts';
import { FEATURE_SETS, featureIndex, HISTORY_LEN, type FeatureName } from './features.ts';
import { buildExamples, trainTargets } from './examples.ts';
import { GBT_DEFAULTS, trainGbt, type GbtParams } from './gbt.ts';
import { evaluate, heldOutTargets, round6, type Evaluation } from './metrics.ts';
import { MLP_DEFAULTS, trainMlp, type MlpParams } from './mlp.ts';
import { MODEL_FORMAT, predictArrivals, type DemandModel, type Regressor } from './model.ts';
import { modelToOnnx } from './onnx.ts';
import type { LoadedTrace } from './input.ts';

export type ModelKind = 'gbt' | 'mlp';

export interface TrainOptions {
  /** Duration in seconds, or undefined for one interval of each trace. */
  horizon_s?: number;
  /** How the horizon was given ("5m"), for the card; default "1 interval". */
  horizon_label?: string;
  seed: string;
  kind: ModelKind | 'auto';
  feature_set: keyof typeof FEATURE_SETS;
  gbt?: Partial<Omit<GbtParams, 'seed'>>;
  mlp?: Partial<Omit<MlpParams, 'seed'>>;
}

export interface TraceReport extends Evaluation {
  trace: string;
  /** Model WAPE ÷ the best baseline's WAPE (1 when both are 0). */
  wape_vs_best_baseline: number;
}

export interface Candidate {
  kind: ModelKind;
  params: GbtParams | MlpParams;
  mean_wape_vs_best_baseline: number;
  held_out: Record<string, { accuracy: number; wape: number }>;
}

export interface TrainResult {
  model: DemandModel;
  onnx: Uint8Array;
  card: Record<string, unknown>;
}

/** Model WAPE relative to the best baseline's; 1 when both are 0 (a tie on a constant series). */
export function vsBest(e: Evaluation): number {
  const best = Math.min(...Object.values(e.baselines).map((b) => b.wape));
  return round6(best > 0 ? e.wape / best : e.wape > 5e-7 ? Infinity : 1);
}

/** Scores `model` on the held-out half of each trace. */
export function evaluateModel(model: DemandModel, traces: readonly LoadedTrace[], horizon_s: number | undefined): TraceReport[] {
  const cols = featureIndex(model.meta.features);
  return traces.map((t) => {
    const targets = heldOutTargets(t.series, horizon_s);
    const ex = buildExamples(targets, cols);
    const forecasts = predictArrivals(model, ex.X, Float32Array.from(ex.scale));
    const e = evaluate(targets, forecasts);
    return { trace: t.name, ...e, wape_vs_best_baseline: vsBest(e) };
  });
}

const mean = (xs: readonly number[]) => round6(xs.reduce((a, x) => a + x, 0) / Math.max(1, xs.length));

/** Train (both kinds with 'auto'), keep the better, and describe it in a model card. */
export function trainDemandModel(traces: readonly LoadedTrace[], opts: TrainOptions, unseen: readonly LoadedTrace[] = []): TrainResult {
  if (traces.length === 0) throw new InputError(['no traces to train on']);
  const features = FEATURE_SETS[opts.feature_set] as readonly FeatureName[];
  const cols = featureIndex(features);
  const perTrace = traces.map((t) => buildExamples(trainTargets(t.series, opts.horizon_s), cols));
  const n = perTrace.reduce((a, e) => a + e.n, 0);
  if (n === 0) throw new InputError([`${traces.map((t) => t.file).join(', ')}: no training examples: every series is too short for a first half with a label`]);
  const F = cols.length;
  const X = new Float32Array(n * F);
  const y = new Float64Array(n);
  const w = new Float64Array(n);
  let o = 0;
  for (const e of perTrace) {
    X.set(e.X, o * F);
    y.set(e.ratio, o);
    let m = 0;
    for (let i = 0; i < e.n; i++) m += (e.scale[i] as number) / e.n;
    for (let i = 0; i < e.n; i++) w[o + i] = (e.scale[i] as number) / (m || 1);
    o += e.n;
  }
  const meta = { format: MODEL_FORMAT, features: [...features], horizon: opts.horizon_label ?? '1 interval', history_len: HISTORY_LEN } as const;
  const kinds: ModelKind[] = opts.kind === 'auto' ? ['gbt', 'mlp'] : [opts.kind];
  const fitted = kinds.map((kind) => {
    const params = kind === 'gbt' ? { ...GBT_DEFAULTS, ...opts.gbt, seed: opts.seed } : { ...MLP_DEFAULTS, ...opts.mlp, seed: opts.seed };
    const regressor: Regressor = kind === 'gbt' ? trainGbt(X, y, w, params as GbtParams) : trainMlp(X, y, w, params as MlpParams);
    const model: DemandModel = { meta: { ...meta, features: [...features] }, regressor };
    const reports = evaluateModel(model, traces, opts.horizon_s);
    return { kind, params, model, reports, score: mean(reports.map((r) => r.wape_vs_best_baseline)) };
  });
  // Lower mean relative WAPE wins; a tie keeps the earlier kind (trees).
  const best = fitted.reduce((a, b) => (b.score < a.score ? b : a));
  const candidates: Candidate[] = fitted.map((f) => ({
    kind: f.kind,
    params: f.params,
    mean_wape_vs_best_baseline: f.score,
    held_out: Object.fromEntries(f.reports.map((r) => [r.trace, { accuracy: r.accuracy, wape: r.wape }])),
  }));
  const onnx = modelToOnnx(best.model);
  const card = {
    model: 'fgo demand predictor',
    format: MODEL_FORMAT,
    kind: best.kind,
    params: best.params,
    onnx: {
      inputs: { features: `[N, ${F}] float32 (the features below, in order)`, level: '[N, 1] float32: recent level (mean of the last 12 intervals + 1) × horizon ÷ interval' },
      outputs: { arrivals: '[N, 1] float32: forecast arrivals over the horizon — a conditional median (what minimises WAPE), not a mean' },
      opsets: { 'ai.onnx': 15, 'ai.onnx.ml': 3 },
      bytes: onnx.length,
    },
    features,
    feature_set: opts.feature_set,
    history_len: HISTORY_LEN,
    horizon: meta.horizon,
    target: 'arrivals over the horizon ÷ (level × horizon intervals); absolute (L1) loss, weight level ÷ the trace\'s mean level',
    data: traces.map((t, i) => ({
      trace: t.name, file: t.file, format: t.format, sha256_16: t.sha256, rows: t.rows,
      profiles: t.series.length, interval_s: t.series[0]?.interval_s, regular: t.series[0]?.regular, train_examples: perTrace[i]?.n,
    })),
    split: 'time-ordered: train on targets wholly in the first half of every series, evaluate on every target starting in the second half (held out)',
    seed: opts.seed,
    held_out: Object.fromEntries(best.reports.map((r) => [r.trace, r])),
    summary: summarize(best.reports),
    ...(unseen.length ? { unseen: unseenCard(best.model, unseen, opts.horizon_s) } : {}),
    selection: { rule: 'lowest mean over traces of (model WAPE ÷ best baseline WAPE) on the held-out halves', candidates },
  };
  return { model: best.model, onnx, card };
}

/** The targets' figures over a set of trace reports. */
export function summarize(reports: readonly TraceReport[]) {
  return {
    mean_wape_vs_best_baseline: mean(reports.map((r) => r.wape_vs_best_baseline)),
    worst_wape_vs_best_baseline: round6(Math.max(...reports.map((r) => r.wape_vs_best_baseline))),
    traces_no_worse_than_best_baseline: reports.filter((r) => r.wape_vs_best_baseline <= 1).length,
    traces: reports.length,
  };
}

/** Traces the model never saw, judged like `fgo predict-eval` (their second halves). */
function unseenCard(model: DemandModel, unseen: readonly LoadedTrace[], horizon_s: number | undefined) {
  const reports = evaluateModel(model, unseen, horizon_s);
  return {
    note: 'never trained on; evaluated on each series\' second half, as fgo predict-eval does',
    data: unseen.map((t) => ({ trace: t.name, file: t.file, sha256_16: t.sha256, rows: t.rows })),
    results: Object.fromEntries(reports.map((r) => [r.trace, r])),
    summary: summarize(reports),
  };
}
