/**
 * `fgo compare --vary`: the flag's parsing (every refusal names the problem), the narrow table,
 * and end to end in child processes (test/cli/fgo.ts): a seed study whose every run is exactly the
 * plain `fgo sim --seed N` run, and a topology study with its deltas. Runs are short (burst-2n,
 * 60 and 20 simulated seconds).
 */
import { existsSync, mkdtempSync, readdirSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { prepare, type SimFlags } from '../../cli/prepare.ts';
import { MAX_VARIANTS, parseVary, variantFlags, varyTable } from '../../cli/vary.ts';
import { summariseSeeds } from '../../sim/vary.ts';
import { CLI_TEST_TIMEOUT_MS, fgoAsync } from './fgo.ts';

const TMP = mkdtempSync(join(tmpdir(), 'fgo-cli-vary-'));
afterAll(() => rmSync(TMP, { recursive: true, force: true }));
const fgo = (...args: string[]) => fgoAsync(args);
const labels = (spec: string) => parseVary(spec).variants.map((v) => [v.value, v.label]);

describe('--vary KEY=V1,V2,…', () => {
  it('lists and ranges of seeds; presets, files and none as values, each with a directory name', () => {
    expect(labels('seed=1..3')).toEqual([
      ['1', 'seed-1'],
      ['2', 'seed-2'],
      ['3', 'seed-3'],
    ]);
    expect(labels('seed=7, 3,0')).toEqual([
      ['7', 'seed-7'],
      ['3', 'seed-3'],
      ['0', 'seed-0'],
    ]);
    expect(labels('topology=2n-32c,4n-64c,sysfs:/')).toEqual([
      ['2n-32c', 'topology-2n-32c'],
      ['4n-64c', 'topology-4n-64c'],
      ['sysfs:/', 'topology-sysfs_'],
    ]);
    expect(labels('config=none,tune/a.json,other/a.json')).toEqual([
      ['none', 'config-none'],
      ['tune/a.json', 'config-a'],
      ['other/a.json', 'config-a-2'],
    ]);
    expect(labels('psi=none,traces/psi/x.csv')).toEqual([
      ['none', 'psi-none'],
      ['traces/psi/x.csv', 'psi-x'],
    ]);
    expect(parseVary(`seed=0..${MAX_VARIANTS - 1}`).variants).toHaveLength(MAX_VARIANTS);
  });

  it('refuses, naming the problem', () => {
    const refuse = (spec: string) => {
      try {
        parseVary(spec);
      } catch (e) {
        expect((e as { exitCode: number }).exitCode).toBe(2);
        return (e as Error).message;
      }
      throw new Error(`${spec} was accepted`);
    };
    expect(refuse('sed=1,2')).toBe(
      "--vary: unknown key 'sed' (did you mean 'seed'?); choose from topology, config, psi, workload, seed",
    );
    expect(refuse('seed')).toMatch(/^--vary: 'seed' is not KEY=V1,V2,…/);
    expect(refuse('topology=')).toBe('--vary: topology= has no values; give two or more, comma-separated');
    expect(refuse('seed=5..1')).toBe('--vary: seed=5..1: the range runs backwards (write 1..5)');
    expect(refuse('seed=1..')).toBe('--vary: seed=1..: a range is FROM..TO, two whole numbers (e.g. 1..5)');
    expect(refuse(`seed=1..${MAX_VARIANTS + 1}`)).toBe(
      `--vary: seed=1..${MAX_VARIANTS + 1}: ${MAX_VARIANTS + 1} seeds; at most ${MAX_VARIANTS} variants`,
    );
    expect(refuse('seed=1,x')).toMatch(/^--vary: seed=1,x: 'x' is not a whole number from 0 to /);
    expect(refuse('seed=1,01')).toBe("--vary: seed: '1' is given twice");
    expect(refuse('topology=a,,b')).toBe('--vary: topology=a,,b: an empty value between commas');
    expect(refuse('seed=4')).toBe('--vary: seed=4: one value is a plain compare (use --seed); give two or more');
    expect(refuse('workload=none,a.csv')).toBe(
      "--vary: workload: 'none' is only a value of config (no overlay) and psi (no PSI trace)",
    );
    expect(refuse(`topology=${Array.from({ length: MAX_VARIANTS + 1 }, (_, i) => `t${i}.json`).join(',')}`)).toBe(
      `--vary: topology: ${MAX_VARIANTS + 1} values; at most ${MAX_VARIANTS} variants`,
    );
  });

  it('a variant is the flags with that one set; none drops the config or the PSI trace', () => {
    const f = { scenario: 'burst-2n', duration: '60s', psi: 'a.csv', config: 'c.json' };
    expect(variantFlags(f, 'seed', '3')).toEqual({ ...f, seed: '3' });
    expect(variantFlags(f, 'topology', '4n-64c')).toEqual({ ...f, topology: '4n-64c' });
    expect(variantFlags(f, 'config', 'none')).toEqual({ scenario: 'burst-2n', duration: '60s', psi: 'a.csv' });
    expect(variantFlags(f, 'psi', 'none')).toEqual({
      scenario: 'burst-2n',
      duration: '60s',
      config: 'c.json',
      noPsi: true,
    });
  });

  it("prepared as fgo sim prepares the flags: psi=none drops even the scenario's trace; seed sets the seed", () => {
    const base: SimFlags = { scenario: 'psi-replay-1n', duration: '10s' };
    expect(prepare(base).scenario.psi?.file).toMatch(/\.csv$/);
    expect(prepare(variantFlags(base, 'psi', 'none')).scenario.psi).toBeUndefined();
    expect(prepare(variantFlags(base, 'seed', '9')).scenario).toEqual({ ...prepare({ ...base, seed: '9' }).scenario });
    expect(prepare(variantFlags({ ...base, config: 'no-such.json' }, 'config', 'none')).scenario.engine).toEqual(
      prepare(base).scenario.engine,
    );
  });

  it('the table: a row per variant and policy, Δp99 against the first variant; a seed study ends with mean, min, max', () => {
    const m = (slo: number, p99: number) => ({
      slo_miss_ratio: slo,
      latency_ms: { p50: 1, p99 },
      cold_start_ratio: 0.5,
      local_access_ratio: 1,
      utilization: { mean: 0.25 },
    });
    const topo = varyTable(parseVary('topology=2n-32c,4n-64c'), [
      { engine: m(0.5, 200) },
      { engine: m(0.25, 150) },
    ]).split('\n');
    expect(topo).toEqual([
      'variant          policy  SLO miss  p50 ms  p99 ms   cold  local   util  Δp99 %',
      'topology-2n-32c  engine    0.5000    1.00   200.0  0.500  1.000  0.250',
      'topology-4n-64c  engine    0.2500    1.00   150.0  0.500  1.000  0.250   -25.0',
    ]);
    const seeds = [
      { engine: m(0.5, 200), 'hybrid-keepalive': m(0, 100) },
      { engine: m(0.25, 100), 'hybrid-keepalive': m(0, 300) },
    ];
    const t = varyTable(parseVary('seed=1,2'), seeds, summariseSeeds('s', seeds)).split('\n');
    expect(t.slice(5)).toEqual([
      'mean     engine              0.3750    1.00   150.0  0.500  1.000  0.250',
      'mean     hybrid-keepalive    0.0000    1.00   200.0  0.500  1.000  0.250',
      'min      engine              0.2500    1.00   100.0  0.500  1.000  0.250',
      'min      hybrid-keepalive    0.0000    1.00   100.0  0.500  1.000  0.250',
      'max      engine              0.5000    1.00   200.0  0.500  1.000  0.250',
      'max      hybrid-keepalive    0.0000    1.00   300.0  0.500  1.000  0.250',
    ]);
    for (const l of [...topo, ...t]) expect(l.length).toBeLessThanOrEqual(100);
  });
});

interface Comparison {
  scenario: string;
  duration: string;
  vary: { key: string; values: string[] };
  policies: string[];
  variants: Array<{
    label: string;
    value: string;
    seed: number;
    topology: string;
    policies: Record<string, { latency_ms: { p99: number } }>;
    verdict?: { scenario: string; engine_wins: boolean | null; summary: string };
  }>;
  over_seeds?: {
    spread: string;
    policies: Record<string, Record<string, { mean: number; min: number; max: number; n: number }>>;
    verdict?: { engine_wins: boolean | null; summary: string };
    engine_won?: { seeds: number; of: number };
  };
}

describe('fgo compare --vary, end to end', { timeout: CLI_TEST_TIMEOUT_MS }, () => {
  it('seed=1..2: DIR/seed-N/POLICY, each run byte for byte the plain fgo sim --seed N run; mean and range over seeds', async () => {
    const out = join(TMP, 'seeds');
    const r = await fgo(
      'compare',
      '--scenario',
      'burst-2n',
      '--duration',
      '60s',
      '--policies',
      'engine,least-loaded',
      '--vary',
      'seed=1..2',
      '--out',
      out,
      '--json',
    );
    expect(r.code, r.err).toBe(0);
    const c = JSON.parse(readFileSync(join(out, 'comparison.json'), 'utf8')) as Comparison;
    expect(JSON.parse(r.out)).toEqual({ dir: out, report: join(out, 'report.html'), ...c });
    expect(readdirSync(out).sort()).toEqual(['.fgo-output', 'comparison.json', 'report.html', 'seed-1', 'seed-2']);
    expect(c).toMatchObject({
      scenario: 'burst-2n',
      duration: '60s',
      vary: { key: 'seed', values: ['1', '2'] },
      policies: ['engine', 'least-loaded'],
    });
    expect(c.variants.map((v) => [v.label, v.value, v.seed, Object.keys(v.policies), v.verdict?.scenario])).toEqual([
      ['seed-1', '1', 1, ['engine', 'least-loaded'], 'burst-2n/seed-1'],
      ['seed-2', '2', 2, ['engine', 'least-loaded'], 'burst-2n/seed-2'],
    ]);
    // The mean and range of each figure are the two seeds' own.
    const p99 = c.variants.map((v) => v.policies.engine!.latency_ms.p99);
    expect(c.over_seeds?.spread).toBe('min-max');
    expect(c.over_seeds?.policies.engine?.['latency_ms.p99']).toEqual({
      mean: (p99[0]! + p99[1]!) / 2,
      min: Math.min(...p99),
      max: Math.max(...p99),
      n: 2,
    });
    expect(c.over_seeds?.engine_won).toEqual({ seeds: c.variants.filter((v) => v.verdict?.engine_wins).length, of: 2 });
    for (const [seed, policy] of [
      ['1', 'engine'],
      ['2', 'least-loaded'],
    ] as const) {
      const plain = join(TMP, `plain-${seed}`);
      const s = await fgo(
        'sim',
        '--scenario',
        'burst-2n',
        '--duration',
        '60s',
        '--seed',
        seed,
        '--policy',
        policy,
        '--out',
        plain,
      );
      expect(s.code, s.err).toBe(0);
      expect(readFileSync(join(out, `seed-${seed}`, policy, 'metrics.json'), 'utf8')).toBe(
        readFileSync(join(plain, 'metrics.json'), 'utf8'),
      );
    }
    const html = readFileSync(join(out, 'report.html'), 'utf8');
    expect(html.indexOf('id="verdict"')).toBeLessThan(html.indexOf('id="spread"'));
    expect(html.indexOf('id="spread"')).toBeLessThan(html.indexOf('<details class="raw"'));
    // The verdict on the means in full, then one row per seed.
    expect(html).toContain('<table class="verdict" data-verdict="burst-2n (mean of 2 seeds)">');
    expect(html.indexOf('data-verdict="burst-2n (mean of 2 seeds)"')).toBeLessThan(
      html.indexOf('<tr data-scenario="burst-2n/seed-1">'),
    );
    // fgo report on the study says the same verdicts, the means first.
    const rep = await fgo('report', out, '--out', join(TMP, 'seeds.html'));
    expect(rep.code, rep.err).toBe(0);
    const said = rep.out.split('\n').filter((l) => l.startsWith('verdict, '));
    expect(said).toEqual([
      `verdict, burst-2n (mean of 2 seeds): ${c.over_seeds!.verdict!.summary}`,
      ...c.variants.map((v) => `verdict, burst-2n/${v.label}: ${v.verdict!.summary}`),
    ]);
  });

  it('topology=1n-2c,2n-32c: the verdict per variant first, then a table of ≤ 100 columns with the deltas', async () => {
    const out = join(TMP, 'topo');
    const r = await fgo(
      'compare',
      '--scenario',
      'burst-2n',
      '--duration',
      '20s',
      '--policies',
      'engine,least-loaded',
      '--vary',
      'topology=1n-2c,2n-32c',
      '--out',
      out,
    );
    expect(r.code, r.err).toBe(0);
    const lines = r.out.split('\n');
    expect(lines[1]).toBe('varying topology: 1n-2c, 2n-32c');
    expect(lines[3]).toMatch(/^topology-1n-2c: the engine (wins|loses): SLO miss ratio /);
    expect(lines[4]).toMatch(/^topology-2n-32c: the engine (wins|loses): SLO miss ratio /);
    expect(lines[6]).toMatch(/^variant\s+policy\s+SLO miss\s+p50 ms\s+p99 ms\s+cold\s+local\s+util\s+Δp99 %$/);
    expect(lines.slice(7, 11).map((l) => l.split(/\s+/).slice(0, 2))).toEqual([
      ['topology-1n-2c', 'engine'],
      ['topology-1n-2c', 'least-loaded'],
      ['topology-2n-32c', 'engine'],
      ['topology-2n-32c', 'least-loaded'],
    ]);
    for (const l of lines.slice(6, 11)) expect(l.length, l).toBeLessThanOrEqual(100);
    const c = JSON.parse(readFileSync(join(out, 'comparison.json'), 'utf8')) as Comparison;
    expect(c.variants.map((v) => v.topology)).toEqual(['1n-2c', '2n-32c']);
    expect(c.over_seeds).toBeUndefined();
    // The Δ column: 2n-32c's p99 against 1n-2c's, per policy, in % of the first.
    const [a, b] = c.variants;
    const pct =
      ((b!.policies.engine!.latency_ms.p99 - a!.policies.engine!.latency_ms.p99) / a!.policies.engine!.latency_ms.p99) *
      100;
    expect(lines[9]!.trim().split(/\s+/).at(-1)).toBe(`${pct >= 0 ? '+' : ''}${pct.toFixed(1)}`);
    const html = readFileSync(join(out, 'report.html'), 'utf8');
    expect(html).toContain('<tr data-policy="engine" data-variant="topology-2n-32c">');
    expect(html).toContain('id="chart-variant-cdf"');
  });

  it('a bad --vary or a bad variant exits 2 before anything is written', async () => {
    for (const [args, msg] of [
      [['--vary', 'seed=5..1'], '--vary: seed=5..1: the range runs backwards (write 1..5)'],
      [['--vary', 'seed=1,2', '--seed', '3'], '--vary seed=… and --seed both set the seed; give one'],
      [['--vary', 'topology=1n-2c,no-such-preset'], "--vary topology=no-such-preset: topology '"],
    ] as const) {
      const out = join(TMP, 'refused');
      const r = await fgo(
        'compare',
        '--scenario',
        'burst-2n',
        '--duration',
        '5s',
        '--policies',
        'engine',
        '--out',
        out,
        ...args,
      );
      expect(r.code, r.err).toBe(2);
      expect(r.err).toContain(msg);
      expect(existsSync(out)).toBe(false);
    }
  });
});
