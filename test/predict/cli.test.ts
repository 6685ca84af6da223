/**
 * `fgo dataset`, `fgo train` and `fgo predict-eval` end to end (the real bin/fgo.mjs in a child
 * process), and the committed model against the targets on the bundled traces and on two
 * NAB series it never saw (test/fixtures/nab-unseen, MIT, Numenta).
 */
import { spawnSync } from 'node:child_process';
import { existsSync, mkdtempSync, readdirSync, readFileSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { datasetHeader } from '../../predict/dataset.ts';
import { evaluateModelFile } from '../../predict/evaluate.ts';
import { loadTrace } from '../../predict/input.ts';

const ROOT = new URL('../../', import.meta.url).pathname;
const MODEL = join(ROOT, 'models/demand.onnx');
const UNSEEN = join(ROOT, 'test/fixtures/nab-unseen');
const tmp = () => mkdtempSync(join(tmpdir(), 'fgo-predict-'));

function fgo(...args: string[]) {
  const r = spawnSync(process.execPath, [join(ROOT, 'bin/fgo.mjs'), ...args], { cwd: ROOT, encoding: 'utf8', timeout: 120_000 });
  return { code: r.status, out: r.stdout, err: r.stderr };
}

describe('fgo dataset', () => {
  it('writes the documented header, features, PSI and both labels', () => {
    const dir = tmp();
    const rows = ['t_s,profile,count'];
    for (let i = 0; i < 20; i++) rows.push(`${i * 60},api,${10 + (i % 3)}`, `${i * 60},batch,${i % 2}`);
    writeFileSync(join(dir, 'd.csv'), `${rows.join('\n')}\n`);
    writeFileSync(join(dir, 'psi.csv'), 't_ms,cpu_some_avg10,mem_some_avg10\n0,10,1\n300000,50,2\n');
    const out = join(dir, 'ds.csv');
    const r = fgo('dataset', '--traces', join(dir, 'd.csv'), '--horizon', '2m', '--psi', join(dir, 'psi.csv'), '--service-ms', 'api=1000,100', '--out', out);
    expect(r.code, r.err).toBe(0);
    const lines = readFileSync(out, 'utf8').trim().split('\n');
    expect(lines[0]).toBe(datasetHeader(true).join(','));
    expect(lines[0]).toMatch(/^trace,profile,t_s,interval_s,split,level,log_level,lag_1,.*,psi_cpu_some_avg10,.*,horizon_s,label_arrivals,label_warm_pool$/);
    expect(r.out).toBe(`wrote ${out}: 36 rows, ${lines[0]?.split(',').length} columns\n`); // 2 profiles × (k = 1..18)
    const col = (name: string) => (lines[0] as string).split(',').indexOf(name);
    const row = (lines.find((l) => l.startsWith('d,api,300,')) as string).split(',');
    // k = 5: history 10,11,12,10,11 → level 54/5 + 1; label = counts 5 and 6 = 12 + 10 = 22 over 120 s.
    expect(Number(row[col('level')])).toBeCloseTo(54 / 5 + 1, 5);
    expect(row[col('label_arrivals')]).toBe('22');
    expect(row[col('horizon_s')]).toBe('120');
    // λS = 22 / 120 × 1 s = 0.183: B(1) = 0.155, B(2) = 0.014 ≤ 0.05 → 2 warm fragments.
    expect(row[col('label_warm_pool')]).toBe('2');
    expect(row[col('psi_cpu_some_avg10')]).toBe('0.5'); // the sample at 300 s, as a fraction
    expect(row[col('psi_io_some_avg10')]).toBe(''); // not in the PSI trace
    expect(row[col('split')]).toBe('train'); // label ends at index 7 < 10
    expect(lines.find((l) => l.startsWith('d,api,600,'))?.split(',')[col('split')]).toBe('test');
  }, 120_000);

  it('reads a NAB file directly; no PSI columns without --psi', () => {
    const out = join(tmp(), 'ds.csv');
    expect(fgo('dataset', '--traces', join(UNSEEN, 'Twitter_volume_CRM.csv'), '--out', out).code).toBe(0);
    const lines = readFileSync(out, 'utf8').split('\n');
    expect(lines[0]).toBe(datasetHeader(false).join(','));
    expect(lines[1]?.startsWith('Twitter_volume_CRM,Twitter_volume_CRM,300,300,train,')).toBe(true);
  }, 120_000);

  it('usage errors exit 2, bad files exit 1', () => {
    expect(fgo('dataset', '--traces', 'traces/demand/nyc_taxi.csv', '--horizon', 'soon', '--out', join(tmp(), 'x.csv')).code).toBe(2);
    expect(fgo('dataset', '--traces', 'traces/demand/nyc_taxi.csv', '--cold-target', '2', '--out', join(tmp(), 'x.csv')).code).toBe(2);
    const r = fgo('dataset', '--traces', 'nope.csv', '--out', join(tmp(), 'x.csv'));
    expect([r.code, r.err]).toEqual([1, 'nope.csv: no such file\n']);
  }, 120_000);
});

describe('fgo train', () => {
  it('writes the model and its card; the same command gives the same bytes', () => {
    const [a, b] = [tmp(), tmp()];
    const args = ['train', '--traces', 'traces/demand/azure-functions-2019.csv', 'traces/demand/nyc_taxi.csv', '--model', 'gbt', '--trees', '8', '--seed', 's1'];
    const r = fgo(...args, '--no-bench', '--out', join(a, 'm.onnx'));
    expect(r.code, r.err).toBe(0);
    expect(r.out).toMatch(/^wrote .*m\.onnx \(\d+ bytes, gbt\) and .*m\.card\.json: held-out WAPE ([\d.]+|Infinity) × the best baseline's on average, no worse on \d of 2 traces\n$/);
    expect(fgo(...args, '--no-bench', '--out', join(b, 'm.onnx')).code).toBe(0);
    expect(readFileSync(join(b, 'm.onnx')).equals(readFileSync(join(a, 'm.onnx')))).toBe(true);
    expect(readFileSync(join(b, 'm.card.json'), 'utf8')).toBe(readFileSync(join(a, 'm.card.json'), 'utf8'));
    expect(readdirSync(a).sort()).toEqual(['m.card.json', 'm.onnx']); // no .tmp left behind
    const card = JSON.parse(readFileSync(join(a, 'm.card.json'), 'utf8'));
    expect(card).toMatchObject({ kind: 'gbt', horizon: '1 interval', seed: 's1', feature_set: 'no_clock' });
    expect(card.features).toContain('lag_1');
    expect(card.data.map((d: { trace: string }) => d.trace)).toEqual(['azure-functions-2019', 'nyc_taxi']);
    expect(card.split).toMatch(/time-ordered/);
    const taxi = card.held_out.nyc_taxi;
    for (const k of ['accuracy', 'wape', 'mape', 'poisson_ceiling']) expect(typeof taxi[k]).toBe('number');
    for (const b of ['last_value', 'seasonal_naive', 'ewma']) expect(Object.keys(taxi.baselines[b]).sort()).toEqual(['accuracy', 'mape', 'wape']);
  }, 240_000);

  it('--json prints the card, with the inference latency measured', () => {
    const r = fgo('train', '--traces', 'traces/demand/azure-functions-2019.csv', '--model', 'gbt', '--trees', '3', '--horizon', '5m', '--json', '--out', join(tmp(), 'm.onnx'));
    expect(r.code, r.err).toBe(0);
    const card = JSON.parse(r.out);
    expect(card.horizon).toBe('5m');
    expect(card.inference).toMatchObject({ batch_profiles: 10, runs: 2000 });
    expect(card.inference.batch_us.p50).toBeGreaterThan(0);
    expect(card.inference.run_us.p99).toBeGreaterThanOrEqual(card.inference.run_us.p50);
  }, 120_000);
});

describe('fgo predict-eval', () => {
  it('prints one JSON object: accuracy, WAPE and the three baselines (a NAB file, imported on the fly)', () => {
    if (!existsSync(MODEL)) return;
    const r = fgo('predict-eval', '--model', MODEL, '--trace', join(UNSEEN, 'Twitter_volume_AMZN.csv'));
    expect(r.code, r.err).toBe(0);
    expect(r.out.trim().split('\n')).toHaveLength(1);
    const j = JSON.parse(r.out);
    expect(Object.keys(j.baselines)).toEqual(['last_value', 'seasonal_naive', 'ewma']);
    for (const s of [j, ...Object.values(j.baselines)] as { accuracy: number; wape: number }[]) {
      expect(s.accuracy).toBeCloseTo(1 - s.wape, 9);
      expect(s.wape).toBeGreaterThan(0);
    }
    expect(j).toMatchObject({ horizon: '1 interval', model_horizon: '1 interval' });
    // --horizon 5m on a 5-minute series is one interval: the same figures.
    const five = JSON.parse(fgo('predict-eval', '--model', MODEL, '--trace', join(UNSEEN, 'Twitter_volume_AMZN.csv'), '--horizon', '5m').out);
    expect(five.wape).toBe(j.wape);
  }, 120_000);

  it('a missing or corrupt model, a missing trace: exit 1 with the reason; bad options: exit 2', () => {
    const junk = join(tmp(), 'junk.onnx');
    writeFileSync(junk, 'not a model');
    const missing = fgo('predict-eval', '--model', '/nonexistent.onnx', '--trace', 'traces/demand/nyc_taxi.csv');
    expect([missing.code, missing.err]).toEqual([1, '/nonexistent.onnx: no such file\n']);
    const bad = fgo('predict-eval', '--model', junk, '--trace', 'traces/demand/nyc_taxi.csv');
    expect(bad.code).toBe(1);
    expect(bad.err).toMatch(new RegExp(`^${junk}: not an fgo demand model`));
    expect(fgo('predict-eval', '--model', junk, '--trace', 'traces/demand/nyc_taxi.csv', '--horizon', '-5m').code).toBe(2);
    expect(fgo('predict-eval', '--model', junk).code).toBe(2);
  }, 120_000);
});

describe('the committed model against the targets', () => {
  const bundled = readdirSync(join(ROOT, 'traces/demand')).filter((f) => f.endsWith('.csv')).sort();
  const best = (e: { baselines: Record<string, { wape: number }> }) => Math.min(...Object.values(e.baselines).map((b) => b.wape));

  it('held-out half of every bundled trace: no worse than the best baseline, 5 % lower on average; nyc_taxi ≥ 0.93', async () => {
    if (!existsSync(MODEL)) return;
    const ratios: number[] = [];
    for (const f of bundled) {
      const e = await evaluateModelFile(MODEL, loadTrace(join(ROOT, 'traces/demand', f)), undefined);
      const b = best(e);
      expect(e.wape, f).toBeLessThanOrEqual(b);
      ratios.push(b > 0 ? e.wape / b : 1);
      if (f === 'nyc_taxi.csv') expect(e.accuracy).toBeGreaterThanOrEqual(0.93);
    }
    expect(ratios.reduce((a, x) => a + x, 0) / ratios.length).toBeLessThanOrEqual(0.95);
  }, 120_000);

  it('generalises: better than every baseline on NAB series it never saw (AMZN, CRM)', async () => {
    if (!existsSync(MODEL)) return;
    for (const f of ['Twitter_volume_AMZN.csv', 'Twitter_volume_CRM.csv']) {
      const e = await evaluateModelFile(MODEL, loadTrace(join(UNSEEN, f)), undefined);
      expect(e.wape, f).toBeLessThan(best(e));
    }
  }, 60_000);
});
