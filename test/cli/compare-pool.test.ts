/**
 * `fgo compare` on the worker pool, end to end (the real `bin/fgo.mjs`), on default for 10
 * simulated seconds × 3 policies: comparison.json, every metrics.json and decisions.jsonl the same
 * bytes with 1 and 2 worker threads and as shards 0/2 + 1/2 merged (a --vary study too); merge
 * refuses a missing shard or a shard of another comparison, naming the file; the report built
 * from runs folded in the workers is the one `fgo report` builds from the run directories; a
 * run that fails in a worker names its policy and scenario.
 */
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { COMPARE_TASK, reportBins } from '../../cli/compare.ts';
import type { CompareJob, CompareRun } from '../../cli/compare-job.ts';
import { prepare } from '../../cli/prepare.ts';
import { timeAxisFor } from '../../reports/axis.ts';
import { aggregateRun } from '../../reports/aggregate.ts';
import { readRuns } from '../../reports/load.ts';
import { JobError, runJobs } from '../../sim/tune/pool.ts';
import { CLI_TEST_TIMEOUT_MS, fgoAsync } from './fgo.ts';

const TMP = mkdtempSync(join(tmpdir(), 'fgo-compare-pool-'));
afterAll(() => rmSync(TMP, { recursive: true, force: true }));

const POLICIES = ['engine', 'least-loaded', 'numad'];
const RUN = ['compare', '--scenario', 'default', '--duration', '10s', '--policies', POLICIES.join(',')];
const read = (...p: string[]) => readFileSync(join(TMP, ...p), 'utf8');

describe('fgo compare --workers and --shard', { timeout: CLI_TEST_TIMEOUT_MS }, () => {
  it('1 or 2 workers, or 2 shards merged: the same comparison.json, metrics.json and decisions.jsonl', async () => {
    for (const [args, out] of [
      [['--workers', '1'], 'w1'],
      [['--workers', '2'], 'w2'],
      [['--shard', '1/2', '--workers', '2'], 's1'],
      [['--shard', '0/2', '--workers', '1'], 's0'],
    ] as const) {
      const r = await fgoAsync([...RUN, ...args, '--out', join(TMP, out)]);
      expect(r.code, r.err).toBe(0);
    }
    // Shard 0/2 holds positions 0 and 2 of the policy list, 1/2 position 1.
    expect(Object.keys(JSON.parse(read('s0', 'shard.json')).runs)).toEqual(['engine', 'numad']);
    expect(Object.keys(JSON.parse(read('s1', 'shard.json')).runs)).toEqual(['least-loaded']);
    const m = await fgoAsync([
      'compare',
      'merge',
      join(TMP, 's1'),
      join(TMP, 's0', 'shard.json'),
      '--out',
      join(TMP, 'merged'),
    ]);
    expect(m.code, m.err).toBe(0);
    expect(m.out).toContain('verdict: the engine');
    const whole = read('w1', 'comparison.json');
    expect(JSON.parse(whole).policies).toHaveProperty('numad');
    for (const d of ['w2', 'merged']) expect(read(d, 'comparison.json'), d).toBe(whole);
    for (const p of POLICIES)
      for (const f of ['metrics.json', 'decisions.jsonl'])
        for (const d of ['w2', 'merged']) expect(read(d, p, f), `${d}/${p}/${f}`).toBe(read('w1', p, f));
    // The report each compare writes from runs folded in its workers is the one `fgo report`
    // writes reading those runs itself (but for the instant it was made and the temporary
    // directory the runs were in when it was).
    const mask = (html: string) =>
      html.replace(/generated \d{4}-[\dT:-]+Z/g, 'generated X').replace(/\.tmp-\d+-[A-Za-z0-9]+/g, '');
    for (const d of ['w1', 'w2', 'merged']) {
      const r = await fgoAsync([
        'report',
        join(TMP, d),
        '--title',
        'fgo compare: default',
        '--out',
        join(TMP, `${d}.html`),
      ]);
      expect(r.code, r.err).toBe(0);
      expect(mask(read(d, 'report.html')), d).toBe(mask(read(`${d}.html`)));
    }
  });

  it('merge refuses a missing shard and a shard of another comparison, naming the file (exit 1), and writes nothing', async () => {
    const other = await fgoAsync([
      ...RUN.map((a) => (a === '10s' ? '5s' : a)),
      '--shard',
      '1/2',
      '--out',
      join(TMP, 'other'),
    ]);
    expect(other.code, other.err).toBe(0);
    const missing = await fgoAsync(['compare', 'merge', join(TMP, 's0'), '--out', join(TMP, 'm1')]);
    expect([missing.code, missing.err.trim()]).toEqual([1, 'missing runs least-loaded (shard 1/2)']);
    const mixed = await fgoAsync(['compare', 'merge', join(TMP, 's0'), join(TMP, 'other'), '--out', join(TMP, 'm2')]);
    expect(mixed.code).toBe(1);
    expect(mixed.err).toContain(
      `${join(TMP, 'other', 'shard.json')}: not the same study as ${join(TMP, 's0', 'shard.json')}: study.flags, study.scenario, study.inputs_digest differ`,
    );
    expect(() => read('m1', 'comparison.json')).toThrow();
    expect(() => read('m2', 'comparison.json')).toThrow();
  });

  it("a --vary seed study in 3 shards merges into the whole study's comparison.json", async () => {
    const vary = [
      'compare',
      '--scenario',
      'default',
      '--duration',
      '10s',
      '--policies',
      'engine,numad',
      '--vary',
      'seed=1,2',
    ];
    expect((await fgoAsync([...vary, '--workers', '2', '--out', join(TMP, 'v')])).code).toBe(0);
    for (const i of [0, 1, 2])
      expect((await fgoAsync([...vary, '--shard', `${i}/3`, '--workers', '1', '--out', join(TMP, `v${i}`)])).code).toBe(
        0,
      );
    const m = await fgoAsync([
      'compare',
      'merge',
      ...[0, 1, 2].map((i) => join(TMP, `v${i}`)),
      '--out',
      join(TMP, 'vm'),
    ]);
    expect(m.code, m.err).toBe(0);
    expect(read('vm', 'comparison.json')).toBe(read('v', 'comparison.json'));
    expect(read('vm', 'seed-2', 'numad', 'metrics.json')).toBe(read('v', 'seed-2', 'numad', 'metrics.json'));
  });
});

