/**
 * `fgo sim` and `fgo compare` end to end: the real `bin/fgo.mjs` in child processes, one at a
 * time (test/cli/fgo.ts). Runs are short (20–30 simulated seconds).
 */
import { existsSync, mkdirSync, mkdtempSync, readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { CLI_TEST_TIMEOUT_MS, fgoAsync, ROOT } from './fgo.ts';

const TMP = mkdtempSync(join(tmpdir(), 'fgo-cli-sim-'));
afterAll(() => rmSync(TMP, { recursive: true, force: true }));

const fgo = (...args: string[]) => fgoAsync(args);

let n = 0;
/** A fresh, empty parent directory and an output path inside it that does not exist yet. */
function outDir(): { parent: string; out: string } {
  const parent = join(TMP, `p${n++}`);
  mkdirSync(parent);
  return { parent, out: join(parent, 'run') };
}

function file(name: string, text: string): string {
  const d = join(TMP, `f${n++}`);
  mkdirSync(d);
  const f = join(d, name);
  writeFileSync(f, text);
  return f;
}

const SLOW = { timeout: CLI_TEST_TIMEOUT_MS };

const RUN_FILES = [
  '.fgo-output',
  'decisions.jsonl',
  'faults.json',
  'forecasts.csv',
  'histograms.json',
  'metrics.json',
  'run.json',
  'timeseries.csv',
  'wall.json',
];

describe('fgo sim', SLOW, () => {
  it('--json prints the run directory and the metrics, and the directory has its files', async () => {
    const { out } = outDir();
    const r = await fgo('sim', '--scenario', 'default', '--duration', '30s', '--out', out, '--json');
    expect(r.code, r.err).toBe(0);
    const j = JSON.parse(r.out) as {
      dir: string;
      metrics: { requests: { arrived: number; completed: number } };
      wall: { wall_s: number };
    };
    expect(j.dir).toBe(out);
    expect(j.metrics.requests.arrived).toBeGreaterThan(5000); // 254/s for 30 s ≈ 7600
    expect(j.metrics.requests.completed).toBeGreaterThan(0);
    expect(j.wall.wall_s).toBeGreaterThan(0);
    expect(readdirSync(out).sort()).toEqual(RUN_FILES);
    expect(JSON.parse(readFileSync(join(out, 'metrics.json'), 'utf8'))).toEqual(j.metrics);
    expect(JSON.parse(readFileSync(join(out, 'run.json'), 'utf8'))).toMatchObject({
      scenario: { name: 'default', duration: '30s' },
      policy: 'engine',
      versions: { fgo: expect.any(String) },
    });
  });

  it('without --json prints a table and the run directory', async () => {
    const { out } = outDir();
    const r = await fgo('sim', '--scenario', 'psi-replay-1n', '--duration', '20s', '--policy', 'numad', '--out', out);
    expect(r.code, r.err).toBe(0);
    expect(r.out).toMatch(/^policy\s+SLO miss\s+p50 ms\s+p99 ms/m);
    expect(r.out).toMatch(/^numad\s/m);
    // Narrow enough for a laptop's terminal.
    for (const l of r.out.split('\n')) if (!l.startsWith('run directory')) expect(l.length, l).toBeLessThanOrEqual(100);
    expect(r.out).toContain(`run directory: ${out}`);
    expect(JSON.parse(readFileSync(join(out, 'run.json'), 'utf8')).policy).toBe('numad');
  });
});

describe('the stronger baselines through the CLI', () => {
  // Each run is a child process of a few seconds; generous timeouts for a busy 2-CPU machine.
  it.each(['locality-first', 'hybrid-keepalive', 'locality-hybrid'])(
    'sim --policy %s --json exits 0 with its run directory',
    async (policy) => {
      const { out } = outDir();
      const r = await fgo(
        'sim',
        '--policy',
        policy,
        '--scenario',
        'default',
        '--duration',
        '30s',
        '--out',
        out,
        '--json',
      );
      expect(r.code, r.err).toBe(0);
      const j = JSON.parse(r.out) as { metrics: { requests: { arrived: number; completed: number } } };
      expect(j.metrics.requests.completed).toBeGreaterThan(5000); // ≈ 7600 arrive in 30 s
      expect(JSON.parse(readFileSync(join(out, 'run.json'), 'utf8')).policy).toBe(policy);
    },
    CLI_TEST_TIMEOUT_MS,
  );

  it(
    'compare --policies takes all three, on the same arrivals',
    async () => {
      const { out } = outDir();
      const r = await fgo(
        'compare',
        '--scenario',
        'default',
        '--duration',
        '10s',
        '--policies',
        'locality-first,hybrid-keepalive,locality-hybrid',
        '--out',
        out,
        '--json',
      );
      expect(r.code, r.err).toBe(0);
      const c = JSON.parse(readFileSync(join(out, 'comparison.json'), 'utf8')) as {
        policies: Record<string, { requests: { arrived: number } }>;
      };
      expect(Object.keys(c.policies)).toEqual(['locality-first', 'hybrid-keepalive', 'locality-hybrid']);
      const arrived = Object.values(c.policies).map((m) => m.requests.arrived);
      expect(new Set(arrived).size).toBe(1);
    },
    CLI_TEST_TIMEOUT_MS,
  );
});

describe('fgo compare', SLOW, () => {
  it('runs each policy on the same arrivals: DIR/engine, DIR/random, DIR/comparison.json and a table', async () => {
    const { out } = outDir();
    const r = await fgo(
      'compare',
      '--scenario',
      'default',
      '--duration',
      '20s',
      '--policies',
      'engine,random',
      '--out',
      out,
    );
    expect(r.code, r.err).toBe(0);
    expect(readdirSync(out).sort()).toEqual(['.fgo-output', 'comparison.json', 'engine', 'random', 'report.html']);
    for (const p of ['engine', 'random']) expect(readdirSync(join(out, p)).sort()).toEqual(RUN_FILES);
    const c = JSON.parse(readFileSync(join(out, 'comparison.json'), 'utf8'));
    expect(c).toMatchObject({ scenario: 'default', seed: 1, duration: '20s' });
    expect(Object.keys(c.policies)).toEqual(['engine', 'random']);
    expect(c.policies.engine.requests.arrived).toBe(c.policies.random.requests.arrived);
    expect(c.policies.engine).toEqual(JSON.parse(readFileSync(join(out, 'engine', 'metrics.json'), 'utf8')));
    // The verdict in words first, then the table: a header, one row per policy, then where the files are.
    const lines = r.out.split('\n');
    const head = lines.findIndex((l) => /^policy\s+SLO miss\s+p50 ms/.test(l));
    expect(head).toBeGreaterThan(-1);
    const said = lines.findIndex((l) =>
      /^verdict: the engine (wins|loses): SLO miss ratio .* against random's .*; p99 latency .* against random's /.test(
        l,
      ),
    );
    expect(said).toBeGreaterThan(-1);
    expect(said).toBeLessThan(head);
    expect(lines[head + 1]).toMatch(/^engine\s/);
    expect(lines[head + 2]).toMatch(/^random\s/);
    expect(r.out).toContain(`comparison: ${join(out, 'comparison.json')}`);
    // It ends with the verdict (sim/verdict.ts): the engine against the best baseline, here random.
    const v = lines.findIndex((l) => /^default: (engine WINS|engine LOSES)$/.test(l));
    expect(v).toBeGreaterThan(lines.findIndex((l) => l.startsWith('report: ')));
    expect(lines[v + 2]).toMatch(/^ {2}SLO miss ratio \* +random /);
    // …and last the verdict in one sentence, with the counts of requests that missed their SLO.
    const last = r.out.trimEnd().split('\n\n').at(-1) as string;
    const missed = (p: string) =>
      Math.round(c.policies[p].slo_miss_ratio * c.policies[p].requests.arrived).toLocaleString('en-US');
    expect(last.replace(/\n {2}/g, ' ')).toMatch(
      new RegExp(
        `^In short: the engine (wins|loses) default.*: ${missed('engine')} of [\\d,]+ requests missed their SLO against ${missed('random')} under random.*; p99 latency .* ms against random's .* ms \\((win|tie|loss)\\)\\.$`,
      ),
    );
    expect(c.verdict).toMatchObject({ scenario: 'default', engine_wins: expect.any(Boolean) });
    expect(c.verdict.metrics[1]).toMatchObject({
      metric: 'latency_ms.p99',
      best: { policy: 'random', value: c.policies.random.latency_ms.p99 },
      engine: c.policies.engine.latency_ms.p99,
    });
  });

  it('without the engine among the policies there is no verdict', async () => {
    const { out } = outDir();
    const r = await fgo(
      'compare',
      '--scenario',
      'psi-replay-1n',
      '--duration',
      '10s',
      '--policies',
      'random,numad',
      '--out',
      out,
    );
    expect(r.code, r.err).toBe(0);
    expect(r.out).not.toContain('decides the verdict');
    expect(JSON.parse(readFileSync(join(out, 'comparison.json'), 'utf8')).verdict).toBeUndefined();
  });
});

describe('invalid inputs: exit 2, the field or line named, nothing written', SLOW, () => {
  /** Run, expect exit 2 with stderr matching, and no run directory (nor a temporary one) left. */
  async function rejects(args: (out: string) => string[], err: RegExp) {
    const { parent, out } = outDir();
    const r = await fgo(...args(out));
    expect(r.code, r.err).toBe(2);
    expect(r.err).toMatch(err);
    expect(r.out).toBe('');
    expect(existsSync(out)).toBe(false);
    expect(readdirSync(parent)).toEqual([]);
  }

  it('an unknown scenario', () =>
    rejects(
      (o) => ['sim', '--scenario', 'no-such-scenario', '--duration', '5s', '--out', o],
      /scenario 'no-such-scenario': neither a bundled scenario \(default, .*\) nor a file/,
    ));

  it('a bad --duration', () =>
    rejects((o) => ['sim', '--duration', '5 minutes', '--out', o], /--duration: '5 minutes' is not a duration/));

  it('an unknown --policy', () =>
    rejects(
      (o) => ['sim', '--duration', '5s', '--policy', 'fifo', '--out', o],
      /--policy: 'fifo' is not one of engine, random, round-robin, least-loaded, most-allocated, numad, locality-first, hybrid-keepalive, locality-hybrid, graph-blind$/m,
    ));

  it('an unknown policy in compare --policies (nothing run, not even the valid ones)', () =>
    rejects(
      (o) => ['compare', '--duration', '5s', '--policies', 'engine,fifo', '--out', o],
      /--policies: unknown fifo/,
    ));

  it('a typo of a scenario, a preset or a policy gets the name it probably meant', async () => {
    await rejects(
      (o) => ['sim', '--scenario', 'faults8n', '--duration', '5s', '--out', o],
      /nor a file \(did you mean 'faults-8n'\?\)$/m,
    );
    await rejects(
      (o) => ['sim', '--duration', '5s', '--topology', '2n-23c', '--out', o],
      /\(did you mean '2n-32c'\?\)$/m,
    );
    await rejects(
      (o) => ['compare', '--duration', '5s', '--policies', 'engine,least_loaded', '--out', o],
      /--policies: unknown least_loaded \(did you mean 'least-loaded'\?\)/,
    );
  });

  it('an unknown topology preset', () =>
    rejects(
      (o) => ['sim', '--duration', '5s', '--topology', '3n-12c', '--out', o],
      /topology '3n-12c': neither a preset \(1n-2c, 1n-16c, 2n-32c, 4n-64c, 8n-128c, 64n-256c\)/,
    ));

  it('a scenario file with an unknown key: file:line:col', () => {
    const f = file('s.json', '{\n  "name": "t",\n  "duration": "5s",\n  "colour": "blue"\n}\n');
    return rejects((o) => ['sim', '--scenario', f, '--out', o], new RegExp(`^${f}:4:13: colour: unknown key`, 'm'));
  });

  it('a scenario file with a wrong type, deep inside: file:line:col and the path', () => {
    const f = file(
      's.json',
      '{\n  "name": "t",\n  "duration": "5s",\n  "profiles": {\n    "api": {\n      "cpus": "two"\n    }\n  }\n}\n',
    );
    return rejects(
      (o) => ['sim', '--scenario', f, '--out', o],
      new RegExp(`^${f}:6:15: profiles\\.api\\.cpus: .*number`, 'm'),
    );
  });

  it('a scenario file with a bad duration value', () => {
    const f = file('s.json', '{\n  "name": "t",\n  "duration": true\n}\n');
    return rejects((o) => ['sim', '--scenario', f, '--out', o], new RegExp(`^${f}:3:15: duration: `, 'm'));
  });

  it('a request trace with a bad row: file:line:col', () => {
    const f = file('req.csv', 't_ms,profile,cpu_ms,mem_mb,priority,io\n0,api,10,16,1,false\n5,api,ten,16,1,false\n');
    return rejects(
      (o) => ['sim', '--duration', '5s', '--workload', f, '--out', o],
      new RegExp(`^${f}:3:3: column cpu_ms: not a number: "ten"`, 'm'),
    );
  });

  it('a demand trace with a bad row: file:line:col', () => {
    const f = file('demand.csv', 't_s,profile,count\n0,api,3\n60,api,-2\n');
    return rejects(
      (o) => ['sim', '--duration', '5s', '--workload', f, '--out', o],
      new RegExp(`^${f}:3:3: column count: must not be negative`, 'm'),
    );
  });

  it('a PSI trace given as the workload', () =>
    rejects(
      (o) => ['sim', '--duration', '5s', '--workload', join(ROOT, 'traces/psi/stress-2cpu-host.csv'), '--out', o],
      /a PSI trace is not a workload \(use --psi, or --background for a neighbour\)/,
    ));

  it('compare with a bad scenario writes no comparison directory either', () =>
    rejects(
      (o) => ['compare', '--scenario', 'no-such-scenario', '--policies', 'engine', '--out', o],
      /scenario 'no-such-scenario'/,
    ));
});

describe('--help', SLOW, () => {
  it('sim --help shows its examples', async () => {
    const r = await fgo('sim', '--help');
    expect(r.code).toBe(0);
    expect(r.out).toContain('Usage: fgo sim');
    expect(r.out).toContain('Examples:');
    expect(r.out).toMatch(/\$ fgo sim --scenario faults-8n --duration 10m/);
    for (const o of ['--scenario', '--duration', '--policy', '--out', '--json', '--workload', '--topology'])
      expect(r.out).toContain(o);
  });

  it('compare --help shows its examples, a --vary study among them', async () => {
    const r = await fgo('compare', '--help');
    expect(r.code).toBe(0);
    expect(r.out).toContain('Usage: fgo compare');
    expect(r.out).toContain('Examples:');
    expect(r.out).toMatch(/\$ fgo compare --scenario diurnal-8n --policies engine,least-loaded,numad/);
    expect(r.out).toMatch(/\$ fgo compare --scenario burst-2n --vary topology=2n-32c,4n-64c/);
    expect(r.out).toContain('One --vary per compare');
    expect(r.out).toContain('--policies');
  });
});

describe('--config: merged into the scenario deeply; a tune result is a config', SLOW, () => {
  const scenario = () =>
    file(
      'deep.json',
      JSON.stringify({
        name: 'deep',
        duration: '3s',
        profiles: { api: { arrival: { kind: 'poisson', rate_per_s: 5 } } },
        engine: {
          pressure: { horizon_s: 5, thresholds: { cpu: { low: 0.2, medium: 0.5, high: 0.7, critical: 0.8 } } },
        },
      }),
    );

  it("keeps the scenario's other keys at every depth", async () => {
    const cfg = file('over.json', JSON.stringify({ pressure: { signal: 'avg10' } }));
    const { out } = outDir();
    const r = await fgo('sim', '--scenario', scenario(), '--config', cfg, '--out', out);
    expect(r.code, r.err).toBe(0);
    const p = JSON.parse(readFileSync(join(out, 'run.json'), 'utf8')).engine_config.pressure;
    expect([p.signal, p.horizon_s, p.thresholds.cpu.high]).toEqual(['avg10', 5, 0.7]);
  });

  it("takes an fgo tune result's tuned config; a stale one is named with the key and what to do", async () => {
    const tuned = file(
      'tuned.json',
      JSON.stringify(
        { format: 'fgo-tune/1', command: 'fgo tune …', tuned: { engine_config: { admission: { max_defer_ms: 750 } } } },
        null,
        2,
      ),
    );
    const { out } = outDir();
    const r = await fgo('sim', '--scenario', scenario(), '--config', tuned, '--out', out);
    expect(r.code, r.err).toBe(0);
    const c = JSON.parse(readFileSync(join(out, 'run.json'), 'utf8')).engine_config;
    expect([c.admission.max_defer_ms, c.pressure.horizon_s]).toEqual([750, 5]);
    const stale = file(
      'stale.json',
      JSON.stringify(
        { format: 'fgo-tune/1', tuned: { engine_config: { admission: { overload_load: 0.7 } } } },
        null,
        2,
      ),
    );
    const s = await fgo('sim', '--scenario', scenario(), '--config', stale, '--out', outDir().out);
    expect(s.code).toBe(2);
    expect(s.err).toMatch(
      new RegExp(`^${stale}:\\d+:\\d+: tuned\\.engine_config\\.admission\\.overload_load: unknown key$`, 'm'),
    );
    expect(s.err).toMatch(/run fgo tune again/);
  });
});
