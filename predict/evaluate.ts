/**
 * `fgo predict-eval`: a trained ONNX model judged, through onnxruntime exactly as a shell runs it,
 * on the second half of any demand trace (or NAB file) — traces it never saw included — beside
 * the three baselines. Histories may reach into the first half; only targets are held out.
 */
import { readFile } from 'node:fs/promises';
import { InputError } from '../cli/jsonfile.ts';
import { buildExamples } from './examples.ts';
import { featureIndex } from './features.ts';
import type { LoadedTrace } from './input.ts';
import { BASELINES, evaluate, heldOutTargets, type Baseline, type Evaluation, type Score } from './metrics.ts';
import { openModel, OnnxDemandPredictor } from './onnx-predictor.ts';

/** Rows per onnxruntime run while evaluating (memory bound, not a semantic choice). */
const CHUNK = 8192;

/** What `fgo predict-eval` prints: the evaluation, and what it was of. */
export interface EvalOutput extends Evaluation {
  trace: string;
  horizon: string;
  model_horizon: string;
}

/** Evaluate the model file on a loaded trace: InputError for a trace with nothing to evaluate, Error (with the reason) for an unusable model. */
export async function evaluateModelFile(modelFile: string, trace: LoadedTrace, horizon_s: number | undefined, horizonLabel = '1 interval'): Promise<EvalOutput> {
  const targets = heldOutTargets(trace.series, horizon_s);
  if (targets.length === 0) throw new InputError([`${trace.file}: no interval to evaluate: the second half of every series is shorter than the horizon`]);
  const { session, meta } = await openModel(await readFile(modelFile));
  const p = new OnnxDemandPredictor(session, meta, 1, () => undefined);
  const cols = featureIndex(meta.features);
  const ex = buildExamples(targets, cols);
  const forecasts = new Float32Array(ex.n);
  for (let a = 0; a < ex.n; a += CHUNK) {
    const b = Math.min(ex.n, a + CHUNK);
    // slice, not subarray: a copy the native side may read from offset 0.
    forecasts.set(await p.run(ex.X.slice(a * ex.F, b * ex.F), Float32Array.from(ex.scale.subarray(a, b))), a);
  }
  await session.release();
  const e = evaluate(targets, forecasts);
  return {
    accuracy: e.accuracy,
    wape: e.wape,
    mape: e.mape,
    baselines: Object.fromEntries(BASELINES.map((b) => [b, e.baselines[b]])) as Record<Baseline, Score>,
    poisson_ceiling: e.poisson_ceiling,
    intervals: e.intervals,
    trace: trace.file,
    horizon: horizonLabel,
    model_horizon: meta.horizon,
  };
}