describe('a job that folds its run for the report', () => {
  it('folds it on the bins the report will use, as the main thread would', async () => {
    const flags = { scenario: 'default', duration: '20s' };
    const report = reportBins([prepare(flags)], ['engine', 'random']);
    const jobs: CompareJob[] = (['engine', 'random'] as const).map((policy) => ({
      key: policy,
      label: policy,
      flags,
      policy,
      out: join(TMP, 'fold', policy),
      report,
    }));
    const runs = await runJobs<CompareJob, CompareRun>(jobs, { workers: 1 }, COMPARE_TASK);
    const metas = readRuns(jobs.map((j) => j.out));
    const axis = timeAxisFor(metas);
    // default's 20 s: 1-s bins (20 s / 400 rounded up to a width people read), heat cells as wide.
    expect([report.bin_s, report.heat_bin_s, axis.bin_s, axis.heat_bin_s]).toEqual([1, 1, 1, 1]);
    for (const m of metas)
      expect(runs.get(m.run.policy)?.aggregated).toEqual({
        ...report,
        series: await aggregateRun(m, axis.bin_s, axis.heat_bin_s),
      });
  });
});

describe('a run that fails in a worker', () => {
  it('stops the pool with its policy and scenario named', async () => {
    const job: CompareJob = {
      key: 'numad',
      label: 'numad on nope',
      flags: { scenario: 'no-such-scenario' },
      policy: 'numad',
      out: join(TMP, 'fail'),
    };
    await expect(runJobs([job], { workers: 1 }, COMPARE_TASK)).rejects.toThrow(
      /^numad on nope: scenario 'no-such-scenario'/,
    );
    await expect(runJobs([job], { workers: 0 }, COMPARE_TASK)).rejects.toBeInstanceOf(JobError);
  });
});
