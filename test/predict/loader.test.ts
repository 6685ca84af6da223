/**
 * `loadDemandPredictor`, as the twin and the agent call it: a usable model gives the ONNX
 * predictor; a missing, corrupt or foreign one gives exactly one warning and the EWMA fallback,
 * never an exception; a model that fails while running warns once and hands over to the EWMA.
 */
import { existsSync, readFileSync, writeFileSync } from 'node:fs';
import onnxProto from 'onnx-proto';
import { describe, expect, it } from 'vitest';
import { HISTORY_LEN } from '../../predict/features.ts';
import { loadDemandPredictor, OnnxDemandPredictor } from '../../predict/onnx-predictor.ts';
import { EwmaDemandPredictor, toPredictions, type DemandHistory } from '../../predict/predictor.ts';
import { tmpFile } from '../helpers.ts';

const MODEL = new URL('../../models/demand.onnx', import.meta.url).pathname;

const batch: DemandHistory[] = [
  { profile: 'api', interval_s: 60, end_s: 3600, counts: [10, 12, 9, 11, 30, 28] },
  { profile: 'batch', interval_s: 60, end_s: 3600, counts: [0, 0, 1, 0] },
  { profile: 'new', interval_s: 60, end_s: 3600, counts: [] },
];

async function load(path: string | undefined) {
  const warnings: string[] = [];
  const p = await loadDemandPredictor(path, { horizon_s: 300, warn: (m) => warnings.push(m) });
  return { p, warnings };
}

/** The smallest valid ONNX model that is not an fgo demand model: y = Relu(x). */
function foreignModel(): Uint8Array {
  const { onnx } = onnxProto;
  const vi = (name: string) => ({ name, type: { tensorType: { elemType: 1, shape: { dim: [{ dimValue: 1 }] } } } });
  return onnx.ModelProto.encode(
    onnx.ModelProto.create({
      irVersion: 8,
      opsetImport: [{ domain: '', version: 15 }],
      graph: {
        name: 'g',
        node: [{ opType: 'Relu', input: ['x'], output: ['y'] }],
        input: [vi('x')],
        output: [vi('y')],
      },
    }),
  ).finish();
}

describe('loadDemandPredictor', () => {
  it('no model configured: the EWMA, silently', async () => {
    const { p, warnings } = await load(undefined);
    expect(p).toBeInstanceOf(EwmaDemandPredictor);
    expect(warnings).toEqual([]);
  });

  it('a missing file: one warning, the EWMA', async () => {
    const { p, warnings } = await load('/nonexistent/demand.onnx');
    expect(p.name).toBe('ewma');
    expect(warnings).toEqual([
      'demand model /nonexistent/demand.onnx: no such file; forecasting with EWMA (alpha 0.5) instead',
    ]);
    // It forecasts like the port's EWMA: 0.5-weighted over the counts, × horizon / interval.
    expect(await p.forecast(batch)).toEqual(await new EwmaDemandPredictor(300).forecast(batch));
  });

  const corrupt: [string, () => Uint8Array | string][] = [
    ['text', () => 'this is not a model\n'],
    ['an empty file', () => ''],
    ['random bytes', () => Uint8Array.from({ length: 4096 }, (_, i) => (i * 2654435761) >>> 24)],
    [
      'a truncated model',
      () => (existsSync(MODEL) ? readFileSync(MODEL).subarray(0, 5000) : Uint8Array.of(8, 8, 18, 3)),
    ],
    ["an ONNX model that is not fgo's", foreignModel],
  ];
  for (const [what, bytes] of corrupt) {
    it(`${what}: one warning, the EWMA, no exception`, async () => {
      const f = tmpFile('demand.onnx', '');
      writeFileSync(f, bytes());
      const { p, warnings } = await load(f);
      expect(p.name).toBe('ewma');
      expect(warnings).toHaveLength(1);
      expect(warnings[0]).toMatch(
        new RegExp(`^demand model ${f}: .+; forecasting with EWMA \\(alpha 0\\.5\\) instead$`),
      );
    });
  }

  it('the committed model loads as the ONNX predictor and forecasts every profile', async () => {
    if (!existsSync(MODEL)) return; // written by `fgo train` (models/README.md)
    const { p, warnings } = await load(MODEL);
    expect(warnings).toEqual([]);
    expect(p).toBeInstanceOf(OnnxDemandPredictor);
    expect(p).toMatchObject({ name: 'onnx', horizon_s: 300, history_len: HISTORY_LEN });
    const f = await p.forecast(batch);
    expect(f.map((x) => [x.profile, x.horizon_s])).toEqual([
      ['api', 300],
      ['batch', 300],
      ['new', 300],
    ]);
    for (const x of f) expect(x.arrivals).toBeGreaterThanOrEqual(0);
    // 5 min of a profile running at ~20 a minute: around a hundred, not thousands or zero.
    expect(f[0]?.arrivals).toBeGreaterThan(30);
    expect(f[0]?.arrivals).toBeLessThan(300);
  });

  it('a model that fails while running: one warning, then the EWMA for good', async () => {
    if (!existsSync(MODEL)) return;
    const { p, warnings } = await load(MODEL);
    const session = (p as unknown as { session: { run: () => Promise<never> } }).session;
    session.run = () => Promise.reject(new Error('simulated failure'));
    const ewma = await new EwmaDemandPredictor(300).forecast(batch);
    expect(await p.forecast(batch)).toEqual(ewma);
    expect(await p.forecast(batch)).toEqual(ewma);
    expect(warnings).toEqual([
      `demand model ${MODEL}: onnxruntime failed (simulated failure); forecasting with EWMA from now on`,
    ]);
  });

  it('rejects a horizon that is not positive (a caller bug, not a model fault)', async () => {
    await expect(loadDemandPredictor(undefined, { horizon_s: 0, warn: () => undefined })).rejects.toThrow(RangeError);
  });
});

describe('toPredictions', () => {
  it('sizes from the P90 when there is one (the bound is the headroom), else from the mean × headroom', () => {
    const shapes = new Map([['api', { service_ms: 1000 }]]);
    // 60 arrivals in 300 s = 0.2/s × 1 s × headroom 2 = 0.4 busy → ⌈0.4⌉ + 1 = 2.
    expect(toPredictions([{ profile: 'api', horizon_s: 300, arrivals: 60 }], shapes, 2, 0.5)).toEqual([
      { profile: 'api', demand_per_s: 0.2, recommended_size: 2, confidence: 0.5 },
    ]);
    // P90 600 in 300 s = 2/s × 1 s = 2 busy → 3; the P90 rate goes to the engine as demand_p90_per_s.
    expect(
      toPredictions([{ profile: 'api', horizon_s: 300, arrivals: 60, arrivals_p90: 600 }], shapes, 2, 0.5),
    ).toEqual([{ profile: 'api', demand_per_s: 0.2, demand_p90_per_s: 2, recommended_size: 3, confidence: 0.5 }]);
  });
});
