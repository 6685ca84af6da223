/**
 * `fgo predict-eval`: a trained ONNX model judged, through onnxruntime exactly as a shell runs it
 * and through the same online guard, on the second half of any demand trace (or NAB file) —
 * traces it never saw included — beside the baselines (judge.ts). Histories may reach into the
 * first half; only targets are held out.
 */
import { readFile } from 'node:fs/promises';
import { InputError } from '../formats/errors.ts';
import { buildExamples } from './examples.ts';
import { featureIndex } from './features.ts';
import type { LoadedTrace } from './input.ts';
import { judge, judgedTargets, type Judged } from './judge.ts';
import { openModel, OnnxDemandPredictor } from './onnx-predictor.ts';

/** Rows per onnxruntime run while evaluating (memory bound, not a semantic choice). */
const CHUNK = 8192;

/** What `fgo predict-eval` prints: the evaluation, and what it was of. */
export interface EvalOutput extends Judged {
  trace: string;
  horizon: string;
  model_horizon: string;
}

/** Evaluate the model file on a loaded trace: InputError for a trace with nothing to evaluate, Error (with the reason) for an unusable model. */
export async function evaluateModelFile(
  modelFile: string,
  trace: LoadedTrace,
  horizon_s: number | undefined,
  horizonLabel = '1 interval',
): Promise<EvalOutput> {
  const t = judgedTargets(trace.series, horizon_s);
  if (!t.scored.includes(true))
    throw new InputError([
      `${trace.file}: no interval to evaluate: the second half of every series is shorter than the horizon`,
    ]);
  const { session, meta } = await openModel(await readFile(modelFile));
  const p = new OnnxDemandPredictor(session, meta, 1, () => undefined);
  const ex = buildExamples(t.all, featureIndex(meta.features));
  const p50 = new Float32Array(ex.n);
  const p90 = new Float32Array(ex.n);
  for (let a = 0; a < ex.n; a += CHUNK) {
    const b = Math.min(ex.n, a + CHUNK);
    // slice, not subarray: a copy the native side may read from offset 0.
    const y = await p.run(
      ex.X.slice(a * ex.F, b * ex.F),
      Float32Array.from(ex.scale.subarray(a, b)),
      Float32Array.from(ex.anchor.subarray(a, b)),
    );
    p50.set(y.p50, a);
    p90.set(y.p90, a);
  }
  await session.release();
  return { ...judge(t, p50, p90, ex.scale), trace: trace.file, horizon: horizonLabel, model_horizon: meta.horizon };
}
