/**
 * The what-if notebooks (notebooks/*.ts) with quick: true, in process, into a temporary
 * directory: each writes its report and returns its study table; and `fgo study` end to end
 * (summary.json, the report path) and on bad notebook paths (exit code and message).
 */
import { execFile } from 'node:child_process';
import { existsSync, mkdtempSync, readdirSync, readFileSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it, vi } from 'vitest';

import numaScaling from '../../notebooks/numa-scaling.ts';
import psiThresholds, { scaleThresholds } from '../../notebooks/psi-thresholds.ts';
import warmMemory from '../../notebooks/warm-memory.ts';
import type { Study } from '../../notebooks/lib.ts';

// Each quick study runs whole simulations: ~20 s here idle, minutes with the CPUs oversubscribed.
vi.setConfig({ testTimeout: 600_000 });

const ROOT = new URL('../../', import.meta.url).pathname;
const TMP = mkdtempSync(join(tmpdir(), 'fgo-study-'));
afterAll(() => rmSync(TMP, { recursive: true, force: true }));

function fgo(...args: string[]): Promise<{ code: number | null; out: string; err: string }> {
  return new Promise((resolve) => {
    execFile(
      process.execPath,
      [join(ROOT, 'bin/fgo.mjs'), ...args],
      { cwd: ROOT, encoding: 'utf8', timeout: 600_000, env: { ...process.env, CI: '1' } },
      (e, out, err) => {
        resolve({ code: e ? (typeof e.code === 'number' ? e.code : null) : 0, out, err });
      },
    );
  });
}

/** `S`: the fields of the study's summary that a test reads. */
async function runQuick<S>(
  name: string,
  study: Study,
): Promise<{ out: string; report: string; summary: S; logs: string[] }> {
  const out = join(TMP, name);
  const logs: string[] = [];
  const r = await study({ out, quick: true, log: (s) => logs.push(s) });
  expect(r.report).toBe(join(out, 'report.html'));
  expect(statSync(r.report).size).toBeGreaterThan(10_000);
  expect(readFileSync(r.report, 'utf8')).toMatch(/^<!doctype html>/i);
  return { out, report: r.report, summary: r.summary as S, logs };
}

