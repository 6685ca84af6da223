/**
 * The alternative model: a small multilayer perceptron (inputs standardised, ReLU hidden layers,
 * one linear output), trained on the same weighted absolute loss as the trees with Adam on
 * seeded mini-batches. Kept so the choice between the two is measured, not assumed (`fgo train
 * --model mlp`; models/README.md has the figures).
 *
 * The standardisation stays a separate step, (x − mean) × (1 / sd) in float32, clipped to ±CLIP
 * (ONNX Sub, Mul, Clip),
 * rather than being folded into the first layer: folded weights for a feature with a large mean
 * and small spread (log_level on nyc_taxi) cancel in float32 and lose ~1e-4 of relative
 * precision. Standardised, the TypeScript network (summing in input order) and onnxruntime's
 * MatMul (its own blocked order) agree to a few ulps.
 */
import seedrandom from 'seedrandom';

export interface Layer {
  /** in × out, row-major (input i, output j at i·out + j), float32 values. */
  w: Float32Array;
  b: Float32Array;
  in: number;
  out: number;
}

export interface MlpModel {
  kind: 'mlp';
  n_features: number;
  /** Standardisation: x' = (x − mean) × inv_sd, float32. */
  mean: Float32Array;
  inv_sd: Float32Array;
  layers: Layer[];
}

export interface MlpParams {
  hidden: number[];
  epochs: number;
  batch: number;
  learning_rate: number;
  seed: string;
}

/**
 * Standardised inputs are clipped to ±CLIP: a feature nearly constant in training (its sd tiny)
 * would otherwise standardise to thousands on a series that varies, making the first layer's sums
 * cancel in float32 — and an MLP extrapolates such inputs badly anyway.
 */
export const CLIP = 10;

export const MLP_DEFAULTS: Omit<MlpParams, 'seed'> = { hidden: [32, 16], epochs: 30, batch: 128, learning_rate: 0.002 };

const f32 = Math.fround;

/** (x − mean) × inv_sd in float32, clipped to ±CLIP: the graph's Sub, Mul, Clip. */
const standardize = (x: number, mean: number, invSd: number) => Math.min(CLIP, Math.max(-CLIP, f32(f32(x - mean) * invSd)));

