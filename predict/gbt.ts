/**
 * Gradient-boosted regression trees for the weighted pinball (quantile) loss, small enough to
 * read: features binned into quantile histograms, depth-limited trees grown level by level, each
 * fitted to the negative gradient of the loss (2τ where y > F, −2(1 − τ) where y < F) by least
 * squares, its leaves then set to the weighted τ-quantile of the residuals they hold (the line
 * search, as LightGBM does), times the learning rate. τ = 0.5 is the absolute loss, because
 * accuracy is 1 − WAPE and the forecast minimising a weighted sum of absolute errors is a weighted
 * median, not a mean; τ = 0.9 gives the upper bound a pool sizer wants.
 *
 * Exactness with onnxruntime: thresholds are float32 feature values (the split "x ≤ t" on float32
 * inputs is decided the same way everywhere), leaf values are float32 and `predictGbt` sums them
 * in float32 in tree order and adds the base last — the order of onnxruntime's
 * TreeEnsembleRegressor (aggregate SUM) run on one thread.
 *
 * Deterministic: row and feature sampling come from a seeded alea stream, ties are broken by
 * index, and sorts are stable.
 */
import seedrandom from 'seedrandom';

/** One tree, nodes in arrays; a leaf has feature −1 and its value in `value` (already shrunk). */
export interface Tree {
  feature: number[];
  threshold: number[];
  left: number[];
  right: number[];
  value: number[];
}

export interface GbtModel {
  kind: 'gbt';
  n_features: number;
  /** Float32 start value: the weighted median of the labels. */
  base: number;
  trees: Tree[];
}

export interface GbtParams {
  trees: number;
  depth: number;
  learning_rate: number;
  /** Fewest training rows a leaf may hold. */
  min_leaf: number;
  /** Histogram bins per feature (≤ 256). */
  bins: number;
  /** Share of rows each tree sees. */
  subsample: number;
  /** Share of features each tree may split on. */
  colsample: number;
  /** The quantile τ the trees estimate (0.5: the median). */
  quantile: number;
  seed: string;
}

/** The regularisation cross-validation chose (predict/cv.ts); the quantile is set per model. */
export const GBT_DEFAULTS: Omit<GbtParams, 'seed' | 'quantile'> = {
  trees: 300,
  depth: 5,
  learning_rate: 0.05,
  min_leaf: 40,
  bins: 64,
  subsample: 0.7,
  colsample: 0.8,
};

const f32 = Math.fround;

/** Weighted τ-quantile of values[idx] (weights w[idx]): the smallest value with weight ≥ τ at or below it. */
export function weightedQuantile(
  values: ArrayLike<number>,
  w: ArrayLike<number>,
  idx: ArrayLike<number>,
  tau: number,
): number {
  const order = Array.from(idx).sort((a, b) => (values[a] as number) - (values[b] as number) || a - b);
  let total = 0;
  for (const i of order) total += w[i] as number;
  let acc = 0;
  for (const i of order) {
    acc += w[i] as number;
    if (acc >= total * tau) return values[i] as number;
  }
  return 0;
}

/**
 * Cut points of each feature: every distinct value but the largest when there are at most `bins`
 * of them, else up to `bins − 1` float32 data values at (unweighted) quantiles of the rows.
 * bin(x) = the first cut ≥ x (cuts.length if none), so "bin ≤ j" ⇔ "x ≤ cut j".
 */
export function binCuts(X: Float32Array, n: number, F: number, bins: number): Float32Array[] {
  const cuts: Float32Array[] = [];
  for (let f = 0; f < F; f++) {
    const col = new Float32Array(n);
    for (let i = 0; i < n; i++) col[i] = X[i * F + f] as number;
    col.sort();
    const distinct: number[] = [];
    for (let i = 0; i < n; i++) if (i === 0 || col[i] !== col[i - 1]) distinct.push(col[i] as number);
    const c: number[] = [];
    if (distinct.length <= bins) c.push(...distinct.slice(0, -1));
    else {
      // Quantiles of the rows (not of the distinct values), so dense regions get more cuts.
      for (let b = 1; b < bins; b++) {
        const v = col[Math.min(n - 1, Math.floor((b * n) / bins))] as number;
        if (v !== c.at(-1) && v < (col[n - 1] as number)) c.push(v);
      }
    }
    cuts.push(Float32Array.from(c));
  }
  return cuts;
}

function binOf(cuts: Float32Array, x: number): number {
  let lo = 0,
    hi = cuts.length;
  while (lo < hi) {
    const mid = (lo + hi) >> 1;
    if (x <= (cuts[mid] as number)) hi = mid;
    else lo = mid + 1;
  }
  return lo;
}

interface Node {
  rows: Int32Array;
  id: number;
}