describe('notebooks (quick)', () => {
  it('warm-memory: the trade-off curve, one run directory per point', async () => {
    const { out, summary } = await runQuick<{ points: unknown; headline: unknown; frontier: unknown[] }>(
      'warm-memory',
      warmMemory,
    );
    expect(summary).toMatchObject({
      study: 'warm-memory',
      scenario: 'diurnal-8n',
      duration: '10m',
      baseline: 'least-loaded',
    });
    const pts = summary.points as Array<{
      policy: string;
      knob: string;
      value: number;
      cold_start_ratio: number;
      warm_idle_gb_s: number;
      run_dir: string;
    }>;
    expect(pts.map((p) => `${p.policy}:${p.value}`)).toEqual([
      'engine:0.9',
      'engine:0.999',
      'engine:0.9999',
      'least-loaded:60',
      'least-loaded:600',
    ]);
    for (const p of pts) {
      expect(p.cold_start_ratio).toBeGreaterThanOrEqual(0);
      expect(p.warm_idle_gb_s).toBeGreaterThan(0);
      const run = JSON.parse(readFileSync(join(p.run_dir, 'run.json'), 'utf8')) as { policy: string };
      expect(run.policy).toBe(p.policy);
    }
    expect(readdirSync(join(out, 'runs')).sort()).toEqual([
      'engine-cover-0.9',
      'engine-cover-0.999',
      'engine-cover-0.9999',
      'least-loaded-keep-alive-10m',
      'least-loaded-keep-alive-1m',
    ]);
    // Covering more of the concurrency, more warm memory: the engine's curve moves right.
    const eng = pts.filter((p) => p.policy === 'engine');
    expect(eng[2]!.warm_idle_gb_s).toBeGreaterThan(eng[0]!.warm_idle_gb_s);
    expect(summary.headline).toMatchObject({
      engine: 'cover 0.999',
      baseline: 'keep-alive 10m',
      met: expect.any(Boolean),
    });
    expect(summary.frontier.length).toBeGreaterThan(0);
  });

  it('psi-thresholds: four factors on the recorded incident, rising thresholds ≤ 1, plus the PSI-blind reference', async () => {
    const { summary } = await runQuick<{
      rows: unknown;
      sensitivity: { latency_p99_ms: { at_1x: number } };
      reference: { policy: string };
    }>('psi-thresholds', psiThresholds);
    expect(summary).toMatchObject({
      study: 'psi-thresholds',
      scenario: 'psi-replay-1n',
      psi: { file: 'traces/psi/stress-2cpu-host.csv', mode: 'replace' },
    });
    const rows = summary.rows as Array<{
      factor: number;
      cpu_thresholds: Record<string, number>;
      latency_p99_ms: number;
      deferred: number;
      shed: number;
      completed: number;
    }>;
    expect(rows.map((r) => r.factor)).toEqual([0.5, 0.75, 1, 1.25]);
    for (const r of rows) {
      const t = [r.cpu_thresholds.low!, r.cpu_thresholds.medium!, r.cpu_thresholds.high!, r.cpu_thresholds.critical!];
      expect(t.every((x, i) => x <= 1 && (i === 0 || x > t[i - 1]!))).toBe(true);
      expect(r.latency_p99_ms).toBeGreaterThan(0);
    }
    expect(rows[2]!.cpu_thresholds).toEqual({ low: 0.3, medium: 0.6, high: 0.8, critical: 0.9 });
    // Identical arrivals: every run completes the same requests. Lower thresholds defer no less —
    // but little: the recorded stall is the recording's, not the engine's own, so waiting would not
    // relieve it and only fgo's own CPU demand beyond the CPUs holds requests back.
    expect(new Set(rows.map((r) => r.completed + r.shed)).size).toBe(1);
    expect(rows[0]!.deferred).toBeGreaterThanOrEqual(rows[3]!.deferred);
    expect(summary.sensitivity.latency_p99_ms.at_1x).toBe(rows[2]!.latency_p99_ms);
    expect(summary.reference.policy).toBe('least-loaded');
  });

  it('scaleThresholds caps each level below the next and at 1', () => {
    expect(scaleThresholds({ low: 0.3, medium: 0.6, high: 0.8, critical: 0.9 }, 1.25)).toEqual({
      low: 0.375,
      medium: 0.75,
      high: 0.99,
      critical: 1,
    });
    expect(scaleThresholds({ low: 0.3, medium: 0.6, high: 0.8, critical: 0.9 }, 0.5)).toEqual({
      low: 0.15,
      medium: 0.3,
      high: 0.4,
      critical: 0.45,
    });
  });

  it('psi-thresholds on 2 worker threads: the same summary and run directories as in this thread', async () => {
    const outs = [join(TMP, 'psi-w0'), join(TMP, 'psi-w2')] as const;
    const [a, b] = [
      await psiThresholds({ out: outs[0], quick: true, log: () => {}, workers: 0 }),
      await psiThresholds({ out: outs[1], quick: true, log: () => {}, workers: 2 }),
    ];
    expect(JSON.stringify(b.summary).replaceAll(outs[1], 'OUT')).toBe(
      JSON.stringify(a.summary).replaceAll(outs[0], 'OUT'),
    );
    const runs = readdirSync(join(outs[0], 'runs')).sort();
    expect(runs).toEqual(['engine-cpu-x0.5', 'engine-cpu-x0.75', 'engine-cpu-x1', 'engine-cpu-x1.25', 'least-loaded']);
    for (const r of runs)
      for (const f of ['metrics.json', 'decisions.jsonl'])
        expect(readFileSync(join(outs[1], 'runs', r, f), 'utf8'), `${r}/${f}`).toBe(
          readFileSync(join(outs[0], 'runs', r, f), 'utf8'),
        );
  });

  it('numa-scaling: the same arrivals on 2, 4 and 8 nodes of 16 CPUs', async () => {
    const { summary } = await runQuick<{ rows: unknown }>('numa-scaling', numaScaling);
    const rows = summary.rows as Array<{
      topology: string;
      nodes: number;
      cpus: number;
      policy: string;
      local_access_ratio: number;
      latency_p99_ms: number;
      utilization_cv: number;
    }>;
    expect(rows.map((r) => `${r.topology}/${r.policy}`)).toEqual([
      '2n-32c/engine',
      '2n-32c/least-loaded',
      '4n-64c/engine',
      '4n-64c/least-loaded',
      '8n-128c/engine',
      '8n-128c/least-loaded',
    ]);
    expect(rows.map((r) => r.cpus / r.nodes)).toEqual([16, 16, 16, 16, 16, 16]);
    for (const r of rows) {
      expect(r.local_access_ratio).toBeGreaterThan(0);
      expect(r.local_access_ratio).toBeLessThanOrEqual(1);
      expect(r.latency_p99_ms).toBeGreaterThan(0);
      expect(r.utilization_cv).toBeGreaterThanOrEqual(0);
    }
    // The engine places beside the data; the blind baseline is local about 1/N of the time.
    for (const t of ['2n-32c', '4n-64c', '8n-128c']) {
      const [e, b] = [
        rows.find((r) => r.topology === t && r.policy === 'engine')!,
        rows.find((r) => r.topology === t && r.policy === 'least-loaded')!,
      ];
      expect(e.local_access_ratio).toBeGreaterThan(b.local_access_ratio);
    }
  });
});

