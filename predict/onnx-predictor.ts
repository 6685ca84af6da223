/**
 * The ONNX-backed DemandPredictor (predict/predictor.ts's port) and `loadDemandPredictor`, which
 * the twin and the agent call. One onnxruntime `run` per batch, for all profiles at once; then
 * each profile's online guard (guard.ts) turns the model's P50 and P90 into the forecast.
 *
 * A model that cannot be used — no file, not ONNX, not an fgo demand model, or a graph without the
 * expected inputs — gives exactly one warning and an `EwmaDemandPredictor`; so does a model that
 * fails while running (from then on the EWMA answers). Nothing here throws for a bad model: a
 * shell must keep scheduling. No model at all (`undefined`) is not a fault: the EWMA is then
 * simply the configured predictor, and nothing is said.
 */
import { readFile } from 'node:fs/promises';
import * as ort from 'onnxruntime-node';
import { guardCandidates, seasonsFor } from './baselines.ts';
import { modelRow } from './examples.ts';
import { ALL_FEATURES, featureIndex, HISTORY_LEN } from './features.ts';
import { SeriesGuard } from './guard.ts';
import type { ModelMeta } from './model.ts';
import { readOnnxMeta } from './onnx.ts';
import { EwmaDemandPredictor, type DemandForecast, type DemandHistory, type DemandPredictor } from './predictor.ts';

export interface LoadOptions {
  horizon_s: number;
  warn: (msg: string) => void;
}

/**
 * One thread: batches are a few hundred rows at most, where thread hand-offs cost more than they
 * save, and one thread also sums the trees in the order the TypeScript model does.
 */
const SESSION_OPTIONS: ort.InferenceSession.SessionOptions = {
  intraOpNumThreads: 1,
  interOpNumThreads: 1,
  executionMode: 'sequential',
  logSeverityLevel: 3,
};

/** Profiles whose guards are kept; past it the least recently forecast one is forgotten. */
const MAX_GUARDS = 1024;

export class OnnxDemandPredictor implements DemandPredictor {
  readonly name = 'onnx';
  readonly history_len: number;
  private readonly columns: number[];
  private fallback: EwmaDemandPredictor | undefined;
  /** One online guard per profile (guard.ts), in least-recently-forecast order. */
  private readonly guards = new Map<string, SeriesGuard>();

  constructor(
    private readonly session: ort.InferenceSession,
    readonly meta: ModelMeta,
    readonly horizon_s: number,
    private readonly warn: (msg: string) => void,
    private readonly source = 'the demand model',
  ) {
    this.history_len = meta.history_len;
    this.columns = featureIndex(meta.features);
  }

  /**
   * Raw model outputs for rows already featurised: X is n × F (the model's features), `level`
   * the recent level × horizon intervals, `anchor` the ensemble the model corrects. Used by
   * forecast() and by evaluation.
   */
  async run(
    X: Float32Array,
    level: Float32Array,
    anchor: Float32Array,
  ): Promise<{ p50: Float32Array; p90: Float32Array }> {
    const n = level.length;
    const out = await this.session.run({
      features: new ort.Tensor('float32', X, [n, this.columns.length]),
      level: new ort.Tensor('float32', level, [n, 1]),
      anchor: new ort.Tensor('float32', anchor, [n, 1]),
    });
    return {
      p50: (out.arrivals as ort.Tensor).data as Float32Array,
      p90: (out.arrivals_p90 as ort.Tensor).data as Float32Array,
    };
  }