/** Train on X (n × F, row-major float32), labels y and weights w. */
export function trainGbt(X: Float32Array, y: ArrayLike<number>, w: ArrayLike<number>, params: GbtParams): GbtModel {
  const n = y.length;
  const F = X.length / n;
  const rng = seedrandom.alea(`gbt/${params.seed}`);
  const cuts = binCuts(X, n, F, params.bins);
  const B = Math.max(...cuts.map((c) => c.length + 1));
  const binned = new Uint8Array(n * F);
  for (let i = 0; i < n; i++)
    for (let f = 0; f < F; f++) binned[i * F + f] = binOf(cuts[f] as Float32Array, X[i * F + f] as number);

  const all = Int32Array.from({ length: n }, (_, i) => i);
  const tau = params.quantile;
  const base = f32(weightedQuantile(y, w, all, tau));
  const pred = new Float64Array(n).fill(base);
  const resid = new Float64Array(n);
  const grad = new Float64Array(n);
  const trees: Tree[] = [];
  const gh = new Float64Array(F * B);
  const wh = new Float64Array(F * B);
  const ch = new Int32Array(F * B);

  for (let t = 0; t < params.trees; t++) {
    for (let i = 0; i < n; i++) {
      resid[i] = (y[i] as number) - (pred[i] as number);
      grad[i] = (resid[i] as number) > 0 ? 2 * tau : (resid[i] as number) < 0 ? -2 * (1 - tau) : 0;
    }
    const sample = all.filter(() => rng() < params.subsample);
    const allowed = Array.from({ length: F }, (_, f) => f).filter(() => rng() < params.colsample);
    const tree: Tree = { feature: [], threshold: [], left: [], right: [], value: [] };
    const newNode = () => {
      tree.feature.push(-1);
      tree.threshold.push(0);
      tree.left.push(0);
      tree.right.push(0);
      tree.value.push(0);
      return tree.feature.length - 1;
    };
    let level: Node[] = [{ rows: sample, id: newNode() }];
    const leaves: Node[] = [];
    for (let d = 0; d < params.depth && level.length; d++) {
      const next: Node[] = [];
      for (const node of level) {
        const split = bestSplit(node.rows, binned, grad, w, F, B, allowed, params.min_leaf, gh, wh, ch);
        if (!split) {
          leaves.push(node);
          continue;
        }
        const l: number[] = [];
        const r: number[] = [];
        for (const i of node.rows) ((binned[i * F + split.f] as number) <= split.bin ? l : r).push(i);
        tree.feature[node.id] = split.f;
        tree.threshold[node.id] = (cuts[split.f] as Float32Array)[split.bin] as number;
        const li = newNode();
        const ri = newNode();
        tree.left[node.id] = li;
        tree.right[node.id] = ri;
        next.push({ rows: Int32Array.from(l), id: li }, { rows: Int32Array.from(r), id: ri });
      }
      level = next;
    }
    leaves.push(...level);
    for (const leaf of leaves)
      tree.value[leaf.id] = f32(params.learning_rate * weightedQuantile(resid, w, leaf.rows, tau));
    trees.push(tree);
    for (let i = 0; i < n; i++) pred[i] = (pred[i] as number) + (tree.value[leafOf(tree, X, i * F)] as number);
  }
  return { kind: 'gbt', n_features: F, base, trees };
}

function bestSplit(
  rows: Int32Array,
  binned: Uint8Array,
  grad: Float64Array,
  w: ArrayLike<number>,
  F: number,
  B: number,
  allowed: number[],
  minLeaf: number,
  gh: Float64Array,
  wh: Float64Array,
  ch: Int32Array,
): { f: number; bin: number } | undefined {
  if (rows.length < 2 * minLeaf) return undefined;
  gh.fill(0);
  wh.fill(0);
  ch.fill(0);
  let G = 0,
    W = 0;
  for (const i of rows) {
    const wi = w[i] as number;
    const gi = (grad[i] as number) * wi;
    G += gi;
    W += wi;
    const o = i * F;
    for (const f of allowed) {
      const k = f * B + (binned[o + f] as number);
      gh[k] = (gh[k] as number) + gi;
      wh[k] = (wh[k] as number) + wi;
      ch[k] = (ch[k] as number) + 1;
    }
  }
  const parent = (G * G) / W;
  let best: { f: number; bin: number } | undefined;
  let bestGain = 1e-12 * W;
  for (const f of allowed) {
    let gl = 0,
      wl = 0,
      cl = 0;
    for (let b = 0; b < B - 1; b++) {
      const k = f * B + b;
      gl += gh[k] as number;
      wl += wh[k] as number;
      cl += ch[k] as number;
      const cr = rows.length - cl;
      if (cl < minLeaf) continue;
      if (cr < minLeaf) break;
      const wr = W - wl;
      if (wl <= 0 || wr <= 0) continue;
      const gain = (gl * gl) / wl + ((G - gl) * (G - gl)) / wr - parent;
      if (gain > bestGain) {
        bestGain = gain;
        best = { f, bin: b };
      }
    }
  }
  return best;
}

function leafOf(tree: Tree, x: ArrayLike<number>, o: number): number {
  let k = 0;
  while ((tree.feature[k] as number) >= 0)
    k =
      (x[o + (tree.feature[k] as number)] as number) <= (tree.threshold[k] as number)
        ? (tree.left[k] as number)
        : (tree.right[k] as number);
  return k;
}

/** The model's outputs for rows of X (n × F float32), in float32 as onnxruntime computes them. */
export function predictGbt(model: GbtModel, X: Float32Array): Float32Array {
  const F = model.n_features;
  const n = X.length / F;
  const out = new Float32Array(n);
  for (let i = 0; i < n; i++) {
    let s = 0;
    for (const t of model.trees) s = f32(s + (t.value[leafOf(t, X, i * F)] as number));
    out[i] = f32(s + model.base);
  }
  return out;
}