/** Train on X (n × F float32), labels y and weights w (mean-normalised inside). */
export function trainMlp(X: Float32Array, y: ArrayLike<number>, w: ArrayLike<number>, params: MlpParams): MlpModel {
  const n = y.length;
  const F = X.length / n;
  const rng = seedrandom.alea(`mlp/${params.seed}`);
  // Standardisation, as predictMlp and the ONNX graph apply it (float32 mean and 1 / sd).
  const mu = new Float64Array(F);
  const sd = new Float64Array(F);
  for (let i = 0; i < n; i++) for (let f = 0; f < F; f++) mu[f]! += (X[i * F + f] as number) / n;
  for (let i = 0; i < n; i++) for (let f = 0; f < F; f++) sd[f]! += ((X[i * F + f] as number) - (mu[f] as number)) ** 2 / n;
  for (let f = 0; f < F; f++) sd[f] = Math.sqrt(sd[f] as number) || 1;
  const meanF = Float32Array.from(mu);
  const invF = Float32Array.from(sd, (v) => 1 / v);
  let wMean = 0;
  for (let i = 0; i < n; i++) wMean += (w[i] as number) / n;

  const sizes = [F, ...params.hidden, 1];
  const W: Float64Array[] = [];
  const B: Float64Array[] = [];
  for (let l = 0; l + 1 < sizes.length; l++) {
    const a = sizes[l] as number, b = sizes[l + 1] as number;
    const scale = Math.sqrt(2 / a);
    // Box–Muller normal initialisation from the seeded stream.
    W.push(Float64Array.from({ length: a * b }, () => scale * Math.sqrt(-2 * Math.log(1 - rng())) * Math.cos(2 * Math.PI * rng())));
    B.push(new Float64Array(b));
  }
  B[B.length - 1]![0] = 1; // start at "next = level" (ratio 1)
  const params1 = [...W, ...B];
  const m1 = params1.map((p) => new Float64Array(p.length));
  const m2 = params1.map((p) => new Float64Array(p.length));
  const grads = params1.map((p) => new Float64Array(p.length));
  const acts = sizes.map((s) => new Float64Array(s));
  const deltas = sizes.map((s) => new Float64Array(s));
  const order = Array.from({ length: n }, (_, i) => i);
  let step = 0;
  const L = W.length;
  for (let epoch = 0; epoch < params.epochs; epoch++) {
    for (let i = n - 1; i > 0; i--) {
      const j = Math.floor(rng() * (i + 1));
      [order[i], order[j]] = [order[j] as number, order[i] as number];
    }
    const lr = params.learning_rate * (epoch < params.epochs * 0.7 ? 1 : 0.2);
    for (let s0 = 0; s0 < n; s0 += params.batch) {
      for (const g of grads) g.fill(0);
      const end = Math.min(n, s0 + params.batch);
      for (let bi = s0; bi < end; bi++) {
        const i = order[bi] as number;
        const x0 = acts[0] as Float64Array;
        for (let f = 0; f < F; f++) x0[f] = standardize(X[i * F + f] as number, meanF[f] as number, invF[f] as number);
        for (let l = 0; l < L; l++) {
          const a = sizes[l] as number, b = sizes[l + 1] as number, x = acts[l] as Float64Array, z = acts[l + 1] as Float64Array, wl = W[l] as Float64Array;
          for (let j = 0; j < b; j++) z[j] = (B[l] as Float64Array)[j] as number;
          for (let k = 0; k < a; k++) {
            const xk = x[k] as number;
            if (xk !== 0) for (let j = 0; j < b; j++) z[j]! += xk * (wl[k * b + j] as number);
          }
          if (l < L - 1) for (let j = 0; j < b; j++) if ((z[j] as number) < 0) z[j] = 0;
        }
        const out = (acts[L] as Float64Array)[0] as number;
        (deltas[L] as Float64Array)[0] = (Math.sign(out - (y[i] as number)) * (w[i] as number)) / wMean / (end - s0);
        for (let l = L - 1; l >= 0; l--) {
          const a = sizes[l] as number, b = sizes[l + 1] as number, x = acts[l] as Float64Array, d = deltas[l + 1] as Float64Array, wl = W[l] as Float64Array;
          const gw = grads[l] as Float64Array, gb = grads[L + l] as Float64Array, dPrev = deltas[l] as Float64Array;
          for (let j = 0; j < b; j++) gb[j]! += d[j] as number;
          for (let k = 0; k < a; k++) {
            let acc = 0;
            const xk = x[k] as number;
            for (let j = 0; j < b; j++) {
              gw[k * b + j]! += xk * (d[j] as number);
              acc += (wl[k * b + j] as number) * (d[j] as number);
            }
            dPrev[k] = l > 0 && xk <= 0 ? 0 : acc; // ReLU'(z) of the layer below
          }
        }
      }
      step++;
      const c1 = 1 - 0.9 ** step, c2 = 1 - 0.999 ** step;
      params1.forEach((p, pi) => {
        const g = grads[pi] as Float64Array, a = m1[pi] as Float64Array, v = m2[pi] as Float64Array;
        for (let k = 0; k < p.length; k++) {
          a[k] = 0.9 * (a[k] as number) + 0.1 * (g[k] as number);
          v[k] = 0.999 * (v[k] as number) + 0.001 * (g[k] as number) ** 2;
          p[k]! -= (lr * ((a[k] as number) / c1)) / (Math.sqrt((v[k] as number) / c2) + 1e-8);
        }
      });
    }
  }
  return {
    kind: 'mlp',
    n_features: F,
    mean: meanF,
    inv_sd: invF,
    layers: W.map((wl, l) => ({ w: Float32Array.from(wl), b: Float32Array.from(B[l] as Float64Array), in: sizes[l] as number, out: sizes[l + 1] as number })),
  };
}

/** Outputs for rows of X, float32 throughout. */
export function predictMlp(model: MlpModel, X: Float32Array): Float32Array {
  const F = model.n_features;
  const n = X.length / F;
  const out = new Float32Array(n);
  let x: Float32Array = new Float32Array(0);
  for (let i = 0; i < n; i++) {
    x = new Float32Array(F);
    for (let f = 0; f < F; f++) x[f] = standardize(X[i * F + f] as number, model.mean[f] as number, model.inv_sd[f] as number);
    model.layers.forEach((layer, l) => {
      const z = new Float32Array(layer.out);
      for (let j = 0; j < layer.out; j++) {
        let s = 0;
        for (let k = 0; k < layer.in; k++) s = f32(s + f32((x[k] as number) * (layer.w[k * layer.out + j] as number)));
        s = f32(s + (layer.b[j] as number));
        z[j] = l < model.layers.length - 1 && s < 0 ? 0 : s;
      }
      x = z;
    });
    out[i] = x[0] as number;
  }
  return out;
}