  async forecast(batch: readonly DemandHistory[]): Promise<DemandForecast[]> {
    if (this.fallback) return this.fallback.forecast(batch);
    if (batch.length === 0) return [];
    const X = new Float32Array(batch.length * this.columns.length);
    const level = new Float32Array(batch.length);
    const anchor = new Float32Array(batch.length);
    const row = new Float64Array(ALL_FEATURES.length);
    // The baselines once per profile: the model's anchor is their ensemble, the guard weighs them all.
    const others = batch.map((b) =>
      guardCandidates(b.counts, b.counts.length, this.horizon_s / b.interval_s, seasonsFor(b.interval_s)),
    );
    batch.forEach((b, i) => {
      const r = modelRow(
        b.counts,
        b.counts.length,
        b.interval_s,
        b.end_s,
        this.horizon_s / b.interval_s,
        this.columns,
        X,
        i,
        row,
        (others[i] as (typeof others)[number]).ensemble,
      );
      level[i] = r.scale;
      anchor[i] = r.anchor;
    });
    let y: { p50: Float32Array; p90: Float32Array };
    try {
      y = await this.run(X, level, anchor);
    } catch (e) {
      this.warn(`${this.source}: onnxruntime failed (${firstLine(e)}); forecasting with EWMA from now on`);
      this.fallback = new EwmaDemandPredictor(this.horizon_s);
      return this.fallback.forecast(batch);
    }
    return batch.map((b, i) => {
      const h = this.horizon_s / b.interval_s;
      const n = b.counts.length;
      const g = this.guard(b.profile);
      // Intervals are numbered from the shell's clock, so a history that keeps only its last
      // intervals still settles the right forecasts.
      const end = Math.round(b.end_s / b.interval_s);
      g.settle(b.counts, n, end);
      const f = g.forecast(
        end,
        h,
        y.p50[i] as number,
        y.p90[i] as number,
        others[i] as (typeof others)[number],
        level[i] as number,
      );
      return { profile: b.profile, horizon_s: this.horizon_s, arrivals: f.p50, arrivals_p90: f.p90 };
    });
  }

  private guard(profile: string): SeriesGuard {
    let g = this.guards.get(profile);
    if (g) this.guards.delete(profile);
    else g = new SeriesGuard();
    this.guards.set(profile, g);
    if (this.guards.size > MAX_GUARDS) this.guards.delete(this.guards.keys().next().value as string);
    return g;
  }
}

const firstLine = (e: unknown) => (e instanceof Error ? e.message : String(e)).split('\n')[0]?.slice(0, 200) ?? '';

/** Why bytes are not a usable demand model, or the session and metadata when they are. */
export async function openModel(bytes: Uint8Array): Promise<{ session: ort.InferenceSession; meta: ModelMeta }> {
  let meta: ModelMeta;
  try {
    meta = readOnnxMeta(bytes);
    featureIndex(meta.features);
    if (meta.history_len !== HISTORY_LEN)
      throw new Error(`trained on ${meta.history_len} intervals of history, this fgo reads ${HISTORY_LEN}`);
  } catch (e) {
    throw new Error(`not an fgo demand model: ${firstLine(e)}`);
  }
  let session: ort.InferenceSession;
  try {
    session = await ort.InferenceSession.create(bytes, SESSION_OPTIONS);
  } catch (e) {
    throw new Error(`onnxruntime cannot load it: ${firstLine(e)}`);
  }
  const missing = ['features', 'level', 'anchor'].filter((n) => !session.inputNames.includes(n));
  if (missing.length || !session.outputNames.includes('arrivals') || !session.outputNames.includes('arrivals_p90'))
    throw new Error(
      `unexpected graph: inputs ${session.inputNames.join(',')}, outputs ${session.outputNames.join(',')}`,
    );
  return { session, meta };
}

/**
 * The predictor a shell should use: the ONNX model at `modelPath`, or — with one warning through
 * `opts.warn` when the model is missing or unusable — an EWMA (alpha 0.5) of each profile's counts.
 */
export async function loadDemandPredictor(modelPath: string | undefined, opts: LoadOptions): Promise<DemandPredictor> {
  if (!(opts.horizon_s > 0)) throw new RangeError(`horizon_s must be > 0, got ${opts.horizon_s}`);
  if (modelPath === undefined) return new EwmaDemandPredictor(opts.horizon_s);
  const fallback = (why: string) => {
    opts.warn(`demand model ${modelPath}: ${why}; forecasting with EWMA (alpha 0.5) instead`);
    return new EwmaDemandPredictor(opts.horizon_s);
  };
  let bytes: Uint8Array;
  try {
    bytes = await readFile(modelPath);
  } catch (e) {
    return fallback(
      (e as NodeJS.ErrnoException).code === 'ENOENT' ? 'no such file' : `cannot read it (${firstLine(e)})`,
    );
  }
  try {
    const { session, meta } = await openModel(bytes);
    const p = new OnnxDemandPredictor(session, meta, opts.horizon_s, opts.warn, `demand model ${modelPath}`);
    // One trial run, so a graph that loads but cannot run is caught here, not mid-simulation.
    await p.run(new Float32Array(meta.features.length), new Float32Array(1), new Float32Array(1));
    return p;
  } catch (e) {
    return fallback(firstLine(e));
  }
}