describe('fgo study', () => {
  it('runs a notebook, writes summary.json and prints the report path', async () => {
    const out = join(TMP, 'cli-psi');
    const r = await fgo('study', 'notebooks/psi-thresholds.ts', '--quick', '--out', out);
    expect(r.code, r.err).toBe(0);
    expect(r.out).toContain(`report: ${join(out, 'report.html')}`);
    const doc = JSON.parse(readFileSync(join(out, 'summary.json'), 'utf8'));
    expect(doc).toMatchObject({
      notebook: 'notebooks/psi-thresholds.ts',
      quick: true,
      report: join(out, 'report.html'),
      summary: { study: 'psi-thresholds' },
    });
    expect(existsSync(doc.report)).toBe(true);
  });

  it('a notebook path that does not exist: exit 2, named, nothing written', async () => {
    const out = join(TMP, 'cli-missing');
    const [a, b] = await Promise.all([
      fgo('study', 'notebooks/no-such.ts', '--out', out),
      fgo('study', join(TMP, 'elsewhere.ts'), '--out', out),
    ]);
    expect(a.code).toBe(2);
    expect(a.err).toContain('notebooks/no-such.ts: no such notebook');
    expect(b.code).toBe(2);
    expect(b.err).toContain('outside notebooks/ must be given as a path that exists');
    expect(existsSync(out)).toBe(false);
  });

  it('a file that is not a notebook (no default function, or does not import): exit 1, named', async () => {
    const noDefault = join(TMP, 'not-a-notebook.mts'); // .mts: TMP is in no "type": "module" package
    writeFileSync(noDefault, 'export const x = 1;\n');
    const broken = join(TMP, 'broken.mts');
    writeFileSync(broken, 'import "./does-not-exist.ts";\nexport default async function study() {}\n');
    const [a, b, c] = await Promise.all([
      fgo('study', noDefault),
      fgo('study', broken),
      fgo('study', 'notebooks/lib.ts'),
    ]);
    expect(a.code).toBe(1);
    expect(a.err).toContain('not a notebook: it must export `default async function study');
    expect(b.code).toBe(1);
    expect(b.err).toContain('cannot import the notebook');
    expect(c.code).toBe(1);
    expect(c.err).toContain('notebooks/lib.ts: not a notebook');
  });
});
