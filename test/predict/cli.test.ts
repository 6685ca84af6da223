/**
 * `fgo dataset`, `fgo train` and `fgo predict-eval` end to end (the real bin/fgo.mjs in a child
 * process), and the committed model against its card and the targets.
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
const NAB = join(ROOT, 'traces/nab');
const tmp = () => mkdtempSync(join(tmpdir(), 'fgo-predict-'));

function fgo(...args: string[]) {
  const r = spawnSync(process.execPath, [join(ROOT, 'bin/fgo.mjs'), ...args], {
    cwd: ROOT,
    encoding: 'utf8',
    timeout: 120_000,
  });
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
    const r = fgo(
      'dataset',
      '--traces',
      join(dir, 'd.csv'),
      '--horizon',
      '2m',
      '--psi',
      join(dir, 'psi.csv'),
      '--service-ms',
      'api=1000,100',
      '--out',
      out,
    );
    expect(r.code, r.err).toBe(0);
    const lines = readFileSync(out, 'utf8').trim().split('\n');
    expect(lines[0]).toBe(datasetHeader(true).join(','));
    expect(lines[0]).toMatch(
      /^trace,profile,t_s,interval_s,split,level,log_level,lag_1,.*,psi_cpu_some_avg10_ratio,.*,horizon_s,label_arrivals,label_warm_pool$/,
    );
    expect(r.out).toBe(`wrote ${out}: 36 rows, ${lines[0]?.split(',').length} columns\n`); // 2 profiles × (k = 1..18)
    const col = (name: string) => (lines[0] as string).split(',').indexOf(name);
    const row = (lines.find((l) => l.startsWith('d,api,300,')) as string).split(',');
    // k = 5: history 10,11,12,10,11 → level 54/5 + 0.001; label = counts 5 and 6 = 12 + 10 = 22 over 120 s.
    expect(Number(row[col('level')])).toBeCloseTo(54 / 5 + 0.001, 5);
    expect(row[col('label_arrivals')]).toBe('22');
    expect(row[col('horizon_s')]).toBe('120');
    // λS = 22 / 120 × 1 s = 0.183: B(1) = 0.155, B(2) = 0.014 ≤ 0.05 → 2 warm fragments.
    expect(row[col('label_warm_pool')]).toBe('2');
    expect(row[col('psi_cpu_some_avg10_ratio')]).toBe('0.5'); // the sample at 300 s, as a fraction
    expect(row[col('psi_io_some_avg10_ratio')]).toBe(''); // not in the PSI trace
    expect(row[col('split')]).toBe('train'); // label ends at index 7 < 10
    expect(lines.find((l) => l.startsWith('d,api,600,'))?.split(',')[col('split')]).toBe('test');
  }, 120_000);

  it('reads a NAB file directly; no PSI columns without --psi', () => {
    const out = join(tmp(), 'ds.csv');
    expect(fgo('dataset', '--traces', join(NAB, 'Twitter_volume_CRM.csv'), '--out', out).code).toBe(0);
    const lines = readFileSync(out, 'utf8').split('\n');
    expect(lines[0]).toBe(datasetHeader(false).join(','));
    expect(lines[1]?.startsWith('Twitter_volume_CRM,Twitter_volume_CRM,300,300,train,')).toBe(true);
  }, 120_000);

  it('usage errors exit 2, bad files exit 1', () => {
    expect(
      fgo('dataset', '--traces', 'traces/demand/nyc_taxi.csv', '--horizon', 'soon', '--out', join(tmp(), 'x.csv')).code,
    ).toBe(2);
    expect(
      fgo('dataset', '--traces', 'traces/demand/nyc_taxi.csv', '--cold-target', '2', '--out', join(tmp(), 'x.csv'))
        .code,
    ).toBe(2);
    const r = fgo('dataset', '--traces', 'nope.csv', '--out', join(tmp(), 'x.csv'));
    expect([r.code, r.err]).toEqual([1, 'nope.csv: no such file\n']);
  }, 120_000);
});

describe('fgo train', () => {
  it('writes the model and its card; the same command gives the same bytes', () => {
    const [a, b] = [tmp(), tmp()];
    const args = [
      'train',
      '--traces',
      'traces/demand/azure-functions-2019.csv',
      'traces/demand/nyc_taxi.csv',
      '--trees',
      '8',
      '--seed',
      's1',
    ];
    const r = fgo(...args, '--no-bench', '--out', join(a, 'm.onnx'));
    expect(r.code, r.err).toBe(0);
    expect(r.out).toMatch(/^wrote .*m\.onnx \(\d+ bytes\) and .*m\.card\.json in [\d.]+ s\n$/);
    expect(fgo(...args, '--no-bench', '--out', join(b, 'm.onnx')).code).toBe(0);
    expect(readFileSync(join(b, 'm.onnx')).equals(readFileSync(join(a, 'm.onnx')))).toBe(true);
    const strip = (f: string) => JSON.stringify({ ...JSON.parse(readFileSync(f, 'utf8')), training_wall_s: 0 });
    expect(strip(join(b, 'm.card.json'))).toBe(strip(join(a, 'm.card.json')));
    expect(readdirSync(a).sort()).toEqual(['m.card.json', 'm.onnx']); // no .tmp left behind
    const card = JSON.parse(readFileSync(join(a, 'm.card.json'), 'utf8'));
    expect(card).toMatchObject({
      kind: 'gbt (P50 and P90)',
      horizon: '1 interval',
      seed: 's1',
      feature_set: 'no_clock',
      skipped_rows: 0,
    });
    expect(card.features).toContain('lag_1');
    expect(card.data.map((d: { trace: string }) => d.trace)).toEqual(['azure-functions-2019', 'nyc_taxi']);
    expect(card.split).toMatch(/time-ordered/);
    const taxi = card.time_split.results.nyc_taxi;
    for (const k of ['accuracy', 'wape', 'mape', 'poisson_ceiling', 'coverage_p90', 'pinball_p90', 'vs_best_single'])
      expect(typeof taxi[k], k).toBe('number');
    expect(Object.keys(taxi.baselines)).toEqual(['last_value', 'seasonal_day', 'seasonal_week', 'ewma', 'ensemble']);
    expect(card.cross_validation).toBeUndefined();
  }, 240_000);

  it('--cv: cross-validates by series and puts every candidate and the chosen one in the card', () => {
    const r = fgo(
      'train',
      '--traces',
      'traces/demand/azure-functions-2019.csv',
      'traces/demand/ec2_cpu_utilization_5f5533.csv',
      'traces/demand/elb_request_count_8c0756.csv',
      '--trees',
      '4',
      '--cv',
      '3',
      '--no-bench',
      '--out',
      join(tmp(), 'm.onnx'),
    );
    expect(r.code, r.err).toBe(0);
    expect(r.err).toMatch(/cross-validation: 9\/9 folds/); // 3 candidates × 3 folds
    expect(r.out).toMatch(/^\| series \| fgo WAPE \|/);
    expect(r.out).toMatch(/\| \*\*mean\*\* \|/);
    const card = JSON.parse(readFileSync(join(r.out.match(/wrote (.*)m\.onnx/)?.[1] as string, 'm.card.json'), 'utf8'));
    expect(card.cross_validation.folds).toBe(3);
    expect(Object.values(card.cross_validation.assignment).sort()).toEqual([0, 1, 2]); // leave one series out
    expect(card.cross_validation.candidates).toHaveLength(3);
    expect(Object.keys(card.cross_validation.results).sort()).toEqual([
      'azure-functions-2019',
      'ec2_cpu_utilization_5f5533',
      'elb_request_count_8c0756',
    ]);
  }, 240_000);

  it('--json prints the card, with the inference latency measured', () => {
    const r = fgo(
      'train',
      '--traces',
      'traces/demand/azure-functions-2019.csv',
      '--trees',
      '3',
      '--horizon',
      '5m',
      '--json',
      '--out',
      join(tmp(), 'm.onnx'),
    );
    expect(r.code, r.err).toBe(0);
    const card = JSON.parse(r.out);
    expect(card.horizon).toBe('5m');
    expect(card.inference).toMatchObject({ batch_profiles: 10, runs: 2000 });
    expect(card.inference.batch_us.p50).toBeGreaterThan(0);
    expect(card.inference.run_us.p99).toBeGreaterThanOrEqual(card.inference.run_us.p50);
  }, 120_000);

  it('a NAB file with a repeated timestamp fails with its line; --skip-bad leaves the rows out and counts them', () => {
    const bad = fgo(
      'train',
      '--traces',
      'traces/nab/ec2_disk_write_bytes_1ef3de.csv',
      '--trees',
      '2',
      '--no-bench',
      '--out',
      join(tmp(), 'm.onnx'),
    );
    expect(bad.code).toBe(1);
    expect(bad.err).toMatch(
      /ec2_disk_write_bytes_1ef3de\.csv:2121:1: column timestamp: repeats the timestamp of line 2120/,
    );
    const d = tmp();
    const ok = fgo(
      'train',
      '--traces',
      'traces/nab/ec2_disk_write_bytes_1ef3de.csv',
      '--trees',
      '2',
      '--skip-bad',
      '--no-bench',
      '--out',
      join(d, 'm.onnx'),
    );
    expect(ok.code, ok.err).toBe(0);
    expect(JSON.parse(readFileSync(join(d, 'm.card.json'), 'utf8')).skipped_rows).toBe(11);
  }, 120_000);
});

describe('fgo predict-eval', () => {
  it('prints one JSON object: accuracy, WAPE, P90 coverage and pinball loss, the baselines (a NAB file, imported on the fly)', () => {
    if (!existsSync(MODEL)) return;
    const r = fgo('predict-eval', '--model', MODEL, '--trace', join(NAB, 'Twitter_volume_AMZN.csv'));
    expect(r.code, r.err).toBe(0);
    expect(r.out.trim().split('\n')).toHaveLength(1);
    const j = JSON.parse(r.out);
    expect(Object.keys(j.baselines)).toEqual(['last_value', 'seasonal_day', 'seasonal_week', 'ewma', 'ensemble']);
    expect(j.coverage_p90).toBeGreaterThan(0.8);
    expect(j.coverage_p90).toBeLessThanOrEqual(1);
    expect(j.pinball_p90).toBeGreaterThan(0);
    expect(Object.values(j.sources).reduce((a: number, x) => a + (x as number), 0)).toBeCloseTo(1, 3);
    for (const s of [j, ...Object.values(j.baselines)] as { accuracy: number; wape: number }[]) {
      expect(s.accuracy).toBeCloseTo(1 - s.wape, 9);
      expect(s.wape).toBeGreaterThan(0);
    }
    expect(j).toMatchObject({ horizon: '1 interval', model_horizon: '5m' });
    // --horizon 5m on a 5-minute series is one interval: the same figures.
    const five = JSON.parse(
      fgo('predict-eval', '--model', MODEL, '--trace', join(NAB, 'Twitter_volume_AMZN.csv'), '--horizon', '5m').out,
    );
    expect(five.wape).toBe(j.wape);
    expect(five.horizon).toBe('5m');
  }, 120_000);

  it('a missing or corrupt model, a missing trace: exit 1 with the reason; bad options: exit 2', () => {
    const junk = join(tmp(), 'junk.onnx');
    writeFileSync(junk, 'not a model');
    const missing = fgo('predict-eval', '--model', '/nonexistent.onnx', '--trace', 'traces/demand/nyc_taxi.csv');
    expect([missing.code, missing.err]).toEqual([1, '/nonexistent.onnx: no such file\n']);
    const bad = fgo('predict-eval', '--model', junk, '--trace', 'traces/demand/nyc_taxi.csv');
    expect(bad.code).toBe(1);
    expect(bad.err).toMatch(new RegExp(`^${junk}: not an fgo demand model`));
    expect(fgo('predict-eval', '--model', junk, '--trace', 'traces/demand/nyc_taxi.csv', '--horizon', '-5m').code).toBe(
      2,
    );
    expect(fgo('predict-eval', '--model', junk).code).toBe(2);
  }, 120_000);
});

describe('the committed model against the targets', () => {
  const card = () => JSON.parse(readFileSync(join(ROOT, 'models/demand.card.json'), 'utf8'));

  it('its card holds the cross-validation the README quotes, and it was trained on the bundled series', () => {
    if (!existsSync(MODEL)) return;
    const c = card();
    expect(c.cross_validation.folds).toBeGreaterThanOrEqual(5);
    const traces = c.data.map((d: { trace: string }) => d.trace);
    for (const t of Object.keys(c.cross_validation.results)) expect(traces).toContain(t);
    // Every series scored exactly once, by a fold that did not train on it.
    expect(Object.keys(c.cross_validation.assignment).sort()).toEqual([...traces].sort());
  });

  it("nyc_taxi's second half through onnxruntime and the guard: the card's time-split figure, ≥ 0.93", async () => {
    if (!existsSync(MODEL)) return;
    const e = await evaluateModelFile(MODEL, loadTrace(join(ROOT, 'traces/nab/nyc_taxi.csv')), 300, '5m');
    expect(e.accuracy).toBeCloseTo(card().time_split.results.nyc_taxi.accuracy, 5);
    expect(e.accuracy).toBeGreaterThanOrEqual(0.93);
  }, 120_000);
});
